"""One sample's work: the run's options are checked once, and the object mask is applied once per view."""

import pytest

from pixscale import _options, synth
from pixscale.pipeline import driver, unit
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import RunOptions


@pytest.mark.parametrize("specks", [{}, {"min_component": 0.05, "keep": "largest", "erase_specks": True}])
def test_the_object_mask_is_built_once_and_measures_each_view_once(tmp_path, monkeypatch, specks):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=2, n_views=3, size=64, seed=4, layout="gslrm")
    built = []

    class Counted(_options.ObjectMask):
        def __post_init__(self):
            built.append(self)
            super().__post_init__()

    monkeypatch.setattr(_options, "ObjectMask", Counted)
    opts = RunOptions(**specks)
    # The run's mask, and the plan's (the views reach the plan with their specks already left out).
    assert built == [opts.object_mask, opts.plan_options.object_mask]
    assert opts.object_mask is opts.image.object_mask and not opts.plan_options.object_mask.filters
    real_read, real_plan, measured, planned = unit.read_and_measure, unit.plan_group, [], []

    def read_and_measure(view, mask):
        measured.append((view.key, mask))
        return real_read(view, mask)

    def plan_group(images, *, options):
        planned.append(options)
        return real_plan(images, options=options)

    monkeypatch.setattr(unit, "read_and_measure", read_and_measure)
    monkeypatch.setattr(unit, "plan_group", plan_group)
    monkeypatch.setattr(driver, "_precompile", lambda *args: None)  # its warm-up plans have options of their own
    rows, _ = run(src, tmp_path / "out", opts, jobs=1, pool="threads", quiet=True, report_dir=False)
    assert {r["status"] for r in rows} == {"ok"}
    assert sorted(key for key, _ in measured) == sorted(r["view"] for r in rows)  # each view once
    assert all(mask is opts.object_mask for _, mask in measured)
    assert len(planned) == len(rows) and all(p is opts.plan_options for p in planned)  # checked once, passed whole
    assert len(built) == 2  # not once per view, nor once per use
