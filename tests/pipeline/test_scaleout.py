"""Scale-out: the same run on one thread, local processes and Dask gives the same bytes; faults heal.

Real processes throughout: ``dask scheduler`` / ``dask worker`` commands on
127.0.0.1, SIGKILL to a worker's pid and to the coordinator's.  Every
process a test starts is gone when it ends.
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.pipeline.driver import run, run_dataset
from pixscale.pipeline.options import RunOptions

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.slow
CMD = [sys.executable, "-m", "pixscale"]


def tree(root):
    """{path: sha256} of a run's output; the report's date and output folder, and the manifest, left out."""
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or p.name.startswith(".pixscale-") or rel in ("pixscale-manifest.jsonl", "train.txt"):
            continue
        data = p.read_bytes()
        if p.name == "report.json":
            doc = json.loads(data)
            doc["meta"].pop("date"), doc["meta"].pop("output")
            data = json.dumps(doc, sort_keys=True).encode()
        elif p.name == "report.md":
            data = b"\n".join(x for x in data.split(b"\n") if not x.startswith((b"| date |", b"| output |")))
        elif p.name == "report.html":  # report.md's rows, as table rows
            skip = (b"<tr><td>date</td>", b"<tr><td>output</td>")
            data = b"\n".join(x for x in data.split(b"\n") if not x.startswith(skip))
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two worker processes (one thread each), as `--scheduler local:2` starts."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaleout")
    for layout in ("gslrm", "mvdiffusion", "flat"):
        synth.write_dataset(root / layout, n_samples=3, n_views=4, size=96, seed=4, layout=layout)
    return root


@pytest.mark.parametrize(
    "layout, scale", [("gslrm", "per-view"), ("gslrm", "per-sample"), ("mvdiffusion", "per-view"), ("flat", "per-view")]
)
def test_one_thread_processes_and_dask_write_the_same_bytes(datasets, tmp_path, client, layout, scale):
    opts = RunOptions(scale=scale)
    src = datasets / layout
    run(src, tmp_path / "one", opts, jobs=1, quiet=True)
    run(src, tmp_path / "procs", opts, jobs=2, pool="processes", quiet=True)
    run(src, tmp_path / "dask", opts, jobs=2, executor=client, quiet=True)
    one = tree(tmp_path / "one")
    assert any(k.endswith("report.json") for k in one) and len(one) > 8
    assert tree(tmp_path / "procs") == one
    assert tree(tmp_path / "dask") == one


def test_scheduler_local_from_the_command_line(datasets, tmp_path):
    done = subprocess.run(
        CMD + ["run", str(datasets / "gslrm"), str(tmp_path / "out"), "--scheduler", "local:2", "--no-plots"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Dask LocalCluster, 2 worker(s)" in done.stderr
    run(datasets / "gslrm", tmp_path / "one", jobs=1, quiet=True, plots=False)
    assert tree(tmp_path / "out") == tree(tmp_path / "one")


def test_run_dataset_takes_any_executor_and_returns_the_summary(datasets, tmp_path):
    with ThreadPoolExecutor(2) as ex:
        summary = run_dataset(datasets / "flat", tmp_path / "out", executor=ex, target=0.25, plots=False)
    assert summary["n_ok"] == 12 and abs(summary["after"]["mean"] - 0.25) < 2e-4
    import pixscale

    assert pixscale.run_dataset(datasets / "flat", tmp_path / "again", jobs=1, plots=False)["n_ok"] == 12


class _Dying(ThreadPoolExecutor):
    """Every unit of one sample dies with its worker (as a killed process would); the rest run."""

    def __init__(self, doomed):
        super().__init__(2)
        self.doomed, self.tries = doomed, 0

    def submit(self, fn, sample, *args):
        if sample.name == self.doomed:
            self.tries += 1
            fut = Future()
            fut.set_exception(OSError("worker lost"))
            return fut
        return super().submit(fn, sample, *args)


def test_a_unit_whose_worker_always_dies_is_reported_and_the_rest_goes_on(datasets, tmp_path):
    with _Dying("sample_001") as ex:
        rows, _ = run(datasets / "gslrm", tmp_path / "out", executor=ex, quiet=True, plots=False)
    assert ex.tries == 3
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["sample"] for r in failed} == {"sample_001"} and len(failed) == 4
    assert "died 3 time(s)" in failed[0]["error"] and "`resume=True`" in failed[0]["error"]
    assert sum(r["status"] == "ok" for r in rows) == 8
    manifest = (tmp_path / "out" / "pixscale-manifest.jsonl").read_text()
    assert "sample_001" not in manifest  # --resume redoes it
    rows, _ = run(datasets / "gslrm", tmp_path / "out", jobs=1, resume=True, quiet=True, plots=False)
    assert all(r["status"] == "ok" for r in rows)


class _Blind:
    """A stand-in Dask client whose one worker cannot see the given folders."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(1)

    def get_executor(self, pure=False):
        return self.pool

    def run(self, fn, paths):
        return {"tcp://10.0.0.9:40000": fn([p + "-elsewhere" for p in paths])}

    def close(self):
        self.pool.shutdown()


def test_a_worker_that_cannot_see_the_folders_is_refused_up_front(datasets, tmp_path):
    with pytest.raises(ValueError, match="cannot see .* every worker mounts"):
        run(datasets / "gslrm", tmp_path / "out", executor=_Blind(), quiet=True)
    assert not list((tmp_path / "out").rglob("*.png"))


# --- real processes ---------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args):
    """A `dask` command in its own process group (so nothing it starts outlives the test)."""
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen(
        [str(exe), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.fixture
def cluster():
    """`dask scheduler` and two `dask worker` processes (no nanny: a killed worker stays dead)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    workers = []
    try:
        with distributed.Client(address, timeout="30s") as c:
            for _ in range(2):
                workers.append(_dask("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"))
            c.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in workers + procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)
        assert all(p.poll() is not None for p in workers + procs)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    synth.write_dataset(root / "in", n_samples=32, size=256, seed=6)
    run(root / "in", root / "whole", jobs=1, quiet=True, plots=False)
    return root / "in", tree(root / "whole")


def _wait_for(condition, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.005)
    return False


def _done(out):
    manifest = Path(out) / "pixscale-manifest.jsonl"
    return len(manifest.read_text().splitlines()) - 1 if manifest.exists() else 0


def test_a_killed_dask_worker_is_replaced_and_the_bytes_are_the_same(cluster, big, tmp_path):
    address, workers = cluster
    src, whole = big
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--scheduler", address, "--quiet", "--no-plots"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _wait_for(lambda: _done(out) >= 1, proc), "the run finished before a worker could be killed"
    os.kill(workers[0].pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert workers[0].poll() is not None  # really dead; the other worker finished its units
    assert tree(out) == whole


def test_a_killed_coordinator_resumes_to_the_same_bytes_on_dask(cluster, big, tmp_path):
    address, _ = cluster
    src, whole = big
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--scheduler", address, "--quiet", "--no-plots"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert _wait_for(lambda: _done(out) >= 3, proc), "the run finished before it could be killed"
    proc.kill()
    proc.wait()
    assert 0 < _done(out) < 32
    done = subprocess.run(
        CMD + ["run", str(src), str(out), "--scheduler", address, "--resume", "--quiet", "--no-plots"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert tree(out) == whole


def test_a_killed_local_worker_process_is_replaced_and_the_bytes_are_the_same(big, tmp_path, paced_env):
    src, whole = big
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--jobs", "2", "--quiet", "--no-plots"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=paced_env,
    )
    me = psutil.Process(proc.pid)

    def busy_worker():
        # The pool's workers: children of the forkserver, itself a child of the run.
        kids = [k for c in me.children() for k in c.children()]
        return kids[0] if kids and _done(out) >= 1 else None

    assert _wait_for(lambda: busy_worker() is not None, proc), "the run finished before a worker could be killed"
    busy_worker().kill()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert tree(out) == whole


def test_ctrl_c_on_dask_stops_and_resume_finishes(big, tmp_path, paced_env):
    src, whole = big
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--scheduler", "local:2", "--no-plots"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=paced_env,
    )
    before = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
    assert _wait_for(lambda: _done(out) >= 2, proc), "the run finished before it could be interrupted"
    before |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "--resume" in err
    time.sleep(0.5)
    assert not [p for p in before if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    done = subprocess.run(
        CMD + ["run", str(src), str(out), "--resume", "--quiet", "--no-plots"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert tree(out) == whole


def test_a_killed_coordinator_takes_its_local_workers_with_it(big, tmp_path, paced_env):
    src, whole = big
    out = tmp_path / "out"
    proc = subprocess.Popen(
        CMD + ["run", str(src), str(out), "--jobs", "2", "--quiet", "--no-plots"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=paced_env,
    )
    me = psutil.Process(proc.pid)
    kids = set()

    def started():
        kids.update(me.children(recursive=True))
        return _done(out) >= 1

    assert _wait_for(started, proc), "the run finished before it could be killed"
    assert len(kids) >= 3  # the forkserver and two workers
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(list(kids), timeout=10)
    assert not alive, [p.cmdline()[:3] for p in alive]
    done = subprocess.run(CMD + ["run", str(src), str(out), "--resume", "--quiet", "--no-plots"], capture_output=True)
    assert done.returncode == 0 and tree(out) == whole


def test_a_script_without_a_main_guard_is_safe(datasets, tmp_path):
    """Worker processes re-import the calling script: the API runs on threads unless asked, and a
    script read from standard input (which workers could not import) gets threads even then."""
    script = (
        "import pixscale, sys\n"
        "s = pixscale.run_dataset(sys.argv[1], sys.argv[2], jobs=2, plots=False)\n"
        "t = pixscale.run_dataset(sys.argv[1], sys.argv[2] + '-p', jobs=2, pool='processes', plots=False)\n"
        "print(s['n_ok'], t['n_ok'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-", str(datasets / "flat"), str(tmp_path / "a")], input=script, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.split() == ["12", "12"], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_an_unreachable_scheduler_stops_the_run_before_anything_is_written(datasets, tmp_path):
    port = _free_port()  # nothing listens there
    done = subprocess.run(
        CMD + ["run", str(datasets / "flat"), str(tmp_path / "out"), "--scheduler", f"tcp://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    err = done.stderr.strip().splitlines()
    assert err[-1].startswith("pixscale: error: cannot reach the Dask scheduler at tcp://127.0.0.1:")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


class _Breaking(ThreadPoolExecutor):
    """A process pool in miniature: while the poisonous sample is in flight, the whole pool breaks,
    taking every unit in flight with it; otherwise units run."""

    def __init__(self, poison):
        super().__init__(1)
        self.poison, self.inflight, self.charged = poison, [], []

    def submit(self, fn, sample, *args):
        from concurrent.futures.process import BrokenProcessPool

        fut = Future()
        self.inflight.append((fut, fn, sample, args))
        if sample.name == self.poison:
            for f, *_ in self.inflight:
                f.set_exception(BrokenProcessPool("a worker died"))
            self.charged.append(len(self.inflight) == 1)
            self.inflight.clear()
        return fut

    def settle(self):
        for f, fn, sample, args in self.inflight:
            f.set_result(fn(sample, *args))
        self.inflight.clear()


def test_one_poisonous_sample_does_not_take_healthy_ones_with_it(datasets, tmp_path, monkeypatch):
    from pixscale.pipeline import schedule as pipeline  # the coordinator's loop

    ex = _Breaking("sample_001")
    real_wait = pipeline.wait

    def wait(fs, **kw):  # units run when the coordinator waits for them
        ex.settle()
        return real_wait(fs, **kw)

    monkeypatch.setattr(pipeline, "wait", wait)
    rows, _ = run(datasets / "gslrm", tmp_path / "out", executor=ex, jobs=2, quiet=True, plots=False)
    failed = {r["sample"] for r in rows if r["status"] == "failed"}
    assert failed == {"sample_001"}  # healthy samples broken with it were rerun, and not charged
    assert sum(r["status"] == "ok" for r in rows) == 8
    assert ex.charged.count(True) == 3  # the poison failed alone three times before it was reported


class _Refusing(ThreadPoolExecutor):
    def __init__(self):
        super().__init__(1)
        self.n = 0

    def submit(self, fn, *args):
        self.n += 1
        if self.n > 1:
            raise RuntimeError("cannot schedule new futures after shutdown")
        return super().submit(fn, *args)


def test_an_executor_that_refuses_work_fails_the_rest_with_the_reason(datasets, tmp_path):
    with _Refusing() as ex:
        rows, _ = run(datasets / "gslrm", tmp_path / "out", executor=ex, jobs=1, quiet=True, plots=False)
    assert sum(r["status"] == "ok" for r in rows) == 4
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 8 and "the executor refused it (RuntimeError" in failed[0]["error"]
