"""The comparison grid of ``pixscale compare``: the same view from every run side by side, a row per sample.

Each row is one sample (the first ``GRID_SAMPLES`` of the first run), each
column one run; a cell is that sample's first view in that run (matched by
its path in the dataset), titled with the run's name, the view's size ratio
and its centroid's offset from the canvas centre, marked as the report's
contact sheet marks them (``+`` the canvas centre, ``x`` the centroid).
Composed with :func:`pixscale.report.sheet.compose` (Pillow, no matplotlib).

:func:`touches_edge` is what a folder that is not a pixscale run can say of
its cut views: which objects reach the border (and so may have been cut).
"""

import math
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

GRID_SAMPLES = 5  # rows of the grid, as the original's multi-sample comparison


def shown_views(views: Iterable[Mapping[str, Any]], root, stage: str, n: int = GRID_SAMPLES) -> dict:
    """``{sample: (view key, file, Measurement)}``: the first view of each of the first ``n`` samples.

    ``views`` are report rows (``ViewRecord.as_row``) or :class:`ViewRecord`;
    a view's file is ``root`` / its key; ``stage`` (``"before"`` or
    ``"after"``) says which measurement goes with the file.
    """
    from ..pipeline.records import ViewRecord

    out: dict[str, tuple] = {}
    for v in views:
        record = v if isinstance(v, ViewRecord) else ViewRecord.from_row(v)
        m = record.after if stage == "after" else record.before
        if record.sample in out or m is None:
            continue
        if len(out) == n:
            break
        out[record.sample] = (record.view, pathlib.Path(root) / record.view, m)
    return out


def touches_edge(m) -> bool:
    """Whether the object of Measurement ``m`` reaches its image's border (so it may have been cut off there)."""
    if m is None or m.bbox is None:
        return False
    x0, y0, x1, y1 = m.bbox
    h, w = m.shape[:2]
    return x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h


def _panel(name, item):
    from .figures import Thumbnail
    from .sheet import Panel

    if item is None:
        return Panel((name, "no such view"))
    key, path, m = item
    try:
        thumb = Thumbnail.of_file(path, key, m)
    except (OSError, ValueError, TypeError) as exc:
        return Panel((name, f"cannot read {key}", type(exc).__name__))
    h, w = thumb.shape
    off = "-" if thumb.centroid is None else f"{math.hypot(thumb.centroid[0] - w / 2, thumb.centroid[1] - h / 2):.1f}"
    lines = (name, f"size {thumb.size_ratio:.2%}, offset {off} px", key)
    return Panel(lines, thumb.image, thumb.shape, thumb.centroid)


def grid(names: Sequence[str], shown: Sequence[Mapping[str, tuple]]) -> bytes | None:
    """PNG bytes of the grid of runs ``names`` with their :func:`shown_views` ``shown``; None without samples.

    The rows are the samples of the first run that has any; a run without
    that sample's view shows "no such view" there.
    """
    from .sheet import compose, png

    first = next((s for s in shown if s), None)
    if not first:
        return None
    rows = []
    for sample, (key, _, _) in first.items():
        cells = []
        for name, views in zip(names, shown, strict=True):
            item = views.get(sample)
            if item is not None and item[0] != key:  # the same view where the run has it
                item = next((v for v in views.values() if v[0] == key), item)
            cells.append(_panel(name, item))
        rows.append((sample or key, cells))
    image, _ = compose(rows)
    return png(image)
