"""The on-disk kernel cache: where it lives, when it is stale, and precompiling a run's kernels.

Most tests run a copy of the package in a fresh interpreter, since a process
decides its cache folder once and numba keeps compiled code in memory.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import pixscale
from pixscale import _precompile
from pixscale import kernels as _config
from pixscale.kernels import bilinear as _kernels
from pixscale.kernels import cache as _cache

PKG = Path(pixscale.__file__).parent
CACHE_ENV = ("PIXSCALE_CACHE_DIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_DISABLE_JIT", "NUMBA_BOUNDSCHECK")

# Runs two small kernels and reports what they computed and whether they came from the cache.
# _gather4 inlines _simd.lerp4: buf = 1 * row[0:4] + 1 * row[4:8] = [4, 6, 8, 10].
# to_work writes 5 values into a 3-value view of a 6-value array: past the view's end
# (into memory the array owns) unless the kernel was compiled with bounds checking.
KERNEL_RUN = """
import json, numpy as np, pixscale
from pixscale.kernels import bilinear, store
buf = np.zeros(4, np.float32)
w = np.ones(1, np.float32)
bilinear._gather4(np.arange(8, dtype=np.float32), np.zeros(1, np.uint64), np.full(1, 4, np.uint64), w, w, False, buf)
parent = np.zeros(6, np.float32)
try:
    store.to_work(np.ones(5, np.uint8), parent[:3])
    bounds = "unchecked"
except IndexError:
    bounds = "checked"
kernels = (bilinear._gather4, store.to_work)
print(json.dumps({"file": pixscale.__file__, "gather": buf.tolist(), "bounds": bounds,
                  "hits": sum(sum(d.stats.cache_hits.values()) for d in kernels),
                  "misses": sum(sum(d.stats.cache_misses.values()) for d in kernels),
                  "cache_path": bilinear._gather4.stats.cache_path}))
"""


def _copy_package(tmp_path):
    """A copy of the package (no compiled files) under ``tmp_path/src``; returns that root."""
    root = tmp_path / "src"
    shutil.copytree(PKG, root / "pixscale", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run(code, root, **env):
    """Run ``code`` in a new interpreter that imports pixscale from ``root``.

    Returns (the last stdout line as JSON, stderr).
    """
    full = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    full.update(PYTHONPATH=str(root), **{k: str(v) for k, v in env.items()})
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    if "file" in out:
        assert Path(out["file"]).parent == root / "pixscale"
    return out, proc.stderr


def _compiled_files(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.suffix in (".nbi", ".nbc"))


EDITS = {
    # The straight blend becomes a * p - b * q: a different result from a kernel that inlines _simd.
    "kernels/simd.py": (
        "r = builder.fadd(builder.fmul(splat(a), pv), builder.fmul(splat(b), qv))",
        "r = builder.fsub(builder.fmul(splat(a), pv), builder.fmul(splat(b), qv))",
        {"gather": [-4.0, -4.0, -4.0, -4.0]},
    ),
    # A new numba flag for every kernel: bounds checking.
    "kernels/__init__.py": ("nogil=True", "nogil=True, boundscheck=True", {"bounds": "checked"}),
}


@pytest.mark.parametrize("source", sorted(EDITS))
def test_editing_a_source_a_kernel_inlines_serves_the_new_code(tmp_path, source):
    root = _copy_package(tmp_path)
    cache = tmp_path / "cache"

    cold, _ = _run(KERNEL_RUN, root, PIXSCALE_CACHE_DIR=cache)
    assert cold["gather"] == [4.0, 6.0, 8.0, 10.0] and cold["bounds"] == "unchecked"
    assert cold["misses"] == 2 and cold["hits"] == 0
    warm, _ = _run(KERNEL_RUN, root, PIXSCALE_CACHE_DIR=cache)
    assert warm["misses"] == 0 and warm["hits"] == 2  # the cache works ...
    assert {k: warm[k] for k in ("gather", "bounds")} == {k: cold[k] for k in ("gather", "bounds")}

    old, new, expected = EDITS[source]
    path = root / "pixscale" / source
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    edited, _ = _run(KERNEL_RUN, root, PIXSCALE_CACHE_DIR=cache)
    assert {k: edited[k] for k in expected} == expected  # ... and never serves code older than its sources
    assert edited["misses"] == 2 and edited["hits"] == 0


@pytest.mark.parametrize("where", ["xdg", "numba", "pixscale"])
def test_compiled_kernels_are_kept_in_a_user_folder_never_in_the_package(tmp_path, where):
    root = _copy_package(tmp_path)
    env = {"XDG_CACHE_HOME": tmp_path / "xdg"}
    expected = tmp_path / "xdg" / "pixscale"
    if where in ("numba", "pixscale"):
        env["NUMBA_CACHE_DIR"] = tmp_path / "numba"
        expected = tmp_path / "numba" / "pixscale"
    if where == "pixscale":
        env["PIXSCALE_CACHE_DIR"] = tmp_path / "mine"
        expected = tmp_path / "mine"
    out, _ = _run(KERNEL_RUN, root, **env)
    folder = Path(out["cache_path"])
    assert folder.parent == expected
    assert folder.name.startswith(f"{pixscale.__version__}-numba{numba.__version__}-")
    assert _compiled_files(folder)
    assert not _compiled_files(root)  # pip uninstall leaves nothing behind


def test_without_a_writable_folder_kernels_still_run_uncached(tmp_path):
    root = _copy_package(tmp_path)
    (tmp_path / "a-file").write_text("")
    out, err = _run(KERNEL_RUN, root, PIXSCALE_CACHE_DIR=tmp_path / "a-file" / "cache")
    assert "cannot keep compiled kernels" in err and "PIXSCALE_CACHE_DIR" in err
    assert out["gather"] == [4.0, 6.0, 8.0, 10.0] and out["hits"] == 0
    assert not _compiled_files(tmp_path)


def test_processes_filling_the_cache_at_once_never_mix_up_signatures(tmp_path, monkeypatch):
    """Two writers that both read the index before either wrote it (numba's files would both be ``.1.nbc``)."""
    a = _cache._DataFiles(str(tmp_path), "k", "stamp")
    b = _cache._DataFiles(str(tmp_path), "k", "stamp")
    monkeypatch.setattr(a, "_load_index", lambda: {})
    monkeypatch.setattr(b, "_load_index", lambda: {})
    a.save(("sig A",), "code A")
    b.save(("sig B",), "code B")
    assert len(list(tmp_path.glob("*.nbc"))) == 2
    reader = _cache._DataFiles(str(tmp_path), "k", "stamp")
    assert reader.load(("sig A",)) is None  # a's index entry was lost: compiled again later
    assert reader.load(("sig B",)) == "code B"
    reader.save(("sig A",), "code A")
    assert reader.load(("sig A",)) == "code A" and reader.load(("sig B",)) == "code B"


def test_kernel_sources_list_every_module_the_kernels_import():
    """Module-level imports from the kernel modules on (function-level ones run no kernel code)."""
    seen, todo = set(), ["bilinear.py", "measure.py", "jpeg.py"]
    while todo:
        name = todo.pop()
        seen.add(name)
        for node in ast.parse((PKG / "kernels" / name).read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                todo.extend({f"{node.module}.py" if node.module else "__init__.py"} - seen)
    assert seen == set(_config.KERNEL_SOURCES)


def test_every_kernel_is_serial_and_uses_the_pixscale_cache():
    kernels = [v for v in vars(_kernels).values() if isinstance(v, numba.core.dispatcher.Dispatcher)]
    assert len(kernels) > 10
    for kernel in kernels:
        assert not kernel.targetoptions.get("parallel")
        assert isinstance(kernel._cache, _cache.KernelCache)


def test_precompile_announces_only_what_is_not_cached(tmp_path):
    root = _copy_package(tmp_path)
    code = (
        "import json, numba, pixscale\n"
        "from pixscale import kernels as _config\n"
        "from pixscale._precompile import precompile\n"
        "said = []\n"
        "cold = precompile(['uint8', 'uint8'], announce=said.append)\n"
        "k = _config.kernels()\n"
        "top = [k.measure_alpha, k.measure_words, k.warp_count, k.warp_window]\n"
        "misses = sum(sum(d.stats.cache_misses.values()) for d in top)\n"
        "print(json.dumps({'file': pixscale.__file__, 'cold': cold, 'said': said, 'misses': misses,\n"
        "                  'compiled': [len(d.signatures) for d in top]}))\n"
    )
    first, _ = _run(code, root, PIXSCALE_CACHE_DIR=tmp_path / "cache")
    assert first["cold"] == ["uint8"] and len(first["said"]) == 1
    assert "uint8 images (first use only" in first["said"][0]
    assert first["misses"] > 0 and all(first["compiled"])
    second, _ = _run(code, root, PIXSCALE_CACHE_DIR=tmp_path / "cache")
    assert second["cold"] == [] and second["said"] == []
    assert second["misses"] == 0 and all(second["compiled"])


def test_precompile_rejects_dtypes_pixscale_does_not_take():
    with pytest.raises(TypeError, match="int32"):
        _precompile.precompile([np.int32])


def test_cache_key_changes_with_pixscale_and_numba_versions(monkeypatch):
    key = _cache.cache_key()
    assert key.startswith(f"{pixscale.__version__}-numba{numba.__version__}-")
    monkeypatch.setattr(_cache, "_version", lambda: "99.0")
    assert _cache.cache_key().startswith("99.0-")
    monkeypatch.setattr(numba, "__version__", "0.0")
    assert _cache.cache_key().startswith("99.0-numba0.0-")
    assert _cache.cache_key().split("-")[-1] == key.split("-")[-1]  # the sources did not change
