"""The dataset job in a user's hands: view identity, layouts, resume, interrupts, faults, locking.

Each test here failed on the code before the trust issues were fixed; the
issue item it covers is named in its docstring.
"""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import pixscale
from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.discover import discover
from pixscale.pipeline.driver import run
from pixscale.pipeline.io import read_view, write_png

pytestmark = pytest.mark.slow
SIZE = 96
CMD = [sys.executable, "-m", "pixscale"]


def digest(root, *, skip=("pixscale-manifest.jsonl", "pixscale-report", "train.txt")):
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] not in skip and not p.name.startswith(".pixscale-")
    }


def manifest_samples(out):
    lines = (Path(out) / "pixscale-manifest.jsonl").read_text().splitlines()[1:]
    return [json.loads(line)["sample"] for line in lines if line.strip()]


@pytest.fixture
def gslrm(tmp_path):
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=3, size=SIZE, seed=7, layout="gslrm")
    return root


def cli(*args):
    return main([str(a) for a in args])


def test_glob_views_are_named_by_their_path_not_their_stem(tmp_path, gslrm, capsys):
    """Item 2: a glob over sample folders gave 6 distinct views 16 times each."""
    code = cli("run", f"{gslrm}/*/images/*.png", tmp_path / "out", "--quiet", "--no-plots")
    assert code == 0
    report = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    views = [v["view"] for v in report["views"]]
    assert len(views) == 18 and len(set(views)) == 18
    assert "sample_001/images/cam_002.png" in views
    for v in report["views"]:  # the statistics describe the view they name
        out = read_view(tmp_path / "out" / v["view"])
        assert pixscale.measure(out).size_ratio == v["after"]["size_ratio"]
        assert pixscale.measure(read_view(gslrm / v["view"])).count == v["before"]["count"]
    # the views of each GS-LRM sample folder form that sample, and its cameras follow (issue #19)
    assert sorted(manifest_samples(tmp_path / "out")) == ["sample_000", "sample_001", "sample_002"]
    assert (tmp_path / "out" / "sample_001" / "opencv_cameras.json").is_file()


def test_same_stem_different_suffix_case_are_two_views(tmp_path):
    """Item 2: ``a.png`` and ``a.PNG`` in one flat folder."""
    src = tmp_path / "in"
    src.mkdir()
    imgs = [synth.mouse_view(np.random.default_rng(i), size=SIZE) for i in range(2)]
    write_png(src / "a.png", imgs[0])
    write_png(src / "a.PNG", imgs[1])
    rows, _ = run(src, tmp_path / "out", quiet=True)
    assert sorted(r["view"] for r in rows) == ["a.PNG", "a.png"]
    assert read_view(tmp_path / "out" / "a.png").shape == read_view(tmp_path / "out" / "a.PNG").shape
    assert not np.array_equal(read_view(tmp_path / "out" / "a.png"), read_view(tmp_path / "out" / "a.PNG"))


def test_one_gslrm_sample_folder_keeps_its_cameras(tmp_path, gslrm, capsys):
    """Item 3: a sample folder given as IN_DIR was read as MVDiffusion with a sample called images."""
    assert cli("run", gslrm / "sample_001", tmp_path / "out", "--no-plots") == 0
    err = capsys.readouterr().err
    assert "GS-LRM, 1 sample, 6 views" in err
    cams = json.loads((tmp_path / "out" / "opencv_cameras.json").read_text())
    src = json.loads((gslrm / "sample_001" / "opencv_cameras.json").read_text())
    assert len(cams["frames"]) == 6 and cams["frames"][0]["fx"] != src["frames"][0]["fx"]
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == [f"cam_{i:03d}.png" for i in range(6)]


def test_sample_without_cameras_is_a_reported_failure(tmp_path, gslrm, capsys):
    """Item 4: a sample folder without opencv_cameras.json was processed as if nothing were missing."""
    (gslrm / "sample_002" / "opencv_cameras.json").unlink()
    assert cli("run", gslrm, tmp_path / "out", "--no-plots") == 1
    report = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    (failure,) = report["summary"]["failures"]
    assert failure["sample"] == "sample_002" and "no opencv_cameras.json" in failure["error"]
    assert not (tmp_path / "out" / "sample_002").exists()
    assert len(list((tmp_path / "out").glob("sample_00[01]/images/*.png"))) == 12


def test_resume_redoes_samples_whose_inputs_changed(tmp_path, gslrm, capsys):
    """Item 6: --resume trusted whatever was in OUT_DIR after the input changed."""
    out = tmp_path / "out"
    assert cli("run", gslrm, out, "--quiet", "--no-plots") == 0
    view = gslrm / "sample_001" / "images" / "cam_003.png"
    img = read_view(view)
    write_png(view, np.ascontiguousarray(img[:, ::-1]))  # the same object, mirrored
    assert cli("run", gslrm, out, "--resume", "--no-plots") == 0
    err = capsys.readouterr().err
    assert "redoing 1 sample" in err and "sample_001 (sample_001/images/cam_003.png changed)" in err
    fresh = tmp_path / "fresh"
    assert cli("run", gslrm, fresh, "--quiet", "--no-plots") == 0
    assert digest(out) == digest(fresh)


def test_resume_refuses_another_datasets_folder(tmp_path, gslrm, capsys):
    """Item 6: --resume into the OUT_DIR of a different dataset reported success."""
    other = tmp_path / "other"
    synth.write_dataset(other, n_samples=3, size=SIZE, seed=8, layout="gslrm")
    assert cli("run", gslrm, tmp_path / "out", "--quiet", "--no-plots") == 0
    capsys.readouterr()
    assert cli("run", other, tmp_path / "out", "--resume", "--quiet") == 2
    err = capsys.readouterr().err
    assert "holds a run of" in err and str(gslrm.resolve()) in err


def test_resume_refused_for_changed_options_names_them(tmp_path, gslrm, capsys):
    """Item 14: a resume refused for changed options names the options that differ (not the whole dict)."""
    assert cli("run", gslrm, tmp_path / "out", "--quiet", "--no-plots") == 0
    capsys.readouterr()
    assert cli("run", gslrm, tmp_path / "out", "--resume", "--target", "0.25", "--margin", "2") == 2
    err = capsys.readouterr().err
    assert "target 0.3 -> 0.25" in err and "margin 0.0 -> 2.0" in err and "center" not in err


@pytest.mark.parametrize(
    "flag, value, option",
    [
        ("--target", "30", "--target"),
        ("--target", "0", "--target"),
        ("--target", "1.5", "--target"),
        ("--target", "nan", "--target"),
        ("--threshold", "300", "--threshold"),
        ("--threshold", "-1", "--threshold"),
        ("--margin", "-5", "--margin"),
        ("--margin", "inf", "--margin"),
        ("--jobs", "-1", "--jobs"),
        ("--jobs", "0", "--jobs"),
        ("--output-size", "100000x100000", "--output-size"),
        ("--output-size", "20000x20000", "--output-size"),
        ("--margin", "300", "--margin"),
    ],
)
def test_bad_options_are_refused_before_anything_is_read_or_written(tmp_path, gslrm, capsys, flag, value, option):
    """Item 14: each bad option gets one line naming it, exit 2, nothing written."""
    extra = ["--output-size", "512"] if option == "--margin" and value == "300" else []
    assert cli("run", gslrm, tmp_path / "out", flag, value, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"pixscale: error: {option} ") and "expected" in err
    assert not (tmp_path / "out").exists()


def test_outputs_never_leave_out_dir(tmp_path, gslrm):
    """Item 8: a file_path through a symlinked folder plus '..' wrote outside OUT_DIR."""
    sample = gslrm / "sample_000"
    deep = sample / "images" / "a" / "b"
    deep.mkdir(parents=True)
    (sample / "link").symlink_to(deep, target_is_directory=True)
    cams = json.loads((sample / "opencv_cameras.json").read_text())
    cams["frames"][0]["file_path"] = "link/../../images/cam_000.png"  # lexically escapes, really inside
    cams["frames"][1]["file_path"] = "link/../../../../escape.png"
    (sample / "opencv_cameras.json").write_text(json.dumps(cams))
    (gslrm / "escape.png").write_bytes((sample / "images" / "cam_001.png").read_bytes())
    out = tmp_path / "deep" / "out"
    rows, _ = run(gslrm, out, quiet=True)
    written = [p for p in tmp_path.rglob("*.png") if tmp_path / "in" not in p.parents]
    assert all(out in p.parents for p in written), written
    bad = {r["view"]: r["error"] for r in rows if r["status"] == "failed"}
    assert len(bad) == 2 and all("outside its sample folder" in e for e in bad.values())


def test_glob_with_out_dir_inside_the_globbed_folder_is_refused(tmp_path, gslrm, capsys):
    """Item 8: a glob IN with OUT_DIR inside the globbed folder was accepted."""
    assert cli("run", f"{gslrm}/sample_00*", gslrm / "sample_000" / "out") == 2
    assert cli("run", f"{gslrm}/*/images/*.png", gslrm / "sample_000" / "out") == 2
    assert "inside IN_DIR" in capsys.readouterr().err
    assert not (gslrm / "sample_000" / "out").exists()


def test_disk_full_fails_the_view_and_resume_completes_it(tmp_path, gslrm, monkeypatch, capsys):
    """Item 11: disk full ended the whole run with [Errno 28] and no report."""
    from pixscale.pipeline import unit

    real = unit.write_png

    def full(path, image, **kw):
        if "sample_001" in str(path) and path.name == "cam_002.png":
            raise OSError(errno.ENOSPC, f"cannot write {path}: No space left on device")
        return real(path, image, **kw)

    monkeypatch.setattr(unit, "write_png", full)
    out = tmp_path / "out"
    # Threads: the fault is injected in this process.
    assert cli("run", gslrm, out, "--quiet", "--no-plots", "--pool", "threads") == 1
    report = json.loads((out / "pixscale-report" / "report.json").read_text())
    (failure,) = report["summary"]["failures"]
    assert failure["view"] == "sample_001/images/cam_002.png" and "No space left" in failure["error"]
    assert "sample_001" not in manifest_samples(out)
    monkeypatch.setattr(unit, "write_png", real)
    assert cli("run", gslrm, out, "--quiet", "--no-plots", "--resume") == 0
    fresh = tmp_path / "fresh"
    assert cli("run", gslrm, fresh, "--quiet", "--no-plots") == 0
    assert digest(out) == digest(fresh)
    assert not list(out.rglob("*.part"))


def test_reports_do_not_mix_with_data(tmp_path, capsys):
    """Item 16: in a flat layout the report landed among the images and stats counted its figures."""
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=1, size=SIZE, seed=1, layout="flat")
    assert cli("run", src, tmp_path / "out", "--quiet") == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f"view_{i:04d}.png" for i in range(6)]
    assert (tmp_path / "out" / "pixscale-report" / "report.json").exists()
    capsys.readouterr()
    assert cli("stats", tmp_path / "out", "--json") == 0
    assert json.loads(capsys.readouterr().out)["summary"]["n_views"] == 6


def test_problems_found_at_the_end_never_lose_the_work(tmp_path, gslrm, capsys):
    """Issue 14 item 2 and items 15: bad list files, a folder named *.txt, odd sample names."""
    (gslrm / "bad.txt").write_bytes(b"\xff\xfe not utf-8\n")
    (gslrm / "nul.txt").write_bytes(b"sample_000\0\n")
    (gslrm / "notes.txt").mkdir()
    os.rename(gslrm / "sample_002", gslrm / "report.json")
    undecodable = os.fsencode(str(gslrm)) + b"/caf\xe9"
    os.mkdir(undecodable)
    os.rename(gslrm / "sample_001" / "opencv_cameras.json", undecodable + b"/opencv_cameras.json")
    os.rename(gslrm / "sample_001" / "images", undecodable + b"/images")
    os.rmdir(gslrm / "sample_001")
    out = tmp_path / "out"
    assert cli("run", gslrm, out, "--no-plots") == 1
    captured = capsys.readouterr()
    assert "notes.txt/: no opencv_cameras.json and no images; not a sample, skipped" in captured.err
    report = json.loads((out / "pixscale-report" / "report.json").read_text())
    errors = {f["view"]: f["error"] for f in report["summary"]["failures"]}
    assert "not UTF-8 text" in errors["bad.txt"] and "NUL byte" in errors["nul.txt"]
    assert any("not valid UTF-8" in e for e in errors.values())
    assert report["summary"]["n_ok"] == 12  # sample_000 and the sample named report.json
    assert len(list((out / "report.json" / "images").glob("*.png"))) == 6
    assert (out / "train.txt").exists()


def test_bracketed_in_dir_is_a_path_not_a_pattern(tmp_path):
    """Item 15: IN_DIR with [brackets] in its name was taken as a glob that matches nothing."""
    src = tmp_path / "renders [v2]"
    synth.write_dataset(src, n_samples=1, size=SIZE, seed=2, layout="gslrm")
    rows, dataset = run(src, tmp_path / "out", quiet=True)
    assert dataset.layout == "gslrm" and len(rows) == 6 and all(r["status"] == "ok" for r in rows)


def test_corrupted_manifest_is_a_clear_error(tmp_path, gslrm, capsys):
    """Item 15: a corrupted or truncated manifest was a KeyError traceback."""
    out = tmp_path / "out"
    assert cli("run", gslrm, out, "--quiet", "--no-plots") == 0
    manifest = out / "pixscale-manifest.jsonl"
    manifest.write_text('{"not": "a header"}\n' + "\n".join(manifest.read_text().splitlines()[1:]) + "\n")
    capsys.readouterr()
    assert cli("run", gslrm, out, "--resume") == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and "Traceback" not in err


def test_report_dir_that_is_a_file_is_refused_up_front(tmp_path, gslrm, capsys):
    """Item 15: --report-dir that is a file."""
    (tmp_path / "rep").write_text("x")
    assert cli("run", gslrm, tmp_path / "out", "--report-dir", tmp_path / "rep") == 2
    assert "--report-dir" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "frame_edit, message",
    [
        (lambda f: f.update(fx=None), "fx is null"),
        (lambda f: f.update(fx="500"), 'fx is "500"'),
        (lambda f: f.update(fx=[500]), "fx is [500]"),
        (lambda f: f.update(fx=float("nan")), "fx is NaN"),
        (lambda f: f.pop("file_path"), "has no file_path"),
        (lambda f: f.update(w=512, h=512), "but the image is 96x96"),
        (lambda f: f.update(file_path="images/cam_001.png"), "both name images/cam_001.png"),
    ],
)
def test_bad_camera_frames_fail_that_view(tmp_path, gslrm, frame_edit, message):
    """Item 15: camera frames with bad intrinsics, no file_path, or that disagree with the files."""
    path = gslrm / "sample_000" / "opencv_cameras.json"
    cams = json.loads(path.read_text())
    frame_edit(cams["frames"][2])
    path.write_text(json.dumps(cams))
    rows, _ = run(gslrm, tmp_path / "out", quiet=True)
    bad = [r for r in rows if r["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["sample"] == "sample_000" and message in bad[0]["error"], bad
    assert sum(r["status"] == "ok" for r in rows) == 17
    frames = json.loads((tmp_path / "out" / "sample_000" / "opencv_cameras.json").read_text())["frames"]
    assert len(frames) == 5


def test_frame_that_is_not_an_object_and_unused_images(tmp_path, gslrm):
    """Item 15: a frame that is not an object; fewer frames than images is said in the report."""
    path = gslrm / "sample_000" / "opencv_cameras.json"
    cams = json.loads(path.read_text())
    cams["frames"][0] = "cam_000"
    del cams["frames"][5]
    path.write_text(json.dumps(cams))
    dataset = discover(gslrm)
    sample = dataset.samples[0]
    assert "not a JSON object" in sample.views[0].error
    assert sample.warnings and "images/cam_000.png" in sample.warnings[0] and "cam_005" in sample.warnings[0]


def test_demo_out_may_be_an_existing_empty_folder_and_rejects_run_only_flags(tmp_path, capsys):
    """Item 18: ``pixscale demo --out EXISTING_EMPTY_DIR`` failed with File exists; --layout was ignored."""
    (tmp_path / "demo").mkdir()
    assert cli("demo", "--out", tmp_path / "demo", "--samples", "1", "--quiet", "--no-plots") == 0
    assert (tmp_path / "demo" / "output" / "sample_000" / "opencv_cameras.json").exists()
    with pytest.raises(SystemExit):
        cli("demo", "--layout", "flat")
    with pytest.raises(SystemExit):
        cli("demo", "--resume")


# --- real processes: signals and locks ------------------------------------------------------------


def _wait_for(predicate, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("big") / "in"
    synth.write_dataset(root, n_samples=24, size=192, seed=11, layout="gslrm")
    whole = root.parent / "whole"
    subprocess.run(CMD + ["run", str(root), str(whole), "--quiet", "--no-plots"], check=True, capture_output=True)
    return root, whole


def test_ctrl_c_stops_before_the_end_and_resume_finishes(tmp_path, big, paced_env):
    """Item 10: Ctrl-C went on, printed a traceback and lost completed samples."""
    src, whole = big
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--no-plots", "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=paced_env,
    )
    assert _wait_for(lambda: (out / "pixscale-manifest.jsonl").exists() and len(manifest_samples(out)) >= 3, proc), (
        "the run finished before it could be interrupted"
    )
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)  # a hang guard, not a timing
    assert proc.returncode == 130
    assert "Traceback" not in err and "--resume" in err
    assert len([line for line in err.splitlines() if "interrupted" in line]) == 1
    completed = {p.parent.name for p in out.glob("*/opencv_cameras.json")}
    assert completed == set(manifest_samples(out)) and 0 < len(completed) < 24
    subprocess.run(
        CMD + ["run", str(src), str(out), "--quiet", "--no-plots", "--resume"], check=True, capture_output=True
    )
    assert digest(out) == digest(whole)


def test_sigkill_at_random_points_then_resume_is_byte_identical(tmp_path, big):
    """Kept from before: SIGKILL at random points, then --resume gives the same bytes."""
    src, whole = big
    out = tmp_path / "out"
    rng = np.random.default_rng(3)
    for delay in sorted(rng.uniform(0.0, 2.5, 10)):
        proc = subprocess.Popen(
            CMD + ["run", str(src), str(out), "--quiet", "--no-plots", "--resume"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
    subprocess.run(
        CMD + ["run", str(src), str(out), "--quiet", "--no-plots", "--resume"], check=True, capture_output=True
    )
    assert digest(out) == digest(whole)
    assert not list(out.rglob("*.part"))


def test_kill_in_the_first_milliseconds_leaves_a_restartable_folder(tmp_path, big):
    """Issue 14 item 4: SIGKILLs right after start left a folder both --resume and a rerun refused."""
    src, whole = big
    out = tmp_path / "out"
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8):
        proc = subprocess.Popen(
            CMD + ["run", str(src), str(out), "--quiet", "--no-plots"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
        if (out / "pixscale-manifest.jsonl").exists() and manifest_samples(out):
            break  # a sample completed: from here on the folder needs --resume
    if not (out / "pixscale-manifest.jsonl").exists() or not manifest_samples(out):
        done = subprocess.run(CMD + ["run", str(src), str(out), "--quiet", "--no-plots"], capture_output=True)
        assert done.returncode == 0, done.stderr
    # A folder that holds only pixscale's temporary files is restartable with and without --resume.
    for resume in ([], ["--resume"]):
        other = tmp_path / f"other{len(resume)}"
        other.mkdir()
        (other / ".pixscale-manifest.jsonl.x1y2.part").write_text("{")
        (other / ".pixscale-lock").write_text("")
        done = subprocess.run(
            CMD + ["run", str(src), str(other), "--quiet", "--no-plots", *resume], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert digest(other) == digest(whole)


def test_second_run_into_the_same_out_dir_is_refused(tmp_path, big):
    """Issue 14 item 1: two runs into one OUT_DIR deleted each other's temporary files."""
    src, whole = big
    out = tmp_path / "out"
    first = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--quiet", "--no-plots", "--jobs", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _wait_for(lambda: (out / ".pixscale-lock.pid").exists(), first)
    second = subprocess.run(
        CMD + ["run", str(src), str(out), "--resume", "--no-plots"], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 2
    assert f"in use by another pixscale run (pid {first.pid})" in second.stderr
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert digest(out) == digest(whole)


_PEAK = """
import resource, sys
cap = int(sys.argv[1])
if cap:
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
from pixscale.cli import main
rc = main(["run", *sys.argv[2:], "--quiet"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, resource.getrlimit(resource.RLIMIT_DATA)[0])
sys.exit(rc)
"""


def _peak(*args, cap=0):
    done = subprocess.run([sys.executable, "-c", _PEAK, str(cap), *map(str, args)], capture_output=True, text=True)
    return done.returncode, done


def test_report_memory_does_not_grow_with_the_image(tmp_path):
    """Issue 14 item 3: one huge view made the figures cost ten times the memory of the run itself."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    img = np.zeros((4000, 4000, 4), np.uint8)
    img[1000:2600, 1200:2900] = (120, 80, 40, 255)
    img[..., :3] |= rng.integers(0, 8, (4000, 4000, 3), dtype=np.uint8)
    write_png(src / "huge.png", img, compress_level=1)
    del img
    rc, bare = _peak(src, tmp_path / "bare", "--no-plots")
    assert rc == 0, bare.stderr[-2000:]
    rc, plots = _peak(src, tmp_path / "plots")
    assert rc == 0, plots.stderr[-2000:]
    peak_bare, peak_plots = (int(p.stdout.split("\n")[-2].split()[0]) for p in (bare, plots))
    # Figures are drawn from thumbnails: they add little to the run's own peak (the view and its output).
    assert peak_plots < peak_bare + 64 * 2**20, (peak_bare, peak_plots)
    # And under a memory cap a little above the run's own needs, the report with figures is still written.
    rc, capped = _peak(src, tmp_path / "capped", cap=peak_bare + 100 * 2**20)
    assert rc == 0, capped.stderr[-2000:]
    assert (tmp_path / "capped" / "pixscale-report" / "contact_sheet.png").exists()


def test_16bit_views_stay_16bit_end_to_end(tmp_path, capsys):
    """Item 1: 16-bit PNGs came out 8-bit, exit 0, no warning."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    img8 = synth.mouse_view(rng, size=SIZE)
    img16 = img8.astype(np.uint16) * 257 + rng.integers(0, 257, img8.shape).astype(np.uint16)
    img16[..., 3] = img8[..., 3].astype(np.uint16) * 257  # alpha keeps its 8-bit mask
    write_png(src / "deep.png", img16)
    gray = np.ascontiguousarray(img16[..., [1, 3]])
    write_png(src / "gray.png", gray)
    assert cli("run", src, tmp_path / "out", "--quiet", "--no-plots") == 0
    for name, original in (("deep.png", img16), ("gray.png", gray)):
        out = read_view(tmp_path / "out" / name)
        assert out.dtype == np.uint16
        np.testing.assert_array_equal(out, pixscale.normalize(original))


def test_outputs_are_created_with_the_umask_mode(tmp_path, gslrm):
    """Item 12: output files were mode 0600."""
    old = os.umask(0o022)
    try:
        run(gslrm, tmp_path / "out", quiet=True)
    finally:
        os.umask(old)
    modes = {
        oct(p.stat().st_mode & 0o777)
        for p in (tmp_path / "out").rglob("*")
        if p.is_file() and not p.name.startswith(".pixscale-")
    }
    assert modes == {"0o644"}


def test_a_view_that_cannot_reach_the_target_is_counted_and_explained(tmp_path, capsys):
    """Item 7: an all-opaque view missed the target and the plan said nothing."""
    src = tmp_path / "in"
    src.mkdir()
    write_png(src / "full.png", np.full((64, 64, 4), 255, np.uint8))
    write_png(src / "mouse.png", synth.mouse_view(np.random.default_rng(1), size=64))
    assert cli("run", src, tmp_path / "out", "--no-plots") == 0
    printed = capsys.readouterr().out
    assert "off target (exact mode)" in printed and "no scale gives these views" in printed
    report = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    assert report["summary"]["off_target"] == 1
    (full,) = [v for v in report["views"] if v["view"] == "full.png"]
    assert full["on_target"] is False and full["limited"] is False
