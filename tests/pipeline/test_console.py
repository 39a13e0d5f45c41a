"""The library speaks Python, the command speaks flags: messages, progress and the option -> flag table."""

import logging

import pytest

from pixscale import synth
from pixscale.cli import build_parser, main
from pixscale.console import flag_table, messages, to_flags
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import OPTION_NAMES

TABLE = flag_table(build_parser())


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("pass `resume=True` to finish it", "pass --resume to finish it"),
        ("run without `exact=False`", "run without --no-exact"),
        ('`keep="largest"` leaves them out', "--keep largest leaves them out"),
        ('only with `min_component=` or `keep="largest"`', "only with --min-component or --keep largest"),
        ("`min_component=0.05`", "--min-component 0.05"),
        ('`scheduler="local:N"` takes a number', "--scheduler local:N takes a number"),
        ("`scheduler=` needs Dask", "--scheduler needs Dask"),
        ("`report_dir=` /tmp/a b is inside IN_DIR", "--report-dir /tmp/a b is inside IN_DIR"),
        ("pass `mask='../masks/{stem}.png'` (the", "pass --mask '../masks/{stem}.png' (the"),
        ("`mask='a b.png'`", "--mask 'a b.png'"),
        ('`fit="none"` may cut it', "--fit none may cut it"),
        ("`plots=False`", "--no-plots"),
        ('`margin="5%"`', "--margin 5%"),
        ("`write_mask=True` has no place", "--write-mask has no place"),
        ("`premultiplied=False`", "--straight-alpha"),
        ("`executor=` is Python's only", "`executor=` is Python's only"),  # no flag: left as it is
        ("a `threshold` without =", "a `threshold` without ="),
        ("`output_shape=` leaves no room", "--output-size leaves no room"),  # the image API's name of --output-size
        ("`mask=None`", "`mask=None`"),  # no flag says None
        ("`center=(10.5, 20.5)`", "`center=(10.5, 20.5)`"),  # nor a point
        ("`fit=True`", "`fit=True`"),  # nor True for a flag that takes a value
    ],
)
def test_options_named_in_python_are_shown_as_flags(message, shown):
    assert to_flags(message, TABLE) == shown


@pytest.mark.parametrize("name", OPTION_NAMES + ("jobs", "resume", "quiet", "report_dir", "plots", "pool", "scheduler"))
def test_every_run_option_has_a_flag(name):
    assert to_flags(f"`{name}=`", TABLE).startswith("--")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    src = tmp_path_factory.mktemp("console") / "in"
    synth.write_dataset(src, n_samples=2, n_views=2, size=48, seed=1, layout="gslrm")
    return src


def test_the_library_prints_nothing_and_logs_its_messages(small, tmp_path, capsys, caplog):
    bars = []

    class Bar:
        def __init__(self, total, unit):
            self.total, self.unit, self.done, self.closed = total, unit, 0, 0
            bars.append(self)

        def update(self, n=1):
            self.done += n

        def close(self):
            self.closed += 1

    with caplog.at_level(logging.INFO, logger="pixscale"):
        run(small, tmp_path / "out", jobs=1, pool="threads", plots=False, progress=Bar)
    assert capsys.readouterr() == ("", "")
    said = [r.getMessage() for r in caplog.records if r.name == "pixscale"]
    assert said[0] == f"GS-LRM, 2 samples, 4 views in {small}" and "running on 1 thread" in said
    ((bar),) = bars
    assert (bar.total, bar.unit, bar.done, bar.closed) == (4, "view", 4, 1)


def test_a_quiet_run_says_nothing_and_shows_no_progress(small, tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="pixscale"):
        run(small, tmp_path / "out", jobs=1, pool="threads", plots=False, quiet=True, progress=pytest.fail)
    assert not caplog.records


def test_the_command_shows_the_librarys_messages_with_flags(small, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small), str(out), "--jobs", "1", "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"GS-LRM, 2 samples, 4 views in {small}\nrunning on 1 thread\n")
    assert main(["run", str(small), str(out), "--jobs", "1", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "holds an earlier pixscale run; pass --resume to finish it" in err and "`" not in err
    assert not logging.getLogger("pixscale").handlers  # the command's handler is gone after it


def test_a_quiet_command_shows_no_warning_even_through_pythons_last_resort(capsys):
    with messages(lambda text: text, quiet=True):
        logging.getLogger("pixscale").warning("not shown")
    with messages(lambda text: text.upper()):
        logging.getLogger("pixscale").warning("shown `once`")
    assert capsys.readouterr().err == "WARNING: SHOWN `ONCE`\n"


def test_the_demo_data_writer_prints_nothing_and_reports_progress_to_a_factory(tmp_path, capsys):
    from pixscale import synth

    bars = []

    class Bar:
        def __init__(self, total, unit):
            self.total, self.unit, self.done, self.closed = total, unit, 0, False
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    for layout in ("gslrm", "mvdiffusion", "flat"):
        synth.write_dataset(tmp_path / layout, n_samples=3, n_views=2, size=32, layout=layout)
        synth.write_dataset(tmp_path / f"{layout}-bar", n_samples=3, n_views=2, size=32, layout=layout, progress=Bar)
    assert capsys.readouterr() == ("", "")
    assert [(b.total, b.unit, b.done, b.closed) for b in bars] == [(3, "sample", 3, True)] * 3
    with pytest.raises(TypeError, match="progress bar factory"):
        synth.write_dataset(tmp_path / "x", progress=True)


def test_a_mask_file_of_the_wrong_size_is_not_called_the_mask_flag(tmp_path, capsys):
    import numpy as np

    from pixscale.pipeline.io import write_png

    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "masks").mkdir()
    for stem in ("a", "b"):
        write_png(tmp_path / "imgs" / f"{stem}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    small = np.zeros((32, 32), np.uint8)
    small[8:20, 8:20] = 255
    big = np.zeros((64, 64), np.uint8)
    big[16:40, 16:40] = 255
    write_png(tmp_path / "masks" / "a.png", small)
    write_png(tmp_path / "masks" / "b.png", big)
    argv = ["run", str(tmp_path / "imgs"), str(tmp_path / "out"), "--mask", "../masks/{stem}.png"]
    main([*argv, "--jobs", "1", "--no-plots"])
    shown = capsys.readouterr()
    text = shown.out + shown.err + (tmp_path / "out" / "pixscale-report" / "report.md").read_text()
    assert "the mask has shape (32, 32); it must be (H, W) = (64, 64)" in text
    assert "--mask has shape" not in text and "`mask=` has shape" not in text
