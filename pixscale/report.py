"""The quality report of a dataset run: summary numbers, a text table and report files.

:func:`summarize` turns the pipeline's per-view rows into numbers,
:func:`format_table` prints them and :func:`write_report` writes them as JSON,
Markdown and, when matplotlib is installed, two figures.
"""

import io
import os
import pathlib
import textwrap
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ._measure import measure
from .io import ViewError, atomic_write_bytes, atomic_write_json, atomic_write_text, read_view

STAGES = ("before", "after")
MAX_PAIRS = 6  # pairs shown in the contact sheet
MAX_FAILURES_SHOWN = 5  # failure reasons printed by format_table
THUMBNAIL = 256  # longest side, in pixels, of an image drawn in a figure
_WIDTH = 80


def _stats(values):
    """Mean, std (ddof=0), CV, min, max and n of some numbers; None values when there are none."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "cv": None, "min": None, "max": None, "n": 0}
    mean, std = float(v.mean()), float(v.std())
    return {
        "mean": mean,
        "std": std,
        "cv": std / mean if mean else None,
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def _measured(rows, stage):
    """The (row, measurement dict) pairs of the ok rows that have a ``stage`` measurement."""
    return [(r, r[stage]) for r in rows if r.get("status") == "ok" and r.get(stage)]


def _bbox_ratio(m):
    """``sqrt(bbox area / image area)``: the size ratio a bounding-box measure would report."""
    (x0, y0, x1, y1), (h, w) = m["bbox"], m["shape"]
    return float(np.sqrt((x1 - x0) * (y1 - y0) / (h * w)))


def _centre_offset(m):
    """Distance in pixels from the centroid to the canvas centre ``(W / 2, H / 2)``."""
    (x, y), (h, w) = m["centroid"], m["shape"]
    return float(np.hypot(x - w / 2, y - h / 2))


def _stage(rows, stage):
    """Size ratio, bbox-vs-pixel, centring and within-sample numbers of one stage."""
    measured = _measured(rows, stage)
    sizes = _stats([m["size_ratio"] for _, m in measured])
    bbox = _stats([_bbox_ratio(m) for _, m in measured if m["bbox"] is not None])
    offsets = np.array([_centre_offset(m) for _, m in measured if m["centroid"] is not None])
    centring = {"mean": None, "p95": None, "p99": None, "max": None, "n": int(offsets.size)}
    if offsets.size:
        p95, p99 = np.percentile(offsets, [95, 99])
        centring.update(mean=float(offsets.mean()), p95=float(p95), p99=float(p99), max=float(offsets.max()))
    by_sample = defaultdict(list)
    for row, m in measured:
        by_sample[row.get("sample", "")].append(m["size_ratio"])
    cvs = [_stats(v)["cv"] for v in by_sample.values() if len(v) >= 2]
    within = _stats([cv for cv in cvs if cv is not None])
    return sizes, {
        "bbox_vs_pixel": {
            "bbox_mean": bbox["mean"],
            "bbox_std": bbox["std"],
            "bbox_cv": bbox["cv"],
            "pixel_cv": sizes["cv"],
        },
        "centring": centring,
        "within_sample_cv": {"mean": within["mean"], "max": within["max"], "n_samples": within["n"]},
    }


def summarize(rows):
    """Summarize the per-view rows of a run into JSON-ready numbers.

    Parameters
    ----------
    rows : sequence of dict
        One dict per view with keys ``sample``, ``view``, ``status`` (``"ok"``
        or ``"failed"``), ``error``, ``before`` and ``after`` (a
        :meth:`Measurement.to_dict` or None), ``scale`` (float or None) and
        ``limited`` (bool or None), and optionally ``on_target`` (bool or
        None).  Only ok rows enter the statistics.

    Returns
    -------
    dict
        ``n_views``, ``n_ok``, ``n_failed``; ``before`` and, when any row has
        an ``after`` measurement, ``after``: size ratio ``mean``, ``std``
        (population, ddof=0), ``cv`` (std / mean), ``min``, ``max``, ``n``;
        ``scale``: the same keys over the scale factors; ``limited``: number
        of views whose scale the fit rule reduced; ``off_target``: number of
        views, not limited by the fit, whose exact-mode ratio missed the target
        by more than the tolerance (``on_target`` False); ``failures``: a list of
        ``{"sample", "view", "error"}``; and, keyed by stage,
        ``bbox_vs_pixel`` (``bbox_mean``, ``bbox_std``, ``bbox_cv`` of
        ``sqrt(bbox area / image area)``, next to ``pixel_cv``), ``centring``
        (centroid distance to the canvas centre ``(W / 2, H / 2)`` in pixels:
        ``mean``, ``p95``, ``p99``, ``max``, ``n``) and ``within_sample_cv``
        (``mean`` and ``max`` over samples with at least two ok views of the
        CV of their size ratios, ``n_samples``).  Numbers are Python floats
        and ints; those that cannot be computed are None.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((10, 10), np.uint8)
    >>> alpha[2:7, 2:7] = 255
    >>> m = pixscale.measure(alpha).to_dict()
    >>> row = {"sample": "s", "view": "a.png", "status": "ok", "error": None,
    ...        "before": m, "after": None, "scale": 0.6, "limited": False}
    >>> s = summarize([row, dict(row, view="b.png", scale=0.8)])
    >>> s["before"]["mean"], s["scale"]["mean"], s["n_ok"], "after" in s
    (0.5, 0.7, 2, False)
    """
    rows = list(rows)
    ok = [r for r in rows if r.get("status") == "ok"]
    failed = [r for r in rows if r.get("status") == "failed"]
    summary = {"n_views": len(rows), "n_ok": len(ok), "n_failed": len(failed)}
    stages = [s for s in STAGES if s == "before" or any(r.get(s) for r in rows)]
    sections = {"bbox_vs_pixel": {}, "centring": {}, "within_sample_cv": {}}
    for stage in stages:
        summary[stage], parts = _stage(rows, stage)
        for key, value in parts.items():
            sections[key][stage] = value
    summary["scale"] = _stats([r["scale"] for r in ok if r.get("scale") is not None])
    summary["limited"] = sum(1 for r in ok if r.get("limited"))
    summary["off_target"] = sum(1 for r in ok if r.get("on_target") is False and not r.get("limited"))
    summary["failures"] = [
        {"sample": r.get("sample", ""), "view": r.get("view", ""), "error": r.get("error")} for r in failed
    ]
    summary.update(sections)
    return summary


def _pct(v):
    """A ratio as a percentage: one decimal, or two significant digits when that would show 0."""
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if v == 0 or abs(v) >= 5e-4 else f"{100 * v:.2g}%"


def _fmt(spec):
    return lambda v: "-" if v is None else format(v, spec)


def _sections(summary):
    """The summary as ``(title, columns, rows)`` tables, shared by the text and Markdown output."""
    stages = [s for s in STAGES if s in summary]

    def by_stage(title, key, lines):
        pick = (lambda s: summary[s]) if key is None else (lambda s: summary[key][s])
        return title, stages, [(label, [fmt(pick(s)[k]) for s in stages]) for label, k, fmt in lines]

    count, px = _fmt("d"), _fmt(".2f")
    sections = [
        by_stage(
            "size ratio",
            None,
            [(k if k != "cv" else "CV", k, _pct) for k in ("mean", "std", "cv", "min", "max")]
            + [("views", "n", count)],
        )
    ]
    if summary["scale"]["n"]:
        sections.append(
            ("scale factor", [""], [(k, [_fmt(".3f")(summary["scale"][k])]) for k in ("mean", "std", "min", "max")])
        )
    sections += [
        (
            "views",
            [""],
            [
                ("total", [count(summary["n_views"])]),
                ("ok", [count(summary["n_ok"])]),
                ("limited by fit", [count(summary["limited"])]),
                ("off target (exact mode)", [count(summary.get("off_target", 0))]),
                ("failed", [count(summary["n_failed"])]),
            ],
        ),
        by_stage(
            "bbox vs pixel measure",
            "bbox_vs_pixel",
            [
                ("bbox size ratio mean", "bbox_mean", _pct),
                ("bbox size ratio std", "bbox_std", _pct),
                ("bbox size ratio CV", "bbox_cv", _pct),
                ("pixel size ratio CV", "pixel_cv", _pct),
            ],
        ),
        by_stage(
            "centroid offset (px)",
            "centring",
            [("mean", "mean", px), ("p95", "p95", px), ("p99", "p99", px), ("max", "max", px)],
        ),
        by_stage(
            "within-sample CV",
            "within_sample_cv",
            [("mean", "mean", _pct), ("max", "max", _pct), ("samples", "n_samples", count)],
        ),
    ]
    return sections


def format_table(summary):
    """Render a summary as the plain-text table printed at the end of a run.

    Parameters
    ----------
    summary : dict
        The output of :func:`summarize`.

    Returns
    -------
    str
        Sections for the size ratio (before, and after when present), the
        scale factors, the view counts with the first failure reasons, the
        bbox-vs-pixel comparison, centring and within-sample CV; no line is
        longer than 80 characters.

    Examples
    --------
    >>> table = format_table(summarize([]))
    >>> table.splitlines()[2].split(), max(len(line) for line in table.splitlines()) <= 80
    (['size', 'ratio', 'before'], True)
    """
    out = ["pixscale quality report", ""]
    for title, columns, rows in _sections(summary):
        out.append((f"{title:<28}" + "".join(f"{c:>12}" for c in columns)).rstrip())
        out += [f"  {label:<26}" + "".join(f"{c:>12}" for c in cells) for label, cells in rows]
        if title == "views":
            if summary.get("off_target"):
                out.append("    off target: no scale gives these views a ratio within the tolerance")
                out.append("    (it moves in steps larger than that, e.g. hard edges filling the canvas)")
            failures = summary["failures"]
            for f in failures[:MAX_FAILURES_SHOWN]:
                name = "/".join(p for p in (f["sample"], f["view"]) if p)
                line = f"    {name}: {f['error']}".replace("\n", " ")
                out.append(line if len(line) <= _WIDTH else line[: _WIDTH - 4] + " ...")
            if len(failures) > MAX_FAILURES_SHOWN:
                out.append(f"    ... and {len(failures) - MAX_FAILURES_SHOWN} more (see report.json)")
        out.append("")
    return "\n".join(out).rstrip("\n")


def _md_row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _md_table(header, rows):
    """Markdown table lines (and a blank line) of a header and rows of cells; pipes escaped."""
    return [_md_row(header), "|" + "---|" * len(header)] + [_md_row(r) for r in rows] + [""]


def _markdown(summary, rows):
    out = ["# pixscale quality report", ""]
    for title, columns, table in _sections(summary):
        out += [f"## {title}", ""] + _md_table(["", *columns], [[label, *cells] for label, cells in table])
    if summary["failures"]:
        out += ["## failures", ""] + _md_table(
            ["sample", "view", "error"], [[f["sample"], f["view"], f["error"]] for f in summary["failures"]]
        )
    limited = {True: "yes", False: "no"}
    out += ["## per view", ""] + _md_table(
        ["sample", "view", "status", "before", "after", "scale", "limited", "error"],
        [
            [
                r.get("sample", ""),
                r.get("view", ""),
                r.get("status", ""),
                *(_pct((r.get(s) or {}).get("size_ratio")) for s in STAGES),
                _fmt(".4f")(r.get("scale")),
                limited.get(r.get("limited"), "-"),
                r.get("error") or "",
            ]
            for r in rows
        ],
    )
    return "\n".join(out)


def _plain(obj):
    """``obj`` with NumPy scalars and arrays, tuples and paths turned into JSON-ready values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return os.fspath(obj) if isinstance(obj, os.PathLike) else obj


def _over_checkerboard(image):
    """An RGBA or gray+alpha image composited over a grey checkerboard, float RGB in [0, 1]."""
    img = image.astype(np.float64) / np.iinfo(image.dtype).max
    rgb = img[..., :3] if img.shape[2] == 4 else np.repeat(img[..., :1], 3, axis=2)
    alpha = img[..., -1:]
    cell = max(4, min(img.shape[:2]) // 16)
    yy, xx = np.indices(img.shape[:2]) // cell
    board = np.where((yy + xx) % 2, 0.8, 0.6)[..., None]
    return np.clip(rgb * alpha + board * (1 - alpha), 0, 1)


@dataclass(frozen=True)
class Thumbnail:
    """A view as the figures draw it: a small copy of the image and what was measured on the full one.

    Made by the work unit while the view is in memory (:meth:`of`), so the
    report never reads or holds a full image: a 10000x10000 view costs the
    figures a few hundred kilobytes, not gigabytes.
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
        small = np.ascontiguousarray(image[step // 2 :: step, step // 2 :: step])
        return cls(small, tuple(image.shape[:2]), measurement.centroid, measurement.size_ratio, name)


def _thumbnail_of_file(path):
    image = read_view(path)
    return Thumbnail.of(image, measure(image), "/".join(pathlib.Path(path).parts[-3:]))


def _show_view(ax, item, label):
    """Draw one view over a checkerboard with its centroid (x) and the canvas centre (+).

    ``item`` is a :class:`Thumbnail`, or a path to read one from.
    """
    ax.set_axis_off()
    try:
        thumb = item if isinstance(item, Thumbnail) else _thumbnail_of_file(item)
    except ViewError as exc:
        ax.text(0.5, 0.5, textwrap.fill(str(exc), 40), ha="center", va="center", fontsize=7, transform=ax.transAxes)
        return
    h, w = thumb.shape
    ax.imshow(_over_checkerboard(thumb.image), extent=(0, w, h, 0), interpolation="nearest")
    ax.plot(w / 2, h / 2, "+", color="0.3", ms=12)
    if thumb.centroid is not None:
        ax.plot(*thumb.centroid, "x", color="red", ms=10, mew=2)
    ax.set_title(f"{label} {thumb.size_ratio:.1%}\n{thumb.name}", fontsize=7)


def _histogram(figure, rows, stages):
    fig = figure(figsize=(4 * len(stages), 3), layout="constrained")
    for ax, stage in zip(fig.subplots(1, len(stages), squeeze=False)[0], stages, strict=False):
        values = 100 * np.array([m["size_ratio"] for _, m in _measured(rows, stage)])
        if values.size:  # at least one percentage point wide, so a spread of ~0 shows as one bar
            mid = (values.min() + values.max()) / 2
            span = (min(values.min(), mid - 0.5), max(values.max(), mid + 0.5))
            ax.hist(values, bins=20, range=span, color="tab:blue" if stage == "before" else "tab:orange")
            ax.axvline(values.mean(), color="k", lw=1)
        ax.set(title=f"{stage} (n={values.size})", xlabel="size ratio (%)", ylabel="views")
    return fig


def _contact_sheet(figure, pairs):
    fig = figure(figsize=(6, 3 * len(pairs)), layout="constrained")
    for axes, pair in zip(fig.subplots(len(pairs), 2, squeeze=False), pairs, strict=False):
        for ax, label, path in zip(axes, STAGES, pair, strict=False):
            _show_view(ax, path, label)
    return fig


def write_report(out_dir, summary, rows, *, pairs=(), plots=True):
    """Write the report files of a run into ``out_dir``, each atomically.

    Parameters
    ----------
    out_dir : str or path-like
        Destination folder, created if needed.
    summary : dict
        The output of :func:`summarize`.
    rows : sequence of dict
        The per-view rows the summary was made from.
    pairs : sequence of (before, after), optional
        Views shown in the contact sheet (the first six are used), each a
        :class:`Thumbnail` or an image file to make one from.
    plots : bool, optional
        Draw the figures when matplotlib is importable.  Default True.

    Returns
    -------
    list of pathlib.Path
        ``report.json`` (``{"summary": ..., "views": rows}``), ``report.md``
        and, with plots, ``size_ratio_hist.png`` and, when ``pairs`` is
        non-empty, ``contact_sheet.png``.

    Notes
    -----
    Figures use matplotlib's Figure API only: no pyplot, no global backend
    change.  The contact sheet composites each view over a checkerboard and
    marks its centroid (x, from :func:`pixscale.measure` at the default
    threshold) and the canvas centre (+).
    """
    out = pathlib.Path(out_dir)
    rows = _plain(list(rows))
    written = [out / "report.json", out / "report.md"]
    atomic_write_json(written[0], {"summary": _plain(summary), "views": rows})
    atomic_write_text(written[1], _markdown(summary, rows))
    if not plots:
        return written
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return written
    figures = {"size_ratio_hist.png": _histogram(Figure, rows, [s for s in STAGES if s in summary])}
    pairs = list(pairs)[:MAX_PAIRS]
    if pairs:
        figures["contact_sheet.png"] = _contact_sheet(Figure, pairs)
    for name, fig in figures.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        atomic_write_bytes(out / name, buf.getvalue())
        written.append(out / name)
    return written
