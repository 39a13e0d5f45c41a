"""Exact mode's search as array operations (pixscale._gpu_search) against the CPU's plan, view by view.

:func:`pixscale._gpu_search.plan_alone` plans many views at once, one probe
call a round for all of them.  Here its probe rows are counted on the host
by the CPU's own probe kernels (the GPU kernels' agreement with those is
tests/gpu/test_kernels.py's), so these tests need no GPU and no simulator,
and can cover many views: every option that moves the search (fit, margin,
canvas, filter, dtype, centre, a target the cap or the canvas edge limits)
must give the CPU plan's scale and placement.
"""

import numpy as np
import pytest

import pixscale
from pixscale import _gpu_search
from pixscale._plan import _prepare, _support
from pixscale._search import refine_scale
from pixscale._warp import kernel_constants, resampler


def host_count(objects, options):
    """``count(rows)`` of :func:`plan_alone` on the host: the CPU probe's kernel for each row; counts the calls."""
    calls = []

    def count(rows):
        calls.append(len(rows))
        out = []
        for view, scale, cx, cy, dx, dy, r0, r1, c0, c1 in rows.tolist():
            alpha = objects[int(view)].alpha
            thr = _threshold(alpha, options)
            args = (alpha, thr, scale, cx, cy, dx, dy, int(r0), int(r1), int(c0), int(c1))
            kernel = resampler(options.filter, scale)[1]
            out.append(kernel(*args, alpha.dtype.kind == "u", kernel_constants(alpha.dtype)))
        return np.array(out, np.int64)

    return count, calls


def _threshold(alpha, options):
    from pixscale._validate import threshold_value

    return threshold_value(alpha.dtype, options.object_mask.threshold)


def plan_together(images, options):
    objects = [_prepare(img, options) for img in images]
    supports = [_support(o.alpha, _threshold(o.alpha, options), o.measurement.bbox, options.filter) for o in objects]
    count, calls = host_count(objects, options)
    return _gpu_search.plan_alone(objects, supports, options, count), calls


def disc(rng, shape, dtype):
    """A soft disc (or an axis-aligned box: a plateau of the ratio) somewhere on a transparent canvas."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] + 0.5
    r = rng.uniform(1.5, min(h, w) * 0.45)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)  # near or over the edge too
    if rng.random() < 0.25:
        a = ((np.abs(x - cx) < r) & (np.abs(y - cy) < r * 0.7)).astype(np.float64)
    else:
        a = np.clip(r + 0.5 - np.hypot(x - cx, y - cy), 0, 1)
    if not (a > 0.5).any():
        a[h // 2, w // 2] = 1.0
    top = 1.0 if np.dtype(dtype).kind == "f" else np.iinfo(dtype).max
    img = np.zeros((h, w, 4))
    img[..., :3] = 0.5 * top
    img[..., 3] = a * top
    if np.dtype(dtype).kind != "f":
        img = np.floor(img + 0.5)
    return img.astype(dtype)


def assert_same(t, t_cpu):
    assert t.scale == pytest.approx(t_cpu.scale, rel=1e-9, abs=0)
    assert t.scale == t_cpu.scale  # the same float operations: the same bits
    assert (t.src_center, t.dst_center, t.shift) == (t_cpu.src_center, t_cpu.dst_center, t_cpu.shift)
    assert (t.achieved_ratio, t.tolerance, t.cut_pixels) == (t_cpu.achieved_ratio, t_cpu.tolerance, t_cpu.cut_pixels)
    assert (t.limited, t.wanted_scale, t.output_shape, t.filter) == (
        t_cpu.limited,
        t_cpu.wanted_scale,
        t_cpu.output_shape,
        t_cpu.filter,
    )


CASES = [
    dict(target=0.3),
    dict(target=0.6, margin=3),
    dict(target=0.9, fit="shift"),  # the cap limits most views
    dict(target=0.7, fit="shrink", margin="5%", center="bbox"),
    dict(target=0.5, fit="none"),
    dict(target=0.4, output_shape=(17, 29), center="image", fit="none"),
    dict(target=0.35, output_shape=(9, 7)),  # a tiny canvas: a loose goal, the scan
    dict(target=0.45, filter="lanczos4"),
    dict(target=0.45, filter="area", output_shape=(12, 14)),
    dict(target=0.5, filter="auto"),
]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_views_searched_together_plan_as_the_cpu_plans_each(dtype, case):
    rng = np.random.default_rng(abs(hash((np.dtype(dtype).name, tuple(case.items())))) % 2**32)
    options = pixscale.Options(exact=True, **case)
    images = [disc(rng, (int(rng.integers(14, 30)), int(rng.integers(14, 30))), dtype) for _ in range(1)]
    images = [disc(rng, images[0].shape[:2], dtype) for _ in range(12)]  # one shape: one batch
    cpu = []
    for img in images:
        try:
            cpu.append(pixscale.plan(img, options=options))
        except pixscale.EmptyMaskError as exc:
            cpu.append(exc)
    keep = [i for i, t in enumerate(cpu) if not isinstance(t, Exception)]
    got, calls = plan_together([images[i] for i in keep], options)
    for i, t in zip(keep, got, strict=True):
        assert_same(t, cpu[i])
    if keep:
        assert len(calls) <= 2 + 12 + 48 + 2 * 48 + 2  # rounds, not views x probes


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("fit", ["shift", "none"])
def test_the_closed_form_and_the_final_counts_are_the_cpus(exact, fit):
    rng = np.random.default_rng(7)
    options = pixscale.Options(target=0.25, exact=exact, fit=fit, output_shape=(40, 40))
    images = [disc(rng, (22, 26), np.uint8) for _ in range(10)]
    got, calls = plan_together(images, options)
    for img, t in zip(images, got, strict=True):
        assert_same(t, pixscale.plan(img, options=options))
    if not exact:
        assert len(calls) <= 1  # the counts at the planned scale: one call for every view


def test_the_search_is_refine_scale_for_any_ratio():
    """The array search against the specification on made-up ratio functions: steps, plateaus, jumps, limits."""
    rng = np.random.default_rng(3)
    n = 200
    kinds = rng.integers(0, 4, n)
    slopes = rng.uniform(0.02, 0.4, n)
    steps = rng.uniform(1e-4, 3e-2, n)
    starts = rng.uniform(0.2, 5, n)
    goals = rng.choice([1e-5, 1e-3, 3e-2], n)
    target = 0.37

    def ratio(i, s):
        x = slopes[i] * s
        if kinds[i] == 0:
            return x
        if kinds[i] == 1:  # jumps: the ratio moves in steps
            return np.floor(x / steps[i]) * steps[i]
        if kinds[i] == 2:  # not monotonic
            return x + steps[i] * np.sin(s * 50)
        return min(x, 0.3)  # never reaches the target

    class Rows:
        index = np.arange(n, dtype=np.float64)
        n_out = 1.0

        def rows(self, i, s):
            return np.stack([self.index[i], s] + [np.zeros(len(i))] * 4 + [np.zeros(len(i)), np.ones(len(i))] * 2, 1)

    def count(rows):  # counts are squares of ratios here: sqrt(count / 1) is the ratio
        return np.array([ratio(int(i), s) ** 2 for i, s in rows[:, :2].tolist()])

    got_s, got_r, _ = _gpu_search.search(Rows(), count, starts, target, goals)
    for i in range(n):
        want = refine_scale(lambda s, i=i: float(np.sqrt(ratio(i, s) ** 2)), starts[i], target, goals[i])
        assert (got_s[i], got_r[i]) == want, i
