"""What exact mode costs: ``normalize(img)`` against ``normalize(img, exact=False)``, before and after.

    python benchmarks/exact.py [--base CHECKOUT] [--sizes 512 1024] [--views 12] [--rounds 15]

Each tree (this checkout, and ``--base``, another checkout of pixscale, e.g. a
``git worktree`` of main) runs in its own worker process with the tree first on
``sys.path``; the rounds alternate between the workers, and within a worker
each image is normalized in exact mode and with the closed form in turn, so a
noisy machine slows both alike; a round keeps each image's fastest of
``REPEATS`` calls per mode (preemption only ever adds time).  Cases: ``pixscale.bench.test_image`` (the
soft ellipse of ``pixscale bench``, default options) at each size, and
``--views`` demo views of 512² (``pixscale.synth.mouse_view``).  Prints, per
tree and case, the median over rounds of each mode's time (per view) and of
the exact / closed-form ratio, and the alpha warps (probes) exact mode made per
view.  Compile time is excluded (a warm-up call first).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPEATS = 5  # each image, each round: the fastest of this many calls of each mode (a shared machine)


def _cases(sizes, n_views):
    import numpy as np

    from pixscale import bench, synth

    cases = {f"bench.test_image {size}²": [bench.test_image(size)] for size in sizes}
    if n_views:
        rng = np.random.default_rng(0)
        cases["demo views 512²"] = [synth.mouse_view(rng, size=512) for _ in range(n_views)]
    return cases


def _probes(images):
    """Alpha warps a view in exact mode: the count kernel's calls, however the tree names it.

    A tree whose ``normalize`` searches in one compiled call (no Python probe to count) is
    counted through its Python search, which makes the same probes.
    """
    import inspect

    import pixscale
    from pixscale import _plan

    python_search = "compiled" in inspect.signature(_plan.plan_views).parameters

    calls = []
    real = _plan.resampler

    def counting(filter, scale):
        window, count = real(filter, scale)

        def counted(*a):
            calls.append(1)
            return count(*a)

        return window, counted

    _plan.resampler = counting
    try:
        for img in images:
            if python_search:
                _plan.plan_views([img], pixscale.Options(), compiled=False)
            else:
                pixscale.normalize(img)
    finally:
        _plan.resampler = real
    return len(calls) / len(images)


def worker(sizes, n_views):
    """Serve rounds on stdin/stdout: each line in is a round, each line out its times (JSON)."""
    import pixscale
    from pixscale._precompile import precompile

    precompile(["uint8"])  # as a dataset run does: the probe's span count too, from its first call
    cases = _cases(sizes, n_views)
    for images in cases.values():
        for img in images:
            pixscale.normalize(img), pixscale.normalize(img, exact=False)  # compile / load
    info = {"tree": str(pathlib.Path(pixscale.__file__).parent.parent), "probes": {}}
    info["probes"] = {name: _probes(images) for name, images in cases.items()}
    print(json.dumps(info), flush=True)
    for _ in sys.stdin:
        row = {}
        for name, images in cases.items():
            exact = closed = 0.0
            for img in images:
                best = [float("inf"), float("inf")]
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    pixscale.normalize(img)
                    t1 = time.perf_counter()
                    pixscale.normalize(img, exact=False)
                    t2 = time.perf_counter()
                    best = [min(best[0], t1 - t0), min(best[1], t2 - t1)]
                exact, closed = exact + best[0], closed + best[1]
            row[name] = (exact / len(images), closed / len(images))
        print(json.dumps(row), flush=True)


def _start(tree, args):
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, __file__, "--worker", "--sizes", *map(str, args.sizes), "--views", str(args.views)]
    p = subprocess.Popen(cmd, env=env, cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(p.stdout.readline())
    return p, info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", help="another pixscale checkout to time beside this one (before)")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--views", type=int, default=12)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.sizes, args.views)
    here = pathlib.Path(__file__).resolve().parent.parent
    trees = {"before": pathlib.Path(args.base).resolve()} if args.base else {}
    trees["after" if args.base else "this tree"] = here
    workers = {label: _start(tree, args) for label, tree in trees.items()}
    rounds = {label: [] for label in trees}
    try:
        for _ in range(args.rounds):
            for label, (proc, _) in workers.items():
                proc.stdin.write("round\n")
                proc.stdin.flush()
                rounds[label].append(json.loads(proc.stdout.readline()))
    finally:
        for proc, _ in workers.values():
            proc.stdin.close()
            proc.wait()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.rounds} rounds in alternation, medians; load average {load:.1f} at the end\n")
    print("| case | tree | exact ms | closed form ms | exact / closed | probes / view |")
    print("|---|---|---|---|---|---|")
    for name in rounds[next(iter(trees))][0]:
        for label in trees:
            rows = [r[name] for r in rounds[label]]
            e = statistics.median(x[0] for x in rows)
            c = statistics.median(x[1] for x in rows)
            ratio = statistics.median(x[0] / x[1] for x in rows)
            probes = workers[label][1]["probes"][name]
            print(f"| {name} | {label} | {1e3 * e:.3f} | {1e3 * c:.3f} | {ratio:.2f}x | {probes:.1f} |")


if __name__ == "__main__":
    main()
