"""Reading views and writing images.

Views are PNG files. They are decoded with libpng (through ``imagecodecs``), which
keeps 16-bit channels and expands every kind of PNG transparency into an alpha
channel; the header is checked first, so a file that is not a regular file, is
too large, or declares too many pixels is refused before anything is decoded.
Images are encoded here (PNG's "up" filter, deflated by zlib-ng through
imagecodecs), 8- or 16-bit as their dtype; see :func:`encode_png`.

Images are written atomically (:func:`pixscale.pipeline.files.atomic_write_bytes`).
"""

import functools
import io
import os
import stat
import struct
import zlib

import numpy as np

from .._validate import MAX_PIXELS  # the most pixels a view's header may declare (16384 x 16384)
from .files import atomic_write_bytes
from .store import StoreObject

MAX_FILE_BYTES = 512 * 2**20
"""Largest view file read, in bytes (512 MiB); a larger file is a ViewError."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# PNG colour types (the IHDR byte) and the bit depths each allows.
_GRAY, _RGB, _PALETTE, _GRAY_ALPHA, _RGBA = 0, 2, 3, 4, 6
_BIT_DEPTHS = {_GRAY: (1, 2, 4, 8, 16), _RGB: (8, 16), _PALETTE: (1, 2, 4, 8), _GRAY_ALPHA: (8, 16), _RGBA: (8, 16)}

_REEXPORT = "re-export or re-copy the view"


class ViewError(ValueError):
    """A view that cannot be used: unreadable, or without an alpha channel.

    ``reason`` says what is wrong and ``path`` which file; ``str()`` gives both.
    """

    def __init__(self, reason, path=None):
        super().__init__(reason if path is None else f"{path}: {reason}")
        self.reason = reason
        self.path = path


def encode_png(image, *, compress_level=6):
    """Encode an image as PNG bytes, keeping its bit depth.

    Parameters
    ----------
    image : (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4) ndarray of uint8 or uint16
        Gray, gray+alpha, RGB or RGBA.
    compress_level : int
        zlib level, 0 (none) to 9 (smallest).

    Notes
    -----
    The rows are filtered with PNG's "up" filter and deflated by zlib-ng at
    ``compress_level`` (through imagecodecs): 5-12 times faster than Pillow or
    libpng at the same level, files within a few per cent of their size
    (``benchmarks/io.py``).  Where imagecodecs was built without zlib-ng, the
    earlier route is taken: 8-bit through Pillow, 16-bit through libpng.  Both
    decode to the same pixels; a uint16 image is written as 16-bit PNG, so a
    16-bit view stays 16-bit.  The file holds the image alone (IHDR, IDAT,
    IEND chunks), as before.
    """
    image = np.asarray(image)
    if image.dtype.kind != "u" or image.dtype.itemsize not in (1, 2):
        raise TypeError(f"expected a uint8 or uint16 image; got dtype {image.dtype}. Convert it first.")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C) with C in 1..4; got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.size and image.nbytes + image.shape[0] <= _MAX_FAST_BYTES and _zlib_ng() is not None:
        return _encode_fast(image, compress_level)
    return _encode_fallback(image, compress_level)


_COLOUR_TYPE = {1: _GRAY, 2: _GRAY_ALPHA, 3: _RGB, 4: _RGBA}  # channels -> PNG colour type
_IDAT_BYTES = 2**30  # compressed data per IDAT chunk (a chunk holds at most 2**31 - 1 bytes)
_MAX_FAST_BYTES = 2**31 - 1  # larger filtered data takes the fallback (one deflate call's input)


@functools.cache
def _zlib_ng():
    """imagecodecs' zlib-ng encoder, or None where this imagecodecs was built without it."""
    import imagecodecs

    return imagecodecs.zlibng_encode if getattr(imagecodecs, "ZLIBNG", None) and imagecodecs.ZLIBNG.available else None


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _encode_fast(image, level):
    """PNG bytes: every row "up"-filtered (type 2), deflated by zlib-ng at ``level``."""
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    rows = np.ascontiguousarray(image, dtype=image.dtype.newbyteorder(">")).view(np.uint8).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # "up": each byte less the byte above it (the row above the first is zeros)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    compressed = _zlib_ng()(filtered, level=level)
    header = struct.pack(">IIBBBBB", width, height, 8 * image.dtype.itemsize, _COLOUR_TYPE[channels], 0, 0, 0)
    parts = [PNG_SIGNATURE, _chunk(b"IHDR", header)]
    view = memoryview(compressed)
    parts += [_chunk(b"IDAT", view[i : i + _IDAT_BYTES]) for i in range(0, max(len(view), 1), _IDAT_BYTES)]
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _encode_fallback(image, level):
    """The route before zlib-ng: 8-bit through Pillow (imageio's Pillow plugin's bytes), 16-bit through libpng."""
    if image.dtype.itemsize == 2:
        import imagecodecs

        return imagecodecs.png_encode(np.ascontiguousarray(image, dtype=np.uint16), level=level)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


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
                "view; check that it is the right file, or raise pixscale.pipeline.io.MAX_FILE_BYTES",
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


def _read_object(obj, max_bytes):
    """The bytes of a store's object (a :class:`~pixscale.pipeline.store.StoreObject`) of at most ``max_bytes``.

    A missing or too large object is a ViewError; any other error (the
    network, the credentials) is the machine's, raised as it is: the sample
    fails with it and ``resume=True`` tries it again.
    """
    try:
        data = obj.read(max_bytes)
    except FileNotFoundError:
        raise ViewError(
            "the object does not exist (removed after the views were listed); restore it, or remove the view", obj
        ) from None
    except ValueError as exc:
        raise ViewError(
            f"{exc}; check that it is the right object, or raise pixscale.pipeline.io.MAX_FILE_BYTES", obj
        ) from None
    if len(data) > max_bytes:
        raise ViewError(f"the object is {len(data):,} bytes, more than the {max_bytes:,}-byte limit for one view", obj)
    return data


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
            "views: convert it to PNG with the object mask as alpha, or give its mask file (`mask=`)",
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


def view_kind(path):
    """``(dtype, channels)`` of the array ``read_view`` will return for a PNG, from its header alone.

    ``channels`` is 4 or 2, or None for a PNG without transparency (which
    ``read_view`` refuses; a masked view's mask gives it one) or whose
    transparency chunk lies past the bytes read (a palette's).  None if it
    cannot tell the dtype.  Reads at most 64 bytes of a regular file; never raises.
    """
    try:
        if isinstance(path, StoreObject):
            data = path.head(64)
        else:
            if not os.path.isfile(path):
                return None
            with open(path, "rb") as f:
                data = f.read(64)
        _, _, bit_depth, colour_type, has_trns, _ = _png_header(data, path)
    except (OSError, ValueError, struct.error):  # ViewError is a ValueError
        return None
    return np.dtype(np.uint16 if bit_depth == 16 else np.uint8), _channels(colour_type, has_trns)


def _channels(colour_type, has_trns):
    """The channels ``read_view`` makes of a PNG's colour type: 4 (RGBA) or 2 (gray+alpha); None without alpha."""
    channels = {_RGBA: 4, _GRAY_ALPHA: 2}.get(colour_type)
    if channels is None and has_trns:
        channels = 2 if colour_type == _GRAY else 4
    return channels


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
    path : str or os.PathLike or StoreObject
        A regular file (symlinks are followed); FIFOs, devices and folders are refused.
        Or an object of a store (:class:`~pixscale.pipeline.store.StoreObject`), read whole.
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
    data = _read_object(path, max_bytes) if isinstance(path, StoreObject) else _read_regular_file(path, max_bytes)
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
    channels = _channels(colour_type, has_trns)
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
            f"not enough memory to decode {width} x {height} pixels; free memory or use fewer workers (`jobs=`)", path
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
        "real, raise pixscale.pipeline.io.MAX_PIXELS",
        path,
    )


def _truncated(kind, path):
    return ViewError(
        f"cannot be decoded: the {kind} data ends early (the file is truncated, e.g. a copy or "
        f"render that did not finish); {_REEXPORT}",
        path,
    )
