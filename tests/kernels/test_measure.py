"""measure(): the fused kernel against the NumPy reference, and exact semantics."""

import numpy as np
import pytest

import pixscale
from pixscale import reference

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
SHAPES = [(1, 1), (1, 7), (7, 1), (5, 5), (31, 17), (64, 97)]


def _random(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    return rng.random(shape).astype(dtype)


def _layouts(img):
    """The same image as C order, Fortran order, and a strided view of a bigger array."""
    yield "C", np.ascontiguousarray(img)
    yield "F", np.asfortranarray(img)
    big = np.zeros((img.shape[0] * 2, img.shape[1] * 3) + img.shape[2:], img.dtype)
    big[::2, ::3] = img
    yield "strided", big[::2, ::3]
    rows = np.zeros((img.shape[0] * 2, img.shape[1] + 3) + img.shape[2:], img.dtype)
    rows[::2, 1:-2] = img
    yield "row-strided", rows[::2, 1:-2]  # contiguous pixels, gaps between rows


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("channels", [None, 1, 2, 4])
def test_kernel_matches_reference(rng, dtype, shape, channels):
    full = shape if channels is None else shape + (channels,)
    img = _random(rng, full, dtype)
    for threshold in (0, 10, 11, 254, 254.5):
        for name, view in _layouts(img):
            got = pixscale.measure(view, threshold=threshold)
            want = reference.measure(view, threshold=threshold)
            assert got == want, (name, threshold)


@pytest.mark.parametrize("shape", SHAPES)
def test_whole_pixel_kernel_matches_byte_kernel(rng, shape):
    """RGBA8 with 4-byte pixels is measured through uint32 words; both kernels must agree."""
    from pixscale._measure import alpha_words
    from pixscale.kernels import measure as _kernels

    img = _random(rng, shape + (4,), np.uint8)
    img[..., 3] = rng.choice([0, 10, 11, 200, 255], size=shape)  # values around the thresholds
    for name, view in _layouts(img):
        words = alpha_words(view)
        if name in ("C", "row-strided"):
            assert words is not None, name
        if words is None:
            continue
        for thr in (0, 10, 11, 254, 255):
            a, b = np.empty(7, np.int64), np.empty(7, np.int64)
            _kernels.measure_words(words, np.uint32(thr), a)
            _kernels.measure_alpha(view[..., 3], np.uint8(thr), b)
            np.testing.assert_array_equal(a, b)
            # The same pass can unpack the alpha channel (exact mode's probes read it).
            c, unpacked = np.empty(7, np.int64), np.full(shape, 7, np.uint8)
            _kernels.measure_words(words, np.uint32(thr), c, unpacked)
            np.testing.assert_array_equal(c, b)
            np.testing.assert_array_equal(unpacked, view[..., 3])


@pytest.mark.parametrize("dtype", DTYPES)
def test_threshold_is_strict_and_on_the_255_scale(dtype):
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    scale = {np.uint8: 1, np.uint16: 257}.get(dtype, 1 / 255)
    alpha = np.array([[0, 10, 11, 255]], dtype=np.float64) * scale
    alpha = np.minimum(alpha, top).astype(dtype)
    assert pixscale.measure(alpha, threshold=10).count == 2  # 11 and 255; 10 is not > 10
    assert pixscale.measure(alpha, threshold=0).count == 3
    assert pixscale.measure(alpha, threshold=254.5).count == 1  # 255 only
    with pytest.raises(ValueError, match="selects no pixel"):  # nothing exceeds 255
        pixscale.measure(alpha, threshold=255)


def test_known_values():
    alpha = np.zeros((10, 20), np.uint8)
    alpha[2:5, 4:8] = 200  # 3 rows x 4 columns
    alpha[9, 19] = 11
    m = pixscale.measure(alpha)
    assert m.count == 13
    assert m.shape == (10, 20)
    assert m.bbox == (4, 2, 20, 10)
    xs = [j + 0.5 for j in range(4, 8)] * 3 + [19.5]
    ys = [i + 0.5 for i in range(2, 5) for _ in range(4)] + [9.5]
    assert m.centroid == pytest.approx((np.mean(xs), np.mean(ys)))
    assert m.area_fraction == pytest.approx(13 / 200)
    assert m.size_ratio == pytest.approx(np.sqrt(13 / 200))


def test_rgba_uses_last_channel_only():
    img = np.zeros((8, 8, 4), np.uint8)
    img[..., :3] = 255
    img[3, 4, 3] = 100
    m = pixscale.measure(img)
    assert (m.count, m.bbox, m.centroid) == (1, (4, 3, 5, 4), (4.5, 3.5))


def test_empty_mask_is_not_an_error():
    m = pixscale.measure(np.zeros((4, 6), np.uint8))
    assert (m.count, m.centroid, m.bbox, m.size_ratio) == (0, None, None, 0.0)
    assert m.empty


def test_measurement_is_frozen_and_serialisable():
    m = pixscale.measure(np.full((2, 2), 255, np.uint8))
    with pytest.raises(AttributeError):
        m.count = 3
    assert m.to_dict() == {
        "count": 4,
        "area_fraction": 1.0,
        "size_ratio": 1.0,
        "centroid": [1.0, 1.0],
        "bbox": [0, 0, 2, 2],
        "shape": [2, 2],
        "dropped_components": 0,
        "dropped_pixels": 0,
    }


@pytest.mark.parametrize(
    "image, error, words",
    [
        (np.zeros((4, 4), np.int32), TypeError, "dtype int32"),
        (np.zeros((4, 4), bool), TypeError, "uint8, uint16, float32 or float64"),
        (np.zeros((4, 4, 3), np.uint8), ValueError, "(4, 4, 3)"),
        (np.zeros((4, 4, 5), np.uint8), ValueError, "alpha last"),
        (np.zeros((2, 4, 4, 4), np.uint8), ValueError, "shape (2, 4, 4, 4)"),
        (np.zeros((0, 4), np.uint8), ValueError, "empty"),
        (np.full((4, 4), np.nan, np.float32), ValueError, "NaN"),
        (np.full((4, 4), np.inf), ValueError, "infinite"),
        (np.full((4, 4), 255.0), ValueError, "Divide 0-255 data by 255"),
        (np.full((4, 4), -0.5), ValueError, "[0, 1]"),
    ],
)
def test_bad_images_are_rejected_clearly(image, error, words):
    with pytest.raises(error, match=None) as info:
        pixscale.measure(image)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "threshold, error",
    [(-1, ValueError), (256, ValueError), ("10", TypeError), (True, TypeError), (float("nan"), ValueError)],
)
def test_bad_thresholds_are_rejected(threshold, error):
    with pytest.raises(error, match="threshold"):
        pixscale.measure(np.zeros((2, 2), np.uint8), threshold=threshold)


def test_real_soft_alpha(emoji_images):
    for name, img in emoji_images.items():
        assert img.shape == (64, 64, 4)
        m = pixscale.measure(img)
        assert m == reference.measure(img), name
        assert 0.3 < m.size_ratio < 0.9
        soft = (img[..., 3] > 0) & (img[..., 3] < 255)
        assert soft.sum() > 50, "the vendored images should have soft edges"


def test_reference_imports_nothing_it_checks():
    """The reference is an independent oracle: NumPy and the standard library, plus the public
    ``Measurement`` record to return; no helper of the code it checks."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(reference.__file__).read_text())
    from_pixscale = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").startswith("pixscale"):
                from_pixscale.append((node.level, node.module, [a.name for a in node.names]))
            else:
                assert node.module in ("numpy", "math"), node.module
        elif isinstance(node, ast.Import):
            assert all(a.name in ("numpy", "math") for a in node.names), [a.name for a in node.names]
    assert from_pixscale == [(1, None, ["Measurement"])]


def test_a_planted_centroid_bug_is_caught_by_the_reference(rng, monkeypatch):
    """Shift the centroid where the kernel's sums become a Measurement: the reference must disagree."""
    img = _random(rng, (31, 17, 4), np.uint8)
    assert pixscale.measure(img) == reference.measure(img)
    # The class the production code builds, however the test session imported pixscale's
    # modules (a doctest run may load a second copy of pixscale._measure under importlib mode).
    Measurement = type(pixscale.measure(img))
    from_sums = Measurement.from_sums.__func__

    def shifted(cls, count, sum_x, sum_y, bbox, shape, dropped=(0, 0)):
        m = from_sums(cls, count, sum_x, sum_y, bbox, shape, dropped)
        return cls(m.count, (m.centroid[0] + 0.5 / m.count, m.centroid[1]), m.bbox, m.shape)

    monkeypatch.setattr(Measurement, "from_sums", classmethod(shifted))
    assert pixscale.measure(img) != reference.measure(img)
    assert reference.measure(img).centroid == reference.measure_values(img)[1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_threshold_conversion(dtype):
    """x257 for uint16, /255 in the alpha's own float type, floor for integer alpha."""
    assert reference.threshold_in_units(np.uint8, 10.7) == 10
    assert reference.threshold_in_units(np.uint16, 10.7) == 2749  # floor(10.7 * 257 = 2749.9)
    thr = reference.threshold_in_units(dtype, 10)
    want = {np.uint8: 10, np.uint16: 2570}.get(dtype, np.dtype(dtype).type(10 / 255))
    assert thr == want and type(thr) is type(want)
