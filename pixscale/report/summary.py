"""The quality report of a dataset run: summary numbers, a grade, a text table and report files.

:func:`summarize` turns the pipeline's per-view records
(:class:`~pixscale.pipeline.records.ViewRecord`) into numbers (graded by
:func:`pixscale.report.quality.grade` with the bands of FaceLift's
``scripts/evaluate_preprocessing.py``, with the advice they call for),
:func:`format_table` prints them and :func:`write_report` writes them as JSON,
Markdown (:mod:`pixscale.report.text`) and, when matplotlib is installed,
figures (:mod:`pixscale.report.figures`).
"""

import math
import os
import pathlib
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .._measure import Measurement
from ..pipeline.dataset import printable
from ..pipeline.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_ready
from ..pipeline.records import ViewRecord, rows_of
from .quality import GRADE_SIZE, OUTLIER_PX, STAGES, _quality, measurement
from .text import _markdown, _quality_lines, _sections, same, spelled

MAX_FAILURES_SHOWN = 5  # failure reasons printed by format_table
_WIDTH = 80


def _stats(values):
    """Mean, std (ddof=0), CV, min, max and n of some numbers; None values when there are none."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "cv": None, "min": None, "max": None, "n": 0}
    mean, std = float(v.mean()), float(v.std())
    return {
        "mean": mean,
        "std": std,
        "cv": std / mean if mean else None,
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def _records(records: Iterable[ViewRecord], who: str) -> list[ViewRecord]:
    """``records`` as a list, each checked to be a :class:`ViewRecord`: the report's one way in.

    A JSON row (``report.json``'s views, ``pixscale stats --json``, a
    manifest's) becomes a record where it is read, with ``ViewRecord.from_row``.
    """
    out = list(records)
    for r in out:
        if not isinstance(r, ViewRecord):
            raise TypeError(
                f"{who} takes one pixscale.pipeline.records.ViewRecord per view; got {type(r).__name__} "
                f"{printable(repr(r))[:60]}. Read a JSON row back with `ViewRecord.from_row(row)`."
            )
    return out


def _measured(records: list[ViewRecord], stage: str) -> list[tuple[ViewRecord, Measurement]]:
    """The (record, measurement) pairs of the ok records that have a ``stage`` measurement."""
    return [(r, m) for r in records if r.ok and (m := measurement(r, stage)) is not None]


def _bbox_ratio(m: Measurement) -> float:
    """``sqrt(bbox area / image area)``: the size ratio a bounding-box measure would report."""
    assert m.bbox is not None
    (x0, y0, x1, y1), (h, w) = m.bbox, m.shape
    return float(np.sqrt((x1 - x0) * (y1 - y0) / (h * w)))


def _centre_offset(m: Measurement) -> float:
    """Distance in pixels from the centroid to the canvas centre ``(W / 2, H / 2)``."""
    assert m.centroid is not None
    (x, y), (h, w) = m.centroid, m.shape
    return float(np.hypot(x - w / 2, y - h / 2))


def _centring(measured: list[tuple[ViewRecord, Measurement]]) -> dict[str, Any]:
    """Centroid offsets from the canvas centre: px, % of the image's longer side, outliers, within samples."""
    pairs = [(r, m) for r, m in measured if m.centroid is not None]
    px = np.array([_centre_offset(m) for _, m in pairs])
    side = np.array([max(m.shape) for _, m in pairs], dtype=np.float64)
    out: dict[str, Any] = {k: None for k in ("mean", "std", "p95", "p99", "max", "mean_pct", "max_pct", "grade_px")}
    out.update(n=int(px.size), over_50px=int(np.count_nonzero(px > OUTLIER_PX)))
    if px.size:
        pct = 100 * px / side
        p95, p99 = np.percentile(px, [95, 99])
        out.update(
            mean=float(px.mean()),
            std=float(px.std()),
            p95=float(p95),
            p99=float(p99),
            max=float(px.max()),
            mean_pct=float(pct.mean()),
            max_pct=float(pct.max()),
            grade_px=float((px * GRADE_SIZE / side).mean()),
        )
    by_sample = defaultdict(list)
    for (r, _), d in zip(pairs, px, strict=True):
        by_sample[r.sample].append(d)
    stds = [float(np.std(v)) for v in by_sample.values() if len(v) >= 2]
    out["within_sample_std"] = float(np.mean(stds)) if stds else None
    return out


def _stage(records: list[ViewRecord], stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Size ratio, bbox-vs-pixel, centring and within-sample numbers of one stage."""
    measured = _measured(records, stage)
    sizes = _stats([m.size_ratio for _, m in measured])
    bbox = _stats([_bbox_ratio(m) for _, m in measured if m.bbox is not None])
    by_sample = defaultdict(list)
    for r, m in measured:
        by_sample[r.sample].append(m.size_ratio)
    cvs = [_stats(v)["cv"] for v in by_sample.values() if len(v) >= 2]
    within = _stats([cv for cv in cvs if cv is not None])
    return sizes, {
        "bbox_vs_pixel": {
            "bbox_mean": bbox["mean"],
            "bbox_std": bbox["std"],
            "bbox_cv": bbox["cv"],
            "pixel_cv": sizes["cv"],
        },
        "centring": _centring(measured),
        "within_sample_cv": {"mean": within["mean"], "max": within["max"], "n_samples": within["n"]},
    }


def _placement(ok: list[ViewRecord]) -> dict[str, Any]:
    """How the fit placed the views: moved, shrunk (limited) and cut."""
    shifts = [math.hypot(*r.shift) for r in ok if r.shift]
    moved = [d for d in shifts if d > 0]
    cut = [r.cut_pixels for r in ok if r.cut_pixels]
    limited = [r for r in ok if r.limited]
    return {
        "shifted": len(moved),
        "shift_mean": float(np.mean(moved)) if moved else None,
        "shift_max": float(max(moved)) if moved else None,
        "limited": len(limited),
        "cut": len(cut),
        "cut_pixels": int(sum(cut)),
    }


def _specks(ok: list[ViewRecord]) -> dict[str, int]:
    """The islands the component filter left out of the object (``min_component``/``keep``), per run.

    Without a filter, ``islands_*`` count the small islands a record's
    ``islands`` found (see :func:`pixscale.pipeline.unit.islands`): specks that
    were measured as part of the object.
    """
    dropped = [m for r in ok if (m := r.before) is not None and m.dropped_components]
    found = [i for r in ok if (i := r.islands) is not None and i.components]
    return {
        "views": len(dropped),
        "components": int(sum(m.dropped_components for m in dropped)),
        "pixels": int(sum(m.dropped_pixels for m in dropped)),
        "islands_views": len(found),
        "islands_components": int(sum(i.components for i in found)),
        "islands_pixels": int(sum(i.pixels for i in found)),
    }


def _exact(ok: list[ViewRecord], target: float | None) -> dict[str, Any]:
    """Exact mode: how close the achieved ratios came, and the views that could not get within tolerance."""
    achieved = [r.achieved_ratio for r in ok if r.achieved_ratio is not None]
    errors = [abs(a - target) for a in achieved] if target is not None else []
    off = [r for r in ok if r.on_target is False and not r.limited]
    return {
        "n": len(achieved),
        "max_error": float(max(errors)) if errors else None,
        "off_target": len(off),
        "off_target_views": [{"sample": r.sample, "view": r.view, "achieved_ratio": r.achieved_ratio} for r in off],
    }


def _one(values):
    """The single value of a set as a float, or None when there are several (or it is None)."""
    return float(next(iter(values))) if len(values) == 1 and None not in values else None


def _samples(ok: list[ViewRecord]) -> list[dict[str, Any]]:
    """Per sample: its views' size and centring after (or before), and the scale it wanted and got."""
    groups = defaultdict(list)
    for r in ok:
        groups[r.sample].append(r)
    out = []
    for name, rs in groups.items():
        stage = "after" if all(r.after is not None for r in rs) else "before"
        ms = [_of(r, stage) for r in rs]
        befores = [_of(r, "before").size_ratio for r in rs]
        sizes = [m.size_ratio for m in ms]
        offsets = [_centre_offset(m) for m in ms if m.centroid is not None]
        scales = {r.scale for r in rs}
        wanted = {r.wanted_scale for r in rs}
        out.append(
            {
                "sample": name,
                "views": len(rs),
                "stage": stage,
                "size_mean": float(np.mean(sizes)),
                "size_std": float(np.std(sizes)),
                "size_before_mean": float(np.mean(befores)),
                "size_before_std": float(np.std(befores)),
                "offset_mean": float(np.mean(offsets)) if offsets else None,
                "offset_std": float(np.std(offsets)) if offsets else None,
                # One scale for the whole sample (`scale="per-sample"`): what it wanted and what it got.
                "scale": _one(scales),
                "wanted_scale": _one(wanted),
                "limited": sum(1 for r in rs if r.limited),
                "shifted": sum(1 for r in rs if r.shift and any(r.shift)),
                "cut": sum(1 for r in rs if r.cut_pixels),
            }
        )
    return out


def _of(record: ViewRecord, stage: str) -> Measurement:
    """An ok record's ``stage`` measurement, which it has (an ok record has its ``before``)."""
    m = measurement(record, stage)
    assert m is not None, (record.view, stage)
    return m


def summarize(
    records: Iterable[ViewRecord], *, target: float | None = None, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Summarize the per-view records of a run into JSON-ready numbers.

    Parameters
    ----------
    records : iterable of ViewRecord
        One :class:`~pixscale.pipeline.records.ViewRecord` per view (ok or
        failed): its ``before`` and ``after`` measurements, ``scale``,
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
    records = _records(records, "summarize")
    with np.errstate(all="ignore"):  # a NaN or infinite measurement gives None, not a warning
        return json_ready(_summarize(records, target, dict(options or {})), text=printable)


def _summarize(records: list[ViewRecord], target: float | None, options: dict[str, Any]) -> dict[str, Any]:
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    summary: dict[str, Any] = {"n_views": len(records), "n_ok": len(ok), "n_failed": len(failed), "target": target}
    stages = [s for s in STAGES if s == "before" or any(measurement(r, s) is not None for r in records)]
    sections: dict[str, dict[str, Any]] = {"bbox_vs_pixel": {}, "centring": {}, "within_sample_cv": {}}
    for stage in stages:
        summary[stage], parts = _stage(records, stage)
        for key, value in parts.items():
            sections[key][stage] = value
    summary["scale"] = _stats([r.scale for r in ok if r.scale is not None])
    summary["wanted_scale"] = _stats([r.wanted_scale for r in ok if r.wanted_scale is not None])
    summary["placement"] = _placement(ok)
    summary["limited"] = summary["placement"]["limited"]
    summary["specks"] = _specks(ok)
    summary["exact"] = _exact(ok, target)
    summary["off_target"] = summary["exact"]["off_target"]
    summary["failures"] = [{"sample": r.sample, "view": r.view, "error": r.error} for r in failed]
    summary.update(sections)
    summary["samples"] = _samples(ok)
    summary["quality"] = _quality(summary, ok, options)
    return summary


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
    out = ["pixscale quality report", ""]
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
) -> list[pathlib.Path]:
    """Write the report files of a run into ``out_dir``, each atomically.

    Parameters
    ----------
    out_dir : str or path-like
        Destination folder, created if needed.
    summary : dict
        The output of :func:`summarize`.
    records : iterable of ViewRecord
        The per-view records the summary was made from.
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

    Returns
    -------
    list of pathlib.Path
        ``report.json`` (``{"meta": ..., "summary": ..., "views": rows}``, a
        row per record: :meth:`~pixscale.pipeline.records.ViewRecord.as_row`),
        ``report.md`` and, with plots, the figures of
        :func:`pixscale.report.figures.draw`.

    Notes
    -----
    Plots use matplotlib's Figure API only: no pyplot, no global backend
    change; the contact sheet is composed with NumPy and Pillow.
    ``report.md`` and the figures show the views as ``report.json`` holds
    them (names made printable, NaN as null): the rows written there, read
    back as records.
    """
    out = pathlib.Path(out_dir)
    rows = json_ready(rows_of(_records(records, "write_report")), text=printable)
    shown = [ViewRecord.from_row(r) for r in rows]
    summary = json_ready(summary, text=printable)
    meta_out: dict[str, Any] = json_ready(dict(meta or {}), text=printable)
    figures, missing = {}, {}
    if plots:  # none without matplotlib
        from .figures import draw

        figures, missing = draw(summary, shown, sources or {}, progress=progress)
    written = [out / "report.json", out / "report.md"]
    if missing:
        meta_out["figures not drawn"] = "; ".join(f"{name}: {reason}" for name, reason in missing.items())
    root = out if root is None else root
    atomic_write_json(written[0], {"meta": meta_out, "summary": summary, "views": rows}, root=root)
    try:
        md = _markdown(summary, shown, meta_out, list(figures), spell or same)
    except (TypeError, ValueError, KeyError, IndexError) as exc:  # a summary of an unexpected form: say so
        md = (
            "# pixscale quality report\n\nThe tables of this report could not be written "
            f"({type(exc).__name__}: {printable(str(exc))}); report.json holds the numbers and every view."
        )
    atomic_write_text(written[1], md, root=root)
    for name, data in figures.items():
        atomic_write_bytes(out / name, data, root=root)
        written.append(out / name)
    return written
