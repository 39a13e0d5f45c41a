"""The GPU path's host-side cost: planning N device views, the kernels' own time left out.

Runs without a GPU, under numba's CUDA simulator: the kernels of
:mod:`pixscale.kernels.gpu` are replaced by a stand-in of their contract built
from the CPU kernels, timed separately and subtracted, so what is left is what
the host does around them on any machine: measuring's bookkeeping, the
planner (:func:`pixscale._plan.plan_measured`, Python per view), the probes'
rounds (one thread per view being planned, meeting at each launch) and the
conversions.  Every view of the batch is planned together, one launch a
probe round (a checkout before the array search planned them in threads,
``threads=`` of them meeting at each launch; ``threads=1``, one after the
other, a launch a probe: it prints that column too).

    python benchmarks/gpu_planning.py [--views 64] [--size 128] [--repeat 3] [--base ../main]

``--base`` runs this script in another checkout too, the two trees taking
turns (``--rounds`` each, each run a fresh process), and prints each tree's
median of its runs: old and new side by side on a loaded machine.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba.cuda is imported

import numpy as np  # noqa: E402
from numba import cuda  # noqa: E402

import pixscale  # noqa: E402
from pixscale import _gpu  # noqa: E402
from pixscale._warp import kernel_constants  # noqa: E402
from pixscale.kernels import kernels  # noqa: E402

SPENT = [0.0]  # seconds inside the stand-in's kernels
LAUNCHES = [0, 0]  # count_batch calls and probe rows, since the last reset


def _timed(fn):
    def call(*args, **kw):
        t = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            SPENT[0] += time.perf_counter() - t

    return staticmethod(call)


class StandIn:
    """The GPU kernel contract computed by the CPU kernels (bilinear only), each call timed."""

    FILTERS = ("bilinear",)

    @_timed
    def measure_batch(alpha, thr, stream=0):
        out = np.zeros((alpha.shape[0], 7), np.float64)
        for i, a in enumerate(alpha.copy_to_host()):
            stats = np.empty(7, np.int64)
            kernels().measure_alpha(np.ascontiguousarray(a), thr, stats)
            out[i] = stats
        return cuda.to_device(out)

    @_timed
    def warp_batch(src, out, params, premult, stream=0, filter="bilinear"):
        return out  # the warp is the device's; its cost is not the host's

    @_timed
    def count_batch(alpha, thr, params, out_h, out_w, stream=0, filter="bilinear"):
        views = np.ascontiguousarray(alpha.copy_to_host())
        LAUNCHES[0] += 1
        LAUNCHES[1] += params.shape[0]
        counts = []
        for row in params.copy_to_host():
            a = views[int(row[0])]
            r0, r1, c0, c1 = (int(v) for v in row[6:10])
            args = (a, a.dtype.type(thr), *row[1:6], r0, r1, c0, c1, True, kernel_constants(a.dtype))
            counts.append(kernels().warp_count(*args))
        return cuda.to_device(np.array(counts, np.int64))


def blobs(n, size, rng):
    y, x = np.mgrid[0:size, 0:size] + 0.5
    out = np.zeros((n, size, size, 4), np.uint8)
    for i, r in enumerate(rng.uniform(0.1, 0.3, n) * size):
        a = np.clip(r + 0.5 - np.hypot(x - size * 0.52, y - size * 0.47), 0, 1)
        out[i, ..., 3] = np.floor(a * 255 + 0.5)
        out[i, ..., :3] = 200
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--views", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base", help="another checkout (e.g. of main) to time beside this one, taking turns")
    ap.add_argument("--rounds", type=int, default=3, help="with --base: runs of each tree")
    args = ap.parse_args()
    if args.base:
        return side_by_side(args)
    _gpu._kernels = lambda: StandIn
    batch = cuda.to_device(blobs(args.views, args.size, np.random.default_rng(1)))
    load = os.getloadavg()[0]
    print(f"{args.views} views of {args.size}x{args.size}, host ms per view (best of {args.repeat}), load {load:.1f}")
    for exact in (False, True):
        opts = pixscale.Options(target=0.4, exact=exact)
        pixscale.normalize_batch(batch, options=opts)  # warm-up: the CPU kernels compile
        best = {None: np.inf, 1: np.inf}
        for _ in range(args.repeat):
            for threads in best:  # the two side by side in each round
                SPENT[0] = 0.0
                t = time.perf_counter()
                pixscale.normalize_batch(batch, options=opts, threads=threads)
                best[threads] = min(best[threads], time.perf_counter() - t - SPENT[0])
        cells = [f"threads={k or 'default'}: {v * 1e3 / args.views:.3f}" for k, v in best.items()]
        print(f"  {'exact' if exact else 'closed'}: " + ", ".join(cells))
        LAUNCHES[:] = [0, 0]
        pixscale.normalize_batch(batch, options=opts)
        print(f"    count_batch launches per batch: {LAUNCHES[0]}, probe rows per view: {LAUNCHES[1] / args.views:.1f}")


def side_by_side(args):
    """This script in this tree and in ``args.base``, alternately, ``args.rounds`` times: medians per cell."""
    trees = {"base": os.path.abspath(args.base), "this": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    cells: dict = {}
    for _ in range(args.rounds):
        for name, root in trees.items():
            cmd = [sys.executable, os.path.join(root, "benchmarks", "gpu_planning.py")]
            cmd += ["--views", str(args.views), "--size", str(args.size), "--repeat", str(args.repeat)]
            env = dict(os.environ, PYTHONPATH=root)
            text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            for mode, rest in re.findall(r"^\s+(closed|exact): (.*)$", text, re.M):
                for key, value in re.findall(r"(threads=\w+): ([0-9.]+)", rest):
                    cells.setdefault((mode, key), {}).setdefault(name, []).append(float(value))
    load = os.getloadavg()[0]
    size = f"{args.size}x{args.size}"
    print(f"{args.views} views of {size}, host ms per view, median of {args.rounds} runs, load {load:.1f}")
    print(f"{'':24}{'base':>10}{'this':>10}{'ratio':>8}")
    for (mode, key), runs in cells.items():
        base, this = statistics.median(runs["base"]), statistics.median(runs["this"])
        print(f"{mode + ', ' + key:24}{base:10.3f}{this:10.3f}{base / this:7.1f}x")


if __name__ == "__main__":
    main()
