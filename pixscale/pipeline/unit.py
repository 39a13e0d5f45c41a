"""One sample's work: read and measure its views, plan, warp and write them and its cameras; return its rows."""

import dataclasses
import errno
import math
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from .._measure import measure_alpha, measure_object
from .._object import erase, label
from .._plan import Measured, plan_measured, rgba_rows
from .._validate import EmptyMaskError, VanishedObjectError, alpha_of, threshold_value, with_mask
from .._warp import warp
from .cameras import cameras_text, check_frame_size, new_intrinsics, write_cameras
from .dataset import CAMERAS, printable
from .files import NO_FOLLOW
from .io import ViewError, encode_png, read_view, write_png
from .manifest import fingerprint
from .masked import orientation_hint, read_colour, read_mask
from .records import Islands, ViewRecord
from .store import Store
from .workers import leave_slot

# Errors of the machine, not of the data: the view is redone by resume=True.
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
    errno.ELOOP,  # a link planted in OUT_DIR while it ran: removed, resume=True writes the view
}


def reason_of(exc):
    """The reason of an error without the file name (the row names the view)."""
    return getattr(exc, "reason", str(exc))


def _background_for(image, background):
    if background is None:
        return None
    colour = np.asarray(background, dtype=np.float64) * (257 if image.dtype == np.uint16 else 1)
    return [float(colour.mean())] if image.shape[2] == 2 else [float(c) for c in colour]


def _plan_views(objects, opts):
    """The transforms of a sample's views, planned on their objects as :func:`read_and_measure` measured them.

    ``objects`` holds a :class:`~pixscale._plan.Measured` per view: the
    plan reads that measurement and alpha, and measures nothing again.  A
    view whose object the plan shrinks to nothing gets a :class:`ViewError`
    instead of a transform.
    """
    groups = [objects] if opts.scale == "per-sample" else [[obj] for obj in objects]
    out = []
    for group in groups:
        try:
            out += plan_measured(group, opts.image)
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


def read_and_measure(view, rule, *, unpack=False):
    """Read one view and measure its object (``rule``, an :class:`ObjectMask`): the view's one measure.

    Returns ``(image, measurement, selection)`` (see :func:`measure_image`);
    ViewError / EmptyMaskError say why the view cannot be used.
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
            raise ViewError(f"its mask {name}: {reason_of(exc)}") from None
        try:
            image = with_mask(colour, mask, mask_name="the mask")
        except (ValueError, TypeError) as exc:
            hint = orientation_hint(view.path, colour.shape, np.shape(mask)) if colour.shape[:2] != mask.shape else ""
            raise ViewError(f"cannot be combined with its mask {name}: {exc}{hint}") from None
    return (image, *measure_image(image, rule, unpack=unpack))


def measure_image(image, rule, *, unpack=False):
    """Measure the object ``rule`` finds in a view's ``image``: ``(measurement, selection)``.

    ``selection`` is the :class:`~pixscale._object.Selection` of the object:
    its alpha, and ``dropped``, the bool mask of the specks the rule left out
    (None if none).  ``unpack`` is exact mode's (see
    :func:`~pixscale._measure.measure_object`), so the selection's alpha is
    what the plan's probes read.  Raises the run's one empty-mask message.
    """
    m, selection = measure_object(image, alpha_of(image), rule, unpack=unpack)
    if m.count == 0:
        raise EmptyMaskError(
            f"empty mask: no pixel has alpha > {rule.threshold:g}; check the alpha channel, or lower `threshold=`"
        )
    return m, selection


def object_of(image, before, selection, erase_specks):
    """A measured view as the plan and the after-measure take it: ``(image, object, kept)``.

    ``image`` has its dropped specks erased when ``erase_specks``;
    ``object`` is the :class:`~pixscale._plan.Measured` the plan reads (the
    measurement ``before`` and the selection's alpha: nothing is measured
    again); ``kept`` is the object-only alpha :func:`_measure_after` carries
    through the warp when the specks stay in the picture, else None.
    """
    kept = None if selection.dropped is None or erase_specks else selection.alpha
    if erase_specks:
        image = erase(image, selection.dropped)
    return image, Measured(before, selection.alpha, rgba_rows(image, selection)), kept


SPECK_FRACTION = 0.05  # islands below this fraction of the largest are specks, for the report's advice
COMPACT = 0.5  # an object filling this much of its bounding box has no island far enough out to matter


def islands(image, before, rule):
    """The small islands measured as part of the object, for the report.

    ``image`` holds the object as ``rule`` selected it (its alpha: the
    selection's, with any dropped specks at 0), so a component filter that
    left some specks in (``min_component=`` in pixels, or a fraction below
    :data:`SPECK_FRACTION`) still has them counted.  ``{"components",
    "pixels"}`` of the islands below :data:`SPECK_FRACTION` of the largest,
    or None when there are none.  Only an object filling less than
    :data:`COMPACT` of its bounding box is labelled: an island far enough out
    to move size or centre widens the box, and the box holds every object
    pixel, so only the box is labelled (the same components, at the cost of
    the box).
    """
    if before.bbox is None or rule.keep == "largest":
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


def _measure_after(kept, out, t, threshold):
    """The object's measurement on the written image ``out``: the object carried through the warp.

    When the view's specks are kept in the picture, ``kept`` is its
    object-only alpha (the selection's, specks set to 0), warped with the
    same transform, as exact mode's probe does, rather than the output
    labelled again: resampling does not scale a speck's area by exactly
    ``scale ** 2``, so a re-labelled output could count specks the input
    dropped.  Otherwise (``kept`` None) the written alpha is the object's.
    """
    thr = threshold_value(out.dtype, threshold)
    return measure_alpha(alpha_of(out if kept is None else warp(kept, t)), thr)


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

    The files are encoded and written on the process's writer threads
    (:data:`WRITE_THREADS` of the unit's at once) while the unit goes on; it
    returns once every file it began is written, with the same rows and files
    as one at a time.
    """
    try:
        return _process_sample(sample, out_root, opts, root, stop)
    except _Stopped:
        return None


class _Stopped(Exception):
    """The stop was requested before a file was written: the unit returns None."""


WRITE_THREADS = 4
"""A unit's output files written at once, on background threads: the next view is warped meanwhile,
and the files' fsyncs share the disk's journal commits instead of waiting for one each."""

_writers: tuple[int, ThreadPoolExecutor] | None = None  # (pid, the process's writer threads), made on first use
_writers_lock = threading.Lock()


def _writer_pool():
    """The process's writer threads (one pool, started lazily; a forked child makes its own)."""
    global _writers
    with _writers_lock:
        if _writers is None or _writers[0] != os.getpid():
            size = WRITE_THREADS * max(4, os.cpu_count() or 1)  # enough for a unit per core, each with its files
            _writers = (os.getpid(), ThreadPoolExecutor(size, thread_name_prefix="pixscale-write"))
        return _writers[1]


def _write_files(files, out_root, level, stop, count):
    """Write a view's ``files`` (``(key, image)`` pairs) in order: ``(written, error, islands)``.

    ``written`` holds ``[key, size]`` of each file written; ``error`` is the
    exception that stopped the rest (None if none), raised by :func:`_settle`;
    ``islands`` is what :func:`islands` finds for ``count`` (its arguments),
    counted here, beside the unit's next view, rather than on the unit's way.
    """
    written = []
    found = islands(*count)
    try:
        for key, image in files:
            if stop is not None and stop.is_set():  # a unit given up on that woke up: nothing more is written
                raise _Stopped
            if isinstance(out_root, Store):  # one PUT of the whole object: no partial object is ever seen
                data = encode_png(image, compress_level=level)
                out_root.put(key, data)
                written.append([key, len(data)])
                continue
            path = _out_path(out_root, key)
            write_png(path, image, compress_level=level, root=out_root)
            written.append([key, os.lstat(path).st_size])
    except (OSError, ValueError, _Stopped) as exc:  # ViewError is a ValueError
        return written, exc, found
    return written, None, found


def _failed(sample, view, exc, frames):
    """The row of a view that failed with ``exc``; its camera frame is dropped."""
    frames.pop(view.frame, None)
    if isinstance(exc, OSError):
        return ViewRecord.failed(sample.name, view.key, str(exc), retry=exc.errno in RETRYABLE or exc.errno is None)
    return ViewRecord.failed(sample.name, view.key, reason_of(exc))


def _settle(sample, job, result, frames):
    """Record a view whose files were written (or failed to be): its row, its outputs, its camera."""
    view, row, future = job
    done, error, found = future.result()
    result["outputs"] += done
    if isinstance(error, _Stopped):
        raise error
    if error is not None:
        result["rows"].append(_failed(sample, view, error, frames))
        return
    entry = frames.setdefault(view.frame, None)
    if view.mask is not None and sample.cameras is not None and view.out_rel != view.rel:
        frames[view.frame] = {**(entry or {}), "file_path": view.out_rel}  # the image is now a PNG
    result["rows"].append(dataclasses.replace(row, islands=Islands.of(found)) if found is not None else row)


def _read_group(sample, views, opts, rows, stop):
    """Read and measure ``views``: ``(view, image, before, kept, Measured)`` per usable view; None once stopped.

    A view that cannot be used gets its failed row in ``rows``.
    """
    good = []
    for view in views:
        if stop is not None and stop.is_set():
            return None
        try:
            image, before, sel = read_and_measure(view, opts.image.object_mask, unpack=opts.image.exact)
            image, obj, kept = object_of(image, before, sel, opts.image.erase_specks)
            if sample.cameras is not None and not opts.keep_cameras:
                check_frame_size(sample.cameras["frames"][view.frame], image)
            good.append((view, image, before, kept, obj))
        except (ViewError, EmptyMaskError) as exc:
            rows.append(ViewRecord.failed(sample.name, view.key, reason_of(exc)))
    return good


def _warp_view(sample, view, image, before, kept, t, opts, frames):
    """Warp a view by its transform ``t``: ``(files, row, count)``, the ``(key, image)`` pairs to write,
    its row, and the arguments of its :func:`islands`, which the writer counts (the row gets them when
    the files are written).

    Its new camera intrinsics go in ``frames``.  Raises ViewError if it cannot be written.
    """
    if isinstance(t, ViewError):
        raise t
    if sample.cameras is not None and not opts.keep_cameras:
        frames[view.frame] = new_intrinsics(sample.cameras["frames"][view.frame], t, opts.pixel_center)
    background = _background_for(image, opts.background)
    out = warp(image, t, premultiplied=opts.image.premultiplied, background=background)
    after = _measure_after(kept, out, t, opts.image.threshold)
    if after.count == 0:  # never a blank image counted ok
        raise _vanished(t)
    if opts.background is None and not opts.image.premultiplied:
        # Clean colour under alpha 0: straight mode leaves some (premultiplied writes zeros).
        out[..., :-1] *= out[..., -1:] != 0
    if opts.write_mask and view.mask is not None and view.mask_key is None:
        raise ViewError("its mask is outside IN_DIR, so `write_mask=True` has no place for it in OUT_DIR")
    if opts.write_mask and view.mask is not None:  # the input's arrangement: colour + mask files
        files = [(view.out_key, out[..., :-1]), (view.mask_out_key, out[..., -1])]
    else:
        files = [(view.out_key, out)]
    on_target = t.on_target if opts.scale == "per-view" else None
    row = ViewRecord.written(sample.name, view.key, before, after, t, on_target=on_target)
    return files, row, (image if kept is None else kept, before, opts.image.object_mask)


def _process_sample(sample, out_root, opts, root, stop):
    inputs = fingerprint(sample, root) if root is not None else []
    # outputs: [key, size] of each file written: what resume=True checks and may remove
    result = {"sample": sample.name, "inputs": inputs, "rows": [], "outputs": []}
    rows = result["rows"]
    if sample.error:
        rows.append(ViewRecord.failed(sample.name, sample.rel_dir or sample.name, sample.error))
        return result
    # Per-view scale plans each view alone: a view is read, planned, warped and handed to the writers
    # before the next is read, so its file is written while the next one is decoded.
    groups = [sample.views] if opts.scale == "per-sample" else [[v] for v in sample.views]
    frames: dict = {}
    pending: deque = deque()  # (view, its row, the future of its files), oldest first
    try:
        for group in groups:
            good = _read_group(sample, group, opts, rows, stop)
            if good is None:
                return None
            try:
                transforms = _plan_views([obj for *_, obj in good], opts) if good else []
            except ValueError as exc:  # e.g. a margin too large for the canvas: every view fails alike
                rows += [ViewRecord.failed(sample.name, v.key, str(exc)) for v, *_ in good]
                good, transforms = [], []
            good = [g[:4] for g in good]  # the warp needs no alpha of the plan's (an unpacked copy in exact mode)
            for (view, image, before, kept), t in zip(good, transforms, strict=False):
                if stop is not None and stop.is_set():
                    return None
                try:
                    files, row, count = _warp_view(sample, view, image, before, kept, t, opts, frames)
                except (OSError, ValueError) as exc:  # ViewError is a ValueError
                    rows.append(_failed(sample, view, exc, frames))
                    continue
                job = _writer_pool().submit(_write_files, files, out_root, opts.png_level, stop, count)
                pending.append((view, row, job))
                if len(pending) > WRITE_THREADS:
                    _settle(sample, pending.popleft(), result, frames)
            good.clear()  # the next group's images replace these
        leave_slot()  # what is left is waiting for the writers and syncing the cameras: the next unit may read
        while pending:
            _settle(sample, pending.popleft(), result, frames)
    except _Stopped:
        return None
    finally:  # on the way out early: the files being written are finished, the others not begun
        for *_, job in pending:
            job.cancel()
        wait([job for *_, job in pending])
    order = {v.key: i for i, v in enumerate(sample.views)}
    rows.sort(key=lambda r: order.get(r.view, -1))
    if sample.cameras is not None:
        if stop is not None and stop.is_set():
            return None
        key = sample.rel_dir + "/" + CAMERAS if sample.rel_dir else CAMERAS
        try:
            if isinstance(out_root, Store):
                data = cameras_text(sample, frames, rows, opts).encode("utf-8")
                out_root.put(key, data)
                result["outputs"].append([key, len(data)])
            else:
                st = write_cameras(sample, _out_path(out_root, key), frames, rows, opts, root=out_root)
                result["outputs"].append([key, st.st_size])
        except OSError as exc:
            key = "/".join(p for p in (sample.rel_dir, CAMERAS) if p)
            rows.append(ViewRecord.failed(sample.name, key, f"cannot write the cameras: {exc}", retry=True))
    return result


def safe_process(sample, out_dir, opts, root=None, stop=None):
    try:
        return process_sample(sample, out_dir, opts, root, stop)
    except Exception as exc:  # never let one sample stop the run
        keys = [v.key for v in sample.views] or [sample.rel_dir or sample.name]
        return {
            "sample": sample.name,
            "inputs": [],
            "rows": [
                ViewRecord.failed(sample.name, k, f"unexpected {type(exc).__name__}: {exc}", retry=True) for k in keys
            ],
        }


def bad_result(sample, result):
    """Why ``result`` is not the result of ``sample``'s unit (None if it is).

    A unit returns ``{"sample", "inputs", "rows"}`` with one row per view of
    its sample; anything else (None from an executor that drops results, an
    object of another kind, another sample's result) fails the unit.
    """
    name = printable(sample.name)
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        return f"the work unit of sample {name} returned {describe(result)} instead of its result"
    if result.get("sample") != sample.name:
        return f"the work unit of sample {name} returned the result of {describe(result.get('sample'))}"
    rows = result["rows"]
    if not all(isinstance(r, ViewRecord) and r.sample == sample.name for r in rows):
        return f"the work unit of sample {name} returned rows that are not its views'"
    if not isinstance(result.get("inputs", []), list):
        return f"the work unit of sample {name} returned {describe(result.get('inputs'))} as its inputs"
    expected = {v.key for v in sample.views} or {sample.rel_dir or sample.name}
    if not expected <= {r.view for r in rows}:
        return f"the work unit of sample {name} returned no row for some of its views"
    return None


def describe(value):
    text = printable(repr(value))
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
