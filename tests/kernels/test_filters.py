"""The resampling filters (lanczos4, area, auto): kernels against the NumPy reference and OpenCV."""

import pathlib

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pixscale
from pixscale import reference

DATA = pathlib.Path(__file__).parents[1] / "data"  # tests/data, beside conftest.py

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
SCALES = [0.05, 0.3, 0.7, 1.0, 1.13, 1.76, 5.0]
FILTERS = ["lanczos4", "area", "auto"]


def _random(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    return rng.random(shape).astype(dtype)


def _transform(scale, src_center, input_shape, output_shape=None, dst_center=None):
    output_shape = output_shape or input_shape
    if dst_center is None:
        dst_center = (output_shape[1] / 2 + 0.37, output_shape[0] / 2 - 0.21)
    return pixscale.ScaleTransform(scale, src_center, dst_center, input_shape, output_shape)


def _close(got, want, premultiplied=False):
    """Kernel (float32 for all but float64 images) and float64 reference agree to rounding.

    Premultiplied float colour is divided back by alpha; where Lanczos' negative lobes
    cancel the alpha to nearly 0 that division amplifies float32 rounding without bound,
    so there (alpha below 1e-3, invisible) only the alpha is compared.
    """
    assert got.shape == want.shape and got.dtype == want.dtype
    if premultiplied and got.dtype.kind == "f" and got.ndim == 3 and got.shape[2] in (2, 4):
        faint = np.abs(want[..., -1:]) < 1e-3
        got, want = got.copy(), want.copy()
        got[..., :-1] = np.where(faint, 0, got[..., :-1])
        want[..., :-1] = np.where(faint, 0, want[..., :-1])
    if got.dtype.kind == "u":
        assert np.abs(got.astype(np.int64) - want.astype(np.int64)).max(initial=0) <= 1
    elif got.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


def _photo_rgba():
    """The vendored CC0 photo of fur (tests/data/LICENSE.md) with an opaque alpha."""
    rgb = iio.imread(DATA / "chelsea-fur.png")
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)


@pytest.mark.parametrize("filter", FILTERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_kernel_matches_reference(rng, filter, dtype, channels, premultiplied):
    shape = (23, 31)
    img = _random(rng, shape if channels is None else shape + (channels,), dtype)
    for scale in SCALES:
        for centre in [(15.5, 11.5), (0.2, 0.3), (-4.0, 30.0), (40.3, -7.7)]:
            for out_shape in [shape, (17, 40)]:
                t = _transform(scale, centre, shape, out_shape)
                got = pixscale.warp(img, t, filter=filter, premultiplied=premultiplied)
                want = reference.filtered(img, t, filter=filter, premultiplied=premultiplied)
                _close(got, want, premultiplied)


@settings(max_examples=80, deadline=None)
@given(
    filter=st.sampled_from(FILTERS),
    dtype=st.sampled_from(DTYPES),
    channels=st.sampled_from([1, 2, 4]),
    h=st.integers(1, 14),
    w=st.integers(1, 14),
    out=st.tuples(st.integers(1, 16), st.integers(1, 16)),
    scale=st.floats(0.02, 12.0),
    centre=st.tuples(st.floats(-20, 30), st.floats(-20, 30)),
    dst=st.tuples(st.floats(-10, 20), st.floats(-10, 20)),
    premultiplied=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_map_matches_the_reference_and_the_probe(
    filter, dtype, channels, h, w, out, scale, centre, dst, premultiplied, seed
):
    """Random shapes, scales and centres (windows partly or wholly off the source): kernel = reference,
    and the alpha-only warp (exact mode's probe) is the full warp's alpha bit for bit."""
    img = _random(np.random.default_rng(seed), (h, w, channels), dtype)
    t = pixscale.ScaleTransform(scale, centre, dst, (h, w), out)
    got = pixscale.warp(img, t, filter=filter, premultiplied=premultiplied)
    _close(got, reference.filtered(img, t, filter=filter, premultiplied=premultiplied), premultiplied)
    if channels > 1:
        alpha = np.ascontiguousarray(img[..., -1])
        np.testing.assert_array_equal(got[..., -1], pixscale.warp(alpha, t, filter=filter))


@pytest.mark.parametrize("filter", FILTERS)
def test_non_contiguous_and_tiny_inputs(rng, filter):
    big = _random(rng, (30, 40, 4), np.uint8)
    view = big[::2, ::3]  # strided rows and columns
    t = _transform(1.76, (6.1, 7.3), view.shape[:2])
    _close(pixscale.warp(view, t, filter=filter), reference.filtered(view, t, filter=filter))
    one = _random(rng, (1, 1, 4), np.uint16)
    for scale in (0.5, 1.0, 3.0):
        t = _transform(scale, (0.5, 0.5), (1, 1), (5, 4))
        _close(pixscale.warp(one, t, filter=filter), reference.filtered(one, t, filter=filter))


def test_a_wrong_tap_weight_is_caught(rng, monkeypatch):
    """The reference catches a kernel whose Lanczos lobe is slightly off (the test can fail)."""
    img = _random(rng, (23, 31, 4), np.uint8)
    t = _transform(1.3, (15.2, 11.7), (23, 31))
    want = reference.filtered(img, t, filter="lanczos4")
    _close(pixscale.warp(img, t, filter="lanczos4"), want)
    lanczos = reference.lanczos4_weights

    def sharper(n_out, n_src, scale, src_c, dst_c):
        return lanczos(n_out, n_src, scale * 1.01, src_c, dst_c)

    monkeypatch.setattr(reference, "lanczos4_weights", sharper)
    with pytest.raises(AssertionError):
        _close(pixscale.warp(img, t, filter="lanczos4"), reference.filtered(img, t, filter="lanczos4"))


@pytest.mark.parametrize("filter", ["lanczos4", "area", "auto"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_only_warp_is_the_alpha_of_a_full_warp(rng, filter, dtype):
    """Exact mode's probe warps alpha alone; it must be bit-identical to the full warp's alpha."""
    img = _random(rng, (29, 37, 4), dtype)
    alpha = np.ascontiguousarray(img[..., 3])
    for scale in (0.3, 0.7, 1.0, 1.76, 4.0):
        t = _transform(scale, (17.3, 12.9), (29, 37))
        for premultiplied in (True, False):
            full = pixscale.warp(img, t, filter=filter, premultiplied=premultiplied)
            np.testing.assert_array_equal(full[..., 3], pixscale.warp(alpha, t, filter=filter))


@pytest.mark.parametrize("filter", ["lanczos4", "area", "auto"])
def test_identity_and_integer_shift_copy_pixels(rng, filter):
    img = _random(rng, (20, 26, 4), np.uint8)
    same = _transform(1.0, (13.0, 10.0), (20, 26), dst_center=(13.0, 10.0))
    np.testing.assert_array_equal(pixscale.warp(img, same, filter=filter, premultiplied=False), img)
    moved = _transform(1.0, (13.0, 10.0), (20, 26), dst_center=(16.0, 8.0))
    out = pixscale.warp(img, moved, filter=filter, premultiplied=False)
    np.testing.assert_array_equal(out[:, 3:], np.pad(img, ((0, 2), (0, 0), (0, 0)))[2:, :-3])


def test_area_below_one_averages_the_covered_source_area():
    """At scale 1/2 each output pixel is the mean of a 2x2 block (uint16 keeps the exact mean)."""
    img = np.arange(8 * 8 * 2, dtype=np.uint16).reshape(8, 8, 2) * 300
    t = pixscale.ScaleTransform(0.5, (0, 0), (0, 0), (8, 8), (4, 4))
    out = pixscale.warp(img, t, filter="area", premultiplied=False)
    want = img.reshape(4, 2, 4, 2, 2).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_array_equal(out, np.floor(want + 0.5).astype(np.uint16))


def test_area_and_auto_switch_filter_with_the_scale(rng):
    img = _random(rng, (23, 31, 4), np.uint8)
    cases = [(0.7, "area", "area"), (1.0, "bilinear", "bilinear"), (1.5, "bilinear", "lanczos4")]
    for scale, area_is, auto_is in cases:
        t = _transform(scale, (15.2, 11.7), (23, 31))
        np.testing.assert_array_equal(pixscale.warp(img, t, filter="area"), pixscale.warp(img, t, filter=area_is))
        np.testing.assert_array_equal(pixscale.warp(img, t, filter="auto"), pixscale.warp(img, t, filter=auto_is))


def test_bilinear_stays_the_default_and_the_transform_carries_its_filter(rng):
    img = _random(rng, (23, 31, 4), np.uint8)
    t = _transform(1.3, (15.2, 11.7), (23, 31))
    assert t.filter == "bilinear"
    np.testing.assert_array_equal(pixscale.warp(img, t), reference.warp(img, t))
    planned = pixscale.plan(img, target=0.5, threshold=0, exact=False, filter="lanczos4")
    assert planned.filter == "lanczos4" and planned.inverse().filter == "lanczos4"
    np.testing.assert_array_equal(pixscale.warp(img, planned), pixscale.warp(img, planned, filter="lanczos4"))
    assert planned.to_dict()["filter"] == "lanczos4"


def test_bad_filter_names_the_choices(rng):
    img = _random(rng, (8, 8, 4), np.uint8)
    t = _transform(1.3, (4, 4), (8, 8))
    for bad in ("cubic", None, 3):
        if bad is None:
            continue  # None means "the transform's own"
        with pytest.raises(ValueError, match="lanczos4"):
            pixscale.warp(img, t, filter=bad)
    with pytest.raises(ValueError, match="bilinear"):
        pixscale.plan(img, filter="Lanczos")
    with pytest.raises(ValueError, match="area"):
        pixscale.ScaleTransform(1.0, (0, 0), (0, 0), (4, 4), (4, 4), filter="box")


def test_the_filter_does_not_change_the_geometry(rng):
    img = _random(rng, (40, 40, 4), np.uint8)
    K = np.array([[50.0, 0, 20], [0, 50, 20], [0, 0, 1]])
    a = pixscale.plan(img, target=0.5, threshold=100, exact=False, fit="none")
    b = pixscale.plan(img, target=0.5, threshold=100, exact=False, fit="none", filter="lanczos4")
    assert (a.scale, a.src_center, a.dst_center) == (b.scale, b.src_center, b.dst_center)
    np.testing.assert_array_equal(a.intrinsics(K), b.intrinsics(K))


# --- Against OpenCV ----------------------------------------------------------------


def _cv_matrix(t):
    """OpenCV's inverse map for a ScaleTransform: its pixel centres are at integers, pixscale's at +0.5."""
    (cx, cy), (dx, dy) = t.src_center, t.dst_center
    s = t.scale
    return np.array([[1 / s, 0, (0.5 - dx) / s + cx - 0.5], [0, 1 / s, (0.5 - dy) / s + cy - 0.5]])


def _on_opencv_grid(scale, src_center, dst_center):
    """A map whose source positions OpenCV represents exactly (it rounds them to 1/32 pixel)."""
    s = 32 / round(32 / scale)
    (cx, cy), (dx, dy) = src_center, dst_center
    fix = []
    for c, d in ((cx, dx), (cy, dy)):
        off = (0.5 - d) / s + c - 0.5
        fix.append(c + round(off * 32) / 32 - off)
    return s, tuple(fix)


@pytest.mark.parametrize("scale", [0.7, 1.13, 1.76])
def test_lanczos4_matches_opencv_on_a_photo(scale):
    """Within 1 LSB of cv2.warpAffine(INTER_LANCZOS4) where the maps agree exactly, 2 LSB at p99.9 elsewhere.

    OpenCV rounds every source position to 1/32 pixel before it weighs the taps; pixscale
    does not.  On maps that OpenCV represents exactly the two kernels agree to 1 LSB
    (OpenCV's 15-bit fixed-point weights); on any other map OpenCV samples up to 1/64 px
    away, which on the photo's sharpest edges moves a few values by more than 2.
    """
    cv2 = pytest.importorskip("cv2")
    img = _photo_rgba()
    h, w = img.shape[:2]
    dst = (w / 2 + 0.13, h / 2 + 0.29)
    s, src = _on_opencv_grid(scale, (w / 2 + 0.37, h / 2 - 0.81), dst)
    for t, bound in [
        (pixscale.ScaleTransform(s, src, dst, (h, w), (h, w)), "exact"),
        (pixscale.ScaleTransform(scale, (w / 2 + 0.37, h / 2 - 0.81), dst, (h, w), (h, w)), "rounded"),
    ]:
        ours = pixscale.warp(img, t, filter="lanczos4", premultiplied=False).astype(np.int64)
        theirs = cv2.warpAffine(img, _cv_matrix(t), (w, h), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP)
        diff = np.abs(ours - theirs)[..., :3]
        if bound == "exact":
            assert diff.max() <= 1
        else:
            assert np.percentile(diff, 99.9) <= 2 and diff.mean() < 0.2


@pytest.mark.parametrize("n_out", [112, 80, 53, 40])
def test_area_matches_opencv_resize(rng, n_out):
    """Within 1 LSB of cv2.resize(INTER_AREA) for pure scaling, on the photo and on noise."""
    cv2 = pytest.importorskip("cv2")
    for img in (_photo_rgba(), _random(rng, (160, 160, 4), np.uint8)):
        t = pixscale.ScaleTransform(n_out / 160, (0, 0), (0, 0), (160, 160), (n_out, n_out))
        ours = pixscale.warp(img, t, filter="area", premultiplied=False).astype(np.int64)
        theirs = cv2.resize(img, (n_out, n_out), interpolation=cv2.INTER_AREA)
        assert np.abs(ours - theirs).max() <= 1


# --- Exact mode and placement with a filter ---------------------------------------------


def _soft_disc(size, radius, centre):
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1])
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 3] = np.clip((radius - r) * 60, 0, 255).astype(np.uint8)
    img[..., :3] = 200
    return img


@pytest.mark.parametrize("filter", FILTERS)
@pytest.mark.parametrize("target", [0.15, 0.45])
def test_exact_mode_reaches_the_target_with_each_filter(filter, target):
    img = _soft_disc(96, 20, (40.3, 51.7))
    t = pixscale.plan(img, target=target, filter=filter)
    out = pixscale.warp(img, t)
    assert t.achieved_ratio == pixscale.measure(out).size_ratio  # the probe counted the final image
    assert t.on_target
    assert abs(pixscale.measure(out).size_ratio - target) < 1e-3


@pytest.mark.parametrize("filter", FILTERS)
def test_shift_keeps_every_filtered_pixel_inside_the_margin(filter):
    """A corner object, scaled up: no non-zero output pixel falls in the margin, for each filter's reach."""
    img = _soft_disc(64, 6, (7.2, 8.9))
    for margin in (0, 3):
        t = pixscale.plan(img, target=0.35, fit="shift", margin=margin, filter=filter)
        assert not t.limited
        out = reference.filtered(img, t, filter=filter)
        alpha = out[..., 3]
        if margin:
            assert not alpha[:margin].any() and not alpha[:, :margin].any()
            assert not alpha[-margin:].any() and not alpha[:, -margin:].any()
        assert t.cut_pixels == 0


def test_lanczos_overshoot_of_a_faint_shadow_stays_inside_the_margin_and_is_counted():
    """Alpha at the threshold is not the object, but Lanczos can lift it above: placement and probe allow for it."""
    for shadow in (10, 8, 6):
        img = np.zeros((96, 96, 4), np.uint8)
        img[40:60, 40:60] = (200, 120, 60, 255)
        img[30:55, 8:40, 3] = np.where(img[30:55, 8:40, 3] == 0, shadow, img[30:55, 8:40, 3])  # a hard-edged shadow
        for filter in ("lanczos4", "auto"):
            t = pixscale.plan(img, target=0.3, fit="shift", margin=8, filter=filter)
            out = pixscale.warp(img, t)
            mask = out[..., 3] > 10
            assert not mask[:8].any() and not mask[-8:].any() and not mask[:, :8].any() and not mask[:, -8:].any()
            assert t.achieved_ratio == pixscale.measure(out).size_ratio  # the probe saw every lifted pixel
            assert t.cut_pixels == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_outputs_stay_in_range_and_can_be_measured_again(dtype):
    img = np.zeros((48, 48, 4), dtype)
    img[14:30, 12:34] = (0.9, 0.2, 1.0, 1.0)  # hard edges: Lanczos rings
    out = pixscale.normalize(img, target=0.45, filter="lanczos4")
    assert out.dtype == dtype and out.min() >= 0 and out.max() <= 1
    again = pixscale.normalize(out, target=0.3, filter="lanczos4")  # pixscale reads its own output
    assert abs(pixscale.measure(again).size_ratio - 0.3) < 0.01


def test_the_area_filter_at_an_absurd_scale_allocates_by_the_source_not_by_one_over_scale():
    img = np.full((64, 64, 4), 255, np.uint8)
    t = pixscale.ScaleTransform(1e-9, (32, 32), (128, 128), (64, 64), (256, 256))
    out = pixscale.warp(img, t, filter="area")  # floor(1 / scale) + 2 would be 1e9 weights a row
    assert out.shape == (256, 256, 4) and out[..., 3].max() <= 1
