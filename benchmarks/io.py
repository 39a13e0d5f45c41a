"""Benchmark PNG decoders and encoders on pixscale's inputs and outputs, and a run against its I/O floor.

Usage::

    python benchmarks/io.py [--sizes 512 1024] [--rounds 15] [--json benchmarks/results/io.json]
    python benchmarks/io.py --run [--samples 20] [--baseline /path/to/main/checkout] [--rounds 3]

Codec tables (the default): for each size and bit depth, every PNG decoder and
encoder installed here that a user could have -- imageio's Pillow and OpenCV
plugins, Pillow and OpenCV called directly, imagecodecs (libpng and libspng),
pyspng (decode only), pypng -- and pixscale's own ``read_view`` / ``encode_png``,
timed side by side: the decoders in alternation with each other, then the
encoders (median of rounds).  The decoders read an *input* as pixscale meets it
(a synthetic mouse view whose colour under alpha 0 is a background photo, 8-bit
written by imageio/Pillow, 16-bit by libpng); the encoders write an *output* as
pixscale writes it (colour zero under alpha 0) at ``png_level`` 6, pixscale's
default.  Each row says whether the codec returns the exact pixels (decode) and
whether its file decodes back to the exact pixels (encode); a codec that cannot
do a bit depth shows no time.

``--run``: the ratio the issue tracks, time per view of ``pixscale run --jobs 1
--no-plots`` (whole process, wall clock; and per further view, less a one-sample
run's time, the fixed cost) against the I/O floor, decoding each
input and encoding the exact array the run wrote, with pixscale's own codecs
(``read_view`` and ``encode_png``) and with the imageio/Pillow route of the
older benchmark (``benchmarks/peers.py``).  With ``--baseline`` (a checkout of
another version, e.g. ``git worktree add --detach /tmp/base main``), that
version's run is timed in alternation with this one, same dataset, same rounds.
"""

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from pixscale import synth
from pixscale.bench import format_table, paired_times
from pixscale.pipeline.io import encode_png, read_view

sys.path.insert(0, str(Path(__file__).parent))
from run import machine  # noqa: E402

LEVEL = 6  # RunOptions.png_level's default


def images(size, seed=0):
    """(8-bit input, 8-bit output, 16-bit input, 16-bit output) of one synthetic view.

    The 16-bit view is the 8-bit one times 257 plus noise in the low 5 bits.
    """
    rng = np.random.default_rng(seed)
    raw = synth.mouse_view(rng, size=size)  # colour under alpha 0: a background photo, as inputs have
    out = raw.copy()
    out[out[..., 3] == 0] = 0  # as the pipeline writes
    dither = rng.integers(0, 32, raw.shape).astype(np.uint16)  # a render's noise in the low bits
    raw16 = np.minimum(raw.astype(np.uint16) * 257 + dither, 65535).astype(np.uint16)
    out16 = raw16.copy()
    out16[out16[..., 3] == 0] = 0
    return raw, out, raw16, out16


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def decoders(folder):
    """name -> decode(bytes) -> array, for every decoder installed."""
    import imagecodecs
    import imageio.v3 as iio

    def via_file(data):  # read_view takes a path: each distinct input is written once, outside the timing
        path = os.path.join(folder, f"in-{len(data)}-{hash(data) & 0xFFFFFFFF:08x}.png")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return read_view(path)

    found = {
        "pixscale read_view (file)": via_file,
        "imageio, Pillow plugin": lambda b: iio.imread(io.BytesIO(b), extension=".png", plugin="pillow"),
        "imagecodecs png_decode (libpng)": imagecodecs.png_decode,
        "imagecodecs spng_decode (libspng)": imagecodecs.spng_decode,
    }
    if _optional("PIL") is not None:
        from PIL import Image

        found["Pillow direct"] = lambda b: np.asarray(Image.open(io.BytesIO(b)))
    cv2 = _optional("cv2")
    if cv2 is not None:
        cv2.setNumThreads(1)
        found["imageio, OpenCV plugin"] = lambda b: iio.imread(
            b,
            extension=".png",
            plugin="opencv",
            flags=cv2.IMREAD_UNCHANGED,  # its default drops alpha
        )
        found["OpenCV imdecode (BGRA)"] = lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)
    pyspng = _optional("pyspng")
    if pyspng is not None:
        found["pyspng"] = pyspng.load
    png = _optional("png")
    if png is not None:

        def pypng_decode(b):
            width, height, rows, info = png.Reader(bytes=b).asDirect()
            dtype = np.uint16 if info["bitdepth"] > 8 else np.uint8
            return np.vstack([np.asarray(r, dtype) for r in rows]).reshape(height, width, -1)

        found["pypng (pure Python)"] = pypng_decode
    return found


def encoders(level):
    """name -> encode(array) -> bytes, for every encoder installed."""
    import imagecodecs
    import imageio.v3 as iio

    from pixscale.pipeline.io import _encode_fallback

    found = {
        "pixscale encode_png (up filter + zlib-ng)": lambda a: encode_png(a, compress_level=level),
        "pixscale's fallback (Pillow 8-bit, libpng 16-bit)": lambda a: _encode_fallback(a, level),
        "imageio, Pillow plugin": lambda a: iio.imwrite(
            "<bytes>", a, extension=".png", plugin="pillow", compress_level=level
        ),
        "imagecodecs png_encode (libpng)": lambda a: imagecodecs.png_encode(a, level=level),
        "imagecodecs spng_encode (libspng)": lambda a: imagecodecs.spng_encode(a, level=level),
    }
    if _optional("PIL") is not None:
        from PIL import Image

        def pillow(a):
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="PNG", compress_level=level)
            return buf.getvalue()

        found["Pillow direct"] = pillow
    cv2 = _optional("cv2")
    if cv2 is not None:
        found["imageio, OpenCV plugin"] = lambda a: iio.imwrite(
            "<bytes>", a, extension=".png", plugin="opencv", params=[cv2.IMWRITE_PNG_COMPRESSION, level]
        )
        found["OpenCV imencode (BGRA)"] = lambda a: cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, level])[1]
    png = _optional("png")
    if png is not None:

        def pypng_encode(a):
            buf = io.BytesIO()
            depth = 16 if a.dtype == np.uint16 else 8
            png.Writer(a.shape[1], a.shape[0], greyscale=False, alpha=True, bitdepth=depth, compression=level).write(
                buf, a.reshape(a.shape[0], -1)
            )
            return buf.getvalue()

        found["pypng (pure Python)"] = pypng_encode
    return found


_SWAPPED = ("imdecode", "imencode")  # these return / take BGRA: compared with the channels swapped


def _same(name, got, want):
    got = np.asarray(got)
    if any(s in name for s in _SWAPPED) and got.ndim == 3 and got.shape[2] == 4:
        got = got[..., [2, 1, 0, 3]]
    return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


def codec_rows(size, deep, rounds, folder):
    """Decode and encode rows for one size and depth, each set timed in alternation."""
    import imagecodecs

    raw, out, raw16, out16 = images(size)
    src, dst = (raw16, out16) if deep else (raw, out)
    if deep:
        data = imagecodecs.png_encode(src, level=LEVEL)  # libpng's adaptive filters, as renderers write
    else:
        import imageio.v3 as iio

        data = iio.imwrite("<bytes>", src, extension=".png")  # as synth.write_dataset writes inputs
    label = f"{size}² {16 if deep else 8}-bit"
    rows = {}
    decs = {}
    for name, decode in decoders(folder).items():
        try:
            exact = _same(name, decode(data), src)
        except Exception:
            exact = False
        rows[name] = {"case": label, "codec": name, "decode_exact": "yes" if exact else "no"}
        if exact:
            decs[name] = decode
    times, _ = paired_times([lambda d=d: d(data) for d in decs.values()], rounds=rounds, budget=15.0)
    for name, t in zip(decs, times, strict=True):
        rows[name]["decode_ms"] = 1e3 * t
    encs = {}
    swapped = np.ascontiguousarray(dst[..., [2, 1, 0, 3]])
    for name, encode in encoders(LEVEL).items():
        arg = swapped if any(s in name for s in _SWAPPED) else dst
        try:
            encoded = bytes(encode(arg))
            exact = np.array_equal(imagecodecs.png_decode(encoded), dst)
        except Exception:
            encoded, exact = b"", False
        row = rows.setdefault(name, {"case": label, "codec": name})
        row["encode_exact"] = "yes" if exact else "no"
        if exact:
            encs[name] = (encode, arg)
            row["kib"] = len(encoded) / 1024
    times, _ = paired_times([lambda e=e, a=a: e(a) for e, a in encs.values()], rounds=rounds, budget=20.0)
    for name, t in zip(encs, times, strict=True):
        rows[name]["encode_ms"] = 1e3 * t
    return list(rows.values())


CODEC_COLUMNS = [
    ("codec", "codec", ""),
    ("decode_ms", "decode ms", ".2f"),
    ("encode_ms", "encode ms", ".2f"),
    ("kib", "file KiB", ".0f"),
    ("decode_exact", "decodes exact", ""),
    ("encode_exact", "round trip exact", ""),
]


# ----------------------------------------------------------------------------- a run against its floor

_FLOOR = r"""
import sys, time, pathlib, io
src, out, level = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
import imageio.v3 as iio
from pixscale.pipeline.io import encode_png, read_view
pairs = [(p, read_view(out / p.relative_to(src))) for p in sorted(src.rglob("*.png"))]  # the arrays the run wrote
own = old = 0.0
for p, written in pairs:
    t0 = time.perf_counter()
    read_view(p)                                             # pixscale's codecs: decode the input...
    encode_png(written, compress_level=level)                # ...and encode the exact output
    t1 = time.perf_counter()
    iio.imread(p)                                            # the imageio/Pillow route of benchmarks/peers.py
    iio.imwrite("<bytes>", written, extension=".png", plugin="pillow", compress_level=level)
    t2 = time.perf_counter()
    own, old = own + t1 - t0, old + t2 - t1
print(own / len(pairs), old / len(pairs))
"""


def _run_s(tree, src, dst, tmp):
    """(wall, CPU) seconds of one ``pixscale run --jobs 1`` of ``tree``'s pixscale, with that tree's own caches."""
    cmd = [sys.executable, "-m", "pixscale", "run", str(src), str(dst), "--quiet", "--no-plots", "--jobs", "1"]
    caches = {"NUMBA_CACHE_DIR": str(tmp / f"nb-{tree.name}"), "PIXSCALE_CACHE_DIR": str(tmp / f"px-{tree.name}")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = {**os.environ, **caches, "PYTHONPATH": str(tree)}
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=tree)  # cwd: `-m` puts it first on the path
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def run_rows(samples, rounds, baseline):
    """``pixscale run --jobs 1`` per view against decode + encode of the same files, old and new alternating."""
    here = Path(__file__).resolve().parent.parent
    trees = {"this tree": here} if baseline is None else {"baseline": Path(baseline).resolve(), "this tree": here}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth.write_dataset(tmp / "in", n_samples=samples, seed=7)
        synth.write_dataset(tmp / "one", n_samples=1, seed=7)  # the run's fixed cost: one sample
        n = 6 * samples
        for name, tree in trees.items():  # warm each tree's kernel cache (its own: the kernels may differ)
            _run_s(tree, tmp / "in", tmp / f"warm-{name}", tmp)
        runs = {name: [] for name in trees}
        ones = {name: [] for name in trees}
        for r in range(rounds):
            for name, tree in trees.items():
                runs[name].append(_run_s(tree, tmp / "in", tmp / f"out-{name}-{r}", tmp))
                ones[name].append(_run_s(tree, tmp / "one", tmp / f"one-{name}-{r}", tmp))
        rows = []
        for name in trees:
            floor = subprocess.run(
                [sys.executable, "-c", _FLOOR, str(tmp / "in"), str(tmp / f"out-{name}-0"), str(LEVEL)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(here)},  # one floor for both: the same files, today's codecs
                cwd=here,
            ).stdout.split()
            own, old = (1e3 * float(x) for x in floor)
            per_view = 1e3 * statistics.median(w for w, _ in runs[name]) / n
            cpu_per_view = 1e3 * statistics.median(c for _, c in runs[name]) / n
            fixed = statistics.median(w for w, _ in ones[name])
            extra = [w - o for (w, _), (o, _) in zip(runs[name], ones[name], strict=True)]
            marginal = 1e3 * statistics.median(extra) / (n - 6)
            rows.append(
                {
                    "tree": name,
                    "views": n,
                    "run_ms_per_view": per_view,
                    "cpu_ms_per_view": cpu_per_view,
                    "floor_ms": own,
                    "ratio": per_view / own,
                    "cpu_ratio": cpu_per_view / own,
                    "fixed_s": fixed,
                    "marginal_ms_per_view": marginal,
                    "marginal_ratio": marginal / own,
                    "floor_imageio_ms": old,
                    "ratio_imageio": per_view / old,
                    "runs_s": " ".join(f"{w:.2f}" for w, _ in runs[name]),
                }
            )
    return rows


_UNITS = r"""
import json, shutil, sys, time, pathlib
import numpy as np
from pixscale.pipeline.discover import discover
from pixscale.pipeline.io import encode_png, read_view
from pixscale.pipeline.options import RunOptions
from pixscale.pipeline.unit import process_sample
from pixscale._precompile import precompile
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
opts = RunOptions()
dataset = discover(src, out_root=out)
precompile([np.dtype(np.uint8)], announce=None)
process_sample(dataset.samples[0], out / "warm", opts, dataset.root)
clocks = (time.perf_counter, time.process_time)  # process_time counts every thread of the process
t0 = [c() for c in clocks]
for sample in dataset.samples:  # what one job of `pixscale run --jobs 1` does, less start-up and the manifest
    process_sample(sample, out / "units", opts, dataset.root)
t1 = [c() for c in clocks]
pairs = [(p, read_view(out / "units" / p.relative_to(src))) for p in sorted(src.rglob("*.png"))]
t2 = [c() for c in clocks]
for p, written in pairs:
    read_view(p)
    encode_png(written, compress_level=opts.png_level)
t3 = [c() for c in clocks]
shutil.rmtree(out)
n = len(pairs)
print(json.dumps({"units": [(b - a) / n for a, b in zip(t0, t1)], "floor": [(b - a) / n for a, b in zip(t2, t3)]}))
"""


def unit_rows(samples, rounds, baseline):
    """The views' work in one process (no start-up, no manifest) against decode + encode, wall and CPU."""
    here = Path(__file__).resolve().parent.parent
    trees = {"this tree": here} if baseline is None else {"baseline": Path(baseline).resolve(), "this tree": here}
    got = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth.write_dataset(tmp / "in", n_samples=samples, seed=7)
        for r in range(rounds + 1):  # the first round warms each tree's kernel cache
            for name, tree in trees.items():
                caches = {
                    "NUMBA_CACHE_DIR": str(tmp / f"nb-{tree.name}"),
                    "PIXSCALE_CACHE_DIR": str(tmp / f"px-{tree.name}"),
                }
                done = subprocess.run(
                    [sys.executable, "-c", _UNITS, str(tmp / "in"), str(tmp / f"out-{name}")],
                    check=True,
                    capture_output=True,
                    text=True,
                    env={**os.environ, **caches, "PYTHONPATH": str(tree)},
                    cwd=tree,  # `-c` puts the working folder first on the path
                )
                if r:
                    got[name].append(json.loads(done.stdout))
    rows = []
    for name, runs in got.items():
        med = {k: [1e3 * statistics.median(x[k][i] for x in runs) for i in (0, 1)] for k in ("units", "floor")}
        rows.append(
            {
                "tree": name,
                "views": 6 * samples,
                "units_ms": med["units"][0],
                "floor_ms": med["floor"][0],
                "ratio": statistics.median(x["units"][0] / x["floor"][0] for x in runs),
                "units_cpu_ms": med["units"][1],
                "floor_cpu_ms": med["floor"][1],
                "cpu_ratio": statistics.median(x["units"][1] / x["floor"][1] for x in runs),
            }
        )
    return rows


UNIT_COLUMNS = [
    ("tree", "pixscale", ""),
    ("units_ms", "units ms/view", ".2f"),
    ("floor_ms", "decode+encode ms", ".2f"),
    ("ratio", "units / floor", ".2f"),
    ("units_cpu_ms", "units CPU ms/view", ".2f"),
    ("floor_cpu_ms", "decode+encode CPU ms", ".2f"),
    ("cpu_ratio", "CPU / CPU", ".2f"),
]


RUN_COLUMNS = [
    ("tree", "pixscale", ""),
    ("run_ms_per_view", "run --jobs 1 ms/view", ".2f"),
    ("cpu_ms_per_view", "its CPU ms/view", ".2f"),
    ("floor_ms", "decode+encode ms (read_view, encode_png)", ".2f"),
    ("ratio", "run / floor", ".2f"),
    ("cpu_ratio", "CPU / floor", ".2f"),
    ("fixed_s", "1-sample run s", ".2f"),
    ("marginal_ms_per_view", "ms per further view", ".2f"),
    ("marginal_ratio", "that / floor", ".2f"),
    ("floor_imageio_ms", "decode+encode ms (imageio/Pillow)", ".2f"),
    ("ratio_imageio", "run / that floor", ".2f"),
    ("runs_s", "runs (s)", ""),
]


def _versions(info):
    for dist in ("imagecodecs", "pillow", "imageio", "pyspng", "pypng", "opencv-python-headless"):
        try:
            info["versions"][dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--run", action="store_true", help="time a run against its I/O floor instead")
    parser.add_argument("--units", action="store_true", help="time the views' work in one process instead")
    parser.add_argument("--samples", type=int, default=20, help="with --run/--units: samples of 6 views")
    parser.add_argument("--baseline", help="with --run: a checkout of the version to compare with")
    parser.add_argument("--json", default="benchmarks/results/io.json", help="where to write the rows")
    args = parser.parse_args(argv)
    print("command: python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    result = {"machine": _versions(machine())}
    if args.units:
        rows = unit_rows(args.samples, args.rounds, args.baseline)
        print(f"\nThe units of `--jobs 1` in one process per view (median of {args.rounds}) vs decode + encode\n")
        print(format_table(rows, UNIT_COLUMNS))
        result["units"] = rows
    elif args.run:
        rows = run_rows(args.samples, args.rounds, args.baseline)
        print(f"\n`pixscale run --jobs 1 --no-plots` per view (median of {args.rounds} runs) vs decode + encode\n")
        print(format_table(rows, RUN_COLUMNS))
        result["run"] = rows
    else:
        with tempfile.TemporaryDirectory() as folder:
            rows = []
            for size in args.sizes:
                for deep in (False, True):
                    case = codec_rows(size, deep, args.rounds, folder)
                    print(f"\n{case[0]['case']} RGBA: decode an input, encode an output at level {LEVEL}\n")
                    print(format_table(case, CODEC_COLUMNS))
                    rows += case
        result["codecs"] = rows
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
