"""Compare runs side by side: ``pixscale compare RUN_DIR_OR_REPORT...``.

Each argument is a pixscale report (``report.json``, its folder, or a run's
OUT_DIR holding ``pixscale-report/``), or any dataset folder, which is then
measured as it is (e.g. the output of another preprocessing script).  The
comparison is a table of the headline numbers of each, and a bar chart of
size uniformity and centring with the quality-grade bands, in the manner of
FaceLift's ``scripts/compare_preprocessing_all.py``: runs best grade first
(or as given), the grading criteria, a "recommended" line with its reason,
the size CV of sample means (the original's) beside the CV per view, the
centroid offset's std, a grid of the same view from every run
(:mod:`~pixscale.report.compare_grid`), and the first ``num_samples`` only
for a quick look.
"""

import io
import json
import math
import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..pipeline.dataset import REPORT_DIR
from ..pipeline.files import atomic_write_bytes, atomic_write_text
from ..pipeline.records import ViewRecord
from ..pipeline.store import is_url
from .compare_grid import GRID_SAMPLES, grid, shown_views, touches_edge
from .quality import GRADE_D, GRADES, OUTLIER_PX
from .summary import report_views, summarize
from .text import _md_table

# (label, how to read it from a run's entry, format)
COLUMNS = (
    ("samples", "samples", "d"),
    ("views", "views", "d"),
    ("size ratio mean", "size_mean", "%"),
    ("size ratio std", "size_std", "%"),
    ("size ratio CV (per view)", "size_cv", "%"),
    ("size ratio CV (of sample means)", "size_cv_samples", "%"),
    ("size ratio min", "size_min", "%"),
    ("size ratio max", "size_max", "%"),
    ("centroid offset mean (px)", "offset_mean", ".2f"),
    ("centroid offset std (px, per view)", "offset_std", ".2f"),
    ("centroid offset mean (px of 512, graded)", "grade_px", ".2f"),
    ("centroid offset p95 (px)", "offset_p95", ".2f"),
    ("centroid offset max (px)", "offset_max", ".2f"),
    (f"views > {OUTLIER_PX} px off centre", "over_50px", "d"),
    ("within-sample CV mean", "within_cv", "%"),
    ("shifted", "shifted", "d"),
    ("limited", "limited", "d"),
    ("cut off", "cut", "d"),
    ("off target", "off_target", "d"),
    ("failed", "failed", "d"),
    ("grade", "grade", "s"),
)


KINDS = {
    "after": "pixscale run (after)",
    "before": "pixscale run's input (before)",
    "measured": "measured folder",
}
UNKNOWN = "unknown (not a pixscale run)"  # what a folder measured as it is cannot tell
_RUN_ONLY = ("shifted", "limited", "cut", "off_target")  # keys only a pixscale run knows
_NUMBERS = ("mean", "std", "cv", "min", "max")


def _number(value, where, *, whole=False, none=True):
    """``value`` if it is a finite number (an int with ``whole``; None allowed with ``none``), else ValueError."""
    if value is None and none:
        return None
    ok = isinstance(value, int) if whole else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
        what = "a whole number" if whole else "a finite number"
        raise ValueError(f"{where} is {value!r}, not {what}")
    return value


def _section(obj, where):
    if not isinstance(obj, dict):
        raise ValueError(f"{where} is {type(obj).__name__}, not an object")
    return obj


def _checked(summary, stage):
    """The numbers :func:`load` reads from a report's summary, each checked; ValueError names the first bad one."""
    summary = _section(summary, "summary")
    sizes = _section(summary.get(stage), f"summary.{stage}")
    centring = _section(_section(summary.get("centring"), "summary.centring").get(stage), f"summary.centring.{stage}")
    within = _section(
        _section(summary.get("within_sample_cv"), "summary.within_sample_cv").get(stage),
        f"summary.within_sample_cv.{stage}",
    )
    placement = _section(summary.get("placement") or {}, "summary.placement")
    quality = _section(summary.get("quality") or {}, "summary.quality")
    out = {k: _number(sizes.get(k), f"summary.{stage}.{k}") for k in _NUMBERS}
    out["n"] = _number(sizes.get("n"), f"summary.{stage}.n", whole=True, none=False)
    for k in ("mean", "std", "p95", "max", "grade_px"):
        out[f"offset_{k}"] = _number(centring.get(k), f"summary.centring.{stage}.{k}")
    out["over_50px"] = _number(centring.get("over_50px"), f"summary.centring.{stage}.over_50px", whole=True)
    out["within_cv"] = _number(within.get("mean"), f"summary.within_sample_cv.{stage}.mean")
    out["shifted"] = _number(placement.get("shifted"), "summary.placement.shifted", whole=True)
    out["cut"] = _number(placement.get("cut"), "summary.placement.cut", whole=True)
    out["limited"] = _number(summary.get("limited"), "summary.limited", whole=True)
    out["off_target"] = _number(summary.get("off_target"), "summary.off_target", whole=True)
    out["failed"] = _number(summary.get("n_failed"), "summary.n_failed", whole=True, none=False)
    out["samples"], out["cv_samples"] = _of_sample_means(summary, stage)
    grade = quality.get("grade")
    if grade is not None and grade not in [g[0] for g in GRADES] + ["D"]:
        raise ValueError(f"summary.quality.grade is {grade!r}, not one of A, B, C, D")
    out["grade"] = grade
    return out


def _of_sample_means(summary, stage):
    """``(samples, CV)``: the number of samples, and the CV of their mean size ratios (None where unknown).

    The size CV of FaceLift's ``compare_preprocessing_all.py``: each sample's
    views are averaged first, then the spread of those means is taken
    (population std over mean), so a spread within a sample does not count.
    """
    rows = summary.get("samples")
    if rows is None:
        return None, None
    if not isinstance(rows, list):
        raise ValueError(f"summary.samples is {type(rows).__name__}, not a list")
    means = []
    for i, row in enumerate(rows):
        row = _section(row, f"summary.samples[{i}]")
        value = _number(row.get("size_mean"), f"summary.samples[{i}].size_mean")
        if value is not None and row.get("stage", stage) == stage:
            means.append(value)
    mean = sum(means) / len(means) if means else 0.0
    if not mean:
        return len(rows), None
    return len(rows), math.sqrt(sum((m - mean) ** 2 for m in means) / len(means)) / mean


def _first_samples(data, views, num_samples, options):
    """The summary of a report's first ``num_samples`` samples, from its per-view rows ``views`` (:func:`report_views`);
    None if it has them all."""
    if not isinstance(views, Iterable) or isinstance(views, (str, Mapping)):
        raise ValueError("it has no per-view rows to take the first samples from")
    names = list(dict.fromkeys(_section(v, "a view row").get("sample") for v in views))
    if len(names) <= num_samples:
        return None
    keep = set(names[:num_samples])
    records = [ViewRecord.from_row(v) for v in views if v.get("sample") in keep]
    return summarize(records, target=data["summary"].get("target"), options=options)


def _report_path(path):
    path = pathlib.Path(path)
    for candidate in (path, path / "report.json", path / REPORT_DIR / "report.json"):
        if candidate.is_file() and candidate.name == "report.json":
            return candidate
    return None


def load(
    path: str | os.PathLike,
    *,
    threshold: float = 10.0,
    min_component: float | None = None,
    keep: str = "all",
    num_samples: int | None = None,
) -> dict[str, Any]:
    """One run's headline numbers: from its report, or by measuring the folder as it is.

    A measured folder's object mask is ``threshold``, ``min_component`` and
    ``keep`` (see :class:`pixscale.ObjectMask`).  Returns a dict with
    ``name``, ``path``, ``source`` (``"report"`` or ``"measured"``),
    ``stage`` (``"after"`` or ``"before"`` of a run; ``"as-is"`` for a
    measured folder, which is no run's input as far as can be known),
    ``kind`` (what the column is: one of :data:`KINDS`),
    ``grade_covers`` and the keys of :data:`COLUMNS`; a measured folder's
    shifted, limited, cut and off-target counts are None (unknown), and
    its ``touching_edge`` counts the views whose object reaches the image's
    border (they may have been cut: how much cannot be known).  A
    report.json that is not valid (missing keys, counts as strings, NaN)
    raises ValueError naming the file and what is wrong.  With
    ``num_samples``, only the first that many samples (in the order of the
    report, or sorted by name for a folder) are compared.
    """
    return _load(path, threshold=threshold, min_component=min_component, keep=keep, num_samples=num_samples)[0]


def _load(
    path: str | os.PathLike,
    *,
    threshold: float = 10.0,
    min_component: float | None = None,
    keep: str = "all",
    num_samples: int | None = None,
    storage_options: dict | None = None,
) -> tuple[dict[str, Any], dict]:
    """:func:`load`'s entry, and the views the grid shows (:func:`~pixscale.report.compare_grid.shown_views`)."""
    whole = isinstance(num_samples, int) and not isinstance(num_samples, bool)
    if num_samples is not None and not (whole and num_samples >= 1):
        raise ValueError(f"`num_samples=` is {num_samples!r}; give a whole number of at least 1, or None for all")
    grid_rows = min(GRID_SAMPLES, num_samples or GRID_SAMPLES)
    url = is_url(path)  # a run's OUT_DIR or a dataset on an object store: its report.json is read from there
    if url:
        from ..pipeline.storerun import store_report
    report = store_report(path, storage_options) if url else _report_path(path)
    if report is not None:
        try:
            data = _section(json.loads(report.read_text(encoding="utf-8")), "the file")
            if "summary" not in data:
                raise ValueError("it has no 'summary'")
            summary = data["summary"]
            if num_samples is not None:
                meta = _section(data.get("meta") or {}, "meta")
                views = report_views(data, report.parent)  # its views, or those of the rows file it names
                summary = _first_samples(data, views, num_samples, meta.get("parameters")) or summary
            stage = "after" if "after" in summary else "before"
            numbers = _checked(summary, stage)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{report} is not a pixscale report.json ({exc}); rerun the run, or pass its folder"
            ) from None
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        is_run = stage == "after" or "parameters" in meta
        source = "report" if is_run else "measured"
        root = meta.get("output") if stage == "after" else meta.get("input")
        if stage == "after" and report.parent.name == REPORT_DIR:
            root = report.parent.parent  # where the run's output is now, wherever it was written
        root = None if url else root  # the grid draws local runs only
        shown, edge = {}, None
        try:  # the grid and the edge count only add: rows they cannot read leave them out, not the run
            views = report_views(data, report.parent)
            if views is None:
                raise KeyError("views")
            shown = shown_views(views, root, stage, grid_rows) if root else {}
            if source == "measured":
                edge = sum(touches_edge(ViewRecord.from_row(v).before) for v in views)
        except (OSError, KeyError, ValueError, TypeError, AttributeError):
            pass
    elif url or pathlib.Path(path).is_dir():
        from ..pipeline.driver import measure_dataset

        measured = {"threshold": threshold, "min_component": min_component, "keep": keep}
        records, dataset = measure_dataset(path, **measured, num_samples=num_samples, storage_options=storage_options)
        shown = {} if url else shown_views(records, dataset.root, "before", grid_rows)
        edge = sum(touches_edge(r.before) for r in records)
        summary = summarize(records, options=measured)
        source, stage = "measured", "before"
        numbers = _checked(summary, stage)
    else:
        raise ValueError(f"{path}: no such folder or report.json; pass a run's OUT_DIR, a report or a dataset folder")
    if source == "measured":
        for key in _RUN_ONLY:
            numbers[key] = None
    p = pathlib.Path(path).absolute()
    p = p.parent if p.name == "report.json" else p
    name = (p.parent if p.name == REPORT_DIR else p).name
    kind = KINDS["measured" if source == "measured" else stage]
    return {
        "name": name,
        "path": str(path),
        "source": source,
        "stage": stage if source == "report" else "as-is",  # a measured folder is no run's "before"
        "kind": kind,
        "samples": numbers["samples"],
        "views": numbers["n"],
        "size_mean": numbers["mean"],
        "size_std": numbers["std"],
        "size_cv": numbers["cv"],
        "size_cv_samples": numbers["cv_samples"],
        "size_min": numbers["min"],
        "size_max": numbers["max"],
        "offset_mean": numbers["offset_mean"],
        "offset_std": numbers["offset_std"],
        "offset_p95": numbers["offset_p95"],
        "offset_max": numbers["offset_max"],
        "over_50px": numbers["over_50px"],
        "within_cv": numbers["within_cv"],
        "shifted": numbers["shifted"],
        "limited": numbers["limited"],
        "cut": numbers["cut"],
        "off_target": numbers["off_target"],
        "failed": numbers["failed"],
        "grade": numbers["grade"],
        "grade_covers": "size and centring only" if source == "measured" else "size and centring of the output",
        "size_cv_pct": None if numbers["cv"] is None else 100 * numbers["cv"],
        "grade_px": numbers["offset_grade_px"],
        "touching_edge": edge if source == "measured" else None,
    }, shown


def _cell(value, spec, run=None, key=None):
    if run is not None and run["source"] == "measured":
        if key == "cut" and run.get("touching_edge") is not None:
            return f"{UNKNOWN}; {run['touching_edge']} touch the edge"
        if key in _RUN_ONLY:
            return UNKNOWN
        if key == "grade" and value is not None:
            return f"{value} (size and centring only)"
    if value is None:
        return "-"
    if spec == "%":
        return f"{100 * value:.2f}%"
    return format(value, spec)


def table(runs):
    """``(header, rows)``: one column per run, one row per number of :data:`COLUMNS`."""
    rows = [["what it is", *(r["kind"] for r in runs)]]
    rows += [[label, *(_cell(r[key], f, r, key) for r in runs)] for label, key, f in COLUMNS]
    return ["", *(r["name"] for r in runs)], rows


ORDERS = ("grade", "given")  # how the runs are laid out: best grade first, or as given
_RANK = {letter: i for i, letter in enumerate([g[0] for g in GRADES] + [GRADE_D[0]])}


def _merit(run):
    """The sort key of a run: its grade (A first, none last), then size ratio CV per view, then centroid offset."""
    return (
        _RANK.get(run["grade"], len(_RANK)),
        math.inf if run["size_cv"] is None else run["size_cv"],
        math.inf if run["grade_px"] is None else run["grade_px"],
    )


def ordered(runs: Sequence[Mapping[str, Any]], order: str = "grade") -> list:
    """``runs`` best first (``order="grade"``: grade, then size CV, then offset; stable) or as given."""
    if order not in ORDERS:
        raise ValueError(f"`order=` is {order!r}; give one of {', '.join(map(repr, ORDERS))}")
    return list(runs) if order == "given" else sorted(runs, key=_merit)


def criteria() -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: the grading criteria, from the bands of :data:`~pixscale.report.quality.GRADES`."""
    header = ["grade", "meaning", "size ratio CV (per view)", "mean centroid offset (px of 512)"]
    rows = [[g, label, f"< {cv:g}%", f"< {px:g} px"] for g, label, cv, px in GRADES]
    rows.append([*GRADE_D, "anything else", "anything else"])
    return header, rows


CRITERIA_NOTE = (
    "A grade needs both numbers below its bands; the offset is rescaled to a 512-px image. The grade uses the "
    "CV over all views, stricter than the CV of sample means (which hides the spread within a sample)."
)


def recommend(runs: Sequence[Mapping[str, Any]]) -> str:
    """The "recommended" line: the best run by grade, then size CV, then offset, and why; or why none is."""
    best = sorted(runs, key=_merit)
    top = best[0]
    if top["grade"] not in ("A", "B"):
        return (
            f"recommended: none: no run reaches grade A or B (the best is {top['name']}, "
            f"grade {top['grade'] or 'unknown'})"
        )
    cv = f"{100 * top['size_cv']:.2f}%"
    px = f"{top['grade_px']:.2f} px of 512"
    peers = [r for r in best if r["grade"] == top["grade"]]
    if len(peers) == 1:
        why = f"the only run of grade {top['grade']} (size ratio CV {cv} per view, mean centroid offset {px})"
    elif peers[1]["size_cv"] != top["size_cv"]:
        why = f"grade {top['grade']}, then the lowest size ratio CV per view ({cv}) of the {len(peers)} such runs"
    else:
        why = f"grade {top['grade']}, equal size ratio CV ({cv}), then the lowest mean centroid offset ({px})"
    if top["source"] == "measured":
        why += "; a measured folder: how many of its views were cut off cannot be known"
    if top.get("failed"):
        why += f"; {top['failed']} of its views failed and are not in its numbers"
    return f"recommended: {top['name']}: {why}"


def _samples_said(num_samples):
    return "all samples" if num_samples is None else f"the first {num_samples} samples of each"


def _heading(runs, order, num_samples):
    sort = "best grade first" if order == "grade" else "in the order given"
    return f"{len(runs)} run(s), {sort}; {_samples_said(num_samples)}"


def _text_table(header, rows, first):
    width = max(12, *(len(c) + 2 for c in header[1:] + [c for r in rows for c in r[1:]]))
    lines = ["".join([f"{header[0]:<{first}}", *(f"{h:>{width}}" for h in header[1:])])]
    lines += ["".join([f"{r[0]:<{first}}", *(f"{c:>{width}}" for c in r[1:])]) for r in rows]
    return lines


def format_table(runs: Sequence[Mapping[str, Any]], *, order: str = "grade", num_samples: int | None = None) -> str:
    """The comparison as plain text: a heading, the table, the grading criteria and the recommended line.

    ``runs`` are shown as they come (sort them with :func:`ordered`);
    ``order`` and ``num_samples`` are only said in the heading.
    """
    lines = [f"pixscale comparison: {_heading(runs, order, num_samples)}"]
    header, rows = table(runs)
    lines += _text_table(header, rows, first=40)
    header, rows = criteria()
    widths = [max(len(row[i]) for row in [header, *rows]) + 2 for i in range(len(header))]
    lines += ["", "grading criteria:"]
    lines += ["".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines += [CRITERIA_NOTE]
    lines += ["", recommend(runs)]
    return "\n".join(lines)


def _chart(runs):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(6, 1.6 * len(runs) + 3), 4), layout="constrained")
    size_ax, centre_ax = fig.subplots(1, 2)
    names = [r["name"] for r in runs]
    colours = [f"C{i}" for i in range(len(runs))]
    for ax, key, title, band in (
        (size_ax, "size_cv_pct", "size uniformity: CV of the size ratio (%)", 2),  # GRADES[i][2]: CV below
        (centre_ax, "grade_px", "centring: mean centroid offset (px of 512)", 3),  # GRADES[i][3]: px below
    ):
        values = [r[key] or 0.0 for r in runs]
        bars = ax.bar(names, values, color=colours, edgecolor="black", alpha=0.8)
        for bar, r in zip(bars, runs, strict=True):
            ax.annotate(
                f"{r[key]:.2f}\n{r['grade'] or ''}" if r[key] is not None else "-",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_ylim(0, 1.2 * max([*values, float(GRADES[-1][band])]))
        for grade, ls in zip(GRADES, ("--", "-.", ":"), strict=True):
            ax.axhline(grade[band], color="0.4", ls=ls, lw=1, label=f"grade {grade[0]} below")
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=7)
    return fig


def compare(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    labels: Sequence[str] | None = None,
    plots: bool = True,
    threshold: float = 10.0,
    min_component: float | None = None,
    keep: str = "all",
    skipped: list[str] | None = None,
    order: str = "grade",
    num_samples: int | None = None,
    storage_options: dict | None = None,
) -> tuple[list[dict[str, Any]], list[pathlib.Path]]:
    """Compare runs; write ``compare.json``, ``compare.md`` and (with matplotlib) ``compare.png`` into ``out_dir``.

    Parameters
    ----------
    paths : sequence of path
        Runs' OUT_DIRs, report folders or ``report.json`` files, or dataset
        folders to measure as they are.
    out_dir : path
        Where to write the comparison (created if needed).
    labels : sequence of str, optional
        Names for the runs, in order; default their folder names.
    plots : bool, optional
        Draw the bar chart.  Default True.
    threshold : float, optional
        The mask threshold for folders that are measured.  Default 10.
    min_component, keep : optional
        The component filter for folders that are measured (see
        :class:`pixscale.ObjectMask`); reports keep the rule of their run.
    skipped : list, optional
        Without it, a path that cannot be compared (a report.json that is
        not valid: missing keys, counts as strings, NaN) raises ValueError
        naming the file and what is wrong.  With a list, such a path is
        left out and its reason appended there (and listed in
        ``compare.json`` and ``compare.md``); ValueError only when nothing
        is left to compare.

    order : {"grade", "given"}, optional
        ``"grade"`` (default): best first, by grade, then size ratio CV per
        view, then mean centroid offset; ``"given"``: in the order of
        ``paths``.
    num_samples : int, optional
        Compare only the first that many samples of each (a quick look);
        default all.  Said in the heading of ``compare.md``.
    storage_options : dict, optional
        For paths that are fsspec URLs (a run's OUT_DIR on an object store,
        or a dataset there, measured): the filesystem's options.

    The comparison also holds the grading criteria and a "recommended"
    line naming the best run and why (or why none is).  Size uniformity is
    given twice, labelled: the CV over all views (what the grade uses) and
    the CV of the per-sample mean size ratios (the size CV of FaceLift's
    ``compare_preprocessing_all.py``).

    Returns
    -------
    (list of dict, list of pathlib.Path)
        The runs' entries (see :func:`load`), in ``order``, and the files written:
        ``compare.json`` and ``compare.md`` always both, or neither.
    """
    runs = []
    shown: dict[int, dict] = {}
    for p in paths:
        try:
            entry, views = _load(
                p,
                threshold=threshold,
                min_component=min_component,
                keep=keep,
                num_samples=num_samples,
                storage_options=storage_options,
            )
            runs.append(entry)
            shown[id(entry)] = views
        except ValueError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
    if order not in ORDERS:
        raise ValueError(f"`order=` is {order!r}; give one of {', '.join(map(repr, ORDERS))}")
    if not runs:
        raise ValueError("nothing to compare: " + "; ".join(skipped or []))
    if labels:
        if len(labels) != len(runs):
            raise ValueError(f"`labels=` gives {len(labels)} names for {len(runs)} runs; give one per run")
        for r, label in zip(runs, labels, strict=True):
            r["name"] = label
    runs = ordered(runs, order)
    out = pathlib.Path(out_dir)
    header, rows = table(runs)
    md = ["# pixscale comparison", "", _heading(runs, order, num_samples) + ".", ""] + _md_table(header, rows)
    md += ["## Grading criteria", ""] + _md_table(*criteria()) + [CRITERIA_NOTE, ""]
    md += ["## Recommended", "", recommend(runs)[len("recommended: ") :], ""]
    md += ["Sources:", ""] + [f"- {r['name']}: `{r['path']}` ({r['kind']})" for r in runs]
    if any(r["source"] == "measured" for r in runs):
        md += [
            "",
            "A measured folder is not a pixscale run: what it moved, shrank or cut off cannot be known, "
            "so its grade covers size and centring only.",
        ]
    if skipped:
        md += ["", "Skipped:", ""] + [f"- {reason}" for reason in skipped]
    png = grid_png = None
    if plots:
        try:
            fig = _chart(runs)
        except ImportError:
            fig = None
        if fig is not None:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            png = buf.getvalue()
            md += ["", "![comparison](compare.png)"]
        try:
            grid_png = grid([r["name"] for r in runs], [shown[id(r)] for r in runs])
        except ImportError:
            grid_png = None
        if grid_png is not None:
            md += ["", "The same view from every run, a row per sample:", "", "![grid](compare_grid.png)"]
    # Everything is formed before anything is written.  compare.json and compare.md are a pair,
    # both of this run or neither: the previous pair goes first, and a failure removes what of
    # the new one was written.  The chart comes last.
    head = {"order": order, "num_samples": num_samples, "recommended": recommend(runs)}
    text = json.dumps({**head, "runs": runs, "skipped": list(skipped or [])}, indent=2) + "\n"
    written = [out / "compare.json", out / "compare.md"]
    for path in written:
        path.unlink(missing_ok=True)
    try:
        atomic_write_text(written[0], text)
        atomic_write_text(written[1], "\n".join(md) + "\n")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    if png is not None:
        atomic_write_bytes(out / "compare.png", png)
        written.append(out / "compare.png")
    if grid_png is not None:
        atomic_write_bytes(out / "compare_grid.png", grid_png)
        written.append(out / "compare_grid.png")
    return runs, written


def add_arguments(parser, positive_int) -> None:
    """The ``compare`` subcommand's ``--order`` and ``--num-samples`` (kept here, beside what they set).

    ``positive_int`` is the command line's parser of a whole number of at least 1.
    """
    parser.add_argument("--order", choices=ORDERS, default="grade", help="runs best grade first (default), or as given")
    parser.add_argument(
        "--num-samples",
        type=positive_int,
        default=None,
        metavar="N",
        help="compare only the first N samples of each (default all)",
    )
