"""Reading a view given as a colour image and a separate mask file: PNG (any colour type) or JPEG.

A JPEG's structure is checked before it is decoded (its markers and, for the
usual sequential Huffman kind, every coded block), and its EXIF orientation
read to explain a mask that does not fit it.  The limits of :mod:`pixscale.pipeline.io`
(``MAX_PIXELS``, ``MAX_FILE_BYTES``) hold for these files too, read when a file is.
"""

import struct

import numpy as np

from . import io
from .io import (
    _REEXPORT,
    ViewError,
    _content_kind,
    _is_truncated,
    _png_header,
    _read_regular_file,
    _too_many_pixels,
    _truncated,
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
    blocks are then walked (:mod:`pixscale.kernels.jpeg`): a bad Huffman code, data
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

    max_pixels = io.MAX_PIXELS if max_pixels is None else max_pixels
    data = _read_regular_file(path, io.MAX_FILE_BYTES if max_bytes is None else max_bytes)
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
            f"not enough memory to decode {width} x {height} pixels; free memory or use fewer workers (`jobs=`)", path
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
