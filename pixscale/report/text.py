"""The summary as text: the sections of the printed table and the Markdown report."""

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..pipeline.records import ViewRecord
from .quality import OUTLIER_PX, STAGES, measurement, off_centre


def _pct(v):
    """A ratio as a percentage with two decimals."""
    return "-" if v is None else f"{100 * v:.2f}%"


def _fmt(spec):
    return lambda v: "-" if v is None else format(v, spec)


def _sections(summary):
    """The summary as ``(title, columns, rows)`` tables, shared by the text and Markdown output."""
    stages = [s for s in STAGES if s in summary]

    def by_stage(title, key, lines):
        pick = (lambda s: summary[s]) if key is None else (lambda s: summary[key][s])
        return title, stages, [(label, [fmt(pick(s).get(k)) for s in stages]) for label, k, fmt in lines]

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
    placement = summary.get("placement", {})
    exact = summary.get("exact", {})
    sections += [
        (
            "views",
            [""],
            [
                ("total", [count(summary["n_views"])]),
                ("ok", [count(summary["n_ok"])]),
                ("shifted to fit", [count(placement.get("shifted", 0))]),
                ("limited by fit", [count(summary["limited"])]),
                ("cut off (fit none)", [count(placement.get("cut", 0))]),
                ("off target (exact mode)", [count(summary.get("off_target", 0))]),
                ("failed", [count(summary["n_failed"])]),
            ],
        ),
    ]
    specks = summary.get("specks") or {}
    if specks.get("views"):
        sections[-1][2][-1:-1] = [
            ("with specks ignored", [count(specks["views"])]),
            ("  islands (pixels)", [f"{specks['components']:,} ({specks['pixels']:,})"]),
        ]
    if placement.get("shifted") or exact.get("n"):
        lines = []
        if placement.get("shifted"):
            lines += [
                ("shift mean (px)", [px(placement["shift_mean"])]),
                ("shift max (px)", [px(placement["shift_max"])]),
            ]
        if placement.get("cut"):
            lines.append(("object pixels cut off", [count(placement["cut_pixels"])]))
        if exact.get("n") and exact.get("max_error") is not None:
            lines.append(("max |ratio - target|", [_fmt(".2e")(exact["max_error"])]))
        if lines:
            sections.append(("placement and exact mode", [""], lines))
    sections += [
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
            "centroid offset",
            "centring",
            [
                ("mean (px)", "mean", px),
                ("std (px)", "std", px),
                ("p95 (px)", "p95", px),
                ("p99 (px)", "p99", px),
                ("max (px)", "max", px),
                ("mean (% of image)", "mean_pct", px),
                (f"views > {OUTLIER_PX} px", "over_50px", count),
                ("within-sample std (px)", "within_sample_std", px),
            ],
        ),
        by_stage(
            "within-sample CV",
            "within_sample_cv",
            [("mean", "mean", _pct), ("max", "max", _pct), ("samples", "n_samples", count)],
        ),
    ]
    return sections


def same(text):
    """Words as the library says them: the default ``spell`` of the report's text."""
    return text


def spelled(spell, text):
    """``spell(text)`` for text; anything else (a missing error: None) as it is."""
    return spell(text) if isinstance(text, str) else text


def _quality_lines(summary, spell=same):
    q = summary.get("quality") or {}
    if not q.get("grade"):
        return []
    lines = [f"quality grade ({q['stage']}): {q['grade']} ({q['label']})"]
    lines += [f"  {line}" for line in q["interpretation"]]
    lines += [f"  - {spell(line)}" for line in q["recommendations"]]
    return lines


def _md_row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _md_table(header, rows):
    """Markdown table lines (and a blank line) of a header and rows of cells; pipes escaped."""
    return [_md_row(header), "|" + "---|" * len(header)] + [_md_row(r) for r in rows] + [""]


_YES_NO = {True: "yes", False: "no", None: "-"}


def heading(summary: Mapping[str, Any]) -> str:
    """``": the first N samples"`` when ``summary`` is of only those (its ``num_samples``), else ``""``."""
    n = summary.get("num_samples")
    return "" if n is None else f": the first {n} samples"


def _markdown_head(
    summary: Mapping[str, Any],
    meta: Mapping[str, Any],
    figures: Sequence[str],
    spell: Callable[[str], str] = same,
    views_note: str | None = None,
) -> tuple[str, Iterable[str]]:
    """``report.md`` up to its per-view table's header, as ``(text, lines)``: the lines of the per-sample table follow
    the text (each its own line, the per-view table's header last); a record's line follows them.

    ``views_note``: a paragraph put before the per-view table (what it lists of a run it does not list whole).
    """
    note = [views_note, ""] if views_note else []
    out = ["# pixscale quality report" + heading(summary), ""]
    if meta:
        params = meta.get("parameters") or {}
        out += _md_table(
            ["run", ""],
            [[k, v] for k, v in meta.items() if k != "parameters"] + [[f"parameter {k}", v] for k, v in params.items()],
        )
    q = summary.get("quality") or {}
    if q.get("grade"):
        out += [f"## quality grade: {q['grade']} ({q['label']})", ""]
        out += [
            f"Bands of FaceLift's `scripts/evaluate_preprocessing.py`, on the {q['stage']} images: "
            "A: size CV < 1% and mean centroid offset < 5 px; B: < 3% and < 10 px; C: < 5% and < 20 px; "
            "D: otherwise (offsets in px of a 512-px image).",
            "",
        ]
        out += [f"- {line}" for line in q["interpretation"]] + ["", "Recommendations:", ""]
        out += [f"- {spell(line)}" for line in q["recommendations"]] + [""]
    for title, columns, table in _sections(summary):
        out += [f"## {title}", ""] + _md_table(["", *columns], [[label, *cells] for label, cells in table])
    exact = summary.get("exact") or {}
    if exact.get("off_target_views"):
        out += [
            "## off target",
            "",
            "No scale gives these views a size ratio within the tolerance of the target: the re-measured "
            "ratio moves in steps larger than that near the target (long straight edges along the pixel "
            "grid cross it together, or the object fills the canvas). On a canvas of a few pixels one "
            "pixel is a large step: a 1-pixel canvas holds only ratio 0 or 1, so it cannot be on a target "
            "between them. Each has the best ratio that nearby scales give.",
            "",
        ] + _md_table(
            ["sample", "view", "achieved ratio"],
            [[v["sample"], v["view"], _fmt(".5f")(v["achieved_ratio"])] for v in exact["off_target_views"]],
        )
    if figures:
        out += ["## figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    if summary["failures"]:
        failures = [[f["sample"], f["view"], spelled(spell, f["error"])] for f in summary["failures"]]
        out += ["## failures", ""] + _md_table(["sample", "view", "error"], failures)
    samples = summary.get("samples")
    if not samples:
        return "\n".join(out + ["## per view", "", *note] + _md_table(_VIEW_COLUMNS, [])[:2]), []
    header = ["sample", "views", "size mean", "size CV", "offset mean (px)", "wanted scale", "scale", "limited"]
    table = _md_table(header, [])[:2]
    lines: Iterable[str] = (_md_row(_sample_cells(s)) for s in samples)
    if isinstance(samples, list):  # a summary given whole: any problem found here, before the file is written
        lines = list(lines)
    tail = ["", "## per view", "", *note, *_md_table(_VIEW_COLUMNS, [])[:2]]
    return "\n".join(out + ["## per sample", "", *table]), itertools.chain(lines, ["\n".join(tail)])


def _sample_cells(s):
    """The per-sample table's cells of a sample."""
    return [
        s["sample"],
        s["views"],
        _pct(s["size_mean"]),
        _pct(s["size_std"] / s["size_mean"] if s["size_mean"] and s["size_std"] is not None else None),
        _fmt(".2f")(s["offset_mean"]),
        _fmt(".4f")(s["wanted_scale"]),
        _fmt(".4f")(s["scale"]),
        s["limited"],
    ]


_VIEW_COLUMNS = [
    "sample",
    "view",
    "status",
    "before",
    "after",
    "wanted scale",
    "scale",
    "shift (px)",
    "limited",
    "cut px",
    "specks (px)",
    "error",
]


def flagged(r: ViewRecord) -> bool:
    """Whether a view is one the per-view table of a run too large to list whole still lists.

    A failed view, one cut off by the fit, one off target (exact mode, not
    limited) or one off centre as it ends (its ``after``, or its ``before``
    when only measured: more than :data:`~pixscale.report.quality.OUTLIER_PX`
    px beyond the fit's move, :func:`~pixscale.report.quality.off_centre`).
    """
    if r.error is not None or r.cut_pixels or (r.on_target is False and not r.limited):
        return True
    return off_centre(r, "before" if r.after is None else "after")


def views_note(n_views: int, n_listed: int, n_flagged: int, rows_file: str) -> str:
    """``report.md``'s paragraph before the per-view table of a run of more views than a report lists."""
    why = f"failed, cut off, off target, or more than {OUTLIER_PX} px off centre beyond the fit's move"
    if not n_flagged:
        listed = f"No view is flagged ({why}): the table is empty."
    else:
        first = f", the first {n_listed:,} of them" if n_flagged > n_listed else ""
        listed = f"Listed here: the {n_flagged:,} flagged views{first} ({why})."
    return (
        f"This run has {n_views:,} views, more than the {n_listed:,} a report lists: every view's row is in "
        f"{rows_file} (JSON Lines, one row a line, in dataset order; report.json names it as `views_file`). " + listed
    )


def _view_line(r: ViewRecord, spell: Callable[[str], str] = same) -> str:
    """The per-view table's line of a record."""
    shift = "-" if not r.shift else ", ".join(["-" if v is None else format(v, "+.1f") for v in r.shift])
    m = r.before
    specks = f"{m.dropped_components} ({m.dropped_pixels})" if m is not None and m.dropped_components else "-"
    sizes = []
    for stage in STAGES:
        size = None if (ms := measurement(r, stage)) is None else ms.size_ratio
        sizes.append("-" if size is None else format(size, ".4%"))
    return _md_row(
        [
            r.sample,
            r.view,
            r.status,
            *sizes,
            "-" if r.wanted_scale is None else format(r.wanted_scale, ".4f"),
            "-" if r.scale is None else format(r.scale, ".4f"),
            shift,
            _YES_NO[r.limited],
            "-" if r.cut_pixels is None else format(r.cut_pixels, "d"),
            specks,
            spelled(spell, r.error) or "",
        ]
    )


def _markdown(
    summary: Mapping[str, Any],
    records: Iterable[ViewRecord],
    meta: Mapping[str, Any],
    figures: Sequence[str],
    spell: Callable[[str], str] = same,
) -> str:
    """``report.md``: the run, the grade and its advice, the summary's tables and one line per record.

    :func:`_markdown_head` and a :func:`_view_line` per record, then a blank
    line (what :func:`pixscale.report.summary.write_report` streams).
    """
    head, samples = _markdown_head(summary, meta, figures, spell)
    return "\n".join([head, *samples, *(_view_line(r, spell) for r in records), ""])
