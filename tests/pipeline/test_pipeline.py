"""End-to-end tests of the dataset job: layouts, cameras, safety, resume and bad views."""

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
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import RunOptions

pytestmark = pytest.mark.slow
SIZE = 160


def _undated(path):
    """A file's bytes, less the report's date and output folder (all that two identical runs write differently)."""
    data = path.read_bytes()
    if path.name == "report.json":
        doc = json.loads(data)
        doc["meta"].pop("date")
        doc["meta"].pop("output")
        return json.dumps(doc, sort_keys=True).encode()
    if path.name == "report.md":
        return b"\n".join(line for line in data.split(b"\n") if not line.startswith((b"| date |", b"| output |")))
    if path.name == "report.html":  # the same rows as report.md's, as table rows
        skip = (b"<tr><td>date</td>", b"<tr><td>output</td>")
        return b"\n".join(line for line in data.split(b"\n") if not line.startswith(skip))
    return data


def tree_digest(root):
    """{relative path: sha256} of every file under ``root`` (the report's date left out)."""
    root = Path(root)
    return {
        str(p.relative_to(root)): hashlib.sha256(_undated(p)).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def gslrm(tmp_path_factory):
    root = tmp_path_factory.mktemp("gslrm") / "in"
    synth.write_dataset(root, n_samples=3, size=SIZE, seed=3, layout="gslrm")
    return root


@pytest.mark.parametrize("layout", ["gslrm", "mvdiffusion", "flat"])
def test_every_layout_end_to_end(tmp_path, layout):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=2, size=SIZE, seed=1, layout=layout)
    before = tree_digest(src)
    rows, dataset = run(src, tmp_path / "out", quiet=True, jobs=2)
    assert dataset.layout == layout
    assert len(rows) == 12 and all(r["status"] == "ok" for r in rows)
    for sample in dataset.samples:
        for view in sample.views:
            out = pixscale.pipeline.io.read_view(tmp_path / "out" / sample.rel_dir / view.rel)
            assert out.shape == (SIZE, SIZE, 4)
    for r in rows:
        after = r["after"]["size_ratio"]
        assert after == pixscale.measure(pixscale.pipeline.io.read_view(tmp_path / "out" / r["view"])).size_ratio
        if not r["limited"]:
            assert abs(after - 0.3) <= 1e-4
    assert tree_digest(src) == before, "the input tree must not change"


def _project(K, w2c, X):
    cam = (np.asarray(w2c) @ np.append(X, 1.0))[:3]
    uv = K @ cam
    return uv[:2] / uv[2]


def _K(frame):
    return np.array([[frame["fx"], 0, frame["cx"]], [0, frame["fy"], frame["cy"]], [0, 0, 1]])


def test_cameras_follow_the_images(tmp_path, gslrm):
    rows, _ = run(gslrm, tmp_path / "out", quiet=True)
    by_view = {(r["sample"], r["view"]): r for r in rows}
    rng = np.random.default_rng(0)
    for sample_dir in sorted(gslrm.iterdir()):
        if not sample_dir.is_dir():
            continue
        cams_in = json.loads((sample_dir / "opencv_cameras.json").read_text())
        cams_out = json.loads((tmp_path / "out" / sample_dir.name / "opencv_cameras.json").read_text())
        assert cams_out["id"] == cams_in["id"]
        assert cams_out["pixscale"]["parameters"]["target"] == 0.3
        for f_in, f_out in zip(cams_in["frames"], cams_out["frames"], strict=False):
            assert f_out["file_path"] == f_in["file_path"]
            assert f_out["w2c"] == f_in["w2c"]
            extra = set(f_in) - {"fx", "fy", "cx", "cy", "w", "h"}
            assert all(f_out[k] == f_in[k] for k in extra) and extra - {"w2c", "file_path"}
            r = by_view[(sample_dir.name, f"{sample_dir.name}/{f_in['file_path']}")]
            s, c = r["scale"], np.array(r["before"]["centroid"])
            d = np.array([SIZE / 2, SIZE / 2])
            for X in rng.uniform(-0.3, 0.3, (5, 3)):
                p = _project(_K(f_in), f_in["w2c"], X) + 0.5 - 0.5  # pixel centres at +0.5: continuous
                q = _project(_K(f_out), f_out["w2c"], X)
                np.testing.assert_allclose(q, s * (p - c) + d, atol=1e-6)
            # And the object itself moved there: its centroid is within a pixel of the canvas centre.
            out_img = pixscale.pipeline.io.read_view(tmp_path / "out" / sample_dir.name / f_in["file_path"])
            np.testing.assert_allclose(pixscale.measure(out_img).centroid, d, atol=1.0)


def test_list_files_point_at_the_output(tmp_path, gslrm):
    run(gslrm, tmp_path / "out", quiet=True)
    lines = (tmp_path / "out" / "train.txt").read_text().split()
    assert lines and all(Path(line).parent == (tmp_path / "out").resolve() for line in lines)
    assert all(Path(line).is_dir() for line in lines)


def test_keep_cameras_and_per_sample_scale(tmp_path, gslrm):
    opts = RunOptions(keep_cameras=True, scale="per-sample")
    rows, _ = run(gslrm, tmp_path / "out", opts, quiet=True)
    for name in {r["sample"] for r in rows}:
        sample_rows = [r for r in rows if r["sample"] == name]
        assert len({r["scale"] for r in sample_rows}) == 1
        ratios = [r["after"]["size_ratio"] for r in sample_rows]
        if not sample_rows[0]["limited"]:
            assert abs(np.mean(ratios) - 0.3) <= 1e-4
        frames_in = json.loads((gslrm / name / "opencv_cameras.json").read_text())["frames"]
        frames_out = json.loads((tmp_path / "out" / name / "opencv_cameras.json").read_text())["frames"]
        assert frames_in == frames_out


@pytest.mark.parametrize("premultiplied", [True, False])
def test_colour_under_alpha_zero_is_written_as_zero(tmp_path, gslrm, premultiplied):
    """Inputs hide a background photo under alpha 0; no output may keep any of it."""
    rows, dataset = run(gslrm, tmp_path / "out", RunOptions(premultiplied=premultiplied), quiet=True)
    assert all(r["status"] == "ok" for r in rows)
    hidden = 0
    for sample in dataset.samples:
        for view in sample.views:
            src = pixscale.pipeline.io.read_view(view.path)
            hidden += np.count_nonzero(src[src[..., 3] == 0, :3])
            out = pixscale.pipeline.io.read_view(tmp_path / "out" / sample.rel_dir / view.rel)
            assert not out[out[..., 3] == 0, :3].any()
    assert hidden > 0, "the synthetic inputs should hide colour under alpha 0"


def test_output_inside_input_is_refused(gslrm):
    with pytest.raises(ValueError, match="inside IN_DIR"):
        run(gslrm, gslrm / "out", quiet=True)
    with pytest.raises(ValueError, match="inside IN_DIR"):
        run(gslrm, gslrm, quiet=True)


def test_bad_views_are_reported_and_the_rest_written(tmp_path, capsys):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=2, size=SIZE, seed=2, layout="mvdiffusion")
    views = sorted(src.glob("sample_000/cam_*.png"))
    views[0].write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    views[1].write_bytes(b"")
    rgba = pixscale.pipeline.io.read_view(views[2])
    pixscale.pipeline.io.write_png(views[2], rgba[..., :3])  # RGB without alpha
    empty = rgba.copy()
    empty[..., 3] = 0
    pixscale.pipeline.io.write_png(views[3], empty)
    code = main(["run", str(src), str(tmp_path / "out"), "--no-plots"])  # the table is printed (not --quiet)
    assert code == 1
    report = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    failed = {Path(f["view"]).name: f["error"] for f in report["summary"]["failures"]}
    assert set(failed) == {v.name for v in views[:4]}
    assert "decoded" in failed[views[0].name]
    assert "empty (0 bytes)" in failed[views[1].name]
    assert "no alpha channel" in failed[views[2].name]
    assert "empty mask" in failed[views[3].name]
    written = sorted(p.name for p in (tmp_path / "out").rglob("cam_*.png"))
    assert len(written) == 12 - 4
    printed = capsys.readouterr().out
    assert "failed" in printed and "no alpha channel" in printed
    page = tmp_path / "out" / "pixscale-report" / "report.html"
    assert f"\nreport: {page} (open it in a browser" in printed and page.is_file()  # the end line names the page


def test_file_path_outside_sample_is_rejected(tmp_path):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=1, size=SIZE, seed=4)
    cams_path = src / "sample_000" / "opencv_cameras.json"
    cams = json.loads(cams_path.read_text())
    cams["frames"][0]["file_path"] = "../../secret.png"
    cams_path.write_text(json.dumps(cams))
    rows, _ = run(src, tmp_path / "out", quiet=True)
    bad = [r for r in rows if r["status"] == "failed"]
    assert len(bad) == 1 and "outside its sample folder" in bad[0]["error"]
    out_frames = json.loads((tmp_path / "out" / "sample_000" / "opencv_cameras.json").read_text())["frames"]
    assert len(out_frames) == 5 and all(f["file_path"] != "../../secret.png" for f in out_frames)


def test_stats_writes_nothing(tmp_path, gslrm, capsys):
    before = tree_digest(gslrm)
    assert main(["stats", str(gslrm), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["n_ok"] == 18
    assert tree_digest(gslrm) == before


def test_rerun_needs_resume_and_same_options(tmp_path, gslrm):
    out = tmp_path / "out"
    run(gslrm, out, quiet=True)
    with pytest.raises(ValueError, match=r"pass `resume=True` to finish it"):  # a Python option, not a flag
        run(gslrm, out, quiet=True)
    with pytest.raises(ValueError, match="other options"):
        run(gslrm, out, RunOptions(target=0.25), resume=True, quiet=True)
    rows, _ = run(gslrm, out, resume=True, quiet=True)
    assert len(rows) == 18


def test_killed_run_resumes_to_identical_bytes(tmp_path):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=10, size=256, seed=5)
    cmd = [sys.executable, "-m", "pixscale", "run", str(src)]
    flags = ["--quiet", "--no-plots", "--jobs", "1"]
    subprocess.run(cmd + [str(tmp_path / "whole")] + flags, check=True, capture_output=True)
    part = tmp_path / "part"
    proc = subprocess.Popen(cmd + [str(part)] + flags, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = part / "pixscale-manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:  # header + 2 samples
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(manifest.read_text().splitlines()) - 1
    assert 0 < done < 10
    subprocess.run(cmd + [str(part)] + flags + ["--resume"], check=True, capture_output=True)
    whole, resumed = tree_digest(tmp_path / "whole"), tree_digest(part)
    for tree in (whole, resumed):
        tree.pop("pixscale-manifest.jsonl")
        tree.pop("train.txt")  # it names its own output folder
    assert resumed == whole
    assert not [p for p in part.rglob("*.part")], "no temporary files are left behind"


def test_jpeg_views_are_named_as_the_reason_nothing_was_found(tmp_path):
    import imageio.v3 as iio

    img = np.zeros((32, 32, 3), np.uint8)
    img[8:20, 8:20] = 200
    (tmp_path / "in" / "s1").mkdir(parents=True)
    for i in range(3):
        iio.imwrite(tmp_path / "in" / "s1" / f"cam_00{i}.jpg", img)
    with pytest.raises(ValueError, match=r"s1/: holds \.jpg images but no cam_\*\.png; .* alpha channel"):
        run(tmp_path / "in", tmp_path / "out", layout="mvdiffusion", quiet=True)


def test_failure_lines_name_a_view_once():
    from pixscale.pipeline.records import ViewRecord
    from pixscale.report import summary as report

    record = ViewRecord.failed("s1", "s1/images/a.png", "boom")
    table = report.format_table(report.summarize([record]))
    assert "s1/images/a.png: boom" in table and "s1/s1/" not in table


def test_a_cut_last_manifest_line_does_not_swallow_the_next_entry(gslrm, tmp_path):
    out = tmp_path / "out"
    run(gslrm, out, jobs=1, quiet=True, plots=False)
    manifest = out / "pixscale-manifest.jsonl"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40])  # the last entry cut mid-write
    rows, _ = run(gslrm, out, jobs=1, resume=True, quiet=True, plots=False)
    assert all(r["status"] == "ok" for r in rows)
    entries = [
        json.loads(x) for x in manifest.read_text().splitlines()[1:] if x.startswith('{"sample"') and x.endswith("}")
    ]
    assert sorted(e["sample"] for e in entries) == ["sample_000", "sample_001", "sample_002"]


def test_resume_of_a_run_written_before_new_options_existed(tmp_path, gslrm):
    """A manifest without the options added since (filter, component filter) means their defaults."""
    out = tmp_path / "out"
    run(gslrm, out, quiet=True)
    manifest = out / "pixscale-manifest.jsonl"
    lines = manifest.read_text().splitlines()
    header = json.loads(lines[0])
    for key in ("filter", "min_component", "keep", "erase_specks"):
        del header["parameters"][key]
    manifest.write_text("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    rows, _ = run(gslrm, out, resume=True, quiet=True)
    assert len(rows) == 18
    with pytest.raises(ValueError, match="filter 'bilinear' -> 'lanczos4'"):
        run(gslrm, out, RunOptions(filter="lanczos4"), resume=True, quiet=True)


def test_temporary_files_of_a_replaced_worker_are_swept(tmp_path, gslrm, monkeypatch):
    """A worker killed mid-write leaves a .part file; a scheduler that reruns its unit elsewhere
    (Dask does, without telling the run) must not leave it in OUT_DIR."""
    from pixscale.pipeline import unit

    real = unit.process_sample

    def leaves_a_part(sample, out_root, *args, **kwargs):
        result = real(sample, out_root, *args, **kwargs)
        folder = Path(out_root) / sample.rel_dir / "images"
        (folder / ".cam_000.png.deadbeef.part").write_bytes(b"half a png")  # what the dead copy was writing
        return result

    monkeypatch.setattr(unit, "process_sample", leaves_a_part)
    out = tmp_path / "out"
    run(gslrm, out, jobs=2, quiet=True, plots=False)
    assert not [p for p in out.rglob("*.part")]
