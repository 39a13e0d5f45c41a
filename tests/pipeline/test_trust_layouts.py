"""Issue #19, round three: objects shrunk to nothing, the layouts users have, and --quiet.

Each test here failed on the code before the fix; the item it covers is named in its docstring.
"""

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import pixscale
from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.io import write_png
from pixscale.pipeline.options import OptionError, RunOptions

SIZE = 96


def cli(*args):
    return main([str(a) for a in args])


def report_of(out):
    return json.loads((Path(out) / "pixscale-report" / "report.json").read_text())


@pytest.fixture
def flat(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(2):
        write_png(root / f"m{i}.png", synth.mouse_view(np.random.default_rng(i), size=SIZE))
    return root


# --- BUG 7: an object shrunk to nothing ------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, option, hint",
    [
        ("--target", "1e-6", "--target", "at least 6.1e-05"),  # below one pixel on any canvas
        ("--target", "5e-5", "--target", "at least 6.1e-05"),
        ("--margin", "49.9%", "--margin", "at most 31.5 pixels or 49.21%"),
        ("--margin", "31.6", "--margin", "at most 31.5 pixels"),
    ],
)
def test_options_that_only_write_blank_images_are_refused_up_front(tmp_path, flat, capsys, flag, value, option, hint):
    """BUG 7: --target 1e-6 and --margin 49.9% wrote blank images counted ok."""
    out = tmp_path / "out"
    assert cli("run", flat, out, flag, value, "--output-size", "64", "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert option in err and hint in err
    assert not out.exists()


def test_a_target_below_a_pixel_on_any_canvas_is_refused_without_output_size():
    """BUG 7: without --output-size, a target below one pixel of the largest canvas is refused."""
    with pytest.raises(OptionError, match="at least 6.1e-05"):
        RunOptions(target=1e-6)
    RunOptions(target=1e-4)  # one pixel or more on large enough canvases


def test_library_refuses_a_target_or_margin_that_leaves_less_than_a_pixel():
    """BUG 7: plan/normalize shrank the object to nothing without a word."""
    img = synth.mouse_view(np.random.default_rng(1), size=SIZE)
    with pytest.raises(pixscale.VanishedObjectError, match=r"`target=1e-06` asks for less than one pixel.*0\.0104"):
        pixscale.plan(img, target=1e-6)
    # a one-pixel object is within a pixel's worth of any smaller target: a 1x1 view is still planned
    assert pixscale.plan(np.full((1, 1, 4), 255, np.uint8)).achieved_ratio == 1.0
    with pytest.raises(ValueError, match=r"`margin='49\.9%'` leaves no pixel of room.*at most 49\.47%"):
        pixscale.normalize(img, margin="49.9%")
    with pytest.raises(ValueError, match=r"`margin=47\.6` .*at most 47\.5 pixels"):
        pixscale.plan(img, margin=47.6)
    assert pixscale.plan(img, margin=47.5).scale > 0  # two pixels of room: allowed


def test_library_raises_when_the_object_vanishes_from_the_output():
    """BUG 7: a view whose object vanished at the planned scale was warped to a blank image."""
    img = synth.mouse_view(np.random.default_rng(1), size=512)
    with pytest.raises(pixscale.VanishedObjectError, match="would vanish from the output") as info:
        pixscale.plan(img, target=0.002, exact=False)
    assert isinstance(info.value, pixscale.EmptyMaskError) and info.value.views == [0]
    with pytest.raises(pixscale.EmptyMaskError, match="vanish"):
        pixscale.normalize(img, target=0.002, exact=False)
    # exact mode finds a scale that keeps a pixel of it
    t = pixscale.plan(img, target=0.002)
    assert pixscale.measure(pixscale.warp(img, t)).count >= 1
    # a group: the views that vanish are named, and the plan of the others is kept
    small = np.zeros((512, 512), np.uint8)
    small[100:102, 100:102] = 255
    with pytest.raises(pixscale.VanishedObjectError, match="view 1 would vanish") as info:
        pixscale.plan_group([img, small], target=0.05, exact=False)
    assert info.value.views == [1] and len(info.value.transforms) == 2


def test_a_view_whose_object_vanishes_fails_by_name_and_writes_nothing(tmp_path, capsys):
    """BUG 7: 6 blank images, 6 ok."""
    src = tmp_path / "in"
    src.mkdir()
    write_png(src / "mouse.png", synth.mouse_view(np.random.default_rng(1), size=512))
    speck = np.zeros((512, 512, 4), np.uint8)
    speck[100:102, 100:102] = 255
    write_png(src / "speck.png", speck)
    out = tmp_path / "out"
    assert cli("run", src, out, "--target", "0.002", "--no-exact", "--quiet", "--no-plots") == 1
    report = report_of(out)
    rows = {v["view"]: v for v in report["views"]}
    assert rows["mouse.png"]["status"] == "failed" and "would vanish from the output" in rows["mouse.png"]["error"]
    assert report["summary"]["n_failed"] >= 1
    assert not (out / "mouse.png").exists()
    for v in report["views"]:  # nothing written and counted ok is blank
        if v["status"] == "ok":
            assert (
                v["after"]["count"] > 0 and pixscale.measure(pixscale.pipeline.io.read_view(out / v["view"])).count > 0
            )


def test_a_target_below_a_pixel_of_the_canvas_fails_each_view_by_name(tmp_path, flat):
    """BUG 7: a target below one pixel of the output canvas (not of every canvas) fails each view, writes none."""
    out = tmp_path / "out"
    assert cli("run", flat, out, "--target", "0.005", "--output-size", "64", "--quiet", "--no-plots") == 1
    report = report_of(out)
    assert [v["status"] for v in report["views"]] == ["failed", "failed"]
    assert all("asks for less than one pixel" in v["error"] for v in report["views"])
    assert not list(out.glob("*.png"))


def test_per_sample_scale_fails_only_the_views_that_vanish(tmp_path):
    """BUG 7: a shared scale that shrinks one view of a sample to nothing fails that view, not the sample."""
    root = tmp_path / "in" / "s0"
    root.mkdir(parents=True)
    big = np.zeros((128, 128, 4), np.uint8)
    big[24:104, 24:104] = 255
    tiny = np.zeros((128, 128, 4), np.uint8)
    tiny[60:61, 60:61] = 255
    write_png(root / "cam_000.png", big)
    write_png(root / "cam_001.png", tiny)
    out = tmp_path / "out"
    code = cli("run", tmp_path / "in", out, "--scale", "per-sample", "--target", "0.05", "--no-exact", "--quiet")
    assert code == 1
    rows = {v["view"]: v for v in report_of(out)["views"]}
    assert rows["s0/cam_000.png"]["status"] == "ok" and (out / "s0" / "cam_000.png").exists()
    assert rows["s0/cam_001.png"]["status"] == "failed" and "vanish" in rows["s0/cam_001.png"]["error"]
    assert not (out / "s0" / "cam_001.png").exists()


# --- layouts: CO3D-style sequences, globs over GS-LRM samples ----------------------------------


def co3d(root, names=("f000.jpg", "f001.JPG", "f002.jpeg", "f003.PNG"), seqs=("seq_a", "seq_b")):
    """``root/<seq>/images/<name>`` RGB images and ``root/<seq>/masks/<stem>.png`` masks (+ stray mask files)."""
    for k, seq in enumerate(seqs):
        (root / seq / "images").mkdir(parents=True)
        (root / seq / "masks").mkdir()
        for i, name in enumerate(names):
            view = synth.mouse_view(np.random.default_rng(10 * k + i), size=SIZE)
            stem, suffix = name.rsplit(".", 1)
            if suffix.lower() == "png":
                write_png(root / seq / "images" / name, np.ascontiguousarray(view[..., :3]))
            else:
                iio.imwrite(root / seq / "images" / name, view[..., :3], extension=".jpg")
            write_png(root / seq / "masks" / f"{stem}.png", np.ascontiguousarray(view[..., 3]))
        write_png(root / seq / "masks" / "no_such_image.png", np.zeros((SIZE, SIZE), np.uint8))
        (root / seq / "masks" / "README.txt").write_text("masks from SAM\n")
    return root


def test_co3d_root_with_masks_is_one_sample_per_sequence(tmp_path, capsys):
    """User-found: the README's own layout stopped with 'found no images ... expected opencv_cameras.json'."""
    root = co3d(tmp_path / "in")
    out = tmp_path / "out"
    assert cli("run", root, out, "--mask", "../masks/{stem}.png", "--no-plots") == 0
    assert "CO3D-style, 2 samples, 8 views" in capsys.readouterr().err
    report = report_of(out)
    assert sorted({v["sample"] for v in report["views"]}) == ["seq_a", "seq_b"]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png") if "pixscale-report" not in p.parts)
    assert written == [f"{s}/images/{n}.png" for s in ("seq_a", "seq_b") for n in ("f000", "f001", "f002", "f003")]
    assert pixscale.pipeline.io.read_view(out / "seq_a/images/f001.png").shape == (SIZE, SIZE, 4)
    # one sequence given as IN_DIR is one sample (its masks inside it)
    assert cli("run", root / "seq_b", tmp_path / "one", "--mask", "../masks/{stem}.png", "--quiet", "--no-plots") == 0
    assert sorted(p.name for p in (tmp_path / "one" / "images").iterdir()) == [f"f00{i}.png" for i in range(4)]


def test_co3d_jpegs_without_mask_say_that_mask_is_the_way(tmp_path, capsys):
    """User-found: a folder of JPEGs without --mask: say that --mask is the way (with the template)."""
    from pixscale.pipeline.discover import discover

    root = co3d(tmp_path / "in", names=("f000.jpg", "f001.jpg"))
    with pytest.raises(ValueError, match=r"<sample>/images/ holds \.jpg images .*`mask='\.\./masks/\{stem\}\.png'`"):
        discover(root)  # the library names the option as Python spells it; the command line as a flag
    assert cli("run", root, tmp_path / "out", "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert "<sample>/images/ holds .jpg images" in err and "mask" in err and "'../masks/{stem}.png'" in err
    assert not (tmp_path / "out").exists()


def test_co3d_rgba_pngs_without_masks_and_other_files_noted(tmp_path, capsys):
    """Neighbour: sequences of RGBA PNGs need no --mask; JPEGs beside them are named as not used."""
    root = tmp_path / "in"
    for seq in ("s1", "s2"):
        (root / seq / "images").mkdir(parents=True)
        write_png(root / seq / "images" / "a.png", synth.mouse_view(np.random.default_rng(3), size=SIZE))
    (root / "s2" / "images" / "b.jpg").write_bytes(b"not read")
    assert cli("run", root, tmp_path / "out", "--no-plots") == 0
    err = capsys.readouterr().err
    assert "CO3D-style, 2 samples, 2 views" in err and "s2/images/: holds .jpg images that were not used" in err


def test_nested_root_names_the_folder_to_pass(tmp_path, capsys):
    """Neighbour: CO3D's own tree is ROOT/<category>/<seq>/images; a root one level too high is named."""
    co3d(tmp_path / "in" / "mouse", names=("f000.jpg",))
    assert cli("run", tmp_path / "in", tmp_path / "out", "--mask", "../masks/{stem}.png", "--quiet") == 2
    err = capsys.readouterr().err
    assert f"pass {tmp_path / 'in' / 'mouse'} as the dataset root" in err


@pytest.fixture
def gslrm(tmp_path):
    root = tmp_path / "gs"
    synth.write_dataset(root, n_samples=2, size=SIZE, seed=7, layout="gslrm")
    return root


def test_glob_over_gslrm_images_keeps_the_cameras(tmp_path, gslrm, capsys):
    """User-found: a quoted glob over GS-LRM images dropped the cameras and made each file a sample."""
    out = tmp_path / "out"
    assert cli("run", f"{gslrm}/*/images/*.png", out, "--no-plots") == 0
    assert "GS-LRM, 2 samples, 12 views" in capsys.readouterr().err
    report = report_of(out)
    assert sorted({v["sample"] for v in report["views"]}) == ["sample_000", "sample_001"]
    for s in ("sample_000", "sample_001"):
        cams = json.loads((out / s / "opencv_cameras.json").read_text())
        src = json.loads((gslrm / s / "opencv_cameras.json").read_text())
        assert len(cams["frames"]) == 6 and cams["frames"][0]["fx"] != src["frames"][0]["fx"]
    # the same output as the folder itself
    assert cli("run", gslrm, tmp_path / "whole", "--quiet", "--no-plots") == 0
    for p in (tmp_path / "whole").rglob("cam_*.png"):
        assert p.read_bytes() == (out / p.relative_to(tmp_path / "whole")).read_bytes()


def test_glob_over_some_images_of_one_sample_writes_their_cameras_only(tmp_path, gslrm, capsys):
    """Neighbour: a glob that matches some views of one sample: those views and their frames, said up front."""
    out = tmp_path / "out"
    assert cli("run", f"{gslrm}/sample_001/images/cam_00[0-2].png", out, "--no-plots") == 0
    err = capsys.readouterr().err
    assert "GS-LRM, 1 sample, 3 views" in err and "the pattern matches 3 of the 6 images" in err
    cams = json.loads((out / "opencv_cameras.json").read_text())
    assert [f["file_path"] for f in cams["frames"]] == [f"images/cam_00{i}.png" for i in range(3)]
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"cam_00{i}.png" for i in range(3)]


def test_glob_with_layout_flat_still_reads_files_alone(tmp_path, gslrm):
    """Neighbour: --layout flat with a glob keeps the old reading (each image alone, no cameras)."""
    out = tmp_path / "out"
    assert cli("run", f"{gslrm}/*/images/cam_000.png", out, "--layout", "flat", "--quiet", "--no-plots") == 0
    assert not list(out.rglob("opencv_cameras.json"))
    assert len(report_of(out)["views"]) == 2


# --- --quiet ---------------------------------------------------------------------------------


def test_quiet_prints_nothing_on_any_subcommand(tmp_path, flat, capfd):
    """User-found: `--quiet` still printed the report table (run, demo); stats and compare had no --quiet."""
    capfd.readouterr()
    assert cli("run", flat, tmp_path / "out", "--quiet") == 0
    assert cli("stats", flat, "--quiet", "--report-dir", tmp_path / "stats") == 0
    assert cli("compare", tmp_path / "out", flat, "--quiet", "--out", tmp_path / "cmp") == 0
    assert cli("demo", "--out", tmp_path / "demo", "--samples", "1", "--quiet", "--no-plots") == 0
    assert capfd.readouterr() == ("", "")
    # the files are still written
    assert (tmp_path / "out" / "pixscale-report" / "report.md").is_file()
    assert (tmp_path / "stats" / "report.json").is_file()
    assert list((tmp_path / "cmp").glob("compare.*"))
    assert (tmp_path / "demo" / "output" / "pixscale-report" / "report.json").is_file()


def test_quiet_run_with_failures_prints_only_the_error(tmp_path, flat, capfd):
    """--quiet: a run with failed views says so in one line on stderr, nothing on stdout."""
    write_png(flat / "empty.png", np.zeros((SIZE, SIZE, 4), np.uint8))
    capfd.readouterr()
    assert cli("run", flat, tmp_path / "out", "--quiet") == 1
    out, err = capfd.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"pixscale: error: 1 of 3 views failed; see {tmp_path / 'out' / 'pixscale-report' / 'report.md'}"
    ]
    assert cli("stats", flat, "--quiet") == 1
    assert capfd.readouterr() == ("", "pixscale: error: 1 of 3 views failed\n")


def test_glob_over_gslrm_with_a_sample_missing_its_cameras_fails_that_sample(tmp_path, gslrm):
    """Neighbour: in a glob, a sample folder without cameras beside ones with them fails, as the folder run does."""
    (gslrm / "sample_001" / "opencv_cameras.json").unlink()
    out = tmp_path / "out"
    assert cli("run", f"{gslrm}/*/images/*.png", out, "--quiet", "--no-plots") == 1
    (failure,) = report_of(out)["summary"]["failures"]
    assert failure["sample"] == "sample_001" and "no opencv_cameras.json" in failure["error"]
    assert not (out / "sample_001").exists() and (out / "sample_000" / "opencv_cameras.json").is_file()
