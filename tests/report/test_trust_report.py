"""The report in a user's hands: advice that holds for the run, compare's honesty, degenerate runs.

Issue #19 ("Trust, round three"): each test failed on the code before the fix.
"""

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from pixscale import Measurement
from pixscale.cli import main
from pixscale.pipeline.io import write_png
from pixscale.pipeline.options import RunOptions
from pixscale.pipeline.records import Islands, ViewRecord
from pixscale.report import quality
from pixscale.report import summary as report

SHAPE = (128, 128)
RUN = RunOptions().params()  # the default run's options


def _m(size=0.3, centroid=(64.0, 64.0), shape=SHAPE, half=20):
    """A measurement with a size ratio of about ``size`` (its count rounded) and the centroid at ``centroid`` (x, y)."""
    h, w = shape
    x, y = centroid
    box = (int(x) - half, int(y) - half, int(x) + half, int(y) + half)
    return Measurement(round(size * size * h * w), (float(x), float(y)), box, shape)


def _row(view, *, sample="s", size=0.3, before=0.2, off=(0.0, 0.0), shift=None, run=True, **extra):
    """An ok view's record: after (or, ``run=False``, before only) at ``size``, its centroid ``off`` the centre."""
    c = (SHAPE[1] / 2 + off[0], SHAPE[0] / 2 + off[1])
    key = f"{sample}/{view}"
    if not run:
        return ViewRecord(sample, key, before=_m(size, c), **extra)
    written = {
        "before": _m(before, (60.0, 60.0)),
        "after": _m(size, c),
        "scale": 1.2,
        "wanted_scale": 1.2,
        "limited": False,
        "shift": tuple(shift or (0.0, 0.0)),
        "cut_pixels": 0,
        "achieved_ratio": size,
        "on_target": True,
    }
    return ViewRecord(sample, key, **{**written, **extra})


def _uniform(n=6, **kw):
    return [_row(f"v{i}.png", **kw) for i in range(n)]


def _varied(n=6, **kw):
    return [_row(f"v{i}.png", size=0.24 + 0.02 * i, **kw) for i in range(n)]


def _off(n=6, **kw):
    return [_row(f"v{i}.png", off=(12.0, 0.0), **kw) for i in range(n)]


def _islands(rows):
    return [replace(r, islands=Islands(3, 40)) for r in rows]


def _opts(**kw):
    return dict(RUN, **kw)


def _advice(rows, options):
    return report.summarize(rows, target=0.3, options=options)["quality"]


MENTION = re.compile(r"`(\w+)=([^`]*)`")  # an option as the library names it: `target=`, `fit="shrink"`


def test_the_advice_texts_are_given_as_spelled(tmp_path):
    """write_report and format_table pass the advice (and view errors) through ``spell``; report.json does not."""
    failed = ViewRecord.failed("s", "s/x.jpg", "its mask (from `mask='m/{stem}.png'`)")
    rows = _islands(_off()) + [failed]
    summary = report.summarize(rows, target=0.3, options=_opts())
    flags = {
        "`min_component=0.05`": "--min-component 0.05",
        '`keep="largest"`': "--keep largest",
        "`mask='m/{stem}.png'`": "--mask 'm/{stem}.png'",
    }

    def spell(text):
        for mention, flag in flags.items():
            text = text.replace(mention, flag)
        return text

    plain = report.format_table(summary)
    assert "`min_component=0.05`" in plain and "--min-component" not in plain
    table = report.format_table(summary, spell=spell)
    assert "--min-component 0.05" in table and "`min_component=0.05`" not in table
    assert "(from --mask 'm/{stem}.png')" in table and "`" not in table
    assert max(len(line) for line in table.splitlines()) <= 80
    report.write_report(tmp_path, summary, rows, plots=False, spell=spell)
    md = (tmp_path / "report.md").read_text()
    assert "- specks: " in md and "--min-component 0.05 or --keep largest leaves them out" in md
    assert "(from --mask 'm/{stem}.png')" in md and not MENTION.search(md)
    data = json.loads((tmp_path / "report.json").read_text())  # the library's words: data, not a printout
    assert "`min_component=0.05`" in data["summary"]["quality"]["recommendations"][0]
    assert data["views"][-1]["error"] == failed.error


# The table of every advice with the runs that must and must not give it, and the check of the
# options each names, live in tests/report/test_advice.py.


def test_conditions_are_recorded_with_the_advice():
    q = _advice(_varied(), _opts(scale="per-sample", fit="shrink", min_component=0.05))
    c = q["conditions"]
    assert c["run"] and c["scale"] == "per-sample" and c["fit"] == "shrink" and c["exact"] is True
    assert c["min_component"] == 0.05 and c["keep"] == "all" and c["filter"] == "bilinear"
    assert _advice(_varied(), None)["conditions"]["run"] is True


def _bars(root, *, n=4, long=40, size=96):
    """A flat folder of n views: a horizontal bar ``long + 4k`` px by 10 px, left of centre."""
    root.mkdir()
    for k in range(n):
        img = np.zeros((size, size, 4), np.uint8)
        img[..., :3] = 200
        img[40:50, 10 : 10 + long + 4 * k, 3] = 255
        write_png(root / f"v{k}.png", img)
    return root


def _comets(root, *, n=3, size=256):
    """A flat folder of n views: a 60-px square head at the left with a long thin tail to the right.

    Centred on its centroid, the tail leaves the canvas (``fit="shrink"``
    must lower the scale); moved left by some 50 px it fits whole.
    """
    root.mkdir()
    for k in range(n):
        img = np.zeros((size, size, 4), np.uint8)
        img[..., :3] = 200
        img[98 + k : 158 + k, 5:65, 3] = 255
        img[126:130, 65 : 243 + k, 3] = 255
        write_png(root / f"v{k}.png", img)
    return root


@pytest.mark.parametrize(
    ("long", "args", "given", "not_given"),
    [
        (40, ["--target", "0.6", "--fit", "shrink"], "limited", "limited_shrink"),  # too long even moved
        (40, ["--target", "0.6"], "limited", "limited_shrink"),
        (None, ["--target", "0.25", "--fit", "shrink"], "limited_shrink", "limited"),  # shift would fit them
        (None, ["--target", "0.25"], "centre_shifted", "outliers"),  # moved > 50 px to stay whole: no outlier
        (40, ["--target", "0.6", "--fit", "none"], "cut", "limited"),
    ],
)
def test_placement_advice_of_real_runs(tmp_path, long, args, given, not_given):
    """Issue #19: under --fit shrink limited views were told 'lower --target' though shift fits them;
    a view the fit moved was called an outlier."""
    src = _comets(tmp_path / "in") if long is None else _bars(tmp_path / "in", long=long)
    main(["run", str(src), str(tmp_path / "out"), "--quiet", "--no-plots", *args])
    q = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())["summary"]["quality"]
    assert given in q["advice"] and not_given not in q["advice"], q["recommendations"]
    if given == "centre_shifted":  # the case of the issue: a view the fit moved over 50 px
        views = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())["views"]
        assert max(math.hypot(*v["shift"]) for v in views) > quality.OUTLIER_PX


def _specked_views(root, n=4, size=128):
    """A flat folder of RGBA views: a centred opaque disc and seeded 2x2 specks near one corner."""
    root.mkdir()
    yy, xx = np.mgrid[:size, :size]
    for k in range(n):
        rng = np.random.default_rng(k)
        img = np.zeros((size, size, 4), np.uint8)
        img[..., :3] = 200
        img[..., 3] = np.where(np.hypot(xx - 64 - k, yy - 64) < 20, 255, 0)
        for _ in range(30):
            y, x = rng.integers(2, 30, size=2) * (1, 3) % 40 + 2
            img[y : y + 2, x : x + 2, 3] = 255
        write_png(root / f"view{k}.png", img)
    return root


def test_specks_get_the_component_filter_advice_and_it_works(tmp_path, capsys):
    """Issue #19: specks pushing objects off centre were told 'a 3-D centre may suit better'."""
    src = _specked_views(tmp_path / "in")
    assert main(["run", str(src), str(tmp_path / "a"), "--quiet", "--no-plots"]) == 0
    q = json.loads((tmp_path / "a" / "pixscale-report" / "report.json").read_text())["summary"]["quality"]
    assert q["advice"][0] == "specks"
    assert "`min_component=0.05`" in q["recommendations"][0] and '`keep="largest"`' in q["recommendations"][0]
    assert main(["run", str(src), str(tmp_path / "b"), "--quiet", "--no-plots", "--min-component", "0.05"]) == 0
    q2 = json.loads((tmp_path / "b" / "pixscale-report" / "report.json").read_text())["summary"]["quality"]
    assert "specks" not in q2["advice"]
    assert q["grade"] > "A" and q2["grade"] == "A"  # C -> A
    md = (tmp_path / "a" / "pixscale-report" / "report.md").read_text()
    # report.md as the run spells it: Python keywords from the library, flags when the CLI passes its spell=
    assert "`min_component=0.05`" in md or "--min-component 0.05" in md


# --- the report is always written, whatever the views are ---------------------------------


def _view(h, w, box=None):
    img = np.zeros((h, w, 4), np.uint8)
    img[..., :3] = 180
    if box is None:
        img[..., 3] = 255
    else:
        y0, y1, x0, x1 = box
        img[y0:y1, x0:x1, 3] = 255
    return img


@pytest.mark.parametrize(
    ("h", "w", "box"),
    [(1, 1000, (0, 1, 400, 600)), (1000, 1, (400, 600, 0, 1)), (1, 1, None), (2, 700, (0, 2, 0, 300)), (3, 3, None)],
)
def test_a_degenerate_view_size_still_gets_a_report(tmp_path, h, w, box):
    """Issue #19: a 1 x 1000 view ended the run with 'the report could not be written: zero-size array'."""
    src = tmp_path / "in"
    src.mkdir()
    write_png(src / "a.png", _view(h, w, box))
    write_png(src / "b.png", _view(64, 64, (20, 40, 20, 40)))
    code = main(["run", str(src), str(tmp_path / "out"), "--quiet"])
    rep = tmp_path / "out" / "pixscale-report"
    data = json.loads((rep / "report.json").read_text(encoding="utf-8"))
    assert all(v["view"] != "pixscale-report" for v in data["views"]), data["summary"]["failures"]
    assert code in (0, 1) and (rep / "report.md").is_file()
    assert (rep / "size_ratio_hist.png").is_file() and (rep / "contact_sheet.png").is_file()
    assert "figures not drawn" not in data["meta"], data["meta"]


def _failed(view, error="unreadable"):
    return ViewRecord.failed("s", view, error)


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_failed("a.png"), _failed("b.png")],
        [_row("only.png")],
        [_row("only.png", run=False)],
        [replace(r, cut_pixels=10**12) for r in _varied()],
        [replace(r, limited=True, shift=[1e9, -1e9]) for r in _varied()],
        [
            _row("nan.png", scale=math.nan, achieved_ratio=math.nan, shift=(math.nan, 0.0)),
            _row("inf.png", scale=math.inf, wanted_scale=math.inf),
            _row("ok.png"),
        ],
        [replace(_row("v.png"), after=Measurement(0, None, None, SHAPE))],
        [_row("s\udcffx/v.png", sample="s\udcffx"), _failed("s\udcff/\udc80.png", "its name is not valid UTF-8")],
    ],
    ids=[
        "no-views",
        "all-failed",
        "one-view",
        "one-measured",
        "huge-cut",
        "huge-shift",
        "nan-inf",
        "vanished",
        "surrogates",
    ],
)
def test_the_report_is_written_whatever_the_rows(tmp_path, rows):
    """Issue #19: the report is always written: no views, all failed, one view, NaN, huge, undecodable names."""
    summary = report.summarize(rows, target=0.3, options=RUN)
    report.format_table(summary)
    files = report.write_report(tmp_path / "rep", summary, rows, meta={"input": "in\udcff"})
    raw = (tmp_path / "rep" / "report.json").read_bytes()
    raw.decode("utf-8")  # valid UTF-8
    data = json.loads(raw, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert len(data["views"]) == len(rows)
    assert "figures not drawn" not in data["meta"], data["meta"]
    md = (tmp_path / "rep" / "report.md").read_bytes().decode("utf-8")
    assert md.startswith("# pixscale quality report")
    assert tmp_path / "rep" / "report.md" in files
    if "\\udc" in repr(rows):  # an undecodable name is shown with its bytes escaped, in both files
        assert "s\\xffx" in md and "s\\xffx" in data["views"][0]["view"]


def test_a_figure_that_cannot_be_drawn_is_named_and_the_report_still_written(tmp_path, monkeypatch):
    from pixscale.report import figures as _figures

    def broken(fig, summary):
        raise ValueError("no room")

    monkeypatch.setattr(_figures, "_per_sample", broken)
    rows = _varied()
    report.write_report(tmp_path, report.summarize(rows, options=RUN), rows)
    data = json.loads((tmp_path / "report.json").read_text())
    assert "per_sample.png: ValueError: no room" in data["meta"]["figures not drawn"]
    assert (tmp_path / "size_ratio_hist.png").is_file() and not (tmp_path / "per_sample.png").exists()
    assert "per_sample.png: ValueError: no room" in (tmp_path / "report.md").read_text()


# --- compare says what each column is, and what it cannot know --------------------------------


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """A flat folder of views, its pixscale run, and a 'cut' copy made by another tool."""
    from pixscale import synth

    root = tmp_path_factory.mktemp("cmp")
    src = root / "in"
    src.mkdir()
    for k in range(4):
        write_png(src / f"v{k}.png", synth.mouse_view(np.random.default_rng(k), size=96))
    assert main(["run", str(src), str(root / "run"), "--quiet", "--no-plots"]) == 0
    other = root / "other"  # another tool's output: every view cut in half at the right edge
    other.mkdir()
    for k in range(4):
        img = synth.mouse_view(np.random.default_rng(k), size=96)
        img[:, 60:] = 0
        write_png(other / f"v{k}.png", img)
    return root


def test_compare_labels_columns_and_says_what_a_folder_cannot_tell(two, tmp_path, capsys):
    """Issue #19: a measured folder was labelled 'before' and showed 'cut off -' (looking uncut)."""
    assert main(["compare", str(two / "run"), str(two / "other"), "--out", str(tmp_path / "c"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    what = next(line for line in out.splitlines() if line.startswith("what it is"))
    assert "pixscale run (after)" in what and "measured folder" in what
    cut = next(line for line in out.splitlines() if line.startswith("cut off"))
    assert "unknown (not a pixscale run)" in cut and cut.split()[2] == "0"
    grade = next(line for line in out.splitlines() if line.startswith("grade"))
    assert "(size and centring only)" in grade
    md = (tmp_path / "c" / "compare.md").read_text()
    assert "(before)" not in md.split("Sources:")[1] and "measured folder" in md
    assert "grade covers size and centring only" in md
    runs = json.loads((tmp_path / "c" / "compare.json").read_text())["runs"]
    assert [r["kind"] for r in runs] == ["pixscale run (after)", "measured folder"]
    assert runs[1]["cut"] is None and runs[0]["cut"] == 0


def _bad_reports(root, good):
    summary = json.loads((good / "pixscale-report" / "report.json").read_text())
    bad = {
        "missing-after": lambda s: s["summary"].pop("centring"),
        "string-count": lambda s: s["summary"]["after"].update(n="18"),
        "nan": lambda s: s["summary"]["after"].update(cv=float("nan")),
        "no-summary": lambda s: s.pop("summary"),
        "list": None,
    }
    out = {}
    for name, spoil in bad.items():
        d = root / name
        d.mkdir()
        data = json.loads(json.dumps(summary))
        if spoil is None:
            data = [1, 2]
        else:
            spoil(data)
        (d / "report.json").write_text(json.dumps(data))
        out[name] = d
    return out


@pytest.mark.parametrize("name", ["missing-after", "string-count", "nan", "no-summary", "list"])
def test_compare_names_a_bad_report_and_keeps_the_pair(two, tmp_path, capsys, name):
    """Issue #19 (weak): compare tracebacked on reports missing keys, string counts, NaN."""
    bad = _bad_reports(tmp_path, two / "run")[name]
    # alone: nothing to compare, exit 2, one line naming the file; nothing written
    assert main(["compare", str(bad), "--out", str(tmp_path / "c1"), "--no-plots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad / "report.json") in err[0] and "is not a pixscale report.json" in err[0]
    assert not (tmp_path / "c1" / "compare.json").exists() and not (tmp_path / "c1" / "compare.md").exists()
    # with a good run: skipped with a warning, the good one compared, both files written
    assert main(["compare", str(bad), str(two / "run"), "--out", str(tmp_path / "c2"), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "warning: skipped" in err and str(bad / "report.json") in err
    data = json.loads((tmp_path / "c2" / "compare.json").read_text())
    assert len(data["runs"]) == 1 and len(data["skipped"]) == 1
    assert str(bad / "report.json") in (tmp_path / "c2" / "compare.md").read_text()


def test_compare_writes_json_and_md_as_a_pair(two, tmp_path, monkeypatch):
    from pixscale.report import compare as cmp

    real = cmp.atomic_write_text

    def failing(path, text):
        if path.name == "compare.json":
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(cmp, "atomic_write_text", failing)
    with pytest.raises(OSError):
        cmp.compare([two / "run"], tmp_path / "c", plots=False)
    assert not (tmp_path / "c" / "compare.md").exists() and not (tmp_path / "c" / "compare.json").exists()
