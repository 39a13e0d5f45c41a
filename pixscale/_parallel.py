"""Running a call per index on a few threads, the calling one included (``normalize_batch``'s workers)."""

import itertools
import threading


def run_parallel(fn, n, threads):
    """Call ``fn(i)`` for ``i`` in ``range(n)`` on up to ``threads`` threads, the calling one included.

    Indices are handed out in order from a shared counter.  If calls fail,
    no new index is started and the exception of the lowest failing index is
    re-raised: every lower index was handed out before it and has finished.
    A ``KeyboardInterrupt`` or ``SystemExit`` in any call is re-raised before
    ordinary errors.
    (A pool of futures was measured slower here: its result hand-offs wake
    the waiting caller, which then competes for the GIL.)
    """
    threads = min(threads, n)
    if threads <= 1:
        for i in range(n):
            fn(i)
        return
    counter = itertools.count()
    errors: list[tuple[int, BaseException]] = []  # (index, exception) of failed calls
    stop: list[bool] = []  # non-empty once the calling thread is interrupted

    def worker():
        for i in counter:
            if i >= n or errors or stop:
                return
            try:
                fn(i)
            except BaseException as exc:  # re-raised in the calling thread below
                errors.append((i, exc))
                return

    helpers = [threading.Thread(target=worker, daemon=True) for _ in range(threads - 1)]
    for t in helpers:
        t.start()
    try:
        worker()
    except BaseException:  # e.g. KeyboardInterrupt between two calls: let the helpers stop too
        stop.append(True)
        raise
    finally:
        for t in helpers:
            t.join()
    if errors:
        # An interrupt or exit request outranks ordinary errors; otherwise the lowest index wins.
        raise min(errors, key=lambda e: (isinstance(e[1], Exception), e[0]))[1]
