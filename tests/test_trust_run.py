"""Run control: whose stop request counts, what a unit may return, lost schedulers, dead coordinators,
closed streams, signals, hung units.

Issue #19, items 3-6 and the weak points of the run loop; each test failed on
the code before the fix.
"""

import json
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from pixscale import synth
from pixscale.pipeline import run
from pixscale.workers import StopFlag

CMD = [sys.executable, "-m", "pixscale"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three GS-LRM samples of four 96-px views."""
    root = tmp_path_factory.mktemp("small") / "in"
    synth.write_dataset(root, n_samples=3, n_views=4, size=96, seed=5, layout="gslrm")
    return root


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
        assert "--resume" in r["error"]
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
