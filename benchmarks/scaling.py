"""Scale-out: dataset views/s with --jobs 1..N (processes, threads, Dask) and normalize_batch threads.

    python benchmarks/scaling.py [--in DIR] [--samples 100] [--jobs 1 2] [--rounds 2]

Side by side in one process, on one machine, each configuration ``--rounds``
times in alternation (the best round is kept, since this machine is noisy):

- ``pixscale.pipeline.run`` with ``jobs`` worker processes, and threads, from
  the call to its return (start-up of the workers included; no figures);
- the ceiling: ``jobs`` separate ``pixscale run --jobs 1`` processes, each on
  its share of the samples, started together;
- a Dask LocalCluster of ``jobs`` worker processes: started by the run
  (``scheduler="local:N"``), and already running (``executor=client``);
- ``normalize_batch`` of 96 views of 512 x 512 on 1..N threads.

The dataset is ``pixscale.synth`` (the demo's generator), written to a
temporary folder unless ``--in`` names one.
"""

import argparse
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import imageio.v3 as iio

from pixscale import normalize_batch, synth
from pixscale.pipeline.driver import run


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


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


def _separate(shards, tmp):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pixscale", "run", str(s), str(pathlib.Path(tmp) / f"out-{s.name}")]
            + ["--jobs", "1", "--quiet", "--no-plots"],
            stdout=subprocess.DEVNULL,
        )
        for s in shards
    ]
    for p in procs:
        p.wait()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--in", dest="src", default=None, help="a GS-LRM dataset to use (default: generate one)")
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--no-dask", action="store_true")
    args = p.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        src = pathlib.Path(args.src) if args.src else tmp / "in"
        if not args.src:
            synth.write_dataset(src, n_samples=args.samples, seed=0, layout="gslrm")
        n_views = sum(1 for _ in src.glob("*/images/*.png"))
        client = None
        configs = []
        for n in args.jobs:
            configs += [
                (
                    f"--jobs {n}" + (" (one thread, in process)" if n == 1 else " (worker processes)"),
                    n,
                    lambda o, n=n: run(src, o, jobs=n, pool="processes", quiet=True, plots=False),
                )
            ]
            if n > 1:
                configs += [
                    (
                        f"threads, --jobs {n} --pool threads",
                        n,
                        lambda o, n=n: run(src, o, jobs=n, pool="threads", quiet=True, plots=False),
                    ),
                    (f"{n} separate processes (ceiling)", n, None),
                ]
        n_max = max(args.jobs)
        if not args.no_dask:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=n_max, threads_per_worker=1, dashboard_address=":0", silence_logs=40)
            client = Client(cluster)
            configs += [
                (
                    f"Dask --scheduler local:{n_max} (cluster start included)",
                    n_max,
                    lambda o: run(src, o, scheduler=f"local:{n_max}", quiet=True, plots=False),
                ),
                (
                    f"Dask LocalCluster of {n_max}, already running",
                    n_max,
                    lambda o: run(src, o, jobs=n_max, executor=client, quiet=True, plots=False),
                ),
            ]
        best = {}
        for r in range(args.rounds):
            for name, n, fn in configs:
                out = tmp / f"out{r}"
                if fn is None:
                    shards = _shards(src, n, tmp / f"shards{r}-{n}")
                    seconds = _timed(lambda shards=shards, r=r: _separate(shards, tmp / f"sep{r}-{n}"))
                else:
                    seconds = _timed(lambda fn=fn, out=out: fn(out))
                shutil.rmtree(out, ignore_errors=True)
                best[name] = min(best.get(name, float("inf")), seconds)
        if client is not None:
            client.close()
            cluster.close()
        base = best[configs[0][0]]
        print(f"\n{n_views} views of 512 x 512, best of {args.rounds} rounds\n")
        print(f"| configuration | seconds | views/s | vs {configs[0][0]} |")
        print("|---|---|---|---|")
        for name, _, _ in configs:
            print(f"| {name} | {best[name]:.2f} | {n_views / best[name]:.1f} | {base / best[name]:.2f}x |")

        # What the coordinator itself costs per view: its CPU time while worker processes do the work.
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF)
        seconds = _timed(lambda: run(src, tmp / "coord", jobs=n_max, pool="processes", quiet=True, plots=False))
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(
            f"\ncoordinator CPU with --jobs {n_max} worker processes: {cpu:.2f} s for {n_views} views "
            f"({1e3 * cpu / n_views:.2f} ms/view, including discovery and the report's statistics) in "
            f"{seconds:.2f} s of wall time: one coordinator keeps up with {n_views / cpu:.0f} views/s"
        )

        files = sorted(src.glob("*/images/*.png"))[:96]
        images = [iio.imread(f) for f in files]
        normalize_batch(images[:4], threads=1)  # compile / load kernels
        print("\nnormalize_batch, 96 views of 512 x 512\n")
        print("| threads | ms / image | speed-up |")
        print("|---|---|---|")
        one = None
        for n in sorted({1, 2, *args.jobs}):
            seconds = min(_timed(lambda n=n: normalize_batch(images, threads=n)) for _ in range(3))
            one = one or seconds
            print(f"| {n} | {1e3 * seconds / len(images):.2f} | {one / seconds:.2f}x |")


if __name__ == "__main__":
    main()
