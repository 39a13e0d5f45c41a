"""Inputs the command and the library are given: decoders' limits, masks, PIL modes, options.

Each test here failed on the code before issue #19's input items were fixed;
the item it covers is named in its docstring.
"""

import io
import json
import struct

import numpy as np
import pytest

import pixscale
from pixscale.cli import main
from pixscale.pipeline import io as pio
from pixscale.pipeline.io import ViewError, write_png
from pixscale.pipeline.masked import read_colour, read_mask

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
    data = jpeg_bytes(rgb if reader is read_colour else rgb[..., 0], **options)  # a mask is gray
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


@pytest.mark.parametrize("damage", ["40 flipped bytes", "one byte overwritten", "a block's bytes removed"])
def test_a_jpeg_with_damaged_image_data_is_refused_as_corrupt(tmp_path, rgb, damage):
    """BUG 2: flipped bytes in the scan were decoded into garbage rows and counted ok; libjpeg only warns."""
    data = bytearray(jpeg_bytes(rgb, quality=90))
    sos = data.find(b"\xff\xda")
    middle = (sos + len(data)) // 2
    if damage == "40 flipped bytes":
        for i in range(middle, middle + 40):
            data[i] ^= 0xFF
    elif damage == "one byte overwritten":
        data[middle] = 0x00 if data[middle] != 0x00 else 0x01
    else:
        del data[middle : middle + 60]
    path = _write(tmp_path / "flip.jpg", bytes(data))
    with pytest.raises(ViewError, match=r"flip\.jpg: cannot be decoded: the JPEG data is corrupt \("):
        read_colour(path)


def test_valid_jpegs_of_every_common_encoding_are_read(tmp_path):
    """BUG 2's other side: the scan check refuses no valid JPEG (sizes, subsampling, tables, restarts)."""
    from PIL import Image

    rng = np.random.default_rng(5)
    encodings = []
    for h, w in [(1, 1), (7, 13), (17, 9), (33, 70)]:
        colour = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for image in (colour, np.ascontiguousarray(colour[..., 0])):
            for options in ({"quality": 95, "subsampling": 0}, {"quality": 30, "subsampling": 2}, {"optimize": True}):
                buf = io.BytesIO()
                Image.fromarray(image).save(buf, "JPEG", **options)
                encodings.append((image.shape, buf.getvalue()))
    cv2 = pytest.importorskip("cv2")
    for interval in (1, 3, 100):
        ok, data = cv2.imencode(
            ".jpg", rng.integers(0, 256, (40, 56, 3), dtype=np.uint8), [cv2.IMWRITE_JPEG_RST_INTERVAL, interval]
        )
        encodings.append(((40, 56, 3), data.tobytes()))
    for i, (shape, data) in enumerate(encodings):
        assert read_colour(_write(tmp_path / f"{i}.jpg", data)).shape == shape


def test_a_cmyk_jpeg_is_refused_with_the_fix(tmp_path, rgb):
    """BUG 2's neighbour: a 4-component JPEG read as RGB + alpha would drop its K channel."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buf, "JPEG")
    path = _write(tmp_path / "cmyk.jpg", buf.getvalue())
    with pytest.raises(ViewError, match=r"cmyk\.jpg: is a 8-bit JPEG with 4 colour components.*CMYK to RGB"):
        read_colour(path)


@pytest.mark.slow
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


# --- BUG 10: every PIL mode through Normalizer, keeping its depth --------------------------------


@pytest.fixture
def planes():
    """Hand-built planes: gray, colour, a binary alpha, a palette and its index image (40 x 48)."""
    rng = np.random.default_rng(10)
    h, w = 40, 48
    alpha = np.zeros((h, w), np.uint8)
    alpha[8:30, 10:34] = 255
    palette = np.array([[0, 0, 0], [200, 30, 40], [20, 180, 90], [250, 250, 250]], np.uint8)
    index = rng.integers(0, 4, (h, w), dtype=np.uint8)
    index[alpha == 0] = 0
    index[alpha > 0] = np.maximum(index[alpha > 0], 1)
    gray = rng.integers(1, 256, (h, w), dtype=np.uint8)
    rgb = rng.integers(1, 256, (h, w, 3), dtype=np.uint8)
    return {"gray": gray, "rgb": rgb, "alpha": alpha, "palette": palette, "index": index}


def _pil_case(name, p):
    """(PIL image, expected array the result must equal, PIL mode of the result) for one case."""
    from PIL import Image

    g, c, a, pal, idx = p["gray"], p["rgb"], p["alpha"], p["palette"], p["index"]
    on = a > 0
    if name == "1+transparency":
        im = Image.fromarray(on)
        im.info["transparency"] = 0
        return im, np.dstack([a, a]), "LA"
    if name == "L+transparency":
        key = g.copy()
        key[~on] = 7
        key[on] = np.maximum(key[on], 8)
        im = Image.fromarray(key)
        im.info["transparency"] = 7
        return im, np.dstack([key, a]), "LA"
    if name == "LA":
        return Image.fromarray(np.dstack([g, a]), "LA"), np.dstack([g, a]), "LA"
    if name == "La":
        return Image.fromarray(np.dstack([g * on, a]), "LA").convert("La"), np.dstack([g * on, a]), "LA"
    if name in ("P+transparency", "P+palette-alpha"):
        im = Image.fromarray(idx, "P")
        if name == "P+transparency":
            im.putpalette(pal.ravel().tolist())
            im.info["transparency"] = 0
        else:
            im.putpalette(np.hstack([pal, [[0], [255], [255], [255]]]).astype(np.uint8).ravel().tolist(), "RGBA")
        return im, np.dstack([pal[idx], a]), "RGBA"
    if name == "PA":
        im = Image.fromarray(np.dstack([idx, a]), "PA")
        im.putpalette(pal.ravel().tolist())
        return im, np.dstack([pal[idx], a]), "RGBA"
    if name == "RGBA":
        return Image.fromarray(np.dstack([c, a]), "RGBA"), np.dstack([c, a]), "RGBA"
    if name == "RGBa":
        rgba = np.dstack([c * on[..., None], a])
        return Image.fromarray(rgba, "RGBA").convert("RGBa"), rgba, "RGBA"
    raise AssertionError(name)


ALPHA_CASES = ["1+transparency", "L+transparency", "LA", "La", "P+transparency", "P+palette-alpha", "PA"]
ALPHA_CASES += ["RGBA", "RGBa"]


@pytest.mark.parametrize("case", ALPHA_CASES)
def test_pil_images_with_transparency_normalize_like_their_arrays(planes, case):
    """BUG 10: P with palette alpha and La raised; every PIL mode with transparency gives LA / RGBA."""
    Image = pytest.importorskip("PIL.Image")
    im, expected, mode = _pil_case(case, planes)
    norm = pixscale.Normalizer(0.5, exact=False)
    out = norm(im)
    assert isinstance(out, Image.Image) and out.mode == mode
    np.testing.assert_array_equal(np.asarray(out), norm(expected))
    with pytest.raises(ValueError, match=r"has an alpha channel or transparency of its own and a `mask=` was given"):
        norm(im, mask=planes["alpha"])  # two alphas: ambiguous, refused


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBX"])
def test_pil_images_without_alpha_take_the_mask(planes, mode):
    """BUG 10: each 8-bit PIL mode without alpha is measured by mask= and comes back LA or RGBA, 8-bit."""
    Image = pytest.importorskip("PIL.Image")
    g, c, a, pal, idx = (planes[k] for k in ("gray", "rgb", "alpha", "palette", "index"))
    if mode == "1":
        im, colour = Image.fromarray(g > 127), (g > 127).astype(np.uint8) * 255
    elif mode == "L":
        im, colour = Image.fromarray(g), g
    elif mode == "P":
        im = Image.fromarray(idx, "P")
        im.putpalette(pal.ravel().tolist())
        colour = pal[idx]
    elif mode == "RGB":
        im, colour = Image.fromarray(c), c
    else:
        im, colour = Image.fromarray(np.dstack([c, np.zeros_like(a)]), "RGBX"), c
    assert im.mode == mode
    norm = pixscale.Normalizer(0.5, exact=False)
    out = norm(im, mask=a)
    assert out.mode == ("LA" if colour.ndim == 2 else "RGBA")
    np.testing.assert_array_equal(np.asarray(out), norm(np.dstack([colour, a])))
    with pytest.raises(ValueError, match=f"mode '{mode}' has no alpha channel.*mask="):
        norm(im)


@pytest.mark.parametrize(
    "mode, values, dtype",
    [("I", 40000, np.uint16), ("I;16", 40000, np.uint16), ("I;16B", 40000, np.uint16), ("F", 0.6, np.float32)],
)
def test_deep_pil_modes_are_refused_with_the_array_route_that_keeps_their_depth(planes, mode, values, dtype):
    """BUG 10: I;16 raised a bare TypeError, I (40000) came back white and F (0.6) black, at 8 bits.

    PIL has no 16-bit or float gray+alpha mode for the result: a TypeError says to pass the
    array, and that route keeps the dtype and the values.
    """
    Image = pytest.importorskip("PIL.Image")
    a = planes["alpha"]
    plane = np.where(a > 0, values, 0).astype({"I": np.int32, "F": np.float32}.get(mode, np.uint16))
    if mode == "I;16B":
        im = Image.frombytes(mode, plane.shape[::-1], plane.astype(">u2").tobytes())
    else:
        im = Image.fromarray(plane)
    assert im.mode == mode
    norm = pixscale.Normalizer(0.5, exact=False)
    for kwargs in ({"mask": a}, {}):
        with pytest.raises(TypeError, match=rf"mode '{mode}' is .* gray, and PIL has no mode .* np\.asarray\(image\)"):
            norm(im, **kwargs)
    array = np.asarray(im).astype(dtype)  # the route the message names
    out = norm(array, mask=a)
    top = 1.0 if dtype == np.float32 else 65535
    expected = norm(np.dstack([plane.astype(dtype), (a > 0) * np.asarray(top, dtype)]).astype(dtype))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    inside = out[..., 1] == top
    assert inside.any() and np.allclose(out[..., 0][inside], values)  # neither white nor black


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "HSV"])
def test_other_pil_modes_are_refused_with_the_conversion(planes, mode):
    """BUG 10's neighbours: modes pixscale does not read name the conversion to make."""
    Image = pytest.importorskip("PIL.Image")
    im = Image.fromarray(planes["rgb"]).convert(mode)
    with pytest.raises(TypeError, match=rf"mode '{mode}' are not read; convert it first"):
        pixscale.Normalizer(0.5)(im, mask=planes["alpha"])


def test_a_16_bit_view_read_from_file_keeps_its_depth_through_normalizer(tmp_path, planes):
    """BUG 10 (a guard, passed before): what io.read_view returns (16-bit RGBA) stays 16-bit through Normalizer."""
    rgba = np.dstack([planes["rgb"].astype(np.uint16) * 257, planes["alpha"].astype(np.uint16) * 257])
    rgba[..., 0] += 3  # values 8 bits cannot hold
    write_png(tmp_path / "v.png", rgba)
    view = pio.read_view(tmp_path / "v.png")
    out = pixscale.Normalizer(0.5, exact=False)(view)
    assert out.dtype == np.uint16 and (out[..., 0] % 257 != 0).any()


# --- WEAK: masks --------------------------------------------------------------------------------


def _object(h=48, w=40):
    a = np.zeros((h, w), np.uint8)
    a[10:30, 8:28] = 255
    a[9, 8:28] = 128  # a soft edge
    return a


@pytest.mark.parametrize("colour", ["black", "white-object", "gray+alpha"])
def test_a_mask_with_an_alpha_channel_is_read_by_its_alpha(tmp_path, colour):
    """WEAK: an RGBA mask was read by its first colour channel (a black mask in alpha read as empty)."""
    a = _object()
    if colour == "gray+alpha":
        image = np.dstack([np.full_like(a, 255), a])
    else:
        rgb = np.zeros(a.shape + (3,), np.uint8)
        if colour == "white-object":
            rgb[a > 0] = 255
        image = np.dstack([rgb, a])
    write_png(tmp_path / "m.png", image)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), a)


def test_an_ambiguous_or_colour_mask_is_refused_and_gray_ones_are_read(tmp_path):
    """WEAK: a mask whose colour and alpha both vary, or a colour mask, was read by its red channel."""
    a = _object()
    rng = np.random.default_rng(3)
    noisy = np.dstack([rng.integers(0, 256, a.shape + (3,), dtype=np.uint8), a])
    write_png(tmp_path / "both.png", noisy)
    with pytest.raises(ViewError, match=r"both\.png: the mask has an alpha channel and gray or colour values"):
        read_mask(tmp_path / "both.png")
    green = np.zeros(a.shape + (3,), np.uint8)
    green[..., 1] = a
    write_png(tmp_path / "green.png", green)
    with pytest.raises(ViewError, match=r"green\.png: the mask is a colour image .* save it as a gray mask"):
        read_mask(tmp_path / "green.png")
    opaque = np.dstack([a, a, a, np.full_like(a, 255)])  # an all-opaque alpha says nothing: the gray is read
    write_png(tmp_path / "opaque.png", opaque)
    np.testing.assert_array_equal(read_mask(tmp_path / "opaque.png"), a)
    (tmp_path / "gray.jpg").write_bytes(jpeg_bytes(np.dstack([a, a, a]), quality=95))  # RGB JPEG of a gray mask
    got = read_mask(tmp_path / "gray.jpg")
    assert got.shape == a.shape and np.abs(got.astype(int) - a).max() < 40


def test_a_template_that_makes_each_image_its_own_mask_is_refused_up_front(tmp_path, capsys):
    """WEAK: --mask '{stem}.png' over PNG images made every image its own mask: 0 views, exit 0."""
    root = masked_flat(tmp_path / "in", jpeg=False)
    out = tmp_path / "out"
    assert main(["run", str(root), str(out), "--mask", "{stem}.png", "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "makes each image its own mask (v0.png is the mask of v0.png)" in err and "'../masks/{stem}.png'" in err
    assert not out.exists()


def test_a_mask_that_is_also_an_image_with_a_mask_is_refused_up_front(tmp_path, capsys):
    """WEAK: an image that is another image's mask was dropped from the views without a word."""
    root = tmp_path / "in"
    root.mkdir()
    colour = np.full((SIZE, SIZE, 3), 120, np.uint8)
    (root / "a.jpg").write_bytes(jpeg_bytes(colour))
    write_png(root / "a_m.png", colour)  # an image (its mask is a_m_m.png) and a.jpg's mask
    write_png(root / "a_m_m.png", _object(SIZE, SIZE))
    assert main(["run", str(root), str(tmp_path / "out"), "--mask", "{stem}_m.png", "--quiet", "--no-plots"]) == 2
    assert "a_m.png is both an image (its mask is a_m_m.png) and the mask of a.jpg" in capsys.readouterr().err


@pytest.mark.slow
def test_masks_beside_images_still_work_and_an_orphan_fails_its_view(tmp_path):
    """WEAK's neighbour: a.png beside a.jpg is a.jpg's mask; a PNG with no JPEG fails, named, not dropped."""
    root = masked_flat(tmp_path / "in")
    for p in (root / "masks").iterdir():
        p.rename(root / p.name)
    write_png(root / "stray.png", _object(SIZE, SIZE))
    out = tmp_path / "out"
    assert main(["run", str(root), str(out), "--mask", "{stem}.png", "--quiet", "--no-plots"]) == 1
    (failed,) = run_report(out)["summary"]["failures"]
    assert failed["view"] == "stray.png" and "makes it its own mask" in failed["error"]
    assert sorted(p.name for p in out.glob("*.png")) == ["v0.png", "v1.png", "v2.png"]


@pytest.mark.slow
def test_write_mask_names_the_files_by_their_content(tmp_path):
    """WEAK: --write-mask wrote PNG data under the JPEG masks' .jpg names."""
    root = masked_flat(tmp_path / "in")
    for p in sorted((root / "masks").iterdir()):
        (root / "masks" / f"{p.stem}.jpg").write_bytes(jpeg_bytes(read_mask(p), quality=98))
        p.unlink()
    out = tmp_path / "out"
    args = ["run", str(root), str(out), "--mask", "masks/{stem}.jpg", "--write-mask", "--quiet", "--no-plots"]
    assert main(args) == 0
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["v0.png", "v1.png", "v2.png"]
    for p in [*(out / "masks").iterdir(), *out.glob("v*.png")]:
        assert p.read_bytes().startswith(pio.PNG_SIGNATURE)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_mask_is_not_a_regular_file_not_missing(tmp_path):
    """WEAK: a FIFO mask was reported 'missing'."""
    import os

    root = masked_flat(tmp_path / "in")
    (root / "masks" / "v1.png").unlink()
    os.mkfifo(root / "masks" / "v1.png")
    (root / "masks" / "v2.png").unlink()
    (root / "masks" / "v2.png").mkdir()
    out = tmp_path / "out"
    assert main(["run", str(root), str(out), "--mask", "masks/{stem}.png", "--quiet", "--no-plots"]) == 1
    errors = {f["view"]: f["error"] for f in run_report(out)["summary"]["failures"]}
    assert "is not a regular file (a FIFO, socket or device" in errors["v1.jpg"]
    assert "masks/v2.png (from `mask='masks/{stem}.png'`) is a folder" in errors["v2.jpg"]


# --- WEAK: Normalizer's options are checked, with their types, at construction ------------------


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"exact": "no"}, TypeError, "`exact=` must be True or False; got 'no'"),
        ({"exact": 1}, TypeError, "`exact=` must be True or False"),
        ({"premultiplied": "False"}, TypeError, "`premultiplied=` must be True or False"),
        ({"erase_specks": "yes", "min_component": 5}, TypeError, "`erase_specks=` must be True or False"),
        ({"background": "nope"}, ValueError, "unknown colour 'nope'"),
        ({"background": [1, 2]}, TypeError, "`background=` must be None, a colour"),
        ({"background": True}, TypeError, "`background=` must be None, a colour"),
        ({"background": float("nan")}, ValueError, "`background=` values must be finite"),
        ({"background": -1}, ValueError, "`background=` values must be finite and >= 0"),
        ({"pixel_center": False}, ValueError, "`pixel_center=` must be 0.5"),
        ({"center": "middle"}, ValueError, "`center=` must be one of 'centroid'"),
        ({"center": (1,)}, TypeError, "`center=` must be an"),
        ({"margin": True}, ValueError, "`margin=` must be"),
        ({"filter": 1}, ValueError, "`filter=` must be one of"),
        ({"threshold": "10"}, TypeError, "`threshold=` must be a number"),
        ({"target": True}, TypeError, "`target=` must be a number"),
        ({"fit": "yes"}, ValueError, "`fit=` must be one of"),
    ],
)
def test_normalizer_options_are_checked_at_construction(options, error, match):
    """WEAK: options were checked only at the first call, and exact='no' was read as True."""
    with pytest.raises(error, match=match):
        pixscale.Normalizer(**{"target": 0.3, **options})


def test_normalizer_accepts_numpy_bools_and_valid_backgrounds():
    """WEAK's other side: NumPy bools and every documented background form still construct."""
    for background in (None, "white", "#ff8000", "0,64,255", 0, 255.0, (1, 2, 3), np.array([0.5])):
        pixscale.Normalizer(0.3, background=background)
    norm = pixscale.Normalizer(0.3, exact=np.bool_(False), premultiplied=np.True_)
    assert norm.exact is False and norm.premultiplied is True


# --- WEAK: one rule for float colour, for every filter and the reference -------------------------


FILTERS = ["bilinear", "lanczos4", "area"]


def _float_view(dtype=np.float32):
    rng = np.random.default_rng(8)
    img = np.zeros((48, 48, 4), dtype)
    img[12:36, 10:30, :3] = rng.random((24, 20, 3))
    img[12:36, 10:30, 3] = 1
    img[20:24, 14:18, :3] = 1  # a hard white edge: Lanczos rings next to it
    return img


@pytest.mark.parametrize("scale", [0.6, 1.7])
@pytest.mark.parametrize("filter", FILTERS)
def test_float_colour_outside_0_1_is_refused_by_every_filter_and_the_reference(filter, scale):
    """WEAK: float colour above 1 was kept by bilinear (and area above scale 1) and clipped by the others."""
    from pixscale import reference

    hdr = _float_view()
    hdr[12:36, 10:30, 0] *= 3
    t = pixscale.ScaleTransform(
        scale=scale, src_center=(24, 24), dst_center=(24, 24), input_shape=(48, 48), output_shape=(48, 48)
    )
    with pytest.raises(ValueError, match=r"a float image must hold values in \[0, 1\] \(colour and alpha\); got"):
        pixscale.warp(hdr, t, filter=filter)
    with pytest.raises(ValueError, match=r"must hold values in \[0, 1\]"):
        pixscale.normalize(hdr, target=0.4, filter=filter)
    with pytest.raises(ValueError, match=r"must hold values in \[0, 1\]"):
        pixscale.normalize_batch(hdr[None], target=0.4, filter=filter, output_shape=(48, 48))
    with pytest.raises(ValueError, match=r"must hold values in \[0, 1\]"):
        reference.filtered(hdr, t, filter=filter) if filter != "bilinear" else reference.warp(hdr, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [0.6, 1.7])
@pytest.mark.parametrize("filter", FILTERS)
def test_every_filter_keeps_float_output_in_0_1(filter, scale, dtype):
    """WEAK: the rule's other half: every filter's float output, and the reference's, lies in [0, 1]."""
    from pixscale import reference

    img = _float_view(dtype)
    t = pixscale.ScaleTransform(
        scale=scale, src_center=(24, 24), dst_center=(24, 24), input_shape=(48, 48), output_shape=(48, 48)
    )
    out = pixscale.warp(img, t, filter=filter)
    ref = reference.warp(img, t) if filter == "bilinear" else reference.filtered(img, t, filter=filter)
    for o in (out, ref):
        assert o.dtype == dtype and o.min() >= 0 and o.max() <= 1
