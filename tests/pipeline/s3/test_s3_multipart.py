"""An object too large for one PutObject (over 100 MiB) goes up in parts; a failed part leaves nothing behind."""

import pytest

from pixscale.pipeline.store import Store

pytestmark = pytest.mark.slow  # 101 MiB through the S3 protocol


def test_a_multipart_upload_cut_by_a_failed_part_leaves_no_object_and_no_upload(s3, monkeypatch):
    store = Store.open(s3.url("out"), s3.storage_options, name="OUT_DIR")
    fs = store.fs
    real = fs._call_s3
    calls = []

    async def failing(method, *args, **kwargs):
        calls.append(method)
        if method == "upload_part" and kwargs.get("PartNumber") == 2:
            raise OSError("connection reset by peer (injected)")
        return await real(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", failing)
    monkeypatch.setattr(fs, "max_concurrency", 1)  # parts one after another: part 1 is stored when part 2 fails
    data = bytes(101 * 2**20)  # above twice s3fs's 50 MiB chunk: a multipart upload
    with pytest.raises(OSError, match="injected"):
        store.put("big.bin", data)
    assert calls.count("upload_part") == 2 and "complete_multipart_upload" not in calls
    assert s3.listing() == {}  # no object, whole or partial
    assert s3.uploads() == []  # and no upload left open: its parts are reclaimed
    monkeypatch.setattr(fs, "_call_s3", real)
    store.put("big.bin", data)  # the same object, written whole on a second try
    assert list(s3.listing()) == ["out/big.bin"] and s3.read("out/big.bin") == data
