"""Runs on an object store, end to end: ``s3://bucket/in -> s3://bucket/out`` on moto's S3 server (127.0.0.1).

The promises of a run on a store (docs/running.md, "Object stores"), against the S3 protocol: the output
is the bytes a local run writes (in one thread, and on a Dask LocalCluster whose workers read and write the
bucket themselves); an output object is whole or absent (no temporary object during the run or after it,
no open multipart upload after it); the manifest is the commit point (a killed worker or coordinator, then
``--resume``: the same bytes); one run per output prefix (a lock object made by a conditional create: the
412 of the second create refuses a second run with the holder's name, and a dead run's lock is broken only
on request); the input prefix is never written and nothing is written outside the output prefix.  Real
processes where something is killed; the timeouts are hang guards, not timings.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CMD = [sys.executable, "-m", "pixscale"]
QUIET = ["--quiet", "--no-plots"]
ROOT = Path(__file__).resolve().parents[3]


def manifest_rows(lines):
    """The header's parameters and {sample: rows} of a manifest's lines (inputs are named and versioned
    differently in a folder and on a store: paths and mtimes, keys and ETags)."""
    docs = [json.loads(x) for x in lines if x.strip()]
    return docs[0]["parameters"], {d["sample"]: d["rows"] for d in docs[1:]}


def store_manifest(s3, out):
    """The lines of a store run's manifest: its chunk objects, in order."""
    keys = sorted(k for k in s3.listing(f"{out}/pixscale-manifest/") if k.endswith(".jsonl"))
    return b"".join(s3.read(k) for k in keys).decode().splitlines()


def changed_outside(s3, before, *outs):
    """Keys new or changed since the listing ``before``, outside the output prefixes ``outs``."""
    return sorted(
        k for k, etag in s3.listing().items() if not any(k.startswith(o + "/") for o in outs) and before.get(k) != etag
    )


def leftovers(s3, out):
    """What a finished run must not leave under ``out``: temporary or hidden objects (the lock, a stop request),
    and multipart uploads neither completed nor aborted."""
    keys = [k[len(out) + 1 :] for k in s3.listing(out + "/")]
    hidden = [k for k in keys if k.endswith(".part") or k.rsplit("/", 1)[-1].startswith(".")]
    return hidden + [f"(open multipart upload) {k}" for k in s3.uploads()]


def child_env(paced_env=None):
    """The environment of a child ``pixscale``: this test's (its fake credentials), this tree first on the path;
    with ``paced_env``, its pace (every sample waits 0.3 s) too."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    if paced_env is not None:
        env.update(PYTHONPATH=paced_env["PYTHONPATH"], PIXSCALE_TEST_PACE=paced_env["PIXSCALE_TEST_PACE"])
    return env


def wait_for(condition, proc, timeout=180):
    """Poll ``condition`` while ``proc`` runs (a hang guard, not a timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.02)
    return False


def pngs(s3, out):
    return sum(k.endswith(".png") for k in s3.listing(out + "/"))


def local_cluster():
    """A Dask LocalCluster of two worker processes (one thread each) on ports the OS picks, its logs quiet.
    Its workers take the environment of the moment it starts (their credentials are their own)."""
    distributed = pytest.importorskip("distributed")
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )


def finish(proc, timeout=300):
    """``proc.communicate()`` with a hang guard: a child still running is killed, then the test fails."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


# --- the same bytes ---------------------------------------------------------------------------------


def test_a_run_on_s3_writes_a_local_runs_bytes_report_and_manifest_rows_and_nothing_else(
    s3, tmp_path, tree, cli, capsys
):
    local = s3.upload_dataset("in")
    before = s3.listing()
    assert cli(["run", str(local), str(tmp_path / "out"), "--quiet", "--jobs", "1"]) == 0
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, "--quiet", "--jobs", "1"]) == 0
    assert capsys.readouterr().err == ""
    want = tree(tmp_path / "out")
    assert any(k.startswith("pixscale-report/") and k.endswith(".png") for k in want)  # the figures too
    assert s3.tree("out") == want  # every image, camera and list file, the report (less its date and paths)
    report = json.loads(s3.read("out/pixscale-report/report.json"))
    assert report["meta"]["input"] == s3.url("in") and report["meta"]["output"] == s3.url("out")
    local_manifest = (tmp_path / "out" / "pixscale-manifest.jsonl").read_text().splitlines()
    assert manifest_rows(store_manifest(s3, "out")) == manifest_rows(local_manifest)
    assert leftovers(s3, "out") == []
    assert changed_outside(s3, before, "out") == []  # the input prefix included: its keys and ETags


def test_a_list_file_naming_samples_by_url_is_pointed_at_the_output(s3, cli):
    s3.upload_dataset("in", n_samples=2, n_views=1)
    s3.put("in/train.txt", f"{s3.url('in/sample_000')}\n{s3.url('in/sample_001')}\n".encode())
    s3.put("in/val.txt", b"sample_001\n")
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--jobs", "1"]) == 0
    assert s3.read("out/train.txt").decode() == f"{s3.url('out/sample_000')}\n{s3.url('out/sample_001')}\n"
    assert s3.read("out/val.txt") == b"sample_001\n"
    assert s3.read("in/train.txt").decode().startswith(s3.url("in/"))  # the input's own is left as it was


@pytest.fixture
def cluster(s3):
    """A Dask LocalCluster of two worker processes, started once the test's credentials are in the environment
    (its workers inherit them, and reach the bucket themselves)."""
    distributed = pytest.importorskip("distributed")
    with local_cluster() as c, distributed.Client(c) as client:
        yield c, client


def test_a_dask_run_from_s3_to_s3_writes_the_bytes_of_a_local_run(s3, cluster, tmp_path, tree, cli):
    from pixscale import run_dataset

    c, client = cluster
    local = s3.upload_dataset("in", n_samples=4)
    before = s3.listing()
    assert cli(["run", str(local), str(tmp_path / "out"), *QUIET, "--jobs", "1"]) == 0
    want = tree(tmp_path / "out")
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--scheduler", c.scheduler_address]) == 0
    assert s3.tree("out") == want
    summary = run_dataset(s3.url("in"), s3.url("api"), executor=client, storage_options=s3.storage_options, plots=False)
    assert summary["n_ok"] == 16
    assert s3.tree("api") == want
    assert leftovers(s3, "out") == [] and leftovers(s3, "api") == []
    assert changed_outside(s3, before, "out", "api") == []


def test_dask_workers_without_credentials_of_their_own_get_the_runs_storage_options(s3, no_credentials, cli):
    """The keys given as storage options travel with the units: workers whose environment has none reach the
    bucket (moto does not check keys, so only a worker that found no credentials at all could fail)."""
    s3.upload_dataset("in", n_samples=2, n_views=2)
    keys = ["--storage-option", "key=given", "--storage-option", "secret=given"]
    with local_cluster() as c:
        argv = ["run", s3.url("in"), s3.url("out"), *s3.cli, *keys, *QUIET, "--scheduler", c.scheduler_address]
        assert cli(argv) == 0
    assert pngs(s3, "out") == 4 and leftovers(s3, "out") == []


def test_dask_workers_that_cannot_reach_the_bucket_stop_the_run_before_any_work(
    s3, monkeypatch, cli, error_line, capsys
):
    """The coordinator has credentials, its workers none (their environment is their own): one line naming a
    worker and the store, exit 2, the bucket as it was."""
    import s3fs

    s3.upload_dataset("in", n_samples=2, n_views=2)
    before = s3.listing()
    keys = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    for k in keys:
        monkeypatch.delenv(k)
    cluster = local_cluster()
    for k, v in keys.items():  # the coordinator has them again; the workers started without
        monkeypatch.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    with cluster:
        code = cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--scheduler", cluster.scheduler_address])
    line = error_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith("pixscale: error: Dask worker tcp://127.0.0.1:") and f"cannot reach {s3.url('in')}" in line
    assert "give the workers credentials" in line
    assert s3.listing() == before


def test_a_local_folder_to_s3_and_s3_to_a_local_folder_write_the_bytes_of_a_local_run(s3, tmp_path, tree, cli):
    local = s3.upload_dataset("in", n_samples=2)
    assert cli(["run", str(local), str(tmp_path / "out"), *QUIET, "--jobs", "1"]) == 0
    want = tree(tmp_path / "out")
    assert cli(["run", str(local), s3.url("up"), *s3.cli, *QUIET, "--jobs", "1"]) == 0
    assert s3.tree("up") == want
    assert leftovers(s3, "up") == []
    before = s3.listing()
    assert cli(["run", s3.url("in"), str(tmp_path / "down"), *s3.cli, *QUIET, "--jobs", "1"]) == 0
    assert tree(tmp_path / "down") == want
    assert not [p for p in (tmp_path / "down").rglob("*.part")]
    assert s3.listing() == before


# --- faults: a killed worker, a killed coordinator ------------------------------------------------------


@pytest.fixture
def paced_cluster(s3, monkeypatch, paced_env):
    """As ``cluster``, every sample paced (0.3 s first): a test can kill a worker while the run is busy."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("PYTHONPATH", paced_env["PYTHONPATH"])
    monkeypatch.setenv("PIXSCALE_TEST_PACE", paced_env["PIXSCALE_TEST_PACE"])
    with local_cluster() as c, distributed.Client(c) as client:
        yield c, client


def test_a_killed_dask_worker_then_resume_gives_the_bytes_of_a_local_run(s3, paced_cluster, tmp_path, tree, cli):
    c, client = paced_cluster
    local = s3.upload_dataset("in", n_samples=8, n_views=2)
    assert cli(["run", str(local), str(tmp_path / "out"), *QUIET, "--jobs", "1"]) == 0
    proc = subprocess.Popen(
        CMD + ["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--scheduler", c.scheduler_address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert wait_for(lambda: pngs(s3, "out") >= 2, proc), "the run finished before a worker could be killed"
        pid = next(iter(client.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)
        _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 1), err[-2000:]  # its units rerun on the other worker, or left for --resume
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--resume", "--jobs", "1"]) == 0
    assert s3.tree("out") == tree(tmp_path / "out")
    assert leftovers(s3, "out") == []


def test_a_killed_coordinator_leaves_a_lock_that_only_a_request_breaks_then_resume_finishes(
    s3, tmp_path, tree, paced_env, cli, error_line, capsys
):
    local = s3.upload_dataset("in", n_samples=24, n_views=2)
    assert cli(["run", str(local), str(tmp_path / "out"), *QUIET, "--jobs", "1"]) == 0
    proc = subprocess.Popen(
        CMD + ["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(paced_env),
        start_new_session=True,  # its worker processes are killed with it
    )
    first_chunk = "out/pixscale-manifest/00000001.jsonl"  # 00000000 is the header
    try:
        assert wait_for(lambda: first_chunk in s3.listing("out/"), proc), "the run finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert json.loads(s3.read("out/.pixscale-lock"))["pid"] == proc.pid
    _, committed = manifest_rows(store_manifest(s3, "out"))
    assert 1 <= len(committed) < 24
    keys = s3.listing("out/")
    for rows in committed.values():  # the commit point: a committed sample's outputs are all there
        assert all(f"out/{r['view']}" in keys for r in rows if r["status"] == "ok")
    capsys.readouterr()
    stale = s3.listing()
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--resume"]) == 2
    line = error_line(capsys.readouterr().err)
    assert f"pid {proc.pid}" in line and "--break-lock" in line  # the holder, and how to break its lock
    assert s3.listing() == stale  # refused before any work
    broken = cli(["run", s3.url("in"), s3.url("out"), *s3.cli, "--no-plots", "--resume", "--break-lock", "--jobs", "1"])
    assert broken == 0
    err = capsys.readouterr().err
    assert f"breaking the lock of {s3.url('out')} held by host" in err and f"pid {proc.pid}" in err  # says whose
    assert f"resuming: {len(committed)} of 24 samples already complete" in err
    assert s3.tree("out") == tree(tmp_path / "out")
    assert leftovers(s3, "out") == []


def test_ctrl_c_releases_the_lock_and_resume_finishes_without_breaking_it(s3, tmp_path, tree, paced_env, cli):
    local = s3.upload_dataset("in", n_samples=8, n_views=2)
    assert cli(["run", str(local), str(tmp_path / "out"), *QUIET, "--jobs", "1"]) == 0
    proc = subprocess.Popen(
        CMD + ["run", s3.url("in"), s3.url("out"), *s3.cli, "--no-plots", "--jobs", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(paced_env),
    )
    try:
        assert wait_for(lambda: pngs(s3, "out") >= 4, proc), "the run finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "--resume" in err and "Traceback" not in err
    assert leftovers(s3, "out") == []  # the lock went with the run: no --break-lock needed
    assert pngs(s3, "out") < 16
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--resume", "--jobs", "1"]) == 0
    assert s3.tree("out") == tree(tmp_path / "out")


# --- one run per output prefix ------------------------------------------------------------------------


def test_a_second_run_on_the_same_output_prefix_is_refused_with_the_holders_name(
    s3, paced_env, cli, error_line, capsys
):
    s3.upload_dataset("in", n_samples=12, n_views=2)  # 3.6 s of paced work: the second run comes in time
    first = subprocess.Popen(
        CMD + ["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--jobs", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(paced_env),
    )
    seen = set()

    def started():
        keys = s3.listing("out/")
        seen.update(keys)
        return sum(k.endswith(".png") for k in keys) >= 1

    try:
        assert wait_for(started, first), "the first run finished too soon"
        holder = json.loads(s3.read("out/.pixscale-lock"))
        assert holder["pid"] == first.pid and holder["host"] and holder["run"]
        assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--resume"]) == 2
        line = error_line(capsys.readouterr().err)
        assert f"is in use by another pixscale run (host {holder['host']}, pid {first.pid}" in line
        while first.poll() is None:  # every listing while it runs: whole objects only
            seen.update(s3.listing("out/"))
            time.sleep(0.05)
        _, err = finish(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err[-2000:]
    assert not [k for k in seen if k.endswith(".part") or "tmp" in k.rsplit("/", 1)[-1]]
    assert leftovers(s3, "out") == []  # the lock object went with the first run
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--resume", "--jobs", "1"]) == 0


# --- stats and compare read a store -----------------------------------------------------------------


def test_stats_and_compare_read_s3_as_they_read_a_folder(s3, tmp_path, cli, capsys):
    local = s3.upload_dataset("in", n_samples=2)
    assert cli(["stats", str(local), "--json", "--quiet", "--no-plots"]) == 0
    want = json.loads(capsys.readouterr().out)
    before = s3.listing()
    assert cli(["stats", s3.url("in"), *s3.cli, "--json", "--quiet", "--no-plots"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == want["summary"]
    assert s3.listing() == before  # stats only reads
    assert cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET, "--jobs", "1"]) == 0
    assert cli(["run", str(local), str(tmp_path / "out"), *QUIET, "--jobs", "1"]) == 0
    before = s3.listing()
    assert cli(["compare", s3.url("out"), str(tmp_path / "out"), *s3.cli, "--out", str(tmp_path / "cmp"), *QUIET]) == 0
    runs = json.loads((tmp_path / "cmp" / "compare.json").read_text())["runs"]
    assert runs[0]["path"] == s3.url("out") and runs[0]["source"] == "report"
    a, b = ({k: v for k, v in r.items() if k not in ("name", "path")} for r in runs)
    assert a == b
    assert s3.listing() == before  # stats and compare only read
