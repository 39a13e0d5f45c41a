"""Figures of the documentation, drawn at build time from pixscale's synthetic mice."""

import os

import numpy as np
from matplotlib.figure import Figure

import pixscale
from pixscale import synth


def _checker(img):
    a = img[..., 3:].astype(float) / 255
    yy, xx = np.indices(img.shape[:2]) // 16
    board = np.where((yy + xx) % 2, 0.85, 0.7)[..., None]
    return img[..., :3] / 255 * a + board * (1 - a)


def _views(tmp, n=6, size=256):
    synth.write_dataset(tmp, n_samples=1, n_views=n, size=size, seed=3, layout="mvdiffusion")
    import imageio.v3 as iio

    return [iio.imread(os.path.join(tmp, "sample_000", f"cam_{i:03d}.png")) for i in range(n)]


def before_after(views, path):
    fig = Figure(figsize=(2 * len(views), 4.3), layout="constrained")
    axes = fig.subplots(2, len(views))
    for j, img in enumerate(views):
        out = pixscale.normalize(img)
        for i, (im, label) in enumerate(((img, "before"), (out, "after"))):
            m = pixscale.measure(im)
            ax = axes[i, j]
            ax.imshow(_checker(im))
            ax.plot(*m.centroid, "x", color="red", ms=8, mew=2)
            ax.plot(im.shape[1] / 2, im.shape[0] / 2, "+", color="0.2", ms=10)
            ax.set_title(f"{label}: {m.size_ratio:.1%}", fontsize=8)
            ax.set_axis_off()
    fig.savefig(path, dpi=90)


def camera_diagram(path):
    """The map q = s (p - c) + d: a source box, its centre, and where they land."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    for ax, title in ((left, "input (W x H)"), (right, "output")):
        ax.set_xlim(0, 8)
        ax.set_ylim(6, 0)
        ax.set_aspect("equal")
        ax.set_xticks(range(9))
        ax.set_yticks(range(7))
        ax.grid(True, lw=0.4)
        ax.set_title(title, fontsize=9)
    left.add_patch(_rect((4.5, 1.0), 2.5, 2.0))
    left.plot(5.75, 2.0, "o", color="red")
    left.annotate("src_center c", (5.75, 2.0), (3.0, 4.5), arrowprops={"arrowstyle": "->"}, fontsize=8)
    left.plot(0.5, 0.5, "s", color="tab:green")
    left.annotate(
        "pixel (0, 0): centre (0.5, 0.5)", (0.5, 0.5), (0.8, 5.5), arrowprops={"arrowstyle": "->"}, fontsize=8
    )
    s = 1.4
    right.add_patch(_rect((4 - s * 1.25, 3 - s * 1.0), 2.5 * s, 2.0 * s))
    right.plot(4, 3, "o", color="red")
    right.annotate("dst_center d", (4, 3), (5.2, 5.5), arrowprops={"arrowstyle": "->"}, fontsize=8)
    right.text(0.2, 5.8, "q = s (p - c) + d;  K' = A K,  A = [[s, 0, d - s c], [0, s, ...], [0, 0, 1]]", fontsize=7)
    fig.savefig(path, dpi=100)


_DATA = os.path.join(os.path.dirname(__file__), os.pardir, "tests", "data")


def _filter_subjects():
    """A photo of fur (opaque) and the rat emoji's tail (soft alpha), both vendored in tests/data."""
    import imageio.v3 as iio

    fur = iio.imread(os.path.join(_DATA, "chelsea-fur.png"))
    fur = np.concatenate([fur, np.full(fur.shape[:2] + (1,), 255, np.uint8)], axis=2)
    rat = iio.imread(os.path.join(_DATA, "1f400.png"))
    return [("fur", fur, (80.0, 80.0), 40), ("tail", rat, (48.0, 44.0), 20)]


def filter_crops(path):
    """Crops of fur and a tail scaled by 0.7 and 1.76 with each filter, shown pixel for pixel."""
    filters = ["bilinear", "lanczos4", "area"]
    subjects = _filter_subjects()
    rows = [(name, img, c, half, s) for name, img, c, half in subjects for s in (0.7, 1.76)]
    fig = Figure(figsize=(2.1 * len(filters), 2.2 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), len(filters))
    for i, (name, img, centre, half, s) in enumerate(rows):
        n = 2 * round(half * max(s, 1.0))  # the crop, in output pixels
        t = pixscale.ScaleTransform(s, centre, (n / 2, n / 2), img.shape[:2], (n, n))
        for j, f in enumerate(filters):
            ax = axes[i, j]
            ax.imshow(_checker(pixscale.warp(img, t, filter=f)), interpolation="nearest")
            label = f if not (f == "area" and s >= 1) else "area (bilinear at >= 1)"
            ax.set_title(f"{name}, x{s}: {label}", fontsize=8)
            ax.set_axis_off()
    fig.savefig(path, dpi=90)


def _rect(xy, w, h):
    from matplotlib.patches import Rectangle

    return Rectangle(xy, w, h, fill=False, edgecolor="tab:blue", lw=2)


def draw_all(out):
    import tempfile

    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        before_after(_views(tmp), os.path.join(out, "before_after.png"))
    camera_diagram(os.path.join(out, "camera_map.png"))
    filter_crops(os.path.join(out, "filters.png"))
