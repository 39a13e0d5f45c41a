"""Reading views and writing results safely.

Every file is written to a temporary name in its destination folder and then
atomically renamed, so an interrupted run never leaves a half-written file.
"""

import io
import json
import os
import tempfile

import numpy as np


class ViewError(ValueError):
    """A view that cannot be used: unreadable, or without an alpha channel.

    ``reason`` says what is wrong and ``path`` which file; ``str()`` gives both.
    """

    def __init__(self, reason, path=None):
        super().__init__(reason if path is None else f"{path}: {reason}")
        self.reason = reason
        self.path = path


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path, text):
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    """Write ``obj`` as indented JSON (with a final newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def encode_png(image, *, compress_level=6):
    """Encode an (H, W), (H, W, 2) or (H, W, 4) uint8 array as PNG bytes (Pillow, via imageio)."""
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", image, extension=".png", plugin="pillow", compress_level=compress_level)


def write_png(path, image, *, compress_level=6):
    """Encode ``image`` as PNG and write it to ``path`` atomically."""
    atomic_write_bytes(path, encode_png(image, compress_level=compress_level))


def read_view(path):
    """Read an image file with an alpha channel as an (H, W, 4) or (H, W, 2) array.

    Raises
    ------
    ViewError
        If the file cannot be decoded or has no alpha channel; the message
        says which and what to do.
    """
    import imageio.v3 as iio

    try:
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise ViewError("the file is empty (0 bytes)", path)
        image = iio.imread(io.BytesIO(data), extension=os.path.splitext(os.fspath(path))[1] or ".png")
    except ViewError:
        raise
    except Exception as exc:
        raise ViewError(f"cannot be decoded as an image ({type(exc).__name__}: {exc})", path) from None
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (2, 4):
        raise ViewError(
            f"no alpha channel (decoded shape {image.shape}); pixscale needs RGBA or gray+alpha "
            "images. Export the views with their object mask as alpha.", path)
    if image.dtype not in (np.uint8, np.uint16):
        raise ViewError(f"unsupported pixel type {image.dtype}; expected 8- or 16-bit channels", path)
    return image
