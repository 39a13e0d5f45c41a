"""Exact mode's search for many views at once, as array operations: one probe launch a round for all of them.

:func:`pixscale._search.refine_scale` is the specification: each view's
search here takes the same steps with the same floating-point operations, so
it probes the same scales and returns the same ``(scale, ratio)``.  The
difference is the shape: each view's state (its best scale, the bracket, the
phase of the search) is an element of NumPy arrays, and each round asks for
the probe of every view still searching at once (one ``count`` call: a
``count_batch`` launch on the device), then advances every state with
array operations.  No Python runs per view in the loop.

The probe of a view at a scale is the CPU probe's
(:class:`pixscale._plan._Probe`): where the source centre lands
(:func:`pixscale._place.place_in` for ``fit="shift"``), the output window
that can hold the object, and the count of warped alpha above the threshold
in it; its ratio ``sqrt(count / n_out)``.
"""

import math

import numpy as np

from ._filters import reach
from ._plan import LOW_RES, _search_goal, _vanished, _View, tolerance, transform_of

# The phases of a view's search (refine_scale's three loops), and done.
_STEP, _BISECT, _SCAN, _DONE = 0, 1, 2, 3
# The side an interpolation kept (refine_scale's ``kept``).
_NONE, _ABOVE, _BELOW = 0, 1, 2


class Geometry:
    """Where each view's object lands at a scale and the output window that can hold it, as arrays.

    Built from :class:`pixscale._plan._View` objects (one per view, all with
    the same output shape); ``index`` is each view's index in the device
    batch the counts read.
    """

    def __init__(self, views, index, filter):
        r = math.ceil(reach(filter)[0] + 0.5)  # _Probe's box: source pixels whose taps can reach the object
        f = np.array(
            [
                (
                    *v.src_center,
                    *v.ideal,
                    *v.extent[0],
                    *v.extent[1],
                    *(v.rooms or ((0.0, 0.0), (0.0, 0.0)))[0],
                    *(v.rooms or ((0.0, 0.0), (0.0, 0.0)))[1],
                    *v.support,
                )
                for v in views
            ],
            np.float64,
        ).reshape(len(views), 16)
        self.index = np.asarray(index, np.float64)
        self.cx, self.cy, self.dx, self.dy = f[:, 0], f[:, 1], f[:, 2], f[:, 3]
        self.lo_x, self.hi_x, self.lo_y, self.hi_y = f[:, 4], f[:, 5], f[:, 6], f[:, 7]
        self.ax, self.bx, self.ay, self.by = f[:, 8], f[:, 9], f[:, 10], f[:, 11]
        self.x0, self.y0, self.x1, self.y1 = f[:, 12] - r, f[:, 13] - r, f[:, 14] + r, f[:, 15] + r
        self.shift = np.array([v.rooms is not None for v in views], bool)
        self.output_shape = views[0].output_shape if views else (0, 0)
        self.n_out = float(self.output_shape[0] * self.output_shape[1])

    def dst(self, i, s):
        """``_View.dst_center`` of views ``i`` at scales ``s``: ``(dx, dy)`` arrays."""
        dx, dy = self.dx[i], self.dy[i]
        shift = self.shift[i]
        if not shift.any():
            return dx, dy
        return (
            np.where(shift, _place(s, self.lo_x[i], self.hi_x[i], dx, self.ax[i], self.bx[i]), dx),
            np.where(shift, _place(s, self.lo_y[i], self.hi_y[i], dy, self.ay[i], self.by[i]), dy),
        )

    def rows(self, i, s, clip=False):
        """The ``count_batch`` rows of views ``i`` at scales ``s``: ``_Probe.windows`` (``clip``: on the canvas)."""
        dx, dy = self.dst(i, s)
        cx, cy = self.cx[i], self.cy[i]
        r0 = np.floor((self.y0[i] - cy) * s + dy) - 1
        r1 = np.ceil((self.y1[i] - cy) * s + dy) + 1
        c0 = np.floor((self.x0[i] - cx) * s + dx) - 1
        c1 = np.ceil((self.x1[i] - cx) * s + dx) + 1
        if clip:
            ho, wo = self.output_shape
            r0, r1, c0, c1 = np.maximum(r0, 0), np.minimum(r1, ho), np.maximum(c0, 0), np.minimum(c1, wo)
        return np.stack([self.index[i], s, cx, cy, dx, dy, r0, r1, c0, c1], axis=1)


def _place(s, lo, hi, d, a, b):
    """:func:`pixscale._place.place_in` along one axis, for arrays."""
    first, last = a - s * lo, b - s * hi
    return np.where(first <= last, np.minimum(np.maximum(d, first), last), (first + last) / 2)


def counts(count, rows):
    """``count(rows)`` for the rows whose window is not empty; 0 for the others (as ``_Probe._count``)."""
    live = (rows[:, 6] < rows[:, 7]) & (rows[:, 8] < rows[:, 9])
    if live.all() and len(rows):
        return count(rows)
    out = np.zeros(len(rows), np.int64)
    if live.any():
        out[live] = count(rows[live])
    return out


def search(geometry, count, start, target, goal):
    """:func:`pixscale._search.refine_scale` of every view at once: ``(scale, ratio, total)`` arrays.

    ``start`` and ``goal`` are per view; ``count(rows)`` answers a round's
    probes (see :meth:`Geometry.rows`).  ``total`` is the count at the
    returned scale, on an unbounded canvas.
    """
    from ._search import _BISECT_STEPS, _SCAN_STEPS, _SEARCH_STEPS

    n = len(start)
    start = np.asarray(start, np.float64)
    goal = np.broadcast_to(np.asarray(goal, np.float64), (n,)).copy()
    best_d, best_s, best_r = np.full(n, np.inf), start.copy(), np.zeros(n)
    best_t = np.zeros(n, np.int64)
    has_lo, lo_s, lo_r = np.zeros(n, bool), np.zeros(n), np.zeros(n)  # "below": short of the target
    has_hi, hi_s, hi_r = np.zeros(n, bool), np.zeros(n), np.zeros(n)  # "above": past it
    kept, weight = np.full(n, _NONE, np.int8), np.ones(n)
    last, stride = np.full(n, np.nan), np.ones(n)
    scale, steps = start.copy(), np.zeros(n, np.int64)
    b_lo, b_hi, b_steps = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
    center, k, sign, step = np.zeros(n), np.ones(n, np.int64), np.ones(n, np.int64), 2 * goal / target
    phase = np.full(n, _STEP, np.int8)
    pending = start.copy()

    def bisect_next(i):
        """The next bisection probe of views ``i`` (refine_scale's second loop), or on to the scan."""
        mid = (b_lo[i] + b_hi[i]) / 2
        inside = (b_lo[i] < mid) & (mid < b_hi[i])
        stop = (b_steps[i] >= _BISECT_STEPS) | ~inside | (b_hi[i] - b_lo[i] <= 1e-12 * b_hi[i])
        go = i[~stop]
        pending[go], phase[go] = mid[~stop], _BISECT
        scan_start(i[stop])

    def after_steps(i):
        """refine_scale after its first loop: bisect a bracket, else scan."""
        bracket = has_lo[i] & has_hi[i] & (lo_s[i] < hi_s[i])
        j = i[bracket]
        b_lo[j], b_hi[j], b_steps[j] = lo_s[j], hi_s[j], 0
        bisect_next(j)
        scan_start(i[~bracket])

    def scan_start(i):
        center[i], k[i], sign[i] = best_s[i], 1, 1
        scan_next(i)

    def scan_next(i):
        """The next scan probe of views ``i``: the first ``center * (1 + sign * k * step) > 0``, or done."""
        while len(i):
            over = k[i] > _SCAN_STEPS
            phase[i[over]] = _DONE
            i = i[~over]
            s = center[i] * (1 + sign[i] * k[i] * step[i])
            ok = s > 0
            pending[i[ok]], phase[i[ok]] = s[ok], _SCAN
            i = i[~ok]
            advance(i)

    def advance(i):
        flip = sign[i] == 1
        sign[i[flip]] = -1
        sign[i[~flip]] = 1
        k[i[~flip]] += 1

    with np.errstate(divide="ignore", invalid="ignore"):
        while True:
            i = np.flatnonzero(phase != _DONE)
            if not len(i):
                break
            s = pending[i]
            total = counts(count, geometry.rows(i, s))
            r = np.sqrt(total / geometry.n_out)
            # look(s)
            d = np.abs(r - target)
            better = (d < best_d[i]) | ((d == best_d[i]) & (s < best_s[i]))
            b = i[better]
            best_d[b], best_s[b], best_r[b], best_t[b] = d[better], s[better], r[better], total[better]
            below, above = r < target, r > target
            has_lo[i[below]], lo_s[i[below]], lo_r[i[below]] = True, s[below], r[below]
            has_hi[i[above]], hi_s[i[above]], hi_r[i[above]] = True, s[above], r[above]
            reached = best_d[i] <= goal[i]
            phase[i[reached]] = _DONE
            p = phase[i]
            # The first loop: steps, then interpolations between the bracket's ends.
            m = (p == _STEP) & ~reached
            j, rj = i[m], r[m]
            if len(j):
                both = has_lo[j] & has_hi[j] & (lo_s[j] < hi_s[j])
                side = np.where(rj < target, _ABOVE, _BELOW)  # the end this step did not move
                weight[j] = np.where(both, np.where(side == kept[j], weight[j] / 2, 1.0), weight[j])
                kept[j] = np.where(both, side, kept[j])
                sl, rl, sh, rh, w = lo_s[j], lo_r[j], hi_s[j], hi_r[j], weight[j]
                dl = (target - rl) * np.where(side == _BELOW, w, 1.0)
                dh = (rh - target) * np.where(side == _ABOVE, w, 1.0)
                inter = sl + (sh - sl) * dl / (dl + dh)
                inter = np.where((sl < inter) & (inter < sh), inter, (sl + sh) / 2)
                stride[j] = np.where(both, stride[j], np.where(rj == last[j], stride[j] * 2, 1.0))
                sc = scale[j]
                mult = sc + stride[j] * sc * (np.where(rj > 0, target / rj, 2.0) - 1)
                mult = np.minimum(np.maximum(mult, sc / 4), sc * 4)
                new = np.where(both, inter, mult)
                last[j] = rj
                stop = (new == sc) | (has_lo[j] & has_hi[j] & (hi_s[j] - lo_s[j] <= 1e-12 * hi_s[j]))
                scale[j[~stop]] = new[~stop]
                steps[j] += 1
                stop |= steps[j] >= _SEARCH_STEPS
                go = j[~stop]
                pending[go] = scale[go]
                after_steps(j[stop])
            # The bisection.
            m = (p == _BISECT) & ~reached
            j = i[m]
            if len(j):
                lower = r[m] < target
                b_lo[j[lower]] = s[m][lower]
                b_hi[j[~lower]] = s[m][~lower]
                b_steps[j] += 1
                bisect_next(j)
            # The scan.
            m = (p == _SCAN) & ~reached
            j = i[m]
            if len(j):
                advance(j)
                scan_next(j)
    return best_s, best_r, best_t


def plan_alone(objects, supports, options, count, views_per_launch=None):
    """Each view planned alone, as :func:`pixscale._plan.plan_measured` plans one, all views at once.

    ``objects`` are :class:`~pixscale._plan.Measured` (not empty), ``supports``
    their boxes of :func:`pixscale._plan._support`, ``count`` answers a
    round's probe rows (:meth:`Geometry.rows`; the view column indexes
    ``objects``).  Up to ``views_per_launch`` views (default all) search
    together.  Returns one :class:`~pixscale.ScaleTransform` per view; the
    error of the lowest failing view is raised, its message naming the view
    when there are several.
    """
    n = len(objects)
    views: list = [None] * n
    errors: dict[int, Exception] = {}
    for i, (o, box) in enumerate(zip(objects, supports, strict=True)):
        try:
            views[i] = _View(o.alpha, o.measurement, options, box)
        except (ValueError, TypeError) as exc:
            errors[i] = exc
    ok = [i for i in range(n) if views[i] is not None]
    plans: list = [None] * n
    size = views_per_launch or max(len(ok), 1)
    for c in range(0, len(ok), size):
        part = ok[c : c + size]
        for i, plan in zip(part, _plan_part([views[i] for i in part], part, options, count), strict=True):
            if isinstance(plan, Exception):
                errors[i] = plan
            else:
                plans[i] = plan
    if errors:
        i = min(errors)
        if n == 1:
            raise errors[i]
        raise type(errors[i])(f"image {i} of the batch: {errors[i]}") from errors[i]
    return plans


def _plan_part(views, index, options, count):
    """:func:`plan_alone` of views that share one output shape: a transform, or the error, per view."""
    target, exact, filter = options.target, options.exact, options.filter
    geometry = Geometry(views, index, filter)
    n_out = views[0].n_out
    pixels = np.array([v.measurement.count for v in views], np.float64)
    wanted = target / np.sqrt(pixels / n_out)
    cap = np.array([v.max_scale for v in views], np.float64)
    probed = exact or options.fit == "none"
    tol = total = None
    if exact:
        tol = tolerance(target, n_out)
        start = wanted * LOW_RES if filter == "bilinear" else wanted
        wanted, reached, total = search(geometry, count, start, target, _search_goal(target, n_out, 1))
        over = np.flatnonzero(wanted > cap)
        if len(over):  # the cap does as well: it is a scale the target asks for, not a shrink
            at_cap = counts(count, geometry.rows(over, cap[over]))
            use = np.abs(np.sqrt(at_cap / n_out) - target) <= np.abs(reached[over] - target)
            wanted[over[use]] = cap[over[use]]
            total[over] = at_cap  # the count at min(wanted, cap)
    scale = np.minimum(wanted, cap)
    # The counts at the planned scale: on the canvas (and, unprobed, on an unbounded one), in one launch.
    everyone = np.arange(len(views))
    window, clipped = geometry.rows(everyone, scale), geometry.rows(everyone, scale, clip=True)
    cut = (window[:, 6:] != clipped[:, 6:]).any(axis=1)
    on = np.full(len(views), -1, np.int64)
    if probed:
        need_total = everyone if total is None else np.empty(0, np.int64)
        need_on = np.flatnonzero(cut)
    else:  # the closed form counts only an object small enough to vanish (_count_if_tiny)
        need_total, need_on = np.empty(0, np.int64), np.flatnonzero(scale * scale * pixels < 4096)
    got = counts(count, np.concatenate([window[need_total], clipped[need_on]]))
    if total is None:
        total = np.zeros(len(views), np.int64)
        total[need_total] = got[: len(need_total)]
    if probed:
        on[~cut] = total[~cut]
    on[need_on] = got[len(need_total) :]
    out = []
    columns = (scale.tolist(), wanted.tolist(), cap.tolist(), on.tolist(), total.tolist())
    for v, s, w, c, o, t in zip(views, *columns, strict=True):
        plan = transform_of(v, s, w, c, o if probed else None, t if probed else None, options, tol)
        out.append(_vanished([0], [plan], 1) if o == 0 else plan)
    return out
