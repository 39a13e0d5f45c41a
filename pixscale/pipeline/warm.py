"""Imported by the fork server of a run's worker processes, and by nothing else: load the run's kernels once.

A local process pool forks its workers from one server process (the
``forkserver`` start method), which imports this module before it forks
any.  When ``PIXSCALE_WARM_KERNELS`` (:data:`~pixscale.pipeline.workers.WARM_ENV`,
set for the server alone) names an image dtype, channel count and filter
(``"uint8 4 bilinear"``: :func:`~pixscale.pipeline.workers.kernels_for`),
the kernels a dataset run needs are loaded there,
from the cache (or compiled into it), so every worker starts with them
instead of importing Numba and loading the cache on its own.  No kernel is
``parallel=True``, so no threading layer has started before the fork.

Anything that goes wrong here is ignored: the workers then load the kernels
themselves, as they always could.  Importing this module anywhere else does
nothing unless that variable is set.
"""

import os

from .workers import WARM_ENV, parse_kernels


def load(spec):
    """Load the kernels of ``spec`` (``"DTYPE CHANNELS FILTER"``); False if that failed (the workers load them)."""
    try:
        dtype, channels, filter = parse_kernels(spec)
        from .._precompile import precompile

        precompile([dtype], filter=filter, channels=channels)
    except Exception:  # a damaged cache, an unknown dtype: the workers load or compile lazily, as before
        return False
    return True


_spec = os.environ.pop(WARM_ENV, "")  # the workers forked from here need not see it
if _spec:
    load(_spec)
