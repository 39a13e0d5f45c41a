"""A sample's cameras after the run: the new intrinsics of each written view, and the ``pixscale`` block."""

import copy
import json
import math

import numpy as np

from .._version import __version__
from .dataset import CAMERAS
from .files import atomic_write_text, json_ready
from .io import ViewError


def new_intrinsics(frame, t, pixel_center):
    K = np.array([[frame["fx"], 0.0, frame["cx"]], [0.0, frame["fy"], frame["cy"]], [0.0, 0.0, 1.0]], float)
    with np.errstate(over="ignore", invalid="ignore"):
        K2 = t.intrinsics(K, pixel_center=pixel_center)
    new = {"fx": float(K2[0, 0]), "fy": float(K2[1, 1]), "cx": float(K2[0, 2]), "cy": float(K2[1, 2])}
    for key, value in new.items():
        if not math.isfinite(value):  # e.g. fx = 1.5e308 enlarged: strict JSON has no Infinity
            raise ViewError(
                f"its camera's {key} ({frame[key]:.6g}) scaled by {t.scale:.6g} is not a finite number, so the "
                f"new intrinsics cannot be written; fix {CAMERAS} (in pixels of the image)"
            )
    return {**new, "w": int(t.output_shape[1]), "h": int(t.output_shape[0])}


def check_frame_size(frame, image):
    h, w = image.shape[:2]
    if ("w" in frame and frame["w"] != w) or ("h" in frame and frame["h"] != h):
        raise ViewError(
            f"its camera frame says w={frame.get('w')}, h={frame.get('h')} but the image is "
            f"{w}x{h}; the intrinsics would not match it. Fix {CAMERAS} or the image"
        )


def write_cameras(sample, path, frames, rows, opts, root=None):
    """Write :func:`cameras_text` to ``path`` atomically (``root``: see :func:`.files.atomic_write_bytes`)."""
    return atomic_write_text(path, cameras_text(sample, frames, rows, opts), root=root)


def cameras_text(sample, frames, rows, opts):
    """The text of the sample's cameras with the new intrinsics of its written views, and a ``pixscale`` block.

    The block records, per view in frame order, the 2-D map that was applied
    (``scale``, ``src_center``, ``dst_center``: ``q = scale * (p - src_center)
    + dst_center`` in pixel coordinates with centres at +0.5), the intrinsics
    the frame had before, and the outcome; frames of views that failed are
    dropped from ``frames`` and listed with their error.
    """
    cameras = copy.deepcopy(sample.cameras)
    by_key = {r.view: r for r in rows}
    kept = []
    for i, frame in enumerate(cameras["frames"]):
        if i in frames:
            if frames[i] is not None:
                frame.update(frames[i])
            kept.append(frame)
    cameras["frames"] = kept
    views = []
    for v in sorted(sample.views, key=lambda v: v.frame):
        r = by_key.get(v.key)
        if r is None:
            continue
        old = sample.cameras["frames"][v.frame]
        old = old if isinstance(old, dict) else {}  # a damaged frame: its view failed
        views.append(
            {
                "file_path": v.rel,
                "status": r.status,
                "error": r.error,
                "map": _map(r) if r.ok else None,
                "intrinsics_before": {k: old[k] for k in ("fx", "fy", "cx", "cy", "w", "h") if k in old},
                "wanted_scale": r.wanted_scale,
                "shift": None if r.shift is None else list(r.shift),
                "limited": r.limited,
                "cut_pixels": r.cut_pixels,
                "size_ratio_before": r.before and r.before.size_ratio,
                "size_ratio_after": r.after and r.after.size_ratio,
            }
        )
    cameras["pixscale"] = {
        "version": __version__,
        "parameters": opts.params(),
        "pixel_center": opts.pixel_center,
        "views": views,
    }
    cameras = json_ready(cameras)  # discovery nulled the input's NaN/Infinity; nothing non-finite is written
    return json.dumps(cameras, indent=2, allow_nan=False) + "\n"  # as atomic_write_json writes it


def _map(r):
    """The 2-D map a written view's record says was applied: ``q = scale * (p - src_center) + dst_center``."""
    return {"scale": r.scale, "src_center": list(r.src_center), "dst_center": list(r.dst_center)}
