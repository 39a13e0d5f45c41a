"""Where compiled kernels are kept on disk, and when they are stale.

numba's own ``cache=True`` keys a kernel's cache on the one file that defines
it and writes next to it, into the installed package.  Both are wrong here:
a kernel inlines code from other modules of :mod:`pixscale.kernels` (the
store, the SIMD intrinsics, the flags), and files left in
``site-packages/pixscale/__pycache__`` outlive ``pip uninstall`` and then
shadow an editable install of the package.

So each kernel gets a :class:`KernelCache`, numba's ``FunctionCache`` with
two changes:

* its locator puts the files in a per-user folder (``$PIXSCALE_CACHE_DIR``,
  else ``$NUMBA_CACHE_DIR/pixscale``, else the user cache folder, e.g.
  ``~/.cache/pixscale``), in a subfolder named by pixscale's and numba's
  versions and a hash of every ``.py`` file of :mod:`pixscale.kernels`
  (:func:`kernel_sources`: the folder, not a list to keep up to date; the
  folder imports nothing else from pixscale) and of what else decides the
  machine code (numpy and llvmlite versions, numba's bounds checking and
  optimisation level); that key is also the source stamp numba checks;
* a compiled overload is stored in a data file named by a hash of its index
  key, not by numba's counter (see :class:`_DataFiles`), so processes that
  fill the folder at the same time can lose an index entry (it is compiled
  again later) but never serve one signature's code for another.

When no folder is writable the kernels are compiled in every process (and a
warning says so once).  This module imports numba; :mod:`pixscale.kernels`
imports it only when the first kernel is defined.
"""

import hashlib
import importlib.metadata
import os
import pickle
import sys
import tempfile
import warnings
from pathlib import Path

import llvmlite
import numba
import numpy as np
from numba.core import caching

_UNSET = object()
_FOLDER = _UNSET


def _version():
    try:
        return importlib.metadata.version("pixscale")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "0+unknown"


def _user_cache_root():
    if sys.platform == "win32":  # pragma: no cover - not tested on Windows
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":  # pragma: no cover - not tested on macOS
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pixscale"


def cache_root():
    """The folder that holds one subfolder per kernel-cache key (see the module docstring)."""
    if os.environ.get("PIXSCALE_CACHE_DIR"):
        return Path(os.environ["PIXSCALE_CACHE_DIR"])
    folder = numba.config.CACHE_DIR  # type: ignore[attr-defined]
    if folder:
        return Path(folder) / "pixscale"
    return _user_cache_root()


def kernel_sources():
    """Every ``.py`` file of this folder and below, by relative path: what a kernel's machine code can come from."""
    here = Path(__file__).parent
    return sorted((p.relative_to(here).as_posix(), p) for p in here.rglob("*.py"))


def cache_key():
    """``<pixscale version>-numba<version>-<hash>``: the subfolder name, and numba's source stamp."""
    h = hashlib.sha256()
    for name, path in kernel_sources():
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    others = (np.__version__, llvmlite.__version__, sys.version, bool(numba.config.BOUNDSCHECK), str(numba.config.OPT))  # type: ignore[attr-defined]
    h.update(repr(others).encode())
    return f"{_version()}-numba{numba.__version__}-{h.hexdigest()[:16]}"


def cache_folder():
    """The writable folder this process keeps compiled kernels in, or None (decided once)."""
    global _FOLDER
    if _FOLDER is _UNSET:
        folder = cache_root() / cache_key()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as e:
            warnings.warn(
                f"pixscale cannot keep compiled kernels in {folder} ({e}); they will be compiled again "
                "in every process. Set PIXSCALE_CACHE_DIR to a writable folder.",
                RuntimeWarning,
                stacklevel=2,
            )
            folder = None
        _FOLDER = folder
    return _FOLDER


class _Locator(caching._CacheLocator):
    """numba cache locator: :func:`cache_folder`, stamped with :func:`cache_key`."""

    def __init__(self, py_func, py_file, folder):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._folder = str(folder)
        self._stamp = folder.name

    def get_cache_path(self):
        return self._folder

    def get_source_stamp(self):
        return self._stamp

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        folder = cache_folder()
        return None if folder is None else cls(py_func, py_file, folder)


class _DataFiles(caching.IndexDataCacheFile):
    """numba's index + data files, with the data file named by a hash of its key.

    numba numbers data files ``1, 2, ...`` by reading the index, taking the
    first free number and writing the index back.  Two processes that read
    the index before either writes it take the same number for different
    signatures, and the index can then point one signature at the other's
    code.  Here the name follows from the key, the data is written before
    the index (each file atomically, as numba does), and the index is read
    again just before it is written.
    """

    def save(self, key, data):
        digest = hashlib.sha256(pickle.dumps(key, protocol=4)).digest()
        name = self._data_name(int.from_bytes(digest[:6], "big"))
        self._save_data(name, data)
        overloads = self._load_index()
        if overloads.get(key) != name:
            overloads[key] = name
            self._save_index(overloads)


class _Impl(caching.CompileResultCacheImpl):
    _locator_classes = [_Locator]  # type: ignore[list-item]  # numba annotates this list too narrowly


class KernelCache(caching.FunctionCache):
    """numba's ``FunctionCache`` in :func:`cache_folder`, with :class:`_DataFiles`."""

    _impl_class = _Impl

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = _DataFiles(self._cache_path, self._impl.filename_base, self._impl.locator.get_source_stamp())


def attach(dispatcher, *, keep=True):
    """Give a numba dispatcher a :class:`KernelCache`; returns it (a plain function is returned as is).

    This is what ``Dispatcher.enable_caching`` does with numba's own cache
    class.  Without a writable folder the dispatcher is left uncached.
    ``keep=False`` gives it a disabled one, which neither loads nor saves: a
    helper compiled for linking only (:mod:`pixscale.kernels.linking`),
    which its callers' cached code holds.
    """
    if isinstance(dispatcher, numba.core.dispatcher.Dispatcher) and cache_folder() is not None:
        cache = dispatcher._cache = KernelCache(dispatcher.py_func)  # type: ignore[attr-defined]
        if not keep:
            cache.disable()
    return dispatcher


def _machine():
    """A short hash of the CPU the code is compiled for (part of numba's index keys)."""
    from numba.core.registry import cpu_target

    magic = cpu_target.target_context.codegen().magic_tuple()
    return hashlib.sha256(repr(magic).encode()).hexdigest()[:12]


def _marker(label):
    folder = cache_folder()
    return None if folder is None else folder / f"warm-{label}-{_machine()}"


def is_warm(label):
    """Whether :func:`mark_warm` was called for ``label`` with this cache key and CPU."""
    marker = _marker(label)
    return marker is not None and marker.exists()


def mark_warm(label):
    """Record that the kernels for ``label`` are in the cache (no-op without a cache folder)."""
    marker = _marker(label)
    if marker is not None:
        try:
            marker.touch()
        except OSError:  # pragma: no cover - the folder was writable a moment ago
            pass
