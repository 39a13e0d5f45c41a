"""Fixtures of the pipeline tests."""

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def paced_env():
    """The environment of a ``python -m pixscale`` run whose samples each wait 0.3 s first (paced/sitecustomize.py).

    For tests that interrupt a run once some samples are done: the run is then still busy, on a fast
    machine too (an unpaced run of their datasets can end before the signal arrives).
    """
    path = [str(Path(__file__).parent / "paced"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p), "PIXSCALE_TEST_PACE": "0.3"}


@pytest.fixture
def bucket():
    """A fresh prefix of ``memory://`` (process-global: unique per test), removed afterwards."""
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    name = f"/t-{uuid.uuid4().hex[:10]}"
    yield name
    if memory.exists(name):
        memory.rm(name, recursive=True)
