"""Finding a dataset's samples in an object store: the store's listing read once, as a stream.

The layouts of :mod:`pixscale.pipeline.layouts` that an object store holds
are read here from the keys alone, without a folder to look into: a folder's
objects are contiguous in the listing (:meth:`~pixscale.pipeline.store.Store.walk`),
so the listing is grouped by sample folder as it streams, and each group
becomes a sample (GS-LRM's cameras are read then, one object per sample).

* ``gslrm``: ``<sample>/opencv_cameras.json`` whose frames name the views;
* ``mvdiffusion``: ``<sample>/cam_*.png``;
* ``flat``: ``*.png`` at the prefix, each its own sample.

With ``layout="auto"`` the first sample folder (or image at the prefix)
that one of them matches decides, in that order.  A view's ``path`` is a
:class:`~pixscale.pipeline.store.StoreObject`, whose size and version tag
(from the listing) are the sample's fingerprint for ``resume=True``.
"""

import json
import posixpath

from .dataset import (
    CAMERAS,
    IMAGE_SUFFIX,
    MANIFEST_CHUNKS,
    REPORT_DIR,
    Dataset,
    ListFile,
    Sample,
    View,
    _bad_name,
    _own,
    printable,
    some_names,
)
from .layouts import REGISTRY, _frame_error, _join, hold_cameras
from .store import StoreError

STORE_LAYOUTS = ("gslrm", "mvdiffusion", "flat")
BATCH = 256  # sample folders read at once (their cameras fetched concurrently)


def _is_png(key):
    return key.lower().endswith(IMAGE_SUFFIX)


def _units(objects):
    """``(folder, objects)`` per sample folder (contiguous in the listing); ``(None, [object])`` at the prefix."""
    folder: str | None = None
    group: list = []
    for obj in objects:
        first, sep, _ = obj.key.partition("/")
        if not sep:
            yield None, [obj]
            continue
        if first != folder and group:
            yield folder, group
            group = []
        folder = first
        group.append(obj)
    if group:
        yield folder, group


def _matches(folder, objects):
    """The layouts a unit of the listing looks like, in detection order."""
    if folder is None:
        return ["flat"] if _is_png(objects[0].key) else []
    found = []
    if any(o.key == f"{folder}/{CAMERAS}" for o in objects):
        found.append("gslrm")
    if any(_is_mvdiffusion_view(folder, o.key) for o in objects):
        found.append("mvdiffusion")
    return found


def _is_mvdiffusion_view(folder, key):
    name = key[len(folder) + 1 :]
    return "/" not in name and _is_png(name) and name.lower().startswith("cam_")


def discover_store(store, *, layout="auto", mask=None):
    """The :class:`~pixscale.pipeline.dataset.Dataset` of the objects under ``store``'s prefix.

    Raises StoreError (a ValueError) for a layout objects stores do not hold
    (``co3d``), for ``mask=`` (not read from object stores) and when no sample is found.
    """
    if mask:
        raise StoreError("`mask=` is not read from object stores; give RGBA PNG views (or copy the dataset locally)")
    if layout not in ("auto", *STORE_LAYOUTS):
        raise StoreError(
            f"`layout={layout!r}` is not read from object stores; use one of auto, {', '.join(STORE_LAYOUTS)}"
        )
    if layout in ("auto", "gslrm") and store.size(CAMERAS) is not None:  # the prefix is one GS-LRM sample
        by_key = {o.key: o for o in store.walk() if not _own(o.key.split("/", 1)[0])}
        name = store.root.rsplit("/", 1)[-1] or "."
        sample = _gslrm_sample(store, "", by_key[CAMERAS], by_key, name=name)
        said = [f"{sample.name}: {w}" for w in sample.warnings]
        return Dataset(store, "gslrm", [sample], [], said, title=REGISTRY["gslrm"].title)
    chosen = None if layout == "auto" else layout
    batch: list = []  # units not yet read: those seen before the layout was known, or the next BATCH
    samples: list = []
    notes: list = []
    list_files: list = []

    def read_batch():
        wanted = [
            f"{f}/{CAMERAS}"
            for f, objs in batch
            if f and not _unkeyable(f) and chosen == "gslrm" and f"{f}/{CAMERAS}" in _keys(objs)
        ]
        cameras = store.read_many(wanted) if wanted else {}  # at once: one request each, concurrently on S3
        for folder, objects in batch:
            _read_unit(store, chosen, folder, objects, samples, notes, cameras)
        batch.clear()

    for folder, objects in _units(store.walk()):
        if folder is not None and (folder in (REPORT_DIR, MANIFEST_CHUNKS) or _own(folder)):
            continue
        if folder is None and objects[0].key.lower().endswith(".txt"):  # a list file: rewritten for the output
            list_files.append(_list_file(store, objects[0]))
            continue
        if folder is None and _own(objects[0].key):
            continue
        batch.append((folder, objects))
        if chosen is None:
            found = _matches(folder, objects)
            if found:
                chosen = found[0]
            elif len(batch) > 10_000:  # a prefix of something else: say so rather than hold it all
                break
        if chosen is not None and len(batch) >= BATCH:
            read_batch()
    if chosen is not None:
        read_batch()
    if chosen is None or not samples:
        kinds = [f"{REGISTRY[name].example} ({REGISTRY[name].title})" for name in STORE_LAYOUTS]
        raise StoreError(
            f"found no images in {store.url}: expected {', '.join(kinds)}; check the URL, or pass `layout=`"
        )
    samples.sort(key=lambda s: s.name)
    notes += [f"{s.name}: {w}" for s in samples for w in s.warnings]
    list_files = list_files if REGISTRY[chosen].list_files else []
    return Dataset(store, chosen, samples, list_files, notes, title=REGISTRY[chosen].title)


def _list_file(store, obj):
    """A list file at the prefix, its text as it is (:func:`~pixscale.pipeline.storerun.list_text` rewrites it)."""
    item = ListFile(obj.key)
    try:
        data = store.read(obj.key)
        if b"\0" in data:
            raise ValueError("it holds a NUL byte")
        item.text = data.decode("utf-8")
    except (UnicodeDecodeError, ValueError, OSError) as exc:
        reason = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        item.error = f"list file {obj.key} was not rewritten: {reason}; fix it and rerun with `resume=True`"
    return item


def _unkeyable(folder):
    """Why a first key segment (``in/./x``, ``in/../x``, ``in//x``: S3 keys may hold them) names no folder, or None."""
    if folder in ("", ".", ".."):
        return (
            f"objects whose keys have {'an empty' if not folder else repr(folder)} segment after the prefix "
            f"({folder}/...) name no folder a sample can be read from or written to; rename them"
        )
    return None


def _keys(objects):
    return {o.key for o in objects}


def _read_unit(store, layout, folder, objects, samples, notes, cameras):
    """Add the sample of one unit of the listing (if it is one) to ``samples``; what was skipped to ``notes``."""
    if layout == "flat":
        if folder is None and _is_png(objects[0].key):
            obj = objects[0]
            bad = _bad_name(obj.key)
            sample = Sample(name=printable(obj.key), rel_dir="", error=bad) if bad else None
            samples.append(sample or Sample(obj.key, "", [View(obj, obj.key, obj.key)], sources=[obj]))
        return
    if folder is None:
        return
    bad = _unkeyable(folder) or _bad_name(folder)
    if bad:
        samples.append(Sample(name=printable(folder), rel_dir=printable(folder), error=bad))
        return
    if layout == "mvdiffusion":
        views = [View(o, o.key[len(folder) + 1 :], o.key) for o in objects if _is_mvdiffusion_view(folder, o.key)]
        for v in views:
            v.error = _bad_name(v.key)
            if v.error:
                v.key, v.rel, v.path = printable(v.key), printable(v.rel), None
        if views:
            samples.append(Sample(folder, folder, views, sources=[v.path for v in views if v.path]))
        else:
            notes.append(f"{folder}/: no cam_*.png images; not a sample, skipped")
        return
    by_key = {o.key: o for o in objects}
    found = by_key.get(f"{folder}/{CAMERAS}")
    if found is None:
        if any(_is_png(k) for k in by_key):
            error = (
                f"no {CAMERAS} in this sample folder (other samples have one), so its cameras cannot "
                "follow its images; restore the object, or move the folder out of IN_DIR"
            )
            samples.append(Sample(name=folder, rel_dir=folder, error=error))
        else:
            notes.append(f"{folder}/: no {CAMERAS} and no images; not a sample, skipped")
        return
    samples.append(_gslrm_sample(store, folder, found, by_key, cameras.get(found.key)))


def _gslrm_sample(store, folder, cameras_obj, by_key, data=None, name=None):
    """A GS-LRM sample of the store: its cameras (``data``, or read now), each frame's view found among the
    folder's objects (``folder`` "" for the prefix itself, a sample called ``name``)."""
    sample = Sample(name=name or folder, rel_dir=folder, sources=[cameras_obj])
    try:
        if isinstance(data, Exception):
            raise data
        cameras = json.loads((store.read(cameras_obj.key) if data is None else data).decode("utf-8"))
        frames = cameras["frames"] if isinstance(cameras, dict) else None
        if not isinstance(frames, list):
            raise ValueError("it has no 'frames' list")
    except (ValueError, KeyError, OSError) as exc:
        sample.error = (
            f"{CAMERAS} cannot be read as GS-LRM cameras ({type(exc).__name__}: {exc}); fix or restore the object"
        )
        return sample
    if not frames:
        sample.error = f"{CAMERAS} lists no camera frames, so none of its images can be used; fix or restore it"
        return sample
    named: dict[str, int] = {}
    for i, frame in enumerate(frames):
        error = _frame_error(i, frame)
        rel = frame.get("file_path") if isinstance(frame, dict) else None
        rel = (rel if isinstance(rel, str) else "").replace("\0", "\\0")
        norm = "" if error else posixpath.normpath(rel)
        if error is None and "\\" in rel:
            error, norm = f"file_path {rel!r} uses backslashes; write it with / separators", ""
        elif error is None and (rel.startswith("/") or norm in (".", "..") or norm.startswith("../")):
            error, norm = f"file_path {rel!r} points outside its sample folder; it was not read", ""
        if error is None:
            error = _bad_name(norm)
        key = _join(folder, norm or f"<frame {i}>")
        if error is None and key not in by_key:
            error = (
                f"camera frame {i} names {norm}, which is not in the sample (the object does not exist); "
                f"fix {CAMERAS} or restore the image"
            )
        if error is None and norm in named:
            error = f"camera frames {named[norm]} and {i} both name {norm}; each image needs its own frame"
        view = View(path=None if error else by_key[key], rel=norm or rel, key=key, frame=i, error=error)
        if error is None:
            named[norm] = i
            sample.sources.append(view.path)
        sample.views.append(view)
    hold_cameras(sample, cameras)
    rels = (k[len(folder) + 1 :] if folder else k for k in by_key)  # as the frames name them
    unused = sorted(
        r
        for r in rels
        if _is_png(r) and r not in named and (r.count("/") == 0 or (r.count("/") == 1 and r.startswith("images/")))
    )
    if unused:
        sample.warnings.append(
            f"{len(unused)} image(s) not named by any camera frame were not used: " + some_names(unused)
        )
    return sample
