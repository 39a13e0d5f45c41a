"""The layouts pixscale reads, one registered reader each (:data:`REGISTRY`, in imageio's plugin spirit).

Each :class:`Layout` says whether a dataset root is one of its kind
(``matches``; detection tries them in the table's order), reads the samples of
a root (``read``) and names the camera file its samples carry (``cameras``),
which a run writes back for its output.  A new layout is one class and one
entry in the table.

* ``gslrm`` (FaceLift GS-LRM): ``ROOT/<sample>/opencv_cameras.json`` whose
  ``frames`` name the views by ``file_path`` (e.g. ``images/cam_000.png``).
  A folder that itself holds ``opencv_cameras.json`` is one GS-LRM sample.
* ``mvdiffusion`` (FaceLift MVDiffusion): ``ROOT/<sample>/cam_000.png ...``.
* ``flat``: a folder, or a glob pattern, of RGBA images; each image is its own
  sample.  A glob's images that lie in GS-LRM sample folders (``images/``
  beside ``opencv_cameras.json``) are grouped by sample and keep their
  cameras, as if the sample folders had been given.
* ``co3d`` (CO3D-style sequences, no cameras): ``ROOT/<sample>/images/*``,
  typically JPEG beside ``ROOT/<sample>/masks/*.png`` read with a mask
  template; a folder that itself holds ``images/`` is one sample.

Everything that can be wrong with the tree itself (missing cameras, bad
frames, undecodable names, unreadable list files) is found here, before any
view is read, and recorded on the sample or the dataset instead of raised.
"""

import json
import os
import posixpath
import stat

from .._validate import real_number as _number
from .dataset import (
    CAMERAS,
    IMAGE_SUFFIX,
    IMAGES,
    INTRINSICS,
    OTHER_IMAGE_SUFFIXES,
    REPORT_DIR,
    Sample,
    View,
    _bad_name,
    _entries,
    _is_image,
    printable,
    some_names,
)
from .files import json_ready, os_problem

# --- the registry ------------------------------------------------------------------------------


class Scan:
    """A dataset root as the layouts look at it: its folders, each checked for readability once."""

    def __init__(self, root):
        self.root = root
        self.problems = {}  # folder -> (problem, fix) when it cannot be read, or None

    def folders(self):
        """The readable folders of the root, lazily (a folder that cannot be read tells nothing of the layout)."""
        for p in (p for p in _entries(self.root) if p.is_dir()):
            if p not in self.problems:
                self.problems[p] = unreadable(p)
            if self.problems[p] is None:
                yield p


class Layout:
    """A way a dataset lies in a folder: how to tell it, how to read its samples, and its cameras.

    A layout is registered in :data:`REGISTRY` under its ``name``; ``title`` names it in
    messages, ``example`` shows its files (for a message that found none), ``cameras`` is the
    camera file each sample carries (FaceLift's OpenCV cameras, which a run writes back for its
    output), or None, and ``list_files`` says whether ``ROOT/*.txt`` may list its samples.
    """

    name = ""
    title = ""
    example = ""
    cameras: str | None = None
    list_files = True

    def matches(self, scan, suffixes):
        """Whether the root of ``scan`` (a :class:`Scan`) holds views of this layout."""
        raise NotImplementedError

    def read(self, root, suffixes):
        """``(samples, notes)``: the samples of ``root`` in this layout, and what was skipped, in words."""
        raise NotImplementedError


class FolderLayout(Layout):
    """A layout whose samples are the folders of the root (or the root itself: :meth:`root_sample`)."""

    def root_sample(self, root, suffixes):
        """``(sample, notes)`` when ``root`` itself is one sample of this layout; else None."""
        return None

    def folder_sample(self, folder, rel_dir, suffixes):
        """``(sample, notes)`` of one folder of the root; the sample is None when it is not one (a note says why)."""
        raise NotImplementedError

    def read(self, root, suffixes):
        one = self.root_sample(root, suffixes)
        if one is not None:
            return [one[0]], one[1]
        samples, notes = [], []
        for folder in (p for p in _entries(root) if p.is_dir()):
            rel_dir = folder.name
            if rel_dir == REPORT_DIR and (folder / "report.json").is_file():
                notes.append(f"{rel_dir}/: a pixscale report, not a sample; skipped")
                continue
            bad = _bad_name(rel_dir)
            if bad:
                samples.append(Sample(name=printable(rel_dir), rel_dir=printable(rel_dir), error=bad))
                continue
            problem = unreadable(folder)
            if problem and rel_dir == "lost+found":
                notes.append(f"{rel_dir}/: a file system's recovery folder that cannot be read ({problem[0]}); skipped")
                continue
            if problem:  # that sample fails, by name; the others run
                error = f"{problem[0]}; {problem[1]}, or move the folder out of IN_DIR"
                samples.append(Sample(name=rel_dir, rel_dir=rel_dir, error=error))
                continue
            sample, found = self.folder_sample(folder, rel_dir, suffixes)
            notes += found
            if sample is not None:
                samples.append(sample)
        return samples, notes


class GSLRM(FolderLayout):
    """FaceLift GS-LRM: ``<sample>/opencv_cameras.json`` whose frames name the views."""

    name, title, example, cameras = "gslrm", "GS-LRM", f"<sample>/{CAMERAS}", CAMERAS

    def matches(self, scan, suffixes):
        return (scan.root / CAMERAS).is_file() or any((p / CAMERAS).is_file() for p in scan.folders())

    def root_sample(self, root, suffixes):
        if not (root / CAMERAS).is_file():
            return None
        return _gslrm_sample(root, "", root.resolve().name or ".", suffixes), []

    def folder_sample(self, folder, rel_dir, suffixes):
        if (folder / CAMERAS).is_file():
            return _gslrm_sample(folder, rel_dir, rel_dir, suffixes), []
        if any(_is_image(p, suffixes) for d in (folder, folder / "images") if d.is_dir() for p in d.iterdir()):
            error = (
                f"no {CAMERAS} in this sample folder (other samples have one), so its cameras cannot "
                "follow its images; restore the file, or move the folder out of IN_DIR"
            )
            return Sample(name=rel_dir, rel_dir=rel_dir, error=error), []
        return None, [f"{rel_dir}/: no {CAMERAS} and no images; not a sample, skipped"]


class MVDiffusion(FolderLayout):
    """FaceLift MVDiffusion: ``<sample>/cam_000.png ...``."""

    name, title, example = "mvdiffusion", "MVDiffusion", "<sample>/cam_*.png"

    def matches(self, scan, suffixes):
        return any(
            _is_image(f, suffixes) and f.name.lower().startswith("cam_") for p in scan.folders() for f in p.iterdir()
        )

    def folder_sample(self, folder, rel_dir, suffixes):
        sample = _mvdiffusion_sample(folder, rel_dir, suffixes)
        if sample.views:
            return sample, []
        others = sorted({p.suffix.lower() for p in folder.iterdir() if p.suffix.lower() in OTHER_IMAGE_SUFFIXES})
        note = (
            f"{rel_dir}/: holds {', '.join(others)} images but no cam_*.png; pixscale reads PNG images "
            "with an alpha channel, so they were not used (convert them to RGBA PNG, or give "
            "their mask files: `mask=`)"
            if others
            else f"{rel_dir}/: no cam_*.png images; not a sample, skipped"
        )
        return None, [note]


class Flat(Layout):
    """A folder of images, each its own sample (a glob pattern of images is read as one, see :func:`discover`)."""

    name, title, example, list_files = "flat", "flat", "*.png files", False

    def matches(self, scan, suffixes):
        return any(_is_image(p, suffixes) for p in _entries(scan.root) if p.is_file())

    def read(self, root, suffixes):
        samples, skipped = [], 0
        for p in _entries(root):
            if _is_image(p, suffixes):
                samples.append(_flat_sample(p, p.name))
            elif p.suffix.lower() in OTHER_IMAGE_SUFFIXES:
                skipped += 1
        notes = [
            f"{skipped} non-PNG image file(s) were not used: pixscale reads PNG images with an alpha "
            "channel (give mask files, `mask=`, to read JPEG)"
        ]
        return samples, notes if skipped else []


class CO3D(FolderLayout):
    """CO3D-style sequences, no cameras: ``<sample>/images/*`` (often JPEG, read with ``masks/``)."""

    name, title, example = "co3d", "CO3D-style", f"<sample>/{IMAGES}/*.png"

    def matches(self, scan, suffixes):
        return any(_holds_images(d / IMAGES, suffixes) for d in [scan.root, *scan.folders()])

    def root_sample(self, root, suffixes):
        if not (root / IMAGES).is_dir():
            return None
        return _co3d_sample(root, "", root.resolve().name or ".", suffixes), _co3d_skipped(
            root / IMAGES, IMAGES, suffixes
        )

    def folder_sample(self, folder, rel_dir, suffixes):
        sample = _co3d_sample(folder, rel_dir, rel_dir, suffixes)
        notes = _co3d_skipped(folder / IMAGES, f"{rel_dir}/{IMAGES}", suffixes)
        if sample.views:
            return sample, notes
        if not (folder / IMAGES).is_dir():
            notes.append(f"{rel_dir}/: no {IMAGES}/ folder; not a sample, skipped")
        return None, notes


# The layouts pixscale reads, by name, in the order detection tries them: the first that matches wins.
REGISTRY = {layout.name: layout for layout in (GSLRM(), MVDiffusion(), Flat(), CO3D())}
LAYOUTS = ("auto", *REGISTRY)


# --- reading samples ----------------------------------------------------------------------------


def unreadable(folder):
    """``(problem, fix)`` when ``folder`` (it, its cameras, its ``images/``) cannot be read (:func:`os_problem`).

    None when it can.
    """
    try:
        names = os.listdir(folder)
        for sub in (CAMERAS, IMAGES):
            try:
                st = os.stat(folder / sub)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                inner = os.listdir(folder / sub)
                if inner:
                    os.lstat(folder / sub / inner[0])
            elif stat.S_ISREG(st.st_mode):
                os.close(os.open(folder / sub, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
        if names:
            os.lstat(folder / names[0])
    except OSError as exc:
        if exc.filename is None:
            exc = OSError(exc.errno, exc.strerror or str(exc), os.fspath(folder))
        return os_problem(exc, reading=True)
    return None


def _holds_images(folder, suffixes):
    return folder.is_dir() and any(p.is_file() and _is_image(p, suffixes) for p in _entries(folder))


def _shown(value, limit=40):
    """``value`` as JSON for a message, cut to ``limit`` characters (a 400-digit literal stays short)."""
    text = json.dumps(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...({len(text)} characters)"


def hold_cameras(sample, cameras):
    """Keep ``cameras`` on ``sample`` as strict JSON: NaN and infinities become null, with a warning naming them."""
    found: list[str] = []
    sample.cameras = json_ready(cameras, found=found)
    if found:
        sample.warnings.append(
            f"{CAMERAS} holds NaN or infinite numbers, which strict JSON cannot hold: "
            + some_names(found)
            + "; they are written as null in the output cameras (a frame whose intrinsics are among them fails)"
        )


def _frame_error(i, frame):
    """Why camera frame ``i`` cannot be used, or None."""
    if not isinstance(frame, dict):
        return f"camera frame {i} is not a JSON object (got {type(frame).__name__}); fix {CAMERAS}"
    rel = frame.get("file_path")
    if not isinstance(rel, str) or not rel:
        return f"camera frame {i} has no file_path naming its image; fix {CAMERAS}"
    if "\0" in rel:
        return f"camera frame {i}'s file_path holds a NUL byte; fix {CAMERAS}"
    for key in INTRINSICS:
        if key not in frame:
            return f"camera frame {i} has no {key!r}; fix {CAMERAS}"
        if not _number(frame[key]):
            return f"camera frame {i}'s {key} is {_shown(frame[key])}, not a finite number; fix {CAMERAS}"
    for key in ("fx", "fy"):
        if frame[key] == 0:  # a negative one is a flipped image axis: legal in a pinhole model, carried through
            return (
                f"camera frame {i}'s {key} is {_shown(frame[key])}: a focal length of zero is a degenerate "
                f"camera; fix {CAMERAS}"
            )
    for key in ("w", "h"):
        if key in frame and not (_number(frame[key]) and frame[key] > 0):
            return f"camera frame {i}'s {key} is {_shown(frame[key])}, not a positive number; fix {CAMERAS}"
    return None


def _inside(base, rel):
    """``(norm, error)``: ``rel`` normalised with ``/`` separators, or why it cannot name a view of ``base``."""
    if "\\" in rel:
        return None, f"file_path {rel!r} uses backslashes; write it with / separators"
    norm = posixpath.normpath(rel)
    if os.path.isabs(rel) or norm in (".", "..") or norm.startswith("../"):
        return None, f"file_path {rel!r} points outside its sample folder; it was not read"
    real_base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(real_base, norm))
    if os.path.commonpath([real_base, target]) != real_base:
        return norm, f"{norm} leads outside its sample folder through a symlink (to {target}); it was not read"
    return norm, None


def _join(*parts):
    return posixpath.join(*[p for p in parts if p])


def _gslrm_sample(folder, rel_dir, name, suffixes=(IMAGE_SUFFIX,)):
    sample = Sample(name=name, rel_dir=rel_dir, sources=[folder / CAMERAS])
    try:
        with open(folder / CAMERAS, "rb") as f:
            cameras = json.loads(f.read().decode("utf-8"))
        frames = cameras["frames"] if isinstance(cameras, dict) else None
        if not isinstance(frames, list):
            raise ValueError("it has no 'frames' list")
    except Exception as exc:
        sample.error = (
            f"{CAMERAS} cannot be read as GS-LRM cameras ({type(exc).__name__}: {exc}); fix or restore the file"
        )
        return sample
    if not frames:
        sample.error = f"{CAMERAS} lists no camera frames, so none of its images can be used; fix or restore it"
        return sample
    sample.cameras = cameras
    named: dict[str, int] = {}
    for i, frame in enumerate(frames):
        error = _frame_error(i, frame)
        path = frame.get("file_path") if isinstance(frame, dict) else None
        rel = path if isinstance(path, str) else ""
        rel = rel.replace("\0", "\\0")
        norm = None
        if error is None:
            norm, error = _inside(folder, rel)
        if error is None:
            error = _bad_name(norm)
        if error is None and not os.path.lexists(folder / norm):
            error = (
                f"camera frame {i} names {norm}, which is not in the sample (the file does not exist); "
                f"fix {CAMERAS} or restore the image"
            )
        if error is None:
            if norm in named:
                error = f"camera frames {named[norm]} and {i} both name {norm}; each image needs its own frame"
        key = _join(rel_dir, norm or f"<frame {i}>")
        view = View(path=None if error else folder / norm, rel=norm or rel, key=key, frame=i, error=error)
        if error is None and norm is not None:
            named[norm] = i
            sample.sources.append(view.path)
        sample.views.append(view)
    unused = []
    for sub in ("images", "."):
        d = folder / sub
        try:
            if d.is_dir():
                unused += [
                    _join("" if sub == "." else sub, p.name)
                    for p in _entries(d)
                    if p.is_file() and _is_image(p, suffixes) and _join("" if sub == "." else sub, p.name) not in named
                ]
        except OSError:  # a folder that cannot be listed: its views fail when they are read
            continue
    hold_cameras(sample, cameras)
    if unused:
        sample.warnings.append(
            f"{len(unused)} image(s) not named by any camera frame were not used: " + some_names(sorted(unused))
        )
    return sample


def _flat_sample(path, key):
    bad = _bad_name(key)
    if bad:
        return Sample(name=printable(key), rel_dir="", error=bad)
    return Sample(name=key, rel_dir="", views=[View(path, key, key)], sources=[path])


def _mvdiffusion_sample(folder, rel_dir, suffixes=(IMAGE_SUFFIX,)):
    views = [
        View(p, p.name, _join(rel_dir, p.name))
        for p in _entries(folder)
        if _is_image(p, suffixes) and p.name.lower().startswith("cam_")
    ]
    for v in views:
        v.error = _bad_name(v.key)
        if v.error:
            v.key, v.rel, v.path = printable(v.key), printable(v.rel), None
    return Sample(name=rel_dir, rel_dir=rel_dir, views=views, sources=[v.path for v in views if v.path])


def _co3d_sample(folder, rel_dir, name, suffixes=(IMAGE_SUFFIX,)):
    """The views of ``folder/images`` (a CO3D-style sequence): one sample, no cameras."""
    views = [
        View(p, _join(IMAGES, p.name), _join(rel_dir, IMAGES, p.name))
        for p in _entries(folder / IMAGES)
        if p.is_file() and _is_image(p, suffixes)
    ]
    for v in views:
        v.error = _bad_name(v.key)
        if v.error:
            v.key, v.rel, v.path = printable(v.key), printable(v.rel), None
    return Sample(name=name, rel_dir=rel_dir, views=views, sources=[v.path for v in views if v.path])


def _co3d_skipped(folder, where, suffixes):
    """A note for image files of ``folder`` that are not read (JPEG without masks, other formats)."""
    if not folder.is_dir():
        return []
    kinds = sorted({p.suffix.lower() for p in folder.iterdir() if p.suffix.lower() in OTHER_IMAGE_SUFFIXES})
    kinds = [k for k in kinds if k not in suffixes]
    if not kinds:
        return []
    how = (
        "give their mask files, e.g. `mask='../masks/{stem}.png'`"
        if suffixes == (IMAGE_SUFFIX,)
        else "convert them to PNG or JPEG"
    )
    return [f"{where}/: holds {'/'.join(kinds)} images that were not used; {how}"]
