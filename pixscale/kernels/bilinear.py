"""Numba kernels: the bilinear resample-and-pad.

Kernels are private and dumb: they receive validated arrays of a known dtype,
the precomputed per-row / per-column taps, and a preallocated ``out``.  They
never convert, allocate what the caller can pass, or raise user-facing errors.
The specification of each kernel is its NumPy twin in :mod:`pixscale.reference`.
"""

import numpy as np

from . import jit, jit_helper, jit_inline, jit_strict
from .simd import blend_store16, lerp4, lerp4_premult
from .store import finish, rounded, store_premult4, to_work
from .taps import count_above

# --- Bilinear resample-and-pad ------------------------------------------------
#
# Arrays are flat: a source row is ``W * C`` values, an output row ``Wo * C``.
# Column taps are unsigned offsets into a float copy of the source row, so
# indexing carries no negative-index fix-up and the contiguous loops
# vectorise.  The two axes are separable; the pass that runs first is the one
# that does fewer of the (scalar) horizontal gathers:
#
# * upscaling (``scale >= 1``): each needed source row is resampled
#   horizontally once, kept in a two-row cache and blended vertically;
# * downscaling: the two source rows of each output row are blended
#   vertically (contiguous), then resampled horizontally once.
#
# Both orders compute every alpha value with the same float operations in the
# same order whatever the channel count, so an alpha-only warp matches the
# alpha channel of a full warp bit for bit (exact mode relies on this).


@jit_strict
def axis_taps(start, n_src, scale, src_c, dst_c, i0, i1, w0, w1):
    """Bilinear taps along one axis for the output pixels ``start, start + 1, ...``.

    Output pixel ``k`` has its centre at ``k + 0.5``; it maps back to the
    continuous source coordinate ``(k + 0.5 - dst_c) / scale + src_c`` whose
    neighbouring source centres are pixels ``floor(u)`` and ``floor(u) + 1``
    with ``u`` that coordinate less 0.5.  Fills ``i0, i1`` (int64) and
    ``w0, w1`` (weights) for ``len(i0)`` pixels; taps outside ``[0, n_src)``
    get weight 0 and a clipped index.  Returns the half-open range
    ``(lo, hi)`` of pixels with any non-zero weight (``lo == hi`` if none).
    """
    lo = -1
    hi = 0
    for k in range(i0.shape[0]):
        u = (start + k + 0.5 - dst_c) / scale + src_c - 0.5
        f0 = np.floor(u)
        f = u - f0
        a = int(f0)
        b = a + 1
        wa = 1.0 - f if 0 <= a < n_src else 0.0
        wb = f if 0 <= b < n_src else 0.0
        i0[k] = min(max(a, 0), n_src - 1)
        i1[k] = min(max(b, 0), n_src - 1)
        w0[k] = wa
        w1[k] = wb
        if w0[k] != 0 or w1[k] != 0:
            if lo < 0:
                lo = k
            hi = k + 1
    return (lo, hi) if lo >= 0 else (0, 0)


@jit_helper
def column_offsets(i0, i1, lo, hi, nc, xo0, xo1):
    """Offsets ``nc * (x - x_lo)`` of the live columns' taps; returns ``(x_lo, x_hi)``."""
    if hi <= lo:
        return 0, 0
    x_lo = i0[lo]
    for j in range(hi - lo):
        xo0[j] = nc * (i0[lo + j] - x_lo)
        xo1[j] = nc * (i1[lo + j] - x_lo)
    return x_lo, i1[hi - 1] + 1


@jit_helper
def _blend_rows(a, r0, b, r1, dst):
    """``dst = a * r0 + b * r1`` over flat rows (source values or floats)."""
    for k in range(dst.shape[0]):
        dst[k] = a * r0[k] + b * r1[k]


@jit_helper
def _blend_rows_premult(a, r0, b, r1, nc, dst):
    """Vertical blend of two source rows with colour premultiplied by the last channel."""
    last = nc - 1
    if nc == 4:
        for j in range(dst.shape[0] // 4):
            o = 4 * j
            s0, s1, s2, s3 = r0[o], r0[o + 1], r0[o + 2], r0[o + 3]
            t0, t1, t2, t3 = r1[o], r1[o + 1], r1[o + 2], r1[o + 3]
            p = a * s3
            q = b * t3
            dst[o] = p * s0 + q * t0
            dst[o + 1] = p * s1 + q * t1
            dst[o + 2] = p * s2 + q * t2
            dst[o + 3] = p + q
        return
    for j in range(dst.shape[0] // nc):
        o = nc * j
        p = a * r0[o + last]
        q = b * r1[o + last]
        for c in range(last):
            dst[o + c] = p * r0[o + c] + q * r1[o + c]
        dst[o + last] = p + q


@jit
def _gather(rowf, nc, xo0, xo1, wx0, wx1, premult, buf):
    """Horizontal pass: ``buf[nc*j + c] = wx0[j] * rowf[xo0[j] + c] + wx1[j] * rowf[xo1[j] + c]``.

    With ``premult`` the colour channels are weighted by the last (alpha)
    channel, whose own value is ``wx0[j] * alpha_0 + wx1[j] * alpha_1``.
    The warp sends four channels through :func:`_gather4` (the same arithmetic,
    one vector per pixel); this scalar loop serves the other channel counts.
    """
    n = wx0.shape[0]
    o = np.uint64(0)
    step = np.uint64(nc)
    if nc == 1:
        for j in range(n):
            buf[j] = wx0[j] * rowf[xo0[j]] + wx1[j] * rowf[xo1[j]]
    else:
        last = np.uint64(nc - 1)
        for j in range(n):
            p = xo0[j]
            q = xo1[j]
            a = wx0[j]
            b = wx1[j]
            if premult:
                a = a * rowf[p + last]
                b = b * rowf[q + last]
            for c in range(nc):
                u = np.uint64(c)
                buf[o + u] = a * rowf[p + u] + b * rowf[q + u]
            if premult:
                buf[o + last] = a + b
            o += step


@jit
def _gather4(row, xo0, xo1, wx0, wx1, premult, buf):
    """:func:`_gather` for four channels, straight from ``row`` in any dtype, one vector per pixel.

    The source values are converted to the float type of ``buf`` as they are
    loaded, so no float copy of the row is needed; the arithmetic is that of
    :func:`_gather` (see :mod:`pixscale.kernels.simd`).
    """
    o = np.uint64(0)
    step = np.uint64(4)
    if premult:
        for j in range(wx0.shape[0]):
            lerp4_premult(row, xo0[j], xo1[j], wx0[j], wx1[j], buf, o)
            o += step
    else:
        for j in range(wx0.shape[0]):
            lerp4(row, xo0[j], xo1[j], wx0[j], wx1[j], buf, o)
            o += step


@jit_helper
def _hpass(row, rowf, nc, xo0, xo1, wx0, wx1, premult, buf):
    """Horizontal pass over one flat row ``row`` (source dtype or float) into ``buf``."""
    if nc == 4:
        _gather4(row, xo0, xo1, wx0, wx1, premult, buf)
    else:
        to_work(row, rowf)
        _gather(rowf, nc, xo0, xo1, wx0, wx1, premult, buf)


@jit_helper
def _blend_finish4(a, ba, b, bb, maxval, orow):
    """``_blend_rows`` then ``finish`` for premultiplied RGBA with rounding, fused per pixel.

    Four pixels at a time in one 16-lane vector (:func:`pixscale.kernels.simd.blend_store16`,
    the same arithmetic), the last few one by one.
    """
    n4 = orow.shape[0] // 16
    for j in range(n4):
        blend_store16(ba, bb, a, b, maxval, orow, 16 * j)
    for j in range(4 * n4, orow.shape[0] // 4):
        o = 4 * j
        c0 = a * ba[o] + b * bb[o]
        c1 = a * ba[o + 1] + b * bb[o + 1]
        c2 = a * ba[o + 2] + b * bb[o + 2]
        wa = a * ba[o + 3] + b * bb[o + 3]
        store_premult4(c0, c1, c2, wa, maxval, orow, o)


@jit_inline
def warp_bilinear(
    src,
    nc,
    ys0,
    ys1,
    wy0,
    wy1,
    xo0,
    xo1,
    wx0,
    wx1,
    x_lo,
    x_hi,
    j_lo,
    j_hi,
    vertical_first,
    premult,
    rounding,
    consts,
    out,
    rowf,
    buf_a,
    buf_b,
):
    """Bilinear resample-and-pad of flat rows ``src`` (H, W*nc) into ``out`` (Ho, Wo*nc).

    Output row ``i`` blends source rows ``ys0[i]``, ``ys1[i]`` with weights
    ``wy0[i]``, ``wy1[i]``; live output column ``j_lo + j`` blends the source
    pixels at float offsets ``xo0[j]``, ``xo1[j]`` (``nc * (x - x_lo)``) with
    ``wx0[j]``, ``wx1[j]``.  Taps outside the source carry weight 0 and an
    in-range index, so no loop tests bounds.  Columns outside ``[j_lo, j_hi)``
    and rows whose weights are both 0 are transparent fills.  ``premult``
    interpolates colour premultiplied by the last channel.  Scratch rows of
    the working float type: ``rowf`` holds ``nc * max(x_hi - x_lo, j_hi - j_lo)``
    values, ``buf_a`` and ``buf_b`` ``nc * (j_hi - j_lo)``.
    """
    ho = out.shape[0]
    k_lo = nc * j_lo
    k_hi = nc * j_hi
    s_lo = nc * x_lo
    s_hi = nc * x_hi
    tag_a = -1
    tag_b = -1
    straight = np.bool_(False)  # a run-time False: a literal one would compile the callees again for it
    ba = buf_a
    bb = buf_b
    for i in range(ho):
        a = wy0[i]
        b = wy1[i]
        orow = out[i]
        if (a == 0 and b == 0) or k_lo == k_hi:
            orow[:] = 0
            continue
        orow[:k_lo] = 0
        orow[k_hi:] = 0
        y0 = ys0[i]
        y1 = ys1[i]
        if vertical_first:
            if premult:
                _blend_rows_premult(a, src[y0, s_lo:s_hi], b, src[y1, s_lo:s_hi], nc, rowf[: s_hi - s_lo])
            else:
                _blend_rows(a, src[y0, s_lo:s_hi], b, src[y1, s_lo:s_hi], rowf[: s_hi - s_lo])
            if nc == 4:
                _gather4(rowf, xo0, xo1, wx0, wx1, straight, ba)
            else:
                _gather(rowf, nc, xo0, xo1, wx0, wx1, straight, ba)
            finish(ba, nc, premult, rounding, consts, orow[k_lo:k_hi])
            continue
        # Two-row cache: each source row is resampled horizontally once.
        if tag_a != y0:
            if tag_b == y0:
                ba, bb = bb, ba
                tag_a, tag_b = tag_b, tag_a
            else:
                _hpass(src[y0, s_lo:s_hi], rowf, nc, xo0, xo1, wx0, wx1, premult, ba)
                tag_a = y0
        if tag_b != y1:
            _hpass(src[y1, s_lo:s_hi], rowf, nc, xo0, xo1, wx0, wx1, premult, bb)
            tag_b = y1
        if premult and rounding and nc == 4:
            _blend_finish4(a, ba, b, bb, consts[3], orow[k_lo:k_hi])
        elif premult or not rounding:
            # Blend into the spare scratch row, then divide back / store.
            _blend_rows(a, ba, b, bb, rowf[: k_hi - k_lo])
            finish(rowf, nc, premult, rounding, consts, orow[k_lo:k_hi])
        else:
            maxval = consts[3]
            dst = orow[k_lo:k_hi]
            for k in range(dst.shape[0]):
                dst[k] = rounded(a * ba[k] + b * bb[k], maxval)


@jit
def warp_window(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, premult, rounding, consts, out):
    """Bilinear warp into ``out`` (ny, nx*nc): output rows ``r0...`` and columns ``c0...`` of the full canvas.

    The whole resample in one call: taps of both axes (:func:`axis_taps`),
    column offsets, scratch rows and :func:`warp_bilinear` for the flat
    source rows ``src`` (H, W*nc).  ``consts`` is ``0, 0.5, 1, maxval`` in
    the working float type, which also sets the type of the weights.  The
    other filters' twin is :func:`pixscale.kernels.taps.warp_taps_window`.
    """
    h = src.shape[0]
    w = src.shape[1] // nc
    ny = out.shape[0]
    nx = out.shape[1] // nc
    wd = consts.dtype
    ys = np.empty((2, ny), np.int64)
    xs = np.empty((2, nx), np.int64)
    wy = np.empty((2, ny), wd)
    wx = np.empty((2, nx), wd)
    axis_taps(r0, h, scale, src_cy, dst_cy, ys[0], ys[1], wy[0], wy[1])
    j_lo, j_hi = axis_taps(c0, w, scale, src_cx, dst_cx, xs[0], xs[1], wx[0], wx[1])
    xo = np.empty((2, j_hi - j_lo), np.uint64)
    x_lo, x_hi = column_offsets(xs[0], xs[1], j_lo, j_hi, nc, xo[0], xo[1])
    rowf = np.empty(nc * max(x_hi - x_lo, j_hi - j_lo, 1), wd)
    bufs = np.empty((2, nc * (j_hi - j_lo)), wd)
    warp_bilinear(
        src,
        nc,
        ys[0],
        ys[1],
        wy[0],
        wy[1],
        xo[0],
        xo[1],
        wx[0, j_lo:j_hi],
        wx[1, j_lo:j_hi],
        x_lo,
        x_hi,
        j_lo,
        j_hi,
        scale < 1.0,
        premult,
        rounding,
        consts,
        out,
        rowf,
        bufs[0],
        bufs[1],
    )


def warp_count(alpha, thr, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts, memo=None):
    """Count of ``warped alpha > thr`` over the output window ``[r0, r1) x [c0, c1)``.

    Exact mode's probe.  Without ``memo``: :func:`warp_window` on the single
    channel ``alpha`` (H, W), C-contiguous, then the count; it calls the full
    warp's compiled kernel (one channel and straight alpha are run-time
    values), so the arithmetic is the same and the count is that of the final
    image.  With ``memo`` (a dict the caller keeps for this ``alpha`` and
    ``thr``, holding ``"box"``, the source box outside which ``alpha`` is at
    most the threshold): :func:`count_spans`, which interpolates only the
    pixels that can land on either side of the threshold, with the same
    arithmetic, so the count is the same; its row table
    (:func:`probe_rows`) is built on the first call and kept in ``memo``.
    """
    if memo is None:
        out = np.empty((r1 - r0, c1 - c0), alpha.dtype)
        warp_window(alpha, 1, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, False, rounding, consts, out)
        return count_above(out, thr)
    rows = memo.get("rows")
    if rows is None:
        rows = memo["rows"] = np.empty((alpha.shape[0], 6), np.int64)
        lo, hi = sure_levels(alpha.dtype, thr)
        h, w = alpha.shape
        x0, y0, x1, y1 = memo["box"] if lo != -np.inf else (0, 0, w, h)  # a box of values <= thr only
        probe_rows(alpha, lo, hi, max(x0, 0), max(y0, 0), min(x1, w), min(y1, h), rows)
    return count_spans(alpha, thr, rows, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts)


# --- Exact mode's probe, interpolating only where the count can go either way -----
#
# The bilinear weights of an output pixel are a convex combination (they sum
# to 1 within a few ulps) unless one of its taps lies outside the source.  So
# a pixel whose four taps all lie above ``hi`` is counted whatever its exact
# value, and one whose taps all lie at or below ``lo`` is not (see
# :func:`sure_levels`).  Per source row a table holds the columns between
# which the row has pixels above ``lo`` (its hull) and its longest run above
# ``hi``; per output row, the columns whose taps fall outside both source
# rows' hulls are skipped, those inside both rows' runs (with weights summing
# to 1) counted in one step, and only the rest (the object's edge)
# interpolated, with the warp's arithmetic.


def sure_levels(dtype, thr):
    """``(lo, hi)``: a bilinear value of taps all ``<= lo`` is stored ``<= thr``, of taps all ``> hi`` ``> thr``.

    Integer alpha is rounded, so ``lo = hi = thr``.  Float alpha is stored as
    interpolated, and the weights sum to 1 only within a few ulps (and to
    ``1 - 1e-6`` at least where :func:`count_spans` counts without
    interpolating): the levels keep a relative margin of ``1e-5`` and ``1e-4``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return thr, thr
    t = float(thr)
    low = dtype.type(t * (1 - 1e-5))
    lo = low if (t > 0 and low < thr) or t == 0 else dtype.type(-np.inf)
    return lo, dtype.type(t * (1 + 1e-4) + 1e-30)


@jit_helper
def _scan(row, x0, x1, v, above, backward):
    """The first ``x`` in ``[x0, x1)`` with ``(row[x] > v) == above``, else ``x1`` (backward: the last, or ``x0 - 1``).

    32 values a step (a block of compares OR-ed together, which LLVM
    vectorises), then one by one.  One helper for every scan of
    :func:`probe_rows`: each compiled function adds to the first call's time.
    """
    if backward:
        x = x1
        while x - 32 >= x0:
            n = np.uint8(0)
            for k in range(x - 32, x):
                n |= np.uint8((row[k] > v) == above)
            if n:
                break
            x -= 32
        x -= 1
        while x >= x0 and (row[x] > v) != above:
            x -= 1
        return x
    x = x0
    while x + 32 <= x1:
        n = np.uint8(0)
        for k in range(x, x + 32):
            n |= np.uint8((row[k] > v) == above)
        if n:
            break
        x += 32
    while x < x1 and (row[x] > v) != above:
        x += 1
    return x


@jit
def probe_rows(alpha, lo, hi, x0, y0, x1, y1, rows):
    """Per source row ``y`` of ``alpha``: ``rows[y] = first, last, run_lo, run_hi, gap_lo, gap_hi``.

    ``first``, ``last``: the first and last column of the box ``[x0, x1) x
    [y0, y1)`` with a value ``> lo`` (``W``, ``-1`` where there is none, and
    in every row outside the box); ``[run_lo, run_hi]``: the longest run of
    values ``> hi`` (``W, -1`` if none); ``[gap_lo, gap_hi]``: the longest
    run of values ``<= lo`` between ``first`` and ``last`` (``W, -1`` if none;
    ``0, W - 1`` in a row with no value ``> lo``).
    """
    w = alpha.shape[1]
    for y in range(rows.shape[0]):
        rows[y, 0] = w
        rows[y, 1] = -1
        rows[y, 2] = w
        rows[y, 3] = -1
        rows[y, 4] = 0
        rows[y, 5] = w - 1
    for y in range(y0, y1):
        row = alpha[y]
        first = _scan(row, x0, x1, lo, True, False)
        if first == x1:
            continue
        last = _scan(row, first, x1, lo, True, True)
        rows[y, 0] = first
        rows[y, 1] = last
        rows[y, 4] = w
        rows[y, 5] = -1
        if _scan(row, first, last + 1, hi, False, False) > last:  # one run: the common case
            rows[y, 2] = first
            rows[y, 3] = last
            continue
        best_in = best_out = 0
        x = first
        while x <= last:  # the longest runs above hi and at or below lo
            e = x + 1
            if row[x] > hi:
                while e <= last and row[e] > hi:
                    e += 1
                if e - x > best_in:
                    best_in = e - x
                    rows[y, 2] = x
                    rows[y, 3] = e - 1
            elif not row[x] > lo:
                while e <= last and not row[e] > lo:
                    e += 1
                if e - x > best_out:
                    best_out = e - x
                    rows[y, 4] = x
                    rows[y, 5] = e - 1
            x = e


@jit_helper
def _first_at_least(xs, lo, hi, v, k):
    """The first ``k`` in ``[lo, hi)`` with ``xs[k] >= v`` (``xs`` non-decreasing), else ``hi``.

    Walks from the guess ``k`` (the previous output row's answer: the object's
    edge moves by a few columns from row to row).
    """
    k = min(max(k, lo), hi)
    while k > lo and xs[k - 1] >= v:
        k -= 1
    while k < hi and xs[k] < v:
        k += 1
    return k


@jit
def count_spans(alpha, thr, rows, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts):
    """:func:`warp_count`'s count, interpolating only the pixels between the sure spans of ``rows``.

    ``rows`` is :func:`probe_rows`'s table for ``alpha`` and the levels of
    :func:`sure_levels`; every value of ``alpha`` outside the table's box is
    at most ``lo``.  The taps are :func:`axis_taps`', the interpolation and
    the store those of :func:`warp_bilinear` (the pass order of the scale).
    """
    h, w = alpha.shape
    ny = r1 - r0
    nx = c1 - c0
    wd = consts.dtype
    ys = np.empty((2, ny), np.int64)
    xs = np.empty((2, nx), np.int64)
    wy = np.empty((2, ny), wd)
    wx = np.empty((2, nx), wd)
    t = np.empty(4, wd)
    stored = np.empty(1, alpha.dtype)
    axis_taps(r0, h, scale, src_cy, dst_cy, ys[0], ys[1], wy[0], wy[1])
    j_lo, j_hi = axis_taps(c0, w, scale, src_cx, dst_cx, xs[0], xs[1], wx[0], wx[1])
    xs0 = xs[0]
    xs1 = xs[1]
    wx0 = wx[0]
    wx1 = wx[1]
    # The columns whose weights sum to 1 (both taps inside the source): a range.
    k_lo = j_lo
    while k_lo < j_hi and np.float64(wx0[k_lo]) + np.float64(wx1[k_lo]) < 1 - 1e-6:
        k_lo += 1
    k_hi = j_hi
    while k_hi > k_lo and np.float64(wx0[k_hi - 1]) + np.float64(wx1[k_hi - 1]) < 1 - 1e-6:
        k_hi -= 1
    vertical_first = scale < 1.0
    maxval = consts[3]
    count = 0
    p = q = s = e = g = f = j_lo  # each row's answers are the next row's guesses
    for i in range(ny):
        a = wy[0, i]
        b = wy[1, i]
        if a == 0 and b == 0:
            continue
        ya = ys[0, i]
        yb = ys[1, i]
        # Columns [p, q) have a tap above ``lo`` in one of the rows; the rest are out.
        p = _first_at_least(xs1, j_lo, j_hi, min(rows[ya, 0], rows[yb, 0]), p)
        q = _first_at_least(xs0, p, j_hi, max(rows[ya, 1], rows[yb, 1]) + 1, q)
        if p >= q:
            continue
        # Columns [in_lo, in_hi) have all four taps above ``hi`` and weights summing to 1: in.
        in_lo = in_hi = q
        if np.float64(a) + np.float64(b) >= 1 - 1e-6:
            run_lo = max(rows[ya, 2], rows[yb, 2])
            run_hi = min(rows[ya, 3], rows[yb, 3])
            if run_lo <= run_hi:
                s = _first_at_least(xs0, k_lo, k_hi, run_lo, s)
                e = _first_at_least(xs1, s, max(k_hi, s), run_hi + 1, e)
                in_lo = min(max(s, p), q)
                in_hi = min(max(e, in_lo), q)
        count += in_hi - in_lo
        # Columns [out_lo, out_hi) have all four taps at or below ``lo`` inside the hulls: out.
        out_lo = out_hi = q
        gap_lo = max(rows[ya, 4], rows[yb, 4])
        gap_hi = min(rows[ya, 5], rows[yb, 5])
        if gap_lo <= gap_hi:
            g = _first_at_least(xs0, p, q, gap_lo, g)
            f = _first_at_least(xs1, g, q, gap_hi + 1, f)
            out_lo = g
            out_hi = max(f, g)
        # The rest, around the two ranges (which are apart: no tap is both above hi and at or below lo).
        if in_lo < out_lo:
            in_lo, in_hi, out_lo, out_hi = out_lo, out_hi, in_lo, in_hi
        for j0, j1 in ((p, out_lo), (out_hi, in_lo), (in_hi, q)):
            for j in range(j0, j1):
                # The warp's operations (warp_bilinear, one channel, straight): t holds what it stores.
                xa = xs0[j]
                xb = xs1[j]
                if vertical_first:
                    t[0] = a * alpha[ya, xa] + b * alpha[yb, xa]  # _blend_rows
                    t[1] = a * alpha[ya, xb] + b * alpha[yb, xb]
                    t[2] = wx0[j] * t[0] + wx1[j] * t[1]  # _gather
                else:
                    t[0] = alpha[ya, xa]  # to_work, then _gather
                    t[1] = alpha[ya, xb]
                    t[2] = wx0[j] * t[0] + wx1[j] * t[1]
                    t[0] = alpha[yb, xa]
                    t[1] = alpha[yb, xb]
                    t[3] = wx0[j] * t[0] + wx1[j] * t[1]
                    t[2] = a * t[2] + b * t[3]  # the vertical blend
                v = t[2]
                stored[0] = rounded(v, maxval) if rounding else v
                count += 1 if stored[0] > thr else 0
    return count
