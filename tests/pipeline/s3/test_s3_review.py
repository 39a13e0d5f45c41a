"""Review of runs on S3 (moto's server on 127.0.0.1): the long tail of keys and images a bucket holds."""

import numpy as np
import pytest

from pixscale.pipeline.driver import run
from pixscale.pipeline.io import encode_png, read_view
from pixscale.pipeline.store import Store, StoreError
from pixscale.pipeline.storerun import open_stores


def _run(s3, src, out, **kwargs):
    rows, _ = run(src, out, jobs=1, plots=False, quiet=True, storage_options=s3.storage_options, **kwargs)
    return rows


def test_a_16_bit_dataset_stays_16_bit_through_s3_with_the_bytes_of_a_local_run(s3, tmp_path):
    local = s3.upload_dataset("src", n_samples=2, n_views=2, size=32)
    for view in sorted(local.rglob("cam_*.png")):
        view.write_bytes(encode_png(read_view(view).astype(np.uint16) * 257))
    s3.upload(local, "in")
    rows = _run(s3, s3.url("in"), s3.url("out"))
    local_rows, _ = run(local, tmp_path / "out", jobs=1, plots=False, quiet=True)
    assert [r["status"] for r in rows] == [r["status"] for r in local_rows] == ["ok"] * 4
    outputs = sorted(k for k in s3.listing("out/") if k.endswith(".png"))
    assert len(outputs) == 4
    for key in outputs:
        path = tmp_path / "got.png"
        path.write_bytes(s3.read(key))
        assert read_view(path).dtype == np.uint16
        assert s3.read(key) == (tmp_path / key).read_bytes()


def test_a_prefix_that_shares_a_string_prefix_is_neither_listed_nor_an_overlap(s3):
    s3.upload_dataset("in", n_samples=2, n_views=2, size=32)
    s3.upload_dataset("in2", n_samples=3, n_views=2, size=32)
    keys = sorted(o.key for o in Store.open(s3.url("in"), s3.storage_options).walk())
    assert keys and all(k.startswith(("sample_000/", "sample_001/", "train.txt")) for k in keys)
    src, dst = open_stores(s3.url("in"), s3.url("in2"), s3.storage_options)
    assert not src.overlaps(dst) and not dst.overlaps(src)
    for out in ["in", "in/", "in/out", ""]:
        with pytest.raises(StoreError, match="overlap"):
            open_stores(s3.url("in"), s3.url(out) or f"s3://{s3.name}/", s3.storage_options)


@pytest.mark.parametrize("name", ["with space", "unicodé-中", "hash#tag", "query?x=1", "per%20cent", "plus+sign"])
def test_prefixes_with_characters_urls_treat_specially_run_as_any_other(s3, name):
    s3.upload_dataset(f"{name}/in", n_samples=1, n_views=2, size=32)
    rows = _run(s3, s3.url(f"{name}/in"), s3.url(f"{name}/out"))
    assert [r["status"] for r in rows] == ["ok", "ok"]
    written = s3.listing(f"{name}/out/")
    assert f"{name}/out/sample_000/images/cam_000.png" in written
    assert all(k.startswith(f"{name}/") for k in s3.listing())  # nothing written outside, under another name


@pytest.mark.parametrize("folder", [".", "..", ""])
def test_a_stray_key_with_a_dot_or_empty_segment_fails_its_sample_not_the_run(s3, folder):
    """S3 keys may hold ``.``, ``..`` and empty segments (``in/../x``, ``in//x``); no folder can.  One such
    object under the input prefix fails as a sample of its own, with the reason: the dataset's other samples
    run, and nothing is read or written outside the prefixes."""
    s3.upload_dataset("in", n_samples=2, n_views=2, size=32)
    s3.put(f"in/{folder}/opencv_cameras.json", b'{"frames": [{"file_path": "images/cam_000.png"}]}')
    rows = _run(s3, s3.url("in"), s3.url("out"))
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    assert len(ok) == 4 and len(failed) == 1
    assert "segment" in failed[0]["error"] and "StoreError" not in failed[0]["error"]
    assert all(k.startswith(("in/", "out/")) for k in s3.listing())
