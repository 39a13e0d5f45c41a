"""report.html in a real headless Chromium: it renders, shows something, and asks the network for nothing.

The browser is ``$PIXSCALE_CHROMIUM`` or the first of ``chromium``, ``chromium-browser``,
``google-chrome`` on the PATH (Debian's package runs without root extracted into a folder: see
``.ci/run``'s browser step). Without one these tests are skipped, saying so; with
``PIXSCALE_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets) a missing browser fails them instead.
Chromium's name resolution is turned off (``--host-resolver-rules``): nothing leaves the machine.
"""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.io import write_png

NAMES = ("chromium", "chromium-browser", "google-chrome")
QUIET = [  # the browser's own traffic (sign-in, time, components) off: only what a page asks for is left
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def _browser():
    path = os.environ.get("PIXSCALE_CHROMIUM") or next(filter(None, map(shutil.which, NAMES)), None)
    if path:
        return path
    why = (
        "no Chromium: set PIXSCALE_CHROMIUM to its executable or put one of "
        f"{', '.join(NAMES)} on the PATH (.ci/run's browser step fetches Debian's)"
    )
    if os.environ.get("PIXSCALE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PIXSCALE_REQUIRE_BROWSER=1 and {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    return _browser()


def _chromium(browser, tmp_path, url, *args):
    """Run the browser on ``url``: ``(stdout, urls the page asked for)``, from Chromium's own network log."""
    log = tmp_path / "net.json"
    profile = tmp_path / "profile"
    cmd = [browser, *QUIET, f"--user-data-dir={profile}", f"--log-net-log={log}", *args, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, _page_requests(json.loads(log.read_text()))


def _page_requests(netlog):
    """The URLs a page loaded from a file asked for: the requests made for a ``file://`` top frame."""
    urls = set()
    for event in netlog["events"]:
        p = event.get("params") or {}
        if "url" in p and str(p.get("network_isolation_key", "")).startswith("file://"):
            urls.add(p["url"])
    return urls


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    src = root / "in"
    src.mkdir()
    for k, name in enumerate(["v0.png", "v1.png", 'a<b>&"c.png', "<img src=x onerror=alert(1)>.png"]):
        write_png(src / name, synth.mouse_view(np.random.default_rng(k), size=96))
    assert main(["run", str(src), str(root / "out"), "--quiet"]) == 0
    return root / "out" / "pixscale-report" / "report.html"


def test_the_check_sees_a_page_that_asks_the_network(browser, tmp_path):
    """The network check itself: a page with an outside image is caught (its host resolves nowhere)."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><h1>x</h1><img src="http://pixscale.invalid/x.png"></body></html>')
    _, urls = _chromium(browser, tmp_path, bad.as_uri(), "--dump-dom")
    assert "http://pixscale.invalid/x.png" in urls


def test_the_page_loads_whole_and_asks_nothing_outside_it(browser, page, tmp_path):
    dom, urls = _chromium(browser, tmp_path, page.as_uri(), "--dump-dom")
    outside = {u for u in urls if not u.startswith(("file:", "data:"))}
    assert outside == set(), outside
    source = page.read_text(encoding="utf-8")
    # what the browser built is the file's content: the title, every table row, every figure inline
    assert "<h1>pixscale quality report</h1>" in dom
    assert dom.count("<tr>") == source.count("<tr>") > 10
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', dom)) == source.count("<img") >= 4
    assert "<script" not in dom and "onerror" not in dom.replace("onerror=alert(1)&gt;", "")
    assert 'a&lt;b&gt;&amp;"c.png' in dom  # a name is text


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_renders(browser, page, tmp_path, width):
    import imageio.v3 as iio

    png = tmp_path / f"report-{width}.png"
    _chromium(browser, tmp_path, page.as_uri(), f"--window-size={width},2000", f"--screenshot={png}")
    assert png.is_file()
    shot = iio.imread(png)[..., :3]
    assert shot.shape[:2] == (2000, width)
    ink = (shot < 235).any(axis=-1)  # anything not (nearly) white
    assert 0.1 < ink.mean() < 0.95, ink.mean()  # neither blank nor a solid block
    # the contact sheet comes first: under the title, a picture (its checkerboard), not text lines
    top = ink[80:700]
    assert top.mean() > 0.08 and top.any(axis=1).all(), top.mean()
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 200  # a picture, not a few flat colours
    if os.environ.get("PIXSCALE_SCREENSHOTS"):  # keep them to look at: PIXSCALE_SCREENSHOTS=/some/folder
        shutil.copy(png, os.path.join(os.environ["PIXSCALE_SCREENSHOTS"], png.name))
