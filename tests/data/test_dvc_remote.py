"""The project's own DVC remote, pointed at a real S3 endpoint on loopback (moto's server).

Nothing in DVC is mocked: a temporary copy of the project (conftest's ``project``) gets
tiny generated data, ``dvc add data``, and a ``--local`` endpoint override exactly as a
user would write it; then ``dvc push``, the objects are checked in the bucket, the cache
and workspace are deleted, and ``dvc pull`` must restore every byte. An unreachable endpoint must fail fast
(with ``AWS_MAX_ATTEMPTS=1``).
"""

from __future__ import annotations

import json
import shutil
import time

import boto3
import pytest

from tests.helpers import TEST_CREDENTIALS, digests, isolated_env, moto_server, ok, run, tracked_data

pytestmark = pytest.mark.slow  # DVC subprocesses end to end: ~15 s

BUCKET, PREFIX = "demandcast-dvc", "pipeline/"  # from the remote's url in .dvc/config
CREDENTIALS = TEST_CREDENTIALS


@pytest.fixture
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


def test_push_then_pull_restores_every_byte(tmp_path, project, s3_endpoint):
    repo = project()
    env = isolated_env(tmp_path, **CREDENTIALS)
    originals = tracked_data(repo, env)
    dir_md5 = (repo / "data.dvc").read_text().split("md5: ", 1)[1].split()[0]

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    ok(run(repo, env, "-m", "dvc", "remote", "modify", "--local", "storage", "endpointurl",
           s3_endpoint))
    ok(run(repo, env, "-m", "dvc", "push", "data.dvc"))

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    keys = {obj["Key"] for obj in listed}
    expected = {f"{PREFIX}files/md5/{h[:2]}/{h[2:]}" for h in [*originals.values(), dir_md5]}
    assert keys == expected

    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    ok(run(repo, env, "-m", "dvc", "pull", "data.dvc"))
    assert digests(repo / "data") == originals
    status = ok(run(repo, env, "-m", "dvc", "status", "data.dvc", "--json"))
    assert json.loads(status.stdout) == {}


def test_pull_from_unreachable_endpoint_fails_fast(tmp_path, project, closed_port):
    repo = project()
    env = isolated_env(tmp_path, **CREDENTIALS)
    tracked_data(repo, env)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    ok(run(repo, env, "-m", "dvc", "remote", "modify", "--local", "storage", "endpointurl",
           f"http://127.0.0.1:{closed_port}"))

    # DVC has no retry setting for S3: botocore's default 5 attempts with backoff, per
    # object and per index load, make this take ~30 s in a fresh clone. One attempt is the
    # lever the Makefile and `demandcast obtain-data` use.
    began = time.monotonic()
    result = run(repo, {**env, "AWS_MAX_ATTEMPTS": "1"}, "-m", "dvc", "pull", "data.dvc", timeout=60)
    elapsed = time.monotonic() - began

    assert result.returncode != 0
    assert elapsed < 15, f"dvc pull took {elapsed:.1f}s against a closed port"
    assert "ERROR" in result.stderr
    assert not (repo / "data" / "train.csv").exists()
