"""pixscale against its peers: OpenCV, Pillow, scipy.ndimage, scikit-image, NumPy.

Usage::

    pip install -e ".[bench]"
    python benchmarks/peers.py [--sizes 512 1024 2048] [--quick] [--images ellipse noisy]
                               [--sections warp ...] [--base OTHER_CHECKOUT] [--json benchmarks/results/peers.json]

Everything is timed side by side in one process after warm-up (median of
repeats); peers that are not installed are skipped.  Sections: warp (straight
and premultiplied vs OpenCV, Pillow, scipy, scikit-image and the NumPy
reference, on two images: ``ellipse``, the soft ellipse of
:func:`pixscale.bench.test_image`, and ``noisy``, a hard-edged polygon over
random colour, see :func:`noisy_image`), measure (vs count_nonzero and a copy), normalize (exact vs closed
form), batch scaling (1 vs 2 threads), dataset throughput (``pixscale run``
with 1 and 2 jobs vs a plain sequential script of the original method) and
start-up times (import, ``--help``, first call with a warm and a cold cache).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import pixscale
from pixscale import reference
from pixscale.bench import format_table, median_time, paired_times, test_image

sys.path.insert(0, str(Path(__file__).parent))
from run import machine  # noqa: E402


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def noisy_image(size, *, seed=0):
    """A (size, size, 4) uint8 RGBA image: a hard-edged object whose colour under alpha 0 is noise.

    What a masked video frame or a render with a leftover background looks
    like: uniform random RGB everywhere, alpha 255 inside a rectangle with a
    triangular notch cut out of it (hard edges, straight and slanted) and 0
    elsewhere.  Seeded; the object is off centre like the ellipse's.
    """
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / size
    inside = (abs(xx - 0.42) < 0.2) & (abs(yy - 0.55) < 0.15)
    notch = (yy < 0.5) & (xx > 0.45) & (yy - 0.4 < 0.5 * (xx - 0.45))
    img[..., 3] = np.where(inside & ~notch, 255, 0)
    return img


IMAGES = {"ellipse": test_image, "noisy": noisy_image}


def import_base(tree):
    """The package of another checkout ``tree`` of pixscale, imported beside this one as ``pixbase``.

    A copy of ``tree/pixscale`` under that name in a temporary folder (the
    package imports itself relatively); its kernels compile under their own cache key.
    """
    import shutil

    root = tempfile.mkdtemp(prefix="pixbase-")
    shutil.copytree(Path(tree) / "pixscale", Path(root) / "pixbase", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, root)
    import pixbase

    return pixbase


def warp_rows(sizes, scales, budget, images=("ellipse",), base=None):
    """The warp section; with ``base`` (a package from :func:`import_base`) its warps too, in the same alternation."""
    cv2, ndimage = _optional("cv2"), _optional("scipy.ndimage")
    PIL = _optional("PIL.Image")
    skt = _optional("skimage.transform")
    if ndimage is not None:
        import scipy.ndimage as ndimage
    if PIL is not None:
        from PIL import Image
    if skt is not None:
        import skimage.transform as skt
    rows = []
    for image, size in ((image, size) for image in images for size in sizes):
        img = IMAGES[image](size)
        for s in scales:
            t = pixscale.ScaleTransform(s, (0.42 * size, 0.55 * size), (size / 2, size / 2), (size, size), (size, size))
            row = {"op": "warp", "image": image, "size": size, "scale": s}
            M = t.matrix(pixel_center=0.0)
            fns = [lambda: pixscale.warp(img, t, premultiplied=False), lambda: pixscale.warp(img, t)]
            if base is not None:
                bt = base.ScaleTransform(
                    s, (0.42 * size, 0.55 * size), (size / 2, size / 2), (size, size), (size, size)
                )
                same = all(
                    np.array_equal(base.warp(img, bt, premultiplied=pm), pixscale.warp(img, t, premultiplied=pm))
                    for pm in (False, True)
                )
                row["same_as_base"] = same
                fns += [lambda: base.warp(img, bt, premultiplied=False), lambda: base.warp(img, bt)]
            if cv2 is None:
                (straight, premult, *_), _ = paired_times(fns, budget=budget)
            else:
                # The targets compare single-threaded code: OpenCV runs on one thread, timed in
                # alternation with pixscale's serial warp; its default multi-threaded time is listed too.
                cv_warp = (  # noqa: E731
                    lambda: cv2.warpAffine(
                        img, M[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
                    )
                )
                default_threads = cv2.getNumThreads()
                cv2.setNumThreads(1)
                try:
                    # Up to 400 rounds within the budget: a 512² warp takes 0.1 ms, and 15 rounds' median wavers.
                    (opencv, straight, premult, *_), ratios = paired_times([cv_warp] + fns, rounds=400, budget=budget)
                finally:
                    cv2.setNumThreads(default_threads)
                row["opencv_ms"] = 1e3 * opencv
                row[f"opencv_{default_threads}threads_ms"] = 1e3 * median_time(cv_warp, budget=budget / 2)
            row["straight_ms"], row["premult_ms"] = 1e3 * straight, 1e3 * premult
            if PIL is not None:
                pil = Image.fromarray(img)
                inv = np.linalg.inv(t.matrix(pixel_center=0.5))[:2].ravel()
                row["pillow_ms"] = 1e3 * median_time(
                    lambda: pil.transform(
                        (size, size), Image.Transform.AFFINE, tuple(inv), resample=Image.Resampling.BILINEAR
                    ),
                    budget=budget,
                )
            if size <= 1024:
                inv0 = np.linalg.inv(M)
                mat = np.diag([inv0[1, 1], inv0[0, 0], 1.0])
                off = [inv0[1, 2], inv0[0, 2], 0.0]
                if ndimage is not None:
                    row["scipy_ms"] = 1e3 * median_time(
                        lambda: ndimage.affine_transform(img, mat, offset=off, order=1, mode="constant"),
                        repeats=3,
                        budget=budget,
                    )
                if skt is not None and size <= 512:
                    row["skimage_ms"] = 1e3 * median_time(
                        lambda: skt.warp(img, skt.AffineTransform(matrix=inv0), order=1, preserve_range=True),
                        repeats=3,
                        budget=budget,
                    )
                row["reference_ms"] = 1e3 * median_time(
                    lambda: reference.warp(img, t, premultiplied=False), repeats=3, budget=budget
                )
            for key in ("pillow_ms", "scipy_ms", "skimage_ms", "reference_ms"):
                if key in row:
                    row["straight_vs_" + key[:-3]] = row["straight_ms"] / row[key]
            if cv2 is not None:  # medians of per-round ratios, from the alternating runs
                row["straight_vs_opencv"], row["premult_vs_opencv"] = ratios[1], ratios[2]
                if base is not None:
                    row["base_straight_vs_opencv"], row["base_premult_vs_opencv"] = ratios[3], ratios[4]
            rows.append(row)
    return rows


def measure_rows(sizes, budget):
    rows = []
    for size in sizes:
        img = test_image(size)
        (m, cnz, cp), ratios = paired_times(
            [lambda: pixscale.measure(img), lambda: np.count_nonzero(img[..., 3] > 10), lambda: img.copy()],
            rounds=41,
            budget=budget,
        )
        row = {
            "op": "measure",
            "size": size,
            "measure_ms": 1e3 * m,
            "count_nonzero_ms": 1e3 * cnz,
            "copy_ms": 1e3 * cp,
            "measure_vs_count_nonzero": 1 / ratios[1],
            "measure_vs_copy": 1 / ratios[2],
        }
        (closed, exact), ratios = paired_times(
            [lambda: pixscale.normalize(img, exact=False), lambda: pixscale.normalize(img)], rounds=21, budget=budget
        )
        row.update(normalize_exact_ms=1e3 * exact, normalize_closed_ms=1e3 * closed, exact_vs_closed=ratios[1])
        rows.append(row)
    return rows


def _spin(n):
    """Pure scalar arithmetic, one dependency chain, no memory traffic and no GIL."""
    x = 0.0
    for i in range(n):
        x = x * 0.999999 + i
    return x


def _saxpy(a, b, reps):
    """Vectorised arithmetic on arrays that stay in the core's own cache."""
    for _ in range(reps):
        for k in range(a.shape[0]):
            a[k] = a[k] * np.float32(0.999) + b[k]


def ceiling_rows(budget):
    """Speed-up of 2 threads over 1 on GIL-free compute: what this machine gives any code.

    Two kinds: a latency-bound scalar loop, and a SIMD-throughput-bound loop over
    arrays in cache (each task its own array). On a VM whose two vCPUs share a
    physical core the second scales far less than the first.
    """
    import numba

    from pixscale._parallel import run_parallel

    spin = numba.njit(nogil=True)(_spin)
    saxpy = numba.njit(nogil=True, fastmath=True)(_saxpy)
    arrays = [np.ones(2048, np.float32) for _ in range(8)]
    b = np.ones(2048, np.float32)
    rows = []
    for op, task in (
        ("scalar compute (ceiling)", lambda i: spin(2_000_000)),
        ("SIMD compute in cache (ceiling)", lambda i: saxpy(arrays[i], b, 16000)),
    ):
        task(0)
        (one, two), ratios = paired_times(
            [lambda: run_parallel(task, 8, 1), lambda: run_parallel(task, 8, 2)], rounds=21, budget=budget
        )
        rows.append({"op": op, "threads1_ms": 1e3 * one, "threads2_ms": 1e3 * two, "speedup_2_threads": 1 / ratios[1]})
    return rows


def batch_rows(size, n, budget):
    batch = np.stack([test_image(size, seed=i) for i in range(n)])
    (one, two), ratios = paired_times(
        [lambda: pixscale.normalize_batch(batch, threads=1), lambda: pixscale.normalize_batch(batch, threads=2)],
        rounds=21,
        budget=2 * budget,
    )
    return [
        {
            "op": f"normalize_batch {n}x{size}",
            "threads1_ms": 1e3 * one,
            "threads2_ms": 1e3 * two,
            "speedup_2_threads": 1 / ratios[1],
        }
    ] + ceiling_rows(budget)


PLAIN_SCRIPT = r"""
import sys, pathlib, numpy as np, cv2
from PIL import Image
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for p in sorted(src.rglob("*.png")):
    img = np.asarray(Image.open(p))
    a = img[..., 3]
    mask = a > 10
    n = np.count_nonzero(mask)
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    cx, cy = xx[mask].mean(), yy[mask].mean()
    s = 0.3 / np.sqrt(n / a.size)
    M = np.float32([[s, 0, a.shape[1] / 2 - s * cx], [0, s, a.shape[0] / 2 - s * cy]])
    rgb = cv2.warpAffine(np.ascontiguousarray(img[..., :3]), M, a.shape[::-1], flags=cv2.INTER_LINEAR)
    al = cv2.warpAffine(np.ascontiguousarray(a), M, a.shape[::-1], flags=cv2.INTER_LINEAR)
    out = dst / p.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.dstack([rgb, al])).save(out)
"""

ROUNDTRIP_SCRIPT = r"""
import sys, pathlib
import imageio.v3 as iio
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for p in sorted(src.rglob("*.png")):
    out = dst / p.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, iio.imread(p), extension=".png", compress_level=6)
"""


DECODE_ENCODE_SCRIPT = r"""
import sys, time, pathlib
import imageio.v3 as iio
src, out, level = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
total = 0.0
for p in sorted(src.rglob("*.png")):
    q = out / p.relative_to(src)
    written = iio.imread(q)                      # the exact array pixscale wrote (not timed)
    t0 = time.perf_counter()
    iio.imread(p)                                # decode the input...
    iio.imwrite("<bytes>", written, extension=".png", plugin="pillow", compress_level=level)  # ...and encode the output
    total += time.perf_counter() - t0
print(total)
"""


def _timed(cmd, **kw):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kw)
    return time.perf_counter() - t0


def dataset_rows(samples):
    from pixscale import synth

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth.write_dataset(tmp / "in", n_samples=samples, seed=7)
        n = samples * 6
        exe = [sys.executable, "-m", "pixscale", "run", str(tmp / "in")]
        _timed(exe + [str(tmp / "warm"), "--quiet", "--no-plots"])  # compile / warm the cache
        row = {"op": f"dataset {n} views 512x512"}
        # The fixed cost of a run (interpreter, imports, numba's first-use set-up, report):
        # a run over the first sample alone.
        synth.write_dataset(tmp / "one", n_samples=1, seed=7)
        row["run_1_sample_s"] = min(
            _timed(exe[:-1] + [str(tmp / "one"), str(tmp / f"one{k}"), "--quiet", "--no-plots", "--jobs", "1"])
            for k in range(3)
        )
        for jobs in (1, 2):
            secs = _timed(exe + [str(tmp / f"jobs{jobs}"), "--quiet", "--no-plots", "--jobs", str(jobs)])
            row[f"jobs{jobs}_views_per_s"] = n / secs
        if _optional("cv2") is not None and _optional("PIL") is not None:
            row["plain_script_views_per_s"] = n / _timed(
                [sys.executable, "-c", PLAIN_SCRIPT, str(tmp / "in"), str(tmp / "plain")]
            )
        row["roundtrip_input_views_per_s"] = n / _timed(
            [sys.executable, "-c", ROUNDTRIP_SCRIPT, str(tmp / "in"), str(tmp / "rt_in")]
        )
        row["roundtrip_output_views_per_s"] = n / _timed(
            [sys.executable, "-c", ROUNDTRIP_SCRIPT, str(tmp / "jobs1"), str(tmp / "rt_out")]
        )
        # The I/O floor: decode each input and encode the exact output pixscale wrote, same PNG level.
        io_secs = float(
            subprocess.run(
                [sys.executable, "-c", DECODE_ENCODE_SCRIPT, str(tmp / "in"), str(tmp / "jobs1"), "6"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        row["decode_encode_ms_per_view"] = 1e3 * io_secs / n
        row["jobs1_ms_per_view"] = 1e3 / row["jobs1_views_per_s"]
        row["jobs1_vs_decode_encode"] = row["jobs1_ms_per_view"] / row["decode_encode_ms_per_view"]
        row["jobs2_vs_decode_encode"] = 1e3 / row["jobs2_views_per_s"] / row["decode_encode_ms_per_view"]
        row["jobs2_vs_jobs1"] = row["jobs2_views_per_s"] / row["jobs1_views_per_s"]
        if "plain_script_views_per_s" in row:
            row["jobs2_vs_plain"] = row["jobs2_views_per_s"] / row["plain_script_views_per_s"]
        rows.append(row)
    return rows


FIRST_CALL_SCRIPT = r"""
import time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import pixscale
t2 = time.perf_counter()
a = np.zeros((512, 512, 4), np.uint8); a[100:300, 100:300] = 255
t3 = time.perf_counter()
pixscale.normalize(a)
t4 = time.perf_counter()
print(t2 - t1, t4 - t3)
"""


def startup_rows():
    """Import, --help and first-call times, each in a fresh process (best of 3; cold compile once)."""
    py = sys.executable

    def first_call(env=None):
        out = subprocess.run([py, "-c", FIRST_CALL_SCRIPT], check=True, capture_output=True, text=True, env=env)
        return [float(v) for v in out.stdout.split()]

    best = lambda cmd: min(_timed(cmd) for _ in range(3))  # noqa: E731
    warm = min((first_call() for _ in range(3)), key=lambda r: r[1])
    row = {
        "op": "startup",
        "import_pixscale_s": min(first_call()[0] for _ in range(3)),
        "python_import_pixscale_process_s": best([py, "-c", "import pixscale"]),
        "help_process_s": best([py, "-m", "pixscale", "--help"]),
        "first_normalize_call_warm_cache_s": warm[1],
    }
    with tempfile.TemporaryDirectory() as cache:
        row["first_normalize_call_cold_compile_s"] = first_call(dict(os.environ, NUMBA_CACHE_DIR=cache))[1]
    return [row]


def _print(title, rows):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    cols = [(k, k, "" if k == "op" else (".3f" if isinstance(rows[0].get(k), float) else "")) for k in keys]
    print(f"\n### {title}\n")
    print(format_table(rows, cols))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.7, 1.13, 1.76])
    parser.add_argument("--quick", action="store_true", help="512 only, smaller dataset")
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument(
        "--images",
        nargs="+",
        choices=sorted(IMAGES),
        default=["ellipse", "noisy"],
        help="warp test images: the soft ellipse, and a hard-edged object over noise",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=["warp", "measure", "batch", "dataset", "startup"],
        default=None,
        help="run only these sections (default: all)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="samples (6 views each) in the dataset section; default 100, the size of "
        "the original study (4 with --quick)",
    )
    parser.add_argument(
        "--base",
        default=None,
        help="a checkout of another version: its warps are timed beside this tree's, in the same alternation "
        "(the warp section's base_* columns; same_as_base checks the two give the same pixels)",
    )
    parser.add_argument("--json", default="benchmarks/results/peers.json")
    args = parser.parse_args(argv)
    sizes = [512] if args.quick else args.sizes
    if args.samples is None:
        args.samples = 4 if args.quick else 100
    results = {"machine": machine()}
    sections = [
        (
            "warp (ms; ratios < 1 mean pixscale is faster)",
            "warp",
            lambda: warp_rows(sizes, args.scales, args.budget, args.images, args.base and import_base(args.base)),
        ),
        ("measure and normalize (ms)", "measure", lambda: measure_rows(sizes, args.budget)),
        ("batch scaling", "batch", lambda: batch_rows(512, 16, args.budget)),
        ("dataset throughput (views/s)", "dataset", lambda: dataset_rows(args.samples)),
        ("start-up (s)", "startup", startup_rows),
    ]
    for title, key, fn in sections:
        if args.sections is not None and key not in args.sections:
            continue
        results[key] = fn()
        _print(title, results[key])
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
