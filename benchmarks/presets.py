"""Calibrate the presets: each model family's bbox framing rule on real cut-outs, beside pixscale with its preset.

Usage::

    python benchmarks/presets.py [--json benchmarks/results/presets.json]
                                 [--figure benchmarks/results/presets.png] [--quick]

The views: every real cut-out vendored in ``tests/data`` (the six Noto emoji
animals and the openclipart animals, see ``tests/data/LICENSE.md``), scaled
to 240 px on its longer side, squashed to 70% of its width or not (a turned
animal), rotated in steps of 30 degrees and put at a seeded random place on a
512 x 512 transparent canvas: 18 animals x 2 x 12 = 432 views.

The rules, written here from the public code each model runs before
inference (read for the facts, see ``pixscale/presets.py`` for the URLs):

- ``resize_foreground(ratio)`` (TripoSR ``tsr/utils.py``, SF3D
  ``sf3d/utils.py``, InstantMesh's ``src/utils/infer_util.py``): the bbox of
  ``alpha > 0`` (rows ``y1..y2``, columns ``x1..x2`` as ``min``/``max`` of
  the pixel indices), cropped as ``image[y1:y2, x1:x2]`` (the last row and
  column of the object are outside the slice), padded to a square, then to
  ``int(side / ratio)`` about the centre; the model resizes it to its canvas.
- ``recenter(border_ratio)`` (kiui ``kiui/op.py``, used by LGM's ``app.py``
  and DreamGaussian's ``process.py``): the same bbox and slice, resized (area
  filter) so that its longer side is ``int(side * (1 - border_ratio))`` of
  the square canvas, centred, then resized to the model's canvas.

For each model: the pixel-area size ratio ``sqrt(count(alpha > 10) / pixels)``
of every framed view, its CV (population std / mean over views), and the
share of views that lose object pixels (``alpha > 10`` pixels outside the
crop).  The preset's target is the median of the rule's size ratios.  Then
pixscale with that target and canvas (``pixscale.plan`` + ``pixscale.warp``,
default options: exact mode, ``fit="shift"``) on the same views: its size CV
and the share of views with cut pixels (``ScaleTransform.cut_pixels``).
Prints a Markdown table; writes the numbers as JSON and the figure.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import pixscale
import pixscale.presets

sys.path.insert(0, str(Path(__file__).parent))
from run import machine  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
THRESHOLD = 10  # pixscale's default object mask, alpha > 10
MODELS = {  # preset -> (rule, parameter)
    "triposr": ("resize_foreground", 0.85),
    "sf3d": ("resize_foreground", 0.85),
    "instantmesh": ("resize_foreground", 0.85),
    "lgm": ("recenter", 0.2),
    "dreamgaussian": ("recenter", 0.2),
}


def cutouts():
    """The vendored real RGBA cut-outs, by name."""
    paths = sorted(DATA.glob("1f*.png")) + sorted((DATA / "openclipart").glob("*.png"))
    return {p.stem: np.asarray(Image.open(p).convert("RGBA")) for p in paths}


def make_views(images, angles, squashes=(1.0, 0.7), side=240, canvas=512, seed=0):
    """Each cut-out turned into views: scaled, squashed, rotated, placed at random on a transparent canvas."""
    rng = np.random.default_rng(seed)
    views = []
    for name, img in images.items():
        base = Image.fromarray(img)
        s = side / max(base.size)
        for squash in squashes:
            im = base.resize((max(1, round(base.size[0] * s * squash)), round(base.size[1] * s)), Image.LANCZOS)
            for angle in angles:
                r = np.asarray(im.rotate(angle, resample=Image.BICUBIC, expand=True))
                h, w = r.shape[:2]
                out = np.zeros((canvas, canvas, 4), np.uint8)
                y, x = rng.integers(0, canvas - h + 1), rng.integers(0, canvas - w + 1)
                out[y : y + h, x : x + w] = r
                views.append((f"{name}/{squash:g}/{angle}", out))
    return views


def _bbox_crop(img):
    """The crop both rules take, ``img[y1:y2, x1:x2]`` of the ``alpha > 0`` bbox, and the pixels it leaves out.

    The pixels left out: ``(visible, object)``, those with ``alpha > 0`` and
    those with ``alpha > THRESHOLD`` (pixscale's object mask).
    """
    ys, xs = np.nonzero(img[..., 3] > 0)
    y1, y2, x1, x2 = ys.min(), ys.max(), xs.min(), xs.max()
    crop = img[y1:y2, x1:x2]
    lost = tuple(int(np.count_nonzero(img[..., 3] > t) - np.count_nonzero(crop[..., 3] > t)) for t in (0, THRESHOLD))
    return crop, lost


def _pad_centre(img, size):
    h, w = img.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((size, size, img.shape[2]), img.dtype)
    out[top : top + h, left : left + w] = img
    return out


def resize_foreground(img, ratio, canvas):
    """The ``resize_foreground`` framing at ``canvas`` px: (framed image, object pixels lost)."""
    crop, lost = _bbox_crop(img)
    square = _pad_centre(crop, max(crop.shape[:2]))
    framed = _pad_centre(square, int(square.shape[0] / ratio))
    return np.asarray(Image.fromarray(framed).resize((canvas, canvas), Image.BILINEAR)), lost


def recenter(img, border_ratio, canvas):
    """The ``recenter`` framing (on the view's square canvas, then resized to ``canvas`` px): (image, lost)."""
    crop, lost = _bbox_crop(img)
    size = max(img.shape[:2])
    h, w = crop.shape[:2]
    scale = int(size * (1 - border_ratio)) / max(h, w)
    h2, w2 = int(h * scale), int(w * scale)
    resized = np.asarray(Image.fromarray(crop).resize((w2, h2), Image.BOX if scale < 1 else Image.BILINEAR))
    framed = np.zeros((size, size, 4), np.uint8)
    top, left = (size - h2) // 2, (size - w2) // 2
    framed[top : top + h2, left : left + w2] = resized
    return np.asarray(Image.fromarray(framed).resize((canvas, canvas), Image.BOX)), lost


RULES = {"resize_foreground": resize_foreground, "recenter": recenter}


def _cv(values):
    return float(np.std(values) / np.mean(values))


def calibrate(views, name):
    """The bbox rule of preset ``name`` and pixscale with the rule's median as its target, on ``views``."""
    preset = pixscale.presets.get(name)
    rule, param = MODELS[name]
    canvas = preset.canvas[0]
    ratios, visible, lost = [], [], []
    for _, view in views:
        framed, (n0, n) = RULES[rule](view, param, canvas)
        ratios.append(pixscale.measure(framed, threshold=THRESHOLD).size_ratio)
        visible.append(n0)
        lost.append(n)
    target = float(np.median(ratios))
    after, cut, limited = [], [], []
    for _, view in views:
        t = pixscale.plan(view, target=round(target, 3), output_shape=preset.canvas)
        after.append(pixscale.measure(pixscale.warp(view, t), threshold=THRESHOLD).size_ratio)
        cut.append(t.cut_pixels or 0)
        limited.append(t.limited)
    whole = [r for r, lim in zip(after, limited, strict=True) if not lim]
    return {
        "preset": name,
        "rule": f"{rule}({param})",
        "canvas": canvas,
        "views": len(views),
        "median_ratio": target,
        "preset_target": preset.target,
        "bbox": {
            "ratios": ratios,
            "mean": float(np.mean(ratios)),
            "cv": _cv(ratios),
            "lost_share": float(np.mean(np.array(lost) > 0)),
            "visible_lost_share": float(np.mean(np.array(visible) > 0)),
            "visible_lost_median_px": float(np.median(visible)),
            "lost_median_px": float(np.median(lost)),
        },
        "pixscale": {
            "ratios": after,
            "mean": float(np.mean(after)),
            "cv": _cv(after),
            "cut_share": float(np.mean(np.array(cut) > 0)),
            "cv_not_limited": _cv(whole) if whole else None,
            "limited": int(sum(limited)),
            "limited_share": sum(limited) / len(views),
        },
    }


def table(rows):
    lines = [
        "| preset | bbox rule | canvas | target (median size ratio) | size CV, rule "
        "| size CV, pixscale (views not limited) | views losing pixels, rule: alpha > 0 / alpha > 10 "
        "| views cut, pixscale | views limited, pixscale |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        b, p = r["bbox"], r["pixscale"]
        lines.append(
            f"| {r['preset']} | `{r['rule']}` | {r['canvas']} | {r['median_ratio']:.3f} | {100 * b['cv']:.1f}% "
            f"| {100 * p['cv']:.1f}% ({100 * p['cv_not_limited']:.4f}%) "
            f"| {100 * b['visible_lost_share']:.0f}% / {100 * b['lost_share']:.0f}% "
            f"| {100 * p['cut_share']:.0f}% | {100 * p['limited_share']:.0f}% |"
        )
    return "\n".join(lines)


def figure(rows, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    pos = np.arange(len(rows))
    box = dict(widths=0.35, showfliers=True, patch_artist=True)
    b1 = left.boxplot(
        [r["bbox"]["ratios"] for r in rows],
        positions=pos - 0.2,
        medianprops={"color": "black"},
        flierprops={"markersize": 2},
        **box,
    )
    b2 = left.boxplot(  # the views off the median are the limited ones (the object fills the canvas)
        [r["pixscale"]["ratios"] for r in rows],
        positions=pos + 0.2,
        medianprops={"color": "#2a9d8f", "linewidth": 3},
        flierprops={"markersize": 2.5, "markerfacecolor": "#2a9d8f", "markeredgecolor": "#2a9d8f"},
        **box,
    )
    for patch in b1["boxes"]:
        patch.set_facecolor("#f4a261")
    for patch in b2["boxes"]:
        patch.set_facecolor("#2a9d8f")
    left.set_xticks(pos, [r["preset"] for r in rows], fontsize=8)
    left.set_ylabel("size ratio sqrt(object px / canvas px)")
    left.set_title("Size on the model's canvas (dots: pixscale's limited views)", fontsize=10)
    left.legend([b1["boxes"][0], b2["boxes"][0]], ["the model's bbox rule", "pixscale, preset target"], fontsize=8)
    w = 0.27
    bars = [
        ([100 * r["bbox"]["visible_lost_share"] for r in rows], "#e76f51", "bbox rule, alpha > 0"),
        ([100 * r["bbox"]["lost_share"] for r in rows], "#f4a261", "bbox rule, alpha > 10"),
        ([100 * r["pixscale"]["cut_share"] for r in rows], "#2a9d8f", "pixscale (cut)"),
    ]
    for i, (values, colour, label) in enumerate(bars):
        right.bar(pos + (i - 1) * w, values, w, color=colour, label=label)
    right.set_xticks(pos, [r["preset"] for r in rows], fontsize=8)
    right.set_ylabel("% of views")
    right.set_ylim(0, 130)
    right.set_yticks(range(0, 101, 20))
    right.set_title("Views that lose object pixels")
    right.legend(fontsize=8, loc="upper center", ncols=2)
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/presets.json")
    parser.add_argument("--figure", default="benchmarks/results/presets.png")
    parser.add_argument("--quick", action="store_true", help="4 angles instead of 12")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    load = os.getloadavg()
    start = time.perf_counter()
    images = cutouts()
    views = make_views(images, range(0, 360, 90 if args.quick else 30))
    print(f"{len(images)} cut-outs, {len(views)} views", file=sys.stderr)
    rows = [calibrate(views, name) for name in args.models]
    print(table(rows))
    for r in rows:
        if round(r["median_ratio"], 3) != r["preset_target"]:
            print(f"note: {r['preset']}'s target is {r['preset_target']}, the median is {r['median_ratio']:.3f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": machine(),
        "load_average_before": list(load),
        "seconds": time.perf_counter() - start,
        "cutouts": list(images),
        "views": len(views),
        "rows": rows,
    }
    Path(args.json).write_text(json.dumps(result, indent=1))
    figure(rows, args.figure)
    print(f"{time.perf_counter() - start:.0f} s; wrote {args.json} and {args.figure}", file=sys.stderr)


if __name__ == "__main__":
    main()
