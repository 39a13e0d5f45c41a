"""Presets for model inputs: the table, Normalizer.from_preset, and the command line's --preset / --list-presets."""

import pathlib
import re

import imageio.v3 as iio
import numpy as np
import pytest

import pixscale
import pixscale.presets as presets
from pixscale._plan import tolerance
from pixscale._validate import parse_colour
from pixscale.cli import main

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "presets.md"


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_is_sane_and_documented(name):
    p = presets.get(name)
    assert p.name == name == name.strip().lower()
    h, w = p.canvas
    assert isinstance(h, int) and isinstance(w, int) and 64 <= h <= 4096 and 64 <= w <= 4096
    assert 0.1 <= p.target <= 0.9
    assert p.background is None or len(parse_colour(p.background)) == 3
    assert p.description and "\n" not in p.description and len(p.description) <= 110
    assert p.rule and p.sources
    assert all(re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+(/blob/main/[\w./-]+)?", s) for s in p.sources)
    page = DOCS.read_text()
    assert f"`{name}`" in page, f"docs/presets.md does not describe the preset {name!r}"
    assert all(s in page for s in p.sources), f"docs/presets.md does not name the sources of {name!r}"


def test_the_named_model_families_are_there():
    for name in ("triposr", "sf3d", "instantmesh", "zero123plus", "lgm", "dreamgaussian"):
        assert name in presets.names()
    for name in ("facelift-mvdiffusion", "facelift-gslrm"):  # the seed's method: pixscale's defaults
        p = presets.get(name)
        assert (p.canvas, p.background, p.target) == ((512, 512), None, pixscale.Options().target)


def test_presets_are_frozen_records():
    p = presets.get("triposr")
    with pytest.raises(AttributeError):
        p.target = 0.4  # type: ignore[misc]
    assert presets.get(" TripoSR ") is p
    assert pixscale.presets is presets  # an attribute of the package, as pixscale.reference


def test_from_preset_equals_the_explicit_options():
    for name in presets.names():
        p = presets.get(name)
        explicit = pixscale.Normalizer(target=p.target, output_shape=p.canvas, background=p.background)
        assert pixscale.Normalizer.from_preset(name) == explicit
        assert p.options() == explicit.options


def test_overrides_win_over_the_preset():
    norm = pixscale.Normalizer.from_preset("lgm", target=0.25, background=None, margin="5%", pixel_center=0)
    assert norm.options == pixscale.Options(target=0.25, output_shape=(256, 256), margin="5%")
    assert norm.pixel_center == 0.0
    assert presets.get("triposr").options(output_shape=(64, 64)).output_shape == (64, 64)


def test_an_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="unknown preset 'tripo'; did you mean 'triposr'") as info:
        pixscale.Normalizer.from_preset("tripo")
    assert all(name in str(info.value) for name in presets.names())
    with pytest.raises(ValueError, match="the presets are: triposr, sf3d"):
        presets.get("nothing-like-it")
    with pytest.raises(TypeError):
        presets.get(None)  # type: ignore[arg-type]


def test_an_unknown_option_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword argument 'targte'"):
        pixscale.Normalizer.from_preset("lgm", targte=0.4)


def test_the_preset_normalizes_to_its_canvas_and_target(rng):
    img = np.zeros((96, 96, 4), np.uint8)
    yy, xx = np.mgrid[:96, :96]
    img[(yy - 40) ** 2 / 400 + (xx - 50) ** 2 / 225 < 1] = (*rng.integers(0, 256, 3), 255)
    p = presets.get("lgm")
    out = pixscale.Normalizer.from_preset("lgm")(img)
    assert out.shape == (*p.canvas, 4)
    assert abs(pixscale.measure(out).size_ratio - p.target) <= tolerance(p.target, out.shape[0] * out.shape[1])
    assert (out[0, 0] == (255, 255, 255, 0)).all()  # composited on white, alpha kept


def _ellipses(folder, rng, n=2, size=64):
    """``n`` views of an anti-aliased ellipse (a soft edge about a pixel wide) of seeded size."""
    folder.mkdir()
    yy, xx = np.mgrid[:size, :size] + 0.5
    for i in range(n):
        a, b = rng.uniform(6, 12, 2)
        r = np.hypot((yy - 30) / a, (xx - 34) / b)
        img = np.zeros((size, size, 4), np.uint8)
        img[..., :3] = (200, 90, 40)
        img[..., 3] = np.round(255 * np.clip((1 - r) * min(a, b) + 0.5, 0, 1))
        iio.imwrite(folder / f"view_{i}.png", img)
    return folder


def _outputs(out):
    return [iio.imread(p) for p in sorted(out.glob("view_*.png"))]


def test_cli_run_with_a_preset_gives_its_canvas_and_target(tmp_path, rng):
    src = _ellipses(tmp_path / "in", rng)
    p = presets.get("lgm")
    argv = ["run", str(src), str(tmp_path / "out"), "--preset", "lgm"]
    assert main([*argv, "--jobs", "1", "--no-plots", "--quiet"]) == 0
    views = _outputs(tmp_path / "out")
    assert len(views) == 2
    for view in views:
        assert view.shape == (*p.canvas, 4)
        assert abs(pixscale.measure(view).size_ratio - p.target) <= tolerance(p.target, p.canvas[0] * p.canvas[1])
        assert tuple(view[0, 0]) == (255, 255, 255, 0)


def test_cli_explicit_flags_win_over_the_preset(tmp_path, rng):
    src = _ellipses(tmp_path / "in", rng)
    flags = ["--target", "0.25", "--output-size", "96x128", "--background", "transparent"]
    argv = ["run", str(src), str(tmp_path / "out"), *flags[:2], "--preset", "triposr", *flags[2:]]
    assert main([*argv, "--jobs", "1", "--no-plots", "--quiet"]) == 0
    for view in _outputs(tmp_path / "out"):
        assert view.shape == (96, 128, 4)
        assert abs(pixscale.measure(view).size_ratio - 0.25) <= tolerance(0.25, 96 * 128)
        assert tuple(view[0, 0]) == (0, 0, 0, 0)  # transparent: no background


def test_cli_preset_refuses_an_unknown_name(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "in", "out", "--preset", "nope"])
    assert info.value.code == 2
    assert "triposr" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--list-presets"], ["run", "--list-presets"], ["demo", "--list-presets"]])
def test_list_presets_prints_a_table_that_parses(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    header, *lines = out.splitlines()
    assert header.split() == ["name", "canvas", "background", "target", "description"]
    assert [line.split()[0] for line in lines] == list(presets.names())
    for line in lines:
        name, canvas, background, target, description = line.split(None, 4)
        p = presets.get(name)
        assert tuple(int(v) for v in canvas.split("x")) == p.canvas
        assert (None if background == "rgba" else background) == p.background
        assert float(target) == p.target
        assert description == p.description
