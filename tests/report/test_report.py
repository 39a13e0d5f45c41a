"""report: summary numbers against direct NumPy computations, the table, and the report files."""

import json
import math
import sys
from dataclasses import replace

import imageio.v3 as iio
import numpy as np
import pytest

import pixscale
from pixscale.pipeline.io import write_png
from pixscale.pipeline.records import ViewRecord, rows_of
from pixscale.report import quality, text
from pixscale.report import summary as report

H, W = 24, 40


def _blob(rng, *, centred=False):
    """A (H, W) uint8 alpha: a random rectangle plus a thin 'tail' line that widens its bbox."""
    alpha = np.zeros((H, W), np.uint8)
    h, w = rng.integers(4, 12), rng.integers(4, 16)
    y0 = (H - h) // 2 if centred else rng.integers(0, H - h)
    x0 = (W - w) // 2 if centred else rng.integers(0, W - w)
    alpha[y0 : y0 + h, x0 : x0 + w] = 255
    ty = rng.integers(0, H)
    alpha[ty, rng.integers(0, W) :] = rng.integers(11, 256)
    return alpha


def _row(sample, view, before, after=None, *, scale=None, limited=None):
    """The record of an ok view whose input alpha is ``before`` (and output alpha ``after``, when written)."""
    after = None if after is None else pixscale.measure(after)
    return ViewRecord(sample, view, before=pixscale.measure(before), after=after, scale=scale, limited=limited)


def _failed(sample, view, error):
    return ViewRecord.failed(sample, view, error)


@pytest.fixture
def dataset(rng):
    """(records, alphas): three samples of 1, 3 and 4 ok views, and two failed views."""
    rows, alphas = [], []
    for s, n in enumerate((1, 3, 4)):
        for v in range(n):
            pair = (_blob(rng), _blob(rng, centred=True))
            alphas.append(pair)
            rows.append(
                _row(
                    f"sample_{s:03d}",
                    f"images/cam_{v:03d}.png",
                    *pair,
                    scale=float(rng.uniform(0.7, 1.8)),
                    limited=bool(v == 1),
                )
            )
    rows.insert(2, _failed("sample_001", "images/cam_009.png", "empty mask: no pixel above 10"))
    rows.append(_failed("sample_002", "images/cam_009.png", "cannot be decoded"))
    return rows, alphas


def _direct(alpha):
    """Size ratio, bbox ratio and centroid offset of one alpha, straight from the mask."""
    ys, xs = np.nonzero(alpha > 10)
    size = math.sqrt(xs.size / (H * W))
    bbox = math.sqrt((xs.max() + 1 - xs.min()) * (ys.max() + 1 - ys.min()) / (H * W))
    offset = math.hypot(xs.mean() + 0.5 - W / 2, ys.mean() + 0.5 - H / 2)
    return size, bbox, offset


def _cv(v):
    return np.std(v) / np.mean(v)


def _assert_plain(obj):
    """Only JSON types all the way down (no NumPy scalars)."""
    if isinstance(obj, dict):
        assert all(isinstance(k, str) for k in obj)
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            _assert_plain(v)
    else:
        assert obj is None or type(obj) in (int, float, str, bool), (obj, type(obj))


@pytest.mark.parametrize("stage", [0, 1])
def test_stage_numbers_match_numpy(dataset, stage):
    rows, alphas = dataset
    s = report.summarize(rows)
    name = quality.STAGES[stage]
    size, bbox, offset = np.array([_direct(pair[stage]) for pair in alphas]).T
    got = s[name]
    assert got["n"] == len(alphas)
    for key, want in [
        ("mean", size.mean()),
        ("std", size.std()),
        ("cv", _cv(size)),
        ("min", size.min()),
        ("max", size.max()),
    ]:
        assert got[key] == pytest.approx(want, rel=1e-12), key
    bvp = s["bbox_vs_pixel"][name]
    assert bvp["bbox_mean"] == pytest.approx(bbox.mean(), rel=1e-12)
    assert bvp["bbox_std"] == pytest.approx(bbox.std(), rel=1e-12)
    assert bvp["bbox_cv"] == pytest.approx(_cv(bbox), rel=1e-12)
    assert bvp["pixel_cv"] == got["cv"]
    c = s["centring"][name]
    assert c["n"] == len(alphas)
    assert c["mean"] == pytest.approx(offset.mean(), rel=1e-12, abs=1e-12)
    assert c["p95"] == pytest.approx(np.percentile(offset, 95), rel=1e-12, abs=1e-12)
    assert c["p99"] == pytest.approx(np.percentile(offset, 99), rel=1e-12, abs=1e-12)
    assert c["max"] == pytest.approx(offset.max(), rel=1e-12, abs=1e-12)
    # Samples 1 and 2 have >= 2 ok views (alphas 1..3 and 4..7); sample 0 has one.
    cvs = [_cv(size[1:4]), _cv(size[4:8])]
    w = s["within_sample_cv"][name]
    assert w["n_samples"] == 2
    assert w["mean"] == pytest.approx(np.mean(cvs), rel=1e-12)
    assert w["max"] == pytest.approx(max(cvs), rel=1e-12)


def test_counts_scale_limited_failures(dataset):
    rows, _ = dataset
    s = report.summarize(rows)
    assert (s["n_views"], s["n_ok"], s["n_failed"]) == (10, 8, 2)
    scales = np.array([r.scale for r in rows if r.ok])
    for key, want in [("mean", scales.mean()), ("std", scales.std()), ("min", scales.min()), ("max", scales.max())]:
        assert s["scale"][key] == pytest.approx(want, rel=1e-12), key
    assert s["scale"]["n"] == 8
    assert s["limited"] == 2  # view 1 of samples 1 and 2
    assert s["failures"] == [
        {"sample": "sample_001", "view": "images/cam_009.png", "error": "empty mask: no pixel above 10"},
        {"sample": "sample_002", "view": "images/cam_009.png", "error": "cannot be decoded"},
    ]


def test_summary_is_json_ready_even_from_numpy_values(dataset):
    rows, _ = dataset
    rows[0] = replace(rows[0], scale=np.float32(1.25), limited=np.bool_(True))
    s = report.summarize(rows)
    _assert_plain(s)
    assert json.loads(json.dumps(s)) == s
    assert s["limited"] == 3


def test_stats_rows_have_no_after_section(rng):
    rows = [_row("", f"v{i}.png", _blob(rng)) for i in range(4)]
    s = report.summarize(rows)
    assert "after" not in s and s["before"]["n"] == 4
    for key in ("bbox_vs_pixel", "centring", "within_sample_cv"):
        assert list(s[key]) == ["before"]
    assert s["scale"]["n"] == 0 and s["scale"]["mean"] is None and s["limited"] == 0
    assert s["within_sample_cv"]["before"]["n_samples"] == 1  # a flat folder is one sample
    table = report.format_table(s)
    assert "after" not in table and "scale factor" not in table


@pytest.mark.parametrize("rows", [[], [_failed("s", "a.png", "boom")]], ids=["empty", "only-failed"])
def test_empty_input(rows, tmp_path):
    s = report.summarize(rows)
    assert s["n_ok"] == 0 and s["n_failed"] == len(rows)
    assert s["before"] == {"mean": None, "std": None, "cv": None, "min": None, "max": None, "n": 0}
    assert s["centring"]["before"]["mean"] is None and s["centring"]["before"]["n"] == 0
    assert s["within_sample_cv"]["before"] == {"mean": None, "max": None, "n_samples": 0}
    assert s["bbox_vs_pixel"]["before"]["bbox_cv"] is None
    _assert_plain(s)
    assert "size ratio" in report.format_table(s)
    paths = report.write_report(tmp_path, s, rows, plots=False)
    assert json.loads(paths[0].read_text())["summary"] == s


def test_format_table_numbers_and_width():
    def m(count, centroid=(20.0, 12.0)):
        return pixscale.Measurement(count, centroid, (0, 0, 40, 24), (24, 40))

    rows = [
        ViewRecord("s", f"v{i}.png", before=m(c), after=m(86, (21.0, 12.0)), scale=sc, limited=False)
        for i, (c, sc) in enumerate([(40, 1.5), (90, 1.0), (160, 0.75)])
    ]
    rows += [_failed("s", f"bad{i}.png", "x" * 200 if i == 0 else f"reason {i}") for i in range(7)]
    s = report.summarize(rows)
    table = report.format_table(s)
    lines = table.splitlines()
    assert max(map(len, lines)) <= 80
    ratios = np.sqrt(np.array([40, 90, 160]) / 960)
    assert lines[2].split() == ["size", "ratio", "before", "after"]
    assert lines[3].split() == ["mean", f"{100 * ratios.mean():.2f}%", f"{100 * math.sqrt(86 / 960):.2f}%"]
    assert lines[5].split() == ["CV", f"{100 * _cv(ratios):.2f}%", "0.00%"]
    assert f"{np.mean([1.5, 1.0, 0.75]):.3f}" in table and "1.500" in table and "0.750" in table
    assert "reason 4" in table and "reason 5" not in table and "... and 2 more" in table
    assert "s/bad0.png: xxx" in table  # long reasons are shortened, not wrapped
    assert any(line.split() == ["max", "(px)", "0.00", "1.00"] for line in lines)  # centroid offsets


def test_percentages_have_two_decimals():
    """As FaceLift's evaluator prints them; report.json keeps the exact numbers."""
    assert text._pct(0.272) == "27.20%"
    assert text._pct(1.234e-5) == "0.00%" and text._pct(1.234e-4) == "0.01%"
    assert text._pct(0.0) == "0.00%" and text._pct(None) == "-"


def test_write_report_json_and_markdown(dataset, tmp_path):
    rows, _ = dataset
    s = report.summarize(rows)
    paths = report.write_report(tmp_path / "rep", s, rows, plots=False)
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]
    assert "<html" in paths[2].read_text() and "<img" not in paths[2].read_text()  # no figures: none inline
    data = json.loads(paths[0].read_text())
    assert data == {"meta": {}, "summary": s, "views": rows_of(rows)}
    assert [ViewRecord.from_row(v) for v in data["views"]] == rows  # read back, the records themselves
    md = paths[1].read_text()
    assert md.startswith("# pixscale quality report")
    assert "## per view" in md and "## failures" in md and "| sample | view | status |" in md
    table_rows = [line for line in md.splitlines() if line.startswith("| sample_")]
    assert len(table_rows) == len(rows) + len(s["failures"]) + len(s["samples"])  # per view, failures, per sample
    assert f"{100 * s['before']['mean']:.2f}%" in md
    assert not list(tmp_path.rglob("*.part"))


def test_the_report_takes_records_and_refuses_rows(dataset, tmp_path):
    """The report's one way in: records. A JSON row is read back with ViewRecord.from_row where it is read."""
    records, _ = dataset
    rows = rows_of(records)
    for call in (lambda: report.summarize(rows), lambda: report.write_report(tmp_path, {}, rows, plots=False)):
        with pytest.raises(TypeError, match=r"ViewRecord per view; got dict .*ViewRecord\.from_row\(row\)"):
            call()
    assert not list(tmp_path.iterdir())  # refused before anything is written
    with pytest.raises(TypeError, match="got NoneType"):
        report.summarize([*records, None])


def test_report_json_read_back_gives_the_same_report(dataset, tmp_path):
    """report.json's views, read back once with ViewRecord.from_row, summarize and report as the run's records did."""
    records, _ = dataset
    summary = report.summarize(records, target=0.3)
    first = report.write_report(tmp_path / "a", summary, records, plots=False)
    views = json.loads(first[0].read_text())["views"]
    again = [ViewRecord.from_row(v) for v in views]
    assert report.summarize(again, target=0.3) == summary
    second = report.write_report(tmp_path / "b", summary, again, plots=False)
    assert [p.read_bytes() for p in second] == [p.read_bytes() for p in first]


def test_write_report_figures(rng, tmp_path):
    pytest.importorskip("matplotlib")
    had_pyplot = "matplotlib.pyplot" in sys.modules
    rows, sources = [], {}
    for i in range(12):
        before, after = _blob(rng), _blob(rng, centred=i % 4 != 0)
        row = _row(f"s{i // 4}", f"s{i // 4}/v{i}.png", before, after, scale=1.0, limited=i == 5)
        row = replace(
            row,
            wanted_scale=1.2 if i == 5 else 1.0,
            shift=(3.0, 0.0) if i == 6 else (0.0, 0.0),
            cut_pixels=7 if i == 7 else 0,
        )
        rows.append(row)
        paths = []
        for name, alpha in (("in", before), ("out", after)):
            img = np.dstack([rng.integers(0, 256, (H, W, 3), dtype=np.uint8), alpha])
            write_png(tmp_path / name / f"v{i}.png", img)
            paths.append(tmp_path / name / f"v{i}.png")
        sources[row.view] = tuple(paths)
    sources["s0/v1.png"] = (sources["s0/v1.png"][0], tmp_path / "missing.png")  # unreadable: a message panel
    s = report.summarize(rows, target=0.3)
    written = report.write_report(tmp_path / "rep", s, rows, sources=sources, meta={"layout": "flat"})
    figures = ["size_ratio_hist.png", "centre_offsets.png", "per_sample.png", "scale_hist.png", "contact_sheet.png"]
    assert [p.name for p in written] == ["report.json", "report.md", *figures, "report.html"]
    assert written[-1].read_text().count("data:image/png;base64,") == len(figures)  # every figure inline
    for path in written[2:-1]:
        image = iio.imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    sheet = iio.imread(written[-2])
    assert sheet.shape[0] > sheet.shape[1]  # three samples, before and after rows of four views
    md = written[1].read_text()
    assert all(f"]({name})" in md for name in figures) and "| layout | flat |" in md
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    # No sources, no contact sheet; an empty run still gets its (empty) figures.
    written = report.write_report(tmp_path / "empty", report.summarize([]), [])
    assert [p.name for p in written] == ["report.json", "report.md", *figures[:-1], "report.html"]


def test_best_median_and_worst_samples_by_mean_offset():
    from pixscale.report.figures import _chosen_samples

    samples = [
        {"sample": n, "offset_mean": d} for n, d in [("a", 4.0), ("b", 1.0), ("c", None), ("d", 9.0), ("e", 2.0)]
    ]
    picks = _chosen_samples({"samples": samples})
    assert [(label, s["sample"]) for label, s in picks] == [("best", "b"), ("median", "a"), ("worst", "d")]
    assert [label for label, _ in _chosen_samples({"samples": samples[:1]})] == ["best"]


def test_run_report_equals_numpy_on_the_written_files(tmp_path):
    """Every headline number of a run's report.json, recomputed from the output PNGs with NumPy alone."""
    from pixscale import synth
    from pixscale.pipeline.driver import run
    from pixscale.pipeline.options import RunOptions

    synth.write_dataset(tmp_path / "in", n_samples=4, size=160, seed=11, layout="gslrm")
    run(tmp_path / "in", tmp_path / "out", RunOptions(margin="2%"), quiet=True, plots=False)
    doc = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    summary, views = doc["summary"], doc["views"]
    assert doc["meta"]["layout"] == "gslrm" and doc["meta"]["parameters"]["margin"] == "2%"
    assert doc["meta"]["pixscale_version"] == pixscale.__version__ and doc["meta"]["date"]
    sizes, offsets, per_sample = [], [], {}
    for v in views:
        alpha = iio.imread(tmp_path / "out" / v["view"])[..., 3]
        ys, xs = np.nonzero(alpha > 10)
        h, w = alpha.shape
        sizes.append(math.sqrt(xs.size / (h * w)))
        offsets.append(math.hypot(xs.mean() + 0.5 - w / 2, ys.mean() + 0.5 - h / 2))
        per_sample.setdefault(v["sample"], []).append(offsets[-1])
        # The map the cameras record is the one the row reports.
        cams = json.loads((tmp_path / "out" / v["sample"] / "opencv_cameras.json").read_text())
        (entry,) = [e for e in cams["pixscale"]["views"] if v["view"].endswith(e["file_path"])]
        assert entry["map"] == {"scale": v["scale"], "src_center": v["src_center"], "dst_center": v["dst_center"]}
        assert entry["shift"] == v["shift"] and entry["limited"] is v["limited"] is False
    sizes, offsets = np.array(sizes), np.array(offsets)
    after = summary["after"]
    assert after["n"] == len(views) == 24
    for key, want in [("mean", sizes.mean()), ("std", sizes.std()), ("min", sizes.min()), ("max", sizes.max())]:
        assert after[key] == pytest.approx(want, rel=1e-12, abs=1e-15), key
    assert np.all(np.abs(sizes - 0.3) <= 2e-4)
    c = summary["centring"]["after"]
    assert c["mean"] == pytest.approx(offsets.mean(), rel=1e-9)
    assert c["std"] == pytest.approx(offsets.std(), rel=1e-9, abs=1e-12)
    assert c["p95"] == pytest.approx(np.percentile(offsets, 95), rel=1e-9, abs=1e-12)
    assert c["max"] == pytest.approx(offsets.max(), rel=1e-9)
    assert c["mean_pct"] == pytest.approx(100 * offsets.mean() / 160, rel=1e-9)
    assert c["over_50px"] == int(np.sum(offsets > 50))
    assert c["within_sample_std"] == pytest.approx(np.mean([np.std(d) for d in per_sample.values()]), rel=1e-9)
    cv_pct, offset_512 = 100 * sizes.std() / sizes.mean(), offsets.mean() * 512 / 160
    bands = [("A", 1, 5), ("B", 3, 10), ("C", 5, 20)]
    want = next((g for g, cv, off in bands if cv_pct < cv and offset_512 < off), "D")
    assert summary["quality"]["grade"] == want
    moved = [math.hypot(*v["shift"]) for v in views if any(v["shift"])]
    assert summary["placement"]["shifted"] == len(moved) and summary["placement"]["cut"] == 0
