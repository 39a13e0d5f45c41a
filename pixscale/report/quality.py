"""The quality grade of a run's summary, and the advice its numbers call for under the run's options.

:func:`grade` rates a size spread and a centre offset with the bands of
FaceLift's ``scripts/evaluate_preprocessing.py``; :data:`ADVICE` holds every
recommendation the report can give, with its premise.
"""

import math
from typing import Any

from .._measure import Measurement
from .._place import margins_px
from ..pipeline.records import ViewRecord

STAGES = ("before", "after")  # a record's measurements: of the input, of the written output
# The quality grade of FaceLift's scripts/evaluate_preprocessing.py: (grade, label, size CV below
# (%), mean centroid offset below (px of a 512-px image)); anything else is D.
GRADES = (("A", "Excellent", 1.0, 5.0), ("B", "Good", 3.0, 10.0), ("C", "Acceptable", 5.0, 20.0))
GRADE_D = ("D", "Needs improvement")
GRADE_SIZE = 512  # the evaluator's images are 512 px; offsets on other sizes are rescaled to it
OUTLIER_PX = 50  # views further than this from the centre are listed as outliers

# Every recommendation the report can give, by key: (premise, text). The texts are data, rendered
# by :func:`_advise` with the run's numbers. A run option is named as a backticked Python keyword
# (`target=`, `fit="shrink"`), never as a command-line flag: the command line rewrites those when it
# prints them (``spell=`` of format_table and write_report). The premise says when each is given;
# tests/report/test_trust_report.py holds a run for every key and checks the premise.
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
        "size: the size ratio varies by {cv:.1f}% (CV) with exact mode off (`exact=False`); run "
        "without `exact=False`: exact mode re-measures each view and refines its scale",
    ),
    "size_per_sample": (
        "per-sample scale, size CV above 3%",
        'size: the size ratio varies by {cv:.1f}% (CV) because `scale="per-sample"` keeps each sample\'s '
        'relative sizes (its mean view gets the target); `scale="per-view"` gives every view the target',
    ),
    "size_other": (
        "a run, size CV above 3%, not explained by the options, limited, cut or off-target views",
        "size: the size ratio varies by {cv:.1f}% (CV), which none of the run's options explains; inspect "
        "the views furthest from the target (per-view table)",
    ),
    "centre_option": (
        "a run with a centre other than the centroid, mean offset above 10 px of 512 or views over 50 px",
        'centre: each view\'s {center} centre was placed on the canvas centre (`center="{center}"`), so '
        'centroids sit off it; `center="centroid"` centres the centroids',
    ),
    "centre_shifted": (
        "a run, mean offset above 10 px of 512, views moved to keep them whole",
        "centre: {shifted} view(s) were moved off centre (up to {shift_max:.0f} px) to keep them whole on "
        "the canvas; to keep them centred, lower `target=` or enlarge `output_size=`, or use "
        '`fit="shrink"` (scales them down about the centre instead)',
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
        '{speck_pixels} px) that count toward size and centre; `min_component=0.05` or `keep="largest"` '
        "leaves them out",
    ),
    "limited": (
        "views whose scale was lowered, that would not fit the canvas at the target even moved; margin 0",
        "limited: {too_large} view(s) are too large for the canvas at the target, even moved off centre, so "
        "their scale was lowered; lower `target=` or enlarge `output_size=`",
    ),
    "limited_margin": (
        "views whose scale was lowered, that would not fit the canvas at the target even moved; a margin",
        "limited: {too_large} view(s) are too large for the canvas less the margin at the target, even moved "
        "off centre, so their scale was lowered; lower `target=` or `margin=`, or enlarge `output_size=`",
    ),
    "limited_shrink": (
        "fit shrink, views whose scale was lowered that would fit the canvas at the target moved off centre",
        "limited: {fits_moved} view(s) were scaled below the target to stay whole about the canvas centre "
        '(`fit="shrink"`); `fit="shift"` (the default) keeps them at the target, moved off centre only as '
        "far as needed",
    ),
    "cut": (
        "fit none (or unknown), views that lost object pixels off the canvas",
        'cut: {cut} view(s) lost {cut_pixels} object pixels off the canvas; `fit="shift"` (the default) '
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


def measurement(record: ViewRecord, stage: str) -> Measurement | None:
    """``record``'s measurement of ``stage`` (one of :data:`STAGES`): ``before`` or ``after``, or None."""
    if stage == "before":
        return record.before
    if stage == "after":
        return record.after
    raise KeyError(stage)


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
    """True when the run's object mask drops islands (``min_component`` or ``keep=\"largest\"``)."""
    mc = options.get("min_component")
    return options.get("keep") == "largest" or (mc is not None and mc > 0)


def off_centre(r: ViewRecord, stage: str) -> bool:
    """Whether a view is more than :data:`OUTLIER_PX` px off centre where no move of the fit explains it.

    A view the fit moved by ``shift`` to keep it whole has its centroid near
    ``canvas centre + shift``; only the distance beyond that move counts.
    """
    m = measurement(r, stage)
    if m is None or m.centroid is None:
        return False
    (x, y), (h, w) = m.centroid, m.shape
    dx, dy = (r.shift or (0.0, 0.0)) if stage == "after" else (0.0, 0.0)
    return math.hypot(x - w / 2 - dx, y - h / 2 - dy) > OUTLIER_PX


def _fits_moved(r: ViewRecord, margin: Any) -> bool | None:
    """Whether a limited view's object, at the scale it wanted, fits the canvas (less ``margin``) when moved.

    Its footprint (the bounding box plus half a source pixel each side, as
    :mod:`pixscale._place` keeps it) scaled by ``wanted_scale`` against the
    after-canvas; None when the record does not tell.
    """
    before, after, wanted = r.before, r.after, r.wanted_scale
    if before is None or not before.bbox or after is None or not after.shape or not wanted:
        return None
    x0, y0, x1, y1 = before.bbox
    h, w = after.shape
    try:
        mx, my = margins_px(margin or 0.0, (h, w))
    except ValueError:
        return None
    return (x1 - x0) * wanted <= w - 2 * mx and (y1 - y0) * wanted <= h - 2 * my


def _advise(keys, values):
    """The texts of the advice ``keys``, filled with ``values``."""
    return [ADVICE[k][1].format(**values) for k in keys]


def _advice_keys(summary, views, options, stage, cv, offset):
    """Which :data:`ADVICE` the summary's numbers call for under the run's ``options``; with the values.

    ``stage`` is the graded one ("after", else "before"), ``cv`` its size spread
    in percent and ``offset`` its mean centre offset in pixels of a 512 canvas;
    ``views`` the :class:`~pixscale.report.aggregate.Aggregate` of the records:
    its :func:`off_centre` views, and its limited ones that would fit moved.
    """
    run = stage == "after"
    placement, specks, exact = summary["placement"], summary["specks"], summary["exact"]
    n_outliers, first = views.outliers(stage)
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
        "outliers": n_outliers,
        "outlier_px": OUTLIER_PX,
        "outlier_names": ", ".join(first[:3]) + (f" and {n_outliers - 3} more" if n_outliers > 3 else ""),
        "speck_views": specks["islands_views"],
        "speck_islands": f"{specks['islands_components']:,}",
        "speck_pixels": f"{specks['islands_pixels']:,}",
    }
    size_off, centre_off = cv > 3, offset > 10
    specks_seen = specks["islands_views"] > 0 and not _filters(options)
    keys = []
    if not run:
        keys += ["input_size"] * size_off + ["input_centre"] * centre_off
        keys += ["outliers"] * bool(n_outliers) + ["specks"] * specks_seen
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
    if by_centre and (centre_off or n_outliers):
        keys.append("centre_option")
    elif centre_off:
        if placement["shifted"]:
            keys.append("centre_shifted")
        elif not (cut or specks_seen):
            keys.append("centre_other")
    if n_outliers and not by_centre:
        keys.append("outliers")
    if limited:
        margin = options.get("margin")
        values["fits_moved"] = views.fits_moved  # of the limited views (see _fits_moved)
        values["too_large"] = views.limited - values["fits_moved"] if fit == "shrink" else views.limited
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


def _quality(summary, views, options):
    """Grade, interpretation and recommendations of the stage the run produced (after, else before).

    The recommendations hold only for the run's ``options`` (the
    :data:`_CONDITIONS` recorded as ``conditions``) and its numbers; their
    :data:`ADVICE` keys are listed as ``advice``.  ``views``: the records'
    :class:`~pixscale.report.aggregate.Aggregate`.
    """
    stage = "after" if "after" in summary else "before"
    sizes, centring = summary[stage], summary["centring"][stage]
    conditions = {"run": stage == "after", **{k: options.get(k) for k in _CONDITIONS}}
    empty: dict[str, Any] = {
        "stage": stage,
        "grade": None,
        "label": None,
        "interpretation": [],
        "recommendations": [],
        "advice": [],
    }
    if not sizes["n"] or sizes["cv"] is None or centring["grade_px"] is None:
        return {**empty, "conditions": conditions}
    cv_pct, offset_512 = 100 * sizes["cv"], centring["grade_px"]
    if not (math.isfinite(cv_pct) and math.isfinite(offset_512)):
        return {**empty, "conditions": conditions}
    letter, label = grade(cv_pct, offset_512)
    keys, values = _advice_keys(summary, views, options, stage, cv_pct, offset_512)
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
