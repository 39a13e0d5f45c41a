"""Device functions: one output pixel of the bilinear warp, and its store (shared by every warp kernel).

:func:`bilinear_pixel` computes and stores all channels of one output pixel
exactly as :func:`pixscale.kernels.bilinear.warp_bilinear` does (the pass
order of the scale, the premultiplication, :mod:`pixscale.kernels.store`'s
rounding); :func:`bilinear_alpha` is its one straight channel for the probe.
:func:`store_pixel` and :func:`store_premult` end every warp, bilinear or tap.
"""

from numba import cuda

from .device import (
    clip01,
    dmul,
    f32,
    f64,
    fmul,
    hblend_premult,
    lerp,
    reciprocal,
    reciprocal64,
    rounded,
    taps,
    vblend,
    vblend_premult,
)


@cuda.jit(device=True)
def store_premult(out, n, i, j, v0, v1, v2, v3, rounding, maxval):
    """Store premultiplied RGBA ``v``: colour divided back by alpha, then rounded (integers) or clipped (floats).

    Integers: ``store.store_premult4`` (a float32 reciprocal, 0 where the
    stored alpha is 0).  Floats: ``store.finish``'s float64 reciprocal, then
    [0, 1] as :func:`pixscale.warp` clips.
    """
    if rounding:
        inv = reciprocal(v3)
        out[n, i, j, 0] = rounded(fmul(v0, inv), maxval)
        out[n, i, j, 1] = rounded(fmul(v1, inv), maxval)
        out[n, i, j, 2] = rounded(fmul(v2, inv), maxval)
        out[n, i, j, 3] = rounded(v3, maxval)
    else:
        inv64 = reciprocal64(v3)
        out[n, i, j, 0] = clip01(f32(dmul(f64(v0), inv64)))
        out[n, i, j, 1] = clip01(f32(dmul(f64(v1), inv64)))
        out[n, i, j, 2] = clip01(f32(dmul(f64(v2), inv64)))
        out[n, i, j, 3] = clip01(v3)


@cuda.jit(device=True)
def store_pixel(out, n, i, j, k, v, rounding, maxval):
    """Store one straight channel: rounded half up and clipped (integers), or clipped to [0, 1] (floats)."""
    if rounding:
        out[n, i, j, k] = rounded(v, maxval)
    else:
        out[n, i, j, k] = clip01(v)


@cuda.jit(device=True)
def bilinear_pixel(src, out, n, i, j, scale, src_cx, src_cy, dst_cx, dst_cy, premult, rounding, wide, maxval):
    """Output pixel ``(i, j)`` of view ``n``, all channels: the bilinear warp of ``src[n]``.

    The pass order is the CPU kernel's: for ``scale < 1`` the vertical pass
    reads the source (``vblend``), else the horizontal one.  ``premult``
    (four channels): colour weighted by alpha and divided back.  Pixels whose
    taps all lie outside the source are 0.
    """
    h = src.shape[1]
    w = src.shape[2]
    nc = src.shape[3]
    ya, yb, a, b = taps(i, h, scale, src_cy, dst_cy)
    xa, xb, c, d = taps(j, w, scale, src_cx, dst_cx)
    if (a == 0 and b == 0) or (c == 0 and d == 0):
        for k in range(nc):
            out[n, i, j, k] = 0
        return
    if premult:
        if scale < 1.0:
            p0, p1, p2, p3 = vblend_premult(
                a, b, src[n, ya, xa, 0], src[n, ya, xa, 1], src[n, ya, xa, 2], src[n, ya, xa, 3],
                src[n, yb, xa, 0], src[n, yb, xa, 1], src[n, yb, xa, 2], src[n, yb, xa, 3], wide,
            )  # fmt: skip
            q0, q1, q2, q3 = vblend_premult(
                a, b, src[n, ya, xb, 0], src[n, ya, xb, 1], src[n, ya, xb, 2], src[n, ya, xb, 3],
                src[n, yb, xb, 0], src[n, yb, xb, 1], src[n, yb, xb, 2], src[n, yb, xb, 3], wide,
            )  # fmt: skip
            v0 = lerp(c, p0, d, q0)
            v1 = lerp(c, p1, d, q1)
            v2 = lerp(c, p2, d, q2)
            v3 = lerp(c, p3, d, q3)
        else:
            p0, p1, p2, p3 = hblend_premult(
                c, d, src[n, ya, xa, 0], src[n, ya, xa, 1], src[n, ya, xa, 2], src[n, ya, xa, 3],
                src[n, ya, xb, 0], src[n, ya, xb, 1], src[n, ya, xb, 2], src[n, ya, xb, 3],
            )  # fmt: skip
            q0, q1, q2, q3 = hblend_premult(
                c, d, src[n, yb, xa, 0], src[n, yb, xa, 1], src[n, yb, xa, 2], src[n, yb, xa, 3],
                src[n, yb, xb, 0], src[n, yb, xb, 1], src[n, yb, xb, 2], src[n, yb, xb, 3],
            )  # fmt: skip
            v0 = lerp(a, p0, b, q0)
            v1 = lerp(a, p1, b, q1)
            v2 = lerp(a, p2, b, q2)
            v3 = lerp(a, p3, b, q3)
        store_premult(out, n, i, j, v0, v1, v2, v3, rounding, maxval)
        return
    for k in range(nc):
        if scale < 1.0:
            v = lerp(
                c,
                vblend(a, src[n, ya, xa, k], b, src[n, yb, xa, k], wide),
                d,
                vblend(a, src[n, ya, xb, k], b, src[n, yb, xb, k], wide),
            )
        else:
            v = lerp(
                a,
                lerp(c, f32(src[n, ya, xa, k]), d, f32(src[n, ya, xb, k])),
                b,
                lerp(c, f32(src[n, yb, xa, k]), d, f32(src[n, yb, xb, k])),
            )
        store_pixel(out, n, i, j, k, v, rounding, maxval)


@cuda.jit(device=True)
def bilinear_alpha(alpha, view, ya, yb, a, b, j, scale, src_cx, dst_cx, wide):
    """The bilinear warp of ``alpha[view]`` (one straight channel) at column ``j`` of a row with taps ``ya, yb, a, b``.

    float32, unstored; 0 where the column's taps all lie outside the source.
    """
    xa, xb, c, d = taps(j, alpha.shape[2], scale, src_cx, dst_cx)
    if c == 0 and d == 0:
        return f32(0.0)
    if scale < 1.0:
        return lerp(
            c,
            vblend(a, alpha[view, ya, xa], b, alpha[view, yb, xa], wide),
            d,
            vblend(a, alpha[view, ya, xb], b, alpha[view, yb, xb], wide),
        )
    return lerp(
        a,
        lerp(c, f32(alpha[view, ya, xa]), d, f32(alpha[view, ya, xb])),
        b,
        lerp(c, f32(alpha[view, yb, xa]), d, f32(alpha[view, yb, xb])),
    )
