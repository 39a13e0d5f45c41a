"""The quality report of a dataset run: summary numbers, a grade, a text table and report files.

:func:`summarize` turns the pipeline's per-view rows into numbers,
:func:`grade` rates them with the bands of FaceLift's
``scripts/evaluate_preprocessing.py``, :func:`format_table` prints them and
:func:`write_report` writes them as JSON, Markdown and, when matplotlib is
installed, figures (:mod:`pixscale.report.figures`).
"""

import math
import os
import pathlib
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._place import margins_px
from ..pipeline.dataset import printable
from ..pipeline.files import atomic_write_bytes, atomic_write_json, atomic_write_text

STAGES = ("before", "after")
MAX_FAILURES_SHOWN = 5  # failure reasons printed by format_table
_WIDTH = 80
# The quality grade of FaceLift's scripts/evaluate_preprocessing.py: (grade, label, size CV below
# (%), mean centroid offset below (px of a 512-px image)); anything else is D.
GRADES = (("A", "Excellent", 1.0, 5.0), ("B", "Good", 3.0, 10.0), ("C", "Acceptable", 5.0, 20.0))
GRADE_D = ("D", "Needs improvement")
GRADE_SIZE = 512  # the evaluator's images are 512 px; offsets on other sizes are rescaled to it
OUTLIER_PX = 50  # views further than this from the centre are listed as outliers

# Every recommendation the report can give, by key: (premise, text). The texts are data, rendered
# by :func:`_advise` with the run's numbers; ``{o[name]}`` is a run option, written as its
# command-line flag through OPTION_FLAGS (the one place the report names flags). The premise says
# when each is given; tests/report/test_trust_report.py holds a run for every key and checks the premise.
ADVICE = {
    "input_size": (
        "no run (measured only), size CV above 3%",
        "size: the size ratio varies by {cv:.1f}% (CV) across views; a pixscale run scales every view to the target",
    ),
    "input_centre": (
        "no run (measured only), mean offset above 10 px of 512",
        "centre: objects are {offset:.1f} px (of a 512-px image) off centre on average; a pixscale run moves "
        "each object's centre to the canvas centre",
    ),
    "size_exact_off": (
        "per-view scale, exact mode off, size CV above 3%",
        "size: the size ratio varies by {cv:.1f}% (CV) with exact mode off ({o[exact]}); run without {o[exact]}: "
        "exact mode re-measures each view and refines its scale",
    ),
    "size_per_sample": (
        "per-sample scale, size CV above 3%",
        "size: the size ratio varies by {cv:.1f}% (CV) because {o[scale]} per-sample keeps each sample's "
        "relative sizes (its mean view gets the target); {o[scale]} per-view gives every view the target",
    ),
    "size_other": (
        "a run, size CV above 3%, not explained by the options, limited, cut or off-target views",
        "size: the size ratio varies by {cv:.1f}% (CV), which none of the run's options explains; inspect "
        "the views furthest from the target (per-view table)",
    ),
    "centre_option": (
        "a run with a centre other than the centroid, mean offset above 10 px of 512 or views over 50 px",
        "centre: each view's {center} centre was placed on the canvas centre ({o[center]} {center}), so "
        "centroids sit off it; {o[center]} centroid centres the centroids",
    ),
    "centre_shifted": (
        "a run, mean offset above 10 px of 512, views moved to keep them whole",
        "centre: {shifted} view(s) were moved off centre (up to {shift_max:.0f} px) to keep them whole on "
        "the canvas; to keep them centred, lower {o[target]} or enlarge {o[output_size]}, or use {o[fit]} "
        "shrink (scales them down about the centre instead)",
    ),
    "centre_other": (
        "a run, mean offset above 10 px of 512, not explained by the centre option, moves, cuts or islands",
        "centre: the mean offset is {offset:.1f} px (of a 512-px image), which none of the run's options "
        "explains; inspect the views furthest from the centre (per-view table, contact sheet)",
    ),
    "outliers": (
        "views more than 50 px off centre that the fit did not move there, centre option centroid",
        "outliers: {outliers} view(s) are more than {outlier_px} px off centre beyond any move of the fit; "
        "inspect them: {outlier_names}",
    ),
    "specks": (
        "no component filter, views with small islands apart from the object",
        "specks: {speck_views} view(s) have small islands apart from the object ({speck_islands} islands, "
        "{speck_pixels} px) that count toward size and centre; {o[min_component]} 0.05 or {o[keep]} largest "
        "leaves them out",
    ),
    "limited": (
        "views whose scale was lowered, that would not fit the canvas at the target even moved; margin 0",
        "limited: {too_large} view(s) are too large for the canvas at the target, even moved off centre, so "
        "their scale was lowered; lower {o[target]} or enlarge {o[output_size]}",
    ),
    "limited_margin": (
        "views whose scale was lowered, that would not fit the canvas at the target even moved; a margin",
        "limited: {too_large} view(s) are too large for the canvas less the margin at the target, even moved "
        "off centre, so their scale was lowered; lower {o[target]} or {o[margin]}, or enlarge {o[output_size]}",
    ),
    "limited_shrink": (
        "fit shrink, views whose scale was lowered that would fit the canvas at the target moved off centre",
        "limited: {fits_moved} view(s) were scaled below the target to stay whole about the canvas centre "
        "({o[fit]} shrink); {o[fit]} shift (the default) keeps them at the target, moved off centre only as "
        "far as needed",
    ),
    "cut": (
        "fit none (or unknown), views that lost object pixels off the canvas",
        "cut: {cut} view(s) lost {cut_pixels} object pixels off the canvas; {o[fit]} shift (the default) "
        "keeps every object whole",
    ),
    "off_target": (
        "exact mode, per-view scale, views no scale brings within the tolerance",
        "off target: {off_target} view(s) have no scale that gives a size ratio within the tolerance "
        "(see 'off target'); each got the closest ratio nearby scales give",
    ),
    "no_action": (
        "size CV at most 3%, mean offset at most 10 px of 512 and nothing else to say",
        "no action needed: sizes are uniform and objects centred",
    ),
}

# The run options the advice names, and the command-line flag of each (``exact`` is turned off).
OPTION_FLAGS = {
    "exact": "--no-exact",
    "scale": "--scale",
    "center": "--center",
    "target": "--target",
    "margin": "--margin",
    "output_size": "--output-size",
    "fit": "--fit",
    "min_component": "--min-component",
    "keep": "--keep",
}


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
    """The islands the component filter left out of the object (``min_component``/``keep``), per run.

    Without a filter, ``islands_*`` count the small islands a row's
    ``islands`` found (see :func:`pixscale.pipeline.driver._islands`): specks that
    were measured as part of the object.
    """
    dropped = [r["before"] for r in ok if (r.get("before") or {}).get("dropped_components")]
    found = [r["islands"] for r in ok if (r.get("islands") or {}).get("components")]
    return {
        "views": len(dropped),
        "components": int(sum(m["dropped_components"] for m in dropped)),
        "pixels": int(sum(m["dropped_pixels"] for m in dropped)),
        "islands_views": len(found),
        "islands_components": int(sum(i["components"] for i in found)),
        "islands_pixels": int(sum(i["pixels"] for i in found)),
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


_CONDITIONS = ("scale", "fit", "exact", "center", "margin", "target", "filter", "min_component", "keep")


def _filters(options):
    """True when the run's object mask drops islands (``min_component`` or ``keep="largest"``)."""
    mc = options.get("min_component")
    return options.get("keep") == "largest" or (mc is not None and mc > 0)


def _off_centre(ok, stage):
    """Names of the views more than :data:`OUTLIER_PX` px off centre that no move of the fit explains.

    A view the fit moved by ``shift`` to keep it whole has its centroid near
    ``canvas centre + shift``; only the distance beyond that move counts.
    """
    out = []
    for r in ok:
        m = r.get(stage)
        if not m or m.get("centroid") is None:
            continue
        (x, y), (h, w) = m["centroid"], m["shape"]
        dx, dy = (r.get("shift") or (0.0, 0.0)) if stage == "after" else (0.0, 0.0)
        if math.hypot(x - w / 2 - dx, y - h / 2 - dy) > OUTLIER_PX:
            out.append(r.get("view", ""))
    return out


def _fits_moved(r, margin):
    """Whether a limited view's object, at the scale it wanted, fits the canvas (less ``margin``) when moved.

    Its footprint (the bounding box plus half a source pixel each side, as
    :mod:`pixscale._place` keeps it) scaled by ``wanted_scale`` against the
    after-canvas; None when the row does not tell.
    """
    before, after, wanted = r.get("before") or {}, r.get("after") or {}, r.get("wanted_scale")
    if not (before.get("bbox") and after.get("shape") and wanted):
        return None
    x0, y0, x1, y1 = before["bbox"]
    h, w = after["shape"]
    try:
        mx, my = margins_px(margin or 0.0, (h, w))
    except ValueError:
        return None
    return (x1 - x0) * wanted <= w - 2 * mx and (y1 - y0) * wanted <= h - 2 * my


def _advise(keys, values):
    """The texts of the advice ``keys``, filled with ``values`` and the options' flags."""
    return [ADVICE[k][1].format(o=OPTION_FLAGS, **values) for k in keys]


def _advice_keys(summary, ok, options, stage, cv, offset):
    """Which :data:`ADVICE` the summary's numbers call for under the run's ``options``; with the values.

    ``stage`` is the graded one ("after", else "before"), ``cv`` its size spread
    in percent and ``offset`` its mean centre offset in pixels of a 512 canvas.
    """
    run = stage == "after"
    placement, specks, exact = summary["placement"], summary["specks"], summary["exact"]
    outliers = _off_centre(ok, stage)
    values = {
        "cv": cv,
        "offset": offset,
        "center": options.get("center"),
        "shifted": placement["shifted"],
        "shift_max": placement["shift_max"] or 0.0,
        "limited": placement["limited"],
        "cut": placement["cut"],
        "cut_pixels": f"{placement['cut_pixels']:,}",
        "off_target": exact["off_target"],
        "outliers": len(outliers),
        "outlier_px": OUTLIER_PX,
        "outlier_names": ", ".join(outliers[:3]) + (f" and {len(outliers) - 3} more" if len(outliers) > 3 else ""),
        "speck_views": specks["islands_views"],
        "speck_islands": f"{specks['islands_components']:,}",
        "speck_pixels": f"{specks['islands_pixels']:,}",
    }
    size_off, centre_off = cv > 3, offset > 10
    specks_seen = specks["islands_views"] > 0 and not _filters(options)
    keys = []
    if not run:
        keys += ["input_size"] * size_off + ["input_centre"] * centre_off
        keys += ["outliers"] * bool(outliers) + ["specks"] * specks_seen
        return keys or ["no_action"], values
    if specks_seen:  # first: they also move the centre and widen what the fit keeps on the canvas
        keys.append("specks")
    scale, fit = options.get("scale"), options.get("fit")
    limited = placement["limited"] > 0
    cut = placement["cut"] > 0 and fit in (None, "none")
    off_target = exact["off_target"] > 0
    if size_off:
        if scale == "per-sample":
            keys.append("size_per_sample")
        elif scale == "per-view" and options.get("exact") is False:
            keys.append("size_exact_off")
        elif not (limited or cut or off_target or specks_seen):
            keys.append("size_other")
    by_centre = options.get("center") not in (None, "centroid")
    if by_centre and (centre_off or outliers):
        keys.append("centre_option")
    elif centre_off:
        if placement["shifted"]:
            keys.append("centre_shifted")
        elif not (cut or specks_seen):
            keys.append("centre_other")
    if outliers and not by_centre:
        keys.append("outliers")
    if limited:
        margin = options.get("margin")
        fits = [_fits_moved(r, margin) for r in ok if r.get("limited")]
        values["fits_moved"] = sum(1 for f in fits if f)
        values["too_large"] = len(fits) - values["fits_moved"] if fit == "shrink" else len(fits)
        if fit == "shrink" and values["fits_moved"]:
            keys.append("limited_shrink")
        if values["too_large"]:
            keys.append("limited_margin" if margin not in (None, 0, 0.0) and not _zero_percent(margin) else "limited")
    if cut:
        keys.append("cut")
    if off_target:
        keys.append("off_target")
    return keys or ["no_action"], values


def _zero_percent(margin):
    try:
        return isinstance(margin, str) and float(margin.strip().rstrip("%")) == 0
    except ValueError:
        return False


def _quality(summary, ok, options):
    """Grade, interpretation and recommendations of the stage the run produced (after, else before).

    The recommendations hold only for the run's ``options`` (the
    :data:`_CONDITIONS` recorded as ``conditions``) and its numbers; their
    :data:`ADVICE` keys are listed as ``advice``.
    """
    stage = "after" if "after" in summary else "before"
    sizes, centring = summary[stage], summary["centring"][stage]
    conditions = {"run": stage == "after", **{k: options.get(k) for k in _CONDITIONS}}
    empty = {"stage": stage, "grade": None, "label": None, "interpretation": [], "recommendations": [], "advice": []}
    if not sizes["n"] or sizes["cv"] is None or centring["grade_px"] is None:
        return {**empty, "conditions": conditions}
    cv_pct, offset_512 = 100 * sizes["cv"], centring["grade_px"]
    if not (math.isfinite(cv_pct) and math.isfinite(offset_512)):
        return {**empty, "conditions": conditions}
    letter, label = grade(cv_pct, offset_512)
    keys, values = _advice_keys(summary, ok, options, stage, cv_pct, offset_512)
    return {
        "stage": stage,
        "grade": letter,
        "label": label,
        "size_cv_pct": cv_pct,
        "offset_mean_px_512": offset_512,
        "interpretation": _interpretation(cv_pct, offset_512),
        "recommendations": _advise(keys, values),
        "advice": keys,
        "conditions": conditions,
    }


def summarize(
    rows: Iterable[Mapping[str, Any]], *, target: float | None = None, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
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
    options : dict, optional
        The run's options (:meth:`pixscale.pipeline.RunOptions.params`):
        the recommendations hold only for them (none is assumed without).

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
        recommendations (``recommendations``, their :data:`ADVICE` keys
        ``advice`` and the ``conditions`` they were given under).  Numbers are Python floats and ints; those that
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
    with np.errstate(all="ignore"):  # a NaN or infinite measurement gives None, not a warning
        return _plain(_summarize(list(rows), target, dict(options or {})))


def _summarize(rows: list[Any], target: float | None, options: dict[str, Any]) -> dict[str, Any]:
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
    summary["quality"] = _quality(summary, ok, options)
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
                out.append("    (it moves in steps larger than that, e.g. hard edges along the pixel grid,")
                out.append("    or a canvas of a few pixels: a 1-pixel canvas holds only ratio 0 or 1)")
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
            "grid cross it together, or the object fills the canvas). On a canvas of a few pixels one "
            "pixel is a large step: a 1-pixel canvas holds only ratio 0 or 1, so it cannot be on a target "
            "between them. Each has the best ratio that nearby scales give.",
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
                    _pct(s["size_std"] / s["size_mean"] if s["size_mean"] and s["size_std"] is not None else None),
                    _fmt(".2f")(s["offset_mean"]),
                    _fmt(".4f")(s["wanted_scale"]),
                    _fmt(".4f")(s["scale"]),
                    s["limited"],
                ]
                for s in summary["samples"]
            ],
        )

    def shift(r):
        return "-" if not r.get("shift") else ", ".join(_fmt("+.1f")(v) for v in r["shift"])

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
    """``obj`` as JSON-ready values: NumPy scalars and arrays, tuples and paths converted, text made
    valid UTF-8 (:func:`pixscale.dataset.printable`) and NaN or infinite numbers None (JSON has none)."""
    if isinstance(obj, dict):
        return {printable(str(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, os.PathLike):
        obj = os.fspath(obj)
    if isinstance(obj, bytes):
        obj = obj.decode("utf-8", "backslashreplace")
    if isinstance(obj, str):
        return printable(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


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
    rows, summary = _plain(list(rows)), _plain(summary)
    meta_out: dict[str, Any] = _plain(dict(meta or {}))
    figures, missing = {}, {}
    if plots:  # none without matplotlib
        from .figures import draw

        figures, missing = draw(summary, rows, sources or {})
    written = [out / "report.json", out / "report.md"]
    if missing:
        meta_out["figures not drawn"] = "; ".join(f"{name}: {reason}" for name, reason in missing.items())
    root = out if root is None else root
    atomic_write_json(written[0], {"meta": meta_out, "summary": summary, "views": rows}, root=root)
    try:
        md = _markdown(summary, rows, meta_out, list(figures))
    except (TypeError, ValueError, KeyError, IndexError) as exc:  # rows of an unexpected form: say so
        md = (
            "# pixscale quality report\n\nThe tables of this report could not be written "
            f"({type(exc).__name__}: {printable(str(exc))}); report.json holds the numbers and every view."
        )
    atomic_write_text(written[1], md, root=root)
    for name, data in figures.items():
        atomic_write_bytes(out / name, data, root=root)
        written.append(out / name)
    return written
