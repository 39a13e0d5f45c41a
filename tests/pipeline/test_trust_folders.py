"""Folders and files a run meets: unreadable samples, unusable output folders, damaged manifests, odd options.

Each test here failed on the code before issue #19's third-round items were
fixed; the attack case it covers is named in its docstring.
"""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pixscale
from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline import files, masked
from pixscale.pipeline.dataset import MANIFEST
from pixscale.pipeline.io import write_png
from pixscale.pipeline.options import OptionError, RunOptions

SIZE = 64
CMD = [sys.executable, "-m", "pixscale"]
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all"]


def cli(*args):
    return main([str(a) for a in args])


def tree(root):
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def report(out):
    return json.loads((Path(out) / "pixscale-report" / "report.json").read_text())


def failed(rep):
    return {r["view"]: r["error"] for r in rep["views"] if r["status"] == "failed"}


@pytest.fixture
def flat(tmp_path):
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=2, size=SIZE, seed=3, layout="flat")
    return root


def _as_user(tmp_path):
    """The command prefix that runs pixscale as a user that file permissions apply to (root: no DAC override)."""
    if os.geteuid() != 0:
        return []
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        if shutil.which("setpriv") is None or subprocess.run([*NO_DAC, "cat", str(probe)]).returncode == 0:
            pytest.skip("cannot drop root's power to bypass file permissions here (setpriv)")
    finally:
        probe.unlink()
    return NO_DAC


def _run_as_user(tmp_path, *args):
    paths = (str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    cmd = [*_as_user(tmp_path), *CMD, *[str(a) for a in args]]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)


# --- fs_unreadable_sample: one sample folder that cannot be read ---------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "layout, locked",
    [("gslrm", "s1"), ("gslrm", "s0"), ("gslrm", "s1/images"), ("mvdiffusion", "s1")],
    ids=["gslrm-second", "gslrm-first", "gslrm-images", "mvdiffusion"],
)
def test_an_unreadable_sample_folder_fails_that_sample_by_name(tmp_path, layout, locked):
    """fs_unreadable_sample: a sample folder of mode 000 refused the whole run ('[Errno 13] ...', exit 2)."""
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=2, size=SIZE, seed=7, layout=layout)
    for i in (0, 1):
        (root / f"sample_00{i}").rename(root / f"s{i}")
    (root / locked).chmod(0)
    try:
        proc = _run_as_user(tmp_path, "run", root, tmp_path / "out", "--quiet", "--no-plots", "--jobs", "1")
    finally:
        (root / locked).chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert "Errno" not in proc.stderr and "Traceback" not in proc.stderr
    rep = report(tmp_path / "out")
    sample = locked.split("/")[0]
    other = "s1" if sample == "s0" else "s0"
    errors = failed(rep)
    assert list(errors) == [sample]
    assert "cannot be read by this user" in errors[sample] and "chmod" in errors[sample]
    assert any(k.startswith(other + "/") for k in tree(tmp_path / "out"))


def test_an_unreadable_dataset_folder_is_one_worded_line(tmp_path, flat):
    """fs_unreadable_sample's neighbour: IN_DIR itself of mode 000 gave '[Errno 13] Permission denied'."""
    flat.chmod(0)
    try:
        procs = [
            _run_as_user(tmp_path, "run", flat, tmp_path / "out", "--quiet", "--no-plots"),
            _run_as_user(tmp_path, "stats", flat, "--quiet", "--no-plots"),
        ]
    finally:
        flat.chmod(0o755)
    for proc in procs:
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert f"{flat} cannot be read by this user" in proc.stderr and "chmod -R a+rX" in proc.stderr
        assert "Errno" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_dataset_whose_only_sample_is_unreadable_says_so(tmp_path):
    """fs_unreadable_sample's neighbour: with no readable sample, the layout search raised '[Errno 13]'."""
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=1, size=SIZE, seed=7, layout="gslrm")
    (root / "sample_000").chmod(0)
    try:
        proc = _run_as_user(tmp_path, "run", root, tmp_path / "out", "--quiet", "--no-plots")
    finally:
        (root / "sample_000").chmod(0o755)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"1 of its folders cannot be read: {root / 'sample_000'} cannot be read by this user" in proc.stderr
    assert "Errno" not in proc.stderr


# --- fs_out_parent_readonly, fs_out_under_file: worded folder errors ------------------------------


def test_out_dir_in_a_read_only_folder_is_one_worded_line(tmp_path, flat):
    """fs_out_parent_readonly: 'pixscale: error: [Errno 13] Permission denied: .../ro/out'."""
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        proc = _run_as_user(tmp_path, "run", flat, tmp_path / "ro" / "out", "--quiet", "--no-plots")
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"OUT_DIR {tmp_path / 'ro' / 'out'} cannot be used" in proc.stderr
    assert f"its parent folder {tmp_path / 'ro'} is not writable by this user" in proc.stderr
    assert "chmod u+w" in proc.stderr and "Errno" not in proc.stderr
    assert tree(tmp_path / "ro") == []


def test_an_existing_out_dir_that_is_not_writable_is_one_worded_line(tmp_path, flat):
    """fs_out_parent_readonly's neighbour: an empty OUT_DIR of mode 555 gave '[Errno 13] ... .pixscale-lock'."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = _run_as_user(tmp_path, "run", flat, out, "--quiet", "--no-plots")
    finally:
        out.chmod(0o755)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"OUT_DIR {out} cannot be used: it is not writable by this user" in proc.stderr
    assert "Errno" not in proc.stderr and tree(out) == []


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{in}", "{file}/sub"],
        ["run", "{in}", "{file}/a/b"],
        ["run", "{in}", "{out}", "--report-dir", "{file}/rep"],
        ["stats", "{in}", "--report-dir", "{file}/rep"],
        ["demo", "--out", "{file}/demo", "--samples", "1"],
        ["compare", "{in}", "--out", "{file}/cmp"],
    ],
    ids=["run-out", "run-out-deeper", "run-report-dir", "stats-report-dir", "demo-out", "compare-out"],
)
def test_a_folder_argument_under_a_file_is_one_worded_line(tmp_path, flat, capsys, command):
    """fs_out_under_file: 'pixscale: error: [Errno 20] Not a directory: afile/sub'."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    args = [a.format(**{"in": flat, "file": afile, "out": tmp_path / "out"}) for a in command]
    before = tree(tmp_path)
    assert main(args + ["--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{afile} is a file, not a folder" in err and "Errno" not in err
    assert tree(tmp_path) == before and afile.read_text() == "x"


@pytest.mark.parametrize(
    "command, words",
    [
        (["run", "{in}", "{loop}"], "leads through a loop of symbolic links"),
        (["run", "{in}", "{loop}/sub"], "leads through a loop of symbolic links"),
        (["run", "{in}", "{dangling}/sub"], "is a symbolic link to nowhere, which does not exist"),
        (["stats", "{in}", "--report-dir", "{loop}/rep"], "leads through a loop of symbolic links"),
        (["stats", "{in}", "--report-dir", "{dangling}/rep"], "is a symbolic link to nowhere, which does not exist"),
        (["compare", "{in}", "--out", "{loop}"], "leads through a loop of symbolic links"),
    ],
    ids=["run-out-loop", "run-out-under-loop", "run-out-under-dangling", "stats-loop", "stats-dangling", "compare"],
)
def test_a_folder_argument_through_a_bad_link_is_one_worded_line(tmp_path, flat, capsys, command, words):
    """fs_out_under_file's neighbours: OUT_DIR a link loop was a RuntimeError traceback; a dangling link raw."""
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("nowhere")
    args = [a.format(**{"in": flat, "loop": tmp_path / "loop", "dangling": tmp_path / "dangling"}) for a in command]
    before = tree(tmp_path)
    assert main(args + ["--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Errno" not in err, err
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    "code, words",
    [
        (errno.ENOSPC, "is full"),
        (getattr(errno, "EDQUOT", errno.ENOSPC), "is full"),
        (errno.EROFS, "read-only file system"),
        (errno.ENAMETOOLONG, "too long"),
        (errno.ELOOP, "loop of symbolic links"),
        (errno.EEXIST, "already exists"),
        (errno.EPERM, "not writable by this user"),
        (errno.EIO, "Input/output error"),
    ],
)
def test_an_os_error_creating_out_dir_is_worded_with_its_fix(tmp_path, flat, capsys, monkeypatch, code, words):
    """fs_out_*: every errno creating OUT_DIR came out raw ('[Errno 28] No space left on device: ...')."""

    def fail(self, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "mkdir", fail)
    out = tmp_path / "new" / "out"
    assert cli("run", flat, out, "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pixscale: error: OUT_DIR {out} cannot be used: ") and err.count("\n") == 1, err
    assert words in err and "Errno" not in err
    problem, fix = files.os_problem(OSError(code, os.strerror(code), str(out)))
    assert problem in err and fix in err


# --- stats_report_dir_inside ---------------------------------------------------------------------


@pytest.mark.parametrize("inside", ["rep", "."])
def test_stats_refuses_a_report_dir_inside_its_dataset(tmp_path, flat, capsys, inside):
    """stats_report_dir_inside: `stats DIR --report-dir DIR/rep` wrote its report into the dataset."""
    before = tree(flat)
    assert cli("stats", flat, "--report-dir", flat / inside, "--no-plots", "--quiet") == 2
    err = capsys.readouterr().err
    assert "--report-dir" in err and "is inside IN_DIR" in err and err.count("\n") == 1
    assert tree(flat) == before


def test_stats_writes_a_report_dir_beside_its_dataset(tmp_path, flat):
    """A report folder that holds the dataset's folder is not inside it: stats writes there as before."""
    assert cli("stats", flat, "--report-dir", tmp_path, "--no-plots", "--quiet") == 0
    assert (tmp_path / "report.json").is_file()


# --- opt_threshold_255 ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "stats", "compare"])
@pytest.mark.parametrize("value", ["255", "255.0"])
def test_threshold_255_is_refused_up_front(tmp_path, flat, capsys, command, value):
    """opt_threshold_255: nothing exceeds 255, yet --threshold 255 was accepted and every view failed."""
    args = {"run": ["run", flat, tmp_path / "out"], "stats": ["stats", flat], "compare": ["compare", flat]}[command]
    args += ["--threshold", value, "--quiet", "--no-plots"]
    if command == "compare":
        args += ["--out", tmp_path / "cmp"]
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert "255" in err and "selects no pixel" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cmp").exists()


def test_threshold_255_is_refused_by_the_library_and_below_it_is_accepted():
    """opt_threshold_255: the library's validator too; 254.5 still selects a 16-bit view's opaque pixels."""
    a = np.zeros((16, 16, 4), np.uint16)
    a[4:12, 4:12] = 65535
    for call in (
        lambda: pixscale.normalize(a, threshold=255),
        lambda: pixscale.measure(a, threshold=255),
        lambda: pixscale.ObjectMask(255),
    ):
        with pytest.raises(ValueError, match="selects no pixel"):
            call()
    with pytest.raises(OptionError):
        RunOptions(threshold=255)
    assert pixscale.measure(a, threshold=254.5).count == 64
    assert RunOptions(threshold=254.5).threshold == 254.5


# --- lib_output_shape_huge -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(200000, 200000), (16385, 16384)])
def test_an_output_shape_over_the_pixel_limit_is_a_value_error(shape):
    """lib_output_shape_huge: normalize(64x64, output_shape=(200000, 200000)) ended in a bare MemoryError."""
    a = np.zeros((SIZE, SIZE, 4), np.uint8)
    a[10:30, 10:30] = 255
    for call in (
        lambda: pixscale.normalize(a, output_shape=shape),
        lambda: pixscale.plan(a, output_shape=shape),
        lambda: pixscale.normalize_batch(a[None], output_shape=shape),
    ):
        with pytest.raises(ValueError, match=r"pixscale\._validate\.MAX_PIXELS") as info:
            call()
        assert f"{shape[0] * shape[1]:,} pixels" in str(info.value)


# --- resume_manifest_bad_entry -------------------------------------------------------------------


def _damage(entry, how):
    entry = dict(entry)
    if how == "rows-null":
        entry["rows"] = None
    elif how == "rows-garbage":
        entry["rows"] = [{"view": 1}]
    elif how == "stranger-row":
        entry["rows"] = [{**r, "sample": "stranger"} for r in entry["rows"]]
    elif how == "inputs-garbage":
        entry["inputs"] = [1, 2]
    elif how == "ok-without-measures":
        entry["rows"] = [{**r, "before": None} for r in entry["rows"]]
    return entry


@pytest.mark.parametrize("how", ["rows-null", "rows-garbage", "stranger-row", "inputs-garbage", "ok-without-measures"])
def test_resume_redoes_a_sample_whose_manifest_line_is_malformed(tmp_path, flat, capsys, how):
    """resume_manifest_bad_entry: a last line repeated with rows null: TypeError traceback on --resume."""
    out = tmp_path / "out"
    assert cli("run", flat, out, "--no-plots", "--quiet", "--jobs", "1") == 0
    first, n_views = sorted(tree(out)), len(report(out)["views"])
    manifest = out / MANIFEST
    lines = manifest.read_text().splitlines()
    last = json.loads(lines[-1])
    manifest.write_text("\n".join(lines + [json.dumps(_damage(last, how))]) + "\n")
    capsys.readouterr()
    assert cli("run", flat, out, "--no-plots", "--resume", "--jobs", "1") == 0
    err = capsys.readouterr().err
    assert f"{last['sample']} (its line in {MANIFEST} is damaged" in err
    assert sorted(tree(out)) == first
    rep = report(out)
    assert {r["status"] for r in rep["views"]} == {"ok"} and len(rep["views"]) == n_views
    assert json.loads(manifest.read_text().splitlines()[-1])["rows"][0]["sample"] == last["sample"]


# --- jpeg_exif_rotated ---------------------------------------------------------------------------


def _jpeg_with_orientation(path, image, orientation):
    from PIL import Image

    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.fromarray(image).save(path, "JPEG", quality=95, exif=exif.tobytes())


def test_a_mask_made_on_an_exif_rotated_jpeg_names_the_orientation(tmp_path, capsys):
    """jpeg_exif_rotated: a JPEG stored 32x64 shown 64x32 (Orientation 6) failed with a bare shape mismatch."""
    root = tmp_path / "in"
    root.mkdir()
    _jpeg_with_orientation(root / "a.jpg", np.full((32, 64, 3), 100, np.uint8), 6)
    mask = np.zeros((64, 32), np.uint8)
    mask[10:50, 5:25] = 255
    write_png(root / "a_mask.png", mask)
    assert cli("run", root, tmp_path / "out", "--mask", "{stem}_mask.png", "--quiet", "--no-plots") == 1
    (error,) = failed(report(tmp_path / "out")).values()
    assert "EXIF orientation is 6 (rotated 90 degrees clockwise)" in error
    assert "stored pixels" in error and "rotate the JPEG's pixels" in error


def test_exif_orientation_is_read_from_jpegs_only(tmp_path):
    image = np.full((8, 16, 3), 50, np.uint8)
    for value in (None, 1, 3, 8):
        _jpeg_with_orientation(tmp_path / "x.jpg", image, value)
        assert masked.exif_orientation(tmp_path / "x.jpg") == value
    write_png(tmp_path / "x.png", image)
    assert masked.exif_orientation(tmp_path / "x.png") is None
    assert masked.exif_orientation(tmp_path / "missing.jpg") is None
