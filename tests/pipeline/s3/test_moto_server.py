"""The S3 server the object-store tests run against: what they rely on of it, checked once here.

moto's server on 127.0.0.1 speaks the S3 protocol over HTTP; s3fs reaches it with ``endpoint_url``.  The
lock of a run on a store is a conditional create (``If-None-Match: *``): the server must refuse the second.
"""

import pytest


def test_each_test_gets_a_new_empty_bucket_and_its_dataset(s3):
    assert s3.listing() == {}
    local = s3.upload_dataset("in", n_samples=2, n_views=2)
    keys = set(s3.listing())
    assert keys == {f"in/{p.relative_to(local).as_posix()}" for p in local.rglob("*") if p.is_file()}
    assert "in/sample_001/images/cam_001.png" in keys and "in/train.txt" in keys
    assert s3.read("in/train.txt") == b"sample_000\nsample_001\n"
    assert s3.read("in/sample_000/images/cam_000.png") == (local / "sample_000/images/cam_000.png").read_bytes()


def test_s3fs_reaches_the_server_with_the_storage_options(s3):
    import s3fs

    s3.put("a/b.txt", b"hello")
    fs = s3fs.S3FileSystem(**s3.storage_options, skip_instance_cache=True)
    assert fs.cat(f"{s3.name}/a/b.txt") == b"hello"
    assert fs.ls(s3.name) == [f"{s3.name}/a"]


def test_a_second_conditional_create_is_refused_with_412(s3):
    import s3fs
    from botocore.exceptions import ClientError

    s3.client.put_object(Bucket=s3.name, Key="lock", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        s3.client.put_object(Bucket=s3.name, Key="lock", Body=b"second", IfNoneMatch="*")
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    fs = s3fs.S3FileSystem(**s3.storage_options, skip_instance_cache=True)
    with pytest.raises(FileExistsError), fs.open(f"{s3.name}/lock", "xb") as f:
        f.write(b"third")
    assert s3.read("lock") == b"first"


def test_without_credentials_s3fs_refuses_before_any_request(s3, no_credentials):
    import s3fs
    from botocore.exceptions import NoCredentialsError

    fs = s3fs.S3FileSystem(**s3.storage_options, skip_instance_cache=True)
    with pytest.raises(NoCredentialsError):
        fs.ls(s3.name)


def test_with_keys_checked_the_tests_keys_are_refused(s3, moto_checks_keys):
    import s3fs

    fs = s3fs.S3FileSystem(**s3.storage_options, skip_instance_cache=True)
    with pytest.raises(PermissionError, match="Access Key Id"):
        fs.ls(s3.name)
