"""OUT_DIR in a user's hands: planted links, aliases of IN_DIR, outputs changed behind pixscale's back.

Each test here failed on the code before issue #19's items were fixed; the
item it covers is named in its docstring.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline import check_folders

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
    paths = (str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH"))
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
