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
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .._object import ObjectMask
from .._validate import EmptyMaskError
from .._validate import real_number as _real
from .dataset import STOP, some_names
from .discover import discover
from .io import ViewError
from .manifest import ManifestLog, Results, RunRecords, remove_stale_outputs, resume_plan
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
from .signals import signals_held
from .unit import bad_result, describe, islands, read_and_measure, reason_of, safe_process
from .workers import MAX_ATTEMPTS, POOLS, StopFlag, Workers, kernels_cached, parse_scheduler, size_run

STOP_WAIT_S = 10  # on Ctrl-C, how long running units get to reach their next view (then they are abandoned)
TICK_S = 0.5  # how often the coordinator looks up from waiting (unit timeouts, a lost scheduler)
log = logging.getLogger("pixscale")  # the run's messages; nothing is printed


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped (Ctrl-C or SIGTERM) after recording every completed sample."""

    def __init__(self, done, total, out_dir):
        super().__init__(f"interrupted: {done} of {total} samples are complete in {out_dir}")
        self.done, self.total, self.out_dir = done, total, out_dir


def _silent(message):
    """Say nothing (a quiet run)."""


class _NoBar:
    """The progress of a run that shows none."""

    def update(self, n=1):
        pass

    def close(self):
        pass


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
    out_dir = Path(out_dir)
    dataset = discover(in_dir, layout=layout, out_root=out_dir, mask=opts.mask, write_mask=opts.write_mask)
    check_folders(in_dir, out_dir, dataset, report_dir)
    say(f"{dataset.describe()} in {in_dir}")
    for note in dataset.notes:
        say(f"  note: {note}")
    input_id = input_identity(in_dir, dataset)
    # Where the units run is settled before anything is written: a Dask scheduler that cannot be
    # reached, or a worker that cannot see the folders, stops the run here.
    jobs, kernels = size_run(dataset, opts.image.filter, jobs, sized)  # kernels: loaded once for worker processes
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
                        _precompile(dataset, say, opts.image.filter)
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
                    _run_units(todo, out_dir, opts, dataset.root, workers, manifest, results, bar, stop, unit_timeout)
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
    )
    return summarize(records, target=opts.image.target, options=opts.params())


def _precompile(dataset, say, filter="bilinear"):
    """Compile the kernels a run needs before its progress bar, saying so when it takes a while.

    The dtype is read from the first view's PNG header (datasets are
    rendered alike); other dtypes compile when they are met.
    """
    from .._precompile import precompile
    from .io import view_dtype

    first = next((v.path for s in dataset.samples for v in s.views if v.path is not None), None)
    dtype = view_dtype(first) if first is not None else None
    if dtype is not None:
        precompile([dtype], announce=None if say is _silent else say, filter=filter)


def _run_units(todo, out_dir, opts, root, workers, manifest, results, bar, stop, unit_timeout=None):
    """Run the work units on ``workers``, a bounded window at a time; record each as it completes.

    A unit whose worker dies (a killed process, a lost Dask worker) is run
    again, up to :data:`~pixscale.workers.MAX_ATTEMPTS` times, then reported
    as failed (and left for ``resume=True``).  When a local process pool breaks,
    every unit in it fails at once: those are run again one at a time, and
    only a unit whose worker dies while it runs alone is charged the attempt,
    so one poisonous sample cannot take healthy ones down with it.  An
    executor that refuses new work fails the units left, with the reason.
    Ctrl-C sets ``stop``: units not started are cancelled where the executor
    can tell (Dask's cannot, so its units are waited for), running ones stop
    before their next view, and every completed one is recorded; units that
    have not stopped after :data:`STOP_WAIT_S` are abandoned.  A unit running
    longer than ``unit_timeout`` seconds fails, by name, and is abandoned
    (local worker processes running it are ended).  A lost Dask scheduler
    fails the units in flight and those left, with the reason.  Returns the
    number of units whose worker died.
    """
    total = len(results) + len(todo)
    queue = deque(todo)
    attempts: Counter[str] = Counter()
    suspects: set[str] = set()  # units of a broken pool, to be rerun alone
    pending: dict[Future, Any] = {}  # future -> its sample
    started: dict[Future, float | None] = {}  # future -> when seen running (Dask's never say: when submitted)
    deaths = 0
    with ManifestLog(manifest) as log:

        def fail(sample, reason):
            keys = [v.key for v in sample.views] or [sample.rel_dir or sample.name]
            return {"rows": [ViewRecord.failed(sample.name, k, reason, retry=True) for k in keys]}

        def refill():
            # Ctrl-C waits for the units being handed over: one cut in half (a worker process started but not
            # yet the pool's) would outlive the run, and fail at its start with a traceback.
            with signals_held() as held:
                hand_over()
            if held:
                raise KeyboardInterrupt

        def hand_over():
            while queue and not stop.is_set():
                # With a unit timeout, one unit per worker: a unit queued behind another (on Dask, whose
                # futures do not say when they start, its clock runs from the hand-over) cannot time out.
                window = 1 if suspects else workers.jobs if unit_timeout is not None else workers.window
                if len(pending) >= window:
                    return
                sample = queue.popleft()
                attempts[sample.name] += 1
                try:
                    fut = workers.submit(safe_process, sample, out_dir, opts, root, stop)
                except Exception as exc:  # the executor itself is broken or shut down
                    reason = f"the executor refused it ({type(exc).__name__}: {exc}); `resume=True` tries it again"
                    for s in (sample, *queue):
                        save(s, fail(s, reason))
                    queue.clear()
                    return
                if not isinstance(fut, Future):  # wait() could not watch it: the unit fails, by name
                    save(
                        sample,
                        fail(
                            sample,
                            f"the executor returned {describe(fut)} instead of a future for it; "
                            "`resume=True` tries it again",
                        ),
                    )
                    continue
                pending[fut] = sample
                started[fut] = None if workers.cancels else time.monotonic()

        def save(sample, result):
            if any(r.retry for r in result["rows"]):  # left for resume: no manifest line, held in memory
                results.hold(sample.name, result["rows"])
            else:  # the rows stay in the manifest; the run keeps where
                results.add(sample.name, log.append(result), len(result["rows"]))
            bar.update(len(sample.views))

        def record(fut, alone):
            """Record a finished unit; True when its worker died (the unit is queued again).

            A unit leaves ``pending`` only once it is saved (or given back): a Ctrl-C in between
            leaves it there, and the stop's wait records it, so no written sample goes unrecorded.
            """
            sample = pending[fut]
            try:
                result = fut.result()
            except Exception as exc:  # the worker, not the unit, failed: killed, out of memory, lost
                pending.pop(fut)
                started.pop(fut, None)
                if stop.is_set():
                    return False
                if isinstance(exc, BrokenExecutor) and not alone:
                    attempts[sample.name] -= 1  # one of several in a broken pool: not charged
                    suspects.add(sample.name)
                    queue.appendleft(sample)
                    return True
                if attempts[sample.name] < MAX_ATTEMPTS:
                    queue.appendleft(sample)
                    return True
                suspects.discard(sample.name)
                result = fail(
                    sample,
                    f"its worker died {attempts[sample.name]} time(s) while processing it "
                    f"({type(exc).__name__}: {exc or 'cancelled'}); `resume=True` tries it again",
                )
            else:
                if result is None and stop.is_set():  # stopped by this run's own request before its end
                    pending.pop(fut)
                    started.pop(fut, None)
                    suspects.discard(sample.name)
                    return False
                problem = bad_result(sample, result)
                if problem:
                    result = fail(sample, f"{problem}; `resume=True` tries it again")
            suspects.discard(sample.name)
            save(sample, result)
            pending.pop(fut, None)
            started.pop(fut, None)
            return False

        def give_up(futures, reason):
            """Fail the units of ``futures`` with ``reason`` and stop waiting for them."""
            for fut in futures:
                sample = pending.pop(fut)
                started.pop(fut, None)
                fut.cancel()
                save(sample, fail(sample, f"{reason}; `resume=True` tries it again"))

        def overdue():
            now = time.monotonic()
            for fut in pending:
                if started[fut] is None and (fut.running() or fut.done()):
                    started[fut] = now
            return [f for f in pending if (t := started[f]) is not None and now - t > unit_timeout]

        try:
            refill()
            while pending:
                alone = len(pending) == 1
                finished, _ = wait(list(pending), timeout=TICK_S, return_when=FIRST_COMPLETED)
                died = [record(fut, alone) for fut in finished]
                if any(died):
                    deaths += sum(died)
                    workers.restart()
                lost = workers.lost()
                if lost:
                    give_up(list(pending), lost)
                    for s in queue:
                        save(s, fail(s, f"{lost}; `resume=True` tries it again"))
                    queue.clear()
                    break
                late = overdue() if unit_timeout is not None else []
                if late:
                    give_up(late, f"it did not finish within the unit timeout ({unit_timeout:g} s)")
                    for fut in [f for f in pending if not f.running() and f.cancel()]:
                        sample = pending.pop(fut)  # not started: handed to the new pool, not charged
                        started.pop(fut, None)
                        attempts[sample.name] -= 1
                        queue.appendleft(sample)
                    healthy = [f for f in pending if not f.done()]
                    if workers.abandon():  # healthy units ended with the late ones' processes: run again,
                        for fut in healthy:  # not charged, not suspects (the pool did not break by itself)
                            if fut.done() and not fut.cancelled() and fut.exception() is None:
                                continue  # it finished meanwhile: recorded as it is
                            sample = pending.pop(fut)
                            started.pop(fut, None)
                            attempts[sample.name] -= 1
                            queue.appendleft(sample)
                refill()
        except KeyboardInterrupt:
            try:
                stop.set()
            except OSError:  # the flag's file cannot be written (a link planted there): threads still see it
                pass
            if workers.cancels:
                for fut in list(pending):
                    if fut.cancel():
                        pending.pop(fut)
            deadline = time.monotonic() + STOP_WAIT_S
            try:  # running units stop before their next view
                while pending and time.monotonic() < deadline and not workers.lost():
                    done, _ = wait(list(pending), timeout=TICK_S, return_when=FIRST_COMPLETED)
                    for fut in done:
                        try:
                            record(fut, False)
                        except Exception:  # pragma: no cover - a lost worker while stopping
                            pending.pop(fut, None)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                pass
            if pending:
                workers.abandon()  # units that did not stop (a hung read, a unit that never completes)
            raise RunInterrupted(len(results), total, out_dir) from None
    return deaths


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
):
    """Measure every view of a dataset without writing anything; return (records, dataset).

    With ``num_samples``, only the first that many samples (sorted by name) are measured.

    One :class:`~pixscale.pipeline.records.ViewRecord` per view, measured or failed.

    ``report_dir``, where the caller will write the report, is refused
    (ValueError) before anything is measured if it is or lies in the input.
    """
    rule = ObjectMask(threshold, min_component, keep)
    jobs = check_jobs(jobs)
    dataset = discover(in_dir, layout=layout)
    if report_dir:
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
