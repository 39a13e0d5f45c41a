"""Review of the round-three trust fixes: text that reaches a terminal or a file, option checks,
the report's costs and compare's output pair.

Issue #19 ("Trust, round three"), second review: each bug test failed on the code before the fix.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pixscale
from pixscale.pipeline.dataset import for_terminal, printable
from pixscale.pipeline.driver import run
from pixscale.pipeline.files import json_ready
from pixscale.pipeline.io import ViewError, write_png
from pixscale.pipeline.masked import read_mask
from pixscale.pipeline.options import OptionError, RunOptions

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def test_a_name_the_terminal_cannot_show_does_not_silence_stdout():
    """An ascii terminal and a file named café: the name is escaped and later lines still print."""
    code = (
        "import sys\n"
        "from pixscale.cli import _out, _err\n"
        "_out('view caf\\u00e9.png failed')\n"
        "print('after')\n"
        "_err('on stderr: caf\\u00e9 \\U0001f600')\n"
        "print('also on stderr', file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**ENV, "PYTHONIOENCODING": "ascii"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("ascii").splitlines() == ["view caf\\xe9.png failed", "after"]
    assert done.stderr.decode("ascii").splitlines() == ["on stderr: caf\\xe9 \\U0001f600", "also on stderr"]


@pytest.mark.parametrize(
    "name, shown",
    [
        ("\ud800.png", "\\ud800.png"),  # a lone surrogate, as a JSON file_path "\ud800" carries
        ("a\udfff\ud800b", "a\\udfff\\ud800b"),
        (os.fsdecode(b"caf\xe9.png"), "caf\\xe9.png"),  # undecodable bytes (surrogateescape)
        (os.fsdecode(b"\xff") + "\ud800", "\\xff\\ud800"),  # both in one name
        ("\udc41", "\\udc41"),  # in the escape range but no byte surrogateescape makes
        ("café 😀.png", "café 😀.png"),  # valid text is unchanged
    ],
)
def test_one_sanitiser_escapes_names_the_same_everywhere(name, shown):
    assert printable(name) == shown
    assert for_terminal(name) == shown
    assert json_ready({name: [name]}, text=printable) == {shown: [shown]}
    json.dumps(json_ready(name, text=printable)).encode("utf-8")  # valid UTF-8 JSON


def test_for_terminal_escapes_control_characters_printable_keeps_them():
    name = "a\x1b[2Jb\rc\x7f\x85\ud800\td\n"
    assert for_terminal(name) == "a\\x1b[2Jb\\x0dc\\x7f\\x85\\ud800\td\n"
    assert printable(name) == "a\x1b[2Jb\rc\x7f\x85\\ud800\td\n"
    assert json_ready(name, text=printable) == printable(name)  # JSON escapes control characters itself


HUGE = 10**400  # a JSON or Python integer no float can hold


@pytest.mark.parametrize(
    "option, value",
    [
        ("target", HUGE),
        ("target", -HUGE),
        ("threshold", HUGE),
        ("pixel_center", HUGE),
        ("margin", HUGE),
        ("min_component", HUGE),
        ("background", (0, 0, HUGE)),
    ],
    ids=lambda v: v if isinstance(v, str) else "huge",
)
def test_a_huge_integer_option_is_an_option_error(option, value):
    with pytest.raises(OptionError) as info:
        RunOptions(**{option: value})
    assert info.value.option == option


@pytest.mark.parametrize("key", ["target", "threshold", "margin", "min_component"])
def test_a_huge_integer_is_a_value_error_in_the_library(key):
    alpha = np.zeros((16, 16), np.uint8)
    alpha[4:8, 4:8] = 255
    with pytest.raises(ValueError):
        pixscale.plan(alpha, **{key: HUGE})


def test_run_refuses_a_huge_unit_timeout(tmp_path):
    with pytest.raises(OptionError) as info:
        run(tmp_path / "in", tmp_path / "out", unit_timeout=HUGE)
    assert info.value.option == "unit_timeout"


def _specky(shape=(200, 300)):
    """An RGBA image: a ring (filling little of its box) and three specks inside its box, far from the edges."""
    image = np.zeros((*shape, 4), np.uint8)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(yy - 100, xx - 150)
    image[..., 3] = np.where((r > 40) & (r < 46), 255, 0)
    for y, x in [(90, 150), (100, 140), (112, 160)]:
        image[y : y + 2, x : x + 2, 3] = 255
    return image


def test_islands_labels_only_the_objects_box(monkeypatch):
    from pixscale import _object
    from pixscale._measure import measure_object
    from pixscale.pipeline import unit

    image = _specky()
    rule = _object.ObjectMask()
    before, _ = measure_object(image, image[..., 3], rule)
    shapes = []

    def label(mask):
        shapes.append(mask.shape)
        return _object.label(mask)

    monkeypatch.setattr(unit, "label", label)
    assert unit.islands(image, before, rule) == {"components": 3, "pixels": 12}
    x0, y0, x1, y1 = before.bbox
    assert shapes == [(y1 - y0, x1 - x0)] and shapes[0] != image.shape[:2]
    # the box is exact: the same answer as labelling the whole image
    labels, n = _object.label(image[..., 3] > 10)
    sizes = np.bincount(labels.ravel())[1:]
    assert n == 4 and sorted(sizes)[:3] == [4, 4, 4]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("spread, refused", [(0, False), (1, False), (255, True)])
def test_read_mask_tells_gray_from_colour_in_its_own_dtype(tmp_path, dtype, spread, refused):
    """The colour test runs in the mask's dtype (no int64 copy): a red channel below green still counts."""
    scale = np.iinfo(dtype).max // 255
    mask = np.zeros((8, 8, 3), dtype)
    mask[2:6, 2:6] = 255 * scale
    mask[3, 3, 0] -= spread * scale  # red below green and blue: min - max would wrap
    path = tmp_path / "m.png"
    write_png(path, mask)
    if refused:
        with pytest.raises(ViewError, match="colour image"):
            read_mask(path)
    else:
        got = read_mask(path)
        assert got.shape == (8, 8) and float(got.max()) > 0


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_decode_any_still_refuses_too_many_pixels_once(tmp_path, monkeypatch, fmt):
    """The JPEG pixel limit is _jpeg_header's alone (the second check was dead): a mask over it is refused."""
    import imageio.v3 as iio

    from pixscale.pipeline import io

    path = tmp_path / f"m.{fmt}"
    iio.imwrite(path, np.full((16, 20), 255, np.uint8), extension=f".{fmt}")
    monkeypatch.setattr(io, "MAX_PIXELS", 16 * 20 - 1)
    with pytest.raises(ViewError, match=r"declares 20 x 16 = 320 pixels, more than the limit of 319"):
        read_mask(path)
    monkeypatch.setattr(io, "MAX_PIXELS", 16 * 20)
    assert read_mask(path).shape == (16, 20)


@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    """A small pixscale run to compare."""
    from pixscale import synth
    from pixscale.cli import main

    root = tmp_path_factory.mktemp("cmp")
    src = root / "in"
    src.mkdir()
    for k in range(2):
        write_png(src / f"v{k}.png", synth.mouse_view(np.random.default_rng(k), size=64))
    assert main(["run", str(src), str(root / "run"), "--quiet", "--no-plots"]) == 0
    return root / "run"


@pytest.mark.parametrize("failing", ["compare.json", "compare.md"])
def test_compare_never_leaves_a_pair_of_two_runs(a_run, tmp_path, monkeypatch, failing):
    """A second compare into the same folder that cannot write one of the pair leaves neither file:
    not the previous run's compare.json beside no compare.md (or the new md beside the old json)."""
    from pixscale.report import compare as cmp

    out = tmp_path / "c"
    cmp.compare([a_run], out, plots=False)  # the previous pair
    assert (out / "compare.json").exists() and (out / "compare.md").exists()
    real = cmp.atomic_write_text

    def write(path, text):
        if path.name == failing:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(cmp, "atomic_write_text", write)
    with pytest.raises(OSError):
        cmp.compare([a_run], out, plots=False, labels=["second"])
    assert sorted(p.name for p in out.iterdir()) == []


def test_compare_writes_the_chart_after_the_pair(a_run, tmp_path, monkeypatch):
    """The figures the md links are written last: a pair that cannot be written leaves no new figure."""
    pytest.importorskip("matplotlib")
    from pixscale.report import compare as cmp

    order = []
    real_text, real_bytes = cmp.atomic_write_text, cmp.atomic_write_bytes
    monkeypatch.setattr(cmp, "atomic_write_text", lambda p, t: (order.append(p.name), real_text(p, t)))
    monkeypatch.setattr(cmp, "atomic_write_bytes", lambda p, b: (order.append(p.name), real_bytes(p, b)))
    _, written = cmp.compare([a_run], tmp_path / "c")
    assert order == ["compare.json", "compare.md", "compare.png", "compare_grid.png"]  # the figures after the pair
    assert [p.name for p in written] == order
