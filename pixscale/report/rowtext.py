"""A run's rows as the report files write them: the rows file's line, ``report.json``'s indented view, fast.

:func:`shown_row` is a record's row as the report shows it (names made
printable, NaN as null) with its compact JSON (a line of the rows file);
:func:`indented` writes a row as ``json.dumps(row, indent=2)`` does (at a
nesting), through a template made once per row shape; :class:`Sections` holds ``report.json``'s views and
``report.md``'s per-view lines, written in the same pass as the rows file,
until the summary they follow is known.
"""

import json
import tempfile
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring_ascii as _encode_str
from typing import Any

from ..pipeline.dataset import printable
from ..pipeline.files import json_ready
from ..pipeline.records import ViewRecord


def shown_row(r, known=None):
    """``(row, its JSON, changed)``: ``json_ready(r.as_row(), text=printable)``, fast for the usual row.

    The usual row: no NaN, no odd number.  ``known``: ``(row, text)``, the
    row ``r`` was read from and its JSON text as ``json.dumps`` wrote it (a
    manifest line's: :meth:`pixscale.pipeline.manifest.RunRecords.with_text`):
    when ``r``'s row is that row, its names printable and its numbers finite,
    that text is its JSON (not written again).

    A row's only strings are its ``sample``, ``view`` and ``error`` (its keys
    are the record's own names): those made printable, a row that
    ``json.dumps`` takes as strict JSON is as ``json_ready`` would make it.
    ``changed``: whether the row differs from ``r.as_row()`` (a name made
    printable, a number sanitised), so that ``r`` is not what the row reads back as.
    """
    row = r.as_row()
    if known is not None and known[1] is not None:
        stored, text = known
        if _same_text(row, stored) and "NaN" not in text and "Infinity" not in text and _printable(row):
            return row, text, False
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


def _same_text(row, stored):
    """Whether ``json.dumps`` writes ``row`` as it wrote ``stored``: equal, their keys in the same order.

    (A record's row holds the very numbers of the row it was read from, but
    its derived ones, which are floats either way.)
    """
    if row != stored or list(row) != list(stored):
        return False
    return all(type(v) is not dict or list(v) == list(stored[k]) for k, v in row.items())


def _printable(row):
    """Whether a row's names are printable as they are (:func:`~pixscale.pipeline.dataset.printable`)."""
    return all(type(v) is not str or printable(v) == v for v in (row["sample"], row["view"], row["error"]))


_dumps = json.JSONEncoder().encode  # json.dumps' own encoder (its C one): a leaf's text as json writes it
_SHAPES: list[tuple[Callable[[Any], list[Any] | None], str, int, str]] = []  # most recent first
_MAX_SHAPES = 16  # row shapes remembered; beyond, a row of a new shape is indented the slow way


def indented(row, pad="\n"):
    """``json.dumps(row, indent=2)`` with each line after the first starting ``pad``, fast for a row's few shapes.

    A row's shape (its keys, lists' lengths, where a container or a leaf is)
    gets, once, a template of the indented text and a function that checks a
    row is of that shape and lists its leaves; the leaves are encoded by
    ``json``'s own (C) encoder in one call and put in the template.  Anything
    else (a new shape beyond :data:`_MAX_SHAPES`, a leaf whose text holds ``, ``,
    ``[`` or ``{``) is indented the slow way, to the same text.
    """
    for i, (leaves_of, template, n, shape_pad) in enumerate(_SHAPES):
        if shape_pad != pad:
            continue
        leaves = leaves_of(row)
        if leaves is not None:
            if i:
                _SHAPES.insert(0, _SHAPES.pop(i))
            return _filled(template, n, leaves) or _indented(row, pad)
    if len(_SHAPES) < _MAX_SHAPES:
        shape = _shape(row, pad)
        if shape is not None:
            _SHAPES.insert(0, shape)
            leaves = shape[0](row)
            if leaves is not None:
                return _filled(shape[1], shape[2], leaves) or _indented(row, pad)
    return _indented(row, pad)


def _filled(template, n, leaves):
    try:
        text = _dumps(leaves)[1:-1]
    except (TypeError, ValueError):  # a leaf json cannot write (a NumPy integer): the slow way, to its error
        return None
    if "[" in text or "{" in text:  # a leaf that is a container, or a string holding a bracket: the slow way
        return None
    pieces = text.split(", ")
    if len(pieces) != n:  # a string holding ", "
        return None
    return template % tuple(pieces)


def _shape(row, pad):
    """``(leaves_of, template, number of leaves, pad)`` of ``row``'s shape; None for what is not a dict of JSON."""
    checks: list[str] = []
    leaves: list[str] = []
    parts: list[str] = []

    def walk(v, expr, pad):
        kind = type(v)
        if kind is dict:
            if not all(type(k) is str for k in v):
                raise TypeError("a key that is not a string")
            checks.append(f"type({expr}) is dict and tuple({expr}) == {tuple(v)!r}")
            if not v:
                parts.append("{}")
                return
            inner = pad + "  "
            parts.append("{" + inner)
            for i, (k, x) in enumerate(v.items()):
                if i:
                    parts.append("," + inner)
                parts.append(_encode_str(k).replace("%", "%%") + ": ")
                walk(x, f"{expr}[{k!r}]", inner)
            parts.append(pad + "}")
        elif kind is list:
            checks.append(f"type({expr}) is list and len({expr}) == {len(v)}")
            if not v:
                parts.append("[]")
                return
            inner = pad + "  "
            parts.append("[" + inner)
            for i, x in enumerate(v):
                if i:
                    parts.append("," + inner)
                walk(x, f"{expr}[{i}]", inner)
            parts.append(pad + "]")
        elif kind in (str, int, float, bool) or v is None:
            leaves.append(expr)
            parts.append("%s")
        else:
            raise TypeError(f"a {kind.__name__}")

    try:
        walk(row, "row", pad)
    except TypeError:
        return None
    if not checks or not leaves:
        return None
    source = (
        f"def leaves_of(row):\n    if not ({' and '.join(checks)}):\n        return None\n"
        f"    return [{', '.join(leaves)}]\n"
    )
    scope: dict[str, Any] = {}
    exec(compile(source, "<row shape>", "exec"), scope)  # noqa: S102 - made here of the row's own keys (repr'd)
    return scope["leaves_of"], "".join(parts), len(leaves), pad


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

    A run of more than ``listed`` views (default
    :data:`pixscale.report.aggregate.EXACT`, read when made) is not listed:
    once a view more than that comes, the views and lines held so far are
    dropped (:attr:`listed` turns False) and only the lines of the
    :func:`~pixscale.report.text.flagged` views are kept, the first
    ``listed`` of them (:attr:`n_flagged` counts them all), for the report
    that names the rows file instead.
    """

    VIEWS_LEVEL = 1  # report.json's views: a list at nesting 1

    def __init__(self, spell: Callable[[str], str], listed: int | None = None):
        from . import aggregate
        from .text import _view_line, flagged

        self._view_line, self._flagged, self.spell = _view_line, flagged, spell
        self.limit = aggregate.EXACT if listed is None else listed
        self.views = tempfile.TemporaryFile()
        self.lines = tempfile.TemporaryFile()
        self.flagged_lines = tempfile.TemporaryFile()
        self._json: list[str] = []
        self._md: list[str] = []
        self._flag: list[str] = []
        self.n = 0
        self.n_flagged = 0
        self._pad = "\n" + "  " * (self.VIEWS_LEVEL + 1)

    @property
    def listed(self) -> bool:
        """Whether every view is listed (no more than the limit came)."""
        return self.n <= self.limit

    def add(self, record: ViewRecord, row: dict[str, Any], text: str, changed: bool) -> None:
        """Add a record (``row``, ``text``, ``changed``: :func:`shown_row`'s) to both sections."""
        shown = ViewRecord.from_row(row) if changed else record
        line = None
        if self.n < self.limit:
            self._json.append(("," if self.n else "[") + self._pad + indented(row, self._pad))
            line = "\n" + self._view_line(shown, self.spell)
            self._md.append(line)
        elif self.n == self.limit:  # one view more than are listed: the lists are dropped
            self._json, self._md = [], []
            for f in (self.views, self.lines):
                f.seek(0)
                f.truncate()
        if self._flagged(shown):
            if self.n_flagged < self.limit:
                self._flag.append(line or "\n" + self._view_line(shown, self.spell))
            self.n_flagged += 1
        self.n += 1
        if len(self._json) >= 512 or len(self._flag) >= 512:
            self._flush()

    def _flush(self):
        if self.listed:
            self.views.write("".join(self._json).encode("utf-8"))
            self.lines.write("".join(self._md).encode("utf-8"))
        self.flagged_lines.write("".join(self._flag).encode("utf-8"))
        self._json, self._md, self._flag = [], [], []

    def close(self):
        self._flush()

    def views_text(self) -> Iterator[bytes]:
        """``report.json``'s views list (its bytes, in blocks)."""
        yield from _read(self.views)
        yield list_end(self.n == 0, self.VIEWS_LEVEL).encode("utf-8")

    def lines_text(self) -> Iterator[bytes]:
        """``report.md``'s per-view lines, each after a newline (its bytes, in blocks): every view's, or the
        flagged views' when not :attr:`listed`."""
        yield from _read(self.lines if self.listed else self.flagged_lines)

    def discard(self):
        self.views.close()
        self.lines.close()
        self.flagged_lines.close()


def _read(f, size=1 << 20):
    f.flush()
    f.seek(0)
    while block := f.read(size):
        yield block
