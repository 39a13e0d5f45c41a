"""No silent wait: the compile is announced, the report's figures and ``pixscale bench`` are counted.

The library says it through the ``"pixscale"`` logger, an ``announce`` callback
or a ``progress(total=, unit=)`` factory; the command shows it on standard
error, never on standard output (a pipe reads that as data), and not at all
with ``--quiet``.
"""

import pytest

from pixscale import bench, synth
from pixscale._precompile import compile_notice, precompile
from pixscale.cli import main
from pixscale.kernels import cache
from pixscale.pipeline.driver import run

NOTICE = "compiling pixscale's kernels for uint8 images"


class Bar:
    """A progress factory that records what it was told."""

    made: list["Bar"] = []

    def __init__(self, total, unit):
        self.total, self.unit, self.done, self.closed = total, unit, 0, 0
        Bar.made.append(self)

    def update(self, n=1):
        self.done += n

    def close(self):
        self.closed += 1


@pytest.fixture
def bars():
    Bar.made = []
    return Bar.made


@pytest.fixture
def cold(monkeypatch):
    """A kernel cache that holds nothing yet, as the first run sees it: the markers live in a set."""
    marked: set[str] = set()
    monkeypatch.setattr(cache, "is_warm", lambda label: label in marked)
    monkeypatch.setattr(cache, "mark_warm", marked.add)
    return marked


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    src = tmp_path_factory.mktemp("waits") / "in"
    synth.write_dataset(src, n_samples=2, n_views=2, size=48, seed=1, layout="gslrm")
    return src


def test_the_compile_notice_names_what_is_compiled_and_promises_no_time():
    assert compile_notice(["uint8"]) == (
        "compiling pixscale's kernels for uint8 images (first use only: later runs load them from the cache)…"
    )
    assert "uint8 and uint16 images with the lanczos4 and area filters (" in compile_notice(
        ["uint8", "uint16"], ["lanczos4", "area"]
    )
    assert " s)" not in compile_notice(["uint8"], ["auto"])


def test_a_run_with_another_filter_announces_it(cold):
    said: list[str] = []
    assert precompile(["uint8"], announce=said.append, filter="auto") == ("uint8",)
    assert said == [compile_notice(["uint8"], ["auto"])] and "with the auto filter (" in said[0]
    assert cold == {"uint8-4ch-auto", "uint8-2ch-auto"}  # both channel counts: a call names no image


def test_a_cold_cache_is_announced_once_per_process_on_stderr(small, tmp_path, capsys, cold):
    assert main(["run", str(small), str(tmp_path / "a"), "--jobs", "1", "--pool", "threads", "--no-plots"]) == 0
    out, err = capsys.readouterr()
    assert f"{NOTICE} (first use only" in err and NOTICE not in out
    assert err.index(NOTICE) < err.index("running on 1 thread")  # before the work starts
    # Marked for its RGBA views alone: the next run in this process (or any later one) loads them.
    assert "uint8-4ch" in cold and "uint8-2ch" not in cold
    assert main(["run", str(small), str(tmp_path / "b"), "--jobs", "1", "--pool", "threads", "--no-plots"]) == 0
    assert NOTICE not in capsys.readouterr().err


def test_a_quiet_run_announces_no_compile(small, tmp_path, capsys, cold):
    assert main(["run", str(small), str(tmp_path / "a"), "--jobs", "1", "--pool", "threads", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_the_report_figures_are_counted_by_the_runs_progress_factory(small, tmp_path, capsys, bars):
    pytest.importorskip("matplotlib")
    run(small, tmp_path / "out", jobs=1, pool="threads", progress=Bar)
    assert capsys.readouterr() == ("", "")
    views, figures = bars
    assert (views.total, views.unit, views.done, views.closed) == (4, "view", 4, 1)
    # size ratios, centre offsets, per sample, scales and the contact sheet
    assert (figures.total, figures.unit, figures.done, figures.closed) == (5, "figure", 5, 1)
    assert len(list((tmp_path / "out" / "pixscale-report").glob("*.png"))) == 5


def test_a_quiet_run_draws_its_figures_without_progress(small, tmp_path):
    pytest.importorskip("matplotlib")
    run(small, tmp_path / "out", jobs=1, pool="threads", quiet=True, progress=pytest.fail)
    assert len(list((tmp_path / "out" / "pixscale-report").glob("*.png"))) == 5


def test_stats_says_it_writes_the_report_on_stderr_and_counts_the_figures(small, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["stats", str(small), "--report-dir", str(tmp_path / "r"), "--jobs", "1"]) == 0
    out, err = capsys.readouterr()
    assert "writing the report and drawing its figures\n" in err and "4/4" in err and "figure" in err
    assert "figure" not in out and "writing" not in out
    assert main(["stats", str(small), "--report-dir", str(tmp_path / "q"), "--jobs", "1", "--json"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("{") and "writing the report" in err  # --json's output is all stdout holds
    assert main(["stats", str(small), "--report-dir", str(tmp_path / "s"), "--jobs", "1", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_bench_counts_its_cases_and_announces_its_compile(bars, cold):
    said: list[str] = []
    rows = bench.run([32], [0.7], reference=False, budget=0.001, progress=Bar, announce=said.append)
    ((bar),) = bars
    assert (bar.total, bar.unit, bar.done, bar.closed) == (len(rows), "case", len(rows), 1)
    assert len(rows) == 7  # measure, warp premultiplied, straight, lanczos4 and area (a downscale), 2 normalizes
    assert said == [compile_notice(["uint8"], ["lanczos4", "area"])]
    assert cold == {"bench-uint8"}  # once per cache: the next bench says nothing
    bench.run([32], [1.13], reference=False, budget=0.001, announce=said.append)
    assert len(said) == 1


def test_the_bench_command_shows_its_count_on_stderr_and_only_the_table_on_stdout(capsys, cold):
    args = ["bench", "--sizes", "32", "--scales", "1.13", "--budget", "0.001"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert out.startswith("| operation |") and len(out.splitlines()) == 2 + 6
    assert f"{NOTICE} with the lanczos4 and area filters (first use only" in err and "6/6" in err and "case" in err
    cold.clear()
    assert main([*args, "--quiet"]) == 0
    quiet_out, quiet_err = capsys.readouterr()
    assert quiet_err == "" and quiet_out.startswith("| operation |") and len(quiet_out.splitlines()) == 2 + 6
