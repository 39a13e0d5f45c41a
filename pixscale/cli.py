"""The ``pixscale`` command: run, stats, demo, compare and bench.

Imports are lazy so ``pixscale --help`` stays fast.
"""

import argparse
import json
import os
import sys

from ._filters import FILTERS
from ._object import KEEP
from ._place import CENTERS, FITS
from .cli_presets import add_list_presets, add_preset_arguments, parse_args
from .console import add_store_arguments as _store_args
from .console import check_report_dir, flag_table, messages, os_error_line, progress_bar, to_flags, write
from .pipeline.dataset import REPORT_DIR
from .pipeline.layouts import LAYOUTS
from .pipeline.options import SCALE_MODES
from .pipeline.store import Url, is_url
from .pipeline.workers import POOLS
from .report.compare import add_arguments as compare_arguments


def parse_colour(text):
    """``--background``: transparent, a colour name, #rrggbb or r,g,b (0-255) -> three floats or None."""
    from ._validate import parse_colour as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1; got {text!r}")
    return value


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


def _margin(text):
    """Pixels as a float, anything else (a percentage) as text; RunOptions checks the value."""
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _add_speck_options(g, note=""):
    g.add_argument(
        "--min-component",
        type=float,
        default=None,
        metavar="N",
        help="ignore islands of the mask smaller than N pixels (N >= 1) or than that fraction of the largest "
        "island (N < 1, e.g. 0.05): matte specks then move neither size nor centre" + note,
    )
    g.add_argument(
        "--keep",
        choices=KEEP,
        default="all",
        help="largest: the object is the mask's largest island only (default all)" + note,
    )


def _add_run_options(p):
    g = p.add_argument_group("normalization")
    add_preset_arguments(g)
    g.add_argument("--target", type=float, default=0.3, help="size ratio to reach, in (0, 1] (default 0.3)")
    g.add_argument(
        "--threshold", type=float, default=10, help="object is alpha > threshold, 0-255 scale, below 255 (default 10)"
    )
    _add_speck_options(g)
    g.add_argument(
        "--erase-specks",
        action="store_true",
        help="also erase the specks --min-component/--keep drop from the output images (default: keep them in "
        "the picture, ignore them for size and centre)",
    )
    g.add_argument(
        "--filter",
        choices=FILTERS,
        default="bilinear",
        help="resampling filter: bilinear (default), lanczos4 (OpenCV's 8x8 Lanczos: sharper upscaling), "
        "area (box-filter average when shrinking, no aliasing; bilinear at scale >= 1), "
        "auto (area below scale 1, lanczos4 above)",
    )
    g.add_argument(
        "--center",
        choices=CENTERS,
        default="centroid",
        help="source point moved to the canvas centre (default centroid)",
    )
    g.add_argument(
        "--scale",
        choices=SCALE_MODES,
        default="per-view",
        help="per-sample: one scale per sample, keeping relative sizes; the mean view hits the "
        "target unless a view would be cut off (default per-view)",
    )
    g.add_argument("--output-size", type=_size, default=None, metavar="HxW", help="output canvas (default: input size)")
    g.add_argument(
        "--fit",
        choices=FITS,
        default="shift",
        help="keep the object whole by moving it off centre only as far as needed (shift, default), "
        "by scaling it down about its centre (shrink), or not at all (none: it may be cut off)",
    )
    g.add_argument("--no-fit", dest="fit", action="store_const", const="none", help="same as --fit none")
    g.add_argument(
        "--margin",
        type=_margin,
        default=0.0,
        help="border kept free of the object: output pixels (12) or a percentage of the canvas (5%%) (default 0)",
    )
    g.add_argument(
        "--no-exact",
        dest="exact",
        action="store_false",
        help="closed-form scale of the original method (no re-measured refinement)",
    )
    g.add_argument(
        "--straight-alpha",
        dest="premultiplied",
        action="store_false",
        help="interpolate colour without premultiplying by alpha",
    )
    g.add_argument(
        "--background",
        type=parse_colour,
        default=None,
        help="colour under the object: transparent (default), white, black, #rrggbb or r,g,b",
    )
    g.add_argument("--keep-cameras", action="store_true", help="write cameras unchanged (as the original method did)")
    g.add_argument(
        "--mask",
        default=None,
        metavar="TEMPLATE",
        help="RGB images with separate masks: each image's mask file, relative to its folder, {stem} standing "
        "for its name without extension (e.g. '../masks/{stem}.png'); JPEG and PNG images are read, and the "
        "output is RGBA PNG",
    )
    g.add_argument(
        "--write-mask",
        action="store_true",
        help="with --mask: write each output as a colour PNG plus its mask as a PNG, in the input's arrangement "
        "(both named .png: masks/a.jpg is written as masks/a.png)",
    )
    g.add_argument(
        "--pixel-center",
        type=float,
        choices=[0.0, 0.5],
        default=0.5,
        help="principal point convention: 0.5 = pixel centres at +0.5 (GS-LRM, default), 0 = OpenCV",
    )
    g.add_argument(
        "--png-level",
        type=int,
        default=6,
        choices=range(10),
        metavar="0-9",
        help="PNG compression level (default 6; 1 is much faster, larger files)",
    )
    p.add_argument(
        "--jobs", type=int, default=None, help="local workers (default: as many as the run is worth, up to all cores)"
    )
    p.add_argument(
        "--pool",
        choices=POOLS,
        default="processes",
        help="what the local workers are (default processes: they share nothing, so they scale)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local:N",
        help="run on a Dask cluster (pip install 'pixscale[dask]'): a scheduler address such as "
        "tcp://HOST:8786, or local:N for a LocalCluster of N processes; IN_DIR and OUT_DIR must be "
        "on a filesystem every worker sees",
    )
    p.add_argument(
        "--unit-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="fail a sample that takes longer than this (a hung read, a stuck worker); --resume tries it again "
        "(default: no limit)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing but errors: no progress bar, messages or report table (the report files are written)",
    )
    p.add_argument("--report-dir", default=None, help=f"where to write report files (default OUT_DIR/{REPORT_DIR})")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the report figures")


def _options(args):
    """The run's options: each flag's ``dest`` is the :class:`RunOptions` field it sets."""
    from .pipeline.options import OPTION_NAMES, RunOptions

    return RunOptions(**{name: getattr(args, name) for name in OPTION_NAMES if hasattr(args, name)})


def _run_and_report(in_dir, out_dir, args, *, layout="auto", resume=False):
    from pathlib import Path

    from .pipeline.driver import run_records
    from .pipeline.options import check_jobs
    from .report import summary as report

    opts = _options(args)  # every option is checked before any file is read or created
    check_jobs(args.jobs)
    check_report_dir(args.report_dir)
    records, _ = run_records(
        in_dir,
        out_dir,
        opts,
        layout=layout,
        jobs=args.jobs,
        resume=resume,
        quiet=args.quiet,
        report_dir=args.report_dir,
        plots=args.plots,
        pool=args.pool,
        scheduler=args.scheduler,
        unit_timeout=args.unit_timeout,
        progress=progress_bar,
        spell=_flags,
        storage_options=getattr(args, "storage_options", None),
        break_lock=getattr(args, "break_lock", False),
    )
    summary = report.summarize(records, target=opts.image.target, options=opts.params())
    out = Url(out_dir) if is_url(out_dir) else Path(out_dir)  # an object store's URL joins as a path does
    where = Path(args.report_dir) if args.report_dir else out / REPORT_DIR
    unwritten = [r for r in records if r.sample == "" and r.view == REPORT_DIR and r.error]
    if not args.quiet:
        _out(report.format_table(summary, spell=_flags))
        if not unwritten:
            _out(f"\nreport: {where / 'report.html'} (open it in a browser; report.md and report.json beside it)")
    elif summary["n_failed"] and not unwritten:  # --quiet: only the error
        _failed_line(summary, where)
    for record in unwritten:  # said once, here (the library does not print)
        _err(f"pixscale: error: {record.error}")
    return 1 if summary["n_failed"] else 0


def _failed_line(summary, where=None):
    see = f"; see {where / 'report.md'}" if where is not None else ""
    _err(f"pixscale: error: {summary['n_failed']} of {summary['n_views']} views failed{see}")


def _out(text):
    """Print to standard output (options named as flags); once the work is done, a broken stdout is no error."""
    write(sys.stdout, _flags(text))


def _err(text):
    """Print a message to standard error (options named as flags), if there is one."""
    write(sys.stderr, _flags(text))


_TABLE: list = []  # the flag of each option, built from the parser on first use


def _flags(text):
    """``text`` with the options it names as Python keywords (```resume=True```) written as flags (``--resume``)."""
    if not _TABLE:
        _TABLE.append(flag_table(build_parser()))
    return to_flags(text, _TABLE[0])


def cmd_run(args):
    return _run_and_report(args.in_dir, args.out_dir, args, layout=args.layout, resume=args.resume)


def cmd_stats(args):
    from pathlib import Path

    from .pipeline.driver import measure_dataset
    from .pipeline.records import rows_of
    from .report import summary as report

    check_report_dir(args.report_dir)
    records, _ = measure_dataset(
        args.dir,
        threshold=args.threshold,
        min_component=args.min_component,
        keep=args.keep,
        layout=args.layout,
        jobs=args.jobs,
        quiet=args.json or args.quiet,
        report_dir=args.report_dir,
        num_samples=args.num_samples,
        storage_options=args.storage_options,
    )
    summary = report.summarize(
        records, options={"threshold": args.threshold, "min_component": args.min_component, "keep": args.keep}
    )
    if args.num_samples is not None:  # said in the report's heading
        summary["num_samples"] = args.num_samples
    if args.json:
        json.dump({"summary": summary, "views": rows_of(records)}, sys.stdout, indent=2)
        print()
    elif not args.quiet:
        _out(report.format_table(summary, spell=_flags))
    if args.report_dir:
        if not args.quiet:
            _err("writing the report" + (" and drawing its figures" if args.plots else ""))
        shown = None if args.quiet else progress_bar  # a count of the figures
        report.write_report(args.report_dir, summary, records, plots=args.plots, spell=_flags, progress=shown)
    if args.quiet and not args.json and summary["n_failed"]:
        _failed_line(summary, Path(args.report_dir) if args.report_dir else None)
    return 1 if summary["n_failed"] else 0


def cmd_demo(args):
    import shutil
    from pathlib import Path

    from . import synth
    from .pipeline.dataset import LOCK
    from .pipeline.output import Lock

    _options(args)
    out = Path(args.out)
    marker = out / ".pixscale-demo"
    locks = (LOCK, LOCK + ".pid")
    if out.exists() and not out.is_dir():
        print(f"pixscale: error: --out {out} is a file; pass a folder", file=sys.stderr)
        return 2
    check_report_dir(args.out, "--out")

    def foreign():
        return out.exists() and not marker.exists() and any(p.name not in locks for p in out.iterdir())

    if foreign():
        print(
            f"pixscale: error: --out {out} exists, is not empty and is not a pixscale demo folder; pass another --out",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    # The folder is this demo's before anything in it is deleted: another demo (or a run into its output)
    # still running there is refused, never has its files deleted under it.
    lock = Lock(out)
    try:
        if foreign():  # made meanwhile by something else
            raise ValueError(f"--out {out} is not empty and is not a pixscale demo folder; pass another --out")
        previous = out / "output"
        in_use = Lock(previous) if previous.is_dir() and not previous.is_symlink() else None
        try:
            for path in out.iterdir():
                if path.name in locks:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        finally:
            if in_use is not None:
                in_use.release()
        marker.write_text("made by `pixscale demo`; safe to delete\n")
        if not args.quiet:
            print(
                f"writing a synthetic mouse dataset ({args.samples} samples x 6 views, 512x512) to {out / 'input'}",
                flush=True,
            )
        synth.write_dataset(
            out / "input",
            n_samples=args.samples,
            seed=args.seed,
            layout="gslrm",
            progress=None if args.quiet else progress_bar,
        )
        return _run_and_report(out / "input", out / "output", args)
    finally:
        lock.release()


def cmd_compare(args):
    from .report.compare import compare, format_table

    skipped: list[str] = []
    check_report_dir(args.out, "--out")
    runs, written = compare(
        args.runs,
        args.out,
        labels=args.labels,
        plots=args.plots,
        threshold=args.threshold,
        min_component=args.min_component,
        keep=args.keep,
        skipped=skipped,
        order=args.order,
        num_samples=args.num_samples,
        storage_options=args.storage_options,
    )
    for reason in skipped:  # left out; the others are compared (nothing left: an error, exit 2)
        _err(f"pixscale: warning: skipped {reason}")
    if not args.quiet:
        _out(format_table(runs, order=args.order, num_samples=args.num_samples))
        _out(f"\ncomparison: {written[1].parent}")
    return 0


def cmd_bench(args):
    from .bench import KERNEL_COLUMNS, format_table, run

    if not args.quiet:  # on standard error: standard output is the table
        _err("timing pixscale's kernels against the NumPy reference; the table follows")
    shown = {} if args.quiet else {"progress": progress_bar, "announce": _err}  # the compile, then a count of cases
    print(format_table(run(args.sizes, args.scales, budget=args.budget, **shown), KERNEL_COLUMNS))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pixscale", description="Give every object in an RGBA image set the same apparent size (by pixel area)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_list_presets(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="normalize a dataset into a new folder and report")
    p.add_argument(
        "in_dir", help="dataset root (GS-LRM, MVDiffusion, CO3D-style <seq>/images/ or flat) or a quoted glob of images"
    )
    p.add_argument("out_dir", help="output root (outside IN_DIR)")
    _add_run_options(p)
    p.add_argument("--layout", choices=LAYOUTS, default="auto")
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run: keep completed samples whose inputs are unchanged",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("stats", help="measure a dataset and print the report; writes nothing to it")
    p.add_argument("dir")
    p.add_argument("--threshold", type=float, default=10)
    _add_speck_options(p)
    p.add_argument("--layout", choices=LAYOUTS, default="auto")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors (--json output is still printed)")
    p.add_argument("--report-dir", default=None, help="also write report files there (a folder outside DIR)")
    p.add_argument("--no-plots", dest="plots", action="store_false")
    p.add_argument("--num-samples", type=_positive_int, metavar="N", help="measure the first N samples (default all)")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("demo", help="generate a synthetic mouse dataset, normalize it and report")
    p.add_argument("--out", default="pixscale-demo", help="folder for input/ and output/ (default ./pixscale-demo)")
    p.add_argument("--samples", type=_positive_int, default=16, help="samples of 6 views each (default 16)")
    p.add_argument("--seed", type=int, default=0)
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "compare", help="compare runs side by side: a table and a bar chart of their size uniformity and centring"
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR_OR_REPORT",
        help="a run's OUT_DIR, its report folder or report.json, or any dataset folder (measured as it is)",
    )
    p.add_argument("--labels", type=lambda t: [x.strip() for x in t.split(",")], help="names for the runs: a,b,c")
    p.add_argument(
        "--out", default="pixscale-compare", help="folder for compare.md/.json/.png (default ./pixscale-compare)"
    )
    p.add_argument("--threshold", type=float, default=10, help="mask threshold for measured folders (default 10)")
    _add_speck_options(p, " (for measured folders; a run's report keeps its own)")
    p.add_argument("--no-plots", dest="plots", action="store_false")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors (the files are still written)")
    compare_arguments(p, _positive_int)  # --order, --num-samples
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("bench", help="quick throughput check: kernels vs the NumPy reference")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--scales", type=float, nargs="+", default=[1.13])
    p.add_argument("--budget", type=float, default=1.0, help="seconds per timing (default 1)")
    p.add_argument("--quiet", action="store_true", help="print only the table: no message or progress")
    p.set_defaults(func=cmd_bench)
    for name in ("run", "stats", "compare"):  # they take object-store URLs
        _store_args(sub.choices[name], lock=name == "run")
    return parser


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pixscale")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


_SIGNALS: list[int] = []


def _on_signal(signum, frame):
    """SIGINT, SIGTERM and SIGHUP stop a run cleanly: the first one raises KeyboardInterrupt; later ones,
    which would cut the stop short and lose its resume line, are counted and ignored."""
    _SIGNALS.append(signum)
    if len(_SIGNALS) == 1:
        raise KeyboardInterrupt


def main(argv=None):
    """Run the ``pixscale`` command; return its exit code.

    0: all views written; 1: some views failed (see the report); 2: bad
    options or folders, nothing done; 130: interrupted (``--resume`` finishes).
    """
    import signal

    from .pipeline.driver import RunInterrupted
    from .pipeline.options import OptionError

    args = parse_args(build_parser(), argv)
    handlers = {}
    if threading_main():
        _SIGNALS.clear()
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:  # nohup, `cmd &`: left ignored
                handlers[sig] = signal.signal(sig, _on_signal)
    try:
        with messages(_flags, quiet=getattr(args, "quiet", False)):
            code = _main(args, OptionError, RunInterrupted)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if argv is None:
        _exit_past_hung_threads(code)
    return code


def _main(args, OptionError, RunInterrupted):
    try:
        return args.func(args)
    except OptionError as exc:
        _err(f"pixscale: error: {_flags(f'`{exc.option}=`')} {exc.value!r} is not accepted: expected {exc.accepted}")
        return 2
    except RunInterrupted as exc:
        _err(
            f"\npixscale: interrupted: {exc.done} of {exc.total} samples are complete in {exc.out_dir}; "
            "run the same command with --resume to finish."
        )
        return 130
    except KeyboardInterrupt:
        _err("\npixscale: interrupted.")
        return 130
    except OSError as exc:
        _err(f"pixscale: error: {os_error_line(exc, args)}")
        return 2
    except ValueError as exc:
        _err(f"pixscale: error: {exc}")
        return 2


def _exit_past_hung_threads(code):
    """As the command: end now if a worker thread given up on (a unit that never returns) is still alive,
    instead of waiting for it at exit forever."""
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def threading_main():
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
