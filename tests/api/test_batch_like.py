"""normalize_batch's views of one kind (``pixscale._batch.LikeViews``) give normalize's bytes, or go to its body."""

import numpy as np
import pytest

import pixscale
from pixscale import _batch, _plan

from .test_plan import rgba, soft_shape


@pytest.fixture
def spans(monkeypatch):
    """The span count in use for every dtype, as after ``pixscale.precompile``: exact mode's search is compiled."""
    monkeypatch.setattr(_plan, "_span_state", lambda dtype: True)
    monkeypatch.setattr(_batch, "_span_state", lambda dtype: True)


@pytest.fixture
def lean(monkeypatch):
    """The views ``LikeViews.normalize`` did itself (True) or left to the general body (False), in call order."""
    seen = []
    normalize = _batch.LikeViews.normalize

    def recorded(self, image, out=None):
        done = normalize(self, image, out)
        seen.append(done is not None)
        return done

    monkeypatch.setattr(_batch.LikeViews, "normalize", recorded)
    return seen


def _views(rng, n, size, dtype, channels):
    images = []
    for k in range(n):
        img = rgba(rng, soft_shape(rng, size, edge=float(rng.choice([0.3, 1.5, 4]))), dtype)
        if k == 0:  # hard edges along the grid
            top = img[..., 3].max()
            img[..., 3] = np.where(img[..., 3] > top / 2, top, 0).astype(dtype)
        images.append(img[..., 3] if channels == 0 else img[..., 4 - channels :])
    return np.stack(images)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [4, 2, 1, 0])  # 0: (N, H, W) alpha alone
@pytest.mark.parametrize("exact", [True, False])
def test_like_views_give_normalize_s_bytes(rng, spans, lean, dtype, channels, exact):
    # 128²: large enough that the closed form's objects are not probed for vanishing (4,096 pixels)
    batch = _views(rng, 4, 128, dtype, channels)
    for k in range(5):
        options = {
            "exact": exact,
            "target": float(rng.uniform(0.5, 0.8)),
            "fit": ["shift", "shrink", "none"][k % 3],
            "margin": [0, 3, "5%"][k % 3],
            "center": str(rng.choice(["centroid", "bbox", "image"])) if k != 4 else (30.5, 41.0),
            "output_shape": None if k % 2 else (int(rng.integers(100, 160)), int(rng.integers(100, 160))),
            "premultiplied": bool(k % 2),
            "background": None if k != 3 else "white",
        }
        if channels in (0, 1) and options["background"] is not None:
            options["background"] = None  # no colour channel to composite
        for given in (batch, list(batch), batch[:, ::-1]):  # an array, a list, a strided batch
            expected = []
            for img in given:
                try:
                    expected.append(pixscale.normalize(img, **options))
                except ValueError as exc:  # the shrink rule's centre outside the room, a vanished object
                    expected.append(exc)
            failed = [i for i, e in enumerate(expected) if isinstance(e, ValueError)]
            if failed:
                with pytest.raises(type(expected[failed[0]]), match=f"^image {failed[0]} of the batch: "):
                    pixscale.normalize_batch(given, threads=2, **options)
                continue
            got = pixscale.normalize_batch(given, threads=2, **options)
            np.testing.assert_array_equal(np.stack(got), np.stack(expected))
    assert any(lean)  # the like views' path ran


def test_views_it_does_not_handle_go_to_the_body(rng, spans, lean):
    """A tiny object, an empty mask, another shape or dtype: the body plans them, with its errors."""
    big = rgba(rng, soft_shape(rng, 160))
    tiny = np.zeros((160, 160, 4), np.uint8)
    tiny[80, 5:155] = 255  # a thin line: the fit caps its scale, and so few pixels are probed for vanishing
    other = rgba(rng, soft_shape(rng, 64))
    images = [big, tiny, other, big.astype(np.uint16) * 257, big[::-1]]
    got = pixscale.normalize_batch(images, threads=1, exact=False, target=0.6)
    for img, out in zip(images, got, strict=True):
        np.testing.assert_array_equal(out, pixscale.normalize(img, exact=False, target=0.6))
    assert lean == [True, False, False, False, False]  # the last one: other strides than the first
    lean.clear()
    got = pixscale.normalize_batch(images[:2], threads=1, target=0.6)  # exact mode: the line's scale is capped
    for img, out in zip(images[:2], got, strict=True):
        np.testing.assert_array_equal(out, pixscale.normalize(img, target=0.6))
    assert lean == [True, False]
    empty = np.zeros_like(big)
    with pytest.raises(pixscale.EmptyMaskError, match="image 1 of the batch"):
        pixscale.normalize_batch(np.stack([big, empty, big]), threads=1)


def test_options_it_does_not_handle_leave_the_whole_batch_to_the_body(rng, lean):
    images = np.stack([rgba(rng, soft_shape(rng, 64)) for _ in range(2)])
    for options in ({"filter": "lanczos4"}, {"min_component": 5}, {"keep": "largest", "erase_specks": True}):
        got = pixscale.normalize_batch(images, threads=1, exact=False, **options)
        np.testing.assert_array_equal(got, np.stack([pixscale.normalize(i, exact=False, **options) for i in images]))
    floats = images.astype(np.float32) / 255
    pixscale.normalize_batch(floats, threads=1, exact=False)
    rgb, matte = images[..., :3], images[0, ..., 3]
    pixscale.normalize_batch(rgb, mask=matte, threads=1, exact=False)
    assert lean == []


def test_a_margin_too_wide_is_the_first_view_s_error(rng):
    images = np.stack([rgba(rng, soft_shape(rng, 32)) for _ in range(2)])
    with pytest.raises(ValueError, match=r"image 0 of the batch: `margin=40` leaves no pixel"):
        pixscale.normalize_batch(images, threads=1, margin=40)


@pytest.mark.parametrize("exact", [True, False])
def test_like_views_plan_what_plan_plans(rng, spans, exact):
    """Field for field: the scale and both centres are the floats of pixscale.plan's transform."""
    made = 0
    for k in range(60):
        size = int(rng.choice([64, 128, 192]))
        dtype = [np.uint8, np.uint16][k % 2]
        img = rgba(rng, soft_shape(rng, size, edge=float(rng.choice([0.3, 1.5, 4]))), dtype)
        if k % 5 == 0:
            top = img[..., 3].max()
            img[..., 3] = np.where(img[..., 3] > top / 2, top, 0).astype(dtype)
        options = pixscale.Options(
            exact=exact,
            target=float(rng.uniform(0.2, 0.9) if exact else rng.uniform(0.5, 0.9)),
            fit=["shift", "shrink", "none"][k % 3],
            margin=[0, 2.5, "4%", 7][k % 4],
            center=["centroid", "bbox", "image", (size / 3, size / 2.5)][k % 4],
            output_shape=None if k % 3 == 1 else (int(rng.integers(90, 220)), int(rng.integers(90, 220))),
        )
        like = _batch.LikeViews.of([img], options, None)
        placed = None if like is None else like.plan(img)
        if placed is None:
            continue
        t = pixscale.plan(img, options=options.replace(premultiplied=True, background=None))
        assert (placed.scale, placed.src_center, placed.dst_center) == (t.scale, t.src_center, t.dst_center)
        assert all(type(v) is float for v in (placed.scale, *placed.src_center, *placed.dst_center))
        assert placed.output_shape == t.output_shape
        made += 1
    assert made >= 20  # the rest are the body's: fit none without exact mode, shrink's refusals, tiny objects
