"""The on-disk kernel cache: where it lives, when it is stale, and precompiling a run's kernels.

Most tests run a copy of the package in a fresh interpreter, since a process
decides its cache folder once and numba keeps compiled code in memory.
"""

import ast
import importlib
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
from pixscale.kernels import cache as _cache
from pixscale.kernels import count as _count

PKG = Path(pixscale.__file__).parent
CACHE_ENV = ("PIXSCALE_CACHE_DIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_DISABLE_JIT", "NUMBA_BOUNDSCHECK")

# Runs two small kernels and reports what they computed and whether they came from the cache.
# _gather4 inlines simd.lerp4: buf = 1 * row[0:4] + 1 * row[4:8] = [4, 6, 8, 10].
# to_work writes 5 values (ones) into a 3-value view of a 6-value array: past the view's
# end (into memory the array owns) unless the kernel was compiled with bounds checking.
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
print(json.dumps({"file": pixscale.__file__, "gather": buf.tolist(), "bounds": bounds, "work": parent[:3].tolist(),
                  "hits": sum(sum(d.stats.cache_hits.values()) for d in kernels),
                  "misses": sum(sum(d.stats.cache_misses.values()) for d in kernels),
                  "cache_path": bilinear._gather4.stats.cache_path}))
"""


def _copy_package(tmp_path):
    """A copy of the package (no compiled files) under ``tmp_path/src``; returns that root."""
    root = tmp_path / "src"
    shutil.copytree(PKG, root / "pixscale", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run(code, root, *argv, **env):
    """Run ``code`` (with ``argv``) in a new interpreter that imports pixscale from ``root``.

    Returns (the last stdout line as JSON, stderr).
    """
    full = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    full.update(PYTHONPATH=str(root), **{k: str(v) for k, v in env.items()})
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=root, env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    if "file" in out:
        assert Path(out["file"]).parent == root / "pixscale"
    return out, proc.stderr


def _compiled_files(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.suffix in (".nbi", ".nbc"))


EDITS = {
    # The straight blend becomes a * p - b * q: a different result from a kernel that inlines simd.
    "kernels/simd.py": (
        "r = builder.fadd(builder.fmul(splat(a), pv), builder.fmul(splat(b), qv))",
        "r = builder.fsub(builder.fmul(splat(a), pv), builder.fmul(splat(b), qv))",
        {"gather": [-4.0, -4.0, -4.0, -4.0]},
    ),
    # A new numba flag for every kernel: bounds checking.
    "kernels/__init__.py": ('"nogil": True', '"nogil": True, "boundscheck": True', {"bounds": "checked"}),
    # The store's conversion doubles what it converts.
    "kernels/store.py": ("rowf[k] = row[k]", "rowf[k] = row[k] + row[k]", {"work": [2.0, 2.0, 2.0]}),
    # A file no kernel imports (yet): the key covers the folder, not what is imported today.
    "kernels/zz_new.py": (None, '"""A module added to the kernels folder."""\n', {"gather": [4.0, 6.0, 8.0, 10.0]}),
}


@pytest.mark.parametrize("source", sorted(EDITS))
def test_editing_any_file_of_the_kernels_folder_serves_the_new_code(tmp_path, source):
    root = _copy_package(tmp_path)
    cache = tmp_path / "cache"

    cold, _ = _run(KERNEL_RUN, root, PIXSCALE_CACHE_DIR=cache)
    assert cold["gather"] == [4.0, 6.0, 8.0, 10.0] and cold["bounds"] == "unchecked" and cold["work"] == [1.0] * 3
    assert cold["misses"] == 2 and cold["hits"] == 0
    warm, _ = _run(KERNEL_RUN, root, PIXSCALE_CACHE_DIR=cache)
    assert warm["misses"] == 0 and warm["hits"] == 2  # the cache works ...
    same = ("gather", "bounds", "work")
    assert {k: warm[k] for k in same} == {k: cold[k] for k in same}

    old, new, expected = EDITS[source]
    path = root / "pixscale" / source
    if old is None:
        assert not path.exists()
        path.write_text(new)
    else:
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


def _imported_modules(tree, module):
    """``(line, absolute module name)`` of every import in ``tree`` (a module of pixscale.kernels), at any depth."""
    package = module.rsplit(".", 1)[0]  # "pixscale.kernels" for its __init__ and for its modules
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module
                continue
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            yield node.lineno, ".".join(base + ([node.module] if node.module else []))


def test_the_kernels_folder_imports_nothing_else_from_pixscale():
    """Every line a kernel can inline is in the folder the cache key hashes: its modules import
    (at module or function level) only each other, numba, numpy and the standard library."""
    folder = PKG / "kernels"
    files = sorted(folder.rglob("*.py"))
    assert {"__init__.py", "bilinear.py", "cache.py", "measure.py", "store.py", "taps.py"} <= {f.name for f in files}
    outside = []
    for path in files:
        module = ".".join(("pixscale", "kernels") + path.relative_to(folder).with_suffix("").parts)
        for line, name in _imported_modules(ast.parse(path.read_text()), module):
            if name.split(".")[0] == "pixscale" and not (name + ".").startswith("pixscale.kernels."):
                outside.append(f"{path.relative_to(folder)}:{line} imports {name}")
    assert outside == []


def test_the_import_check_sees_imports_at_every_level():
    tree = ast.parse(
        "from . import jit\n"
        "from .store import finish\n"
        "def f():\n"
        "    from .._measure import measure\n"
        "    import pixscale.reference\n"
        "    from pixscale.kernels import cache\n"
    )
    assert sorted(_imported_modules(tree, "pixscale.kernels.taps")) == [
        (1, "pixscale.kernels"),
        (2, "pixscale.kernels.store"),
        (4, "pixscale._measure"),
        (5, "pixscale.reference"),
        (6, "pixscale.kernels"),
    ]
    assert sorted(_imported_modules(ast.parse("from . import cache"), "pixscale.kernels.__init__")) == [
        (1, "pixscale.kernels")
    ]


def test_the_cache_key_covers_every_file_of_the_kernels_folder():
    names = [name for name, _ in _cache.kernel_sources()]
    assert names == sorted(p.relative_to(PKG / "kernels").as_posix() for p in (PKG / "kernels").rglob("*.py"))
    assert {"__init__.py", "bilinear.py", "cache.py", "jpeg.py", "measure.py", "simd.py", "store.py", "taps.py"} <= set(
        names
    )


def test_kernels_reads_each_kernel_from_the_module_that_defines_it(monkeypatch):
    k = _config.kernels()
    assert set(dir(k)) == {
        "measure_alpha",
        "measure_words",
        "warp_window",
        "warp_window4",
        "warp_rgba8_up",
        "warp_rgba8_down",
        "warp_count",
        "warp_taps_window",
        "warp_taps_count",
        "search_scale",
    }
    for name in dir(k):
        kernel = getattr(k, name)
        # a kernel, or plain Python around kernel calls (the probes, the tap filters' window)
        home = getattr(kernel, "py_func", kernel).__module__  # the module that defines it
        assert home.startswith("pixscale.kernels.") and getattr(sys.modules[home], name) is kernel
    monkeypatch.setattr(_count, "warp_count", "patched")  # a patch of the home is what callers get
    assert k.warp_count == "patched"
    with pytest.raises(AttributeError, match="no_such_kernel"):
        k.no_such_kernel  # noqa: B018


def test_every_kernel_is_serial_and_uses_the_pixscale_cache():
    modules = [
        importlib.import_module(f"pixscale.kernels.{p.stem}") for p in sorted((PKG / "kernels").glob("[!_]*.py"))
    ]
    kernels = [v for m in modules for v in vars(m).values() if isinstance(v, numba.core.dispatcher.Dispatcher)]
    assert len(kernels) > 30
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
        "top = [k.measure_alpha, k.measure_words, k.search_scale, k.warp_window]\n"
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
    for channels in ([3], [], [4, 1]):
        with pytest.raises(ValueError, match="`channels=` takes 4 .RGBA. and 2 .gray.alpha.; got"):
            _precompile.precompile([np.uint8], channels=channels)


def test_precompile_compiles_the_warps_of_the_channel_counts_asked(tmp_path):
    """RGBA alone: the RGBA row loops and not the general loop (which gray+alpha takes); asked for both later,
    it says so again and compiles the general loop; asked again, nothing."""
    root = _copy_package(tmp_path)
    code = (
        "import json, sys\n"
        "from pixscale._precompile import precompile\n"
        "from pixscale.kernels import bilinear, rgba8\n"
        "said, compiled = [], []\n"
        "for c in ([4], [4], [4, 2], [2]):\n"
        "    said.append(precompile(['uint8'], channels=c, announce=said.append))\n"
        "    compiled.append([len(k.signatures) for k in (rgba8.warp_rgba8_up, bilinear.warp_window)])\n"
        "print(json.dumps({'said': said, 'compiled': compiled}))\n"
    )
    first, _ = _run(code, root, PIXSCALE_CACHE_DIR=tmp_path / "cache")
    notice = "compiling pixscale's kernels for uint8 images (first use only: later runs load them from the cache)…"
    assert first["said"] == [notice, ["uint8"], [], notice, ["uint8"], []]
    assert first["compiled"] == [[1, 0], [1, 0], [1, 1], [1, 1]]


def test_cache_key_changes_with_pixscale_and_numba_versions(monkeypatch):
    key = _cache.cache_key()
    assert key.startswith(f"{pixscale.__version__}-numba{numba.__version__}-")
    monkeypatch.setattr(_cache, "_version", lambda: "99.0")
    assert _cache.cache_key().startswith("99.0-")
    monkeypatch.setattr(numba, "__version__", "0.0")
    assert _cache.cache_key().startswith("99.0-numba0.0-")
    assert _cache.cache_key().split("-")[-1] == key.split("-")[-1]  # the sources did not change


def test_exact_mode_uses_the_span_count_once_compiled(monkeypatch):
    """bilinear_count: the plain count until the span count is cached, asked for or repaid; then the span count."""
    from pixscale import _warp

    calls = []

    class Kernels:
        def warp_count(self, *args, spans=True):
            calls.append("span" if len(args) == 14 and spans else "plain")
            return 7

    warm = set()
    monkeypatch.setattr(_warp, "kernels", Kernels)
    monkeypatch.setattr(_warp, "_SPAN_COUNT", {})
    monkeypatch.setattr(_warp, "SPAN_COUNT_AFTER_S", 1e-12)
    monkeypatch.setattr(_cache, "is_warm", lambda label: label in warm)
    monkeypatch.setattr(_cache, "mark_warm", warm.add)
    alpha = np.zeros((4, 4), np.uint8)
    args = (alpha, np.uint8(10), 1.0, 2.0, 2.0, 2.0, 2.0, 0, 4, 0, 4, True, np.zeros(4, np.float32))
    counts = [_warp.bilinear_count(*args, {}) for _ in range(3)]
    assert counts == [7, 7, 7] and _warp.bilinear_count(*args) == 7
    # The first plain count compiles (not counted); the second repays a compile that costs (almost) nothing here.
    assert calls == ["plain", "plain", "span", "plain"] and warm == {"spans-uint8"}
    calls.clear()
    monkeypatch.setattr(_warp, "_SPAN_COUNT", {})  # a new process: the cache holds the span count
    _warp.bilinear_count(*args, {})
    assert calls == ["span"]
    calls.clear()
    monkeypatch.setattr(_warp, "SPAN_COUNT_AFTER_S", 1e9)
    alpha16 = alpha.astype(np.uint16)
    _warp.bilinear_count(alpha16, *args[1:], {})
    _warp.bilinear_count(alpha16, *args[1:], {})
    _warp.use_span_count(["uint16"])
    _warp.bilinear_count(alpha16, *args[1:], {})
    assert calls == ["plain", "plain", "span"] and "spans-uint16" in warm


def test_a_first_normalize_compiles_no_span_count_and_precompile_caches_it(tmp_path):
    """The span count and the compiled search: not compiled by a first normalize, by precompile, then loaded."""
    root = _copy_package(tmp_path)
    code = (
        "import json, sys, numpy as np, pixscale\n"
        "from pixscale.bench import test_image\n"
        "from pixscale._precompile import precompile\n"
        "from pixscale.kernels import probe, search\n"
        "kernels = (probe.count_spans, search.search_scale)\n"
        "img = test_image(64)\n"
        "out = pixscale.normalize(img)\n"
        "first = [len(k.signatures) for k in kernels]\n"
        "if sys.argv[1:] == ['precompile']:\n"
        "    precompile(['uint8'])\n"
        "again = pixscale.normalize(img)\n"
        "print(json.dumps({'first': first, 'after': [len(k.signatures) for k in kernels],\n"
        "                  'misses': [sum(k.stats.cache_misses.values()) for k in kernels],\n"
        "                  'same': bool((out == again).all())}))\n"
    )
    cache = tmp_path / "cache"
    full = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    full.update(PYTHONPATH=str(root), PIXSCALE_CACHE_DIR=str(cache))
    runs = []
    for argv in (["plain"], ["precompile"], ["plain"]):
        proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=root, env=full, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.splitlines()[-1]))
    # The plain count and the Python search only.
    assert runs[0] == {"first": [0, 0], "after": [0, 0], "misses": [0, 0], "same": True}
    # Both compiled by precompile (the span count by its first probe, the search by its later plans).
    assert runs[1] == {"first": [0, 0], "after": [1, 1], "misses": [1, 1], "same": True}
    # The search from the cache at once: a single view's probes are all inside it.
    assert runs[2] == {"first": [0, 1], "after": [0, 1], "misses": [0, 0], "same": True}


def test_helpers_are_compiled_for_linking_only(tmp_path):
    """A jit_helper's code is linked into its callers, with no machine code or cache entry of its own."""
    root = _copy_package(tmp_path)
    code = (
        "import json, numpy as np, pixscale\n"
        "from pixscale import reference\n"
        "from pixscale.kernels import bilinear, linking, rgba8, store\n"
        "t = pixscale.ScaleTransform(1.5, (3, 3), (4, 4), (6, 6), (9, 9))\n"
        "img16 = np.zeros((6, 6, 4), np.uint16); img16[2:4, 2:4] = 200\n"
        "out = pixscale.warp(img16, t)\n"
        "img = img16.astype(np.uint8); out8 = pixscale.warp(img, t)\n"
        "helpers = [store.finish, store.rounded, bilinear._hpass, store.store_premult4, rgba8._upscale4,\n"
        "           rgba8._upscale4_strip, rgba8._strip_rows, rgba8.window_controls]\n"
        "libs = [c.library for h in helpers for c in h.overloads.values()]\n"
        "print(json.dumps({'file': pixscale.__file__, 'compiled': len(libs),\n"
        "                  'link_only': all(isinstance(lib, linking._LinkOnlyLibrary) for lib in libs),\n"
        "                  'cached': any(h._cache._enabled for h in helpers),\n"
        "                  'same': bool((out8 == reference.warp(img, t)).all()\n"
        "                               and (out == reference.warp(img16, t)).all())}))\n"
    )
    out, _ = _run(code, root, PIXSCALE_CACHE_DIR=tmp_path / "cache")
    assert out["compiled"] >= 7 and out["link_only"] and not out["cached"] and out["same"]


def test_only_a_uint8_warp_compiles_the_rgba_row_loops(tmp_path):
    """A first uint16 RGBA warp takes the general loop and compiles neither ``_upscale4`` nor ``_downscale4``
    (its cold start); a uint8 one compiles each once. Both give the NumPy reference's pixels, up and down."""
    root = _copy_package(tmp_path)
    code = (
        "import json, numpy as np\n"
        "from pixscale import reference, warp, ScaleTransform\n"
        "from pixscale.kernels import rgba8\n"
        "rng = np.random.default_rng(3)\n"
        "seen, same = [], []\n"
        "for dt in (np.uint16, np.uint8):\n"
        "    img = rng.integers(0, np.iinfo(dt).max, (40, 36, 4), dtype=dt)\n"
        "    for scale in (1.7, 0.6):\n"
        "        t = ScaleTransform(scale, (18.0, 20.0), (32.0, 32.0), img.shape[:2], (64, 64))\n"
        "        for premultiplied in (False, True):\n"
        "            out = warp(img, t, premultiplied=premultiplied)\n"
        "            ref = reference.warp(img, t, premultiplied=premultiplied)\n"
        "            same.append(int(np.abs(out.astype(np.int64) - ref.astype(np.int64)).max()))\n"
        "    loops = (rgba8._upscale4, rgba8._downscale4)\n"
        "    seen.append([sorted(str(s[0].dtype) for s in f.signatures) for f in loops])\n"
        "print(json.dumps({'seen': seen, 'same': same}))\n"
    )
    full = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
    full.update(PYTHONPATH=str(root), PIXSCALE_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["seen"] == [[[], []], [["uint8"], ["uint8"]]]
    assert max(got["same"]) <= 1  # within the reference's 1 LSB


def test_a_first_image_compiles_the_warp_of_its_channel_count_alone(tmp_path):
    """A first uint16 RGBA ``normalize`` (exact mode's plain probes, then the warp) compiles ``warp_window4``
    and not the general loop; a first gray+alpha one the general loop alone. Both give the reference's pixels."""
    root = _copy_package(tmp_path)
    code = (
        "import json, sys, numpy as np, pixscale\n"
        "from pixscale import reference\n"
        "from pixscale.kernels import bilinear\n"
        "nc = int(sys.argv[1])\n"
        "yy, xx = np.mgrid[0:48, 0:40]\n"
        "img = np.zeros((48, 40, nc), np.uint16)\n"
        "img[..., :-1] = 20000\n"
        "img[..., -1] = np.clip(60000 - 400 * ((xx - 17.3) ** 2 + (yy - 22.1) ** 2), 0, 65535)\n"
        "t = pixscale.plan(img)\n"
        "out = pixscale.warp(img, t)  # normalize's two steps\n"
        "ref = reference.warp(img, t)\n"
        "print(json.dumps({'compiled': [len(k.signatures) for k in (bilinear.warp_window, bilinear.warp_window4)],\n"
        "                  'lsb': int(np.abs(out.astype(np.int64) - ref.astype(np.int64)).max()),\n"
        "                  'on_target': bool(t.on_target)}))\n"
    )
    got = {nc: _run(code, root, str(nc), PIXSCALE_CACHE_DIR=tmp_path / "cache")[0] for nc in (4, 2)}
    assert got[4]["compiled"] == [0, 1] and got[2]["compiled"] == [1, 0]
    assert all(g["lsb"] <= 1 and g["on_target"] for g in got.values())


def test_a_target_without_a_byte_shuffle_gives_the_same_bytes(tmp_path):
    """Where the target has no SSSE3 byte shuffle, simd.lerp16_window loads its taps pair by pair:
    the same warp, byte for byte, as with the shuffle (a fresh cache, so both are compiled)."""
    root = _copy_package(tmp_path)
    code = (
        "import json, sys, hashlib, numpy as np\n"
        "from pixscale.kernels import simd\n"
        "seen = []\n"
        "real = simd.has_byte_shuffle\n"
        "def asked(context):\n"
        "    seen.append(real(context))\n"
        "    return sys.argv[1:] == ['on'] and real(context)\n"
        "simd.has_byte_shuffle = asked\n"
        "from pixscale import warp, ScaleTransform\n"
        "rng = np.random.default_rng(5)\n"
        "img = rng.integers(0, 256, (150, 700, 4), dtype=np.uint8)\n"
        "h = hashlib.sha1()\n"
        "for scale in (1.0, 1.13, 1.76):\n"
        "    t = ScaleTransform(scale, (351.5, 70.2), (400.0, 90.0), img.shape[:2], (180, 800))\n"
        "    for premultiplied in (False, True):\n"
        "        h.update(warp(img, t, premultiplied=premultiplied).tobytes())\n"
        "print(json.dumps({'sha1': h.hexdigest(), 'seen': seen}))\n"
    )
    digests = []
    for mode in ("on", "off"):
        full = {k: v for k, v in os.environ.items() if k not in CACHE_ENV}
        full.update(PYTHONPATH=str(root), PIXSCALE_CACHE_DIR=str(tmp_path / f"cache-{mode}"))
        proc = subprocess.run([sys.executable, "-c", code, mode], cwd=root, env=full, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout.splitlines()[-1])
        assert got["seen"], "the window's code generation did not ask for the byte shuffle"
        if not all(got["seen"]):
            pytest.skip("this machine has no byte shuffle: both runs take the pairs")
        digests.append(got["sha1"])
    assert digests[0] == digests[1]
