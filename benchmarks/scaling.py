"""Scale-out: dataset runs on 1..N workers (the default's sizing included) and ``normalize_batch`` on 1..N threads.

    python benchmarks/scaling.py [--samples 16 100] [--jobs 1 2] [--rounds 3] [--base DIR] [--no-dask]
    python benchmarks/scaling.py --batch-only --samples 16 --jobs 1 2    # normalize_batch's table alone

On a 16-core machine, the issue's sizes (96, 600 and 1800 views of 512 x 512)
and main's code beside this tree's, in one command::

    git worktree add --detach /tmp/base main
    python benchmarks/scaling.py --samples 16 100 300 --jobs 1 4 8 16 --rounds 3 --base /tmp/base --no-dask

Every dataset configuration is a whole ``python -m pixscale run IN OUT
--quiet --no-plots`` process (interpreter, discovery, workers' start, all
views, manifest, report statistics), run in alternation with the others
``--rounds`` times; the medians are kept.  CPU is that of every process the
run started, its worker processes and their fork server included (this
script is their subreaper, so orphans are counted too).  The rows:

- ``--jobs 1``; the default (no ``--jobs``: sized by the run, see
  :func:`pixscale.pipeline.workers.size_jobs`); ``--jobs N`` worker
  processes; ``--jobs N --pool threads``;
- ``N separate --jobs 1 processes`` on a share of the samples each, started
  together (what sharing nothing gives);
- ``--scheduler local:N`` (a Dask LocalCluster, its start included) unless
  ``--no-dask``;
- with ``--base DIR`` (a checkout of another version), its ``--jobs 1``,
  default and ``--jobs N`` runs, in the same rounds.

Then ``normalize_batch`` of the first 96 views in this process, on 1..N
threads, with exact mode (the default) and without, and the time per image
spent outside the kernels (CPU time of the thread), which holds the GIL: with a share ``f`` of it,
no number of threads does better than ``1 / f``.

The datasets are ``pixscale.synth``'s (the demo's generator), written to a
temporary folder, or ``--in`` names one (then ``--samples`` is ignored).
"""

import argparse
import ctypes
import os
import pathlib
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import imageio.v3 as iio

HERE = pathlib.Path(__file__).resolve().parents[1]


def _subreaper():
    """Adopt orphaned descendants (a pool's fork server and its workers), so their CPU is counted (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):  # pragma: no cover - not Linux: orphans' CPU is not counted
        pass


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _reap():
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def _timed(commands, env):
    """Run ``commands`` together; (wall, CPU of them and everything they started)."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, env=env) for c in commands]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    _reap()
    if any(codes):
        raise SystemExit(f"a run failed ({codes}): {commands[0]}")
    return wall, _children_cpu() - cpu0


def _shards(src, n, tmp):
    """``n`` folders of symbolic links, each to every n-th sample of ``src``."""
    samples = sorted(p for p in pathlib.Path(src).iterdir() if p.is_dir())
    out = []
    for k in range(n):
        d = pathlib.Path(tmp) / f"shard{k}"
        d.mkdir(parents=True)
        for s in samples[k::n]:
            (d / s.name).symlink_to(s.resolve(), target_is_directory=True)
        out.append(d)
    return out


def _configs(src, jobs, base, dask, tmp):
    """(name, tree, [argument lists]) of every dataset configuration."""
    run = ["run", "--quiet", "--no-plots"]
    trees = [("", HERE)] + ([("main: ", pathlib.Path(base).resolve())] if base else [])
    out = []
    for label, tree in trees:
        out.append((f"{label}--jobs 1", tree, [[*run, "--jobs", "1"]]))
        out.append((f"{label}default (no --jobs)", tree, [run]))
        for n in (j for j in jobs if j > 1):
            out.append((f"{label}--jobs {n} (worker processes)", tree, [[*run, "--jobs", str(n)]]))
            if not label:
                out.append((f"--jobs {n} --pool threads", tree, [[*run, "--jobs", str(n), "--pool", "threads"]]))
                shards = _shards(src, n, tmp / f"shards-{src.name}-{n}")
                out.append((f"{n} separate --jobs 1 processes", tree, [[*run, "--jobs", "1", s] for s in shards]))
                if dask:
                    out.append((f"--scheduler local:{n} (start included)", tree, [[*run, "--scheduler", f"local:{n}"]]))
    return out


def _dataset_table(src, args, tmp):
    n_views = sum(1 for _ in src.glob("*/images/*.png"))
    configs = _configs(src, args.jobs, args.base, not args.no_dask, tmp)
    seen = {name: [] for name, _, _ in configs}
    for tree in {tree for _, tree, _ in configs}:  # compile or load the kernels once, untimed
        env = {**os.environ, "PYTHONPATH": str(tree)}
        _timed([[sys.executable, "-m", "pixscale", "run", str(src), str(tmp / "warm"), "--quiet", "--no-plots"]], env)
        shutil.rmtree(tmp / "warm")
    for _ in range(args.rounds):
        for k, (name, tree, commands) in enumerate(configs):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            outs = [tmp / f"out{k}-{i}" for i in range(len(commands))]
            full = []
            for c, o in zip(commands, outs, strict=True):
                given = c[-1] if isinstance(c[-1], pathlib.Path) else src
                flags = [x for x in c[1:] if not isinstance(x, pathlib.Path)]
                full.append([sys.executable, "-m", "pixscale", "run", str(given), str(o), *flags])
            seen[name].append(_timed(full, env))
            for o in outs:
                shutil.rmtree(o, ignore_errors=True)
    base = statistics.median(w for w, _ in seen[configs[0][0]])
    print(f"\n{n_views} views of 512 x 512, median of {args.rounds} rounds\n")
    print("| configuration | wall s | CPU s | views/s | vs --jobs 1 |")
    print("|---|---|---|---|---|")
    for name, _, _ in configs:
        wall = statistics.median(w for w, _ in seen[name])
        cpu = statistics.median(c for _, c in seen[name])
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {n_views / wall:.1f} | {base / wall:.2f}x |")


def _kernel_clock():
    """Wrap every compiled kernel of pixscale.kernels' modules with a clock; returns [seconds, calls]."""
    import importlib
    import pkgutil

    import pixscale.kernels as kernels

    spent = [0.0, 0]
    for info in pkgutil.iter_modules(kernels.__path__):
        mod = importlib.import_module(f"pixscale.kernels.{info.name}")
        for name, fn in list(vars(mod).items()):
            if hasattr(fn, "py_func") and hasattr(fn, "signatures"):

                def clocked(*a, _fn=fn, **k):
                    t = time.thread_time()
                    try:
                        return _fn(*a, **k)
                    finally:
                        spent[0] += time.thread_time() - t
                        spent[1] += 1

                setattr(mod, name, clocked)
    return spent


def _batch_table(src, jobs):
    from pixscale import normalize_batch

    files = sorted(src.glob("*/images/*.png"))[:96]
    images = [iio.imread(f) for f in files]
    try:  # the probes' span count in use, so exact mode's search is compiled (as in a dataset run)
        from pixscale._precompile import precompile

        precompile(sorted({im.dtype for im in images}, key=str))
    except ImportError:  # pragma: no cover - a version without it
        pass
    for exact in (True, False):
        normalize_batch(images[:4], threads=1, exact=exact)  # load the kernels
    print(f"\nnormalize_batch, {len(images)} views of 512 x 512, best of 3\n")
    print("| threads | exact: ms / image | speed-up | closed form: ms / image | speed-up |")
    print("|---|---|---|---|---|")
    one = {}
    for n in sorted({1, 2, *jobs}):
        cells = []
        for exact in (True, False):
            seconds = min(_timed_call(lambda: normalize_batch(images, threads=n, exact=exact)) for _ in range(3))
            one.setdefault(exact, seconds)
            cells += [f"{1e3 * seconds / len(images):.2f}", f"{one[exact] / seconds:.2f}x"]
        print(f"| {n} | " + " | ".join(cells) + " |")
    spent = _kernel_clock()
    print("\nOne thread, per image, CPU time of the thread (steadier than wall on a busy machine):")
    print("in the kernels (GIL released) and outside them (GIL held)\n")
    print("| mode | ms / image | in kernels | outside | kernel calls / image | threads can give at most |")
    print("|---|---|---|---|---|---|")
    for exact in (True, False):
        best = None
        for _ in range(3):
            spent[0], spent[1] = 0.0, 0
            seconds = _timed_call(lambda: normalize_batch(images, threads=1, exact=exact), time.thread_time)
            if best is None or seconds < best[0]:
                best = (seconds, spent[0], spent[1])
        total, inside, calls = (x / len(images) for x in best)
        share = (total - inside) / total
        print(
            f"| {'exact' if exact else 'closed form'} | {1e3 * total:.2f} | {1e3 * inside:.2f} | "
            f"{1e3 * (total - inside):.2f} ({100 * share:.0f}%) | {calls:.1f} | {1 / share:.1f}x |"
        )


def _timed_call(fn, clock=time.perf_counter):
    t0 = clock()
    result = fn()
    seconds = clock() - t0
    # Freed after the clock stops: unmapping a batch's output (1 MB a 512² image) is not normalize_batch's
    # work, and inside the clock it read as GIL-held time (about 0.06 ms an image, as much as the planning's Python).
    del result
    return seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--in", dest="src", default=None, help="a GS-LRM dataset to use (default: generate them)")
    p.add_argument("--samples", type=int, nargs="+", default=[16, 100], help="dataset sizes, in samples of 6 views")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--base", default=None, help="a checkout of another version to run beside this tree")
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--no-batch", action="store_true", help="skip normalize_batch")
    p.add_argument("--batch-only", action="store_true", help="only normalize_batch (on the largest dataset)")
    args = p.parse_args(argv)
    _subreaper()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    print(f"python {platform.python_version()}, load average at the start {load:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        sources = [pathlib.Path(args.src)] if args.src else []
        if not args.src:
            from pixscale import synth

            for n in args.samples:
                synth.write_dataset(tmp / f"in{n}", n_samples=n, seed=0, layout="gslrm")
                sources.append(tmp / f"in{n}")
        for src in [] if args.batch_only else sources:
            _dataset_table(src, args, tmp)
        if not args.no_batch:
            _batch_table(max(sources, key=lambda s: sum(1 for _ in s.glob("*/images/*.png"))), args.jobs)
    if hasattr(os, "getloadavg"):
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
