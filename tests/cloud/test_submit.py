"""The features stage on EMR, against moto's server with the jobs played for real.

The stage runs in this process from a throw-away project (its conf, params.yaml, stages/,
src/ and tiny data tracked by DVC), exactly as ``dvc exp run -S spark=emr_serverless``
would run it; :class:`tests.cloud.emr_player.EmrPlayer` runs what reaches EMR with Spark 4.0
and the uploaded zips only.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from demandcast import config
from demandcast.cloud import bundle
from demandcast.features import feature_spec
from demandcast.features.feature_spec import META
from stages import features as stage
from tests.cloud.conftest import EMR_SPARK, REGION, ROLE
from tests.features.test_stable_parquet import assert_stable_footers
from tests.helpers import ROOT, isolated_env

PREFIX = "features"  # conf/spark/emr*.yaml spark.prefix


def make_project(root: Path, data: Path, env_tmp: Path) -> Path:
    """conf, params.yaml, stages/, src/demandcast and ``data`` tracked by DVC (dvc add data)."""
    for name in ("conf", "stages", "src/demandcast"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    shutil.copytree(data, root / "data", ignore=shutil.ignore_patterns("truth"))
    env = isolated_env(env_tmp)
    for args in (["init", "--no-scm", "-q"], ["add", "-q", "data"]):
        done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return root


def data_version(root: Path) -> str:
    return re.search(r"md5: (\w+)\.dir", (root / "data.dvc").read_text()).group(1)


@pytest.fixture(scope="module")
def tracked_project(tmp_path_factory, tiny_data) -> Path:
    tmp = tmp_path_factory.mktemp("emr-project")
    return make_project(tmp / "project", tiny_data, tmp)


@pytest.fixture
def project(tracked_project, tmp_path, monkeypatch):
    """A private copy of the DVC-tracked project, the working directory of the test."""
    root = tmp_path / "project"
    shutil.copytree(tracked_project, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def serverless_args(app: str, bucket: str, *extra: str) -> list[str]:
    return ["data=tiny", "spark=emr_serverless", f"spark.application_id={app}",
            f"spark.execution_role_arn={ROLE}", f"spark.bucket={bucket}", f"spark.region={REGION}",
            "spark.poll_seconds=0.3", "spark.log_wait_seconds=0", *extra]


def keys(s3, bucket: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def layout(folder: Path) -> list[str]:
    """Relative paths of a feature table, part files' random names made comparable."""
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted({re.sub(r"part-\d+-[^/]+$", "part-*", n) for n in names if not n.endswith(".crc")})


def frame(folder: Path, keys_: list[str]) -> pd.DataFrame:
    table = pd.read_parquet(folder)
    table = table.astype({c: str for c in table.select_dtypes("category").columns})
    return table.sort_values(keys_).reset_index(drop=True)


@pytest.mark.slow
def test_features_on_emr_serverless_match_a_local_run(project, s3, bucket, serverless_app, player,
                                                      tiny_features, capsys):
    args = serverless_args(serverless_app, bucket)
    assert stage.main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out

    # What went to S3: code by content hash, data by data.dvc's version, the run's params and result.
    library = bundle.library_zip(project / "lib.zip", project)
    python_deps = list(OmegaConf.load(project / "conf" / "spark" / "emr_serverless.yaml").python_deps)
    deps, pins = bundle.deps_zip(project / "deps.zip", python_deps)
    code = {f"{PREFIX}/code/{bundle.content_hash(p)}/{name}": p for name, p in (
        ("demandcast.zip", library), ("deps.zip", deps), ("features.py", project / "stages" / "features.py"))}
    version = data_version(project)
    stored = keys(s3, bucket)
    assert set(code) <= stored
    for key, path in code.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes(), key
    raw = {f"{PREFIX}/data/{version}/{n}" for n in
           ("holidays_events.csv", "items.csv", "stores.csv", "test.csv", "train.csv", "transactions.csv",
            "_COMPLETE.json")}
    # only what the stage reads (the promotion plan test.csv too): no oil.csv, no truth
    assert {k for k in stored if "/data/" in k} == raw
    [run_prefix] = {k.rsplit("/", 1)[0] for k in stored if k.endswith("/params.yaml")}
    assert any(k.startswith(f"{run_prefix}/features/part_month=") for k in stored)
    assert f"{run_prefix}/features/{META}/manifest.json" in stored
    assert {p.split("==")[0] for p in pins} >= {"omegaconf", "hydra-core", "PyYAML", "antlr4-python3-runtime"}

    # What was submitted.
    client = boto3.client("emr-serverless", region_name=REGION)
    [summary] = client.list_job_runs(applicationId=serverless_app)["jobRuns"]
    run = client.get_job_run(applicationId=serverless_app, jobRunId=summary["id"])["jobRun"]
    assert run["state"] == "SUCCESS" and run["executionRole"] == ROLE
    driver = run["jobDriver"]["sparkSubmit"]
    by_name = {k.rsplit("/", 1)[1]: f"s3://{bucket}/{k}" for k in code}
    assert driver["entryPoint"] == by_name["features.py"]
    assert driver["entryPointArguments"] == [f"paths.data=s3://{bucket}/{PREFIX}/data/{version}",
                                             f"paths.artifacts=s3://{bucket}/{run_prefix}"]
    submitted = shlex.split(driver["sparkSubmitParameters"])
    assert submitted[:4] == ["--py-files", f"{by_name['demandcast.zip']},{by_name['deps.zip']}",
                             "--files", f"s3://{bucket}/{run_prefix}/params.yaml"]
    assert "spark.executor.memory=14g" in submitted and "spark.driver.cores=4" in submitted
    log_uri = run["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
    assert log_uri == f"s3://{bucket}/{PREFIX}/logs/"

    # The job ran on EMR 8's Spark with nothing but the uploaded files.
    played = player.runs[summary["id"]]
    assert played["returncode"] == 0, played["log"][-3000:]
    assert f"Running Spark version {EMR_SPARK}" in played["log"]
    assert sorted(p.name for p in played["cwd"].iterdir()) == ["params.yaml"]
    isolated = subprocess.run([str(player.python), "-c", "import omegaconf"], capture_output=True)
    assert isolated.returncode != 0  # the job's Python has no packages of its own

    # The result is the local run's, in the local layout.
    local_out, manifest = tiny_features
    out = project / "artifacts" / "features"
    assert layout(out) == layout(local_out)
    written = json.loads((out / META / "manifest.json").read_text())
    expected = json.loads(json.dumps(manifest, default=list))
    # the calendar's source names where the job read it: the S3 copy there, the local file here
    assert written["checks"]["holidays"].pop("source").endswith("/holidays_events.csv")
    expected["checks"]["holidays"].pop("source")
    assert written == expected
    keys_ = list(feature_spec.KEYS)
    got, want = frame(out, keys_), frame(local_out, keys_)
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_exact=False)
    # The job left Spark's own files (its Python has no pyarrow); the sync rewrote them as a local
    # run does (not to a local run's bytes: the footers name EMR's Spark version).
    parts = [k for k in stored if k.startswith(f"{run_prefix}/features/") and k.endswith(".parquet")]
    assert parts and all(b"parquet-mr version" in s3.get_object(Bucket=bucket, Key=k)["Body"].read()
                         for k in parts)
    assert_stable_footers(out)
    assert "submitted EMR Serverless job run" in printed and f"{summary['id']}: SUCCESS" in printed

    # Again through DVC, as `dvc exp run -S spark=emr_serverless ...` runs it (params.yaml composed
    # with the overrides, then the stage's command): the same inputs upload and submit nothing,
    # the stored result is synced back, and DVC records it as the stage's output.
    shutil.rmtree(out)
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    (project / "params.yaml").write_text(OmegaConf.to_yaml(config.compose(args, project / "conf")))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "features"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "code unchanged on S3" in done.stdout and "raw data already at" in done.stdout
    assert "already holds the result" in done.stdout
    assert len(client.list_job_runs(applicationId=serverless_app)["jobRuns"]) == 1
    assert layout(out) == layout(local_out)
    locked = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["features"]["outs"]
    outs = {o["path"]: o for o in locked}
    assert set(outs) == {"artifacts/features", "reports/features.json"}  # the checks' report written here
    assert outs["artifacts/features"]["nfiles"] == sum(p.is_file() for p in out.rglob("*"))
    report = json.loads((project / "reports" / "features.json").read_text())
    assert report["warnings"] == written["checks"]["warnings"]
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "features", "--json"], cwd=project,
                            capture_output=True, text=True, timeout=300)
    assert json.loads(status.stdout) == {}, status.stdout


@pytest.mark.slow
def test_a_failed_step_shows_the_drivers_log_tail(tmp_path, tiny_data, monkeypatch, s3, bucket, emr_cluster,
                                                   player, capsys):
    data = tmp_path / "broken"
    shutil.copytree(tiny_data, data, ignore=shutil.ignore_patterns("truth"))
    (data / "train.csv").write_text((tiny_data / "train.csv").read_text().splitlines()[0] + "\n")
    root = make_project(tmp_path / "project", data, tmp_path)
    monkeypatch.chdir(root)
    kept = root / "artifacts" / "features" / "earlier.parquet"  # a result from before must survive
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"earlier result")

    args = ["data=tiny", "spark=emr", f"spark.cluster_id={emr_cluster}", f"spark.bucket={bucket}",
            "spark.poll_seconds=0.3", "spark.log_wait_seconds=5"]
    assert stage.main(args) == 2
    err = capsys.readouterr().err

    emr = boto3.client("emr", region_name=REGION)
    [step] = emr.list_steps(ClusterId=emr_cluster)["Steps"]
    assert step["Status"]["State"] == "FAILED"
    config = step["Config"]
    assert config["Jar"] == "command-runner.jar" and step["ActionOnFailure"] == "CONTINUE"
    assert config["Args"][:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert config["Args"][3] == "--py-files" and config["Args"][5] == "--files"
    assert config["Args"][-3].endswith("/features.py") and config["Args"][-2].startswith("paths.data=s3://")
    assert "spark.executor.memory=16g" in config["Args"]

    logs = f"s3://{bucket}/emr-logs/{emr_cluster}/steps/{step['Id']}/"
    assert f"EMR step {step['Id']} ended FAILED" in err
    assert f"--- last lines of {logs}stdout.gz ---" in err and f"--- last lines of {logs}stderr.gz ---" in err
    assert " INFO " not in err  # Spark's chatter is left out of the tails
    assert "error: train.csv has no rows" in err  # the ETL's own message, from the driver's log
    assert "Traceback" not in err
    assert kept.read_bytes() == b"earlier result"


@pytest.mark.parametrize("engine", ["emr_serverless", "emr"])
def test_a_job_past_its_timeout_is_cancelled(engine, project, bucket, serverless_app, emr_cluster, player,
                                             capsys):
    player.hold = True  # the cluster accepts the job and never finishes it
    args = (serverless_args(serverless_app, bucket) if engine == "emr_serverless" else
            ["data=tiny", "spark=emr", f"spark.cluster_id={emr_cluster}", f"spark.bucket={bucket}",
             "spark.poll_seconds=0.3"])
    assert stage.main([*args, "spark.timeout_minutes=0.03"]) == 2
    err = capsys.readouterr().err
    [job_id] = player.runs
    assert f"{job_id} did not finish within 1s (spark.timeout_minutes): it was cancelled" in err
    if engine == "emr_serverless":
        run = boto3.client("emr-serverless", region_name=REGION).get_job_run(
            applicationId=serverless_app, jobRunId=job_id)["jobRun"]
        assert run["state"] == "CANCELLED"
    else:
        step = boto3.client("emr", region_name=REGION).describe_step(ClusterId=emr_cluster, StepId=job_id)
        assert step["Step"]["Status"]["State"] == "CANCELLED"
    assert not (project / "artifacts" / "features").exists()


def _message(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and err.count("error: ") == 1, err
    return err


def test_missing_credentials_give_one_clear_message(project, aws_env, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert stage.main(serverless_args("app", "demandcast-emr")) == 2
    err = _message(capsys)
    assert "no AWS credentials found" in err and "AWS_PROFILE" in err and "Team setup" in err


@pytest.mark.parametrize("change, expected", [
    (("spark.bucket=no-such-bucket",), "S3 bucket s3://no-such-bucket does not exist (spark.bucket)"),
    (("spark.application_id=null",),
     "spark.application_id is not set: put it in conf/spark/emr_serverless.yaml"),
    (("spark.application_id=00nosuchapp",), "features on emr_serverless: ResourceNotFoundException"),
])
def test_bad_settings_give_one_clear_message(change, expected, project, bucket, serverless_app, capsys):
    name = change[0].split("=")[0] + "="
    args = [a for a in serverless_args(serverless_app, bucket) if not a.startswith(name)]
    assert stage.main([*args, *change]) == 2
    assert expected in _message(capsys)


def test_an_older_emr_release_is_refused(project, bucket, aws_env, capsys):
    old = boto3.client("emr-serverless", region_name=REGION).create_application(
        name="old", releaseLabel="emr-7.1.0", type="SPARK")["applicationId"]
    assert stage.main(serverless_args(old, bucket)) == 2
    assert "runs release 'emr-7.1.0'; the features entry point needs emr-8.x" in _message(capsys)


def test_data_changed_since_dvc_add_is_not_uploaded_under_the_old_version(project, s3, bucket, serverless_app,
                                                                           capsys):
    with (project / "data" / "stores.csv").open("a") as f:
        f.write("99,Nowhere,Nowhere,A,1\n")
    assert stage.main(serverless_args(serverless_app, bucket)) == 2
    err = _message(capsys)
    assert "data/stores.csv differs from data version" in err and "dvc add data" in err
    assert not any("/data/" in k for k in keys(s3, bucket))


def test_step_logs_include_the_drivers_yarn_container(s3, bucket, aws_env, emr_cluster):
    """In cluster deploy mode the driver runs in YARN's first container of the application the
    step's spark-submit output names; its logs are read after the step's own."""
    import gzip

    from demandcast.cloud import emr
    from demandcast.cloud.aws import session

    base = f"emr-logs/{emr_cluster}"
    step, app = "s-TESTSTEP", "application_1764500000000_0003"
    put = {f"{base}/steps/{step}/stderr.gz": f"INFO Client: Submitted application {app}\nstatus: FAILED",
           f"{base}/containers/{app}/container_1764500000000_0003_01_000001/stdout.gz": "error: no rows",
           f"{base}/containers/{app}/container_1764500000000_0003_01_000002/stdout.gz": "an executor"}
    for key, text in put.items():
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))
    engine = emr.Steps(session(REGION), {"cluster_id": emr_cluster})
    engine.check()  # reads the cluster's LogUri
    logs = dict(engine.logs(s3, step, wait_s=0))
    driver = f"s3://{bucket}/{base}/containers/{app}/container_1764500000000_0003_01_000001/stdout.gz"
    assert list(logs) == [f"s3://{bucket}/{base}/steps/{step}/stderr.gz", driver]
    assert logs[driver] == "error: no rows"
