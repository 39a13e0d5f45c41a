"""The dataset job: normalize every view of a dataset, keep its cameras consistent, report.

A run checks its options and the whole input tree before it reads a view,
takes an exclusive lock on the output folder, and then hands out samples as
work units (:func:`process_sample`): each reads its views, plans their
transforms (:func:`pixscale.plan_group` or one :func:`pixscale.plan` per
view), warps and writes every view and the updated cameras, and returns its
rows.  The coordinator alone writes the manifest, the list files and the
report.  Files are written atomically; a bad view is reported, never fatal;
Ctrl-C stops within a view and leaves a manifest that ``--resume`` finishes.
"""

import contextlib
import copy
import errno
import json
import math
import os
import stat
import sys
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from .._filters import FILTERS, check_filter
from .._measure import measure_alpha, measure_object
from .._object import KEEP, ObjectMask, erase, label
from .._place import FITS, check_fit, margins_px, parse_margin
from .._plan import CENTERS, plan_group
from .._validate import EmptyMaskError, VanishedObjectError, alpha_of, threshold_value, with_mask
from .._validate import real_number as _real
from .._warp import warp
from .dataset import (
    CAMERAS,
    LOCK,
    MANIFEST,
    REPORT_DIR,
    STOP,
    for_terminal,
    is_glob,
    is_temporary,
    printable,
    some_names,
)
from .discover import discover
from .files import (
    NO_FOLLOW,
    LinkError,
    atomic_write_json,
    atomic_write_text,
    file_kind,
    open_folder,
    open_own_file,
)
from .io import ViewError, read_view, write_png
from .masked import orientation_hint, read_colour, read_mask
from .workers import MAX_ATTEMPTS, POOLS, StopFlag, Workers, parse_scheduler

SCALE_MODES = ("per-view", "per-sample")
STOP_WAIT_S = 10  # on Ctrl-C, how long running units get to reach their next view (then they are abandoned)
TICK_S = 0.5  # how often the coordinator looks up from waiting (unit timeouts, a lost scheduler)
MANIFEST_SYNC_S = 0.5  # the manifest is synced to disk at most this often (group commit)
MAX_OUTPUT_PIXELS = 1 << 28  # 16384 x 16384
MAX_OUTPUT_SIDE = 1 << 16
# Errors of the machine, not of the data: the view is redone by --resume.
RETRYABLE = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EIO,
    errno.EACCES,
    errno.EPERM,
    errno.EMFILE,
    errno.ENFILE,
    errno.ENOMEM,
    errno.ELOOP,  # a link planted in OUT_DIR while it ran: removed, --resume writes the view
}


class OptionError(ValueError):
    """An option value outside its accepted range; ``option`` names it (as a Python keyword)."""

    def __init__(self, option, value, accepted):
        super().__init__(f"{option}={value!r} is not accepted: {accepted}")
        self.option, self.value, self.accepted = option, value, accepted


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped (Ctrl-C or SIGTERM) after recording every completed sample."""

    def __init__(self, done, total, out_dir):
        super().__init__(f"interrupted: {done} of {total} samples are complete in {out_dir}")
        self.done, self.total, self.out_dir = done, total, out_dir


@dataclass(frozen=True)
class RunOptions:
    """Everything that decides the bytes a run writes (recorded in the manifest and cameras).

    Every value is checked on construction; a bad one raises :class:`OptionError`.
    """

    target: float = 0.3
    threshold: float = 10.0
    center: str = "centroid"
    scale: str = "per-view"
    output_size: tuple | None = None
    margin: float | str = 0.0  # output pixels, or "N%" of the canvas
    fit: str = "shift"
    exact: bool = True
    premultiplied: bool = True
    background: tuple | None = None  # colour on the 0-255 scale
    keep_cameras: bool = False
    mask: str | None = None  # template of each view's mask file, relative to its folder ("{stem}")
    write_mask: bool = False  # with mask: write colour + mask files instead of RGBA
    pixel_center: float = 0.5
    png_level: int = 6
    filter: str = "bilinear"
    min_component: float | None = None  # pixels (>= 1) or a fraction of the largest component
    keep: str = "all"
    erase_specks: bool = False

    def __post_init__(self):
        if not (_real(self.target) and 0 < self.target <= 1):
            raise OptionError("target", self.target, "a size ratio in (0, 1], e.g. 0.3 for 30%")
        if self.target * self.target * MAX_OUTPUT_PIXELS < 1:  # below one pixel on any canvas: a blank output
            raise OptionError(
                "target",
                self.target,
                f"a size ratio of at least {1 / math.sqrt(MAX_OUTPUT_PIXELS):.3g}: a smaller object is less than "
                "one pixel on any canvas up to 16384x16384, so every output would be blank",
            )
        if not (_real(self.threshold) and 0 <= self.threshold < 255):  # no alpha exceeds 255: nothing selected
            raise OptionError(
                "threshold",
                self.threshold,
                "an alpha value on the 0-255 scale, from 0 up to (not including) 255: the object is alpha > "
                "threshold, so 255 or more selects no pixel (254 keeps only fully opaque 8-bit pixels)",
            )
        if self.center not in CENTERS:
            raise OptionError("center", self.center, f"one of {', '.join(CENTERS)}")
        if self.scale not in SCALE_MODES:
            raise OptionError("scale", self.scale, f"one of {', '.join(SCALE_MODES)}")
        if self.output_size is not None:
            size = tuple(self.output_size)
            if not (
                len(size) == 2
                and all(isinstance(v, int) and 0 < v <= MAX_OUTPUT_SIDE for v in size)
                and size[0] * size[1] <= MAX_OUTPUT_PIXELS
            ):
                raise OptionError(
                    "output_size",
                    self.output_size,
                    f"H x W with each side 1 to {MAX_OUTPUT_SIDE} and at most "
                    f"{MAX_OUTPUT_PIXELS:,} pixels (16384x16384)",
                )
            object.__setattr__(self, "output_size", size)
        if self.pixel_center not in (0, 0.5):
            raise OptionError("pixel_center", self.pixel_center, "0 (OpenCV) or 0.5 (pixel centres at +0.5)")
        for key in ("target", "threshold", "pixel_center"):  # 10 and 10.0 must write the same bytes
            object.__setattr__(self, key, float(getattr(self, key)))
        try:
            object.__setattr__(self, "fit", check_fit(self.fit))
        except ValueError:
            raise OptionError("fit", self.fit, f"one of {', '.join(FITS)}") from None
        try:
            value, percent = parse_margin(self.margin)
        except ValueError:
            raise OptionError("margin", self.margin, "output pixels >= 0, or a percentage below 50% ('5%')") from None
        if not percent:
            object.__setattr__(self, "margin", value)
        if self.output_size is not None:
            try:
                margins_px(self.margin, self.output_size)
            except ValueError:
                n = min(self.output_size)
                most = (n - 1) // 2 + 0.5  # leaves one output pixel free on the shorter side
                raise OptionError(
                    "margin",
                    self.margin,
                    f"at most {most:g} pixels or {math.floor(1e4 * most / n) / 100:g}% on the "
                    f"{self.output_size[0]}x{self.output_size[1]} output, so the object has a pixel of room",
                ) from None
        if self.background is not None:
            bg = tuple(self.background)
            if not (len(bg) == 3 and all(_real(v) and 0 <= v <= 255 for v in bg)):
                raise OptionError("background", self.background, "three colour values on the 0-255 scale")
            object.__setattr__(self, "background", bg)
        if self.mask is not None and not (
            isinstance(self.mask, str) and self.mask.strip() and not os.path.isabs(self.mask) and "\0" not in self.mask
        ):
            raise OptionError("mask", self.mask, "a path relative to each image's folder, e.g. '../masks/{stem}.png'")
        if self.write_mask and self.mask is None:
            raise OptionError("write_mask", self.write_mask, "only with --mask (it writes the mask files)")
        if not (isinstance(self.png_level, int) and 0 <= self.png_level <= 9):
            raise OptionError("png_level", self.png_level, "0 (fastest) to 9 (smallest)")
        try:
            check_filter(self.filter)
        except ValueError:
            raise OptionError("filter", self.filter, f"one of {', '.join(FILTERS)}") from None
        try:
            ObjectMask(self.threshold, self.min_component, self.keep)
        except (TypeError, ValueError):
            if self.keep not in KEEP:
                raise OptionError("keep", self.keep, f"one of {', '.join(KEEP)}") from None
            raise OptionError(
                "min_component",
                self.min_component,
                "a number of pixels (>= 1, e.g. 200) or a fraction of the largest component (below 1, e.g. 0.05)",
            ) from None
        if self.min_component is not None:
            object.__setattr__(self, "min_component", float(self.min_component))
        if self.erase_specks and not self.rule.filters:
            raise OptionError(
                "erase_specks", self.erase_specks, "only with --min-component or --keep largest (they name the specks)"
            )
        object.__setattr__(self, "erase_specks", bool(self.erase_specks))

    @property
    def rule(self):
        """The :class:`~pixscale.ObjectMask` of these options."""
        return ObjectMask(self.threshold, self.min_component, self.keep)

    def params(self):
        """The options as JSON-ready values."""
        d = asdict(self)
        for key in ("output_size", "background"):
            d[key] = None if d[key] is None else list(d[key])
        return d


def check_jobs(jobs):
    """``jobs`` as a positive int (default: all cores), or OptionError."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise OptionError("jobs", jobs, "a number of workers >= 1 (default: all cores)")
    return jobs


def _fail(sample, key, error, retry=False):
    row = {
        "sample": sample,
        "view": key,
        "status": "failed",
        "error": error,
        "before": None,
        "after": None,
        "scale": None,
        "limited": None,
    }
    if retry:
        row["retry"] = True
    return row


def _reason(exc):
    """The reason of an error without the file name (the row names the view)."""
    return getattr(exc, "reason", str(exc))


def _background_for(image, background):
    if background is None:
        return None
    colour = np.asarray(background, dtype=np.float64) * (257 if image.dtype == np.uint16 else 1)
    return [float(colour.mean())] if image.shape[2] == 2 else [float(c) for c in colour]


def _plan_views(objects, opts):
    """The transforms of a sample's views, planned on their objects (specks already left out).

    A view whose object the plan shrinks to nothing gets a :class:`ViewError` instead of a transform.
    """
    kw = dict(
        target=opts.target,
        threshold=opts.threshold,
        center=opts.center,
        output_shape=opts.output_size,
        fit=opts.fit,
        margin=opts.margin,
        exact=opts.exact,
        filter=opts.filter,
    )
    groups = [objects] if opts.scale == "per-sample" else [[obj] for obj in objects]
    out = []
    for group in groups:
        try:
            out += plan_group(group, **kw)
        except VanishedObjectError as exc:  # those views fail by name; the others are written
            out += [_vanished(t) if i in exc.views else t for i, t in enumerate(exc.transforms)]
    return out


def _vanished(t):
    why = "limited by the margin to" if t.limited else "at"
    (h, w), fix = t.output_shape, "use a larger target, a smaller margin or a larger output size"
    if t.target * t.target * h * w < 1:
        fix = (
            f"the target asks for less than one pixel on its {h}x{w} canvas: use a target of at least "
            f"{1 / math.sqrt(h * w):.3g}, or a larger output size"
        )
    return ViewError(
        f"its object would vanish from the output ({why} scale {t.scale:.3g} no pixel of it stays above the "
        f"threshold), so nothing was written; {fix}"
    )


def _new_intrinsics(frame, t, pixel_center):
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


def _check_frame_size(frame, image):
    h, w = image.shape[:2]
    if ("w" in frame and frame["w"] != w) or ("h" in frame and frame["h"] != h):
        raise ViewError(
            f"its camera frame says w={frame.get('w')}, h={frame.get('h')} but the image is "
            f"{w}x{h}; the intrinsics would not match it. Fix {CAMERAS} or the image"
        )


def _read_and_measure(view, rule):
    """Read one view and measure its object (``rule``, an :class:`ObjectMask`).

    Returns ``(image, measurement, dropped)``, ``dropped`` the bool mask of
    the specks the rule left out (None if none); ViewError / EmptyMaskError
    say why the view cannot be used.
    """
    if view.error:
        raise ViewError(view.error)
    if view.mask is None:
        image = read_view(view.path)
    else:
        colour = read_colour(view.path)
        name = view.mask_key or os.fspath(view.mask)
        try:
            mask = read_mask(view.mask)
        except ViewError as exc:
            raise ViewError(f"its mask {name}: {_reason(exc)}") from None
        try:
            image = with_mask(colour, mask)
        except (ValueError, TypeError) as exc:
            hint = orientation_hint(view.path, colour.shape, np.shape(mask)) if colour.shape[:2] != mask.shape else ""
            raise ViewError(f"cannot be combined with its mask {name}: {exc}{hint}") from None
    m, selection = measure_object(image, alpha_of(image), rule)
    if m.count == 0:
        raise EmptyMaskError(
            f"empty mask: no pixel has alpha > {rule.threshold:g}; check the alpha channel, or lower --threshold"
        )
    return image, m, selection.dropped


SPECK_FRACTION = 0.05  # islands below this fraction of the largest are specks, for the report's advice
COMPACT = 0.5  # an object filling this much of its bounding box has no island far enough out to matter


def _islands(image, before, rule):
    """The small islands measured as part of the object when ``rule`` filters none, for the report.

    ``{"components", "pixels"}`` of the islands below :data:`SPECK_FRACTION`
    of the largest, or None when there are none (or the rule drops them).
    Only an object filling less than :data:`COMPACT` of its bounding box is
    labelled: an island far enough out to move size or centre widens the box.
    With no component filter the box holds every object pixel, so only the
    box is labelled (the same components, at the cost of the box).
    """
    if rule.filters or before.bbox is None:
        return None
    x0, y0, x1, y1 = before.bbox
    if before.count >= COMPACT * (x1 - x0) * (y1 - y0):
        return None
    alpha = alpha_of(image)[y0:y1, x0:x1]
    labels, n = label(alpha > threshold_value(alpha.dtype, rule.threshold))
    if n <= 1:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    small = sizes < SPECK_FRACTION * sizes.max()
    return {"components": int(small.sum()), "pixels": int(sizes[small].sum())} if small.any() else None


def _object_of(image, dropped):
    """What a view is planned on: ``image`` itself, or its alpha with the ``dropped`` specks set to 0."""
    if dropped is None:
        return image
    alpha = np.array(alpha_of(image), copy=True)
    alpha[dropped] = 0
    return alpha


def _measure_after(image, obj, out, t, threshold):
    """The object's measurement on the written image ``out``: the object carried through the warp.

    When the view's specks are kept in the picture, ``obj`` (its object-only
    alpha, see :func:`_object_of`; otherwise ``image`` itself) is warped with the same transform, as
    exact mode's probe does, rather than the output labelled again:
    resampling does not scale a speck's area by exactly ``scale ** 2``, so a
    re-labelled output could count specks the input dropped.  Otherwise the
    written alpha is the object's.
    """
    thr = threshold_value(out.dtype, threshold)
    return measure_alpha(alpha_of(out if obj is image else warp(obj, t)), thr)


def fingerprint(sample, root):
    """What a sample's output was made from: ``[path, size, mtime_ns]`` of each input file."""
    out = []
    for path in sample.sources:
        try:
            st = os.stat(path)
            out.append([os.path.relpath(path, root), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([os.path.relpath(path, root), None, None])
    return out


def _out_path(out_root, key):
    """The output file of a view: ``out_root/key``, refused if it would leave ``out_root``."""
    path = Path(out_root) / key
    if NO_FOLLOW:  # the write follows no link below out_root (a link there fails it): a lexical check suffices
        root = os.path.abspath(out_root)
        if os.path.commonpath([root, os.path.abspath(path)]) != root:
            raise ViewError(f"its output path {path} would leave OUT_DIR; it was not written")
        return path
    real_root = os.path.realpath(out_root)
    if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
        raise ViewError(f"its output path {path} would leave OUT_DIR; it was not written")
    return path


def process_sample(sample, out_root, opts, root=None, stop=None):
    """Normalize and write one sample: the work unit of a run.

    Returns ``{"sample", "inputs", "rows"}``: the sample's name, its
    :func:`fingerprint` and one row per view (failures included).  ``stop``
    (anything with ``is_set()``, e.g. a :class:`~pixscale.workers.StopFlag`)
    is checked before each view; when set, the unit returns None, having
    written only whole files (it is checked again before each file is written).
    """
    try:
        return _process_sample(sample, out_root, opts, root, stop)
    except _Stopped:
        return None


class _Stopped(Exception):
    """The stop was requested before a file was written: the unit returns None."""


def _process_sample(sample, out_root, opts, root, stop):
    inputs = fingerprint(sample, root) if root is not None else []
    result = {"sample": sample.name, "inputs": inputs, "rows": [], "outputs": []}
    rows = result["rows"]
    written = result["outputs"]  # [key, size] of each file written: what --resume checks and may remove

    def write(key, image):
        if stop is not None and stop.is_set():  # a unit given up on that woke up: nothing more is written
            raise _Stopped
        path = _out_path(out_root, key)
        write_png(path, image, compress_level=opts.png_level, root=out_root)
        written.append([key, os.lstat(path).st_size])

    if sample.error:
        rows.append(_fail(sample.name, sample.rel_dir or sample.name, sample.error))
        return result
    good = []
    for view in sample.views:
        if stop is not None and stop.is_set():
            return None
        try:
            image, before, dropped = _read_and_measure(view, opts.rule)
            if opts.erase_specks:
                image, dropped = erase(image, dropped), None
            if sample.cameras is not None and not opts.keep_cameras:
                _check_frame_size(sample.cameras["frames"][view.frame], image)
            good.append((view, image, before, _object_of(image, dropped)))
        except (ViewError, EmptyMaskError) as exc:
            rows.append(_fail(sample.name, view.key, _reason(exc)))
    try:
        transforms = _plan_views([obj for *_, obj in good], opts) if good else []
    except ValueError as exc:  # e.g. a margin too large for the canvas: every view fails alike
        rows += [_fail(sample.name, v.key, str(exc)) for v, *_ in good]
        good, transforms = [], []
    frames = {}
    for (view, image, before, obj), t in zip(good, transforms, strict=False):
        if stop is not None and stop.is_set():
            return None
        try:
            if isinstance(t, ViewError):
                raise t
            if sample.cameras is not None and not opts.keep_cameras:
                frames[view.frame] = _new_intrinsics(sample.cameras["frames"][view.frame], t, opts.pixel_center)
            out = warp(image, t, premultiplied=opts.premultiplied, background=_background_for(image, opts.background))
            after = _measure_after(image, obj, out, t, opts.threshold)
            if after.count == 0:  # never a blank image counted ok
                raise _vanished(t)
            if opts.background is None and not opts.premultiplied:
                # Clean colour under alpha 0: straight mode leaves some (premultiplied writes zeros).
                out[..., :-1] *= out[..., -1:] != 0
            if opts.write_mask and view.mask is not None and view.mask_key is None:
                raise ViewError("its mask is outside IN_DIR, so --write-mask has no place for it in OUT_DIR")
            if opts.write_mask and view.mask is not None:  # the input's arrangement: colour + mask files
                write(view.out_key, out[..., :-1])
                write(view.mask_out_key, out[..., -1])
            else:
                write(view.out_key, out)
        except OSError as exc:
            rows.append(_fail(sample.name, view.key, str(exc), retry=exc.errno in RETRYABLE or exc.errno is None))
            frames.pop(view.frame, None)
            continue
        except (ViewError, ValueError) as exc:
            rows.append(_fail(sample.name, view.key, _reason(exc)))
            frames.pop(view.frame, None)
            continue
        entry = frames.setdefault(view.frame, None)
        if view.mask is not None and sample.cameras is not None and view.out_rel != view.rel:
            frames[view.frame] = {**(entry or {}), "file_path": view.out_rel}  # the image is now a PNG
        rows.append(
            {
                "sample": sample.name,
                "view": view.key,
                "status": "ok",
                "error": None,
                "before": before.to_dict(),
                "after": after.to_dict(),
                "scale": t.scale,
                "wanted_scale": t.wanted_scale,
                "limited": t.limited,
                "shift": list(t.shift),
                "cut_pixels": t.cut_pixels,
                "src_center": list(t.src_center),
                "dst_center": list(t.dst_center),
                "achieved_ratio": t.achieved_ratio,
                "on_target": t.on_target if opts.scale == "per-view" else None,
                "islands": _islands(image, before, opts.rule),
            }
        )
    order = {v.key: i for i, v in enumerate(sample.views)}
    rows.sort(key=lambda r: order.get(r["view"], -1))
    if sample.cameras is not None:
        if stop is not None and stop.is_set():
            return None
        key = sample.rel_dir + "/" + CAMERAS if sample.rel_dir else CAMERAS
        try:
            st = _write_cameras(sample, _out_path(out_root, key), frames, rows, opts, root=out_root)
            written.append([key, st.st_size])
        except OSError as exc:
            rows.append(
                _fail(
                    sample.name,
                    "/".join(p for p in (sample.rel_dir, CAMERAS) if p),
                    f"cannot write the cameras: {exc}",
                    retry=True,
                )
            )
    return result


def _write_cameras(sample, path, frames, rows, opts, root=None):
    """The sample's cameras with the new intrinsics of its written views, and a ``pixscale`` block.

    The block records, per view in frame order, the 2-D map that was applied
    (``scale``, ``src_center``, ``dst_center``: ``q = scale * (p - src_center)
    + dst_center`` in pixel coordinates with centres at +0.5), the intrinsics
    the frame had before, and the outcome; frames of views that failed are
    dropped from ``frames`` and listed with their error.
    """
    cameras = copy.deepcopy(sample.cameras)
    by_key = {r["view"]: r for r in rows}
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
        ok = r["status"] == "ok"
        views.append(
            {
                "file_path": v.rel,
                "status": r["status"],
                "error": r["error"],
                "map": {k: r[k] for k in ("scale", "src_center", "dst_center")} if ok else None,
                "intrinsics_before": {k: old[k] for k in ("fx", "fy", "cx", "cy", "w", "h") if k in old},
                "wanted_scale": r.get("wanted_scale"),
                "shift": r.get("shift"),
                "limited": r["limited"],
                "cut_pixels": r.get("cut_pixels"),
                "size_ratio_before": r["before"] and r["before"]["size_ratio"],
                "size_ratio_after": r["after"] and r["after"]["size_ratio"],
            }
        )
    cameras["pixscale"] = {
        "version": __version__,
        "parameters": opts.params(),
        "pixel_center": opts.pixel_center,
        "views": views,
    }
    cameras = _strict_json(cameras)  # discovery nulled the input's NaN/Infinity; nothing non-finite is written
    return atomic_write_json(path, cameras, root=root, allow_nan=False)


def _strict_json(value):
    """``value`` with any NaN or infinite float replaced by None (strict JSON holds neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


# --- the output folder -------------------------------------------------------------------------


def _identity(path):
    """``(st_dev, st_ino)`` of ``path`` (links followed), or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _ancestor_ids(path):
    """``{identity: folder}`` of ``path`` (or its nearest existing ancestor) and every folder above it.

    Both the path as written and its resolved form are walked up, so a folder
    reached through a link or a ``..`` counts as what it is on disk.
    """
    ids = {}
    for start in (os.path.abspath(path), os.path.realpath(path)):
        p = start
        while True:
            key = _identity(p)
            if key is not None:
                ids.setdefault(key, p)
            parent = os.path.dirname(p)
            if parent == p:
                break
            p = parent
    return ids


def _find_folder(root, ids, exact):
    """A folder of the tree under ``root`` (itself included) whose identity is in ``ids``: (found, matched).

    Real folders are walked (a bind mount is a real folder); a symlinked folder
    is not descended into, and counts only if it is the folder ``exact`` itself.
    """
    stack = [os.fspath(root)]
    seen = set()
    while stack:
        folder = stack.pop()
        key = _identity(folder)
        if key is None or key in seen:
            continue
        seen.add(key)
        if key in ids:
            return folder, ids[key]
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_symlink() and exact is not None and _identity(entry.path) == exact:
                            return entry.path, ids[exact]
                    except OSError:
                        continue
        except OSError:
            continue
    return None, None


def _refuse_overlap(name, path, in_dir, src, holds=True):
    """Refuse a folder ``path`` (``name``: OUT_DIR or --report-dir) that is, lies in or (``holds``) holds the input.

    Folders are compared by device and inode, not by name, so a bind mount, a
    symlink or another path to the same folder is seen for what it is.
    """
    ids = _ancestor_ids(path)
    found, matched = _find_folder(src, ids, _identity(_nearest_existing(path)))
    if found is not None:
        alias = ""
        if os.path.realpath(found) != os.path.realpath(matched):
            alias = f" (it is {found} there, under another path: a bind mount or a link)"
        raise ValueError(
            f"{name} {path} is inside IN_DIR {in_dir}{alias}; the input is never written to, "
            "choose a folder outside the input."
        )
    if holds and os.path.isdir(path):
        found, _ = _find_folder(path, _ancestor_ids(src), _identity(src))
        if found is not None:
            raise ValueError(
                f"{name} {path} holds IN_DIR {in_dir} (as {found}); outputs would mix with the input, "
                "choose a folder outside the input."
            )


def check_folders(in_dir, out_dir, dataset=None, report_dir=None):
    """Refuse an output (or report) folder that is, lies in or holds the input tree (or holds an input file)."""
    src = Path(dataset.root if dataset is not None else in_dir).resolve()
    if report_dir:
        _refuse_overlap("--report-dir", report_dir, in_dir, src)
    _refuse_overlap("OUT_DIR", out_dir, in_dir, src)
    dst = Path(os.path.realpath(out_dir))  # a link loop stays as it is (resolve() raises RuntimeError)
    if dataset is not None:
        for sample in dataset.samples:
            for p in sample.sources:
                real = Path(os.path.realpath(p))
                if dst in real.parents:
                    raise ValueError(
                        f"OUT_DIR {out_dir} holds the input file {p}; choose an output folder outside the input."
                    )


def _own(name):
    """A name of a run's lock, temporary files or report: what a folder may hold and still be new."""
    return is_temporary(name) or name == REPORT_DIR


def _holds_only_own_files(folder):
    for _, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not _own(d)]
        if any(not _own(n) for n in filenames):
            return False
    return True


# The files a run writes in place (not through a rename): a hard link there would change another name's file.
_IN_PLACE = (LOCK, LOCK + ".pid", STOP, MANIFEST)


def _refuse_planted(out_dir):
    """Refuse an OUT_DIR that holds what pixscale never creates: a link, a FIFO, socket or device,
    or a hard link of a file it writes in place; a dangling link as OUT_DIR itself is named as such.
    """
    if os.path.islink(out_dir) and not os.path.exists(out_dir):
        what = "does not exist"
        try:
            os.stat(out_dir)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                what = "leads through a loop of symbolic links"
        raise ValueError(
            f"OUT_DIR {out_dir} is a symbolic link to {os.readlink(out_dir)}, which {what}; create "
            "that folder, remove the link, or choose another OUT_DIR."
        )
    if not os.path.isdir(out_dir):
        return
    for folder, dirnames, filenames in os.walk(out_dir):  # links are listed, never followed
        for name in sorted(dirnames + filenames):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                problem = f"is a symbolic link (to {os.readlink(path)})"
            elif not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                problem = file_kind(st)
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and folder == os.fspath(out_dir) and name in _IN_PLACE:
                raise ValueError(
                    f"OUT_DIR {out_dir} holds {path}, which has {st.st_nlink} hard links; pixscale writes it in "
                    f"place, which would change the other names too: break the link (cp {path} {path}.copy && "
                    f"mv {path}.copy {path}), or choose a new OUT_DIR."
                )
            else:
                continue
            raise ValueError(
                f"OUT_DIR {out_dir} holds {path}, which {problem}; pixscale did not create it and never writes, "
                "reads back or deletes through it: remove it, or choose a new OUT_DIR."
            )


class _Lock:
    """An exclusive OS lock on OUT_DIR for the life of a run (released by the OS if the process dies).

    The lock file is opened without following a link and must be a regular
    file of one name; the pid beside it is written atomically, never through a link.
    """

    def __init__(self, out_dir):
        self.path = Path(out_dir) / LOCK
        self.pid_path = Path(out_dir) / (LOCK + ".pid")
        self.fd = self.lock = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: filelock's lock
            from filelock import FileLock, Timeout

            self.lock = FileLock(self.path, timeout=0)
            try:
                self.lock.acquire()
            except Timeout:
                self._in_use(out_dir)
        else:
            try:
                self.fd = open_own_file(self.path, os.O_RDWR | os.O_CREAT)
            except LinkError as exc:
                raise ValueError(f"cannot lock OUT_DIR: {exc}") from None
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self.fd)
                self._in_use(out_dir)
        try:
            atomic_write_text(self.pid_path, f"{os.getpid()}\n", root=out_dir)
        except BaseException:
            self.release()
            raise

    def _in_use(self, out_dir):
        pid = "?"
        try:
            fd = open_own_file(self.pid_path, os.O_RDONLY)
            with open(fd, "rb") as f:
                text = f.read(32).decode("ascii", "replace").strip()
            pid = text if text.isdigit() else "?"
        except OSError:
            pass
        raise ValueError(
            f"OUT_DIR {out_dir} is in use by another pixscale run (pid {pid}); wait for it to "
            "finish, or choose another OUT_DIR."
        ) from None

    def release(self):
        try:
            self.pid_path.unlink()
        except OSError:
            pass
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None
        if self.lock is not None:
            self.lock.release()


def _input_id(in_dir, dataset):
    return os.fspath(in_dir) if is_glob(in_dir) else str(Path(dataset.root).resolve())


def _entry_problem(entry):
    """Why a manifest line that names a sample is not what a run writes there, or None.

    The one check of a line's shape: its ``inputs`` a list of ``[path, size,
    mtime]``, its ``rows`` a non-empty list of this sample's view rows, each
    ``ok`` (with its measures and scale) or ``failed`` (with its reason).
    """
    inputs = entry.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(p, list) and len(p) == 3 for p in inputs):
        return "its inputs are not a list of [path, size, mtime]"
    if not all(isinstance(p[0], str) for p in inputs):
        return "an input is not named by a path"
    rows = entry.get("rows")
    if not isinstance(rows, list) or not rows:
        return "its rows are not a list of views"
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("view"), str) or r.get("sample") != entry["sample"]:
            return "a row does not name a view of this sample"
        if r.get("status") == "ok":
            if not (isinstance(r.get("before"), dict) and isinstance(r.get("after"), dict) and _real(r.get("scale"))):
                return f"the row of {r['view']} lacks its measures"
        elif r.get("status") != "failed" or not isinstance(r.get("error"), str):
            return f"the row of {r['view']} is neither ok nor failed with a reason"
    return None


def _read_manifest(path, params, input_id):
    """Completed samples recorded in a manifest: ``{name: entry}``; refuses another run's folder.

    A sample whose latest line is malformed (:func:`_entry_problem`) maps to
    the problem, a string, instead of an entry: that sample is redone.
    """
    out_dir = path.parent
    try:
        with open(open_own_file(path, os.O_RDONLY), "rb") as f:
            lines = f.read().split(b"\n")
        header = json.loads(lines[0].decode("utf-8"))
        if not isinstance(header, dict) or "parameters" not in header:
            raise ValueError("no header")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is damaged ({type(exc).__name__}: its first line is not a pixscale header); "
            f"delete {out_dir} to start over, or choose a new OUT_DIR."
        ) from None
    old = header.get("parameters") or {}
    # Options added since the manifest was written take their defaults: the run used them.
    defaults = RunOptions().params()
    old = {**{k: defaults[k] for k in params if k not in old and k in defaults}, **old}
    if old != params:
        diffs = [f"{k} {old.get(k)!r} -> {params.get(k)!r}" for k in params if old.get(k) != params.get(k)]
        diffs += [f"{k} (unknown to this version)" for k in old if k not in params]
        raise ValueError(
            f"{out_dir} was written with other options ({'; '.join(diffs)}); resume with the same "
            "options, or choose a new OUT_DIR."
        )
    if header.get("input") not in (None, input_id):
        raise ValueError(
            f"{out_dir} holds a run of {header.get('input')}, not of {input_id}; resume with that "
            "IN_DIR, or choose a new OUT_DIR."
        )
    done = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line.decode("utf-8"))
        except ValueError:  # a line cut by an interruption: that sample is redone
            continue
        if isinstance(entry, dict) and isinstance(entry.get("sample"), str):
            done[entry["sample"]] = _entry_problem(entry) or entry
    return done


def _manifest_entries(manifest):
    """The sample lines of a manifest, in order (a line cut by an interruption is skipped)."""
    with open(open_own_file(manifest, os.O_RDONLY), "rb") as f:
        lines = f.read().split(b"\n")[1:]
    for line in lines:
        try:
            entry = json.loads(line.decode("utf-8"))
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("sample"), str):
            yield entry


def _recorded_outputs(entry):
    """``{key: size}`` of the files a manifest line says its unit wrote; None for a line without the record."""
    outputs = entry.get("outputs")
    if not isinstance(outputs, list):
        return None
    return {o[0]: o[1] for o in outputs if isinstance(o, list) and len(o) == 2 and isinstance(o[0], str)}


def _changed_output(sample, entry, out_dir):
    """Why a completed sample's outputs are no longer what its manifest line recorded, or None.

    A line without the record (an older pixscale) is checked for the existence
    of the outputs of its views that were written.
    """
    recorded = _recorded_outputs(entry)
    if recorded is None:
        by_key = {v.key: v for v in sample.views}
        recorded = {
            by_key[r["view"]].out_key: None
            for r in entry.get("rows") or []
            if isinstance(r, dict) and r.get("status") == "ok" and r.get("view") in by_key
        }
    for key, size in recorded.items():
        try:
            st = os.lstat(Path(out_dir) / key)
        except OSError:
            return f"output {key} is missing"
        if not stat.S_ISREG(st.st_mode):
            return f"output {key} is not a file"
        if size is not None and st.st_size != size:
            return f"output {key} changed: {st.st_size} bytes, {size} written"
    return None


def _remove_stale_outputs(out_dir, manifest):
    """Remove the files an earlier line of a sample recorded and its latest line does not.

    These are the outputs of views that left the sample, or that failed when
    it was redone.  Only a regular file of the size pixscale wrote is removed:
    a file the user put there since is left alone.  Returns the removed keys.
    """
    recorded, latest = {}, {}
    for entry in _manifest_entries(manifest):
        outputs = _recorded_outputs(entry)
        latest[entry["sample"]] = None if outputs is None else set(outputs)
        recorded.setdefault(entry["sample"], {}).update(outputs or {})
    removed = []
    for name, outputs in recorded.items():
        keep = latest.get(name)
        if keep is None:  # the latest line is an older pixscale's: what it wrote is not known
            continue
        for key, size in sorted(outputs.items()):
            if key not in keep and _remove_own(out_dir, key, size):
                removed.append(key)
    return removed


def _remove_own(out_dir, key, size):
    """Remove ``out_dir/key`` if it is a regular file of ``size`` bytes, following no link; True if removed."""
    parts = key.split("/")
    if not NO_FOLLOW:  # pragma: no cover
        path = Path(out_dir, *parts)
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_size == size:
            path.unlink()
            return True
        return False
    try:
        fd = open_folder(out_dir, parts[:-1])
    except (OSError, ValueError):
        return False
    try:
        st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        if stat.S_ISREG(st.st_mode) and st.st_size == size:
            os.unlink(parts[-1], dir_fd=fd)
            return True
    except OSError:
        pass
    finally:
        os.close(fd)
    return False


def _completed_samples(manifest):
    """How many sample lines a manifest holds (0 for a header alone, or a damaged file)."""
    try:
        with open(open_own_file(manifest, os.O_RDONLY), "rb") as f:
            return sum(1 for line in f if line.strip()) - 1
    except OSError:
        return 0


def _open_output(out_dir, params, input_id, resume):
    """Create or reopen OUT_DIR under an exclusive lock; return (lock, manifest path, completed samples)."""
    manifest = out_dir / MANIFEST
    _refuse_planted(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"OUT_DIR {out_dir} is a file; choose a folder.")
    fresh = not out_dir.exists() or _holds_only_own_files(out_dir)
    if not fresh and not manifest.exists():
        raise ValueError(f"{out_dir} is not empty and holds no pixscale run; choose an empty or new OUT_DIR.")
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _Lock(out_dir)
    try:
        done = {}
        if manifest.exists() and _completed_samples(manifest) == 0:
            manifest.unlink()  # a run killed before it completed any sample: start over
        if manifest.exists():
            if not resume:
                raise ValueError(
                    f"{out_dir} holds an earlier pixscale run; pass --resume to finish it, or choose a new OUT_DIR."
                )
            done = _read_manifest(manifest, params, input_id)
        _sweep_temporary(out_dir)  # of an interrupted run
        if not manifest.exists():
            atomic_write_text(
                manifest,
                json.dumps({"pixscale": __version__, "parameters": params, "input": input_id}) + "\n",
                root=out_dir,
            )
    except BaseException:
        lock.release()
        raise
    return lock, manifest, done


def _nearest_existing(path):
    """``path``, or its nearest ancestor that exists (OUT_DIR may not exist yet)."""
    path = Path(path).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _unit_folders(samples):
    """The OUT_DIR folders (relative) that the units of ``samples`` write files into."""
    folders = {s.rel_dir or "" for s in samples}  # the cameras
    for s in samples:
        for v in s.views:
            folders.update(os.path.dirname(k) for k in (v.out_key, v.mask_out_key) if k)
    return folders


def _sweep_temporary(out_dir, folders=None):
    """Remove the temporary files (``.NAME.xxxx.part``) that a killed process left in OUT_DIR.

    ``folders`` (paths relative to OUT_DIR, ``""`` for OUT_DIR itself) limits
    the sweep to the files directly in those folders; default all of OUT_DIR.
    """
    if NO_FOLLOW:  # no link is followed: a folder swapped for one is skipped, never swept
        if folders is None:
            for _, _, names, fd in os.fwalk(out_dir):
                _sweep_in(fd, names)
            return
        for folder in sorted(folders):
            parts = [p for p in folder.replace(os.sep, "/").split("/") if p]
            try:
                fd = open_folder(out_dir, parts)
            except (OSError, ValueError):  # not written (a failed sample), not a folder, or a link
                continue
            try:
                _sweep_in(fd, os.listdir(fd))
            finally:
                os.close(fd)
        return
    if folders is None:  # pragma: no cover - without dir_fd support
        paths = [os.path.join(d, n) for d, _, names in os.walk(out_dir) for n in names]
    else:  # pragma: no cover
        paths = []
        for folder in sorted(folders):
            path = os.path.normpath(os.path.join(out_dir, folder))
            if os.path.commonpath([os.path.abspath(out_dir), os.path.abspath(path)]) != os.path.abspath(out_dir):
                continue  # never outside OUT_DIR
            try:
                paths += [os.path.join(path, n) for n in os.listdir(path)]
            except OSError:  # not written (a failed sample) or not a folder
                continue
    for path in paths:  # pragma: no cover
        name = os.path.basename(path)
        if name.startswith(".") and name.endswith(".part"):
            try:
                os.unlink(path)
            except FileNotFoundError:  # a live writer finished with it meanwhile
                pass


def _sweep_in(fd, names):
    """Remove the temporary files among ``names`` in the open folder ``fd`` (a link is removed, not followed)."""
    for name in names:
        if name.startswith(".") and name.endswith(".part"):
            try:
                if not stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    os.unlink(name, dir_fd=fd)
            except FileNotFoundError:  # a live writer finished with it meanwhile
                pass


@contextlib.contextmanager
def _signals_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP while the block runs (in the main thread); yields the list of those
    that arrived, so the caller can stop after the block rather than leave its files half done.

    A signal the process ignores (``nohup``, ``cmd &``: SIG_IGN) stays ignored.
    On the way out, the held signals are replayed through the handlers they
    were held from, so these count them (the command's: the first stops the
    run, later ones are ignored); a KeyboardInterrupt that a replay raises is
    raised after all of them are replayed.
    """
    import signal
    import threading

    held: list = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    sigs = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    old = {
        s: signal.signal(s, lambda signum, frame: held.append(signum))
        for s in sigs
        if signal.getsignal(s) is not signal.SIG_IGN
    }
    try:
        yield held
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        interrupted = None
        for signum in list(held):  # acted on now, by the handlers they were held from
            try:
                signal.raise_signal(signum)
            except KeyboardInterrupt as exc:
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted


def _say(quiet, message):
    if not quiet:
        _Drawing(sys.stderr).write(for_terminal(message) + "\n")


class _Drawing:
    """Standard error for messages and the progress bar, which never fails the run.

    Closed (``2>&-``: ``sys.stderr`` is None), full (``/dev/full``), a pipe
    nobody reads any more, or a pipe that is full: what cannot be written at
    once goes nowhere (a full pipe drops progress updates rather than block the run).
    """

    def __init__(self, stream):
        self.stream = stream
        try:
            self.fd = stream.fileno() if stream is not None else None
        except (OSError, ValueError, AttributeError):
            self.fd = None

    @property
    def usable(self):
        return self.stream is not None

    def _room(self):
        import select

        if self.fd is None:  # a stream without a file (captured, StringIO): it never blocks
            return True
        try:
            return bool(select.select([], [self.fd], [], 0)[1])
        except (OSError, ValueError):
            return False

    def write(self, text):
        if not self.usable or not self._room():
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.stream = None

    def flush(self):
        pass

    def isatty(self):
        try:
            return self.usable and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self):
        if self.fd is None:
            raise OSError("no file behind this stream")
        return self.fd


def _resume_plan(dataset, done, root, out_dir=None):
    """Split recorded samples into kept ones and ones whose inputs or outputs changed (named with why).

    With ``out_dir``, a sample is kept only if the files its line recorded are
    there as written (an output deleted or truncated since is redone).
    """
    names = {s.name for s in dataset.samples}
    gone = sorted(set(done) - names)
    if gone:
        raise ValueError(
            f"OUT_DIR holds samples that are no longer in IN_DIR: {some_names(gone)}; "
            "resume with the IN_DIR it was made from, or choose a new OUT_DIR."
        )
    kept, changed = {}, []
    for sample in dataset.samples:
        entry = done.get(sample.name)
        if entry is None:
            continue
        if isinstance(entry, str):  # its manifest line is malformed
            changed.append(f"{sample.name} (its line in {MANIFEST} is damaged: {entry})")
            continue
        now = fingerprint(sample, root)
        if entry.get("inputs") == now:
            why = _changed_output(sample, entry, out_dir) if out_dir is not None else None
            if why is None:
                kept[sample.name] = entry["rows"]
            else:
                changed.append(f"{sample.name} ({why})")
            continue
        old = {p[0]: p[1:] for p in entry.get("inputs") or []}
        new = {p[0]: p[1:] for p in now}
        what = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        changed.append(f"{sample.name} ({', '.join(what[:3]) or 'inputs'} changed)")
    return kept, changed


def run(
    in_dir,
    out_dir,
    options=None,
    *,
    layout="auto",
    jobs=None,
    resume=False,
    quiet=False,
    report_dir=None,
    plots=True,
    pool="threads",
    executor=None,
    scheduler=None,
    unit_timeout=None,
):
    """Normalize a whole dataset from ``in_dir`` into ``out_dir``.

    Parameters
    ----------
    in_dir : path or str
        Dataset root (GS-LRM, MVDiffusion or flat layout), or a glob of images.
    out_dir : path or str
        Output root; created if needed; must not lie inside ``in_dir``.
    options : RunOptions, optional
    layout : {"auto", "gslrm", "mvdiffusion", "co3d", "flat"}
    jobs : int, optional
        Local workers; default all cores.  With ``executor``, sizes the
        window of units in flight (two per job).
    resume : bool
        Continue an interrupted run in ``out_dir``: completed samples whose
        inputs are unchanged are kept, the rest are (re)done.
    quiet : bool
        No progress bar and no messages.
    report_dir : path or str or False, optional
        Where to write the report (default ``out_dir/pixscale-report``);
        False writes none.
    plots : bool
        Draw the report's figures (needs matplotlib).
    pool : {"threads", "processes"}
        What the local ``jobs`` are (one job always runs on one thread).
        Threads by default here (the ``pixscale`` command uses processes):
        worker processes re-import the calling script, which must then
        guard its work with ``if __name__ == "__main__":``.
    executor : concurrent.futures.Executor or distributed.Client, optional
        Run the work units there (see :mod:`pixscale.workers`).
    scheduler : str, optional
        A Dask scheduler address (``tcp://HOST:8786``) or ``"local:N"``.
    unit_timeout : float, optional
        Seconds a work unit (one sample) may run; one that takes longer fails,
        by name, and is left for ``resume``.  Default: no limit.

    Returns
    -------
    (rows, dataset)
        One row per view (see :mod:`pixscale.report`), in dataset order.

    Raises
    ------
    OptionError, ValueError
        Before anything is read or written, for a bad option, input or output folder.
    RunInterrupted
        On Ctrl-C, after every completed sample is recorded.
    """
    from tqdm import tqdm

    opts = options or RunOptions()
    jobs = check_jobs(jobs)
    if unit_timeout is not None and not (_real(unit_timeout) and unit_timeout > 0):
        raise OptionError("unit_timeout", unit_timeout, "a number of seconds > 0 (default: no limit)")
    if pool not in POOLS:
        raise OptionError("pool", pool, f"one of {', '.join(POOLS)}")
    if scheduler is not None:
        try:
            parse_scheduler(scheduler)
        except ValueError as exc:
            raise OptionError("scheduler", scheduler, str(exc).split("; got")[0]) from None
    out_dir = Path(out_dir)
    dataset = discover(in_dir, layout=layout, out_root=out_dir, mask=opts.mask, write_mask=opts.write_mask)
    check_folders(in_dir, out_dir, dataset, report_dir)
    _say(quiet, f"{dataset.describe()} in {in_dir}")
    for note in dataset.notes:
        _say(quiet, f"  note: {note}")
    input_id = _input_id(in_dir, dataset)
    # Where the units run is settled before anything is written: a Dask scheduler that cannot be
    # reached, or a worker that cannot see the folders, stops the run here.
    workers = Workers(min(jobs, len(dataset.samples)), pool, executor=executor, scheduler=scheduler)
    try:
        workers.check_paths(dataset.root, _nearest_existing(out_dir))
        lock, manifest, done = _open_output(out_dir, opts.params(), input_id, resume)
        stop = StopFlag(out_dir / STOP)
        try:
            stop.clear()
            results, changed = _resume_plan(dataset, done, dataset.root, out_dir)
            if results:
                _say(quiet, f"resuming: {len(results)} of {len(dataset.samples)} samples already complete")
            if changed:
                _say(
                    quiet,
                    f"redoing {len(changed)} sample(s) whose inputs or outputs changed since they were written: "
                    + some_names(changed),
                )
            # Numba's compiler cut by Ctrl-C swallows the interrupt or breaks (a half-built library, a
            # RuntimeError): a stop request waits for the compile, then stops the run before any unit starts.
            try:
                with _signals_held() as held:
                    _precompile(dataset, quiet, opts.filter)
            except KeyboardInterrupt:  # a held stop request, replayed through its handler
                raise RunInterrupted(len(results), len(dataset.samples), out_dir) from None
            if held:
                raise RunInterrupted(len(results), len(dataset.samples), out_dir)
            todo = [s for s in dataset.samples if s.name not in results]
            if todo:
                _say(quiet, f"running on {workers.kind}")
            drawing = _Drawing(sys.stderr)
            with tqdm(
                total=dataset.n_views,
                unit="view",
                disable=quiet or not drawing.usable,
                file=drawing,
                dynamic_ncols=True,
            ) as bar:
                bar.update(sum(len(s.views) for s in dataset.samples if s.name in results))
                if todo:
                    _run_units(todo, out_dir, opts, dataset.root, workers, manifest, results, bar, stop, unit_timeout)
                    # What dead workers were writing: a Dask worker killed mid-write is replaced
                    # without the run hearing of it, so the folders of every unit are swept.
                    _sweep_temporary(out_dir, _unit_folders(todo))
            try:
                removed = _remove_stale_outputs(out_dir, manifest)
            except OSError as exc:  # the work is done: the report is still written, the exit code is the views'
                removed = []
                _say(quiet, f"warning: outputs that redone samples no longer produce were not removed: {exc}")
            if removed:
                _say(
                    quiet,
                    f"removed {len(removed)} output(s) that redone samples no longer produce: " + some_names(removed),
                )
            workers.close()
            rows = [row for s in dataset.samples for row in results.get(s.name, [])]
            try:
                with _signals_held() as held:  # the work is done: a stop request waits for the report
                    rows += write_list_files(dataset, out_dir)
                    if report_dir is not False:
                        rows += _write_report(dataset, rows, out_dir, report_dir, opts, in_dir, plots)
            except KeyboardInterrupt:  # a held stop request, replayed through its handler
                raise RunInterrupted(len(results), len(dataset.samples), out_dir) from None
            if held:
                raise RunInterrupted(len(results), len(dataset.samples), out_dir)
        finally:
            # A stop request during the cleanup waits for it, then is counted by its handler (after a
            # first one, the command's ignores it: the RunInterrupted and its resume line stand).
            with _signals_held():
                workers.close(cancel=True)  # before the stop flag and the lock go: no unit may outlive them
                stop.retire()  # a unit given up on (a hung thread) that wakes up stops before it writes
                lock.release()
    finally:
        workers.close(cancel=True)
    return rows, dataset


def run_dataset(
    in_dir,
    out_dir,
    *,
    executor=None,
    scheduler=None,
    jobs=None,
    pool="threads",
    layout="auto",
    resume=False,
    quiet=True,
    report_dir=None,
    plots=True,
    unit_timeout=None,
    **options,
):
    """Normalize a dataset and return the summary the ``pixscale run`` command prints.

    The Python entry point of a run: ``options`` are those of
    :class:`RunOptions` (``target=0.3``, ``fit="shift"``, ``scale="per-view"``
    ...); the work units run on ``executor`` (any
    ``concurrent.futures.Executor``, or a ``distributed.Client``), on a Dask
    ``scheduler``, or on ``jobs`` local threads (``pool="processes"`` for
    worker processes, which scale further on many cores; a script that uses
    them needs the ``if __name__ == "__main__":`` guard).  The coordinator (this call) alone writes the manifest, the
    list files and the report; the output tree is byte-identical whatever runs
    the units.

    Returns
    -------
    dict
        :func:`pixscale.report.summarize` of the run's rows.

    Examples
    --------
    >>> import pixscale, concurrent.futures  # doctest: +SKIP
    >>> with concurrent.futures.ThreadPoolExecutor(4) as ex:  # doctest: +SKIP
    ...     summary = pixscale.run_dataset("renders/", "normalized/", executor=ex, target=0.3)
    """
    from ..report.summary import summarize

    opts = RunOptions(**options)
    rows, _ = run(
        in_dir,
        out_dir,
        opts,
        layout=layout,
        jobs=jobs,
        resume=resume,
        quiet=quiet,
        report_dir=report_dir,
        plots=plots,
        pool=pool,
        executor=executor,
        scheduler=scheduler,
        unit_timeout=unit_timeout,
    )
    return summarize(rows, target=opts.target, options=opts.params())


def _precompile(dataset, quiet, filter="bilinear"):
    """Compile the kernels a run needs before its progress bar, saying so when it takes a while.

    The dtype is read from the first view's PNG header (datasets are
    rendered alike); other dtypes compile when they are met.
    """
    from .._precompile import precompile
    from .io import view_dtype

    first = next((v.path for s in dataset.samples for v in s.views if v.path is not None), None)
    dtype = view_dtype(first) if first is not None else None
    if dtype is not None:
        precompile([dtype], announce=None if quiet else (lambda msg: _say(False, msg)), filter=filter)


def _run_units(todo, out_dir, opts, root, workers, manifest, results, bar, stop, unit_timeout=None):
    """Run the work units on ``workers``, a bounded window at a time; record each as it completes.

    A unit whose worker dies (a killed process, a lost Dask worker) is run
    again, up to :data:`~pixscale.workers.MAX_ATTEMPTS` times, then reported
    as failed (and left for ``--resume``).  When a local process pool breaks,
    every unit in it fails at once: those are run again one at a time, and
    only a unit whose worker dies while it runs alone is charged the attempt,
    so one poisonous sample cannot take healthy ones down with it.  An
    executor that refuses new work fails the units left, with the reason.
    Ctrl-C sets ``stop``: units not started are cancelled where the executor
    can tell (Dask's cannot, so its units are waited for), running ones stop
    before their next view, and every completed one is recorded; units that
    have not stopped after :data:`STOP_WAIT_S` are abandoned.  A unit running
    longer than ``unit_timeout`` seconds fails, by name, and is abandoned
    (local worker processes running it are ended).  A lost Dask scheduler
    fails the units in flight and those left, with the reason.  Returns the
    number of units whose worker died.
    """
    total = len(results) + len(todo)
    queue = deque(todo)
    attempts = Counter()
    suspects = set()  # units of a broken pool, to be rerun alone
    pending = {}
    started = {}  # future -> when it was seen running (Dask's futures never say: when it was submitted)
    deaths = 0
    synced = [time.monotonic()]  # when the manifest was last synced to disk
    _end_last_line(manifest)
    with open(open_own_file(manifest, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8") as log:

        def fail(sample, reason):
            keys = [v.key for v in sample.views] or [sample.rel_dir or sample.name]
            return {"rows": [_fail(sample.name, k, reason, retry=True) for k in keys]}

        def refill():
            # Ctrl-C waits for the units being handed over: one cut in half (a worker process started but not
            # yet the pool's) would outlive the run, and fail at its start with a traceback.
            with _signals_held() as held:
                hand_over()
            if held:
                raise KeyboardInterrupt

        def hand_over():
            while queue and not stop.is_set():
                # With a unit timeout, one unit per worker: a unit queued behind another (on Dask, whose
                # futures do not say when they start, its clock runs from the hand-over) cannot time out.
                window = 1 if suspects else workers.jobs if unit_timeout is not None else workers.window
                if len(pending) >= window:
                    return
                sample = queue.popleft()
                attempts[sample.name] += 1
                try:
                    fut = workers.submit(_safe_process, sample, out_dir, opts, root, stop)
                except Exception as exc:  # the executor itself is broken or shut down
                    reason = f"the executor refused it ({type(exc).__name__}: {exc}); --resume tries it again"
                    for s in (sample, *queue):
                        save(s, fail(s, reason))
                    queue.clear()
                    return
                if not isinstance(fut, Future):  # wait() could not watch it: the unit fails, by name
                    save(
                        sample,
                        fail(
                            sample,
                            f"the executor returned {_describe(fut)} instead of a future for it; "
                            "--resume tries it again",
                        ),
                    )
                    continue
                pending[fut] = sample
                started[fut] = None if workers.cancels else time.monotonic()

        def save(sample, result):
            results[sample.name] = result["rows"]
            if not any(r.get("retry") for r in result["rows"]):
                log.write(json.dumps(result) + "\n")
                log.flush()  # a killed coordinator keeps it; a power cut may lose the last lines,
                if time.monotonic() - synced[0] >= MANIFEST_SYNC_S:  # whose samples resume redoes
                    os.fsync(log.fileno())
                    synced[0] = time.monotonic()
            bar.update(len(sample.views))

        def record(fut, alone):
            """Record a finished unit; True when its worker died (the unit is queued again)."""
            sample = pending.pop(fut)
            started.pop(fut, None)
            try:
                result = fut.result()
            except Exception as exc:  # the worker, not the unit, failed: killed, out of memory, lost
                if stop.is_set():
                    return False
                if isinstance(exc, BrokenExecutor) and not alone:
                    attempts[sample.name] -= 1  # one of several in a broken pool: not charged
                    suspects.add(sample.name)
                    queue.appendleft(sample)
                    return True
                if attempts[sample.name] < MAX_ATTEMPTS:
                    queue.appendleft(sample)
                    return True
                suspects.discard(sample.name)
                result = fail(
                    sample,
                    f"its worker died {attempts[sample.name]} time(s) while processing it "
                    f"({type(exc).__name__}: {exc or 'cancelled'}); --resume tries it again",
                )
            else:
                if result is None and stop.is_set():  # stopped by this run's own request before its end
                    suspects.discard(sample.name)
                    return False
                problem = _bad_result(sample, result)
                if problem:
                    result = fail(sample, f"{problem}; --resume tries it again")
            suspects.discard(sample.name)
            save(sample, result)
            return False

        def give_up(futures, reason):
            """Fail the units of ``futures`` with ``reason`` and stop waiting for them."""
            for fut in futures:
                sample = pending.pop(fut)
                started.pop(fut, None)
                fut.cancel()
                save(sample, fail(sample, f"{reason}; --resume tries it again"))

        def overdue():
            now = time.monotonic()
            for fut in pending:
                if started[fut] is None and (fut.running() or fut.done()):
                    started[fut] = now
            return [f for f in pending if started[f] is not None and now - started[f] > unit_timeout]

        try:
            refill()
            while pending:
                alone = len(pending) == 1
                finished, _ = wait(list(pending), timeout=TICK_S, return_when=FIRST_COMPLETED)
                died = [record(fut, alone) for fut in finished]
                if any(died):
                    deaths += sum(died)
                    workers.restart()
                lost = workers.lost()
                if lost:
                    give_up(list(pending), lost)
                    for s in queue:
                        save(s, fail(s, f"{lost}; --resume tries it again"))
                    queue.clear()
                    break
                late = overdue() if unit_timeout is not None else []
                if late:
                    give_up(late, f"it did not finish within the unit timeout ({unit_timeout:g} s)")
                    for fut in [f for f in pending if not f.running() and f.cancel()]:
                        sample = pending.pop(fut)  # not started: handed to the new pool, not charged
                        started.pop(fut, None)
                        attempts[sample.name] -= 1
                        queue.appendleft(sample)
                    healthy = [f for f in pending if not f.done()]
                    if workers.abandon():  # healthy units ended with the late ones' processes: run again,
                        for fut in healthy:  # not charged, not suspects (the pool did not break by itself)
                            if fut.done() and not fut.cancelled() and fut.exception() is None:
                                continue  # it finished meanwhile: recorded as it is
                            sample = pending.pop(fut)
                            started.pop(fut, None)
                            attempts[sample.name] -= 1
                            queue.appendleft(sample)
                refill()
        except KeyboardInterrupt:
            try:
                stop.set()
            except OSError:  # the flag's file cannot be written (a link planted there): threads still see it
                pass
            if workers.cancels:
                for fut in list(pending):
                    if fut.cancel():
                        pending.pop(fut)
            deadline = time.monotonic() + STOP_WAIT_S
            try:  # running units stop before their next view
                while pending and time.monotonic() < deadline and not workers.lost():
                    done, _ = wait(list(pending), timeout=TICK_S, return_when=FIRST_COMPLETED)
                    for fut in done:
                        try:
                            record(fut, False)
                        except Exception:  # pragma: no cover - a lost worker while stopping
                            pending.pop(fut, None)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                pass
            if pending:
                workers.abandon()  # units that did not stop (a hung read, a unit that never completes)
            bar.close()
            raise RunInterrupted(len(results), total, out_dir) from None
        finally:
            os.fsync(log.fileno())
    return deaths


def _bad_result(sample, result):
    """Why ``result`` is not the result of ``sample``'s unit (None if it is).

    A unit returns ``{"sample", "inputs", "rows"}`` with one row per view of
    its sample; anything else (None from an executor that drops results, an
    object of another kind, another sample's result) fails the unit.
    """
    name = printable(sample.name)
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        return f"the work unit of sample {name} returned {_describe(result)} instead of its result"
    if result.get("sample") != sample.name:
        return f"the work unit of sample {name} returned the result of {_describe(result.get('sample'))}"
    rows = result["rows"]
    if not all(isinstance(r, dict) and r.get("sample") == sample.name and "view" in r for r in rows):
        return f"the work unit of sample {name} returned rows that are not its views'"
    if not isinstance(result.get("inputs", []), list):
        return f"the work unit of sample {name} returned {_describe(result.get('inputs'))} as its inputs"
    expected = {v.key for v in sample.views} or {sample.rel_dir or sample.name}
    if not expected <= {r["view"] for r in rows}:
        return f"the work unit of sample {name} returned no row for some of its views"
    return None


def _describe(value):
    text = printable(repr(value))
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _end_last_line(manifest):
    """End the manifest's last line if a killed run left it cut, so the next entry starts on its own line."""
    with open(open_own_file(manifest, os.O_RDWR), "rb+") as f:
        f.seek(0, os.SEEK_END)
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _safe_process(sample, out_dir, opts, root=None, stop=None):
    try:
        return process_sample(sample, out_dir, opts, root, stop)
    except Exception as exc:  # never let one sample stop the run
        keys = [v.key for v in sample.views] or [sample.rel_dir or sample.name]
        return {
            "sample": sample.name,
            "inputs": [],
            "rows": [_fail(sample.name, k, f"unexpected {type(exc).__name__}: {exc}", retry=True) for k in keys],
        }


class _Written(os.PathLike):
    """A file the run wrote, as the report reads it back: its path, once no link below OUT_DIR leads to it.

    ``os.fspath`` raises :class:`~pixscale.io.LinkError` (an ``OSError``, so
    the reader reports the file as unreadable) if a folder on the way or the
    file itself was replaced by a link, or by anything but a regular file.
    """

    def __init__(self, root, key):
        self.root, self.key = os.fspath(root), key

    def __fspath__(self):
        parts = self.key.split("/")
        path = os.path.join(self.root, *parts)
        if NO_FOLLOW:
            fd = open_folder(self.root, parts[:-1])
            try:
                st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            finally:
                os.close(fd)
            if not stat.S_ISREG(st.st_mode):
                raise LinkError(path, file_kind(st))
        return path

    def __repr__(self):
        return f"_Written({self.root!r}, {self.key!r})"


def _write_report(dataset, rows, out_dir, report_dir, opts, in_dir, plots):
    """Write the report of the rows; return a failure row when it cannot be written."""
    from ..report import summary as report

    report_dir = Path(report_dir) if report_dir else Path(out_dir) / REPORT_DIR
    out = Path(out_dir)

    def files(v):  # (before, after) as the figures read them: a file, or a (colour, mask) pair
        before = v.path if v.mask is None else (v.path, v.mask)
        written_pair = opts.write_mask and v.mask is not None and v.mask_key is not None
        mine = _Written(out, v.out_key)  # read back only through no link below OUT_DIR
        after = (mine, _Written(out, v.mask_out_key)) if written_pair else mine
        return before, after

    sources = {v.key: files(v) for s in dataset.samples for v in s.views if v.path is not None}
    meta = {
        "pixscale_version": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": os.path.abspath(in_dir),
        "output": os.path.abspath(out_dir),
        "layout": dataset.layout,
        "views": dataset.n_views,
        "parameters": opts.params(),
    }
    try:
        summary = report.summarize(rows, target=opts.target, options=opts.params())
        root = out if report_dir == out / REPORT_DIR else report_dir  # no link below OUT_DIR is followed
        report.write_report(report_dir, summary, rows, sources=sources, meta=meta, plots=plots, root=root)
    except (OSError, ValueError) as exc:
        # Said once, by whoever reads the rows (the command prints it): the library prints nothing here.
        return [_fail("", REPORT_DIR, f"the report could not be written to {report_dir}: {exc}", retry=True)]
    return []


def write_list_files(dataset, out_dir):
    """Write the rewritten list files; return the failure rows of those that could not be written."""
    rows = []
    for item in dataset.list_files:
        if item.error is None:
            try:
                atomic_write_text(Path(out_dir) / item.name, item.text, root=out_dir)
                continue
            except OSError as exc:
                item.error = f"list file {item.name} was not written: {exc}"
        rows.append(_fail("", item.name, item.error))
    return rows


def measure_dataset(
    in_dir, *, threshold=10.0, min_component=None, keep="all", layout="auto", jobs=None, quiet=True, report_dir=None
):
    """Measure every view of a dataset without writing anything; return (rows, dataset).

    ``report_dir``, where the caller will write the report, is refused
    (ValueError) before anything is measured if it is or lies in the input.
    """
    rule = ObjectMask(threshold, min_component, keep)
    jobs = check_jobs(jobs)
    dataset = discover(in_dir, layout=layout)
    if report_dir:
        _refuse_overlap("--report-dir", report_dir, in_dir, Path(dataset.root).resolve(), holds=False)
    _say(quiet, f"{dataset.describe()} in {in_dir}")

    def one(sample):
        if sample.error:
            return [_fail(sample.name, sample.rel_dir or sample.name, sample.error)]
        rows = []
        for view in sample.views:
            try:
                image, m, _ = _read_and_measure(view, rule)
                rows.append(
                    {
                        "sample": sample.name,
                        "view": view.key,
                        "status": "ok",
                        "error": None,
                        "before": m.to_dict(),
                        "after": None,
                        "scale": None,
                        "limited": None,
                        "islands": _islands(image, m, rule),
                    }
                )
            except (ViewError, EmptyMaskError) as exc:
                rows.append(_fail(sample.name, view.key, _reason(exc)))
        return rows

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = [row for sample_rows in pool.map(one, dataset.samples) for row in sample_rows]
    return rows, dataset


OPTION_NAMES = tuple(f.name for f in fields(RunOptions))
