"""Placement on the demo sets: pixscale's fit rules against the original method, re-measured with NumPy.

    python benchmarks/placement.py --samples 16 100

For each set (``pixscale.synth``, the demo's generator: seed 0, 512 px, six
views a sample) and each method, every written view is read back and
measured with NumPy alone (alpha > 10): size ratio mean / std / CV / min /
max, the mean centroid offset from the canvas centre, views limited by the
fit, and views with foreground cut off (for the original method: counted by
repeating its warp on a canvas 256 px larger on every side).  The original
method is FaceLift's ``scripts/preprocess_pixel_based.py`` as described
there: closed-form scale, centre of mass (pixel indices) to ``W / 2``,
``cv2.warpAffine`` with Lanczos-4 above scale 1 and INTER_AREA below; it
needs OpenCV (the ``bench`` extra) and is skipped without it.
"""

import argparse
import math
import pathlib
import sys
import tempfile

import imageio.v3 as iio
import numpy as np

from pixscale import synth
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import RunOptions

METHODS = {
    "pixscale default (fit shift)": RunOptions(),
    "pixscale --fit shrink (0.1's default)": RunOptions(fit="shrink"),
    "pixscale --fit none": RunOptions(fit="none"),
    "pixscale --center bbox --fit shrink": RunOptions(center="bbox", fit="shrink"),
    "pixscale --scale per-sample": RunOptions(scale="per-sample"),
}
PAD = 256


def _measure(alpha):
    ys, xs = np.nonzero(alpha > 10)
    h, w = alpha.shape
    return math.sqrt(xs.size / (h * w)), math.hypot(xs.mean() + 0.5 - w / 2, ys.mean() + 0.5 - h / 2)


def _original(files, out_root, in_root):
    """The original method on every view; returns (size, offset, cut) per view."""
    import cv2

    cv2.setNumThreads(1)
    rows = []
    for path in files:
        img = iio.imread(path)
        alpha = img[..., 3]
        ys, xs = np.nonzero(alpha > 10)
        h, w = alpha.shape
        s = 0.3 / math.sqrt(xs.size / (h * w))
        cx, cy = xs.mean(), ys.mean()
        m = np.array([[s, 0, w / 2 - cx * s], [0, s, h / 2 - cy * s]])
        flags = cv2.INTER_LANCZOS4 if s > 1 else cv2.INTER_AREA
        out = cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        big = cv2.warpAffine(
            img, m + [[0, 0, PAD], [0, 0, PAD]], (w + 2 * PAD, h + 2 * PAD), flags=flags, borderValue=0
        )
        cut = int(np.count_nonzero(big[..., 3] > 10)) - int(np.count_nonzero(out[..., 3] > 10))
        dest = out_root / path.relative_to(in_root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(dest, out)
        rows.append((*_measure(iio.imread(dest)[..., 3]), cut > 0, None))
    return rows


def _pixscale(in_root, out_root, opts):
    rows, _ = run(in_root, out_root, opts, quiet=True, plots=False, jobs=2)
    out = []
    for r in rows:
        if r["status"] != "ok":
            continue
        out.append((*_measure(iio.imread(out_root / r["view"])[..., 3]), bool(r["cut_pixels"]), r["limited"]))
    return out


def _line(name, rows):
    size = np.array([r[0] for r in rows])
    offset = np.array([r[1] for r in rows])
    limited = "–" if rows[0][3] is None else str(sum(bool(r[3]) for r in rows))
    return (
        f"| {name} | {100 * size.mean():.2f}% | {100 * size.std():.2f}% | {100 * size.std() / size.mean():.2f}% "
        f"| {100 * size.min():.2f}% | {100 * size.max():.2f}% | {offset.mean():.1f} | {limited} "
        f"| {sum(r[2] for r in rows)} |"
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, nargs="+", default=[16, 100])
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args(argv)
    try:
        import cv2  # noqa: F401

        have_cv2 = True
    except ImportError:
        have_cv2 = False
        print("OpenCV is not installed: the original method is skipped", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.samples:
            root = pathlib.Path(tmp) / f"set{n}"
            synth.write_dataset(root / "in", n_samples=n, size=args.size, seed=0, layout="gslrm")
            files = sorted((root / "in").rglob("*.png"))
            print(f"\n{n} samples x 6 views, {args.size} px (pixscale.synth, seed 0)\n")
            print(
                "| method | after mean | std | CV | min | max | centroid offset (px) | limited "
                "| views with foreground cut off |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            if have_cv2:
                rows = _original(files, root / "original", root / "in")
                print(_line("original method (cv2.warpAffine, crops)", rows), flush=True)
            for i, (name, opts) in enumerate(METHODS.items()):
                print(_line(name, _pixscale(root / "in", root / f"m{i}", opts)), flush=True)


if __name__ == "__main__":
    main()
