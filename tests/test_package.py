"""Packaging promises: version, no import-time work, kernel flags, reference parity of names."""

import importlib.metadata
import json
import subprocess
import sys

import numpy as np

import pixscale
from pixscale import _config, _kernels


def test_version_comes_from_metadata():
    assert pixscale.__version__ == importlib.metadata.version("pixscale")


def test_public_names():
    for name in ("measure", "plan", "plan_group", "warp", "normalize", "normalize_batch", "ScaleTransform",
                 "Measurement", "EmptyMaskError"):
        assert name in pixscale.__all__ and hasattr(pixscale, name)


def test_import_does_not_load_numba_until_a_kernel_is_needed():
    code = (
        "import sys, numpy as np, pixscale, pixscale.reference, pixscale.cli\n"
        "before = 'numba' in sys.modules\n"
        "pixscale.measure(np.ones((4, 4), np.uint8))\n"
        "print(before, 'numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_import_compiles_nothing_and_changes_no_numba_setting():
    code = (
        "import json, numba, numba.core.config as c\n"
        "before = {k: getattr(c, k) for k in dir(c) if k.isupper()}\n"
        "import pixscale, pixscale.reference\n"
        "from pixscale import _kernels\n"
        "after = {k: getattr(c, k) for k in dir(c) if k.isupper()}\n"
        "kernels = [v for v in vars(_kernels).values() if isinstance(v, numba.core.dispatcher.Dispatcher)]\n"
        "print(json.dumps({'n': len(kernels), 'compiled': sum(len(k.signatures) for k in kernels),\n"
        "                  'same': repr(before) == repr(after)}))\n"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["n"] >= 2 and out["compiled"] == 0 and out["same"]


def test_kernel_flags_are_decided_once():
    for kernel in (_kernels.measure_alpha, _kernels.warp_bilinear):
        opts = kernel.targetoptions
        assert opts["nogil"] is True
        assert type(kernel._cache).__name__ == "FunctionCache"  # cache=True
        assert opts["fastmath"] == _config.FASTMATH
        assert not {"nnan", "ninf", "fast"} & set(_config.FASTMATH)


def test_taps_are_computed_without_fastmath():
    """The taps must be bit-identical in every kernel that inlines them (probe and full warp)."""
    opts = _kernels.axis_taps.targetoptions
    assert opts["nogil"] is True and not opts.get("fastmath")
    i0, i1 = np.empty(97, np.int64), np.empty(97, np.int64)
    w0, w1 = np.empty(97), np.empty(97)
    for scale in (0.3, 0.7, 1.13, 1.76, 3.0):
        _kernels.axis_taps(5, 80, scale, 41.3, 48.5, i0, i1, w0, w1)
        u = (np.arange(5, 102) + 0.5 - 48.5) / scale + 41.3 - 0.5  # the reference's formula
        np.testing.assert_array_equal(i0, np.clip(np.floor(u), 0, 79))
        f = u - np.floor(u)
        np.testing.assert_array_equal(w1, np.where((np.floor(u) + 1 >= 0) & (np.floor(u) + 1 < 80), f, 0.0))
