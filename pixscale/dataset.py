"""Finding the views of a dataset: the layouts pixscale reads.

* ``gslrm`` (FaceLift GS-LRM): ``ROOT/<sample>/opencv_cameras.json`` whose
  ``frames`` name the views by ``file_path`` (e.g. ``images/cam_000.png``).
* ``mvdiffusion`` (FaceLift MVDiffusion): ``ROOT/<sample>/cam_000.png ...``.
* ``flat``: a folder, or a glob pattern, of RGBA images; each image is its own
  sample.

List files ``ROOT/*.txt`` that list sample folders are found too, so a run can
rewrite them to point at its output.
"""

import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

LAYOUTS = ("auto", "gslrm", "mvdiffusion", "flat")
CAMERAS = "opencv_cameras.json"
IMAGE_SUFFIXES = (".png", ".PNG")


@dataclass
class View:
    """One image of a sample: its file and its path relative to the sample folder."""

    path: Path
    rel: str
    frame: int | None = None  # index into the sample's camera frames (gslrm)


@dataclass
class Sample:
    """A group of views that share a folder (and, for gslrm, a cameras file)."""

    name: str
    rel_dir: str  # folder relative to the dataset root ("" for flat samples)
    views: list = field(default_factory=list)
    cameras: dict | None = None
    error: str | None = None  # set when the sample as a whole cannot be read


@dataclass
class Dataset:
    """The samples found under a root, in sorted order, and the list files beside them."""

    root: Path
    layout: str
    samples: list
    list_files: list = field(default_factory=list)

    @property
    def n_views(self):
        return sum(len(s.views) for s in self.samples)


def _is_glob(text):
    return any(ch in os.fspath(text) for ch in "*?[")


def detect_layout(root):
    """Return "gslrm", "mvdiffusion" or "flat" for a dataset root (or a glob: "flat")."""
    if _is_glob(root):
        return "flat"
    root = Path(root)
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    if any((p / CAMERAS).is_file() for p in subdirs):
        return "gslrm"
    if any(next(p.glob("cam_*.png"), None) for p in subdirs):
        return "mvdiffusion"
    if any(p.suffix in IMAGE_SUFFIXES for p in root.iterdir() if p.is_file()):
        return "flat"
    raise ValueError(
        f"found no images in {root}: expected <sample>/{CAMERAS} (GS-LRM), <sample>/cam_*.png "
        "(MVDiffusion) or *.png files (flat). Check the path, or pass --layout."
    )


def _inside(base, rel):
    """True when the relative path ``rel`` stays inside ``base``."""
    if os.path.isabs(rel):
        return False
    base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(base, rel))
    return os.path.commonpath([base, target]) == base


def _gslrm_sample(folder, name):
    sample = Sample(name=name, rel_dir=name)
    try:
        with open(folder / CAMERAS, encoding="utf-8") as f:
            cameras = json.load(f)
        frames = cameras["frames"]
        if not isinstance(frames, list):
            raise TypeError("'frames' is not a list")
    except Exception as exc:
        sample.error = f"{folder / CAMERAS}: cannot be read as GS-LRM cameras ({type(exc).__name__}: {exc})"
        return sample
    sample.cameras = cameras
    for i, frame in enumerate(frames):
        rel = frame.get("file_path") if isinstance(frame, dict) else None
        view = View(path=folder / str(rel), rel=str(rel), frame=i)
        if not isinstance(rel, str) or not _inside(folder, rel):
            view.path = None  # rejected: reported by the pipeline
        sample.views.append(view)
    return sample


def discover(root, *, layout="auto"):
    """Find the samples and views of a dataset.

    Parameters
    ----------
    root : path or str
        The dataset folder, or (flat layout) a glob pattern of images.
    layout : {"auto", "gslrm", "mvdiffusion", "flat"}

    Returns
    -------
    Dataset
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    if not _is_glob(root) and not Path(root).is_dir():
        raise ValueError(f"{root} is not a folder; pass the dataset root (or a glob of images in quotes).")
    if layout == "auto":
        layout = detect_layout(root)
    if _is_glob(root):
        files = sorted(Path(p) for p in glob.glob(os.fspath(root)) if Path(p).suffix in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"the pattern {root} matches no PNG files")
        base = Path(os.path.commonpath([str(p.parent) for p in files]))
        samples = [Sample(name=p.stem, rel_dir="", views=[View(p, str(p.relative_to(base)))]) for p in files]
        return Dataset(base, "flat", samples)
    root = Path(root)
    samples = []
    if layout == "flat":
        for p in sorted(root.iterdir()):
            if p.is_file() and p.suffix in IMAGE_SUFFIXES:
                samples.append(Sample(name=p.stem, rel_dir="", views=[View(p, p.name)]))
    else:
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if layout == "gslrm":
                if (folder / CAMERAS).is_file():
                    samples.append(_gslrm_sample(folder, folder.name))
            else:
                views = [View(p, p.name) for p in sorted(folder.glob("cam_*.png"))]
                if views:
                    samples.append(Sample(name=folder.name, rel_dir=folder.name, views=views))
    list_files = sorted(root.glob("*.txt")) if layout != "flat" else []
    return Dataset(root, layout, samples, list_files)


def rewrite_list_file(text, in_root, out_root):
    """Point every line of a list file that names a folder under ``in_root`` at ``out_root``.

    Absolute lines stay absolute; relative lines are taken relative to
    ``in_root`` (kept as they are, since the output has the same tree) or to
    the working directory.  Other lines are kept unchanged.
    """
    in_root, out_root = Path(in_root).resolve(), Path(out_root).resolve()
    lines = []
    for line in text.splitlines():
        entry = line.strip()
        path = Path(entry)
        new = line
        if entry and path.is_absolute():
            resolved = path.resolve()
            if resolved == in_root or in_root in resolved.parents:
                new = str(out_root / resolved.relative_to(in_root))
        elif entry and not (in_root / entry).exists() and Path(entry).resolve().is_relative_to(in_root):
            rel = Path(entry).resolve().relative_to(in_root)
            new = os.path.relpath(out_root / rel)
        lines.append(new)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
