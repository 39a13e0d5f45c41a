"""Exact mode's probe: the plain count (warp the window, count) against the span count, on real plans' probes.

    python benchmarks/probe.py [--repeats 300]

Records the probes that ``pixscale.plan`` makes (exact mode, the defaults) on
``pixscale.bench.test_image(512)`` and three demo views of 512²
(``pixscale.synth.mouse_view``), then times each again both ways:
``kernels.count.warp_count`` without ``memo`` (the full one-channel warp of
the window, then ``count_above``) and with it (``count_spans``, which
interpolates only the pixels whose taps are not all on one side of the
threshold), and the row table the span count builds once per plan
(``probe_rows``).  Checks that both counts agree, and prints medians in µs.
"""

import argparse
import statistics
import time

import numpy as np

import pixscale
from pixscale import _plan, bench, synth
from pixscale._warp import use_span_count
from pixscale.kernels import count


def _recorded(img):
    """The arguments of every probe ``pixscale.plan(img)`` makes."""
    calls = []
    real = count.warp_count

    def recording(*args, **keywords):
        calls.append(args)
        return real(*args, **keywords)

    count.warp_count = recording
    try:  # the Python search: pixscale.plan's, whose compiled twin makes the same probes inside one kernel call
        _plan.plan_views([img], pixscale.Options(), compiled=False)
    finally:
        count.warp_count = real
    return calls


def _median_us(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=300)
    args = p.parse_args(argv)
    use_span_count([np.uint8])  # pixscale.plan hands the probes a memo from its first call (see _warp.bilinear_count)
    rng = np.random.default_rng(0)
    images = {"bench.test_image 512²": bench.test_image(512)}
    images.update({f"demo view {k} 512²": synth.mouse_view(rng, size=512) for k in range(3)})
    print("| image | scale | window | plain count µs | span count µs | counts equal |")
    print("|---|---|---|---|---|---|")
    tables = {}
    for name, img in images.items():
        calls = _recorded(img)
        for call in calls:
            plain, memo = call[:13], call[13]
            scale, r0, r1, c0, c1 = plain[2], *plain[7:11]
            equal = count.warp_count(*plain) == count.warp_count(*plain, memo)
            t_plain = _median_us(lambda: count.warp_count(*plain), args.repeats)
            t_span = _median_us(lambda: count.warp_count(*plain, memo), args.repeats)
            print(f"| {name} | {scale:.4f} | {r1 - r0}x{c1 - c0} | {t_plain:.1f} | {t_span:.1f} | {equal} |")
        alpha, thr, box = calls[0][0], calls[0][1], calls[0][13]["box"]
        tables[name] = _median_us(lambda: count.warp_count(alpha, thr, *calls[0][2:13], {"box": box}), args.repeats)
        tables[name] -= _median_us(lambda: count.warp_count(*calls[0]), args.repeats)
    print("\nThe row table, once per plan (first span count with a new memo, less one with a kept one):\n")
    for name, t in tables.items():
        print(f"- {name}: {t:.1f} µs")


if __name__ == "__main__":
    main()
