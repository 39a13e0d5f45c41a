"""OUT_DIR in a user's hands: planted links, aliases of IN_DIR, outputs changed behind pixscale's back.

Each test here failed on the code before issue #19's items were fixed; the
item it covers is named in its docstring.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.output import check_folders

SIZE = 64
CMD = [sys.executable, "-m", "pixscale"]


def cli(*args):
    return main([str(a) for a in args])


def tree(root):
    """Every entry under ``root``, relative, links not followed."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def flat(tmp_path):
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=2, size=SIZE, seed=3, layout="flat")
    return root


@pytest.fixture
def gslrm(tmp_path):
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=2, size=SIZE, seed=7, layout="gslrm")
    return root


# --- item 9: OUT_DIR and IN_DIR compared by device and inode ----------------------------------


def _in_mount_namespace(script, tmp_path):
    """Run ``script`` (sh) in a private mount namespace; skip when this machine does not allow one."""
    probe = (
        subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount --bind {tmp_path} {tmp_path}"], capture_output=True, text=True
        )
        if shutil.which("unshare")
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("bind mounts need `unshare -m` and `mount --bind` (root in a private mount namespace)")
    paths = (str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env)


def test_bind_mounted_out_dir_inside_in_dir_is_refused(tmp_path, flat):
    """Item 9: docker ``-v /data:/in -v /data/out:/out`` added 15 entries to the input tree."""
    (flat / "out").mkdir()
    (tmp_path / "out").mkdir()
    before = tree(flat)
    cmd = " ".join([*CMD, "run", str(flat), str(tmp_path / "out"), "--quiet", "--no-plots"])
    proc = _in_mount_namespace(f"mount --bind {flat / 'out'} {tmp_path / 'out'} && {cmd}", tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "is inside IN_DIR" in proc.stderr and "bind mount" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert tree(flat) == before


def test_bind_mounted_out_dir_holding_in_dir_is_refused(tmp_path, flat):
    """Item 9, the reverse: OUT_DIR is a bind mount of a folder that holds IN_DIR."""
    (tmp_path / "out").mkdir()
    before = tree(tmp_path)
    cmd = " ".join([*CMD, "run", str(flat), str(tmp_path / "out"), "--quiet", "--no-plots"])
    proc = _in_mount_namespace(f"mount --bind {tmp_path} {tmp_path / 'out'} && {cmd}", tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "holds IN_DIR" in proc.stderr
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    "make",
    [
        lambda t, src: (t / "alias").symlink_to(src) or t / "alias",  # OUT_DIR == IN_DIR by a link
        lambda t, src: (t / "alias").symlink_to(src) or t / "alias" / "new" / "out",  # a new folder under it
        lambda t, src: (t / "up").symlink_to(src / "0000") or t / "up" / ".." / "out",  # '..' through a link
    ],
    ids=["same-folder", "new-folder-below", "dotdot-through-link"],
)
def test_out_dir_aliasing_in_dir_through_a_link_is_refused(tmp_path, flat, make):
    """Item 9: a symlinked path is compared as the folder it is on disk."""
    if not (flat / "0000").exists():
        (flat / "0000").mkdir()
    out = make(tmp_path, flat)
    with pytest.raises(ValueError, match="is inside IN_DIR"):
        check_folders(flat, out)


def test_out_dir_holding_in_dir_is_refused_with_a_clear_message(tmp_path, flat, capsys):
    """Item 9, the reverse: IN_DIR inside OUT_DIR."""
    assert cli("run", flat, tmp_path, "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert "holds IN_DIR" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="holds IN_DIR"):
        check_folders(flat, tmp_path / "." / "in" / "..")


# --- item 1: nothing is written, read back or deleted through an entry pixscale did not create ---


@pytest.fixture
def outside(tmp_path):
    """A folder outside OUT_DIR with a file, a report and a temporary file that must stay as they are."""
    root = tmp_path / "outside"
    (root / "images").mkdir(parents=True)
    (root / "secret.txt").write_text("secret\n")
    (root / "report.md").write_text("someone's report\n")
    (root / "images" / ".cam_000.png.abcd1234.part").write_text("someone's part file\n")
    return root


def snapshot(root):
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _link(target):
    return lambda out, outside: (out / target[0]).symlink_to(outside / target[1] if target[1] else out / "nowhere")


PLANTED = {
    "pid-symlink": lambda out, outside: (out / ".pixscale-lock.pid").symlink_to(outside / "secret.txt"),
    "lock-symlink": lambda out, outside: (out / ".pixscale-lock").symlink_to(outside / "secret.txt"),
    "lock-hard-link": lambda out, outside: os.link(outside / "secret.txt", out / ".pixscale-lock"),
    "stop-dangling-symlink": lambda out, outside: (out / ".pixscale-stop").symlink_to(out / "nowhere"),
    "report-folder-symlink": lambda out, outside: (out / "pixscale-report").symlink_to(outside),
    "report-file-symlink": lambda out, outside: (
        (out / "pixscale-report").mkdir() or (out / "pixscale-report" / "report.md").symlink_to(outside / "report.md")
    ),
    "part-fifo": lambda out, outside: os.mkfifo(out / ".cam_000.png.abcd1234.part"),
    "part-symlink": lambda out, outside: (out / ".x.abcd1234.part").symlink_to(outside / "secret.txt"),
}


@pytest.mark.parametrize("plant", PLANTED.values(), ids=PLANTED.keys())
def test_planted_entries_in_a_new_out_dir_are_refused(tmp_path, gslrm, outside, capsys, plant):
    """Item 1: a 'new' OUT_DIR holding only pixscale's names, planted as links, FIFOs or hard links."""
    out = tmp_path / "out"
    out.mkdir()
    plant(out, outside)
    before = snapshot(outside)
    assert cli("run", gslrm, out, "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert err.startswith("pixscale: error: ") and err.count("\n") == 1, err
    assert str(out / "") in err and ("remove it" in err or "break the link" in err)
    assert snapshot(outside) == before
    assert not (out / "pixscale-manifest.jsonl").exists()


def _completed(gslrm, out):
    assert cli("run", gslrm, out, "--quiet", "--no-plots") == 0


RESUME_PLANTED = {
    "sample-folder-symlink": lambda out, outside: (
        shutil.rmtree(out / "sample_001") or (out / "sample_001").symlink_to(outside)
    ),
    "images-folder-symlink": lambda out, outside: (
        shutil.rmtree(out / "sample_001" / "images") or (out / "sample_001" / "images").symlink_to(outside / "images")
    ),
    "manifest-symlink": lambda out, outside: (
        shutil.move(out / "pixscale-manifest.jsonl", outside / "m.jsonl")
        and (out / "pixscale-manifest.jsonl").symlink_to(outside / "m.jsonl")
    ),
    "manifest-hard-link": lambda out, outside: os.link(out / "pixscale-manifest.jsonl", outside / "m.jsonl"),
    "output-symlink": lambda out, outside: (
        (out / "sample_000" / "images" / "cam_001.png").unlink()
        or (out / "sample_000" / "images" / "cam_001.png").symlink_to(outside / "secret.txt")
    ),
}


@pytest.mark.parametrize("plant", RESUME_PLANTED.values(), ids=RESUME_PLANTED.keys())
def test_planted_entries_in_a_run_folder_are_refused_on_resume(tmp_path, gslrm, outside, capsys, plant):
    """Item 1: a sample folder linked elsewhere had the .part files there deleted."""
    out = tmp_path / "out"
    _completed(gslrm, out)
    capsys.readouterr()
    plant(out, outside)
    before = snapshot(outside)
    assert cli("run", gslrm, out, "--resume", "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert err.startswith("pixscale: error: ") and err.count("\n") == 1, err
    assert "remove it" in err or "break the link" in err
    assert snapshot(outside) == before


def test_dangling_symlink_out_dir_is_named_as_such(tmp_path, gslrm, capsys):
    """Weak: a dangling-symlink OUT_DIR answered 'File exists'."""
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    assert cli("run", gslrm, tmp_path / "out", "--quiet", "--no-plots") == 2
    err = capsys.readouterr().err
    assert "is a symbolic link to" in err and "does not exist" in err and "File exists" not in err
    assert not (tmp_path / "gone").exists()


def test_out_dir_that_is_a_link_to_a_folder_is_used(tmp_path, gslrm):
    """Item 1's limit: OUT_DIR itself may be a link the user made; only links below it are refused."""
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real")
    assert cli("run", gslrm, tmp_path / "out", "--quiet", "--no-plots") == 0
    assert (tmp_path / "real" / "sample_000" / "images" / "cam_000.png").is_file()


def test_a_link_planted_while_it_runs_is_not_followed(tmp_path, gslrm, outside, monkeypatch):
    """Item 1: a sample folder swapped for a link in the middle of a run fails that sample, by name."""
    from pixscale.pipeline import unit
    from pixscale.pipeline.driver import run

    out = tmp_path / "out"
    real_warp = unit.warp
    planted = []

    def warp(*args, **kwargs):
        if not planted:  # sample_000's first view: sample_001's folder does not exist yet
            (out / "sample_001").symlink_to(outside)
            planted.append(True)
        return real_warp(*args, **kwargs)

    monkeypatch.setattr(unit, "warp", warp)
    before = snapshot(outside)
    rows, _ = run(gslrm, out, jobs=1, pool="threads", quiet=True, plots=False)
    assert snapshot(outside) == before
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["sample"] for r in failed} == {"sample_001"}
    assert all("sample_001" in r["error"] and "symbolic link" in r["error"] and r.get("retry") for r in failed)
    assert all(r["status"] == "ok" for r in rows if r["sample"] == "sample_000")


# --- item 8: --resume checks its outputs, and removes those a redone sample no longer produces ---


@pytest.fixture
def mvd(tmp_path):
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=2, size=SIZE, seed=5, layout="mvdiffusion")
    return root


def resume(src, out):
    return cli("run", src, out, "--resume", "--quiet", "--no-plots")


def report_views(out):
    return sorted(v["view"] for v in json.loads((out / "pixscale-report" / "report.json").read_text())["views"])


def test_resume_removes_the_output_of_a_view_deleted_from_its_sample(tmp_path, mvd):
    """Item 8: a view deleted from an MVDiffusion sample kept its old output."""
    out = tmp_path / "out"
    _completed(mvd, out)
    (out / "sample_000" / "notes.txt").write_text("mine\n")  # not pixscale's: never removed
    (mvd / "sample_000" / "cam_003.png").unlink()
    assert resume(mvd, out) == 0
    assert not (out / "sample_000" / "cam_003.png").exists()
    assert (out / "sample_000" / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (out / "sample_000").glob("*.png")) == [f"cam_00{i}.png" for i in (0, 1, 2, 4, 5)]
    assert "sample_000/cam_003.png" not in report_views(out) and len(report_views(out)) == 11
    assert resume(mvd, out) == 0  # and a second resume keeps it all as it is
    assert len(list((out / "sample_000").glob("*.png"))) == 5


def test_resume_leaves_a_file_the_user_put_where_a_stale_output_was(tmp_path, mvd):
    """Item 8: only files pixscale wrote (as the manifest recorded them) are removed."""
    out = tmp_path / "out"
    _completed(mvd, out)
    (out / "sample_000" / "cam_003.png").write_bytes(b"the user's own file")
    (mvd / "sample_000" / "cam_003.png").unlink()
    assert resume(mvd, out) == 0
    assert (out / "sample_000" / "cam_003.png").read_bytes() == b"the user's own file"


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.unlink(),
        lambda p: p.write_bytes(p.read_bytes()[:100]),  # truncated
        lambda p: p.write_bytes(p.read_bytes() + b"x"),  # replaced by something else
    ],
    ids=["deleted", "truncated", "replaced"],
)
def test_resume_rewrites_an_output_deleted_or_changed_since(tmp_path, gslrm, capsys, damage):
    """Item 8: an output the user deleted was reported ok and left missing."""
    out = tmp_path / "out"
    _completed(gslrm, out)
    view = out / "sample_001" / "images" / "cam_002.png"
    good = view.read_bytes()
    damage(view)
    assert cli("run", gslrm, out, "--resume", "--no-plots") == 0
    assert view.read_bytes() == good
    err = capsys.readouterr().err
    assert "redoing 1 sample(s)" in err and "sample_001 (output sample_001/images/cam_002.png" in err


def test_resume_removes_the_old_output_of_a_view_that_now_fails(tmp_path, mvd):
    """Item 8: a view whose input became unusable no longer produces an output; its old one goes."""
    out = tmp_path / "out"
    _completed(mvd, out)
    (mvd / "sample_001" / "cam_004.png").write_text("not a picture\n")
    assert resume(mvd, out) == 1
    assert not (out / "sample_001" / "cam_004.png").exists()
    assert len(list((out / "sample_001").glob("*.png"))) == 5


def test_the_report_reads_back_no_output_through_a_link_planted_before_it(tmp_path, gslrm, outside, monkeypatch):
    """Item 1: outputs swapped for links between their write and the report's contact sheet are not read."""
    pytest.importorskip("matplotlib")
    from pixscale.pipeline import driver as pipeline
    from pixscale.report import figures

    out = tmp_path / "out"
    foreign = outside / "foreign.png"
    shutil.copy(gslrm / "sample_000" / "images" / "cam_000.png", foreign)
    real_lists, real_read = pipeline.write_list_files, figures.read_view
    read = []

    def plant_then_write_lists(dataset, out_dir):
        for view in sorted(out.glob("sample_*/images/*.png")):
            view.unlink()
            view.symlink_to(foreign)
        return real_lists(dataset, out_dir)

    def spy(path, **kw):
        image = real_read(path, **kw)
        read.append(os.path.realpath(os.fspath(path)))
        return image

    monkeypatch.setattr(pipeline, "write_list_files", plant_then_write_lists)
    monkeypatch.setattr(figures, "read_view", spy)
    rows, _ = pipeline.run(gslrm, out, jobs=1, pool="threads", quiet=True)
    assert read and not [p for p in read if p == os.fspath(foreign)]
    assert (out / "pixscale-report" / "report.md").is_file()
