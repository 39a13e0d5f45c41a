"""The Python that holds the GIL in each image of ``normalize_batch``, this tree beside another.

    python benchmarks/batch_gil.py [--base DIR] [--rounds 6] [--images 48]

For each tree (this one, and ``--base``, a checkout of another version, in
alternation, ``--rounds`` times, a fresh process each; medians kept), on
512 x 512 RGBA8 images (half ``pixscale.bench.test_image``, half
``pixscale.synth.mouse_view``), exact mode and the closed form, after
``pixscale._precompile.precompile`` (so exact mode's probes use the span count):

- the thread CPU time of one image of ``normalize_batch(threads=1)``, and
  the part of it outside the compiled kernels (each kernel wrapped in a
  clock of the thread's CPU time, as ``benchmarks/scaling.py`` does): the
  Python, which holds the GIL, so ``threads`` can give at most ``1 / share``.
  "kept" frees the batch's output after the clock stops; the other row frees
  it inside (as ``scaling.py`` did before: unmapping 1 MB an image reads as
  GIL-held time).  The clock itself adds about 0.8 us of "outside" a kernel call,
  and numba's dispatch of a call (0.7-1 us, GIL held) counts as "inside": so the
  kernel calls an image are listed too, and Amdahl's bound on 16 threads
  that the share ``s`` allows;
- ``normalize_batch`` wall time an image with 1 and 2 threads (best of 3);
- one ``pixscale.normalize`` call's thread CPU time (best of 3 loops).
"""

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve()


def _kernel_clock(tree):
    spec = importlib.util.spec_from_file_location("scaling", pathlib.Path(tree) / "benchmarks" / "scaling.py")
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    return scaling._kernel_clock()


def _measure(tree, n_images):
    """This process's figures (its ``pixscale`` is ``tree``'s), as a dict."""
    import numpy as np

    from pixscale import normalize, normalize_batch, synth
    from pixscale.bench import test_image

    rng = np.random.default_rng(0)
    half = n_images // 2
    images = [test_image(512, seed=s) for s in range(half)]
    images += [synth.mouse_view(rng, size=512) for _ in range(n_images - half)]
    res = {}
    # The probes' span count in use (as after pixscale.precompile, a warm kernel cache, or the
    # first few hundred exact views of a process): normalize_batch's search is then compiled.
    from pixscale._precompile import precompile

    precompile([np.uint8])
    for exact in (True, False):
        normalize_batch(images[:4], threads=1, exact=exact)
        normalize(images[0], exact=exact)
    for exact in (True, False):
        key = "exact" if exact else "closed"
        for n in (1, 2):
            walls = []
            for _ in range(3):
                t = time.perf_counter()
                out = normalize_batch(images, threads=n, exact=exact)
                walls.append(time.perf_counter() - t)
                del out
            res[f"{key} normalize_batch {n} thread(s), wall ms / image"] = 1e3 * min(walls) / len(images)
        loops = []
        for _ in range(3):
            t = time.thread_time()
            for im in images:
                normalize(im, exact=exact)
            loops.append(time.thread_time() - t)
        res[f"{key} normalize, CPU ms / image"] = 1e3 * min(loops) / len(images)
    spent = _kernel_clock(tree)
    for exact in (True, False):
        key = "exact" if exact else "closed"
        for kept in (True, False):
            best = None
            for _ in range(5):
                spent[0], spent[1] = 0.0, 0
                t = time.thread_time()
                out = normalize_batch(images, threads=1, exact=exact)
                if not kept:
                    del out
                seconds = time.thread_time() - t
                out = None
                if best is None or seconds < best[0]:
                    best = (seconds, spent[0], spent[1])
            total, inside, calls = (x / len(images) for x in best)
            how = "output freed after the clock" if kept else "output freed inside the clock"
            res[f"{key}, {how}: CPU ms / image"] = 1e3 * total
            res[f"{key}, {how}: outside kernels ms"] = 1e3 * (total - inside)
            res[f"{key}, {how}: outside share %"] = 100 * (total - inside) / total
            if kept:
                share = (total - inside) / total
                res[f"{key}: 16 threads at most, 1 / (s + (1 - s) / 16), x"] = 1 / (share + (1 - share) / 16)
                res[f"{key}: kernel calls / image"] = calls
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default=None, help="a checkout of another version to run beside this tree")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--images", type=int, default=48)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.child, args.images)))
        return
    trees = [str(HERE.parents[1])] + ([args.base] if args.base else [])
    names = ["this tree"] + (["base"] if args.base else [])
    seen = {t: [] for t in trees}
    caches = {t: tempfile.mkdtemp() for t in trees}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for tree in trees if r % 2 else trees[::-1]:
            cache = caches[tree]  # each tree its own kernel caches
            env = {**os.environ, "PYTHONPATH": tree, "NUMBA_CACHE_DIR": cache, "PIXSCALE_CACHE_DIR": cache + "-px"}
            cmd = [sys.executable, str(HERE), "--child", tree, "--images", str(args.images)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            seen[tree].append(json.loads(out.strip().splitlines()[-1]))
        loads.append(os.getloadavg()[0])
    load = f"{min(loads):.1f}-{max(loads):.1f}"
    print(f"{args.images} images of 512 x 512, medians of {args.rounds} rounds; load average {load}\n")
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(trees))
    for key in seen[trees[0]][0]:
        cells = [f"{statistics.median(d[key] for d in seen[t]):.3f}" for t in trees]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
