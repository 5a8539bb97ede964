"""``demandcast obtain-data``: what ``make run`` does for raw data when it cannot pull.

Each test runs the stage in a temporary git copy of the project (conftest's ``project``)
with tiny overrides, against the real DVC command line; nothing reaches the network.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from demandcast.data.obtain import dvc_reason
from tests.helpers import TINY, digests, isolated_env, ok, run, tracked_data

REMOTE = "s3://demandcast-dvc/pipeline"


@pytest.fixture
def tracked(tmp_path, project):
    """A project whose tiny data is tracked by data.dvc, then lost with the cache."""
    repo = project()
    env = isolated_env(tmp_path)
    originals = tracked_data(repo, env)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    return repo, env, originals


@pytest.mark.slow
def test_without_credentials_regenerates_what_data_dvc_tracks(tracked):
    repo, env, originals = tracked
    result = ok(run(repo, env, "-m", "demandcast", "obtain-data", *TINY))

    notes = [ln for ln in result.stdout.splitlines() if "credentials" in ln]
    assert notes == [f"no AWS credentials for the DVC remote {REMOTE}: "
                     "regenerating the demo data deterministically instead"]
    assert (repo / "data" / "train.csv").exists()
    assert digests(repo / "data") == originals
    assert "warning" not in result.stderr
    assert "Traceback" not in result.stdout + result.stderr

    again = ok(run(repo, env, "-m", "demandcast", "obtain-data", *TINY))
    assert again.stdout.strip() == "data/ is up to date with data.dvc"


@pytest.mark.slow
def test_other_config_than_data_dvc_warns_but_succeeds(tracked):
    repo, env, _ = tracked
    result = ok(run(repo, env, "-m", "demandcast", "obtain-data", *TINY, "seed=7"))
    assert "warning: the regenerated data/ does not match data.dvc" in result.stderr
    assert (repo / "data" / "train.csv").exists()


@pytest.mark.slow
def test_unreachable_remote_falls_back_within_seconds(tracked, closed_port):
    repo, env, originals = tracked
    endpoint = f"http://127.0.0.1:{closed_port}"  # bound, never listening: refused
    ok(run(repo, env, "-m", "dvc", "remote", "modify", "--local", "storage", "endpointurl",
           endpoint))
    env = {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    result = ok(run(repo, env, "-m", "demandcast", "obtain-data", *TINY))

    notes = [ln for ln in result.stdout.splitlines() if ln.startswith("could not pull")]
    assert len(notes) == 1 and REMOTE in notes[0] and endpoint in notes[0]
    assert digests(repo / "data") == originals
    # The pull attempt itself must give up in seconds (botocore's retries would take minutes
    # against an unanswering host); the rest is generation and DVC start-up.
    took = float(re.search(r"gave up after ([0-9.]+)s", notes[0]).group(1))
    assert took < 20, notes[0]


@pytest.mark.slow
def test_without_data_dvc_generates(tmp_path, project):
    repo = project()
    (repo / "data.dvc").unlink(missing_ok=True)  # copied if the real repo tracks data by now
    result = ok(run(repo, isolated_env(tmp_path), "-m", "demandcast", "obtain-data", *TINY))
    assert "nothing to pull" in result.stdout
    assert (repo / "data" / "train.csv").exists()


def test_dvc_reason_is_the_first_error_line():
    result = subprocess.CompletedProcess(
        [], 1, "", "ERROR: failed to connect to s3 - refused\nERROR: 9 files failed\n/x/y\n")
    assert dvc_reason(result) == "failed to connect to s3 - refused"
    assert dvc_reason(subprocess.CompletedProcess([], 3, "", "")) == "dvc exited with status 3"
