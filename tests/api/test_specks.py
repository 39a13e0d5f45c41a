"""The object mask's component filter: specks of a matte move neither size nor centre."""

import numpy as np
import pytest

import pixscale
from pixscale import reference


def _object(size=96, centre=(41.3, 47.8), radius=17.0):
    """A soft-edged RGBA disc with texture: the object alone."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1])
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 3] = np.clip((radius - r) * 50, 0, 255).astype(np.uint8)
    img[..., 0] = (xx * 2) % 256
    img[..., 1] = 120
    img[..., 2] = (yy * 3) % 256
    return img


def _with_specks(rng, img, n=12, far_from=(41.3, 47.8), clearance=26):
    """``img`` plus ``n`` seeded specks of 1-12 opaque pixels, each well away from the object."""
    out = img.copy()
    h, w = img.shape[:2]
    placed = 0
    while placed < n:
        y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
        if np.hypot(x - far_from[0], y - far_from[1]) < clearance:
            continue
        dy, dx = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        if out[max(y - 1, 0) : y + dy + 1, max(x - 1, 0) : x + dx + 1, 3].any():
            continue  # keep specks apart, so each is its own component
        out[y : y + dy, x : x + dx] = (255, 0, 255, 255)
        placed += 1
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rule", [{"min_component": 50}, {"min_component": 0.2}, {"keep": "largest"}])
def test_size_and_centroid_are_those_of_the_object_alone(seed, rule):
    rng = np.random.default_rng(seed)
    alone = _object()
    noisy = _with_specks(rng, alone)
    truth = pixscale.measure(alone)
    m = pixscale.measure(noisy, **rule)
    assert (m.count, m.centroid, m.bbox) == (truth.count, truth.centroid, truth.bbox)
    n_specks = int((noisy[..., 3] > 10).sum() - (alone[..., 3] > 10).sum())
    assert m.dropped_components == 12 and m.dropped_pixels == n_specks
    assert pixscale.measure(noisy).count == truth.count + n_specks  # without the filter they count
    assert m == reference.measure(noisy, **rule)  # the independent oracle agrees, dropped counts included


def test_a_planted_speck_bug_is_caught(monkeypatch, rng):
    """The oracle catches a filter that keeps components one pixel too small (the check can fail)."""
    import pixscale._object as objmod

    noisy = _with_specks(rng, _object())
    sizes = np.bincount(objmod.label(noisy[..., 3] > 10)[0].ravel())[1:]
    limit = int(sorted(sizes)[len(sizes) // 2])  # a speck size that occurs: the boundary matters
    assert pixscale.measure(noisy, min_component=limit) == reference.measure(noisy, min_component=limit)
    select = objmod.ObjectMask.select

    def off_by_one(self, alpha):
        return select(objmod.ObjectMask(self.threshold, self.min_component + 1, self.keep), alpha)

    monkeypatch.setattr(objmod.ObjectMask, "select", off_by_one)
    assert pixscale.measure(noisy, min_component=limit) != reference.measure(noisy, min_component=limit)


def test_fraction_pixels_and_largest_choose_as_documented():
    alpha = np.zeros((30, 30), np.uint8)
    alpha[2:12, 2:12] = 255  # 100 px
    alpha[20:26, 20:26] = 255  # 36 px
    alpha[2:4, 25:27] = 255  # 4 px
    assert pixscale.measure(alpha, min_component=36).count == 136
    assert pixscale.measure(alpha, min_component=37).count == 100
    assert pixscale.measure(alpha, min_component=0.36).count == 136  # 36% of the largest
    assert pixscale.measure(alpha, min_component=0.37).count == 100
    m = pixscale.measure(alpha, keep="largest")
    assert (m.count, m.dropped_components, m.dropped_pixels) == (100, 2, 40)
    assert pixscale.measure(alpha, min_component=1).count == 140  # one pixel: everything stays
    diagonal = np.eye(6, dtype=np.uint8) * 255  # 8-connected: one component
    assert pixscale.measure(diagonal, min_component=6).count == 6


def test_ties_keep_the_first_component_in_raster_order():
    alpha = np.zeros((10, 10), np.uint8)
    alpha[6:8, 1:3] = 255
    alpha[1:3, 6:8] = 255  # same size, first in raster order
    m = pixscale.measure(alpha, keep="largest")
    assert m.bbox == (6, 1, 8, 3) and m == reference.measure(alpha, keep="largest")


@pytest.mark.parametrize("filter", ["bilinear", "auto"])
def test_plan_ignores_specks_for_scale_and_centre(rng, filter):
    alone = _object()
    noisy = _with_specks(rng, alone)
    for target in (0.2, 0.45):
        a = pixscale.plan(alone, target=target, filter=filter)
        b = pixscale.plan(noisy, target=target, filter=filter, min_component=50)
        assert (a.scale, a.src_center, a.dst_center, a.achieved_ratio) == (
            b.scale,
            b.src_center,
            b.dst_center,
            b.achieved_ratio,
        )
        assert b.measurement.dropped_components == 12
        g = pixscale.plan_group([noisy, noisy[::-1].copy()], target=target, min_component=50, filter=filter)
        assert all(t.measurement.dropped_components == 12 for t in g)


def test_normalize_keeps_or_erases_the_specks(rng):
    alone = _object()
    noisy = _with_specks(rng, alone)
    clean = pixscale.normalize(alone, target=0.4)
    kept = pixscale.normalize(noisy, target=0.4, min_component=50)
    erased = pixscale.normalize(noisy, target=0.4, min_component=50, erase_specks=True)
    np.testing.assert_array_equal(erased, clean)
    assert kept[..., 3].sum() > clean[..., 3].sum()  # by default the specks stay in the picture
    t = pixscale.plan(noisy, target=0.4, min_component=50)
    rule = pixscale.ObjectMask(10, 50).scaled(t.scale)
    after = pixscale.measure(kept, min_component=rule.min_component)
    assert after.count == pixscale.measure(clean).count  # re-measured with the scaled rule: the object alone
    assert 0 < after.dropped_components <= 12  # those still on the canvas


def test_rgb_with_a_separate_speckled_matte(rng):
    alone = _object()
    noisy = _with_specks(rng, alone)
    rgb, matte = noisy[..., :3], noisy[..., 3]
    assert pixscale.measure(rgb, mask=matte, min_component=50) == pixscale.measure(noisy, min_component=50)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"min_component": -1}, ValueError, "number of pixels"),
        ({"min_component": float("nan")}, ValueError, "number of pixels"),
        ({"min_component": "50"}, TypeError, "fraction of the largest"),
        ({"min_component": True}, TypeError, "number of pixels"),
        ({"keep": "biggest"}, ValueError, "'largest'"),
    ],
)
def test_bad_rules_say_what_is_expected(kwargs, error, words):
    with pytest.raises(error, match=words):
        pixscale.measure(np.zeros((4, 4), np.uint8), **kwargs)


def _speckled_dataset(root, rng, n=3):
    """A flat folder of RGBA PNGs: a soft disc plus 8 opaque 2x3 specks well away from it."""
    import imageio.v3 as iio

    root.mkdir(parents=True)
    alone = {}
    for k in range(n):
        img = _object(size=112, centre=(48.0 + 6 * k, 55.0 - 4 * k), radius=14.0 + 2 * k)
        alone[f"view{k}.png"] = img
        iio.imwrite(root / f"view{k}.png", _with_specks(rng, img, n=8, far_from=(48.0 + 6 * k, 55.0 - 4 * k)))
    return alone


@pytest.mark.parametrize("erase", [False, True])
def test_a_run_ignores_specks_reports_them_and_erases_them_if_asked(tmp_path, rng, erase):
    """Through the command: size and centre as without the specks, specks per view in the report."""
    import json

    import imageio.v3 as iio

    from pixscale.cli import main

    alone = _speckled_dataset(tmp_path / "in", rng)
    argv = ["run", str(tmp_path / "in"), str(tmp_path / "out"), "--jobs", "1", "--quiet", "--no-plots"]
    argv += ["--target", "0.2", "--filter", "auto", "--min-component", "0.1"] + (["--erase-specks"] if erase else [])
    assert main(argv) == 0
    doc = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    assert doc["meta"]["parameters"]["filter"] == "auto" and doc["meta"]["parameters"]["min_component"] == 0.1
    specks = doc["summary"]["specks"]
    assert (specks["views"], specks["components"]) == (3, 24)
    assert specks["pixels"] == sum(v["before"]["dropped_pixels"] for v in doc["views"]) > 24
    md = (tmp_path / "out" / "pixscale-report" / "report.md").read_text()
    assert "specks (px)" in md and "with specks ignored" in md
    for v in doc["views"]:
        clean = pixscale.plan(alone[v["view"]], target=0.2, filter="auto")
        assert v["before"]["dropped_components"] == 8
        assert v["scale"] == clean.scale and v["src_center"] == list(clean.src_center)
        out = iio.imread(tmp_path / "out" / v["view"])
        want = pixscale.warp(alone[v["view"]], clean)
        assert v["after"]["size_ratio"] == clean.achieved_ratio  # the report re-measures the object alone
        if erase:
            np.testing.assert_array_equal(out, want)  # the specks are gone: the object alone, warped
        else:
            assert (out[..., 3] > 10).sum() > (want[..., 3] > 10).sum()  # still in the picture
            # The contact sheet marks the centroid the run measured, not one the specks pull away.
            from pixscale.pipeline.records import ViewRecord
            from pixscale.report.figures import Thumbnail

            after = ViewRecord.from_row(v).after  # report.json's row, read back as the run's record
            thumb = Thumbnail.of_file(tmp_path / "out" / v["view"], measured=after)
            assert thumb.centroid == tuple(v["after"]["centroid"]) != pixscale.measure(out).centroid


def test_stats_and_bad_speck_options_on_the_command_line(tmp_path, rng, capsys):
    from pixscale.cli import main

    _speckled_dataset(tmp_path / "in", rng)
    assert main(["stats", str(tmp_path / "in"), "--json", "--keep", "largest"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["specks"]["components"] == 24
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "o"), "--min-component", "-3"]) == 2
    err = capsys.readouterr().err
    assert "--min-component" in err and "fraction of the largest" in err


def test_a_pixel_minimum_scaled_down_stays_a_pixel_count():
    """min_component=4 at scale 0.4 is 0.64 px: still 'keep everything', never '64% of the largest'."""
    rule = pixscale.ObjectMask(min_component=4).scaled(0.4)
    assert rule.min_component == 1.0
    alpha = np.zeros((40, 40), np.uint8)
    alpha[2:32, 2:32] = 255  # 900 px
    alpha[35:38, 35:38] = 255  # 9 px: a detached part, above the scaled minimum
    m = pixscale.measure(alpha, min_component=rule.min_component)
    assert (m.count, m.dropped_components) == (909, 0)
    assert pixscale.ObjectMask(min_component=0.05).scaled(0.4).min_component == 0.05  # fractions do not scale


def test_the_filter_never_drops_the_largest_component():
    """A minimum above every component keeps the largest (as it does when it is alone): never an empty mask."""
    alpha = np.zeros((64, 64), np.uint8)
    alpha[10:22, 10:22] = 255  # 144 px
    alone = pixscale.measure(alpha, min_component=500)
    alpha[60, 60] = 255
    m = pixscale.measure(alpha, min_component=500)
    assert alone.count == m.count == 144 and (m.dropped_components, m.dropped_pixels) == (1, 1)
    assert m == reference.measure(alpha, min_component=500)
    assert pixscale.plan(alpha, target=0.3, min_component=500).measurement.count == 144


def _soft_speck(img, centre, sigma=1.7, peak=255):
    """A Gaussian speck: opaque core, faint rim below the threshold."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    a = peak * np.exp(-((xx + 0.5 - centre[0]) ** 2 + (yy + 0.5 - centre[1]) ** 2) / (2 * sigma**2))
    out = img.copy()
    out[..., 3] = np.maximum(out[..., 3], a.astype(np.uint8))
    out[..., :3] = np.where((a > 1)[..., None] & (img[..., 3:] == 0), 255, out[..., :3])
    return out


def test_faint_alpha_far_from_the_object_does_not_move_a_lanczos_plan():
    """Lanczos allows for the overshoot of the object's own faint rim, not of haze or speck rims far away."""
    alone = _object()
    hazy = alone.copy()
    hazy[90:94, 2:6, 3] = 8  # faint haze in a corner, below the threshold
    rimmed = _soft_speck(alone, (88.0, 8.0))  # a speck whose rim stays after it is dropped
    for filter in ("lanczos4", "auto"):
        want = pixscale.plan(alone, target=0.5, filter=filter)
        for img, kw in ((hazy, {}), (rimmed, {"keep": "largest"})):
            got = pixscale.plan(img, target=0.5, filter=filter, **kw)
            assert (got.scale, got.dst_center, got.limited) == (want.scale, want.dst_center, want.limited)
    erased = pixscale.normalize(rimmed, target=0.5, keep="largest", erase_specks=True)
    np.testing.assert_array_equal(erased, pixscale.normalize(alone, target=0.5))  # the rim went with the speck


def test_the_report_measures_the_object_carried_through_the_warp(tmp_path, rng):
    """Specks grow faster than scale**2 when enlarged (the edge ring); the after-size must still be the object's."""
    import json

    import imageio.v3 as iio

    from pixscale.pipeline.driver import run
    from pixscale.pipeline.options import RunOptions

    sample = tmp_path / "in" / "sample_000"  # one sample of three views, each with its own specks
    sample.mkdir(parents=True)
    for k in range(3):
        img = _object(size=112, centre=(50.0 + 4 * k, 52.0), radius=11.0 + k)
        for dx, dy in ((-30, -28), (22, -28), (-30, 24), (22, 24)):  # close enough to stay on the canvas
            x, y = 50 + 4 * k + dx, 52 + dy
            img[y : y + 4, x : x + 8] = (255, 0, 255, 255)  # 32 px, hard-edged
        iio.imwrite(sample / f"cam_{k:03d}.png", img)
    rule = {"min_component": 33}  # just above a speck: the specks go, the objects stay
    counts = [pixscale.measure(iio.imread(f), **rule).dropped_components for f in sorted(sample.iterdir())]
    assert counts == [4, 4, 4]
    run(tmp_path / "in", tmp_path / "out", RunOptions(target=0.26, **rule), quiet=True, plots=False)
    doc = json.loads((tmp_path / "out" / "pixscale-report" / "report.json").read_text())
    for v in doc["views"]:
        assert v["scale"] > 1.2  # enlarged: the specks outgrow 33 * scale**2
        assert v["after"]["size_ratio"] == v["achieved_ratio"] and v["on_target"]
        # Re-labelling the written image with the rule scaled by scale**2 would count the specks:
        out = iio.imread(tmp_path / "out" / v["view"])
        relabelled = pixscale.measure(out, min_component=pixscale.ObjectMask(**rule).scaled(v["scale"]).min_component)
        assert relabelled.size_ratio > v["after"]["size_ratio"] + 0.01
    assert doc["summary"]["after"]["cv"] < 0.002


def test_erase_specks_needs_a_rule_that_names_specks(tmp_path):
    from pixscale.cli import main

    with pytest.raises(ValueError, match="min_component"):
        pixscale.normalize(_object(), erase_specks=True)
    with pytest.raises(ValueError, match='`keep="largest"`'):
        pixscale.Normalizer(erase_specks=True)
    (tmp_path / "in").mkdir()
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "in" / "a.png", _object())
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--erase-specks", "--quiet"]) == 2


def test_an_object_that_vanishes_is_never_on_target():
    try:
        t = pixscale.plan(np.full((1, 1), 255, np.uint8), target=0.3, filter="auto")
    except pixscale.VanishedObjectError:  # since issue #19 a vanishing object is an error, never a plan
        return
    assert t.achieved_ratio > 0 or t.on_target is False
