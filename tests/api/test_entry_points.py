"""The three entry points are one body: normalize, Normalizer and normalize_batch give the same bytes.

For every option (each with a value other than its default), every dtype, RGBA and gray+alpha
images, and RGB / gray images with a separate mask given in each form a batch takes (one (H, W)
mask for all images, an (N, H, W) array, a list), the outputs of ``normalize``, ``Normalizer``,
``normalize_batch`` of an array and ``normalize_batch`` of a list are identical, byte for byte;
the options given as keywords and as one :class:`pixscale.Options` too.
"""

import dataclasses

import numpy as np
import pytest

import pixscale

SHAPE = (40, 48)
N = 3
DTYPES = [np.uint8, np.uint16, np.float32]
LAYOUTS = ["rgba", "gray+alpha"]

# One case per option, each with a value other than its default (some options twice, to reach
# their other branches); the test below checks that every field of Options has a case here.
OPTIONS = {
    "target": {"target": 0.45},
    "threshold": {"threshold": 100},
    "min_component": {"min_component": 12},
    "min_component-fraction": {"min_component": 0.5},
    "keep": {"keep": "largest"},
    "erase_specks": {"min_component": 12, "erase_specks": True},
    "center-bbox": {"center": "bbox"},
    "center-image": {"center": "image"},
    "center-point": {"center": (20.5, 17.0)},
    "output_shape": {"output_shape": (36, 30)},
    "fit-shrink": {"fit": "shrink", "margin": 2},
    "fit-none": {"fit": "none", "target": 0.7},
    "margin": {"margin": "10%"},
    "exact": {"exact": False},
    "filter-lanczos4": {"filter": "lanczos4"},
    "filter-area": {"filter": "area", "target": 0.15},
    "filter-auto": {"filter": "auto"},
    "premultiplied": {"premultiplied": False},
    "background": {"background": "white"},
    "background-colour": {"background": "#ff8000"},
}
MASK_OPTIONS = ["default", "erase_specks", "output_shape", "premultiplied", "background"]
MASK_FORMS = ["single", "array", "list"]


def _scaled(values, dtype):
    """0-255 values in the scale of ``dtype``: x257 for uint16, /255 for floats."""
    values = np.asarray(values, np.float64)
    if np.dtype(dtype).kind == "f":
        return (values * (1.0 / 255)).astype(dtype)
    return np.floor(values * (257 if dtype == np.uint16 else 1) + 0.5).astype(dtype)


def _views(dtype, layout, seed=7):
    """``N`` seeded views of one shape: (colour, alpha) on the 0-255 scale, then in ``dtype``.

    Each has a soft-edged ellipse of its own size and place and two specks of 4 pixels apart from it.
    """
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    n_colour = 3 if layout == "rgba" else 1
    colours, alphas = [], []
    for _ in range(N):
        cy, cx = rng.uniform(14, 26), rng.uniform(16, 32)
        ry, rx = rng.uniform(5, 9), rng.uniform(5, 10)
        d = np.hypot((yy - cy) / ry, (xx - cx) / rx)
        alpha = np.clip((1.15 - d) * 4, 0, 1) * 255  # opaque inside, a ramp of a pixel or two at the edge
        alpha[1:3, 1:3] = 255
        alpha[h - 3 : h - 1, w - 4 : w - 2] = 180
        colour = rng.uniform(0, 255, (h, w, n_colour))
        colours.append(_scaled(colour, dtype))
        alphas.append(alpha)
    return colours, alphas


def _with_alpha(colours, alphas, dtype):
    return [np.dstack([c, _scaled(a, dtype)]) for c, a in zip(colours, alphas, strict=True)]


def _run_all(images, kw, mask_form=None, masks=None):
    """The outputs of the four entry points (plus the Options forms), each as a list of N arrays."""
    if mask_form is None:
        per_image, batch_mask = [None] * N, None
    elif mask_form == "single":
        per_image, batch_mask = [masks[0]] * N, masks[0]
    elif mask_form == "array":
        per_image, batch_mask = list(masks), np.stack(masks)
    else:
        per_image, batch_mask = list(masks), list(masks)
    options = pixscale.Options(**kw)
    norm = pixscale.Normalizer(**kw)
    norm_options = pixscale.Normalizer(options=options)
    return {
        "normalize": [pixscale.normalize(im, mask=m, **kw) for im, m in zip(images, per_image, strict=True)],
        "normalize(options=)": [
            pixscale.normalize(im, mask=m, options=options) for im, m in zip(images, per_image, strict=True)
        ],
        "Normalizer": [norm(im, mask=m) for im, m in zip(images, per_image, strict=True)],
        "Normalizer(options=)": [norm_options(im, mask=m) for im, m in zip(images, per_image, strict=True)],
        "normalize_batch(array)": list(pixscale.normalize_batch(np.stack(images), mask=batch_mask, threads=2, **kw)),
        "normalize_batch(array, options=)": list(
            pixscale.normalize_batch(np.stack(images), mask=batch_mask, threads=2, options=options)
        ),
        "normalize_batch(list)": pixscale.normalize_batch(list(images), mask=batch_mask, threads=2, **kw),
        "normalize_batch(list, options=)": pixscale.normalize_batch(
            list(images), mask=batch_mask, threads=1, options=options
        ),
    }


def _assert_identical(results, want_channels):
    want = results.pop("normalize")
    for out in want:
        assert out.shape[2:] == (want_channels,)
    for name, got in results.items():
        assert len(got) == len(want), name
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert (g.dtype, g.shape) == (w.dtype, w.shape), f"{name}, image {i}: {g.dtype} {g.shape} vs {w.shape}"
            assert g.tobytes() == w.tobytes(), f"{name}, image {i}: other bytes than normalize's"


def test_every_option_has_a_case():
    covered = {key for kw in OPTIONS.values() for key in kw}
    assert covered == {f.name for f in dataclasses.fields(pixscale.Options)}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("option", ["default", *OPTIONS])
def test_the_entry_points_give_the_same_bytes(option, dtype, layout):
    colours, alphas = _views(dtype, layout)
    images = _with_alpha(colours, alphas, dtype)
    _assert_identical(_run_all(images, OPTIONS.get(option, {})), images[0].shape[2])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("option", MASK_OPTIONS)
@pytest.mark.parametrize("form", MASK_FORMS)
def test_the_entry_points_give_the_same_bytes_with_a_mask(form, option, dtype, layout):
    """RGB (or gray) images with their mask given apart: every output gains the mask as its alpha."""
    colours, alphas = _views(dtype, layout)
    images = [c if c.shape[2] == 3 else c[:, :, 0] for c in colours]
    masks = [np.floor(a + 0.5).astype(np.uint8) for a in alphas]
    results = _run_all(images, OPTIONS.get(option, {}), form, masks)
    # and the same bytes as the images with the mask as their alpha channel
    results["normalize(alpha)"] = [
        pixscale.normalize(im, **OPTIONS.get(option, {}))
        for im in _with_alpha(colours, [masks[0]] * N if form == "single" else masks, dtype)
    ]
    _assert_identical(results, 4 if layout == "rgba" else 2)
