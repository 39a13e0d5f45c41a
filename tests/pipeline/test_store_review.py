"""Review of runs on an object store (``memory://``): the long tail of what sits in an output prefix."""

import pytest

from pixscale import synth
from pixscale.pipeline.dataset import MANIFEST_CHUNKS
from pixscale.pipeline.driver import run
from pixscale.pipeline.store import StoreError

fsspec = pytest.importorskip("fsspec")
MEM = fsspec.filesystem("memory")


@pytest.fixture
def urls(tmp_path, bucket):
    """A small GS-LRM dataset in ``memory://BUCKET/in``; ``(IN_DIR, OUT_DIR)`` URLs."""
    synth.write_dataset(tmp_path / "in", n_samples=2, n_views=2, size=32, threads=1)
    for p in sorted((tmp_path / "in").rglob("*")):
        if p.is_file():
            MEM.pipe_file(f"{bucket}/in/{p.relative_to(tmp_path / 'in').as_posix()}", p.read_bytes())
    return f"memory:/{bucket}/in", f"memory:/{bucket}/out"


def _outputs(prefix):
    return {p: MEM.cat_file(p) for p in MEM.find(prefix) if p.endswith((".png", "opencv_cameras.json"))}


@pytest.mark.parametrize("name", ["notes.jsonl", "old/00000000.jsonl", "0000000a.jsonl"])
def test_resume_reads_only_the_chunk_objects_of_the_manifest(urls, bucket, name):
    """An object under pixscale-manifest/ that is not a numbered chunk (a note, a copy in a subfolder) is not
    read as the manifest's next lines, does not stop ``resume=True`` with a bare int() ValueError, and does not
    make a resumed run number its chunks so that they overwrite the ones committed before."""
    src, out = urls
    rows, _ = run(src, out, jobs=1, plots=False, quiet=True)
    before = _outputs(f"{bucket}/out")
    chunks = f"{bucket}/out/{MANIFEST_CHUNKS}"
    committed = {p: MEM.cat_file(p) for p in MEM.find(chunks)}
    MEM.rm_file(sorted(before)[0])  # one output lost: its sample is done again, and a chunk committed
    MEM.pipe_file(f"{chunks}/{name}", b'{"sample": "sample_000", "rows": "garbage"}\n')
    again, _ = run(src, out, jobs=1, plots=False, quiet=True, resume=True)
    assert again == rows and _outputs(f"{bucket}/out") == before
    assert all(MEM.cat_file(p) == data for p, data in committed.items())  # no committed chunk rewritten
    assert MEM.cat_file(f"{bucket}/out/{MANIFEST_CHUNKS}/{name}").startswith(b'{"sample"')  # left as it was


def test_a_damaged_manifest_on_a_store_is_named_as_the_store_holds_it(urls, bucket):
    """The refusal names the chunk objects' prefix, not a ``pixscale-manifest.jsonl`` the store does not hold."""
    src, out = urls
    run(src, out, jobs=1, plots=False, quiet=True)
    MEM.pipe_file(f"{bucket}/out/{MANIFEST_CHUNKS}/00000000.jsonl", b"")  # the header chunk emptied
    with pytest.raises(StoreError) as err:
        run(src, out, jobs=1, plots=False, quiet=True, resume=True)
    assert f"{out}/{MANIFEST_CHUNKS}/" in str(err.value) and "pixscale-manifest.jsonl" not in str(err.value)


@pytest.mark.parametrize(("first", "then"), [("in/", "in"), ("in", "in/"), ("in//", "in")])
def test_a_run_resumes_whether_or_not_its_prefixes_are_given_with_a_trailing_slash(urls, bucket, first, then):
    """``memory://b/in/`` and ``memory://b/in`` are one prefix: a run started with one resumes with the other
    (it was refused as 'a run of memory://b/in/, not of memory://b/in')."""
    src, out = urls
    base = src[: -len("in")]
    rows, _ = run(base + first, out + "/", jobs=1, plots=False, quiet=True)
    MEM.rm_file(sorted(_outputs(f"{bucket}/out"))[0])
    again, _ = run(base + then, out, jobs=1, plots=False, quiet=True, resume=True)
    assert again == rows
