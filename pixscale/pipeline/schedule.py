"""Running a run's work units: handed to the workers a bounded window at a time, each recorded as it completes.

The coordinator's loop of :func:`~pixscale.pipeline.driver.run_records` (a
folder) and of :func:`~pixscale.pipeline.remote.run_on_store` (an object
store): retries of units whose worker died, unit timeouts, a lost scheduler,
and Ctrl-C (:class:`RunInterrupted`, once every completed unit is recorded).
"""

import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from typing import Any

from .manifest import ManifestLog
from .records import ViewRecord
from .signals import signals_held
from .unit import bad_result, describe, safe_process
from .workers import MAX_ATTEMPTS

STOP_WAIT_S = 10  # on Ctrl-C, how long running units get to reach their next view (then they are abandoned)
TICK_S = 0.5  # how often the coordinator looks up from waiting (unit timeouts, a lost scheduler)


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


def precompile_for(dataset, say, options):
    """Compile the kernels a run with the image :class:`~pixscale.Options` ``options`` needs, before its progress
    bar, saying so when it takes a while.

    The kernels are those of :func:`~pixscale.pipeline.workers.kernels_for`,
    from the first view's PNG header (datasets are rendered alike); other
    kinds of image compile when they are met.
    """
    from .._precompile import precompile
    from .workers import kernels_for, parse_kernels

    first = next((v.path for s in dataset.samples for v in s.views if v.path is not None), None)
    spec = kernels_for(first, options)
    if spec is not None:
        dtype, channels, filter = parse_kernels(spec)
        precompile([dtype], announce=None if say is _silent else say, filter=filter, channels=channels)


def run_units(todo, out_dir, opts, root, workers, manifest, results, bar, stop, unit_timeout=None, commit=None):
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
    fails the units in flight and those left, with the reason.  ``commit``
    is :class:`~pixscale.pipeline.manifest.ManifestLog`'s (a run on an object
    store commits its manifest in chunks).  Returns the number of units whose
    worker died.
    """
    total = len(results) + len(todo)
    queue = deque(todo)
    attempts: Counter[str] = Counter()
    suspects: set[str] = set()  # units of a broken pool, to be rerun alone
    pending: dict[Future, Any] = {}  # future -> its sample
    started: dict[Future, float | None] = {}  # future -> when seen running (Dask's never say: when submitted)
    deaths = 0
    with ManifestLog(manifest, commit) as log:

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
