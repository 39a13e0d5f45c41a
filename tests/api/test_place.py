"""Placement: fit="shift" / "shrink" / "none", margins, per-sample scales, and exact mode's best ratio.

Every check re-measures warped images; the footprint checks warp with
:mod:`pixscale.reference`, not with the code under test.
"""

import math

import numpy as np
import pytest

import pixscale
from pixscale import reference


def tailed(size=256, *, body=(0.5, 0.5), tail=(1, 0), length=0.48, seed=0):
    """A soft body with a long thin tail: the shape whose bbox swings while its area does not."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    bx, by = body[0] * size, body[1] * size
    r = 0.09 * size
    alpha = np.clip((r - np.hypot(xx - bx, (yy - by) * 1.3)) / 2 + 0.5, 0, 1)
    tx, ty = np.array(tail, float) / np.hypot(*tail)
    t = (xx - bx) * tx + (yy - by) * ty
    d = np.abs(-(xx - bx) * ty + (yy - by) * tx)
    alpha = np.maximum(alpha, np.clip(2.0 - d, 0, 1) * ((t > 0) & (t < length * size)))
    alpha *= rng.uniform(0.97, 1.0, alpha.shape)
    return np.floor(alpha * 255 + 0.5).astype(np.uint8)


def padded(t, pad):
    """The same map onto a canvas ``pad`` pixels larger on every side."""
    (dx, dy), (ho, wo) = t.dst_center, t.output_shape
    return pixscale.ScaleTransform(
        t.scale, t.src_center, (dx + pad, dy + pad), t.input_shape, (ho + 2 * pad, wo + 2 * pad)
    )


def footprint_outside(mask, t, margins=(0, 0), pad=64):
    """Output pixels outside the canvas less ``margins`` that get any non-zero bilinear weight of the mask."""
    big = reference.warp(mask.astype(np.float64), padded(t, pad))
    (mx, my), (ho, wo) = margins, t.output_shape
    inside = np.zeros(big.shape, bool)
    ny, nx = math.ceil(my - 0.5), math.ceil(mx - 0.5)  # margin pixels: centres less than the margin from the border
    inside[pad + ny : pad + ho - ny, pad + nx : pad + wo - nx] = True
    return int(np.count_nonzero((big > 0) & ~inside))


def object_pixels_outside(alpha, t, pad=64):
    big = reference.warp(alpha, padded(t, pad))
    ho, wo = t.output_shape
    inner = big[pad : pad + ho, pad : pad + wo]
    return int(np.count_nonzero(big > 10)) - int(np.count_nonzero(inner > 10))


@pytest.mark.parametrize(
    "body, tail, length",
    [
        ((0.45, 0.5), (1, 0), 0.4),
        ((0.5, 0.62), (0.3, -1), 0.48),
        ((0.6, 0.4), (-1, 0.8), 0.45),
        ((0.5, 0.5), (-1, -1), 0.5),
    ],
)
def test_shift_keeps_every_pixel_on_target_with_the_smallest_move(body, tail, length):
    alpha = tailed(body=body, tail=tail, length=length)
    t = pixscale.plan(alpha)
    assert not t.limited and t.on_target and t.cut_pixels == 0
    assert abs(t.achieved_ratio - 0.3) <= 2e-4
    assert t.shift != (0.0, 0.0)  # centring the centroid would cut the tail
    out = t.apply(alpha)
    assert pixscale.measure(out).size_ratio == t.achieved_ratio
    mask = alpha > 10
    assert object_pixels_outside(alpha, t) == 0
    assert footprint_outside(mask, t) == 0
    # The move is the smallest: one pixel less along either moved axis lets the footprint out.
    for axis in (0, 1):
        if t.shift[axis] == 0:
            continue
        dst = list(t.dst_center)
        dst[axis] -= math.copysign(1.0, t.shift[axis])
        less = pixscale.ScaleTransform(t.scale, t.src_center, tuple(dst), t.input_shape, t.output_shape)
        assert footprint_outside(mask, less) > 0, axis
    # The same view centred and shrunk instead: limited; or left alone: cut.
    shrunk = pixscale.plan(alpha, fit="shrink")
    assert shrunk.limited and shrunk.scale < t.scale and shrunk.shift == (0.0, 0.0)
    cut = pixscale.plan(alpha, fit="none")
    assert not cut.limited and cut.cut_pixels > 0
    assert cut.cut_pixels == object_pixels_outside(alpha, cut)


def test_a_centred_object_does_not_move():
    yy, xx = np.mgrid[0:128, 0:128] + 0.5
    alpha = np.clip(20 - np.hypot(xx - 64, yy - 64), 0, 1)
    for fit in ("shift", "shrink", "none"):
        t = pixscale.plan(alpha, fit=fit)
        assert t.shift == (0.0, 0.0) and t.dst_center == (64.0, 64.0) and not t.limited, fit


def test_the_shift_is_in_the_intrinsics_and_the_inverse():
    alpha = tailed(body=(0.4, 0.55), tail=(1, 0.2))
    t = pixscale.plan(alpha)
    assert t.shift[0] < 0
    K = np.array([[300.0, 0, 128], [0, 310.0, 120], [0, 0, 1]])
    pts3 = np.array([[0.1, -0.2, 2.0], [-0.3, 0.05, 3.0], [0.0, 0.0, 1.5]])
    before = (K @ pts3.T).T
    before = before[:, :2] / before[:, 2:]
    after = (t.intrinsics(K) @ pts3.T).T
    np.testing.assert_allclose(after[:, :2] / after[:, 2:], t.map_points(before), rtol=0, atol=1e-9)
    np.testing.assert_allclose(t.inverse().map_points(t.map_points(before)), before, atol=1e-9)


@pytest.mark.parametrize(
    "margin, px",
    [(12, (12, 12)), ("12", (12, 12)), ("5%", (10, 5)), ("2.5 %", (5, 2.5)), (0.7, (0.7, 0.7)), ("1.4%", (2.8, 1.4))],
)
def test_margin_in_pixels_or_percent(margin, px):
    alpha = np.zeros((100, 200), np.uint8)
    alpha[60:95, 120:195] = 255  # near the bottom-right corner
    t = pixscale.plan(alpha, target=0.4, margin=margin, center="image")
    assert not t.limited and t.shift[0] < 0 and t.shift[1] < 0
    assert footprint_outside(alpha > 10, t, margins=px) == 0
    x0, y0, x1, y1 = pixscale.measure(t.apply(alpha)).bbox
    nx, ny = (math.ceil(m - 0.5) for m in px)
    assert x0 >= nx and y0 >= ny and x1 <= 200 - nx and y1 <= 100 - ny


@pytest.mark.parametrize("margin", [-1, "50%", "abc", "5%%", float("nan"), True, None])
def test_bad_margins_are_refused(margin):
    with pytest.raises(ValueError, match="margin"):
        pixscale.plan(np.full((20, 20), 255, np.uint8), margin=margin)


@pytest.mark.parametrize("fit", [True, False])
def test_fit_true_and_false_of_pixscale_0_1_are_refused_with_what_to_write(fit):
    """``fit=True`` meant "shrink" in 0.1 and was then read as "shift" without a word: now an error."""
    alpha = tailed()
    write = r'`fit="shrink"` for that' if fit else r'write `fit="none"` for it'
    for call in (
        lambda: pixscale.plan(alpha, fit=fit),
        lambda: pixscale.normalize(alpha, fit=fit),
        lambda: pixscale.Normalizer(fit=fit),
        lambda: pixscale.Options(fit=fit),
    ):
        with pytest.raises(ValueError, match=rf"`fit={fit}` is no longer accepted.*{write}"):
            call()


def test_fit_bad_values():
    alpha = tailed()
    with pytest.raises(ValueError, match=r"`fit=` must be one of 'shift', 'shrink', 'none'; got 'squeeze'"):
        pixscale.plan(alpha, fit="squeeze")


def test_shift_shrinks_only_an_object_larger_than_the_canvas():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[10:20, 5:85] = 255  # 80 px wide: at target 0.5 (scale ~1.77) it cannot fit by any move
    t = pixscale.plan(alpha, target=0.5, margin=2)
    assert t.limited and t.wanted_scale > t.scale
    assert t.scale == pytest.approx((100 - 4 + 1) / (80 + 1))  # room / footprint width
    assert footprint_outside(alpha > 10, t, margins=(2, 2)) == 0


def test_limited_means_the_fit_shrank_the_scale_and_nothing_else(emoji_images):
    for name, img in emoji_images.items():
        t = pixscale.plan(img, target=0.3)
        free = pixscale.plan(img, target=0.3, fit="none")
        if t.cut_pixels == 0 and free.cut_pixels == 0:
            assert not t.limited and t.scale == free.scale, name


def test_per_sample_views_share_one_scale_and_are_each_kept_whole():
    views = [
        tailed(body=b, tail=d, length=0.4, seed=i)
        for i, (b, d) in enumerate([((0.5, 0.5), (1, 0)), ((0.3, 0.6), (1, -0.2)), ((0.55, 0.45), (0, 1))])
    ]
    ts = pixscale.plan_group(views)
    assert len({t.scale for t in ts}) == 1 and not any(t.limited for t in ts)
    assert abs(np.mean([t.achieved_ratio for t in ts]) - 0.3) <= 2e-4
    for v, t in zip(views, ts, strict=True):
        assert t.cut_pixels == 0 and object_pixels_outside(v, t) == 0
        assert t.achieved_ratio == pixscale.measure(t.apply(v)).size_ratio
    # One view too wide for its canvas at the shared scale: all are limited, to that view's cap.
    wide = np.zeros((256, 256), np.uint8)
    wide[120:130, 8:248] = 255
    ts = pixscale.plan_group([*views, wide])
    assert len({t.scale for t in ts}) == 1 and all(t.limited for t in ts)
    assert ts[0].scale == pytest.approx(257 / 241) and ts[0].wanted_scale > ts[0].scale


def _brute_force(alpha, t, spread=0.01, n=2001):
    """The ratio closest to the target over a fine grid of scales around ``t.scale`` (same centres)."""
    best = math.inf
    for s in t.scale * (1 + np.linspace(-spread, spread, n)):
        probe = pixscale.ScaleTransform(s, t.src_center, t.dst_center, t.input_shape, t.output_shape)
        r = math.sqrt(np.count_nonzero(reference.warp(alpha, probe) > 10) / alpha.size)
        best = min(best, abs(r - t.target))
    return best


@pytest.mark.parametrize("case", ["flat-bottom", "square", "soft"])
def test_exact_mode_returns_the_best_ratio_nearby_scales_give(case):
    yy, xx = np.mgrid[0:96, 0:96] + 0.5
    if case == "flat-bottom":  # a cut-out's straight edge along the grid: the count jumps
        alpha = ((np.hypot(xx - 48, yy - 48) < 22) & (yy < 58)) * 255
    elif case == "square":
        alpha = ((abs(xx - 48) < 15) & (abs(yy - 48) < 15)) * 255
    else:
        alpha = np.clip(21 - np.hypot(xx - 48, (yy - 48) * 1.2), 0, 1) * 255
    alpha = alpha.astype(np.uint8)
    center = pixscale.measure(alpha).centroid
    t = pixscale.plan(alpha, target=0.37, fit="none", center=center)
    assert t.dst_center == (48.0, 48.0)
    assert abs(t.achieved_ratio - 0.37) <= _brute_force(alpha, t) + 1e-5


@pytest.mark.parametrize("seed", range(6))
def test_exact_mode_search_matches_a_brute_force_scan_on_varied_views(seed):
    """The search (a probe at half the scale, proportional steps, interpolation in the bracket,
    wider steps on a plateau, then bisection and scan) ends within 1e-5 of the best ratio a
    brute-force scan of nearby scales gives: on soft edges, a tail, a hard disk and a hard box
    whose straight edges make the count jump and stay flat."""
    rng = np.random.default_rng(seed)
    size = 128
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    cx, cy = rng.uniform(0.4, 0.6, 2) * size
    if seed % 3 == 0:
        alpha = tailed(size, body=(cx / size, cy / size), tail=tuple(rng.normal(size=2)), length=0.25, seed=seed)
    elif seed % 3 == 1:
        r = rng.uniform(0.12, 0.2) * size
        alpha = (np.hypot(xx - cx, (yy - cy) * rng.uniform(0.8, 1.25)) < r).astype(np.uint8) * 255
    else:
        w, h = rng.uniform(0.1, 0.2, 2) * size
        alpha = ((abs(xx - cx) < w) & (abs(yy - cy) < h)).astype(np.uint8) * 255
    m = pixscale.measure(alpha)
    target = m.size_ratio * float(rng.uniform(0.7, 1.5))  # scales 0.7-1.5
    t = pixscale.plan(alpha, target=target, fit="none", center=m.centroid)
    assert t.dst_center == (64.0, 64.0) and t.cut_pixels == 0
    assert t.achieved_ratio == pixscale.measure(t.apply(alpha)).size_ratio
    assert abs(t.achieved_ratio - target) <= _brute_force(alpha, t) + 1e-5
