"""A prototype for the kernels' owner: exact mode's count skipping runs of sure pixels (pixscale does not use it).

    python benchmarks/probe_runs.py [--rounds 300]

Exact mode's probe (``kernels.bilinear.warp_count``) warps the whole window
that can hold the object and counts ``warped alpha > thr``, though only the
pixels along the object's edge can go either way (3 % of the window on the
bench image).  Bilinear weights are a convex combination, so an integer output
pixel whose four taps are all above the threshold is above it too
(``(thr + 1) * (1 - 1e-6)`` rounds above ``thr``), and one whose four taps are
all at or below it is not.  This prototype walks each output row with, per
source row, the next column at or below the threshold and the next one above
it (built once per plan over the object's box): a run of columns whose taps
all lie in one run of both source rows is counted (or skipped) in one step,
and only the other columns are interpolated, with the warp's arithmetic
(float32 weights from float64 coordinates, the pass order of the scale).  It
prints how often its count equals ``warp_count``'s over 401 scales and both
times per probe, on ``pixscale.bench.test_image`` and demo views at 512²
(uint8 alpha, bilinear only).  As written (a scalar walk, one column at a
time) it is slower than the vectorised warp: the spans need vectorising
inside the kernel.
"""

import argparse
import math
import statistics
import time

import numba
import numpy as np

from pixscale import _plan, bench, synth
from pixscale._options import Options
from pixscale._warp import resampler
from pixscale.kernels import FASTMATH

_NONE = 1 << 40  # no such column


@numba.njit(nogil=True, fastmath=FASTMATH)
def next_runs(alpha, thr, bx0, by0, bx1, by1):
    """Per row of the box: the next column >= x at or below ``thr`` (``nxt_out``) and above it (``nxt_in``)."""
    h, w = by1 - by0, bx1 - bx0
    nxt_out = np.empty((h, w + 1), np.int64)
    nxt_in = np.empty((h, w + 1), np.int64)
    for y in range(h):
        nxt_out[y, w] = bx1
        nxt_in[y, w] = _NONE
        for x in range(w - 1, -1, -1):
            above = alpha[by0 + y, bx0 + x] > thr
            nxt_out[y, x] = nxt_out[y, x + 1] if above else bx0 + x
            nxt_in[y, x] = bx0 + x if above else nxt_in[y, x + 1]
    return nxt_out, nxt_in


@numba.njit(nogil=True, fastmath=FASTMATH, inline="always")
def _next(table, inside, y, x, box):
    """The first column >= x of source row y that is out (``inside``) or in (not ``inside``)."""
    bx0, by0, bx1, by1 = box
    if not by0 <= y < by1 or x >= bx1:
        return x if inside else _NONE
    if x < bx0:
        return x if inside else table[y - by0, 0]
    return table[y - by0, x - bx0]


@numba.njit(nogil=True, fastmath=FASTMATH, inline="always")
def _is_in(alpha, thr, y, x, box):
    return box[1] <= y < box[3] and box[0] <= x < box[2] and alpha[y, x] > thr


@numba.njit(nogil=True, fastmath=FASTMATH, inline="always")
def _taps(u, n):
    f0 = np.floor(u)
    f = u - f0
    a = int(f0)
    wa = np.float32(1.0 - f) if 0 <= a < n else np.float32(0.0)
    wb = np.float32(f) if 0 <= a + 1 < n else np.float32(0.0)
    return min(max(a, 0), n - 1), min(max(a + 1, 0), n - 1), wa, wb


@numba.njit(nogil=True, fastmath=FASTMATH)
def count_runs(alpha, thr, scale, cx, cy, dx, dy, r0, r1, c0, c1, box, nxt_out, nxt_in):
    """``warp_count``'s count over ``[r0, r1) x [c0, c1)``, interpolating only between runs of sure taps."""
    h, w = alpha.shape
    count = 0
    for i in range(r0, r1):
        ya, yb, wya, wyb = _taps((i + 0.5 - dy) / scale + cy - 0.5, h)
        if wya == 0 and wyb == 0:
            continue
        if not (box[1] <= ya < box[3] or box[1] <= yb < box[3]):
            continue  # both source rows hold nothing above the threshold
        j = c0
        while j < c1:
            xa, xb, wxa, wxb = _taps((j + 0.5 - dx) / scale + cx - 0.5, w)
            if wxa != 0 and wxb != 0 and wya != 0 and wyb != 0:
                n_in = (
                    _is_in(alpha, thr, ya, xa, box)
                    + _is_in(alpha, thr, ya, xb, box)
                    + _is_in(alpha, thr, yb, xa, box)
                    + _is_in(alpha, thr, yb, xb, box)
                )
                if n_in == 4 or n_in == 0:
                    inside = n_in == 4
                    if inside:
                        e = min(_next(nxt_out, True, ya, xa, box), _next(nxt_out, True, yb, xa, box))
                    else:
                        e = min(_next(nxt_in, False, ya, xa, box), _next(nxt_in, False, yb, xa, box))
                    # Taps xa' <= e - 2 keep both taps in the run: j' < (e - 0.5 - cx) * scale + dx - 0.5,
                    # less one column for rounding.
                    end = c1 if e >= _NONE else min(int(math.ceil((e - 0.5 - cx) * scale + dx - 0.5)) - 1, c1)
                    if end > j:
                        if inside:
                            count += end - j
                        j = end
                        continue
            if scale >= 1.0:
                ha = wxa * np.float32(alpha[ya, xa]) + wxb * np.float32(alpha[ya, xb])
                hb = wxa * np.float32(alpha[yb, xa]) + wxb * np.float32(alpha[yb, xb])
                v = wya * ha + wyb * hb
            else:
                va = wya * np.float32(alpha[ya, xa]) + wyb * np.float32(alpha[yb, xa])
                vb = wya * np.float32(alpha[ya, xb]) + wyb * np.float32(alpha[yb, xb])
                v = wxa * va + wxb * vb
            if np.floor(min(max(v, np.float32(0)), np.float32(255)) + np.float32(0.5)) > thr:
                count += 1
            j += 1
    return count


def _window(probe, view, s):
    """The probe's window at scale ``s`` (as :class:`pixscale._plan._Probe` computes it) and the centres."""
    (cx, cy), (dx, dy) = view.src_center, view.dst_center(s)
    x0, y0, x1, y1 = probe.box
    r0, r1 = math.floor((y0 - cy) * s + dy) - 1, math.ceil((y1 - cy) * s + dy) + 1
    c0, c1 = math.floor((x0 - cx) * s + dx) - 1, math.ceil((x1 - cx) * s + dx) + 1
    return (s, cx, cy, dx, dy, r0, r1, c0, c1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=300)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    images = {"bench.test_image 512²": bench.test_image(512)}
    images.update({f"demo view {k}": synth.mouse_view(rng, size=512) for k in range(3)})
    options = Options()
    print("| image | probes compared | counts equal | warp_count µs | runs µs | run tables µs |")
    print("|---|---|---|---|---|---|")
    for name, img in images.items():
        m, alpha = _plan._prepare(img, options)
        view = _plan._View(alpha, m, options)
        probe = _plan._Probe(view)
        thr = view.thr
        box = np.array(view.support, np.int64)
        nxt_out, nxt_in = next_runs(alpha, thr, *box)
        kernel = resampler("bilinear", 1.0)[1]
        calls = [_window(probe, view, float(s)) for s in 0.3 / m.size_ratio * (1 + np.linspace(-0.02, 0.02, 401))]

        def warp_count(call):
            return kernel(alpha, thr, *call, *probe.args)

        def runs(call):
            return count_runs(alpha, thr, *call, box, nxt_out, nxt_in)

        equal = sum(warp_count(call) == runs(call) for call in calls)

        def timed(fn):
            times = []
            for k in range(args.rounds):
                t0 = time.perf_counter()
                fn(calls[k % len(calls)])
                times.append(time.perf_counter() - t0)
            return 1e6 * statistics.median(times)

        t_kernel, t_runs = timed(warp_count), timed(runs)
        t_build = timed(lambda _: next_runs(alpha, thr, *box))
        print(f"| {name} | {len(calls)} | {equal} | {t_kernel:.1f} | {t_runs:.1f} | {t_build:.1f} |")
    print(f"\nmedians of {args.rounds} calls each, cycling through the scales")


if __name__ == "__main__":
    main()
