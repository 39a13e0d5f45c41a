"""Planning the transform that brings an object to the target size: ``plan`` and ``plan_group``."""

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._device import gpu, on_device
from ._filters import lift, reach
from ._measure import Measurement, measure_alpha, measure_object
from ._object import label
from ._options import Options, resolve
from ._place import footprint, margins_px, max_scale, place_in, rooms
from ._search import STEPS, refine_scale
from ._transform import ScaleTransform
from ._validate import EmptyMaskError, VanishedObjectError, alpha_of, threshold_value, with_mask
from ._warp import _span_state, kernel_constants, resampler
from .kernels import kernels

TOLERANCE = 2e-4  # exact mode's tolerance on the size ratio (one pixel's worth where larger)
TINY_CANVAS = 0.1  # but never looser than this fraction of the target (a canvas too small to hold it)
EXACT_SLACK = 1e-5  # exact mode's search stops this close to the target
LOW_RES = 0.5  # exact mode's first bilinear probe: at this fraction of the closed-form scale
TINY_OBJECT = 4096  # the closed form counts an object expected to cover fewer output pixels (see _count_if_tiny)


def _source_center(m, center):
    """The source point of ``center``: one of :data:`pixscale._place.CENTERS` or a point (checked by Options)."""
    if center == "centroid":
        return m.centroid
    if center == "bbox":
        x0, y0, x1, y1 = m.bbox
        return ((x0 + x1) / 2, (y0 + y1) / 2)
    if center == "image":
        return (m.shape[1] / 2, m.shape[0] / 2)
    return center  # an (x, y) point


def _support(alpha, thr, bbox, filter):
    """The box of the source pixels whose warp can exceed the threshold (it holds ``bbox``).

    Bilinear and area weights are a convex combination, but float weights may
    sum to 1 + a few ulps, lifting float alpha that sits exactly at the
    threshold above it: the box is that of ``alpha > thr * (1 - 1e-5)``.
    Lanczos-4's negative lobes can lift alpha by up to
    :func:`pixscale._filters.lift` (1.85x): its box is that of the pixels
    with ``alpha > thr / 1.85`` *connected* to the object (8-connected, as
    the component filter counts): the object's own faint rim and an attached
    shadow; faint alpha apart from it (haze, what is left of dropped specks)
    does not move the placement.  Exact mode's probe window and the
    placement's footprint are built from this box.
    """
    factor = lift(filter)
    if factor == 1.0:
        if alpha.dtype.kind != "f":
            return bbox
        low = alpha.dtype.type(thr * (1 - 1e-5))
        return bbox if low == thr else measure_alpha(alpha, low).bbox
    low = alpha.dtype.type(thr * (1 - 1e-5) / factor if alpha.dtype.kind == "f" else math.floor(thr / factor))
    from scipy import ndimage

    labels, _ = label(alpha > low)
    touching = np.unique(labels[alpha > thr])
    boxes = ndimage.find_objects(labels)
    rows = [boxes[k - 1][0] for k in touching if k > 0]
    cols = [boxes[k - 1][1] for k in touching if k > 0]
    return (
        min(c.start for c in cols),
        min(r.start for r in rows),
        max(c.stop for c in cols),
        max(r.stop for r in rows),
    )


def _canvas(key):
    """What a view's plan takes from its options, input shape and dtype alone, made once per ``key``.

    ``key`` is ``(input_shape, dtype, threshold, output_shape, margin, fit, filter)``; returns
    ``(thr, output_shape, ideal, source_px, pad, margins, n_out, rooms)`` (``rooms`` None unless
    ``fit="shift"``), shared by a batch's views (less GIL-held Python an image of
    ``normalize_batch``).  An error (a margin too wide for the canvas) is raised for every view.
    """
    canvas = _CANVASES.get(key)
    if canvas is None:
        shape, dtype, threshold, output_shape, margin, fit, filter = key
        output_shape = shape if output_shape is None else output_shape
        source_px, pad = reach(filter)
        margins = margins_px(margin, output_shape)
        canvas = (
            threshold_value(dtype, threshold),
            output_shape,
            (output_shape[1] / 2, output_shape[0] / 2),
            source_px,
            pad,
            margins,
            output_shape[0] * output_shape[1],
            rooms(output_shape, margins, pad) if fit == "shift" else None,
        )
        if len(_CANVASES) >= 64:  # a process that plans many shapes or options: keep the latest few
            _CANVASES.clear()
        _CANVASES[key] = canvas
    return canvas


_CANVASES: dict[tuple, tuple] = {}


class _View:
    """One view prepared for planning: its alpha, measurement and where its centre goes."""

    def __init__(self, alpha, m, options, support=None, rgba=None):
        self.alpha, self.measurement, self.rgba = alpha, m, rgba
        self.input_shape = m.shape
        self.fit = fit = options.fit
        self.filter = filter = options.filter
        key = (m.shape, alpha.dtype, options.object_mask.threshold, options.output_shape, options.margin, fit, filter)
        canvas = _canvas(key)
        self.thr, self.output_shape, self.ideal, source_px, self.pad, self.margins, self.n_out, self.rooms = canvas
        self.support = _support(alpha, self.thr, m.bbox, filter) if support is None else support
        self.src_center = _source_center(m, options.center)
        self.extent = footprint(self.support, self.src_center, source_px)
        self.max_scale = max_scale(fit, self.extent, self.ideal, self.output_shape, self.margins, self.pad)

    def dst_center(self, scale):
        """:func:`pixscale._place.place` of this view at ``scale`` (its rooms computed once)."""
        return self.ideal if self.rooms is None else place_in(scale, self.extent, self.ideal, self.rooms)


class _Probe:
    """Counts of ``warped alpha > thr`` for one view at a scale: on the canvas, and on an unbounded one.

    Only the output window that can hold mask pixels (the mapped bbox plus a
    pixel) is resampled; the values there are bit-identical to a full warp,
    so the canvas count is that of the final image.  One kernel call per
    count; each is made once.  The bilinear count interpolates only the
    object's edge (:func:`pixscale.kernels.probe.count_spans`), from a
    table of the source rows kept in ``memo`` for the view's later probes,
    once that kernel is compiled (:func:`pixscale._warp.bilinear_count`).
    """

    def __init__(self, view):
        alpha = view.alpha
        bbox = view.support
        self.view = view
        r = math.ceil(reach(view.filter)[0] + 0.5)  # source pixels whose taps can reach the object
        self.box = (bbox[0] - r, bbox[1] - r, bbox[2] + r, bbox[3] + r)
        self.args = (alpha.dtype.kind == "u", kernel_constants(alpha.dtype))
        self.seen = {}
        # The count kernel, looked up once where the filter does not change with the scale; the
        # bilinear one keeps in ``memo`` what its later counts reuse (pixscale.kernels.count.warp_count).
        self.kernel = resampler("bilinear", 1.0)[1] if view.filter == "bilinear" else None
        self.memo = {"box": bbox, "rgba": view.rgba}
        self.found = None  # (scale, on_canvas, total, dx, dy) of the compiled search's answer (see search)

    def _count(self, scale, dst, r0, r1, c0, c1):
        key = (scale, r0, r1, c0, c1)
        if key not in self.seen:
            v = self.view
            (cx, cy), (dx, dy) = v.src_center, dst
            args = (v.alpha, v.thr, scale, cx, cy, dx, dy, r0, r1, c0, c1, *self.args)
            self.seen[key] = (
                0
                if r0 >= r1 or c0 >= c1
                else self.kernel(*args, self.memo)
                if self.kernel
                else resampler(v.filter, scale)[1](*args)
            )
        return self.seen[key]

    def windows(self, scale):
        """``(dst, window, clipped)`` at ``scale``: where the centre lands, the output window that can hold
        mask pixels (``(r0, r1, c0, c1)``) and that window clipped to the canvas."""
        v = self.view
        dst = v.dst_center(scale)
        (cx, cy), (dx, dy) = v.src_center, dst
        x0, y0, x1, y1 = self.box
        r0, r1 = math.floor((y0 - cy) * scale + dy) - 1, math.ceil((y1 - cy) * scale + dy) + 1
        c0, c1 = math.floor((x0 - cx) * scale + dx) - 1, math.ceil((x1 - cx) * scale + dx) + 1
        ho, wo = v.output_shape
        return dst, (r0, r1, c0, c1), (max(r0, 0), min(r1, ho), max(c0, 0), min(c1, wo))

    def counts(self, scale, *, canvas=True):
        """``(on_canvas, total)`` mask pixels of the warp at ``scale``; ``on_canvas`` is None unless asked."""
        if self.found is not None and scale == self.found[0]:
            return (self.found[1] if canvas else None), self.found[2]
        dst, window, clipped = self.windows(scale)
        total = self._count(scale, dst, *window)
        if not canvas:
            return None, total
        return (total if clipped == window else self._count(scale, dst, *clipped)), total

    def search(self, scale, target, goal):
        """``refine_scale(self.ratio, scale, target, goal)`` in one compiled call (a bilinear probe only).

        :func:`search_view` runs the same search without the GIL, with the same counts; those at
        the scale it returns are kept for :meth:`counts`, as Python's would be.
        """
        v = self.view
        self.found, self.memo["rows"] = search_view(
            v.alpha, v.thr, self.memo["box"], self.box, v.src_center, v.ideal, v.rooms, v.extent, v.output_shape,
            v.n_out, scale, target, goal, *self.args,
        )  # fmt: skip
        return self.found[0], math.sqrt(self.found[2] / v.n_out)

    def ratio(self, scale):
        """The size ratio at ``scale`` on an unbounded canvas: what the scale gives, wherever the object lands."""
        return math.sqrt(self.counts(scale, canvas=False)[1] / self.view.n_out)


def search_view(
    alpha, thr, support, box, src_center, ideal, rooms, extent, output_shape, n_out, scale, target, goal, *args
):
    """Exact mode's search for one bilinear view in one compiled call: ``((scale, on, total), rows)``.

    :func:`pixscale.kernels.search.search_scale` runs ``refine_scale`` with
    the bilinear probe's counts (:class:`_Probe`) without the GIL; ``rows`` is
    the table of source rows it built (``warp_count``'s ``memo``), for the
    view's later probes.  ``support`` is the view's :func:`_support` box,
    ``box`` the probe's source box (``support`` plus the filter's reach);
    ``src_center`` to ``n_out`` are the view's, as a :class:`_View` holds
    them (``rooms`` None unless ``fit="shift"``); ``args`` are the probe's
    kernel arguments, ``(rounding, consts)``.
    """
    from .kernels.count import sure_levels  # numba: imported by the first search, not by pixscale

    # warp_count's memo table, built in the search: for these levels, in this box.
    lo, hi = sure_levels(alpha.dtype, thr)
    h, w = alpha.shape
    x0, y0, x1, y1 = support if lo != -np.inf else (0, 0, w, h)
    shift = rooms is not None
    rooms = rooms or ((0.0, 0.0), (0.0, 0.0))
    geometry = np.array((
        *src_center, *ideal, shift, *extent[0], *extent[1], *rooms[0], *rooms[1],
        *output_shape, *box, max(x0, 0), max(y0, 0), min(x1, w), min(y1, h),
    ))  # fmt: skip
    rows = np.empty((h, 6), np.int64)
    found = kernels().search_scale(alpha, thr, rows, lo, hi, geometry, n_out, scale, target, goal, STEPS, *args)
    return found, rows


def tolerance(target, n_pixels):
    """Exact mode's tolerance on the size ratio: 2e-4, or one pixel's worth of area if larger.

    One pixel's worth is capped at a tenth of the target (``TINY_CANVAS``):
    a canvas of a few pixels cannot hold the target, and its view is then
    off target rather than on it (a 1-pixel canvas holds ratio 0 or 1 only,
    and 1 is not "on" a target of 0.3).
    """
    return max(TOLERANCE, min(math.sqrt(target * target + 1.0 / n_pixels) - target, TINY_CANVAS * target))


def _search_goal(target, n_pixels, n_views):
    """How close exact mode's search tries to get: 1e-5, or half a pixel's worth of the mean ratio."""
    return max(EXACT_SLACK, 0.25 / (target * n_pixels * n_views))


class Measured(NamedTuple):
    """One view as the planner takes it: its object's measurement and alpha (see :func:`plan_measured`).

    ``rgba`` is :func:`rgba_rows` of the image, or None: exact mode's plain
    probe then warps it, with the kernel the image's own warp compiles
    (``pixscale.kernels.count.warp_count``).
    """

    measurement: Measurement
    alpha: np.ndarray
    rgba: np.ndarray | None = None


def rgba_rows(image, selection):
    """An RGBA ``image`` of uint16 or floats as flat rows (H, 4W), when its alpha channel is the object's; else None.

    ``selection`` is the object's (:func:`~pixscale._measure.measure_object`):
    the image's alpha is the object's unless the component filter dropped
    some.  Only a C-contiguous array of native byte order is taken as it is;
    uint8 has a probe kernel of its own.
    """
    if (
        selection.dropped is not None
        or not isinstance(image, np.ndarray)
        or image.dtype == np.uint8
        or image.ndim != 3
        or image.shape[2] != 4
        or not (image.flags.c_contiguous and image.dtype.isnative)
    ):
        return None
    return image.reshape(image.shape[0], 4 * image.shape[1])


def _prepare(image, options):
    """Validate one view and measure its object (see :class:`ObjectMask`): a :class:`Measured`.

    For exact mode on RGBA8 the measure pass also unpacks the alpha into a
    contiguous array, which the probes read faster than a stride-4 view.
    """
    alpha = alpha_of(image)
    rule = options.object_mask
    m, sel = measure_object(image, alpha, rule, unpack=options.exact)
    if m.count == 0:
        raise EmptyMaskError(
            f"no pixel has alpha > {rule.threshold:g} (on the 0-255 scale) in this {alpha.shape} image, "
            f"so there is no object to scale; check the alpha channel or lower `threshold=`."
        )
    return Measured(m, sel.alpha, rgba_rows(image, sel))


def plan_group(images: Sequence[ArrayLike], *, options: Options | None = None, **keywords: Any) -> list[ScaleTransform]:
    """Plan one shared scale for a group of views (the views of one sample).

    All views are scaled alike, so their relative sizes survive; each is
    placed on its canvas by the ``fit`` rule, as :func:`plan` places one.
    The scale brings the *mean* size ratio of the views to ``target``
    (closed form ``target / mean(size_ratio)`` on same-size canvases; exact
    mode re-measures the warped views).  It is capped by the smallest fit
    limit among the views: with ``fit="shift"`` that is only when some view's
    object at that scale is larger than its canvas less the margins, whatever
    the move.

    Parameters
    ----------
    images : sequence of ndarray
        The views, each as accepted by :func:`plan`.
    options : Options, optional
        The options, as for :func:`plan`; ``target`` is what the views' mean
        ratio reaches.
    **keywords
        Or the same options as keywords (``target=0.4``), not both.

    Returns
    -------
    list of ScaleTransform
        One per view, in order; ``achieved_ratio`` is each view's own ratio,
        ``wanted_scale`` the shared scale before the cap.

    Raises
    ------
    EmptyMaskError
        If a view's mask is empty.
    VanishedObjectError
        If the shared scale leaves nothing of some view's object in its output
        (an :class:`EmptyMaskError`; ``views`` names them, ``transforms`` is the plan).
    ValueError
        For an empty group, or an option out of range (as :func:`plan`), such as
        a ``margin`` that leaves no pixel free.
    TypeError
        For an option of the wrong type, an unknown keyword, or keywords
        given with ``options=`` (as :func:`plan`).

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> small = np.zeros((100, 100), np.uint8); small[40:50, 40:50] = 255
    >>> large = np.zeros((100, 100), np.uint8); large[30:60, 30:60] = 255
    >>> ts = pixscale.plan_group([small, large], target=0.4, exact=False)
    >>> [round(t.scale, 4) for t in ts]
    [2.0, 2.0]
    """
    options = resolve(options, keywords, "plan_group", plan=True)
    if len(images) == 0:
        raise ValueError("plan_group needs at least one image")
    if any(map(on_device, images)):  # the GPU path: pixscale._gpu
        return gpu().plan_group(images, options)
    return plan_views(images, options)


def plan_views(images, options, compiled=True):
    """:func:`plan_group` of a non-empty sequence of views with its :class:`Options`: measure, then plan."""
    return plan_measured([_prepare(img, options) for img in images], options, compiled)


def plan_measured(objects, options, compiled=True, probe=_Probe, supports=None):
    """The body of every plan: :func:`plan_group` of views whose objects are measured already.

    ``objects`` is a non-empty sequence of :class:`Measured`, one per view:
    the measurement of its object (not empty) under ``options.object_mask``
    and the object's alpha that measurement counted, ``Selection.alpha`` of
    :func:`~pixscale._measure.measure_object` (measured with
    ``unpack=options.exact``, as :func:`plan_views` measures: exact mode's
    probes warp it).  The component filter is not applied again: only
    ``options.object_mask.threshold`` is read, with the placement, target
    and filter.  The pipeline measures each view once and plans from that.

    ``compiled``: exact mode's search for a single bilinear view runs in one compiled call without
    the GIL (:meth:`_Probe.search`), the same plan as the Python search, once the probes use the
    span count for the alpha's dtype (:func:`pixscale._warp.bilinear_count`): a cold first call
    compiles no search, and the search kernel compiles (about a second of CPU, cached) with the
    span count's first use.  False: the Python search always (the tests' specification).
    Groups of views search in Python.
    ``probe`` makes a view's :class:`_Probe`, and ``supports`` (one per view) are the boxes of
    :func:`_support` when measured elsewhere: the GPU path counts and measures on the device.
    """
    target, fit, exact, filter = options.target, options.fit, options.exact, options.filter
    boxes = [None] * len(objects) if supports is None else supports
    views = [_View(o.alpha, o.measurement, options, box, o.rgba) for o, box in zip(objects, boxes, strict=True)]
    if len(views) == 1:  # the same floats as below (0 + x and x / 1 are x), without two generators
        wanted, cap = target / math.sqrt(views[0].measurement.count / views[0].n_out), views[0].max_scale
    else:
        wanted = target / (sum(math.sqrt(v.measurement.count / v.n_out) for v in views) / len(views))
        cap = min(v.max_scale for v in views)
    probes = [probe(v) for v in views] if exact or fit == "none" else []
    tol = None
    if exact:
        n_min = min(v.n_out for v in views)
        tol = tolerance(target, n_min)

        def mean_ratio(s):
            return sum(p.ratio(s) for p in probes) / len(probes)

        ratio = probes[0].ratio if len(probes) == 1 else mean_ratio

        # A bilinear warp samples one fixed shape (the interpolated alpha above the threshold) at
        # every scale, so the count grows as the scale squared: a probe at half the scale, a
        # quarter of the pixels, predicts the scale as well as one at the closed form, which
        # misses by the bilinear ring (1-2 % of the count on steep edges) and costs a full probe.
        start = wanted * LOW_RES if filter == "bilinear" else wanted
        goal = _search_goal(target, n_min, len(views))
        if compiled and len(probes) == 1 and probes[0].kernel is not None and _span_state(views[0].alpha.dtype) is True:
            wanted, reached = probes[0].search(start, target, goal)
        else:
            wanted, reached = refine_scale(ratio, start, target, goal)
        if wanted > cap and abs(ratio(cap) - target) <= abs(reached - target):
            wanted = cap  # the cap does as well: it is a scale the target asks for, not a shrink
    scale = min(wanted, cap)
    out, vanished = [], []
    for i, v in enumerate(views):
        on, total = probes[i].counts(scale) if probes else (None, None)
        if (on if probes else _count_if_tiny(v, scale, probe)) == 0:
            vanished.append(i)
        out.append(transform_of(v, scale, wanted, cap, on, total, options, tol))
    if vanished:
        raise _vanished(vanished, out, len(views))
    return out


def transform_of(view, scale, wanted, cap, on, total, options, tol):
    """The :class:`ScaleTransform` of ``view`` planned at ``scale`` (``wanted`` capped at ``cap``).

    ``on`` and ``total`` are the object's pixels on the canvas and on an unbounded one at
    ``scale`` (None without probes); ``tol`` exact mode's tolerance (None in closed form).
    """
    dst = view.dst_center(scale)
    return ScaleTransform._planned(
        scale=scale,
        src_center=view.src_center,
        dst_center=dst,
        input_shape=view.input_shape,
        output_shape=view.output_shape,
        limited=wanted > cap,
        measurement=view.measurement,
        target=options.target,
        achieved_ratio=math.sqrt(on / view.n_out) if options.exact else None,
        tolerance=tol,
        wanted_scale=wanted,
        shift=(dst[0] - view.ideal[0], dst[1] - view.ideal[1]),
        cut_pixels=0 if on is None else total - on,
        filter=options.filter,
    )


def _count_if_tiny(view, scale, probe=_Probe, pixels=TINY_OBJECT):
    """The object's pixels in the output at ``scale`` when it is small enough to vanish, else None.

    The closed form has no probe; an object expected to cover fewer than
    ``pixels`` output pixels is warped (its window only) to see that some survive.
    """
    if scale * scale * view.measurement.count >= pixels:
        return None
    return probe(view).counts(scale)[0]


def _vanished(indices, transforms, n):
    t = transforms[indices[0]]
    which = "the object" if n == 1 else f"the object of view{'s' * (len(indices) > 1)} {', '.join(map(str, indices))}"
    why = f"limited by the margin and fit to scale {t.scale:.3g}" if t.limited else f"at scale {t.scale:.3g}"
    n = t.output_shape[0] * t.output_shape[1]
    fix = (
        f"`target={t.target:g}` asks for less than one pixel on this {t.output_shape} canvas: use a `target=` "
        f"of at least {1 / math.sqrt(n):.3g}, or a larger canvas (`output_shape=`)"
        if t.target * t.target * n < 1
        else "use a larger `target=`, a smaller `margin=` or a larger output canvas (`output_shape=`)"
    )
    return VanishedObjectError(
        f"{which} would vanish from the output: {why}, no pixel of it stays above the threshold "
        f"on the output canvas; {fix}.",
        indices,
        transforms,
    )


def plan(
    image: ArrayLike, *, mask: ArrayLike | None = None, options: Options | None = None, **keywords: Any
) -> ScaleTransform:
    """Plan the scale-about-centre transform that gives the object the target size.

    Parameters
    ----------
    image : (H, W, 4), (H, W, 2) or (H, W) ndarray
        RGBA, gray+alpha or alpha alone (see :func:`pixscale.measure`), on
        the host or on a CUDA device (planned on the GPU; see "On the GPU").
    mask : (H, W) ndarray, optional
        The object mask of an RGB (or gray) ``image`` without alpha (bool,
        0-255 integers or 0-1 floats); it is used as the alpha.
    options : Options, optional
        What to measure, the target, the placement and the filter (see
        :class:`pixscale.Options`): ``target`` (the size ratio to reach, 0.3),
        ``threshold``, ``min_component`` and ``keep`` (the object mask),
        ``center``, ``output_shape``, ``fit``, ``margin``, ``exact`` and
        ``filter``.  The output-only options (``erase_specks``,
        ``premultiplied``, ``background``) are ignored.
    **keywords
        Or the same options as keywords (``target=0.4, fit="shrink"``), not
        both; the output-only options are refused here.

    Returns
    -------
    ScaleTransform

    Raises
    ------
    EmptyMaskError
        If no pixel's alpha exceeds the threshold.
    VanishedObjectError
        If the planned scale leaves no pixel of the object above the threshold
        in the output (an :class:`EmptyMaskError`): the output would be blank.
    ValueError
        For an option out of range, among them a ``margin`` that leaves no
        output pixel free on an axis.
    TypeError
        For an option of the wrong type, an unknown keyword, an output-only
        one, or keywords given with ``options=``.

    Notes
    -----
    The closed-form scale is ``target * sqrt(Ho * Wo / count)``, i.e.
    ``target / size_ratio`` when the output canvas is the input's size.  The
    re-measured ratio of a bilinear resample is neither smooth nor monotonic in
    the scale (pixels cross the threshold in jumps as the grid's phase moves):
    exact mode probes a bilinear plan first at half the closed-form scale
    (a quarter of the pixels: the count grows as the scale squared), then
    steps in proportion and interpolates between the scales that bracket the
    target, stops as soon as the ratio is within 1e-5 of the target (or half
    a pixel's worth of area), and otherwise bisects to where the ratio
    crosses the target and scans the scales nearby, keeping the closest
    ratio seen.  On long straight edges along the pixel grid the
    ratio can jump by more than the tolerance at one scale; the plan then
    has the best ratio any nearby scale gives, and ``on_target`` is False.
    Exact mode warps only the alpha channel, on the window that can hold the
    object.  The move of ``fit="shift"`` is part of ``dst_center``, so
    :meth:`ScaleTransform.map_points` and :meth:`ScaleTransform.intrinsics`
    include it.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((100, 100), np.uint8)
    >>> alpha[10:30, 50:70] = 255
    >>> t = pixscale.plan(alpha, target=0.4, exact=False)
    >>> t.scale, t.src_center, t.dst_center
    (2.0, (60.0, 20.0), (50.0, 50.0))

    The closed form ignores that bilinear edges add a ring of pixels above the
    threshold; exact mode re-measures and shrinks the scale to compensate:

    >>> t = pixscale.plan(alpha, target=0.4)
    >>> round(t.scale, 4), t.achieved_ratio
    (1.9091, 0.4)
    """
    options = resolve(options, keywords, "plan", plan=True)
    if on_device(image):  # the GPU path: pixscale._gpu
        return gpu().plan(image, options, mask)
    return plan_views([image if mask is None else with_mask(image, mask)], options)[0]
