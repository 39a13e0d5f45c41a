"""Cameras, names and odd files of issue #19's third round: each test failed before its fix.

The item it covers (the attack case's id) is named in its docstring.
"""

import json
import os

import numpy as np
import pytest

from pixscale.cli import main
from pixscale.pipeline.io import write_png

SIZE = 64


def obj(box=(16, 48, 20, 44), size=SIZE):
    """An RGBA view: an opaque rectangle (rows, cols of ``box``) on a transparent canvas."""
    image = np.zeros((size, size, 4), np.uint8)
    r0, r1, c0, c1 = box
    image[r0:r1, c0:c1] = (200, 120, 40, 255)
    return image


def frame(path, **extra):
    return {"file_path": path, "fx": 50.0, "fy": 50.0, "cx": 32.0, "cy": 32.0, "w": SIZE, "h": SIZE, **extra}


def sample(root, name="s0", n=2, frames=None, text=None):
    """A GS-LRM sample folder with ``n`` views; ``frames`` edits the camera frames, ``text`` the JSON text."""
    d = root / name
    (d / "images").mkdir(parents=True)
    for i in range(n):
        write_png(d / "images" / f"cam_{i:03d}.png", obj((16 + i, 48, 20, 44)))
    fr = [frame(f"images/cam_{i:03d}.png") for i in range(n)]
    fr = frames(fr) if frames else fr
    data = json.dumps({"frames": fr})
    (d / "opencv_cameras.json").write_text(text(data) if text else data)
    return d


def run(inp, out, *args):
    return main(["run", str(inp), str(out), "--no-plots", "--jobs", "1", *map(str, args)])


def report(out):
    return json.loads((out / "pixscale-report" / "report.json").read_text())


def failed(out):
    return {v["view"]: v["error"] for v in report(out)["views"] if v["status"] != "ok"}


def ok(out):
    return sorted(v["view"] for v in report(out)["views"] if v["status"] == "ok")


def strict(path):
    """The JSON of ``path``, read as a strict reader does (no NaN / Infinity)."""

    def refuse(constant):
        raise ValueError(f"{path} holds {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


# --- cameras: numbers pixscale cannot compute with ---------------------------------------------


def test_a_huge_integer_focal_length_fails_its_view_not_the_run(tmp_path):
    """cams_huge_int: fx written as a 400-digit integer was an OverflowError traceback."""
    sample(tmp_path / "in", text=lambda t: t.replace('"fx": 50.0', '"fx": 1' + "0" * 400, 1))
    sample(tmp_path / "in", "s1", n=1)
    assert run(tmp_path / "in", tmp_path / "out") == 1
    errors = failed(tmp_path / "out")
    assert list(errors) == ["s0/<frame 0>"]
    assert "fx is 1000" in errors["s0/<frame 0>"] and "not a finite number" in errors["s0/<frame 0>"]
    assert len(errors["s0/<frame 0>"]) < 300  # the 400 digits are not all printed
    assert ok(tmp_path / "out") == ["s0/images/cam_001.png", "s1/images/cam_000.png"]
    assert len(strict(tmp_path / "out" / "s0" / "opencv_cameras.json")["frames"]) == 1


def test_nan_intrinsics_fail_their_view_and_extra_infinities_are_written_as_null(tmp_path, capsys):
    """cams_nan_literal: the input's Infinity (a key pixscale does not use) passed into the output cameras."""
    sample(
        tmp_path / "in",
        frames=lambda f: [dict(f[0], fx=float("nan")), dict(f[1], near=float("inf"), far=[1.0, float("-inf")])],
    )
    assert run(tmp_path / "in", tmp_path / "out") == 1
    errors = failed(tmp_path / "out")
    assert "camera frame 0's fx is NaN, not a finite number" in errors["s0/<frame 0>"]
    cameras = strict(tmp_path / "out" / "s0" / "opencv_cameras.json")
    assert [f["file_path"] for f in cameras["frames"]] == ["images/cam_001.png"]
    assert cameras["frames"][0]["near"] is None and cameras["frames"][0]["far"] == [1.0, None]
    assert cameras["pixscale"]["views"][0]["intrinsics_before"]["fx"] is None
    note = next(line for line in capsys.readouterr().err.splitlines() if "NaN or infinite" in line)
    assert "frames[1].near" in note and "frames[1].far[1]" in note and "null" in note


def test_a_focal_length_that_overflows_when_enlarged_fails_its_view(tmp_path):
    """cams_fx_1e308: fx = 1.5e308 scaled up became Infinity in the output cameras, counted ok."""
    d = sample(tmp_path / "in", n=1, frames=lambda f: [dict(f[0], fx=1.5e308, fy=1.5e308)])
    write_png(d / "images" / "cam_000.png", obj((28, 36, 28, 36)))  # a small object: enlarged ~4x
    assert run(tmp_path / "in", tmp_path / "out") == 1
    error = failed(tmp_path / "out")["s0/images/cam_000.png"]
    assert "fx (1.5e+308) scaled by" in error and "not a finite number" in error
    assert not (tmp_path / "out" / "s0" / "images" / "cam_000.png").exists()
    strict(tmp_path / "out" / "s0" / "opencv_cameras.json")


@pytest.mark.parametrize("key, value", [("fx", 0), ("fx", -0.0), ("fy", 0.0)])
def test_a_degenerate_focal_length_fails_its_view(tmp_path, key, value):
    """cams_fx_zero: fx = 0 was scaled and written silently (a negative focal length, a flipped axis, is
    legal and carried through: tests/test_corpus.py's fy-negative-accepted)."""
    sample(tmp_path / "in", frames=lambda f: [dict(f[0], **{key: value}), f[1]])
    assert run(tmp_path / "in", tmp_path / "out") == 1
    errors = failed(tmp_path / "out")
    assert list(errors) == ["s0/<frame 0>"]
    assert f"camera frame 0's {key} is" in errors["s0/<frame 0>"]
    assert "focal length of zero is a degenerate camera" in errors["s0/<frame 0>"]
    assert ok(tmp_path / "out") == ["s0/images/cam_001.png"]


def test_a_frame_naming_a_file_that_never_existed_says_so(tmp_path):
    """cams_extra_frames: it said 'removed or renamed after the views were listed', which never happened."""
    sample(tmp_path / "in", frames=lambda f: f + [frame("images/cam_009.png")])
    assert run(tmp_path / "in", tmp_path / "out") == 1
    errors = failed(tmp_path / "out")
    error = errors["s0/images/cam_009.png"]
    assert "camera frame 2 names images/cam_009.png, which is not in the sample" in error
    assert "after the views were listed" not in error
    assert len(strict(tmp_path / "out" / "s0" / "opencv_cameras.json")["frames"]) == 2


# --- names like pixscale's own temporary files -------------------------------------------------


@pytest.mark.parametrize("name", [".cam0.png.part", ".pixscale-cam0.png", ".pixscale-lock"])
def test_a_frame_naming_a_temporary_like_file_is_refused_by_name_not_swept(tmp_path, name):
    """cams_dotpart_name: images/.cam0.png.part was counted ok, then removed by the end-of-run sweep."""

    def rename(frames):
        os.rename(tmp_path / "in" / "s0" / "images" / "cam_000.png", tmp_path / "in" / "s0" / "images" / name)
        frames[0]["file_path"] = f"images/{name}"
        return frames

    sample(tmp_path / "in", frames=rename)
    assert run(tmp_path / "in", tmp_path / "out") == 1
    error = failed(tmp_path / "out")[f"s0/images/{name}"]
    assert f"{name!r} is named like pixscale's own temporary files" in error and "rename it" in error
    assert ok(tmp_path / "out") == ["s0/images/cam_001.png"]
    for v in report(tmp_path / "out")["views"]:  # nothing reported ok is missing
        assert v["status"] != "ok" or (tmp_path / "out" / v["view"]).is_file()


def test_views_and_samples_named_like_pixscale_files_are_named_in_a_note(tmp_path, capsys):
    """name_pixscale_prefix: a flat '.pixscale-x.png' and a GS-LRM sample '.pixscale-cache' vanished silently."""
    flat = tmp_path / "flat"
    flat.mkdir()
    write_png(flat / ".pixscale-x.png", obj())
    write_png(flat / "a.png", obj())
    assert run(flat, tmp_path / "out1") == 0
    err = capsys.readouterr().err
    assert "note: .pixscale-x.png: named like pixscale's own temporary files" in err
    sample(tmp_path / "g", ".pixscale-cache", n=1)
    sample(tmp_path / "g", "s1", n=1)
    assert run(tmp_path / "g", tmp_path / "out2") == 0
    assert "note: .pixscale-cache: named like pixscale's own temporary files" in capsys.readouterr().err


def test_a_glob_of_a_temporary_like_image_fails_it_by_name(tmp_path):
    """name_pixscale_prefix: a pattern that matches '.pixscale-x.png' itself would write a file runs remove."""
    flat = tmp_path / "flat"
    flat.mkdir()
    write_png(flat / ".pixscale-x.png", obj())
    write_png(flat / "a.png", obj())
    assert run(f"{flat}/.pixscale-*.png", tmp_path / "out") == 1
    assert "named like pixscale's own temporary files" in failed(tmp_path / "out")[".pixscale-x.png"]


# --- figures: file names are text, not mathtext ------------------------------------------------


def test_file_names_with_dollar_signs_are_drawn_in_every_figure(tmp_path):
    """name_mathtext: 'x$\\frac{$y.png' raised matplotlib's ParseSyntaxException; the contact sheet was lost."""
    pytest.importorskip("matplotlib")
    flat = tmp_path / "in"
    flat.mkdir()
    for i, name in enumerate(["x$\\frac{$y.png", "cost_$5.png", "a$b$c.png", "d$^{$.png"]):
        write_png(flat / name, obj((16 + i, 48, 20, 44)))
    assert main(["run", str(flat), str(tmp_path / "out"), "--quiet", "--jobs", "1"]) == 0
    rep = report(tmp_path / "out")
    assert not rep["meta"].get("figures not drawn")
    assert (tmp_path / "out" / "pixscale-report" / "contact_sheet.png").is_file()


# --- list files: only lines that are paths of the dataset are rewritten --------------------------


def test_prose_in_a_txt_is_not_rewritten_as_paths_when_run_from_inside_in_dir(tmp_path, monkeypatch, capsys):
    """list_file_prose: from inside IN_DIR, README.txt's 'hello world' became '../out/hello world'."""
    inp = tmp_path / "in"
    sample(inp, n=1)
    sample(inp, "s1", n=1)
    (inp / "README.txt").write_text("hello world\nsee notes below\n")
    (inp / "train.txt").write_text("s0\n")
    (inp / "val.txt").write_text(f"{inp / 's1'}\n# a comment\n")
    monkeypatch.chdir(inp)
    assert run(".", "../out") == 0
    out = tmp_path / "out"
    assert (out / "README.txt").read_text() == "hello world\nsee notes below\n"
    assert (out / "train.txt").read_text() == "s0\n"
    assert (out / "val.txt").read_text() == f"{out / 's1'}\n# a comment\n"
    err = capsys.readouterr().err
    assert "note: README.txt: no line of it names a file or folder of the dataset" in err
    assert "train.txt:" not in err and "val.txt:" not in err


def test_a_list_file_named_from_the_working_directory_still_points_at_the_output(tmp_path, monkeypatch):
    """list_file_prose: lines relative to the working directory that name a sample are still rewritten."""
    inp = tmp_path / "data" / "in"
    sample(inp, n=1)
    (inp / "train.txt").write_text("data/in/s0\ndata/in/gone\n")
    monkeypatch.chdir(tmp_path)
    assert run("data/in", "data/out") == 0
    assert (tmp_path / "data" / "out" / "train.txt").read_text() == "data/out/s0\ndata/in/gone\n"


# --- exact mode: a canvas too small to hold the target is off target ----------------------------


def test_a_one_pixel_view_is_not_on_target(tmp_path):
    """img_1x1: a 1x1 opaque view was reported on_target with ratio 1.000 for a target of 0.3."""
    flat = tmp_path / "in"
    flat.mkdir()
    write_png(flat / "a.png", np.full((1, 1, 4), 255, np.uint8))
    assert run(flat, tmp_path / "out") == 0
    (view,) = report(tmp_path / "out")["views"]
    assert view["after"]["size_ratio"] == 1.0 and view["on_target"] is False
    md = (tmp_path / "out" / "pixscale-report" / "report.md").read_text()
    assert "a 1-pixel canvas holds only ratio 0 or 1" in md and "| a.png |" in md


@pytest.mark.parametrize("side, on", [(64, True), (2, False)])
def test_the_one_pixel_tolerance_is_at_most_a_tenth_of_the_target(side, on):
    """img_1x1: the tolerance (one pixel's worth of area) of a tiny canvas reached 0.74 for a target of 0.3."""
    from pixscale._plan import tolerance

    assert tolerance(0.3, side * side) <= 0.03
    one_pixel = float(np.sqrt(0.09 + 1 / side**2) - 0.3)
    assert (tolerance(0.3, side * side) == pytest.approx(one_pixel)) == on
