"""plan() and normalize(): closed form, centres, fit, exact mode and errors."""

import math
import time

import numpy as np
import pytest

import pixscale


def soft_shape(rng, size=256, *, parts=3, edge=1.5):
    """A float alpha in [0, 1]: a union of soft-edged rotated ellipses, off-centre."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    alpha = np.zeros((size, size))
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    for _ in range(parts):
        a, b = rng.uniform(0.04, 0.16, 2) * size
        theta = rng.uniform(0, np.pi)
        ox, oy = rng.normal(0, 0.06, 2) * size
        u = (xx - cx - ox) * np.cos(theta) + (yy - cy - oy) * np.sin(theta)
        v = -(xx - cx - ox) * np.sin(theta) + (yy - cy - oy) * np.cos(theta)
        dist = (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1) * min(a, b)
        alpha = np.maximum(alpha, np.clip(0.5 - dist / (2 * edge), 0, 1))
    return alpha


def rgba(rng, alpha, dtype=np.uint8):
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    img = np.concatenate([rng.random(alpha.shape + (3,)), alpha[..., None]], axis=2) * top
    return np.floor(img + 0.5).astype(dtype) if np.dtype(dtype).kind == "u" else img.astype(dtype)


def test_closed_form_is_the_original_method(rng):
    img = rgba(rng, soft_shape(rng))
    m = pixscale.measure(img)
    t = pixscale.plan(img, exact=False)
    assert t.scale == pytest.approx(0.3 / m.size_ratio, rel=1e-12)
    assert t.src_center == m.centroid
    assert t.dst_center == (128.0, 128.0)
    assert t.achieved_ratio is None and t.target == 0.3 and t.measurement == m


def test_centres(rng):
    img = rgba(rng, soft_shape(rng, 200))
    m = pixscale.measure(img)
    x0, y0, x1, y1 = m.bbox
    assert pixscale.plan(img, center="bbox", exact=False).src_center == ((x0 + x1) / 2, (y0 + y1) / 2)
    assert pixscale.plan(img, center="image", exact=False).src_center == (100.0, 100.0)
    assert pixscale.plan(img, center=(12, 34.5), exact=False, fit="none").src_center == (12.0, 34.5)
    with pytest.raises(ValueError, match="centroid"):
        pixscale.plan(img, center="middle")


def test_centroid_lands_on_canvas_centre(rng):
    img = rgba(rng, soft_shape(rng, 256), np.float32)
    out = pixscale.normalize(img)
    cx, cy = pixscale.measure(out).centroid
    assert abs(cx - 128) < 0.5 and abs(cy - 128) < 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_mode_counts_haze_at_the_threshold(dtype):
    """Float alpha exactly at the threshold outside the object can be lifted above it by
    weights summing to 1 + an ulp; the achieved ratio must still be the final image's."""
    alpha = np.full((64, 64), dtype(10 / 255), dtype)
    alpha[28:36, 28:36] = 1.0
    t = pixscale.plan(alpha, target=0.2)
    assert t.achieved_ratio == pixscale.measure(pixscale.warp(alpha, t)).size_ratio


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_exact_mode_hits_target(seed, dtype):
    rng = np.random.default_rng(seed)
    size = 256 if seed % 2 else 384
    img = rgba(rng, soft_shape(rng, size, parts=int(rng.integers(1, 5)), edge=rng.uniform(0.7, 3)), dtype)
    target = [0.3, 0.22, 0.41][seed % 3]
    t = pixscale.plan(img, target=target)
    out = t.apply(img)
    measured = pixscale.measure(out).size_ratio
    assert not t.limited
    assert measured == t.achieved_ratio
    assert abs(measured - target) <= 1e-4


def test_exact_mode_on_real_photos(emoji_images):
    for name, img in emoji_images.items():
        big = pixscale.warp(img, pixscale.ScaleTransform(3.3, (32, 32), (160, 160), (64, 64), (320, 320)))
        t = pixscale.plan(big)
        assert abs(pixscale.measure(t.apply(big)).size_ratio - 0.3) <= 1e-4, name
        assert t.tolerance == 2e-4 and t.on_target, name
        # The closed form alone misses by more than 1e-4 on every one of these soft edges:
        # that is what exact mode is for.
        closed = pixscale.plan(big, exact=False)
        assert abs(pixscale.measure(closed.apply(big)).size_ratio - 0.3) > 1e-4, name
        assert closed.tolerance is None and closed.on_target is None, name


def test_exact_mode_on_tiny_images_is_within_a_pixel(emoji_images):
    img = emoji_images["1f401"]
    t = pixscale.plan(img, target=0.5)
    count = pixscale.measure(t.apply(img)).count
    assert abs(count - 0.25 * 64 * 64) <= 1.0 + 1e-9
    assert t.tolerance == pytest.approx(np.sqrt(0.25 + 1 / 4096) - 0.5) and t.on_target


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_an_all_opaque_view_that_cannot_reach_the_target_is_flagged(dtype):
    """A view that fills the canvas: the re-measured ratio jumps from 0.28125 (18 x 18 pixels) to
    0.3109 (20 x 20 less the corners), both further from 0.3 than the tolerance, at any scale.
    The plan says so (on_target False) without calling it limited: the fit cap (scale 1) is
    far above the scales tried."""
    alpha = np.full((64, 64), 1 if dtype == np.float32 else 255, dtype)
    t = pixscale.plan(alpha)
    assert t.achieved_ratio == pixscale.measure(t.apply(alpha)).size_ratio
    assert abs(t.achieved_ratio - 0.3) > t.tolerance
    assert t.on_target is False and not t.limited
    # No scale between the two jumps reaches the target: every ratio on a fine grid is off by more.
    for s in np.linspace(0.27, 0.33, 121):
        probe = pixscale.ScaleTransform(s, (32, 32), (32, 32), (64, 64), (64, 64))
        assert abs(pixscale.measure(probe.apply(alpha)).size_ratio - 0.3) > t.tolerance
    # Where a target is reachable on the same view, it is reached.
    near = pixscale.plan(alpha, target=0.28125)
    assert near.on_target and not near.limited


def test_output_shape(rng):
    img = rgba(rng, soft_shape(rng, 128))
    out = pixscale.normalize(img, output_shape=(200, 300), target=0.25)
    assert out.shape == (200, 300, 4) and out.dtype == np.uint8
    assert abs(pixscale.measure(out).size_ratio - 0.25) <= 1e-4
    closed = pixscale.plan(img, output_shape=(200, 300), target=0.25, exact=False)
    assert closed.scale == pytest.approx(0.25 * math.sqrt(200 * 300 / pixscale.measure(img).count))


def _corner_object():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[0:10, 0:40] = 255  # wide, touching the top-left corner
    return alpha


def _uncut_count(alpha, t, pad=100):
    """Mask count of the same warp on a canvas ``pad`` pixels larger on every side."""
    ho, wo = t.output_shape
    big = pixscale.ScaleTransform(
        t.scale,
        t.src_center,
        (t.dst_center[0] + pad, t.dst_center[1] + pad),
        t.input_shape,
        (ho + 2 * pad, wo + 2 * pad),
    )
    return pixscale.measure(big.apply(alpha)).count


def test_fit_reduces_scale_and_keeps_object_on_canvas():
    alpha = _corner_object()
    free = pixscale.plan(alpha, target=0.6, fit="none", exact=False)
    t = pixscale.plan(alpha, target=0.6, exact=False, fit="shrink")
    assert t.limited and not free.limited
    assert t.scale < free.scale
    # The box [0, 40] x [0, 10] around centroid (20, 5), widened by half a pixel for the
    # bilinear support, just fits in width: 50.5 / 20.5.
    assert t.scale == pytest.approx(50.5 / 20.5)
    assert pixscale.measure(t.apply(alpha)).count == _uncut_count(alpha, t)
    assert pixscale.measure(free.apply(alpha)).count < _uncut_count(alpha, free)


@pytest.mark.parametrize("seed", range(6))
def test_fit_never_cuts_soft_objects(seed):
    rng = np.random.default_rng(seed)
    alpha = soft_shape(rng, 128, parts=4)
    for center in ("centroid", "bbox", "image"):
        t = pixscale.plan(alpha, target=0.9, center=center, margin=3, fit="shrink")
        assert t.limited
        out = t.apply(alpha)
        assert pixscale.measure(out).count == _uncut_count(alpha, t)
        x0, y0, x1, y1 = pixscale.measure(out).bbox
        assert min(x0, y0) >= 3 and max(x1, y1) <= 128 - 3


def test_margin():
    alpha = _corner_object()
    t = pixscale.plan(alpha, target=0.6, margin=10, exact=False, fit="shrink")
    assert t.limited and t.scale == pytest.approx(40.5 / 20.5)
    out = t.apply(alpha)
    assert not out[:, :10].any() and not out[:, 90:].any()
    assert out[:, 10].any() and out[:, 89].any()
    with pytest.raises(ValueError, match="margin"):
        pixscale.plan(alpha, margin=51)
    with pytest.raises(ValueError, match="margin"):
        pixscale.plan(alpha, margin=-1)


def test_exact_and_limited_records_the_achieved_ratio():
    t = pixscale.plan(_corner_object(), target=0.6)
    assert t.limited and t.on_target is False
    assert t.achieved_ratio == pixscale.measure(t.apply(_corner_object())).size_ratio < 0.6


@pytest.mark.parametrize("fit", ["shift", "shrink"])
def test_exact_mode_uses_the_cap_when_the_target_is_out_of_reach(fit):
    alpha = _corner_object()
    closed = pixscale.plan(alpha, target=0.6, exact=False, fit=fit)
    exact = pixscale.plan(alpha, target=0.6, fit=fit)
    assert exact.limited and exact.scale == closed.scale  # the cap itself
    assert exact.wanted_scale > exact.scale and closed.wanted_scale > closed.scale


def test_exact_mode_warps_each_probed_scale_once(monkeypatch, rng):
    from pixscale import _plan
    from pixscale.kernels import count as _kernels

    scales = []
    warp_count = _kernels.warp_count

    def counting(alpha, thr, scale, *args, **keywords):
        scales.append(scale)
        return warp_count(alpha, thr, scale, *args, **keywords)

    monkeypatch.setattr(_kernels, "warp_count", counting)
    monkeypatch.setattr(_plan, "_span_state", lambda dtype: -1.0)  # the Python search, whose probes are seen
    img = rgba(rng, soft_shape(rng, 96))
    t = pixscale.plan(img, target=0.35)
    assert scales and len(scales) == len(set(scales))  # the achieved ratio is not warped again
    assert t.scale in scales
    assert t.achieved_ratio == pixscale.measure(t.apply(img)).size_ratio


@pytest.mark.parametrize("rule", [{}, {"min_component": 0.05}, {"keep": "largest"}])
def test_the_plan_of_measured_views_is_the_plan_and_measures_nothing(monkeypatch, rng, rule):
    """plan_measured: plan_group's body, given each view's measurement and object alpha; it measures nothing again."""
    from pixscale import _plan

    imgs = [rgba(rng, soft_shape(rng, 64)) for _ in range(2)]
    options = pixscale.Options(target=0.35, **rule)
    objects = [_plan._prepare(img, options) for img in imgs]
    # A component filter that drops nothing still hands exact mode's probes the unpacked, contiguous alpha.
    assert all(obj.alpha.flags.c_contiguous and obj.alpha.base is None for obj in objects)
    assert all(obj.measurement == pixscale.measure(img) for obj, img in zip(objects, imgs, strict=True))
    expected = pixscale.plan_group(imgs, options=options)
    monkeypatch.setattr(_plan, "measure_object", None)
    assert _plan.plan_measured(objects, options) == expected


def test_fit_cap_above_the_exact_scale_is_not_limited():
    """The closed form overshoots the fit cap, but the exact scale lies below it."""
    alpha = np.zeros((100, 100), np.uint8)
    alpha[2:32, 2:32] = 255
    closed = pixscale.plan(alpha, target=0.32, center="image", exact=False, fit="shrink")
    exact = pixscale.plan(alpha, target=0.32, center="image", fit="shrink")
    assert closed.limited
    assert not exact.limited and abs(exact.achieved_ratio - 0.32) <= 1e-4
    assert exact.scale <= closed.scale
    # Shifting instead of shrinking: neither is limited.
    assert not pixscale.plan(alpha, target=0.32, center="image", exact=False).limited


def test_empty_mask_raises_a_catchable_error():
    img = np.zeros((8, 8, 4), np.uint8)
    img[..., 3] = 10  # exactly the threshold: not object
    with pytest.raises(pixscale.EmptyMaskError, match="no pixel has alpha > 10"):
        pixscale.plan(img)
    assert issubclass(pixscale.EmptyMaskError, ValueError)
    with pytest.raises(ValueError):
        pixscale.normalize(img)


@pytest.mark.parametrize(
    "target, error",
    [(0, ValueError), (1.5, ValueError), (-0.3, ValueError), (float("nan"), ValueError), ("0.3", TypeError)],
)
def test_bad_targets(target, error):
    with pytest.raises(error, match="target"):
        pixscale.plan(np.full((4, 4), 255, np.uint8), target=target)


def test_normalize_keeps_shape_and_dtype(rng):
    for dtype in (np.uint8, np.uint16, np.float32, np.float64):
        img = rgba(rng, soft_shape(rng, 96), dtype)
        for arr in (img, img[..., 3], img[..., 2:]):
            out = pixscale.normalize(arr)
            assert out.shape == arr.shape and out.dtype == arr.dtype


def test_normalize_rejects_rgb():
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        pixscale.normalize(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("threads", [1, 2])
def test_normalize_batch_equals_one_by_one(rng, threads):
    images = np.stack([rgba(rng, soft_shape(rng, 96)) for _ in range(5)])
    got = pixscale.normalize_batch(images, threads=threads, target=0.25)
    assert got.shape == images.shape and got.dtype == images.dtype
    for img, out in zip(images, got, strict=True):
        np.testing.assert_array_equal(out, pixscale.normalize(img, target=0.25))
    as_list = pixscale.normalize_batch(list(images[:2]), threads=threads, output_shape=(50, 60))
    assert isinstance(as_list, list) and as_list[1].shape == (50, 60, 4)
    for options in ({"output_shape": (50, 60), "premultiplied": False}, {"background": 255, "exact": False}):
        got = pixscale.normalize_batch(images, threads=threads, **options)
        assert isinstance(got, np.ndarray) and got.dtype == images.dtype
        np.testing.assert_array_equal(got, np.stack([pixscale.normalize(img, **options) for img in images]))
    alphas = images[..., 3]  # an (N, H, W) batch of masks
    np.testing.assert_array_equal(
        pixscale.normalize_batch(alphas, threads=threads), np.stack([pixscale.normalize(a) for a in alphas])
    )


def test_normalize_batch_names_the_bad_image(rng):
    images = np.stack([rgba(rng, soft_shape(rng, 64)) for _ in range(3)])
    images[1, ..., 3] = 0
    with pytest.raises(pixscale.EmptyMaskError, match="image 1 of the batch"):
        pixscale.normalize_batch(images, threads=2)


@pytest.mark.parametrize("threads", [1, 2])
def test_normalize_batch_names_the_image_in_type_errors(rng, threads):
    good = rgba(rng, soft_shape(rng, 32))
    with pytest.raises(TypeError, match=r"image 2 of the batch: image has dtype int32"):
        pixscale.normalize_batch([good, good, good.astype(np.int32)], threads=threads)
    with pytest.raises(TypeError, match=r"image 0 of the batch: .*dtype int64"):
        pixscale.normalize_batch(np.zeros((2, 8, 8, 4), np.int64), threads=threads)
    # an option is the batch's, checked once before any image: its message names no image
    with pytest.raises(TypeError, match=r"^`target=` must be a number"):
        pixscale.normalize_batch([good, good], threads=1, target="0.3")


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_run_parallel_raises_for_the_lowest_failing_index(threads):
    from pixscale._parallel import run_parallel

    started = []

    def fn(i):
        started.append(i)
        if i == 3:
            time.sleep(0.05)  # so that, with threads, index 4 fails first
        if i in (3, 4, 6):
            raise ValueError(f"bad {i}")

    with pytest.raises(ValueError, match="bad 3"):
        run_parallel(fn, 10, threads)
    # Indices are handed out in order, so every one below the failure ran; after it, at
    # most one in-flight index per other thread.
    assert set(range(4)) <= set(started) and max(started) < 4 + threads
    done = []
    run_parallel(done.append, 7, threads)
    assert sorted(done) == list(range(7))


def test_run_parallel_reraises_an_interrupt_before_ordinary_errors():
    from pixscale._parallel import run_parallel

    def fn(i):
        if i == 0:
            time.sleep(0.05)
            raise ValueError("bad 0")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_parallel(fn, 4, 2)


@pytest.mark.parametrize("threads, error", [(2.0, TypeError), (True, TypeError), (0, ValueError), (-1, ValueError)])
def test_normalize_batch_rejects_bad_thread_counts(threads, error):
    with pytest.raises(error, match="threads"):
        pixscale.normalize_batch(np.zeros((2, 8, 8), np.uint8), threads=threads)


def test_plan_takes_what_numpy_can_read(rng):
    """A PIL image or any object with ``__array__`` is planned as its array (each step converts it)."""
    from PIL import Image

    img = rgba(rng, soft_shape(rng, 64))

    class ArrayLike:
        def __array__(self, dtype=None, copy=None):
            return img

    want = pixscale.plan(img, target=0.35)
    assert pixscale.plan(Image.fromarray(img), target=0.35) == want
    assert pixscale.plan(ArrayLike(), target=0.35) == want
    assert pixscale.plan_group([ArrayLike(), img], target=0.35) == pixscale.plan_group([img, img], target=0.35)


def test_the_probe_warps_an_rgba_image_itself_only_where_its_alpha_is_the_objects(rng):
    """_plan.rgba_rows: the image as flat rows, a view of it, for uint16 and float RGBA whose alpha the component
    filter kept whole; None for uint8 (its own probe), two channels, strided or non-native arrays, dropped specks."""
    from pixscale import _plan
    from pixscale._object import Selection

    whole = Selection(None, None, 0, 0)
    for dtype in (np.uint16, np.float32, np.float64):
        img = rgba(rng, soft_shape(rng, 32), dtype)
        rows = _plan.rgba_rows(img, whole)
        assert rows.shape == (32, 128) and np.shares_memory(rows, img)
        assert _plan.rgba_rows(img, Selection(None, np.zeros((32, 32), bool), 1, 3)) is None
        assert _plan.rgba_rows(img[:, ::-1], whole) is None
        assert _plan.rgba_rows(img.astype(img.dtype.newbyteorder(">")), whole) is None
        assert _plan.rgba_rows(np.ascontiguousarray(img[..., 2:]), whole) is None
    assert _plan.rgba_rows(rgba(rng, soft_shape(rng, 32)), whole) is None
    assert _plan.rgba_rows([[[0.0, 0.0, 0.0, 1.0]]], whole) is None  # not an array: the general loop
