"""Cameras: intrinsics in both principal-point conventions, checked against plain projections.

Nothing here reuses ``ScaleTransform.matrix`` or ``map_points``: the expected
pixel of a 3-D point is computed from the pinhole model and the definition of
the warp (continuous coordinates, pixel centres at +0.5) by hand.
"""

import json

import imageio.v3 as iio
import numpy as np
import pytest

import pixscale


def project(fx, fy, cx, cy, X):
    """Pinhole projection of camera-frame points X (..., 3) to pixel coordinates (..., 2)."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack([fx * X[..., 0] / X[..., 2] + cx, fy * X[..., 1] / X[..., 2] + cy], axis=-1)


def moved(uv, pixel_center, scale, src_center, dst_center):
    """Where the warp moves the image point ``uv``, given and returned in the ``pixel_center`` convention.

    A pixel coordinate ``u`` in a convention whose first pixel centre is at
    ``pixel_center`` is the continuous coordinate ``u + 0.5 - pixel_center``;
    the warp maps continuous ``p`` to ``scale * (p - src_center) + dst_center``.
    """
    shift = 0.5 - pixel_center
    p = np.asarray(uv, dtype=np.float64) + shift
    return scale * (p - np.asarray(src_center)) + np.asarray(dst_center) - shift


@pytest.mark.parametrize("pixel_center", [0.0, 0.5])
@pytest.mark.parametrize("scale", [0.6, 1.0, 1.9])
def test_intrinsics_project_points_where_the_warp_moves_them(pixel_center, scale):
    rng = np.random.default_rng(7)
    fx, fy, cx, cy = 180.0, 170.0, 47.3, 49.1
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    src, dst = (40.25, 55.5), (48.0, 48.0)
    t = pixscale.ScaleTransform(scale, src, dst, (96, 96), (96, 96))
    X = rng.uniform(-0.3, 0.3, (25, 3)) + [0.0, 0.0, 2.5]
    K2 = t.intrinsics(K, pixel_center=pixel_center)
    got = project(K2[0, 0], K2[1, 1], K2[0, 2], K2[1, 2], X)
    want = moved(project(fx, fy, cx, cy, X), pixel_center, scale, src, dst)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # The principal point itself, written out: cx' = scale * (cx + shift - src_x) + dst_x - shift.
    shift = 0.5 - pixel_center
    assert K2[0, 2] == pytest.approx(scale * (cx + shift - src[0]) + dst[0] - shift, abs=1e-12)
    assert K2[1, 2] == pytest.approx(scale * (cy + shift - src[1]) + dst[1] - shift, abs=1e-12)
    assert (K2[0, 0], K2[1, 1]) == pytest.approx((scale * fx, scale * fy))


def test_the_two_conventions_differ_by_the_half_pixel_term():
    """Ignoring ``pixel_center`` is wrong by ``(scale - 1) / 2`` pixels in the principal point."""
    t = pixscale.ScaleTransform(2.5, (30.0, 20.0), (48.0, 48.0), (96, 96), (96, 96))
    K = np.array([[100.0, 0.0, 47.0], [0.0, 100.0, 45.0], [0.0, 0.0, 1.0]])
    opencv, centred = t.intrinsics(K, pixel_center=0.0), t.intrinsics(K, pixel_center=0.5)
    np.testing.assert_allclose(opencv[:2, 2] - centred[:2, 2], [0.75, 0.75], atol=1e-12)
    # OpenCV: pixel 47 is the continuous point 47.5, which maps to 2.5 * 17.5 + 48 = 91.75, i.e. 91.25.
    np.testing.assert_allclose(opencv[:2, 2], [91.25, 2.5 * 25.5 + 48 - 0.5], atol=1e-12)


def _blob_centre(channel, near, radius=7):
    """Intensity-weighted centre of ``channel`` within ``radius`` px of ``near``, in continuous coordinates."""
    h, w = channel.shape
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    window = np.hypot(xx - near[0], yy - near[1]) <= radius
    weight = channel.astype(np.float64) * window
    return np.array([(weight * xx).sum(), (weight * yy).sum()]) / weight.sum()


@pytest.mark.slow
def test_pipeline_with_opencv_cameras_keeps_points_where_the_image_has_them(tmp_path):
    """End to end with ``pixel_center=0``: a 3-D point drawn into each input view (a small bright blob
    at its OpenCV projection) is found in each output view at its projection by the written camera."""
    from pixscale.pipeline.driver import run
    from pixscale.pipeline.options import RunOptions
    from pixscale.synth import write_dataset

    src, out = tmp_path / "in", tmp_path / "out"
    (folder,) = write_dataset(src, n_samples=1, size=96, seed=0, layout="gslrm")
    cameras = json.loads((folder / "opencv_cameras.json").read_text())
    size = 96
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    rng = np.random.default_rng(3)
    points = {}
    for frame in cameras["frames"]:
        # A hard disc (so the scale is about 2 at target 0.3) holding a Gaussian blob off its centre.
        disc_c = rng.uniform(40, 56, 2)
        blob_cv = disc_c - 0.5 + rng.uniform(-2.5, 2.5, 2)  # OpenCV pixel coordinates of the blob
        image = np.zeros((size, size, 4), np.uint8)
        image[..., 3] = np.where(np.hypot(xx - disc_c[0], yy - disc_c[1]) <= 8.0, 255, 0)
        blob = np.exp(-((xx - blob_cv[0] - 0.5) ** 2 + (yy - blob_cv[1] - 0.5) ** 2) / (2 * 1.0**2))
        image[..., 0] = np.rint(255 * blob)
        iio.imwrite(folder / frame["file_path"], image)
        # The 3-D point that this camera sees at the blob, under the OpenCV convention.
        w2c = np.array(frame["w2c"])
        ray = np.array([(blob_cv[0] - frame["cx"]) / frame["fx"], (blob_cv[1] - frame["cy"]) / frame["fy"], 1.0])
        X_cam = 2.6 * ray
        X = w2c[:3, :3].T @ (X_cam - w2c[:3, 3])
        points[frame["file_path"]] = X
        # The blob is found where it was drawn (the measurement is good to a few hundredths of a pixel).
        np.testing.assert_allclose(_blob_centre(image[..., 0], blob_cv + 0.5) - 0.5, blob_cv, atol=0.02)

    rows, _ = run(src, out, RunOptions(pixel_center=0.0), quiet=True)
    assert rows and all(r["status"] != "failed" for r in rows), rows
    written = json.loads((out / folder.name / "opencv_cameras.json").read_text())
    assert len(written["frames"]) == len(cameras["frames"])
    for frame, before in zip(written["frames"], cameras["frames"], strict=True):
        scale = frame["fx"] / before["fx"]
        assert abs(scale - 1) * 0.5 > 0.3  # the two conventions differ by more than the tolerance below
        np.testing.assert_array_equal(frame["w2c"], before["w2c"])
        w2c = np.array(frame["w2c"])
        X_cam = w2c[:3, :3] @ points[frame["file_path"]] + w2c[:3, 3]
        want = project(frame["fx"], frame["fy"], frame["cx"], frame["cy"], X_cam)
        warped = iio.imread(out / folder.name / frame["file_path"])
        found = _blob_centre(warped[..., 0], want + 0.5) - 0.5  # back to OpenCV pixel coordinates
        np.testing.assert_allclose(found, want, atol=0.1)
