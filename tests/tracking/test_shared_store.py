"""MLflow as a team shares it: a tracking server whose artifacts live in S3.

``mlflow server`` runs on loopback with a SQLite backend and ``--artifacts-destination`` in
a bucket of moto's S3 server; the train, evaluate and register stages run against it as
DVC runs them (``mlflow.tracking_uri=http://...``). The model's files must land in the
bucket, the registry must name the champion, and its artifacts must come back through the
server, as the package stage fetches them. A second experiment writes its artifacts
straight to S3 (``mlflow.artifact_location=s3://...``), each client with its own credentials.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.helpers import TEST_CREDENTIALS, moto_server, stage_workspace

pytestmark = pytest.mark.slow

BUCKET = "team-mlflow"
START_TIMEOUT_S = 300  # seconds on an idle machine; minutes when it is shared


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture(scope="module")
def tracking_server(s3_endpoint, tmp_path_factory):
    """``mlflow server`` with artifacts proxied to s3://team-mlflow/store; yields its URL."""
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env.update(TEST_CREDENTIALS, MLFLOW_S3_ENDPOINT_URL=s3_endpoint, NO_PROXY="127.0.0.1,localhost",
               MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")  # no background job runner: one process less
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
             "--artifacts-destination", f"s3://{BUCKET}/store"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"mlflow server exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, \
                f"mlflow server not up in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(10)


def _keys(s3_endpoint: str, prefix: str) -> set[str]:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def test_train_and_register_against_a_tracking_server_with_s3_artifacts(
        tracking_server, s3_endpoint, tmp_path, tiny_data, tiny_features, monkeypatch):
    from demandcast import config
    from demandcast.tracking import registry, runs
    from stages import evaluate, register, train

    for key in [k for k in os.environ if k.startswith(("AWS_", "MLFLOW_"))]:
        monkeypatch.delenv(key)  # the client needs no AWS access: the server proxies the uploads
    root, args = stage_workspace(tmp_path, tiny_data, tiny_features, "evaluate.folds=1",
                                 f"mlflow.tracking_uri={tracking_server}", "mlflow.experiment=team")
    for stage in (train, evaluate, register):
        assert stage.main(args) == 0, f"{stage.__name__} failed"

    cfg = config.load(args)
    run_id = runs.find_train_run(cfg, root / "artifacts" / "model")["run_id"]  # found by the model's digest
    stored = _keys(s3_endpoint, "store/")
    [experiment_id] = {k.split("/")[1] for k in stored}
    model = f"store/{experiment_id}/{run_id}/artifacts/"
    assert {f"{model}forecaster/model.json", f"{model}forecaster/manifest.json",
            f"{model}forecaster/intervals.json", f"{model}evaluation/evaluation.json"} <= stored
    assert any(k.endswith("/MLmodel") for k in stored)  # the logged model, in S3 too

    best = registry.champion(cfg)
    assert best["run_id"] == run_id and best["version"] == 1
    fetched = Path(best["mlflow"].artifacts.download_artifacts(
        run_id=run_id, artifact_path="forecaster", dst_path=str(tmp_path / "fetched")))
    assert (fetched / "model.json").read_bytes() == (root / "artifacts" / "model" / "model.json").read_bytes()


def test_an_experiment_can_write_its_artifacts_straight_to_s3(tracking_server, s3_endpoint, tmp_path,
                                                              monkeypatch):
    from demandcast import config
    from demandcast.errors import UserError
    from demandcast.tracking import runs

    for key, value in {**TEST_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)  # this client writes to S3 itself
    args = [f"paths.artifacts={tmp_path}", f"mlflow.tracking_uri={tracking_server}",
            "mlflow.experiment=direct"]
    mlflow = runs.setup(config.load([*args, f"mlflow.artifact_location=s3://{BUCKET}/direct"]))
    with mlflow.start_run() as run:
        mlflow.log_text("written by the client", "probe.txt")
    assert f"direct/{run.info.run_id}/artifacts/probe.txt" in _keys(s3_endpoint, "direct/")

    # The experiment exists now: another location for it is refused, not silently ignored.
    with pytest.raises(UserError, match="keeps its artifacts in s3://team-mlflow/direct, not "):
        runs.setup(config.load([*args, f"mlflow.artifact_location=s3://{BUCKET}/elsewhere"]))
