"""Numba kernels of the tap filters (Lanczos-4, area).

A tap filter gives each output pixel, per axis, a run of consecutive source
pixels ``lo, lo + 1, ... lo + cnt - 1`` (all inside the source) and their
weights; source pixels outside the image are transparent, so they are simply
left out of the run (the canvas is padded, not the image extended).  The
two axes are separable and :func:`warp_taps` runs them in the order that
reads fewer values:

* upscaling: each needed source row is resampled horizontally once into a
  ring of ``K`` rows (``K`` the most taps an output row has), and output
  rows are weighted sums of that ring;
* downscaling: the source rows of each output row are summed vertically
  (contiguous, over the live columns only), then resampled horizontally.

Every value is converted to the working float type before any arithmetic,
and every alpha value is computed by the same operations in the same order
whatever the channel count, so an alpha-only warp matches the alpha channel
of a full warp bit for bit (exact mode relies on this).  The NumPy
specification is :mod:`pixscale.reference`.
"""

import math

import numpy as np

from . import jit, jit_helper, jit_inline, jit_strict
from .lanczos import LANCZOS_TAPS, lanczos8
from .store import clip01, finish, to_work

#: The Lanczos-4 weights (:func:`pixscale.kernels.lanczos.lanczos8`, shared with the CUDA kernels), strict.
_lanczos8 = jit_strict(lanczos8)


@jit_strict
def lanczos_taps(start, n_src, scale, src_c, dst_c, lo, cnt, w):
    """Lanczos-4 taps along one axis for the output pixels ``start, start + 1, ...``.

    Output pixel ``k`` maps back to the source coordinate
    ``u = (k + 0.5 - dst_c) / scale + src_c - 0.5`` (in units where source
    pixel ``i`` has its centre at ``i``).  Its 8 taps are the pixels
    ``floor(u) - 3 ... floor(u) + 4``, weighted by :func:`_lanczos8` (in
    float64, then stored in ``w``'s type).  Taps outside ``[0, n_src)`` are
    dropped without renormalising: the outside is transparent.  Fills
    ``lo``, ``cnt`` (int64) and ``w`` (n, 8); returns the half-open range of
    output pixels with ``cnt > 0``.
    """
    first = -1
    last = 0
    coef = np.empty(LANCZOS_TAPS)
    for k in range(lo.shape[0]):
        u = (start + k + 0.5 - dst_c) / scale + src_c - 0.5
        f0 = np.floor(u)
        base = int(f0) - 3
        a = max(base, 0)
        b = min(base + LANCZOS_TAPS, n_src)
        n = b - a if b > a else 0
        lo[k] = a
        cnt[k] = n
        if n == 0:
            continue
        _lanczos8(u - f0, coef)
        for t in range(n):
            w[k, t] = coef[a + t - base]
        if first < 0:
            first = k
        last = k + 1
    return (first, last) if first >= 0 else (0, 0)


@jit_strict
def area_width(scale, n_src):
    """The most source pixels one output pixel of the area filter covers along an axis of ``n_src`` at ``scale``.

    ``floor(1 / scale) + 2``, and never more than the source has (computed in
    floats, so an absurdly small scale neither overflows nor allocates).
    """
    return int(min(math.floor(1.0 / scale) + 2.0, float(n_src)))


@jit_strict
def area_taps(start, n_src, scale, src_c, dst_c, lo, cnt, w):
    """Area (box filter) taps along one axis for the output pixels ``start, start + 1, ...``.

    Output pixel ``k`` covers ``[k, k + 1)``, which maps back to the source
    interval ``[a, b)`` with ``a = (k - dst_c) / scale + src_c`` and
    ``b = (k + 1 - dst_c) / scale + src_c``.  Source pixel ``i`` (covering
    ``[i, i + 1)``) gets the weight ``(min(i + 1, b) - max(i, a)) * scale``:
    the fraction of the output pixel it fills.  Pixels outside
    ``[0, n_src)`` are dropped (transparent).  ``w`` needs
    :func:`area_width` columns.  Fills ``lo``, ``cnt`` and ``w``; returns
    the half-open range of output pixels with ``cnt > 0``.
    """
    first = -1
    last = 0
    for k in range(lo.shape[0]):
        a = (start + k - dst_c) / scale + src_c
        b = (start + k + 1 - dst_c) / scale + src_c
        i0 = max(int(np.floor(a)), 0)
        i1 = min(int(np.ceil(b)), n_src)
        n = i1 - i0 if i1 > i0 else 0
        lo[k] = i0
        cnt[k] = n
        for t in range(n):
            i = i0 + t
            w[k, t] = (min(i + 1.0, b) - max(float(i), a)) * scale
        if n > 0:
            if first < 0:
                first = k
            last = k + 1
    return (first, last) if first >= 0 else (0, 0)


@jit_helper
def _add_row(w, rowf, nc, premult, acc):
    """``acc += w * rowf`` over a flat row; with ``premult`` colour is weighted by ``w * alpha``."""
    if not premult:
        for k in range(acc.shape[0]):
            acc[k] = acc[k] + w * rowf[k]
        return
    if nc == 4:
        for j in range(acc.shape[0] // 4):
            o = 4 * j
            p = w * rowf[o + 3]
            acc[o] = acc[o] + p * rowf[o]
            acc[o + 1] = acc[o + 1] + p * rowf[o + 1]
            acc[o + 2] = acc[o + 2] + p * rowf[o + 2]
            acc[o + 3] = acc[o + 3] + p
        return
    last = nc - 1
    for j in range(acc.shape[0] // nc):
        o = nc * j
        p = w * rowf[o + last]
        for c in range(last):
            acc[o + c] = acc[o + c] + p * rowf[o + c]
        acc[o + last] = acc[o + last] + p


@jit_helper
def _gather_taps(rowf, nc, lo, cnt, w, j_lo, j_hi, x_min, premult, zero, dst):
    """Horizontal pass: ``dst`` pixel ``j - j_lo`` is the weighted sum of its run of ``rowf`` pixels.

    ``rowf`` is a flat float row starting at source column ``x_min``.  With
    ``premult`` colour is weighted by ``w * alpha`` and alpha by ``w``.
    """
    if nc == 4:
        for j in range(j_lo, j_hi):
            b = 4 * (lo[j] - x_min)
            s0 = zero
            s1 = zero
            s2 = zero
            s3 = zero
            for t in range(cnt[j]):
                p = b + 4 * t
                q = w[j, t]
                if premult:
                    q = q * rowf[p + 3]
                    s3 = s3 + q
                else:
                    s3 = s3 + q * rowf[p + 3]
                s0 = s0 + q * rowf[p]
                s1 = s1 + q * rowf[p + 1]
                s2 = s2 + q * rowf[p + 2]
            o = 4 * (j - j_lo)
            dst[o] = s0
            dst[o + 1] = s1
            dst[o + 2] = s2
            dst[o + 3] = s3
        return
    if nc == 1:  # alpha alone: exact mode's probe
        for j in range(j_lo, j_hi):
            b = lo[j] - x_min
            s0 = zero
            if cnt[j] == LANCZOS_TAPS:  # the interior: a fixed trip count, unrolled
                for t in range(LANCZOS_TAPS):
                    s0 = s0 + w[j, t] * rowf[b + t]
            else:
                for t in range(cnt[j]):
                    s0 = s0 + w[j, t] * rowf[b + t]
            dst[j - j_lo] = s0
        return
    last = nc - 1
    for j in range(j_lo, j_hi):
        b = nc * (lo[j] - x_min)
        o = nc * (j - j_lo)
        for c in range(nc):
            dst[o + c] = zero
        for t in range(cnt[j]):
            p = b + nc * t
            q = w[j, t]
            if premult:
                q = q * rowf[p + last]
                for c in range(last):
                    dst[o + c] = dst[o + c] + q * rowf[p + c]
                dst[o + last] = dst[o + last] + q
            else:
                for c in range(nc):
                    dst[o + c] = dst[o + c] + q * rowf[p + c]


@jit_helper
def _live_row(orow, n_taps, k_lo, k_hi):
    """Zero the transparent parts of an output row: all of it without taps (returns False), else its ends."""
    if n_taps == 0:
        orow[:] = 0
        return False
    orow[:k_lo] = 0
    orow[k_hi:] = 0
    return True


@jit_inline
def warp_taps(src, nc, ylo, ycnt, wy, xlo, xcnt, wx, j_lo, j_hi, vertical_first, premult, rounding, consts, out):
    """Tap-filter resample-and-pad of flat rows ``src`` (H, W*nc) into ``out`` (ny, nx*nc).

    Output row ``i`` takes source rows ``ylo[i] ... ylo[i] + ycnt[i] - 1``
    with weights ``wy[i, :ycnt[i]]``; output column ``j`` likewise with
    ``xlo``, ``xcnt``, ``wx``.  Columns outside ``[j_lo, j_hi)`` and rows
    without taps are transparent fills.  ``premult`` interpolates colour
    premultiplied by the last channel; ``rounding`` and ``consts`` are as
    for :func:`~pixscale.kernels.store.finish`, whose store ends every row; float rows are then
    clipped to [0, 1] (:func:`~pixscale.kernels.store.clip01`).
    """
    ny = out.shape[0]
    zero = consts[0]
    wd = consts.dtype
    k_lo = nc * j_lo
    k_hi = nc * j_hi
    if j_hi <= j_lo:
        out[:] = 0
        return
    x_min = xlo[j_lo]
    x_max = x_min
    for j in range(j_lo, j_hi):
        x_max = max(x_max, xlo[j] + xcnt[j])
    s_lo = nc * x_min
    s_hi = nc * x_max
    rowf = np.empty(s_hi - s_lo, wd)
    v = np.empty(k_hi - k_lo, wd)
    straight = np.bool_(False)  # a run-time False: a literal one would compile _add_row again for it
    if vertical_first:
        acc = np.empty(s_hi - s_lo, wd)
        for i in range(ny):
            orow = out[i]
            if not _live_row(orow, ycnt[i], k_lo, k_hi):
                continue
            acc[:] = zero
            for t in range(ycnt[i]):
                to_work(src[ylo[i] + t, s_lo:s_hi], rowf)
                _add_row(wy[i, t], rowf, nc, premult, acc)
            # A literal False on purpose: the straight-only copy of the gather it compiles (0.2 s,
            # once) keeps the area filter's shrink 10-20% faster than a run-time False does.
            _gather_taps(acc, nc, xlo, xcnt, wx, j_lo, j_hi, x_min, False, zero, v)
            finish(v, nc, premult, rounding, consts, orow[k_lo:k_hi])
            if not rounding:
                clip01(orow[k_lo:k_hi])
        return
    ring = wy.shape[1]
    rows = np.empty((ring, k_hi - k_lo), wd)
    tags = np.full(ring, -1, np.int64)
    for i in range(ny):
        orow = out[i]
        if not _live_row(orow, ycnt[i], k_lo, k_hi):
            continue
        v[:] = zero
        for t in range(ycnt[i]):
            r = ylo[i] + t
            slot = r % ring
            if tags[slot] != r:
                to_work(src[r, s_lo:s_hi], rowf)
                _gather_taps(rowf, nc, xlo, xcnt, wx, j_lo, j_hi, x_min, premult, zero, rows[slot])
                tags[slot] = r
            _add_row(wy[i, t], rows[slot], nc, straight, v)
        finish(v, nc, premult, rounding, consts, orow[k_lo:k_hi])
        if not rounding:
            clip01(orow[k_lo:k_hi])


@jit
def warp_taps_window(filt, src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, premult, rounding, consts, out):
    """:func:`pixscale.kernels.bilinear.warp_window` for a tap filter: Lanczos-4 (``filt`` 1) or area (``filt`` 2).

    Taps of both axes (:func:`lanczos_taps` or :func:`area_taps`) for the
    output window at rows ``r0...`` and columns ``c0...``, then :func:`warp_taps`
    (inlined).  The filter is a run-time choice: the first use of either tap
    filter compiles the taps of both (a fraction of a second) and one warp,
    and a probe makes one kernel call, as the bilinear one does.
    """
    h = src.shape[0]
    w = src.shape[1] // nc
    ny = out.shape[0]
    nx = out.shape[1] // nc
    wd = consts.dtype
    ylo = np.empty(ny, np.int64)
    ycnt = np.empty(ny, np.int64)
    xlo = np.empty(nx, np.int64)
    xcnt = np.empty(nx, np.int64)
    wy = np.zeros((ny, LANCZOS_TAPS if filt == 1 else area_width(scale, h)), wd)
    wx = np.zeros((nx, LANCZOS_TAPS if filt == 1 else area_width(scale, w)), wd)
    if filt == 1:
        lanczos_taps(r0, h, scale, src_cy, dst_cy, ylo, ycnt, wy)
        j_lo, j_hi = lanczos_taps(c0, w, scale, src_cx, dst_cx, xlo, xcnt, wx)
    else:
        area_taps(r0, h, scale, src_cy, dst_cy, ylo, ycnt, wy)
        j_lo, j_hi = area_taps(c0, w, scale, src_cx, dst_cx, xlo, xcnt, wx)
    warp_taps(src, nc, ylo, ycnt, wy, xlo, xcnt, wx, j_lo, j_hi, scale < 1.0, premult, rounding, consts, out)


@jit
def count_above(values, thr):
    """Number of ``values > thr`` in an (ny, nx) array."""
    count = 0
    for i in range(values.shape[0]):
        row = values[i]
        for j in range(values.shape[1]):
            count += 1 if row[j] > thr else 0
    return count


def warp_taps_count(filt, alpha, thr, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts):
    """:func:`pixscale.kernels.count.warp_count` for a tap filter: exact mode's probe, the warp's arithmetic."""
    out = np.empty((r1 - r0, c1 - c0), alpha.dtype)
    warp_taps_window(filt, alpha, 1, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, False, rounding, consts, out)
    return count_above(out, thr)
