"""The output folder of a run: its checks against the input, its lock, the planted-file refusal,
opening it (new or resumed), sweeping temporary files, and what the coordinator writes last: the
list files and the report (reading the written views back through no link)."""

import errno
import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from .._version import __version__
from .dataset import LOCK, MANIFEST, REPORT_DIR, STOP, is_glob, is_temporary
from .files import NO_FOLLOW, LinkError, atomic_write_text, file_kind, open_folder, open_own_file
from .manifest import completed_samples, read_manifest
from .records import ViewRecord
from .store import Store, is_url

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
    ids: dict[tuple, str] = {}
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


def refuse_overlap(name, path, in_dir, src, holds=True):
    """Refuse a folder ``path`` that is, lies in or (``holds``) holds the input; ``name`` says what it is.

    ``name`` is what the messages call the folder, path included: ``OUT_DIR
    /x`` or :func:`report_dir_name`.

    Folders are compared by device and inode, not by name, so a bind mount, a
    symlink or another path to the same folder is seen for what it is.
    """
    ids = _ancestor_ids(path)
    found, matched = _find_folder(src, ids, _identity(nearest_existing(path)))
    if found is not None:
        alias = ""
        if os.path.realpath(found) != os.path.realpath(matched):
            alias = f" (it is {found} there, under another path: a bind mount or a link)"
        raise ValueError(
            f"{name} is inside IN_DIR {in_dir}{alias}; the input is never written to, "
            "choose a folder outside the input."
        )
    if holds and os.path.isdir(path):
        found, _ = _find_folder(path, _ancestor_ids(src), _identity(src))
        if found is not None:
            raise ValueError(
                f"{name} holds IN_DIR {in_dir} (as {found}); outputs would mix with the input, "
                "choose a folder outside the input."
            )


def report_dir_name(path):
    """The report folder as messages name it: the option that chose it, then the folder."""
    return f"`report_dir=` {os.fspath(path)}"


def check_folders(in_dir, out_dir, dataset=None, report_dir=None):
    """Refuse an output (or report) folder that is, lies in or holds the input tree (or holds an input file)."""
    src = Path(dataset.root if dataset is not None else in_dir).resolve()
    if report_dir:
        refuse_overlap(report_dir_name(report_dir), report_dir, in_dir, src)
    refuse_overlap(f"OUT_DIR {out_dir}", out_dir, in_dir, src)
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


class Lock:
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


def input_identity(in_dir, dataset):
    return os.fspath(in_dir) if is_glob(in_dir) else str(Path(dataset.root).resolve())


def open_output(out_dir, params, input_id, resume):
    """Create or reopen OUT_DIR under an exclusive lock; return (lock, manifest path, completed samples)."""
    manifest = out_dir / MANIFEST
    _refuse_planted(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"OUT_DIR {out_dir} is a file; choose a folder.")
    fresh = not out_dir.exists() or _holds_only_own_files(out_dir)
    if not fresh and not manifest.exists():
        raise ValueError(f"{out_dir} is not empty and holds no pixscale run; choose an empty or new OUT_DIR.")
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = Lock(out_dir)
    try:
        done = {}
        if manifest.exists() and completed_samples(manifest) == 0:
            manifest.unlink()  # a run killed before it completed any sample: start over
        if manifest.exists():
            if not resume:
                raise ValueError(
                    f"{out_dir} holds an earlier pixscale run; pass `resume=True` to finish it, or choose a new "
                    "OUT_DIR."
                )
            done = read_manifest(manifest, params, input_id)
        sweep_temporary(out_dir)  # of an interrupted run
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


def nearest_existing(path):
    """``path``, or its nearest ancestor that exists (OUT_DIR may not exist yet)."""
    path = Path(path).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def unit_folders(samples):
    """The OUT_DIR folders (relative) that the units of ``samples`` write files into."""
    folders = {s.rel_dir or "" for s in samples}  # the cameras
    for s in samples:
        for v in s.views:
            folders.update(os.path.dirname(k) for k in (v.out_key, v.mask_out_key) if k)
    return folders


def sweep_temporary(out_dir, folders=None):
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


class Written(os.PathLike):
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
        return f"Written({self.root!r}, {self.key!r})"


def write_list_files(dataset, out_dir):
    """Write the rewritten list files; return the failure records of those that could not be written."""
    rows = []
    for item in dataset.list_files:
        if item.error is None:
            try:
                atomic_write_text(Path(out_dir) / item.name, item.text, root=out_dir)
                continue
            except OSError as exc:
                item.error = f"list file {item.name} was not written: {exc}"
        rows.append(ViewRecord.failed("", item.name, item.error))
    return rows


class _Sources(Mapping):
    """``{view key: (before, after) files}`` of a dataset's views, made when asked: a run's views are not listed twice.

    :meth:`of_samples` gives the plain dict of some samples' views (what the
    contact sheet draws).
    """

    def __init__(self, samples, files, names=None):
        self._samples, self._files, self._names = samples, files, names

    def _views(self):
        for s in self._samples:
            if self._names is None or s.name in self._names:
                yield from (v for v in s.views if v.path is not None)

    def __getitem__(self, key):
        for v in self._views():
            if v.key == key:
                return self._files(v)
        raise KeyError(key)

    def __iter__(self):
        return (v.key for v in self._views())

    def __len__(self):
        return sum(1 for _ in self._views())

    def __bool__(self):
        return any(True for _ in self._views())

    def of_samples(self, names):
        return {v.key: self._files(v) for v in _Sources(self._samples, self._files, set(names))._views()}


def write_run_report(dataset, records, out_dir, report_dir, opts, in_dir, plots, spell=None, progress=None):
    """Write the report of the records; return the failure record when it cannot be written."""
    from ..report import summary as report
    from ..report.rowtext import Sections
    from ..report.text import same

    store = out_dir if isinstance(out_dir, Store) else None  # a run on an object store: report_dir is local
    report_dir = Path(report_dir) if report_dir else Path(out_dir) / REPORT_DIR
    out = Path(out_dir) if store is None else report_dir

    def files(v):  # (before, after) as the figures read them: a file, or a (colour, mask) pair
        before = v.path if v.mask is None else (v.path, v.mask)
        written_pair = opts.write_mask and v.mask is not None and v.mask_key is not None
        mine = store.object(v.out_key) if store else Written(out, v.out_key)  # no link below OUT_DIR is followed
        after = (mine, Written(out, v.mask_out_key)) if written_pair else mine
        return before, after

    sources = _Sources(dataset.samples, files)
    meta = {
        "pixscale_version": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": in_dir if is_url(in_dir) else os.path.abspath(in_dir),
        "output": store.url if store else os.path.abspath(out_dir),
        "layout": dataset.layout,
        "views": dataset.n_views,
        "parameters": opts.params(),
    }
    try:
        root = out if report_dir == out / REPORT_DIR else report_dir  # no link below OUT_DIR is followed
        # One pass over the rows (read back from the manifest): the rows file, the numbers and figures' views,
        # and report.json's views and report.md's lines (held aside until the summary is known).
        sections = Sections(spell or same)
        try:
            views = report.write_rows(
                report_dir / report.ROWS,
                records,
                target=opts.image.target,
                options=opts.params(),
                root=root,
                sections=sections,
            )
            report.write_report(
                report_dir,
                report.summary_of(views),
                records,
                sources=sources,
                meta=meta,
                plots=plots,
                root=root,
                spell=spell,
                progress=progress,
                views=views,
                rows=report_dir / report.ROWS,
                sections=sections,
            )
        finally:
            sections.discard()
    except (OSError, ValueError) as exc:
        # Said once, by whoever reads the rows (the command prints it): the library prints nothing here.
        why = f"the report could not be written to {report_dir}: {exc}"
        return [ViewRecord.failed("", REPORT_DIR, why, retry=True)]
    return []
