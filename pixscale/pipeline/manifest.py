"""The manifest of a run (``pixscale-manifest.jsonl``): what each completed sample was made from and wrote,
read back to resume a run and to remove the outputs that redone samples no longer produce.

It is also where a run keeps its rows: :class:`ManifestLog` appends a
sample's line as it completes and says where; :class:`Results` remembers
only that place (a few bytes a sample), and :class:`RunRecords` reads the
rows back, in dataset order, whenever the report (or the caller) iterates
them.  The coordinator's memory does not grow with the rows of a run.
"""

import itertools
import json
import os
import stat
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from .._validate import real_number as _real
from .dataset import MANIFEST, some_names
from .files import NO_FOLLOW, open_folder, open_own_file
from .options import RunOptions
from .records import ViewRecord, rows_of
from .store import Store, StoreObject

SYNC_S = 0.5  # the manifest is synced to disk at most this often (group commit)
COMMIT_S = 2.0  # on an object store, the new lines are committed (one object) at most this often
COMMIT_LINES = 1000  # or once this many are waiting


def fingerprint(sample, root):
    """What a sample's output was made from: ``[path, size, mtime_ns]`` of each input file.

    An object of a store gives ``[key, size, version tag]`` (S3: its ETag), from the listing.
    """
    out = []
    for path in sample.sources:
        if isinstance(path, StoreObject):  # an object of a store: its size and version tag, as listed
            out.append([path.key, path.size, path.token])
            continue
        try:
            st = os.stat(path)
            out.append([os.path.relpath(path, root), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([os.path.relpath(path, root), None, None])
    return out


def _entry_problem(entry):
    """Why a manifest line that names a sample is not what a run writes there, or None.

    The one check of a line's shape: its ``inputs`` a list of ``[path, size,
    mtime]``, its ``rows`` a non-empty list of this sample's view rows, each
    ``ok`` (with its measures and scale) or ``failed`` (with its reason).
    """
    inputs = entry.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(p, list) and len(p) == 3 for p in inputs):
        return "its inputs are not a list of [path, size, mtime]"
    if not all(isinstance(p[0], str) for p in inputs):
        return "an input is not named by a path"
    rows = entry.get("rows")
    if not isinstance(rows, list) or not rows:
        return "its rows are not a list of views"
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("view"), str) or r.get("sample") != entry["sample"]:
            return "a row does not name a view of this sample"
        if r.get("status") == "ok":
            if not (isinstance(r.get("before"), dict) and isinstance(r.get("after"), dict) and _real(r.get("scale"))):
                return f"the row of {r['view']} lacks its measures"
        elif r.get("status") != "failed" or not isinstance(r.get("error"), str):
            return f"the row of {r['view']} is neither ok nor failed with a reason"
    return None


def _read_entry(entry, offset):
    """A manifest line as ``{"sample", "inputs", "outputs", "at"}``, or its problem.

    ``at`` is ``(offset, rows)``: where the line starts in the manifest and
    how many rows it holds (:class:`Results` reads them back from there).
    The rows are read (each must make a record) and let go, but for a line
    of an older pixscale without ``outputs``, whose rows say what it wrote.
    """
    problem = _entry_problem(entry)
    if problem is not None:
        return problem
    try:
        rows = [ViewRecord.from_row(r) for r in entry["rows"]]
    except (TypeError, ValueError) as exc:
        return f"a row cannot be read ({exc})"
    out = {k: v for k, v in entry.items() if k != "rows"}
    if not isinstance(entry.get("outputs"), list):
        out["rows"] = rows
    return {**out, "at": (offset, len(rows))}


def read_manifest(path, params, input_id):
    """Completed samples recorded in a manifest: ``{name: entry}``; refuses another run's folder.

    An entry is :func:`_read_entry`'s (its rows left in the file, found by
    ``at``); a sample whose latest line is malformed (:func:`_entry_problem`)
    maps to the problem, a string, instead of an entry: that sample is redone.
    """
    out_dir = path.parent
    try:
        with open(open_own_file(path, os.O_RDONLY), "rb") as f:
            first = f.readline()
        header = json.loads(first.decode("utf-8"))
        if not isinstance(header, dict) or "parameters" not in header:
            raise ValueError("no header")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is damaged ({type(exc).__name__}: its first line is not a pixscale header); "
            f"delete {out_dir} to start over, or choose a new OUT_DIR."
        ) from None
    old = header.get("parameters") or {}
    # Options added since the manifest was written take their defaults: the run used them.
    defaults = RunOptions().params()
    old = {**{k: defaults[k] for k in params if k not in old and k in defaults}, **old}
    if old != params:
        diffs = [f"{k} {old.get(k)!r} -> {params.get(k)!r}" for k in params if old.get(k) != params.get(k)]
        diffs += [f"{k} (unknown to this version)" for k in old if k not in params]
        raise ValueError(
            f"{out_dir} was written with other options ({'; '.join(diffs)}); resume with the same "
            "options, or choose a new OUT_DIR."
        )
    if header.get("input") not in (None, input_id):
        raise ValueError(
            f"{out_dir} holds a run of {header.get('input')}, not of {input_id}; resume with that "
            "IN_DIR, or choose a new OUT_DIR."
        )
    done = {}
    with open(open_own_file(path, os.O_RDONLY), "rb") as f:
        offset = len(f.readline())
        for line in f:
            at, offset = offset, offset + len(line)
            try:
                entry = json.loads(line.decode("utf-8"))
            except ValueError:  # a line cut by an interruption: that sample is redone
                continue
            if isinstance(entry, dict) and isinstance(entry.get("sample"), str):
                done[entry["sample"]] = _read_entry(entry, at)
    return done


def _manifest_entries(manifest):
    """The sample lines of a manifest, in order (a line cut by an interruption is skipped), read one at a time."""
    with open(open_own_file(manifest, os.O_RDONLY), "rb") as f:
        lines = itertools.islice(f, 1, None)
        yield from _entries_of(lines)


def _entries_of(lines):
    for line in lines:
        try:
            entry = json.loads(line.decode("utf-8"))
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("sample"), str):
            yield entry


def _recorded_outputs(entry):
    """``{key: size}`` of the files a manifest line says its unit wrote; None for a line without the record."""
    outputs = entry.get("outputs")
    if not isinstance(outputs, list):
        return None
    return {o[0]: o[1] for o in outputs if isinstance(o, list) and len(o) == 2 and isinstance(o[0], str)}


def _changed_output(sample, entry, out_dir):
    """Why a completed sample's outputs are no longer what its manifest line recorded, or None.

    A line without the record (an older pixscale) is checked for the existence
    of the outputs of its views that were written.
    """
    recorded = _recorded_outputs(entry)
    if recorded is None:
        by_key = {v.key: v for v in sample.views}
        recorded = {by_key[r.view].out_key: None for r in entry["rows"] if r.ok and r.view in by_key}
    for key, size in recorded.items():
        if isinstance(out_dir, Store):
            now = out_dir.size(key)
            if now is None:
                return f"output {key} is missing"
            if size is not None and now != size:
                return f"output {key} changed: {now} bytes, {size} written"
            continue
        try:
            st = os.lstat(Path(out_dir) / key)
        except OSError:
            return f"output {key} is missing"
        if not stat.S_ISREG(st.st_mode):
            return f"output {key} is not a file"
        if size is not None and st.st_size != size:
            return f"output {key} changed: {st.st_size} bytes, {size} written"
    return None


def remove_stale_outputs(out_dir, manifest):
    """Remove the files an earlier line of a sample recorded and its latest line does not.

    These are the outputs of views that left the sample, or that failed when
    it was redone.  Only a regular file of the size pixscale wrote is removed:
    a file the user put there since is left alone.  Returns the removed keys.
    """
    # Only a sample with more than one line can have left outputs behind: a first pass finds them
    # (by their names' hashes: a few bytes a sample), the second keeps the outputs of those alone.
    seen: set[int] = set()
    again: set[int] = set()
    for entry in _manifest_entries(manifest):
        h = hash(entry["sample"])
        (again if h in seen else seen).add(h)
    del seen
    recorded: dict[str, dict] = {}
    latest: dict[str, set | None] = {}
    for entry in _manifest_entries(manifest):
        if hash(entry["sample"]) not in again:
            continue
        outputs = _recorded_outputs(entry)
        latest[entry["sample"]] = None if outputs is None else set(outputs)
        recorded.setdefault(entry["sample"], {}).update(outputs or {})
    removed = []
    for name, outputs in recorded.items():
        keep = latest.get(name)
        if keep is None:  # the latest line is an older pixscale's: what it wrote is not known
            continue
        for key, size in sorted(outputs.items()):
            if key not in keep and _remove_own(out_dir, key, size):
                removed.append(key)
    return removed


def _remove_own(out_dir, key, size):
    """Remove ``out_dir/key`` if it is a regular file of ``size`` bytes, following no link; True if removed."""
    if isinstance(out_dir, Store):
        if out_dir.size(key) != size:
            return False
        out_dir.delete(key)
        return True
    parts = key.split("/")
    if not NO_FOLLOW:  # pragma: no cover
        path = Path(out_dir, *parts)
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_size == size:
            path.unlink()
            return True
        return False
    try:
        fd = open_folder(out_dir, parts[:-1])
    except (OSError, ValueError):
        return False
    try:
        st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        if stat.S_ISREG(st.st_mode) and st.st_size == size:
            os.unlink(parts[-1], dir_fd=fd)
            return True
    except OSError:
        pass
    finally:
        os.close(fd)
    return False


def completed_samples(manifest):
    """How many sample lines a manifest holds (0 for a header alone, or a damaged file)."""
    try:
        with open(open_own_file(manifest, os.O_RDONLY), "rb") as f:
            return sum(1 for line in f if line.strip()) - 1
    except OSError:
        return 0


def resume_plan(dataset, done, root, out_dir=None):
    """Split recorded samples into kept ones and ones whose inputs or outputs changed (named with why).

    Kept ones map to where their line is (``(offset, rows)``, for :class:`Results`).  With
    ``out_dir``, a sample is kept only if the files its line recorded are
    there as written (an output deleted or truncated since is redone).
    """
    names = {s.name for s in dataset.samples}
    gone = sorted(set(done) - names)
    if gone:
        raise ValueError(
            f"OUT_DIR holds samples that are no longer in IN_DIR: {some_names(gone)}; "
            "resume with the IN_DIR it was made from, or choose a new OUT_DIR."
        )
    kept, changed = {}, []
    for sample in dataset.samples:
        entry = done.get(sample.name)
        if entry is None:
            continue
        if isinstance(entry, str):  # its manifest line is malformed
            changed.append(f"{sample.name} (its line in {MANIFEST} is damaged: {entry})")
            continue
        now = fingerprint(sample, root)
        if entry.get("inputs") == now:
            why = _changed_output(sample, entry, out_dir) if out_dir is not None else None
            if why is None:
                kept[sample.name] = entry["at"]
            else:
                changed.append(f"{sample.name} ({why})")
            continue
        old = {p[0]: p[1:] for p in entry.get("inputs") or []}
        new = {p[0]: p[1:] for p in now}
        what = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        changed.append(f"{sample.name} ({', '.join(what[:3]) or 'inputs'} changed)")
    return kept, changed


def end_last_line(manifest):
    """End the manifest's last line if a killed run left it cut, so the next entry starts on its own line."""
    with open(open_own_file(manifest, os.O_RDWR), "rb+") as f:
        f.seek(0, os.SEEK_END)
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


class ManifestLog:
    """The manifest opened for appending by the coordinator: a line per completed sample, synced in groups.

    :meth:`append` writes a line and returns where it starts (its byte
    offset); the line is flushed at once (a killed coordinator keeps it) and
    synced to disk at most every :data:`SYNC_S` seconds (a power cut may lose
    the last lines, whose samples ``resume`` redoes).  Use it as a context
    manager: it is synced and closed at the end.  With ``commit`` (a run on an
    object store), the new lines are also handed to ``commit(data)`` at most
    every :data:`COMMIT_S` seconds or :data:`COMMIT_LINES` lines, and at the end:
    the store's manifest, which has no append, is those chunks.
    """

    def __init__(self, manifest, commit=None):
        end_last_line(manifest)
        self._f = open(open_own_file(manifest, os.O_WRONLY | os.O_APPEND), "ab")
        self.offset = os.fstat(self._f.fileno()).st_size
        self._synced = self._committed = time.monotonic()
        self._commit, self._waiting = commit, []

    def append(self, entry):
        """Write ``entry`` (its ``rows`` are records) as a line; return the line's offset."""
        line = (json.dumps({**entry, "rows": rows_of(entry["rows"])}) + "\n").encode("utf-8")
        at = self.offset
        self._f.write(line)
        self._f.flush()
        self.offset += len(line)
        if time.monotonic() - self._synced >= SYNC_S:
            os.fsync(self._f.fileno())
            self._synced = time.monotonic()
        if self._commit is not None:
            self._waiting.append(line)
            if len(self._waiting) >= COMMIT_LINES or time.monotonic() - self._committed >= COMMIT_S:
                self.commit()
        return at

    def commit(self):
        """Hand the lines written since the last commit to ``commit`` (an object store's chunk of the manifest)."""
        if self._commit is not None and self._waiting:
            data, self._waiting = b"".join(self._waiting), []
            self._commit(data)
        self._committed = time.monotonic()

    def close(self):
        if not self._f.closed:
            try:
                os.fsync(self._f.fileno())
            finally:
                self._f.close()
            self.commit()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Results:
    """The samples a run has completed: for each, where its manifest line is, or its rows when it has none.

    A sample recorded in the manifest costs a name and ``(offset, rows)``;
    only a sample left for ``resume`` (failed by the machine, its rows
    marked ``retry``), which has no line, keeps its records here.  The
    manifest is opened for reading here, once: its rows are read through
    that handle, so a link put in its place later is never followed.
    """

    def __init__(self, manifest, kept=None):
        self.manifest = Path(manifest)
        self._fd = open_own_file(manifest, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)  # closed with the last RunRecords that reads it
        self._at: dict[str, tuple[int, int]] = dict(kept or {})
        self._held: dict[str, list[ViewRecord]] = {}

    def __len__(self):
        return len(self._at) + len(self._held)

    def __contains__(self, name):
        return name in self._at or name in self._held

    def add(self, name, at, n_rows):
        """A sample whose line starts at byte ``at`` of the manifest and holds ``n_rows`` rows."""
        self._held.pop(name, None)
        self._at[name] = (at, n_rows)

    def hold(self, name, rows):
        """A sample's records kept here (they have no manifest line)."""
        self._at.pop(name, None)
        self._held[name] = list(rows)

    def n_rows(self, name):
        if name in self._held:
            return len(self._held[name])
        return self._at[name][1] if name in self._at else 0

    def rows(self, name):
        """The records of sample ``name`` ([] for none), read back from its manifest line."""
        if name in self._held:
            return list(self._held[name])
        if name not in self._at:
            return []
        return [ViewRecord.from_row(r) for r in json.loads(self._line_at(self._at[name][0]))["rows"]]

    def _line_at(self, offset, block=1 << 16):
        fd, parts = self._fd, []
        while True:
            chunk = os.pread(fd, block, offset)
            end = chunk.find(b"\n")
            if end >= 0 or not chunk:
                parts.append(chunk if end < 0 else chunk[:end])
                return b"".join(parts)
            parts.append(chunk)
            offset += len(chunk)


class RunRecords(Sequence):
    """A run's records in dataset order, read back from the manifest as they are iterated (one sample at a time).

    What :func:`~pixscale.pipeline.driver.run_records` returns: a sequence of
    :class:`~pixscale.pipeline.records.ViewRecord` (``len``, iteration,
    indexing, ``==`` with a list) that holds none of them; each iteration
    reads the manifest once.  Records that no sample holds (a list file or
    the report that failed) follow the samples', in memory.
    """

    def __init__(self, samples, results, extra=()):
        self._samples = samples
        self._results = results
        self._extra = list(extra)

    def __iter__(self):
        for s in self._samples:
            if s.name in self._results:
                yield from self._results.rows(s.name)
        yield from list(self._extra)

    def __len__(self):
        return sum(self._results.n_rows(s.name) for s in self._samples) + len(self._extra)

    def __getitem__(self, i):
        if isinstance(i, int) and i >= 0:
            try:
                return next(itertools.islice(self, i, None))
            except StopIteration:
                raise IndexError("run record index out of range") from None
        return list(self)[i]

    def __iadd__(self, records):
        self._extra.extend(records)
        return self

    def __eq__(self, other):
        if isinstance(other, (list, tuple, RunRecords)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def of_samples(self, names):
        """The records of the samples ``names``, in dataset order (read from their lines only)."""
        return [r for s in self._samples if s.name in names for r in self._results.rows(s.name)]

    def __repr__(self):
        return f"RunRecords({len(self)} records of {len(self._results)} samples, read from {self._results.manifest})"
