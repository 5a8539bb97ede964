"""Submitting a PySpark entry point to EMR, following it, and reading its logs.

Two engines with one interface (:class:`Serverless`, :class:`Steps`), chosen by
``spark.engine``:

* ``emr_serverless``: ``start_job_run`` on an EMR Serverless application with a
  ``sparkSubmit`` job driver (entry point, arguments, ``--py-files``/``--files``/``--conf``),
  logs to ``<log_uri>/applications/<app>/jobs/<run>/SPARK_DRIVER/stderr.gz``;
* ``emr``: a step on a running EMR on EC2 cluster, ``command-runner.jar spark-submit
  --deploy-mode cluster ...``, logs to ``<cluster LogUri>/<cluster>/steps/<step>/stderr.gz``.

:func:`wait` polls the job, prints each state change and a heartbeat, cancels it when it
runs past the timeout (or on Ctrl-C) and, on failure, puts the tail of the driver's log into
the error. EMR 8 runs Spark 4.0 on Python 3.11: an application or cluster of an older
release is refused before anything is submitted.
"""

from __future__ import annotations

import gzip
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from demandcast.errors import UserError

MIN_RELEASE = 8  # emr-8.x: Spark 4.0, Python 3.11, what the entry point is written for


@dataclass
class Job:
    """What to run: an S3 entry point with its arguments, zips, files and Spark settings."""

    name: str
    entry_point: str
    arguments: list[str]
    py_files: list[str]
    files: list[str]
    conf: dict[str, str] = field(default_factory=dict)

    def submit_args(self) -> list[str]:
        args = ["--py-files", ",".join(self.py_files), "--files", ",".join(self.files)]
        for key, value in sorted(self.conf.items()):
            if any(c.isspace() for c in f"{key}{value}"):
                raise UserError(f"spark.submit.{key}={value!r}: values with spaces cannot be passed to "
                                "EMR's spark-submit parameters")
            args += ["--conf", f"{key}={value}"]
        return args


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise UserError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _release_major(label: str) -> int | None:
    try:
        return int(label.removeprefix("emr-").split(".")[0])
    except ValueError:
        return None


def _check_release(label: str, what: str) -> None:
    major = _release_major(label or "")
    if major is None or major < MIN_RELEASE:
        raise UserError(f"{what} runs release {label!r}; the features entry point needs emr-{MIN_RELEASE}.x "
                        "or newer (Spark 4, Python 3.11): use an application or cluster of that release")


def _required(spark_cfg, key: str, engine: str) -> str:
    value = spark_cfg.get(key)
    if not value:
        raise UserError(f"spark.{key} is not set: put it in conf/spark/{engine}.yaml or pass "
                        f"-S spark.{key}=... (see README, Team setup)")
    return str(value)


class Serverless:
    """An EMR Serverless application (``spark.application_id``)."""

    kind = "EMR Serverless job run"
    succeeded, failed = {"SUCCESS"}, {"FAILED", "CANCELLED"}

    def __init__(self, aws_session, spark_cfg, log_uri: str):
        from demandcast.cloud import aws

        self.client = aws.client(aws_session, "emr-serverless")
        self.application = _required(spark_cfg, "application_id", "emr_serverless")
        self.role = _required(spark_cfg, "execution_role_arn", "emr_serverless")
        self.timeout_minutes = math.ceil(float(spark_cfg.get("timeout_minutes") or 120))
        self.log_uri = log_uri.rstrip("/") + "/"

    def check(self) -> None:
        app = self.client.get_application(applicationId=self.application)["application"]
        _check_release(app.get("releaseLabel", ""), f"EMR Serverless application {self.application}")
        if app.get("state") in ("STOPPING", "TERMINATED"):
            raise UserError(f"EMR Serverless application {self.application} is {app['state']}: start it "
                            "or set spark.application_id to a running one")

    def submit(self, job: Job) -> str:
        run = self.client.start_job_run(
            applicationId=self.application, executionRoleArn=self.role, name=job.name,
            executionTimeoutMinutes=max(5, self.timeout_minutes + 5),  # a backstop behind wait()'s
            jobDriver={"sparkSubmit": {"entryPoint": job.entry_point, "entryPointArguments": job.arguments,
                                       "sparkSubmitParameters": " ".join(job.submit_args())}},
            configurationOverrides={"monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": self.log_uri}}})
        return run["jobRunId"]

    def status(self, run_id: str) -> tuple[str, str]:
        run = self.client.get_job_run(applicationId=self.application, jobRunId=run_id)["jobRun"]
        return run["state"], run.get("stateDetails") or ""

    def cancel(self, run_id: str) -> None:
        self.client.cancel_job_run(applicationId=self.application, jobRunId=run_id)

    def log_location(self, run_id: str) -> str:
        return f"{self.log_uri}applications/{self.application}/jobs/{run_id}/SPARK_DRIVER/"

    def logs(self, s3, run_id: str, wait_s: float) -> list[tuple[str, str]]:
        """The driver's stdout (where PySpark sends the Python driver's output) and stderr."""
        base = self.log_location(run_id)
        return read_logs(s3, [f"{base}stderr.gz", f"{base}stdout.gz"], wait_s)


class Steps:
    """A running EMR on EC2 cluster (``spark.cluster_id``), one step per submission."""

    kind = "EMR step"
    succeeded, failed = {"COMPLETED"}, {"FAILED", "CANCELLED", "INTERRUPTED"}

    def __init__(self, aws_session, spark_cfg, log_uri: str = ""):
        from demandcast.cloud import aws

        self.client = aws.client(aws_session, "emr")
        self.cluster = _required(spark_cfg, "cluster_id", "emr")
        self.action_on_failure = str(spark_cfg.get("action_on_failure") or "CONTINUE")
        self.log_uri: str | None = None  # the cluster's LogUri, read by check()

    def check(self) -> None:
        cluster = self.client.describe_cluster(ClusterId=self.cluster)["Cluster"]
        _check_release(cluster.get("ReleaseLabel", ""), f"EMR cluster {self.cluster}")
        state = cluster["Status"]["State"]
        if state not in ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"):
            raise UserError(f"EMR cluster {self.cluster} is {state}: set spark.cluster_id to a running "
                            "cluster")
        if cluster.get("LogUri"):  # the cluster's own log location is where EMR writes step logs
            self.log_uri = cluster["LogUri"].replace("s3n://", "s3://")

    def submit(self, job: Job) -> str:
        args = ["spark-submit", "--deploy-mode", "cluster", *job.submit_args(), job.entry_point,
                *job.arguments]
        added = self.client.add_job_flow_steps(JobFlowId=self.cluster, Steps=[{
            "Name": job.name, "ActionOnFailure": self.action_on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args}}])
        return added["StepIds"][0]

    def status(self, step_id: str) -> tuple[str, str]:
        status = self.client.describe_step(ClusterId=self.cluster, StepId=step_id)["Step"]["Status"]
        failure = status.get("FailureDetails") or {}
        detail = failure.get("Message") or failure.get("Reason") or \
            (status.get("StateChangeReason") or {}).get("Message") or ""
        return status["State"], detail

    def cancel(self, step_id: str) -> None:
        self.client.cancel_steps(ClusterId=self.cluster, StepIds=[step_id],
                                 StepCancellationOption="SEND_INTERRUPT")

    def log_location(self, step_id: str) -> str | None:
        if not self.log_uri:  # without a LogUri, step logs stay on the primary node
            return None
        return f"{self.log_uri.rstrip('/')}/{self.cluster}/steps/{step_id}/"

    def logs(self, s3, step_id: str, wait_s: float) -> list[tuple[str, str]]:
        """The step's own logs, then, in cluster deploy mode, the driver's YARN container logs
        (``containers/<application>/<first container>/``) of the application the step names."""
        base = self.log_location(step_id)
        if base is None:
            return []
        found = read_logs(s3, [f"{base}stdout.gz", f"{base}stderr.gz"], wait_s)
        app = re.search(r"application_\d+_\d+", "".join(text for _, text in found))
        if app:
            bucket, key = split_uri(f"{self.log_uri.rstrip('/')}/{self.cluster}/containers/{app.group(0)}/")
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            driver = sorted({o["Key"][len(key):].split("/")[0] for o in listed if "/" in o["Key"][len(key):]})
            if driver:  # the first container of an application is its driver (the application master)
                found += read_logs(s3, [f"s3://{bucket}/{key}{driver[0]}/stdout.gz",
                                        f"s3://{bucket}/{key}{driver[0]}/stderr.gz"], 0)
        return found


ENGINES = {"emr_serverless": Serverless, "emr": Steps}


def read_logs(s3, uris: list[str], wait_s: float = 0.0, poll_s: float = 5.0) -> list[tuple[str, str]]:
    """The (gzipped) log objects that exist, as text; waits up to ``wait_s`` for the first one,
    since EMR uploads logs some time after the job ends."""
    from botocore.exceptions import ClientError

    found, deadline = [], time.monotonic() + wait_s
    for i, uri in enumerate(uris):
        bucket, key = split_uri(uri)
        while True:
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError:
                if i == 0 and time.monotonic() < deadline:
                    time.sleep(poll_s)
                    continue
                break
            text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            found.append((uri, text.decode(errors="replace")))
            break
    return found


_CHATTER = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (INFO|DEBUG|TRACE) ")


def tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines that matter: Spark's INFO chatter left out, warnings, errors
    and Python's own output kept."""
    kept = [line for line in text.rstrip().splitlines() if not _CHATTER.match(line)]
    return "\n".join(kept[-lines:])


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def wait(engine, job_id: str, timeout_s: float, poll_s: float = 30.0, heartbeat_s: float = 300.0,
         echo: Callable[[str], None] = print) -> None:
    """Poll until the job ends. Failure: UserError with the state's detail (the caller adds the
    log). Past ``timeout_s`` or on Ctrl-C the job is cancelled first."""
    began = time.monotonic()
    last_state, last_echo = None, began
    try:
        while True:
            state, detail = engine.status(job_id)
            now = time.monotonic()
            if state != last_state or now - last_echo >= heartbeat_s:
                echo(f"{engine.kind} {job_id}: {state} ({_duration(now - began)})")
                last_state, last_echo = state, now
            if state in engine.succeeded:
                return
            if state in engine.failed:
                raise JobFailed(engine.kind, job_id, state, detail)
            if now - began > timeout_s:
                engine.cancel(job_id)
                raise UserError(f"{engine.kind} {job_id} did not finish within {_duration(timeout_s)} "
                                "(spark.timeout_minutes): it was cancelled")
            time.sleep(poll_s)
    except KeyboardInterrupt:
        engine.cancel(job_id)
        echo(f"{engine.kind} {job_id}: cancelled (interrupted)")
        raise


class JobFailed(UserError):
    def __init__(self, kind: str, job_id: str, state: str, detail: str):
        self.kind, self.job_id, self.state, self.detail = kind, job_id, state, detail
        super().__init__(f"{kind} {job_id} ended {state}" + (f": {detail}" if detail else ""))
