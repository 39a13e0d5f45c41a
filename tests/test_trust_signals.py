"""Ctrl-C, SIGTERM and SIGHUP where a run is most fragile: while the kernels compile, while worker processes
start, while a Dask LocalCluster starts or runs; and two demos into one folder.

Issue #19 ("Trust, round three"), the interrupt items; each test failed on the code before the fix.  A
signal is sent at a point the test controls (a line on standard error, a hook), never after a guessed
delay where avoidable; the timeouts are hang guards, not timings.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.cli import main

CMD = [sys.executable, "-m", "pixscale"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
NOISE = ("Traceback", "Exception ignored", "Error", "died unexpectedly")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three GS-LRM samples of four 96-px views."""
    root = tmp_path_factory.mktemp("small") / "in"
    synth.write_dataset(root, n_samples=3, n_views=4, size=96, seed=5, layout="gslrm")
    return root


def finish(proc, timeout=180):
    """``proc.communicate()`` with a hang guard (not a timing): a process group that hangs is killed, then the
    test fails."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise


def group_gone(pgid, timeout=60):
    """Whether every process of group ``pgid`` has ended (within a hang guard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
    return False


def assert_interrupted_cleanly(proc, err):
    assert proc.returncode == 130, err
    assert not [line for line in err.splitlines() if any(word in line for word in NOISE)], err
    assert len([line for line in err.splitlines() if "interrupted" in line]) == 1, err


def manifest_samples(out):
    lines = (Path(out) / "pixscale-manifest.jsonl").read_text().splitlines()[1:]
    return [json.loads(line)["sample"] for line in lines if line.strip()]


# --- Ctrl-C while numba compiles ------------------------------------------------------------------


def test_ctrl_c_while_the_kernels_compile_waits_for_the_compile_then_stops(small, tmp_path, monkeypatch, capsys):
    """A KeyboardInterrupt inside numba's compiler was swallowed ('Exception ignored on calling ctypes
    callback') or left a half-built library (RuntimeError, exit 1): the compile now ends first."""
    from pixscale import pipeline

    compiled = []
    real = pipeline._precompile

    def precompile(*args):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the compile
        real(*args)
        compiled.append(True)

    monkeypatch.setattr(pipeline, "_precompile", precompile)
    out = tmp_path / "out"
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1"]) == 130
    err = capsys.readouterr().err
    assert compiled == [True]  # not cut in the middle
    assert "interrupted: 0 of 3 samples are complete" in err and "--resume" in err
    assert manifest_samples(out) == []  # no unit started
    monkeypatch.undo()
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1", "--resume", "--quiet"]) == 0


@pytest.mark.slow
def test_ctrl_c_during_a_real_compile_exits_130_with_one_line(small, tmp_path):
    """The real thing: a fresh numba cache, Ctrl-C while the kernels compile; then the rerun finishes."""
    env = {**ENV, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = tmp_path / "out"
    args = CMD + ["run", str(small), str(out), "--no-plots", "--jobs", "1"]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    line = ""
    while "compiling" not in line:
        line = proc.stderr.readline()
        assert line, "the run ended before it compiled"
    time.sleep(1.5)  # into LLVM's part of the compile, where the interrupt did its harm (not a timing check)
    proc.send_signal(signal.SIGINT)
    _, err = finish(proc)
    assert_interrupted_cleanly(proc, err)
    assert group_gone(proc.pid)
    done = subprocess.run(args + ["--resume", "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
