"""Fixtures of the object-store tests: moto's S3 server on 127.0.0.1, started by the tests themselves.

The server (``moto.server.ThreadedMotoServer``, as s3fs's own test suite uses) runs in a thread of the
test process on a port the OS picks, for the whole session; each test gets fresh fake credentials in its
environment (so a child process or a Dask worker started by the test sees them too), a new bucket, and
the storage options that reach the server.  The folder is skipped, with the reason, where moto's server
or s3fs is not installed (``pip install -e ".[test]"`` installs both).

A test module cannot import this file (``--import-mode=importlib``): what tests share is on the
:class:`Bucket` that the ``s3`` fixture returns.
"""

import hashlib
import json
import logging
import shutil
import uuid
from pathlib import Path

import pytest

try:
    import boto3
    import s3fs
    from moto.server import ThreadedMotoServer
except ImportError as exc:  # pragma: no cover - the test extra installs them
    MISSING = f"the object-store tests need moto[server] and s3fs (pip install -e '.[test]'): {exc}"
else:
    MISSING = None

# Credentials the tests put in the environment: moto accepts any keys unless authentication is turned on.
KEY, SECRET = "pixscale-test-key", "pixscale-test-secret"
# Variables that could point boto at a real account, profile or endpoint: none is set during a test.
FOREIGN = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture(scope="session", autouse=True)
def _moto_installed():
    if MISSING:
        pytest.skip(MISSING)


@pytest.fixture(scope="session")
def moto_endpoint():
    """The endpoint URL of a moto S3 server on 127.0.0.1 (a port the OS chose), for the session."""
    if MISSING:  # pragma: no cover
        pytest.skip(MISSING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _environment(monkeypatch, tmp_path, *, credentials):
    """Fake credentials (or none) in the environment; no profile, config file or metadata service reachable."""
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    if credentials:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    else:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no 1-s wait for an instance's credentials


def _digest(name, data):
    """sha256 of a run's file, the parts that name when or where a run was left out (as in test_scaleout.py)."""
    if name == "report.json":
        doc = json.loads(data)
        for key in ("date", "output", "input"):
            doc["meta"].pop(key, None)
        data = json.dumps(doc, sort_keys=True).encode()
    elif name == "report.md":
        data = b"\n".join(x for x in data.split(b"\n") if not x.startswith((b"| date |", b"| output |", b"| input |")))
    elif name == "report.html":  # report.md's rows, as table rows
        skip = tuple(b"<tr><td>%s</td>" % key for key in (b"date", b"output", b"input"))
        data = b"\n".join(x for x in data.split(b"\n") if not x.startswith(skip))
    return hashlib.sha256(data).hexdigest()


def _kept(rel):
    """Whether a path of a run's output is compared byte for byte: not pixscale's lock, manifest or stop request."""
    name = rel.rsplit("/", 1)[-1]
    return not name.startswith(".pixscale-") and not rel.startswith("pixscale-manifest")


def local_tree(root):
    """{path: sha256} of a run's output folder (see :func:`_digest`, :func:`_kept`)."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): _digest(p.name, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and _kept(p.relative_to(root).as_posix())
    }


class Bucket:
    """A fresh bucket on the moto server, and what a test needs to use it.

    ``url(key)`` is its ``s3://`` URL, ``storage_options`` what reaches the server from Python,
    ``cli`` the same as command-line options; ``listing`` lists objects with their ETags, ``tree`` hashes
    a run's output as :func:`local_tree` hashes a folder's; ``upload_dataset`` writes a seeded synthetic
    dataset locally and copies it under a prefix.
    """

    def __init__(self, endpoint, name, tmp_path):
        self.endpoint, self.name, self.tmp_path = endpoint, name, tmp_path
        self.storage_options = {"endpoint_url": endpoint}
        self.cli = ["--storage-option", f"endpoint_url={endpoint}"]
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1"
        )

    def url(self, key=""):
        return f"s3://{self.name}/{key}".rstrip("/")

    def listing(self, prefix=""):
        """{key: ETag} of every object under ``prefix`` (the whole bucket by default)."""
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
        return out

    def uploads(self):
        """Keys of the multipart uploads still open (started, neither completed nor aborted)."""
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])]

    def read(self, key):
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key, data):
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def tree(self, prefix):
        """{path relative to ``prefix``: sha256} of a run's output on the bucket, as :func:`local_tree`."""
        prefix = prefix.rstrip("/") + "/"
        return {
            key[len(prefix) :]: _digest(key.rsplit("/", 1)[-1], self.read(key))
            for key in sorted(self.listing(prefix))
            if _kept(key[len(prefix) :])
        }

    def upload(self, folder, prefix):
        """Copy every file of ``folder`` to ``prefix/<its path>``."""
        folder = Path(folder)
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                self.put(f"{prefix.rstrip('/')}/{p.relative_to(folder).as_posix()}", p.read_bytes())

    def upload_dataset(self, prefix, **kwargs):
        """A seeded synthetic dataset (pixscale.synth, GS-LRM layout by default) under ``prefix``; returns the
        local copy.  Its list file ``train.txt`` names the samples by relative paths, so it means the same in
        both places."""
        from pixscale import synth

        local = self.tmp_path / f"local-{prefix.strip('/').replace('/', '-')}"
        if local.exists():
            shutil.rmtree(local)
        kwargs = {"n_samples": 3, "n_views": 4, "size": 64, "seed": 7, **kwargs}
        synth.write_dataset(local, threads=1, **kwargs)
        if (local / "train.txt").exists():
            (local / "train.txt").write_text("".join(f"{p.name}\n" for p in sorted(local.glob("sample_*"))))
        self.upload(local, prefix)
        return local


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials in this test's environment; s3fs's cached filesystems forgotten before and after."""
    _environment(monkeypatch, tmp_path, credentials=True)
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """Call after ``s3``: no credentials anywhere boto looks (environment, files, metadata service)."""
    _environment(monkeypatch, tmp_path, credentials=False)
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3(moto_endpoint, aws_env, tmp_path):
    """A new bucket (unique name) on the session's moto server, as a :class:`Bucket`."""
    bucket = Bucket(moto_endpoint, f"pixscale-{uuid.uuid4().hex[:16]}", tmp_path)
    bucket.client.create_bucket(Bucket=bucket.name)
    return bucket


@pytest.fixture
def tree():
    """:func:`local_tree`, for the tests (they cannot import this file)."""
    return local_tree


@pytest.fixture
def moto_checks_keys(monkeypatch):
    """moto's server checks the request's keys (none of the tests' keys is known to it, so all are wrong)."""
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)


def _cli(argv):
    """``pixscale ARGV`` in this process; its exit code (argparse's refusals exit, the rest return one)."""
    from pixscale.cli import main

    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _error_line(err):
    """The one line a refused command printed on standard error (asserted to be one, and no traceback)."""
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("pixscale: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def cli():
    """:func:`_cli`: the command line, run in the test's process."""
    return _cli


@pytest.fixture
def error_line():
    """:func:`_error_line`."""
    return _error_line
