"""Numba kernels: exact mode's probe, a count of warped alpha that interpolates only the object's edge.

:func:`pixscale.kernels.count.warp_count` (with a ``memo``) calls these:
:func:`probe_rows` builds, once per view, a table of the source rows, and
:func:`count_spans` counts from it, with the warp's taps
(:func:`pixscale.kernels.axis.axis_taps`) and arithmetic, so its count is
the plain count's (the full one-channel warp, then the count) exactly
(tests/kernels/test_probe.py).  The levels of the table are
:func:`pixscale.kernels.count.sure_levels`.  The NumPy specification is
:func:`pixscale.reference.probe_count`.

Compiling these takes about a second per alpha dtype, so the image API uses
them only once they are compiled or in the kernel cache (see
:func:`pixscale._warp.bilinear_count`).
"""

import numpy as np

from . import jit, jit_helper
from .axis import axis_taps
from .store import rounded
from .views import row as row_of
from .views import span


@jit_helper
def _scan(row, x0, x1, v, above, backward):
    """The first ``x`` in ``[x0, x1)`` with ``(row[x] > v) == above``, else ``x1`` (backward: the last, or ``x0 - 1``).

    32 values a step (a block of compares OR-ed together, which LLVM
    vectorises), then one by one.  One helper for every scan of
    :func:`probe_rows`: each compiled function adds to the first call's time.
    Each block is read through a borrowed view indexed from 0
    (:func:`pixscale.kernels.views.span`): with ``row[x + k]`` numba's
    negative-index wraparound kept LLVM from vectorising the block (6.6 vs 12.3
    us for ``probe_rows`` on ``pixscale bench``'s 512² image).
    """
    if backward:
        x = x1
        while x - 32 >= x0:
            block = span(row, x - 32, x)
            n = np.uint8(0)
            for k in range(32):
                n |= np.uint8((block[k] > v) == above)
            if n:
                break
            x -= 32
        k = x - x0 - 1
        if k >= 0:
            block = span(row, x0, x)
            while k >= 0 and (block[k] > v) != above:
                k -= 1
        return x0 + k
    x = x0
    while x + 32 <= x1:
        block = span(row, x, x + 32)
        n = np.uint8(0)
        for k in range(32):
            n |= np.uint8((block[k] > v) == above)
        if n:
            break
        x += 32
    k = 0
    if x < x1:
        block = span(row, x, x1)
        while k < x1 - x and (block[k] > v) != above:
            k += 1
    return x + k


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
        row = row_of(alpha, y, 0, w)  # borrowed: no reference count per row
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
        while x <= last:  # the longest runs above hi and at or below lo, each found by a scan
            e = x + 1
            if row[x] > hi:
                e = _scan(row, e, last + 1, hi, False, False)
                if e - x > best_in:
                    best_in = e - x
                    rows[y, 2] = x
                    rows[y, 3] = e - 1
            elif not row[x] > lo:
                e = _scan(row, e, last + 1, lo, True, False)
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
    """``warp_count``'s count, interpolating only the pixels between the sure spans of ``rows``.

    That is :func:`pixscale.kernels.count.warp_count`'s.  ``rows`` is
    :func:`probe_rows`'s table for ``alpha`` and the levels of
    :func:`pixscale.kernels.count.sure_levels`; every value of ``alpha``
    outside the table's box is at most ``lo``.  The taps are
    :func:`axis_taps`', the interpolation and the store those of
    :func:`pixscale.kernels.bilinear.warp_bilinear` (the pass order of the scale).
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
