"""Check the documentation: numpydoc validation of the public API, then the built site as a reader sees it.

    python docs/check.py docs/_build/html

1. Every public function and method (``pixscale.__all__``, their public
   methods and ``__call__``) has a docstring with Parameters for every
   parameter, Returns, Raises when its code raises, and Examples (which run
   as doctests in the test suite); every public class has a docstring with
   Examples.
2. The built HTML: every page parses, no page carries a docutils error or
   warning box or a Python traceback, every image a page shows exists and is
   a non-empty PNG, the API pages name every public name, and the command
   line page lists the options of ``pixscale run`` from the real parser; the
   index and Getting started show README's two Quick start commands verbatim.
3. The code on the pages a new reader meets first fits its box at a 1280 px
   window (or wraps: a block of class ``wrap-commands``).

A headless browser is not used here: CI's machine has no browser and reaches
only the package registries (Debian's chromium would be a 100+ MB install per
run); parsing the HTML checks what a browser would fail on here (missing
figures, error boxes). To look at the pages as a reader does, at a desktop and
a phone width, run ``docs/screenshots.py`` on the built site.
"""

import inspect
import pathlib
import re
import sys
from html.parser import HTMLParser

import pixscale
from pixscale.cli import build_parser

FUNCTION_CHECKS = {"GL08", "PR01", "PR02", "RT01", "EX01"}
CLASS_CHECKS = {"GL08", "EX01"}


def public_objects():
    for name in pixscale.__all__:
        if name in ("__version__", "reference"):
            continue
        obj = getattr(pixscale, name)
        yield f"pixscale.{name}", obj, CLASS_CHECKS if inspect.isclass(obj) else FUNCTION_CHECKS
        if inspect.isclass(obj) and not issubclass(obj, Exception):
            for attr, f in vars(obj).items():
                if inspect.isfunction(f) and (not attr.startswith("_") or attr == "__call__"):
                    yield f"pixscale.{name}.{attr}", f, FUNCTION_CHECKS


def validate_docstrings():
    from numpydoc.validate import validate

    problems = []
    for qualname, obj, checks in public_objects():
        result = validate(qualname)
        problems += [f"{qualname}: {code} {msg}" for code, msg in result["errors"] if code in checks]
        # Raises where it raises: code that raises itself documents what (numpydoc does not check this).
        code = obj.__init__ if inspect.isclass(obj) else obj
        try:
            source = inspect.getsource(code)
        except (OSError, TypeError):
            continue
        if "raise " in source and "Raises\n" not in (inspect.getdoc(obj) or ""):
            problems.append(f"{qualname}: raises, but its docstring has no Raises section")
    return problems


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.classes, self.text = [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        self.classes.update((a.get("class") or "").split())

    def handle_data(self, data):
        self.text.append(data)


def readme_commands(readme=pathlib.Path(__file__).parent.parent / "README.md"):
    """README's two Quick start commands: the first line of the code block after each marker."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    commands = []
    for marker in ("<!-- demo-command -->", "<!-- test-command -->"):
        i = lines.index(marker)
        commands.append(next(line for line in lines[i + 1 :] if not line.startswith("```")))
    return commands


# Words of the project's own bookkeeping that a page for users should not carry.
INTERNAL = re.compile(r"\b(?:[Ii]ssue #\d+|this session|branch `?\w+`?\s+\()")


def check_site(root):
    root = pathlib.Path(root)
    problems = []
    pages = sorted(root.rglob("*.html"))
    if not (root / "index.html").exists():
        return [f"{root}/index.html was not built"]
    text, images = {}, {}
    for page in pages:
        p = _Page()
        p.feed(page.read_text(encoding="utf-8"))
        body = "".join(p.text)
        text[page.relative_to(root).as_posix()] = body
        images[page.relative_to(root).as_posix()] = p.images
        if {"system-message", "problematic"} & p.classes:
            problems.append(f"{page}: shows a docutils error or warning box")
        if "Traceback (most recent call last)" in body:
            problems.append(f"{page}: shows a Python traceback")
        if page.name != "changelog.html":  # the pages speak to users, not of the project's work items
            for said in sorted(set(INTERNAL.findall(body))):
                problems.append(f"{page}: says {said!r}, which tells a reader nothing")
        for src in p.images:
            if src.startswith(("http:", "https:", "data:")):
                continue
            image = (page.parent / src.split("#")[0]).resolve()
            if not image.is_file() or image.stat().st_size == 0:
                problems.append(f"{page}: image {src} is missing")
            elif image.suffix == ".png" and not image.read_bytes().startswith(b"\x89PNG"):
                problems.append(f"{page}: image {src} is not a PNG")
    api = " ".join(v for k, v in text.items() if k.startswith(("api", "_generated/api")))
    for name in pixscale.__all__:
        if name != "__version__" and f"pixscale.{name}" not in api and name not in api:
            problems.append(f"the API pages do not name pixscale.{name}")
    run = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "run")[1]
    for action in run._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help" and flag not in text.get("cli.html", ""):
                problems.append(f"cli.html does not list pixscale run {flag}")
    for page in ("index.html", "getting-started.html"):
        for command in readme_commands():
            if command not in text.get(page, ""):
                problems.append(f"{page} does not show README's Quick start command {command!r}")
    figures = {"before_after.png", "camera_map.png"}
    shown = {pathlib.Path(s).name for k in ("index.html", "cameras.html") for s in images.get(k, [])}
    problems += [f"the figure {f} is not shown" for f in figures - shown]
    return problems


# Pages a new reader meets first, and the widest code line that fits a code box at a 1280 px window
# (measured with docs/screenshots.py: 71 characters of the theme's monospace font in the main column).
FRONT_PAGES = ("index.md", "getting-started.md", "cli.md", "recipes.md")
CODE_WIDTH = 71


def check_code_width(docs=pathlib.Path(__file__).parent):
    """Code lines of the front pages that a 1280 px window cuts off (blocks of class wrap-commands wrap)."""
    problems = []
    for name in FRONT_PAGES:
        fence, wraps = None, False
        for n, line in enumerate((docs / name).read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                fence = None if fence else line
                wraps = False
            elif fence and line.strip() == ":class: wrap-commands":
                wraps = True
            elif fence and not wraps and len(line) > CODE_WIDTH:
                problems.append(f"docs/{name}:{n}: a code line of {len(line)} characters is cut off at 1280 px")
    return problems


def main(argv):
    site = argv[1] if len(argv) > 1 else "docs/_build/html"
    problems = validate_docstrings() + check_site(site) + check_code_width()
    for line in problems:
        print(line)
    print(f"docs check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
