"""pixscale.Normalizer: one configuration, any image kind, pickled into worker processes."""

import multiprocessing
import pickle

import numpy as np
import pytest

import pixscale


def _images(n=4, size=96):
    rng = np.random.default_rng(8)
    out = []
    for _ in range(n):
        img = np.zeros((size, size, 4), np.uint8)
        y, x = rng.integers(5, size - 40, 2)
        h, w = rng.integers(10, 35, 2)
        img[y : y + h, x : x + w] = np.append(rng.integers(0, 256, 3), 255)
        out.append(img)
    return out


def test_it_is_normalize_with_its_options_and_says_what_it_is():
    norm = pixscale.Normalizer(0.35, center="bbox", fit="shrink", margin=2, background="white")
    for img in _images():
        want = pixscale.normalize(img, target=0.35, center="bbox", fit="shrink", margin=2, background="white")
        np.testing.assert_array_equal(norm(img), want)
        assert norm.plan(img) == pixscale.plan(img, target=0.35, center="bbox", fit="shrink", margin=2)
    assert repr(norm) == (
        "Normalizer(target=0.35, threshold=10.0, center='bbox', fit='shrink', margin=2, exact=True, background='white')"
    )
    assert pickle.loads(pickle.dumps(norm)) == norm


def test_filter_and_speck_options_are_normalize_s():
    kw = {"target": 0.35, "filter": "auto", "min_component": 20, "keep": "all", "erase_specks": True}
    norm = pixscale.Normalizer(**kw)
    for img in _images():
        img = img.copy()
        img[-3:, -3:] = (9, 9, 9, 255)  # a 9-pixel speck in the corner
        want = pixscale.normalize(img, **kw)
        np.testing.assert_array_equal(norm(img), want)
        assert not want[-6:, -6:].any()  # erased, not just ignored
        kw_plan = {k: v for k, v in kw.items() if k != "erase_specks"}
        assert norm.plan(img).measurement.dropped_components == 1
        assert norm.plan(img).filter == pixscale.plan(img, **kw_plan).filter == "auto"
    assert "filter='auto'" in repr(norm) and "min_component=20" in repr(norm) and "erase_specks=True" in repr(norm)
    assert pickle.loads(pickle.dumps(norm)) == norm
    with pytest.raises(ValueError, match="lanczos4"):
        pixscale.Normalizer(filter="cubic")
    with pytest.raises(ValueError, match="largest"):
        pixscale.Normalizer(keep="biggest")


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"target": 0}, "target"),
        ({"fit": "squeeze"}, "fit"),
        ({"margin": "60%"}, "margin"),
        ({"center": "middle"}, "center"),
    ],
)
def test_bad_options_fail_at_construction(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        pixscale.Normalizer(**kw)


def test_with_camera_returns_the_matching_intrinsics():
    img = _images(1)[0]
    K = np.array([[120.0, 0, 48], [0, 118.0, 47], [0, 0, 1]])
    out, K2 = pixscale.Normalizer(0.4).with_camera(img, K)
    t = pixscale.plan(img, target=0.4)
    np.testing.assert_array_equal(out, t.apply(img))
    np.testing.assert_array_equal(K2, t.intrinsics(K))
    _, K0 = pixscale.Normalizer(0.4, pixel_center=0).with_camera(img, K)
    np.testing.assert_array_equal(K0, t.intrinsics(K, pixel_center=0))


def test_pil_in_pil_out():
    Image = pytest.importorskip("PIL.Image")
    norm = pixscale.Normalizer(0.3)
    img = _images(1)[0]
    out = norm(Image.fromarray(img, "RGBA"))
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == (96, 96)
    np.testing.assert_array_equal(np.asarray(out), norm(img))
    la = Image.fromarray(img[..., [0, 3]], "LA")
    assert norm(la).mode == "LA"
    palette = Image.fromarray(img, "RGBA").convert("P")
    palette.info["transparency"] = 0
    assert norm(palette).mode == "RGBA"
    with pytest.raises(ValueError, match="no alpha channel"):
        norm(Image.fromarray(img[..., :3], "RGB"))


def test_a_spawned_pool_gives_the_same_bytes_as_a_direct_call():
    norm = pixscale.Normalizer(0.3, margin="5%")
    images = _images()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        got = pool.map(norm, images)
    for img, out in zip(images, got, strict=True):
        assert out.tobytes() == norm(img).tobytes()


def test_torch_tensors_come_back_as_tensors():
    torch = pytest.importorskip("torch")
    norm = pixscale.Normalizer(0.3)
    img = _images(1)[0]
    chw = torch.from_numpy(img.transpose(2, 0, 1).copy())
    out = norm(chw)
    assert isinstance(out, torch.Tensor) and out.shape == chw.shape and out.dtype == chw.dtype
    np.testing.assert_array_equal(out.numpy().transpose(1, 2, 0), norm(img))
    f = norm(chw.float() / 255)
    assert f.dtype == torch.float32


def test_torch_is_not_imported_for_arrays():
    import sys

    had = "torch" in sys.modules
    pixscale.Normalizer()(_images(1)[0])
    assert had or "torch" not in sys.modules


def test_setting_an_option_on_a_normalizer_changes_what_it_does_and_is_checked():
    img = np.zeros((64, 64, 4), np.uint8)
    img[10:20, 30:44] = 255
    norm = pixscale.Normalizer(0.4)
    norm.target = 0.2
    assert norm.options.target == 0.2 and norm.target == 0.2
    assert pixscale.measure(norm(img)).size_ratio == pytest.approx(0.2, abs=1e-3)
    assert "target" not in vars(norm)  # no attribute beside the options
    with pytest.raises(ValueError, match="target="):
        norm.target = 2
    assert norm.target == 0.2  # a refused value changes nothing
