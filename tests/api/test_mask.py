"""RGB images with a separate object mask: the mask is the alpha, in every form a matte comes in."""

import numpy as np
import pytest

import pixscale


@pytest.fixture
def rgb_and_mask():
    rng = np.random.default_rng(21)
    rgb = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:80, 0:120] + 0.5
    soft = np.clip(18 - np.hypot(xx - 70, (yy - 30) * 1.4), 0, 1)  # 0-1, soft edge
    return rgb, soft


@pytest.mark.parametrize("form", ["float", "uint8", "bool", "binary-int", "hw1"])
def test_the_mask_is_the_alpha(rgb_and_mask, form):
    rgb, soft = rgb_and_mask
    alpha8 = np.floor(soft * 255 + 0.5).astype(np.uint8)
    mask, alpha = {
        "float": (soft, alpha8),
        "uint8": (alpha8, alpha8),
        "bool": (soft > 0.5, (soft > 0.5).astype(np.uint8) * 255),
        "binary-int": ((soft > 0.5).astype(np.int64), (soft > 0.5).astype(np.uint8) * 255),
        "hw1": (alpha8[:, :, None], alpha8),
    }[form]
    rgba = np.dstack([rgb, alpha])
    assert pixscale.measure(rgb, mask=mask) == pixscale.measure(rgba)
    assert pixscale.plan(rgb, mask=mask, target=0.25) == pixscale.plan(rgba, target=0.25)
    out = pixscale.normalize(rgb, mask=mask, target=0.25)
    assert out.shape == (80, 120, 4)
    np.testing.assert_array_equal(out, pixscale.normalize(rgba, target=0.25))
    np.testing.assert_array_equal(pixscale.Normalizer(0.25)(rgb, mask=mask), out)


def test_uint16_and_gray_images(rgb_and_mask):
    rgb, soft = rgb_and_mask
    rgb16 = rgb.astype(np.uint16) * 257
    alpha8 = np.floor(soft * 255 + 0.5).astype(np.uint8)
    assert pixscale.measure(rgb16, mask=alpha8) == pixscale.measure(np.dstack([rgb16, alpha8.astype(np.uint16) * 257]))
    gray = rgb[..., 0]
    out = pixscale.normalize(gray, mask=soft)
    assert out.shape == (80, 120, 2) and out.dtype == np.uint8


@pytest.mark.parametrize(
    "mask, error, match",
    [
        (np.zeros((80, 119)), ValueError, r"`mask=` has shape \(80, 119\)"),
        (np.full((80, 120), 300, np.int32), ValueError, "0-255"),
        (np.full((80, 120), 1.5), ValueError, r"\[0, 1\]"),
        (np.full((80, 120), np.nan), ValueError, "finite"),
        (np.full((80, 120), "x"), TypeError, "dtype"),
    ],
)
def test_bad_masks_are_refused_with_the_fix(rgb_and_mask, mask, error, match):
    rgb, _ = rgb_and_mask
    with pytest.raises(error, match=match):
        pixscale.measure(rgb, mask=mask)


def test_an_rgba_image_with_a_mask_is_refused(rgb_and_mask):
    rgb, soft = rgb_and_mask
    with pytest.raises(ValueError, match="shape"):
        pixscale.measure(np.dstack([rgb, rgb[..., :1]]), mask=soft)


# --- pixscale run --mask ------------------------------------------------------------------------


def _masked_gslrm(root, n=3, size=64, jpeg=True):
    """A GS-LRM sample of RGB views (JPEG or PNG) in images/ and their masks in masks/."""
    import json

    import imageio.v3 as iio

    from pixscale.pipeline.io import write_png

    rng = np.random.default_rng(2)
    sample = root / "seq_000"
    (sample / "images").mkdir(parents=True)
    (sample / "masks").mkdir()
    frames = []
    for i in range(n):
        rgb = np.full((size, size, 3), 90, np.uint8) + rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        y, x = rng.integers(4, size // 2, 2)
        mask[y : y + 16 + 4 * i, x : x + 20] = 255
        name = f"cam_{i:03d}.{'jpg' if jpeg else 'png'}"
        if jpeg:
            iio.imwrite(sample / "images" / name, rgb, extension=".jpg", quality=95)
        else:
            write_png(sample / "images" / name, rgb)
        write_png(sample / "masks" / f"cam_{i:03d}.png", mask)
        frames.append(
            {"file_path": f"images/{name}", "fx": 60.0, "fy": 60.0, "cx": 32.0, "cy": 32.0, "w": size, "h": size}
        )
    (sample / "opencv_cameras.json").write_text(json.dumps({"frames": frames}))
    return sample


def test_run_with_mask_reads_jpeg_and_writes_rgba_png_with_matching_cameras(tmp_path):
    import json

    from pixscale.pipeline.driver import run
    from pixscale.pipeline.io import read_view
    from pixscale.pipeline.masked import read_colour, read_mask
    from pixscale.pipeline.options import RunOptions

    sample = _masked_gslrm(tmp_path / "in")
    rows, _ = run(tmp_path / "in", tmp_path / "out", RunOptions(mask="../masks/{stem}.png"), jobs=1, quiet=True)
    assert [r["status"] for r in rows] == ["ok"] * 3
    cams = json.loads((tmp_path / "out" / "seq_000" / "opencv_cameras.json").read_text())
    for i, frame in enumerate(cams["frames"]):
        assert frame["file_path"] == f"images/cam_{i:03d}.png"
        out = read_view(tmp_path / "out" / "seq_000" / frame["file_path"])
        rgb = read_colour(sample / "images" / f"cam_{i:03d}.jpg")
        mask = read_mask(sample / "masks" / f"cam_{i:03d}.png")
        np.testing.assert_array_equal(out, pixscale.normalize(rgb, mask=mask))
        t = pixscale.plan(rgb, mask=mask)
        K = t.intrinsics(np.array([[60.0, 0, 32], [0, 60.0, 32], [0, 0, 1]]))
        assert (frame["fx"], frame["cx"], frame["cy"]) == (K[0, 0], K[0, 2], K[1, 2])
    assert not (tmp_path / "out" / "seq_000" / "masks").exists()


def test_write_mask_keeps_the_inputs_arrangement(tmp_path):
    from pixscale.pipeline.driver import run
    from pixscale.pipeline.masked import read_colour, read_mask
    from pixscale.pipeline.options import RunOptions

    sample = _masked_gslrm(tmp_path / "in", jpeg=False)
    opts = RunOptions(mask="../masks/{stem}.png", write_mask=True)
    rows, _ = run(tmp_path / "in", tmp_path / "out", opts, jobs=1, quiet=True, plots=False)
    assert all(r["status"] == "ok" for r in rows)
    for i in range(3):
        rgb = read_colour(sample / "images" / f"cam_{i:03d}.png")
        want = pixscale.normalize(rgb, mask=read_mask(sample / "masks" / f"cam_{i:03d}.png"))
        got_rgb = read_colour(tmp_path / "out" / "seq_000" / "images" / f"cam_{i:03d}.png")
        got_mask = read_mask(tmp_path / "out" / "seq_000" / "masks" / f"cam_{i:03d}.png")
        np.testing.assert_array_equal(got_rgb, want[..., :3])
        np.testing.assert_array_equal(got_mask, want[..., 3])


def test_a_missing_mask_fails_its_view_and_masks_are_not_views(tmp_path, capsys):
    from pixscale.cli import main

    sample = _masked_gslrm(tmp_path / "in")
    (sample / "masks" / "cam_001.png").unlink()
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--mask", "../masks/{stem}.png", "--quiet"]) == 1
    import json

    (failure,) = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())["summary"]["failures"]
    assert failure["view"] == "seq_000/images/cam_001.jpg"
    assert failure["error"].startswith(
        "its mask seq_000/masks/cam_001.png (from `mask='../masks/{stem}.png'`) is missing"
    )
    # A flat folder of images with masks beside them: the masks are not taken for views.
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(2):
        (flat / f"v{i}.jpg").write_bytes((sample / "images" / "cam_000.jpg").read_bytes())
        (flat / f"v{i}_mask.png").write_bytes((sample / "masks" / "cam_000.png").read_bytes())
    assert main(["run", str(flat), str(tmp_path / "out2"), "--mask", "{stem}_mask.png", "--quiet", "--no-plots"]) == 0
    assert sorted(p.name for p in (tmp_path / "out2").glob("*.png")) == ["v0.png", "v1.png"]


def test_write_mask_needs_mask(tmp_path, capsys):
    from pixscale.cli import main

    _masked_gslrm(tmp_path / "in")
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--write-mask"]) == 2
    assert "--write-mask" in capsys.readouterr().err


def test_write_mask_refuses_a_mask_that_would_overwrite_the_colour_output(tmp_path):
    import json

    from pixscale.pipeline.driver import run
    from pixscale.pipeline.options import RunOptions

    sample = _masked_gslrm(tmp_path / "in")
    for p in (sample / "masks").iterdir():  # masks beside the JPEGs, named like their PNG outputs
        p.rename(sample / "images" / p.name)
    rows, _ = run(tmp_path / "in", tmp_path / "out", RunOptions(mask="{stem}.png", write_mask=True), jobs=1, quiet=True)
    assert {r["status"] for r in rows} == {"failed"}
    assert "would overwrite its own colour output" in rows[0]["error"]
    assert not list((tmp_path / "out" / "seq_000" / "images").glob("*.png"))
    # Without --write-mask the same layout is fine: the RGBA output replaces nothing of its own.
    rows, _ = run(tmp_path / "in", tmp_path / "out2", RunOptions(mask="{stem}.png"), jobs=1, quiet=True)
    assert {r["status"] for r in rows} == {"ok"}
    report = json.loads((tmp_path / "out2" / "pixscale-report" / "report.json").read_text())
    assert report["summary"]["n_ok"] == 3


def test_a_damaged_mask_is_named_in_the_error(tmp_path):
    from pixscale.pipeline.driver import run
    from pixscale.pipeline.options import RunOptions

    sample = _masked_gslrm(tmp_path / "in")
    (sample / "masks" / "cam_002.png").write_bytes(b"")
    rows, _ = run(tmp_path / "in", tmp_path / "out", RunOptions(mask="../masks/{stem}.png"), jobs=1, quiet=True)
    (bad,) = [r for r in rows if r["status"] == "failed"]
    assert bad["view"] == "seq_000/images/cam_002.jpg"
    assert bad["error"].startswith("its mask seq_000/masks/cam_002.png: the file is empty")


def test_contact_sheet_thumbnails_read_colour_and_mask_pairs(tmp_path):
    from pixscale.pipeline.masked import read_colour, read_mask
    from pixscale.report.figures import Thumbnail

    sample = _masked_gslrm(tmp_path / "in")
    pair = (sample / "images" / "cam_000.jpg", sample / "masks" / "cam_000.png")
    thumb = Thumbnail.of_file(pair, "cam_000")
    want = pixscale.measure(read_colour(pair[0]), mask=read_mask(pair[1]))
    assert thumb.image.shape == (64, 64, 4) and thumb.size_ratio == want.size_ratio


def test_write_mask_with_masks_outside_in_dir_fails_those_views_and_still_reports(tmp_path):
    """IN_DIR = the images folder, masks beside it: --write-mask has nowhere to put them; the run says so."""
    import json

    from pixscale.pipeline.driver import run
    from pixscale.pipeline.options import RunOptions

    sample = _masked_gslrm(tmp_path / "in", jpeg=False)
    rows, _ = run(
        sample / "images", tmp_path / "out", RunOptions(mask="../masks/{stem}.png", write_mask=True), jobs=1, quiet=True
    )
    assert {r["status"] for r in rows} == {"failed"} and "outside IN_DIR" in rows[0]["error"]
    report = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    assert report["summary"]["n_failed"] == 3
