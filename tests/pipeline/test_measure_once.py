"""The pipeline measures each view once and plans from that measure: the plan is given what it measured before.

Until issue #20 the unit measured a view with the run's object mask, cut the
dropped specks out of the object, and ``plan_group`` measured that object a
second time with a threshold-only mask.  :func:`old_plan` keeps that path as
the oracle: the unit's one measure must hand the planner the same numbers and
the same alpha, so the transforms are the same.
"""

import dataclasses

import numpy as np
import pytest

from pixscale import _plan
from pixscale._measure import measure_object
from pixscale._object import erase
from pixscale._plan import plan_group
from pixscale._validate import alpha_of, with_mask
from pixscale.pipeline import unit
from pixscale.pipeline.options import RunOptions

SIZE = 72

# The object masks of the cases: none, a fraction of the largest, the largest only; with the specks kept or erased.
RULES = [
    {},
    {"min_component": 0.05},
    {"keep": "largest"},
    {"min_component": 0.05, "erase_specks": True},
    {"min_component": 0.05, "keep": "largest", "erase_specks": True},
    {"min_component": 3},  # drops nothing but 1-pixel specks: the filter runs, some views keep all
]


def views(dtype, form, n=3):
    """``n`` views of a soft blob with a few specks (some too faint to count), in ``dtype`` and ``form``."""
    rng = np.random.default_rng([20, 4, n])
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    out = []
    for i in range(n):
        r = 9 + 4 * i
        soft = np.clip(r - np.hypot(xx - 30 - 3 * i, (yy - 34) * 1.2), 0, 1)
        for y, x, a in [(5, 60, 1.0), (64, 8, 0.8), (60, 62, 0.6), (8, 8, 0.03)][: 2 + i]:
            soft[y : y + 2 + i % 2, x : x + 2] = a  # specks: 2x2 or 3x2, the last too faint to count
        soft[40, 66] = 1.0  # a 1-pixel speck
        colour = rng.random((SIZE, SIZE, 3))
        if dtype == np.float32:
            alpha, colour = soft.astype(np.float32), colour.astype(np.float32)
        else:
            top = np.iinfo(dtype).max
            alpha = np.floor(soft * top + 0.5).astype(dtype)
            colour = np.floor(colour * top).astype(dtype)
        if form == "rgba":
            out.append(np.dstack([colour, alpha]))
        elif form == "gray-alpha":
            out.append(np.dstack([colour[..., 0], alpha]))
        else:  # an RGB view with a separate 8-bit mask (a float one for float images)
            out.append(with_mask(colour, alpha if dtype == np.float32 else np.floor(soft * 255 + 0.5).astype(np.uint8)))
    return out


def old_plan(images, opts):
    """The pipeline's plan before issue #20: the specks cut out, then ``plan_group`` measures again."""
    rule = opts.image.object_mask
    objects = []
    for image in images:
        _, sel = measure_object(image, alpha_of(image), rule)
        dropped = sel.dropped
        if opts.image.erase_specks:
            image, dropped = erase(image, dropped), None
        if dropped is None:
            objects.append(image)
        else:
            alpha = np.array(alpha_of(image), copy=True)
            alpha[dropped] = 0
            objects.append(alpha)
    plan_options = opts.image.replace(min_component=None, keep="all", erase_specks=False)
    groups = [objects] if opts.scale == "per-sample" else [[obj] for obj in objects]
    measured = [_plan._prepare(obj, plan_options) for obj in objects]
    return objects, measured, [t for group in groups for t in plan_group(group, options=plan_options)]


def without_measurement(t):
    return dataclasses.replace(t, measurement=None)


@pytest.mark.parametrize("form", ["rgba", "gray-alpha", "mask"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_the_plan_is_given_exactly_what_it_measured_before(dtype, form):
    images = views(dtype, form)
    dropped_seen = 0
    for rule in RULES:
        for exact in (True, False):
            for scale in ("per-view", "per-sample"):
                for filter in ("bilinear", "lanczos4") if exact else ("bilinear",):
                    opts = RunOptions(**rule, exact=exact, scale=scale, filter=filter, target=0.35)
                    case = f"{rule} exact={exact} {scale} {filter}"
                    old_objects, old_measured, old = old_plan(images, opts)
                    objects, befores = [], []
                    for image, old_obj in zip(images, old_objects, strict=True):
                        before, sel = unit.measure_image(image, opts.image.object_mask, unpack=exact)
                        image, obj, kept = unit.object_of(image, before, sel, opts.image.erase_specks)
                        assert obj.measurement is before and obj.alpha is sel.alpha, case
                        dropped_seen += sel.dropped is not None
                        if kept is None:  # the after-measure reads the written image: the object is the image
                            assert old_obj is image or np.array_equal(old_obj, image), case
                        else:  # or it carries the object's alpha through the warp, as before
                            np.testing.assert_array_equal(kept, old_obj, err_msg=case)
                        objects.append(obj)
                        befores.append(before)
                    for obj, old_obj in zip(objects, old_measured, strict=True):
                        m, alpha, new = old_obj.measurement, old_obj.alpha, obj.measurement
                        assert (new.count, new.centroid, new.bbox, new.shape) == (m.count, m.centroid, m.bbox, m.shape)
                        assert obj.alpha.dtype == alpha.dtype, case
                        np.testing.assert_array_equal(obj.alpha, alpha, err_msg=case)  # what exact mode's probes warp
                    new = unit._plan_views(objects, opts)
                    assert [without_measurement(t) for t in new] == [without_measurement(t) for t in old], case
                    assert [t.measurement for t in new] == befores, case  # the run's measure, dropped specks counted
    assert dropped_seen > 0  # the cases drop specks


def test_the_public_plan_keeps_its_own_empty_mask_message():
    alpha = np.zeros((8, 8), np.uint8)
    with pytest.raises(unit.EmptyMaskError, match="so there is no object to scale"):
        plan_group([alpha])
    with pytest.raises(unit.EmptyMaskError, match="^empty mask: no pixel has alpha > 10;"):
        unit.measure_image(alpha, RunOptions().object_mask)
