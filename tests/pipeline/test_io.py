"""Reading views and writing files: bit depth, transparency, odd files, permissions, failures.

PNGs with a given header are built here by a small writer of its own (struct +
zlib), so the decoder is checked against bytes that do not come from it.
"""

import errno
import io
import os
import stat
import struct
import threading
import zlib

import imageio.v3 as iio
import numpy as np
import pytest

import pixscale.pipeline.files
import pixscale.pipeline.io
from pixscale.pipeline.files import atomic_write_bytes, atomic_write_text
from pixscale.pipeline.io import ViewError, encode_png, read_view, view_kind, write_png

GRAY, RGB, PALETTE, GRAY_ALPHA, RGBA = 0, 2, 3, 4, 6
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind, body=b""):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _rows(samples, bit_depth):
    """Raw scanlines (filter byte 0) of an (H, W*C) array of samples at ``bit_depth``."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            data = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            per_byte = 8 // bit_depth
            padded = np.zeros(-(-len(row) // per_byte) * per_byte, np.uint8)
            padded[: len(row)] = row
            shifts = bit_depth * np.arange(per_byte - 1, -1, -1, dtype=np.uint8)
            data = (padded.reshape(-1, per_byte) << shifts).sum(axis=1).astype(np.uint8).tobytes()
        rows.append(b"\x00" + data)
    return b"".join(rows)


def _png(samples, bit_depth, colour_type, *, before_idat=(), width=None, height=None):
    """PNG bytes of ``samples`` (H, W) or (H, W, C), with extra chunks before the image data."""
    samples = np.asarray(samples)
    h, w = samples.shape[:2]
    header = struct.pack(">IIBBBBB", width or w, height or h, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(_rows(samples.reshape(h, -1), bit_depth))
    return SIGNATURE + _chunk(b"IHDR", header) + b"".join(before_idat) + _chunk(b"IDAT", idat) + _chunk(b"IEND")


@pytest.fixture
def view_bytes(rng):
    """An 8-bit RGBA PNG (20 x 30) with a transparent border, and its pixels."""
    image = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    image[:3] = 0
    return encode_png(image), image


# ------------------------------------------------------------------ 1. bit depth and transparency


@pytest.mark.parametrize("channels", [4, 2])
def test_16bit_views_round_trip_bit_exactly(tmp_path, rng, channels):
    image = rng.integers(0, 65536, (33, 47, channels), dtype=np.uint16)
    image[0, :4, 0] = (1, 255, 256, 65534)  # values that 8 bits (x 257) cannot hold
    assert np.any(image % 257)
    path = tmp_path / "view.png"
    write_png(path, image)
    data = path.read_bytes()
    assert data[24:26] == bytes([16, RGBA if channels == 4 else GRAY_ALPHA])  # IHDR: 16-bit, with alpha
    back = read_view(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize("channels", [4, 2])
def test_16bit_png_from_another_writer_keeps_its_bits(tmp_path, rng, channels):
    image = rng.integers(0, 65536, (9, 11, channels), dtype=np.uint16)
    path = tmp_path / "render.png"
    path.write_bytes(_png(image, 16, RGBA if channels == 4 else GRAY_ALPHA))
    back = read_view(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)


def test_8bit_views_stay_8bit_and_unchanged(tmp_path, view_bytes):
    data, image = view_bytes
    path = tmp_path / "view.png"
    path.write_bytes(data)
    back = read_view(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, image)
    assert iio.imread(io.BytesIO(data)).shape == image.shape


def _trns_cases():
    rng = np.random.default_rng(7)
    cases = {}
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    alpha = np.array([0, 128, 255, 9], np.uint8)  # entries past the tRNS table are opaque
    index = rng.integers(0, 6, (5, 7), dtype=np.uint8)
    for depth in (8, 4, 2):
        idx = index % (2**depth) if depth < 8 else index
        full_alpha = np.concatenate([alpha, np.full(len(palette) - len(alpha), 255, np.uint8)])
        expected = np.concatenate([palette[idx], full_alpha[idx][..., None]], axis=2)
        cases[f"palette{depth}"] = (
            _png(
                idx, depth, PALETTE, before_idat=[_chunk(b"PLTE", palette.tobytes()), _chunk(b"tRNS", alpha.tobytes())]
            ),
            expected,
        )
    for depth, dtype in ((8, np.uint8), (16, np.uint16)):
        top = np.iinfo(dtype).max
        rgb = rng.integers(0, 3, (5, 7, 3)).astype(dtype) * (top // 2)
        key = rgb[0, 0].copy()
        opaque = np.any(rgb != key, axis=2)
        cases[f"rgb{depth}"] = (
            _png(rgb, depth, RGB, before_idat=[_chunk(b"tRNS", key.astype(">u2").tobytes())]),
            np.concatenate([rgb, (opaque * top).astype(dtype)[..., None]], axis=2),
        )
        gray = rng.integers(0, top + 1, (5, 7)).astype(dtype)
        gray[1, 1] = gray[0, 0] + 1 if gray[0, 0] < top else 0
        cases[f"gray{depth}"] = (
            _png(gray, depth, GRAY, before_idat=[_chunk(b"tRNS", struct.pack(">H", gray[0, 0]))]),
            np.stack([gray, ((gray != gray[0, 0]) * top).astype(dtype)], axis=2),
        )
    for depth in (1, 2, 4):
        gray = rng.integers(0, 2**depth, (6, 9)).astype(np.uint8)
        key = gray[0, 0]
        scaled = gray * (255 // (2**depth - 1))  # low bit depths are scaled to the full 8 bits
        cases[f"gray{depth}"] = (
            _png(gray, depth, GRAY, before_idat=[_chunk(b"tRNS", struct.pack(">H", key))]),
            np.stack([scaled, (gray != key) * np.uint8(255)], axis=2).astype(np.uint8),
        )
    la = rng.integers(0, 256, (5, 7, 2), dtype=np.uint8)
    cases["gray_alpha8"] = (_png(la, 8, GRAY_ALPHA), la)
    return cases


TRNS_CASES = _trns_cases()


@pytest.mark.parametrize("name", sorted(TRNS_CASES))
def test_every_png_transparency_becomes_an_alpha_channel(tmp_path, name):
    data, expected = TRNS_CASES[name]
    path = tmp_path / f"{name}.png"
    path.write_bytes(data)
    back = read_view(path)
    assert back.dtype == expected.dtype
    np.testing.assert_array_equal(back, expected)
    # What the header says read_view will give; a palette's transparency may lie past the bytes read.
    dtype, channels = view_kind(path)
    assert dtype == back.dtype and channels in (
        (back.shape[2], None) if name.startswith("palette") else (back.shape[2],)
    )


@pytest.mark.parametrize(
    "colour_type, samples",
    [
        (RGB, np.zeros((4, 5, 3), np.uint8)),
        (GRAY, np.zeros((4, 5), np.uint8)),
        (PALETTE, np.zeros((4, 5), np.uint8)),
    ],
)
def test_pngs_without_transparency_are_refused(tmp_path, colour_type, samples):
    extra = [_chunk(b"PLTE", bytes(3))] if colour_type == PALETTE else []
    path = tmp_path / "opaque.png"
    path.write_bytes(_png(samples, 8, colour_type, before_idat=extra))
    with pytest.raises(ViewError, match="no alpha channel.*; .*export the views with their object mask as alpha"):
        read_view(path)
    assert view_kind(path) == (np.dtype(np.uint8), None)


def test_write_png_rejects_other_dtypes(tmp_path):
    with pytest.raises(TypeError, match="uint8 or uint16"):
        write_png(tmp_path / "f.png", np.zeros((4, 4, 4), np.float32))
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ 2. file modes and temporary names


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, view_bytes, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.png", view_bytes[0])
        write_png(tmp_path / "b.png", view_bytes[1])
        atomic_write_text(tmp_path / "c.json", "{}\n")
    finally:
        os.umask(old)
    for name in ("a.png", "b.png", "c.json"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name


def test_temporary_file_is_exclusive_hidden_and_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    real_open, real_replace = os.open, os.replace

    def spy_open(path, flags, *args):
        seen.append(("open", os.fspath(path), flags))
        return real_open(path, flags, *args)

    def spy_replace(src, dst):
        seen.append(("replace", os.fspath(src), os.fspath(dst)))
        assert (tmp_path / "out.png").exists() is False  # nothing under the final name before the rename
        return real_replace(src, dst)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "replace", spy_replace)
    atomic_write_bytes(tmp_path / "out.png", b"data")
    monkeypatch.undo()
    (_, tmp, flags), (_, src, dst) = seen
    assert src == tmp and dst == os.fspath(tmp_path / "out.png")
    assert os.path.dirname(tmp) == os.fspath(tmp_path)
    name = os.path.basename(tmp)
    assert name.startswith(".out.png.") and name.endswith(".part")
    assert flags & os.O_EXCL and flags & os.O_CREAT
    assert os.listdir(tmp_path) == ["out.png"]
    assert (tmp_path / "out.png").read_bytes() == b"data"


def test_an_existing_temporary_name_is_never_shared(tmp_path, monkeypatch):
    tokens = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(pixscale.pipeline.files.secrets, "token_hex", lambda n: next(tokens))
    other = tmp_path / ".v.png.aaaaaaaa.part"  # another writer's file
    other.write_bytes(b"theirs")
    atomic_write_bytes(tmp_path / "v.png", b"mine")
    assert other.read_bytes() == b"theirs"
    assert (tmp_path / "v.png").read_bytes() == b"mine"
    assert sorted(os.listdir(tmp_path)) == [".v.png.aaaaaaaa.part", "v.png"]


def test_long_names_get_a_temporary_name_the_file_system_accepts(tmp_path):
    name = "é" * 120 + ".png"  # 244 bytes in UTF-8: with a prefix and suffix it would pass NAME_MAX
    atomic_write_bytes(tmp_path / name, b"x")
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("name", ["with space.png", "-leading-dash.png", "ünïcødé 视图.png", "--.png"])
def test_odd_file_names_round_trip(tmp_path, monkeypatch, view_bytes, name):
    monkeypatch.chdir(tmp_path)  # a relative name, as a shell glob would give it
    write_png(name, view_bytes[1])
    np.testing.assert_array_equal(read_view(name), view_bytes[1])
    assert os.listdir(".") == [name]


# ------------------------------------------------------------------ 3. files that are not (usable) PNGs


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "view.png"
    os.mkfifo(fifo)
    errors = []

    def read():
        try:
            read_view(fifo)
        except ViewError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # blocked opening the FIFO: give it a writer so the thread can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("read_view blocked on a FIFO")
    assert len(errors) == 1 and "not a regular file" in errors[0].reason


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null and /dev/zero")
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_symlink_to_a_device_is_refused(tmp_path, device):
    link = tmp_path / "view.png"
    link.symlink_to(device)
    with pytest.raises(ViewError, match="not a regular file.*; replace it with the PNG file itself"):
        read_view(link)


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "views.png").mkdir()
    with pytest.raises(ViewError, match="is a folder, not an image file; "):
        read_view(tmp_path / "views.png")


def test_a_file_that_vanished_is_reported(tmp_path, monkeypatch, view_bytes):
    path = tmp_path / "gone.png"
    with pytest.raises(ViewError, match="does not exist.*; restore it"):
        read_view(path)
    path.write_bytes(view_bytes[0])  # removed between the check and the open
    real_open = os.open

    def remove_then_open(p, *args):
        if os.fspath(p) == os.fspath(path):
            os.unlink(p)
        return real_open(p, *args)

    monkeypatch.setattr(os, "open", remove_then_open)
    with pytest.raises(ViewError, match="does not exist.*; restore it"):
        read_view(path)


def test_permission_denied_is_reported(tmp_path, monkeypatch, view_bytes):
    path = tmp_path / "locked.png"
    path.write_bytes(view_bytes[0])
    real_open = os.open

    def denied(p, *args):  # as chmod 000 does, also when the tests run as root
        if os.fspath(p) == os.fspath(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(p))
        return real_open(p, *args)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(ViewError, match="permission denied; make the file readable"):
        read_view(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_reported(tmp_path, view_bytes):
    path = tmp_path / "locked.png"
    path.write_bytes(view_bytes[0])
    path.chmod(0)
    with pytest.raises(ViewError, match="permission denied"):
        read_view(path)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch, view_bytes):
    path = tmp_path / "big.png"
    path.write_bytes(view_bytes[0])
    with pytest.raises(ViewError, match=r"more than the 100-byte limit.*; .*MAX_FILE_BYTES"):
        read_view(path, max_bytes=100)
    monkeypatch.setattr(pixscale.pipeline.io, "MAX_FILE_BYTES", 100)
    with pytest.raises(ViewError, match="100-byte limit"):
        read_view(path)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"  # a tiny file whose header claims 100000 x 100000 RGBA pixels
    path.write_bytes(_png(np.zeros((1, 1, 4), np.uint8), 8, RGBA, width=100_000, height=100_000))
    with pytest.raises(ViewError, match=r"declares 100000 x 100000 .*decompression bomb.*; .*MAX_PIXELS"):
        read_view(path)
    small = tmp_path / "small.png"
    small.write_bytes(_png(np.zeros((10, 10, 4), np.uint8), 8, RGBA))
    with pytest.raises(ViewError, match="more than the limit of 99 "):
        read_view(small, max_pixels=99)


@pytest.mark.parametrize("pillow_limit", [3000, 1000])  # warns above the limit, raises above twice it
def test_pillows_decompression_bomb_limit_neither_warns_nor_refuses(tmp_path, monkeypatch, view_bytes, pillow_limit):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    image = np.zeros((64, 64, 4), np.uint8)  # 4096 pixels
    image[20:40, 20:40] = 200
    path = tmp_path / "view.png"
    path.write_bytes(encode_png(image))
    np.testing.assert_array_equal(read_view(path), image)  # warnings are errors in this suite


def test_a_truncated_png_is_reported(tmp_path, rng):
    image = rng.integers(0, 65536, (40, 50, 4), dtype=np.uint16)
    data = encode_png(image)
    path = tmp_path / "cut.png"
    for size in (len(data) // 2, len(data) - 30, 40):
        path.write_bytes(data[:size])
        with pytest.raises(ViewError, match=r"ends early \(the file is truncated.*; re-export or re-copy"):
            read_view(path)


def test_a_corrupt_png_is_reported(tmp_path, view_bytes):
    data = bytearray(view_bytes[0])
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ViewError, match=r"cannot be decoded: the PNG data is corrupt \(.*\); re-export"):
        read_view(path)
    path.write_bytes(SIGNATURE + b"not really a png")
    with pytest.raises(ViewError, match=r"cannot be decoded as PNG: .*IHDR.*; re-export"):
        read_view(path)


@pytest.mark.parametrize(
    "content, kind",
    [
        (iio.imwrite("<bytes>", np.zeros((8, 8, 3), np.uint8), extension=".jpg"), "a JPEG image"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1234\n", "text"),
        # A TIFF header with one empty directory (imageio's TIFF writer needs the optional tifffile).
        (b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00", "a TIFF image"),
        (b"\x89PNG\n\x1a\n" + b"\x00" * 40, "a PNG whose signature is damaged"),
    ],
)
def test_a_non_png_named_png_is_named_for_what_it_is(tmp_path, content, kind):
    path = tmp_path / "view.png"
    path.write_bytes(content)
    with pytest.raises(ViewError, match=f"not a PNG file \\(its content looks like {kind}.*; .*convert it to PNG"):
        read_view(path)


def test_an_empty_file_is_reported(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ViewError, match=r"empty \(0 bytes\); re-export"):
        read_view(tmp_path / "empty.png")


def test_an_animated_png_is_refused(tmp_path):
    from PIL import Image

    frames = [Image.fromarray(np.full((8, 8, 4), v, np.uint8)) for v in (50, 200)]
    path = tmp_path / "turntable.png"
    frames[0].save(path, format="PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(ViewError, match=r"animated PNG \(2 frames\); .*one still image per view"):
        read_view(path)


# ------------------------------------------------------------------ 4. failures while writing


@pytest.mark.parametrize("fail_in", ["write", "fsync", "close"])
def test_a_full_disk_leaves_no_file_and_says_what_to_do(tmp_path, monkeypatch, fail_in):
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "old.png").write_bytes(b"previous run")
    real_close = os.close

    def no_space(*args):
        if fail_in == "close":
            real_close(*args)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, fail_in, no_space)
    for name in ("x.png", "old.png"):
        with pytest.raises(OSError) as info:
            atomic_write_bytes(out / name, b"\x89PNG" * 1000)
        assert info.value.errno == errno.ENOSPC
        assert str(info.value) == (
            f"cannot write {out / name}: the disk holding {out} is full (or over its quota); "
            "free space on it, or choose another disk; then rerun with `resume=True`"
        )
    monkeypatch.undo()
    assert os.listdir(out) == ["old.png"]  # no temporary file, nothing new under the final name
    assert (out / "old.png").read_bytes() == b"previous run"


def test_a_failed_rename_removes_the_temporary_file(tmp_path):
    (tmp_path / "taken.png").mkdir()  # a folder is in the way of the rename
    with pytest.raises(OSError, match=r"cannot write .*taken\.png: .*\(errno \d+\); "):
        atomic_write_bytes(tmp_path / "taken.png", b"data")
    assert os.listdir(tmp_path) == ["taken.png"]


def test_an_interrupted_write_removes_the_temporary_file(tmp_path, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_png(tmp_path / "v.png", np.zeros((4, 4, 4), np.uint8))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_a_write_error_is_worded_by_os_problem_and_never_names_the_temporary_file(tmp_path, monkeypatch):
    """One home for OS-error wording: a write's error says what os_problem says, of the destination's folder."""
    from pixscale.pipeline.files import os_problem

    out = tmp_path / "OUT"
    out.mkdir()
    real_open = os.open

    def denied(path, *args, **kwargs):
        if os.fspath(path).endswith(".part"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(PermissionError) as info:
        atomic_write_bytes(out / "v.png", b"data")
    monkeypatch.undo()
    problem, fix = os_problem(PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out)))
    assert str(info.value) == f"cannot write {out / 'v.png'}: {problem}; {fix}; then rerun with `resume=True`"
    assert ".part" not in str(info.value) and info.value.errno == errno.EACCES


def test_an_unreadable_dataset_folder_is_worded_by_os_problem(tmp_path, monkeypatch):
    """One home for OS-error wording: a dataset folder that cannot be listed says what os_problem says."""
    from pixscale.pipeline.discover import discover
    from pixscale.pipeline.files import os_problem
    from pixscale.pipeline.layouts import unreadable

    real_listdir = os.listdir

    def denied(path="."):
        if os.fspath(path) == os.fspath(tmp_path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", denied)
    want = os_problem(PermissionError(errno.EACCES, "", str(tmp_path)), reading=True)
    assert unreadable(tmp_path) == want
    assert "cannot be read by this user" in want[0] and "chmod -R a+rX" in want[1]
    with pytest.raises(ValueError) as info:
        discover(tmp_path)
    assert str(info.value) == f"{want[0]}; {want[1]}."
