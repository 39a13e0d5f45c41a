"""Inputs the command and the library are given: decoders' limits, masks, PIL modes, options.

Each test here failed on the code before issue #19's input items were fixed;
the item it covers is named in its docstring.
"""

import io
import json
import struct

import numpy as np
import pytest

from pixscale import io as pio
from pixscale.cli import main
from pixscale.io import ViewError, read_colour, read_mask, write_png

SIZE = 64


def jpeg_bytes(image, **options):
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", image, extension=".jpg", **options)


@pytest.fixture
def rgb():
    rng = np.random.default_rng(19)
    return rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)


def masked_flat(root, n=3, jpeg=True):
    """A flat folder of RGB views (JPEG or PNG) with masks in masks/{stem}.png."""
    rng = np.random.default_rng(2)
    (root / "masks").mkdir(parents=True)
    for i in range(n):
        colour = np.full((SIZE, SIZE, 3), 90, np.uint8) + rng.integers(0, 40, (SIZE, SIZE, 3), dtype=np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[10 : 30 + 4 * i, 12:40] = 255
        if jpeg:
            (root / f"v{i}.jpg").write_bytes(jpeg_bytes(colour, quality=95))
        else:
            write_png(root / f"v{i}.png", colour)
        write_png(root / "masks" / f"v{i}.png", mask)
    return root


def run_report(out):
    return json.loads((out / "pixscale-report" / "report.json").read_text())


# --- BUG 2: JPEG (and every decoder's) pixel limit, truncation and corruption --------------------


@pytest.mark.parametrize("reader", [read_colour, read_mask])
def test_a_jpeg_header_over_the_pixel_limit_is_refused_before_decoding(tmp_path, rgb, reader, monkeypatch):
    """BUG 2: a JPEG whose header claims 20000x20000 was decoded (1.3 GiB); PNG's limit now holds for JPEG."""
    monkeypatch.setattr(pio, "MAX_PIXELS", 100 * 100)
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(rgb))  # 128 x 128 > 100 x 100
    with pytest.raises(ViewError, match=r"big\.jpg: its JPEG header declares 128 x 128 = 16,384 pixels, more than"):
        reader(path)


def test_the_631_byte_jpeg_bomb_is_refused_without_decoding(tmp_path, rgb):
    """BUG 2: the issue's 631-byte JPEG that claims 20000 x 20000 pixels."""
    data = bytearray(jpeg_bytes(rgb))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 20000, 20000)
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bytes(data[:631]))
    with pytest.raises(ViewError, match=r"bomb\.jpg: .*(more than the limit|ends early)"):
        read_colour(path)
    path.write_bytes(bytes(data))  # complete: refused by its header
    with pytest.raises(ViewError, match="declares 20000 x 20000 = 400,000,000 pixels"):
        read_colour(path)


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"optimize": True}])
@pytest.mark.parametrize("reader", [read_colour, read_mask])
def test_a_truncated_jpeg_is_refused_as_truncated(tmp_path, rgb, reader, options):
    """BUG 2: a JPEG cut to 70% was decoded (the rest gray) and counted ok."""
    data = jpeg_bytes(rgb, **options)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data)
    assert reader(path).shape[:2] == (128, 128)  # the whole file reads
    for keep in (0.7, 0.99, len(data) - 1):
        path.write_bytes(data[: int(keep * len(data)) if keep < 1 else keep])
        with pytest.raises(ViewError, match=r"cut\.jpg: cannot be decoded: the JPEG data ends early \(the file is"):
            reader(path)


def test_data_after_a_complete_jpeg_is_ignored(tmp_path, rgb):
    """BUG 2's neighbour: bytes after the end marker (some cameras append data) do not make a JPEG truncated."""
    path = tmp_path / "tail.jpg"
    data = jpeg_bytes(rgb)
    path.write_bytes(data + b"\x00trailer")
    np.testing.assert_array_equal(read_colour(path), read_colour(_write(tmp_path / "plain.jpg", data)))


def _write(path, data):
    path.write_bytes(data)
    return path


def test_a_truncated_or_corrupt_png_mask_or_colour_is_refused(tmp_path):
    """BUG 2: every decoder pixscale uses (PNG colour and masks too) says 'truncated'."""
    mask = np.zeros((64, 64), np.uint8)
    mask[8:40, 8:40] = 255
    good = pio.encode_png(mask)
    path = _write(tmp_path / "m.png", good[: int(0.7 * len(good))])
    for reader in (read_mask, read_colour):
        with pytest.raises(ViewError, match=r"m\.png: cannot be decoded: the PNG data ends early"):
            reader(path)
    damaged = bytearray(good)
    idat = damaged.find(b"IDAT")
    damaged[idat + 10] ^= 0xFF  # a flipped byte: the chunk's CRC no longer matches
    _write(path, bytes(damaged))
    with pytest.raises(ViewError, match=r"m\.png: cannot be decoded: the PNG data is corrupt"):
        read_mask(path)


def test_a_jpeg_with_a_broken_scan_is_refused_as_corrupt(tmp_path, rgb):
    """BUG 2: overwritten bytes that the structure shows (a marker inside the image data) fail the view."""
    data = bytearray(jpeg_bytes(rgb))
    sos = data.find(b"\xff\xda")
    middle = (sos + len(data)) // 2
    data[middle : middle + 2] = b"\xff\x5a"  # no such marker
    path = _write(tmp_path / "bad.jpg", bytes(data))
    with pytest.raises(ViewError, match=r"bad\.jpg: .*JPEG data is corrupt \(unexpected marker FF5A"):
        read_colour(path)


def test_a_cmyk_jpeg_is_refused_with_the_fix(tmp_path, rgb):
    """BUG 2's neighbour: a 4-component JPEG read as RGB + alpha would drop its K channel."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buf, "JPEG")
    path = _write(tmp_path / "cmyk.jpg", buf.getvalue())
    with pytest.raises(ViewError, match=r"cmyk\.jpg: is a 8-bit JPEG with 4 colour components.*CMYK to RGB"):
        read_colour(path)


def test_run_fails_the_view_of_a_truncated_jpeg(tmp_path):
    """BUG 2: end to end, the truncated JPEG fails its view (exit 1) and the others are written."""
    root = masked_flat(tmp_path / "in")
    data = (root / "v1.jpg").read_bytes()
    (root / "v1.jpg").write_bytes(data[: int(0.7 * len(data))])
    out = tmp_path / "out"
    assert main(["run", str(root), str(out), "--mask", "masks/{stem}.png", "--quiet", "--no-plots"]) == 1
    assert (out / "v0.png").is_file() and (out / "v2.png").is_file() and not (out / "v1.png").exists()
    failed = run_report(out)["summary"]["failures"]
    assert len(failed) == 1 and "v1.jpg" in failed[0]["view"] and "truncated" in failed[0]["error"]
