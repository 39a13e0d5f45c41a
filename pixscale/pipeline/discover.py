"""Finding a dataset's samples: its layout detected, a folder or a glob pattern read.

A root's layout is detected (:func:`detect_layout`) unless it is given, its
samples read by the readers of :mod:`pixscale.pipeline.layouts`, then the mask
files of a mask template and the list files of the root attached
(:mod:`pixscale.pipeline.dataset`).  Only an unusable root raises.
"""

import glob
import os
from pathlib import Path

from .dataset import (
    CAMERAS,
    IMAGE_SUFFIX,
    IMAGES,
    LOCK,
    MASKED_SUFFIXES,
    MASKS,
    OTHER_IMAGE_SUFFIXES,
    STOP,
    Dataset,
    Sample,
    _entries,
    _is_image,
    _list_files,
    _with_masks,
    is_glob,
    is_temporary,
    printable,
    some_names,
)
from .layouts import (
    REGISTRY,
    Scan,
    _flat_sample,
    _gslrm_sample,
    _holds_images,
    unreadable,
)


def detect_layout(root, suffixes=(IMAGE_SUFFIX,)):
    """Return the name of the first layout of :data:`REGISTRY` that ``root`` matches (a glob: "flat").

    Raises ValueError when it holds no images of any layout, with a hint where
    one can be given: JPEG images that need their masks, or a dataset one
    level deeper than ``root``.
    """
    if is_glob(root):
        return "flat"
    root = Path(root)
    scan = Scan(root)
    for layout in REGISTRY.values():
        if layout.matches(scan, suffixes):
            return layout.name
    subdirs = list(scan.folders())
    locked = [p for p, problem in scan.problems.items() if problem]
    others = sorted({p.suffix.lower() for p in root.iterdir() if p.suffix.lower() in OTHER_IMAGE_SUFFIXES})
    hint = (
        f" It holds {'/'.join(others)} files, but pixscale reads PNG images with an alpha channel"
        " (or JPEG/PNG images with mask files: `mask=`)."
        if others
        else _co3d_hint(root, subdirs) or _deeper_hint(root)
    )
    if locked:
        problem, fix = scan.problems[locked[0]]
        hint += f" {len(locked)} of its folders cannot be read: {problem}; {fix}."
    kinds = [f"{layout.example} ({layout.title})" for layout in REGISTRY.values()]
    raise ValueError(
        f"found no images in {root}: expected {', '.join(kinds[:-1])} or {kinds[-1]}.{hint} Check the path, "
        "or pass `layout=`."
    )


def _co3d_hint(root, subdirs):
    """For CO3D-style sequences of JPEG (or other) images read without masks: how to give them."""
    for d in [root, *subdirs]:
        images = d / IMAGES
        if not images.is_dir():
            continue
        found = sorted(p for p in images.iterdir() if p.suffix.lower() in OTHER_IMAGE_SUFFIXES)
        if not found:
            continue
        kinds = sorted({p.suffix.lower() for p in found})
        where = IMAGES if d == root else f"<sample>/{IMAGES}"
        masks = sorted(p.suffix.lower() for p in (d / MASKS).glob("*.*")) if (d / MASKS).is_dir() else []
        template = f"../{MASKS}/{{stem}}{masks[0] if masks else '.png'}"
        return (
            f" {where}/ holds {'/'.join(kinds)} images (e.g. {found[0]}): pixscale reads them with their "
            f"object masks; pass the mask files with `mask={template!r}` (the mask's path relative to each "
            "image's folder, {stem} its name without extension)."
        )
    return ""


def _deeper_hint(root, depth=3, budget=2000):
    """Where a dataset lies deeper under ``root`` (a folder given one level too high), as a hint."""
    level = [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            try:
                subs = [p for p in _entries(d) if p.is_dir()]
            except OSError:
                continue
            for p in subs:
                budget -= 1
                if budget < 0:
                    return ""
                if unreadable(p) is None and ((p / CAMERAS).is_file() or _holds_images(p / IMAGES, MASKED_SUFFIXES)):
                    top = p.parent if p.parent != root else p
                    found = f"a {CAMERAS}" if (p / CAMERAS).is_file() else f"an {IMAGES}/ folder"
                    return f" There is {found} in {p}: pass {top} as the dataset root (or a glob of its images)."
            nxt += subs
        level = nxt
    return ""


def _camera_folder(path):
    """The GS-LRM sample folder an image lies in (``images/`` beside ``opencv_cameras.json``, or beside it), or None."""
    for d in (path.parent, path.parent.parent):
        if (d / CAMERAS).is_file():
            return d
    return None


def _glob_dataset(pattern, suffixes=(IMAGE_SUFFIX,), group=True):
    """The images a pattern matches: each its own sample, except those of GS-LRM sample folders.

    With ``group``, matched images that lie in a GS-LRM sample folder are read
    as that sample's views (its camera frames that name them), so its cameras
    follow; the dataset root is then the common folder of the sample folders
    and the other images.
    """
    matched = sorted(Path(p) for p in glob.glob(os.fspath(pattern)))
    files = [p for p in matched if p.is_file() and _is_image(p, suffixes)]
    if not files:
        kinds = "PNG" if suffixes == (IMAGE_SUFFIX,) else "PNG or JPEG"
        raise ValueError(
            f"the pattern {pattern} matches no {kinds} files; check it, and quote it so the shell does not expand it"
        )
    groups: dict[Path, set[str]] = {}
    loose: list[Path] = []
    unused: list[str] = []
    for p in files:
        folder = _camera_folder(p) if group else None
        if folder is None:
            loose.append(p)
        else:
            groups.setdefault(Path(os.path.abspath(folder)), set()).add(os.path.abspath(p))
    base = Path(os.path.commonpath([os.path.abspath(p.parent) for p in loose] + list(groups)))
    samples: list[Sample] = []
    orphans: dict[str, list[Path]] = {}
    for p in loose:
        key = Path(os.path.abspath(p)).relative_to(base).as_posix()
        if groups and p.parent.name == IMAGES and len(Path(key).parts) > 2:  # a sample folder without cameras
            orphans.setdefault(Path(key).parent.parent.as_posix(), []).append(p)
        else:
            samples.append(_flat_sample(p, key))
    for rel_dir in orphans:
        samples.append(
            Sample(
                name=rel_dir,
                rel_dir=rel_dir,
                error=(
                    f"no {CAMERAS} in this sample folder (other samples the pattern matches have one), so its "
                    "cameras cannot follow its images; restore the file, or leave the folder out of the pattern"
                ),
            )
        )
    for folder, wanted in groups.items():
        rel = folder.relative_to(base).as_posix()
        rel_dir = "" if rel == "." else rel
        sample = _gslrm_sample(folder, rel_dir, rel_dir or folder.resolve().name or ".", suffixes)
        if sample.error is None:
            keep = [v for v in sample.views if os.path.abspath(folder / v.rel) in wanted]
            if len(keep) < len(sample.views):
                sample.warnings.append(
                    f"the pattern matches {len(keep)} of the {len(sample.views)} images its camera frames name; "
                    "the others are left out of its output and of its output cameras"
                )
            sample.views = keep
            sample.sources = [folder / CAMERAS] + [v.path for v in keep if v.path is not None]
        if sample.views or sample.error:
            samples.append(sample)
        else:
            unused.append(f"{sample.name}: no camera frame names an image the pattern matches; not used")
    if not samples:
        raise ValueError(f"the pattern {pattern} matches no image that a camera frame names ({unused[0]})")
    samples.sort(key=lambda s: s.views[0].key if s.views else s.name)
    notes = unused + [f"{s.name}: {w}" for s in samples for w in s.warnings]
    name = "gslrm" if groups and not loose else "flat"
    return Dataset(base, name, samples, notes=notes, title=REGISTRY[name].title)


def discover(root, *, layout="auto", out_root=None, mask=None, write_mask=False):
    """Find the samples and views of a dataset.

    Parameters
    ----------
    root : path or str
        The dataset folder, or (flat layout) a glob pattern of images.  A path
        that exists is never taken as a pattern, even with ``[`` in its name.
    layout : {"auto", "gslrm", "mvdiffusion", "flat", "co3d"}
        A name of :data:`REGISTRY`, or "auto" to detect it (:func:`detect_layout`).
    out_root : path or str, optional
        The output folder of a run: list files are rewritten for it up front.
    mask : str, optional
        A mask template: each view's object mask is the file at
        this path relative to the view's folder, ``{stem}`` standing for the
        view's file name without extension.  JPEG views are then read too;
        each view's output is an RGBA PNG (``View.out_key``).
    write_mask : bool, optional
        With ``mask``: the outputs will include the mask files (``View.mask_key``),
        which must then collide with no other output.

    Returns
    -------
    Dataset
        Problems of single samples and views are recorded on them
        (``error``, ``warnings``); only an unusable root raises.

    Raises
    ------
    ValueError
        If ``root`` is neither a folder nor a pattern that matches images,
        or holds no images of any layout.
    """
    if layout != "auto" and layout not in REGISTRY:
        raise ValueError(f"layout must be one of {('auto', *REGISTRY)}; got {layout!r}")
    suffixes = MASKED_SUFFIXES if mask else (IMAGE_SUFFIX,)
    if is_glob(root):
        if layout not in ("auto", "flat"):
            raise ValueError(
                f"a glob pattern is read as flat images (grouped into GS-LRM samples where they lie in sample "
                f'folders); got `layout={layout!r}`. Pass the dataset folder instead, or `layout="auto"`'
            )
        return _with_masks(_glob_dataset(root, suffixes, group=layout == "auto"), mask, write_mask)
    if not Path(root).is_dir():
        what = "does not exist" if not os.path.lexists(root) else "is not a folder"
        raise ValueError(f"{root} {what}; pass the dataset root (or a glob of images in quotes).")
    problem = unreadable(Path(root))
    if problem:
        raise ValueError(f"{problem[0]}; {problem[1]}.")
    reader = REGISTRY[detect_layout(root, suffixes) if layout == "auto" else layout]
    root = Path(root)
    samples, notes = reader.read(root, suffixes)
    notes += _own_named(root, suffixes)
    if not samples:
        why = f" ({notes[0]}{' ...' if len(notes) > 1 else ''})" if notes else ""
        raise ValueError(
            f"found no {reader.title} samples in {root}{why}; check the path, or pass another `layout=` "
            '(or `layout="auto"`, to detect it).'
        )
    notes += [f"{s.name}: {w}" for s in samples for w in s.warnings]
    list_files = _list_files(root, root, out_root) if reader.list_files else []
    notes += [item.note for item in list_files if item.note]
    return _with_masks(Dataset(root, reader.name, samples, list_files, notes, title=reader.title), mask, write_mask)


def _own_named(root, suffixes):
    """A note for images and folders of ``root`` named like pixscale's temporary files: skipped, never read."""
    found = sorted(
        printable(p.name)
        for p in root.iterdir()
        if is_temporary(p.name) and p.name not in (LOCK, STOP) and (p.is_dir() or _is_image(p, suffixes))
    )
    if not found:
        return []
    return [
        f"{some_names(found)}: named like pixscale's own temporary files "
        "(.pixscale-*, .NAME.xxxx.part), which a run removes from OUT_DIR, so not read; rename them to have "
        "them processed"
    ]
