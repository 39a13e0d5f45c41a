"""Packaging promises: version, no import-time work, kernel flags, reference parity of names."""

import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pixscale
from pixscale.kernels import bilinear as _kernels


def test_version_comes_from_metadata():
    assert pixscale.__version__ == importlib.metadata.version("pixscale")


def test_public_names():
    for name in (
        "measure",
        "plan",
        "plan_group",
        "warp",
        "normalize",
        "normalize_batch",
        "ScaleTransform",
        "Measurement",
        "EmptyMaskError",
        "reference",
    ):
        assert name in pixscale.__all__ and hasattr(pixscale, name)
    assert "reference" in dir(pixscale)


def test_reference_is_an_attribute_imported_on_first_use():
    """README lists ``pixscale.reference``; it must work after a plain ``import pixscale``."""
    code = (
        "import sys, numpy as np, pixscale\n"
        "before = 'pixscale.reference' in sys.modules\n"
        "m = pixscale.reference.measure(np.full((3, 3), 255, np.uint8))\n"
        "print(before, pixscale.reference is sys.modules['pixscale.reference'], m.count, 'numba' in sys.modules)\n"
        "try:\n"
        "    pixscale.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "9", "False", "AttributeError"]


def test_import_does_not_load_numba_until_a_kernel_is_needed():
    code = (
        "import sys, numpy as np, pixscale, pixscale.reference, pixscale.cli\n"
        "t = pixscale.ScaleTransform(1, (2, 2), (2, 2), (4, 4), (4, 4))\n"
        "pixscale.reference.warp(np.ones((4, 4), np.uint8), t)\n"
        "before = 'numba' in sys.modules\n"
        "pixscale.measure(np.ones((4, 4), np.uint8))\n"
        "print(before, 'numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_the_cpu_path_never_loads_the_gpu_code():
    """``import pixscale`` and NumPy calls leave numba.cuda, pixscale's GPU modules, CuPy and torch unloaded.

    The GPU path (``pip install "pixscale[cuda]"``) is taken only for device arrays, and imported then:
    numba.cuda's import alone costs about a second and needs numba-cuda, an optional extra.
    """
    code = (
        "import sys, numpy as np, pixscale, pixscale.cli\n"
        "img = np.zeros((32, 32, 4), np.uint8); img[8:20, 10:24] = 255\n"
        "m = pixscale.measure(img); t = pixscale.plan(img, target=0.4)\n"
        "pixscale.warp(img, t); pixscale.normalize(img); pixscale.normalize(img, exact=False)\n"
        "pixscale.normalize_batch(np.stack([img, img]), threads=2); pixscale.Normalizer(0.4)(img)\n"
        "gpu = ('numba.cuda', 'numba_cuda', 'pixscale._gpu', 'pixscale.kernels.gpu', 'cupy', 'torch')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'torch', 'numba_cuda')\n"
        "             or any(m == g or m.startswith(g + '.') for g in gpu)))\n"
    )
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["[]"]


def test_import_compiles_nothing_and_changes_no_numba_setting():
    code = (
        "import json, numba, numba.core.config as c\n"
        "before = {k: getattr(c, k) for k in dir(c) if k.isupper()}\n"
        "import pixscale, pixscale.reference\n"
        "from pixscale.kernels import bilinear as _kernels\n"
        "after = {k: getattr(c, k) for k in dir(c) if k.isupper()}\n"
        "kernels = [v for v in vars(_kernels).values() if isinstance(v, numba.core.dispatcher.Dispatcher)]\n"
        "print(json.dumps({'n': len(kernels), 'compiled': sum(len(k.signatures) for k in kernels),\n"
        "                  'same': repr(before) == repr(after)}))\n"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["n"] >= 2 and out["compiled"] == 0 and out["same"]


def _dispatchers():
    """Every numba dispatcher of the CPU kernels' modules (``pixscale/kernels/*.py``), by name."""
    import importlib
    from pathlib import Path

    import numba

    folder = Path(_kernels.__file__).parent
    found = {}
    for path in sorted(folder.glob("[!_]*.py")):
        module = importlib.import_module(f"pixscale.kernels.{path.stem}")
        found.update((n, v) for n, v in vars(module).items() if isinstance(v, numba.core.dispatcher.Dispatcher))
    return found


def test_kernel_flags_are_decided_once():
    """Every kernel releases the GIL, is cached, and uses one fastmath set that changes no result bit.

    ``nsz``, ``arcp`` and ``afn`` are the flags under which a product or a sum is still the IEEE
    one (the kernels take reciprocals explicitly); ``reassoc`` or ``contract`` would let LLVM
    reorder or fuse arithmetic differently in different kernels, ``nnan``/``ninf``/``fast``
    would assume NaN and infinity away.
    """
    kernels = _dispatchers()
    assert {"measure_alpha", "measure_words", "warp_window", "warp_bilinear", "count_above"} <= set(kernels)
    assert "axis_taps" in kernels
    assert {"warp_taps", "lanczos_taps", "area_taps", "finish"} <= set(kernels)
    assert {"count_spans", "probe_rows", "warp_rgba8_up", "search_scale", "warp_window4", "finish4"} <= set(kernels)
    strict = {"axis_taps", "lanczos_taps", "area_taps", "_lanczos8", "area_width"}  # taps: no fastmath at all
    # exact mode's compiled search: every float operation as the Python search's (kernels/search.py)
    strict |= {n for n, k in kernels.items() if k.py_func.__module__ == "pixscale.kernels.search"}
    sets = set()
    for name, kernel in kernels.items():
        opts = kernel.targetoptions
        assert opts["nogil"] is True, name
        assert type(kernel._cache).__name__ == "KernelCache", name  # cached in pixscale.kernels.cache
        if name in strict:
            assert opts["fastmath"] is False, name
        else:
            sets.add(frozenset(opts["fastmath"]))
    assert len(sets) == 1, sets
    (flags,) = sets
    assert flags <= {"nsz", "arcp", "afn"}, flags


_TAPS_CODE = """
import sys, numba, numpy as np
from pixscale.kernels import bilinear as _kernels
from pixscale import reference
i0, i1, w0, w1 = np.empty(97, np.int64), np.empty(97, np.int64), np.empty(97), np.empty(97)
if sys.argv[1] == "inside-fastmath":  # compiled first as the callee of a fastmath kernel
    fm = _kernels.warp_bilinear.targetoptions["fastmath"]
    numba.njit(fastmath=fm)(lambda *a: _kernels.axis_taps(5, 80, 1.13, 41.3, 48.5, *a))(i0, i1, w0, w1)
ok = []
for scale in (0.3, 0.7, 1.13, 1.76, 3.0):
    _kernels.axis_taps(5, 80, scale, 41.3, 48.5, i0, i1, w0, w1)
    r0, rw0, r1, rw1 = reference.axis_taps(102, 80, scale, 41.3, 48.5, np.float64)
    ok.append(all(np.array_equal(a, b[5:]) for a, b in ((i0, r0), (w0, rw0), (i1, r1), (w1, rw1))))
print(all(ok))
"""

_INHERITS = _kernels.axis_taps.targetoptions.get("fastmath") is not False


@pytest.mark.parametrize(
    "first",
    [
        "standalone",
        pytest.param(
            "inside-fastmath",
            marks=pytest.mark.xfail(
                _INHERITS,
                strict=True,
                reason="numba: axis_taps inherits a fastmath caller's flags unless "
                "pixscale.kernels.jit_strict passes fastmath=False explicitly",
            ),
        ),
    ],
)
def test_taps_are_computed_without_fastmath(tmp_path, first):
    """The taps are the reference's taps bit for bit, whichever kernel compiles them first.

    numba lets a kernel without an explicit ``fastmath`` inherit the flags of the kernel whose
    compilation first needs it: the taps would then divide through a reciprocal, and warp
    results (and exact mode's probe vs the full warp) would depend on which kernel compiled
    first.  Each case compiles in a fresh cache, in its own process.
    """
    opts = _kernels.axis_taps.targetoptions
    assert opts["nogil"] is True and not opts.get("fastmath")
    env = dict(os.environ, PIXSCALE_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", _TAPS_CODE, first], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.split() == ["True"]


def test_every_public_callable_is_typed():
    """Type hints on every public function and method, and the package says so (py.typed)."""
    import inspect
    import pathlib

    assert (pathlib.Path(pixscale.__file__).parent / "py.typed").exists()
    missing = []
    for name in pixscale.__all__:
        obj = getattr(pixscale, name)
        funcs = [(name, obj)] if inspect.isfunction(obj) else []
        if inspect.isclass(obj) and not issubclass(obj, Exception):
            funcs = [
                (f"{name}.{m}", f)
                for m, f in vars(obj).items()
                if inspect.isfunction(f) and (not m.startswith("_") or m in ("__init__", "__call__"))
            ]
        for qual, f in funcs:
            sig = inspect.signature(f)
            untyped = [
                p for p in sig.parameters.values() if p.name != "self" and p.annotation is inspect.Parameter.empty
            ]
            if untyped or sig.return_annotation is inspect.Signature.empty:
                missing.append(qual)
    assert not missing, missing


def test_the_canvas_limit_has_one_home_in_the_image_api(monkeypatch):
    """MAX_PIXELS lives in _validate (the image API no longer imports the pipeline for it); io reads it there."""
    from pixscale import _validate
    from pixscale.pipeline import io

    assert io.MAX_PIXELS is _validate.MAX_PIXELS == 2**28
    img = np.zeros((48, 48, 4), np.uint8)
    img[10:24, 14:30] = 255
    monkeypatch.setattr(_validate, "MAX_PIXELS", 40 * 40)
    with pytest.raises(ValueError, match=r"`output_shape=\(40, 41\)` has 1,640 pixels, more than .* 1,600"):
        pixscale.normalize(img, output_shape=(40, 41))
    assert pixscale.normalize(img, output_shape=(40, 40)).shape == (40, 40, 4)
    code = (
        "import sys, numpy as np, pixscale\n"
        "pixscale.normalize(np.ones((4, 4)), output_shape=(8, 8))\n"
        "print('pixscale.pipeline' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]
