"""The coordinator of a large run: its memory per view, its CPU per view and the time to write the report.

What it measures: ``pixscale.pipeline.driver.run_records`` itself (the
coordinator: handing out units, recording each in the manifest, the list
files, the report with its figures, rows and tables) on a synthetic dataset
of tiny views (32 x 32), 12 views per sample, whose work units are answered
at once in this process by a stand-in executor with records made up from a
seeded generator (so 200,000 views need no 200,000 decoded files).  Only
what a run does outside the coordinator is replaced: finding the dataset
(the listing is built before measuring: its own cost is the dataset's, said
apart), the workers, the folder checks and the kernel warm-up.  The
contact sheet finds no files to draw (its panels say so).

Per run (a fresh process each):

* ``peak MiB``: tracemalloc's peak of what the coordinator allocates from the
  start of ``run_records`` to its end (the listing excluded), and
  ``bytes/view``, the growth of that peak between the two sizes divided by
  the views between them;
* ``cpu ms/view``: the process's CPU time in ``run_records`` less the time
  the stand-in spent making records (a separate, untraced run), divided by
  the views; ``marginal``: its growth between the two sizes divided by the
  views between them (the fixed costs, e.g. drawing the figures, left out);
* ``report s``: wall time of ``write_run_report`` (the report folder: rows
  file, report.json, report.md and the figures), and its CPU time (``cpu``:
  the wall time on a machine with a core to spare).

Usage::

    python benchmarks/bigrun.py --base /tmp/base-stream [--sizes 20000 200000] [--rounds 1]
    python benchmarks/bigrun.py --base /tmp/base-stream --report-only --rounds 3   # the report's time alone

``--base``: a checkout of another tree (e.g. main) run side by side, the
same script alternating between the trees.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VIEWS_PER_SAMPLE = 12
SIZE = 32


def _dataset(n_views, root):
    from pathlib import Path

    from pixscale.pipeline.dataset import Dataset, Sample, View

    samples = []
    for i in range(-(-n_views // VIEWS_PER_SAMPLE)):
        name = f"obj_{i:07d}"
        views = [
            View(Path(root, name, f"{j:03d}.png"), f"{j:03d}.png", f"{name}/{j:03d}.png")
            for j in range(min(VIEWS_PER_SAMPLE, n_views - i * VIEWS_PER_SAMPLE))
        ]
        samples.append(Sample(name, name, views))
    return Dataset(Path(root), "flat", samples, title="synthetic")


class _Transform:
    __slots__ = (
        "scale",
        "wanted_scale",
        "limited",
        "shift",
        "cut_pixels",
        "src_center",
        "dst_center",
        "achieved_ratio",
    )


def _result(sample, rng, spent):
    """The result a work unit would return for ``sample``: a written record per view, made up."""
    from pixscale._measure import Measurement
    from pixscale.pipeline.records import ViewRecord

    t0 = time.process_time()
    rows, outputs = [], []
    for v in sample.views:
        n = int(rng.integers(80, 400))
        cx, cy = (float(c) for c in rng.uniform(10, 22, 2))
        before = Measurement(n, (cx, cy), (3, 4, 29, 27), (SIZE, SIZE))
        after = Measurement(307, (16.0 + float(rng.normal(0, 0.2)), 16.0), (6, 6, 26, 26), (SIZE, SIZE))
        t = _Transform()
        t.scale = t.wanted_scale = float(rng.uniform(0.5, 1.5))
        t.limited, t.shift, t.cut_pixels = False, (0.0, 0.0), 0
        t.src_center, t.dst_center = (cx, cy), (16.0, 16.0)
        t.achieved_ratio = 0.3 + float(rng.normal(0, 1e-3))
        rows.append(ViewRecord.written(sample.name, v.key, before, after, t, on_target=True))
        outputs.append([v.out_key, 900])
    inputs = [[v.key, 1200, 1_700_000_000_000_000_000] for v in sample.views]
    spent[0] += time.process_time() - t0
    return {"sample": sample.name, "inputs": inputs, "rows": rows, "outputs": outputs}


class _Workers:
    """The executor stand-in: a unit's future is done when it is handed over."""

    kind = "a stand-in executor (records made up in this process)"
    loads_kernels = False
    cancels = True
    jobs = 1
    window = 2

    def __init__(self, *args, spent, **kwargs):
        import numpy as np

        self.rng = np.random.default_rng(0)
        self.spent = spent

    def check_paths(self, *paths):
        pass

    def submit(self, fn, sample, *args):
        from concurrent.futures import Future

        fut = Future()
        fut.set_result(_result(sample, self.rng, self.spent))
        return fut

    def restart(self):
        pass

    def lost(self):
        return None

    def abandon(self):
        return False

    def close(self, cancel=False):
        pass


def one(n_views, trace):
    """Run the coordinator over ``n_views`` synthetic views in this process; print its figures as JSON."""
    import resource
    import tracemalloc

    from pixscale.pipeline import driver, output

    spent = [0.0]
    report_s = [0.0, 0.0]  # wall, CPU
    write_run_report = output.write_run_report

    def timed_report(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return write_run_report(*args, **kwargs)
        finally:
            report_s[0] += time.perf_counter() - t0
            report_s[1] += time.process_time() - c0

    with tempfile.TemporaryDirectory() as tmp:
        in_dir, out_dir = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        os.mkdir(in_dir)
        dataset = _dataset(n_views, in_dir)
        driver.discover = lambda *a, **k: dataset
        driver.check_folders = lambda *a, **k: None
        driver.input_identity = lambda *a, **k: "synthetic"
        driver.size_run = lambda *a, **k: (1, None)
        driver.Workers = lambda *a, **k: _Workers(spent=spent)
        driver._precompile = lambda *a, **k: None
        driver.write_run_report = timed_report
        import matplotlib  # noqa: F401  (imported before measuring: a module, not the run's)
        import PIL.Image  # noqa: F401

        if trace:
            tracemalloc.start()
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        records, _ = driver.run_records(in_dir, out_dir, quiet=True, plots=True)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        if trace:
            tracemalloc.stop()
        n = len(records)
        report = os.path.join(out_dir, "pixscale-report")
        files = sorted(os.listdir(report))
    print(
        json.dumps(
            {
                "views": n_views,
                "records": n,
                "peak": peak,
                "cpu_s": cpu - spent[0],
                "unit_s": spent[0],
                "wall_s": wall,
                "report_s": report_s[0],
                "report_cpu_s": report_s[1],
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "files": files,
            }
        )
    )


def _measure(tree, n, trace):
    env = {**os.environ, "PYTHONPATH": tree, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, os.path.abspath(__file__), "--one", str(n)] + (["--trace"] if trace else [])
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", help="another tree (e.g. a checkout of main), measured beside this one")
    p.add_argument("--sizes", type=int, nargs=2, default=[20_000, 200_000], metavar=("SMALL", "LARGE"))
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument(
        "--report-only",
        action="store_true",
        help="only the report's time (and CPU per view) at the larger size: untraced runs, no memory figures",
    )
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        return one(args.one, args.trace)
    trees = {"this": os.path.dirname(HERE)}
    if args.base:
        trees = {"base": os.path.abspath(args.base), **trees}
    if args.report_only:
        return _report_only(trees, args.sizes[1], args.rounds, args.json)
    results: dict[str, dict] = {t: {} for t in trees}
    for _ in range(args.rounds):
        for n in args.sizes:
            for name, tree in trees.items():  # alternating: the machine's load falls on both alike
                mem = _measure(tree, n, True)
                cpu = _measure(tree, n, False)
                results[name].setdefault(n, []).append((mem, cpu))
                print(
                    f"  {name:5} {n:>8,} views: peak {mem['peak'] / 2**20:8.1f} MiB, "
                    f"cpu {1e3 * cpu['cpu_s'] / n:.3f} ms/view, report {cpu['report_s']:.2f} s "
                    f"(cpu {cpu['report_cpu_s']:.2f} s)",
                    file=sys.stderr,
                )
    small, large = args.sizes
    print(
        f"{'tree':6} {'views':>9} {'peak MiB':>9} {'bytes/view':>11} {'cpu ms/view':>12} "
        f"{'marginal':>9} {'report s':>9} {'cpu':>6}"
    )
    summary = {}
    for name in trees:

        def med(n, key, i, name=name):
            vals = sorted(r[i][key] for r in results[name][n])
            return vals[len(vals) // 2]

        growth = (med(large, "peak", 0) - med(small, "peak", 0)) / (large - small)
        marginal = 1e3 * (med(large, "cpu_s", 1) - med(small, "cpu_s", 1)) / (large - small)
        for n in args.sizes:
            cpu = 1e3 * med(n, "cpu_s", 1) / n
            last = n == large
            print(
                f"{name:6} {n:>9,} {med(n, 'peak', 0) / 2**20:9.1f} {growth if last else float('nan'):11.1f} "
                f"{cpu:12.3f} {marginal if last else float('nan'):9.3f} {med(n, 'report_s', 1):9.2f} "
                f"{med(n, 'report_cpu_s', 1):6.2f}"
            )
        summary[name] = {
            "bytes_per_view": growth,
            "cpu_ms_per_view_marginal": marginal,
            **{str(n): {k: med(n, k, 1) for k in ("cpu_s", "report_s", "report_cpu_s", "wall_s")} for n in args.sizes},
            **{f"peak_{n}": med(n, "peak", 0) for n in args.sizes},
        }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


def _report_only(trees, n, rounds, json_path):
    """The report's wall and CPU time at ``n`` views, the trees alternating each round; medians and ranges."""
    got: dict[str, list] = {t: [] for t in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            cpu = _measure(tree, n, False)
            got[name].append(cpu)
            load = os.getloadavg()[0]
            print(
                f"  {name:5} {n:>8,} views: report {cpu['report_s']:.2f} s (cpu {cpu['report_cpu_s']:.2f} s), "
                f"cpu {1e3 * cpu['cpu_s'] / n:.3f} ms/view, load {load:.1f}",
                file=sys.stderr,
            )
    print(f"{'tree':6} {'views':>9} {'report s':>9} {'range':>13} {'cpu s':>7} {'cpu ms/view':>12}")
    summary = {}
    for name, runs in got.items():
        wall = sorted(r["report_s"] for r in runs)
        cpu = sorted(r["report_cpu_s"] for r in runs)
        per_view = sorted(1e3 * r["cpu_s"] / n for r in runs)
        mid = len(runs) // 2
        print(
            f"{name:6} {n:>9,} {wall[mid]:9.2f} {f'{wall[0]:.2f}-{wall[-1]:.2f}':>13} {cpu[mid]:7.2f} "
            f"{per_view[mid]:12.3f}"
        )
        summary[name] = {"report_s": wall, "report_cpu_s": cpu, "cpu_ms_per_view": per_view}
    if json_path:
        with open(json_path, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
