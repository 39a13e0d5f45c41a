"""The report's figures: plots drawn with matplotlib's Figure API (no pyplot, no global backend change).

:func:`draw` returns PNG bytes by file name; matplotlib is imported there,
so this module imports without it.  The contact sheet is no matplotlib
figure: its views are read here as :class:`Thumbnail` and composed as an
image by :mod:`pixscale.report.sheet`, in a thread beside the plots.
"""

import functools
import importlib.util
import io
import pathlib
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._measure import measure
from .._validate import with_mask
from ..pipeline.io import ViewError, read_view
from ..pipeline.masked import read_colour, read_mask
from ..pipeline.records import ViewRecord
from .aggregate import sample_views
from .quality import STAGES, measurement
from .sheet import Panel, compose, png

THUMBNAIL = 256  # longest side, in pixels, of an image drawn in a figure
SHEET_VIEWS = 6  # views per sample on the contact sheet
PER_SAMPLE_DRAWN = 2_000  # samples the per-sample plot shows at most (evenly spread over a larger run)
PNG_LEVEL = 1  # zlib level of the figures: flat colours pack well at 1, in a fraction of level 6's time
_COLOURS = {"before": "tab:blue", "after": "tab:orange"}
_MARKERS = {"before": "^", "after": "o"}  # the offset scatter's, whose colour is the size ratio
_MARKS = {"cut": "#d62728", "limited": "#9467bd", "shifted": "#17becf"}  # tab:red, tab:purple, tab:cyan


@dataclass(frozen=True)
class Thumbnail:
    """A view as the figures draw it: a small copy of the image and what was measured on the full one.

    A 10000x10000 view costs the figures a few hundred kilobytes: the full
    image is read, shrunk by an integer stride and let go.
    """

    image: np.ndarray  # at most THUMBNAIL pixels on its longest side
    shape: tuple  # (H, W) of the full view
    centroid: tuple | None  # of the full view, in its pixel coordinates
    size_ratio: float
    name: str

    @classmethod
    def of(cls, image, measurement, name, size=THUMBNAIL):
        """The thumbnail of ``image`` (shrunk by an integer stride) with its :class:`Measurement`."""
        step = max(1, -(-max(image.shape[:2]) // size))
        h, w = image.shape[:2]  # a 1 x N view keeps its one row (step // 2 would pass it)
        small = np.ascontiguousarray(image[min(step // 2, h - 1) :: step, min(step // 2, w - 1) :: step])
        return cls(small, tuple(image.shape[:2]), measurement.centroid, measurement.size_ratio, name)

    @classmethod
    def of_file(cls, path, name=None, measured=None):
        """The thumbnail of an image file, or of a ``(colour, mask)`` pair of files, named ``name``.

        ``measured`` is the run's :class:`~pixscale.Measurement` of that file
        (a record's ``before`` or ``after``), made with the run's object mask
        (threshold and component filter); without it the file is measured
        with the defaults.
        """
        if isinstance(path, tuple):
            image = with_mask(read_colour(path[0]), read_mask(path[1]))
            path = path[0]
        else:
            image = read_view(path)
        name = name or "/".join(pathlib.Path(path).parts[-3:])
        return cls.of(image, measure(image) if measured is None else measured, name)


def _marks(r):
    """The placement marks of a record: cut, limited, shifted (with the move)."""
    out = []
    if r.cut_pixels:
        out.append(("cut", f"cut {r.cut_pixels} px"))
    if r.limited:
        out.append(("limited", f"limited x{r.scale:.3f} < {r.wanted_scale:.3f}"))
    if r.shift and any(r.shift):
        out.append(("shifted", f"shifted {r.shift[0]:+.0f},{r.shift[1]:+.0f} px"))
    return out


def _panel(item, label, marks=(), name=None, measured=None):
    """One view's :class:`~pixscale.report.sheet.Panel`: its thumbnail titled and marked, or why it could not be read.

    ``item`` is a :class:`Thumbnail`, or a path to read one (named ``name``,
    with the run's :class:`~pixscale.Measurement` ``measured``) from.
    """
    try:
        thumb = item if isinstance(item, Thumbnail) else Thumbnail.of_file(item, name, measured)
    except (ViewError, ValueError, TypeError) as exc:  # an unreadable file, or a mask that does not fit
        return Panel(tuple(textwrap.fill(str(exc), 40).splitlines()))
    lines = (f"{label} {thumb.size_ratio:.2%}", thumb.name, *(text for _, text in marks))
    frame = _MARKS[marks[0][0]] if marks else None  # the frame shows the gravest mark
    return Panel(lines, thumb.image, thumb.shape, thumb.centroid, frame)


def _items(views):
    """The figures' items of ``views``: an :class:`Aggregate`'s sample of views, or records (sampled here)."""
    views = list(views)
    if views and isinstance(views[0], ViewRecord):
        return sample_views(views).items
    return views


def _sizes(views, stage):
    """The finite size ratios of the views' ``stage`` measurements (views: see :func:`_items`)."""
    views = _items(views)
    i = STAGES.index(stage)
    v = np.array([item[i][0] for item in views if item[i] is not None], dtype=np.float64)
    return v[np.isfinite(v)]


def _offsets(views, stage):
    """(dx, dy) of each view's centroid from the canvas centre, in px, and that view's size ratio (NaN if unknown)."""
    views = _items(views)
    i = STAGES.index(stage)
    kept = [item[i] for item in views if item[i] is not None and item[i][1] is not None]
    xy = np.array([m[1] for m in kept], dtype=np.float64).reshape(-1, 2)
    return xy, np.array([np.nan if m[0] is None else m[0] for m in kept], dtype=np.float64)


def _bars(ax, values, bins, fill=True, **style):
    """A histogram of ``values`` as one patch (``ax.hist``'s bars are a patch per bin, each one costing a draw).

    Looks as ``ax.hist`` does: filled bars with no edge, standing on the
    axis; ``fill=False`` is ``ax.hist``'s own outline (``histtype="step"``,
    one patch already, drawn as an open box in the legend).
    """
    if not fill:
        ax.hist(values, bins=bins, histtype="step", **style)
        return
    counts, edges = np.histogram(np.asarray(values, dtype=np.float64), bins=bins)
    ax.stairs(counts, edges, fill=True, baseline=0, linewidth=0, **style)


def _size_histogram(fig, summary, views, stages):
    """Size ratio before / after on one shared x axis, with the target line."""
    axes = fig.subplots(len(stages), 1, sharex=True, squeeze=False)[:, 0]
    values = {s: 100 * _sizes(views, s) for s in stages}
    every = np.concatenate([v for v in values.values()] + [np.array([100 * (summary.get("target") or 0.3)])])
    lo, hi = every.min(), every.max()
    lo, hi = min(lo, (lo + hi) / 2 - 0.5), max(hi, (lo + hi) / 2 + 0.5)
    bins = np.linspace(lo, hi, 41)
    for ax, stage in zip(axes, stages, strict=True):
        v = values[stage]
        _bars(ax, v, bins, color=_COLOURS[stage], label=f"{stage} (n={v.size})")
        if summary.get("target") is not None:
            ax.axvline(100 * summary["target"], color="k", ls="--", lw=1, label=f"target {summary['target']:.1%}")
        if v.size:
            ax.set_title(f"{stage}: mean {v.mean():.2f}%, std {v.std():.2f}%, CV {100 * v.std() / v.mean():.2f}%")
        ax.set_ylabel("views")
        ax.legend(fontsize=8)
    axes[-1].set_xlabel("size ratio sqrt(object pixels / image pixels) (%)")


def _offset_figure(fig, views, stages):
    """Centroid offsets from the canvas centre: histogram of distances and a scatter of (dx, dy) coloured by size ratio.

    The scatter's colour is each view's size ratio, on one scale for every
    stage (as FaceLift's ``compare_preprocessing_all.py`` colours it); the
    stages differ by marker.
    """
    from matplotlib import cm, colors

    hist, scatter = fig.subplots(1, 2)
    points = {stage: _offsets(views, stage) for stage in stages}
    sizes = np.concatenate([100 * s for _, s in points.values()] + [np.zeros(0)])
    sizes = sizes[np.isfinite(sizes)]
    norm = colors.Normalize(*(sizes.min(), sizes.max()) if sizes.size else (0, 1))
    for stage, (xy, size) in points.items():
        d = np.hypot(xy[:, 0], xy[:, 1])
        if d.size:
            _bars(hist, d, 30, alpha=0.6, color=_COLOURS[stage], label=f"{stage}: mean {d.mean():.1f} px")
        marker = _MARKERS[stage]
        scatter.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.7, c=100 * size, cmap="viridis", norm=norm, marker=marker)
        scatter.plot([], [], marker, color="0.3", ms=4, ls="none", label=stage)  # the legend's key: marker only
    if sizes.size:
        fig.colorbar(cm.ScalarMappable(norm, "viridis"), ax=scatter, label="size ratio (%)")
    hist.set(xlabel="centroid offset from the canvas centre (px)", ylabel="views", title="centre offsets")
    scatter.axhline(0, color="0.5", lw=0.5)
    scatter.axvline(0, color="0.5", lw=0.5)
    scatter.set(xlabel="dx (px)", ylabel="dy (px)", title="centroid - canvas centre", aspect="equal")
    scatter.invert_yaxis()
    for ax in (hist, scatter):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)


def _per_sample(fig, summary):
    """Mean ± std of each sample's size ratio, before and after."""
    from matplotlib.ticker import MaxNLocator

    ax = fig.subplots()
    samples = summary["samples"]
    x = np.arange(len(samples))
    if len(samples) > PER_SAMPLE_DRAWN:  # evenly spread over the run, at their places
        x = np.linspace(0, len(samples) - 1, PER_SAMPLE_DRAWN).round().astype(int)
        samples = [samples[i] for i in x]
    pairs = [(s["size_before_mean"], s["size_before_std"]) for s in samples]
    # None (a number that could not be computed) is drawn as nothing (NaN)
    before = np.array(pairs, dtype=np.float64).reshape(-1, 2).T
    ax.errorbar(x, *(100 * before), fmt="o", ms=3, color=_COLOURS["before"], label="before")
    if samples and all(s["stage"] == "after" for s in samples):
        after = np.array([(s["size_mean"], s["size_std"]) for s in samples], dtype=np.float64).reshape(-1, 2).T
        ax.errorbar(x, *(100 * after), fmt="o", ms=3, color=_COLOURS["after"], label="after")
    if summary.get("target") is not None:
        ax.axhline(100 * summary["target"], color="k", ls="--", lw=1, label="target")
    ax.set(xlabel="sample", ylabel="size ratio (%)", title="per sample: mean ± std of its views")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # samples are counted: no tick between two
    ax.legend(fontsize=8)


def _scale_histogram(fig, views):
    ax = fig.subplots()
    views = _items(views)
    used = np.array([item[2] for item in views if item[2] is not None])
    if used.size:
        _bars(ax, used, 30, color="tab:green", label=f"scale used (n={used.size})")
        limited = [item[3] for item in views if item[3] is not None]
        if limited:
            _bars(ax, limited, 30, fill=False, color=_MARKS["limited"], label="wanted, where limited")
        ax.set_title(f"scale factor: mean {used.mean():.3f}, std {used.std():.3f}, {used.min():.2f}-{used.max():.2f}")
        ax.legend(fontsize=8)
    ax.set(xlabel="scale factor", ylabel="views")


def _chosen_samples(summary):
    """The best, median and worst samples by mean centroid offset (as FaceLift's evaluator picks them)."""
    samples = summary["samples"]
    if hasattr(samples, "offsets"):  # a run's, made a dict at a time: ranked by its column of offsets
        o = samples.offsets()
        have = np.flatnonzero(np.isfinite(o))
        order = have[np.argsort(o[have], kind="stable")]
        ranked: Any = _Ranked(samples, order)
    else:
        ranked = sorted((s for s in samples if s["offset_mean"] is not None), key=lambda s: s["offset_mean"])
    picks: list[tuple[str, dict[str, Any]]] = []
    for label, i in (("best", 0), ("median", len(ranked) // 2), ("worst", len(ranked) - 1)):
        if ranked and ranked[i]["sample"] not in [s["sample"] for _, s in picks]:
            picks.append((label, ranked[i]))
    return picks


class _Ranked:
    """Samples in the order of ``order`` (indices), each made when asked."""

    def __init__(self, samples, order):
        self.samples, self.order = samples, order

    def __len__(self):
        return len(self.order)

    def __getitem__(self, i):
        return self.samples[int(self.order[i])]


def _contact_sheet(summary, records, sources):
    """The sheet's PNG bytes: each chosen sample's views, a row before and a row after; None without views."""
    picks = _chosen_samples(summary)
    chosen = {s["sample"] for _, s in picks}
    if hasattr(sources, "of_samples"):  # a run's: the files of the chosen samples' views only
        sources = sources.of_samples(chosen)
    of_samples = getattr(records, "of_samples", None)
    found = of_samples(chosen) if of_samples is not None else [r for r in records if r.sample in chosen]
    by_sample: dict[str, list[ViewRecord]] = {}
    for r in found:
        if r.ok and r.view in sources:
            by_sample.setdefault(r.sample, []).append(r)
    picks = [(label, s, by_sample[s["sample"]][:SHEET_VIEWS]) for label, s in picks if s["sample"] in by_sample]
    if not picks:
        return None
    rows = []
    for label, s, views in picks:
        for i, stage in enumerate(("before", "after")):
            panels = [
                _panel(sources[r.view][i], stage, _marks(r) if stage == "after" else (), r.view, measurement(r, stage))
                for r in views
            ]
            rows.append((f"{label}: {s['sample']}\noffset {s['offset_mean']:.1f} px" if i == 0 else None, panels))
    image, _ = compose(rows)
    return png(image)


def draw(summary, records, sources, *, progress=None, views=None):
    """The report's figures as ``({file name: PNG bytes}, {file name: why it was not drawn})``.

    ``summary`` is :func:`pixscale.report.summary.summarize` of ``records``
    (:class:`~pixscale.pipeline.records.ViewRecord`, one per view; an
    iterable read once more for the contact sheet's samples).  The plots are
    drawn from ``views``, the :class:`~pixscale.report.aggregate.Aggregate`
    of the records (made here when not given): every view of a run of up to
    :data:`~pixscale.report.aggregate.RESERVOIR` of them, a seeded uniform
    sample of that many beyond; the per-sample plot shows at most
    :data:`PER_SAMPLE_DRAWN` samples, evenly spread.

    Both are empty when matplotlib is not installed.  A figure that cannot
    be drawn (whatever the views are) is left out with its reason; the
    others, and the report, are still written.

    ``size_ratio_hist.png`` (before / after on a shared x axis, target line),
    ``centre_offsets.png`` (histogram, and scatter coloured by size ratio), ``per_sample.png``
    (mean ± std error bars), ``scale_hist.png`` and, when ``sources`` maps
    views to their files, ``contact_sheet.png``: every view of the best,
    median and worst samples (by mean centroid offset) before and after,
    with cut, limited and shifted views framed and labelled.

    The sheet is made in a thread while the plots are drawn: its work
    (decoding PNGs, NumPy, zlib) mostly runs without the GIL.

    ``progress``, a progress bar factory as a run takes (see
    :func:`pixscale.pipeline.driver.run_records`), is called once as
    ``progress(total=n_figures, unit="figure")`` when matplotlib is there;
    what it returns gets ``update(1)`` as each figure is done and ``close()``.
    """
    if importlib.util.find_spec("matplotlib") is None:
        return {}, {}
    stages = [s for s in ("before", "after") if s in summary]
    sampled = (sample_views(records) if views is None else views.views).items
    with ThreadPoolExecutor(1, thread_name_prefix="pixscale-sheet") as pool:
        # The sheet (PNG decoding, NumPy, zlib: mostly without the GIL) is made beside the plots (Python).
        sheet = pool.submit(_guarded, _contact_sheet, summary, records, sources) if sources else None
        from matplotlib.figure import Figure

        def figure(draw_on, size, *args):
            fig = Figure(figsize=size, layout="constrained")
            draw_on(fig, *args)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100, pil_kwargs={"compress_level": PNG_LEVEL})
            return buf.getvalue()

        plots = {
            "size_ratio_hist.png": lambda: figure(_size_histogram, (7, 2.6 * len(stages)), summary, sampled, stages),
            "centre_offsets.png": lambda: figure(_offset_figure, (10, 4.2), sampled, stages),
            "per_sample.png": lambda: figure(_per_sample, (8, 3.5), summary),
            "scale_hist.png": lambda: figure(_scale_histogram, (6, 3.5), sampled),
        }
        out, missing = {}, {}
        bar = progress(total=len(plots) + (sheet is not None), unit="figure") if progress is not None else None
        try:
            jobs: list[tuple[str, Callable[[], tuple]]] = [
                (n, functools.partial(_guarded, f)) for n, f in plots.items()
            ]
            for name, job in jobs if sheet is None else [*jobs, ("contact_sheet.png", sheet.result)]:
                data, why = job()
                if why is not None:
                    missing[name] = why
                elif data is not None:
                    out[name] = data
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return out, missing


def _guarded(make, *args):
    """``(make(*args), None)``, or ``(None, why)`` where it raised: a figure is not worth the report."""
    try:
        with np.errstate(all="ignore"):
            return make(*args), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
