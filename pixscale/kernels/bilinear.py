"""Numba kernels: the bilinear resample-and-pad.

Kernels are private and dumb: they receive validated arrays of a known dtype,
the precomputed per-row / per-column taps, and a preallocated ``out``.  They
never convert, allocate what the caller can pass, or raise user-facing errors.
The specification of each kernel is its NumPy twin in :mod:`pixscale.reference`.
"""

import numpy as np

from . import jit, jit_helper, jit_inline
from .axis import axis_taps
from .simd import (
    lerp4,
    lerp4_premult,
    lerp16,
    lerp16_premult,
)
from .store import finish, finish4, rounded, store_straight, to_work
from .views import row, span

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


@jit_helper
def column_offsets(i0, i1, lo, hi, nc, xo0, xo1):
    """Offsets ``nc * (x - x_lo)`` of the live columns' taps; returns ``(x_lo, x_hi, j_a, j_b)``.

    ``[j_a, j_b)`` is the run of live columns whose two taps are neighbours
    (``xo1 == xo0 + nc``): every column but those whose outer tap is clipped
    at the source's edge (``j_a == j_b == 0`` where they do not form one run).
    """
    if hi <= lo:
        return 0, 0, 0, 0
    x_lo = i0[lo]
    n = hi - lo
    j_a = n
    j_b = 0
    count = 0
    for j in range(n):
        xo0[j] = nc * (i0[lo + j] - x_lo)
        xo1[j] = nc * (i1[lo + j] - x_lo)
        if xo1[j] == xo0[j] + nc:
            count += 1
            j_a = min(j_a, j)
            j_b = j + 1
    if count != j_b - j_a:
        j_a = j_b = 0
    return x_lo, i1[hi - 1] + 1, j_a, j_b


@jit_helper
def _blend_rows(a, r0, b, r1, dst):
    """``dst = a * r0 + b * r1`` over flat rows (source values or floats)."""
    for k in range(dst.shape[0]):
        dst[k] = a * r0[k] + b * r1[k]


@jit_inline
def _blend_rows_premult4(a, r0, b, r1, dst):
    """:func:`_blend_rows_premult` for four channels."""
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


@jit_helper
def _blend_rows_premult(a, r0, b, r1, nc, dst):
    """Vertical blend of two source rows with colour premultiplied by the last channel."""
    last = nc - 1
    if nc == 4:
        _blend_rows_premult4(a, r0, b, r1, dst)
        return
    for j in range(dst.shape[0] // nc):
        o = nc * j
        p = a * r0[o + last]
        q = b * r1[o + last]
        for c in range(last):
            dst[o + c] = p * r0[o + c] + q * r1[o + c]
        dst[o + last] = p + q


@jit_inline
def _gather1(rowf, xo0, xo1, wx0, wx1, buf):
    """:func:`_gather` for one channel: ``buf[j] = wx0[j] * rowf[xo0[j]] + wx1[j] * rowf[xo1[j]]``."""
    for j in range(wx0.shape[0]):
        buf[j] = wx0[j] * rowf[xo0[j]] + wx1[j] * rowf[xo1[j]]


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
        _gather1(rowf, xo0, xo1, wx0, wx1, buf)
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


@jit_inline
def _one_by_one(row, xo0, xo1, wx0, wx1, premult, j_a, j_end, buf):
    """The four-channel pass, one vector a pixel, for the pixels before ``j_a`` and from ``j_end`` on.

    The pixels the four-at-a-time loops leave: those whose taps are clipped at
    the source's edge, and the run's last few.
    """
    for j in range(wx0.shape[0] - j_end + j_a):
        k = j if j < j_a else j_end + j - j_a
        o = np.uint64(4 * k)
        if premult:
            lerp4_premult(row, xo0[k], xo1[k], wx0[k], wx1[k], buf, o)
        else:
            lerp4(row, xo0[k], xo1[k], wx0[k], wx1[k], buf, o)


@jit
def _gather4_runs(row, xo0, xo1, wx0, wx1, premult, j_a, j_b, buf):
    """:func:`_gather4`, with the pixels ``[j_a, j_b)``, whose taps are neighbours, four at a time.

    There ``xo1 == xo0 + 4`` (the caller says so: see :func:`column_offsets`),
    so one load brings both source pixels, and four output pixels are one
    16-lane vector (:func:`pixscale.kernels.simd.lerp16`): the same arithmetic
    per lane.  The other pixels, and a source row whose values are not
    contiguous, take :func:`_gather4`'s one vector per pixel.
    """
    if row.strides[0] != row.itemsize:
        j_b = j_a
    j4 = j_a + 4 * ((j_b - j_a) // 4)
    if premult:
        for j in range(j_a, j4, 4):
            lerp16_premult(row, xo0, wx0, wx1, j, buf)
    else:
        for j in range(j_a, j4, 4):
            lerp16(row, xo0, wx0, wx1, j, buf)
    _one_by_one(row, xo0, xo1, wx0, wx1, premult, j_a, j4, buf)


#: The straight row blend inlined, for the row loop of :func:`_downscale4`, which calls nothing out of line;
#: elsewhere it is called (and compiled once per signature).
_blend_rows_inline = jit_inline(_blend_rows.py_func)


@jit_helper
def _hpass(row, rowf, nc, xo0, xo1, wx0, wx1, premult, j_a, j_b, buf):
    """Horizontal pass over one flat row ``row`` (source dtype or float) into ``buf``."""
    if nc == 4:
        _gather4_runs(row, xo0, xo1, wx0, wx1, premult, j_a, j_b, buf)
    else:
        to_work(row, rowf)
        _gather(rowf, nc, xo0, xo1, wx0, wx1, premult, buf)


@jit_inline
def _zero(v):
    """``v[:] = 0``, as one ``memset``.

    A loop from a non-zero start was stored byte by byte: 22 against 5 us for a 512² canvas.
    """
    for k in range(v.shape[0]):
        v[k] = 0


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
    j_a,
    j_b,
    vertical_first,
    premult,
    rounding,
    consts,
    out,
    rowf,
    bufs,
    four,
):
    """Bilinear resample-and-pad of flat rows ``src`` (H, W*nc) into ``out`` (Ho, Wo*nc).

    Output row ``i`` blends source rows ``ys0[i]``, ``ys1[i]`` with weights
    ``wy0[i]``, ``wy1[i]``; live output column ``j_lo + j`` blends the source
    pixels at float offsets ``xo0[j]``, ``xo1[j]`` (``nc * (x - x_lo)``) with
    ``wx0[j]``, ``wx1[j]``.  Taps outside the source carry weight 0 and an
    in-range index, so no loop tests bounds; those of the live columns
    ``j_lo + [j_a, j_b)`` are neighbours (``xo1 == xo0 + nc``).  Columns outside ``[j_lo, j_hi)``
    and rows whose weights are both 0 are transparent fills.  ``premult``
    interpolates colour premultiplied by the last channel.  Scratch rows of
    the working float type: ``rowf`` holds ``nc * max(x_hi - x_lo, j_hi - j_lo)``
    values, ``bufs`` two rows of ``nc * (j_hi - j_lo)``.  ``four`` is a
    constant, True where ``nc`` is 4: numba then drops the other channel
    counts' passes before typing them (see :func:`warp_window4`).
    """
    ho = out.shape[0]
    k_lo = nc * j_lo
    k_hi = nc * j_hi
    s_lo = nc * x_lo
    s_hi = nc * x_hi
    tag_a = -1
    tag_b = -1
    straight = np.bool_(False)  # a run-time False: a literal one would compile the callees again for it
    ba = bufs[0]
    bb = bufs[1]
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
            if four:  # each branch on ``four`` holds all that depends on it: numba drops the other whole
                if premult:  # the helper, which takes the four-channel blend: inlined here, numba 0.58 compiled longer
                    _blend_rows_premult(a, src[y0, s_lo:s_hi], b, src[y1, s_lo:s_hi], nc, rowf[: s_hi - s_lo])
                else:
                    _blend_rows(a, src[y0, s_lo:s_hi], b, src[y1, s_lo:s_hi], rowf[: s_hi - s_lo])
                _gather4_runs(rowf, xo0, xo1, wx0, wx1, straight, j_a, j_b, ba)
            else:
                if premult:
                    _blend_rows_premult(a, src[y0, s_lo:s_hi], b, src[y1, s_lo:s_hi], nc, rowf[: s_hi - s_lo])
                else:
                    _blend_rows(a, src[y0, s_lo:s_hi], b, src[y1, s_lo:s_hi], rowf[: s_hi - s_lo])
                if nc == 4:
                    _gather4_runs(rowf, xo0, xo1, wx0, wx1, straight, j_a, j_b, ba)
                else:
                    _gather(rowf, nc, xo0, xo1, wx0, wx1, straight, ba)
            if four:
                finish4(ba, premult, rounding, consts, orow[k_lo:k_hi])
            else:
                finish(ba, nc, premult, rounding, consts, orow[k_lo:k_hi])
            continue
        # Two-row cache: each source row is resampled horizontally once.
        if tag_a != y0:
            if tag_b == y0:
                ba, bb = bb, ba
                tag_a, tag_b = tag_b, tag_a
            else:
                if four:
                    _gather4_runs(src[y0, s_lo:s_hi], xo0, xo1, wx0, wx1, premult, j_a, j_b, ba)
                else:
                    _hpass(src[y0, s_lo:s_hi], rowf, nc, xo0, xo1, wx0, wx1, premult, j_a, j_b, ba)
                tag_a = y0
        if tag_b != y1:
            if four:
                _gather4_runs(src[y1, s_lo:s_hi], xo0, xo1, wx0, wx1, premult, j_a, j_b, bb)
            else:
                _hpass(src[y1, s_lo:s_hi], rowf, nc, xo0, xo1, wx0, wx1, premult, j_a, j_b, bb)
            tag_b = y1
        if premult or not rounding:
            # Blend into the spare scratch row, then divide back / store.
            _blend_rows(a, ba, b, bb, rowf[: k_hi - k_lo])
            if four:
                finish4(rowf, premult, rounding, consts, orow[k_lo:k_hi])
            else:
                finish(rowf, nc, premult, rounding, consts, orow[k_lo:k_hi])
        else:
            maxval = consts[3]
            dst = orow[k_lo:k_hi]
            for k in range(dst.shape[0]):
                dst[k] = rounded(a * ba[k] + b * bb[k], maxval)


@jit_inline
def _taps(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, wd, ny, nx):
    """The taps of both axes (:func:`axis_taps`) and the live columns' offsets (:func:`column_offsets`).

    Returns ``ys, wy`` (2, ny), ``xo`` (2, live columns), ``wx`` (2, nx) and
    ``j_lo, j_hi, x_lo, x_hi, j_a, j_b``.
    """
    h = src.shape[0]
    w = src.shape[1] // nc
    ys = np.empty((2, ny), np.int64)
    xs = np.empty((2, nx), np.int64)
    wy = np.empty((2, ny), wd)
    wx = np.empty((2, nx), wd)
    axis_taps(r0, h, scale, src_cy, dst_cy, ys[0], ys[1], wy[0], wy[1])
    j_lo, j_hi = axis_taps(c0, w, scale, src_cx, dst_cx, xs[0], xs[1], wx[0], wx[1])
    xo = np.empty((2, j_hi - j_lo), np.uint64)
    x_lo, x_hi, j_a, j_b = column_offsets(xs[0], xs[1], j_lo, j_hi, nc, xo[0], xo[1])
    return ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b


@jit
def warp_window(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, premult, rounding, consts, out):
    """Bilinear warp into ``out`` (ny, nx*nc): output rows ``r0...`` and columns ``c0...`` of the full canvas.

    The whole resample in one call: taps of both axes and scratch rows
    (:func:`_window`), then :func:`warp_bilinear` for the flat source rows ``src``
    (H, W*nc).  ``consts`` is ``0, 0.5, 1, maxval`` in the working float
    type, which also sets the type of the weights.  Four channels have a
    kernel of their own with the same arguments and bits: :func:`warp_window4`,
    and for uint8 :func:`warp_rgba8_up` and :func:`warp_rgba8_down`.  The
    other filters' twin is :func:`pixscale.kernels.taps.warp_taps_window`.
    """
    ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b, rowf, bufs = _window(
        src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, consts, out
    )
    warp_bilinear(
        src, nc, ys[0], ys[1], wy[0], wy[1], xo[0], xo[1], wx[0, j_lo:j_hi], wx[1, j_lo:j_hi], x_lo, x_hi,
        j_lo, j_hi, j_a, j_b, scale < 1.0, premult, rounding, consts, out, rowf, bufs, False,
    )  # fmt: skip


@jit
def warp_window4(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, premult, rounding, consts, out):
    """:func:`warp_window` for four channels (``nc`` 4): RGBA of every dtype but uint8, and exact mode's probe of it.

    The same loop, compiled with the four-channel passes only (a fifth less
    to compile: docs/benchmarks.md).  Exact mode's probe of such an image
    warps the image itself and counts its alpha (:func:`pixscale.kernels.count.warp_count`),
    so that its first call compiles this kernel and not :func:`warp_window` too.
    Written out beside :func:`warp_window` rather than sharing an inlined body:
    numba 0.58 copies an inlined body's IR statement by statement, a quadratic
    cost that made the two kernels compile in 40 s each there.
    """
    ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b, rowf, bufs = _window(
        src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, consts, out
    )
    warp_bilinear(
        src, nc, ys[0], ys[1], wy[0], wy[1], xo[0], xo[1], wx[0, j_lo:j_hi], wx[1, j_lo:j_hi], x_lo, x_hi,
        j_lo, j_hi, j_a, j_b, scale < 1.0, premult, rounding, consts, out, rowf, bufs, True,
    )  # fmt: skip


@jit_inline
def _window(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, consts, out):
    """:func:`_taps` of a window ``out`` (ny, nx*nc), and the scratch rows of :func:`warp_bilinear`."""
    wd = consts.dtype
    ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b = _taps(
        src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, wd, out.shape[0], out.shape[1] // nc
    )
    rowf = np.empty(nc * max(x_hi - x_lo, j_hi - j_lo, 1), wd)
    bufs = np.empty((2, nc * (j_hi - j_lo)), wd)
    return ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b, rowf, bufs


@jit_helper
def _alpha_rows(
    src,
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
    rounding,
    consts,
    out,
    rowf,
    bufs,
):
    """:func:`warp_bilinear`'s one-channel straight path, alone: the same helpers, in the same order.

    ``out`` is (Ho, Wo); the arguments are :func:`warp_bilinear`'s with ``nc`` 1
    (``xo0, xo1`` are the live columns' source offsets, ``x - x_lo``).
    """
    wo = out.shape[1]
    n = x_hi - x_lo
    tag_a = -1
    tag_b = -1
    sa = 0
    sb = 1
    maxval = consts[3]
    for i in range(out.shape[0]):
        a = wy0[i]
        b = wy1[i]
        if (a == 0 and b == 0) or j_lo == j_hi:
            _zero(row(out, i, 0, wo))
            continue
        _zero(row(out, i, 0, j_lo))
        _zero(row(out, i, j_hi, wo))
        y0 = ys0[i]
        y1 = ys1[i]
        dst = row(out, i, j_lo, j_hi)
        if vertical_first:
            _blend_rows(a, row(src, y0, x_lo, x_hi), b, row(src, y1, x_lo, x_hi), span(rowf, 0, n))
            _gather1(rowf, xo0, xo1, wx0, wx1, row(bufs, 0, 0, j_hi - j_lo))
            store_straight(row(bufs, 0, 0, j_hi - j_lo), rounding, maxval, dst)
            continue
        # Two-row cache: each source row is resampled horizontally once.
        if tag_a != y0:
            if tag_b == y0:
                sa, sb = sb, sa
                tag_a, tag_b = tag_b, tag_a
            else:
                to_work(row(src, y0, x_lo, x_hi), rowf)
                _gather1(rowf, xo0, xo1, wx0, wx1, row(bufs, sa, 0, j_hi - j_lo))
                tag_a = y0
        if tag_b != y1:
            to_work(row(src, y1, x_lo, x_hi), rowf)
            _gather1(rowf, xo0, xo1, wx0, wx1, row(bufs, sb, 0, j_hi - j_lo))
            tag_b = y1
        ba = row(bufs, sa, 0, j_hi - j_lo)
        bb = row(bufs, sb, 0, j_hi - j_lo)
        if rounding:
            for k in range(dst.shape[0]):
                dst[k] = rounded(a * ba[k] + b * bb[k], maxval)
        else:
            _blend_rows(a, ba, b, bb, span(rowf, 0, j_hi - j_lo))
            store_straight(rowf, rounding, maxval, dst)


@jit
def warp_alpha(src, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, rounding, consts, out):
    """:func:`warp_window` of one channel, straight: exact mode's probe of an alpha plane ``src`` (H, W) into ``out``.

    The general loop's one-channel arithmetic only, in a kernel of its own: the
    same bits as the alpha of every warp (tests/kernels/test_warp.py), and a
    first image's probe compiles neither the general loop's other channel counts
    nor its premultiplied paths (2.1 s of a first uint8 call's CPU, before).
    """
    wd = consts.dtype
    ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b = _taps(
        src, np.int64(1), scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, wd, out.shape[0], out.shape[1]
    )  # a run-time 1: a literal would compile column_offsets once more for it
    rowf = np.empty(max(x_hi - x_lo, j_hi - j_lo, 1), wd)
    bufs = np.empty((2, j_hi - j_lo), wd)
    _alpha_rows(
        src,
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
        rounding,
        consts,
        out,
        rowf,
        bufs,
    )
