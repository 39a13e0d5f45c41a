"""Resampling filters against OpenCV, single-threaded: lanczos4 vs warpAffine, area vs resize.

    python benchmarks/filters.py [--sizes 512 1024 2048] [--rounds 7] [--json out.json]

Side by side in one process, in alternation, median of ``--rounds`` after a
warm-up (compile time is out), with ``cv2.setNumThreads(1)`` (pixscale's warp
is single-threaded):

* ``lanczos4``: ``pixscale.warp(filter="lanczos4")`` against
  ``cv2.warpAffine(..., INTER_LANCZOS4)`` for the same map, at scales 0.7 and
  1.76 (the study's range) onto a canvas of the input's size;
* ``area``: ``pixscale.warp(filter="area")`` against
  ``cv2.resize(..., INTER_AREA)`` for pure scaling by 0.7 (output 0.7 N);
* ``bilinear``, pixscale's default, on the same maps, for scale;
* ``normalize``: ``pixscale.normalize(view, filter=...)`` (exact mode, so the
  planning probes use the filter too) on 12 views of the demo's 512² mice.

pixscale is timed with straight alpha (``premultiplied=False``, OpenCV's
semantics) and with its default premultiplied alpha.  The input is a
seeded random RGBA8 image.  The ratio column is pixscale's time over
OpenCV's: below 1.0 is faster.
"""

import argparse
import json
import statistics
import time

import numpy as np

import pixscale


def _median_times(fns, rounds):
    for fn in fns.values():
        fn()  # warm-up: compile / load kernels, fault pages in
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _cv_matrix(t):
    (cx, cy), (dx, dy) = t.src_center, t.dst_center
    s = t.scale
    return np.array([[1 / s, 0, (0.5 - dx) / s + cx - 0.5], [0, 1 / s, (0.5 - dy) / s + cy - 0.5]])


def main(argv=None):
    import cv2

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    rows = []
    for n in args.sizes:
        img = rng.integers(0, 256, (n, n, 4), dtype=np.uint8)
        for scale in (0.7, 1.76):
            t = pixscale.ScaleTransform(scale, (n / 2 + 0.3, n / 2 - 0.2), (n / 2, n / 2), (n, n), (n, n))
            m = _cv_matrix(t)
            fns = {
                "opencv": lambda: cv2.warpAffine(img, m, (n, n), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP),
                "straight": lambda: pixscale.warp(img, t, filter="lanczos4", premultiplied=False),
                "premultiplied": lambda: pixscale.warp(img, t, filter="lanczos4"),
                "bilinear": lambda: pixscale.warp(img, t),
            }
            rows.append({"filter": "lanczos4", "size": n, "scale": scale, **_median_times(fns, args.rounds)})
        k = round(0.7 * n)
        t = pixscale.ScaleTransform(k / n, (0, 0), (0, 0), (n, n), (k, k))
        fns = {
            "opencv": lambda: cv2.resize(img, (k, k), interpolation=cv2.INTER_AREA),
            "straight": lambda: pixscale.warp(img, t, filter="area", premultiplied=False),
            "premultiplied": lambda: pixscale.warp(img, t, filter="area"),
            "bilinear": lambda: pixscale.warp(img, t),
        }
        rows.append({"filter": "area", "size": n, "scale": k / n, **_median_times(fns, args.rounds)})
    print(f"median of {args.rounds} rounds, ms; ratio = pixscale / OpenCV (single-threaded)\n")
    print("| filter | size | scale | OpenCV | pixscale straight | ratio | pixscale premultiplied | ratio | bilinear |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cv = r["opencv"]
        print(
            f"| {r['filter']} | {r['size']}² | {r['scale']:.2f} | {1e3 * cv:.2f} | {1e3 * r['straight']:.2f} | "
            f"{r['straight'] / cv:.2f}x | {1e3 * r['premultiplied']:.2f} | {r['premultiplied'] / cv:.2f}x | "
            f"{1e3 * r['bilinear']:.2f} |"
        )
    norm = _normalize_times(args.rounds)
    print("\nnormalize (exact mode) on 12 demo views of 512², ms a view; ratio to bilinear\n")
    print("| filter | ms / view | ratio |")
    print("|---|---|---|")
    for name, seconds in norm.items():
        print(f"| {name} | {1e3 * seconds:.2f} | {seconds / norm['bilinear']:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"warp": rows, "normalize": norm}, f, indent=2)


def _normalize_times(rounds):
    import pathlib
    import tempfile

    import imageio.v3 as iio

    from pixscale import synth

    with tempfile.TemporaryDirectory() as tmp:
        synth.write_dataset(tmp, n_samples=2, seed=0, layout="gslrm")
        views = [iio.imread(f) for f in sorted(pathlib.Path(tmp).glob("*/images/*.png"))]

    def run(f):
        return lambda: [pixscale.normalize(v, filter=f) for v in views]

    times = _median_times({f: run(f) for f in ("bilinear", "lanczos4", "area", "auto")}, rounds)
    return {f: t / len(views) for f, t in times.items()}


if __name__ == "__main__":
    main()
