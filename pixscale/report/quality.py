"""The quality grade of a run's summary, and the advice its numbers call for under the run's options.

:func:`grade` rates a size spread and a centre offset with the bands of
FaceLift's ``scripts/evaluate_preprocessing.py``; :data:`ADVICE` holds every
recommendation the report can give, with its premise.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._filters import FILTERS, lift, reach
from .._measure import Measurement
from .._place import footprint, margins_px, max_scale
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
# tests/report/test_advice.py holds runs that give each key and runs that must not, and checks that
# every option a text names is one pixscale has, with a value it accepts.
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
        "per-view scale, exact mode off, size CV above 3%, some views not limited",
        "size: the size ratio varies by {cv:.1f}% (CV) with exact mode off (`exact=False`); run "
        "without `exact=False`: exact mode re-measures each view and refines its scale",
    ),
    "size_per_sample": (
        "per-sample scale, size CV above 3%, views within a sample varying by more than 3% (mean within-sample CV)",
        "size: the size ratio varies by {cv:.1f}% (CV), {within:.1f}% within a sample (mean CV), because "
        '`scale="per-sample"` keeps each sample\'s relative sizes; `scale="per-view"` scales each view to the '
        "target on its own",
    ),
    "size_other": (
        "a run, size CV above 3%, not explained by the options, limited, cut, off-target or specked views",
        "size: the size ratio varies by {cv:.1f}% (CV), which none of the run's options explains; inspect "
        "the views furthest from the target (per-view table)",
    ),
    "centre_option": (
        "a run with a centre other than the centroid, mean offset above 10 px of 512 or views over 50 px",
        'centre: `center="{center}"` aims each view\'s {center} centre, not its centroid, at the canvas '
        'centre, so centroids sit off it; `center="centroid"` aims the centroids there',
    ),
    "centre_shifted": (
        "a run, mean offset above 10 px of 512, views moved to keep them whole",
        "centre: {shifted} view(s) were moved off centre (up to {shift_max:.0f} px) to keep them whole on "
        'the canvas; to keep them centred, lower `target=`, or use `fit="shrink"` (scales them down about '
        "the centre instead)",
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
        "views with small islands apart from the object that the object mask kept (no component filter, "
        "or one that keeps them)",
        "specks: {speck_views} view(s) have small islands apart from the object ({speck_islands} islands, "
        '{speck_pixels} px) that count toward size and centre; `min_component=0.05` or `keep="largest"` '
        "leaves them out",
    ),
    "limited": (
        "per-view scale, views whose scale was lowered that do not fit the canvas at the target even moved "
        "off centre (fit shift; fit shrink: their footprint says so); margin 0",
        "limited: {too_large} view(s) do not fit the canvas at the scale the target asks for, even moved off "
        "centre, so their scale was lowered; lower `target=`",
    ),
    "limited_margin": (
        "as limited, with a margin",
        "limited: {too_large} view(s) do not fit the canvas less the margin at the scale the target asks for, "
        "even moved off centre, so their scale was lowered; lower `target=` or `margin=`",
    ),
    "limited_shrink": (
        "fit shrink, views whose scale was lowered whose footprint fits the canvas at the target moved off "
        "centre (per-sample scale: every view of the sample's), with a filter that spreads no faint rim",
        "limited: {fits_moved} view(s) were scaled below the target to stay whole about the canvas centre "
        '(`fit="shrink"`); `fit="shift"` (the default) keeps them at the target, moved off centre only as '
        "far as needed",
    ),
    "limited_sample": (
        "per-sample scale, samples whose shared scale was lowered (not all of whose views fit moved under fit shrink)",
        "limited: the shared scale of {limited_samples} sample(s) ({sample_views} views) was lowered to keep "
        'all their views whole on the canvas; lower `target=`, or `scale="per-view"` lowers only the views '
        "that do not fit",
    ),
    "limited_fit": (
        "per-view scale, views whose scale was lowered where the run's fit is unknown, or under fit shrink "
        "with a filter whose faint rim the report cannot see (lanczos4, auto) and a footprint that fits moved",
        "limited: {unsure} view(s) were scaled below the target to keep them whole on the canvas; lower `target=`",
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


def fits_moved(r: ViewRecord, options: Mapping[str, Any]) -> bool | None:
    """Whether a limited view fits the canvas at the scale it wanted when moved off centre (``fit="shift"``).

    The arithmetic of :mod:`pixscale._place` for ``fit="shift"``: the
    footprint (the bounding box grown by the filter's reach in source pixels)
    at ``wanted_scale`` against the after-canvas less the run's margin and the
    filter's reach in output pixels.  False is sure: the plan's footprint
    holds the bounding box.  True is sure for the filters that lift no alpha
    (bilinear, area); for lanczos4 and auto the plan's footprint also holds
    the object's faint rim (:func:`pixscale._plan._support`), which a record
    does not keep, so a footprint that fits is None (unknown), as is a record
    or run that does not tell.
    """
    before, after, wanted = r.before, r.after, r.wanted_scale
    filter = options.get("filter") or "bilinear"
    if before is None or not before.bbox or after is None or not after.shape or not wanted or filter not in FILTERS:
        return None
    h, w = after.shape
    source_px, pad = reach(filter)
    try:
        margins = margins_px(options.get("margin") or 0.0, (h, w))
    except ValueError:
        return None
    extent = footprint(before.bbox, (0.0, 0.0), source_px)
    if wanted > max_scale("shift", extent, (w / 2, h / 2), (h, w), margins, pad):
        return False
    return True if lift(filter) == 1.0 else None


class Limits:
    """What the limited advice says of a run's limited views, counted a sample at a time (:meth:`add`).

    ``fits_moved``: views ``fit="shrink"`` scaled down that fit the canvas
    at the target moved off centre (:func:`fits_moved`; under
    ``scale="per-sample"``, a sample's views when all of them fit);
    ``too_large``: per-view scale, views that do not fit even moved
    (every limited view of ``fit="shift"``, whose plan moved them first);
    ``unsure``: views of neither kind the report can tell; ``samples`` and
    ``sample_views``: per-sample scale, the other limited samples and
    their views.

    Examples
    --------
    >>> lim = Limits({"fit": "shift", "scale": "per-view"})
    >>> lim.add([])
    >>> lim.too_large, lim.fits_moved, lim.samples
    (0, 0, 0)
    """

    def __init__(self, options: Mapping[str, Any] | None):
        self.options = dict(options or {})
        self.fits_moved = self.too_large = self.unsure = self.samples = self.sample_views = 0

    def add(self, records: Sequence[ViewRecord]) -> None:
        """The ok records of one sample."""
        limited = [r for r in records if r.limited]
        if not limited:
            return
        fit = self.options.get("fit")
        if self.options.get("scale") == "per-sample":  # one shared scale: the sample fits moved or not
            if fit == "shrink" and all(fits_moved(r, self.options) is True for r in limited):
                self.fits_moved += len(limited)
            else:
                self.samples += 1
                self.sample_views += len(limited)
            return
        for r in limited:
            fits = True if fit == "shift" else fits_moved(r, self.options) if fit == "shrink" else None
            if fit == "shift" or fits is False:  # shift moved it first: only its size limits it
                self.too_large += 1
            elif fits:
                self.fits_moved += 1
            else:
                self.unsure += 1


def _advise(keys, values):
    """The texts of the advice ``keys``, filled with ``values``."""
    return [ADVICE[k][1].format(**values) for k in keys]


def _advice_keys(summary, views, options, stage, cv, offset):
    """Which :data:`ADVICE` the summary's numbers call for under the run's ``options``; with the values.

    ``stage`` is the graded one ("after", else "before"), ``cv`` its size spread
    in percent and ``offset`` its mean centre offset in pixels of a 512 canvas;
    ``views`` the :class:`~pixscale.report.aggregate.Aggregate` of the records:
    its :func:`off_centre` views, and its :class:`Limits`.
    """
    run = stage == "after"
    placement, specks, exact = summary["placement"], summary["specks"], summary["exact"]
    n_outliers, first = views.outliers(stage)
    within = ((summary.get("within_sample_cv") or {}).get(stage) or {}).get("mean")
    limits = views.limits
    values = {
        "cv": cv,
        "offset": offset,
        "within": 100 * (within or 0.0),
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
        "fits_moved": limits.fits_moved,
        "too_large": limits.too_large,
        "unsure": limits.unsure,
        "limited_samples": limits.samples,
        "sample_views": limits.sample_views,
    }
    size_off, centre_off = cv > 3, offset > 10
    # islands the object mask kept (no filter, or one that keeps them): counted only where they remain
    specks_seen = specks["islands_views"] > 0
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
    explained = limited or cut or off_target or specks_seen
    if size_off:
        if scale == "per-sample" and within is not None and 100 * within > 3:
            keys.append("size_per_sample")
        elif scale == "per-view" and options.get("exact") is False and placement["limited"] < summary[stage]["n"]:
            # exact mode re-measures each view (a limited one's wanted scale too: the closed form over-scales
            # thin objects into the limit); not when every view is limited: their scale is the canvas's
            keys.append("size_exact_off")
        elif not explained:
            keys.append("size_other")
    by_centre = options.get("center") not in (None, "centroid")
    if by_centre and (centre_off or n_outliers):
        keys.append("centre_option")
    if centre_off and placement["shifted"]:
        keys.append("centre_shifted")
    elif centre_off and not (by_centre or cut or specks_seen):
        keys.append("centre_other")
    if n_outliers and not by_centre:
        keys.append("outliers")
    if limits.fits_moved:
        keys.append("limited_shrink")
    if limits.samples:
        keys.append("limited_sample")
    if limits.too_large:
        margin = options.get("margin")
        keys.append("limited_margin" if margin not in (None, 0, 0.0) and not _zero_percent(margin) else "limited")
    if limits.unsure:
        keys.append("limited_fit")
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
