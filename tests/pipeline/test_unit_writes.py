"""A unit writes its files on background threads: same files and rows as one at a time, failures by view."""

import errno
import json
import os
import threading
from concurrent.futures import Future

import numpy as np
import pytest

from pixscale import synth
from pixscale.pipeline import unit
from pixscale.pipeline.discover import discover
from pixscale.pipeline.io import read_view
from pixscale.pipeline.options import RunOptions


@pytest.fixture
def sample(tmp_path):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=1, n_views=5, size=64, seed=3, layout="gslrm")
    dataset = discover(src, layout="auto", out_root=tmp_path / "out")
    return dataset.samples[0], dataset.root


class _Inline:
    """An executor that runs each job as it is submitted: the one-at-a-time writer."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


def _cameras(sample):
    return f"{sample.rel_dir}/opencv_cameras.json"


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_background_writes_give_the_files_and_rows_of_one_at_a_time(tmp_path, sample, monkeypatch):
    sample, root = sample
    opts = RunOptions()
    threaded = unit.process_sample(sample, tmp_path / "a", opts, root)
    monkeypatch.setattr(unit, "_writer_pool", _Inline)
    inline = unit.process_sample(sample, tmp_path / "b", opts, root)
    assert _files(tmp_path / "a") == _files(tmp_path / "b") and len(_files(tmp_path / "a")) == 6  # 5 views + cameras
    assert threaded["rows"] == inline["rows"] and threaded["outputs"] == inline["outputs"]
    assert [key for key, _ in threaded["outputs"]] == [v.key for v in sample.views] + [_cameras(sample)]
    for key, size in threaded["outputs"]:
        assert os.path.getsize(tmp_path / "a" / key) == size


def test_a_failed_write_fails_its_view_alone(tmp_path, sample, monkeypatch):
    sample, root = sample
    real = unit.write_png

    def full(path, image, **kw):
        if path.name == "cam_002.png":
            raise OSError(errno.ENOSPC, f"cannot write {path}: No space left on device")
        return real(path, image, **kw)

    monkeypatch.setattr(unit, "write_png", full)
    out = tmp_path / "out"
    result = unit.process_sample(sample, out, RunOptions(), root)
    rows = {r.view: r for r in result["rows"]}
    assert [r.view for r in result["rows"]] == [v.key for v in sample.views]  # in view order
    (bad,) = [k for k, r in rows.items() if r.status == "failed"]
    assert bad.endswith("/images/cam_002.png") and rows[bad].retry and "No space left" in rows[bad].error
    assert [k for k, _ in result["outputs"]] == [v.key for v in sample.views if v.key != bad] + [_cameras(sample)]
    frames = json.loads((out / _cameras(sample)).read_text())["frames"]
    assert len(frames) == 4  # the failed view's camera is not written either
    assert not list(out.rglob("*.part"))


def test_a_stop_while_files_are_written_leaves_only_whole_files(tmp_path, sample, monkeypatch):
    sample, root = sample
    stop = threading.Event()
    real = unit.write_png

    def then_stop(path, image, **kw):
        real(path, image, **kw)
        stop.set()  # Ctrl-C right after the first file

    monkeypatch.setattr(unit, "write_png", then_stop)
    out = tmp_path / "out"
    assert unit.process_sample(sample, out, RunOptions(), root, stop) is None
    written = sorted(out.rglob("*.png"))
    assert written  # those begun before the stop are finished...
    for path in written:  # whole files only
        assert read_view(path).shape == (64, 64, 4)
    assert not list(out.rglob("*.part")) and not (out / _cameras(sample)).exists()  # ...and nothing more


def test_a_stop_between_views_writes_no_later_view(tmp_path, sample, monkeypatch):
    sample, root = sample
    stop = threading.Event()
    real, warped = unit.warp, []

    def warp(*args, **kw):
        warped.append(True)
        if len(warped) == 2:
            stop.set()
        return real(*args, **kw)

    monkeypatch.setattr(unit, "warp", warp)
    out = tmp_path / "out"
    assert unit.process_sample(sample, out, RunOptions(), root, stop) is None
    assert len(list(out.rglob("*.png"))) <= 1 and not list(out.rglob("*.part"))


def test_the_writer_threads_are_the_process_own_after_a_fork(monkeypatch):
    pool = unit._writer_pool()
    assert unit._writer_pool() is pool  # made once
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as a forked child sees it
    child = unit._writer_pool()
    assert child is not pool and np.array_equal(child.submit(np.arange, 3).result(), [0, 1, 2])
