"""The bad-input corpus: every kind of odd file, odd name and fault a dataset can hold.

Each case damages a fresh copy of a small synthetic dataset, runs ``pixscale run``
in-process and checks the four promises of the trust issue:

* the exit code (0 when the odd input is legitimately accepted, 1 when a view or
  sample failed, 2 when the whole run is refused up front);
* a failure names the file (the ``view`` or ``sample`` of a failure in
  ``report.json``, and the printed table) and the problem (a case-specific
  substring of its ``error``); a refusal is one ``pixscale: error:`` line on
  stderr naming the thing, and nothing is created at OUT_DIR;
* every view that was not damaged is written and decodes, and is the only
  kind of view the report calls ok;
* the input tree is unchanged: names, file types, modes, bytes and symlink targets.
"""

import hashlib
import io
import json
import os
import posixpath
import shutil
import signal
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.io import encode_png, read_view
from pixscale.report.summary import format_table

pytestmark = pytest.mark.slow

SIZE = 64
LAYOUTS = ("gslrm", "mvdiffusion", "flat")
CAMS = "opencv_cameras.json"
TIME_LIMIT_S = 60  # one case; a hang (a FIFO opened for reading, say) fails instead of blocking the suite


def _pristine_keys(layout):
    if layout == "gslrm":
        return {f"sample_{s:03d}/images/cam_{v:03d}.png" for s in range(2) for v in range(6)}
    if layout == "mvdiffusion":
        return {f"sample_{s:03d}/cam_{v:03d}.png" for s in range(2) for v in range(6)}
    return {f"view_{i:04d}.png" for i in range(12)}


# The view each layout's image cases damage.
VIEW = {"gslrm": "sample_000/images/cam_001.png", "mvdiffusion": "sample_000/cam_001.png", "flat": "view_0001.png"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One untouched dataset per layout, written once and copied per case."""
    base = tmp_path_factory.mktemp("pristine")
    roots = {}
    for layout in LAYOUTS:
        roots[layout] = base / layout
        synth.write_dataset(roots[layout], n_samples=2, size=SIZE, seed=0, layout=layout)
    return roots


# ----------------------------------------------------------------------------- the tree snapshot


def snapshot(root):
    """{relative path (bytes): (kind, mode, sha256 / link target / None)} of everything under ``root``.

    Nothing but regular files is opened: FIFOs and devices are recorded, never read.
    """
    root = os.fsencode(root)
    if not os.path.lexists(root):
        return None
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", None, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), (digest, st.st_mtime_ns))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode), None)
    return out


# ----------------------------------------------------------------------------- PNG crafting


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def chunks(data):
    """[(offset, length, kind)] of the chunks of a PNG."""
    pos, out = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        out.append((pos, length, kind))
        pos += 12 + length
    return out


SIG = b"\x89PNG\r\n\x1a\n"


def crafted_png(width, height, bit_depth=8, colour_type=6, idat=b"", extra=()):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return SIG + chunk(b"IHDR", ihdr) + b"".join(extra) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def blob(size=SIZE, radius=18, alpha=255):
    """A round opaque object on a transparent canvas: (H, W, 4) uint8."""
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 <= radius**2
    img = np.zeros((size, size, 4), np.uint8)
    img[inside] = (200, 120, 40, alpha)
    return img


def pil_png(image, **save):
    buf = io.BytesIO()
    image.save(buf, format="PNG", **save)
    return buf.getvalue()


def pil_bytes(fmt, mode="RGB"):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(blob()[..., :3] if mode == "RGB" else blob()).save(buf, format=fmt)
    return buf.getvalue()


def palette_png(trns):
    from PIL import Image

    img = Image.fromarray(blob()[..., :3]).convert("P")
    if trns:
        idx = np.asarray(img)
        bg = int(idx[0, 0])
        alpha = bytes(0 if i == bg else 255 for i in range(256))
        return pil_png(img, transparency=alpha)
    return pil_png(img)


def animated_png(frames):
    from PIL import Image

    imgs = [Image.fromarray(blob(radius=10 + 4 * i)) for i in range(frames)]
    return pil_png(imgs[0], save_all=True, append_images=imgs[1:], duration=100)


# ----------------------------------------------------------------------------- the cases


@dataclass
class Ctx:
    """What a case may change: the input copy, the output folder and the command line."""

    inp: Path
    out: Path
    tmp: Path
    layout: str
    argv: list

    @property
    def view(self):
        return self.inp / VIEW[self.layout]

    def cams(self, sample="sample_000"):
        return self.inp / sample / CAMS

    def edit_cams(self, fn, sample="sample_000"):
        data = json.loads(self.cams(sample).read_text())
        fn(data)
        self.cams(sample).write_text(json.dumps(data))

    def set_frame(self, i, key, value, sample="sample_000"):
        def fn(data):
            if value is DELETE:
                del data["frames"][i][key]
            else:
                data["frames"][i][key] = value

        self.edit_cams(fn, sample)


DELETE = object()


@dataclass
class Case:
    id: str
    layout: str
    damage: object  # fn(ctx)
    code: int
    failures: tuple = ()  # (name of the view or sample, substring of the error)
    lost: tuple = ()  # pristine views that are not written
    extra: tuple = ()  # new view keys that are written
    refused: str = ""  # code 2: substring of the error line
    check: object = None  # fn(ctx) -> None, more assertions on OUT
    marks: tuple = ()
    skip: str = ""
    out_exists: bool = False  # code 2: OUT existed before the run (it must be left as it was)


CASES = []


def case(
    id, layout, code, failures=(), lost=None, extra=(), refused="", check=None, bug=None, skip="", out_exists=False
):
    """Register a case; ``lost`` defaults to the views named by the failures; ``bug`` marks a known bug (xfail)."""

    def register(fn):
        nonlocal lost
        if lost is None:
            lost = tuple(name for name, _ in failures if name.endswith((".png", ".PNG")))
        marks = (pytest.mark.xfail(strict=True, reason=f"BUG: {bug}"),) if bug else ()
        CASES.append(
            Case(
                id,
                layout,
                fn,
                code,
                tuple(failures),
                tuple(lost),
                tuple(extra),
                refused,
                check,
                marks,
                skip,
                out_exists,
            )
        )
        return fn

    return register


def write(path, data):
    path.unlink()
    path.write_bytes(data)


def png_of(ctx):
    return ctx.view.read_bytes()


G, M, F = "gslrm", "mvdiffusion", "flat"
GV, MV, FV = VIEW[G], VIEW[M], VIEW[F]


# --- not a PNG at all


@case("random-bytes-named-png", G, 1, [(GV, "not a PNG file (its content looks like unknown binary data)")])
def _(ctx):
    write(ctx.view, bytes(range(256)) * 8)


@case("empty-file", G, 1, [(GV, "the file is empty (0 bytes)")])
def _(ctx):
    write(ctx.view, b"")


@case("jpeg-named-png", G, 1, [(GV, "a JPEG image, which has no alpha channel")])
def _(ctx):
    write(ctx.view, pil_bytes("JPEG"))


@case("gif-named-png", M, 1, [(MV, "a GIF image")])
def _(ctx):
    write(ctx.view, pil_bytes("GIF"))


@case("webp-named-png", F, 1, [(FV, "a WebP image")])
def _(ctx):
    write(ctx.view, pil_bytes("WEBP", "RGBA"))


@case("text-named-png", G, 1, [(GV, "looks like text")])
def _(ctx):
    write(ctx.view, b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 4242\n")


@case("png-signature-mangled-by-text-mode", G, 1, [(GV, "signature is damaged")])
def _(ctx):
    write(ctx.view, png_of(ctx).replace(b"\r\n", b"\n", 1))


# --- damaged PNGs


@case("truncated-in-signature", G, 1, [(GV, "not a PNG file")])
def _(ctx):
    write(ctx.view, png_of(ctx)[:5])


@case("truncated-after-signature", G, 1, [(GV, "header chunk (IHDR) is missing or damaged")])
def _(ctx):
    write(ctx.view, png_of(ctx)[:8])


@case("truncated-in-ihdr", M, 1, [(MV, "header chunk (IHDR) is missing or damaged")])
def _(ctx):
    write(ctx.view, png_of(ctx)[:24])


@case("truncated-before-idat", G, 1, [(GV, "the PNG data ends early")])
def _(ctx):
    data = png_of(ctx)
    idat = next(off for off, _, kind in chunks(data) if kind == b"IDAT")
    write(ctx.view, data[:idat])


@case("truncated-mid-idat", F, 1, [(FV, "the PNG data ends early")])
def _(ctx):
    data = png_of(ctx)
    write(ctx.view, data[: len(data) // 2])


@case("truncated-iend-missing", G, 0)
def _(ctx):
    # Only the IEND chunk is cut: every pixel is there, and libpng decodes it. Accepted.
    data = png_of(ctx)
    write(ctx.view, data[:-12])


@case("truncated-last-byte", G, 0)
def _(ctx):
    # Only the IEND CRC is cut: every pixel is there, and libpng decodes it. Accepted.
    write(ctx.view, png_of(ctx)[:-1])


@case("bad-crc-ihdr", G, 1, [(GV, "the PNG data is corrupt")])
def _(ctx):
    data = bytearray(png_of(ctx))
    data[29] ^= 0xFF  # the IHDR CRC (8 signature + 8 + 13 data)
    write(ctx.view, bytes(data))


@case("bad-crc-idat", M, 1, [(MV, "the PNG data is corrupt")])
def _(ctx):
    data = bytearray(png_of(ctx))
    off, length, _ = next(c for c in chunks(data) if c[2] == b"IDAT")
    data[off + 8 + length // 2] ^= 0x55  # a byte of the compressed data: the CRC no longer matches
    write(ctx.view, bytes(data))


@case("corrupt-zlib-stream-valid-crc", G, 1, [(GV, "the PNG data is corrupt")])
def _(ctx):
    write(ctx.view, crafted_png(SIZE, SIZE, idat=b"\x78\x9c" + b"\xff" * 64))


@case("ihdr-zero-width", G, 1, [(GV, "its header is invalid (0 x 64 pixels")])
def _(ctx):
    write(ctx.view, crafted_png(0, SIZE, idat=zlib.compress(b"")))


@case("ihdr-rgba-bit-depth-4", G, 1, [(GV, "bit depth 4, colour type 6")])
def _(ctx):
    write(ctx.view, crafted_png(SIZE, SIZE, bit_depth=4, idat=zlib.compress(b"\0" * 64)))


@case("ihdr-unknown-colour-type", F, 1, [(FV, "colour type 5")])
def _(ctx):
    write(ctx.view, crafted_png(SIZE, SIZE, colour_type=5, idat=zlib.compress(b"\0" * 64)))


@case("decompression-bomb-header", G, 1, [(GV, "decompression bomb")])
def _(ctx):
    write(ctx.view, crafted_png(20000, 20000, idat=zlib.compress(b"\0" * 1024)))


@case("animated-png-two-frames", G, 1, [(GV, "animated PNG (2 frames)")])
def _(ctx):
    write(ctx.view, animated_png(2))


# --- PNG kinds with no usable alpha


@case("rgb-without-alpha", G, 1, [(GV, "no alpha channel (RGB PNG without transparency)")])
def _(ctx):
    write(ctx.view, encode_png(read_view(ctx.view)[..., :3]))


@case("gray-without-alpha", M, 1, [(MV, "no alpha channel (gray PNG without transparency)")])
def _(ctx):
    write(ctx.view, encode_png(read_view(ctx.view)[..., 0]))


@case("gray-16bit-without-alpha", G, 1, [(GV, "no alpha channel (gray PNG")])
def _(ctx):
    write(ctx.view, encode_png(read_view(ctx.view)[..., 0].astype(np.uint16) * 257))


@case("palette-without-trns", G, 1, [(GV, "no alpha channel (palette PNG without transparency)")])
def _(ctx):
    write(ctx.view, palette_png(trns=False))


@case("gray-1bit", F, 1, [(FV, "no alpha channel (gray PNG")])
def _(ctx):
    from PIL import Image

    write(ctx.view, pil_png(Image.fromarray(blob()[..., 3] > 0)))


@case("all-transparent", G, 1, [(GV, "empty mask: no pixel has alpha > 10")])
def _(ctx):
    write(ctx.view, encode_png(np.zeros((SIZE, SIZE, 4), np.uint8)))


@case("alpha-at-threshold-everywhere", M, 1, [(MV, "empty mask")])
def _(ctx):
    img = read_view(ctx.view)
    img[..., 3] = np.minimum(img[..., 3], 10)
    write(ctx.view, encode_png(img))


# --- odd PNG kinds that are legitimately accepted


def _out_dtype(key, dtype, channels):
    def check(ctx):
        img = read_view(ctx.out / key)
        assert img.dtype == dtype and img.shape == (SIZE, SIZE, channels)

    return check


@case("rgba-16bit", G, 0, check=_out_dtype(GV, np.uint16, 4))
def _(ctx):
    write(ctx.view, encode_png(read_view(ctx.view).astype(np.uint16) * 257))


@case("gray-alpha-16bit", M, 0, check=_out_dtype(MV, np.uint16, 2))
def _(ctx):
    img = read_view(ctx.view)
    write(ctx.view, encode_png(img[..., [0, 3]].astype(np.uint16) * 257))


@case("gray-alpha-8bit", F, 0, check=_out_dtype(FV, np.uint8, 2))
def _(ctx):
    from PIL import Image

    write(ctx.view, pil_png(Image.fromarray(blob()[..., [0, 3]], mode="LA")))


@case("palette-with-trns", G, 0, check=_out_dtype(GV, np.uint8, 4))
def _(ctx):
    write(ctx.view, palette_png(trns=True))


@case("rgb-with-trns-colour-key", G, 0, check=_out_dtype(GV, np.uint8, 4))
def _(ctx):
    rgb = blob()[..., :3]  # background (0, 0, 0) is the key colour
    write(
        ctx.view,
        crafted_png(
            SIZE,
            SIZE,
            colour_type=2,
            idat=zlib.compress(b"".join(b"\0" + row.tobytes() for row in rgb)),
            extra=[chunk(b"tRNS", b"\0\0\0\0\0\0")],
        ),
    )


@case("apng-single-frame", G, 0)
def _(ctx):
    data = png_of(ctx)
    actl = chunk(b"acTL", struct.pack(">II", 1, 0))
    write(ctx.view, data[:33] + actl + data[33:])


@case("tiny-1x1-flat", F, 0)
def _(ctx):
    write(ctx.view, encode_png(np.full((1, 1, 4), 255, np.uint8)))


@case("text-chunks-and-gamma", G, 0)
def _(ctx):
    data = png_of(ctx)
    extra = chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"tEXt", b"Comment\0made by hand")
    write(ctx.view, data[:33] + extra + data[33:])


# --- views that are not regular files


@case("fifo-as-view", G, 1, [(GV, "is not a regular file")])
def _(ctx):
    ctx.view.unlink()
    os.mkfifo(ctx.view)


@case("fifo-as-view-mvdiffusion", M, 1, [(MV, "is not a regular file")])
def _(ctx):
    ctx.view.unlink()
    os.mkfifo(ctx.view)


@case("symlink-to-dev-zero", G, 1, [(GV, "symlink")])
def _(ctx):
    ctx.view.unlink()
    ctx.view.symlink_to("/dev/zero")


@case("symlink-to-dev-zero-flat", F, 1, [(FV, "is not a regular file")])
def _(ctx):
    ctx.view.unlink()
    ctx.view.symlink_to("/dev/zero")


@case("dangling-symlink", G, 1, [(GV, "the file does not exist")])
def _(ctx):
    ctx.view.unlink()
    ctx.view.symlink_to("cam_999.png")


@case("dangling-symlink-out-of-sample", G, 1, [(GV, "symlink")])
def _(ctx):
    ctx.view.unlink()
    ctx.view.symlink_to(ctx.tmp / "nowhere.png")


@case("dangling-symlink-mvdiffusion", M, 1, [(MV, "the file does not exist")])
def _(ctx):
    ctx.view.unlink()
    ctx.view.symlink_to(ctx.tmp / "nowhere.png")


@case("symlink-to-sibling-view", G, 0)
def _(ctx):
    ctx.view.unlink()
    ctx.view.symlink_to("cam_000.png")


@case("symlink-to-file-outside-sample", G, 1, [(GV, "symlink")])
def _(ctx):
    shutil.copy(ctx.view, ctx.tmp / "elsewhere.png")
    ctx.view.unlink()
    ctx.view.symlink_to(ctx.tmp / "elsewhere.png")


@case("folder-named-as-view", G, 1, [("sample_000/images/cam_002.png", "is a folder, not an image file")])
def _(ctx):
    p = ctx.inp / "sample_000/images/cam_002.png"
    p.unlink()
    p.mkdir()


@case("folder-named-as-view-mvdiffusion", M, 1, [("sample_000/cam_002.png", "is a folder, not an image file")])
def _(ctx):
    p = ctx.inp / "sample_000/cam_002.png"
    p.unlink()
    p.mkdir()


@case("unreadable-file", G, 1, [(GV, "permission denied")], skip="root reads any file" if os.geteuid() == 0 else "")
def _(ctx):
    ctx.view.chmod(0)


# --- odd file names (accepted)


def rename(ctx, new_name):
    os.rename(ctx.view, ctx.view.with_name(new_name))


@case("name-with-spaces", F, 0, lost=[FV], extra=["view 0001 (copy).png"])
def _(ctx):
    rename(ctx, "view 0001 (copy).png")


@case("name-unicode", F, 0, lost=[FV], extra=["ネズミ_éè🐭.png"])
def _(ctx):
    rename(ctx, "ネズミ_éè🐭.png")


@case("name-leading-dash", F, 0, lost=[FV], extra=["-rf.png"])
def _(ctx):
    rename(ctx, "-rf.png")


@case("name-brackets-and-glob-chars", F, 0, lost=[FV], extra=["[view]*?.png"])
def _(ctx):
    rename(ctx, "[view]*?.png")


@case("name-with-newline", F, 0, lost=[FV], extra=["view\n0001.png"])
def _(ctx):
    rename(ctx, "view\n0001.png")


@case("name-upper-case-suffix", M, 0, lost=[MV], extra=["sample_000/CAM_001.PNG"])
def _(ctx):
    rename(ctx, "CAM_001.PNG")


@case("a.png-next-to-a.PNG", F, 0, extra=["view_0001.PNG"])
def _(ctx):
    shutil.copy(ctx.view, ctx.view.with_name("view_0001.PNG"))


@case("name-unicode-gslrm-frame", G, 0, lost=[GV], extra=["sample_000/images/caméra 1.png"])
def _(ctx):
    rename(ctx, "caméra 1.png")
    ctx.set_frame(1, "file_path", "images/caméra 1.png")


@case("name-not-utf8-flat", F, 1, [("view_\\xff.png", "not valid UTF-8")], lost=[FV])
def _(ctx):
    os.rename(ctx.view, os.path.join(os.fsencode(ctx.inp), b"view_\xff.png"))


@case("name-not-utf8-mvdiffusion", M, 1, [("sample_000/cam_\\xff.png", "not valid UTF-8")], lost=[MV])
def _(ctx):
    os.rename(ctx.view, os.path.join(os.fsencode(ctx.inp / "sample_000"), b"cam_\xff.png"))


@case("sample-folder-not-utf8", G, 1, [("sample_\\xfe", "not valid UTF-8")])
def _(ctx):
    shutil.copytree(
        os.fsencode(ctx.inp / "sample_001"), os.path.join(os.fsencode(ctx.inp), b"sample_\xfe"), symlinks=True
    )


@case("sample-folder-not-utf8-mvdiffusion", M, 1, [("sample_\\xfe", "not valid UTF-8")])
def _(ctx):
    shutil.copytree(
        os.fsencode(ctx.inp / "sample_001"), os.path.join(os.fsencode(ctx.inp), b"sample_\xfe"), symlinks=True
    )


# --- cameras


@case(
    "cameras-missing-in-one-sample",
    G,
    1,
    [("sample_001", "no opencv_cameras.json in this sample folder")],
    lost=[f"sample_001/images/cam_{v:03d}.png" for v in range(6)],
)
def _(ctx):
    ctx.cams("sample_001").unlink()


SAMPLE0 = [f"sample_000/images/cam_{v:03d}.png" for v in range(6)]


@case("cameras-invalid-json", G, 1, [("sample_000", "cannot be read as GS-LRM cameras (JSONDecodeError")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().write_text('{"frames": [')


@case("cameras-empty-file", G, 1, [("sample_000", "cannot be read as GS-LRM cameras")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().write_bytes(b"")


@case("cameras-not-an-object", G, 1, [("sample_000", "it has no 'frames' list")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().write_text("[1, 2, 3]")


@case(
    "cameras-no-frames", G, 1, [("sample_000", "cannot be read as GS-LRM cameras (KeyError: 'frames')")], lost=SAMPLE0
)
def _(ctx):
    ctx.edit_cams(lambda d: d.pop("frames"))


@case("cameras-frames-not-a-list", G, 1, [("sample_000", "it has no 'frames' list")], lost=SAMPLE0)
def _(ctx):
    ctx.edit_cams(lambda d: d.update(frames={"0": d["frames"][0]}))


@case("cameras-frames-empty", G, 1, [("sample_000", "lists no camera frames")], lost=SAMPLE0)
def _(ctx):
    ctx.edit_cams(lambda d: d.update(frames=[]))


@case("cameras-not-utf8", G, 1, [("sample_000", "UnicodeDecodeError")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().write_bytes(ctx.cams().read_bytes().replace(b'"sample_000"', b'"sample_\xe9"', 1))


@case("cameras-utf8-bom", G, 1, [("sample_000", "BOM")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().write_bytes(b"\xef\xbb\xbf" + ctx.cams().read_bytes())


@case("cameras-is-a-folder", G, 1, [("sample_000", "no opencv_cameras.json")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().unlink()
    ctx.cams().mkdir()


@case("cameras-is-a-fifo", G, 1, [("sample_000", "no opencv_cameras.json")], lost=SAMPLE0)
def _(ctx):
    ctx.cams().unlink()
    os.mkfifo(ctx.cams())


@case(
    "frame-not-an-object", G, 1, [("sample_000/<frame 1>", "camera frame 1 is not a JSON object (got int)")], lost=[GV]
)
def _(ctx):
    ctx.edit_cams(lambda d: d["frames"].__setitem__(1, 7))


@case("frame-without-file-path", G, 1, [("sample_000/<frame 1>", "camera frame 1 has no file_path")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", DELETE)


@case("frame-file-path-empty", G, 1, [("sample_000/<frame 1>", "camera frame 1 has no file_path")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "")


@case("frame-file-path-not-a-string", G, 1, [("sample_000/<frame 1>", "camera frame 1 has no file_path")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", 12)


@case("frame-file-path-absolute", G, 1, [("sample_000/<frame 1>", "points outside its sample folder")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "/etc/hostname")


@case("frame-file-path-dotdot", G, 1, [("sample_000/<frame 1>", "points outside its sample folder")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "../sample_001/images/cam_001.png")


@case("frame-file-path-nul-byte", G, 1, [("sample_000/<frame 1>", "holds a NUL byte")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "images/cam_001.png\0x")


@case("frame-file-path-backslashes", G, 1, [("sample_000/<frame 1>", "backslash")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "images\\cam_001.png")


@case("frame-file-path-dot-segments", G, 0)
def _(ctx):
    ctx.set_frame(1, "file_path", "./images/../images/cam_001.png")


@case("frame-file-path-missing-file", G, 1, [("sample_000/images/cam_999.png", "the file does not exist")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "images/cam_999.png")


@case("frame-file-path-is-the-images-folder", G, 1, [("sample_000/images", "is a folder")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "file_path", "images")


@case(
    "two-frames-name-one-file",
    G,
    1,
    [("sample_000/images/cam_000.png", "camera frames 0 and 1 both name images/cam_000.png")],
    lost=[GV],
)
def _(ctx):
    ctx.set_frame(1, "file_path", "images/cam_000.png")


@case("fx-null", G, 1, [("sample_000/<frame 1>", "camera frame 1's fx is null, not a finite number")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "fx", None)


@case("fx-nan", G, 1, [("sample_000/<frame 1>", "fx is NaN, not a finite number")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "fx", float("nan"))


@case("cy-infinite", G, 1, [("sample_000/<frame 1>", "cy is Infinity, not a finite number")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "cy", float("inf"))


@case("fx-string", G, 1, [("sample_000/<frame 1>", 'fx is "89", not a finite number')], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "fx", "89")


@case("fx-list", G, 1, [("sample_000/<frame 1>", "fx is [89, 89], not a finite number")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "fx", [89, 89])


@case("fx-bool", G, 1, [("sample_000/<frame 1>", "fx is true, not a finite number")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "fx", True)


@case("fx-missing", G, 1, [("sample_000/<frame 1>", "camera frame 1 has no 'fx'")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "fx", DELETE)


@case("fy-negative-accepted", G, 0)
def _(ctx):
    ctx.set_frame(1, "fy", -89.0)  # a flipped image axis: legal in a pinhole model, carried through


@case("w-h-disagree-with-image", G, 1, [(GV, "its camera frame says w=128, h=128 but the image is 64x64")])
def _(ctx):
    ctx.set_frame(1, "w", 128)
    ctx.set_frame(1, "h", 128)


@case("w-zero", G, 1, [("sample_000/<frame 1>", "camera frame 1's w is 0, not a positive number")], lost=[GV])
def _(ctx):
    ctx.set_frame(1, "w", 0)


@case("frame-extra-keys-kept", G, 0, check=lambda ctx: _frame_kept(ctx))
def _(ctx):
    ctx.set_frame(1, "my_note", {"nested": [1, 2]})


def _frame_kept(ctx):
    frames = json.loads((ctx.out / "sample_000" / CAMS).read_text())["frames"]
    assert frames[1]["my_note"] == {"nested": [1, 2]}


# --- list files


@case("list-file-not-utf8", G, 1, [("train.txt", "list file train.txt was not rewritten: it is not UTF-8 text")])
def _(ctx):
    (ctx.inp / "train.txt").write_bytes(b"sample_000\nsample_\xff\n")


@case("list-file-nul-byte", G, 1, [("train.txt", "it holds a NUL byte")])
def _(ctx):
    (ctx.inp / "train.txt").write_bytes(b"sample_000\n\0sample_001\n")


@case("folder-named-like-list-file", G, 0)
def _(ctx):
    (ctx.inp / "val.txt").mkdir()


@case("fifo-named-like-list-file", G, 0)
def _(ctx):
    os.mkfifo(ctx.inp / "val.txt")


@case("list-file-relative-lines", G, 0, check=lambda ctx: _list_points_at_out(ctx))
def _(ctx):
    (ctx.inp / "train.txt").write_text(f"{ctx.inp / 'sample_000'}\n{ctx.inp / 'sample_001'}\n")


def _list_points_at_out(ctx):
    lines = (ctx.out / "train.txt").read_text().splitlines()
    assert lines == [str((ctx.out / s).resolve()) for s in ("sample_000", "sample_001")]


# --- odd folders


@case("sample-folder-named-report.json", G, 0, extra=[f"report.json/images/cam_{v:03d}.png" for v in range(6)])
def _(ctx):
    shutil.copytree(ctx.inp / "sample_001", ctx.inp / "report.json", symlinks=True)


@case("sample-folder-named-pixscale-report", G, 1, [("pixscale-report", "a name pixscale uses for its own files")])
def _(ctx):
    shutil.copytree(ctx.inp / "sample_001", ctx.inp / "pixscale-report", symlinks=True)


@case("sample-folder-ending-in-.part", M, 0, extra=[f"chair.part/cam_{v:03d}.png" for v in range(6)])
def _(ctx):
    shutil.copytree(ctx.inp / "sample_001", ctx.inp / "chair.part", symlinks=True)


@case("empty-sample-folder", G, 0)
def _(ctx):
    (ctx.inp / "sample_002").mkdir()


@case("empty-sample-folder-mvdiffusion", M, 0)
def _(ctx):
    (ctx.inp / "sample_002").mkdir()


@case("stray-jpeg-in-flat", F, 0)
def _(ctx):
    (ctx.inp / "photo.jpg").write_bytes(pil_bytes("JPEG"))


@case("in-dir-with-brackets", F, 0)
def _(ctx):
    new = ctx.inp.with_name("in [1]")
    os.rename(ctx.inp, new)
    ctx.inp = new
    ctx.argv[1] = str(new)


@case("glob-input", F, 0)
def _(ctx):
    ctx.argv[1] = str(ctx.inp / "view_*.png")


@case("glob-input-skips-non-png-matches", F, 0)
def _(ctx):
    (ctx.inp / "view_notes.txt").write_text("not an image\n")
    ctx.argv[1] = str(ctx.inp / "view_*")


@case("layout-forced-wrong", G, 2, refused="found no")
def _(ctx):
    ctx.argv += ["--layout", "mvdiffusion"]


# --- run-level refusals (exit 2, OUT not created)


@case("out-inside-in", F, 2, refused="is inside IN_DIR")
def _(ctx):
    ctx.argv[2] = str(ctx.inp / "out")


@case("out-is-in", F, 2, refused="is inside IN_DIR")
def _(ctx):
    ctx.argv[2] = str(ctx.inp)


@case("out-symlink-into-in", F, 2, refused="is inside IN_DIR", out_exists=True)
def _(ctx):
    ctx.out.symlink_to(ctx.inp)


@case("out-is-a-file", F, 2, refused="is a file", out_exists=True)
def _(ctx):
    ctx.out.write_text("precious\n")


@case("out-not-empty-not-a-run", F, 2, refused="is not empty and holds no pixscale run", out_exists=True)
def _(ctx):
    ctx.out.mkdir()
    (ctx.out / "thesis.tex").write_text("precious\n")


@case("out-holds-a-run-without-resume", F, 2, refused="holds an earlier pixscale run", out_exists=True)
def _(ctx):
    assert _run(["run", str(ctx.inp), str(ctx.out), "--quiet", "--no-plots"]) == 0


@case("in-does-not-exist", F, 2, refused="does not exist")
def _(ctx):
    ctx.argv[1] = str(ctx.tmp / "no-such-folder")


@case("in-is-a-file", F, 2, refused="is not a folder")
def _(ctx):
    ctx.argv[1] = str(ctx.view)


@case("in-is-empty", F, 2, refused="found no images")
def _(ctx):
    for p in ctx.inp.iterdir():
        p.unlink()


@case("in-holds-only-jpegs", F, 2, refused=".jpg files, but pixscale reads PNG images")
def _(ctx):
    for p in ctx.inp.iterdir():
        p.unlink()
    (ctx.inp / "a.jpg").write_bytes(pil_bytes("JPEG"))


@case("glob-matches-nothing", F, 2, refused="matches no PNG files")
def _(ctx):
    ctx.argv[1] = str(ctx.inp / "nope_*.png")


@case("report-dir-is-a-file", F, 2, refused="--report-dir", out_exists=False)
def _(ctx):
    (ctx.tmp / "report-file").write_text("x\n")
    ctx.argv += ["--report-dir", str(ctx.tmp / "report-file")]


@case("report-dir-inside-in", F, 2, refused="inside IN_DIR")
def _(ctx):
    ctx.argv += ["--report-dir", str(ctx.inp / "report")]


for _opt, _val, _what in [
    ("--target", "30", "--target 30.0"),
    ("--threshold", "300", "--threshold 300.0"),
    ("--margin", "-5", "--margin -5.0"),
    ("--jobs", "0", "--jobs 0"),
    ("--target", "nan", "--target nan"),
    ("--output-size", "100000x100000", "--output-size (100000, 100000)"),
]:
    case(f"option{_opt}={_val}", F, 2, refused=f"{_what} is not accepted")(
        lambda ctx, o=_opt, v=_val: ctx.argv.extend([o, v])
    )


# ----------------------------------------------------------------------------- the test


class Hang(BaseException):
    """Raised by the alarm: not an OSError, so the command cannot turn it into an exit code."""


def _on_alarm(signum, frame):
    raise Hang(f"the run took more than {TIME_LIMIT_S} s")


def _run(argv):
    old_alarm = signal.signal(signal.SIGALRM, _on_alarm)
    old_term = signal.getsignal(signal.SIGTERM)  # main() installs its own SIGTERM handler
    signal.alarm(TIME_LIMIT_S)
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(c, pristine, tmp_path, capsys):
    if c.skip:
        pytest.skip(c.skip)
    inp = tmp_path / "in"
    shutil.copytree(pristine[c.layout], inp, symlinks=True)
    out = tmp_path / "out"
    ctx = Ctx(inp, out, tmp_path, c.layout, ["run", str(inp), str(out), "--quiet", "--no-plots"])
    c.damage(ctx)
    capsys.readouterr()
    before_in, before_out = snapshot(ctx.inp), snapshot(ctx.out)
    assert (before_out is not None) == c.out_exists

    code = _run(ctx.argv)
    captured = capsys.readouterr()

    assert snapshot(ctx.inp) == before_in, "the input tree must not change"
    assert code == c.code, f"exit code {code}\nstdout:\n{captured.out}\nstderr:\n{captured.err}"

    if c.code == 2:
        errors = [line for line in captured.err.splitlines() if line.startswith("pixscale: error:")]
        assert len(errors) == 1 and c.refused in errors[0], captured.err
        assert captured.out == ""
        assert snapshot(ctx.out) == before_out, "a refused run must not create or change OUT_DIR"
        return

    # --quiet: nothing on stdout; on stderr only the one line that says views failed (exit 1)
    assert captured.out == "", captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == (code == 1) and all(e.startswith("pixscale: error: ") for e in errors), captured.err
    report = json.loads((out / "pixscale-report" / "report.json").read_text())
    failures = report["summary"]["failures"]

    # The failures are exactly those expected, each naming the file and the problem.
    assert len(failures) == len(c.failures), failures
    for name, problem in c.failures:
        hits = [f for f in failures if name in (f["view"], f["sample"])]
        assert hits, f"no failure names {name!r}: {failures}"
        assert any(problem in f["error"] for f in hits), f"{problem!r} not in {[f['error'] for f in hits]}"
        shown = name.replace("\n", " ")
        table = format_table(report["summary"])  # what a run without --quiet prints
        assert shown in table, f"the printed table does not name {name!r}:\n{table}"

    # The other views are written, decode, and are the views the report calls ok.
    keys = set(_pristine_keys(c.layout)) - set(c.lost) | set(c.extra)
    ok = {r["view"] for r in report["views"] if r["status"] == "ok"}
    assert ok == keys, f"ok views differ: missing {sorted(keys - ok)}, unexpected {sorted(ok - keys)}"
    for key in sorted(keys):
        image = read_view(out / key)
        assert image.shape[:2] == (SIZE, SIZE) or c.id.startswith("tiny")
    for name, _ in c.failures:  # a failed view leaves no output file
        if name.endswith(".png") and name not in keys:
            assert not os.path.lexists(out / name), name

    # GS-LRM: every written view has its camera frame, sized like the written image.
    if c.layout == "gslrm":
        for key in sorted(keys):
            sample, rel = key.split("/", 1)
            frames = json.loads((out / sample / CAMS).read_text())["frames"]
            mine = [f for f in frames if posixpath.normpath(f["file_path"]) == rel]
            assert len(mine) == 1, (key, [f["file_path"] for f in frames])
            h, w = read_view(out / key).shape[:2]
            assert (mine[0]["w"], mine[0]["h"]) == (w, h)

    if c.check is not None:
        c.check(ctx)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
