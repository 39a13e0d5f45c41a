"""Planning the transform that brings an object to the target size, and ``normalize``."""

import math

import numpy as np

from ._config import kernels
from ._measure import alpha_words, measure_alpha
from ._transform import ScaleTransform
from ._validate import (
    EmptyMaskError,
    alpha_of,
    check_point,
    check_shape,
    check_target,
    check_threshold,
    threshold_value,
)
from ._warp import warp, work_dtype

CENTERS = ("centroid", "bbox", "image")
_SECANT_STEPS = 8
_SEARCH_STEPS = 96


def _source_center(m, center):
    if isinstance(center, str):
        if center == "centroid":
            return m.centroid
        if center == "bbox":
            x0, y0, x1, y1 = m.bbox
            return ((x0 + x1) / 2, (y0 + y1) / 2)
        if center == "image":
            return (m.shape[1] / 2, m.shape[0] / 2)
        raise ValueError(f"center must be one of {CENTERS} or an (x, y) point; got {center!r}")
    return check_point(center, name="center")


def fit_limit(bbox, src_center, dst_center, output_shape, margin):
    """The largest scale at which no output pixel outside the canvas less ``margin`` sees the object.

    Bilinear samples of the mask box ``[x0, x1] x [y0, y1]`` can be non-zero
    on the open box half a source pixel wider.  Mapped to the output, that box
    must contain no pixel centre outside the canvas less ``margin`` pixels,
    i.e. it must lie within ``[margin - 0.5, W - margin + 0.5]`` (likewise y).
    """
    x0, y0, x1, y1 = bbox
    (cx, cy), (dx, dy) = src_center, dst_center
    ho, wo = output_shape
    limit = math.inf
    for lo, hi, c, d, n in ((x0 - 0.5, x1 + 0.5, cx, dx, wo), (y0 - 0.5, y1 + 0.5, cy, dy, ho)):
        room_lo, room_hi = d - margin + 0.5, n - margin + 0.5 - d
        if room_lo <= 0 or room_hi <= 0:
            raise ValueError(
                f"margin={margin:g} px leaves no room on an output canvas of shape {output_shape}; "
                "use a margin below half the canvas size."
            )
        if lo < c:
            limit = min(limit, room_lo / (c - lo))
        if hi > c:
            limit = min(limit, room_hi / (hi - c))
    return limit


def _ratio_probe(alpha, thr, base, bbox):
    """Return ``ratio(scale)``: the size ratio re-measured on the warped alpha alone.

    Only the output window that can hold mask pixels (the mapped bbox plus a
    pixel) is resampled; the values there are bit-identical to a full warp.
    One kernel call per probe computes the taps, warps and counts.
    """
    if alpha.dtype.kind == "f":
        # Float weights may sum to 1 + a few ulps, lifting alpha that sits exactly at the
        # threshold above it: the window must hold every pixel within 1e-5 of the threshold.
        bbox = measure_alpha(alpha, alpha.dtype.type(thr * (1 - 1e-5))).bbox
    ho, wo = base.output_shape
    n_out = ho * wo
    (cx, cy), (dx, dy) = base.src_center, base.dst_center
    rounding = alpha.dtype.kind == "u"
    consts = np.array([0.0, 0.5, 1.0, np.iinfo(alpha.dtype).max if rounding else 0.0], dtype=work_dtype(alpha.dtype))
    x0, y0, x1, y1 = bbox[0] - 1, bbox[1] - 1, bbox[2] + 1, bbox[3] + 1
    warp_count = kernels().warp_count
    seen = {}  # scale -> ratio: the achieved ratio at the chosen scale is asked for again

    def ratio(scale):
        if scale in seen:
            return seen[scale]
        r0, r1 = max(0, math.floor((y0 - cy) * scale + dy) - 1), min(ho, math.ceil((y1 - cy) * scale + dy) + 1)
        c0, c1 = max(0, math.floor((x0 - cx) * scale + dx) - 1), min(wo, math.ceil((x1 - cx) * scale + dx) + 1)
        count = (
            0
            if r0 >= r1 or c0 >= c1
            else warp_count(alpha, thr, scale, cx, cy, dx, dy, r0, r1, c0, c1, rounding, consts)
        )
        seen[scale] = r = math.sqrt(count / n_out)
        return r

    return ratio


def refine_scale(ratio, scale, max_scale, target, tol):
    """Find a scale whose re-measured ratio is within ``tol`` of ``target``.

    Secant steps on ``ratio(scale) - target`` (a multiplicative step while
    there is no slope), then, because the re-measured ratio moves in jumps as
    the sampling grid's phase shifts, a local search of scales around the best
    one.  On masks whose ratio jumps by more than the tolerance (an all-opaque
    canvas) no scale may reach the target; the caller sees that in the
    returned ratio.  Returns ``(scale, ratio)`` of the best scale seen, at once
    when the ratio at ``max_scale`` is still below the target.
    """
    best = (math.inf, scale, 0.0)
    prev = None
    for _ in range(_SECANT_STEPS):
        r = ratio(scale)
        best = min(best, (abs(r - target), scale, r))
        if best[0] <= tol:
            return best[1], best[2]
        if scale == max_scale and r < target:
            # The cap keeps the target out of reach: smaller scales only shrink the object
            # further, so no search below the cap can do better.
            return best[1], best[2]
        if prev is not None and prev[1] != r:
            new = scale + (target - r) * (scale - prev[0]) / (r - prev[1])
        else:
            new = scale * (target / r if r > 0 else 2.0)
        new = min(max(new, scale / 4), scale * 4, max_scale)
        if new == scale:
            break
        prev, scale = (scale, r), new
    center = best[1]
    step = 0.25 * tol / target
    for k in range(1, _SEARCH_STEPS + 1):
        for sign in (1, -1):
            s = center * (1 + sign * k * step)
            if s > max_scale or s <= 0:
                continue
            r = ratio(s)
            best = min(best, (abs(r - target), s, r))
            if best[0] <= tol:
                return best[1], best[2]
    return best[1], best[2]


def tolerance(target, n_pixels):
    """Exact mode's tolerance on the size ratio: 1e-4, or one pixel's worth of area if larger."""
    return max(1e-4, math.sqrt(target * target + 1.0 / n_pixels) - target)


def _prepare(image, *, threshold, center, output_shape, fit, margin, exact):
    """Validate one view and return what planning needs.

    That is ``alpha, thr, measurement, frame, max_scale``.  For exact mode on
    RGBA8 the measure pass also unpacks ``alpha`` into a contiguous array,
    which the probes read faster than a stride-4 view.
    """
    alpha = alpha_of(image)
    thr = threshold_value(alpha.dtype, check_threshold(threshold))
    out_shape = alpha.shape if output_shape is None else check_shape(output_shape)
    words = alpha_words(np.asarray(image))
    unpacked = np.empty(alpha.shape, np.uint8) if exact and words is not None else None
    m = measure_alpha(alpha, thr, words, unpacked)
    if unpacked is not None:
        alpha = unpacked
    if m.count == 0:
        raise EmptyMaskError(
            f"no pixel has alpha > {threshold:g} (on the 0-255 scale) in this {alpha.shape} image, "
            f"so there is no object to scale; check the alpha channel or lower threshold."
        )
    src_c = _source_center(m, center)
    dst_c = (out_shape[1] / 2, out_shape[0] / 2)
    max_scale = fit_limit(m.bbox, src_c, dst_c, out_shape, margin) if fit else math.inf
    frame = ScaleTransform(1.0, src_c, dst_c, alpha.shape, out_shape)
    return alpha, thr, m, frame, max_scale


def plan_group(
    images, *, target=0.3, threshold=10, center="centroid", output_shape=None, fit=True, margin=0.0, exact=True
):
    """Plan one shared scale for a group of views (the views of one sample).

    Every view keeps its own centre (mapped to the centre of its canvas), but
    all are scaled alike, so their relative sizes survive.  The rule: the
    closed-form scale brings the *mean* size ratio of the views to ``target``
    (``target / mean(size_ratio)`` on same-size canvases); with ``fit`` it is
    capped by the smallest fit limit among the views, so no view is cut off;
    exact mode refines it until the mean of the re-measured ratios is within
    tolerance of ``target``.  Options are those of :func:`plan`.

    Returns
    -------
    list of ScaleTransform
        One per view, in order; ``achieved_ratio`` is each view's own ratio.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> small = np.zeros((100, 100), np.uint8); small[40:50, 40:50] = 255
    >>> large = np.zeros((100, 100), np.uint8); large[30:60, 30:60] = 255
    >>> ts = pixscale.plan_group([small, large], target=0.4, exact=False)
    >>> [round(t.scale, 4) for t in ts]
    [2.0, 2.0]
    """
    target = check_target(target)
    margin = float(margin)
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin is in output pixels and must be >= 0; got {margin!r}")
    if len(images) == 0:
        raise ValueError("plan_group needs at least one image")
    views = [
        _prepare(
            img, threshold=threshold, center=center, output_shape=output_shape, fit=fit, margin=margin, exact=exact
        )
        for img in images
    ]
    mean_ratio = sum(math.sqrt(m.count / (f.output_shape[0] * f.output_shape[1])) for _, _, m, f, _ in views) / len(
        views
    )
    scale = target / mean_ratio
    max_scale = min(v[4] for v in views)
    limited = scale > max_scale
    scale = min(scale, max_scale)
    achieved = [None] * len(views)
    tol = None
    if exact:
        probes = [_ratio_probe(alpha, thr, frame, m.bbox) for alpha, thr, m, frame, _ in views]
        n_min = min(f.output_shape[0] * f.output_shape[1] for _, _, _, f, _ in views)

        def mean_ratio_at(s):
            return sum(probe(s) for probe in probes) / len(probes)

        # Refine even when the closed form exceeds the fit cap: bilinear edges can make the
        # exact scale smaller than the cap.  Limited means the cap kept the target out of reach
        # (the ratio at the cap itself is short of it), not that the ratio missed the target:
        # that is `ScaleTransform.on_target`.
        tol = tolerance(target, n_min)
        scale, reached = refine_scale(mean_ratio_at, scale, max_scale, target, tol)
        limited = reached < target - tol and math.isfinite(max_scale) and mean_ratio_at(max_scale) < target - tol
        achieved = [probe(scale) for probe in probes]
    return [
        ScaleTransform(
            scale,
            f.src_center,
            f.dst_center,
            f.input_shape,
            f.output_shape,
            limited=limited,
            measurement=m,
            target=target,
            achieved_ratio=r,
            tolerance=tol,
        )
        for (_, _, m, f, _), r in zip(views, achieved, strict=True)
    ]


def plan(image, *, target=0.3, threshold=10, center="centroid", output_shape=None, fit=True, margin=0.0, exact=True):
    """Plan the scale-about-centre transform that gives the object the target size.

    Parameters
    ----------
    image : (H, W, 4), (H, W, 2) or (H, W) ndarray
        RGBA, gray+alpha or alpha alone (see :func:`pixscale.measure`).
    target : float, optional
        Wanted size ratio ``sqrt(object pixels / output pixels)``, in (0, 1].
        Default 0.3.
    threshold : float, optional
        Object mask is ``alpha > threshold``, on the 0-255 scale.  Default 10.
    center : {"centroid", "bbox", "image"} or (x, y), optional
        The source point that is mapped to the centre of the output canvas:
        the mask's centroid (default), the centre of its bbox, the centre of
        the input canvas, or an explicit point.
    output_shape : (int, int), optional
        (H, W) of the output canvas; default the input's.
    fit : bool, optional
        If True (default) the object is never cut off: when any output pixel
        outside the canvas (less ``margin``) would receive a non-zero sample
        of the object's bounding box, the scale is reduced just enough and
        ``limited`` is set.
    margin : float, optional
        Border, in output pixels, that ``fit`` keeps free of the object.
        Default 0.
    exact : bool, optional
        If True (default), refine the scale until the size ratio re-measured on
        the warped alpha is within 1e-4 of ``target`` (or one pixel's worth of
        area, on images too small for that), and record it as
        ``achieved_ratio``.  If False, use the closed form
        ``target / size_ratio`` of the original method.

    Returns
    -------
    ScaleTransform

    Raises
    ------
    EmptyMaskError
        If no pixel's alpha exceeds the threshold.

    Notes
    -----
    The closed-form scale is ``target * sqrt(Ho * Wo / count)``, i.e.
    ``target / size_ratio`` when the output canvas is the input's size.  The
    re-measured ratio of a bilinear resample is neither smooth nor monotonic in
    the scale (pixels cross the threshold in jumps as the grid's phase moves),
    which is why exact mode ends with a local search.  Exact mode warps only
    the alpha channel, on the window that can hold the object.

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
    (1.9048, 0.4)
    """
    return plan_group(
        [image],
        target=target,
        threshold=threshold,
        center=center,
        output_shape=output_shape,
        fit=fit,
        margin=margin,
        exact=exact,
    )[0]


def normalize(
    image,
    *,
    target=0.3,
    threshold=10,
    center="centroid",
    output_shape=None,
    fit=True,
    margin=0.0,
    exact=True,
    premultiplied=True,
    background=None,
):
    """Scale the object in an image to the target size about its centre.

    ``normalize(image, **kw)`` is ``warp(image, plan(image, **plan_kw), **warp_kw)``:
    :func:`pixscale.plan` measures the object and finds the scale,
    :func:`pixscale.warp` resamples.

    Parameters
    ----------
    image : (H, W, 4), (H, W, 2) or (H, W) ndarray
        RGBA, gray+alpha, or alpha alone; uint8, uint16, float32 or float64
        (floats in [0, 1], finite); any strides.
    target : float, optional
        Wanted size ratio ``sqrt(object pixels / output pixels)``, in (0, 1].
        Default 0.3.
    threshold : float, optional
        The object mask is ``alpha > threshold`` (strict), on the 0-255 scale
        whatever the dtype (x257 for uint16, /255 for floats).  Default 10.
    center : {"centroid", "bbox", "image"} or (x, y), optional
        The source point mapped to the centre of the output canvas: the
        mask's centroid (default), the centre of its bbox, the centre of the
        input canvas, or an explicit point in continuous pixel coordinates
        (pixel centres at +0.5).
    output_shape : (int, int), optional
        (H, W) of the output canvas; default the input's.
    fit : bool, optional
        If True (default) the scale is reduced where needed so the object is
        never cut off (see :func:`pixscale.plan`).
    margin : float, optional
        Border, in output pixels, that ``fit`` keeps free of the object.
        Default 0.
    exact : bool, optional
        If True (default) the scale is refined until the re-measured size
        ratio of the output is within 1e-4 of ``target`` (one pixel's worth
        of area on small canvases); if False, the closed form
        ``target / size_ratio``.  Use :func:`pixscale.plan` to see whether the
        target was reached (``ScaleTransform.on_target``).
    premultiplied : bool, optional
        If True (default) colour is interpolated premultiplied by alpha, so
        colour hidden under alpha = 0 never bleeds into the edges and fully
        transparent output pixels have colour 0.  If False, every channel is
        interpolated independently (as OpenCV does).
    background : float, sequence of float or str, optional
        Composite the colour onto this colour, keeping alpha (see
        :func:`pixscale.warp`): numbers in the image's own scale, or text on
        the 0-255 scale (``"white"``, ``"black"``, ``"gray"``, ``"#rrggbb"``,
        ``"r,g,b"``), which is white in every dtype for ``"white"``.  Default
        None: no compositing.

    Returns
    -------
    ndarray
        The normalized image: the same dtype and number of channels as
        ``image``, of shape (H, W) = ``output_shape`` (default the input's).

    Raises
    ------
    EmptyMaskError
        If no pixel's alpha exceeds the threshold (a ``ValueError``).
    TypeError
        For an unsupported dtype or a wrongly typed option (``target="0.3"``).
    ValueError
        For a wrong shape (no alpha channel: (H, W, 3)), float values outside
        [0, 1] or not finite, an option out of range (``target``,
        ``threshold``, ``margin``, ``center``, ``output_shape``) or an unknown
        background colour.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> img = np.zeros((200, 200, 4), np.uint8)
    >>> img[5:25, 5:25] = (200, 100, 50, 255)
    >>> out = pixscale.normalize(img, target=0.3)
    >>> out.shape, out.dtype
    ((200, 200, 4), dtype('uint8'))
    >>> round(pixscale.measure(out).size_ratio, 4)
    0.3
    """
    t = plan(
        image,
        target=target,
        threshold=threshold,
        center=center,
        output_shape=output_shape,
        fit=fit,
        margin=margin,
        exact=exact,
    )
    return warp(image, t, premultiplied=premultiplied, background=background)
