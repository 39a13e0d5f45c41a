"""``summary["samples"]``: a row per sample, kept as columns, read back a dict at a time.

:class:`SampleTable` is the one part of :class:`~pixscale.report.aggregate.Aggregate`
that grows with a run (about 160 bytes a sample); :class:`SampleRows` is the
sequence of dicts the report streams.
"""

import math
from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..pipeline.dataset import printable
from ..pipeline.files import json_ready
from .quality import STAGES, measurement


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


_ROWS_AT_ONCE = 64  # samples of up to this many views have their numbers computed as the rows of one array


def _segments(flat, lengths):
    """``(means, stds)`` of consecutive runs of ``flat`` (``lengths`` long; NaN for an empty one), as NumPy gives each.

    Runs of one length (up to :data:`_ROWS_AT_ONCE`) are the rows of one
    array, reduced along them: NumPy reduces each row as it does the run
    alone, so the numbers are ``np.mean`` and ``np.std`` of each run.
    """
    flat = np.asarray(flat, dtype=np.float64)
    n = np.asarray(lengths, dtype=np.int64)
    means, stds = np.full(n.size, np.nan), np.full(n.size, np.nan)
    starts = np.cumsum(n) - n
    for length in np.unique(n):
        rows = np.flatnonzero(n == length)
        if length == 0:
            continue
        if length > _ROWS_AT_ONCE:
            for i in rows:
                v = flat[starts[i] : starts[i] + length]
                means[i], stds[i] = v.mean(), v.std()
            continue
        a = flat[starts[rows][:, None] + np.arange(length)]
        means[rows], stds[rows] = a.mean(axis=1), a.std(axis=1)
    return means, stds


class SampleBatch:
    """Samples whose numbers are not yet computed: by stage, each one's size ratios and centroid offsets.

    :meth:`add` takes a sample's ok records; :meth:`numbers` gives, for each
    sample in order, its numbers by stage and its row of ``summary["samples"]``,
    the means and stds computed many samples at a time (:func:`_segments`):
    the numbers NumPy gives over each sample alone, without a NumPy call a sample.
    """

    def __init__(self):
        self.rows: list[tuple[str, bool, Any, Any, int, int, int, int]] = []
        self.sizes = {s: array("d") for s in STAGES}
        self.dx = {s: array("d") for s in STAGES}
        self.dy = {s: array("d") for s in STAGES}
        self.n_sizes = {s: array("q") for s in STAGES}
        self.n_offsets = {s: array("q") for s in STAGES}

    def __len__(self):
        return len(self.rows)

    def add(self, rs):
        """A sample's ok records ``rs`` (at least one)."""
        for stage in STAGES:
            sizes, dx, dy = self.sizes[stage], self.dx[stage], self.dy[stage]
            n_sizes = n_offsets = 0
            for r in rs:
                m = measurement(r, stage)
                if m is None:
                    continue
                sizes.append(m.size_ratio)
                n_sizes += 1
                if m.centroid is not None:
                    dx.append(m.centroid[0] - m.shape[1] / 2)
                    dy.append(m.centroid[1] - m.shape[0] / 2)
                    n_offsets += 1
            self.n_sizes[stage].append(n_sizes)
            self.n_offsets[stage].append(n_offsets)
        self.rows.append(
            (
                rs[0].sample,
                all(r.after is not None for r in rs),
                _one({r.scale for r in rs}),
                _one({r.wanted_scale for r in rs}),
                len(rs),
                sum(1 for r in rs if r.limited),
                sum(1 for r in rs if r.shift and any(r.shift)),
                sum(1 for r in rs if r.cut_pixels),
            )
        )

    def numbers(self):
        """Per sample, in order: ``(by_stage, row)``.

        ``by_stage``: ``{stage: (size mean, size std, sizes, offset std, offsets)}``
        (the means and stds as floats, NaN for none; ``sizes`` and ``offsets``
        how many); ``row``: its :meth:`SampleTable.append` arguments.
        """
        with np.errstate(all="ignore"):
            sizes = {s: _segments(self.sizes[s], self.n_sizes[s]) for s in STAGES}
            offsets = {
                s: _segments(np.hypot(np.asarray(self.dx[s]), np.asarray(self.dy[s])), self.n_offsets[s])
                for s in STAGES
            }
        for i, (name, after, scale, wanted, views, limited, shifted, cut) in enumerate(self.rows):
            by_stage = {
                s: (
                    float(sizes[s][0][i]),
                    float(sizes[s][1][i]),
                    self.n_sizes[s][i],
                    float(offsets[s][1][i]),
                    self.n_offsets[s][i],
                )
                for s in STAGES
            }
            stage = "after" if after else "before"
            has_offsets = self.n_offsets[stage][i] > 0
            floats = {
                "size_mean": by_stage[stage][0],
                "size_std": by_stage[stage][1],
                "size_before_mean": by_stage["before"][0],
                "size_before_std": by_stage["before"][1],
                "offset_mean": float(offsets[stage][0][i]) if has_offsets else None,
                "offset_std": by_stage[stage][3] if has_offsets else None,
                "scale": scale,
                "wanted_scale": wanted,
            }
            counts = {"views": views, "limited": limited, "shifted": shifted, "cut": cut}
            yield by_stage, (name, after, floats, counts)


class SampleTable:
    """``summary["samples"]`` kept as columns: a name, a stage flag and a few numbers per sample (None as NaN)."""

    def __init__(self):
        self.names: list[str] = []
        self.after = array("b")
        self.floats = {k: array("d") for k in _SAMPLE_FLOATS}
        self.counts = {k: array("q") for k in _SAMPLE_COUNTS}

    def add(self, name, rs):
        """The row of a sample's ok records ``rs`` (as :func:`pixscale.report.summary.summarize` lists it)."""
        batch = SampleBatch()
        batch.add(rs)
        for _, (_, after, floats, counts) in batch.numbers():
            self.append(name, after, floats, counts)

    def append(self, name, after, floats, counts):
        """A row: its sample's ``name``, whether its numbers are of the ``after`` stage, its numbers and counts."""
        self.names.append(name)
        self.after.append(after)
        for k in _SAMPLE_FLOATS:
            v = floats[k]
            self.floats[k].append(math.nan if v is None else v)
        for k in _SAMPLE_COUNTS:
            self.counts[k].append(counts[k])

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
        row = self._table.row(i % n)  # Python numbers, NaN as None: only its name and an infinite number to mend
        if all(type(v) is not float or math.isfinite(v) for v in row.values()):
            row["sample"] = printable(row["sample"])  # its keys and stage are printable already
            return row
        return json_ready(row, text=printable)

    def offsets(self):
        return self._table.offsets()

    def __eq__(self, other):
        if isinstance(other, (list, tuple, SampleRows)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self):
        return f"SampleRows({len(self)} samples)"
