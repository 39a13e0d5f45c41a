"""pixscale: give every object in an RGBA image set the same apparent size.

The size of an object is measured by its foreground pixel area, not its
bounding box: ``size_ratio = sqrt(count(alpha > threshold) / (H * W))``.
Each image is scaled by ``target / size_ratio`` about the object's centre
with a bilinear resample-and-pad, and the camera intrinsics follow.

Main entry points: :func:`measure`, :func:`plan`, :func:`warp`,
:func:`normalize` (its options in one :class:`Options`) and
:class:`ScaleTransform`; :mod:`pixscale.reference` holds plain NumPy
implementations with identical semantics (imported on first use).
"""

import os
from typing import Any

from ._measure import Measurement, measure
from ._normalize import Normalizer, normalize, normalize_batch
from ._object import ObjectMask
from ._options import Options
from ._plan import plan, plan_group
from ._transform import ScaleTransform
from ._validate import EmptyMaskError, VanishedObjectError
from ._version import __version__
from ._warp import warp

__all__ = [
    "EmptyMaskError",
    "Measurement",
    "Normalizer",
    "ObjectMask",
    "Options",
    "ScaleTransform",
    "VanishedObjectError",
    "measure",
    "normalize",
    "normalize_batch",
    "plan",
    "plan_group",
    "reference",
    "run_dataset",
    "warp",
    "__version__",
]

_LAZY_SUBMODULES = ("reference", "presets")


def run_dataset(in_dir: str | os.PathLike, out_dir: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """Normalize a dataset folder, as ``pixscale run`` does, and return its summary.

    Parameters
    ----------
    in_dir, out_dir : path
        The dataset (GS-LRM, MVDiffusion or flat) and a new output folder.
    **kwargs
        ``executor``, ``scheduler``, ``jobs``, ``pool``, ``layout``,
        ``resume``, ``quiet``, ``progress``, ``report_dir``, ``plots`` and the
        options of ``pixscale run`` (``target=0.3``, ``fit="shift"``,
        ``scale``, ...); see :func:`pixscale.pipeline.driver.run_dataset`.
        Nothing is printed: messages go to the ``"pixscale"`` logger when
        ``quiet=False``, and ``progress=tqdm.tqdm`` draws a progress bar.

    Returns
    -------
    dict
        The run's summary (:func:`pixscale.report.summary.summarize`).

    Raises
    ------
    ValueError
        For a bad option, input or output folder, before anything is written.

    Examples
    --------
    >>> import tempfile, pathlib, pixscale
    >>> from pixscale import synth
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = synth.write_dataset(tmp / "in", n_samples=1, n_views=2, size=64)
    >>> summary = pixscale.run_dataset(tmp / "in", tmp / "out", jobs=1, plots=False)
    >>> summary["n_ok"], round(summary["after"]["mean"], 3)
    (2, 0.3)
    """
    from .pipeline.driver import run_dataset

    return run_dataset(in_dir, out_dir, **kwargs)


def __getattr__(name):
    # `pixscale.reference` (and `pixscale.presets`) without an import of their own, imported on first use.
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
