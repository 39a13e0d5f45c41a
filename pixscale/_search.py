"""Exact mode's search: the scale whose re-measured size ratio is closest to the target.

:func:`refine_scale` is the specification; :func:`pixscale.kernels.search.search_scale`
runs the same steps in one compiled call (a single view's search, once the span count is on), given :data:`STEPS`.
"""

import math

import numpy as np

_SEARCH_STEPS = 12  # multiplicative steps and interpolations
_BISECT_STEPS = 48
_SCAN_STEPS = 48  # scales scanned on either side of the best one
STEPS = np.array([_SEARCH_STEPS, _BISECT_STEPS, _SCAN_STEPS], np.int64)  # the compiled search's copy


def refine_scale(ratio, scale, target, goal):
    """The scale whose ``ratio(scale)`` is closest to ``target``, found by a local search.

    The ratio grows about in proportion to the scale, so the first steps
    multiply the scale by ``target / ratio`` (twice as far, then four times,
    while the ratio stays the same: a plateau of a straight edge along the
    grid).  Once two scales bracket the target, each step interpolates
    linearly between the closest scales on either side (regula falsi, the
    retained side's residual halved when it is kept twice, so the bracket
    keeps shrinking from both ends).  The re-measured ratio of a resample
    moves in jumps as pixels cross the threshold, one pixel at a time on
    soft edges: near the target the interpolation lands on the scales
    between the jumps.  When it does not land within ``goal``, bisection
    pins down where the ratio crosses the target (the best scale is usually
    at one side of that jump), and a scan of nearby scales looks for a
    closer ratio, since the ratio is not monotonic.  Stops as soon as a
    ratio within ``goal`` is seen.  Returns
    ``(scale, ratio)`` of the best scale seen (the smaller scale on ties).
    """
    best = [math.inf, scale, 0.0]
    below = above = None  # the latest (scale, ratio) short of / past the target

    def look(s):
        nonlocal below, above
        r = ratio(s)
        if (abs(r - target), s) < (best[0], best[1]):
            best[:] = abs(r - target), s, r
        if r < target:
            below = (s, r)
        elif r > target:
            above = (s, r)
        return r

    kept, weight = None, 1.0  # the side kept by the last interpolation, and its residual's weight
    last, stride = None, 1.0  # the previous ratio; how far past the multiplicative step to go
    for _ in range(_SEARCH_STEPS):
        r = look(scale)
        if best[0] <= goal:
            return best[1], best[2]
        if below is not None and above is not None and below[0] < above[0]:
            side = "above" if r < target else "below"  # the end this step did not move
            weight = weight / 2 if side == kept else 1.0
            kept = side
            (sl, rl), (sh, rh) = below, above
            dl, dh = (
                (target - rl) * (weight if side == "below" else 1.0),
                (rh - target) * (weight if side == "above" else 1.0),
            )
            new = sl + (sh - sl) * dl / (dl + dh)
            if not sl < new < sh:
                new = (sl + sh) / 2
        else:
            stride = stride * 2 if r == last else 1.0  # on a plateau (a straight edge): reach further
            new = scale + stride * scale * ((target / r if r > 0 else 2.0) - 1)
            new = min(max(new, scale / 4), scale * 4)
        last = r
        if new == scale or (below is not None and above is not None and above[0] - below[0] <= 1e-12 * above[0]):
            break
        scale = new
    if below is not None and above is not None and below[0] < above[0]:
        lo, hi = below[0], above[0]
        for _ in range(_BISECT_STEPS):
            mid = (lo + hi) / 2
            if not lo < mid < hi or hi - lo <= 1e-12 * hi:
                break
            if look(mid) < target:
                lo = mid
            else:
                hi = mid
            if best[0] <= goal:
                return best[1], best[2]
    center = best[1]
    step = 2 * goal / target
    for k in range(1, _SCAN_STEPS + 1):
        for sign in (1, -1):
            s = center * (1 + sign * k * step)
            if s > 0:
                look(s)
                if best[0] <= goal:
                    return best[1], best[2]
    return best[1], best[2]
