"""A run's rows: kept in the manifest as samples complete, read back in dataset order, written as the rows file."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pixscale import synth
from pixscale.pipeline.driver import run, run_records
from pixscale.pipeline.manifest import RunRecords
from pixscale.pipeline.records import ViewRecord, rows_of
from pixscale.report.summary import ROWS

MANIFEST = "pixscale-manifest.jsonl"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Five GS-LRM samples of three 48-px views."""
    root = tmp_path_factory.mktemp("rows") / "in"
    synth.write_dataset(root, n_samples=5, n_views=3, size=48, seed=9, layout="gslrm")
    return root


def _rows_file(out):
    """The rows file's lines, each parsed (a line that is not JSON fails the test)."""
    lines = (out / "pixscale-report" / ROWS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_run_returns_its_records_read_back_and_writes_them_as_the_rows_file(small, tmp_path):
    out = tmp_path / "out"
    records, dataset = run_records(small, out, jobs=1, quiet=True, plots=False)
    assert isinstance(records, RunRecords) and len(records) == dataset.n_views == 15
    assert not records._results._held  # no record is held: each is read back from its manifest line
    listed = list(records)
    assert all(isinstance(r, ViewRecord) and r.ok for r in listed)
    assert [r.view for r in listed] == [v.key for s in dataset.samples for v in s.views]  # dataset order
    assert records[3] == listed[3] and records == listed and records[-1] == listed[-1]
    assert records.of_samples({"sample_001"}) == [r for r in listed if r.sample == "sample_001"]
    report = json.loads((out / "pixscale-report" / "report.json").read_text())
    assert _rows_file(out) == report["views"] == rows_of(listed)


def test_a_runs_records_are_read_through_the_manifest_it_wrote_not_a_link_put_there_later(small, tmp_path):
    out = tmp_path / "out"
    records, _ = run_records(small, out, jobs=1, quiet=True, report_dir=False)
    expected = rows_of(records)
    (out / MANIFEST).rename(tmp_path / "moved.jsonl")
    (tmp_path / "other.jsonl").write_text("{}\n" * 2000)
    os.symlink(tmp_path / "other.jsonl", out / MANIFEST)
    assert rows_of(records) == expected


@pytest.mark.slow
def test_the_rows_file_is_whole_after_a_killed_run_is_resumed(small, tmp_path, paced_env):
    """A run killed (SIGKILL) after some samples, then resumed: one parseable line per view, as a whole run's."""
    whole = tmp_path / "whole"
    run(small, whole, jobs=1, quiet=True, plots=False)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pixscale", "run", str(small), str(out), "--quiet", "--no-plots", "--jobs", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=paced_env)
    manifest = out / MANIFEST
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:  # header + 2 samples
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "pixscale-report" / ROWS).exists()
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=paced_env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows_file(out)
    assert len(rows) == 15 and all(r["status"] == "ok" for r in rows)
    assert rows == _rows_file(whole)
