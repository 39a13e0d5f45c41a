"""pixscale compare beside FaceLift's compare_preprocessing_all.py: order, criteria, recommendation, sample CV."""

import json

import numpy as np
import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import RunOptions
from pixscale.report.compare import ORDERS, compare, criteria, format_table, ordered, recommend
from pixscale.report.quality import GRADES


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 4-sample dataset (its input measured as a folder), a per-view run (grade A) and a per-sample run."""
    root = tmp_path_factory.mktemp("parity")
    synth.write_dataset(root / "in", n_samples=4, size=96, seed=5, layout="gslrm")
    run(root / "in", root / "view", quiet=True, plots=False)
    run(root / "in", root / "sample", RunOptions(scale="per-sample"), quiet=True, plots=False)
    return root


def _report(root, name):
    return json.loads((root / name / "pixscale-report" / "report.json").read_text())


def _cv(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.std(values) / np.mean(values))


# --- (1) sorted by grade, or as given ------------------------------------------------------------


def test_runs_are_sorted_best_grade_first_or_as_given(runs, tmp_path):
    paths = [runs / "in", runs / "sample", runs / "view"]
    got, written = compare(paths, tmp_path / "g", plots=False)
    assert [r["name"] for r in got] == ["view", "sample", "in"]  # A, then by grade / size CV, measured D last
    assert [r["grade"] for r in got][0] == "A" and got[-1]["grade"] == "D"
    assert [r["name"] for r in json.loads(written[0].read_text())["runs"]] == ["view", "sample", "in"]
    assert "best grade first" in written[1].read_text()
    given, written = compare(paths, tmp_path / "o", plots=False, order="given", labels=["a", "b", "c"])
    assert [r["name"] for r in given] == ["a", "b", "c"]  # labels follow the arguments, not the sort
    assert "in the order given" in written[1].read_text()
    labelled, _ = compare(paths, tmp_path / "l", plots=False, labels=["a", "b", "c"])
    assert [r["name"] for r in labelled] == ["c", "b", "a"]
    with pytest.raises(ValueError, match="`order=` is 'size'"):
        compare(paths, tmp_path / "x", plots=False, order="size")
    assert ORDERS == ("grade", "given")


def test_order_is_stable_and_breaks_ties_by_size_cv_then_offset():
    def entry(name, grade, cv, px):
        return {"name": name, "grade": grade, "size_cv": cv, "grade_px": px, "source": "report"}

    runs = [
        entry("c", "C", 0.001, 1.0),
        entry("b2", "B", 0.02, 9.0),
        entry("b1", "B", 0.01, 9.5),
        entry("n", None, None, None),
    ]
    runs += [entry("b3", "B", 0.01, 2.0), entry("d", "D", 0.0, 0.0)]
    assert [r["name"] for r in ordered(runs)] == ["b3", "b1", "b2", "c", "d", "n"]
    assert [r["name"] for r in ordered(runs, "given")] == [r["name"] for r in runs]


def test_command_order_option(runs, tmp_path, capsys):
    argv = ["compare", str(runs / "in"), str(runs / "view"), "--no-plots"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["view", "in"] and "best grade first" in table[0]
    assert main([*argv, "--out", str(tmp_path / "b"), "--order", "given"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["in", "view"] and "in the order given" in table[0]


# --- (2) the grading criteria -----------------------------------------------------------------


def test_grading_criteria_are_printed_and_written(runs, tmp_path, capsys):
    header, rows = criteria()
    assert [r[0] for r in rows] == ["A", "B", "C", "D"]
    for (letter, label, cv, px), row in zip(GRADES, rows, strict=False):
        assert row == [letter, label, f"< {cv:g}%", f"< {px:g} px"]
    assert main(["compare", str(runs / "view"), "--out", str(tmp_path / "c"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "grading criteria:" in out and "< 1%" in out and "< 20 px" in out and "Needs improvement" in out
    md = (tmp_path / "c" / "compare.md").read_text()
    assert "## Grading criteria" in md and "| A | Excellent | < 1% | < 5 px |" in md
    assert "| D | Needs improvement | anything else | anything else |" in md


# --- (3) the recommended line -----------------------------------------------------------------


def test_recommended_names_the_run_and_the_reason(runs, tmp_path, capsys):
    def entry(name, grade, cv, px, source="report"):
        return {"name": name, "grade": grade, "size_cv": cv, "grade_px": px, "source": source}

    only = recommend([entry("x", "C", 0.04, 1.0), entry("y", "A", 0.002, 3.0)])
    assert only.startswith("recommended: y: the only run of grade A") and "0.20% per view" in only
    two = recommend([entry("x", "B", 0.02, 1.0), entry("y", "B", 0.01, 9.0)])
    assert two.startswith("recommended: y: grade B, then the lowest size ratio CV per view (1.00%) of the 2")
    tie = recommend([entry("x", "A", 0.0, 4.0), entry("y", "A", 0.0, 1.5)])
    assert tie.startswith("recommended: y: grade A, equal size ratio CV") and "(1.50 px of 512)" in tie
    none = recommend([entry("x", "C", 0.04, 1.0), entry("y", "D", 0.2, 1.0)])
    assert none == "recommended: none: no run reaches grade A or B (the best is x, grade C)"
    measured = recommend([entry("f", "A", 0.001, 1.0, source="measured")])
    assert "cut off cannot be known" in measured
    failed = recommend([{**entry("x", "A", 0.001, 1.0), "failed": 2}])
    assert failed.endswith("; 2 of its views failed and are not in its numbers")

    assert main(["compare", str(runs / "in"), str(runs / "view"), "--out", str(tmp_path / "c"), "--no-plots"]) == 0
    assert "recommended: view: the only run of grade A" in capsys.readouterr().out
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert data["recommended"].startswith("recommended: view:")
    assert "## Recommended\n\nview: the only run of grade A" in (tmp_path / "c" / "compare.md").read_text()


# --- (4) size CV as the original defines it, beside the per-view CV; offset std ---------------------


def test_size_cv_of_sample_means_beside_per_view_cv(runs, tmp_path):
    got, written = compare([runs / "in", runs / "view", runs / "sample"], tmp_path / "c", plots=False, order="given")
    measured, view, sample = got
    data = _report(runs, "view")
    by_sample = {}
    for row in data["views"]:  # the per-view rows, grouped and averaged here: the original's definition
        by_sample.setdefault(row["sample"], []).append((row["before"]["size_ratio"], row["after"]["size_ratio"]))
    before = [np.mean([b for b, _ in v]) for v in by_sample.values()]
    after = [np.mean([a for _, a in v]) for v in by_sample.values()]
    assert measured["size_cv_samples"] == pytest.approx(_cv(before), rel=1e-9)
    assert view["size_cv_samples"] == pytest.approx(_cv(after), rel=1e-9, abs=1e-12)
    assert measured["samples"] == view["samples"] == 4
    # per-sample scaling keeps each sample's spread: per view it shows, of sample means it hides
    assert sample["size_cv_samples"] < 1e-3 < sample["size_cv"]
    assert view["offset_std"] == data["summary"]["centring"]["after"]["std"]
    assert measured["offset_std"] == pytest.approx(data["summary"]["centring"]["before"]["std"], rel=1e-9)
    md = written[1].read_text()
    assert "| size ratio CV (per view) |" in md and "| size ratio CV (of sample means) |" in md
    assert "| centroid offset std (px, per view) |" in md
    text = format_table(got)
    (row,) = [line for line in text.splitlines() if line.startswith("size ratio CV (of sample means)")]
    assert row.split()[-3:] == [f"{100 * r['size_cv_samples']:.2f}%" for r in got]


# --- (5) a measured folder is no run's "before", and says what it cannot know ----------------------


def test_measured_folder_says_what_it_cannot_know(runs, tmp_path, capsys):
    assert main(["compare", str(runs / "in"), "--out", str(tmp_path / "c"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "before" not in out
    cut = next(line for line in out.splitlines() if line.startswith("cut off"))
    assert cut.split(maxsplit=2)[2] == "unknown (not a pixscale run); 0 touch the edge"
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    (entry,) = data["runs"]
    assert entry["stage"] == "as-is" and entry["kind"] == "measured folder"
    assert "before" not in (tmp_path / "c" / "compare.md").read_text()


# --- (6) --num-samples for a quick look ---------------------------------------------------------


def test_num_samples_takes_the_first_samples_of_each(runs, tmp_path):
    got, written = compare([runs / "in", runs / "view"], tmp_path / "c", plots=False, order="given", num_samples=2)
    measured, view = got
    assert measured["samples"] == view["samples"] == 2 and measured["views"] == view["views"] == 12
    rows = [r for r in _report(runs, "view")["views"] if r["sample"] in ("sample_000", "sample_001")]
    assert len(rows) == 12
    assert view["size_mean"] == pytest.approx(np.mean([r["after"]["size_ratio"] for r in rows]), rel=1e-12)
    assert measured["size_mean"] == pytest.approx(np.mean([r["before"]["size_ratio"] for r in rows]), rel=1e-9)
    md = written[1].read_text()
    assert "the first 2 samples of each" in md.splitlines()[2]
    assert json.loads(written[0].read_text())["num_samples"] == 2
    everything, written = compare([runs / "view"], tmp_path / "d", plots=False, num_samples=10)
    assert everything[0]["samples"] == 4 and "all samples" not in written[1].read_text()  # asked 10: has 4
    default, written = compare([runs / "view"], tmp_path / "e", plots=False)
    assert default[0]["views"] == 24 and "; all samples." in written[1].read_text()
    with pytest.raises(ValueError, match="`num_samples=` is 0"):
        compare([runs / "view"], tmp_path / "f", num_samples=0)


def test_command_num_samples(runs, tmp_path, capsys):
    argv = ["compare", str(runs / "view"), "--no-plots", "--out", str(tmp_path / "c")]
    assert main([*argv, "--num-samples", "1"]) == 0
    out = capsys.readouterr().out
    assert "the first 1 samples of each" in out.splitlines()[0]
    assert next(line for line in out.splitlines() if line.startswith("views")).split()[-1] == "6"
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--num-samples", "0"])
    assert exc.value.code == 2 and "at least 1" in capsys.readouterr().err


# --- the comparison grid: the same view from every run, a row per sample ---------------------------


def test_grid_shows_the_same_view_of_every_run_a_row_per_sample(runs, tmp_path):
    from PIL import Image

    from pixscale.report.compare_grid import GRID_SAMPLES, grid, shown_views
    from pixscale.report.sheet import CELL, LABELS

    got, written = compare([runs / "in", runs / "view", runs / "sample"], tmp_path / "c")
    assert [p.name for p in written] == ["compare.json", "compare.md", "compare.png", "compare_grid.png"]
    with Image.open(written[-1]) as image:  # 4 samples (fewer than GRID_SAMPLES) x 3 runs
        assert image.size == (LABELS + 3 * CELL[1], min(4, GRID_SAMPLES) * CELL[0])
    assert "![grid](compare_grid.png)" in written[1].read_text()
    _, written = compare([runs / "in", runs / "view"], tmp_path / "n", num_samples=2)
    with Image.open(written[-1]) as image:
        assert image.size == (LABELS + 2 * CELL[1], 2 * CELL[0])
    _, written = compare([runs / "view"], tmp_path / "p", plots=False)
    assert not (tmp_path / "p" / "compare_grid.png").exists()

    rows = _report(runs, "view")["views"]
    shown = shown_views(rows, runs / "view", "after")
    assert list(shown) == [f"sample_{i:03d}" for i in range(4)]
    key, path, m = shown["sample_001"]
    first = next(r for r in rows if r["sample"] == "sample_001")
    assert key == first["view"] and path == runs / "view" / first["view"] and path.is_file()
    assert m.size_ratio == first["after"]["size_ratio"]
    assert len(shown_views(rows, runs / "view", "after", n=2)) == 2
    # a run without a sample's view shows a message there, not a failure
    assert grid(["a", "b"], [shown, {}]).startswith(b"\x89PNG") and grid(["a"], [{}]) is None


def test_measured_folder_counts_objects_touching_the_edge(tmp_path):
    """What a folder can say of cut views: which objects reach the border (an object cut inside cannot be told)."""
    from pixscale.pipeline.io import write_png

    folder = tmp_path / "other"
    folder.mkdir()
    for k in range(4):
        img = synth.mouse_view(np.random.default_rng(k), size=96)
        if k < 3:  # moved to the left edge: the object is cut there
            alpha = img[..., 3] > 10
            cols = np.flatnonzero(alpha.any(axis=0))
            img = np.roll(img, -int(cols[0]) - 5, axis=1)
            img[:, -5:] = 0
        write_png(folder / f"v{k}.png", img)
    (entry,), written = compare([folder], tmp_path / "c", plots=False)
    assert entry["touching_edge"] == 3 and entry["cut"] is None
    md = written[1].read_text()
    assert "| cut off | unknown (not a pixscale run); 3 touch the edge |" in md
    # the same folder's `pixscale stats` report says the same (it measured; it ran nothing)
    assert main(["stats", str(folder), "--report-dir", str(tmp_path / "r"), "--no-plots", "--quiet"]) == 0
    (entry,), _ = compare([tmp_path / "r"], tmp_path / "d", plots=False)
    assert (entry["kind"], entry["stage"], entry["touching_edge"]) == ("measured folder", "as-is", 3)


def test_stats_num_samples_measures_the_first_n_and_says_so(runs, tmp_path, capsys):
    """`pixscale stats --num-samples N` (issue #24 item 3): the first N samples by name, said in the heading."""
    args = ["stats", str(runs / "in"), "--num-samples", "2", "--report-dir", str(tmp_path / "r"), "--no-plots"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("pixscale quality report: the first 2 samples\n")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert "the first 2 samples" in (tmp_path / "r" / "report.html").read_text()  # stats writes the page too
    names = sorted({s["sample"] for s in _report(runs, "view")["summary"]["samples"]})
    assert [s["sample"] for s in report["summary"]["samples"]] == names[:2] and report["summary"]["num_samples"] == 2
    assert (tmp_path / "r" / "report.md").read_text().startswith("# pixscale quality report: the first 2 samples\n")
    assert main(["stats", str(runs / "in"), "--json"]) == 0  # without it: every sample, the heading as before
    whole = json.loads(capsys.readouterr().out)["summary"]
    assert len(whole["samples"]) == 4 and "num_samples" not in whole
    with pytest.raises(SystemExit):
        main(["stats", str(runs / "in"), "--num-samples", "0"])
