"""The report of a run of more views than a report lists: report.json names views.jsonl, report.md lists the flagged."""

import json
import types

import pytest

from pixscale._measure import Measurement
from pixscale.pipeline.manifest import ManifestLog, Results, RunRecords
from pixscale.pipeline.records import ViewRecord
from pixscale.report import aggregate, compare
from pixscale.report import summary as report
from pixscale.report.rowtext import Sections, shown_row
from pixscale.report.text import _view_line, flagged, same

SHAPE = (32, 32)
OPTIONS = {"scale": "per-view", "fit": "shift", "exact": True, "center": "centroid", "margin": 0.0, "target": 0.3}


class _T:
    """A transform's numbers, as ViewRecord.written reads them."""

    def __init__(self, rng, cut):
        self.scale = self.wanted_scale = float(rng.uniform(0.5, 1.5))
        self.limited = False
        self.shift = (0.0, 0.0)
        self.cut_pixels = cut
        self.src_center, self.dst_center = (12.0, 14.0), (16.0, 16.0)
        self.achieved_ratio = float(rng.uniform(0.29, 0.31))


def _records(rng, n_samples, views=4, flag_every=7):
    """Written views, a sample's together; every ``flag_every``-th is flagged (failed, cut, off target, off centre)."""
    out = []
    for i in range(n_samples * views):
        sample = f"s{i // views:04d}"
        name = f"{sample}/v{i % views}.png"
        kind = (i // flag_every) % 4 if i % flag_every == 0 else None
        if kind == 0:
            out.append(ViewRecord.failed(sample, name, "unreadable"))
            continue
        before = Measurement(int(rng.integers(80, 400)), tuple(float(v) for v in rng.uniform(10, 22, 2)), None, SHAPE)
        centre = (80.0, 16.0) if kind == 3 else (16.0 + float(rng.normal(0, 0.2)), 16.0)  # 64 px off centre
        after = Measurement(307, centre, (6, 6, 26, 26), SHAPE)
        t = _T(rng, cut=5 if kind == 1 else 0)
        out.append(ViewRecord.written(sample, name, before, after, t, on_target=kind != 2))
    return out


def _report(tmp_path, records, listed):
    """The report folder of ``records`` as a run writes it (rows file, then report.json and report.md)."""
    sections = Sections(same, listed)
    try:
        views = report.write_rows(
            tmp_path / report.ROWS, iter(records), target=0.3, options=OPTIONS, root=tmp_path, sections=sections
        )
        report.write_report(
            tmp_path,
            report.summary_of(views),
            records,
            plots=False,
            meta={"input": "x"},
            views=views,
            rows=tmp_path / report.ROWS,
            sections=sections,
        )
    finally:
        sections.discard()
    return sections


def test_a_run_above_the_limit_names_its_rows_file_and_lists_the_flagged_views(rng, tmp_path):
    records = _records(rng, 30)
    sections = _report(tmp_path, records, listed=40)
    assert not sections.listed and sections.n == len(records) == 120
    raw = (tmp_path / "report.json").read_text()
    data = json.loads(raw)
    assert raw == json.dumps(data, indent=2) + "\n"
    assert list(data) == ["meta", "summary", "views_file"] and data["views_file"] == report.ROWS
    # the summary is the whole run's, and the rows file holds every view: report_views reads it
    assert data["summary"] == report.summarize(records, target=0.3, options=OPTIONS)
    lines = (tmp_path / report.ROWS).read_text().splitlines()
    rows = list(report.report_views(data, tmp_path))
    assert rows == [json.loads(line) for line in lines] == [r.as_row() for r in records]
    # report.md: the flagged views only, in order, after a note saying where the rest are
    md = (tmp_path / "report.md").read_text()
    shown = [r for r in records if flagged(r)]
    assert len(shown) == sections.n_flagged == 18  # every 7th view of 120
    assert md.endswith("\n".join(_view_line(r) for r in shown) + "\n")
    assert f"This run has 120 views, more than the 40 a report lists: every view's row is in {report.ROWS}" in md
    assert "Listed here: the 18 flagged views (failed, cut off" in md
    assert all(_view_line(r) not in md for r in records if not flagged(r))
    kinds = {(r.ok, bool(r.cut_pixels), r.on_target, r.after is not None and r.after.centroid[0] > 60) for r in shown}
    assert len(kinds) == 4  # failed, cut, off target, off centre: each flagged


def test_the_flagged_views_listed_are_bounded_by_the_limit(rng, tmp_path):
    records = _records(rng, 30, flag_every=2)
    sections = _report(tmp_path, records, listed=20)
    md = (tmp_path / "report.md").read_text()
    shown = [r for r in records if flagged(r)]
    assert sections.n_flagged == len(shown) == 60
    assert md.endswith("\n".join(_view_line(r) for r in shown[:20]) + "\n")
    assert "Listed here: the 60 flagged views, the first 20 of them (" in md


@pytest.mark.parametrize("extra", [0, 1])
def test_a_run_of_the_limit_is_listed_whole_and_one_more_view_is_not(rng, tmp_path, extra):
    records = _records(rng, 10)  # 40 views
    _report(tmp_path / "a", records, listed=40 - extra)
    summary = report.summarize(records, target=0.3, options=OPTIONS)
    report.write_report(tmp_path / "b", summary, records, plots=False, meta={"input": "x"})
    for name in ("report.json", "report.md"):
        same_bytes = (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert same_bytes is (extra == 0), name


def test_the_limit_is_the_aggregates_exact_bound_read_when_made(monkeypatch):
    def limit():
        sections = Sections(same)
        sections.discard()
        return sections.limit

    assert limit() == aggregate.EXACT == 10_000
    monkeypatch.setattr(aggregate, "EXACT", 3)
    assert limit() == 3


def test_compare_reads_a_large_runs_views_from_its_rows_file(rng, tmp_path):
    records = _records(rng, 12)
    _report(tmp_path / "large", records, listed=10)
    _report(tmp_path / "listed", records, listed=1000)
    assert "views_file" in json.loads((tmp_path / "large" / "report.json").read_text())
    for n in (None, 3):
        large = compare.load(tmp_path / "large" / "report.json", num_samples=n)
        listed = compare.load(tmp_path / "listed" / "report.json", num_samples=n)
        assert {**large, "name": "", "path": ""} == {**listed, "name": "", "path": ""}
    assert compare.load(tmp_path / "large", num_samples=3)["samples"] == 3


def test_a_views_file_that_is_no_plain_name_is_refused(tmp_path):
    for name in ("../views.jsonl", "/etc/passwd", "", ".", 5):
        with pytest.raises(ValueError, match="views_file"):
            report.report_views({"views_file": name}, tmp_path)
    assert report.report_views({"views": [{"a": 1}]}, tmp_path) == [{"a": 1}]
    assert report.report_views({}, tmp_path) is None


def _run_records(tmp_path, records, odd_lines=()):
    """``records`` as a run returns them: read back from a manifest that ManifestLog wrote (a line per sample);
    the samples in ``odd_lines`` get a line of the same rows in another form (indented, keys reordered)."""
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"pixscale": "test"}\n')
    groups: dict[str, list[ViewRecord]] = {}
    for r in records:
        groups.setdefault(r.sample, []).append(r)
    results = Results(manifest)
    with ManifestLog(manifest) as log:
        for name, rs in groups.items():
            entry = {"sample": name, "inputs": [], "rows": rs, "outputs": []}
            if name not in odd_lines:
                results.add(name, log.append(entry), len(rs))
                continue
            rows = [r.as_row() for r in rs]  # the same rows, another text: indented, or keys in another order
            if name == odd_lines[0]:
                text = json.dumps({**entry, "rows": rows}, indent=1).replace("\n", " ")
            else:
                text = json.dumps({**entry, "rows": [dict(reversed(row.items())) for row in rows]})
            log._f.write((text + "\n").encode())
            log._f.flush()
            results.add(name, log.offset, len(rs))
            log.offset += len(text) + 1
    return RunRecords([types.SimpleNamespace(name=n) for n in groups], results)


def test_the_rows_file_takes_each_rows_text_from_the_manifest_as_shown_row_would_write_it(rng, tmp_path):
    records = _records(rng, 6)
    m = Measurement(300, (15.5, 16.0), (1, 1, 20, 20), SHAPE)
    records[5] = ViewRecord.measured("s0001", "s0001/v1-\udcff.png", m)  # a name made printable in the rows file
    nan = Measurement(300, (float("nan"), 16.0), (1, 1, 20, 20), SHAPE)
    records[9] = ViewRecord.written("s0002", "s0002/v1.png", nan, m, _T(rng, 0), on_target=True)  # NaN: null
    run = _run_records(tmp_path, records, odd_lines=("s0003", "s0004"))
    assert [json.dumps(r.as_row()) for r in run] == [json.dumps(r.as_row()) for r in records]  # NaN != NaN
    stored = list(run.with_text())
    texts = [known[1] for _, known in stored]
    assert all(t is None for t in texts[12:16])  # an indented line: its rows alone
    assert all(t is not None for t in texts[:12] + texts[16:])  # json.dumps' compact lines: each row's own text
    assert texts[:12] == [json.dumps(r.as_row()) for r in records[:12]]
    report.write_rows(tmp_path / "a.jsonl", run, target=0.3, root=tmp_path)
    report.write_rows(tmp_path / "b.jsonl", list(run), target=0.3, root=tmp_path)
    a, b = (tmp_path / "a.jsonl").read_bytes(), (tmp_path / "b.jsonl").read_bytes()
    assert a == b and b"null, 16.0" in a and b"\\\\xff" in a
    for line, r in zip(a.decode().splitlines(), records, strict=True):
        assert line == shown_row(r)[1]
