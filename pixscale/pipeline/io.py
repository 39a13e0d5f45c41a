"""Reading views and writing results safely.

Views are PNG files. They are decoded with libpng (through ``imagecodecs``), which
keeps 16-bit channels and expands every kind of PNG transparency into an alpha
channel; the header is checked first, so a file that is not a regular file, is
too large, or declares too many pixels is refused before anything is decoded.
8-bit images are encoded with Pillow (through imageio), 16-bit ones with libpng.

Every file is written to a temporary name (``.NAME.XXXXXXXX.part``) in its
destination folder, created with ``O_EXCL`` and the process's umask, flushed to
disk and then atomically renamed, so an interrupted run never leaves a
half-written file under the final name.
"""

import errno
import json
import os
import secrets
import stat
import struct

import numpy as np

from .._validate import MAX_PIXELS  # the most pixels a view's header may declare (16384 x 16384)

MAX_FILE_BYTES = 512 * 2**20
"""Largest view file read, in bytes (512 MiB); a larger file is a ViewError."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# PNG colour types (the IHDR byte) and the bit depths each allows.
_GRAY, _RGB, _PALETTE, _GRAY_ALPHA, _RGBA = 0, 2, 3, 4, 6
_BIT_DEPTHS = {_GRAY: (1, 2, 4, 8, 16), _RGB: (8, 16), _PALETTE: (1, 2, 4, 8), _GRAY_ALPHA: (8, 16), _RGBA: (8, 16)}

_REEXPORT = "re-export or re-copy the view"
_TEMP_NAME_BYTES = 150  # the part of the file name kept in a temporary name (NAME_MAX is 255)


class ViewError(ValueError):
    """A view that cannot be used: unreadable, or without an alpha channel.

    ``reason`` says what is wrong and ``path`` which file; ``str()`` gives both.
    """

    def __init__(self, reason, path=None):
        super().__init__(reason if path is None else f"{path}: {reason}")
        self.reason = reason
        self.path = path


# ----------------------------------------------------------------------------- writing


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
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        view = view[n:]


def _write_error(path, exc):
    """An OSError of ``exc``'s type whose message names ``path``, the cause and what to do."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = "free space on that disk (or raise the quota), then rerun with --resume"
    elif code == errno.EROFS:
        hint = "the file system is read-only; choose another output folder"
    elif code in (errno.EACCES, errno.EPERM):
        hint = "make the output folder writable, then rerun with --resume"
    elif code == errno.ENAMETOOLONG:
        hint = "the name is too long for that file system; use shorter names or a shallower output folder"
    else:
        hint = "check the output folder, then rerun with --resume"
    cause = exc.strerror or str(exc)
    reason = f"{cause} (errno {code})" if code is not None else cause
    message = f"cannot write {path}: {reason}; {hint}"
    try:
        err = type(exc)(message)
    except Exception:
        err = OSError(message)
    err.errno = code  # str(err) stays the message: strerror and filename are left unset
    return err


def _existing_ancestor(path):
    """``path``'s nearest ancestor (or itself) that exists, as a string."""
    path = os.path.abspath(path)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def os_problem(exc, reading=False, path=None):
    """``(problem, fix)``: what an OSError on a file or folder means, in words, and what to do.

    The common causes (permissions, a file where a folder is needed, a full
    or read-only disk, a name too long, a link loop) are worded from the
    error's ``filename``; anything else gives its own text.  ``reading``: the
    path is an input, read and never written (a permission is then to read);
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


def atomic_write_json(path, obj, *, root=None, allow_nan=True):
    """Write ``obj`` as indented JSON (with a final newline) to ``path`` atomically.

    With ``allow_nan=False`` the text is strict JSON: a NaN or infinite number
    raises ValueError before anything is written.
    """
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=allow_nan) + "\n", root=root)


def encode_png(image, *, compress_level=6):
    """Encode an image as PNG bytes, keeping its bit depth.

    Parameters
    ----------
    image : (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) ndarray of uint8 or uint16
        Gray, gray+alpha, RGB or RGBA.
    compress_level : int
        zlib level, 0 (none) to 9 (smallest).

    Notes
    -----
    uint8 images are written as 8-bit PNG by Pillow (through imageio), uint16
    images as 16-bit PNG by libpng (through imagecodecs), so a 16-bit view stays
    16-bit.
    """
    image = np.asarray(image)
    if image.dtype.kind != "u" or image.dtype.itemsize not in (1, 2):
        raise TypeError(f"expected a uint8 or uint16 image; got dtype {image.dtype}. Convert it first.")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C) with C in 1..4; got shape {image.shape}")
    if image.dtype.itemsize == 2:
        import imagecodecs

        return imagecodecs.png_encode(np.ascontiguousarray(image, dtype=np.uint16), level=compress_level)
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", image, extension=".png", plugin="pillow", compress_level=compress_level)


def write_png(path, image, *, compress_level=6, root=None):
    """Encode ``image`` as PNG (8- or 16-bit, as its dtype) and write it to ``path`` atomically.

    ``root``: see :func:`atomic_write_bytes`.
    """
    atomic_write_bytes(path, encode_png(image, compress_level=compress_level), root=root)


# ----------------------------------------------------------------------------- reading


def _read_regular_file(path, max_bytes):
    """Return the bytes of ``path`` if it is a regular file of at most ``max_bytes``."""

    def refuse(st):
        if stat.S_ISDIR(st.st_mode):
            return ViewError("is a folder, not an image file; give the PNG files inside it as the views", path)
        if not stat.S_ISREG(st.st_mode):
            return ViewError(
                "is not a regular file (a FIFO, socket or device such as /dev/zero, perhaps behind "
                "a symlink); replace it with the PNG file itself",
                path,
            )
        if st.st_size > max_bytes:
            return ViewError(
                f"the file is {st.st_size:,} bytes, more than the {max_bytes:,}-byte limit for one "
                "view; check that it is the right file, or raise pixscale.io.MAX_FILE_BYTES",
                path,
            )
        return None

    try:
        st = os.stat(path)  # follows symlinks: the file that would be read
        error = refuse(st)
        if error is not None:
            raise error
        # O_NONBLOCK: if a FIFO replaced the file since the stat, opening it does not wait for a writer.
        flags = (
            os.O_RDONLY
            | getattr(os, "O_NONBLOCK", 0)
            | getattr(os, "O_NOCTTY", 0)
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0)
        )
        fd = os.open(path, flags)
        with open(fd, "rb", buffering=0) as f:
            st = os.fstat(fd)
            error = refuse(st)
            if error is not None:
                raise error
            want = st.st_size + 1  # one byte more tells a file that grew since the stat
            buf = bytearray(want)
            view, n = memoryview(buf), 0
            while n < want:
                k = f.readinto(view[n:])
                if not k:
                    break
                n += k
            view.release()
    except FileNotFoundError:
        raise ViewError(
            "the file does not exist (removed or renamed after the views were listed, or a broken "
            "symlink); restore it, or remove the view from the dataset",
            path,
        ) from None
    except PermissionError:
        raise ViewError(
            "permission denied; make the file readable by the user running pixscale (chmod a+r)", path
        ) from None
    except IsADirectoryError:
        raise ViewError("is a folder, not an image file; give the PNG files inside it as the views", path) from None
    except OSError as exc:
        raise ViewError(f"cannot be read ({exc.strerror or exc}); check the file and the disk", path) from None
    if n == want:
        raise ViewError("the file grew while it was read (is it still being written?); rerun when it is complete", path)
    del buf[n:]
    return buf


_MAGIC = (  # leading bytes of files that are not PNGs, and what they are
    (b"\xff\xd8\xff", "a JPEG image, which has no alpha channel"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"\x8aMNG", "an MNG animation"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"8BPS", "a Photoshop document"),
    (b"\x89PNG", "a PNG whose signature is damaged (a text-mode transfer?)"),
)


def _content_kind(data):
    """A few words on what non-PNG bytes look like."""
    head = bytes(data[:512])
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if b"ftypavif" in head[:16] or b"ftypheic" in head[:16]:
        return "an AVIF/HEIF image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the 512 bytes
            return "unknown binary data"
        text = head[: exc.start].decode("utf-8")
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "text"
    return "unknown binary data"


def _png_header(data, path):
    """Parse the chunks before the image data: (width, height, bit_depth, colour_type, has_trns, frames)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ViewError(
            f"not a PNG file (its content looks like {_content_kind(data)}); pixscale reads RGBA PNG "
            "views: convert it to PNG with the object mask as alpha, or give its mask file with --mask",
            path,
        )
    if len(data) < 33 or data[12:16] != b"IHDR" or struct.unpack_from(">I", data, 8)[0] != 13:
        raise ViewError(f"cannot be decoded as PNG: its header chunk (IHDR) is missing or damaged; {_REEXPORT}", path)
    width, height, bit_depth, colour_type = struct.unpack_from(">IIBB", data, 16)
    if not (0 < width < 2**31 and 0 < height < 2**31) or bit_depth not in _BIT_DEPTHS.get(colour_type, ()):
        raise ViewError(
            f"cannot be decoded as PNG: its header is invalid ({width} x {height} pixels, "
            f"bit depth {bit_depth}, colour type {colour_type}); {_REEXPORT}",
            path,
        )
    has_trns, frames, pos = False, 1, 33
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"tRNS":
            has_trns = True
        elif kind == b"acTL" and length >= 8 and pos + 16 <= len(data):
            frames = struct.unpack_from(">I", data, pos + 8)[0]
        pos += 12 + length
    return width, height, bit_depth, colour_type, has_trns, frames


def view_dtype(path):
    """The dtype ``read_view`` will return for a PNG, from its header alone; None if it cannot tell.

    Reads at most 64 bytes of a regular file; never raises.
    """
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            data = f.read(64)
        bit_depth = _png_header(data, path)[2]
    except (OSError, ViewError, struct.error):
        return None
    return np.dtype(np.uint16 if bit_depth == 16 else np.uint8)


def _is_truncated(data):
    """Whether the chunk sequence ends before an IEND chunk."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > len(data):
            return True
        if kind == b"IEND":
            return False
        pos += 12 + length
    return True


def read_view(path, *, max_bytes=None, max_pixels=None):
    """Read a PNG view with an alpha channel as an (H, W, 4) or (H, W, 2) array.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (symlinks are followed); FIFOs, devices and folders are refused.
    max_bytes : int, optional
        Largest file read; default :data:`MAX_FILE_BYTES` (512 MiB).
    max_pixels : int, optional
        Most pixels the PNG header may declare, checked before decoding (a
        decompression bomb); default :data:`MAX_PIXELS` (2**28).

    Returns
    -------
    image : (H, W, 4) or (H, W, 2) ndarray of uint8 or uint16
        RGBA or gray+alpha; uint16 for 16-bit PNGs, bit-exact.

    Raises
    ------
    ViewError
        If the file cannot be read or decoded, is too large, or has no
        transparency; the message says which and what to do.

    Notes
    -----
    Every PNG transparency becomes an alpha channel: RGBA and gray+alpha are
    returned as stored; a palette with a ``tRNS`` chunk becomes 8-bit RGBA; RGB
    or gray with a ``tRNS`` colour key becomes RGBA or gray+alpha (alpha 0 on
    the key colour, full elsewhere) at the file's bit depth; 1, 2 and 4-bit
    gray is scaled to 8 bits. RGB, gray and palette images without ``tRNS``
    have no alpha channel and are refused, and so are animated PNGs with more
    than one frame (which frame is the view is not knowable).

    Examples
    --------
    >>> import os, tempfile
    >>> image = np.zeros((8, 8, 4), np.uint16)
    >>> image[2:6, 2:6] = 40001  # a 16-bit value that 8 bits cannot hold
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_png(os.path.join(folder, "view.png"), image)
    ...     back = read_view(os.path.join(folder, "view.png"))
    >>> back.dtype, bool((back == image).all())
    (dtype('uint16'), True)
    """
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    data = _read_regular_file(path, max_bytes)
    if not data:
        raise ViewError(f"the file is empty (0 bytes); {_REEXPORT}", path)
    width, height, bit_depth, colour_type, has_trns, frames = _png_header(data, path)
    if width * height > max_pixels:
        raise _too_many_pixels("PNG", width, height, max_pixels, path)
    if frames > 1:
        raise ViewError(
            f"is an animated PNG ({frames} frames); pixscale needs one still image per view: export "
            "each frame as its own PNG",
            path,
        )
    channels = {_RGBA: 4, _GRAY_ALPHA: 2}.get(colour_type)
    if channels is None and has_trns:
        channels = 2 if colour_type == _GRAY else 4
    if channels is None:
        kind = {_GRAY: "gray", _RGB: "RGB", _PALETTE: "palette"}[colour_type]
        raise ViewError(
            f"no alpha channel ({kind} PNG without transparency); pixscale needs RGBA or "
            "gray+alpha images: export the views with their object mask as alpha",
            path,
        )
    import imagecodecs

    try:
        image = imagecodecs.png_decode(data)
    except MemoryError:
        raise ViewError(
            f"not enough memory to decode {width} x {height} pixels; free memory or use fewer --jobs", path
        ) from None
    except Exception as exc:
        if _is_truncated(data):
            raise _truncated("PNG", path) from None
        raise ViewError(f"cannot be decoded: the PNG data is corrupt ({exc}); {_REEXPORT}", path) from None
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    if image.shape != (height, width, channels) or image.dtype != dtype:
        raise ViewError(
            f"decoded to {image.shape} {image.dtype}, expected {(height, width, channels)} "
            f"{np.dtype(dtype)}; please report this file to pixscale",
            path,
        )
    return image


def _too_many_pixels(kind, width, height, max_pixels, path):
    return ViewError(
        f"its {kind} header declares {width} x {height} = {width * height:,} pixels, more than the "
        f"limit of {max_pixels:,} (a corrupt file or a decompression bomb); if the image is "
        "real, raise pixscale.io.MAX_PIXELS",
        path,
    )


def _truncated(kind, path):
    return ViewError(
        f"cannot be decoded: the {kind} data ends early (the file is truncated, e.g. a copy or "
        f"render that did not finish); {_REEXPORT}",
        path,
    )


# Start-of-frame markers (SOF0-3, 5-7, 9-11, 13-15): the frame header with the image's size.
_JPEG_SOF = {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
_JPEG_SEGMENTS = {*range(0xC0, 0xD0), *range(0xDA, 0xE0), *range(0xE0, 0xF0), 0xFE}  # markers with a length


def _jpeg_header(data, path, max_pixels=None):
    """Walk a JPEG's markers and scans without decoding: (width, height, components, precision).

    Raises ViewError if the file ends before its EOI marker (truncated), or if
    its marker structure is broken: an unknown marker, a segment running past
    the end, or a byte 0xFF in a scan's entropy-coded data that is neither
    stuffed (FF 00), a fill byte, nor the next restart marker in sequence, which
    is how flipped or overwritten bytes in the image data show. For a
    sequential Huffman JPEG (SOF0/SOF1, the usual kind) every scan's coded
    blocks are then walked (:mod:`pixscale._jpeg`): a bad Huffman code, data
    that ends before the last block or bytes left over, which libjpeg only
    warns about while it fills the image with gray, fail it as corrupt.
    """

    def corrupt(what):
        return ViewError(f"cannot be decoded: the JPEG data is corrupt ({what}); {_REEXPORT}", path)

    n = len(data)
    frame, sof, pos = None, None, 2  # after SOI
    comps = {}  # component id -> (h, v), in frame order
    tables, scans, restart = {}, [], 0  # scans: (components, start, end, tables, restart)
    while True:
        if pos + 2 > n:
            raise _truncated("JPEG", path)
        if data[pos] != 0xFF:
            raise corrupt(f"byte {pos} is not a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI: anything after it is ignored, as decoders do
            break
        if marker not in _JPEG_SEGMENTS and marker != 0x01:
            raise corrupt(f"unexpected marker FF{marker:02X} at byte {pos}")
        if marker == 0x01:
            pos += 2
            continue
        if pos + 4 > n:
            raise _truncated("JPEG", path)
        length = (data[pos + 2] << 8) | data[pos + 3]
        end = pos + 2 + length
        if length < 2:
            raise corrupt(f"segment FF{marker:02X} at byte {pos} has length {length}")
        if end > n:
            raise _truncated("JPEG", path)
        body = bytes(data[pos + 4 : end])
        if marker in _JPEG_SOF:
            if frame is not None:
                raise corrupt("a second frame header")
            if len(body) < 6:
                raise corrupt("its frame header is too short")
            precision, height, width, components = struct.unpack_from(">BHHB", body)
            if height == 0 or width == 0 or components == 0 or len(body) < 6 + 3 * components:
                raise corrupt(f"its frame header declares {width} x {height} pixels, {components} components")
            for i in range(components):
                cid, hv = body[6 + 3 * i], body[7 + 3 * i]
                comps[cid] = (max(hv >> 4, 1), max(hv & 15, 1))
            frame, sof = (width, height, components, precision), marker
        elif marker == 0xC4:  # DHT: one or more Huffman tables
            i = 0
            while i + 17 <= len(body):
                cls_id, counts = body[i], list(body[i + 1 : i + 17])
                symbols = body[i + 17 : i + 17 + sum(counts)]
                if len(symbols) < sum(counts) or sum(counts) > 256:
                    raise corrupt("a Huffman table is cut short")
                tables[(cls_id >> 4, cls_id & 15)] = (counts, symbols)
                i += 17 + sum(counts)
        elif marker == 0xDD and len(body) >= 2:  # DRI: the restart interval
            restart = (body[0] << 8) | body[1]
        pos = end
        if marker != 0xDA:  # not a scan
            continue
        if frame is None:
            raise corrupt("a scan before the frame header")
        ns = body[0] if body else 0
        if not 0 < ns <= 4 or len(body) < 1 + 2 * ns:
            raise corrupt("its scan header is damaged")
        scan_comps = [(body[1 + 2 * i], body[2 + 2 * i] >> 4, body[2 + 2 * i] & 15) for i in range(ns)]
        if any(cid not in comps for cid, _, _ in scan_comps):
            raise corrupt("a scan names a component the frame does not have")
        start, expect_rst = pos, 0
        while True:  # the entropy-coded data: until a marker other than a stuffed byte or restart
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= n:
                raise _truncated("JPEG", path)
            follow = data[pos + 1]
            if follow == 0x00:
                pos += 2
            elif follow == 0xFF:
                pos += 1
            elif 0xD0 <= follow <= 0xD7:
                if follow != 0xD0 + expect_rst:
                    raise corrupt(f"restart marker RST{follow - 0xD0} at byte {pos}, expected RST{expect_rst}")
                expect_rst = (expect_rst + 1) % 8
                pos += 2
            elif follow in _JPEG_SEGMENTS or follow == 0xD9:
                break
            else:
                raise corrupt(f"unexpected marker FF{follow:02X} in the image data at byte {pos}")
        scans.append((scan_comps, start, pos, dict(tables), restart))
    if frame is None or not scans:
        raise corrupt("no image data before its end marker")
    if max_pixels is not None and frame[0] * frame[1] > max_pixels:  # before walking the blocks
        raise _too_many_pixels("JPEG", frame[0], frame[1], max_pixels, path)
    if sof in (0xC0, 0xC1) and frame[3] == 8:  # sequential Huffman: walk every block
        from ..kernels import jpeg as _jpeg

        width, height = frame[0], frame[1]
        for scan_comps, start, end, scan_tables, scan_restart in scans:
            problem = _jpeg.scan_problem(
                data, comps, width, height, (scan_comps, start, end), scan_tables, scan_restart
            )
            if problem is not None:
                raise corrupt(problem)
    return frame


def _decode_any(path, max_bytes=None, max_pixels=None):
    """Decode a PNG or JPEG file of any colour type; ViewError says why it cannot be.

    As :func:`read_view`, the header is read first: a file that declares more
    than ``max_pixels`` pixels, an animated PNG, and a truncated or (as far as
    its structure shows) corrupt file are refused before anything is decoded.
    """
    import imagecodecs

    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    data = _read_regular_file(path, MAX_FILE_BYTES if max_bytes is None else max_bytes)
    if not data:
        raise ViewError(f"the file is empty (0 bytes); {_REEXPORT}", path)
    if data.startswith(b"\x89PNG"):
        kind = "PNG"
        width, height, _, _, _, frames = _png_header(data, path)
        if width * height > max_pixels:
            raise _too_many_pixels(kind, width, height, max_pixels, path)
        if frames > 1:
            raise ViewError(f"is an animated PNG ({frames} frames); export the one frame wanted as its own PNG", path)
        if _is_truncated(data):
            raise _truncated(kind, path)
        decode = imagecodecs.png_decode
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "JPEG"
        width, height, components, precision = _jpeg_header(data, path, max_pixels)  # refuses > max_pixels
        if components not in (1, 3) or precision != 8:
            raise ViewError(
                f"is a {precision}-bit JPEG with {components} colour components; pixscale reads 8-bit gray or "
                "RGB JPEGs: convert it (CMYK to RGB) or save it as PNG",
                path,
            )
        decode = imagecodecs.jpeg8_decode
    else:
        raise ViewError(f"is not a PNG or JPEG file (its content looks like {_content_kind(data)})", path)
    try:
        image = decode(data)
    except MemoryError:
        raise ViewError(
            f"not enough memory to decode {width} x {height} pixels; free memory or use fewer --jobs", path
        ) from None
    except Exception as exc:
        raise ViewError(f"cannot be decoded: the {kind} data is corrupt ({exc}); {_REEXPORT}", path) from None
    if image.shape[:2] != (height, width):
        raise ViewError(f"decoded to {image.shape}, but its header says {width} x {height} pixels; {_REEXPORT}", path)
    return image


_ORIENTATIONS = {
    2: "mirrored left-right",
    3: "rotated 180 degrees",
    4: "mirrored top-bottom",
    5: "mirrored and rotated 90 degrees",
    6: "rotated 90 degrees clockwise",
    7: "mirrored and rotated 90 degrees",
    8: "rotated 90 degrees counter-clockwise",
}


def exif_orientation(path):
    """The EXIF Orientation (1-8) a JPEG file declares, or None (none, not a JPEG, unreadable).

    pixscale reads a JPEG's stored pixels; a viewer shows them turned by this
    tag, so a mask drawn on the shown image does not fit them (see
    :data:`_ORIENTATIONS` for what each value means).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)  # the APP segments come first
    except OSError:
        return None
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            tiff = body[6:]
            order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
            if order is None or len(tiff) < 8:
                return None
            ifd = struct.unpack(order + "I", tiff[4:8])[0]
            if ifd + 2 > len(tiff):
                return None
            count = struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]
            for i in range(count):
                entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
                if len(entry) < 12:
                    return None
                tag, kind = struct.unpack(order + "HH", entry[:4])
                if tag == 0x0112 and kind == 3:  # SHORT
                    value = struct.unpack(order + "H", entry[8:10])[0]
                    return value if 1 <= value <= 8 else None
            return None
        if marker in (0xDA, 0xD9):  # the image data: no EXIF before it
            return None
        pos += 2 + length
    return None


def orientation_hint(path, image_shape, mask_shape):
    """Why a JPEG's mask may not fit it: its EXIF orientation, in words with the fix; or "" if none."""
    value = exif_orientation(path)
    if value is None or value == 1:
        return ""
    turned = tuple(image_shape[:2])[::-1] == tuple(mask_shape[:2])
    likely = "likely " if turned and value >= 5 else "perhaps "
    return (
        f"; the {likely}cause: the JPEG's EXIF orientation is {value} ({_ORIENTATIONS[value]}), so viewers show "
        f"it turned, while pixscale reads its stored pixels ({image_shape[0]}x{image_shape[1]}, H x W) and ignores "
        "the tag: rotate the JPEG's pixels to match what is shown (e.g. exiftran -ai, or mogrify -auto-orient), "
        "or make the mask on the stored pixels"
    )


def read_colour(path):
    """Read the colour of an image that has a separate mask: PNG (any colour type) or JPEG.

    Returns (H, W, 3) RGB or (H, W) gray, uint8 or uint16; an alpha channel the
    file may have is dropped (the mask replaces it).
    """
    image = _decode_any(path)
    if image.ndim == 3 and image.shape[2] in (2, 4):
        image = image[..., :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    return np.ascontiguousarray(image)


_GRAY_TOLERANCE = 8  # on the 0-255 scale: JPEG's chroma noise on a gray mask saved as RGB


def read_mask(path):
    """Read an object mask file (PNG or JPEG): (H, W), uint8 0-255, or float 0-1 for 16-bit files.

    A gray mask is its gray; an RGB mask whose channels agree (within
    JPEG's noise) is their first channel. A mask with an alpha channel that
    is not all opaque is its alpha, when the colour is one value wherever
    alpha is not 0 (a white or black object in alpha). A colour mask, and one
    whose colour and alpha both vary, are refused (ViewError): which of them
    is the object is not knowable.
    """
    mask = _decode_any(path)
    if mask.ndim == 3:
        top = np.iinfo(mask.dtype).max
        colour = mask[..., : 3 if mask.shape[2] >= 3 else 1]
        if mask.shape[2] in (2, 4) and mask[..., -1].min() < top:
            alpha = mask[..., -1]
            seen = colour[alpha > 0]
            if seen.size and not (seen == seen[:1]).all():
                raise ViewError(
                    "the mask has an alpha channel and gray or colour values that vary where it is not "
                    "transparent; which one is the object is not knowable: save the mask as a gray image "
                    "without alpha (the object white), or with the object in alpha over one colour",
                    path,
                )
            mask = alpha
        else:
            spread = colour.max(axis=2) - colour.min(axis=2)  # max >= min: no wrap in the unsigned dtype
            if spread.size and int(spread.max()) > _GRAY_TOLERANCE * (top // 255):
                raise ViewError(
                    "the mask is a colour image (its red, green and blue differ), so which colour is the "
                    "object is not knowable; save it as a gray mask (the object white, the rest black)",
                    path,
                )
            mask = colour[..., 0]
    if mask.dtype == np.uint16:
        return mask.astype(np.float32) / 65535
    return np.ascontiguousarray(mask)
