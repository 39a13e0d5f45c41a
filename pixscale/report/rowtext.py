"""A run's rows as the report files write them: the rows file's line, ``report.json``'s indented view, fast.

:func:`shown_row` is a record's row as the report shows it (names made
printable, NaN as null) with its compact JSON (a line of the rows file);
:func:`indented_row` turns that compact JSON into the text
``json.dumps(row, indent=2)`` writes (at a nesting), through a template made
once per row shape; :class:`Sections` holds ``report.json``'s views and
``report.md``'s per-view lines, written in the same pass as the rows file,
until the summary they follow is known.
"""

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring_ascii as _encode_str
from typing import Any

from ..pipeline.dataset import printable
from ..pipeline.files import json_ready
from ..pipeline.records import ViewRecord


def shown_row(r):
    """``(row, its JSON, changed)``: ``json_ready(r.as_row(), text=printable)``, the usual row (no NaN, no odd number) fast.

    A row's only strings are its ``sample``, ``view`` and ``error`` (its keys
    are the record's own names): those made printable, a row that
    ``json.dumps`` takes as strict JSON is as ``json_ready`` would make it.
    ``changed``: whether the row differs from ``r.as_row()`` (a name made
    printable, a number sanitised), so that ``r`` is not what the row reads back as.
    """
    row = r.as_row()
    changed = False
    for key in ("sample", "view", "error"):
        value = row[key]
        if isinstance(value, str):
            shown = printable(value)
            if shown != value:
                row[key], changed = shown, True
    try:
        return row, json.dumps(row, allow_nan=False), changed
    except (TypeError, ValueError):  # a NaN or infinite number, a NumPy integer: the sanitiser's work
        row = json_ready(row, text=printable)
        text = json.dumps(row)
        return json.loads(text), text, True  # the row as the rows file reads back


# A leaf of compact JSON (``json.dumps``' default separators): a string, or a number, true, false or null.
_LEAF = re.compile(r'("(?:[^"\\]|\\.)*"|[^\s,:\[\]{}"]+)')
_TEMPLATES: dict[tuple[str, str], str | None] = {}
_MAX_TEMPLATES = 512  # row shapes remembered; beyond, a row is indented the slow way


def indented_row(text, pad="\n"):
    """``json.dumps(json.loads(text), indent=2)`` (lines after the first starting ``pad``) of ``json.dumps``' compact ``text``.

    The compact text is split into its leaves (strings, numbers, literals)
    and its skeleton (brackets and separators); the skeleton's indented form
    is a template made once per shape and ``pad``, filled with the leaves as
    written (``json`` writes a leaf the same indented or not).
    """
    parts = _LEAF.split(text)
    key = ("".join(parts[0::2]), pad)
    template = _TEMPLATES.get(key)
    if template is None:
        if key in _TEMPLATES or len(_TEMPLATES) >= _MAX_TEMPLATES:
            return _indented(json.loads(text), pad)
        template = _TEMPLATES[key] = _template(parts[0::2], pad)
        if template is None:
            return _indented(json.loads(text), pad)
    return template % tuple(parts[1::2])


def _template(skeleton, pad):
    """The ``%``-template of a compact skeleton (the text between leaves) indented as ``json.dumps(indent=2)``; None if odd."""
    marker = "\x00"
    text = marker.join(skeleton)
    out = []
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == marker:
            out.append("%s")
        elif c in "[{":
            close = "]" if c == "[" else "}"
            if i + 1 < n and text[i + 1] == close:
                out.append(c + close)
                i += 1
            else:
                depth += 1
                out.append(c + pad + "  " * depth)
        elif c in "]}":
            depth -= 1
            out.append(pad + "  " * depth + c)
        elif c == "," and text[i + 1 : i + 2] == " ":
            out.append("," + pad + "  " * depth)
            i += 1
        elif c == ":" and text[i + 1 : i + 2] == " ":
            out.append(": ")
            i += 1
        else:
            return None  # not the compact form this expects: the slow way
        i += 1
    return "".join(out) if depth == 0 else None


def json_list(items, level):
    """A list's text as ``json.dumps(..., indent=2)`` writes it at nesting ``level``, an item at a time."""
    pad = "\n" + "  " * (level + 1)
    sep = "["
    for item in items:
        yield sep + pad + _indented(item, pad)
        sep = ","
    yield list_end(sep == "[", level)


def list_end(empty, level):
    """The end of a list :func:`json_list` writes: ``[]`` when ``empty``, else its closing bracket."""
    return "[]" if empty else "\n" + "  " * level + "]"


def _indented(value, pad="\n"):
    """``json.dumps(value, indent=2)`` with each line after the first starting ``pad`` (a newline and spaces).

    The same text, several times faster: ``json`` encodes an indented
    document in Python, an element at a time; a row's few levels are
    joined here, their numbers and strings encoded as ``json`` encodes them.
    """
    kind = type(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = pad + "  "
        body = ("," + inner).join(
            [
                f"{_encode_str(k) if type(k) is str else _scalar(str(k))}: "
                + (_indented(v, inner) if type(v) in _NESTED else _scalar(v))
                for k, v in value.items()
            ]
        )
        return "{" + inner + body + pad + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = pad + "  "
        return (
            "["
            + inner
            + ("," + inner).join([_indented(v, inner) if type(v) in _NESTED else _scalar(v) for v in value])
            + pad
            + "]"
        )
    return _scalar(value)


_NESTED = (dict, list, tuple)


def _scalar(v):
    """A number, string, bool or None as ``json.dumps`` writes it."""
    kind = type(v)
    if kind is float and v - v == 0:  # finite
        return float.__repr__(v)
    if kind is int:
        return int.__repr__(v)
    if kind is str:
        return _encode_str(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return json.dumps(v)


def blocks(pieces, size=1 << 20):
    """UTF-8 bytes of text ``pieces`` joined into blocks of about ``size`` characters (a write each)."""
    buf: list[str] = []
    n = 0
    for piece in pieces:
        buf.append(piece)
        n += len(piece)
        if n >= size:
            yield "".join(buf).encode("utf-8")
            buf, n = [], 0
    if buf:
        yield "".join(buf).encode("utf-8")


class Sections:
    """``report.json``'s views and ``report.md``'s per-view lines, written as the rows file is.

    Each is held in an anonymous temporary file (the system's temporary
    folder: ``TMPDIR``), so a run's rows are read and formatted once and kept
    in no memory; :func:`pixscale.report.summary.write_report` puts them after
    the parts that need the summary.  ``spell`` as ``write_report`` takes it.
    """

    VIEWS_LEVEL = 1  # report.json's views: a list at nesting 1

    def __init__(self, spell: Callable[[str], str]):
        from .text import _view_line

        self._view_line, self.spell = _view_line, spell
        self.views = tempfile.TemporaryFile()
        self.lines = tempfile.TemporaryFile()
        self._json: list[str] = []
        self._md: list[str] = []
        self._size = 0
        self.n = 0
        self._pad = "\n" + "  " * (self.VIEWS_LEVEL + 1)

    def add(self, record: ViewRecord, row: dict[str, Any], text: str, changed: bool) -> None:
        """Add a record (``row``, ``text``, ``changed``: :func:`shown_row`'s) to both sections."""
        shown = ViewRecord.from_row(row) if changed else record
        self._json.append(("," if self.n else "[") + self._pad + indented_row(text, self._pad))
        self._md.append("\n" + self._view_line(shown, self.spell))
        self.n += 1
        if len(self._json) >= 512:
            self._flush()

    def _flush(self):
        self.views.write("".join(self._json).encode("utf-8"))
        self.lines.write("".join(self._md).encode("utf-8"))
        self._json, self._md = [], []

    def close(self):
        self._flush()

    def views_text(self) -> Iterator[bytes]:
        """``report.json``'s views list (its bytes, in blocks)."""
        yield from _read(self.views)
        yield list_end(self.n == 0, self.VIEWS_LEVEL).encode("utf-8")

    def lines_text(self) -> Iterator[bytes]:
        """``report.md``'s per-view lines, each after a newline (its bytes, in blocks)."""
        yield from _read(self.lines)

    def discard(self):
        self.views.close()
        self.lines.close()


def _read(f, size=1 << 20):
    f.flush()
    f.seek(0)
    while block := f.read(size):
        yield block
