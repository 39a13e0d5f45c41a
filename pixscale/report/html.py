"""``report.html``: the report a person opens in a browser, made from ``report.md``.

The page is ``report.md`` itself, rendered: the same headings, tables, lists
and lines, in the same order, so whatever ``report.md`` lists (every view, or
what a large run's report lists) the page lists too, and nothing is said
twice in two places.  The contact sheet comes first; every figure is inline
(a ``data:`` URI), and the page has its style inline and no script, font or
link that leaves the file: it opens the same from a disk, an archive or a
mail attachment.  A Content-Security-Policy in the page forbids any other
source, so a browser fetches nothing even if a figure were named oddly.

Every string of the Markdown is HTML-escaped (names of views and folders may
hold ``<``, ``&`` and quotes); only the few forms :func:`pixscale.report.text`
writes are read: ``#``/``##`` headings, ``|`` tables, ``-`` lists, ``![name](name)``
figures, backticked code and plain lines.  The page is written as it is
read, a line at a time: its memory does not grow with the number of views.
"""

import base64
import html
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..pipeline.files import atomic_write_bytes, open_own_file
from .rowtext import blocks

HTML = "report.html"
MARKDOWN = "report.md"
SHEET = "contact_sheet.png"  # shown first
FIGURE = re.compile(r"^!\[([^\]]*)\]\(([^)]*)\)$")  # a figure line of report.md: ![name](name)
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.png$")  # a figure file of the report folder, nothing else inlined
LONG = 48  # a cell longer than this (characters) wraps; shorter ones keep to one line
CELL = re.compile(r"(?<!\\)\|")  # a cell border: a pipe not escaped as \|

STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1b1f24; background: #fff; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 20px 48px; }
h1 { font-size: 1.6em; margin: 0.4em 0 0.6em; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; padding-bottom: 0.2em; border-bottom: 1px solid #d8dde3; }
p, li { max-width: 80ch; overflow-wrap: anywhere; }
code { font: 0.92em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f1f3f5;
  padding: 0 0.25em; border-radius: 3px; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.4em 0 1em; }
table { border-collapse: collapse; font-size: 0.9em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d8dde3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td { white-space: nowrap; }
td.long { white-space: normal; min-width: 24ch; max-width: 60ch; overflow-wrap: anywhere; }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 0.6em 0 1.2em; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #d8dde3; }
figcaption { font-size: 0.85em; color: #57606a; }
.grade { font-size: 1.1em; }
details { margin: 0.4em 0 1em; }
summary { cursor: pointer; color: #0b5cad; }
@media (max-width: 600px) { main { padding: 10px 10px 32px; } body { font-size: 14px; } }
"""
RUN_SUMMARY = "the run: version, date, folders and parameters"
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _inline(text: str) -> str:
    """A line of report.md as HTML: escaped, with its backticked spans as ``<code>``."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd backtick: no code span, all text
        return html.escape(text)
    return "".join(html.escape(p) if i % 2 == 0 else f"<code>{html.escape(p)}</code>" for i, p in enumerate(parts))


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (``| a | b \\| c |``), pipes unescaped."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in CELL.split(inner)]


def _td(cell: str) -> str:
    """A table cell: numbers and names on one line, a long text (an error, a path) wrapped in its column."""
    return f'<td class="long">{_inline(cell)}</td>' if len(cell) > LONG else f"<td>{_inline(cell)}</td>"


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def _figure(folder: Path, name: str, caption: str) -> str:
    """A figure of the report folder inline as a data: URI; a name that is not one is said as text."""
    if not PLAIN_NAME.match(name):
        return f"<p>{html.escape(caption)}</p>\n"
    try:
        with open(open_own_file(folder / name, os.O_RDONLY), "rb") as f:  # following no link
            data = f.read()
    except OSError:
        return f"<p>{html.escape(name)}: not found beside the report</p>\n"
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    alt = html.escape(caption)
    return (
        f'<figure id="{_slug(name)}"><img alt="{alt}" src="{uri}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>\n"
    )


def _read_lines(path: Path) -> Iterator[str]:
    with open(open_own_file(path, os.O_RDONLY), encoding="utf-8", errors="replace") as f:
        for line in f:
            yield line.rstrip("\n")


def render(lines: Iterable[str], folder: Path, figures: Iterable[str] = ()) -> Iterator[str]:
    """The page of report.md's ``lines``, in pieces; figure files are read from ``folder``.

    ``figures`` are the names report.md shows; :data:`SHEET` among them is
    drawn first, under the title, and not again in the figures' section.
    """
    sheet_first = SHEET in set(figures)
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    )
    state = None  # "head" (a table's header written), "body" (its rows), "list", or None
    titled = closer = False
    for line in lines:
        stripped = line.strip()
        row = stripped.startswith("|")
        if state in ("head", "body") and not row:
            yield _end_table(state, closer)
            state = None
        if state == "list" and not stripped.startswith("- "):
            yield "</ul>\n"
            state = None
        if not stripped:
            continue
        if stripped.startswith("# ") and not titled:
            title = stripped[2:]
            yield f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            yield f"<h1>{_inline(title)}</h1>\n"
            titled = True
            if sheet_first:
                yield _figure(folder, SHEET, "contact sheet: every view of the best, median and worst samples")
            continue
        if not titled:  # a report.md without its title: give the page one
            yield f"<title>pixscale quality report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            titled = True
        if stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            cls = ' class="grade"' if title.startswith("quality grade") else ""
            yield f'<h2 id="{_slug(title)}"{cls}>{_inline(title)}</h2>\n'
        elif row:
            cells = _cells(stripped)
            if state is None:
                closer = cells[0] == "run"  # the run's table (version, folders, parameters): folded
                if closer:
                    yield f"<details><summary>{RUN_SUMMARY}</summary>\n"
                yield '<div class="scroll"><table>'
                if any(cells):  # an empty header row is not drawn
                    yield "<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells) + "</tr></thead>\n"
                state = "head"
            elif state == "head" and set(stripped) <= set("|-: "):
                continue  # the header's rule
            else:
                if state == "head":
                    yield "<tbody>\n"
                    state = "body"
                yield "<tr>" + "".join(_td(c) for c in cells) + "</tr>\n"
        elif stripped.startswith("- "):
            if state != "list":
                yield "<ul>\n"
                state = "list"
            yield f"<li>{_inline(stripped[2:])}</li>\n"
        elif m := FIGURE.match(stripped):
            caption, name = m.groups()
            if name == SHEET and sheet_first:
                yield '<p><a href="#contact-sheet-png">contact_sheet.png: at the top of the page</a></p>\n'
            else:
                yield _figure(folder, name, caption)
        else:
            yield f"<p>{_inline(stripped)}</p>\n"
    if state in ("head", "body"):
        yield _end_table(state, closer)
    elif state == "list":
        yield "</ul>\n"
    if not titled:
        yield f"<title>pixscale quality report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    yield "</main>\n</body>\n</html>\n"


def _end_table(state, folded):
    return ("</tbody>" if state == "body" else "") + "</table></div>\n" + ("</details>\n" if folded else "")


def write_html(report_dir, *, root=None) -> Path:
    """Write ``report.html`` beside ``report.md`` in ``report_dir``, from it: the same content, figures inline.

    Parameters
    ----------
    report_dir : str or path-like
        The report folder, holding ``report.md`` and its figures.
    root : str or path-like, optional
        A folder above ``report_dir`` below which no link is followed (as
        :func:`pixscale.pipeline.files.atomic_write_bytes` takes it).

    Returns
    -------
    pathlib.Path
        The page written, atomically.
    """
    folder = Path(report_dir)
    md = folder / MARKDOWN
    figures = [m.group(2) for line in _read_lines(md) if (m := FIGURE.match(line.strip()))]
    out = folder / HTML
    atomic_write_bytes(out, blocks(render(_read_lines(md), folder, figures)), root=folder if root is None else root)
    return out
