"""Paces a run for the tests that interrupt one: every sample waits ``PIXSCALE_TEST_PACE`` seconds first.

Put on ``PYTHONPATH`` by the ``paced_env`` fixture (tests/pipeline/conftest.py), so it runs in every
process of the run (the command, the fork server, worker processes, Dask workers): a test that sends a
signal once some samples are done then knows the run is still busy, however fast the machine is.
The outputs are those of an unpaced run.
"""

import os
import time

_pace = float(os.environ.get("PIXSCALE_TEST_PACE", "0") or 0)
if _pace > 0:
    from pixscale.pipeline import unit

    _process_sample = unit.process_sample

    def _paced(*args, **kwargs):
        time.sleep(_pace)
        return _process_sample(*args, **kwargs)

    unit.process_sample = _paced
