"""Plain NumPy implementations of pixscale's kernels: the specification.

Every function here has the semantics of its Numba counterpart and is written
for clarity, not speed.  Tests hold kernel and reference together (integers
within 1 LSB, floats within 1e-5 relative) and benchmarks time one against
the other.

Examples
--------
>>> import numpy as np, pixscale
>>> from pixscale import reference
>>> img = np.random.default_rng(0).integers(0, 256, (32, 48, 4), dtype=np.uint8)
>>> reference.measure(img) == pixscale.measure(img)
True
"""

import numpy as np

from ._measure import Measurement
from ._validate import alpha_of, check_array, check_threshold, threshold_value
from ._warp import _check_transform, composite


def measure(image, *, threshold=10):
    """Reference of :func:`pixscale.measure`: mask, then count, mean and extent of its pixels."""
    alpha = alpha_of(image)
    mask = alpha > threshold_value(alpha.dtype, check_threshold(threshold))
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return Measurement.from_sums(0, 0, 0, None, mask.shape)
    bbox = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return Measurement.from_sums(xs.size, xs.sum(), ys.sum(), bbox, mask.shape)


def _sample(src, yi, xi):
    """``src[yi, xi]`` as float64, with every sample outside the image equal to 0."""
    h, w = src.shape[:2]
    inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
    vals = src[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)].astype(np.float64)
    return vals * inside[..., None]


def warp(image, transform, *, premultiplied=True, background=None):
    """Reference of :func:`pixscale.warp`: bilinear sampling at inverse-mapped pixel centres."""
    image = check_array(image)
    _check_transform(transform, image)
    src = image if image.ndim == 3 else image[:, :, None]
    nc = src.shape[2]
    ho, wo = transform.output_shape
    # Centres of the output pixels, mapped back into the source.
    yy, xx = np.mgrid[0:ho, 0:wo].astype(np.float64)
    (cx, cy), (dx, dy) = transform.src_center, transform.dst_center
    u = (xx + 0.5 - dx) / transform.scale + cx - 0.5
    v = (yy + 0.5 - dy) / transform.scale + cy - 0.5
    x0, y0 = np.floor(u), np.floor(v)
    fx, fy = (u - x0)[..., None], (v - y0)[..., None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    taps = [
        ((1 - fy) * (1 - fx), _sample(src, y0, x0)),
        ((1 - fy) * fx, _sample(src, y0, x0 + 1)),
        (fy * (1 - fx), _sample(src, y0 + 1, x0)),
        (fy * fx, _sample(src, y0 + 1, x0 + 1)),
    ]
    if premultiplied and nc in (2, 4):
        a = sum(w * s[..., -1:] for w, s in taps)
        colour = sum(w * s[..., :-1] * s[..., -1:] for w, s in taps)
        stored = np.floor(a + 0.5) if image.dtype.kind == "u" else a
        with np.errstate(divide="ignore", invalid="ignore"):
            colour = np.where(stored > 0, colour / a, 0.0)
        out = np.concatenate([colour, a], axis=-1)
    else:
        out = sum(w * s for w, s in taps)
    if image.dtype.kind == "u":
        out = np.clip(np.floor(out + 0.5), 0, np.iinfo(image.dtype).max)
    out = out.astype(image.dtype)
    if background is not None:
        out = composite(out, background)
    return out if image.ndim == 3 else out[:, :, 0]
