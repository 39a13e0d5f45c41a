"""Writing files safely: atomic writes, and folders and own files opened without following links.

Every file is written to a temporary name (``.NAME.XXXXXXXX.part``) in its
destination folder, created with ``O_EXCL`` and the process's umask, flushed to
disk and then atomically renamed, so an interrupted run never leaves a
half-written file under the final name.
"""

import errno
import json
import math
import os
import secrets
import stat

import numpy as np

_TEMP_NAME_BYTES = 150  # the part of the file name kept in a temporary name (NAME_MAX is 255)


def _temporary_file(folder, name, dir_fd=None):
    """Create and open a new ``.NAME.XXXXXXXX.part`` file in ``folder``; return (fd, path).

    With ``dir_fd`` (the open ``folder``), the returned path is the bare name, relative to it.
    """
    stem = name
    while len(os.fsencode(stem)) > _TEMP_NAME_BYTES:
        stem = stem[:-1]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = f".{stem}.{secrets.token_hex(4)}.part"
        try:  # 0o666 less the umask, as open(path, "w") gives
            if dir_fd is not None:
                return os.open(tmp, flags, 0o666, dir_fd=dir_fd), tmp
            tmp = os.path.join(folder, tmp)
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name after 100 tries")


# Writing below a root folder without following links needs these (POSIX); elsewhere paths are used.
NO_FOLLOW = hasattr(os, "O_NOFOLLOW") and {os.open, os.mkdir, os.rename, os.unlink, os.stat} <= os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


class LinkError(OSError):
    """An entry pixscale would write, read back or delete through is a link (or not what it wrote)."""

    def __init__(self, path, what="is a symbolic link"):
        super().__init__(
            errno.ELOOP,
            f"{path} {what}; pixscale never writes, reads back or deletes through what it did not "
            "create: remove it (or choose a new output folder)",
        )
        self.path = os.fspath(path)

    def __str__(self):
        return self.strerror


def file_kind(st):
    """What a non-regular entry is, in words."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if stat.S_ISFIFO(st.st_mode):
        return "is a FIFO (named pipe)"
    if stat.S_ISSOCK(st.st_mode):
        return "is a socket"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "is a device"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder"
    return "is not a regular file"


def open_folder(root, parts, *, create=False):
    """Open the folder ``root/parts[0]/parts[1]/...`` without following a link below ``root``.

    ``root`` itself is opened as given (links followed: it is the caller's
    choice); each part must be a real folder, created when missing if
    ``create``.  Returns a file descriptor; a link raises :class:`LinkError`.
    """
    fd = os.open(root, _DIR_FLAGS)
    path = os.fspath(root)
    try:
        for part in parts:
            path = os.path.join(path, part)
            if part in ("", ".", ".."):
                raise LinkError(path, "leaves the output folder")
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                new = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISDIR(st.st_mode):
                        what = file_kind(st)
                        raise LinkError(path, what if stat.S_ISLNK(st.st_mode) else what + ", not a folder") from None
                raise
            os.close(fd)
            fd = new
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_own_file(path, flags, mode=0o644):
    """Open a file pixscale keeps and writes in place (its lock, its manifest) without following a link.

    ``flags`` are ``os.open``'s; ``O_NOFOLLOW`` is added.  A link, anything
    but a regular file, or a file with other hard links (writing it in place
    would change those too) raises :class:`LinkError`.  Returns the descriptor.
    """
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EMLINK):
            raise
        raise LinkError(path, file_kind(os.lstat(path))) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        if stat.S_ISREG(st.st_mode):
            raise LinkError(path, f"has {st.st_nlink} hard links (writing it in place would change the others too)")
        raise LinkError(path, file_kind(st))
    return fd


def _parts_below(root, path):
    """The names leading from ``root`` to ``path`` (which must lie below it)."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    parts = rel.split(os.sep)
    if rel == "." or os.path.isabs(rel) or ".." in parts:
        raise LinkError(path, f"is not inside {root}")
    return parts


def _write_all(fd, data):
    """Write ``data``: bytes, or an iterable of bytes written one after another (a file streamed as it is made)."""
    for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
        view = memoryview(chunk).cast("B")
        while view:
            n = os.write(fd, view)
            if n <= 0:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            view = view[n:]


def _write_error(path, exc):
    """An OSError of ``exc``'s type whose message names ``path``, the cause and what to do (:func:`os_problem`).

    The cause is said of ``path``'s folder (of ``path`` itself when it is a
    folder) unless ``exc`` names another file by its full path (a folder on
    the way); a temporary file is never named.
    """
    code, named, kind = exc.errno, exc.filename, type(exc)
    # An EEXIST without a name is no free temporary name (not "path is no folder"): left unnamed.
    if code != errno.EEXIST and (named is None or not os.path.isabs(named) or _is_temporary(named)):
        where = path if code == errno.EISDIR else os.path.dirname(os.path.abspath(path))
        exc = OSError(code, exc.strerror or str(exc), os.fspath(where))
    problem, fix = os_problem(exc)
    again = "" if code in (errno.EROFS, errno.ENAMETOOLONG) else "; then rerun with `resume=True`"
    message = f"cannot write {path}: {problem}; {fix}{again}"
    try:
        err = kind(message)
    except Exception:
        err = OSError(message)
    err.errno = code  # str(err) stays the message: strerror and filename are left unset
    return err


def _is_temporary(path):
    """Whether ``path`` names a temporary file of :func:`_temporary_file` (``.NAME.XXXXXXXX.part``)."""
    name = os.path.basename(os.fsdecode(path))
    return name.startswith(".") and name.endswith(".part")


def _existing_ancestor(path):
    """``path``'s nearest ancestor (or itself) that exists, as a string."""
    path = os.path.abspath(path)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def os_problem(exc, reading=False, path=None):
    """``(problem, fix)``: what an OSError on a file or folder means, in words, and what to do.

    The one place an OSError is put in words: the folders a run is given, the
    files it writes (:func:`atomic_write_bytes`) and the folders of a dataset
    (:func:`pixscale.pipeline.layouts.unreadable`) all say it this way.  The
    common causes (permissions, a file where a folder is needed, a full or
    read-only disk, a name too long, a link loop) are worded from the error's
    ``filename``; anything else gives its own text.  ``reading``: the path is
    an input, read and never written (a permission is then to read);
    ``path``: the folder the error concerns (the file it names may lie in it).
    """
    code, target = exc.errno, exc.filename
    if target is None:
        cause = exc.strerror or str(exc)
        return (f"{cause} (errno {code})" if code is not None else cause), "check the folder and the disk"
    target = os.fsdecode(target)
    if code in (errno.EACCES, errno.EPERM) and reading:
        return (
            f"{target} cannot be read by this user (permission denied)",
            "make it and the folders above it readable (e.g. chmod -R a+rX on the dataset folder)",
        )
    if code in (errno.EACCES, errno.EPERM):
        if not os.path.lexists(target):
            near = _existing_ancestor(target)
            mine = path is not None and os.path.abspath(path) == near
            return (
                f"{'it' if mine else f'its parent folder {near}'} is not writable by this user",
                f"make it writable (chmod u+w {near}) or choose a folder elsewhere",
            )
        return (
            f"{target} cannot be read or written by this user (permission denied)",
            f"fix its permissions (e.g. chmod -R u+rwX {target}) or choose a folder elsewhere",
        )
    if code == errno.ENOTDIR:
        near = _existing_ancestor(target)
        if os.path.lexists(near) and not os.path.isdir(near):
            return f"{near} is a file, not a folder", "choose a path whose folders are folders, or move that file away"
        return f"a part of {target} is not a folder", "check the path"
    if code in (errno.EEXIST, errno.ENOENT) and os.path.islink(target) and not os.path.exists(target):
        return f"{target} is a symbolic link to {os.readlink(target)}, which does not exist", "fix or remove the link"
    if code == errno.EEXIST:
        return f"{target} already exists and is not a folder", "remove or rename it, or choose another path"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk holding {target} is full (or over its quota)", "free space on it, or choose another disk"
    if code == errno.EROFS:
        return f"{target} is on a read-only file system", "choose a folder on a writable disk"
    if code == errno.ENAMETOOLONG:
        return f"a name in {target} is too long for the file system", "use a shorter path"
    if code == errno.ELOOP:
        return f"{target} leads through a loop of symbolic links", "fix or remove the link"
    cause = exc.strerror or str(exc)
    return f"{target}: {cause} (errno {code})", "check the path and the disk"


def atomic_write_bytes(path, data, *, root=None):
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    ``data`` is bytes, or an iterable of bytes (a generator: the file is
    streamed as it is made, and is not there if the generator raises).

    The temporary file ``.NAME.XXXXXXXX.part`` is created in the destination
    folder with ``O_EXCL`` and mode 0o666 less the umask (0o644 under umask 022),
    written, fsynced and renamed over ``path``. On any failure it is removed,
    nothing appears under ``path`` (an old file there is kept as it was), and an
    ``OSError`` is raised whose message names ``path``, the cause and the fix.

    With ``root`` (a folder above ``path``), no link below ``root`` is followed:
    the folders between are opened one by one without following links (and
    created if missing), so a link planted there raises :class:`LinkError`
    instead of sending the file elsewhere; a link at ``path`` itself is
    replaced, never written through.

    Returns the ``os.stat_result`` of the written file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    tmp = dir_fd = None
    try:
        if root is not None and NO_FOLLOW:
            os.makedirs(root, exist_ok=True)
            parts = _parts_below(root, path)
            dir_fd = open_folder(root, parts[:-1], create=True)
            name = parts[-1]
        else:
            os.makedirs(folder, exist_ok=True)
            name = os.path.basename(path)
        fd, tmp = _temporary_file(folder, name, dir_fd)
        try:
            _write_all(fd, data)
            os.fsync(fd)
            written = os.fstat(fd)
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            raise
        os.close(fd)
        if dir_fd is not None:
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        else:
            os.replace(tmp, path)
        tmp = None
        return written
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp) if dir_fd is None else os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass
        if isinstance(exc, LinkError):
            raise
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from exc
        raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def atomic_write_text(path, text, *, root=None):
    """Write UTF-8 ``text`` to ``path`` atomically (``root``: see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), root=root)


def json_ready(value, *, text=None, found=None):
    """``value`` as plain, strict-JSON-ready Python: the one sanitiser of what pixscale writes as JSON.

    Every NaN or infinite float becomes None (strict JSON has neither); with
    ``found`` (a list), the place of each is appended to it, e.g.
    ``frames[2].fx``.  Dicts, lists, tuples and NumPy arrays are walked
    (tuples and arrays become lists), NumPy scalars become Python numbers,
    paths strings and bytes text (an undecodable byte as ``\\xNN``).  ``text``,
    when given, is applied to every string and key (the report passes
    :func:`pixscale.pipeline.dataset.printable`).

    Examples
    --------
    >>> found = []
    >>> json_ready({"frames": [{"fx": float("nan"), "size": (2, 3)}]}, found=found), found
    ({'frames': [{'fx': None, 'size': [2, 3]}]}, ['frames[0].fx'])
    """

    def walk(value, where):
        if isinstance(value, dict):
            return {
                (k if text is None else text(str(k))): walk(v, f"{where}.{k}" if where else str(k))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple, np.ndarray)):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "backslashreplace")
        if isinstance(value, str):
            return value if text is None else text(value)
        if isinstance(value, float) and not math.isfinite(value):
            if found is not None:
                found.append(where)
            return None
        return value

    return walk(value, "")


def atomic_write_json(path, obj, *, root=None, allow_nan=True):
    """Write ``obj`` as indented JSON (with a final newline) to ``path`` atomically.

    With ``allow_nan=False`` the text is strict JSON: a NaN or infinite number
    raises ValueError before anything is written.
    """
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=allow_nan) + "\n", root=root)
