"""Numba kernels: the store every warp ends with (rounding, and the float to image dtype store)."""

import numpy as np

from . import jit

# Integer images always interpolate in float32; literal constants let LLVM vectorise.
_Z, _H, _O = np.float32(0.0), np.float32(0.5), np.float32(1.0)
_TINY64 = float(np.finfo(np.float64).tiny)


@jit
def finish(v, nc, premult, rounding, consts, orow):
    """Store one row of interpolated values ``v`` into ``orow``.

    Premultiplied colour is divided back by its alpha (0 where the *stored*
    alpha is 0).  ``rounding`` clips to ``[0, maxval]`` and rounds half up
    (the integer store truncates the non-negative value).
    ``consts`` holds ``0, 0.5, 1, maxval`` in the working float type.
    """
    maxval = consts[3]
    if not premult:
        if rounding:
            for k in range(orow.shape[0]):
                orow[k] = min(max(v[k], _Z), maxval) + _H
        else:
            for k in range(orow.shape[0]):
                orow[k] = v[k]
        return
    last = nc - 1
    if nc == 4 and rounding:
        for j in range(orow.shape[0] // 4):
            o = 4 * j
            c0, c1, c2, wa = v[o], v[o + 1], v[o + 2], v[o + 3]
            inv = _O / wa if wa >= _H else _Z
            orow[o] = min(max(c0 * inv, _Z), maxval) + _H
            orow[o + 1] = min(max(c1 * inv, _Z), maxval) + _H
            orow[o + 2] = min(max(c2 * inv, _Z), maxval) + _H
            orow[o + 3] = min(max(wa, _Z), maxval) + _H
    elif rounding:
        for j in range(orow.shape[0] // nc):
            o = nc * j
            wa = v[o + last]
            inv = _O / wa if wa >= _H else _Z
            for c in range(last):
                orow[o + c] = min(max(v[o + c] * inv, _Z), maxval) + _H
            orow[o + last] = min(max(wa, _Z), maxval) + _H
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


@jit
def _clip01(orow):
    """Float outputs of a tap filter stay in [0, 1], the range of float images (ringing leaves it)."""
    for k in range(orow.shape[0]):
        orow[k] = min(max(orow[k], 0.0), 1.0)


@jit
def to_work(row, rowf):
    """``rowf[k] = row[k]``: source values in the working float type."""
    for k in range(row.shape[0]):
        rowf[k] = row[k]
