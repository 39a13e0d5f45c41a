"""A run whose input or output is an object store (any fsspec URL): the same units, a store's output.

:func:`~pixscale.pipeline.driver.run_records` hands a run here when IN_DIR or
OUT_DIR is a URL.  The units are the folder run's (:mod:`.unit`, run by
:func:`.schedule.run_units` on the same workers); what differs is the output,
a prefix of a store that has no rename, no append and no OS lock:

* each output object is written whole, in one request (:meth:`.Store.put`):
  there are no ``.part`` objects, and an interrupted write leaves nothing;
* the manifest is the commit point: the coordinator commits the lines of
  completed samples (written after their outputs) as numbered chunk objects
  ``pixscale-manifest/NNNNNNNN.jsonl``; ``resume=True`` reads them back in
  order, and a sample completed but not committed is done again (the same bytes);
* one run per output prefix: a lock object ``.pixscale-lock`` written with a
  conditional create (:meth:`.Store.create`) names its holder (host, pid,
  start, run id); another run is refused with that name, and a stale lock is
  broken only with ``break_lock=True``;
* the input prefix is never written, nothing is written outside the output
  prefix (keys are checked by the store), and the two prefixes may not overlap.

The coordinator keeps a copy of the manifest in a temporary folder (its rows
are read back from there, as a folder run's are) and writes the report there,
then uploads it, file by file, into ``OUT_DIR/pixscale-report/``.
"""

import atexit
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

from .._version import __version__
from .dataset import LOCK, MANIFEST, MANIFEST_CHUNKS, REPORT_DIR, STOP, some_names
from .listing import discover_store
from .manifest import Results, RunRecords, completed_samples, read_manifest, remove_stale_outputs, resume_plan
from .output import nearest_existing, sweep_temporary, unit_folders, write_run_report
from .records import ViewRecord
from .schedule import RunInterrupted, _NoBar, _silent, precompile_for, run_units
from .signals import signals_held
from .store import READ_ONLY, Store, StoreError, is_url
from .workers import StopFlag, Workers, size_run

log = logging.getLogger("pixscale")
CHUNK = re.compile(r"[0-9]{8,}\.jsonl")  # a manifest chunk's name under MANIFEST_CHUNKS/ (StoreManifest.commit)


def _holder_text(holder):
    if not isinstance(holder, dict):
        return "a holder that cannot be read"
    return (
        f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, since {holder.get('since', '?')}, "
        f"run {holder.get('run', '?')}"
    )


class StoreLock:
    """The lock of an output prefix: the object ``.pixscale-lock``, created only if there is none.

    It names its holder; the OS cannot release it when the holder dies, so a
    lock left by a dead run stays until a run is started with ``break_lock=True``.
    """

    def __init__(self, store, break_lock=False):
        self.store = store
        self.holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run": uuid.uuid4().hex,
        }
        data = (json.dumps(self.holder) + "\n").encode("utf-8")
        if store.create(LOCK, data):
            return
        other = self._current()
        if other is None and store.create(LOCK, data):  # its holder let it go meanwhile
            return
        if not break_lock:
            raise StoreError(
                f"OUT_DIR {store.url} is in use by another pixscale run ({_holder_text(other)}); wait for it to "
                f"finish, or, if that run is gone, pass `break_lock=True` to remove its lock ({store.url_of(LOCK)})"
            )
        log.warning(f"breaking the lock of {store.url} held by {_holder_text(other)} (`break_lock=True`)")
        store.delete(LOCK)
        if not store.create(LOCK, data):
            raise StoreError(
                f"OUT_DIR {store.url}: another run took the lock while it was broken ({_holder_text(self._current())})"
            )

    def _current(self):
        try:
            return json.loads(self.store.read(LOCK).decode("utf-8"))
        except (OSError, ValueError):
            return None

    def release(self):
        """Remove the lock if it is still this run's (a run that broke it keeps its own)."""
        try:
            current = self._current()
            if isinstance(current, dict) and current.get("run") == self.holder["run"]:
                self.store.delete(LOCK)
        except OSError as exc:
            log.warning(f"the lock {self.store.url_of(LOCK)} could not be removed ({exc}); remove it by hand")


class _Listed(Store):
    """The output store as ``resume=True`` checks it: the sizes of the outputs a manifest recorded, from one
    streamed listing (a page of 1,000 keys a request on S3) rather than a request per output."""

    def __init__(self, store, done):
        super().__init__(store.fs, store.root, store.url)
        wanted = {o[0] for e in done.values() if isinstance(e, dict) for o in e.get("outputs") or () if o}
        self.sizes = {o.key: o.size for o in store.walk() if o.key in wanted}

    def size(self, key):
        return self.sizes.get(key)


def _own_key(key):
    return key == LOCK or key.startswith((MANIFEST_CHUNKS + "/", REPORT_DIR + "/"))


class StoreManifest:
    """The manifest of a run on a store: chunk objects under ``OUT_DIR/pixscale-manifest/``, and a local copy.

    :meth:`open` checks the output prefix (new, or a run to resume with the same
    options and input) and fills the local copy; :meth:`commit` writes the next chunk.
    """

    def __init__(self, store, folder):
        self.store, self.path, self.next = store, Path(folder) / MANIFEST, 0

    def open(self, params, input_id, resume):
        """The completed samples recorded (``{name: entry}``, as :func:`.manifest.read_manifest` gives them)."""
        chunks = sorted(
            (o.key for o in self.store.walk(MANIFEST_CHUNKS) if CHUNK.fullmatch(o.key[len(MANIFEST_CHUNKS) + 1 :])),
            key=lambda k: int(k.rsplit("/", 1)[-1].split(".")[0]),
        )  # only the numbered chunks this module writes, in number order: no other object is a manifest line
        with open(self.path, "wb") as f:
            for key in chunks:
                data = self.store.read(key)
                f.write(data if data.endswith(b"\n") or not data else data + b"\n")
        if chunks and completed_samples(self.path) > 0:
            if not resume:
                raise StoreError(
                    f"{self.store.url} holds an earlier pixscale run; pass `resume=True` to finish it, or choose a "
                    "new OUT_DIR."
                )
            try:
                done = read_manifest(self.path, params, input_id)
            except ValueError as exc:  # its messages name the local copy: name the store
                where = self.store.url_of(MANIFEST_CHUNKS + "/")  # the chunk objects, not the local copy
                text = str(exc).replace(str(self.path), where).replace(str(self.path.parent), self.store.url)
                raise StoreError(text) from None
            self.next = int(chunks[-1].rsplit("/", 1)[-1].split(".")[0]) + 1
            return done
        foreign = None if chunks else next((o.key for o in self.store.walk() if not _own_key(o.key)), None)
        if foreign is not None:
            raise StoreError(
                f"{self.store.url} is not empty and holds no pixscale run (it holds {foreign}); choose an empty or "
                "new OUT_DIR."
            )
        for key in chunks:  # a run stopped before it completed any sample: start over
            self.store.delete(key)
        header = (json.dumps({"pixscale": __version__, "parameters": params, "input": input_id}) + "\n").encode()
        self.path.write_bytes(header)
        self.commit(header)
        return {}

    def commit(self, data):
        """Write ``data`` (whole manifest lines) as the next chunk object."""
        self.store.put(f"{MANIFEST_CHUNKS}/{self.next:08d}.jsonl", data)
        self.next += 1


def _upload(folder, store, under):
    """Copy every file below the local ``folder`` to ``store`` under ``under/``; the failure records, if any."""
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        key = f"{under}/{path.relative_to(folder).as_posix()}"
        try:
            store.put(key, path.read_bytes())
        except (OSError, ValueError) as exc:
            return [ViewRecord.failed("", REPORT_DIR, f"the report could not be written to {store.url_of(key)}: {exc}")]
    return []


def list_text(text, src, dst):
    """A list file's ``text`` with every line that names the input prefix (its URL, or a local input's folder)
    pointing at the output prefix instead; other lines (sample names relative to the root) are kept."""
    bases = [src.url.rstrip("/")] + ([src.root] if src.local and src.root != src.url.rstrip("/") else [])
    out = []
    for line in text.splitlines(keepends=True):
        entry = line.strip()
        base = next((b for b in bases if entry == b or entry.startswith(b + "/")), None)
        out.append(line if base is None else line.replace(entry, dst.url.rstrip("/") + entry[len(base) :], 1))
    return "".join(out)


def _write_list_files(dataset, src, dst):
    """Write the dataset's list files, rewritten (:func:`list_text`), into OUT_DIR; the failure records."""
    rows = []
    for item in dataset.list_files:
        if item.error is None:
            try:
                dst.put(item.name, list_text(item.text, src, dst).encode("utf-8"))
                continue
            except (OSError, ValueError) as exc:
                item.error = f"list file {item.name} was not written: {exc}"
        rows.append(ViewRecord.failed("", item.name, item.error))
    return rows


def open_stores(in_dir, out_dir, storage_options=None):
    """``(input, output)`` stores of a run (a local path is its folder), refused if the prefixes overlap."""
    src = Store.open(in_dir, storage_options if is_url(in_dir) else None, name="IN_DIR", must_exist=True)
    if is_url(out_dir) and out_dir.split(":", 1)[0].lower() in READ_ONLY:
        raise StoreError(f"OUT_DIR {out_dir}: {out_dir.split(':', 1)[0]}:// is read-only; choose another OUT_DIR")
    dst = Store.open(out_dir, storage_options if is_url(out_dir) else None, name="OUT_DIR")
    if src.overlaps(dst):
        raise StoreError(
            f"OUT_DIR {dst.url} and IN_DIR {src.url} overlap (one is inside the other); the input is never written "
            "to: choose an output prefix outside the input."
        )
    return src, dst


def run_on_store(in_dir, out_dir, opts, *, storage_options=None, break_lock=False, **run):
    """:func:`~pixscale.pipeline.driver.run_records` for IN_DIR or OUT_DIR on an object store; the same
    arguments and return value, plus ``storage_options`` (for fsspec) and ``break_lock``."""
    quiet, pool = run["quiet"], run["pool"]
    say = _silent if quiet else log.info
    src, dst = open_stores(in_dir, out_dir, storage_options)
    dataset = discover_store(src, layout=run["layout"], mask=opts.mask)
    say(f"{dataset.describe()} in {src.url}")
    for note in dataset.notes:
        say(f"  note: {note}")
    if "memory" in (src.fs.protocol, dst.fs.protocol):  # memory:// lives in this process: no other one sees it
        if run["scheduler"] is not None:
            raise StoreError("memory:// lives in this process: Dask workers cannot see it; run without `scheduler=`")
        pool = "threads" if run["executor"] is None else pool
    jobs, kernels = size_run(dataset, opts.image, run["jobs"], run["sized"])
    workers = Workers(
        min(jobs, len(dataset.samples)), pool, executor=run["executor"], scheduler=run["scheduler"], kernels=kernels
    )
    folder = tempfile.mkdtemp(prefix="pixscale-run-")
    try:  # Dask workers must reach both sides: a local folder at the same path, a store with credentials
        workers.check_paths(*[nearest_existing(s.root) for s in (src, dst) if s.local])
        workers.check_stores(*[s for s in (src, dst) if not s.local])
        lock = StoreLock(dst, break_lock)
        try:
            return _run(dataset, src, dst, opts, workers, folder, say, run, in_dir)
        finally:
            with signals_held():
                workers.close(cancel=True)
                lock.release()
    finally:
        workers.close(cancel=True)
        shutil.rmtree(folder, ignore_errors=True)  # the manifest's copy stays readable through its open handle


def _run(dataset, src, dst, opts, workers, folder, say, run, in_dir):
    quiet, progress, report_dir = run["quiet"], run["progress"], run["report_dir"]
    manifest = StoreManifest(dst, folder)
    done = manifest.open(opts.params(), src.url, run["resume"])
    stop = StopFlag(Path(folder) / STOP)
    try:
        stop.clear()
        kept, changed = resume_plan(dataset, done, src, _Listed(dst, done) if done else dst)
        done = None
        results = Results(manifest.path, kept)
        if results:
            say(f"resuming: {len(results)} of {len(dataset.samples)} samples already complete")
        if changed:
            say(
                f"redoing {len(changed)} sample(s) whose inputs or outputs changed since they were written: "
                + some_names(changed)
            )
        try:
            precompile_for(dataset, say, opts.image)
        except KeyboardInterrupt:
            raise RunInterrupted(len(results), len(dataset.samples), dst) from None
        todo = [s for s in dataset.samples if s.name not in results]
        if todo:
            say(f"running on {workers.kind}")
        bar = _NoBar() if quiet or progress is None else progress(total=dataset.n_views, unit="view")
        try:
            bar.update(sum(len(s.views) for s in dataset.samples if s.name in results))
            if todo:
                unit_timeout = run["unit_timeout"]
                run_units(
                    todo, dst, opts, src, workers, manifest.path, results, bar, stop, unit_timeout, manifest.commit
                )
                if dst.local:  # what killed workers were writing in a local OUT_DIR
                    sweep_temporary(dst.root, unit_folders(todo))
        finally:
            bar.close()
        try:
            removed = remove_stale_outputs(dst, manifest.path)
        except OSError as exc:
            removed = []
            if not quiet:
                log.warning(f"outputs that redone samples no longer produce were not removed: {exc}")
        if removed:
            say(f"removed {len(removed)} output(s) that redone samples no longer produce: " + some_names(removed))
        workers.close()
        records = RunRecords(dataset.samples, results)
        records += _write_list_files(dataset, src, dst)
        if report_dir is not False:
            say("writing the report" + (" and drawing its figures" if run["plots"] else ""))
            local = Path(report_dir) if report_dir else Path(folder) / REPORT_DIR
            report = (dataset, records, dst, local, opts, in_dir, run["plots"], run["spell"])
            records += write_run_report(*report, None if quiet else progress)
            if not report_dir:
                records += _upload(local, dst, REPORT_DIR)
        return records, dataset
    finally:
        stop.retire()


def store_report(url, storage_options=None):
    """A local copy of the ``report.json`` of a run on a store, or None if there is none.

    ``url`` is the run's OUT_DIR, its report folder, or the file itself; the
    copy lies in a new temporary folder (``.../pixscale-report/report.json``),
    removed when the process ends.
    """
    name = "report.json"
    whole = url.rstrip("/").endswith("/" + name)
    store = Store.open(url.rstrip("/")[: -len(name) - 1] if whole else url, storage_options, name="RUN")
    for key in [name] if whole else [name, f"{REPORT_DIR}/{name}"]:
        try:
            data = store.read(key)
        except FileNotFoundError:
            continue
        folder = tempfile.mkdtemp(prefix="pixscale-compare-")
        atexit.register(shutil.rmtree, folder, True)  # read by the caller now; gone when the process ends
        path = Path(folder) / REPORT_DIR / name
        path.parent.mkdir()
        path.write_bytes(data)
        return path
    return None
