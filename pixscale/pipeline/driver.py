"""The dataset job: normalize every view of a dataset, keep its cameras consistent, report.

A run checks its options and the whole input tree before it reads a view,
takes an exclusive lock on the output folder, and then hands out samples as
work units (:func:`process_sample`): each reads its views, plans their
transforms (:func:`pixscale.plan_group` or one :func:`pixscale.plan` per
view), warps and writes every view and the updated cameras, and returns its
rows.  The coordinator alone writes the manifest, the list files and the
report.  Files are written atomically; a bad view is reported, never fatal;
Ctrl-C stops within a view and leaves a manifest that ``resume=True`` finishes.

The library prints nothing: messages go to the ``"pixscale"`` logger (:data:`log`), progress to the
``progress`` factory its caller passes (the ``pixscale`` command passes a tqdm bar).
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .._object import ObjectMask
from .._validate import EmptyMaskError
from .._validate import real_number as _real
from .dataset import STOP, some_names
from .discover import discover
from .io import ViewError
from .manifest import Results, RunRecords, remove_stale_outputs, resume_plan
from .options import OptionError, RunOptions, check_jobs
from .output import (
    check_folders,
    input_identity,
    nearest_existing,
    open_output,
    refuse_overlap,
    report_dir_name,
    sweep_temporary,
    unit_folders,
    write_list_files,
    write_run_report,
)
from .records import ViewRecord, rows_of
from .schedule import RunInterrupted, _NoBar, _silent, run_units
from .schedule import precompile_for as _precompile
from .signals import signals_held
from .store import is_url
from .unit import islands, read_and_measure, reason_of
from .workers import POOLS, StopFlag, Workers, kernels_cached, parse_scheduler, size_run

log = logging.getLogger("pixscale")  # the run's messages; nothing is printed


def run_records(
    in_dir,
    out_dir,
    options=None,
    *,
    layout="auto",
    jobs=None,
    resume=False,
    quiet=False,
    report_dir=None,
    plots=True,
    pool="threads",
    executor=None,
    scheduler=None,
    unit_timeout=None,
    progress=None,
    spell=None,
    storage_options=None,
    break_lock=False,
):
    """Normalize a whole dataset from ``in_dir`` into ``out_dir``.

    Parameters
    ----------
    in_dir : path or str
        Dataset root (GS-LRM, MVDiffusion or flat layout), or a glob of images.
    out_dir : path or str
        Output root; created if needed; must not lie inside ``in_dir``.
    options : RunOptions, optional
    layout : {"auto", "gslrm", "mvdiffusion", "co3d", "flat"}
    jobs : int, optional
        Local workers; default as many as the run is worth, up to all cores
        (one, in this process, for a run too small to earn back a worker
        process's start: see :func:`~pixscale.pipeline.workers.size_jobs`).
        With ``executor``, sizes the window of units in flight (two per job).
    resume : bool
        Continue an interrupted run in ``out_dir``: completed samples whose
        inputs are unchanged are kept, the rest are (re)done.
    quiet : bool
        No progress and no messages.  Otherwise messages (the dataset found,
        resuming, compiling, warnings) go to the ``"pixscale"`` logger
        (:data:`log`): INFO for news, WARNING for a problem that does not stop
        the run.  Nothing is printed by the run itself.
    report_dir : path or str or False, optional
        Where to write the report (default ``out_dir/pixscale-report``);
        False writes none.
    plots : bool
        Draw the report's figures (needs matplotlib).
    pool : {"threads", "processes"}
        What the local ``jobs`` are (one job always runs on one thread).
        Threads by default here (the ``pixscale`` command uses processes):
        worker processes re-import the calling script, which must then
        guard its work with ``if __name__ == "__main__":``.
    executor : concurrent.futures.Executor or distributed.Client, optional
        Run the work units there (see :mod:`pixscale.workers`).
    scheduler : str, optional
        A Dask scheduler address (``tcp://HOST:8786``) or ``"local:N"``.
    unit_timeout : float, optional
        Seconds a work unit (one sample) may run; one that takes longer fails,
        by name, and is left for ``resume``.  Default: no limit.
    progress : callable, optional
        A progress bar factory, called once (unless ``quiet``) as
        ``progress(total=n_views, unit="view")``; what it returns gets
        ``update(n)`` as samples complete and ``close()`` at the end, so
        ``tqdm.tqdm`` fits; then as ``progress(total=n_figures, unit="figure")``
        while the report's figures are drawn.  Default: no progress shown.
    spell : callable, optional
        How report.md spells the options its advice and failures name
        (see :func:`pixscale.report.summary.write_report`); the ``pixscale``
        command passes its flags.  Default: as Python keywords.
    storage_options : dict, optional
        For an ``in_dir`` or ``out_dir`` that is a URL (``s3://bucket/in``,
        ``gs://...``, ``memory://...``, any fsspec URL): the options of its
        fsspec filesystem (credentials, ``client_kwargs={"endpoint_url": ...}``),
        besides what the environment and config files give.  A run on an object
        store keeps the promises of :mod:`pixscale.pipeline.storerun`.
    break_lock : bool
        On an object store: remove the lock a dead run left on ``out_dir``
        (the store cannot release it by itself).  Only when that run is gone.

    Returns
    -------
    (records, dataset)
        One :class:`~pixscale.pipeline.records.ViewRecord` per view, in
        dataset order (:func:`run` gives their JSON rows): a
        :class:`~pixscale.pipeline.manifest.RunRecords`, read back from the
        manifest as it is iterated, so a run of any size holds none of them.

    Raises
    ------
    OptionError, ValueError
        Before anything is read or written, for a bad option, input or output folder.
    RunInterrupted
        On Ctrl-C, after every completed sample is recorded.
    """
    opts = options or RunOptions()
    say = _silent if quiet else log.info
    sized = jobs is None and executor is None and scheduler is None  # local workers, as many as the run is worth
    jobs = check_jobs(jobs)
    if unit_timeout is not None and not (_real(unit_timeout) and unit_timeout > 0):
        raise OptionError("unit_timeout", unit_timeout, "a number of seconds > 0 (default: no limit)")
    if pool not in POOLS:
        raise OptionError("pool", pool, f"one of {', '.join(POOLS)}")
    if scheduler is not None:
        try:
            parse_scheduler(scheduler)
        except ValueError as exc:
            raise OptionError("scheduler", scheduler, str(exc).split("; got")[0]) from None
    if is_url(in_dir) or is_url(out_dir):  # an object store: the same units, a store's output and lock
        from .storerun import run_on_store

        kw = dict(layout=layout, jobs=jobs, sized=sized, resume=resume, quiet=quiet, report_dir=report_dir)
        kw.update(plots=plots, pool=pool, executor=executor, scheduler=scheduler, unit_timeout=unit_timeout)
        kw.update(progress=progress, spell=spell, storage_options=storage_options, break_lock=break_lock)
        return run_on_store(in_dir, out_dir, opts, **kw)
    out_dir = Path(out_dir)
    dataset = discover(in_dir, layout=layout, out_root=out_dir, mask=opts.mask, write_mask=opts.write_mask)
    check_folders(in_dir, out_dir, dataset, report_dir)
    say(f"{dataset.describe()} in {in_dir}")
    for note in dataset.notes:
        say(f"  note: {note}")
    input_id = input_identity(in_dir, dataset)
    # Where the units run is settled before anything is written: a Dask scheduler that cannot be
    # reached, or a worker that cannot see the folders, stops the run here.
    jobs, kernels = size_run(dataset, opts.image, jobs, sized)  # kernels: loaded once for worker processes
    workers = Workers(min(jobs, len(dataset.samples)), pool, executor=executor, scheduler=scheduler, kernels=kernels)
    try:
        workers.check_paths(dataset.root, nearest_existing(out_dir))
        lock, manifest, done = open_output(out_dir, opts.params(), input_id, resume)
        stop = StopFlag(out_dir / STOP)
        try:
            stop.clear()
            kept, changed = resume_plan(dataset, done, dataset.root, out_dir)
            done = None  # what the manifest's lines said: let go, the kept ones are found by their place
            results = Results(manifest, kept)
            if results:
                say(f"resuming: {len(results)} of {len(dataset.samples)} samples already complete")
            if changed:
                say(
                    f"redoing {len(changed)} sample(s) whose inputs or outputs changed since they were written: "
                    + some_names(changed),
                )
            # Numba's compiler cut by Ctrl-C swallows the interrupt or breaks (a half-built library, a
            # RuntimeError): a stop request waits for the compile, then stops the run before any unit starts.
            try:
                with signals_held() as held:
                    if not (workers.loads_kernels and kernels_cached(kernels)):  # else the fork server loads them
                        _precompile(dataset, say, opts.image)
            except KeyboardInterrupt:  # a held stop request, replayed through its handler
                raise RunInterrupted(len(results), len(dataset.samples), out_dir) from None
            if held:
                raise RunInterrupted(len(results), len(dataset.samples), out_dir)
            todo = [s for s in dataset.samples if s.name not in results]
            if todo:
                say(f"running on {workers.kind}")
            bar = _NoBar() if quiet or progress is None else progress(total=dataset.n_views, unit="view")
            try:
                bar.update(sum(len(s.views) for s in dataset.samples if s.name in results))
                if todo:
                    run_units(todo, out_dir, opts, dataset.root, workers, manifest, results, bar, stop, unit_timeout)
                    # What dead workers were writing: a Dask worker killed mid-write is replaced
                    # without the run hearing of it, so the folders of every unit are swept.
                    sweep_temporary(out_dir, unit_folders(todo))
            finally:
                bar.close()
            try:
                removed = remove_stale_outputs(out_dir, manifest)
            except OSError as exc:  # the work is done: the report is still written, the exit code is the views'
                removed = []
                if not quiet:
                    log.warning(f"outputs that redone samples no longer produce were not removed: {exc}")
            if removed:
                say(
                    f"removed {len(removed)} output(s) that redone samples no longer produce: " + some_names(removed),
                )
            workers.close()
            records = RunRecords(dataset.samples, results)
            try:
                with signals_held() as held:  # the work is done: a stop request waits for the report
                    records += write_list_files(dataset, out_dir)
                    if report_dir is not False:
                        say("writing the report" + (" and drawing its figures" if plots else ""))
                        report = (dataset, records, out_dir, report_dir, opts, in_dir, plots, spell)
                        records += write_run_report(*report, None if quiet else progress)  # a count of figures
            except KeyboardInterrupt:  # a held stop request, replayed through its handler
                raise RunInterrupted(len(results), len(dataset.samples), out_dir) from None
            if held:
                raise RunInterrupted(len(results), len(dataset.samples), out_dir)
        finally:
            # A stop request during the cleanup waits for it, then is counted by its handler (after a
            # first one, the command's ignores it: the RunInterrupted and its resume line stand).
            with signals_held():
                workers.close(cancel=True)  # before the stop flag and the lock go: no unit may outlive them
                stop.retire()  # a unit given up on (a hung thread) that wakes up stops before it writes
                lock.release()
    finally:
        workers.close(cancel=True)
    return records, dataset


def run(in_dir, out_dir, options=None, **kwargs):
    """``(rows, dataset)``: :func:`run_records` with each record as its JSON row (``report.json``'s views)."""
    records, dataset = run_records(in_dir, out_dir, options, **kwargs)
    return rows_of(records), dataset


def run_dataset(
    in_dir,
    out_dir,
    *,
    executor=None,
    scheduler=None,
    jobs=None,
    pool="threads",
    layout="auto",
    resume=False,
    quiet=True,
    report_dir=None,
    plots=True,
    unit_timeout=None,
    progress=None,
    storage_options=None,
    break_lock=False,
    **options,
):
    """Normalize a dataset and return the summary the ``pixscale run`` command prints.

    The Python entry point of a run: ``options`` are those of
    :class:`RunOptions` (``target=0.3``, ``fit="shift"``, ``scale="per-view"``
    ...); the work units run on ``executor`` (any
    ``concurrent.futures.Executor``, or a ``distributed.Client``), on a Dask
    ``scheduler``, or on ``jobs`` local threads (``pool="processes"`` for
    worker processes, which scale further on many cores; a script that uses
    them needs the ``if __name__ == "__main__":`` guard).  The coordinator
    (this call) alone writes the manifest, the list files and the report; the
    output tree is byte-identical whatever runs the units.

    By default it prints nothing and shows no progress (``quiet=True``).
    With ``quiet=False`` its messages (the dataset found, resuming, compiling
    the kernels, warnings) go to the ``"pixscale"`` logger, so
    ``logging.basicConfig(level=logging.INFO)`` shows them; warnings reach
    standard error even without that (Python's logging shows warnings when
    nothing is configured).  ``progress=tqdm.tqdm`` (with ``quiet=False``)
    draws a progress bar over the views; any factory called as
    ``progress(total=, unit=)`` whose result has ``update(n)`` and
    ``close()`` will do.  Messages name options as Python keywords
    (```resume=True```), never as command-line flags.

    ``in_dir`` and ``out_dir`` may be fsspec URLs (``s3://bucket/in``):
    ``storage_options`` and ``break_lock`` are :func:`run_records`'.

    Returns
    -------
    dict
        :func:`pixscale.report.summary.summarize` of the run's records.

    Examples
    --------
    >>> import pixscale, concurrent.futures  # doctest: +SKIP
    >>> with concurrent.futures.ThreadPoolExecutor(4) as ex:  # doctest: +SKIP
    ...     summary = pixscale.run_dataset("renders/", "normalized/", executor=ex, target=0.3)
    """
    from ..report.summary import summarize

    opts = RunOptions(**options)
    records, _ = run_records(
        in_dir,
        out_dir,
        opts,
        layout=layout,
        jobs=jobs,
        resume=resume,
        quiet=quiet,
        report_dir=report_dir,
        plots=plots,
        pool=pool,
        executor=executor,
        scheduler=scheduler,
        unit_timeout=unit_timeout,
        progress=progress,
        storage_options=storage_options,
        break_lock=break_lock,
    )
    return summarize(records, target=opts.image.target, options=opts.params())


def measure_dataset(
    in_dir,
    *,
    threshold=10.0,
    min_component=None,
    keep="all",
    layout="auto",
    jobs=None,
    quiet=True,
    report_dir=None,
    num_samples=None,
    storage_options=None,
):
    """Measure every view of a dataset without writing anything; return (records, dataset).

    With ``num_samples``, only the first that many samples (sorted by name) are measured.
    ``in_dir`` may be an fsspec URL, with its ``storage_options``.

    One :class:`~pixscale.pipeline.records.ViewRecord` per view, measured or failed.

    ``report_dir``, where the caller will write the report, is refused
    (ValueError) before anything is measured if it is or lies in the input.
    """
    rule = ObjectMask(threshold, min_component, keep)
    jobs = check_jobs(jobs)
    if is_url(in_dir):  # an object store: its objects are read where they are
        from .listing import discover_store
        from .store import Store

        dataset = discover_store(Store.open(in_dir, storage_options, name="DIR", must_exist=True), layout=layout)
    else:
        dataset = discover(in_dir, layout=layout)
    if report_dir and not is_url(in_dir):
        refuse_overlap(report_dir_name(report_dir), report_dir, in_dir, Path(dataset.root).resolve(), holds=False)
    if not quiet:
        log.info(f"{dataset.describe()} in {in_dir}")

    def one(sample):
        if sample.error:
            return [ViewRecord.failed(sample.name, sample.rel_dir or sample.name, sample.error)]
        rows = []
        for view in sample.views:
            try:
                _, m, selection = read_and_measure(view, rule)
                rows.append(ViewRecord.measured(sample.name, view.key, m, islands(selection.alpha, m, rule)))
            except (ViewError, EmptyMaskError) as exc:
                rows.append(ViewRecord.failed(sample.name, view.key, reason_of(exc)))
        return rows

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        chosen = dataset.samples if num_samples is None else dataset.samples[:num_samples]
        records = [r for sample_records in pool.map(one, chosen) for r in sample_records]
    return records, dataset
