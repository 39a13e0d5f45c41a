"""Resample-and-pad: the public ``warp`` on top of the Numba kernels, for every filter."""

import functools
import numbers
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._device import gpu, on_device
from ._filters import CODES, check_filter, resolve
from ._transform import ScaleTransform
from ._validate import check_array, check_float_range, parse_colour
from .kernels import kernels


def work_dtype(dtype):
    """Float type the kernel interpolates in: float64 for float64 images, else float32."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


_CONSTANTS: dict[np.dtype, np.ndarray] = {}


def kernel_constants(dtype):
    """The warp kernels' constants for images of ``dtype``: ``[0, 0.5, 1, max]`` in the work dtype.

    ``max`` is the integer dtype's largest value (0 for floats).  One array
    per dtype, made once and shared by every call and thread: the kernels
    only read it.
    """
    consts = _CONSTANTS.get(dtype)
    if consts is None:
        rounding = dtype.kind == "u"
        consts = np.array([0.0, 0.5, 1.0, np.iinfo(dtype).max if rounding else 0.0], dtype=work_dtype(dtype))
        _CONSTANTS[dtype] = consts
    return consts


def resampler(filter, scale, dtype=None, nc=None):
    """The kernels of ``filter`` at ``scale``: ``(warp_window, warp_count)`` with the bilinear signatures.

    The one place that dispatches on the filter (see :mod:`pixscale._filters`):
    bilinear has its own kernels, Lanczos-4 and area share the tap kernels of
    :mod:`pixscale.kernels.taps`, bound to their code.  A run that only warps
    bilinearly never compiles the tap kernels.  A bilinear warp of ``nc`` 4
    channels takes a kernel compiled for four: for ``dtype`` uint8 the RGBA
    kernel of its side of scale 1, else ``warp_window4`` (the same bits, and a
    first call compiles the four-channel passes, not every channel count's).
    """
    k = kernels()
    code = CODES[resolve(filter, scale)]
    if code == 0:
        if nc == 4 and dtype == np.uint8:
            return (k.warp_rgba8_up if scale >= 1.0 else k.warp_rgba8_down), bilinear_count
        return (k.warp_window4 if nc == 4 else k.warp_window), bilinear_count
    return functools.partial(k.warp_taps_window, code), functools.partial(k.warp_taps_count, code)


#: Seconds of plain bilinear counts with a ``memo`` after which a process compiles the span count
#: for that alpha dtype.  The compile takes about a second and then serves every later process
#: from the kernel cache, so half of that: some 2,000 to 10,000 probes at 512² (a few hundred views).
SPAN_COUNT_AFTER_S = 0.5

#: Per alpha dtype: True once the span count is compiled or cached, else the seconds of plain counts so
#: far, or -1 before the first (which compiles the plain count, and is not counted).
_SPAN_COUNT: dict[np.dtype, bool | float] = {}


def _span_label(dtype):
    return f"spans-{np.dtype(dtype).name}"


def _span_state(dtype):
    state = _SPAN_COUNT.get(dtype)
    if state is None:
        import numba

        from .kernels import cache as _cache

        ready = numba.config.DISABLE_JIT or _cache.is_warm(_span_label(dtype))  # type: ignore[attr-defined]
        state = _SPAN_COUNT[dtype] = True if ready else -1.0
    return state


def bilinear_count(alpha, thr, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts, memo=None):
    """Exact mode's bilinear count: ``kernels().warp_count``, with ``memo`` once the span count is compiled.

    With a ``memo`` the kernel counts with :func:`pixscale.kernels.probe.count_spans`,
    which takes about a second per alpha dtype to compile; the plain count
    (the full one-channel warp, with the kernel the image warp compiles anyway,
    then the count: see ``warp_count``) gives the same count.  So the span count is used only
    where it costs no compile: when the kernel cache holds it (a marker
    written by the process that compiled it), after :func:`use_span_count`
    (:func:`pixscale.precompile` calls it: a dataset run compiles it up
    front), or once this process has spent :data:`SPAN_COUNT_AFTER_S` in
    plain counts of that dtype (not counting the first, which compiles).  A first ``normalize`` thus compiles no
    probe kernel of its own.
    """
    args = (alpha, thr, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts)
    if memo is None:
        return kernels().warp_count(*args)
    state = _span_state(alpha.dtype)
    if state is True:
        return kernels().warp_count(*args, memo)
    if state >= SPAN_COUNT_AFTER_S:
        n = kernels().warp_count(*args, memo)  # compiles (or loads) the span count
        _SPAN_COUNT[alpha.dtype] = True
        from .kernels import cache as _cache

        _cache.mark_warm(_span_label(alpha.dtype))
        return n
    t0 = time.perf_counter()
    n = kernels().warp_count(*args, memo, spans=False)
    _SPAN_COUNT[alpha.dtype] = state + (time.perf_counter() - t0) if state >= 0 else 0.0
    return n


def use_span_count(dtypes):
    """Have exact mode's bilinear probes of alpha ``dtypes`` use the span count from their next call on.

    The next probe compiles it (or loads it from the kernel cache) and
    records in the cache that it is there, for later processes; see
    :func:`bilinear_count`.
    """
    for d in dtypes:
        if _span_state(np.dtype(d)) is not True:
            _SPAN_COUNT[np.dtype(d)] = SPAN_COUNT_AFTER_S


def warp_region(src, transform, rows, cols, alpha_ch, out, filter="bilinear"):
    """Resample output rows ``range(*rows)`` x columns ``range(*cols)`` of ``src`` (H, W, C) into ``out``.

    ``filter`` is a name of :data:`pixscale._filters.FILTERS`, resolved here
    for the transform's scale.

    ``rows`` and ``cols`` are ``(start, stop)`` pairs on the output canvas;
    ``out`` is a C-contiguous (rows[1] - rows[0], cols[1] - cols[0], C) array of ``src``'s
    dtype; ``alpha_ch`` is ``C - 1`` to interpolate premultiplied by alpha, or
    -1.  ``src`` may have any strides (a source whose pixels cannot be viewed
    as flat, unit-stride rows is copied).
    """
    if not out.flags.c_contiguous:  # pragma: no cover - internal invariant
        raise ValueError("warp_region needs a C-contiguous out")
    h, w, nc = src.shape
    rounding = src.dtype.kind == "u"
    consts = kernel_constants(src.dtype)
    (cx, cy), (dx, dy) = transform.src_center, transform.dst_center
    flat = src.reshape(h, w * nc)
    if flat.strides[1] != flat.itemsize:  # the kernel reads pixels fastest as contiguous vectors
        flat = np.ascontiguousarray(flat)
    resampler(filter, transform.scale, src.dtype, nc)[0](
        flat,
        nc,
        transform.scale,
        cx,
        cy,
        dx,
        dy,
        rows[0],
        cols[0],
        alpha_ch >= 0,
        rounding,
        consts,
        out.reshape(rows[1] - rows[0], (cols[1] - cols[0]) * nc),
    )
    return out


def _check_transform(transform, image):
    if not isinstance(transform, ScaleTransform):
        raise TypeError(
            f"transform must be a pixscale.ScaleTransform (from pixscale.plan); got {type(transform).__name__}"
        )
    if tuple(image.shape[:2]) != transform.input_shape:
        raise ValueError(
            f"the transform was planned for images of shape (H, W) = {transform.input_shape}; "
            f"got an image of shape {image.shape}. Plan on an image of the same size."
        )


def colour_in_scale(text, dtype, n_colour):
    """A colour given as text (see :func:`parse_colour`, 0-255 scale) in the scale of ``dtype``.

    Returns ``n_colour`` floats, or None for ``"transparent"``/``"none"``.
    Converted like the threshold: x1 for uint8, x257 for uint16, /255 for
    floats, so ``"white"`` is the dtype's white (255, 65535 or 1.0).  For a
    gray+alpha image (one colour channel) it is the mean of R, G and B.
    """
    rgb = parse_colour(text)
    if rgb is None:
        return None
    dtype = np.dtype(dtype)
    if dtype == np.uint16:
        values = [v * 257 for v in rgb]
    elif dtype.kind == "f":
        values = [v / 255 for v in rgb]
    else:
        values = list(rgb)
    return [sum(values) / 3] if n_colour == 1 else values


def background_colour(background, dtype, shape):
    """``background`` (as in :func:`warp`) for images of ``dtype`` and ``shape``: float64 colour values, or None.

    None for ``"transparent"``; raises ``ValueError`` for an image without
    alpha or a colour that is not one number or one per colour channel, in
    ``[0, top]`` of the dtype.  (The GPU path checks its ``background`` here.)
    """
    nc = shape[2] if len(shape) == 3 else 1
    if nc not in (2, 4):
        raise ValueError(
            f"`background=` needs an image with an alpha channel, (H, W, 2) or (H, W, 4); got shape {tuple(shape)}"
        )
    if isinstance(background, str):
        background = colour_in_scale(background, dtype, nc - 1)
        if background is None:
            return None
    if isinstance(background, numbers.Real):
        background = [background] * (nc - 1)
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (nc - 1,) or not np.isfinite(bg).all():
        raise ValueError(
            f"`background=` must be one number or {nc - 1} numbers (a colour for the colour channels, "
            f"in the image's own scale, e.g. 255 for white uint8); got {background!r}"
        )
    top = float(np.iinfo(dtype).max) if np.dtype(dtype).kind == "u" else 1.0
    if (bg < 0).any() or (bg > top).any():
        raise ValueError(
            f"`background=` values must lie in [0, {top:g}] for {np.dtype(dtype)} images; got {background!r}"
        )
    return bg


def composite(image, background):
    """Composite the colour of a warped image onto a background colour, keeping alpha.

    Colour becomes ``colour * a + background * (1 - a)`` with ``a`` the alpha
    in [0, 1]; the alpha channel itself is kept so the result can still be
    measured.  ``image`` is (H, W, 2) or (H, W, 4); returns a new array.
    ``background`` is as in :func:`warp`; ``"transparent"`` returns ``image``.
    """
    bg = background_colour(background, image.dtype, image.shape)
    if bg is None:
        return image
    top = float(np.iinfo(image.dtype).max) if image.dtype.kind == "u" else 1.0
    a = image[..., -1:].astype(np.float64) / top
    colour = image[..., :-1] * a + bg * (1.0 - a)
    out = np.empty_like(image)
    if image.dtype.kind == "u":
        np.clip(np.floor(colour + 0.5), 0, top, out=colour)
    out[..., :-1] = colour
    out[..., -1] = image[..., -1]
    return out


def warp(
    image: ArrayLike,
    transform: ScaleTransform,
    *,
    premultiplied: bool = True,
    background: float | Sequence[float] | str | None = None,
    filter: str | None = None,
) -> np.ndarray:
    """Resample-and-pad an image by a :class:`ScaleTransform`.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray, C in 1..4
        uint8, uint16, float32 or float64; any strides.  With 2 or 4
        channels the last one is alpha.  On a CUDA device (a CuPy array, a
        torch CUDA tensor, a Numba device array; uint8, uint16 or float32,
        3 or 4 channels) it is warped on the GPU and comes back the same kind
        there (see "On the GPU").
    transform : ScaleTransform
        From :func:`pixscale.plan` (or built directly) for images of shape (H, W).
    premultiplied : bool, optional
        If True (default) colour is interpolated premultiplied by alpha and
        divided back, so colour hidden under alpha = 0 never bleeds into the
        edges, and fully transparent output pixels have zero colour.  If
        False, channels are interpolated independently (as OpenCV does).
        Ignored for images without alpha (1 or 3 channels).
    background : float, sequence of float or str, optional
        If given, the colour channels are composited onto this colour; alpha
        is kept.  Needs 2 or 4 channels.  Numbers are in the image's own
        scale (white is 255 for uint8, 65535 for uint16, 1.0 for floats), one
        for all colour channels or one per channel.  Text is a colour on the
        0-255 scale, as on the command line: ``"white"``, ``"black"``,
        ``"gray"``, ``"#rrggbb"`` or ``"r,g,b"``, converted to the image's
        scale like the threshold (x257 for uint16, /255 for floats), so
        ``"white"`` is white in every dtype; a gray+alpha image gets the mean
        of R, G and B.  ``"transparent"`` means no background.
    filter : {"bilinear", "lanczos4", "area", "auto"}, optional
        The resampling filter; default: the transform's own ``filter`` (the
        one it was planned with, ``"bilinear"`` unless asked otherwise).
        ``"lanczos4"`` is OpenCV's 8x8 Lanczos kernel (sharper upscaling,
        slight ringing at hard edges); ``"area"`` averages the source area each
        output pixel covers when shrinking (no aliasing) and is bilinear at
        scales of 1 and above; ``"auto"`` is ``"area"`` below scale 1,
        ``"lanczos4"`` above it.  For a given transform the filter never
        changes the geometry: the map, and so the camera intrinsics, are the
        transform's.

    Returns
    -------
    ndarray of shape ``transform.output_shape`` (+ channels) and the input dtype

    Notes
    -----
    Output pixel ``(i, j)`` is the filter's interpolation of the input at the
    inverse-mapped output pixel centre ``(j + 0.5, i + 0.5)``.  Samples outside
    the input are transparent (all channels 0), which pads the canvas.
    Integer outputs are rounded half up and clipped to the dtype's range;
    float images must hold values in [0, 1] (colour and alpha; ``ValueError``
    otherwise), and every filter's float output is clipped to [0, 1]
    (Lanczos ringing would otherwise leave that range next to hard edges).

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> img = np.zeros((4, 4), np.uint8); img[1:3, 1:3] = 200
    >>> t = pixscale.ScaleTransform(scale=1.0, src_center=(2, 2), dst_center=(3, 2),
    ...                             input_shape=(4, 4), output_shape=(4, 4))
    >>> pixscale.warp(img, t)
    array([[  0,   0,   0,   0],
           [  0,   0, 200, 200],
           [  0,   0, 200, 200],
           [  0,   0,   0,   0]], dtype=uint8)
    """
    if on_device(image):  # the GPU path: pixscale._gpu
        return gpu().warp(image, transform, premultiplied, background, None if filter is None else check_filter(filter))
    img = check_float_range(check_array(image))
    _check_transform(transform, img)
    filter = transform.filter if filter is None else check_filter(filter)
    return warp_checked(img, transform, premultiplied, background, filter)


def warp_checked(image, transform, premultiplied, background, filter=None, out=None):
    """:func:`warp` of a checked image, composited onto ``background``; into ``out`` when given.

    ``out`` is a C-contiguous array of the output's shape and ``image``'s
    dtype (an image of a batch); without it a new array is returned.
    """
    if isinstance(background, str):  # checked before the work is done
        background = colour_in_scale(background, image.dtype, (image.shape[2] if image.ndim == 3 else 1) - 1)
    target = np.empty(transform.output_shape + image.shape[2:], image.dtype) if out is None else out
    warp_into(image, transform, premultiplied, target, filter)
    if background is None:
        return target
    composited = composite(target, background)
    if out is None:
        return composited
    out[...] = composited
    return out


def warp_into(image, transform, premultiplied, out, filter=None):
    """:func:`warp` of a checked image into a preallocated C-contiguous ``out``; returns ``out``."""
    src = image if image.ndim == 3 else image[:, :, None]
    nc = src.shape[2]
    alpha_ch = nc - 1 if premultiplied and nc in (2, 4) else -1
    ho, wo = transform.output_shape
    filter = transform.filter if filter is None else filter
    warp_region(src, transform, (0, ho), (0, wo), alpha_ch, out.reshape(ho, wo, nc), filter)
    if out.dtype.kind == "f":  # every filter's float output lies in [0, 1] (bilinear's to the last ulp)
        np.clip(out, 0.0, 1.0, out=out)
    return out
