"""A dataset's views and samples, the names pixscale gives its own files, and list files.

A view's identity is its path relative to the dataset root (``View.key``, with
``/`` separators): the output file is ``OUT_DIR/<key>``, and the manifest and
the report name the view by it.  Names are checked here (valid UTF-8, not one
of pixscale's own), and made safe to print (:func:`printable`,
:func:`for_terminal`).  The mask files of a mask template are attached to the
views here (:func:`_with_masks`).

List files ``ROOT/*.txt`` that list sample folders are read here too, so a run
can rewrite them to point at its output.
"""

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

CAMERAS = "opencv_cameras.json"
IMAGES = "images"  # a CO3D-style sample's image folder
MASKS = "masks"  # and where its masks usually are
IMAGE_SUFFIX = ".png"
MASKED_SUFFIXES = (".png", ".jpg", ".jpeg")  # views read with a separate mask (`mask=`)
OTHER_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".exr")
# pixscale's own files in an output folder: never views, never samples.
MANIFEST = "pixscale-manifest.jsonl"
REPORT_DIR = "pixscale-report"
MANIFEST_CHUNKS = "pixscale-manifest"  # on an object store, the manifest: a chunk object per commit
LOCK = ".pixscale-lock"
STOP = ".pixscale-stop"  # a run's stop request, seen by every worker
RESERVED = (MANIFEST, REPORT_DIR, LOCK)
INTRINSICS = ("fx", "fy", "cx", "cy")


@dataclass
class View:
    """One image of a sample.

    ``rel`` is the path as the sample names it (a camera frame's
    ``file_path``, or the file name), ``key`` the path relative to the
    dataset root that identifies the view and places its output, ``path`` the
    file to read (None when the view was rejected, with ``error`` saying why).
    """

    path: Path | None
    rel: str
    key: str
    frame: int | None = None  # index into the sample's camera frames (gslrm)
    error: str | None = None
    mask: Path | None = None  # the object mask file (`mask=`), or None: the image's own alpha
    mask_key: str | None = None  # the mask's path relative to the root (for `write_mask=True`)

    @property
    def out_key(self):
        """Where the output goes, relative to OUT_DIR: ``key``, as a PNG when read with a mask."""
        return self.key if self.mask is None else str(Path(self.key).with_suffix(".png").as_posix())

    @property
    def mask_out_key(self):
        """Where ``write_mask=True`` writes the mask, relative to OUT_DIR: ``mask_key`` as a PNG (its content)."""
        return None if self.mask_key is None else str(Path(self.mask_key).with_suffix(".png").as_posix())

    @property
    def out_rel(self):
        """``rel`` of the output (a camera frame's new ``file_path``)."""
        return self.rel if self.mask is None else str(Path(self.rel).with_suffix(".png").as_posix())


@dataclass
class Sample:
    """A group of views that share a folder (and, for gslrm, a cameras file).

    ``name`` identifies the sample (its folder relative to the root; for flat
    layouts the view's key).  ``error`` is set when the sample as a whole
    cannot be used; ``warnings`` lists what was odd but not fatal.
    """

    name: str
    rel_dir: str  # folder relative to the dataset root ("" for flat samples and a root sample)
    views: list = field(default_factory=list)
    cameras: dict | None = None
    error: str | None = None
    warnings: list = field(default_factory=list)
    sources: list = field(default_factory=list)  # every input file the sample's output depends on


@dataclass
class ListFile:
    """A list file of the root: its name and the rewritten text, or why it cannot be rewritten."""

    name: str
    text: str | None = None
    error: str | None = None
    note: str | None = None  # e.g. a .txt that names nothing of the dataset: copied unchanged


@dataclass
class Dataset:
    """The samples found under a root, in sorted order, and the list files beside them."""

    root: Path
    layout: str
    samples: list
    list_files: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # things found and not used, said before a run starts
    title: str = ""  # the layout in words (its ``Layout.title``), e.g. "GS-LRM"

    @property
    def n_views(self):
        return sum(len(s.views) for s in self.samples)

    def describe(self):
        """One line: layout, samples and views, e.g. ``GS-LRM, 100 samples, 600 views``."""
        n = len(self.samples)
        return (
            f"{self.title or self.layout}, {n} sample{'s' * (n != 1)}, {self.n_views} view{'s' * (self.n_views != 1)}"
        )


def some_names(names, n=5):
    """The first ``n`` of ``names`` for a message, joined by commas, with `` ...`` when there are more."""
    names = list(names)
    return ", ".join(names[:n]) + (" ..." if len(names) > n else "")


def is_glob(text):
    """True when ``text`` is a glob pattern rather than an existing path."""
    text = os.fspath(text)
    return any(ch in text for ch in "*?[") and not os.path.exists(text)


def _is_image(p, suffixes=(IMAGE_SUFFIX,)):
    return p.suffix.lower() in suffixes


def _entries(folder):
    """The entries of ``folder``, sorted, without pixscale's own files."""
    return sorted(p for p in folder.iterdir() if not _own(p.name))


def is_temporary(name):
    """A name pixscale uses for a run's lock and temporary files (``.pixscale-*``, ``.NAME.xxxx.part``)."""
    return name == LOCK or name.startswith(".pixscale-") or (name[:1] == "." and name.endswith(".part"))


def _own(name):
    """pixscale's own bookkeeping files in an output tree: never views or samples."""
    return name == MANIFEST or is_temporary(name)


def _bad_name(rel):
    """Why a path relative to the root cannot name a view or sample, or None."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(rel)
        return f"its name is not valid UTF-8 ({raw!r}); rename it with UTF-8 characters"
    first = rel.split("/", 1)[0]
    if first in RESERVED:
        return f"{first!r} is a name pixscale uses for its own files in OUT_DIR; rename the folder"
    for part in rel.split("/"):
        if is_temporary(part):
            return (
                f"{part!r} is named like pixscale's own temporary files (.pixscale-*, .NAME.xxxx.part), which a "
                "run removes from OUT_DIR; rename it"
            )
    return None


# surrogates that are no escaped byte (surrogateescape uses U+DC80..U+DCFF only): a JSON "\\ud800"
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def printable(name):
    """``name`` safe to print and to write as JSON (valid UTF-8), the one sanitiser for names.

    Undecodable bytes of a file name (surrogate escapes) are shown as ``\\xNN``
    and a lone surrogate that is no escaped byte (a JSON ``"\\ud800"``) as
    ``\\ud800``; any other text is returned unchanged.  Control characters stay:
    :func:`for_terminal` escapes those too.
    """
    name = os.fsdecode(name)
    try:
        name.encode("utf-8")
        return name  # the common case: valid text
    except UnicodeEncodeError:
        pass
    name = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", name)
    return os.fsencode(name).decode("utf-8", "backslashreplace")


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\n\t"}


def for_terminal(text):
    """``text`` safe to write to a terminal: control characters (escape sequences, ``\\r``) shown as ``\\xNN``.

    A file name can hold any character but ``/`` and NUL; printed raw, an
    escape sequence in one could rewrite the screen.  Line feeds and tabs stay.
    """
    return printable(str(text)).translate(_CONTROL)


def _mask_problem(path):
    """Why the mask file ``path`` cannot be read (missing, a folder, not a regular file) and the fix, or None."""
    try:
        st = os.stat(path)  # follows symlinks: the file that would be read
    except FileNotFoundError:
        broken = " (a broken symlink)" if os.path.islink(path) else ""
        return f"is missing{broken}; add it or fix the template"
    except OSError as exc:
        return f"cannot be looked at ({exc.strerror or exc}); check the folder's permissions"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a mask file; fix the template"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a FIFO, socket or device, perhaps behind a symlink); put the mask file there"
    return None


def _with_masks(dataset, template, write_mask=False):
    """Give every view its mask file from ``template``; a missing or escaping mask fails its view.

    Files that are some view's mask are not views themselves, and two views
    that would write the same output (``a.jpg`` and ``a.png``) are refused.
    A template that makes every image its own mask, or makes an image that
    has a mask of its own another image's mask, is refused up front
    (ValueError); an image that is its own mask and no other's fails its view.
    """
    if not template:
        return dataset
    root = Path(dataset.root)
    views = [(s, v) for s in dataset.samples for v in s.views if v.path is not None]
    masks = {}  # real path of a mask -> the key of a view (not itself) that uses it
    own = []  # views whose template gives the image itself
    for sample, view in views:
        rel = os.path.normpath(os.path.join(os.path.dirname(view.key), template.replace("{stem}", view.path.stem)))
        path = root / rel
        problem = _mask_problem(path)
        if problem is not None:
            view.error = f"its mask {rel} (from `mask={template!r}`) {problem}"
        elif os.path.realpath(path) == os.path.realpath(view.path):
            own.append(view)
        else:  # a mask outside IN_DIR is read, but has no place in OUT_DIR (mask_key None)
            inside = not (rel.startswith("..") or os.path.isabs(rel))
            view.mask, view.mask_key = path, Path(rel).as_posix() if inside else None
            masks[os.path.realpath(path)] = view.key
            sample.sources.append(path)
    # An image that is its own mask is fine as another image's mask (a.png beside a.jpg); if no
    # image has a mask of its own the template is wrong, otherwise the one left fails its view.
    alone = [view for view in own if os.path.realpath(view.path) not in masks]
    if alone and not masks:
        raise ValueError(
            f"`mask={template!r}` makes each image its own mask ({alone[0].key} is the mask of "
            f"{alone[0].key}); give the path of the masks, relative to each image's folder, e.g. "
            "'../masks/{stem}.png' or '{stem}_mask.png'"
        )
    for view in alone:
        view.error = (
            f"the template `mask={template!r}` makes it its own mask, and it is no other image's mask "
            "(a mask whose image is missing?); add its image or its mask, or remove it"
        )
    for _, view in views:
        if view.mask is not None and os.path.realpath(view.path) in masks:
            raise ValueError(
                f"{view.key} is both an image (its mask is {view.mask_key or view.mask}) and the mask of "
                f"{masks[os.path.realpath(view.path)]} under `mask={template!r}`; keep masks and images apart "
                "(a masks folder or a name suffix, e.g. '../masks/{stem}.png' or '{stem}_mask.png')"
            )
    outputs: dict[str, str] = {}
    for sample in dataset.samples:
        kept = []
        for view in sample.views:
            if view.path is not None and os.path.realpath(view.path) in masks:
                continue  # it is a mask
            if view.error is None:
                written = [view.out_key] + ([view.mask_out_key] if write_mask and view.mask_key else [])
                clash = next((k for k in written if k in outputs), None)
                if clash is None and len(set(written)) < len(written):
                    clash = view.out_key
                if clash is not None:
                    owner = outputs.get(clash, view.key)
                    view.error = (
                        f"its output {clash} would overwrite "
                        + ("its own colour output" if owner == view.key else f"that of {owner}")
                        + "; rename the files, or use a mask template whose names differ from the images'"
                    )
                    view.path = None
                else:
                    outputs.update((k, view.key) for k in written)
            elif view.mask is None and view.path is not None:
                view.path = None
            kept.append(view)
        sample.views = kept
    dataset.samples = [s for s in dataset.samples if s.views or s.error]
    return dataset


def _list_files(root, in_root, out_root):
    found = []
    for p in sorted(root.glob("*.txt")):
        if not p.is_file():
            continue
        item = ListFile(p.name)
        try:
            data = p.read_bytes()
            if b"\0" in data:
                raise ValueError("it holds a NUL byte")
            text = data.decode("utf-8")
            item.text = rewrite_list_file(text, in_root, out_root) if out_root else None
            if text.strip() and not any(_dataset_path(line.strip(), in_root) for line in text.splitlines()):
                item.note = (
                    f"{p.name}: no line of it names a file or folder of the dataset, so it is not a list file; "
                    "copied unchanged"
                )
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            reason = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
            item.error = f"list file {p.name} was not rewritten: {reason}; fix it and rerun with `resume=True`"
        found.append(item)
    return found


def _dataset_path(entry, in_root):
    """Whether the line ``entry`` of a list file names an existing file or folder of the dataset ``in_root``."""
    if not entry or "\0" in entry:
        return False
    in_root = Path(in_root).resolve()
    try:
        for path in [Path(entry)] if Path(entry).is_absolute() else [in_root / entry, Path(entry)]:
            resolved = path.resolve()
            if resolved.exists() and (resolved == in_root or in_root in resolved.parents):
                return True
    except (OSError, ValueError, RuntimeError):  # a name too long, a symlink loop
        return False
    return False


def rewrite_list_file(text, in_root, out_root):
    """Point every line of a list file that names a folder under ``in_root`` at ``out_root``.

    Absolute lines stay absolute; relative lines are taken relative to
    ``in_root`` (kept as they are, since the output has the same tree) or to
    the working directory (if that path exists: a line of prose is no
    path).  Other lines are kept unchanged.
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
        elif (
            entry
            and not (in_root / entry).exists()
            and Path(entry).resolve().is_relative_to(in_root)
            and Path(entry).resolve().exists()
        ):
            rel = Path(entry).resolve().relative_to(in_root)
            new = os.path.relpath(out_root / rel)
        lines.append(new)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
