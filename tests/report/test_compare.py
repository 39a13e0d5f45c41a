"""pixscale compare: runs side by side, from their reports or by measuring folders."""

import json

import numpy as np
import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import RunOptions
from pixscale.report.compare import compare


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    synth.write_dataset(root / "in", n_samples=3, size=128, seed=2, layout="gslrm")
    run(root / "in", root / "view", quiet=True, plots=False)
    run(root / "in", root / "sample", RunOptions(scale="per-sample"), quiet=True, plots=False)
    return root


def test_compare_reads_reports_and_measures_plain_folders(runs, tmp_path):
    got, written = compare(
        [runs / "in", runs / "view", runs / "sample" / "pixscale-report" / "report.json"],
        tmp_path / "c",
        labels=["original", "per-view", "per-sample"],
        order="given",
    )
    assert [p.name for p in written] == ["compare.json", "compare.md", "compare.png", "compare_grid.png"]
    original, view, sample = got
    assert (original["source"], original["stage"]) == ("measured", "as-is")
    assert (view["source"], view["stage"]) == ("report", "after")
    for entry, folder in ((view, "view"), (sample, "sample")):
        summary = json.loads((runs / folder / "pixscale-report" / "report.json").read_text())["summary"]
        assert (
            entry["size_cv"] == summary["after"]["cv"] and entry["offset_mean"] == summary["centring"]["after"]["mean"]
        )
        assert entry["grade"] == summary["quality"]["grade"] and entry["views"] == 18
    before = json.loads((runs / "view" / "pixscale-report" / "report.json").read_text())["summary"]["before"]
    assert original["size_mean"] == pytest.approx(before["mean"], rel=1e-12)
    assert original["limited"] is None and original["shifted"] is None  # unknown for a folder measured as it is
    assert view["size_cv"] < 1e-3 < sample["size_cv"]
    md = written[1].read_text()
    assert "| size ratio CV (per view) |" in md and "original" in md and "![comparison](compare.png)" in md
    assert json.loads(written[0].read_text())["runs"][1]["name"] == "per-view"


def test_compare_command_and_its_errors(runs, tmp_path, capsys):
    assert main(["compare", str(runs / "view"), str(runs / "sample"), "--out", str(tmp_path / "c"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "view" in out.splitlines()[1] and "sample" in out.splitlines()[1] and "grade" in out
    assert not (tmp_path / "c" / "compare.png").exists()
    assert main(["compare", str(runs / "view"), "--labels", "a,b", "--out", str(tmp_path / "d")]) == 2
    assert "gives 2 names for 1 runs" in capsys.readouterr().err  # the CLI names the option as --labels
    with pytest.raises(ValueError, match="`labels=` gives 2 names for 1 runs"):  # the library as `labels=`
        compare([runs / "view"], tmp_path / "d", labels=["a", "b"])
    assert main(["compare", str(tmp_path / "nope"), "--out", str(tmp_path / "e")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text("{not json")
    assert main(["compare", str(tmp_path / "bad"), "--out", str(tmp_path / "f")]) == 2
    assert "is not a pixscale report.json" in capsys.readouterr().err


def test_numbers_cells(runs, tmp_path):
    from pixscale.report.compare import format_table

    got, _ = compare([runs / "view"], tmp_path / "c", plots=False)
    table = format_table(got)
    (row,) = [line for line in table.splitlines() if line.startswith("size ratio mean")]
    assert row.split()[-1] == f"{100 * got[0]['size_mean']:.2f}%"
    assert np.isclose(got[0]["size_mean"], 0.3, atol=2e-4)


def test_a_report_without_readable_views_is_compared_without_its_grid(runs, tmp_path):
    """A run's report.json whose views cannot be read (here: none) still gives its numbers; no grid cell, no error."""
    data = json.loads((runs / "view" / "pixscale-report" / "report.json").read_text())
    del data["views"]
    (tmp_path / "lone").mkdir()
    (tmp_path / "lone" / "report.json").write_text(json.dumps(data))
    got, _ = compare([runs / "view", tmp_path / "lone" / "report.json"], tmp_path / "c", plots=False)
    assert [g["source"] for g in got] == ["report", "report"]
    assert got[1]["size_cv"] == data["summary"]["after"]["cv"] and got[1]["touching_edge"] is None
