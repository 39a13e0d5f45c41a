"""Plain NumPy implementations of pixscale's kernels: the specification.

Every function here has the semantics of its Numba counterpart and is written
for clarity, not speed.  It imports nothing from the code it checks (an oracle
that shares a helper with production shares its bugs): the threshold
conversion, the mask statistics, the taps, the order of the float operations,
the rounding, the premultiplication and the compositing are all computed here
from scratch.  Only the public :class:`pixscale.Measurement` dataclass is used,
as a plain record, built directly from the values computed here.

Tests hold kernel and reference together *exactly* for measuring and the
bilinear warp: measurements are equal, warped images are equal element for
element (integer outputs and float outputs alike), because the reference
performs the same float operations in the same order and type as the kernel.
That order is part of the specification; see :func:`warp`.  The Lanczos-4
and area filters (:func:`filtered`) are specified in float64 as matrix
products; the kernels compute in float32 for all but float64 images and agree
to rounding (1 unit in the last place of integer outputs).  The component
filter of the object mask (:func:`object_mask`) labels components without
scipy.

Examples
--------
>>> import numpy as np, pixscale
>>> from pixscale import reference
>>> img = np.random.default_rng(0).integers(0, 256, (32, 48, 4), dtype=np.uint8)
>>> reference.measure(img) == pixscale.measure(img)
True
"""

import math

import numpy as np

#: Named colours for ``background``, on the 0-255 scale.
NAMED_COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}


# --- Measure ------------------------------------------------------------------


def alpha_channel(image):
    """The (H, W) alpha of an (H, W) mask, an (H, W, 1) mask, or the last channel of (H, W, 2|4)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (1, 2, 4):
        return image[:, :, -1]
    raise ValueError(f"expected (H, W), (H, W, 1), (H, W, 2) or (H, W, 4); got shape {image.shape}")


def threshold_in_units(dtype, threshold):
    """The threshold, given on the 0-255 scale, in the units of an alpha of ``dtype``.

    The mask is ``alpha > value`` (strict).  uint8: ``floor(threshold)``;
    uint16: ``floor(threshold * 257)`` (257 maps 255 to 65535); floats in
    [0, 1]: ``threshold / 255`` in the alpha's own float type.  Flooring an
    integer threshold keeps ``alpha > threshold`` exact for fractional
    thresholds: an integer exceeds 10.5 exactly when it exceeds 10.
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return math.floor(threshold)
    if dtype == np.uint16:
        return math.floor(threshold * 257)
    return dtype.type(threshold / 255)


def components(mask):
    """8-connected components of a bool mask, by repeated propagation: ``(labels, sizes)``.

    Every mask pixel starts with its own label (its raster index + 1) and
    takes the largest label among itself and its eight neighbours until
    nothing changes; each component ends up labelled by its last pixel in
    raster order.  ``sizes`` maps each final label to its pixel count.
    Written without scipy, as an oracle for the package's use of
    ``scipy.ndimage.label``; it is slow on large masks.
    """
    h, w = mask.shape
    labels = np.where(mask, np.arange(1, h * w + 1).reshape(h, w), 0)
    while True:
        padded = np.pad(labels, 1)
        grown = labels.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                grown = np.maximum(grown, padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w])
        grown = np.where(mask, grown, 0)
        if np.array_equal(grown, labels):
            break
        labels = grown
    values, counts = np.unique(labels[mask], return_counts=True)
    return labels, dict(zip(values.tolist(), counts.tolist(), strict=True))


def object_mask(image, *, threshold=10, min_component=None, keep="all"):
    """The object's pixels: ``alpha > threshold``, less the components the filter drops.

    Returns ``(mask, dropped_components, dropped_pixels)``.  With
    ``keep="largest"`` only the largest component stays (on a tie, the one
    whose first pixel comes first in raster order); otherwise components
    smaller than ``min_component`` go: a pixel count when it is at least 1,
    else that fraction of the largest component's count; the largest always
    stays.
    """
    alpha = alpha_channel(image)
    mask = alpha > threshold_in_units(alpha.dtype, threshold)
    if keep != "largest" and not min_component:
        return mask, 0, 0
    labels, sizes = components(mask)
    if len(sizes) <= 1:
        return mask, 0, 0
    first = {lab: int(np.flatnonzero(labels.ravel() == lab)[0]) for lab in sizes}
    largest = max(sizes, key=lambda lab: (sizes[lab], -first[lab]))
    if keep == "largest":
        kept = {largest}
    else:
        least = min_component if min_component >= 1 else min_component * sizes[largest]
        kept = {lab for lab, n in sizes.items() if n >= least} | {largest}
    lost = [lab for lab in sizes if lab not in kept]
    return np.isin(labels, list(kept)), len(lost), sum(sizes[lab] for lab in lost)


def measure_values(image, *, threshold=10, min_component=None, keep="all"):
    """Count, centroid and bbox of the object mask (:func:`object_mask`) as plain Python values.

    Returns ``(count, centroid, bbox, shape, dropped_components,
    dropped_pixels)``: ``centroid`` is the mean of the mask pixels' centres
    ``(j + 0.5, i + 0.5)`` as ``(x, y)``, ``bbox`` the half-open index box
    ``(x0, y0, x1, y1)``; both None for an empty mask.
    """
    mask, n_dropped, px_dropped = object_mask(image, threshold=threshold, min_component=min_component, keep=keep)
    shape = (int(mask.shape[0]), int(mask.shape[1]))
    rows, cols = np.nonzero(mask)
    count = int(rows.size)
    if count == 0:
        return 0, None, None, shape, n_dropped, px_dropped
    # Integer sums, one division each: the centroid is exact up to that division.
    centroid = (int(cols.sum()) / count + 0.5, int(rows.sum()) / count + 0.5)
    bbox = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    return count, centroid, bbox, shape, n_dropped, px_dropped


def measure(image, *, threshold=10, min_component=None, keep="all"):
    """Reference of :func:`pixscale.measure`: mask, then count, mean and extent of its pixels.

    Returns a :class:`pixscale.Measurement` built directly from
    :func:`measure_values`.
    """
    from . import Measurement  # the public record type only; nothing is computed there

    count, centroid, bbox, shape, n, px = measure_values(
        image, threshold=threshold, min_component=min_component, keep=keep
    )
    return Measurement(count, centroid, bbox, shape, n, px)


# --- Warp ---------------------------------------------------------------------


def work_type(dtype):
    """The float type the warp computes in: float64 for float64 images, float32 for all others."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


def axis_taps(n_out, n_src, scale, src_c, dst_c, work):
    """Bilinear taps along one axis: ``(i0, w0, i1, w1)``, one entry per output pixel.

    Output pixel ``k`` has its centre at ``k + 0.5``; mapped back it is the
    continuous source coordinate ``(k + 0.5 - dst_c) / scale + src_c``.  Its
    neighbouring source centres are pixels ``i0 = floor(u)`` and ``i1 = i0 + 1``
    with ``u`` that coordinate less 0.5, and ``f = u - i0``.  The weights are
    ``w0 = 1 - f`` and ``w1 = f``, computed in float64 and then rounded to the
    working type ``work``; a tap outside ``[0, n_src)`` has weight 0 (and an
    index clipped into range, so it can still be read).
    """
    u = (np.arange(n_out) + 0.5 - dst_c) / scale + src_c - 0.5
    i0 = np.floor(u)
    f = u - i0
    i0 = i0.astype(np.int64)
    i1 = i0 + 1
    w0 = np.where((i0 >= 0) & (i0 < n_src), 1.0 - f, 0.0).astype(work)
    w1 = np.where((i1 >= 0) & (i1 < n_src), f, 0.0).astype(work)
    return np.clip(i0, 0, n_src - 1), w0, np.clip(i1, 0, n_src - 1), w1


def lerp(p, w0, q, w1, premultiplied, compute=None):
    """``w0 * p + w1 * q`` over the channels (last axis), rounded to the type of the weights.

    With ``premultiplied`` the weights are first multiplied by each pixel's
    alpha (the last channel), ``a = w0 * alpha_p`` and ``b = w1 * alpha_q``;
    the colour is ``a * p + b * q`` and the alpha ``a + b``: colour comes out
    premultiplied.  Exactly these products and this sum, in this order, each
    rounded to the type ``compute`` (default: the weights' type); the result
    is then rounded to the weights' type.
    """
    work = w0.dtype.type
    compute = work if compute is None else compute
    p, q = p.astype(compute), q.astype(compute)
    w0, w1 = w0[..., None].astype(compute), w1[..., None].astype(compute)
    if not premultiplied:
        return (w0 * p + w1 * q).astype(work)
    a = w0 * p[..., -1:]
    b = w1 * q[..., -1:]
    return np.concatenate([a * p[..., :-1] + b * q[..., :-1], a + b], axis=-1).astype(work)


def _float_in_range(image):
    """``image``; float images hold [0, 1] (colour and alpha), anything else is a ValueError."""
    if image.dtype.kind == "f" and image.size and (image.min() < 0 or image.max() > 1):
        raise ValueError("a float image must hold values in [0, 1] (colour and alpha)")
    return image


def finish(v, dtype, premultiplied):
    """Interpolated values ``v`` (working type) to output pixels of ``dtype``.

    Premultiplied colour is divided back by its alpha ``wa`` as a product with
    the reciprocal: for integer images ``c * (1 / wa)`` in the working type
    where ``wa >= 0.5`` and colour 0 elsewhere (so a pixel whose stored alpha
    is 0 has colour 0); for float images ``c * (1 / wa)`` in float64 where
    ``wa`` exceeds float64's smallest normal number, else 0, then rounded to
    the image's type.  Integer outputs are clipped to ``[0, max]``, 0.5 is
    added in the working type and the result is truncated: rounding half up;
    float outputs are clipped to [0, 1].
    """
    work = v.dtype.type
    if premultiplied:
        colour, wa = v[..., :-1], v[..., -1:]
        if np.dtype(dtype).kind == "u":
            with np.errstate(divide="ignore"):
                inv = np.where(wa >= work(0.5), work(1) / wa, work(0))
        else:
            with np.errstate(divide="ignore", over="ignore"):
                inv = np.where(wa > np.finfo(np.float64).tiny, 1.0 / wa.astype(np.float64), 0.0)
        v = np.concatenate([colour * inv, wa], axis=-1)
    if np.dtype(dtype).kind == "u":
        top = work(np.iinfo(dtype).max)
        v = np.floor(np.minimum(np.maximum(v, work(0)), top) + work(0.5))
    else:  # float images hold [0, 1]; every filter's float output is clipped to it
        v = np.clip(v, 0.0, 1.0)
    return v.astype(dtype)


def warp(image, transform, *, premultiplied=True, background=None):
    """Reference of :func:`pixscale.warp`: separable bilinear sampling at inverse-mapped pixel centres.

    Output pixel ``(i, j)`` is the bilinear interpolation of the input at the
    output pixel centre ``(j + 0.5, i + 0.5)`` mapped back by ``transform``;
    taps outside the input are transparent, which pads the canvas.

    The arithmetic, which the kernel performs identically:

    * taps from :func:`axis_taps` per axis, in the working type of
      :func:`work_type` (float32 for integer and float32 images);
    * two separable :func:`lerp` passes; the first pass reads the source and,
      with ``premultiplied`` (and 2 or 4 channels), weights colour by alpha;
      the second blends the first pass's values with plain weights.  For
      ``scale >= 1`` the horizontal pass runs first, for ``scale < 1`` the
      vertical pass.  Every product and sum is rounded to the working type,
      except in a vertical first pass over a uint16 source, which computes in
      float64 and rounds each result once to float32;
    * :func:`finish`: divide back, clip, round half up.

    ``background`` (a number or one per colour channel, in the image's own
    scale, or a colour name / ``"#rrggbb"`` on the 0-255 scale) composites the
    colour as in :func:`composite`.
    """
    image = _float_in_range(np.asarray(image))
    src = image if image.ndim == 3 else image[:, :, None]
    h, w, nc = src.shape
    ho, wo = transform.output_shape
    (cx, cy), (dx, dy) = transform.src_center, transform.dst_center
    work = work_type(image.dtype)
    ys0, wy0, ys1, wy1 = axis_taps(ho, h, transform.scale, cy, dy, work)
    xs0, wx0, xs1, wx1 = axis_taps(wo, w, transform.scale, cx, dx, work)
    premult = premultiplied and nc in (2, 4)
    if transform.scale >= 1:
        rows = lerp(src[:, xs0], wx0[None, :], src[:, xs1], wx1[None, :], premult)  # (H, Wo, C)
        v = lerp(rows[ys0], wy0[:, None], rows[ys1], wy1[:, None], False)
    else:
        # The vertical pass reads the source values themselves; for uint16 it computes in float64
        # (numba types float32 * uint16 as float64) and stores float32.
        compute = np.float64 if image.dtype == np.uint16 else work
        cols = lerp(src[ys0], wy0[:, None], src[ys1], wy1[:, None], premult, compute)  # (Ho, W, C)
        v = lerp(cols[:, xs0], wx0[None, :], cols[:, xs1], wx1[None, :], False)
    out = finish(v, image.dtype, premult)
    if background is not None:
        out = composite(out, background)
    return out if image.ndim == 3 else out[:, :, 0]


class _Canvas:
    """What :func:`warp` reads of a transform."""

    def __init__(self, scale, src_center, dst_center, output_shape):
        self.scale, self.src_center, self.dst_center, self.output_shape = scale, src_center, dst_center, output_shape


def probe_count(alpha, thr, scale, src_center, dst_center, rows, cols):
    """Reference of exact mode's probe: how many pixels of a window of the bilinear warp of ``alpha`` exceed ``thr``.

    ``alpha`` (H, W) is warped on its own, straight (no premultiplication),
    by :func:`warp` onto a canvas that holds the window ``range(*rows)`` x
    ``range(*cols)`` (both starting at 0 or later); the count is that of its
    pixels ``> thr`` in the window.
    """
    t = _Canvas(scale, src_center, dst_center, (rows[1], cols[1]))
    out = warp(np.asarray(alpha), t, premultiplied=False)[rows[0] :, cols[0] :]
    return int(np.count_nonzero(out > thr))


# --- Tap filters: Lanczos-4 and area -------------------------------------------


def lanczos4_weights(n_out, n_src, scale, src_c, dst_c):
    """The (n_out, n_src) matrix of Lanczos-4 weights along one axis.

    Output pixel ``k`` samples the source at ``u = (k + 0.5 - dst_c) / scale
    + src_c - 0.5`` (source pixel ``i`` centred at ``i``).  Its taps are the
    eight pixels ``floor(u) - 3 ... floor(u) + 4`` with weights
    ``sinc(d) * sinc(d / 4)`` of their distance ``d = u - i`` (numpy's
    normalised ``sinc``), divided by the sum of all eight; taps outside the
    source are left out (transparent padding), without renormalising.  This
    is OpenCV's ``INTER_LANCZOS4`` kernel, evaluated at the exact position
    (OpenCV rounds it to 1/32 pixel).
    """
    u = (np.arange(n_out) + 0.5 - dst_c) / scale + src_c - 0.5
    base = np.floor(u).astype(np.int64) - 3
    taps = base[:, None] + np.arange(8)[None, :]  # (n_out, 8) source indices
    d = u[:, None] - taps
    d = np.where(np.abs(d - np.round(d)) < 1e-9, np.round(d), d)  # exact zeros at whole pixels
    k = np.sinc(d) * np.sinc(d / 4)
    k /= k.sum(axis=1, keepdims=True)
    weights = np.zeros((n_out, n_src))
    inside = (taps >= 0) & (taps < n_src)
    rows = np.broadcast_to(np.arange(n_out)[:, None], taps.shape)
    weights[rows[inside], taps[inside]] = k[inside]
    return weights


def area_weights(n_out, n_src, scale, src_c, dst_c):
    """The (n_out, n_src) matrix of area (box filter) weights along one axis.

    Output pixel ``k`` covers ``[k, k + 1)``; mapped back that is the source
    interval ``[a, b)``, ``a = (k - dst_c) / scale + src_c``, width
    ``1 / scale``.  Source pixel ``i`` covers ``[i, i + 1)`` and weighs the
    length of the overlap times ``scale``: the fraction of the output pixel
    it fills.  Outside the source there is nothing (transparent padding).
    """
    k = np.arange(n_out)[:, None]
    a = (k - dst_c) / scale + src_c
    b = (k + 1 - dst_c) / scale + src_c
    i = np.arange(n_src)[None, :]
    return np.clip(np.minimum(i + 1, b) - np.maximum(i, a), 0, None) * scale


def filter_weights(name, n_out, n_src, scale, src_c, dst_c):
    """The weight matrix of the filter ``name`` along one axis (bilinear as a matrix too).

    ``"area"`` is bilinear at scales of 1 and above; ``"auto"`` is area below
    1, Lanczos-4 above 1 and bilinear at 1.
    """
    if name == "auto":
        name = "area" if scale < 1 else "lanczos4" if scale > 1 else "bilinear"
    if name == "area" and scale >= 1:
        name = "bilinear"
    if name == "lanczos4":
        return lanczos4_weights(n_out, n_src, scale, src_c, dst_c)
    if name == "area":
        return area_weights(n_out, n_src, scale, src_c, dst_c)
    u = (np.arange(n_out) + 0.5 - dst_c) / scale + src_c - 0.5
    weights = np.zeros((n_out, n_src))
    i0 = np.floor(u).astype(np.int64)
    for i, w in ((i0, 1 - (u - i0)), (i0 + 1, u - i0)):
        ok = (i >= 0) & (i < n_src)
        weights[np.nonzero(ok)[0], i[ok]] = w[ok]
    return weights


def filtered(image, transform, *, filter, premultiplied=True):
    """Reference of :func:`pixscale.warp` with ``filter=``: the separable filter in float64.

    Each output pixel is ``sum_y sum_x Wy[i, y] * Wx[j, x] * src[y, x]``
    with the weight matrices of :func:`filter_weights`, computed as two
    matrix products in float64; with ``premultiplied`` (2 or 4 channels) the
    colour is multiplied by alpha first and divided back after (colour 0
    where the stored alpha would be 0).  Integer outputs are clipped to the
    dtype's range and rounded half up; float outputs are clipped to [0, 1].
    The kernel computes in float32 for all but float64 images, so it agrees
    with this to within rounding (1 unit of the last place of integer
    outputs; see the tests), not bit for bit.
    """
    image = _float_in_range(np.asarray(image))
    src = (image if image.ndim == 3 else image[:, :, None]).astype(np.float64)
    h, w, nc = src.shape
    ho, wo = transform.output_shape
    (cx, cy), (dx, dy) = transform.src_center, transform.dst_center
    wy = filter_weights(filter, ho, h, transform.scale, cy, dy)
    wx = filter_weights(filter, wo, w, transform.scale, cx, dx)
    premult = premultiplied and nc in (2, 4)
    if premult:
        src = np.concatenate([src[..., :-1] * src[..., -1:], src[..., -1:]], axis=-1)
    v = (wy @ src.reshape(h, w * nc)).reshape(ho, w, nc)  # rows first: sum_y Wy[i, y] src[y]
    v = np.matmul(wx, v)  # then columns, per output row: sum_x Wx[j, x] v[i, x]
    integer = image.dtype.kind == "u"
    if premult:
        alpha = v[..., -1:]
        stored = alpha >= 0.5 if integer else alpha > np.finfo(np.float64).tiny
        with np.errstate(divide="ignore", invalid="ignore"):
            colour = np.where(stored, v[..., :-1] / np.where(stored, alpha, 1), 0.0)
        v = np.concatenate([colour, alpha], axis=-1)
    if integer:
        v = np.floor(np.clip(v, 0, np.iinfo(image.dtype).max) + 0.5)
    else:
        v = np.clip(v, 0.0, 1.0)
    out = v.astype(image.dtype)
    return out if image.ndim == 3 else out[:, :, 0]


def background_values(background, dtype, n_colour):
    """The background colour as ``n_colour`` floats in the scale of ``dtype``.

    A number applies to every colour channel; a sequence gives one value per
    channel; both are in the image's own scale (255 is white for uint8, 65535
    for uint16, 1.0 for floats).  A name (``"white"``, ``"black"``,
    ``"gray"``/``"grey"``) or ``"#rrggbb"`` is on the 0-255 scale and is
    converted like the threshold: x257 for uint16, /255 for floats, so white
    is white in every dtype; for a gray+alpha image it is the mean of R, G, B.
    """
    if isinstance(background, str):
        text = background.strip().lower()
        if text in NAMED_COLOURS:
            rgb = NAMED_COLOURS[text]
        else:
            rgb = (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))  # "#rrggbb"
        if np.dtype(dtype) == np.uint8:
            values = [float(v) for v in rgb]
        elif np.dtype(dtype) == np.uint16:
            values = [float(v * 257) for v in rgb]
        else:
            values = [v / 255 for v in rgb]
        return [sum(values) / 3] if n_colour == 1 else values
    if np.ndim(background) == 0:
        return [float(background)] * n_colour
    return [float(v) for v in background]


def composite(image, background):
    """Composite the colour of a warped (H, W, 2|4) image onto a background colour, keeping alpha.

    With ``a = alpha / top`` in float64 (``top`` the dtype's maximum, 1.0 for
    floats), colour becomes ``colour * a + background * (1 - a)``; integer
    results are rounded half up (``floor(x + 0.5)``) and clipped to ``[0, top]``.
    """
    top = float(np.iinfo(image.dtype).max) if image.dtype.kind == "u" else 1.0
    bg = np.array(background_values(background, image.dtype, image.shape[2] - 1), dtype=np.float64)
    a = image[..., -1:].astype(np.float64) / top
    colour = image[..., :-1].astype(np.float64) * a + bg * (1.0 - a)
    if image.dtype.kind == "u":
        colour = np.clip(np.floor(colour + 0.5), 0, top)
    return np.concatenate([colour.astype(image.dtype), image[..., -1:]], axis=-1)
