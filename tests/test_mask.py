"""RGB images with a separate object mask: the mask is the alpha, in every form a matte comes in."""

import numpy as np
import pytest

import pixscale


@pytest.fixture
def rgb_and_mask():
    rng = np.random.default_rng(21)
    rgb = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:80, 0:120] + 0.5
    soft = np.clip(18 - np.hypot(xx - 70, (yy - 30) * 1.4), 0, 1)  # 0-1, soft edge
    return rgb, soft


@pytest.mark.parametrize("form", ["float", "uint8", "bool", "binary-int", "hw1"])
def test_the_mask_is_the_alpha(rgb_and_mask, form):
    rgb, soft = rgb_and_mask
    alpha8 = np.floor(soft * 255 + 0.5).astype(np.uint8)
    mask, alpha = {
        "float": (soft, alpha8),
        "uint8": (alpha8, alpha8),
        "bool": (soft > 0.5, (soft > 0.5).astype(np.uint8) * 255),
        "binary-int": ((soft > 0.5).astype(np.int64), (soft > 0.5).astype(np.uint8) * 255),
        "hw1": (alpha8[:, :, None], alpha8),
    }[form]
    rgba = np.dstack([rgb, alpha])
    assert pixscale.measure(rgb, mask=mask) == pixscale.measure(rgba)
    assert pixscale.plan(rgb, mask=mask, target=0.25) == pixscale.plan(rgba, target=0.25)
    out = pixscale.normalize(rgb, mask=mask, target=0.25)
    assert out.shape == (80, 120, 4)
    np.testing.assert_array_equal(out, pixscale.normalize(rgba, target=0.25))
    np.testing.assert_array_equal(pixscale.Normalizer(0.25)(rgb, mask=mask), out)


def test_uint16_and_gray_images(rgb_and_mask):
    rgb, soft = rgb_and_mask
    rgb16 = rgb.astype(np.uint16) * 257
    alpha8 = np.floor(soft * 255 + 0.5).astype(np.uint8)
    assert pixscale.measure(rgb16, mask=alpha8) == pixscale.measure(np.dstack([rgb16, alpha8.astype(np.uint16) * 257]))
    gray = rgb[..., 0]
    out = pixscale.normalize(gray, mask=soft)
    assert out.shape == (80, 120, 2) and out.dtype == np.uint8


@pytest.mark.parametrize(
    "mask, error, match",
    [
        (np.zeros((80, 119)), ValueError, r"mask has shape \(80, 119\)"),
        (np.full((80, 120), 300, np.int32), ValueError, "0-255"),
        (np.full((80, 120), 1.5), ValueError, r"\[0, 1\]"),
        (np.full((80, 120), np.nan), ValueError, "finite"),
        (np.full((80, 120), "x"), TypeError, "dtype"),
    ],
)
def test_bad_masks_are_refused_with_the_fix(rgb_and_mask, mask, error, match):
    rgb, _ = rgb_and_mask
    with pytest.raises(error, match=match):
        pixscale.measure(rgb, mask=mask)


def test_an_rgba_image_with_a_mask_is_refused(rgb_and_mask):
    rgb, soft = rgb_and_mask
    with pytest.raises(ValueError, match="shape"):
        pixscale.measure(np.dstack([rgb, rgb[..., :1]]), mask=soft)
