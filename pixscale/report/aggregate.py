"""The report's numbers computed as a run's records stream past, in memory that does not grow with the run.

:class:`Aggregate` takes one :class:`~pixscale.pipeline.records.ViewRecord`
at a time (:meth:`Aggregate.add`, or :meth:`Aggregate.feed` for many) and
gives :func:`pixscale.report.summary.summarize`'s dict at the end
(:meth:`Aggregate.summary`).  What it keeps:

* every statistic (mean, std, min, max; the centring's p95 and p99) as a
  :class:`Stat`: its values exactly up to :data:`EXACT` of them, so a run of
  that many views gets the very numbers NumPy gives over all of them; beyond,
  running moments (Chan's pairwise update of mean and squared deviations,
  folded a chunk of :data:`EXACT` values at a time) and, for quantiles, a
  :class:`LogSketch` whose answers are within :data:`SKETCH_ACCURACY`
  (relative) of a value of the data near that rank;
* the figures' views as a :class:`Reservoir` of :data:`RESERVOIR` of them
  (all of them on a smaller run, in order, so the figures are drawn from
  the same points; a seeded uniform sample beyond);
* per sample, one compact row (:class:`~pixscale.report.samples.SampleTable`: a few numbers in
  arrays, about 13 bytes a view at 12 views a sample), the one part that
  grows with the run, because ``summary["samples"]`` lists every sample;
* every failed view and every view off target (exact mode), which a
  healthy run has few of.

A sample's own numbers (its size spread, its offsets) are taken when its
records end: the records of a sample come one after another, as a run
gives them (:meth:`feed` of a list groups them first).
"""

import math
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..pipeline.dataset import printable
from ..pipeline.records import ViewRecord
from .quality import GRADE_SIZE, OUTLIER_PX, STAGES, Limits, measurement, off_centre
from .samples import SampleBatch, SampleTable

EXACT = 10_000  # values a statistic keeps exactly; beyond, running moments and a quantile sketch
RESERVOIR = 10_000  # views the figures are drawn from (all of them in a smaller run)
SEED = 0  # of the reservoir's choices: a run's figures are the same each time it is reported
BATCH = 4096  # views (and samples) whose numbers wait to be computed together; bounded memory either way
SKETCH_ACCURACY = 0.005  # relative accuracy of a quantile beyond EXACT values
_TINY = 1e-9  # values below this count as zero in the sketch


class LogSketch:
    """Quantiles of non-negative numbers in bounded memory: counts in logarithmic buckets (DDSketch's idea).

    A value ``x > 0`` falls in bucket ``ceil(log(x) / log(gamma))`` with
    ``gamma = (1 + a) / (1 - a)``, ``a`` = :data:`SKETCH_ACCURACY`; a quantile is
    answered with its bucket's middle, within ``a`` of a value of that rank.
    The buckets number at most ``log(max / min) / log(gamma)``: about 2,800
    between 1e-9 and 1e3, whatever the count of values.
    """

    def __init__(self, accuracy=SKETCH_ACCURACY):
        self.gamma = (1 + accuracy) / (1 - accuracy)
        self.log_gamma = math.log(self.gamma)
        self.buckets: dict[int, int] = {}
        self.zeros = 0
        self.nans = 0
        self.n = 0

    def fold(self, values):
        """Count a chunk of values (a float64 array)."""
        v = np.asarray(values, dtype=np.float64)
        self.n += v.size
        nan = np.isnan(v)
        self.nans += int(nan.sum())
        v = v[~nan]
        small = v < _TINY
        self.zeros += int(small.sum())
        keys = np.ceil(np.log(v[~small]) / self.log_gamma)
        for key, count in zip(*np.unique(keys, return_counts=True), strict=True):
            k = int(key) if math.isfinite(key) else 1 << 30  # an infinite value: the last bucket
            self.buckets[k] = self.buckets.get(k, 0) + int(count)

    def quantile(self, q):
        """The value at quantile ``q`` (0..1), NaN when any value was NaN (as ``np.percentile``)."""
        if self.nans or not self.n:
            return math.nan
        rank = q * (self.n - 1)
        seen = self.zeros
        if rank < seen:
            return 0.0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if rank < seen:
                return math.inf if key == 1 << 30 else 2 * self.gamma**key / (self.gamma + 1)
        return math.inf if (1 << 30) in self.buckets else 2 * self.gamma ** max(self.buckets) / (self.gamma + 1)

    def __len__(self):
        return len(self.buckets)


class Stat:
    """Mean, std (ddof=0), min, max and count of a stream of numbers, with quantiles when asked.

    Exact (NumPy over every value, in order) up to ``limit`` values; beyond,
    the values are folded into running moments ``limit`` at a time and the
    numbers are those of the moments (and of a :class:`LogSketch` for
    quantiles).  Holds at most ``limit`` values.
    """

    __slots__ = ("values", "limit", "n", "mean", "m2", "lo", "hi", "sketch")

    def __init__(self, quantiles=False, limit=EXACT):
        self.values = array("d")
        self.limit = limit
        self.n = 0  # values folded into the moments
        self.mean = self.m2 = 0.0
        self.lo, self.hi = math.inf, -math.inf
        self.sketch = LogSketch() if quantiles else None

    def add(self, x):
        if len(self.values) >= self.limit:
            self._fold()
        self.values.append(x)

    def extend(self, values):
        """Add the numbers of a float64 array, in order, as :meth:`add` does one at a time."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        i = 0
        while i < values.size:
            if len(self.values) >= self.limit:
                self._fold()
            k = int(min(values.size - i, self.limit - len(self.values)))
            self.values.frombytes(values[i : i + k].tobytes())
            i += k

    def _fold(self):
        v = np.frombuffer(self.values, dtype=np.float64)
        nb = v.size
        if nb:
            mb = float(v.mean())
            m2b = float(((v - mb) ** 2).sum())
            n = self.n + nb
            delta = mb - self.mean
            self.mean += delta * nb / n
            self.m2 += m2b + delta * delta * self.n * nb / n
            self.n = n
            self.lo, self.hi = float(np.min([self.lo, v.min()])), float(np.max([self.hi, v.max()]))
            if self.sketch is not None:
                self.sketch.fold(v)
        self.values = array("d")

    @property
    def count(self):
        return self.n + len(self.values)

    @property
    def exact(self):
        """Whether every value is still held (the numbers are NumPy's over all of them)."""
        return self.n == 0

    def array(self):
        """The values held, as a float64 array (all of them while :attr:`exact`)."""
        return np.frombuffer(self.values, dtype=np.float64)

    def result(self):
        """``(mean, std, min, max, n)`` as floats (n an int); ``None`` for each number when there are none."""
        if self.exact:
            v = self.array()
            if not v.size:
                return None, None, None, None, 0
            return float(v.mean()), float(v.std()), float(v.min()), float(v.max()), int(v.size)
        self._fold()
        return self.mean, math.sqrt(self.m2 / self.n), self.lo, self.hi, self.n

    def percentiles(self, qs):
        """Percentiles ``qs`` (0..100): ``np.percentile`` while exact, the sketch's beyond."""
        if self.exact:
            return [float(p) for p in np.percentile(self.array(), qs)]
        self._fold()
        assert self.sketch is not None
        return [self.sketch.quantile(q / 100) for q in qs]

    def stats(self):
        """The ``{"mean", "std", "cv", "min", "max", "n"}`` of the report's tables."""
        mean, std, lo, hi, n = self.result()
        if not n:
            return {"mean": None, "std": None, "cv": None, "min": None, "max": None, "n": 0}
        return {"mean": mean, "std": std, "cv": std / mean if mean else None, "min": lo, "max": hi, "n": n}


def stats(values):
    """:meth:`Stat.stats` of some numbers: mean, std (ddof=0), CV, min, max and n; None values when there are none."""
    s = Stat(limit=math.inf)
    for v in values:
        s.add(v)
    return s.stats()


class Reservoir:
    """A uniform sample of at most ``size`` items of a stream (Vitter's algorithm R), seeded: the same each time.

    While at most ``size`` items have come, it holds all of them, in order.
    """

    def __init__(self, size=RESERVOIR, seed=SEED):
        import random

        self.size = size
        self.items: list[Any] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, item):
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        j = self._rng.randrange(self.seen)
        if j < self.size:
            self.items[j] = item

    @property
    def sampled(self):
        """Whether the items are a sample (more came than it holds)."""
        return self.seen > len(self.items)


def figure_item(r):
    """What the figures draw of an ok record: ``((size, offset) or None by stage..., scale, wanted where limited)``."""
    item: list[Any] = []
    for stage in STAGES:
        m = measurement(r, stage)
        item.append(None if m is None else (m.size_ratio, _offset(m)))
    item += [r.scale, r.wanted_scale if r.scale is not None and r.limited and r.wanted_scale else None]
    return tuple(item)


def sample_views(records, size=RESERVOIR, seed=SEED):
    """The figures' :class:`Reservoir` of the ok ``records`` (:func:`figure_item` each)."""
    views = Reservoir(size, seed)
    for r in records:
        if _checked(r, "draw").ok:
            views.add(figure_item(r))
    return views


def _offset(m):
    """(dx, dy) of a measurement's centroid from the canvas centre, or None without a centroid."""
    if m is None or m.centroid is None:
        return None
    return (m.centroid[0] - m.shape[1] / 2, m.centroid[1] - m.shape[0] / 2)


class _Stage:
    """One stage's (before or after) statistics over views and samples."""

    def __init__(self, limit):
        self.sizes = Stat(limit=limit)
        self.bbox = Stat(limit=limit)
        self.px = Stat(quantiles=True, limit=limit)
        self.pct = Stat(limit=limit)
        self.grade = Stat(limit=limit)
        self.over = 0
        self.within_std = Stat(limit=limit)  # per sample with two or more offsets: their std
        self.within_cv = Stat(limit=limit)  # per sample with two or more views: their size CV
        self.outliers = 0
        self.outlier_names: list[str] = []
        self._dx, self._dy, self._side = array("d"), array("d"), array("d")  # offsets not yet in px, pct, grade

    def add(self, r, m):
        self.sizes.add(m.size_ratio)
        if m.bbox is not None:
            (x0, y0, x1, y1), (h, w) = m.bbox, m.shape
            v = (x1 - x0) * (y1 - y0) / (h * w)
            self.bbox.add(math.sqrt(v) if v >= 0 else math.nan)  # IEEE's sqrt, as np.sqrt (NaN below 0)
        if m.centroid is not None:
            (x, y), (h, w) = m.centroid, m.shape
            self._dx.append(x - w / 2)
            self._dy.append(y - h / 2)
            self._side.append(float(max(m.shape)))
            if len(self._dx) >= BATCH:
                self.flush()

    def flush(self):
        """Put the centroid offsets added since into px, pct and grade: ``np.hypot`` over them at once (the
        numbers it gives one at a time), in the order they came."""
        if not self._dx:
            return
        with np.errstate(all="ignore"):
            px = np.hypot(np.asarray(self._dx), np.asarray(self._dy))
            side = np.asarray(self._side)
            self.px.extend(px)
            self.pct.extend(100 * px / side)
            self.grade.extend(px * GRADE_SIZE / side)
            self.over += int(np.count_nonzero(px > OUTLIER_PX))
        self._dx, self._dy, self._side = array("d"), array("d"), array("d")

    def add_sample(self, size_mean, size_std, n_sizes, offset_std, n_offsets):
        """A sample's numbers of this stage (:meth:`~pixscale.report.samples.SampleBatch.numbers`)."""
        if n_sizes >= 2:
            cv = size_std / size_mean if size_mean else None  # as stats() gives it
            if cv is not None:
                self.within_cv.add(cv)
        if n_offsets >= 2:
            self.within_std.add(offset_std)

    def centring(self):
        self.flush()
        out: dict[str, Any] = {k: None for k in ("mean", "std", "p95", "p99", "max", "mean_pct", "max_pct", "grade_px")}
        out.update(n=self.px.count, over_50px=int(self.over))
        if self.px.count:
            mean, std, _, hi, _ = self.px.result()
            p95, p99 = self.px.percentiles([95, 99])
            pct = self.pct.result()
            out.update(
                mean=mean,
                std=std,
                p95=p95,
                p99=p99,
                max=hi,
                mean_pct=pct[0],
                max_pct=pct[3],
                grade_px=self.grade.result()[0],
            )
        out["within_sample_std"] = self.within_std.result()[0]
        return out

    def sections(self, sizes):
        bbox = self.bbox.stats()
        within = self.within_cv.stats()
        return {
            "bbox_vs_pixel": {
                "bbox_mean": bbox["mean"],
                "bbox_std": bbox["std"],
                "bbox_cv": bbox["cv"],
                "pixel_cv": sizes["cv"],
            },
            "centring": self.centring(),
            "within_sample_cv": {"mean": within["mean"], "max": within["max"], "n_samples": within["n"]},
        }


class Aggregate:
    """A run's summary, built a record at a time (see the module's description of what it keeps).

    Parameters
    ----------
    target : float, optional
        The target size ratio (exact mode's error).
    options : mapping, optional
        The run's options (:meth:`pixscale.pipeline.RunOptions.params`).
    exact, reservoir : int
        How many values a statistic keeps exactly (:data:`EXACT`), and how
        many views the figures draw from (:data:`RESERVOIR`).

    Examples
    --------
    >>> agg = Aggregate(target=0.3)
    >>> agg.feed([])
    >>> agg.summary()["n_views"]
    0
    """

    def __init__(self, target=None, options=None, *, exact=EXACT, reservoir=RESERVOIR, seed=SEED):
        self.target = target
        self.options = dict(options or {})
        self.n_views = self.n_ok = 0
        self.stages = {s: _Stage(exact) for s in STAGES}
        self.seen_after = False
        self.scale = Stat(limit=exact)
        self.wanted = Stat(limit=exact)
        self.moved = Stat(limit=exact)
        self.shift_max = None
        self.limited = self.cut = self.cut_pixels = 0
        self.specks = dict.fromkeys(
            ("views", "components", "pixels", "islands_views", "islands_components", "islands_pixels"), 0
        )
        self.achieved = 0
        self.max_error = None
        self.off_target: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.limits = Limits(self.options)  # the limited views, by sample, as the advice tells them
        self.views = Reservoir(reservoir, seed)  # (size, offset) by stage, scale, wanted where limited
        self.samples = SampleTable()
        self._batch = SampleBatch()  # samples ended, their numbers not yet computed
        self._group: list[ViewRecord] = []

    def feed(self, records: Iterable[ViewRecord], who="summarize"):
        """Add every record; a list's (or tuple's) samples are grouped first, as records of a run come."""
        if isinstance(records, (list, tuple)):
            groups: dict[str, list[ViewRecord]] = {}
            for r in records:
                self._add_view(_checked(r, who))
                groups.setdefault(r.sample, []).append(r)
            for rs in groups.values():
                self._add_sample(rs)
            self._flush_samples()
            return
        for r in records:
            self.add(_checked(r, who))
        self.close()

    def add(self, record: ViewRecord):
        """One record (the records of a sample one after another)."""
        if self._group and self._group[0].sample != record.sample:
            self._add_sample(self._group)
            self._group = []
        self._add_view(record)
        self._group.append(record)

    def close(self):
        """End the current sample, and compute the numbers of the samples waiting (done by :meth:`summary` too)."""
        if self._group:
            self._add_sample(self._group)
            self._group = []
        self._flush_samples()

    def _add_view(self, r: ViewRecord):
        self.n_views += 1
        if r.after is not None:
            self.seen_after = True
        if not r.ok:
            self.failures.append({"sample": r.sample, "view": r.view, "error": r.error})
            return
        self.n_ok += 1
        for stage in STAGES:
            m = measurement(r, stage)
            if m is not None:
                self.stages[stage].add(r, m)
                if m.centroid is not None and off_centre(r, stage):
                    st = self.stages[stage]
                    st.outliers += 1
                    if len(st.outlier_names) < 3:
                        st.outlier_names.append(r.view)
        if r.scale is not None:
            self.scale.add(r.scale)
        if r.wanted_scale is not None:
            self.wanted.add(r.wanted_scale)
        self.views.add(figure_item(r))
        if r.shift:
            d = math.hypot(*r.shift)
            if d > 0:
                self.moved.add(d)
                if self.shift_max is None or d > self.shift_max:
                    self.shift_max = d
        if r.cut_pixels:
            self.cut += 1
            self.cut_pixels += r.cut_pixels
        if r.limited:
            self.limited += 1
        m = r.before
        if m is not None and m.dropped_components:
            self.specks["views"] += 1
            self.specks["components"] += m.dropped_components
            self.specks["pixels"] += m.dropped_pixels
        i = r.islands
        if i is not None and i.components:
            self.specks["islands_views"] += 1
            self.specks["islands_components"] += i.components
            self.specks["islands_pixels"] += i.pixels
        if r.achieved_ratio is not None:
            self.achieved += 1
            if self.target is not None:
                e = abs(r.achieved_ratio - self.target)
                if self.max_error is None or e > self.max_error:
                    self.max_error = e
        if r.on_target is False and not r.limited:
            self.off_target.append({"sample": r.sample, "view": r.view, "achieved_ratio": r.achieved_ratio})

    def _add_sample(self, rs: list[ViewRecord]):
        ok = [r for r in rs if r.ok]
        if not ok:
            return
        self._batch.add(ok)
        self.limits.add(ok)
        if len(self._batch) >= BATCH:
            self._flush_samples()

    def _flush_samples(self):
        """Compute the numbers of the samples ended since (:class:`~pixscale.report.samples.SampleBatch`)."""
        for by_stage, row in self._batch.numbers():
            for stage, numbers in by_stage.items():
                if numbers[2]:  # a measurement of this stage
                    self.stages[stage].add_sample(*numbers)
            self.samples.append(*row)
        self._batch = SampleBatch()

    def outliers(self, stage):
        """``(count, first three names)`` of the views more than OUTLIER_PX off centre beyond the fit's move."""
        st = self.stages[stage]
        return st.outliers, list(st.outlier_names)

    def summary(self) -> dict[str, Any]:
        """:func:`pixscale.report.summary.summarize`'s dict of the records added (before ``json_ready``)."""
        from .quality import _quality

        self.close()
        summary: dict[str, Any] = {
            "n_views": self.n_views,
            "n_ok": self.n_ok,
            "n_failed": self.n_views - self.n_ok,
            "target": self.target,
        }
        stages = [s for s in STAGES if s == "before" or (s == "after" and self.seen_after)]
        sections: dict[str, dict[str, Any]] = {"bbox_vs_pixel": {}, "centring": {}, "within_sample_cv": {}}
        for stage in stages:
            summary[stage] = self.stages[stage].sizes.stats()
            for key, value in self.stages[stage].sections(summary[stage]).items():
                sections[key][stage] = value
        summary["scale"] = self.scale.stats()
        summary["wanted_scale"] = self.wanted.stats()
        moved = self.moved.result()
        summary["placement"] = {
            "shifted": moved[4],
            "shift_mean": moved[0],
            "shift_max": self.shift_max,
            "limited": self.limited,
            "cut": self.cut,
            "cut_pixels": int(self.cut_pixels),
        }
        summary["limited"] = self.limited
        summary["specks"] = {k: int(v) for k, v in self.specks.items()}
        summary["exact"] = {
            "n": self.achieved,
            "max_error": None if self.max_error is None else float(self.max_error),
            "off_target": len(self.off_target),
            "off_target_views": list(self.off_target),
        }
        summary["off_target"] = summary["exact"]["off_target"]
        summary["failures"] = list(self.failures)
        summary.update(sections)
        summary["samples"] = self.samples.rows()
        summary["quality"] = _quality(summary, self, self.options)
        return summary


def _checked(r, who):
    if not isinstance(r, ViewRecord):
        raise TypeError(
            f"{who} takes one pixscale.pipeline.records.ViewRecord per view; got {type(r).__name__} "
            f"{printable(repr(r))[:60]}. Read a JSON row back with `ViewRecord.from_row(row)`."
        )
    return r
