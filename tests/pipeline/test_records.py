"""The per-view record: the one place a row is built, serialised to exactly the rows a run wrote before it."""

import json
import pickle

import numpy as np
import pytest

import pixscale
from pixscale import synth
from pixscale.pipeline.dataset import MANIFEST
from pixscale.pipeline.driver import measure_dataset, run
from pixscale.pipeline.io import read_view, write_png
from pixscale.pipeline.options import RunOptions
from pixscale.pipeline.records import Islands, ViewRecord, rows_of

# The three forms of a row, key by key, as the report, the manifest and `pixscale stats --json` hold them.
WRITTEN = [
    "sample",
    "view",
    "status",
    "error",
    "before",
    "after",
    "scale",
    "wanted_scale",
    "limited",
    "shift",
    "cut_pixels",
    "src_center",
    "dst_center",
    "achieved_ratio",
    "on_target",
    "islands",
]
FAILED = ["sample", "view", "status", "error", "before", "after", "scale", "limited"]
MEASURED = ["sample", "view", "status", "error", "before", "after", "scale", "limited", "islands"]


def _old_written(sample, key, before, after, t, per_view, islands):
    """A written view's row as the pipeline built it by hand before the record (pipeline.py, 0.1)."""
    return {
        "sample": sample,
        "view": key,
        "status": "ok",
        "error": None,
        "before": before.to_dict(),
        "after": after.to_dict(),
        "scale": t.scale,
        "wanted_scale": t.wanted_scale,
        "limited": t.limited,
        "shift": list(t.shift),
        "cut_pixels": t.cut_pixels,
        "src_center": list(t.src_center),
        "dst_center": list(t.dst_center),
        "achieved_ratio": t.achieved_ratio,
        "on_target": t.on_target if per_view else None,
        "islands": islands,
    }


def _old_failed(sample, key, error, retry=False):
    row = {
        "sample": sample,
        "view": key,
        "status": "failed",
        "error": error,
        "before": None,
        "after": None,
        "scale": None,
        "limited": None,
    }
    if retry:
        row["retry"] = True
    return row


def _old_measured(sample, key, m, islands):
    return {
        "sample": sample,
        "view": key,
        "status": "ok",
        "error": None,
        "before": m.to_dict(),
        "after": None,
        "scale": None,
        "limited": None,
        "islands": islands,
    }


@pytest.fixture
def view():
    alpha = np.zeros((48, 64), np.uint8)
    alpha[10:30, 12:40] = 255
    alpha[40:42, 2:4] = 200  # a speck
    return alpha


@pytest.mark.parametrize("per_view", [True, False])
@pytest.mark.parametrize("islands", [None, {"components": 1, "pixels": 4}])
def test_a_written_record_is_the_row_built_by_hand(view, per_view, islands):
    t = pixscale.plan(view, target=0.4, output_shape=(40, 40), margin=2)
    before, after = pixscale.measure(view), pixscale.measure(pixscale.warp(view, t))
    on_target = t.on_target if per_view else None
    record = ViewRecord.written("s", "s/a.png", before, after, t, on_target=on_target, islands=islands)
    old = _old_written("s", "s/a.png", before, after, t, per_view, islands)
    assert json.dumps(record.as_row()) == json.dumps(old)
    assert list(record.as_row()) == WRITTEN
    assert record.ok and record.is_written and record.status == "ok" and record.before.size_ratio == before.size_ratio
    assert record.islands == (None if islands is None else Islands(1, 4))


@pytest.mark.parametrize("retry", [False, True])
def test_a_failed_record_is_the_row_built_by_hand(retry):
    record = ViewRecord.failed("s", "s/a.png", "empty mask", retry=retry)
    assert json.dumps(record.as_row()) == json.dumps(_old_failed("s", "s/a.png", "empty mask", retry))
    assert list(record.as_row()) == FAILED + ["retry"] * retry
    assert not record.ok and record.status == "failed" and record.retry is retry


def test_a_measured_record_is_the_row_built_by_hand(view):
    m = pixscale.measure(view, min_component=10)
    record = ViewRecord.measured("s", "s/a.png", m, None)
    assert json.dumps(record.as_row()) == json.dumps(_old_measured("s", "s/a.png", m, None))
    assert not record.is_written


def test_a_record_crosses_processes_and_the_manifest_unchanged(view):
    t = pixscale.plan(view, target=0.4)
    m = pixscale.measure(view)
    for record in (
        ViewRecord.written("s", "s/a.png", m, m, t, on_target=True, islands={"components": 1, "pixels": 4}),
        ViewRecord.failed("s", "s/b.png", "no", retry=True),
        ViewRecord.measured("s", "s/c.png", m),
    ):
        assert pickle.loads(pickle.dumps(record)) == record
        row = json.loads(json.dumps(record.as_row()))  # as the manifest holds it
        assert json.dumps(ViewRecord.from_row(row).as_row()) == json.dumps(record.as_row())


@pytest.mark.parametrize(
    "row",
    [
        None,
        [],
        {"view": 1},
        {"sample": "s", "view": "v"},
        {"sample": "s", "view": "v", "status": "failed"},
        {"sample": "s", "view": "v", "status": "ok", "before": {"count": "3"}, "after": None},
        {"sample": "s", "view": "v", "status": "ok", "before": {"count": 3, "shape": [2, 2]}, "islands": {"pixels": 4}},
        {"sample": "s", "view": "v", "status": "ok", "before": {"count": 3, "shape": [2, 2]}, "islands": [1, 4]},
    ],
)
def test_a_row_that_is_not_a_record_is_refused(row):
    with pytest.raises((TypeError, ValueError)):
        ViewRecord.from_row(row)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    src = tmp_path_factory.mktemp("records") / "in"
    synth.write_dataset(src, n_samples=2, n_views=3, size=64, seed=2, layout="gslrm")
    empty = src / "sample_001" / "images" / "cam_002.png"
    image = read_view(empty)
    image[..., 3] = 0
    write_png(empty, image)
    return src


@pytest.mark.parametrize("scale", ["per-view", "per-sample"])
def test_a_runs_rows_are_its_report_and_manifest_rows_in_the_old_form(dataset, tmp_path, scale):
    """report.json's views and the manifest's rows: the fixed keys of each form, and the record's exact JSON."""
    out = tmp_path / "out"
    rows, _ = run(dataset, out, RunOptions(scale=scale), jobs=1, pool="threads", quiet=True, plots=False)
    report = json.loads((out / "pixscale-report" / "report.json").read_text())
    manifest = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()[1:]]
    assert report["views"] == rows
    # The manifest is written in the order samples complete (a unit's tail overlaps the next unit's
    # work), report.json in the dataset's order: the same rows, sample by sample.
    by_sample = {entry["sample"]: entry["rows"] for entry in manifest}
    assert len(by_sample) == len(manifest)
    assert [r for name in dict.fromkeys(r["sample"] for r in rows) for r in by_sample[name]] == rows
    assert [list(r) for r in rows] == [FAILED if r["status"] == "failed" else WRITTEN for r in rows]
    assert sum(r["status"] == "failed" for r in rows) == 1
    for r in rows:
        assert json.dumps(ViewRecord.from_row(r).as_row()) == json.dumps(r)
        if r["status"] == "ok":
            assert (r["on_target"] is None) == (scale == "per-sample")


def test_measured_rows_keep_their_form(dataset):
    records, _ = measure_dataset(dataset, jobs=1)
    assert all(isinstance(r, ViewRecord) for r in records)
    rows = rows_of(records)
    assert [list(r) for r in rows] == [FAILED if r["status"] == "failed" else MEASURED for r in rows]
    for r in rows:
        assert json.dumps(ViewRecord.from_row(r).as_row()) == json.dumps(r)
    assert [ViewRecord.from_row(json.loads(json.dumps(r))) for r in rows] == records  # read back whole


def test_an_ok_record_has_its_input_measured():
    """The report reads an ok record's ``before`` without a check: a record without one is refused when built."""
    with pytest.raises(ValueError, match="no measurement of its input"):
        ViewRecord("s", "s/a.png")
    assert ViewRecord("s", "s/a.png", error="unreadable").before is None


def test_islands_are_typed_and_serialise_as_before():
    islands = Islands.of({"components": 2, "pixels": 7})
    assert islands == Islands(2, 7) and islands.components == 2 and islands.pixels == 7
    assert json.dumps(islands.to_dict()) == json.dumps({"components": 2, "pixels": 7})
    assert Islands.of(None) is None
    for bad in ({"components": 2}, {"components": True, "pixels": 1}, {"components": "2", "pixels": 1}, (2, 7)):
        with pytest.raises(ValueError, match="not their components and pixels"):
            Islands.of(bad)
