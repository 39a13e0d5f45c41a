"""Run control: whose stop request counts, what a unit may return, lost schedulers, dead coordinators,
closed streams, signals, hung units.

Issue #19, items 3-6 and the weak points of the run loop; each test failed on
the code before the fix.
"""

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.driver import run
from pixscale.pipeline.workers import StopFlag

CMD = [sys.executable, "-m", "pixscale"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
# A child that a test sends SIGHUP: with the default action, even where the tests run under nohup (which
# ignores it, and the command then leaves it ignored, as it should).
HANGUP_DEFAULT = functools.partial(signal.signal, signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three GS-LRM samples of four 96-px views."""
    root = tmp_path_factory.mktemp("small") / "in"
    synth.write_dataset(root, n_samples=3, n_views=4, size=96, seed=5, layout="gslrm")
    return root


def finish(proc, timeout=120):
    """``proc.communicate()`` with a hang guard (not a timing): a process that hangs is killed, then fails the test."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def manifest_samples(out):
    lines = (Path(out) / "pixscale-manifest.jsonl").read_text().splitlines()[1:]
    return [json.loads(line)["sample"] for line in lines if line.strip()]


class _Wrapping(ThreadPoolExecutor):
    """An executor whose futures carry ``result(sample, real_result)`` instead of the unit's result."""

    def __init__(self, result):
        super().__init__(1)
        self.result = result

    def submit(self, fn, sample, *args):
        out = Future()
        inner = super().submit(fn, sample, *args)
        inner.add_done_callback(lambda f: out.set_result(self.result(sample, f.result())))
        return out


# --- item 3: only this run's own stop request stops it; a unit's result is checked --------------


def test_an_executor_that_drops_results_fails_every_unit_by_name(small, tmp_path):
    with _Wrapping(lambda sample, result: None) as ex:
        rows, _ = run(small, tmp_path / "out", executor=ex, quiet=True, plots=False)
    assert len(rows) == 12 and all(r["status"] == "failed" for r in rows)
    for r in rows:
        assert f"the work unit of sample {r['sample']} returned NoneType" in r["error"]
        assert "`resume=True` tries it again" in r["error"] and "--" not in r["error"]
    assert manifest_samples(tmp_path / "out") == []  # --resume redoes them
    assert (tmp_path / "out" / "pixscale-report" / "report.json").exists()
    rows, _ = run(small, tmp_path / "out", jobs=1, resume=True, quiet=True, plots=False)
    assert all(r["status"] == "ok" for r in rows)


@pytest.mark.parametrize(
    "garbage, message",
    [
        (lambda s, r: "done", "returned str 'done' instead of its result"),
        (lambda s, r: {**r, "sample": "sample_999"}, "returned the result of str 'sample_999'"),
        (lambda s, r: {**r, "rows": r["rows"][:1]}, "returned no row for some of its views"),
        (lambda s, r: {**r, "rows": [1, 2, 3, 4]}, "returned rows that are not its views'"),
        (lambda s, r: {"rows": None}, "returned dict"),
    ],
)
def test_a_unit_result_that_is_not_its_samples_fails_that_unit(small, tmp_path, garbage, message):
    def result(sample, real):
        return garbage(sample, real) if sample.name == "sample_001" else real

    with _Wrapping(result) as ex:
        rows, _ = run(small, tmp_path / "out", executor=ex, quiet=True, plots=False)
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["sample"] for r in failed} == {"sample_001"} and len(failed) == 4
    assert "the work unit of sample sample_001 " + message in failed[0]["error"]
    assert sum(r["status"] == "ok" for r in rows) == 8
    assert sorted(manifest_samples(tmp_path / "out")) == ["sample_000", "sample_002"]


class _NotAFuture(ThreadPoolExecutor):
    def submit(self, fn, sample, *args):
        if sample.name == "sample_001":
            return "a future, honest"
        return super().submit(fn, sample, *args)


def test_an_executor_that_returns_garbage_for_a_future_fails_that_unit(small, tmp_path):
    with _NotAFuture(1) as ex:
        rows, _ = run(small, tmp_path / "out", executor=ex, quiet=True, plots=False)
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["sample"] for r in failed} == {"sample_001"}
    assert "the executor returned str 'a future, honest' instead of a future" in failed[0]["error"]
    assert (tmp_path / "out" / "pixscale-report" / "report.json").exists()


class _Stray(ThreadPoolExecutor):
    """Someone else's stop file appears in OUT_DIR once the first unit is handed out."""

    def __init__(self, path, text):
        super().__init__(1)
        self.path, self.text = path, text

    def submit(self, fn, *args):
        Path(self.path).write_text(self.text)
        return super().submit(fn, *args)


@pytest.mark.parametrize("text", ["stop\n", "", "0123456789abcdef0123456789abcdef\n"])
def test_a_stray_stop_file_does_not_stop_the_run(small, tmp_path, text):
    out = tmp_path / "out"
    with _Stray(out / ".pixscale-stop", text) as ex:
        rows, _ = run(small, out, executor=ex, jobs=1, quiet=True, plots=False)
    assert len(rows) == 12 and all(r["status"] == "ok" for r in rows)
    assert len(manifest_samples(out)) == 3


def test_the_stop_flag_is_the_runs_own(tmp_path):
    import pickle

    flag = StopFlag(tmp_path / "stop")
    other = StopFlag(tmp_path / "stop")
    assert not flag.is_set()
    other.set()
    assert not flag.is_set() and other.is_set()
    flag.set()
    assert flag.is_set() and pickle.loads(pickle.dumps(flag)).is_set()
    flag.clear()
    assert not flag.is_set()


# --- item 6 and weak points: closed or broken streams, names printed raw ------------------------


def _shell_run(tmp_path, small, redirect, *extra):
    out = tmp_path / "out"
    args = " ".join(f"'{a}'" for a in [*CMD, "run", small, out, "--no-plots", "--jobs", "1", *extra])
    done = subprocess.run(["sh", "-c", f"{args} {redirect}"], env=ENV, timeout=300)
    return done.returncode, out


@pytest.mark.slow
@pytest.mark.parametrize("redirect", ["2>&-", ">&- 2>&-", "2>/dev/full", ">/dev/full", ">&-"])
def test_closed_or_full_streams_do_not_fail_the_run(small, tmp_path, redirect):
    rc, out = _shell_run(tmp_path, small, redirect)
    assert rc == 0
    assert len(list(out.rglob("*.png"))) >= 12 and len(manifest_samples(out)) == 3
    assert (out / "pixscale-report" / "report.json").exists()


@pytest.mark.slow
def test_a_broken_stdout_after_the_work_keeps_the_works_exit_code(small, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(small), str(out), "--no-plots", "--jobs", "1", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    proc.stdout.close()  # `| head -0`: nobody reads the table
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert len(manifest_samples(out)) == 3


def test_names_are_printed_without_their_escape_sequences(tmp_path, capsys):
    bad = tmp_path / "in\x1b]0;owned\x07\x1b[2J"
    assert main(["run", str(bad), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "in\\x1b]0;owned\\x07\\x1b[2J" in err


# --- weak points: a unit that never completes ------------------------------------------------------


def test_a_unit_that_hangs_fails_by_name_after_the_unit_timeout(small, tmp_path, monkeypatch):
    from pixscale.pipeline import unit

    release = threading.Event()
    real = unit.process_sample

    def process(sample, *args):
        if sample.name == "sample_001":
            release.wait(120)  # a hung read
        return real(sample, *args)

    monkeypatch.setattr(unit, "process_sample", process)
    try:
        rows, _ = run(small, tmp_path / "out", jobs=1, quiet=True, plots=False, unit_timeout=1)
    finally:
        release.set()
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["sample"] for r in failed} == {"sample_001"} and len(failed) == 4
    assert "did not finish within the unit timeout (1 s)" in failed[0]["error"]
    assert sorted(manifest_samples(tmp_path / "out")) == ["sample_000", "sample_002"]
    assert (tmp_path / "out" / "pixscale-report" / "report.json").exists()


@pytest.mark.parametrize("value", [0, -1, float("nan"), "10"])
def test_a_bad_unit_timeout_is_refused_up_front(small, tmp_path, value):
    from pixscale.pipeline.options import OptionError

    with pytest.raises(OptionError, match="unit_timeout"):
        run(small, tmp_path / "out", quiet=True, unit_timeout=value)
    assert not (tmp_path / "out").exists()


_NEVER = """
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pixscale.cli import _main, _on_signal
import signal
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, _on_signal)
from pixscale.pipeline.driver import RunInterrupted, run
from pixscale.pipeline.options import OptionError

class Never(ThreadPoolExecutor):
    def submit(self, fn, sample, *args):
        if sample.name == "sample_001":
            print("waiting", flush=True)
            fut = Future()  # never completes, and says it runs
            fut.set_running_or_notify_cancel()
            return fut
        return super().submit(fn, sample, *args)

class Args:
    def func(self, args):
        with Never(1) as ex:
            run(sys.argv[1], sys.argv[2], executor=ex, jobs=1, quiet=True, plots=False)
        return 0

sys.exit(_main(Args(), OptionError, RunInterrupted))
"""


@pytest.mark.slow
def test_ctrl_c_gets_out_of_a_unit_that_never_completes(small, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _NEVER, str(small), str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdout.readline().strip() == "waiting"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err


# --- item 5: local workers die with the coordinator -----------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Enough work that a run with two worker processes is still going when it is killed."""
    root = tmp_path_factory.mktemp("big") / "in"
    synth.write_dataset(root, n_samples=24, size=192, seed=11, layout="gslrm")
    return root


def _descendants(pid):
    """The pids below ``pid`` (from /proc: each process's parent)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found.update(kids)
        todo += kids
    return found


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_a_killed_coordinator_takes_its_workers_and_its_pipes_with_it(big, tmp_path, sig, paced_env):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(big), str(out), "--no-plots", "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=paced_env,
        preexec_fn=HANGUP_DEFAULT,  # under nohup too: this test sends it one
    )
    kids = set()
    deadline = time.monotonic() + 120  # a hang guard
    while time.monotonic() < deadline and proc.poll() is None:
        kids |= _descendants(proc.pid)
        if len(kids) >= 3 and (out / "pixscale-manifest.jsonl").exists() and manifest_samples(out):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(sig)  # and do not wait for it: its parent is busy reading its output
    eof = threading.Event()

    def drain():
        while proc.stdout.read(65536):
            pass
        eof.set()

    threading.Thread(target=drain, daemon=True).start()
    assert eof.wait(60), "the output never reached EOF: something still holds the pipe"
    survivors = [p for p in kids if _running(p)]
    for _ in range(100):  # EOF came; give the last of them a moment to be reaped
        survivors = [p for p in survivors if _running(p)]
        if not survivors:
            break
        time.sleep(0.1)
    assert not survivors
    proc.wait(timeout=60)
    proc.stdout.close()
    if sig == signal.SIGHUP:
        assert proc.returncode == 130  # a clean stop, as SIGTERM
    done = subprocess.run(
        CMD + ["run", str(big), str(out), "--no-plots", "--quiet", "--resume"], capture_output=True, env=ENV
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- item 4: a lost Dask scheduler ---------------------------------------------------------------


@pytest.mark.slow
def test_a_lost_dask_scheduler_fails_the_units_in_flight_and_resume_finishes(big, tmp_path):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = [str(Path(sys.executable).with_name("dask"))]
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
    )
    worker = subprocess.Popen(dask + ["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"], **quiet)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(big), str(out), "--scheduler", address, "--no-plots", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        manifest = out / "pixscale-manifest.jsonl"
        deadline = time.monotonic() + 120  # a hang guard
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.exists() and manifest_samples(out):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before its scheduler could be lost"
        os.killpg(scheduler.pid, signal.SIGKILL)
        stdout, err = proc.communicate(timeout=180)  # a hang guard, not a timing
    finally:
        if proc.poll() is None:  # it hung: leave nothing behind
            proc.kill()
            proc.communicate()
        for p in (worker, scheduler):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)
    assert proc.returncode == 1, err[-2000:]
    report = json.loads((out / "pixscale-report" / "report.json").read_text())
    failed = [r for r in report["views"] if r["status"] == "failed"]
    assert failed and all("lost the Dask scheduler" in r["error"] for r in failed)
    assert 0 < len(manifest_samples(out)) < 24
    done = subprocess.run(
        CMD + ["run", str(big), str(out), "--no-plots", "--quiet", "--resume", "--jobs", "1"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(manifest_samples(out)) == 24


# --- weak points: more signals while stopping, a signal while the report is written -------------


def test_sigterm_while_the_report_is_written_finishes_it_and_says_how_to_resume(small, tmp_path, monkeypatch, capsys):
    from pixscale.pipeline import driver as pipeline

    real = pipeline.write_run_report

    def write_report(*args):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)
        return real(*args)

    monkeypatch.setattr(pipeline, "write_run_report", write_report)
    out = tmp_path / "out"
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1"]) == 130
    err = capsys.readouterr().err
    assert "3 of 3 samples are complete" in err and "--resume" in err
    assert json.loads((out / "pixscale-report" / "report.json").read_text())["views"]


@pytest.mark.slow
def test_more_signals_while_stopping_keep_the_resume_line(small, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _NEVER, str(small), str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdout.readline().strip() == "waiting"
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        time.sleep(0.2)
        proc.send_signal(sig)
    _, err = finish(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "--resume" in line]) == 1


@pytest.mark.parametrize("command", ["run", "stats"])
def test_a_bad_files_name_in_the_table_is_escaped(tmp_path, capsys, command):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=2, n_views=1, size=64, seed=1, layout="flat")
    (src / "bad\x1b[2J\x1b]0;x\x07.png").write_bytes(b"not a png")
    args = [command, str(src)] + ([str(tmp_path / "out"), "--no-plots", "--jobs", "1"] if command == "run" else [])
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "bad\\x1b[2J\\x1b]0;x\\x07.png" in captured.out
    assert "\x1b" not in captured.out + captured.err and "\x07" not in captured.out + captured.err


def test_a_ctrl_c_while_a_finished_unit_is_recorded_still_records_it(tmp_path, monkeypatch):
    """A Ctrl-C between taking a finished unit's result and writing its manifest line left its outputs
    written and unrecorded (CI saw it once: a sample with cameras and no manifest line after Ctrl-C)."""
    from pixscale.pipeline import driver, schedule

    synth.write_dataset(tmp_path / "in", n_samples=4, n_views=2, size=64)
    real, checked = schedule.bad_result, []

    def interrupted(sample, result):  # the Ctrl-C lands while the second finished unit is being recorded
        checked.append(sample.name)
        if len(checked) == 2:
            raise KeyboardInterrupt
        return real(sample, result)

    monkeypatch.setattr(schedule, "bad_result", interrupted)
    with pytest.raises(driver.RunInterrupted):
        run(tmp_path / "in", tmp_path / "out", jobs=1, plots=False)
    out = tmp_path / "out"
    written = {p.parent.name for p in out.glob("*/opencv_cameras.json")}
    lines = (out / "pixscale-manifest.jsonl").read_text().splitlines()[1:]
    recorded = {json.loads(line)["sample"] for line in lines if line.strip()}
    assert checked[1] in written and written == recorded
