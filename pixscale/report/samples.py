"""``summary["samples"]``: a row per sample, kept as columns, read back a dict at a time.

:class:`SampleTable` is the one part of :class:`~pixscale.report.aggregate.Aggregate`
that grows with a run (about 160 bytes a sample); :class:`SampleRows` is the
sequence of dicts the report streams.
"""

import math
from array import array
from collections.abc import Sequence

import numpy as np

from ..pipeline.dataset import printable
from ..pipeline.files import json_ready
from .quality import measurement


def _one(values):
    """The single value of a set as a float, or None when there are several (or it is None)."""
    return float(next(iter(values))) if len(values) == 1 and None not in values else None


_SAMPLE_FLOATS = (
    "size_mean",
    "size_std",
    "size_before_mean",
    "size_before_std",
    "offset_mean",
    "offset_std",
    "scale",
    "wanted_scale",
)
_SAMPLE_COUNTS = ("views", "limited", "shifted", "cut")


class SampleTable:
    """``summary["samples"]`` kept as columns: a name, a stage flag and a few numbers per sample (None as NaN)."""

    def __init__(self):
        self.names: list[str] = []
        self.after = array("b")
        self.floats = {k: array("d") for k in _SAMPLE_FLOATS}
        self.counts = {k: array("q") for k in _SAMPLE_COUNTS}

    def add(self, name, rs):
        """The row of a sample's ok records ``rs`` (as :func:`pixscale.report.summary.summarize` lists it)."""
        stage = "after" if all(r.after is not None for r in rs) else "before"
        ms = [m for r in rs if (m := measurement(r, stage)) is not None]  # an ok record has its before
        befores = [r.before.size_ratio for r in rs if r.before is not None]
        sizes = [m.size_ratio for m in ms]
        offsets = [
            float(np.hypot(m.centroid[0] - m.shape[1] / 2, m.centroid[1] - m.shape[0] / 2))
            for m in ms
            if m.centroid is not None
        ]
        row = {
            "size_mean": float(np.mean(sizes)),
            "size_std": float(np.std(sizes)),
            "size_before_mean": float(np.mean(befores)),
            "size_before_std": float(np.std(befores)),
            "offset_mean": float(np.mean(offsets)) if offsets else None,
            "offset_std": float(np.std(offsets)) if offsets else None,
            "scale": _one({r.scale for r in rs}),
            "wanted_scale": _one({r.wanted_scale for r in rs}),
        }
        self.names.append(name)
        self.after.append(stage == "after")
        for k, v in row.items():
            self.floats[k].append(math.nan if v is None else v)
        self.counts["views"].append(len(rs))
        self.counts["limited"].append(sum(1 for r in rs if r.limited))
        self.counts["shifted"].append(sum(1 for r in rs if r.shift and any(r.shift)))
        self.counts["cut"].append(sum(1 for r in rs if r.cut_pixels))

    def __len__(self):
        return len(self.names)

    def row(self, i):
        """Sample ``i``'s dict, keys in the report's order (a NaN number as None, as the report writes it)."""
        f = {k: self.floats[k][i] for k in _SAMPLE_FLOATS}
        f = {k: None if math.isnan(v) else v for k, v in f.items()}
        return {
            "sample": self.names[i],
            "views": self.counts["views"][i],
            "stage": "after" if self.after[i] else "before",
            **{k: f[k] for k in _SAMPLE_FLOATS[:6]},
            "scale": f["scale"],
            "wanted_scale": f["wanted_scale"],
            "limited": self.counts["limited"][i],
            "shifted": self.counts["shifted"][i],
            "cut": self.counts["cut"][i],
        }

    def rows(self):
        """The rows as a :class:`SampleRows` sequence (each dict made when asked)."""
        return SampleRows(self)

    def offsets(self):
        """Each sample's ``offset_mean`` as a float64 array (NaN for none)."""
        return np.frombuffer(self.floats["offset_mean"], dtype=np.float64)


class SampleRows(Sequence):
    """``summary["samples"]`` of a run, made a dict at a time from its :class:`SampleTable` (JSON-ready).

    The report streams it (``report.json``, ``report.md``) and picks the
    contact sheet's samples from :meth:`offsets`; :func:`list` makes the list
    :func:`pixscale.report.summary.summarize` returns.
    """

    def __init__(self, table):
        self._table = table

    def __len__(self):
        return len(self._table)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("sample index out of range")
        return json_ready(self._table.row(i % n), text=printable)

    def offsets(self):
        return self._table.offsets()

    def __eq__(self, other):
        if isinstance(other, (list, tuple, SampleRows)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self):
        return f"SampleRows({len(self)} samples)"
