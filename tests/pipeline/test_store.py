"""Runs on an object store, tested on fsspec's ``memory://``: the same bytes as a folder run, the manifest as the
commit point, the lock, and the refusals before any work (the S3 protocol itself is tested in tests/pipeline/s3/)."""

import json

import pytest

from pixscale import synth
from pixscale.cli import main
from pixscale.pipeline import schedule
from pixscale.pipeline.dataset import MANIFEST_CHUNKS
from pixscale.pipeline.driver import measure_dataset, run, run_dataset
from pixscale.pipeline.store import Store, StoreError, is_url, merge_options, parse_storage_option

fsspec = pytest.importorskip("fsspec")
MEM = fsspec.filesystem("memory")


def _objects(prefix):
    """``{key: bytes}`` of every object below ``prefix`` of memory://."""
    if not MEM.exists(prefix):
        return {}
    return {p[len(prefix) + 1 :]: MEM.cat_file(p) for p in MEM.find(prefix)}


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _upload(folder, prefix):
    for key, data in _files(folder).items():
        MEM.pipe_file(f"{prefix}/{key}", data)


def _outputs(objects):
    """The view and cameras outputs of a run (what is byte-identical wherever it ran)."""
    return {k: v for k, v in objects.items() if k.endswith((".png", "opencv_cameras.json")) and "pixscale" not in k}


@pytest.fixture
def dataset(tmp_path, bucket):
    """A small GS-LRM dataset, in a folder and in ``memory://BUCKET/in``."""
    synth.write_dataset(tmp_path / "in", n_samples=4, n_views=2, size=64)
    _upload(tmp_path / "in", f"{bucket}/in")
    return tmp_path / "in", f"memory:/{bucket}/in"


def test_a_store_run_writes_the_bytes_of_a_folder_run_and_nothing_outside_its_output(tmp_path, bucket, dataset):
    local, url = dataset
    before = _objects(bucket)
    rows, _ = run(local, tmp_path / "out", jobs=1, plots=False)
    store_rows, found = run(url, f"memory:/{bucket}/out", jobs=2, plots=False)
    assert found.describe() == "GS-LRM, 4 samples, 8 views"
    assert store_rows == rows
    out = _objects(f"{bucket}/out")
    assert _outputs(out) == _outputs(_files(tmp_path / "out")) and len(_outputs(out)) == 12
    after = _objects(bucket)
    assert {k: v for k, v in after.items() if k.startswith("in/")} == before  # the input is never written
    assert all(k.startswith(("in/", "out/")) for k in after)  # nothing outside the output prefix
    assert not [k for k in out if k.endswith(".part") or k == ".pixscale-lock"]  # no temporary object, no lock
    assert f"{MANIFEST_CHUNKS}/00000000.jsonl" in out and "pixscale-report/report.json" in out
    report = json.loads(out["pixscale-report/report.json"])
    assert report["meta"]["input"] == url and report["meta"]["output"] == f"memory:/{bucket}/out"


def test_resume_after_an_interrupted_run_finishes_with_the_same_bytes(tmp_path, bucket, dataset, monkeypatch):
    local, url = dataset
    out = f"memory:/{bucket}/out"
    run(local, tmp_path / "out", jobs=1, plots=False)
    real, seen = schedule.bad_result, []

    def interrupted(sample, result):  # Ctrl-C as the third sample is recorded
        seen.append(sample.name)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return real(sample, result)

    monkeypatch.setattr(schedule, "bad_result", interrupted)
    with pytest.raises(schedule.RunInterrupted):
        run(url, out, jobs=1, plots=False)
    monkeypatch.setattr(schedule, "bad_result", real)
    chunks = [k for k in _objects(f"{bucket}/out") if k.startswith(MANIFEST_CHUNKS)]
    assert len(chunks) >= 2  # the header, and the committed samples
    with pytest.raises(ValueError, match="pass `resume=True`"):
        run(url, out, jobs=1, plots=False)
    rows, _ = run(url, out, jobs=1, plots=False, resume=True)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    assert _outputs(_objects(f"{bucket}/out")) == _outputs(_files(tmp_path / "out"))
    MEM.rm_file(f"{bucket}/out/sample_002/images/cam_001.png")  # an output lost since: its sample is redone
    MEM.pipe_file(f"{bucket}/out/sample_003/images/cam_000.png", b"cut")  # one of another size too
    run(url, out, jobs=1, plots=False, resume=True)
    assert _outputs(_objects(f"{bucket}/out")) == _outputs(_files(tmp_path / "out"))


def test_a_killed_coordinator_leaves_its_lock_which_refuses_a_run_until_it_is_broken(tmp_path, bucket, dataset):
    local, url = dataset
    out = f"memory:/{bucket}/out"
    run(local, tmp_path / "out", jobs=1, plots=False)
    run(url, out, jobs=1, plots=False)
    # What a coordinator killed mid-run leaves: its lock, samples written but not committed, no report.
    chunks = sorted(k for k in _objects(f"{bucket}/out") if k.startswith(MANIFEST_CHUNKS))
    for key in chunks[1:]:
        MEM.rm_file(f"{bucket}/out/{key}")
    MEM.pipe_file(f"{bucket}/out/{chunks[0][:-6]}99.jsonl", b'{"sample": "sample_000", "inp')  # a cut chunk
    holder = {"host": "node-7", "pid": 4242, "since": "2026-12-05T07:00:00+00:00", "run": "deadbeef"}
    MEM.pipe_file(f"{bucket}/out/.pixscale-lock", json.dumps(holder).encode())
    with pytest.raises(StoreError, match=r"in use by another pixscale run \(host node-7, pid 4242.*`break_lock=True`"):
        run(url, out, jobs=1, plots=False, resume=True)
    rows, _ = run(url, out, jobs=1, plots=False, resume=True, break_lock=True)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    objects = _objects(f"{bucket}/out")
    assert _outputs(objects) == _outputs(_files(tmp_path / "out")) and ".pixscale-lock" not in objects


def test_a_run_stopped_before_it_committed_a_sample_starts_over(tmp_path, bucket, dataset):
    local, url = dataset
    out = f"memory:/{bucket}/out"
    run(local, tmp_path / "out", jobs=1, plots=False)
    run(url, out, jobs=1, plots=False)
    for key in sorted(k for k in _objects(f"{bucket}/out") if k.startswith(MANIFEST_CHUNKS))[1:]:
        MEM.rm_file(f"{bucket}/out/{key}")  # the outputs are there, the header alone committed
    MEM.rm_file(f"{bucket}/out/sample_001/images/cam_000.png")
    rows, _ = run(url, out, jobs=1, plots=False)  # no `resume=True` needed: nothing was complete
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    assert _outputs(_objects(f"{bucket}/out")) == _outputs(_files(tmp_path / "out"))


def test_the_command_refuses_a_locked_output_naming_its_holder_and_breaks_it_on_request(bucket, dataset, capsys):
    _, url = dataset
    out = f"memory:/{bucket}/out"
    holder = {"host": "node-7", "pid": 4242, "since": "2026-12-05T07:00:00+00:00", "run": "deadbeef"}
    MEM.pipe_file(f"{bucket}/out/.pixscale-lock", json.dumps(holder).encode())
    assert main(["run", url, out, "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "host node-7, pid 4242" in err and "--break-lock" in err and "break_lock" not in err
    assert set(_objects(f"{bucket}/out")) == {".pixscale-lock"}  # nothing was done
    assert main(["run", url, out, "--quiet", "--no-plots", "--break-lock"]) == 0
    assert ".pixscale-lock" not in _objects(f"{bucket}/out")


@pytest.mark.parametrize(
    ("in_url", "why"),
    [
        ("memory://", "names no path"),
        ("nosuchfs://bucket/in", "unknown protocol 'nosuchfs'"),
        ("memory://no-such-prefix-xyz/in", "nothing is stored under this prefix"),
    ],
)
def test_a_bad_url_is_one_line_and_exit_2_before_any_work(bucket, capsys, in_url, why):
    assert main(["run", in_url, f"memory:/{bucket}/out", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pixscale: error: ") and why in err and err.count("\n") == 1
    assert _objects(bucket) == {}


def test_a_protocol_whose_extra_is_missing_names_the_extra(bucket):
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        with pytest.raises(StoreError, match=r'pip install "pixscale\[gcs\]"'):
            run_dataset("gs://bucket/in", f"memory:/{bucket}/out")
    else:  # pragma: no cover - gcsfs installed
        pytest.skip("gcsfs is installed")


def test_overlapping_prefixes_are_refused(bucket, dataset):
    _, url = dataset
    with pytest.raises(StoreError, match="overlap"):
        run(url, url + "/out", jobs=1)
    with pytest.raises(StoreError, match="overlap"):
        run(url, url, jobs=1)
    assert not [k for k in _objects(bucket) if not k.startswith("in/sample_") and k != "in/train.txt"]


def test_an_output_prefix_holding_other_objects_is_refused(bucket, dataset):
    _, url = dataset
    MEM.pipe_file(f"{bucket}/out/notes.txt", b"mine")
    with pytest.raises(StoreError, match=r"not empty and holds no pixscale run \(it holds notes.txt\)"):
        run(url, f"memory:/{bucket}/out", jobs=1)
    assert set(_objects(f"{bucket}/out")) == {"notes.txt"}


def test_a_key_outside_the_prefix_is_refused(bucket):
    MEM.pipe_file(f"{bucket}/p/a", b"1")
    store = Store.open(f"memory:/{bucket}/p")
    for key in ("../x", "/x", "a/../../x", "", "a/./b", "..", "a\0b"):
        with pytest.raises(StoreError, match="would leave"):
            store.put(key, b"no")
    assert _objects(bucket) == {"p/a": b"1"}
    assert store.read("a") == b"1" and store.size("a") == 1 and store.size("b") is None


def test_create_writes_only_once_and_walk_streams_keys_in_order(bucket):
    store = Store.open(f"memory:/{bucket}/s")
    assert store.create("lock", b"first") and not store.create("lock", b"second")
    assert store.read("lock") == b"first"
    for name in ("b/2.png", "a/1.png", "a/0.png", "c.png"):
        store.put(name, name.encode())
    walked = store.walk()
    first = next(walked)  # a generator: the listing is read as it is consumed
    assert [first.key] + [o.key for o in walked] == ["c.png", "lock", "a/0.png", "a/1.png", "b/2.png"]
    store.delete("lock")
    store.delete("lock")  # nothing there: no error
    assert store.size("lock") is None


def test_storage_options_parse_as_json_and_nest_on_dots():
    assert parse_storage_option("anon=true") == {"anon": True}
    assert parse_storage_option("endpoint_url=http://127.0.0.1:9000") == {"endpoint_url": "http://127.0.0.1:9000"}
    assert parse_storage_option("client_kwargs.region_name=eu") == {"client_kwargs": {"region_name": "eu"}}
    assert merge_options({"a": {"b": 1}}, {"a": {"c": 2}, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    for bad in ("anon", "=1", "a..b=1"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse_storage_option(bad)
    assert is_url("s3://b/k") and is_url("memory://x") and not is_url("/data/in") and not is_url("in")


def test_stats_and_compare_read_a_store(tmp_path, bucket, dataset, capsys, monkeypatch):
    from pixscale.pipeline import listing

    local, url = dataset
    records, _ = measure_dataset(local)
    monkeypatch.setattr(listing, "BATCH", 3)  # sample folders read (their cameras fetched) three at a time
    stored, found = measure_dataset(url)
    assert [r.before for r in stored] == [r.before for r in records]
    assert main(["stats", url, "--json", "--storage-option", "skip_instance_cache=false"]) == 0
    assert len(json.loads(capsys.readouterr().out)["views"]) == 8
    run(url, f"memory:/{bucket}/out", jobs=1, plots=False)
    _, output = measure_dataset(f"memory:/{bucket}/out")  # a run's own objects are no samples
    assert [s.name for s in output.samples] == [s.name for s in found.samples] and output.n_views == 8
    assert main(["compare", f"memory:/{bucket}/out", url, "--out", str(tmp_path / "cmp"), "--no-plots"]) == 0
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert f"memory:/{bucket}/out" in table and "(measured" in table or "measured" in table


def test_a_folder_on_either_side_of_a_store_run_gets_the_same_bytes(tmp_path, bucket, dataset):
    local, url = dataset
    run(local, tmp_path / "out", jobs=1, plots=False)
    run(url, tmp_path / "from-store", jobs=1, plots=False)  # store -> folder
    run(local, f"memory:/{bucket}/from-folder", jobs=1, plots=False)  # folder -> store
    expected = _outputs(_files(tmp_path / "out"))
    assert _outputs(_files(tmp_path / "from-store")) == expected
    assert _outputs(_objects(f"{bucket}/from-folder")) == expected
    listed = _objects(f"{bucket}/from-folder")["train.txt"].decode().splitlines()  # the list file follows
    assert listed == [f"memory:/{bucket}/from-folder/sample_{i:03d}" for i in range(4)]
    assert not [p for p in (tmp_path / "from-store").rglob("*.part")]


def test_memory_on_a_dask_scheduler_is_refused_before_any_work(bucket, dataset):
    _, url = dataset
    with pytest.raises(StoreError, match="Dask workers cannot see it"):
        run(url, f"memory:/{bucket}/out", scheduler="tcp://127.0.0.1:1")
    assert not [k for k in _objects(bucket) if k.startswith("out")]


def test_a_dataset_served_over_http_is_read_and_http_is_never_an_output(tmp_path, bucket, dataset):
    pytest.importorskip("aiohttp")
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    local, _ = dataset
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(local.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/in"
        rows, _ = run(local, tmp_path / "out", jobs=1, plots=False)
        assert run(url, f"memory:/{bucket}/out", jobs=1, plots=False)[0] == rows
        assert _outputs(_objects(f"{bucket}/out")) == _outputs(_files(tmp_path / "out"))
        with pytest.raises(StoreError, match="read-only"):
            run(local, url + "-out", jobs=1)
    finally:
        server.shutdown()
        server.server_close()


def test_a_list_file_names_the_output_where_it_named_the_input(bucket):
    from pixscale.pipeline.storerun import list_text

    MEM.pipe_file(f"{bucket}/in/a", b"1")
    src, dst = Store.open(f"memory:/{bucket}/in"), Store.open("memory://elsewhere/out")
    text = f"memory:/{bucket}/in/s1\n  memory:/{bucket}/in/s2  \ns3\nmemory:/{bucket}/input/s4\n"
    assert list_text(text, src, dst) == "memory://elsewhere/out/s1\n  memory://elsewhere/out/s2  \ns3\n" + (
        f"memory:/{bucket}/input/s4\n"
    )


def test_a_prefix_that_is_one_gslrm_sample_is_read_as_one(tmp_path, bucket, dataset):
    local, _ = dataset
    _upload(local / "sample_001", f"{bucket}/one")
    rows, _ = run(local / "sample_001", tmp_path / "out", jobs=1, plots=False)
    store_rows, found = run(f"memory:/{bucket}/one", f"memory:/{bucket}/out", jobs=1, plots=False)
    assert found.describe() == "GS-LRM, 1 sample, 2 views" and [r["view"] for r in store_rows] == [
        r["view"] for r in rows
    ]
    assert _outputs(_objects(f"{bucket}/out")) == _outputs(_files(tmp_path / "out"))
    assert "opencv_cameras.json" in _objects(f"{bucket}/out")
