"""warp(): the resample-and-pad kernel against the NumPy reference, and its properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pixscale
from pixscale import reference

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
SCALES = [0.05, 0.3, 0.7, 1.0, 1.13, 1.76, 5.0, 20.0]


def _random(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    return rng.random(shape).astype(dtype)


def _taps_pinned_strict():
    """Whether the taps kernel pins ``fastmath=False``.

    Without the explicit False numba lets a kernel that is first compiled
    inside a fastmath caller inherit the caller's flags, and float64 taps then
    divide by the scale through a reciprocal: results depend on which kernel
    compiled first (see tests/test_package.py).
    """
    from pixscale.kernels import bilinear as _kernels

    return _kernels.axis_taps.targetoptions.get("fastmath") is False


def assert_matches(got, want):
    """Kernel and reference agree exactly: same float operations in the same order, same rounding."""
    assert got.shape == want.shape and got.dtype == want.dtype
    if got.dtype == np.float64 and not _taps_pinned_strict():  # pragma: no cover - until the flag is pinned
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_array_equal(got, want)


def transform(scale, src_center, input_shape, output_shape=None, dst_center=None):
    output_shape = output_shape or input_shape
    if dst_center is None:
        dst_center = (output_shape[1] / 2, output_shape[0] / 2)
    return pixscale.ScaleTransform(scale, src_center, dst_center, input_shape, output_shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_kernel_matches_reference(rng, dtype, channels, premultiplied):
    shape = (23, 31)
    img = _random(rng, shape if channels is None else shape + (channels,), dtype)
    centres = [(15.5, 11.5), (0.2, 0.3), (31.0, 23.0), (-4.0, 30.0), (40.3, -7.7)]
    for scale in SCALES:
        for centre in centres:
            for out_shape in [shape, (17, 40)]:
                t = transform(scale, centre, shape, out_shape)
                got = pixscale.warp(img, t, premultiplied=premultiplied)
                assert_matches(got, reference.warp(img, t, premultiplied=premultiplied))


@pytest.mark.parametrize("scale", [0.37, 0.7, 0.999, 1.0, 1.13, 1.76, 3.1])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_rgba8_row_loops_store_saturated_values_without_wrapping(scale, premultiplied):
    """The uint8 RGBA row loops store a straight value without rounded()'s clip: their weights are convex,
    so a value stays below 255.5. All-255 pixels beside 0s (the extremes) keep the reference's bytes."""
    img = np.zeros((70, 90, 4), np.uint8)
    img[10:60, 12:80] = 255
    img[::3, ::2, :3] = 255  # colour at the maximum beside 0s, under and outside the object
    img[20:40, 30:50, 3] = np.arange(20)[:, None] * 13  # soft alpha too
    for centre in [(45.0, 35.0), (3.3, 66.1)]:
        t = transform(scale, centre, img.shape[:2], (64, 96))
        got = pixscale.warp(img, t, premultiplied=premultiplied)
        assert_matches(got, reference.warp(img, t, premultiplied=premultiplied))
    full = pixscale.warp(np.full((40, 40, 4), 255, np.uint8), transform(scale, (20.0, 20.0), (40, 40), (40, 40)))
    inside = full[full[..., 3] == 255]
    assert len(inside) > 0 and (inside == 255).all()  # no value wrapped around to 0


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_tiny_images(rng, shape, dtype):
    img = _random(rng, shape + (4,), dtype)
    for scale in (0.05, 1.0, 3.3, 20.0):
        t = transform(scale, (shape[1] / 2, shape[0] / 2), shape, (5, 4))
        for pm in (True, False):
            assert_matches(pixscale.warp(img, t, premultiplied=pm), reference.warp(img, t, premultiplied=pm))


@pytest.mark.parametrize("layout", ["F", "strided", "channel-view", "every-other-element"])
def test_any_strides(rng, layout):
    base = _random(rng, (40, 50, 4), np.uint8)
    if layout == "F":
        img = np.asfortranarray(base)
    elif layout == "strided":
        img = base[::2, ::-3]
    elif layout == "channel-view":
        img = np.ascontiguousarray(np.concatenate([base, base[..., :1]], axis=2))[..., :4]
    else:  # pixels that reshape to flat rows, but whose values are not adjacent in memory
        img = np.repeat(base, 2, axis=2)[..., ::2]
        assert img.reshape(40, 200).strides[1] == 2
    t = transform(1.37, (12.2, 9.9), img.shape[:2])
    assert_matches(pixscale.warp(img, t), reference.warp(img, t))
    assert_matches(pixscale.warp(img, t), pixscale.warp(np.ascontiguousarray(img), t))


@settings(max_examples=60, deadline=None)
@given(
    dx=st.integers(-12, 12),
    dy=st.integers(-12, 12),
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**32 - 1),
)
def test_scale_one_integer_shift_copies_pixels(dx, dy, h, w, dtype, seed):
    rng = np.random.default_rng(seed)
    img = _random(rng, (h, w, 4), dtype)
    t = pixscale.ScaleTransform(1.0, (3.5, 2.0), (3.5 + dx, 2.0 + dy), (h, w), (h, w))
    want = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                want[i, j] = img[i - dy, j - dx]
    # Straight interpolation copies every channel bit for bit.
    np.testing.assert_array_equal(pixscale.warp(img, t, premultiplied=False), want)
    # Premultiplied copies alpha exactly and colour wherever alpha > 0.
    got = pixscale.warp(img, t)
    np.testing.assert_array_equal(got[..., 3], want[..., 3])
    seen = want[..., 3] > 0
    if dtype in (np.uint8, np.uint16):
        np.testing.assert_array_equal(got[seen], want[seen])
    else:
        np.testing.assert_allclose(got[seen], want[seen], rtol=1e-6)
    assert not got[~seen][..., :3].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [0.37, 1.13, 2.9])
def test_premultiplied_edges_keep_object_colour(rng, dtype, scale):
    """Garbage colour under alpha = 0 must not bleed into the object's soft edges."""
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    yy, xx = np.mgrid[0:48, 0:48] + 0.5
    alpha = np.clip(12 - np.hypot(xx - 24, yy - 24), 0, 1)  # soft disc
    img = np.empty((48, 48, 4), np.float64)
    img[..., :3] = rng.random((48, 48, 3))  # garbage everywhere
    inside = alpha > 0
    img[inside, :3] = (0.2, 0.6, 0.9)  # the object's colour
    img[..., 3] = alpha
    img = (img * top).astype(dtype) if dtype in (np.float32, np.float64) else np.floor(img * top + 0.5).astype(dtype)
    t = transform(scale, (24.3, 23.8), (48, 48))
    colour = img[inside][0, :3].astype(np.float64)
    out = pixscale.warp(img, t)
    seen = out[..., 3] > 0
    assert seen.sum() > 20
    tol = 1 if dtype in (np.uint8, np.uint16) else 1e-5
    np.testing.assert_allclose(out[seen][:, :3].astype(np.float64), np.broadcast_to(colour, (seen.sum(), 3)), atol=tol)
    assert not out[~seen][:, :3].any(), "fully transparent pixels get zero colour"
    # Straight interpolation (OpenCV's behaviour) does bleed the garbage in.
    straight = pixscale.warp(img, t, premultiplied=False)
    edge = (straight[..., 3] > 0) & (straight[..., 3] < 0.5 * top)
    assert np.abs(straight[edge][:, :3].astype(np.float64) - colour).max() > 10 * tol


def test_outside_is_transparent_padding():
    img = np.full((10, 10, 4), 255, np.uint8)
    out = pixscale.warp(img, transform(0.5, (5, 5), (10, 10)))
    assert out[5, 5, 3] == 255
    assert not out[0].any() and not out[:, -1].any()


def test_two_dimensional_input_gives_two_dimensional_output(rng):
    alpha = _random(rng, (12, 9), np.uint8)
    t = transform(1.5, (4, 6), (12, 9), (20, 30))
    out = pixscale.warp(alpha, t)
    assert out.shape == (20, 30) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, pixscale.warp(alpha[:, :, None], t)[:, :, 0])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_background_composites_colour_and_keeps_alpha(dtype):
    top = 255 if dtype == np.uint8 else 1.0
    img = np.zeros((8, 8, 4), dtype)
    img[2:6, 2:6] = (top, 0, 0, top)
    img[2:6, 6] = (top, 0, 0, top / 2 if dtype != np.uint8 else 128)
    t = transform(1.0, (4, 4), (8, 8))
    out = pixscale.warp(img, t, background=top)
    np.testing.assert_array_equal(out[..., 3], pixscale.warp(img, t)[..., 3])
    assert tuple(out[0, 0]) == (top, top, top, 0)
    assert tuple(out[3, 3]) == (top, 0, 0, top)
    half = out[3, 6].astype(np.float64) / top
    np.testing.assert_allclose(half[:3], (1.0, 0.498, 0.498) if dtype == np.uint8 else (1, 0.5, 0.5), atol=2e-3)
    assert_matches(out, reference.warp(img, t, background=top))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [2, 4])
@pytest.mark.parametrize(
    "name, rgb",
    [
        ("white", (255, 255, 255)),
        ("black", (0, 0, 0)),
        ("gray", (128, 128, 128)),
        ("#ff8000", (255, 128, 0)),
        ("0,64,255", (0, 64, 255)),
    ],
)
def test_background_by_name_is_on_the_255_scale(rng, dtype, channels, name, rgb):
    """Colour names mean the same colour in every dtype: white is 255, 65535 or 1.0."""
    img = _random(rng, (12, 14, channels), dtype)
    t = transform(1.3, (7.1, 6.2), (12, 14))
    per_unit = {np.uint8: 1, np.uint16: 257}.get(dtype)
    colour = [v * per_unit if per_unit else v / 255 for v in rgb]
    if channels == 2:
        colour = [sum(colour) / 3]
    got = pixscale.warp(img, t, background=name)
    np.testing.assert_array_equal(got, pixscale.warp(img, t, background=colour))
    assert_matches(
        got, reference.warp(img, t, background=name) if "," not in name else reference.warp(img, t, background=colour)
    )
    clear = got[..., -1] == 0
    if clear.any() and name == "white":
        top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
        assert (got[clear][:, :-1] == top).all()


def test_background_names_reach_normalize_and_transparent_means_none(rng):
    img = _random(rng, (20, 20, 4), np.uint16)
    img[..., 3] = 0
    img[5:12, 6:14, 3] = 65535
    white = pixscale.normalize(img, background="white", exact=False)
    assert (white[white[..., 3] == 0][:, :3] == 65535).all()
    np.testing.assert_array_equal(
        pixscale.normalize(img, background=" Transparent ", exact=False), pixscale.normalize(img, exact=False)
    )
    with pytest.raises(ValueError, match="unknown colour 'mauve'"):
        pixscale.normalize(img, background="mauve")


def test_parse_colour_is_the_one_home_of_colour_text():
    from pixscale._validate import parse_colour

    assert parse_colour("WHITE") == (255.0, 255.0, 255.0)
    assert parse_colour(" grey ") == parse_colour("gray") == (128.0, 128.0, 128.0)
    assert parse_colour("#0a0B0c") == (10.0, 11.0, 12.0)
    assert parse_colour("1, 2.5, 3") == (1.0, 2.5, 3.0)
    assert parse_colour("none") is None and parse_colour("transparent") is None
    for bad in ("#12345", "1,2", "1,2,300", "#gggggg", "", "-1,0,0"):
        with pytest.raises(ValueError, match="unknown colour"):
            parse_colour(bad)
    with pytest.raises(TypeError):
        parse_colour(255)


def test_a_one_lsb_rounding_error_on_rgba8_is_caught(rng, monkeypatch):
    """A planted rounding bug in the RGBA8 path (one value one LSB low) fails the reference comparison."""
    from pixscale import _warp

    img = _random(rng, (23, 31, 4), np.uint8)
    t = transform(1.13, (15.5, 11.5), (23, 31))
    want = reference.warp(img, t)
    assert_matches(pixscale.warp(img, t), want)
    warp_into = _warp.warp_into

    def round_half_down_once(image, transform, premultiplied, out, filter=None):
        out = warp_into(image, transform, premultiplied, out, filter)
        i, j, c = np.argwhere(out > 0)[len(out) // 2]
        out[i, j, c] -= 1
        return out

    monkeypatch.setattr(_warp, "warp_into", round_half_down_once)
    with pytest.raises(AssertionError):
        assert_matches(pixscale.warp(img, t), want)


@pytest.mark.parametrize("background, words", [((1, 2), "3 numbers"), (300, "[0, 255]"), ((1, np.nan, 1), "colour")])
def test_bad_background(background, words):
    img = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(ValueError) as info:
        pixscale.warp(img, transform(1.0, (2, 2), (4, 4)), background=background)
    assert words in str(info.value)


def test_background_needs_alpha():
    with pytest.raises(ValueError, match="alpha channel"):
        pixscale.warp(np.zeros((4, 4, 3), np.uint8), transform(1.0, (2, 2), (4, 4)), background=0)


def test_transform_must_fit_the_image():
    t = transform(1.0, (2, 2), (4, 4))
    with pytest.raises(ValueError, match=r"planned for images of shape \(H, W\) = \(4, 4\)"):
        pixscale.warp(np.zeros((5, 4, 4), np.uint8), t)
    with pytest.raises(TypeError, match="ScaleTransform"):
        pixscale.warp(np.zeros((4, 4, 4), np.uint8), np.eye(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [2, 4])
def test_alpha_is_bit_identical_to_an_alpha_only_warp(rng, dtype, channels):
    """Exact mode measures alpha-only warps; the full warp must produce the very same alpha."""
    img = _random(rng, (29, 37, channels), dtype)
    img[:5, :, -1] = 0  # fully transparent rows: colour there must not matter
    for scale in SCALES:
        for centre in [(18.5, 14.5), (3.3, 25.1)]:
            t = transform(scale, centre, (29, 37), (31, 33))
            alpha = pixscale.warp(img[..., -1], t)
            for pm in (True, False):
                np.testing.assert_array_equal(pixscale.warp(img, t, premultiplied=pm)[..., -1], alpha)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_probe_kernel_warps_alpha_as_every_warp_does(rng, dtype):
    """kernels.bilinear.warp_alpha (exact mode's probe, its own kernel) stores the alpha plane of every warp:
    two and four channels, both kinds of alpha, both sides of scale 1, windows off the canvas's corner."""
    from pixscale._warp import kernel_constants
    from pixscale.kernels import bilinear as _kernels

    img = _random(rng, (29, 37, 4), dtype)
    img[:5, :, -1] = 0
    alpha = np.ascontiguousarray(img[..., -1])
    consts = kernel_constants(np.dtype(dtype))
    for scale in SCALES:
        for centre in [(18.5, 14.5), (3.3, 25.1)]:
            t = transform(scale, centre, (29, 37), (31, 33))
            (cx, cy), (dx, dy) = t.src_center, t.dst_center
            for r0, c0, shape in [(0, 0, (31, 33)), (4, 7, (20, 11))]:
                out = np.full(shape, 7, alpha.dtype)
                _kernels.warp_alpha(alpha, scale, cx, cy, dx, dy, r0, c0, np.dtype(dtype).kind == "u", consts, out)
                window = np.s_[r0 : r0 + shape[0], c0 : c0 + shape[1]]
                for pm in (True, False):
                    np.testing.assert_array_equal(pixscale.warp(img, t, premultiplied=pm)[window][..., -1], out)
                    np.testing.assert_array_equal(
                        pixscale.warp(img[..., 2:], t, premultiplied=pm)[window][..., -1], out
                    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_four_channel_kernel_is_the_general_loop_compiled_for_four(rng, dtype):
    """kernels.bilinear.warp_window4 (RGBA of every dtype but uint8) stores the bytes of warp_window with ``nc`` 4:
    both kinds of alpha, both sides of scale 1, windows inside and off the canvas's corner. (The wiring of the
    ``four`` branches; the helpers both call are held to the NumPy reference by test_kernel_matches_reference.)"""
    from pixscale._warp import kernel_constants
    from pixscale.kernels import bilinear as _kernels

    img = _random(rng, (29, 37, 4), dtype)
    img[:5, :, -1] = 0
    flat = img.reshape(29, 37 * 4)
    consts = kernel_constants(np.dtype(dtype))
    rounding = np.dtype(dtype).kind == "u"
    for scale in SCALES:
        for centre in [(18.5, 14.5), (3.3, 25.1)]:
            t = transform(scale, centre, (29, 37), (31, 33))
            (cx, cy), (dx, dy) = t.src_center, t.dst_center
            for r0, c0, shape in [(0, 0, (31, 33 * 4)), (4, 7, (20, 11 * 4)), (-3, -5, (9, 8 * 4))]:
                for pm in (True, False):
                    want = np.full(shape, 7, img.dtype)
                    got = np.full(shape, 7, img.dtype)
                    _kernels.warp_window(flat, 4, scale, cx, cy, dx, dy, r0, c0, pm, rounding, consts, want)
                    _kernels.warp_window4(flat, 4, scale, cx, cy, dx, dy, r0, c0, pm, rounding, consts, got)
                    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_plain_probe_of_an_rgba_image_counts_as_the_warp_does(rng, dtype):
    """kernels.count.warp_count's plain count with the RGBA image in ``memo["rgba"]`` (warped straight by
    warp_window4, its alpha channel counted; uint8 keeps its own probe) is the count of the image's warp, of the
    one-channel probe and of the span count, whatever the image's colour."""
    from pixscale._validate import threshold_value
    from pixscale._warp import kernel_constants
    from pixscale.kernels import count as _kernels

    img = _random(rng, (40, 52, 4), dtype)
    img[:6, :, -1] = 0
    alpha = np.ascontiguousarray(img[..., -1])
    thr = threshold_value(alpha.dtype, 100)
    consts = kernel_constants(np.dtype(dtype))
    rounding = np.dtype(dtype).kind == "u"
    memo = {"box": (0, 0, 52, 40), "rgba": img.reshape(40, 52 * 4)}
    for scale in SCALES:
        t = transform(scale, (20.3, 17.9), (40, 52), (45, 38))
        full = pixscale.warp(img, t)[..., -1]
        (cx, cy), (dx, dy) = t.src_center, t.dst_center
        for r0, r1, c0, c1 in [(0, 45, 0, 38), (3, 30, 5, 21), (44, 45, 0, 1), (-4, 12, -6, 9)]:
            args = (alpha, thr, scale, cx, cy, dx, dy, r0, r1, c0, c1, rounding, consts)
            got = _kernels.warp_count(*args, memo, spans=False)
            assert got == _kernels.warp_count(*args) == _kernels.warp_count(*args, {"box": memo["box"]})
            if r0 >= 0 and c0 >= 0:
                assert got == np.count_nonzero(full[r0:r1, c0:c1] > thr)


def test_background_needs_alpha_even_for_a_bare_mask():
    img = np.zeros((8, 8), np.uint8)
    img[2:6, 2:6] = 255
    with pytest.raises(ValueError, match="`background=` needs an image with an alpha channel"):
        pixscale.warp(img, transform(1.0, (4, 4), (8, 8)), background=255)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_premultiplied_float_stays_finite_where_alpha_is_subnormal(dtype):
    """A soft edge that fades into subnormal alpha must not turn colour into inf or NaN."""
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.zeros((64, 64, 4), dtype)
    img[..., 0] = 0.5
    img[..., 3] = np.exp(-((xx - 32.0) ** 2 + (yy - 32.0) ** 2) / 20)
    assert (img[..., 3] < np.finfo(np.float32).tiny).any() and (img[..., 3] > 0).any()
    t = transform(1.0, (32.0, 32.0), (64, 64), dst_center=(32.3, 32.2))
    out = pixscale.warp(img, t)
    assert np.isfinite(out).all()
    want = reference.warp(img, t)
    # The reference does the kernel's arithmetic, subnormal alphas included.
    assert_matches(out, want)


@pytest.mark.parametrize("filter", ["bilinear", "lanczos4", "area"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_probe_count_matches_a_full_warp(rng, dtype, filter):
    """warp_count (exact mode's probe) counts the same pixels as thresholding the full warp, for every filter."""
    from pixscale._validate import threshold_value
    from pixscale._warp import resampler, work_dtype

    alpha = _random(rng, (40, 52), dtype)
    thr = threshold_value(alpha.dtype, 100)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 0.0
    consts = np.array([0.0, 0.5, 1.0, top], dtype=work_dtype(dtype))
    for scale in SCALES:
        t = transform(scale, (20.3, 17.9), (40, 52), (45, 38))
        full = pixscale.warp(alpha, t, filter=filter)
        (cx, cy), (dx, dy) = t.src_center, t.dst_center
        count = resampler(filter, scale)[1]
        for r0, r1, c0, c1 in [(0, 45, 0, 38), (3, 30, 5, 21), (44, 45, 0, 1)]:
            got = count(alpha, thr, scale, cx, cy, dx, dy, r0, r1, c0, c1, np.dtype(dtype).kind == "u", consts)
            assert got == np.count_nonzero(full[r0:r1, c0:c1] > thr)


@pytest.mark.parametrize("dtype", [">u2", ">f4", ">f8"])
def test_non_native_byte_order_is_accepted(rng, dtype):
    native = _random(rng, (20, 24, 4), np.dtype(dtype).newbyteorder("="))
    swapped = native.astype(dtype)
    t = transform(1.3, (11.2, 9.7), (20, 24))
    np.testing.assert_array_equal(pixscale.warp(swapped, t), pixscale.warp(native, t))
    assert pixscale.measure(swapped) == pixscale.measure(native)
    assert pixscale.plan(swapped).scale == pixscale.plan(native).scale


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("premult", [True, False])
def test_simd_gather_is_bit_identical_to_the_scalar_gather(rng, dtype, premult):
    """The hand-vectorised four-channel pass (pixscale.kernels.simd) does the scalar pass's arithmetic."""
    from pixscale.kernels import bilinear as _kernels
    from pixscale.kernels import simd as _simd

    work = np.float64 if dtype == np.float64 else np.float32
    n_src, n_out = 37, 53
    row = _random(rng, 4 * n_src, dtype)
    i0 = rng.integers(0, n_src, n_out)
    xo0 = (4 * i0).astype(np.uint64)
    xo1 = (4 * np.minimum(i0 + 1, n_src - 1)).astype(np.uint64)
    wx1 = rng.random(n_out).astype(work)
    wx0 = (1 - wx1).astype(work)
    wx0[::7] = 0  # taps outside the source carry weight 0
    want = np.empty(4 * n_out, work)
    _kernels._gather(row.astype(work), 4, xo0, xo1, wx0, wx1, premult, want)
    bits = np.uint64 if work == np.float64 else np.uint32

    def check(got):  # bit for bit, so -0.0 and 0.0 differ
        np.testing.assert_array_equal(got.view(bits), want.view(bits))

    got = np.full(4 * n_out, np.nan, work)
    _kernels._gather4(row, xo0, xo1, wx0, wx1, premult, got)
    check(got)
    # A source row that is not contiguous (numba layout "A") is read through its stride.
    strided = np.repeat(row, 3)[::3]
    got[:] = np.nan
    _kernels._gather4(strided, xo0, xo1, wx0, wx1, premult, got)
    check(got)
    # The plain-Python twin used under NUMBA_DISABLE_JIT does the same, from the same uint64 offsets.
    got[:] = np.nan
    o = np.uint64(0)
    for j in range(n_out):
        _simd._lerp4_py(row, xo0[j], xo1[j], wx0[j], wx1[j], got, o, premult)
        o += np.uint64(4)
    check(got)


@pytest.mark.parametrize("scale", [1.0, 1.13, 1.76])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_rgba8_upscale_in_strips_and_blocks_matches_reference(rng, scale, premultiplied):
    """Wider than two strips and taller than two row blocks of the uint8 row loop: the same bytes as the reference."""
    from pixscale.kernels import rgba8 as _kernels

    h, w = 2 * _kernels.BLOCK + 7, 2 * _kernels.STRIP + 90
    img = _random(rng, (h, w, 4), np.uint8)
    img[..., 3] = np.where(rng.random((h, w)) < 0.3, 0, img[..., 3])
    for centre in [(w / 2 + 3.3, h / 2 - 1.7), (20.2, h - 3.1)]:
        t = transform(scale, centre, (h, w), (h + 11, int(w * scale) + 5))
        got = pixscale.warp(img, t, premultiplied=premultiplied)
        assert_matches(got, reference.warp(img, t, premultiplied=premultiplied))
