"""A run whose ``jobs`` are not given gets as many workers as its size is worth; the output is the same.

A small run gets one thread of the calling process (a worker process's
start-up would cost more than it saves); a large one gets worker processes
forked with the kernels loaded.  Which mode a run gets changes no byte of
its output.
"""

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixscale import Options, synth
from pixscale.pipeline import warm, workers
from pixscale.pipeline.driver import run
from pixscale.pipeline.io import write_png
from pixscale.pipeline.workers import png_pixels, size_jobs

VIEW_512 = 512 * 512


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    src = tmp_path_factory.mktemp("size") / "in"
    synth.write_dataset(src, n_samples=3, n_views=2, size=48, seed=3, layout="gslrm")
    return src


def outputs(root):
    """{path: sha256} of the views and cameras a run wrote (the report and bookkeeping left out)."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and (p.suffix == ".png" or p.name == "opencv_cameras.json") and "pixscale-report" not in p.parts
    }


def said_running_on(caplog):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("running on")]


@pytest.mark.parametrize(
    ("cores", "n_views", "pixels", "jobs"),
    [
        (16, 96, VIEW_512, 1),  # the 96-view run: less work than a worker process earns back
        (16, 24, 4096 * 4096, 16),  # few views, but large ones
        (16, 120, VIEW_512, 4),  # a little over the small-run bound: a few processes, not 16
        (16, 600, VIEW_512, 16),  # the study's size
        (2, 600, VIEW_512, 2),  # never more than the cores
        (16, 96, None, 1),  # a size that cannot be read counts as 512 x 512
        (16, 0, VIEW_512, 1),
    ],
)
def test_a_run_gets_as_many_workers_as_its_size_is_worth(cores, n_views, pixels, jobs):
    assert size_jobs(cores, n_views, pixels) == jobs


def test_the_size_of_a_view_is_read_from_its_png_header(tmp_path):
    image = np.zeros((30, 70, 4), np.uint8)
    write_png(tmp_path / "v.png", image)
    assert png_pixels(tmp_path / "v.png") == 30 * 70
    (tmp_path / "not.png").write_bytes(b"GIF89a" + bytes(40))
    assert png_pixels(tmp_path / "not.png") is None
    assert png_pixels(tmp_path / "missing.png") is None
    assert png_pixels(None) is None


def test_a_small_run_without_jobs_runs_on_one_thread_with_the_same_output(small, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="pixscale"):
        rows, _ = run(small, tmp_path / "default", pool="processes", plots=False, report_dir=False)
    assert said_running_on(caplog) == ["running on 1 thread"]  # not the processes asked for: too small
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pixscale"):
        again, _ = run(small, tmp_path / "two", jobs=2, pool="processes", plots=False, report_dir=False)
    assert said_running_on(caplog) == ["running on 2 worker processes"]  # jobs given: as given
    assert {r["status"] for r in rows} == {"ok"} and len(rows) == 6
    assert json.dumps(rows, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert outputs(tmp_path / "default") == outputs(tmp_path / "two") != {}


def test_a_large_run_without_jobs_gets_worker_processes_with_the_same_output(small, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(workers, "VIEW_S_PER_MPIX", 1e6)  # these 48-px views count as a large run
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)  # all cores, as the default is: two
    with caplog.at_level(logging.INFO, logger="pixscale"):
        rows, _ = run(small, tmp_path / "default", pool="processes", plots=False, report_dir=False)
    assert said_running_on(caplog) == ["running on 2 worker processes"]
    one, _ = run(small, tmp_path / "one", jobs=1, plots=False, report_dir=False, quiet=True)
    assert json.dumps(rows, sort_keys=True) == json.dumps(one, sort_keys=True)
    assert outputs(tmp_path / "default") == outputs(tmp_path / "one") != {}


def test_an_executor_or_a_scheduler_is_never_sized(small, tmp_path, caplog):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex, caplog.at_level(logging.INFO, logger="pixscale"):
        rows, _ = run(small, tmp_path / "out", executor=ex, plots=False, report_dir=False)
    assert said_running_on(caplog) == ["running on ThreadPoolExecutor"] and len(rows) == 6


WORKER_KERNELS = """
import sys
from pixscale.pipeline.workers import Workers

def loaded():
    imported = "numba" in sys.modules
    from pixscale.kernels import rgba8
    return imported, len(rgba8.warp_rgba8_up.signatures) > 0

if __name__ == "__main__":
    w = Workers(2, "processes", kernels=sys.argv[1] if len(sys.argv) > 1 else None)
    try:
        print(w.loads_kernels, *w.submit(loaded).result())
    finally:
        w.close()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is POSIX's")
def test_worker_processes_are_forked_with_the_kernels_loaded(tmp_path):
    script = tmp_path / "w.py"
    script.write_text(WORKER_KERNELS)

    def ask(*args):
        out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert ask("uint8 4 bilinear") == ["True", "True", "True"]  # loaded before the fork: no compile, no import
    assert ask() == ["False", "False", "False"]  # none named: nothing is loaded until a unit needs it


def test_the_fork_servers_loading_never_fails_it():
    assert warm.load("uint8 4 bilinear") is True
    assert warm.load("int3 4 bilinear") is False  # an unknown dtype: the workers load what they need themselves
    assert warm.load("uint8 3 bilinear") is False  # no such kind of view
    assert warm.load("uint8 bilinear") is False  # no channel count
    assert warm.load("nonsense") is False


def test_the_kernels_a_run_loads_are_those_of_its_first_views_header(tmp_path):
    """kernels_for: the dtype and channel count read_view will give the first view (both counts where its
    PNG has no alpha: a masked view's mask adds one); None where the header cannot tell."""
    rgba16 = tmp_path / "rgba16.png"
    write_png(rgba16, np.zeros((4, 5, 4), np.uint16))
    la8 = tmp_path / "la8.png"
    write_png(la8, np.zeros((4, 5, 2), np.uint8))
    rgb8 = tmp_path / "rgb8.png"
    write_png(rgb8, np.zeros((4, 5, 3), np.uint8))
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a png")
    plain = Options()
    assert workers.kernels_for(rgba16, Options(filter="auto")) == "uint16 4 auto"
    assert workers.kernels_for(la8, plain) == "uint8 2 bilinear"
    assert workers.kernels_for(rgb8, plain) == "uint8 4,2 bilinear"
    assert workers.kernels_for(tmp_path / "a.jpg", plain) is None
    assert workers.kernels_for(None, plain) is None
    # Specks kept: each view's object is warped alone, one channel (the gray+alpha loop); erased, it is not.
    assert workers.kernels_for(rgba16, Options(min_component=0.05)) == "uint16 4,2 bilinear"
    assert workers.kernels_for(rgba16, Options(keep="largest", erase_specks=True)) == "uint16 4 bilinear"
    assert workers.parse_kernels("uint8 4,2 bilinear") == ("uint8", (4, 2), "bilinear")


def test_the_coordinator_loads_the_kernels_itself_when_the_cache_cannot_say(monkeypatch):
    from pixscale.kernels import cache

    assert workers.kernels_cached(None) is False
    monkeypatch.setattr(cache, "is_warm", lambda label: 1 / 0)
    assert workers.kernels_cached("uint8 4 bilinear") is False
