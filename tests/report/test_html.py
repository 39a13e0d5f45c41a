"""report.html: report.md's content in a self-contained page, the contact sheet first (issue #24 item 4)."""

import base64
import html.parser
import json
import tracemalloc

import numpy as np
import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.io import write_png
from pixscale.report import html as report_html

PNG = b"\x89PNG\r\n\x1a\n"


class Page(html.parser.HTMLParser):
    """What a browser would show of a page: headings, list items, paragraphs, table rows; every tag and
    attribute seen."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.blocks, self.tags, self.attrs, self.row, self._text = [], [], [], None, None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag == "tr":
            self.row = []
        elif tag in ("h1", "h2", "li", "p", "td", "th", "summary"):
            self._text = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None:
            self.row.append("".join(self._text).strip())
            self._text = None
        elif tag == "tr":
            self.blocks.append(("row", tuple(self.row)))
            self.row = None
        elif tag in ("h1", "h2", "li", "p") and self._text is not None:
            self.blocks.append((tag, "".join(self._text).strip()))
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def _md_blocks(md):
    """report.md as the same blocks: its headings, items, lines and table rows (cells unescaped), no figures."""
    out = []
    for line in md.splitlines():
        s = line.strip()
        if not s or report_html.FIGURE.match(s) or (s.startswith("|") and set(s) <= set("|-: ")):
            continue
        if s.startswith("# "):
            out.append(("h1", s[2:].replace("`", "")))
        elif s.startswith("#"):
            out.append(("h2", s.lstrip("#").strip().replace("`", "")))
        elif s.startswith("|"):
            cells = tuple(c.replace("`", "") for c in report_html._cells(s))
            if any(cells):
                out.append(("row", cells))
        elif s.startswith("- "):
            out.append(("li", s[2:].replace("`", "")))
        else:
            out.append(("p", s.replace("`", "")))
    return out


def _page_blocks(page):
    return [b for b in page.blocks if not (b[0] == "p" and b[1].startswith("contact_sheet.png: at the top"))]


def _run(tmp_path, names=None, n=4):
    src = tmp_path / "in"
    src.mkdir()
    for k, name in enumerate(names or [f"v{k}.png" for k in range(n)]):
        write_png(src / name, synth.mouse_view(np.random.default_rng(k), size=96))
    assert main(["run", str(src), str(tmp_path / "out"), "--quiet"]) in (0, 1)
    return tmp_path / "out" / "pixscale-report"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("html"))


def test_the_page_is_report_md_with_the_contact_sheet_first(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    text = (report / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    assert _page_blocks(page) == _md_blocks(md)  # the same headings, lines, items and rows, in order
    # the figures report.md shows, inline, the contact sheet first, right under the title
    shown = [m.group(2) for line in md.splitlines() if (m := report_html.FIGURE.match(line.strip()))]
    assert "contact_sheet.png" in shown and len(shown) >= 4
    images = [v for tag, k, v in page.attrs if tag == "img" and k == "src"]
    assert len(images) == len(shown)
    first = base64.b64decode(images[0].split(",", 1)[1])
    assert first == (report / "contact_sheet.png").read_bytes()
    assert text.index("<h1>") < text.index("<img") < text.index("<h2")
    for name, uri in zip(["contact_sheet.png"] + [s for s in shown if s != "contact_sheet.png"], images, strict=True):
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1]) == (report / name).read_bytes()


def test_the_page_needs_nothing_outside_it(report):
    text = (report / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(page.tags)
    for tag, key, value in page.attrs:
        if key in ("src", "href", "srcset", "action", "poster"):
            assert value.startswith("data:") or value.startswith("#"), (tag, key, value[:80])
    assert "url(" not in text and "@import" not in text and "http://" not in text and "https://" not in text
    policy = next(v for tag, k, v in page.attrs if tag == "meta" and k == "content" and "default-src" in v)
    assert "default-src 'none'" in policy and "img-src data:" in policy


HOSTILE = ["a<b>&c\"d'e.png", "<img src=x onerror=alert(1)>.png", "&amp;lt;x.png", "<script>alert(1)|x.png"]


def test_names_are_escaped(tmp_path):
    """File names (and folders) may hold <, & and quotes: they are text on the page, never markup."""
    folder = tmp_path / "dir<&\"'x"
    folder.mkdir()
    rep = _run(folder, HOSTILE)
    text = (rep / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    assert "script" not in page.tags
    assert all(k != "onerror" for _, k, _ in page.attrs)
    assert [v for tag, k, v in page.attrs if tag == "img" and k == "src" and not v.startswith("data:")] == []
    cells = {c for kind, row in page.blocks if kind == "row" for c in row}
    for name in HOSTILE:
        assert name in cells, name  # shown as it is, one cell, after the browser's unescaping
    assert any(str(folder) in c for c in cells)  # the input folder, in the run's table
    assert _page_blocks(page) == _md_blocks((rep / "report.md").read_text(encoding="utf-8"))
    views = json.loads((rep / "report.json").read_text())["views"]
    assert sorted(v["view"] for v in views) == sorted(HOSTILE)


def test_a_line_of_markup_in_report_md_is_text(tmp_path):
    (tmp_path / "report.md").write_text(
        '# t <b>\n\n- `<i>` & "q"\n\n| a | b \\| c |\n|---|---|\n| <x> | y |\n\n![../secret.png](../secret.png)\n'
    )
    (tmp_path.parent / "secret.png").write_bytes(PNG)
    page = Page(report_html.write_html(tmp_path).read_text())
    assert [b for b in page.blocks if b[0] != "p"] == [
        ("h1", "t <b>"),
        ("li", '<i> & "q"'),
        ("row", ("a", "b | c")),
        ("row", ("<x>", "y")),
    ]
    assert set(page.tags) == {"html", "head", "meta", "title", "style", "body", "main", "h1", "ul", "li", "code"} | {
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "p",
    }  # a figure outside the folder is not read: its line is said as text
    assert ("p", "../secret.png") in page.blocks


def _big_md(n):
    yield "# pixscale quality report"
    yield ""
    yield "## per view"
    yield ""
    yield "| sample | view | status |"
    yield "|---|---|---|"
    for i in range(n):
        yield f"| s{i // 6} | s{i // 6}/cam_{i % 6:03d}.png | ok |"


def test_a_large_report_is_rendered_in_bounded_memory(tmp_path):
    """A 200,000-view report.md is rendered a line at a time: memory does not grow with the views."""
    n, rows, size = 200_000, 0, 0
    tracemalloc.start()
    try:
        for piece in report_html.render(_big_md(n), tmp_path):
            rows += piece.count("<tr>")
            size += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == n + 1  # the header and every view, as report.md lists them
    assert peak < 2 << 20, peak  # under 2 MiB, for some 20 MB of page
    assert size > 10 * n


@pytest.mark.slow
def test_the_demo_writes_it(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--samples", "2"]) == 0
    page = tmp_path / "d" / "output" / "pixscale-report" / "report.html"
    assert page.is_file() and "<h1>pixscale quality report</h1>" in page.read_text(encoding="utf-8")
