"""Where a run's work units execute: threads, local processes, or a Dask cluster.

The pipeline hands its work units (one sample each, see
:func:`pixscale.pipeline.unit.process_sample`) to a :class:`Workers`, which wraps a
``concurrent.futures.Executor``: a thread pool, a process pool, a Dask
``Client``'s executor, or any executor the caller passes in.  Work units are
picklable, read their inputs and write their outputs themselves, and return
their rows; the coordinator alone writes the manifest, list files and report.

A stop request (Ctrl-C) reaches every worker the same way, wherever it runs:
a file in OUT_DIR (:class:`StopFlag`) that each unit checks before each view.
The file holds a token unique to the run, so only that run's own request
stops it: a stray or stale file of that name does not.
"""

import contextlib
import os
import secrets
import signal
import sys
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait

POOLS = ("processes", "threads")
MAX_ATTEMPTS = 3  # a unit whose worker dies this many times is reported as failed
# Sizing a run whose ``jobs`` were not given (see :func:`size_jobs`), from what was measured on the 2-vCPU machine
# of docs/benchmarks.md ("Small runs and many cores"): one view's work on one core per megapixel (read, measure,
# plan exactly, warp, write at PNG level 6: 17 ms a 512 x 512 view); the least work worth local worker processes
# (the fork server's start, about 0.5 s of CPU, has to be earned back even on a busy machine); and the least share
# of it worth a worker process of its own.
VIEW_S_PER_MPIX = 0.065
SMALL_RUN_S = 2.0
MIN_SHARE_S = 0.5
WARM_ENV = "PIXSCALE_WARM_KERNELS"  # kernels_for's spec: the kernels the fork server loads (see pipeline/warm.py)


def size_jobs(cores, n_views, pixels):
    """How many workers a run of ``n_views`` views of ``pixels`` pixels each should have, on ``cores`` cores.

    Worker processes cost a start-up that a small run does not earn back:
    a run of less than :data:`SMALL_RUN_S` seconds of work (estimated from
    its views and their size; about 120 views of 512 x 512) gets one
    worker, a thread of the calling process, whose kernels are loaded
    already: exactly what ``jobs=1`` does.  A larger run gets one worker per
    :data:`MIN_SHARE_S` seconds of work, up to ``cores``.  ``pixels`` None
    (the size could not be read) counts as 512 x 512.
    """
    work = n_views * (512 * 512 if pixels is None else pixels) * 1e-6 * VIEW_S_PER_MPIX
    if work < SMALL_RUN_S:
        return 1
    return max(1, min(cores, int(work // MIN_SHARE_S)))


def png_pixels(path):
    """Width x height of a PNG file, from its header (24 bytes); None if it cannot tell (never raises)."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except (OSError, TypeError):
        return None
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big") * int.from_bytes(head[20:24], "big") or None


def size_run(dataset, options, jobs, sized):
    """``(jobs, kernels)`` of a run of ``dataset`` with the image :class:`~pixscale.Options` ``options``: ``jobs``,
    or :func:`size_jobs` of them if ``sized`` (they were not given); ``kernels`` as :class:`Workers` takes them
    (:func:`kernels_for` the first view)."""
    first = next((v.path for s in dataset.samples for v in s.views if v.path is not None), None)
    return size_jobs(jobs, dataset.n_views, png_pixels(first)) if sized else jobs, kernels_for(first, options)


def kernels_for(path, options):
    """``"DTYPE CHANNELS FILTER"`` (``"uint8 4 bilinear"``) of the kernels a run with the image
    :class:`~pixscale.Options` ``options`` whose first view is ``path`` needs (see ``kernels=`` of
    :class:`Workers`); None if the view's dtype cannot be told.

    The dtype and the channel count are read from the PNG header; CHANNELS is
    ``4,2`` where the header cannot tell (no alpha: a masked view), and takes 2
    besides where the component filter's specks are kept (each view's object
    is then warped alone, one channel, by the gray+alpha images' loop).
    """
    from .io import view_kind

    kind = view_kind(path) if path is not None else None
    if kind is None:
        return None
    dtype, channels = kind
    counts = {4, 2} if channels is None else {channels}
    if options.object_mask.filters and not options.erase_specks:
        counts.add(2)
    return f"{dtype.name} {','.join(map(str, sorted(counts, reverse=True)))} {options.filter}"


def parse_kernels(spec):
    """``(dtype, channels, filter)`` of a :func:`kernels_for` spec, as :func:`pixscale.precompile` takes them."""
    dtype, channels, filter = spec.split()
    return dtype, tuple(int(c) for c in channels.split(",")), filter


def kernels_cached(spec):
    """Whether the kernel cache holds the kernels of ``spec`` (:func:`kernels_for`'s), as
    :func:`pixscale._precompile.precompile` marks them once it has run them; False when it cannot tell."""
    if spec is None:
        return False
    try:
        from .._precompile import warm_label
        from ..kernels import cache

        dtype, channels, filter = parse_kernels(spec)
        return all(cache.is_warm(warm_label(dtype, c, filter)) for c in channels)
    except Exception:  # the cache cannot tell (its marks changed, say): the coordinator loads them, as before
        return False


class StopFlag:
    """A stop request every worker sees: a file (in OUT_DIR, on the shared filesystem) holding this run's token.

    The token is drawn when the flag is made and travels with it to the
    workers (the flag pickles), so a file of the same name that this run did
    not write (left by another run, copied in, made by hand) is not a stop
    request.
    """

    def __init__(self, path, token=None):
        self.path = os.fspath(path)
        self.token = token or secrets.token_hex(16)
        self._set = False  # this object's own state: threads share the object, processes read the file
        self._pid: int | None = os.getpid()  # the process whose threads share it; a copy (pickled) reads the file

    def __getstate__(self):
        return {"path": self.path, "token": self.token, "_set": self._set}

    def __setstate__(self, state):
        self.path, self.token = state["path"], state["token"]
        self._set = state.get("_set", False)
        self._pid = None

    def is_set(self):
        """Whether the stop was requested: by this object (a thread's unit), or in the file (a process's).

        Only a copy (unpickled in a worker, or forked) reads the file: the
        object itself is the one :meth:`set` sets, so in the process that made
        it (every thread of a threads run) it answers from memory, with no
        system call per check.  The file is opened without following a link
        and without blocking (a FIFO or a link planted there is not this run's
        request: not set).
        """
        if self._set:
            return True
        if self._pid == os.getpid():  # the original: only its own set() requests a stop
            return False
        if not os.path.exists(self.path):  # the common case, without opening anything
            return False
        from .files import open_own_file

        try:
            fd = open_own_file(self.path, os.O_RDONLY)
        except OSError:  # gone, a link, a FIFO, a folder: not this run's request
            return False
        with open(fd, encoding="utf-8", errors="replace") as f:
            try:
                return f.read(200).strip() == self.token
            except OSError:  # pragma: no cover - a read error: not a request we can see
                return False

    def set(self):
        """Request the stop; raises OSError (:class:`~pixscale.io.LinkError` for a link or anything but a
        regular file in the flag's place) when the file cannot be written: this object is stopped even so."""
        from .files import open_own_file

        self._set = True
        fd = open_own_file(self.path, os.O_WRONLY | os.O_CREAT)  # truncated once known to be ours
        with open(fd, "w", encoding="utf-8") as f:
            f.truncate(0)
            f.write(self.token + "\n")

    def retire(self):
        """The run is over: remove the file, but stay set, so a unit given up on (a thread that hung) that
        wakes up later stops before it writes anything more."""
        self._set = True
        self._unlink()

    def clear(self):
        self._set = False
        self._unlink()

    def _unlink(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError:  # pragma: no cover - a folder of that name, say: it is not our request either
            pass


def _worker_init(coordinator):
    """Set up a local worker process: leave Ctrl-C to the coordinator, and end with it.

    The coordinator stops its workers through the :class:`StopFlag`; if it is
    killed outright, the workers end too, so that nothing holds its output
    pipes (a caller reading them sees EOF): on Linux the kernel kills a worker
    when its parent (the pool's fork server, which ends with the coordinator)
    dies; everywhere, a watch thread exits within a second once the
    coordinator is gone or a zombie (dead, its parent not yet told), or the
    worker's parent changed.
    """
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    _die_with_parent()

    def watch():
        while True:
            if os.getppid() != parent or not _alive(coordinator):
                os._exit(1)
            time.sleep(0.5)

    if os.getppid() != parent:  # pragma: no cover - the parent died before the kernel was told
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="pixscale-coordinator-watch").start()


def _die_with_parent():
    """Linux: have the kernel send SIGKILL to this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the watch thread remains
        pass


def _alive(pid):
    """Whether process ``pid`` runs: it exists and is not a zombie (a zombie keeps its pid until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - the pid now belongs to another user
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):  # no /proc: trust kill()
        return True


@contextlib.contextmanager
def _children_deaf_to_ctrl_c():
    """Start processes, and threads that start processes later, that never see Ctrl-C; act on Ctrl-C after.

    A terminal's Ctrl-C (and its hangup, SIGHUP) reaches every process of its
    group, but only the coordinator acts on it: it stops the workers through
    the :class:`StopFlag`, and a worker cut by KeyboardInterrupt (while it
    starts, say) prints a traceback.  SIGINT and SIGHUP are blocked in this
    thread while the block runs, and what the block starts inherits the mask
    (across fork and exec): multiprocessing's resource tracker and fork server
    and so every worker forked from it, a Dask LocalCluster's threads and so
    its worker processes.  SIGTERM is left to them: pools end their workers
    with it.  A stop request that arrives meanwhile is acted on at the end of
    the block, so that no process is left half started, to outlive the run.
    """
    from .signals import signals_held

    with signals_held():
        if hasattr(signal, "pthread_sigmask"):
            from multiprocessing import resource_tracker

            deaf = {signal.SIGINT, signal.SIGHUP}
            old = signal.pthread_sigmask(signal.SIG_BLOCK, deaf)
            try:
                resource_tracker.ensure_running()  # it unblocks SIGINT (and SIGTERM) as it starts: again
                signal.pthread_sigmask(signal.SIG_BLOCK, deaf)
                yield
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        else:  # pragma: no cover - not POSIX
            yield
    # what arrived meanwhile is acted on as the block ends, by the handlers it was held from (signals_held)


@contextlib.contextmanager
def _environ(name, value):
    """Environment variable ``name`` set to ``value`` (unless None) while the block runs (a process it starts
    inherits it), then as it was."""
    old = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextlib.contextmanager
def _dask_quiet():
    """Dask's loggers say nothing (but a critical error) while the block runs: closing a LocalCluster after
    Ctrl-C logs workers that went away, comms closed and tasks cancelled, which are no news to the user."""
    import logging

    names = ["distributed"] + [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _sees(paths):
    """On a worker: which of ``paths`` it cannot see (for the shared-filesystem check)."""
    return [p for p in paths if not os.path.isdir(p)]


def _reaches(stores):
    """On a worker: why it cannot reach each of ``stores`` (for the object-store check); [] when it reaches all."""
    problems = []
    for store in stores:
        try:
            store.fs.info(store.root)
        except FileNotFoundError:  # reached: nothing there yet (a new OUT_DIR)
            pass
        except Exception as exc:  # credentials, an endpoint the worker cannot reach
            problems.append(f"{store.url} ({type(exc).__name__}: {exc})")
    return problems


def parse_scheduler(text):
    """``"local:N"`` as ``("local", N)``, or a scheduler address as ``("address", text)``; ValueError otherwise."""
    if text.startswith("local:"):
        n = text[len("local:") :]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f'`scheduler="local:N"` takes a number of worker processes >= 1; got {text!r}')
        return "local", int(n)
    if "://" in text or ":" in text:
        return "address", text
    raise ValueError(f"`scheduler=` takes a Dask scheduler address (tcp://HOST:8786) or local:N; got {text!r}")


_slot = threading.local()  # the slot the unit running on this thread holds (see Workers._local)


def _in_slot(slots, after, fn, *args):
    """Run ``fn(*args)`` once one of ``slots`` is free; its slot is freed when it returns, or at its tail.

    ``after``, a future or None: the result is handed back only once that
    one is done, so that units still complete in the order they were given.
    """
    slots.acquire()
    _slot.held = slots
    try:
        result = fn(*args)
    finally:
        leave_slot()
    if after is not None:
        wait([after])  # done, failed or cancelled
    return result


def leave_slot():
    """Free the slot of the unit running on this thread: what it does from now on is waiting, mostly.

    A unit calls this once its views are warped and handed to the writers:
    waiting for the files and syncing the cameras lets the next unit read.
    Local threads run ``jobs`` units' work at once and at most as many
    tails beside them; elsewhere (processes, Dask, an executor passed in)
    a unit holds no slot and this does nothing.
    """
    slots = getattr(_slot, "held", None)
    if slots is not None:
        _slot.held = None
        slots.release()


class Workers:
    """The executor of a run, and how many units it should have in flight.

    Parameters
    ----------
    jobs : int
        Local workers (processes or threads).
    pool : {"processes", "threads"}
        What ``jobs`` are.
    executor : concurrent.futures.Executor or distributed.Client, optional
        Run the units there instead; ``jobs`` then only sizes the window of
        units in flight.  Not shut down here.
    scheduler : str, optional
        A Dask scheduler address, or ``"local:N"`` for a LocalCluster of N
        worker processes (needs ``pixscale[dask]``).
    kernels : str, optional
        ``"DTYPE CHANNELS FILTER"`` (``"uint8 4 bilinear"``, :func:`kernels_for`): the kernels that local
        worker processes load once, in the server they are forked from (see
        :mod:`pixscale.pipeline.warm`), so that each starts with them.
    """

    def __init__(self, jobs, pool="processes", *, executor=None, scheduler=None, kernels=None):
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}; got {pool!r}")
        self.jobs, self.pool = max(jobs, 1), pool
        self._owned = executor is None
        self._closed = False
        self._abandoned = False
        self._client = self._cluster = None
        self._kernels = kernels
        if scheduler is not None:
            try:
                self._start_dask(scheduler)
            except BaseException:  # Ctrl-C while the cluster started, say: nothing of it is left behind
                self._close_dask()
                raise
        elif executor is not None:
            self.executor = executor.get_executor(pure=False) if hasattr(executor, "get_executor") else executor
            if hasattr(executor, "get_executor"):
                self._client = executor
            if not isinstance(self.executor, Executor) and not hasattr(self.executor, "submit"):
                raise TypeError(f"executor must be a concurrent.futures.Executor or a dask Client; got {executor!r}")
            self.kind = f"{type(executor).__name__}"
        else:
            self.executor = self._local()

    def _local(self):
        main = getattr(sys.modules.get("__main__"), "__file__", None)
        if self.pool == "processes" and main is not None and not os.path.exists(main):
            # A script read from standard input: worker processes would fail to import it.
            self.pool = "threads"
        if self.pool == "threads" or self.jobs == 1:
            self.kind = f"{self.jobs} thread{'s' if self.jobs > 1 else ''}"
            # Twice the threads, ``jobs`` of them working (the slots): a unit's tail, waiting for its last
            # files to be written and synced, runs beside the next unit's work (see :func:`leave_slot`).
            self._slots = threading.BoundedSemaphore(self.jobs)  # a new pool, new slots: a hung unit keeps its own
            self._last = None  # with one job, the unit given last: the next completes after it, as on one thread
            return ThreadPoolExecutor(max_workers=2 * self.jobs)
        import multiprocessing

        self.kind = f"{self.jobs} worker processes"
        ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        if os.name == "posix":
            from multiprocessing import forkserver

            ctx.set_forkserver_preload(["pixscale.pipeline", "pixscale.pipeline.warm"])
            with _children_deaf_to_ctrl_c(), _environ(WARM_ENV, self._kernels):  # the fork server, and so
                forkserver.ensure_running()  # every worker it forks: deaf to Ctrl-C, with the kernels loaded
        return ProcessPoolExecutor(
            max_workers=self.jobs, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
        )

    def _start_dask(self, scheduler):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("`scheduler=` needs Dask: pip install 'pixscale[dask]'") from None
        how, value = parse_scheduler(scheduler)
        if how == "local":
            with _children_deaf_to_ctrl_c():  # its threads, and so the worker processes they start
                # Its processes log only critical errors (50): a unit's failure reaches the run through its
                # future, and at Ctrl-C a worker whose heartbeat meets the closing scheduler would print a
                # traceback (ERROR) that is no news to the user.
                self._cluster = LocalCluster(
                    n_workers=value, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
                )
                self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(value, timeout="10s")
            except OSError as exc:
                raise ValueError(f"cannot reach the Dask scheduler at {value}: {exc}") from None
        n = len(self._client.scheduler_info()["workers"])
        if n == 0:
            try:
                self._client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                self._client.close()
                raise ValueError(f"the Dask scheduler at {value} has no workers (waited 60 s); start some") from None
            n = len(self._client.scheduler_info()["workers"])
        self.jobs = max(n, 1)
        self.kind = f"Dask {'LocalCluster' if how == 'local' else value}, {n} worker(s)"
        self.executor = self._client.get_executor(pure=False)

    @property
    def loads_kernels(self):
        """Whether the units run in local worker processes forked with the kernels loaded (``kernels=``), so
        that the coordinator need not load them (it runs none)."""
        return self._kernels is not None and self._owned and isinstance(self.executor, ProcessPoolExecutor)

    @property
    def cancels(self):
        """Whether ``future.cancel()`` is trustworthy: False for Dask, whose executor says yes to running tasks."""
        return self._client is None

    @property
    def window(self):
        """How many units to keep in flight: two per worker, so none idles between units."""
        return 2 * max(self.jobs, 1)

    def check_paths(self, *paths):
        """Refuse to start when a Dask worker cannot see a folder (they must share the filesystem)."""
        if self._client is None:
            return
        folders = [os.path.abspath(p) for p in paths]
        blind = {w: missing for w, missing in self._client.run(_sees, folders).items() if missing}
        if blind:
            worker, missing = next(iter(blind.items()))
            raise ValueError(
                f"Dask worker {worker} cannot see {missing[0]} ({len(blind)} worker(s) cannot): IN_DIR and "
                "OUT_DIR must be on a filesystem every worker mounts at the same path (as on a SLURM cluster)."
            )

    def check_stores(self, *stores):
        """Refuse to start when a Dask worker cannot reach an object store (its credentials are its own)."""
        if self._client is None or not stores:
            return
        blind = {w: why for w, why in self._client.run(_reaches, list(stores)).items() if why}
        if blind:
            worker, why = next(iter(blind.items()))
            raise ValueError(
                f"Dask worker {worker} cannot reach {why[0]} ({len(blind)} worker(s) cannot): give the workers "
                "credentials (their environment or config files), or pass them in `storage_options=`."
            )

    def submit(self, fn, *args):
        if self._owned and isinstance(self.executor, ThreadPoolExecutor):
            fut = self.executor.submit(_in_slot, self._slots, self._last, fn, *args)
            if self.jobs == 1:
                self._last = fut
            return fut
        return self.executor.submit(fn, *args)

    def lost(self):
        """Why the units in flight will never complete (a Dask client that lost its scheduler), or None."""
        if self._client is None:
            return None
        status = getattr(self._client, "status", "running")
        if status in ("closing", "closed", "failed"):
            return f"lost the Dask scheduler (client {status})"
        return None

    def abandon(self):
        """Give up on the units running now: end local worker processes (a new pool takes over); threads and
        Dask tasks cannot be ended, so :meth:`close` will not wait for them.

        Returns True when every unit running was ended (local worker processes:
        healthy ones too), so that those never complete and are to be run again.
        """
        self._abandoned = True
        if self._owned and isinstance(self.executor, ProcessPoolExecutor):
            for proc in list((getattr(self.executor, "_processes", None) or {}).values()):
                try:
                    proc.kill()
                except (OSError, ValueError, AttributeError):  # pragma: no cover - already gone
                    pass
            self.restart()
            return True
        if self._owned and isinstance(self.executor, ThreadPoolExecutor):
            self.executor.shutdown(wait=False, cancel_futures=True)  # a hung thread keeps its slot: a new pool
            self.executor = self._local()
        return False

    def restart(self):
        """Replace a broken local process pool (a worker was killed); others heal themselves."""
        if self._owned and isinstance(self.executor, ProcessPoolExecutor):
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._local()

    def close(self, *, cancel=False):
        """Shut down what this object started (not an executor or client passed in); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owned and self._client is None:
            self.executor.shutdown(wait=not self._abandoned, cancel_futures=cancel or self._abandoned)
        if self._owned and self._client is not None:
            self._close_dask()

    def _close_dask(self):
        """Close the Dask client and the LocalCluster this object started (quietly: see :func:`_dask_quiet`)."""
        with _dask_quiet() if self._cluster is not None else contextlib.nullcontext():
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
