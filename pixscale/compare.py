"""Compare runs side by side: ``pixscale compare RUN_DIR_OR_REPORT...``.

Each argument is a pixscale report (``report.json``, its folder, or a run's
OUT_DIR holding ``pixscale-report/``), or any dataset folder, which is then
measured as it is (e.g. the output of another preprocessing script).  The
comparison is a table of the headline numbers of each, and a bar chart of
size uniformity and centring with the quality-grade bands, in the manner of
FaceLift's ``scripts/compare_preprocessing_all.py``.
"""

import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from .dataset import REPORT_DIR
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .report import GRADES, OUTLIER_PX, _md_table, summarize

# (label, how to read it from a run's entry, format)
COLUMNS = (
    ("views", "views", "d"),
    ("size ratio mean", "size_mean", "%"),
    ("size ratio std", "size_std", "%"),
    ("size ratio CV", "size_cv", "%"),
    ("size ratio min", "size_min", "%"),
    ("size ratio max", "size_max", "%"),
    ("centroid offset mean (px)", "offset_mean", ".2f"),
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


def _report_path(path):
    path = pathlib.Path(path)
    for candidate in (path, path / "report.json", path / REPORT_DIR / "report.json"):
        if candidate.is_file() and candidate.name == "report.json":
            return candidate
    return None


def load(
    path: str | os.PathLike, *, threshold: float = 10.0, min_component: float | None = None, keep: str = "all"
) -> dict[str, Any]:
    """One run's headline numbers: from its report, or by measuring the folder as it is.

    A measured folder's object mask is ``threshold``, ``min_component`` and
    ``keep`` (see :class:`pixscale.ObjectMask`).  Returns a dict with
    ``name``, ``path``, ``source`` (``"report"`` or ``"measured"``),
    ``stage`` and the keys of :data:`COLUMNS`.
    """
    report = _report_path(path)
    if report is not None:
        try:
            summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{report} is not a pixscale report.json ({exc}); rerun the run or pass its folder"
            ) from None
        source = "report"
    elif pathlib.Path(path).is_dir():
        from .pipeline import measure_dataset

        rows, _ = measure_dataset(path, threshold=threshold, min_component=min_component, keep=keep)
        summary = summarize(rows, options={"threshold": threshold, "min_component": min_component, "keep": keep})
        source = "measured"
    else:
        raise ValueError(f"{path}: no such folder or report.json; pass a run's OUT_DIR, a report or a dataset folder")
    stage = "after" if "after" in summary else "before"
    sizes, centring = summary[stage], summary["centring"][stage]
    placement = summary.get("placement") or {}
    quality = summary.get("quality") or {}
    p = pathlib.Path(path).absolute()
    p = p.parent if p.name == "report.json" else p
    name = (p.parent if p.name == REPORT_DIR else p).name
    return {
        "name": name,
        "path": str(path),
        "source": source,
        "stage": stage,
        "views": sizes["n"],
        "size_mean": sizes["mean"],
        "size_std": sizes["std"],
        "size_cv": sizes["cv"],
        "size_min": sizes["min"],
        "size_max": sizes["max"],
        "offset_mean": centring.get("mean"),
        "offset_p95": centring.get("p95"),
        "offset_max": centring.get("max"),
        "over_50px": centring.get("over_50px"),
        "within_cv": summary["within_sample_cv"][stage]["mean"],
        "shifted": placement.get("shifted") if source == "report" else None,
        "limited": summary.get("limited") if source == "report" else None,
        "cut": placement.get("cut") if source == "report" else None,
        "off_target": summary.get("off_target") if source == "report" else None,
        "failed": summary["n_failed"],
        "grade": quality.get("grade"),
        "size_cv_pct": None if sizes["cv"] is None else 100 * sizes["cv"],
        "grade_px": centring.get("grade_px"),
    }


def _cell(value, spec):
    if value is None:
        return "-"
    if spec == "%":
        return f"{100 * value:.2f}%"
    return format(value, spec)


def table(runs):
    """``(header, rows)``: one column per run, one row per number of :data:`COLUMNS`."""
    return ["", *(r["name"] for r in runs)], [[label, *(_cell(r[key], f) for r in runs)] for label, key, f in COLUMNS]


def format_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """The comparison as plain text."""
    header, rows = table(runs)
    width = max(12, *(len(h) + 2 for h in header[1:]))
    lines = ["".join([f"{header[0]:<32}", *(f"{h:>{width}}" for h in header[1:])])]
    lines += ["".join([f"{r[0]:<32}", *(f"{c:>{width}}" for c in r[1:])]) for r in rows]
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
        ax.set_ylim(0, 1.2 * max([*values, GRADES[-1][band]]))
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

    Returns
    -------
    (list of dict, list of pathlib.Path)
        The runs' entries (see :func:`load`) and the files written.
    """
    runs = [load(p, threshold=threshold, min_component=min_component, keep=keep) for p in paths]
    if labels:
        if len(labels) != len(runs):
            raise ValueError(f"--labels gives {len(labels)} names for {len(runs)} runs; give one per run")
        for r, label in zip(runs, labels, strict=True):
            r["name"] = label
    out = pathlib.Path(out_dir)
    header, rows = table(runs)
    md = ["# pixscale comparison", ""] + _md_table(header, rows)
    md += ["Sources:", ""] + [f"- {r['name']}: `{r['path']}` ({r['source']}, {r['stage']})" for r in runs]
    written = [out / "compare.json", out / "compare.md"]
    atomic_write_json(written[0], {"runs": runs})
    if plots:
        try:
            fig = _chart(runs)
        except ImportError:
            fig = None
        if fig is not None:
            import io

            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            atomic_write_bytes(out / "compare.png", buf.getvalue())
            written.append(out / "compare.png")
            md += ["", "![comparison](compare.png)"]
    atomic_write_text(written[1], "\n".join(md) + "\n")
    return runs, written
