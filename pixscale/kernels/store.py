"""Numba kernels: the store every warp ends with, rounding and the float to image dtype store, written once.

The bilinear and the tap warps (:mod:`pixscale.kernels.bilinear`,
:mod:`pixscale.kernels.taps`) interpolate in a float type and end each
output row here: premultiplied colour is divided back by its alpha, integer
images are clipped and rounded half up, float images are stored as they are.
The NumPy specification is :func:`pixscale.reference.finish`.
"""

import numpy as np

from . import jit, jit_helper, jit_inline
from .simd import store16

# Integer images always interpolate in float32; literal constants let LLVM vectorise.
_Z, _H, _O = np.float32(0.0), np.float32(0.5), np.float32(1.0)
_TINY64 = float(np.finfo(np.float64).tiny)


@jit_helper
def rounded(x, maxval):
    """``x`` clipped to ``[0, maxval]`` plus a half: the integer store truncates it to ``x`` rounded half up."""
    return min(max(x, _Z), maxval) + _H


@jit_helper
def store_premult4(c0, c1, c2, wa, maxval, orow, o):
    """Store the premultiplied RGBA value ``c0, c1, c2, wa`` rounded into ``orow[o:o + 4]``.

    The colour is divided back by the alpha, and is 0 where the stored alpha
    rounds to 0 (``wa < 0.5``).
    """
    inv = _O / wa if wa >= _H else _Z
    orow[o] = rounded(c0 * inv, maxval)
    orow[o + 1] = rounded(c1 * inv, maxval)
    orow[o + 2] = rounded(c2 * inv, maxval)
    orow[o + 3] = rounded(wa, maxval)


@jit_inline
def store_premult_row4(v, maxval, orow):
    """Store a row of premultiplied RGBA values ``v`` rounded into ``orow``: :func:`store_premult4` per pixel.

    Four pixels at a time in one 16-lane vector (:func:`pixscale.kernels.simd.store16`,
    the same arithmetic), the last few one by one.
    """
    n4 = orow.shape[0] // 16
    for j in range(n4):
        store16(v, maxval, orow, 16 * j)
    for j in range(4 * n4, orow.shape[0] // 4):
        o = 4 * j
        store_premult4(v[o], v[o + 1], v[o + 2], v[o + 3], maxval, orow, o)


@jit_inline
def store_straight(v, rounding, maxval, orow):
    """:func:`finish` of straight values: rounded (``rounding``) or as they are."""
    if rounding:
        for k in range(orow.shape[0]):
            orow[k] = rounded(v[k], maxval)
    else:
        for k in range(orow.shape[0]):
            orow[k] = v[k]


@jit_helper
def finish(v, nc, premult, rounding, consts, orow):
    """Store one row of interpolated values ``v`` into ``orow``.

    Premultiplied colour is divided back by its alpha (0 where the *stored*
    alpha is 0).  ``rounding`` clips to ``[0, maxval]`` and rounds half up
    (the integer store truncates the non-negative value).
    ``consts`` holds ``0, 0.5, 1, maxval`` in the working float type.
    Four channels take :func:`finish4`.
    """
    if nc == 4:
        finish4(v, premult, rounding, consts, orow)
        return
    maxval = consts[3]
    if not premult:
        store_straight(v, rounding, maxval, orow)
        return
    last = nc - 1
    if rounding:
        for j in range(orow.shape[0] // nc):
            o = nc * j
            wa = v[o + last]
            inv = _O / wa if wa >= _H else _Z
            for c in range(last):
                orow[o + c] = rounded(v[o + c] * inv, maxval)
            orow[o + last] = rounded(wa, maxval)
    else:
        # Float images: the reciprocal is taken in float64, finite for every float32 alpha
        # (subnormal ones included); float64 alphas below its smallest normal are treated as 0.
        for j in range(orow.shape[0] // nc):
            o = nc * j
            wa = v[o + last]
            inv = 1.0 / np.float64(wa) if wa > _TINY64 else 0.0
            for c in range(last):
                orow[o + c] = v[o + c] * inv
            orow[o + last] = wa


@jit_helper
def finish4(v, premult, rounding, consts, orow):
    """:func:`finish` of four channels (RGBA), the same values: each store written for four, which LLVM vectorises.

    The four-channel kernel (:func:`pixscale.kernels.bilinear.warp_window4`)
    calls it directly, so it compiles no other channel count's store.  The
    float images' premultiplied store ran 3-4x faster so than as the loop over
    channels of :func:`finish` (docs/benchmarks.md).
    """
    maxval = consts[3]
    if not premult:
        store_straight(v, rounding, maxval, orow)
    elif rounding:
        store_premult_row4(v, maxval, orow)
    else:  # float images, as in finish
        for j in range(orow.shape[0] // 4):
            o = 4 * j
            wa = v[o + 3]
            inv = 1.0 / np.float64(wa) if wa > _TINY64 else 0.0
            orow[o] = v[o] * inv
            orow[o + 1] = v[o + 1] * inv
            orow[o + 2] = v[o + 2] * inv
            orow[o + 3] = wa


@jit_helper
def clip01(orow):
    """Float outputs of a tap filter stay in [0, 1], the range of float images (ringing leaves it)."""
    for k in range(orow.shape[0]):
        orow[k] = min(max(orow[k], 0.0), 1.0)


@jit
def to_work(row, rowf):
    """``rowf[k] = row[k]``: source values in the working float type."""
    for k in range(row.shape[0]):
        rowf[k] = row[k]
