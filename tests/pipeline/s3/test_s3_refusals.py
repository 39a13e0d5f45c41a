"""Refused before any work, on moto's S3 server: a bad URL, a missing bucket, missing or wrong credentials;
and the credentials that work: a profile of the AWS files, keys given as storage options.

Each refusal is one line on standard error (``pixscale: error: ...``), exit code 2, and the bucket is as it was:
nothing is written, not even the run's lock.  ``run``, ``stats`` and ``compare`` alike.
"""

import pytest

QUIET = ["--quiet", "--no-plots"]
MISSING = "pixscale-no-such-bucket-7f3a"


def _command(name, s3, src, out, tmp_path):
    """The argument list of ``pixscale NAME`` reading ``src`` (and writing ``out`` for a run)."""
    if name == "run":
        return ["run", src, out, *s3.cli, *QUIET]
    if name == "stats":
        return ["stats", src, *s3.cli, *QUIET]
    return ["compare", src, *s3.cli, "--out", str(tmp_path / "cmp"), *QUIET]


@pytest.mark.parametrize(
    "src, out, says",
    [
        ("s3://", "s3://{b}/out", "IN_DIR s3://: the URL names no bucket"),
        ("nosuchscheme://{b}/in", "s3://{b}/out", "unknown protocol 'nosuchscheme'"),
        (f"s3://{MISSING}/in", "s3://{b}/out", f"the bucket '{MISSING}' does not exist"),
        ("s3://{b}/in", f"s3://{MISSING}/out", f"OUT_DIR s3://{MISSING}/out: the bucket '{MISSING}' does not exist"),
        ("s3://{b}/nothing-here", "s3://{b}/out", "nothing is stored under this prefix"),
    ],
)
def test_a_run_with_a_bad_url_or_a_missing_bucket_is_one_line_and_exit_2(s3, cli, error_line, capsys, src, out, says):
    s3.upload_dataset("in", n_samples=1, n_views=1)
    before = s3.listing()
    code = cli(["run", src.format(b=s3.name), out.format(b=s3.name), *s3.cli, *QUIET])
    assert says in error_line(capsys.readouterr().err)
    assert code == 2
    assert s3.listing() == before


@pytest.mark.parametrize("command", ["run", "stats", "compare"])
def test_a_missing_bucket_is_one_line_and_exit_2_for_every_command(s3, cli, error_line, capsys, tmp_path, command):
    code = cli(_command(command, s3, f"s3://{MISSING}/in", s3.url("out"), tmp_path))
    assert f"the bucket '{MISSING}' does not exist" in error_line(capsys.readouterr().err)
    assert code == 2
    assert s3.listing() == {} and not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("command", ["run", "stats", "compare"])
def test_missing_credentials_are_one_line_and_exit_2(s3, no_credentials, cli, error_line, capsys, tmp_path, command):
    s3.upload_dataset("in", n_samples=1, n_views=1)
    before = s3.listing()
    code = cli(_command(command, s3, s3.url("in"), s3.url("out"), tmp_path))
    line = error_line(capsys.readouterr().err)
    assert "no credentials were found" in line and "--storage-option" in line  # the flag, on the command line
    assert code == 2
    assert s3.listing() == before and not (tmp_path / "cmp").exists()


def test_wrong_keys_are_one_line_and_exit_2(s3, cli, error_line, capsys, moto_checks_keys):
    code = cli(["run", s3.url("in"), s3.url("out"), *s3.cli, *QUIET])
    line = error_line(capsys.readouterr().err)
    assert f"IN_DIR {s3.url('in')}: access refused" in line and "check the credentials" in line
    assert code == 2


def test_a_storage_option_that_is_not_key_value_is_refused_as_a_bad_flag_and_exit_2(s3, cli, capsys):
    s3.upload_dataset("in", n_samples=1, n_views=1)
    before = s3.listing()
    code = cli(["run", s3.url("in"), s3.url("out"), "--storage-option", "endpoint_url", *QUIET])
    err = capsys.readouterr().err  # argparse's usage, then its one error line (as for --png-level 12)
    assert err.strip().splitlines()[-1].startswith("pixscale run: error: --storage-option: a storage option is KEY=")
    assert code == 2
    assert s3.listing() == before


# --- credentials the fsspec way: the ones that work ---------------------------------------------------


def _profile(tmp_path, monkeypatch, name):
    """A credentials file (``~/.aws/credentials``'s format) holding profile ``name``, where boto looks for it."""
    path = tmp_path / "aws-credentials"
    path.write_text(f"[{name}]\naws_access_key_id = from-profile\naws_secret_access_key = from-profile\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))


@pytest.mark.parametrize("how", ["--storage-option profile=", "AWS_PROFILE="])
def test_credentials_from_a_profile_of_the_aws_files(s3, no_credentials, tmp_path, monkeypatch, cli, capsys, how):
    s3.upload_dataset("in", n_samples=1, n_views=2)
    _profile(tmp_path, monkeypatch, "renders")
    extra = []
    if how == "AWS_PROFILE=":
        monkeypatch.setenv("AWS_PROFILE", "renders")
    else:
        extra = ["--storage-option", "profile=renders"]
    assert cli(["stats", s3.url("in"), *s3.cli, *extra, "--json", "--quiet", "--no-plots"]) == 0
    assert '"n_ok": 2' in capsys.readouterr().out


def test_credentials_as_storage_options(s3, no_credentials, cli, capsys):
    s3.upload_dataset("in", n_samples=1, n_views=2)
    keys = ["--storage-option", "key=given", "--storage-option", "secret=given"]
    assert cli(["stats", s3.url("in"), *s3.cli, *keys, "--json", "--quiet", "--no-plots"]) == 0
    assert '"n_ok": 2' in capsys.readouterr().out
