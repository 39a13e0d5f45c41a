"""encode_png's fast path (zlib-ng) against its fallback (Pillow / libpng): same pixels for every mode it writes."""

import io
import struct

import imagecodecs
import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

import pixscale.pipeline.io as pio
from pixscale.pipeline.io import encode_png, read_view, write_png

SHAPES = {"gray": (), "gray (H, W, 1)": (1,), "gray+alpha": (2,), "RGB": (3,), "RGBA": (4,)}


def _chunks(data):
    """(kind, body) of every chunk of PNG bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _image(rng, dtype, extra, height=37, width=29):
    image = rng.integers(0, np.iinfo(dtype).max + 1, (height, width, *extra), dtype=dtype)
    image[:5] = 0  # a transparent border, as outputs have
    image[7, :4] = np.iinfo(dtype).max
    return image


@pytest.fixture(autouse=True)
def _zlib_ng_present():
    if pio._zlib_ng() is None:
        pytest.skip("this imagecodecs has no zlib-ng: encode_png takes its fallback")


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("mode", list(SHAPES))
def test_the_fast_path_and_the_fallback_decode_to_the_same_pixels(rng, mode, dtype, level):
    image = _image(rng, dtype, SHAPES[mode])
    want = image[..., 0] if SHAPES[mode] == (1,) else image
    fast = encode_png(image, compress_level=level)
    slow = pio._encode_fallback(want, level)
    assert fast != slow  # two encoders indeed
    for data in (fast, slow):
        back = imagecodecs.png_decode(data)
        assert back.dtype == want.dtype and np.array_equal(back, want)
    if dtype == np.uint8:  # another decoder than the one pixscale reads with
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(fast))), want)
    # Same header (size, bit depth, colour type, no interlace) and the same kinds of chunk: no metadata added.
    assert _chunks(fast)[0] == _chunks(slow)[0]
    assert {k for k, _ in _chunks(fast)} == {k for k, _ in _chunks(slow)} == {b"IHDR", b"IDAT", b"IEND"}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [4, 2])
def test_written_views_read_back_bit_exactly_at_their_depth(tmp_path, rng, dtype, channels):
    image = _image(rng, dtype, (channels,))
    write_png(tmp_path / "v.png", image, compress_level=6)
    back = read_view(tmp_path / "v.png")
    assert back.dtype == dtype and np.array_equal(back, image)


def test_strided_and_big_endian_arrays_are_encoded_as_their_values(rng):
    image = _image(rng, np.uint16, (4,))
    for variant in (image.astype(">u2"), image[::2, ::3], image[..., :3], np.asfortranarray(image)):
        assert np.array_equal(imagecodecs.png_decode(encode_png(variant)), variant)


def test_the_image_data_may_span_many_idat_chunks(rng, monkeypatch):
    image = _image(rng, np.uint8, (4,))
    monkeypatch.setattr(pio, "_IDAT_BYTES", 100)
    data = encode_png(image)
    assert sum(k == b"IDAT" for k, _ in _chunks(data)) > 3
    assert np.array_equal(imagecodecs.png_decode(data), image)


def test_without_zlib_ng_the_earlier_route_writes_the_same_bytes_as_before(rng, monkeypatch):
    """The fallback: 8-bit as imageio's Pillow plugin wrote it (0.1.0's bytes), 16-bit through libpng."""
    eight, sixteen = _image(rng, np.uint8, (4,)), _image(rng, np.uint16, (2,))
    monkeypatch.setattr(pio, "_zlib_ng", lambda: None)
    for level in (1, 6):
        before = iio.imwrite("<bytes>", eight, extension=".png", plugin="pillow", compress_level=level)
        assert encode_png(eight, compress_level=level) == before
        assert encode_png(sixteen, compress_level=level) == imagecodecs.png_encode(sixteen, level=level)
    assert np.array_equal(imagecodecs.png_decode(encode_png(eight[..., :1])), eight[..., 0])  # (H, W, 1): gray


def test_an_empty_image_takes_the_fallback(monkeypatch):
    calls = []
    real = pio._encode_fallback
    monkeypatch.setattr(pio, "_encode_fallback", lambda image, level: calls.append(image.shape) or real(image, level))
    with pytest.raises(ValueError, match="empty image"):  # Pillow's word, as before
        encode_png(np.zeros((0, 4, 4), np.uint8))
    assert calls == [(0, 4, 4)]
