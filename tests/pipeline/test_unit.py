"""One sample's work: the run's options are checked once, and the object mask is applied once per view."""

import pytest

from pixscale import _options, _plan, synth
from pixscale.kernels import measure as measure_kernels
from pixscale.pipeline import driver, unit
from pixscale.pipeline.driver import run
from pixscale.pipeline.options import RunOptions


@pytest.mark.parametrize(
    "specks",
    [{}, {"min_component": 0.05, "keep": "largest", "erase_specks": True}, {"min_component": 0.05}],
)
@pytest.mark.parametrize("scale", ["per-view", "per-sample"])
def test_the_object_mask_is_built_once_and_measures_each_view_once(tmp_path, monkeypatch, specks, scale):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=2, n_views=3, size=64, seed=4, layout="gslrm")
    built = []

    class Counted(_options.ObjectMask):
        def __post_init__(self):
            built.append(self)
            super().__post_init__()

    monkeypatch.setattr(_options, "ObjectMask", Counted)
    opts = RunOptions(**specks, scale=scale)
    assert built == [opts.object_mask] and opts.object_mask is opts.image.object_mask  # the run's mask, the plan's too
    real_read, real_measure, real_plan = unit.read_and_measure, unit.measure_object, unit.plan_measured
    read, measured, planned, kernel = [], [], [], []

    def read_and_measure(view, mask, **kw):
        read.append((view.key, mask))
        return real_read(view, mask, **kw)

    def measure_object(image, alpha, rule, **kw):
        measured.append(rule)
        return real_measure(image, alpha, rule, **kw)

    def plan_measured(objects, options):
        planned.append((len(objects), options))
        return real_plan(objects, options)

    def remeasured(*args, **kw):
        raise AssertionError("the plan measured a view again")

    def counted(name):
        real = getattr(measure_kernels, name)

        def kernel_call(*args):
            kernel.append(name)
            return real(*args)

        return kernel_call

    monkeypatch.setattr(unit, "read_and_measure", read_and_measure)
    monkeypatch.setattr(unit, "measure_object", measure_object)
    monkeypatch.setattr(unit, "plan_measured", plan_measured)
    monkeypatch.setattr(_plan, "measure_object", remeasured)
    for name in ("measure_alpha", "measure_words"):
        monkeypatch.setattr(measure_kernels, name, counted(name))
    monkeypatch.setattr(driver, "_precompile", lambda *args: None)  # its warm-up plans have options of their own
    rows, _ = run(src, tmp_path / "out", opts, jobs=1, pool="threads", quiet=True, report_dir=False, plots=False)
    assert {r["status"] for r in rows} == {"ok"} and len(rows) == 6
    assert sorted(key for key, _ in read) == sorted(r["view"] for r in rows)  # each view read once
    assert all(mask is opts.object_mask for _, mask in read)
    assert len(measured) == len(rows) and all(rule is opts.object_mask for rule in measured)  # and measured once
    # One measure kernel pass per view for the plan and the report's "before", one for the report's "after".
    assert len(kernel) == 2 * len(rows)
    assert [n for n, _ in planned] == ([3, 3] if scale == "per-sample" else [1] * 6)
    assert all(options is opts.image for _, options in planned)  # checked once, passed whole
    assert len(built) == 1  # not once per view, nor once per use
