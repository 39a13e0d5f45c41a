"""Exact mode's search for one bilinear view in one compiled call, ``search_scale``, and ``place_view``.

:func:`pixscale._search.refine_scale` with :class:`pixscale._plan._Probe`'s
bilinear count is its specification: the same steps in the same order, the
same float operations (compiled without fastmath, so no division becomes a
multiply by a reciprocal), the same counts (:func:`~pixscale.kernels.probe.count_spans`
on the same windows), so the same scale and ratio.  In Python each probe holds
the GIL for a few microseconds around its kernel; here the whole search
releases it, which is what lets ``normalize_batch``'s threads scale.

``place_view`` is the closed-form plan and placement of one measured view
(``normalize_batch``'s, see :class:`pixscale._batch.LikeViews`), with
:func:`pixscale._plan.plan_measured` and :mod:`pixscale._place` as its
specification, float for float.
"""

import math

import numpy as np

from . import jit_strict, jit_strict_helper
from .probe import count_spans, probe_rows


@jit_strict_helper
def _lower(a, b):
    """Python's ``min(a, b)``: ``a`` unless ``b`` is smaller."""
    return b if b < a else a


@jit_strict_helper
def _higher(a, b):
    """Python's ``max(a, b)``: ``a`` unless ``b`` is larger."""
    return b if b > a else a


@jit_strict_helper
def _place(scale, g):
    """:func:`pixscale._place.place_in` (or the ideal point without ``fit="shift"``) from the geometry ``g``."""
    if g[4] == 0.0:
        return g[2], g[3]
    first = g[9] - scale * g[5]
    last = g[10] - scale * g[6]
    x = _lower(_higher(g[2], first), last) if first <= last else (first + last) / 2
    first = g[11] - scale * g[7]
    last = g[12] - scale * g[8]
    y = _lower(_higher(g[3], first), last) if first <= last else (first + last) / 2
    return x, y


@jit_strict_helper
def _window(scale, box, g):
    """``(dx, dy, r0, r1, c0, c1)``: the destination of the centre and the probe's window (``_Probe.windows``)."""
    dx, dy = _place(scale, g)
    cx = g[0]
    cy = g[1]
    r0 = math.floor((box[1] - cy) * scale + dy) - 1
    r1 = math.ceil((box[3] - cy) * scale + dy) + 1
    c0 = math.floor((box[0] - cx) * scale + dx) - 1
    c1 = math.ceil((box[2] - cx) * scale + dx) + 1
    return dx, dy, r0, r1, c0, c1


@jit_strict_helper
def _count(alpha, thr, rows, scale, g, dx, dy, r0, r1, c0, c1, rounding, consts):
    if r0 >= r1 or c0 >= c1:
        return 0
    return count_spans(alpha, thr, rows, scale, g[0], g[1], dx, dy, r0, r1, c0, c1, rounding, consts)


@jit_strict_helper
def _look(s, alpha, thr, rows, box, g, n_out, rounding, consts, target, best, ends):
    """``refine_scale``'s ``look``: the ratio at ``s``, kept in ``best`` and ``ends`` as that function keeps it.

    ``best`` is ``[|ratio - target|, scale, ratio, count]`` of the best scale
    seen; ``ends`` is ``[below scale, below ratio, above scale, above ratio,
    below seen, above seen]``.
    """
    dx, dy, r0, r1, c0, c1 = _window(s, box, g)
    total = _count(alpha, thr, rows, s, g, dx, dy, r0, r1, c0, c1, rounding, consts)
    r = math.sqrt(total / n_out)
    err = abs(r - target)
    if err < best[0] or (err == best[0] and s < best[1]):
        best[0] = err
        best[1] = s
        best[2] = r
        best[3] = total
    if r < target:
        ends[0] = s
        ends[1] = r
        ends[4] = 1.0
    elif r > target:
        ends[2] = s
        ends[3] = r
        ends[5] = 1.0
    return r


@jit_strict_helper
def _bracketed(ends):
    return ends[4] != 0.0 and ends[5] != 0.0 and ends[0] < ends[2]


@jit_strict_helper
def _refine(alpha, thr, rows, box, g, n_out, scale, target, goal, steps, rounding, consts, best):
    """The search of ``refine_scale``, leaving the best scale seen in ``best``."""
    ends = np.zeros(6)
    kept = 0  # the side kept by the last interpolation: 0 none, 1 below, 2 above
    weight = 1.0
    last = -1.0  # no ratio yet (ratios are >= 0)
    stride = 1.0
    for _ in range(steps[0]):
        r = _look(scale, alpha, thr, rows, box, g, n_out, rounding, consts, target, best, ends)
        if best[0] <= goal:
            return
        if _bracketed(ends):
            side = 2 if r < target else 1  # the end this step did not move
            weight = weight / 2 if side == kept else 1.0
            kept = side
            sl = ends[0]
            rl = ends[1]
            sh = ends[2]
            rh = ends[3]
            dl = (target - rl) * (weight if side == 1 else 1.0)
            dh = (rh - target) * (weight if side == 2 else 1.0)
            new = sl + (sh - sl) * dl / (dl + dh)
            if not (sl < new and new < sh):
                new = (sl + sh) / 2
        else:
            stride = stride * 2 if r == last else 1.0
            new = scale + stride * scale * ((target / r if r > 0 else 2.0) - 1)
            new = _lower(_higher(new, scale / 4), scale * 4)
        last = r
        if new == scale or (ends[4] != 0.0 and ends[5] != 0.0 and ends[2] - ends[0] <= 1e-12 * ends[2]):
            break
        scale = new
    if _bracketed(ends):
        lo = ends[0]
        hi = ends[2]
        for _ in range(steps[1]):
            mid = (lo + hi) / 2
            if not (lo < mid and mid < hi) or hi - lo <= 1e-12 * hi:
                break
            if _look(mid, alpha, thr, rows, box, g, n_out, rounding, consts, target, best, ends) < target:
                lo = mid
            else:
                hi = mid
            if best[0] <= goal:
                return
    center = best[1]
    step = 2 * goal / target
    for k in range(1, steps[2] + 1):
        for sign in (1, -1):
            s = center * (1 + sign * k * step)
            if s > 0:
                _look(s, alpha, thr, rows, box, g, n_out, rounding, consts, target, best, ends)
                if best[0] <= goal:
                    return


@jit_strict
def search_scale(alpha, thr, rows, lo, hi, g, n_out, scale, target, goal, steps, rounding, consts):
    """``refine_scale(probe.ratio, scale, target, goal)`` for one bilinear view: ``(scale, on, total, dx, dy)``.

    ``alpha``, ``thr``, ``rounding`` and ``consts`` are those the view's
    probe passes to :func:`~pixscale.kernels.probe.count_spans`; ``rows``
    (int64, (H, 6)) receives :func:`~pixscale.kernels.probe.probe_rows`'
    table first, for the levels ``lo``, ``hi`` (``alpha``'s dtype).  ``g``
    (float64, 23) is the view's geometry: ``src_cx, src_cy, ideal_x,
    ideal_y, shift, lo_x, hi_x, lo_y, hi_y, ax, bx, ay, by, ho, wo`` (the
    footprint's extent and the rooms of ``fit="shift"`` when ``shift`` is
    1), the probe's source box ``x0, y0, x1, y1``, then the box
    :func:`~pixscale.kernels.count.warp_count` builds the table in (every
    integer exact in a float64); ``n_out``
    the canvas's pixels; ``steps`` (int64, 3) the search's, bisection's and
    scan's step counts.  Besides the best scale it returns the counts there
    on the canvas (``on``) and on an unbounded one (``total``; the ratio is
    ``sqrt(total / n_out)``), and where the source centre lands there
    (:func:`pixscale._place.place`'s ``(dx, dy)``).
    """
    probe_rows(alpha, lo, hi, int(g[19]), int(g[20]), int(g[21]), int(g[22]), rows)
    box = g[15:19]
    best = np.empty(4)
    best[0] = np.inf
    best[1] = scale
    best[2] = 0.0
    best[3] = 0.0
    _refine(alpha, thr, rows, box, g, n_out, scale, target, goal, steps, rounding, consts, best)
    s = best[1]
    dx, dy, r0, r1, c0, c1 = _window(s, box, g)
    total = np.int64(best[3])  # counted by the look that kept this scale
    ho = int(g[13])
    wo = int(g[14])
    k0 = max(r0, 0)
    k1 = min(r1, ho)
    j0 = max(c0, 0)
    j1 = min(c1, wo)
    on = total
    if k0 != r0 or k1 != r1 or j0 != c0 or j1 != c1:
        on = _count(alpha, thr, rows, s, g, dx, dy, k0, k1, j0, j1, rounding, consts)
    return s, on, total, dx, dy


@jit_strict_helper
def _max_scale(fit, g, p):
    """:func:`pixscale._place.max_scale` of the extent in ``g``, rooms and ideal point in ``p``; -1 for its error."""
    limit = np.inf
    if fit == 2:  # "none"
        return limit
    for axis in range(2):
        lo = g[5 + 2 * axis]
        hi = g[6 + 2 * axis]
        a = p[6 + 2 * axis]
        b = p[7 + 2 * axis]
        if fit == 0:  # "shift"
            if hi > lo:
                limit = _lower(limit, (b - a) / (hi - lo))
            continue
        d = p[4 + axis]
        if not (a < d and d < b):
            return -1.0  # the centre outside the room: the caller raises (max_scale's ValueError)
        if lo < 0:
            limit = _lower(limit, (d - a) / -lo)
        if hi > 0:
            limit = _lower(limit, (b - d) / hi)
    return limit


@jit_strict
def place_view(stats, p, h, w, n_out, target, exact, g):
    """The closed-form plan of one measured view, as :func:`pixscale._plan.plan_measured` makes it: True if made.

    (``normalize_batch``'s, see :class:`pixscale._batch.LikeViews`.)

    ``stats`` is the measure kernels' ``[count, sum_x, sum_y, x0, y0, x1,
    y1]`` of an (``h``, ``w``) alpha, ``n_out`` the canvas's pixels, ``p``
    (float64, 16) the batch's placement: ``center`` (0 centroid, 1 bbox, 2
    image, 3 the point ``p[1:3]``), ``fit`` (0 shift, 1 shrink, 2 none), the
    ideal point, the rooms ``ax, bx, ay, by`` of :func:`pixscale._place.rooms`,
    the filter's reach in source pixels, the canvas ``ho, wo``, the probe's
    reach ``r`` (source pixels around the box), exact mode's ``LOW_RES`` and
    the fewest output pixels an object may be expected to cover without a
    count.  Integer alpha and the bilinear filter: the support is the bbox.

    ``g`` (float64, 28) receives the view's geometry as :func:`search_scale`
    takes it (its first 23 values; the rooms only with ``fit="shift"``), then
    the closed-form scale before and after the fit's cap (``wanted``,
    ``cap``), then, in exact mode, the search's start (``wanted * LOW_RES``),
    else the scale and where the centre lands (``scale, dx, dy``).
    Returns False where the general planner must plan the view: an empty
    mask, the shrink rule's centre outside the room, and without exact mode
    ``fit="none"`` (which counts what the canvas cuts) or an object expected
    to cover fewer than ``p[15]`` output pixels (counted, to see that it survives).
    """
    count = stats[0]
    if count == 0:
        return False
    x0 = stats[3]
    y0 = stats[4]
    x1 = stats[5]
    y1 = stats[6]
    center = p[0]
    if center == 0.0:
        cx = stats[1] / count + 0.5
        cy = stats[2] / count + 0.5
    elif center == 1.0:
        cx = (x0 + x1) / 2
        cy = (y0 + y1) / 2
    elif center == 2.0:
        cx = w / 2
        cy = h / 2
    else:
        cx = p[1]
        cy = p[2]
    fit = int(p[3])
    reach = p[10]
    g[0] = cx
    g[1] = cy
    g[2] = p[4]
    g[3] = p[5]
    g[4] = 1.0 if fit == 0 else 0.0
    g[5] = x0 - reach - cx
    g[6] = x1 + reach - cx
    g[7] = y0 - reach - cy
    g[8] = y1 + reach - cy
    for k in range(4):
        g[9 + k] = p[6 + k] if fit == 0 else 0.0
    g[13] = p[11]
    g[14] = p[12]
    r = p[13]
    g[15] = x0 - r
    g[16] = y0 - r
    g[17] = x1 + r
    g[18] = y1 + r
    g[19] = max(x0, 0)
    g[20] = max(y0, 0)
    g[21] = min(x1, w)
    g[22] = min(y1, h)
    cap = _max_scale(fit, g, p)
    if cap < 0:
        return False
    wanted = target / math.sqrt(count / n_out)
    g[23] = wanted
    g[24] = cap
    if exact:
        g[25] = wanted * p[14]
        return True
    scale = _lower(wanted, cap)
    if fit == 2 or scale * scale * count < p[15]:
        return False
    dx, dy = _place(scale, g)
    g[25] = scale
    g[26] = dx
    g[27] = dy
    return True
