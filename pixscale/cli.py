"""The ``pixscale`` command: run, stats, demo and bench.

Imports are lazy so ``pixscale --help`` stays fast.
"""

import argparse
import json
import sys

COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}


def parse_colour(text):
    """'white', 'black', 'gray', '#rrggbb' or 'r,g,b' (0-255) -> a tuple of three floats."""
    t = text.strip().lower()
    if t in ("none", "transparent"):
        return None
    if t in COLOURS:
        return tuple(float(v) for v in COLOURS[t])
    try:
        if t.startswith("#") and len(t) == 7:
            return tuple(float(int(t[i:i + 2], 16)) for i in (1, 3, 5))
        parts = tuple(float(v) for v in t.split(","))
        if len(parts) == 3 and all(0 <= v <= 255 for v in parts):
            return parts
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"unknown colour {text!r}: use transparent, white, black, gray, #rrggbb or r,g,b with 0-255 values")


def _size(text):
    try:
        parts = [int(v) for v in text.lower().replace("x", ",").split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"--output-size takes N or HxW, e.g. 512 or 512x768; got {text!r}")
    return tuple(parts)


def _add_run_options(p):
    g = p.add_argument_group("normalization")
    g.add_argument("--target", type=float, default=0.3, help="size ratio to reach (default 0.3)")
    g.add_argument("--threshold", type=float, default=10, help="object is alpha > threshold, 0-255 scale (default 10)")
    g.add_argument("--center", choices=["centroid", "bbox", "image"], default="centroid",
                   help="source point moved to the canvas centre (default centroid)")
    g.add_argument("--scale", choices=["per-view", "per-sample"], default="per-view",
                   help="per-sample: one scale per sample, keeping relative sizes; the mean view hits the "
                        "target unless a view would be cut off (default per-view)")
    g.add_argument("--output-size", type=_size, default=None, metavar="HxW", help="output canvas (default: input size)")
    g.add_argument("--margin", type=float, default=0.0, help="pixels the object keeps from the border (default 0)")
    g.add_argument("--no-fit", dest="fit", action="store_false", help="allow the object to be cut off")
    g.add_argument("--no-exact", dest="exact", action="store_false",
                   help="closed-form scale of the original method (no re-measured refinement)")
    g.add_argument("--straight-alpha", dest="premultiplied", action="store_false",
                   help="interpolate colour without premultiplying by alpha")
    g.add_argument("--background", type=parse_colour, default=None,
                   help="colour under the object: transparent (default), white, black, #rrggbb or r,g,b")
    g.add_argument("--keep-cameras", action="store_true", help="write cameras unchanged (as the original method did)")
    g.add_argument("--pixel-center", type=float, choices=[0.0, 0.5], default=0.5,
                   help="principal point convention: 0.5 = pixel centres at +0.5 (GS-LRM, default), 0 = OpenCV")
    g.add_argument("--png-level", type=int, default=6, choices=range(10), metavar="0-9",
                   help="PNG compression level (default 6; 1 is much faster, larger files)")
    p.add_argument("--layout", choices=["auto", "gslrm", "mvdiffusion", "flat"], default="auto")
    p.add_argument("--jobs", type=int, default=None, help="worker threads (default: all cores)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run, skipping completed samples")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--report-dir", default=None, help="where to write report files (default OUT_DIR)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the report figures")


def _options(args):
    from .pipeline import RunOptions

    return RunOptions(target=args.target, threshold=args.threshold, center=args.center, scale=args.scale,
                      output_size=args.output_size, margin=args.margin, fit=args.fit, exact=args.exact,
                      premultiplied=args.premultiplied, background=args.background,
                      keep_cameras=args.keep_cameras, pixel_center=args.pixel_center, png_level=args.png_level)


def _run_and_report(in_dir, out_dir, args):
    from pathlib import Path

    from . import report
    from .pipeline import run

    rows, dataset = run(in_dir, out_dir, _options(args), layout=args.layout, jobs=args.jobs,
                        resume=args.resume, quiet=args.quiet)
    summary = report.summarize(rows)
    ok = {(r["sample"], r["view"]) for r in rows if r["status"] == "ok"}
    pairs = [(v.path, Path(out_dir) / s.rel_dir / v.rel) for s in dataset.samples for v in s.views
             if (s.name, v.rel) in ok][:6]
    written = report.write_report(args.report_dir or out_dir, summary, rows, pairs=pairs, plots=args.plots)
    print(report.format_table(summary))
    print("\nreport: " + ", ".join(str(p) for p in written))
    return 1 if summary["n_failed"] else 0


def cmd_run(args):
    return _run_and_report(args.in_dir, args.out_dir, args)


def cmd_stats(args):
    from . import report
    from .pipeline import measure_dataset

    rows, _ = measure_dataset(args.dir, threshold=args.threshold, layout=args.layout, jobs=args.jobs)
    summary = report.summarize(rows)
    if args.json:
        json.dump({"summary": summary, "views": rows}, sys.stdout, indent=2)
        print()
    else:
        print(report.format_table(summary))
    if args.report_dir:
        report.write_report(args.report_dir, summary, rows, plots=args.plots)
    return 1 if summary["n_failed"] else 0


def cmd_demo(args):
    import shutil
    from pathlib import Path

    from . import synth

    out = Path(args.out)
    marker = out / ".pixscale-demo"
    if out.exists() and any(out.iterdir()):
        if not marker.exists():
            print(f"error: {out} exists and is not a pixscale demo folder; pass another --out", file=sys.stderr)
            return 2
        shutil.rmtree(out)
    out.mkdir(parents=True)
    marker.write_text("made by `pixscale demo`; safe to delete\n")
    print(f"writing a synthetic mouse dataset ({args.samples} samples x 6 views, 512x512) to {out / 'input'}")
    synth.write_dataset(out / "input", n_samples=args.samples, seed=args.seed, layout="gslrm")
    args.resume = False
    return _run_and_report(out / "input", out / "output", args)


def cmd_bench(args):
    from .bench import KERNEL_COLUMNS, format_table, run

    print(format_table(run(args.sizes, args.scales, budget=args.budget), KERNEL_COLUMNS))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pixscale",
        description="Give every object in an RGBA image set the same apparent size (by pixel area).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="normalize a dataset into a new folder and report")
    p.add_argument("in_dir", help="dataset root (GS-LRM, MVDiffusion or flat) or a quoted glob of PNGs")
    p.add_argument("out_dir", help="output root (outside IN_DIR)")
    _add_run_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("stats", help="measure a dataset and print the report; writes nothing to it")
    p.add_argument("dir")
    p.add_argument("--threshold", type=float, default=10)
    p.add_argument("--layout", choices=["auto", "gslrm", "mvdiffusion", "flat"], default="auto")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--report-dir", default=None, help="also write report files there")
    p.add_argument("--no-plots", dest="plots", action="store_false")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("demo", help="generate a synthetic mouse dataset, normalize it and report")
    p.add_argument("--out", default="pixscale-demo", help="folder for input/ and output/ (default ./pixscale-demo)")
    p.add_argument("--samples", type=int, default=16, help="samples of 6 views each (default 16)")
    p.add_argument("--seed", type=int, default=0)
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="quick throughput check: kernels vs the NumPy reference")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--scales", type=float, nargs="+", default=[1.13])
    p.add_argument("--budget", type=float, default=1.0, help="seconds per timing (default 1)")
    p.set_defaults(func=cmd_bench)
    return parser


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pixscale")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"pixscale: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
