"""The report's numbers computed a record at a time: exact on small runs, bounded on large ones."""

import json
import math

import numpy as np
import pytest

from pixscale._measure import Measurement
from pixscale.pipeline.records import ViewRecord
from pixscale.report import aggregate
from pixscale.report import summary as report
from pixscale.report.aggregate import Aggregate, LogSketch, Reservoir, Stat

SHAPE = (64, 48)
OPTIONS = {"scale": "per-view", "fit": "shift", "exact": True, "center": "centroid", "margin": 0.0, "target": 0.3}


class _T:
    """A transform's numbers, as ViewRecord.written reads them."""

    def __init__(self, rng, limited=False):
        self.scale = float(rng.uniform(0.5, 2))
        self.wanted_scale = self.scale * (1.25 if limited else 1)
        self.limited = limited
        self.shift = (float(rng.integers(-4, 5)), 0.0)
        self.cut_pixels = int(rng.integers(0, 3))
        self.src_center, self.dst_center = (10.0, 12.0), (24.0, 32.0)
        self.achieved_ratio = float(rng.uniform(0.29, 0.31))


def _measurement(rng):
    x0, y0 = (int(v) for v in rng.integers(0, 20, 2))
    w, h = (int(v) for v in rng.integers(4, 24, 2))
    cx, cy = x0 + w * float(rng.uniform(0.3, 0.7)), y0 + h * float(rng.uniform(0.3, 0.7))
    return Measurement(w * h - int(rng.integers(0, w)), (cx, cy), (x0, y0, x0 + w, y0 + h), SHAPE)


def _records(rng, n_samples, views=4):
    """A run's records: written views, some limited, a failed one now and then; a sample's views together."""
    out = []
    for s in range(n_samples):
        for v in range(views):
            name = f"s{s:05d}/v{v}.png"
            if rng.random() < 0.05:
                out.append(ViewRecord.failed(f"s{s:05d}", name, "unreadable"))
                continue
            t = _T(rng, limited=rng.random() < 0.1)
            out.append(
                ViewRecord.written(
                    f"s{s:05d}", name, _measurement(rng), _measurement(rng), t, on_target=bool(rng.random() < 0.9)
                )
            )
    return out


def test_a_stat_is_numpy_exactly_up_to_its_bound_and_close_beyond(rng):
    values = rng.lognormal(0, 1, 1000)
    exact, folded = Stat(quantiles=True, limit=1000), Stat(quantiles=True, limit=64)
    for v in values:
        exact.add(v)
        folded.add(v)
    assert exact.exact and not folded.exact
    assert exact.result() == (values.mean(), values.std(), values.min(), values.max(), 1000)  # the same floats
    assert exact.percentiles([95, 99]) == list(np.percentile(values, [95, 99]))
    mean, std, lo, hi, n = folded.result()
    assert n == 1000 and (lo, hi) == (values.min(), values.max())
    assert mean == pytest.approx(values.mean(), rel=1e-12) and std == pytest.approx(values.std(), rel=1e-12)
    for q, got in zip([95, 99], folded.percentiles([95, 99]), strict=True):
        near = np.percentile(values, q, method="lower"), np.percentile(values, q, method="higher")
        assert near[0] * (1 - 2 * aggregate.SKETCH_ACCURACY) <= got <= near[1] * (1 + 2 * aggregate.SKETCH_ACCURACY)


def test_the_sketch_has_zeros_and_a_bounded_number_of_buckets(rng):
    sketch = LogSketch()
    sketch.fold(np.zeros(50))
    sketch.fold(rng.uniform(0, 1000, 100_000))
    assert sketch.quantile(0.0) == 0.0
    assert sketch.quantile(0.5) == pytest.approx(500, rel=0.02)
    assert len(sketch) <= math.log(1000 / 1e-9) / math.log(sketch.gamma) + 1
    sketch.fold(np.array([np.nan]))
    assert math.isnan(sketch.quantile(0.5))  # as np.percentile of values with a NaN


def test_summarize_is_the_aggregate_of_the_records_and_exact_on_a_small_run(rng):
    records = _records(rng, 30)
    summary = report.summarize(records, target=0.3, options=OPTIONS)
    ok = [r for r in records if r.ok]
    sizes = np.array([r.after.size_ratio for r in ok])
    assert summary["after"]["mean"] == float(sizes.mean()) and summary["after"]["std"] == float(sizes.std())
    px = np.array([math.hypot(r.after.centroid[0] - 24, r.after.centroid[1] - 32) for r in ok])
    assert summary["centring"]["after"]["p99"] == float(np.percentile(px, 99))
    assert summary["n_views"] == len(records) and len(summary["samples"]) == 30
    agg = Aggregate(0.3, OPTIONS)
    for r in records:  # a record at a time, as a run's rows stream past
        agg.add(r)
    assert report.summary_of(agg) == summary


def test_past_its_bound_the_summary_stays_close_to_the_exact_one(rng):
    records = _records(rng, 200)
    exact = report.summarize(records, target=0.3, options=OPTIONS)
    agg = Aggregate(0.3, OPTIONS, exact=50, reservoir=40)
    agg.feed(iter(records))
    folded = report.summary_of(agg)
    for stage in ("before", "after"):
        for key in ("mean", "std", "cv"):
            assert folded[stage][key] == pytest.approx(exact[stage][key], rel=1e-9)
        assert folded[stage]["min"] == exact[stage]["min"] and folded[stage]["n"] == exact[stage]["n"]
        c, e = folded["centring"][stage], exact["centring"][stage]
        assert c["mean"] == pytest.approx(e["mean"], rel=1e-9) and c["max"] == e["max"]
        assert c["p95"] == pytest.approx(e["p95"], rel=0.05)
    for key in ("n_views", "n_ok", "failures", "placement", "specks", "exact", "samples", "quality"):
        assert folded[key] == pytest.approx(exact[key]) if key == "placement" else folded[key] == exact[key], key


def test_the_aggregate_holds_a_bounded_number_of_items_whatever_the_rows(rng):
    k = 100
    agg = Aggregate(0.3, OPTIONS, exact=k, reservoir=k)
    n = 0
    for s in range(2500):  # 10 k views
        for v in range(4):
            n += 1
            t = _T(rng)
            t.shift = (0.0, 0.0)
            agg.add(
                ViewRecord.written(f"s{s}", f"s{s}/v{v}.png", _measurement(rng), _measurement(rng), t, on_target=True)
            )
    stats = [x for x in vars(agg).values() if isinstance(x, Stat)]
    stats += [x for st in agg.stages.values() for x in vars(st).values() if isinstance(x, Stat)]
    assert len(stats) >= 16 and all(len(x.values) <= k for x in stats)
    assert all(x.count > k for x in (agg.scale, agg.stages["after"].px))
    assert len(agg.views.items) == k and agg.views.seen == agg.n_ok > 10 * k
    assert all(len(x.sketch) < 3000 for x in stats if x.sketch is not None)
    assert not agg.failures and not agg.off_target and len(agg.stages["after"].outlier_names) <= 3
    agg.close()
    assert n == 10_000 and len(agg.samples) == 2500  # the one part that grows: a compact row per sample


def test_the_reservoir_is_seeded_bounded_and_whole_on_a_small_stream():
    small = Reservoir(10, seed=3)
    for i in range(10):
        small.add(i)
    assert small.items == list(range(10)) and not small.sampled
    a, b, c = Reservoir(10, seed=3), Reservoir(10, seed=3), Reservoir(10, seed=4)
    for i in range(10_000):
        for r in (a, b, c):
            r.add(i)
    assert a.items == b.items != c.items and len(a.items) == 10 and a.sampled
    assert len(set(a.items)) == 10 and max(a.items) > 1000  # drawn from the whole stream


def test_the_report_json_streamed_is_what_json_dumps_writes(rng, tmp_path):
    for records in ([], _records(rng, 5)):
        summary = report.summarize(records, target=0.3, options=OPTIONS)
        report.write_report(tmp_path, summary, records, plots=False, meta={"input": "x"})
        raw = (tmp_path / "report.json").read_text()
        assert raw == json.dumps(json.loads(raw), indent=2) + "\n"
        assert len(json.loads(raw)["views"]) == len(records)


def test_the_rows_file_holds_report_jsons_views_one_a_line(rng, tmp_path):
    records = _records(rng, 6)
    views = report.write_rows(tmp_path / report.ROWS, iter(records), target=0.3, options=OPTIONS, root=tmp_path)
    report.write_report(tmp_path, report.summary_of(views), records, plots=False, views=views)
    lines = (tmp_path / report.ROWS).read_text().splitlines()
    raw = (tmp_path / "report.json").read_text()
    assert [json.loads(line) for line in lines] == json.loads(raw)["views"]
    assert raw == json.dumps(json.loads(raw), indent=2) + "\n"  # the samples and the views streamed into it
    summary = report.summarize(records, target=0.3, options=OPTIONS)
    assert report.summary_of(views) == summary == json.loads(raw)["summary"]


def _sample_numbers_one_at_a_time(records):
    """The per-sample numbers as they were computed before batching: NumPy over each sample alone, np.hypot a view
    at a time (the definitions the batched aggregate must give exactly)."""
    groups: dict[str, list[ViewRecord]] = {}
    for r in records:
        if r.ok:
            groups.setdefault(r.sample, []).append(r)

    def px(m):
        return float(np.hypot(m.centroid[0] - m.shape[1] / 2, m.centroid[1] - m.shape[0] / 2))

    rows, within_cv, within_std = [], {"before": [], "after": []}, {"before": [], "after": []}
    for rs in groups.values():
        for stage in ("before", "after"):
            ms = [m for r in rs if (m := getattr(r, stage)) is not None]
            if len(ms) >= 2:
                sizes = np.array([m.size_ratio for m in ms])
                mean, std = float(sizes.mean()), float(sizes.std())
                if mean:
                    within_cv[stage].append(std / mean)
            offsets = [px(m) for m in ms if m.centroid is not None]
            if len(offsets) >= 2:
                within_std[stage].append(float(np.std(offsets)))
        stage = "after" if all(r.after is not None for r in rs) else "before"
        ms = [getattr(r, stage) for r in rs]
        offsets = [px(m) for m in ms if m.centroid is not None]
        sizes = [m.size_ratio for m in ms]
        befores = [r.before.size_ratio for r in rs]
        rows.append(
            {
                "size_mean": float(np.mean(sizes)),
                "size_std": float(np.std(sizes)),
                "size_before_mean": float(np.mean(befores)),
                "size_before_std": float(np.std(befores)),
                "offset_mean": float(np.mean(offsets)) if offsets else None,
                "offset_std": float(np.std(offsets)) if offsets else None,
            }
        )
    return rows, within_cv, within_std


@pytest.mark.parametrize("batch", [3, aggregate.BATCH])
def test_sample_and_centring_numbers_computed_in_batches_are_numpys_of_each_sample_exactly(rng, monkeypatch, batch):
    monkeypatch.setattr(aggregate, "BATCH", batch)
    records = []
    for s, n in enumerate([1, 2, 3, 7, 8, 9, 12, 12, 16, 17, 64, 65, 70, 12, 5, 12, 1]):
        for v in range(n):
            name, kind = f"s{s:02d}", rng.random()
            if kind < 0.05:
                records.append(ViewRecord.failed(name, f"{name}/{v}.png", "unreadable"))
            elif kind < 0.15 and s % 3 == 0:  # measured only: a sample of mixed stages is reported before
                records.append(ViewRecord.measured(name, f"{name}/{v}.png", _measurement(rng)))
            else:
                after = _measurement(rng)
                if kind > 0.95:
                    after = Measurement(0, None, None, SHAPE)  # an empty output: no centroid
                records.append(
                    ViewRecord.written(name, f"{name}/{v}.png", _measurement(rng), after, _T(rng), on_target=True)
                )
    summary = report.summarize(records, target=0.3, options=OPTIONS)
    rows, within_cv, within_std = _sample_numbers_one_at_a_time(records)
    got = [{k: row[k] for k in rows[0]} for row in summary["samples"]]
    assert got == rows
    for stage in ("before", "after"):
        cv = within_cv[stage]
        assert summary["within_sample_cv"][stage] == {"mean": float(np.mean(cv)), "max": max(cv), "n_samples": len(cv)}
        assert summary["centring"][stage]["within_sample_std"] == float(np.mean(within_std[stage]))
        px = np.array(
            [
                float(np.hypot(m.centroid[0] - m.shape[1] / 2, m.centroid[1] - m.shape[0] / 2))
                for r in records
                if r.ok and (m := getattr(r, stage)) is not None and m.centroid is not None
            ]
        )
        c = summary["centring"][stage]
        assert (c["mean"], c["std"], c["max"], c["n"]) == (float(px.mean()), float(px.std()), float(px.max()), px.size)
        assert [c["p95"], c["p99"]] == [float(p) for p in np.percentile(px, [95, 99])]
        assert c["mean_pct"] == float(np.mean([100 * p / max(SHAPE) for p in px]))
        assert c["grade_px"] == float(np.mean([p * 512 / max(SHAPE) for p in px]))
        assert c["over_50px"] == int((px > 50).sum())
