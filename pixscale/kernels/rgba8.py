"""Numba kernels: the bilinear warp of uint8 RGBA, a kernel for each side of scale 1.

The common case, and the one pixscale is timed by: four channels stored
rounded, from a uint8 source.  The same arithmetic as the general loop of
:func:`pixscale.kernels.bilinear.warp_bilinear` (the same bytes: tests/kernels),
in row loops of their own that call nothing out of line and make no
reference-counted view (:mod:`pixscale.kernels.views`):

* :func:`warp_rgba8_up` (``scale >= 1``): the horizontal pass first, in strips
  and blocks, its groups of four pixels through byte-shuffle windows;
* :func:`warp_rgba8_down` (``scale < 1``): the vertical blend first, its
  horizontal pass storing in its own vector.

Each is a kernel of its own, chosen in Python (:func:`pixscale._warp.resampler`),
so that a first image compiles the row loop of its side only and never the
general loop; each kind of alpha has its own loop (one loop for both ran the
straight one up to 15% slower).  The NumPy specification is
:func:`pixscale.reference.warp`.
"""

import numpy as np

from . import jit, jit_helper, jit_inline
from .bilinear import _blend_rows_inline, _blend_rows_premult4, _one_by_one, _taps, _zero
from .simd import blend_store16, lerp16, lerp16_divide, lerp16_window, lerp16_window_premult
from .store import store_premult4
from .views import prefetch, row, span

#: Half, in the float type every integer image interpolates in (a literal keeps the loops vectorised).
_HALF = np.float32(0.5)
#: Output pixels per strip of :func:`_upscale4`: its two float rows of four channels, 2 x 8 KiB, stay in L1.
STRIP = 512
#: Output rows per block of :func:`_upscale4`: a block's source rows stay in L2 from one strip to the next.
BLOCK = 64


@jit_helper
def window_controls(xo0, j_a, j_b, n, ctl):
    """Byte-shuffle controls for the runs' groups of four pixels ``j_a + 4 g``; returns how many lead groups have one.

    ``ctl[16 g + 4 k + c] = xo0[j + k] - xo0[j] + c`` picks pixel ``j + k``'s left
    tap out of the 16 bytes from ``xo0[j]``, and its right tap out of the 16
    from one pixel on (:func:`pixscale.kernels.simd.lerp16_window`): for every
    group whose taps span at most four pixels (any upscale) and whose windows
    end inside the ``n`` bytes of the source row.  ``ctl`` is flat uint8, 16
    values a group for at least ``(j_b - j_a) // 4`` groups.
    """
    for g in range((j_b - j_a) // 4):
        j = j_a + 4 * g
        base = xo0[j]
        if xo0[j + 3] - base > 12 or base + 20 > n:
            return g
        for k in range(4):
            d = xo0[j + k] - base
            for c in range(4):
                ctl[16 * g + 4 * k + c] = d + c
    return (j_b - j_a) // 4


@jit_inline
def _gather4_window(row, xo0, xo1, wx0, wx1, premult, j_a, n_win, ctl, buf):
    """:func:`_gather4_runs` for a uint8 row: the ``n_win`` groups of four from ``j_a`` through byte-shuffle windows.

    ``ctl`` holds the groups' controls from :func:`window_controls`; the same
    values as :func:`_gather4_runs`, with three loads for each four pixels
    instead of eight.  The other pixels (the few whose taps are clipped at
    the source's edge or whose windows would end past the row) go one by one.
    """
    if row.strides[0] != row.itemsize:
        n_win = 0
    j_w = j_a + 4 * n_win
    if premult:
        for g in range(n_win):
            lerp16_window_premult(row, xo0, ctl, wx0, wx1, j_a + 4 * g, g, buf)
    else:
        for g in range(n_win):
            lerp16_window(row, xo0, ctl, wx0, wx1, j_a + 4 * g, g, buf)
    _one_by_one(row, xo0, xo1, wx0, wx1, premult, j_a, j_w, buf)


@jit_inline
def _gather4_rounded(rowf, xo0, xo1, wx0, wx1, j_a, j_b, buf, dst):
    """:func:`_gather4_runs` (straight) from the float row ``rowf``, each value stored rounded into ``dst``.

    The runs' four pixels at a time round and store in the same vector
    (:func:`pixscale.kernels.simd.lerp16` into an unsigned ``dst``); the
    other pixels go through ``buf``.  Values as ``rounded()`` would store
    them, less its clip, a no-op for the convex weights of a straight warp
    (a value of 255-valued taps stays below 255.5).
    """
    n = wx0.shape[0]
    j4 = j_a + 4 * ((j_b - j_a) // 4)
    for j in range(j_a, j4, 4):
        lerp16(rowf, xo0, wx0, wx1, j, dst)
    _one_by_one(rowf, xo0, xo1, wx0, wx1, False, j_a, j4, buf)
    for j in range(n - j4 + j_a):  # the same pixels, stored
        o = np.uint64(4 * (j if j < j_a else j4 + j - j_a))
        for c in range(4):
            u = o + np.uint64(c)
            dst[u] = buf[u] + _HALF


@jit_inline
def _gather4_divided(rowf, xo0, xo1, wx0, wx1, j_a, j_b, maxval, buf, dst):
    """The straight pass of the premultiplied float row ``rowf``, divided back by alpha and stored in ``dst``.

    The runs' four pixels at a time in one vector, pass and store
    (:func:`pixscale.kernels.simd.lerp16_divide`); the other pixels through
    ``buf`` and :func:`store_premult4`.  The same values as the pass into
    ``buf`` and then :func:`pixscale.kernels.store.store_premult_row4`.
    """
    n = wx0.shape[0]
    j4 = j_a + 4 * ((j_b - j_a) // 4)
    for j in range(j_a, j4, 4):
        lerp16_divide(rowf, xo0, wx0, wx1, j, maxval, dst)
    _one_by_one(rowf, xo0, xo1, wx0, wx1, False, j_a, j4, buf)
    for j in range(n - j4 + j_a):  # the same pixels, stored
        o = np.uint64(4 * (j if j < j_a else j4 + j - j_a))
        store_premult4(buf[o], buf[o + np.uint64(1)], buf[o + np.uint64(2)], buf[o + np.uint64(3)], maxval, dst, o)


@jit_inline
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


@jit_helper
def _upscale4(
    src, ys0, ys1, wy0, wy1, xo0, xo1, wx0, wx1, s_lo, s_hi, k_lo, k_hi, j_a, j_b, premult, maxval, out, bufs
):
    """:func:`warp_bilinear`'s horizontal-first order for four channels stored rounded (RGBA uint8).

    The same arithmetic as the general loop; written apart so that its row
    loop calls nothing that is not inlined and makes no counted view (see
    :mod:`pixscale.kernels.views`): the reference-count updates were a third
    of the warp's time.  The live columns are done in strips of
    :data:`STRIP` pixels, each a row loop of its own, so that the two rows of
    the horizontal pass (in ``bufs``, swapped by index) stay in the L1 cache
    with the row they are blended into: at 2048 x 2048 they did not.
    """
    wo = out.shape[1]
    for i in range(out.shape[0]):  # the transparent padding first
        if (wy0[i] == 0 and wy1[i] == 0) or k_lo == k_hi:
            _zero(row(out, i, 0, wo))
        else:
            _zero(row(out, i, 0, k_lo))
            _zero(row(out, i, k_hi, wo))
    if k_lo == k_hi:
        return
    nj = wx0.shape[0]
    ctl = np.empty(16 * max((j_b - j_a) // 4, 0), np.uint8)
    n_win = window_controls(xo0, j_a, j_b, s_hi - s_lo, ctl)
    # Strips of STRIP pixels from j_a on (the first one also takes the pixels before j_a),
    # so that every strip's run starts at a group of window_controls.
    ns = max((nj - j_a + STRIP - 1) // STRIP, 1)
    # Per strip: the source rows held by its two rows of bufs (-1: none) and which of the two is "a".
    tags = np.full((ns, 2), -1, np.int64)
    first_a = np.zeros(ns, np.int64)
    for i0 in range(0, out.shape[0], BLOCK):
        i1 = min(i0 + BLOCK, out.shape[0])
        for st in range(ns):
            c0 = 0 if st == 0 else j_a + st * STRIP
            c1 = nj if st == ns - 1 else j_a + (st + 1) * STRIP
            # The run of neighbouring taps within the strip, in its own column numbers, and its window groups.
            r_a = min(max(j_a, c0), c1) - c0
            r_b = max(min(j_b, c1) - c0, r_a)
            g0 = (c0 + r_a - j_a) // 4
            w = min(max(n_win - g0, 0), (r_b - r_a) // 4)
            first_a[st] = _upscale4_strip(
                src,
                ys0,
                ys1,
                wy0,
                wy1,
                span(xo0, c0, c1),
                span(xo1, c0, c1),
                span(wx0, c0, c1),
                span(wx1, c0, c1),
                s_lo,
                s_hi,
                r_a,
                r_b,
                span(ctl, 16 * (g0 if w else 0), 16 * (g0 + w if w else 0)),
                w,
                premult,
                maxval,
                out,
                i0,
                i1,
                k_lo + 4 * c0,
                k_lo + 4 * c1,
                row(bufs, 0, 4 * c0, 4 * c1),
                row(bufs, 1, 4 * c0, 4 * c1),
                tags[st],
                first_a[st],
            )


@jit_helper
def _strip_rows(
    src,
    ys0,
    ys1,
    wy0,
    wy1,
    xo0,
    xo1,
    wx0,
    wx1,
    s_lo,
    s_hi,
    j_a,
    j_b,
    ctl,
    n_win,
    premult,
    maxval,
    out,
    i0,
    i1,
    k0,
    k1,
    buf0,
    buf1,
    tags,
    sa,
):
    """Output rows ``[i0, i1)``, columns ``[k0, k1)`` of :func:`_upscale4`, whose taps are ``xo0 ... wx1``.

    ``premult`` is a constant (:func:`_upscale4_strip`).  ``ctl`` is the flat
    byte-shuffle controls of the strip's ``n_win`` first
    groups (:func:`window_controls`).  ``buf0``, ``buf1`` hold the horizontal
    pass of source rows ``tags[0]``, ``tags[1]`` (-1: none) from the strip's
    previous rows, ``buf0`` the first row's if ``sa == 0``: updated in place;
    returns the new ``sa``.
    """
    tag_a = tags[sa]
    tag_b = tags[1 - sa]
    last = src.shape[0] - 1
    p_lo = s_lo + np.int64(xo0[0])  # the strip's source columns, in flat values
    p_hi = s_lo + np.int64(xo1[xo1.shape[0] - 1]) + 4
    for i in range(i0, i1):
        a = wy0[i]
        b = wy1[i]
        if a == 0 and b == 0:
            continue
        y0 = ys0[i]
        y1 = ys1[i]
        if tag_a != y0 and tag_b == y0:
            sa = 1 - sa
            tag_a, tag_b = tag_b, tag_a
        for first in (True, False):  # one call site: the pass is inlined, once
            y = y0 if first else y1
            if (tag_a if first else tag_b) != y:
                _gather4_window(
                    row(src, y, s_lo, s_hi),
                    xo0,
                    xo1,
                    wx0,
                    wx1,
                    premult,
                    j_a,
                    n_win,
                    ctl,
                    buf0 if (sa == 0) == first else buf1,
                )
                if first:
                    tag_a = y
                else:
                    tag_b = y
                    prefetch(src, min(y + 2, last), p_lo, p_hi)  # the row after next, while this one is used
        ba = buf0 if sa == 0 else buf1
        bb = buf1 if sa == 0 else buf0
        dst = row(out, i, k0, k1)
        if premult:
            _blend_finish4(a, ba, b, bb, maxval, dst)
        else:
            for k in range(dst.shape[0]):
                dst[k] = a * ba[k] + b * bb[k] + _HALF  # rounded() less its clip, a no-op here (_gather4_rounded)
    tags[sa] = tag_a
    tags[1 - sa] = tag_b
    return sa


@jit_helper
def _upscale4_strip(
    src,
    ys0,
    ys1,
    wy0,
    wy1,
    xo0,
    xo1,
    wx0,
    wx1,
    s_lo,
    s_hi,
    j_a,
    j_b,
    ctl,
    n_win,
    premult,
    maxval,
    out,
    i0,
    i1,
    k0,
    k1,
    buf0,
    buf1,
    tags,
    sa,
):
    """Output rows ``[i0, i1)``, columns ``[k0, k1)`` of :func:`_upscale4`, whose taps are ``xo0 ... wx1``.

    ``ctl`` is the flat byte-shuffle controls of the strip's ``n_win`` first
    groups (:func:`window_controls`).  ``buf0``, ``buf1`` hold the horizontal
    pass of source rows ``tags[0]``, ``tags[1]`` (-1: none) from the strip's
    previous rows, ``buf0`` the first row's if ``sa == 0``: updated in place;
    returns the new ``sa``.  One row loop for each kind of alpha, as in :func:`_downscale4`.
    """
    if premult:
        return _strip_rows(
            src,
            ys0,
            ys1,
            wy0,
            wy1,
            xo0,
            xo1,
            wx0,
            wx1,
            s_lo,
            s_hi,
            j_a,
            j_b,
            ctl,
            n_win,
            True,
            maxval,
            out,
            i0,
            i1,
            k0,
            k1,
            buf0,
            buf1,
            tags,
            sa,
        )
    return _strip_rows(
        src,
        ys0,
        ys1,
        wy0,
        wy1,
        xo0,
        xo1,
        wx0,
        wx1,
        s_lo,
        s_hi,
        j_a,
        j_b,
        ctl,
        n_win,
        False,
        maxval,
        out,
        i0,
        i1,
        k0,
        k1,
        buf0,
        buf1,
        tags,
        sa,
    )


@jit_helper
def _downscale4(
    src, ys0, ys1, wy0, wy1, xo0, xo1, wx0, wx1, s_lo, s_hi, k_lo, k_hi, j_a, j_b, premult, maxval, out, rowf, buf
):
    """:func:`warp_bilinear`'s vertical-first order for four channels stored rounded (RGBA uint8).

    The same arithmetic as the general loop, in a row loop that calls nothing
    out of line and makes no counted view (see :func:`_upscale4`): the two
    source rows are blended into ``rowf`` (``s_hi - s_lo`` values at least),
    resampled horizontally into ``buf`` and stored.
    """
    wo = out.shape[1]
    for i in range(out.shape[0]):
        if (wy0[i] == 0 and wy1[i] == 0) or k_lo == k_hi:
            _zero(row(out, i, 0, wo))
        else:
            _zero(row(out, i, 0, k_lo))
            _zero(row(out, i, k_hi, wo))
    if k_lo == k_hi:
        return
    # One row loop for each kind of alpha, each with its own steps inlined (one loop for both ran
    # the straight one 15% slower).
    if premult:
        for i in range(out.shape[0]):
            if wy0[i] != 0 or wy1[i] != 0:
                _blend_rows_premult4(
                    wy0[i],
                    row(src, ys0[i], s_lo, s_hi),
                    wy1[i],
                    row(src, ys1[i], s_lo, s_hi),
                    span(rowf, 0, s_hi - s_lo),
                )
                _gather4_divided(rowf, xo0, xo1, wx0, wx1, j_a, j_b, maxval, buf, row(out, i, k_lo, k_hi))
    else:
        for i in range(out.shape[0]):
            if wy0[i] != 0 or wy1[i] != 0:
                _blend_rows_inline(
                    wy0[i],
                    row(src, ys0[i], s_lo, s_hi),
                    wy1[i],
                    row(src, ys1[i], s_lo, s_hi),
                    span(rowf, 0, s_hi - s_lo),
                )
                _gather4_rounded(rowf, xo0, xo1, wx0, wx1, j_a, j_b, buf, row(out, i, k_lo, k_hi))


@jit
def warp_rgba8_up(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, premult, rounding, consts, out):
    """:func:`warp_window` for a uint8 RGBA source (``nc`` 4, rounding) at ``scale >= 1``: :func:`_upscale4`.

    A kernel of its own, so that a uint8 RGBA image compiles only the row
    loop of its order, and the general loop of :func:`warp_window` (which
    exact mode's alpha-only probe needs) holds neither.
    """
    wd = consts.dtype
    ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b = _taps(
        src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, wd, out.shape[0], out.shape[1] // 4
    )
    bufs = np.empty((2, 4 * (j_hi - j_lo)), wd)
    _upscale4(
        src,
        ys[0],
        ys[1],
        wy[0],
        wy[1],
        xo[0],
        xo[1],
        wx[0, j_lo:j_hi],
        wx[1, j_lo:j_hi],
        4 * x_lo,
        4 * x_hi,
        4 * j_lo,
        4 * j_hi,
        j_a,
        j_b,
        premult,
        consts[3],
        out,
        bufs,
    )


@jit
def warp_rgba8_down(src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, premult, rounding, consts, out):
    """:func:`warp_window` for a uint8 RGBA source (``nc`` 4, rounding) at ``scale < 1``: :func:`_downscale4`."""
    wd = consts.dtype
    ys, wy, xo, wx, j_lo, j_hi, x_lo, x_hi, j_a, j_b = _taps(
        src, nc, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, wd, out.shape[0], out.shape[1] // 4
    )
    rowf = np.empty(4 * max(x_hi - x_lo, 1), wd)
    buf = np.empty(4 * (j_hi - j_lo), wd)
    _downscale4(
        src,
        ys[0],
        ys[1],
        wy[0],
        wy[1],
        xo[0],
        xo[1],
        wx[0, j_lo:j_hi],
        wx[1, j_lo:j_hi],
        4 * x_lo,
        4 * x_hi,
        4 * j_lo,
        4 * j_hi,
        j_a,
        j_b,
        premult,
        consts[3],
        out,
        rowf,
        buf,
    )
