"""Benchmark PNG reading and writing: pixscale.pipeline.io against the 0.1.0 route and 16-bit codecs.

Usage::

    python benchmarks/io.py [--size 512] [--rounds 21] [--json benchmarks/results/io.json]

Two tables, each timed side by side in one process, in alternation, after
warm-up (median of rounds; ratios are medians of per-round ratios):

* 8-bit RGBA: ``read_view`` (file -> array; the file keeps colour under alpha 0,
  as inputs do) and ``encode_png`` (array -> bytes; colour zero under alpha 0, as
  the pipeline writes) against the 0.1.0 route (file bytes -> ``imageio.v3.imread`` with Pillow;
  ``imageio.v3.imwrite`` with Pillow).
* 16-bit RGBA: decode of a libpng-written file (adaptive filters, as renderers
  write) and encode at level 6 by every installed candidate -- imagecodecs
  (libpng), OpenCV, pypng -- and the 0.1.0 route, which returns 8 bits; with
  whether the round trip is bit-exact and each package's installed size; the
  decoders are timed in alternation with each other, then the encoders.

The images are synthetic mouse views (``pixscale.synth``); the 16-bit one is the
8-bit view times 257 plus dither in the low byte, colour zero under alpha 0.
"""

import argparse
import io
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from pixscale import synth
from pixscale.bench import format_table, paired_times
from pixscale.pipeline.io import encode_png, read_view

sys.path.insert(0, str(Path(__file__).parent))
from run import machine  # noqa: E402

LEVEL = 6


def _installed_mib(*dists):
    total = 0
    for dist in dists:
        try:
            total += sum(f.size or 0 for f in metadata.distribution(dist).files or ())
        except metadata.PackageNotFoundError:
            pass
    return total / 2**20 or None


def images(size, seed=0):
    """(8-bit view as read, 8-bit view as written, 16-bit view): colour under alpha 0 kept, then zeroed."""
    rng = np.random.default_rng(seed)
    raw = synth.mouse_view(rng, size=size)
    out = raw.copy()
    out[out[..., 3] == 0] = 0
    deep = out.astype(np.uint16) * 257 + rng.integers(0, 257, out.shape).astype(np.uint16)
    deep[out[..., 3] == 0] = 0
    return raw, out, np.minimum(deep, 65535).astype(np.uint16)


def _old_read(path):  # pixscale 0.1.0's read_view, less its checks
    import imageio.v3 as iio

    with open(path, "rb") as f:
        data = f.read()
    return iio.imread(io.BytesIO(data), extension=".png")


def _old_encode(image):  # pixscale 0.1.0's encode_png
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", image, extension=".png", plugin="pillow", compress_level=LEVEL)


def eight_bit(size, rounds, folder):
    raw, out, _ = images(size)
    path = os.path.join(folder, "view8.png")
    with open(path, "wb") as f:
        f.write(_old_encode(raw))
    assert np.array_equal(read_view(path), _old_read(path))
    assert encode_png(out, compress_level=LEVEL) == _old_encode(out)  # same bytes as before
    rows = []
    for op, old, new in (
        ("decode (read_view)", lambda: _old_read(path), lambda: read_view(path)),
        ("encode (encode_png)", lambda: _old_encode(out), lambda: encode_png(out, compress_level=LEVEL)),
        (
            "decode + encode",
            lambda: (_old_read(path), _old_encode(out)),
            lambda: (read_view(path), encode_png(out, compress_level=LEVEL)),
        ),
    ):
        (t_old, t_new), (_, ratio) = paired_times([old, new], rounds=rounds, budget=10.0)
        rows.append({"op": op, "size": size, "old_ms": t_old * 1e3, "new_ms": t_new * 1e3, "ratio": ratio})
    return rows


def _candidates(level, folder):
    """name -> (decode(bytes) -> array, encode(array) -> bytes, installed MiB)."""
    import imagecodecs
    import imageio.v3 as iio

    def read_view_bytes(data):  # read_view takes a path: each distinct input is written once, outside the timing
        path = os.path.join(folder, f"view16-{len(data)}-{hash(data) & 0xFFFFFFFF:08x}.png")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return read_view(path)

    found = {
        "pixscale.pipeline.io read_view / encode_png": (
            read_view_bytes,
            lambda a: encode_png(a, compress_level=level),
            _installed_mib("imagecodecs"),
        )
    }
    found["imagecodecs.png_* directly"] = (
        imagecodecs.png_decode,
        lambda a: imagecodecs.png_encode(a, level=level),
        _installed_mib("imagecodecs"),
    )
    try:
        import cv2

        cv2.setNumThreads(1)
        found["OpenCV (BGRA swapped)"] = (
            lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)[..., [2, 1, 0, 3]],
            lambda a: cv2.imencode(".png", a[..., [2, 1, 0, 3]], [cv2.IMWRITE_PNG_COMPRESSION, level])[1].tobytes(),
            _installed_mib("opencv-python-headless", "opencv-python"),
        )
    except ImportError:
        pass
    try:
        import png

        def png_decode(b):
            width, height, rows, _ = png.Reader(bytes=b).asDirect()
            return np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(height, width, -1)

        def png_encode(a):
            buf = io.BytesIO()
            png.Writer(a.shape[1], a.shape[0], greyscale=False, alpha=True, bitdepth=16, compression=level).write(
                buf, a.reshape(a.shape[0], -1)
            )
            return buf.getvalue()

        found["pypng (pure Python)"] = (png_decode, png_encode, _installed_mib("pypng"))
    except ImportError:
        pass
    found["0.1.0 route (imageio + Pillow)"] = (
        lambda b: iio.imread(io.BytesIO(b), extension=".png"),
        _old_encode,
        _installed_mib("pillow"),
    )
    return found


def sixteen_bit(size, rounds, folder):
    import imagecodecs

    _, _, deep = images(size)
    data = imagecodecs.png_encode(deep, level=LEVEL)  # libpng's adaptive filters, as renderers write
    candidates = _candidates(LEVEL, folder)
    rows = []
    for name, (decode, encode, mib) in candidates.items():
        decoded = decode(data)
        try:
            exact = np.array_equal(decoded, deep) and np.array_equal(decode(encode(deep)), deep)
        except Exception:  # the 0.1.0 route cannot write 16-bit RGBA
            exact = False
        rows.append({"codec": name, "exact": "yes" if exact else f"no (reads {decoded.dtype})", "installed_mib": mib})
    # All decoders in alternation, then all encoders that can write 16 bits.
    decs, _ = paired_times([lambda d=d: d(data) for d, _, _ in candidates.values()], rounds=rounds, budget=15.0)
    writers = [i for i, row in enumerate(rows) if row["exact"] == "yes"]
    encs, _ = paired_times(
        [(lambda e: lambda: e(deep))(list(candidates.values())[i][1]) for i in writers], rounds=rounds, budget=15.0
    )
    for row, t in zip(rows, decs, strict=False):
        row["decode_ms"] = t * 1e3
    for i, t in zip(writers, encs, strict=False):
        rows[i]["encode_ms"] = t * 1e3
        rows[i]["total_ms"] = rows[i]["decode_ms"] + t * 1e3
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", default="benchmarks/results/io.json", help="where to write the rows")
    args = parser.parse_args(argv)
    print("command: python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))
    with tempfile.TemporaryDirectory() as folder:
        rows8 = eight_bit(args.size, args.rounds, folder)
        print(
            f"\n8-bit RGBA {args.size}x{args.size}, compress_level {LEVEL}, median of up to {args.rounds} "
            "alternating rounds (encode_png writes the same bytes as 0.1.0)\n"
        )
        print(
            format_table(
                rows8,
                [
                    ("op", "operation", ""),
                    ("old_ms", "0.1.0 route ms", ".2f"),
                    ("new_ms", "pixscale.pipeline.io ms", ".2f"),
                    ("ratio", "new / old", ".2f"),
                ],
            )
        )
        rows16 = sixteen_bit(args.size, args.rounds, folder)
    print(f"\n16-bit RGBA {args.size}x{args.size}: decode of a libpng-written file, encode at level {LEVEL}\n")
    print(
        format_table(
            rows16,
            [
                ("codec", "codec", ""),
                ("decode_ms", "decode ms", ".2f"),
                ("encode_ms", "encode ms", ".2f"),
                ("total_ms", "decode + encode ms", ".2f"),
                ("exact", "16-bit exact", ""),
                ("installed_mib", "installed MiB", ".1f"),
            ],
        )
    )
    info = machine()
    for dist in ("imagecodecs", "pypng", "opencv-python-headless"):
        try:
            info["versions"][dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"machine": info, "eight_bit": rows8, "sixteen_bit": rows16}, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
