"""The synthetic dataset's images are pinned: the demo's and the tests' figures depend on them.

The hashes are of the decoded pixels (not the file bytes, which may change with the PNG
encoder's settings), computed with main at 0c495a8, before ``write_dataset`` was made faster.
"""

import hashlib
import json

import imageio.v3 as iio
import numpy as np
import pytest

from pixscale import synth


def _digest(image):
    image = np.ascontiguousarray(image)
    return hashlib.sha256(image.tobytes() + str(image.shape).encode() + image.dtype.str.encode()).hexdigest()[:16]


DATASETS = {
    "gslrm": (
        dict(n_samples=2, n_views=3, size=512, seed=0),
        {
            "sample_000/images/cam_000.png": "ee4c3adf2c912a3a",
            "sample_000/images/cam_001.png": "0cea4e3660d03def",
            "sample_000/images/cam_002.png": "50d951cca801f5a5",
            "sample_001/images/cam_000.png": "fdecd42df2b6c84a",
            "sample_001/images/cam_001.png": "eea40453e4d66de1",
            "sample_001/images/cam_002.png": "96190b4094018340",
        },
    ),
    "mvdiffusion": (
        dict(n_samples=2, n_views=2, size=96, seed=3),
        {
            "sample_000/cam_000.png": "fc5f1f6ff4a2dc2a",
            "sample_000/cam_001.png": "753e4555d314baae",
            "sample_001/cam_000.png": "af23071298a558b7",
            "sample_001/cam_001.png": "0f4af8e53dd49b0e",
        },
    ),
    "flat": (
        dict(n_samples=2, n_views=2, size=64, seed=7),
        {
            "view_0000.png": "b65292427c58c372",
            "view_0001.png": "b21b9767a4235a4a",
            "view_0002.png": "09eb061c22e11539",
            "view_0003.png": "e63462f64d473844",
        },
    ),
}

CAMERAS = {"sample_000/opencv_cameras.json": "c819b94572f2698f", "sample_001/opencv_cameras.json": "8fa5471070040bf5"}


@pytest.mark.parametrize("layout", sorted(DATASETS))
def test_write_dataset_writes_the_pinned_pixels(tmp_path, layout):
    kwargs, expected = DATASETS[layout]
    paths = synth.write_dataset(tmp_path, layout=layout, **kwargs)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")}
    assert written == set(expected)
    assert {name: _digest(iio.imread(tmp_path / name)) for name in expected} == expected
    if layout == "flat":
        assert paths == [tmp_path / name for name in sorted(expected)]
    else:
        assert paths == [tmp_path / f"sample_{i:03d}" for i in range(kwargs["n_samples"])]
    if layout == "gslrm":
        for name, digest in CAMERAS.items():
            assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()[:16] == digest
        listed = (tmp_path / "train.txt").read_text().splitlines()
        assert listed == [str(p.resolve()) for p in paths]
        assert json.loads((tmp_path / "sample_001/opencv_cameras.json").read_text())["id"] == "sample_001"


@pytest.mark.parametrize(
    ("seed", "kwargs", "digest"),
    [
        (0, {}, "7d464c3f653959ca"),
        (1, dict(size=33), "b97966dc3391107c"),
        (2, dict(size=200, scale=0.5), "724c527ff1dbe234"),
        (5, dict(size=128, scale=0.1, fur=(200, 100, 50)), "8f056f17c0c733a6"),
    ],
)
def test_mouse_view_draws_the_pinned_pixels(seed, kwargs, digest):
    assert _digest(synth.mouse_view(np.random.default_rng(seed), **kwargs)) == digest


def test_write_dataset_reports_progress_per_sample_in_order(tmp_path):
    calls = []

    class Bar:
        def __init__(self, **kwargs):
            calls.append(("init", kwargs))

        def update(self, n):
            calls.append(("update", n))

        def close(self):
            calls.append(("close",))

    synth.write_dataset(tmp_path, n_samples=3, n_views=2, size=32, progress=Bar)
    assert calls == [("init", {"total": 3, "unit": "sample"})] + [("update", 1)] * 3 + [("close",)]


@pytest.mark.parametrize("layout", ["gslrm", "flat"])
def test_write_dataset_writes_the_same_files_on_any_number_of_threads(tmp_path, layout):
    def written(threads):
        root = tmp_path / str(threads)
        paths = synth.write_dataset(root, n_samples=5, n_views=2, size=48, seed=9, layout=layout, threads=threads)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        files.pop("train.txt", None)  # lists absolute paths
        return [p.relative_to(root) for p in paths], files

    assert written(1) == written(3) == written(8)


@pytest.mark.parametrize(("threads", "error"), [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_write_dataset_refuses_a_bad_thread_count(tmp_path, threads, error):
    with pytest.raises(error, match="threads"):
        synth.write_dataset(tmp_path, n_samples=1, size=32, threads=threads)


def test_write_dataset_raises_a_failing_sample_error_on_threads(tmp_path, monkeypatch):
    def fail(rng, n_views, size):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(synth, "_sample_views", fail)
    with pytest.raises(RuntimeError, match="drawing failed"):
        synth.write_dataset(tmp_path, n_samples=4, size=32, threads=2)
