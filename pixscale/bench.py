"""Throughput check: pixscale's kernels against the NumPy reference on this machine.

``pixscale bench`` runs :func:`run`; ``benchmarks/run.py`` adds the peer
libraries.  Timings are medians of repeats in one process, after a warm-up
call, so compile time is excluded; ratios compare runs made side by side.
"""

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np


def median_time(fn, *, repeats=7, budget=2.0):
    """Median wall time of ``fn()`` in seconds over up to ``repeats`` calls after one warm-up.

    Stops early once ``budget`` seconds have been spent (at least 3 calls).
    """
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 3 and time.perf_counter() - start > budget:
            break
    return statistics.median(times)


def paired_times(fns, *, rounds=15, budget=3.0):
    """Median times of several callables measured in alternation, and the median ratios.

    Each round times every function once, in turn, so slow spells of a noisy
    machine hit all of them alike.  Returns ``(medians, ratios)``: the median
    time of each function (seconds) and, for each, the median over rounds of
    its time divided by the first function's time in the same round.
    Stops after ``budget`` seconds (at least 3 rounds).
    """
    for fn in fns:
        fn()
    rows: list[list[float]] = []
    start = time.perf_counter()
    while len(rows) < rounds:
        row = []
        for fn in fns:
            t0 = time.perf_counter()
            fn()
            row.append(time.perf_counter() - t0)
        rows.append(row)
        if len(rows) >= 3 and time.perf_counter() - start > budget:
            break
    medians = [statistics.median(r[i] for r in rows) for i in range(len(fns))]
    ratios = [statistics.median(r[i] / r[0] for r in rows) for i in range(len(fns))]
    return medians, ratios


def test_image(size, *, seed=0):
    """A (size, size, 4) uint8 RGBA image: a soft off-centre ellipse over a noisy background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    r = np.hypot((xx - 0.42 * size) / 0.22, (yy - 0.55 * size) / 0.15) / size
    img = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    img[..., 3] = np.clip((1 - r) * size * 0.1, 0, 1) * 255
    return img


def run(sizes=(512, 1024, 2048), scales=(0.7, 1.13, 1.76), *, reference=True, budget=2.0, progress=None, announce=None):
    """Time measure, warp (bilinear premultiplied and straight, lanczos4, area) and normalize; return rows.

    Each row is a dict with ``op``, ``size``, ``scale``, ``pixscale_ms`` and,
    when ``reference`` is true, ``reference_ms`` and ``speedup``.

    Each case's warm-up call compiles its kernels (or loads them from the
    cache): ``announce``, if given, is called first with a message naming
    them when this cache has not yet seen a bench (see
    :func:`pixscale._precompile.first_use`).  ``progress``, a progress bar
    factory as a run takes (``progress(total=n_cases, unit="case")``), counts
    the cases timed; it gets ``update(1)`` after each and ``close()`` at the end.
    """
    from ._precompile import first_use

    cases = [case for size in sizes for case in _cases(size, scales)]
    rows: list[dict[str, Any]] = []
    with first_use("bench", ["uint8"], ["lanczos4", "area"], announce=announce):
        bar = progress(total=len(cases), unit="case") if progress is not None else None
        _time(cases, rows, bar, reference, budget)
    return rows


def _time(cases, rows, bar, reference, budget):
    """Time each case into ``rows``, counting them on ``bar`` (or None)."""
    try:
        for op, size, s, fast, slow in cases:
            row = {"op": op, "size": size, "scale": s, "pixscale_ms": 1e3 * median_time(fast, budget=budget)}
            if reference and slow is not None:
                ref_budget = budget if size <= 1024 else budget / 2
                row["reference_ms"] = 1e3 * median_time(slow, repeats=3, budget=ref_budget)
                row["speedup"] = row["reference_ms"] / row["pixscale_ms"]
            rows.append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def _cases(size, scales):
    """``(operation, size, scale, pixscale call, reference call or None)`` of each case timed at ``size``."""
    import pixscale
    from pixscale import reference as ref

    img = test_image(size)
    cases: list[tuple[str, int, float | None, Callable[[], Any], Callable[[], Any] | None]]
    cases = [("measure", size, None, lambda: pixscale.measure(img), lambda: ref.measure(img))]
    for s in scales:
        t = pixscale.ScaleTransform(s, (0.42 * size, 0.55 * size), (size / 2, size / 2), (size, size), (size, size))
        for pm in (True, False):
            name = "warp premultiplied" if pm else "warp straight"
            warp, reference = (
                partial(pixscale.warp, img, t, premultiplied=pm),
                partial(ref.warp, img, t, premultiplied=pm),
            )
            cases.append((name, size, s, warp, reference))
        for f in ("lanczos4", "area") if s < 1 else ("lanczos4",):
            # The reference is dense matrix products: O(N^3), so only up to 1024 px.
            filtered = partial(ref.filtered, img, t, filter=f) if size <= 1024 else None
            cases.append((f"warp {f}", size, s, partial(pixscale.warp, img, t, filter=f), filtered))
    cases.append(("normalize exact", size, None, lambda: pixscale.normalize(img), None))
    cases.append(("normalize closed form", size, None, lambda: pixscale.normalize(img, exact=False), None))
    return cases


def format_table(rows, columns):
    """Render rows (dicts) as a Markdown table of the given ``(key, title, format)`` columns."""
    head = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = [head, rule]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append("" if value is None else format(value, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


KERNEL_COLUMNS = [
    ("op", "operation", ""),
    ("size", "size", "d"),
    ("scale", "scale", ".2f"),
    ("pixscale_ms", "pixscale ms", ".3f"),
    ("reference_ms", "NumPy reference ms", ".2f"),
    ("speedup", "speed-up", ".1f"),
]
