"""Peak memory of ``pixscale run``: a dataset of many views, and one huge view, with and without figures.

Each run is a fresh subprocess; its peak resident set size (``ru_maxrss``) is
printed as a table and written to ``benchmarks/results/memory.json``.

    python benchmarks/memory.py [--samples 100] [--huge 10000]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

CHILD = """
import resource, sys
from pixscale.cli import main
rc = main(["run", *sys.argv[1:], "--quiet"])
sys.stdout.flush()
print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
sys.exit(rc)
"""


def peak(*args):
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    return int(done.stdout.rsplit("PEAK", 1)[1])


def main():
    from pixscale import synth
    from pixscale.pipeline.io import write_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="samples of 6 views, 512x512 (default 100)")
    parser.add_argument("--huge", type=int, default=10000, help="side of the huge view (default 10000)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        synth.write_dataset(tmp / "many", n_samples=args.samples, seed=0)
        small = tmp / "one"
        synth.write_dataset(small, n_samples=1, seed=0)
        huge = tmp / "huge"
        huge.mkdir()
        n = args.huge
        img = np.zeros((n, n, 4), np.uint8)
        img[n // 4 : 3 * n // 4, n // 5 : 3 * n // 5] = (120, 80, 40, 255)
        write_png(huge / "huge.png", img, compress_level=1)
        del img
        cases = [
            (f"{args.samples * 6} views 512x512", tmp / "many"),
            ("6 views 512x512", small),
            (f"1 view {n}x{n}", huge),
        ]
        for name, src in cases:
            for plots in (False, True):
                out = tmp / f"out-{len(results)}"
                p = peak(src, out, *([] if plots else ["--no-plots"]))
                results.append({"case": name, "figures": plots, "peak_rss_mib": round(p / 2**20, 1)})
                print(f"{name:<24} figures={'yes' if plots else 'no ':<4} peak RSS {p / 2**20:8.1f} MiB", flush=True)
    out = pathlib.Path(__file__).parent / "results" / "memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
