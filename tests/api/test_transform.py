"""ScaleTransform: point mapping, inverse, intrinsics and the matrix conventions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pixscale

finite = st.floats(-500, 500, allow_nan=False)
scales = st.floats(0.05, 20)


def make(scale=1.7, src=(20.25, 13.5), dst=(32.0, 30.0), shape=(48, 64), out=(60, 64)):
    return pixscale.ScaleTransform(scale, src, dst, shape, out)


@settings(max_examples=100, deadline=None)
@given(scale=scales, sx=finite, sy=finite, dx=finite, dy=finite, px=finite, py=finite)
def test_inverse_maps_points_back(scale, sx, sy, dx, dy, px, py):
    t = pixscale.ScaleTransform(scale, (sx, sy), (dx, dy), (10, 20), (30, 40))
    p = np.array([[px, py], [sx, sy]])
    q = t.map_points(p)
    np.testing.assert_allclose(q[1], (dx, dy), atol=1e-9)
    np.testing.assert_allclose(t.inverse().map_points(q), p, rtol=1e-9, atol=1e-7)
    inv = t.inverse()
    assert inv.input_shape == (30, 40) and inv.output_shape == (10, 20)
    assert inv.inverse().scale == pytest.approx(scale)


def test_map_points_broadcasts_and_checks_shape():
    t = make()
    pts = np.zeros((3, 5, 2))
    assert t.map_points(pts).shape == (3, 5, 2)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        t.map_points(np.zeros((4, 3)))


def _project(K, X):
    x = X @ K.T
    return x[..., :2] / x[..., 2:]


@pytest.mark.parametrize("pixel_center", [0.5, 0.0])
@settings(max_examples=50, deadline=None)
@given(scale=scales, seed=st.integers(0, 2**32 - 1))
def test_intrinsics_agree_with_map_points(pixel_center, scale, seed):
    rng = np.random.default_rng(seed)
    K = np.array(
        [
            [rng.uniform(50, 900), rng.uniform(-2, 2), rng.uniform(0, 512)],
            [0, rng.uniform(50, 900), rng.uniform(0, 512)],
            [0, 0, 1],
        ]
    )
    t = pixscale.ScaleTransform(scale, rng.uniform(0, 512, 2), rng.uniform(0, 512, 2), (512, 512), (512, 512))
    X = rng.uniform(-1, 1, (20, 3)) + [0, 0, 4]
    uv = _project(K, X)  # pixel coordinates in K's convention
    continuous = uv + (0.5 - pixel_center)
    want = t.map_points(continuous) - (0.5 - pixel_center)
    got = _project(t.intrinsics(K, pixel_center=pixel_center), X)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-7)


def test_intrinsics_exact_values_and_half_pixel_term():
    t = pixscale.ScaleTransform(2.0, (10, 10), (16, 16), (32, 32), (32, 32))
    K = np.array([[100.0, 0, 16], [0, 100.0, 16], [0, 0, 1]])
    # pixel centres at +0.5: the principal point is a continuous coordinate.
    np.testing.assert_allclose(t.intrinsics(K), [[200, 0, 28], [0, 200, 28], [0, 0, 1]])
    # OpenCV: the principal point 16 is the continuous point 16.5, which maps to 29; less 0.5 is 28.5.
    np.testing.assert_allclose(t.intrinsics(K, pixel_center=0.0), [[200, 0, 28.5], [0, 200, 28.5], [0, 0, 1]])
    # A stack of cameras is handled at once.
    assert t.intrinsics(np.stack([K, K, K])).shape == (3, 3, 3)


@pytest.mark.parametrize("K, words", [(np.eye(2), "3x3"), (np.eye(3) * 2, "last row")])
def test_bad_camera_matrix(K, words):
    with pytest.raises(ValueError, match=words):
        make().intrinsics(K)


@pytest.mark.parametrize("pixel_center", [0.5, 0.0])
@pytest.mark.parametrize("scale", [0.8, 1.6, 2.3])
def test_blob_lands_where_new_camera_projects_it(pixel_center, scale):
    """Render a blob at a projected 3D point, warp, and find it where K' projects the point."""
    size = 96
    K = np.array([[70.0, 0, 47.0], [0, 74.0, 49.5], [0, 0, 1]])
    X = np.array([0.12, -0.07, 2.0])
    u, v = _project(K, X[None])[0] + (0.5 - pixel_center)  # continuous coordinates of the point
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    blob = np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * 2.0**2))
    image = np.zeros((size, size, 2))
    image[..., 0] = blob
    image[..., 1] = 1.0
    t = pixscale.ScaleTransform(scale, (40.3, 51.7), (size / 2, size / 2), (size, size), (size, size))
    out = pixscale.warp(image, t)[..., 0]
    wsum = out.sum()
    found = np.array([(out * xx).sum() / wsum, (out * yy).sum() / wsum]) - (0.5 - pixel_center)
    want = _project(t.intrinsics(K, pixel_center=pixel_center), X[None])[0]
    np.testing.assert_allclose(found, want, atol=0.03)


def test_matrix_matches_opencv_warp():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    t = pixscale.ScaleTransform(1.37, (21.3, 17.8), (25, 20), (40, 50), (40, 50))
    ours = pixscale.warp(img, t, premultiplied=False).astype(int)
    theirs = cv2.warpAffine(
        img,
        t.matrix(pixel_center=0.0)[:2],
        (50, 40),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).astype(int)
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(ours[inner] - theirs[inner]).max() <= 1


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"scale": 0}, ValueError),
        ({"scale": -1}, ValueError),
        ({"scale": float("nan")}, ValueError),
        ({"scale": "big"}, TypeError),
        ({"src_center": (1, float("inf"))}, ValueError),
        ({"output_shape": (0, 5)}, ValueError),
        ({"input_shape": (2.5, 4)}, ValueError),
    ],
)
def test_bad_transforms_are_rejected(kwargs, error):
    args = dict(scale=1.0, src_center=(1, 1), dst_center=(1, 1), input_shape=(4, 4), output_shape=(4, 4))
    args.update(kwargs)
    with pytest.raises(error):
        pixscale.ScaleTransform(**args)


def test_frozen_and_serialisable():
    t = make()
    with pytest.raises(AttributeError):
        t.scale = 2
    d = t.to_dict()
    assert d["scale"] == 1.7 and d["src_center"] == [20.25, 13.5] and d["output_shape"] == [60, 64]


def test_on_target_reads_the_tolerance():
    base = dict(scale=1.0, src_center=(1, 1), dst_center=(1, 1), input_shape=(4, 4), output_shape=(4, 4))
    assert pixscale.ScaleTransform(**base).on_target is None  # built directly: no plan, no verdict
    assert pixscale.ScaleTransform(**base, target=0.3, achieved_ratio=0.3001).on_target is None  # no tolerance
    within = pixscale.ScaleTransform(**base, target=0.3, achieved_ratio=0.3001, tolerance=1e-4)
    beyond = pixscale.ScaleTransform(**base, target=0.3, achieved_ratio=0.2998, tolerance=1e-4)
    assert within.on_target is True and beyond.on_target is False
    assert beyond.to_dict()["tolerance"] == 1e-4 and beyond.to_dict()["on_target"] is False


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"exact": False},
        {"center": "bbox", "fit": "shrink", "output_shape": (40, 56)},
        {"center": "image", "fit": "none", "margin": "5%"},
        {"center": (30.25, 20.5), "exact": False, "margin": 3},
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_planned_transform_is_what_the_checked_constructor_gives(options, dtype):
    # plan() builds its transforms without ScaleTransform's per-field checks (ScaleTransform._planned):
    # every field must already be what those checks leave, value and type.
    alpha = np.zeros((48, 64), np.float64)
    alpha[12:30, 20:41] = 1.0
    alpha[11, 25:33] = 0.5
    scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}[dtype]
    t = pixscale.plan((alpha * scale).astype(dtype), target=0.3, **options)
    fields = {name: getattr(t, name) for name in pixscale.ScaleTransform.__dataclass_fields__}
    checked = pixscale.ScaleTransform(**fields)
    assert t == checked and hash(t) == hash(checked) and repr(t) == repr(checked)
    for name, value in fields.items():
        assert type(value) is type(getattr(checked, name)), name
        if isinstance(value, tuple):
            assert [type(v) for v in value] == [type(v) for v in getattr(checked, name)], name
