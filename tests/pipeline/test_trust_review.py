"""Issue #19 ("Trust, round three"), the independent review's findings; each test failed on the code before
the fix."""

import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.driver import run
from pixscale.pipeline.files import LinkError
from pixscale.pipeline.workers import StopFlag

CMD = [sys.executable, "-m", "pixscale"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three GS-LRM samples of four 96-px views."""
    root = tmp_path_factory.mktemp("small") / "in"
    synth.write_dataset(root, n_samples=3, n_views=4, size=96, seed=5, layout="gslrm")
    return root


# --- signals and the stop flag ----------------------------------------------------------------------


def test_the_stop_flag_does_not_write_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    flag = StopFlag(tmp_path / ".pixscale-stop")
    os.symlink(victim, flag.path)
    with pytest.raises(LinkError):
        flag.set()
    assert victim.read_text() == "keep me\n"
    assert flag.is_set()  # this object is stopped even so (threads share it)


def test_the_stop_flag_does_not_truncate_a_hard_linked_file(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    flag = StopFlag(tmp_path / ".pixscale-stop")
    os.link(victim, flag.path)
    with pytest.raises(LinkError):
        flag.set()
    assert victim.read_text() == "keep me\n"


def test_a_fifo_or_a_link_in_the_stop_flags_place_is_not_a_stop_request_and_does_not_hang(tmp_path):
    flag = StopFlag(tmp_path / ".pixscale-stop")
    os.mkfifo(flag.path)
    answer = []
    reader = threading.Thread(target=lambda: answer.append(flag.is_set()), daemon=True)
    reader.start()
    reader.join(60)  # a hang guard, not a timing
    if reader.is_alive():  # unblock the reader before failing
        fd = os.open(flag.path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    assert answer == [False]
    os.unlink(flag.path)
    own = tmp_path / "elsewhere"
    own.write_text(flag.token + "\n")  # the token, but through a link: not this run's request
    os.symlink(own, flag.path)
    assert not flag.is_set()


def test_the_stop_flag_travels_to_processes_and_is_read_from_the_file(tmp_path):
    import pickle

    flag = StopFlag(tmp_path / ".pixscale-stop")
    copy = pickle.loads(pickle.dumps(flag))
    assert not copy.is_set()
    flag.set()
    assert copy.is_set() and Path(flag.path).read_text().strip() == flag.token
    flag.retire()
    assert flag.is_set() and not os.path.exists(flag.path)
    flag.clear()
    assert not flag.is_set()


def test_a_hung_thread_that_wakes_up_after_the_run_writes_nothing(small, tmp_path, monkeypatch):
    from pixscale.pipeline import unit

    release = threading.Event()
    hung = []
    real = unit.read_and_measure

    def read(view, rule, **kw):
        if view.key.startswith("sample_001/") and not hung:
            hung.append(threading.current_thread())
            release.wait(120)  # a hung read, given up on by the unit timeout
        return real(view, rule, **kw)

    monkeypatch.setattr(unit, "read_and_measure", read)
    out = tmp_path / "out"
    try:
        rows, _ = run(small, out, jobs=1, quiet=True, plots=False, unit_timeout=1)
    finally:
        release.set()
    assert {r["sample"] for r in rows if r["status"] == "failed"} == {"sample_001"}
    hung[0].join(120)  # a hang guard: the straggler finishes its unit now, after the run
    assert not hung[0].is_alive()
    assert not list((out / "sample_001").rglob("*.png")) if (out / "sample_001").exists() else True
    assert not (out / ".pixscale-stop").exists()


@pytest.fixture
def hup_ignored():
    """SIGHUP ignored, as ``nohup`` leaves it (restored after the test)."""
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGHUP, old)


def test_a_signal_the_process_ignores_stays_ignored_while_held(hup_ignored):
    from pixscale.pipeline.signals import signals_held

    with signals_held() as held:
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGHUP)
    assert held == [] and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_nohup_protects_a_run_from_the_terminals_hangup(small, tmp_path, monkeypatch, hup_ignored, capsys):
    from pixscale.pipeline import driver as pipeline

    real = pipeline._precompile
    seen = []

    def precompile(*args):
        seen.append(signal.getsignal(signal.SIGHUP))
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes
        return real(*args)

    monkeypatch.setattr(pipeline, "_precompile", precompile)
    out = tmp_path / "out"
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1", "--pool", "threads"]) == 0
    assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert json.loads((out / "pixscale-report" / "report.json").read_text())["views"]


def test_a_second_sigterm_during_the_cleanup_keeps_the_resume_line(small, tmp_path, monkeypatch, capsys):
    from pixscale.pipeline import driver as pipeline

    real = pipeline._precompile
    retire = StopFlag.retire

    def precompile(*args):
        os.kill(os.getpid(), signal.SIGTERM)  # the stop: held until the compile is done
        return real(*args)

    def retire_under_fire(self):
        os.kill(os.getpid(), signal.SIGTERM)  # a second one while the run cleans up
        return retire(self)

    monkeypatch.setattr(pipeline, "_precompile", precompile)
    monkeypatch.setattr(StopFlag, "retire", retire_under_fire)
    out = tmp_path / "out"
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1", "--pool", "threads"]) == 130
    err = capsys.readouterr().err
    assert "0 of 3 samples are complete" in err and "--resume" in err
    monkeypatch.undo()  # the lock was released: the resume runs
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1", "--pool", "threads", "--resume"]) == 0


def test_a_sigterm_held_while_units_are_handed_over_is_counted_by_the_commands_handler(
    small, tmp_path, monkeypatch, capsys
):
    from pixscale import cli
    from pixscale.pipeline import driver as pipeline

    real = pipeline.Workers.submit
    sent = []

    def submit(self, *args):
        if not sent:
            sent.append(os.kill(os.getpid(), signal.SIGTERM))  # held while the unit is handed over
        return real(self, *args)

    monkeypatch.setattr(pipeline.Workers, "submit", submit)
    out = tmp_path / "out"
    assert main(["run", str(small), str(out), "--no-plots", "--jobs", "1", "--pool", "threads"]) == 130
    assert cli._SIGNALS == [signal.SIGTERM]  # replayed through it: a later one is counted, not a first
    assert "--resume" in capsys.readouterr().err


def _report_fails(monkeypatch):
    from pixscale.report import summary as report

    def write_report(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_report", write_report)


def test_the_library_does_not_print_when_the_report_cannot_be_written(small, tmp_path, monkeypatch, capsys):
    _report_fails(monkeypatch)
    rows, _ = run(small, tmp_path / "out", jobs=1, quiet=True, plots=False)
    assert capsys.readouterr().err == ""
    (row,) = [r for r in rows if r["view"] == "pixscale-report"]
    assert "the report could not be written to" in row["error"] and "No space left" in row["error"]


@pytest.mark.parametrize("quiet", [False, True])
def test_the_command_says_once_that_the_report_could_not_be_written(small, tmp_path, monkeypatch, capsys, quiet):
    _report_fails(monkeypatch)
    argv = ["run", str(small), str(tmp_path / "out"), "--no-plots", "--jobs", "1", "--pool", "threads"]
    assert main(argv + ["--quiet"] * quiet) == 1
    out, err = capsys.readouterr()
    assert err.count("the report could not be written") == 1, err  # (the table on stdout lists it as a failure)
    assert "pixscale: error: the report could not be written to" in err and "No space left" in err
    assert "report.md" not in err and "\nreport: " not in out  # no pointer to a report that is not there


def test_a_link_planted_over_the_manifest_after_the_work_still_gets_the_report(small, tmp_path, monkeypatch, capsys):
    from pixscale.pipeline import driver as pipeline

    out = tmp_path / "out"
    real = pipeline.sweep_temporary

    def sweep(*args):  # the units are done: the manifest is replaced by a link before the stale outputs go
        manifest = out / "pixscale-manifest.jsonl"
        if len(args) > 1:  # the sweep after the units, not the one as the run starts
            os.replace(manifest, tmp_path / "moved.jsonl")
            os.symlink(tmp_path / "moved.jsonl", manifest)
        return real(*args)

    monkeypatch.setattr(pipeline, "sweep_temporary", sweep)
    argv = ["run", str(small), str(out), "--no-plots", "--jobs", "1", "--pool", "threads"]
    assert main(argv) == 0
    assert "warning: outputs that redone samples no longer produce were not removed" in capsys.readouterr().err
    assert json.loads((out / "pixscale-report" / "report.json").read_text())["views"]


def test_with_a_unit_timeout_one_unit_per_worker_is_in_flight(small, tmp_path, monkeypatch):
    """On Dask the clock of a unit starts when it is handed over: one queued behind another must not be."""
    from pixscale.pipeline import driver as pipeline

    real = pipeline.Workers.submit
    futures, most = [], [0]

    def submit(self, *args):
        in_flight = 1 + sum(not f.done() for f in futures)  # done() is true before the run hears of it
        most[0] = max(most[0], in_flight)
        futures.append(real(self, *args))
        return futures[-1]

    monkeypatch.setattr(pipeline.Workers, "submit", submit)
    rows, _ = run(small, tmp_path / "out", jobs=1, quiet=True, plots=False, unit_timeout=600)
    assert all(r["status"] == "ok" for r in rows) and most[0] == 1


def test_a_unit_timeout_in_a_process_pool_reruns_the_healthy_units_it_ended_alongside(small, tmp_path, monkeypatch):
    """Ending the hung unit's processes ends the healthy units running beside it: they run again at once, side
    by side (not one at a time as units of a broken pool), and are not charged an attempt."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from pixscale.pipeline import driver as pipeline

    real_submit, real_abandon = pipeline.Workers.submit, pipeline.Workers.abandon
    fake, submitted = [], []
    both_in_flight = threading.Event()
    waited = []

    def submit(self, fn, sample, *args):
        submitted.append(sample.name)
        if sample.name == "sample_002":
            both_in_flight.set()
        if len(submitted) <= 2:  # the first two, in "worker processes": sample_000 hangs, sample_001 is healthy
            fut = Future() if sample.name == "sample_000" else LaterStart()  # and starts a tick later
            fut.set_running_or_notify_cancel()
            fake.append(fut)
            return fut
        if sample.name == "sample_001":  # run again: waits until the next unit is handed over beside it

            def gated(*a):
                waited.append(both_in_flight.wait(60))  # a hang guard, not a timing
                return fn(*a)

            return real_submit(self, gated, sample, *args)
        return real_submit(self, fn, sample, *args)

    def abandon(self):
        real_abandon(self)
        for fut in fake:  # the pool's processes are killed: what ran there fails as a broken pool
            if not fut.done():
                fut.set_exception(BrokenProcessPool("A child process terminated abruptly"))
        return True

    class LaterStart(Future):
        looks = 0

        def running(self):
            self.looks += 1
            return self.looks > 1 and super().running()

    monkeypatch.setattr(pipeline.Workers, "submit", submit)
    monkeypatch.setattr(pipeline.Workers, "abandon", abandon)
    rows, _ = run(small, tmp_path / "out", jobs=2, quiet=True, plots=False, unit_timeout=1)
    status = {r["sample"]: r["status"] for r in rows}
    assert status == {"sample_000": "failed", "sample_001": "ok", "sample_002": "ok"}, rows
    assert submitted == ["sample_000", "sample_001", "sample_001", "sample_002"] and waited == [True]
