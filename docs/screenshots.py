"""Screenshot built documentation pages in a headless Chromium, at a desktop and a phone width.

    python docs/screenshots.py docs/_build/html OUT_DIR [PAGE ...] [--widths 1280,390] [--height 2400]

Builds nothing: build the site first (``sphinx-build -W -b html docs docs/_build/html``). PAGE is an
HTML file relative to the built site (default: ``index.html getting-started.html cli.html``); each
page is written to ``OUT_DIR/<page>-<width>.png``, the top ``--height`` CSS pixels of the page at
that window width. Then look at every picture.

The browser is ``$CHROMIUM`` or the first of ``chromium``, ``chromium-browser``, ``google-chrome``
on the PATH. Without root, Debian's package runs extracted into a private folder::

    mkdir -p /tmp/chrome && cd /tmp/chrome && apt-get download chromium chromium-common
    for f in *.deb; do dpkg-deb -x "$f" root; done
    ldd root/usr/lib/chromium/chromium | grep "not found"   # apt-get download those libraries too,
    export LD_LIBRARY_PATH=$PWD/root/usr/lib/x86_64-linux-gnu  # extract them the same way
    export CHROMIUM=$PWD/root/usr/lib/chromium/chromium
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

DEFAULT_PAGES = ("index.html", "getting-started.html", "cli.html")


def find_chromium():
    path = os.environ.get("CHROMIUM")
    if path:
        return path
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("error: no Chromium found: set CHROMIUM to its executable (see this script's docstring)")


def screenshot(browser, url, png, width, height):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            url,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not png.exists():
        sys.exit(f"error: chromium failed on {url} ({proc.returncode}):\n{proc.stderr[-2000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=pathlib.Path, help="the built HTML folder, e.g. docs/_build/html")
    parser.add_argument("out", type=pathlib.Path, help="folder for the PNG files")
    parser.add_argument("pages", nargs="*", default=list(DEFAULT_PAGES), help="pages relative to SITE")
    parser.add_argument("--widths", default="1280,390", help="window widths in CSS pixels (default 1280,390)")
    parser.add_argument("--height", type=int, default=2400, help="window height in CSS pixels (default 2400)")
    args = parser.parse_args(argv)
    browser = find_chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    for page in args.pages:
        path = (args.site / page).resolve()
        if not path.is_file():
            sys.exit(f"error: {path} does not exist: build the site first")
        for width in (int(w) for w in args.widths.split(",")):
            png = args.out / f"{pathlib.Path(page).stem}-{width}.png"
            screenshot(browser, path.as_uri(), png, width, args.height)
            print(png)


if __name__ == "__main__":
    main()
