"""Device functions of the tap filters (Lanczos-4, area): one output pixel, as :mod:`pixscale.kernels.taps` computes it.

Per axis an output pixel takes a run of consecutive source pixels ``lo ...
lo + cnt - 1`` (all inside the source) with weights computed in float64 and
rounded to float32: Lanczos-4's eight (:func:`lanczos8`, into a local array)
or the area filter's overlaps (:func:`weight`, on the fly: their number grows
as ``1 / scale``).  The sums run in the CPU kernel's order: for ``scale < 1``
each source column of the run is summed vertically first (colour weighted by
alpha when premultiplied), then the columns horizontally; else each source
row horizontally first, then the rows.  Every value is converted to float32
before any arithmetic (``store.to_work``), products and sums go through
:func:`~pixscale.kernels.gpu.device.fmul` and ``fadd`` (no FMA).

The float64 weights use ``sin``: libdevice's on the device, the C library's on
the CPU (and in the simulator); they may differ in the last bit of a float64,
which can move a float32 weight by an ulp and an output by 1 LSB.
"""

import math

from numba import cuda, float64

from ..lanczos import LANCZOS_TAPS
from ..lanczos import lanczos8 as lanczos8_weights
from .device import f32, fadd, fmul

#: Filter codes of the kernels: bilinear, Lanczos-4, area and "auto" (chosen per view by its scale).
BILINEAR, LANCZOS4, AREA, AUTO = 0, 1, 2, 3


@cuda.jit(device=True)
def resolve(code, scale):
    """The concrete filter a view at ``scale`` uses (``pixscale._filters.resolve``)."""
    if code == AUTO:
        return AREA if scale < 1.0 else LANCZOS4 if scale > 1.0 else BILINEAR
    if code == AREA and scale >= 1.0:
        return BILINEAR
    return code


#: The 8 Lanczos-4 weights of a phase: :func:`pixscale.kernels.lanczos.lanczos8` (the CPU's, one home) on the device.
lanczos8 = cuda.jit(device=True)(lanczos8_weights)


@cuda.jit(device=True)
def axis(code, k, n_src, scale, src_c, dst_c, coef):
    """The run of output pixel ``k`` on one axis: ``(lo, cnt, base, a, b)`` (``lanczos_taps`` / ``area_taps``).

    Lanczos-4: ``coef`` receives the 8 weights of taps ``base ... base + 7``.
    Area: the pixel covers the source interval ``[a, b)``.
    """
    if code == LANCZOS4:
        u = (k + 0.5 - dst_c) / scale + src_c - 0.5
        f0 = math.floor(u)
        base = int(f0) - 3
        lo = max(base, 0)
        hi = min(base + LANCZOS_TAPS, n_src)
        cnt = hi - lo if hi > lo else 0
        if cnt > 0:
            lanczos8(u - f0, coef)
        return lo, cnt, base, 0.0, 0.0
    a = (k - dst_c) / scale + src_c
    b = (k + 1 - dst_c) / scale + src_c
    lo = max(int(math.floor(a)), 0)
    hi = min(int(math.ceil(b)), n_src)
    return lo, hi - lo if hi > lo else 0, 0, a, b


@cuda.jit(device=True)
def weight(code, t, lo, base, a, b, scale, coef):
    """The float32 weight of tap ``t`` of a run from :func:`axis`."""
    if code == LANCZOS4:
        return f32(coef[lo + t - base])
    i = lo + t
    return f32((min(i + 1.0, b) - max(float(i), a)) * scale)


@cuda.jit(device=True)
def taps_pixel(code, src, n, i, j, scale, src_cx, src_cy, dst_cx, dst_cy, premult):
    """Output pixel ``(i, j)`` of view ``n`` under a tap filter: ``(live, v0, v1, v2, v3)``, unstored.

    ``live`` is False where either axis has no tap (the pixel is 0); the
    channels past ``src``'s are 0.  ``premult`` (four channels): colour
    premultiplied by alpha, to be divided back by the store.
    """
    h = src.shape[1]
    w = src.shape[2]
    nc = src.shape[3]
    cy = cuda.local.array(LANCZOS_TAPS, float64)
    cx = cuda.local.array(LANCZOS_TAPS, float64)
    ylo, yn, ybase, ya, yb = axis(code, i, h, scale, src_cy, dst_cy, cy)
    xlo, xn, xbase, xa, xb = axis(code, j, w, scale, src_cx, dst_cx, cx)
    z = f32(0.0)
    if yn == 0 or xn == 0:
        return False, z, z, z, z
    s0 = z
    s1 = z
    s2 = z
    s3 = z
    last = nc - 1
    if scale < 1.0:  # each column of the run summed vertically, then the columns
        for tx in range(xn):
            x = xlo + tx
            a0 = z
            a1 = z
            a2 = z
            a3 = z
            for ty in range(yn):
                y = ylo + ty
                q = weight(code, ty, ylo, ybase, ya, yb, scale, cy)
                if premult:
                    q = fmul(q, f32(src[n, y, x, 3]))
                    a3 = fadd(a3, q)
                elif nc == 4:
                    a3 = fadd(a3, fmul(q, f32(src[n, y, x, 3])))
                a0 = fadd(a0, fmul(q, f32(src[n, y, x, 0])))
                a1 = fadd(a1, fmul(q, f32(src[n, y, x, 1])))
                a2 = fadd(a2, fmul(q, f32(src[n, y, x, min(2, last)])))
            q = weight(code, tx, xlo, xbase, xa, xb, scale, cx)
            s0 = fadd(s0, fmul(q, a0))
            s1 = fadd(s1, fmul(q, a1))
            s2 = fadd(s2, fmul(q, a2))
            s3 = fadd(s3, fmul(q, a3))
    else:  # each row of the run summed horizontally, then the rows
        for ty in range(yn):
            y = ylo + ty
            h0 = z
            h1 = z
            h2 = z
            h3 = z
            for tx in range(xn):
                x = xlo + tx
                q = weight(code, tx, xlo, xbase, xa, xb, scale, cx)
                if premult:
                    q = fmul(q, f32(src[n, y, x, 3]))
                    h3 = fadd(h3, q)
                elif nc == 4:
                    h3 = fadd(h3, fmul(q, f32(src[n, y, x, 3])))
                h0 = fadd(h0, fmul(q, f32(src[n, y, x, 0])))
                h1 = fadd(h1, fmul(q, f32(src[n, y, x, 1])))
                h2 = fadd(h2, fmul(q, f32(src[n, y, x, min(2, last)])))
            q = weight(code, ty, ylo, ybase, ya, yb, scale, cy)
            s0 = fadd(s0, fmul(q, h0))
            s1 = fadd(s1, fmul(q, h1))
            s2 = fadd(s2, fmul(q, h2))
            s3 = fadd(s3, fmul(q, h3))
    return True, s0, s1, s2, s3


@cuda.jit(device=True)
def taps_alpha(code, alpha, view, ylo, yn, ybase, ya, yb, cy, j, scale, src_cx, dst_cx):
    """The tap filter's warp of ``alpha[view]`` (one straight channel) at column ``j`` of a row.

    The row's run is ``ylo, yn, ybase, ya, yb`` and ``cy`` from :func:`axis`
    (``yn > 0``); float32, unstored; 0 where the column has no tap.
    """
    cx = cuda.local.array(LANCZOS_TAPS, float64)
    xlo, xn, xbase, xa, xb = axis(code, j, alpha.shape[2], scale, src_cx, dst_cx, cx)
    s = f32(0.0)
    if xn == 0:
        return s
    if scale < 1.0:
        for tx in range(xn):
            acc = f32(0.0)
            for ty in range(yn):
                q = weight(code, ty, ylo, ybase, ya, yb, scale, cy)
                acc = fadd(acc, fmul(q, f32(alpha[view, ylo + ty, xlo + tx])))
            s = fadd(s, fmul(weight(code, tx, xlo, xbase, xa, xb, scale, cx), acc))
    else:
        for ty in range(yn):
            acc = f32(0.0)
            for tx in range(xn):
                q = weight(code, tx, xlo, xbase, xa, xb, scale, cx)
                acc = fadd(acc, fmul(q, f32(alpha[view, ylo + ty, xlo + tx])))
            s = fadd(s, fmul(weight(code, ty, ylo, ybase, ya, yb, scale, cy), acc))
    return s
