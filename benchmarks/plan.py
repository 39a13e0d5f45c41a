"""What planning costs per view: exact mode's search against the closed form, on the demo's views.

    python benchmarks/plan.py [--samples 10] [--rounds 5]

Side by side in one process, in alternation, best round kept: ``pixscale.plan``
with the defaults (exact mode, ``fit="shift"``), with ``fit="shrink"``, and
the closed form (``exact=False``), on the views of ``pixscale.synth``'s
demo data (512 px).  Also prints how many alpha warps (probes) exact mode made
per view, and the largest distance of its achieved ratio from the target.
"""

import argparse
import pathlib
import tempfile
import time

import imageio.v3 as iio

import pixscale
from pixscale import synth
from pixscale.kernels import count as _kernels


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        synth.write_dataset(tmp, n_samples=args.samples, seed=0, layout="gslrm")
        images = [iio.imread(f) for f in sorted(pathlib.Path(tmp).glob("*/images/*.png"))]
    configs = {
        "exact, fit shift (default)": {},
        "exact, fit shrink": {"fit": "shrink"},
        "closed form": {"exact": False},
    }
    for kw in configs.values():
        pixscale.plan(images[0], **kw)  # compile / load kernels
    best = {}
    for _ in range(args.rounds):
        for name, kw in configs.items():
            t0 = time.perf_counter()
            for img in images:
                pixscale.plan(img, **kw)
            best[name] = min(best.get(name, float("inf")), (time.perf_counter() - t0) / len(images))
    calls = []
    real = _kernels.warp_count

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    _kernels.warp_count = counting
    try:
        plans = [pixscale.plan(img) for img in images]
    finally:
        _kernels.warp_count = real
    print(f"{len(images)} views of 512 x 512 (pixscale.synth), best of {args.rounds} rounds\n")
    print("| plan | ms / view |")
    print("|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {1e3 * seconds:.2f} |")
    err = max(abs(t.achieved_ratio - t.target) for t in plans)
    print(f"\nexact mode: {len(calls) / len(images):.1f} alpha warps per view; max |ratio - target| {err:.2e}")


if __name__ == "__main__":
    main()
