"""The quality report of a dataset run: summary numbers, a grade, a text table and report files.

:func:`summarize` turns the pipeline's per-view records
(:class:`~pixscale.pipeline.records.ViewRecord`) into numbers (graded by
:func:`pixscale.report.quality.grade` with the bands of FaceLift's
``scripts/evaluate_preprocessing.py``, with the advice they call for),
:func:`format_table` prints them and :func:`write_report` writes them as JSON,
Markdown (:mod:`pixscale.report.text`) and, when matplotlib is installed,
figures (:mod:`pixscale.report.figures`).
"""

import itertools
import json
import os
import pathlib
import textwrap
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ..pipeline.dataset import printable
from ..pipeline.files import atomic_write_bytes, atomic_write_text, json_ready, open_own_file
from ..pipeline.records import ViewRecord
from .aggregate import Aggregate, _checked
from .rowtext import Sections, blocks, json_list, shown_row
from .text import _markdown_head, _quality_lines, _sections, _view_line, heading, same, spelled, views_note

ROWS = "views.jsonl"  # a run's rows file in its report folder: one JSON row per view
MAX_FAILURES_SHOWN = 5  # failure reasons printed by format_table
_WIDTH = 80


def summarize(
    records: Iterable[ViewRecord], *, target: float | None = None, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Summarize the per-view records of a run into JSON-ready numbers.

    Parameters
    ----------
    records : iterable of ViewRecord
        One :class:`~pixscale.pipeline.records.ViewRecord` per view (ok or
        failed), the records of a sample one after another (a list is
        grouped by sample first); read once, a record at a time, into an
        :class:`~pixscale.report.aggregate.Aggregate` (memory that does not
        grow with the run but for a row per sample): its ``before`` and ``after`` measurements, ``scale``,
        ``wanted_scale``, ``limited``, ``shift``, ``cut_pixels``,
        ``achieved_ratio``, ``on_target`` and ``islands``.  Only ok records
        enter the statistics.  A JSON row (``report.json``'s views) is read
        back with ``ViewRecord.from_row``; a dict here is a TypeError.
    target : float, optional
        The target size ratio, for exact mode's error.
    options : dict, optional
        The run's options (:meth:`pixscale.pipeline.RunOptions.params`):
        the recommendations hold only for them (none is assumed without).

    Returns
    -------
    dict
        ``n_views``, ``n_ok``, ``n_failed``; ``before`` and, when any record has
        an ``after`` measurement, ``after``: size ratio ``mean``, ``std``
        (population, ddof=0), ``cv`` (std / mean), ``min``, ``max``, ``n``;
        ``scale`` and ``wanted_scale``: the same keys over the scale factors;
        ``limited``: number of views whose scale the fit shrank;
        ``off_target``: views, not limited, whose exact-mode ratio missed the
        target by more than the tolerance; ``placement`` (``shifted``,
        ``shift_mean``, ``shift_max`` in px, ``limited``, ``cut`` views and
        ``cut_pixels``); ``specks`` (``views`` whose before-measurement left
        islands out of the object, and those islands' ``components`` and
        ``pixels``); ``exact`` (``n``, ``max_error``, ``off_target``,
        ``off_target_views``); ``failures``: a list of ``{"sample", "view",
        "error"}``; keyed by stage, ``bbox_vs_pixel`` (``bbox_mean``,
        ``bbox_std``, ``bbox_cv`` of ``sqrt(bbox area / image area)``, next
        to ``pixel_cv``), ``centring`` (centroid distance to the canvas centre
        ``(W / 2, H / 2)``: ``mean``, ``std``, ``p95``, ``p99``, ``max`` in
        px, ``mean_pct`` and ``max_pct`` of the image's longer side,
        ``over_50px`` views, ``within_sample_std`` (mean over samples of the
        offsets' std), ``grade_px`` (mean rescaled to a 512-px image), ``n``)
        and ``within_sample_cv`` (``mean`` and ``max`` over samples with at
        least two ok views of the CV of their size ratios, ``n_samples``);
        ``samples``: per sample, its size and offset means and stds, and the
        shared ``scale`` and ``wanted_scale`` when its views have one; and
        ``quality``: the :func:`grade` with its interpretation and
        recommendations (``recommendations``, their :data:`ADVICE` keys
        ``advice`` and the ``conditions`` they were given under).  Numbers are Python floats and ints; those that
        cannot be computed are None.

    Examples
    --------
    >>> import dataclasses, numpy as np, pixscale
    >>> from pixscale.pipeline.records import ViewRecord
    >>> alpha = np.zeros((10, 10), np.uint8)
    >>> alpha[2:7, 2:7] = 255
    >>> a = ViewRecord("s", "a.png", before=pixscale.measure(alpha), scale=0.6, limited=False)
    >>> s = summarize([a, dataclasses.replace(a, view="b.png", scale=0.8)])
    >>> s["before"]["mean"], s["scale"]["mean"], s["n_ok"], "after" in s
    (0.5, 0.7, 2, False)
    """
    views = Aggregate(target, options)
    with np.errstate(all="ignore"):  # a NaN or infinite measurement gives None, not a warning
        views.feed(records, "summarize")
    summary = summary_of(views)
    summary["samples"] = list(summary["samples"])
    return summary


def summary_of(views: Aggregate) -> dict[str, Any]:
    """:func:`summarize`'s dict of the records an :class:`~pixscale.report.aggregate.Aggregate` was fed.

    Its ``samples`` are a :class:`~pixscale.report.samples.SampleRows`, a
    dict made per sample as it is read (:func:`write_report` streams them).
    """
    with np.errstate(all="ignore"):
        return json_ready(views.summary(), text=printable)


def write_rows(
    path: str | os.PathLike,
    records: Iterable[ViewRecord],
    *,
    target: float | None = None,
    options: Mapping[str, Any] | None = None,
    root: str | os.PathLike | None = None,
    sections: Sections | None = None,
) -> Aggregate:
    """Write a run's rows file (:data:`ROWS`, JSON Lines) and summarize the records on the way; return the aggregate.

    One line per record, as ``report.json``'s ``views`` hold them
    (:meth:`~pixscale.pipeline.records.ViewRecord.as_row`, names made
    printable, NaN as null), in the order given; streamed to ``path``
    atomically (``root``: see :func:`pixscale.pipeline.files.atomic_write_bytes`).
    The records are read once: the returned
    :class:`~pixscale.report.aggregate.Aggregate` gives the summary
    (:func:`summary_of`) and the figures' views.  ``pandas.read_json(path,
    lines=True)`` reads the file (``pandas.json_normalize`` flattens
    ``before`` and ``after``).  With ``sections`` (a
    :class:`~pixscale.report.rowtext.Sections`), ``report.json``'s views and
    ``report.md``'s per-view lines are written in the same pass, for
    :func:`write_report` (its ``sections=``).
    """
    views = Aggregate(target, options)

    with_text = getattr(records, "with_text", None)  # a run's records, with their rows' text in the manifest
    pairs = with_text() if with_text is not None else ((r, None) for r in records)

    def lines():
        with np.errstate(all="ignore"):
            for r, known in pairs:
                views.add(_checked(r, "write_rows"))
                row, text, changed = shown_row(r, known)
                if sections is not None:
                    sections.add(r, row, text, changed)
                yield text + "\n"
            views.close()
            if sections is not None:
                sections.close()

    atomic_write_bytes(path, blocks(lines()), root=root)
    return views


def format_table(summary: Mapping[str, Any], *, spell: Callable[[str], str] | None = None) -> str:
    """Render a summary as the plain-text table printed at the end of a run.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarize`.
    spell : callable, optional
        Applied to the words that may name a run option (the recommendations
        and failure reasons) before they are laid out: the command line passes
        its translation of a backticked keyword (`` `target=` ``) into its flag.
        Default: as the library says them.

    Returns
    -------
    str
        Sections for the size ratio (before, and after when present), the
        scale factors, the view counts with the first failure reasons,
        placement, the bbox-vs-pixel comparison, centring, within-sample CV,
        and the quality grade; no line is longer than 80 characters.

    Examples
    --------
    >>> table = format_table(summarize([]))
    >>> table.splitlines()[2].split(), max(len(line) for line in table.splitlines()) <= 80
    (['size', 'ratio', 'before'], True)
    """
    spell = spell or same
    out = ["pixscale quality report" + heading(summary), ""]
    for title, columns, rows in _sections(summary):
        out.append((f"{title:<28}" + "".join(f"{c:>12}" for c in columns)).rstrip())
        out += [f"  {label:<26}" + "".join(f"{c:>12}" for c in cells) for label, cells in rows]
        if title == "views":
            if summary.get("off_target"):
                out.append("    off target: no scale gives these views a ratio within the tolerance")
                out.append("    (it moves in steps larger than that, e.g. hard edges along the pixel grid,")
                out.append("    or a canvas of a few pixels: a 1-pixel canvas holds only ratio 0 or 1)")
            failures = summary["failures"]
            for f in failures[:MAX_FAILURES_SHOWN]:
                # A view is named by its path in IN_DIR, which starts with its sample's folder.
                inside = f["sample"] and f["view"].startswith(f["sample"] + "/")
                name = f["view"] if inside else "/".join(p for p in (f["sample"], f["view"]) if p)
                line = f"    {name}: {spelled(spell, f['error'])}".replace("\n", " ")
                out.append(line if len(line) <= _WIDTH else line[: _WIDTH - 4] + " ...")
            if len(failures) > MAX_FAILURES_SHOWN:
                out.append(f"    ... and {len(failures) - MAX_FAILURES_SHOWN} more (see report.json)")
        out.append("")
    for line in _quality_lines(summary, spell):
        indent = " " * (len(line) - len(line.lstrip(" -")))
        out += textwrap.wrap(line, _WIDTH, subsequent_indent=indent) or [""]
    return "\n".join(out).rstrip("\n")


def write_report(
    out_dir: str | os.PathLike,
    summary: Mapping[str, Any],
    records: Iterable[ViewRecord],
    *,
    sources: Mapping[str, tuple[Any, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
    plots: bool = True,
    root: str | os.PathLike | None = None,
    spell: Callable[[str], str] | None = None,
    progress: Callable[..., Any] | None = None,
    views: Aggregate | None = None,
    rows: str | os.PathLike | None = None,
    sections: Sections | None = None,
) -> list[pathlib.Path]:
    """Write the report files of a run into ``out_dir``, each atomically.

    Parameters
    ----------
    out_dir : str or path-like
        Destination folder, created if needed.
    summary : dict
        The output of :func:`summarize`.
    records : iterable of ViewRecord
        The per-view records the summary was made from, re-iterable (a list,
        or a run's :class:`~pixscale.pipeline.records.RunRecords`): each file
        is written as they stream past, so a run of any size is reported in
        bounded memory.
    sources : mapping, optional
        View name (a record's ``view``) to ``(before, after)`` image files (or
        :class:`pixscale.report.figures.Thumbnail`), for the contact sheet of the
        best, median and worst samples.  Without it there is no sheet.
    meta : dict, optional
        What the run was: pixscale version, date, input path, layout and
        ``parameters``; written at the top of both files.
    plots : bool, optional
        Draw the figures when matplotlib is importable.  Default True.
    root : str or path-like, optional
        A folder above ``out_dir`` below which no link is followed (see
        :func:`pixscale.pipeline.files.atomic_write_bytes`); default ``out_dir`` itself.
    spell : callable, optional
        Applied to the words of ``report.md`` that may name a run option (the
        recommendations and the views' errors), as :func:`format_table` does:
        a command-line run passes its translation of `` `name=` `` mentions
        into flags.  Default: as the library says them (Python keywords).
        ``report.json`` always holds the library's words.
    progress : callable, optional
        A progress bar factory (``progress(total=, unit=)``, as a run takes)
        for drawing the figures, the slow part: see
        :func:`pixscale.report.figures.draw`.  Default: no progress shown.
    views : Aggregate, optional
        The :class:`~pixscale.report.aggregate.Aggregate` the summary was
        made with: the figures draw from its sample of views instead of
        reading ``records`` once more.
    rows : str or path-like, optional
        The rows file :func:`write_rows` wrote of ``records``: ``report.json``'s
        views and ``report.md``'s lines are read from it (``records`` then
        only give the contact sheet's samples).
    sections : Sections, optional
        ``report.json``'s views and ``report.md``'s lines as :func:`write_rows`
        wrote them beside the rows file (made with this ``spell``): used
        instead of reading the rows again.  When they hold more views than a
        report lists (:attr:`~pixscale.report.rowtext.Sections.listed` is
        False: more than :data:`pixscale.report.aggregate.EXACT`),
        ``report.json`` names the rows file (``rows``) instead of listing the
        views, and ``report.md`` lists only the flagged views
        (:func:`pixscale.report.text.flagged`), saying where the rest are.

    Returns
    -------
    list of pathlib.Path
        ``report.json`` (``{"meta": ..., "summary": ..., "views": rows}``, a
        row per record: :meth:`~pixscale.pipeline.records.ViewRecord.as_row`;
        ``{"meta": ..., "summary": ..., "views_file": "views.jsonl"}`` for a run
        of more views than a report lists: :func:`report_views` reads either),
        ``report.md``, with plots the figures of
        :func:`pixscale.report.figures.draw`, and ``report.html``
        (:func:`pixscale.report.html.write_html`: ``report.md`` with its
        figures inline, for a browser).

    Notes
    -----
    Plots use matplotlib's Figure API only: no pyplot, no global backend
    change; the contact sheet is composed with NumPy and Pillow.
    ``report.md`` and the figures show the views as ``report.json`` holds
    them (names made printable, NaN as null): the rows written there, read
    back as records.
    """
    out = pathlib.Path(out_dir)
    if isinstance(records, (list, tuple)):  # a bad record is refused before anything is written
        for r in records:
            _checked(r, "write_report")
    shown = _Shown(records, rows)
    summary = json_ready(summary, text=printable)
    meta_out: dict[str, Any] = json_ready(dict(meta or {}), text=printable)
    figures, missing = {}, {}
    if plots:  # none without matplotlib
        from .figures import draw

        figures, missing = draw(summary, shown, sources or {}, progress=progress, views=views)
    written = [out / "report.json", out / "report.md"]
    if missing:
        meta_out["figures not drawn"] = "; ".join(f"{name}: {reason}" for name, reason in missing.items())
    root = out if root is None else root
    rows_name = pathlib.Path(rows).name if rows is not None else ROWS
    listed = sections is None or sections.listed
    if not listed:  # a run of more views than a report lists: report.json names the rows file
        json_text = blocks(_report_json(meta_out, summary, None, views_file=rows_name))
    elif sections is not None:
        json_text = itertools.chain(blocks(_report_json(meta_out, summary, None)), sections.views_text(), [b"\n}\n"])
    else:
        json_text = blocks(_report_json(meta_out, summary, shown.rows()))
    atomic_write_bytes(written[0], json_text, root=root)
    try:
        note = None
        if not listed:
            assert sections is not None
            note = views_note(sections.n, sections.limit, sections.n_flagged, rows_name)
        text, samples = _markdown_head(summary, meta_out, list(figures), spell or same, note)
    except (TypeError, ValueError, KeyError, IndexError) as exc:  # a summary of an unexpected form: say so
        md = (
            "# pixscale quality report\n\nThe tables of this report could not be written "
            f"({type(exc).__name__}: {printable(str(exc))}); report.json holds the numbers and every view."
        )
        atomic_write_text(written[1], md, root=root)
    else:
        if sections is not None:
            lines = blocks(itertools.chain([text], (f"\n{line}" for line in samples)))
            md_bytes = itertools.chain(lines, sections.lines_text(), [b"\n"])
        else:
            views_lines = (_view_line(r, spell or same) for r in shown)
            md_bytes = blocks(
                itertools.chain([text], (f"\n{line}" for line in itertools.chain(samples, views_lines)), ["\n"])
            )
        atomic_write_bytes(written[1], md_bytes, root=root)
    for name, data in figures.items():
        atomic_write_bytes(out / name, data, root=root)
        written.append(out / name)
    from .html import write_html

    written.append(write_html(out, root=root))  # report.md to open in a browser, its figures inline
    return written


class _Shown:
    """Records as ``report.json`` holds them (names made printable, NaN as null): re-iterable, a record at a time.

    Iterating gives each record read back from its row (what ``report.md``
    and the figures show); :meth:`rows` gives the rows.  A record of a sample
    the sheet shows is fetched with :meth:`of_samples`.
    """

    def __init__(self, records, rows_file=None):
        self.records, self.rows_file = records, rows_file

    def rows(self):
        if self.rows_file is not None:  # the records' rows as write_rows wrote them
            with open(open_own_file(self.rows_file, os.O_RDONLY), "rb") as f:  # following no link
                yield from (json.loads(line) for line in f)
            return
        for r in self.records:
            yield shown_row(_checked(r, "write_report"))[0]

    def __iter__(self):
        return (ViewRecord.from_row(row) for row in self.rows())

    def of_samples(self, names):
        """The shown records of the samples ``names`` (one pass, or the records' own ``of_samples``)."""
        fetch = getattr(self.records, "of_samples", None)
        if fetch is not None:
            return list(_Shown(fetch(names)))
        return [r for r in self if r.sample in names]


_SAMPLES = "\x00samples\x00"  # where the summary's samples are streamed into report.json


def _report_json(meta, summary, rows, views_file=None):
    """``report.json``'s text in pieces, as ``json.dumps({"meta", "summary", "views"}, indent=2)`` writes it.

    The views (``rows``) and the summary's ``samples`` are written one at a time.
    With ``views_file`` (a run of more views than a report lists), ``views`` is
    ``"views_file": views_file`` instead, the rows file's name, and ``rows`` is not used.
    """
    samples = summary.get("samples")
    if samples is not None and not isinstance(samples, list):
        summary = {**summary, "samples": _SAMPLES}
    if views_file is not None:
        head = json.dumps({"meta": meta, "summary": summary, "views_file": views_file}, indent=2) + "\n"
        rows = None
    else:
        head = json.dumps({"meta": meta, "summary": summary, "views": []}, indent=2)
        assert head.endswith("[]\n}")
        head = head[:-4]
    if summary.get("samples") == _SAMPLES:
        marker = json.dumps(_SAMPLES)
        before, after = head.split(marker)
        yield before
        yield from json_list(samples, 2)
        yield after
    else:
        yield head
    if rows is not None:  # else the caller writes the views and the end (or there are none: views_file)
        yield from json_list(rows, 1)
        yield "\n}\n"


def report_views(data: Mapping[str, Any], folder: str | os.PathLike) -> Iterable[dict[str, Any]] | None:
    """The per-view rows of a parsed ``report.json`` (``data``) that lies in ``folder``; None when it has none.

    Its ``views``; or, for a run of more views than a report lists, the rows
    of the rows file it names (``views_file``, a name in ``folder``): a
    re-iterable that reads the file a line at a time each time it is
    iterated.  A ``views_file`` that is not a plain file name is a ValueError.
    """
    views = data.get("views")
    name = data.get("views_file")
    if views is not None or name is None:
        return views
    if not isinstance(name, str) or not name or os.path.basename(name) != name or name in (".", ".."):
        raise ValueError(f"its views_file is {printable(repr(name))}, not a file name beside it")
    return _RowsFile(pathlib.Path(folder) / name)


class _RowsFile:
    """A rows file's rows (JSON Lines), read a line at a time each time it is iterated."""

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path, "rb") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    def __repr__(self):
        return f"_RowsFile({os.fspath(self.path)!r})"
