"""AWS on loopback for the cloud tests: moto's server in this process, EMR played for real.

* ``moto_endpoint``: ``ThreadedMotoServer`` on 127.0.0.1 (module-scoped), with EMR Serverless
  job runs starting SUBMITTED (moto would report SUCCESS at once) and the ``CancelSteps``
  call that moto's EMR lacks, answered as AWS documents it;
* ``aws_env``: this process's environment pointed at it (``AWS_ENDPOINT_URL`` and test
  credentials), nothing of the machine's own AWS settings;
* ``emr_spark_home``: the Spark of EMR 8 (pyspark 4.0.x), installed once under
  ``~/.cache/demandcast/`` (``$DEMANDCAST_EMR_SPARK_HOME`` to use another);
* ``player``: :class:`tests.cloud.emr_player.EmrPlayer` running submitted jobs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from tests.cloud.emr_player import EmrPlayer
from tests.helpers import TEST_CREDENTIALS, moto_server

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/demandcast-emr-job"
EMR_SPARK = "4.0.5"  # EMR 8's Spark is 4.0


def _cancel_steps(self):
    """CancelSteps as AWS documents it: pending or running steps become CANCELLED."""
    from moto.core.responses import ActionResult

    cluster = self.backend.describe_cluster(self._get_param("ClusterId"))
    info = []
    for step_id in self._get_param("StepIds", []):
        for step in cluster.steps:
            if step.id == step_id and step.state in ("PENDING", "RUNNING"):
                step.state = "CANCELLED"
                info.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
    return ActionResult({"CancelStepsInfoList": info})


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.emr.responses import ElasticMapReduceResponse
    from moto.emrserverless import models as serverless_models

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(serverless_models, "JOB_STATUS", "SUBMITTED")
        patch.setattr(ElasticMapReduceResponse, "cancel_steps", _cancel_steps, raising=False)
        with moto_server() as endpoint:
            yield endpoint


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    settings = {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": moto_endpoint, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials")}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return moto_endpoint


@pytest.fixture
def s3(aws_env):
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def bucket(s3):
    name = f"demandcast-emr-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def emr_spark_home() -> Path:
    """pyspark 4.0.x's folder (a SPARK_HOME), installed once with uv into the user's cache."""
    if os.environ.get("DEMANDCAST_EMR_SPARK_HOME"):
        return Path(os.environ["DEMANDCAST_EMR_SPARK_HOME"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "demandcast"
    target = cache / f"emr-spark-{EMR_SPARK}"
    home = target / "pyspark"
    if not (home / "bin" / "spark-submit").exists():
        uv = shutil.which("uv")
        if uv is None:
            pytest.fail("uv is needed to install EMR 8's Spark for the EMR tests (make setup installs it)")
        partial = cache / f".emr-spark-{EMR_SPARK}.{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        done = subprocess.run([uv, "pip", "install", "--quiet", "--python", sys.executable, "--target",
                               str(partial), f"pyspark=={EMR_SPARK}"], capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"installing pyspark {EMR_SPARK} failed:\n{done.stderr[-3000:]}"
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return home


@pytest.fixture
def player(s3, emr_spark_home, tmp_path):
    from demandcast.spark import java_home

    emr = EmrPlayer(s3=s3, spark_home=emr_spark_home, java_home=java_home(), workdir=tmp_path / "emr").start()
    yield emr
    emr.stop()


@pytest.fixture
def serverless_app(aws_env):
    client = boto3.client("emr-serverless", region_name=REGION)
    app = client.create_application(name="demandcast", releaseLabel="emr-8.0.0", type="SPARK")
    return app["applicationId"]


@pytest.fixture
def emr_cluster(aws_env, bucket):
    client = boto3.client("emr", region_name=REGION)
    return client.run_job_flow(
        Name="demandcast", ReleaseLabel="emr-8.0.0", LogUri=f"s3://{bucket}/emr-logs/",
        Applications=[{"Name": "Spark"}], JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
        Instances={"MasterInstanceType": "m6i.xlarge", "SlaveInstanceType": "m6i.4xlarge", "InstanceCount": 3,
                   "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
