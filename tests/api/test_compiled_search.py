"""Exact mode's compiled search (a single bilinear view's, once the span count is on) plans what Python's plans."""

import numpy as np
import pytest

import pixscale
from pixscale import _plan

from .test_plan import rgba, soft_shape


@pytest.fixture
def spans(monkeypatch):
    """The span count in use for every dtype, as after ``pixscale.precompile``: the compiled search runs.

    Returns the list of scales each compiled search started from.
    """
    started = []
    search = _plan._Probe.search

    def recorded(self, scale, target, goal):
        started.append(scale)
        return search(self, scale, target, goal)

    monkeypatch.setattr(_plan, "_span_state", lambda dtype: True)
    monkeypatch.setattr(_plan._Probe, "search", recorded)
    return started


def _both(img, options):
    """The plan of one view by the Python search and by the compiled one."""
    python = _plan.plan_measured([_plan._prepare(img, options)], options, compiled=False)
    compiled = _plan.plan_measured([_plan._prepare(img, options)], options)
    return python, compiled


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("fit", ["shift", "shrink", "none"])
def test_the_compiled_search_plans_what_the_python_search_plans(rng, spans, dtype, fit):
    for k in range(6):
        size = int(rng.choice([24, 64, 96]))
        img = rgba(rng, soft_shape(rng, size, edge=float(rng.choice([0.3, 1.5, 4]))), dtype)
        if k == 0:  # hard edges along the grid: the search goes on to bisect and scan
            top = img[..., 3].max()
            img[..., 3] = np.where(img[..., 3] > top / 2, top, 0).astype(dtype)
        options = pixscale.Options(
            target=float(rng.uniform(0.1, 0.8)),
            fit=fit,
            margin=float(rng.choice([0, 3])),
            center=str(rng.choice(["centroid", "bbox", "image"])),
            output_shape=None if k % 2 else (int(rng.integers(20, 120)), int(rng.integers(20, 120))),
        )
        try:
            python, compiled = _both(img, options)
        except pixscale.EmptyMaskError:
            continue  # a tiny canvas the object vanishes from: both paths raise it (normalize_batch's test)
        assert compiled == python  # every field: scale, centres, achieved ratio, cut pixels, ...
    assert spans  # the compiled search did run


def test_the_compiled_search_keeps_the_counts_of_its_scale(monkeypatch, rng, spans):
    """The final counts come from the search: no Python probe is made after it."""
    from pixscale import _warp

    img = rgba(rng, soft_shape(rng, 96))
    options = pixscale.Options(target=0.35)
    objects = [_plan._prepare(img, options)]
    calls = []
    monkeypatch.setattr(_warp, "bilinear_count", lambda *args: calls.append(args))
    t = _plan.plan_measured(objects, options)[0]
    assert spans and calls == []
    assert t.achieved_ratio == pixscale.measure(t.apply(img)).size_ratio


def test_the_search_is_compiled_only_once_the_probes_use_the_span_count(monkeypatch, rng, spans):
    """Before that the Python search runs (with the plain count), so a first batch compiles no search."""
    monkeypatch.setattr(_plan, "_span_state", lambda dtype: 0.1)  # seconds of plain counts so far
    img = rgba(rng, soft_shape(rng, 64))
    python, compiled = _both(img, pixscale.Options())
    assert compiled == python and not spans


def test_normalize_batch_is_bit_identical_to_normalize_on_hard_and_soft_edges(rng, spans):
    """normalize_batch (its compiled plan) and normalize give the same bytes, exact mode."""
    images = [rgba(rng, soft_shape(rng, 80, edge=e), np.uint16) for e in (0.3, 1.5, 4)]
    images.append(np.zeros((80, 80, 4), np.uint8))
    images[-1][20:47, 13:50] = 255  # a hard-edged rectangle
    for options in ({}, {"fit": "none", "target": 0.7}, {"output_shape": (64, 100), "margin": "5%"}):
        got = pixscale.normalize_batch(images, threads=2, **options)
        for img, out in zip(images, got, strict=True):
            np.testing.assert_array_equal(out, pixscale.normalize(img, **options))
    assert spans


def test_plan_and_normalize_of_one_view_search_in_one_compiled_call(rng, spans):
    """Once the span count is on, a single bilinear view's search is the compiled one; a group's is Python's."""
    img = rgba(rng, soft_shape(rng, 64))
    t = pixscale.plan(img)
    out = pixscale.normalize(img)
    assert len(spans) == 2
    assert pixscale.measure(out).size_ratio == t.achieved_ratio
    pixscale.plan_group([img, img[::-1]])
    pixscale.plan(img, filter="lanczos4")  # not a bilinear probe
    assert len(spans) == 2
