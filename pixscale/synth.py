"""Synthetic multi-view "mouse" dataset: pixscale's built-in demo data and test fixture.

It imitates masked multi-view video frames of a small animal: RGBA images whose alpha is a
soft matte (anti-aliased edges, opaque inside) and whose RGB is still the original photo
under alpha == 0 (a smooth background with blotches and sensor noise, never zero). A cartoon
mouse (body, head, ears, eyes, a long thin tail) is drawn at a random rotation, position and
size; the size ratio ``sqrt(count(alpha > 10) / (H * W))`` follows the real data (mean
~0.272, coefficient of variation ~15 %, range ~0.17-0.43). Cameras are OpenCV-convention
FaceLift GS-LRM records on a ring around the origin. Images and cameras are not geometrically
consistent: the images are drawn in 2-D, not rendered from a 3-D scene.
"""

import json
import os
import pathlib
import threading

import numpy as np

from ._parallel import run_parallel

__all__ = ["mouse_view", "cameras_for_views", "write_dataset"]

_RATIO_MEDIAN = 0.2685  # median size ratio of a view
_RATIO_SIGMA_SAMPLE = 0.10  # log-normal spread between samples (animal size)
_RATIO_SIGMA_VIEW = 0.107  # log-normal spread between views of a sample (camera distance)
_RATIO_RANGE = (0.17, 0.42)  # drawn size ratios are clipped to this range
_CAL = 0.618  # body half-length per pixel of apparent size; calibrated empirically
_BLEED = 2.0  # pixels that the soft edge and the tail add to the apparent size
_RAMP = 0.75  # half-width of the alpha ramp, pixels
_MARGIN = 3  # clear pixels kept between the object's bounding box and the border
_LAYOUTS = ("gslrm", "mvdiffusion", "flat")


def _check_int(value, name, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"expected an integer `{name}`; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"expected `{name}` >= {minimum}; got {value}.")
    return int(value)


def _coverage(d):
    """Alpha in [0, 1] from a signed distance in pixels (negative inside): smoothstep ramp."""
    t = np.clip(0.5 - d * (0.5 / _RAMP), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ellipse_distance(x, y, centre, axes, angle):
    """Approximate signed distance to an ellipse (exact on the boundary), pixels."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = x - centre[0], y - centre[1]
    u, v = (dx * c + dy * s) / axes[0], (dy * c - dx * s) / axes[1]
    k0, k1 = np.hypot(u, v), np.hypot(u / axes[0], v / axes[1])
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _box_slices(lo, hi, origin, shape):
    """Row and column slices of a grid of `shape` whose pixel (0, 0) is `origin` (x, y)."""
    r0 = max(int(np.floor(lo[1])) - origin[1], 0)
    r1 = min(int(np.ceil(hi[1])) + 1 - origin[1], shape[0])
    c0 = max(int(np.floor(lo[0])) - origin[0], 0)
    c1 = min(int(np.ceil(hi[0])) + 1 - origin[0], shape[1])
    return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))


def _tail_distance(x, y, points, radii):
    """Signed distance to a chain of tapered capsules through `points`, pixels."""
    d = np.full((y.shape[0], x.shape[1]), np.inf)
    origin = (int(x[0, 0] - 0.5), int(y[0, 0] - 0.5))
    for p0, p1, r0, r1 in zip(points[:-1], points[1:], radii[:-1], radii[1:], strict=False):
        pad = max(r0, r1) + _RAMP + 1.0
        lo, hi = np.minimum(p0, p1) - pad, np.maximum(p0, p1) + pad
        rows, cols = _box_slices(lo, hi, origin, d.shape)
        (px, py), (ex, ey) = (x[:, cols] - p0[0], y[rows] - p0[1]), p1 - p0
        t = np.clip((px * ex + py * ey) / max(ex * ex + ey * ey, 1e-12), 0.0, 1.0)
        seg = np.hypot(px - t * ex, py - t * ey) - (r0 + t * (r1 - r0))
        np.minimum(d[rows, cols], seg, out=d[rows, cols])
    return d


def _part_box(part):
    """Bounding box (lo, hi) of a part in pixels, padded by the alpha ramp."""
    kind, centre, axes, angle, _, _ = part
    if kind == "tail":
        pad = axes.max() + _RAMP + 1.0
        return centre.min(axis=0) - pad, centre.max(axis=0) + pad
    c, s = np.cos(angle), np.sin(angle)
    half = np.array([np.hypot(axes[0] * c, axes[1] * s), np.hypot(axes[0] * s, axes[1] * c)])
    return centre - half - _RAMP - 1.0, centre + half + _RAMP + 1.0


def _mouse_parts(p, unit, tail_len, size):
    """Parts in draw order, centred on the body, rotated by p["rotation"]; pixels.

    A part is (kind, centre, axes, angle, colour, shaded), kind "ellipse" or "tail"; for
    the tail, centre holds the polyline points (N, 2) and axes the radii (N,).
    """
    fur, a, b, yaw = p["fur"], unit * p["body"][0], unit * p["body"][1], p["head_yaw"]
    hc, hs = np.cos(yaw), np.sin(yaw)
    head = np.array([0.85 * a, 0.0]) + 0.42 * unit * np.array([hc, hs])

    def on_head(u, v):  # head-frame offset, in units, to a body-frame point
        return head + unit * np.array([u * hc - v * hs, u * hs + v * hc])

    heading = p["tail_heading"] + p["tail_turn"] * np.linspace(0.0, 1.0, 24)
    heading = heading + 0.15 * np.sin(np.linspace(0.0, 6.0, 24) + p["tail_phase"])
    steps = tail_len * unit / 24 * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    points = np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)]) + [-0.85 * a, 0.0]
    radii = np.linspace(max(0.8, 1.9 * size / 512), max(0.6, 1.0 * size / 512), 25)
    ear, eye = (0.19 * unit * p["ears"],) * 2, (0.075 * unit, 0.055 * unit)
    ear_colour, eye_colour = 0.55 * fur + (100, 68, 68), np.array([25.0, 20, 20])
    nose_colour = np.array([190.0, 120, 125])
    parts = [
        ("tail", points, radii, 0.0, 0.5 * fur + (100, 78, 75), False),
        ("ellipse", np.zeros(2), (a, b), 0.0, fur, True),
        ("ellipse", on_head(-0.12, 0.36), ear, 0.0, ear_colour, False),
        ("ellipse", on_head(-0.12, -0.36), ear, 0.0, ear_colour, False),
        ("ellipse", head, (0.5 * unit, 0.38 * unit), yaw, fur * 1.05, True),
        ("ellipse", on_head(0.22, 0.17), eye, yaw, eye_colour, False),
        ("ellipse", on_head(0.22, -0.17), eye, yaw, eye_colour, False),
        ("ellipse", on_head(0.47, 0.0), (0.06 * unit,) * 2, 0.0, nose_colour, False),
    ]
    c, s, rot = np.cos(p["rotation"]), np.sin(p["rotation"]), p["rotation"]
    rotate = np.array([[c, s], [-s, c]])  # rotates row vectors by `rot`
    return [(kind, at @ rotate, axes, angle + rot, colour, shaded) for kind, at, axes, angle, colour, shaded in parts]


def _background(rng, size):
    """Synthetic "background photo": a gradient plus soft blotches, (3, size, size) float32.

    Channel-planar, so that each operation runs over contiguous rows rather than over
    pixels of 3 values (the arithmetic, and so every bit of the result, is that of the
    interleaved original: float64 products and sums, rounded to float32 once a step).
    """
    x = (np.arange(size, dtype=np.float32) + 0.5) / size
    angle = rng.uniform(0.0, 2.0 * np.pi)
    along, across = np.cos(angle) * x, np.sin(angle) * x
    proj = np.add.outer(across, along)
    # Rounding is monotonic, so the grid's extremes are those of the two vectors' sums.
    low, high = across.min() + along.min(), across.max() + along.max()
    np.subtract(proj, low, out=proj)
    np.divide(proj, max(float(high - low), 1e-6), out=proj)
    c0 = rng.uniform(50.0, 200.0, 3)
    c1 = np.clip(c0 + rng.normal(0.0, 40.0, 3), 10.0, 245.0)
    image = np.empty((3, size, size), dtype=np.float32)
    for c in range(3):
        image[c] = c0[c] + (c1 - c0)[c] * proj
    blob = np.empty((size, size))
    term = np.empty((size, size))
    for _ in range(int(rng.integers(4, 9))):
        (mx, my), (sx, sy) = rng.uniform(0.0, 1.0, 2), rng.uniform(0.04, 0.25, 2)
        np.multiply.outer(np.exp(-0.5 * ((x - my) / sy) ** 2), np.exp(-0.5 * ((x - mx) / sx) ** 2), out=blob)
        weight = rng.normal(0.0, 30.0, 3).astype(np.float32)
        for c in range(3):
            np.multiply(blob, weight[c], out=term)
            image[c] += term
    return image


def _draw_ratio(rng, log_median, sigma):
    return float(np.clip(np.exp(log_median + rng.normal(0.0, sigma)), *_RATIO_RANGE))


def _draw_fur(rng):
    grey, brown = rng.uniform(90.0, 150.0), rng.uniform(0.0, 1.0)
    return grey * np.array([1.0 + 0.15 * brown, 1.0 + 0.02 * brown, 1.0 - 0.15 * brown])


def mouse_view(rng, *, size=512, scale=None, fur=None):
    """Draw one RGBA view of a cartoon mouse over a synthetic background photo.

    Parameters
    ----------
    rng : numpy.random.Generator or seed
        Source of randomness (anything ``numpy.random.default_rng`` accepts).
    size : int, optional
        Height and width of the image in pixels, at least 32.
    scale : float, optional
        Target size ratio ``sqrt(count(alpha > 10) / (H * W))`` in (0, 0.5]; the measured
        ratio is within a few percent of it. Default: log-normal, median 0.2685, log-sd
        0.146, clipped to [0.17, 0.42].
    fur : (3,) array_like, optional
        Fur colour, RGB on the 0-255 scale. Default: a random grey-brown.

    Returns
    -------
    image : (size, size, 4) uint8 ndarray
        Straight (not premultiplied) RGBA. Alpha is 255 inside the mouse, ramps over ~1.5 px
        at its edges (pixel centres at +0.5) and is 0 elsewhere, including the whole border.
        RGB is the photo everywhere, including under alpha == 0 (never 0).

    Examples
    --------
    >>> import numpy as np
    >>> image = mouse_view(np.random.default_rng(0), size=128)
    >>> image.shape, image.dtype
    ((128, 128, 4), dtype('uint8'))
    >>> bool(image[0, :, 3].any() or image[:, 0, 3].any()), bool(image[..., :3].min() > 0)
    (False, True)
    """
    rng = np.random.default_rng(rng)
    size = _check_int(size, "size", 32)
    if scale is None:
        sigma = np.hypot(_RATIO_SIGMA_SAMPLE, _RATIO_SIGMA_VIEW)
        scale = _draw_ratio(rng, np.log(_RATIO_MEDIAN), sigma)
    if not 0.0 < float(scale) <= 0.5:
        raise ValueError(f"expected a size ratio `scale` in (0, 0.5]; got {scale!r}.")
    fur = _draw_fur(rng) if fur is None else np.asarray(fur, dtype=float).reshape(3)
    p = {
        "fur": fur * rng.uniform(0.9, 1.1),
        "rotation": rng.uniform(0.0, 2.0 * np.pi),
        "body": rng.uniform(0.92, 1.08, 2) * (1.0, 0.62),
        "head_yaw": rng.normal(0.0, 0.25),
        "ears": rng.uniform(0.9, 1.1),
        "tail_heading": np.pi + rng.uniform(-1.0, 1.0),
        "tail_turn": rng.uniform(-2.2, 2.2),
        "tail_phase": rng.uniform(0.0, 2.0 * np.pi),
    }
    unit, tail_len = _CAL * max(float(scale) * size - _BLEED, 1.0), rng.uniform(1.6, 2.2)
    while True:  # shorten the tail, then shrink the mouse, until it fits inside the frame
        parts = _mouse_parts(p, unit, tail_len, size)
        boxes = [_part_box(part) for part in parts]
        lo, hi = np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)
        if np.all(hi - lo <= size - 2 * _MARGIN - 2):
            break
        tail_len, unit = (tail_len * 0.85, unit) if tail_len > 0.6 else (tail_len, unit * 0.95)
    offset = rng.uniform(_MARGIN + 1 - lo, size - _MARGIN - 1 - hi)
    parts = [(part[0], part[1] + offset) + part[2:] for part in parts]
    boxes = [(plo + offset, phi + offset) for plo, phi in boxes]

    image = _background(rng, size)  # (3, size, size): channel-planar, as premul and mouse below
    noise = rng.standard_normal((size, size, 3), dtype=np.float32).transpose(2, 0, 1)
    rows, cols = _box_slices(lo + offset, hi + offset, (0, 0), (size, size))
    shape, origin = (rows.stop - rows.start, cols.stop - cols.start), (cols.start, rows.start)
    x = (np.arange(cols.start, cols.stop) + 0.5)[None, :]
    y = (np.arange(rows.start, rows.stop) + 0.5)[:, None]
    dist, premul, over = np.full(shape, np.inf), np.zeros((3,) + shape), np.zeros(shape)
    for (kind, at, axes, angle, colour, shaded), (plo, phi) in zip(parts, boxes, strict=False):
        r, c = _box_slices(plo, phi, origin, shape)
        if kind == "tail":
            d = _tail_distance(x[:, c], y[r], at, axes)
        else:
            d = _ellipse_distance(x[:, c], y[r], at, axes, angle)
        shade = 0.72 + 0.28 * np.sqrt(np.clip(-d / (0.6 * min(axes)), 0.0, 1.0)) if shaded else 1.0
        np.minimum(dist[r, c], d, out=dist[r, c])  # union of parts -> the matte
        a = _coverage(d)  # "over" compositing of parts -> the colour
        keep = 1.0 - a
        for k in range(3):
            premul[k, r, c] = premul[k, r, c] * keep + a * (colour[k] * shade)
        over[r, c] = a + over[r, c] * keep
    cover = _coverage(dist)
    speckle = 6.0 * cover
    clamp = np.maximum(over, 1e-6)
    out = np.zeros((size, size, 4), dtype=np.uint8)
    for k in range(3):
        box = image[k, rows, cols]  # a view: the mouse is blended into the photo in place
        box += cover * (premul[k] / clamp - box) + speckle * noise[k, rows, cols]
        image[k] += 2.5 * noise[k]
        out[..., k] = np.rint(np.clip(image[k], 1.0, 255.0))
    out[rows, cols, 3] = np.rint(255.0 * cover)
    return out


def cameras_for_views(rng, n_views, *, size=512):
    """OpenCV-convention cameras on a ring around the origin, in FaceLift GS-LRM format.

    Parameters
    ----------
    rng : numpy.random.Generator or seed
        Source of randomness (anything ``numpy.random.default_rng`` accepts).
    n_views : int
        Number of cameras, at least 1; camera k sits at azimuth ~ 2*pi*k/n_views.
    size : int, optional
        Image height and width in pixels.

    Returns
    -------
    frames : list of dict
        Per view: "w", "h" (int); "fx", "fy", "cx", "cy" in pixels with pixel centres at
        +0.5 (cx = size/2 for a centred camera; jittered by ~0.25 px); "w2c", a rigid 4x4
        world-to-camera matrix as nested lists (x right, y down, z forward; camera ~2.7 from
        the origin, looking at it); "file_path" ("images/cam_000.png", ...); and the extra
        key "blender_camera_location" (camera centre, 3 floats) that readers should keep.

    Examples
    --------
    >>> frames = cameras_for_views(0, 6)
    >>> len(frames), frames[2]["file_path"], frames[0]["w"]
    (6, 'images/cam_002.png', 512)
    """
    rng = np.random.default_rng(rng)
    n_views, size = _check_int(n_views, "n_views", 1), _check_int(size, "size", 32)
    azimuth0 = rng.uniform(0.0, 2.0 * np.pi)
    focal = float(size / 2.0 / np.tan(0.69 / 2.0))  # ~40 degree field of view
    frames = []
    for k in range(n_views):
        azimuth = azimuth0 + 2.0 * np.pi * k / n_views + rng.normal(0.0, 0.05)
        elevation, distance = rng.uniform(0.25, 0.5), 2.7 * rng.uniform(0.97, 1.03)
        centre = distance * np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        forward = -centre / np.linalg.norm(centre)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        w2c = np.eye(4)
        w2c[:3, :3] = np.stack([right, np.cross(forward, right), forward])
        w2c[:3, 3] = -w2c[:3, :3] @ centre
        cx, cy = size / 2.0 + rng.normal(0.0, 0.25, 2)
        frames.append(
            {
                "w": size,
                "h": size,
                "fx": focal,
                "fy": focal,
                "cx": float(cx),
                "cy": float(cy),
                "w2c": w2c.tolist(),
                "file_path": f"images/cam_{k:03d}.png",
                "blender_camera_location": centre.tolist(),
            }
        )
    return frames


def _sample_views(rng, n_views, size):
    """The views of one sample: one animal size and fur, a camera distance per view."""
    fur = _draw_fur(rng)
    log_median = np.log(_RATIO_MEDIAN) + rng.normal(0.0, _RATIO_SIGMA_SAMPLE)
    scales = (_draw_ratio(rng, log_median, _RATIO_SIGMA_VIEW) for _ in range(n_views))
    return [mouse_view(rng, size=size, fur=fur, scale=scale) for scale in scales]


def write_dataset(root, *, n_samples=8, n_views=6, size=512, seed=0, layout="gslrm", progress=None, threads=None):
    """Write a deterministic synthetic multi-view dataset of mouse views as PNG files.

    Parameters
    ----------
    root : str or path-like
        Output folder, created if missing; files of the same names are overwritten.
    n_samples, n_views : int, optional
        Number of samples (animals) and of views per sample.
    size : int, optional
        Image height and width in pixels.
    seed : int, optional
        Sample i comes from ``SeedSequence([seed, i])``, so it does not depend on
        `n_samples` or `layout` (images and cameras use separate child streams).
    layout : {"gslrm", "mvdiffusion", "flat"}, optional
        "gslrm": ``root/sample_000/images/cam_000.png``, ``root/sample_000/opencv_cameras.json``
        ({"id", "frames"}, frames from `cameras_for_views`) and ``root/train.txt`` listing the
        sample folders as absolute paths. "mvdiffusion": ``root/sample_000/cam_000.png`` only.
        "flat": ``root/view_0000.png``, ... (n_samples * n_views images, sample-major).
    progress : callable, optional
        A progress bar factory, called once as ``progress(total=n_samples, unit="sample")``;
        its result gets ``update(1)`` after each sample and ``close()`` at the end
        (``tqdm.tqdm`` fits).  By default nothing is shown: the library prints nothing.
    threads : int, optional
        Samples drawn and written at once, on threads (numpy and the PNG encoder release
        the GIL); default all cores, ``threads=1`` runs serially in the calling thread.
        The files do not depend on it.

    Returns
    -------
    paths : list of pathlib.Path
        The sample folders, or the image files for layout "flat".

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folders = write_dataset(tmp, n_samples=2, n_views=3, size=64)
    ...     sorted(p.name for p in folders[0].rglob("*"))
    ['cam_000.png', 'cam_001.png', 'cam_002.png', 'images', 'opencv_cameras.json']
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"expected layout one of {_LAYOUTS}; got {layout!r}.")
    seed, size = _check_int(seed, "seed", 0), _check_int(size, "size", 32)
    n_samples, n_views = _check_int(n_samples, "n_samples", 1), _check_int(n_views, "n_views", 1)
    threads = (os.cpu_count() or 1) if threads is None else _check_int(threads, "threads", 1)
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a progress bar factory such as tqdm.tqdm, or None; got {progress!r}")
    bar = progress(total=n_samples, unit="sample") if progress is not None else None
    try:
        paths = _write_samples(root, n_samples, n_views, size, seed, layout, bar, threads)
    finally:
        if bar is not None:
            bar.close()
    if layout == "gslrm":
        (root / "train.txt").write_text("".join(f"{p.resolve()}\n" for p in paths))
    return paths


def _png_bytes(image):
    """PNG bytes of an 8-bit image, fast: libpng through imagecodecs with OpenCV's fast settings.

    zlib level 1, run-length strategy, "sub" filter: ~30x faster than Pillow's default
    (level 6, adaptive filters) on these noisy 512-pixel views, and about as small.
    """
    import imagecodecs

    if not imagecodecs.PNG.available:  # pragma: no cover - wheels ship libpng
        import imageio.v3 as iio

        return iio.imwrite("<bytes>", image, extension=".png", compress_level=1)
    png = imagecodecs.PNG
    return imagecodecs.png_encode(image, level=1, strategy=png.STRATEGY.RLE, filter=png.FILTER.SUB)


def _write_samples(root, n_samples, n_views, size, seed, layout, bar, threads):
    written: list[list[pathlib.Path]] = [[] for _ in range(n_samples)]
    lock = threading.Lock()

    def write(i):
        written[i] = _write_sample(root, i, n_views, size, seed, layout)
        if bar is not None:
            with lock:
                bar.update(1)

    run_parallel(write, n_samples, threads)
    return [path for paths in written for path in paths]


def _write_sample(root, i, n_views, size, seed, layout):
    """Draw and write sample ``i``: its folder, or its image files for layout "flat"."""
    image_seq, camera_seq = np.random.SeedSequence([seed, i]).spawn(2)
    views = _sample_views(np.random.default_rng(image_seq), n_views, size)
    if layout == "flat":
        paths = [root / f"view_{i * n_views + k:04d}.png" for k in range(n_views)]
        for path, view in zip(paths, views, strict=True):
            path.write_bytes(_png_bytes(view))
        return paths
    folder = root / f"sample_{i:03d}"
    image_dir = folder / "images" if layout == "gslrm" else folder
    image_dir.mkdir(parents=True, exist_ok=True)
    for k, view in enumerate(views):
        (image_dir / f"cam_{k:03d}.png").write_bytes(_png_bytes(view))
    if layout == "gslrm":
        frames = cameras_for_views(np.random.default_rng(camera_seq), n_views, size=size)
        with open(folder / "opencv_cameras.json", "w") as f:
            json.dump({"id": folder.name, "frames": frames}, f, indent=2)
    return [folder]
