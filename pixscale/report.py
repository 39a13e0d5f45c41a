"""The quality report of a dataset run: summary numbers, a grade, a text table and report files.

:func:`summarize` turns the pipeline's per-view rows into numbers,
:func:`grade` rates them with the bands of FaceLift's
``scripts/evaluate_preprocessing.py``, :func:`format_table` prints them and
:func:`write_report` writes them as JSON, Markdown and, when matplotlib is
installed, figures (:mod:`pixscale._figures`).
"""

import math
import os
import pathlib
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .io import atomic_write_bytes, atomic_write_json, atomic_write_text

STAGES = ("before", "after")
MAX_FAILURES_SHOWN = 5  # failure reasons printed by format_table
_WIDTH = 80
# The quality grade of FaceLift's scripts/evaluate_preprocessing.py: (grade, label, size CV below
# (%), mean centroid offset below (px of a 512-px image)); anything else is D.
GRADES = (("A", "Excellent", 1.0, 5.0), ("B", "Good", 3.0, 10.0), ("C", "Acceptable", 5.0, 20.0))
GRADE_D = ("D", "Needs improvement")
GRADE_SIZE = 512  # the evaluator's images are 512 px; offsets on other sizes are rescaled to it
OUTLIER_PX = 50  # views further than this from the centre are listed as outliers


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


def _measured(rows, stage):
    """The (row, measurement dict) pairs of the ok rows that have a ``stage`` measurement."""
    return [(r, r[stage]) for r in rows if r.get("status") == "ok" and r.get(stage)]


def _bbox_ratio(m):
    """``sqrt(bbox area / image area)``: the size ratio a bounding-box measure would report."""
    (x0, y0, x1, y1), (h, w) = m["bbox"], m["shape"]
    return float(np.sqrt((x1 - x0) * (y1 - y0) / (h * w)))


def _centre_offset(m):
    """Distance in pixels from the centroid to the canvas centre ``(W / 2, H / 2)``."""
    (x, y), (h, w) = m["centroid"], m["shape"]
    return float(np.hypot(x - w / 2, y - h / 2))


def _centring(measured):
    """Centroid offsets from the canvas centre: px, % of the image's longer side, outliers, within samples."""
    pairs = [(r, m) for r, m in measured if m["centroid"] is not None]
    px = np.array([_centre_offset(m) for _, m in pairs])
    side = np.array([max(m["shape"]) for _, m in pairs], dtype=np.float64)
    out = {k: None for k in ("mean", "std", "p95", "p99", "max", "mean_pct", "max_pct", "grade_px")}
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
        by_sample[r.get("sample", "")].append(d)
    stds = [float(np.std(v)) for v in by_sample.values() if len(v) >= 2]
    out["within_sample_std"] = float(np.mean(stds)) if stds else None
    return out


def _stage(rows, stage):
    """Size ratio, bbox-vs-pixel, centring and within-sample numbers of one stage."""
    measured = _measured(rows, stage)
    sizes = _stats([m["size_ratio"] for _, m in measured])
    bbox = _stats([_bbox_ratio(m) for _, m in measured if m["bbox"] is not None])
    by_sample = defaultdict(list)
    for row, m in measured:
        by_sample[row.get("sample", "")].append(m["size_ratio"])
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


def _placement(ok):
    """How the fit placed the views: moved, shrunk (limited) and cut."""
    shifts = [math.hypot(*r["shift"]) for r in ok if r.get("shift")]
    moved = [d for d in shifts if d > 0]
    cut = [r["cut_pixels"] for r in ok if r.get("cut_pixels")]
    limited = [r for r in ok if r.get("limited")]
    return {
        "shifted": len(moved),
        "shift_mean": float(np.mean(moved)) if moved else None,
        "shift_max": float(max(moved)) if moved else None,
        "limited": len(limited),
        "cut": len(cut),
        "cut_pixels": int(sum(cut)),
    }


def _specks(ok):
    """The islands the component filter left out of the object (``min_component``/``keep``), per run."""
    dropped = [r["before"] for r in ok if (r.get("before") or {}).get("dropped_components")]
    return {
        "views": len(dropped),
        "components": int(sum(m["dropped_components"] for m in dropped)),
        "pixels": int(sum(m["dropped_pixels"] for m in dropped)),
    }


def _exact(ok, target):
    """Exact mode: how close the achieved ratios came, and the views that could not get within tolerance."""
    achieved = [r["achieved_ratio"] for r in ok if r.get("achieved_ratio") is not None]
    errors = [abs(a - target) for a in achieved] if target is not None else []
    return {
        "n": len(achieved),
        "max_error": float(max(errors)) if errors else None,
        "off_target": sum(1 for r in ok if r.get("on_target") is False and not r.get("limited")),
        "off_target_views": [
            {"sample": r.get("sample", ""), "view": r["view"], "achieved_ratio": r.get("achieved_ratio")}
            for r in ok
            if r.get("on_target") is False and not r.get("limited")
        ],
    }


def _one(values):
    """The single value of a set as a float, or None when there are several (or it is None)."""
    return float(next(iter(values))) if len(values) == 1 and None not in values else None


def _samples(ok):
    """Per sample: its views' size and centring after (or before), and the scale it wanted and got."""
    groups = defaultdict(list)
    for r in ok:
        groups[r.get("sample", "")].append(r)
    out = []
    for name, rs in groups.items():
        stage = "after" if all(r.get("after") for r in rs) else "before"
        sizes = [r[stage]["size_ratio"] for r in rs]
        offsets = [_centre_offset(r[stage]) for r in rs if r[stage]["centroid"] is not None]
        scales = {r.get("scale") for r in rs}
        wanted = {r.get("wanted_scale") for r in rs}
        out.append(
            {
                "sample": name,
                "views": len(rs),
                "stage": stage,
                "size_mean": float(np.mean(sizes)),
                "size_std": float(np.std(sizes)),
                "size_before_mean": float(np.mean([r["before"]["size_ratio"] for r in rs])),
                "size_before_std": float(np.std([r["before"]["size_ratio"] for r in rs])),
                "offset_mean": float(np.mean(offsets)) if offsets else None,
                "offset_std": float(np.std(offsets)) if offsets else None,
                # One scale for the whole sample (--scale per-sample): what it wanted and what it got.
                "scale": _one(scales),
                "wanted_scale": _one(wanted),
                "limited": sum(1 for r in rs if r.get("limited")),
                "shifted": sum(1 for r in rs if r.get("shift") and any(r["shift"])),
                "cut": sum(1 for r in rs if r.get("cut_pixels")),
            }
        )
    return out


def grade(size_cv_pct: float, offset_mean_px: float, image_size: float = GRADE_SIZE) -> tuple[str, str]:
    """The quality grade of FaceLift's ``evaluate_preprocessing.py``, with its bands.

    Parameters
    ----------
    size_cv_pct : float
        CV of the size ratio over all views, in percent.
    offset_mean_px : float
        Mean distance of the centroid from the canvas centre, in pixels.
    image_size : float, optional
        The longer side of the images the offsets were measured on; offsets
        are rescaled to a 512-pixel image, on which the bands were set.

    Returns
    -------
    (str, str)
        ``("A", "Excellent")``: CV < 1 % and offset < 5 px; ``"B", "Good"``:
        < 3 % and < 10 px; ``"C", "Acceptable"``: < 5 % and < 20 px;
        otherwise ``("D", "Needs improvement")``.

    Examples
    --------
    >>> grade(0.0, 3.2), grade(2.0, 3.2), grade(0.5, 12.0), grade(7.0, 1.0)
    (('A', 'Excellent'), ('B', 'Good'), ('C', 'Acceptable'), ('D', 'Needs improvement'))
    >>> grade(0.5, 8.0, image_size=1024)  # 8 px of 1024 is 4 px of 512
    ('A', 'Excellent')
    """
    offset = offset_mean_px * GRADE_SIZE / image_size
    for letter, label, cv_below, offset_below in GRADES:
        if size_cv_pct < cv_below and offset < offset_below:
            return letter, label
    return GRADE_D


def _band(value, column, what, name, unit):
    """The evaluator's interpretation of one number, from the bands in column ``column`` of :data:`GRADES`."""
    lo = None
    for grade in GRADES:
        hi = grade[column]
        if value < hi:
            return f"{grade[1].lower()} {what} ({name} {'< ' if lo is None else f'{lo:g}-'}{hi:g}{unit})"
        lo = hi
    return f"{what} {GRADE_D[1].lower()} ({name} > {lo:g}{unit})"


def _interpretation(cv_pct, offset_512):
    size = _band(cv_pct, 2, "uniformity", "CV", "%")
    centring = _band(offset_512, 3, "centring", "mean", " px")
    return [f"size: {size}", f"centre: {centring} (px of a 512-px image)"]


def _quality(summary):
    """Grade, interpretation and recommendations of the stage the run produced (after, else before)."""
    stage = "after" if "after" in summary else "before"
    sizes, centring = summary[stage], summary["centring"][stage]
    if not sizes["n"] or sizes["cv"] is None or centring["grade_px"] is None:
        return {"stage": stage, "grade": None, "label": None, "interpretation": [], "recommendations": []}
    cv_pct, offset_512 = 100 * sizes["cv"], centring["grade_px"]
    letter, label = grade(cv_pct, offset_512)
    recs = []
    if cv_pct > 3:
        recs.append("size: the size ratio varies by more than 3% (CV); run with exact mode (the default)")
    if offset_512 > 10:
        recs.append(
            "centre: the mean offset is above 10 px; objects are far from the centre "
            "(a 3-D centre from the cameras may suit better than the 2-D centroid)"
        )
    if centring["over_50px"]:
        recs.append(f"outliers: {centring['over_50px']} view(s) are more than {OUTLIER_PX} px off centre; inspect them")
    placement = summary.get("placement", {})
    if placement.get("limited"):
        recs.append(
            f"limited: {placement['limited']} view(s) were too large for the canvas at the target; "
            "lower --target or --margin, or enlarge --output-size"
        )
    if placement.get("cut"):
        recs.append(f"cut: {placement['cut']} view(s) lost object pixels off the canvas; use --fit shift")
    if not recs:
        recs.append("no action needed: sizes are uniform and objects centred")
    return {
        "stage": stage,
        "grade": letter,
        "label": label,
        "size_cv_pct": cv_pct,
        "offset_mean_px_512": offset_512,
        "interpretation": _interpretation(cv_pct, offset_512),
        "recommendations": recs,
    }


def summarize(rows: Iterable[Mapping[str, Any]], *, target: float | None = None) -> dict[str, Any]:
    """Summarize the per-view rows of a run into JSON-ready numbers.

    Parameters
    ----------
    rows : sequence of dict
        One dict per view with keys ``sample``, ``view``, ``status`` (``"ok"``
        or ``"failed"``), ``error``, ``before`` and ``after`` (a
        :meth:`Measurement.to_dict` or None), ``scale`` (float or None) and
        ``limited`` (bool or None), and optionally ``wanted_scale``,
        ``shift`` ([dx, dy]), ``cut_pixels``, ``achieved_ratio`` and
        ``on_target``.  Only ok rows enter the statistics.
    target : float, optional
        The target size ratio, for exact mode's error.

    Returns
    -------
    dict
        ``n_views``, ``n_ok``, ``n_failed``; ``before`` and, when any row has
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
        recommendations.  Numbers are Python floats and ints; those that
        cannot be computed are None.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((10, 10), np.uint8)
    >>> alpha[2:7, 2:7] = 255
    >>> m = pixscale.measure(alpha).to_dict()
    >>> row = {"sample": "s", "view": "a.png", "status": "ok", "error": None,
    ...        "before": m, "after": None, "scale": 0.6, "limited": False}
    >>> s = summarize([row, dict(row, view="b.png", scale=0.8)])
    >>> s["before"]["mean"], s["scale"]["mean"], s["n_ok"], "after" in s
    (0.5, 0.7, 2, False)
    """
    rows = list(rows)
    ok = [r for r in rows if r.get("status") == "ok"]
    failed = [r for r in rows if r.get("status") == "failed"]
    summary: dict[str, Any] = {"n_views": len(rows), "n_ok": len(ok), "n_failed": len(failed), "target": target}
    stages = [s for s in STAGES if s == "before" or any(r.get(s) for r in rows)]
    sections: dict[str, dict[str, Any]] = {"bbox_vs_pixel": {}, "centring": {}, "within_sample_cv": {}}
    for stage in stages:
        summary[stage], parts = _stage(rows, stage)
        for key, value in parts.items():
            sections[key][stage] = value
    summary["scale"] = _stats([r["scale"] for r in ok if r.get("scale") is not None])
    summary["wanted_scale"] = _stats([r["wanted_scale"] for r in ok if r.get("wanted_scale") is not None])
    summary["placement"] = _placement(ok)
    summary["limited"] = summary["placement"]["limited"]
    summary["specks"] = _specks(ok)
    summary["exact"] = _exact(ok, target)
    summary["off_target"] = summary["exact"]["off_target"]
    summary["failures"] = [
        {"sample": r.get("sample", ""), "view": r.get("view", ""), "error": r.get("error")} for r in failed
    ]
    summary.update(sections)
    summary["samples"] = _samples(ok)
    summary["quality"] = _quality(summary)
    return summary


def _pct(v):
    """A ratio as a percentage with two decimals."""
    return "-" if v is None else f"{100 * v:.2f}%"


def _fmt(spec):
    return lambda v: "-" if v is None else format(v, spec)


def _sections(summary):
    """The summary as ``(title, columns, rows)`` tables, shared by the text and Markdown output."""
    stages = [s for s in STAGES if s in summary]

    def by_stage(title, key, lines):
        pick = (lambda s: summary[s]) if key is None else (lambda s: summary[key][s])
        return title, stages, [(label, [fmt(pick(s).get(k)) for s in stages]) for label, k, fmt in lines]

    count, px = _fmt("d"), _fmt(".2f")
    sections = [
        by_stage(
            "size ratio",
            None,
            [(k if k != "cv" else "CV", k, _pct) for k in ("mean", "std", "cv", "min", "max")]
            + [("views", "n", count)],
        )
    ]
    if summary["scale"]["n"]:
        sections.append(
            ("scale factor", [""], [(k, [_fmt(".3f")(summary["scale"][k])]) for k in ("mean", "std", "min", "max")])
        )
    placement = summary.get("placement", {})
    exact = summary.get("exact", {})
    sections += [
        (
            "views",
            [""],
            [
                ("total", [count(summary["n_views"])]),
                ("ok", [count(summary["n_ok"])]),
                ("shifted to fit", [count(placement.get("shifted", 0))]),
                ("limited by fit", [count(summary["limited"])]),
                ("cut off (fit none)", [count(placement.get("cut", 0))]),
                ("off target (exact mode)", [count(summary.get("off_target", 0))]),
                ("failed", [count(summary["n_failed"])]),
            ],
        ),
    ]
    specks = summary.get("specks") or {}
    if specks.get("views"):
        sections[-1][2][-1:-1] = [
            ("with specks ignored", [count(specks["views"])]),
            ("  islands (pixels)", [f"{specks['components']:,} ({specks['pixels']:,})"]),
        ]
    if placement.get("shifted") or exact.get("n"):
        lines = []
        if placement.get("shifted"):
            lines += [
                ("shift mean (px)", [px(placement["shift_mean"])]),
                ("shift max (px)", [px(placement["shift_max"])]),
            ]
        if placement.get("cut"):
            lines.append(("object pixels cut off", [count(placement["cut_pixels"])]))
        if exact.get("n") and exact.get("max_error") is not None:
            lines.append(("max |ratio - target|", [_fmt(".2e")(exact["max_error"])]))
        if lines:
            sections.append(("placement and exact mode", [""], lines))
    sections += [
        by_stage(
            "bbox vs pixel measure",
            "bbox_vs_pixel",
            [
                ("bbox size ratio mean", "bbox_mean", _pct),
                ("bbox size ratio std", "bbox_std", _pct),
                ("bbox size ratio CV", "bbox_cv", _pct),
                ("pixel size ratio CV", "pixel_cv", _pct),
            ],
        ),
        by_stage(
            "centroid offset",
            "centring",
            [
                ("mean (px)", "mean", px),
                ("std (px)", "std", px),
                ("p95 (px)", "p95", px),
                ("p99 (px)", "p99", px),
                ("max (px)", "max", px),
                ("mean (% of image)", "mean_pct", px),
                (f"views > {OUTLIER_PX} px", "over_50px", count),
                ("within-sample std (px)", "within_sample_std", px),
            ],
        ),
        by_stage(
            "within-sample CV",
            "within_sample_cv",
            [("mean", "mean", _pct), ("max", "max", _pct), ("samples", "n_samples", count)],
        ),
    ]
    return sections


def _quality_lines(summary):
    q = summary.get("quality") or {}
    if not q.get("grade"):
        return []
    lines = [f"quality grade ({q['stage']}): {q['grade']} ({q['label']})"]
    lines += [f"  {line}" for line in q["interpretation"]]
    lines += [f"  - {line}" for line in q["recommendations"]]
    return lines


def format_table(summary: Mapping[str, Any]) -> str:
    """Render a summary as the plain-text table printed at the end of a run.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarize`.

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
    out = ["pixscale quality report", ""]
    for title, columns, rows in _sections(summary):
        out.append((f"{title:<28}" + "".join(f"{c:>12}" for c in columns)).rstrip())
        out += [f"  {label:<26}" + "".join(f"{c:>12}" for c in cells) for label, cells in rows]
        if title == "views":
            if summary.get("off_target"):
                out.append("    off target: no scale gives these views a ratio within the tolerance")
                out.append("    (it moves in steps larger than that, e.g. hard edges along the pixel grid)")
            failures = summary["failures"]
            for f in failures[:MAX_FAILURES_SHOWN]:
                # A view is named by its path in IN_DIR, which starts with its sample's folder.
                inside = f["sample"] and f["view"].startswith(f["sample"] + "/")
                name = f["view"] if inside else "/".join(p for p in (f["sample"], f["view"]) if p)
                line = f"    {name}: {f['error']}".replace("\n", " ")
                out.append(line if len(line) <= _WIDTH else line[: _WIDTH - 4] + " ...")
            if len(failures) > MAX_FAILURES_SHOWN:
                out.append(f"    ... and {len(failures) - MAX_FAILURES_SHOWN} more (see report.json)")
        out.append("")
    for line in _quality_lines(summary):
        indent = " " * (len(line) - len(line.lstrip(" -")))
        out += textwrap.wrap(line, _WIDTH, subsequent_indent=indent) or [""]
    return "\n".join(out).rstrip("\n")


def _md_row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _md_table(header, rows):
    """Markdown table lines (and a blank line) of a header and rows of cells; pipes escaped."""
    return [_md_row(header), "|" + "---|" * len(header)] + [_md_row(r) for r in rows] + [""]


_YES_NO = {True: "yes", False: "no"}


def _markdown(summary, rows, meta, figures):
    out = ["# pixscale quality report", ""]
    if meta:
        params = meta.get("parameters") or {}
        out += _md_table(
            ["run", ""],
            [[k, v] for k, v in meta.items() if k != "parameters"] + [[f"parameter {k}", v] for k, v in params.items()],
        )
    q = summary.get("quality") or {}
    if q.get("grade"):
        out += [f"## quality grade: {q['grade']} ({q['label']})", ""]
        out += [
            f"Bands of FaceLift's `scripts/evaluate_preprocessing.py`, on the {q['stage']} images: "
            "A: size CV < 1% and mean centroid offset < 5 px; B: < 3% and < 10 px; C: < 5% and < 20 px; "
            "D: otherwise (offsets in px of a 512-px image).",
            "",
        ]
        out += [f"- {line}" for line in q["interpretation"]] + ["", "Recommendations:", ""]
        out += [f"- {line}" for line in q["recommendations"]] + [""]
    for title, columns, table in _sections(summary):
        out += [f"## {title}", ""] + _md_table(["", *columns], [[label, *cells] for label, cells in table])
    exact = summary.get("exact") or {}
    if exact.get("off_target_views"):
        out += [
            "## off target",
            "",
            "No scale gives these views a size ratio within the tolerance of the target: the re-measured "
            "ratio moves in steps larger than that near the target (long straight edges along the pixel "
            "grid cross it together, or the object fills the canvas). Each has the best ratio that nearby "
            "scales give.",
            "",
        ] + _md_table(
            ["sample", "view", "achieved ratio"],
            [[v["sample"], v["view"], _fmt(".5f")(v["achieved_ratio"])] for v in exact["off_target_views"]],
        )
    if figures:
        out += ["## figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    if summary["failures"]:
        out += ["## failures", ""] + _md_table(
            ["sample", "view", "error"], [[f["sample"], f["view"], f["error"]] for f in summary["failures"]]
        )
    if summary.get("samples"):
        out += ["## per sample", ""] + _md_table(
            ["sample", "views", "size mean", "size CV", "offset mean (px)", "wanted scale", "scale", "limited"],
            [
                [
                    s["sample"],
                    s["views"],
                    _pct(s["size_mean"]),
                    _pct(s["size_std"] / s["size_mean"] if s["size_mean"] else None),
                    _fmt(".2f")(s["offset_mean"]),
                    _fmt(".4f")(s["wanted_scale"]),
                    _fmt(".4f")(s["scale"]),
                    s["limited"],
                ]
                for s in summary["samples"]
            ],
        )

    def shift(r):
        return "-" if not r.get("shift") else f"{r['shift'][0]:+.1f}, {r['shift'][1]:+.1f}"

    def specks(r):
        m = r.get("before") or {}
        return f"{m['dropped_components']} ({m['dropped_pixels']})" if m.get("dropped_components") else "-"

    out += ["## per view", ""] + _md_table(
        [
            "sample",
            "view",
            "status",
            "before",
            "after",
            "wanted scale",
            "scale",
            "shift (px)",
            "limited",
            "cut px",
            "specks (px)",
            "error",
        ],
        [
            [
                r.get("sample", ""),
                r.get("view", ""),
                r.get("status", ""),
                *(_fmt(".4%")((r.get(s) or {}).get("size_ratio")) for s in STAGES),
                _fmt(".4f")(r.get("wanted_scale")),
                _fmt(".4f")(r.get("scale")),
                shift(r),
                _YES_NO.get(r.get("limited"), "-"),
                _fmt("d")(r.get("cut_pixels")),
                specks(r),
                r.get("error") or "",
            ]
            for r in rows
        ],
    )
    return "\n".join(out)


def _plain(obj):
    """``obj`` with NumPy scalars and arrays, tuples and paths turned into JSON-ready values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return os.fspath(obj) if isinstance(obj, os.PathLike) else obj


def write_report(
    out_dir: str | os.PathLike,
    summary: Mapping[str, Any],
    rows: Iterable[Mapping[str, Any]],
    *,
    sources: Mapping[str, tuple[Any, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
    plots: bool = True,
    root: str | os.PathLike | None = None,
) -> list[pathlib.Path]:
    """Write the report files of a run into ``out_dir``, each atomically.

    Parameters
    ----------
    out_dir : str or path-like
        Destination folder, created if needed.
    summary : dict
        The output of :func:`summarize`.
    rows : sequence of dict
        The per-view rows the summary was made from.
    sources : mapping, optional
        View name (a row's ``view``) to ``(before, after)`` image files (or
        :class:`pixscale._figures.Thumbnail`), for the contact sheet of the
        best, median and worst samples.  Without it there is no sheet.
    meta : dict, optional
        What the run was: pixscale version, date, input path, layout and
        ``parameters``; written at the top of both files.
    plots : bool, optional
        Draw the figures when matplotlib is importable.  Default True.
    root : str or path-like, optional
        A folder above ``out_dir`` below which no link is followed (see
        :func:`pixscale.io.atomic_write_bytes`); default ``out_dir`` itself.

    Returns
    -------
    list of pathlib.Path
        ``report.json`` (``{"meta": ..., "summary": ..., "views": rows}``),
        ``report.md`` and, with plots, the figures of
        :func:`pixscale._figures.draw`.

    Notes
    -----
    Figures use matplotlib's Figure API only: no pyplot, no global backend
    change.
    """
    out = pathlib.Path(out_dir)
    rows = _plain(list(rows))
    figures = {}
    if plots:  # none without matplotlib
        from ._figures import draw

        figures = draw(summary, rows, sources or {})
    written = [out / "report.json", out / "report.md"]
    root = out if root is None else root
    atomic_write_json(written[0], {"meta": _plain(meta or {}), "summary": _plain(summary), "views": rows}, root=root)
    atomic_write_text(written[1], _markdown(summary, rows, _plain(meta or {}), list(figures)), root=root)
    for name, data in figures.items():
        atomic_write_bytes(out / name, data, root=root)
        written.append(out / name)
    return written
