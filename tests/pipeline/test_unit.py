"""One sample's work: the run's object mask is built once, from its options, and applied once per view."""

import pytest

from pixscale import synth
from pixscale.pipeline import options, unit
from pixscale.pipeline.driver import run


@pytest.mark.parametrize("specks", [{}, {"min_component": 0.05, "keep": "largest", "erase_specks": True}])
def test_the_object_mask_is_built_once_and_measures_each_view_once(tmp_path, monkeypatch, specks):
    src = tmp_path / "in"
    synth.write_dataset(src, n_samples=2, n_views=3, size=64, seed=4, layout="gslrm")
    built = []

    class Counted(options.ObjectMask):
        def __post_init__(self):
            built.append(self)
            super().__post_init__()

    monkeypatch.setattr(options, "ObjectMask", Counted)
    opts = options.RunOptions(**specks)
    assert built == [opts.object_mask]
    real, measured = unit.read_and_measure, []

    def read_and_measure(view, mask):
        measured.append((view.key, mask))
        return real(view, mask)

    monkeypatch.setattr(unit, "read_and_measure", read_and_measure)
    rows, _ = run(src, tmp_path / "out", opts, jobs=1, pool="threads", quiet=True, report_dir=False)
    assert {r["status"] for r in rows} == {"ok"}
    assert sorted(key for key, _ in measured) == sorted(r["view"] for r in rows)  # each view once
    assert all(mask is opts.object_mask for _, mask in measured)
    assert len(built) == 1  # not once per view, nor once per use
