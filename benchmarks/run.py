"""Benchmark pixscale's kernels against the NumPy reference (and, later, peer libraries).

Usage::

    python benchmarks/run.py [--sizes 512 1024 2048] [--json results.json]

Prints a Markdown table of median times and ratios, measured side by side in
one process after warm-up, and writes the rows as JSON.
"""

import argparse
import json
import os
import platform
import time

from pixscale.bench import KERNEL_COLUMNS, format_table, run


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine():
    """What the figures depend on: CPU, core count, Python and the versions of the timed packages."""
    from importlib import metadata

    versions = {}
    for dist in (
        "numpy",
        "numba",
        "llvmlite",
        "opencv-python-headless",
        "opencv-python",
        "pillow",
        "scipy",
        "scikit-image",
        "imageio",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "versions": versions,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.7, 1.13, 1.76])
    parser.add_argument("--json", default="benchmarks/results/kernels.json", help="where to write the rows")
    args = parser.parse_args(argv)
    rows = run(args.sizes, args.scales)
    print(format_table(rows, KERNEL_COLUMNS))
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"machine": machine(), "rows": rows}, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
