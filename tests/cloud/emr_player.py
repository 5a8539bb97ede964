"""A stand-in for EMR's compute behind moto's API: it runs what was submitted, for real.

moto answers the EMR Serverless and EMR APIs but runs nothing (job runs are SUCCESS at once,
steps stay RUNNING). :class:`EmrPlayer` watches moto's backends in this process and plays
the cluster for each new job run or step:

* it reads the submission as EMR would (the ``sparkSubmit`` driver, or a step's
  ``command-runner.jar spark-submit`` arguments),
* stages the S3 inputs in a job folder: ``--py-files`` and the entry point as files,
  ``--files`` into the job's working directory (as YARN and EMR Serverless localize them),
  and every ``s3://`` argument as a local folder,
* runs the real ``spark-submit`` of the EMR release's Spark (4.0, as EMR 8) in local mode,
  with a Python that has no site-packages (``python -S``): only the uploaded zips can be
  imported, never this checkout or its virtual environment, and nothing can be found from
  the checkout's paths,
* writes what the job wrote back to S3 (without Hadoop's local ``.crc`` files, which EMRFS
  does not write), uploads its output as the driver's ``stdout.gz`` and ``stderr.gz`` where EMR puts
  them (here the driver runs inside spark-submit, so for a step these are the step's own
  logs; a real cluster in cluster mode has them in the YARN container logs, which the
  client reads too),
* and sets the job run's or step's state in moto's backend: RUNNING, then SUCCESS /
  COMPLETED or FAILED.

``hold = True`` leaves new jobs RUNNING forever (for timeout tests).
"""

from __future__ import annotations

import gzip
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID

from tests.helpers import JVM_OPTS

# The cluster's sizes do not fit this machine: these settings are the cluster's, not the job's.
_SIZING = ("spark.driver.memory", "spark.driver.cores", "spark.executor.", "spark.dynamicAllocation.",
           "spark.emr-serverless.")


@dataclass
class Submission:
    """A spark-submit as EMR received it."""

    kind: str                       # "serverless" or "step"
    job_id: str
    entry_point: str
    arguments: list[str]
    options: list[tuple[str, str]]  # (--flag, value) pairs, in order
    log_dir: tuple[str, str] | None  # (bucket, key prefix) of the driver's stdout.gz and stderr.gz

    def option(self, flag: str) -> list[str]:
        return [v for f, v in self.options if f == flag]


def parse_spark_submit(tokens: list[str]) -> tuple[list[tuple[str, str]], str, list[str]]:
    """``--flag value`` pairs up to the entry point, the entry point, its arguments."""
    options, i = [], 0
    while i < len(tokens) and tokens[i].startswith("--"):
        options.append((tokens[i], tokens[i + 1]))
        i += 2
    return options, tokens[i], tokens[i + 1:]


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class EmrPlayer:
    s3: object                      # a boto3 S3 client on the moto server
    spark_home: Path
    java_home: Path
    workdir: Path
    region: str = "us-east-1"
    hold: bool = False
    runs: dict[str, dict] = field(default_factory=dict)  # job id -> what happened
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.python = self.workdir / "python-without-site"
        self.workdir.mkdir(parents=True, exist_ok=True)
        base = os.path.realpath(sys.executable)  # the interpreter itself, not the venv's view of it
        self.python.write_text(f'#!/bin/sh\nexec "{base}" -S "$@"\n')
        self.python.chmod(0o755)
        self._thread = threading.Thread(target=self._loop, name="emr-player", daemon=True)

    def start(self) -> EmrPlayer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=600)

    # --- moto's backends ---------------------------------------------------------------------
    def _backends(self):
        from moto.emr.models import emr_backends
        from moto.emrserverless.models import emrserverless_backends

        return (emrserverless_backends[DEFAULT_ACCOUNT_ID][self.region],
                emr_backends[DEFAULT_ACCOUNT_ID][self.region])

    def _pending(self):
        serverless, emr = self._backends()
        for runs in list(serverless.job_runs.values()):
            for run in list(runs):
                if run.id not in self.runs and run.state in ("SUBMITTED", "PENDING", "SCHEDULED"):
                    yield run, self._serverless(run)
        for cluster in list(emr.clusters.values()):
            for step in list(cluster.steps):
                if step.id not in self.runs and step.state in ("PENDING", "RUNNING"):
                    yield step, self._step(cluster, step)

    def _serverless(self, run) -> Submission:
        driver = run.job_driver["sparkSubmit"]
        options, _, _ = parse_spark_submit(shlex.split(driver.get("sparkSubmitParameters", "")) + ["-"])
        monitoring = run.configuration_overrides["monitoringConfiguration"]
        log_uri = monitoring["s3MonitoringConfiguration"]["logUri"]
        bucket, prefix = split_uri(log_uri)
        key = f"{prefix.rstrip('/')}/applications/{run.application_id}/jobs/{run.id}/SPARK_DRIVER/"
        return Submission("serverless", run.id, driver["entryPoint"],
                          list(driver.get("entryPointArguments", [])),
                          options, (bucket, key.lstrip("/")))

    def _step(self, cluster, step) -> Submission:
        assert step.jar == "command-runner.jar" and step.args[0] == "spark-submit", step.args
        options, entry, arguments = parse_spark_submit(list(step.args[1:]))
        log = None
        if cluster.log_uri:
            bucket, prefix = split_uri(cluster.log_uri.replace("s3n://", "s3://"))
            log = (bucket, f"{prefix.rstrip('/')}/{cluster.id}/steps/{step.id}/".lstrip("/"))
        return Submission("step", step.id, entry, arguments, options, log)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for job, submission in list(self._pending()):
                self.runs[submission.job_id] = {"submission": submission}
                job.state = "RUNNING"
                if self.hold:
                    continue
                try:
                    ok = self._play(submission)
                except Exception as exc:  # a broken submission fails the job, as on EMR
                    self.runs[submission.job_id]["error"] = repr(exc)
                    ok = False
                if submission.kind == "serverless":
                    job.state = "SUCCESS" if ok else "FAILED"
                    if not ok:
                        job.state_details = ("Job failed, please check complete logs in configured logging "
                                             "destination. ExitCode: 1.")
                else:
                    job.state = "COMPLETED" if ok else "FAILED"
                    if not ok:
                        job.last_state_change_reason = "Step failed with exitCode 1"
            self._stop.wait(0.2)

    # --- running a submission ------------------------------------------------------------------
    def _fetch(self, uri: str, dest: Path) -> Path:
        bucket, key = split_uri(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(bucket, key, str(dest))
        return dest

    def _mirror(self, uri: str, job_dir: Path) -> tuple[Path, set[str]]:
        """An s3:// folder argument as a local folder holding what S3 has under it."""
        bucket, prefix = split_uri(uri)
        local = job_dir / "s3" / bucket / prefix
        local.mkdir(parents=True, exist_ok=True)
        fetched = set()
        listing = self.s3.get_paginator("list_objects_v2")
        pages = listing.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
        for page in pages:
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix.rstrip("/")) + 1:]
                self._fetch(f"s3://{bucket}/{obj['Key']}", local / rel)
                fetched.add(rel)
        return local, fetched

    def _play(self, sub: Submission) -> bool:
        job_dir = self.workdir / sub.job_id
        cwd = job_dir / "cwd"
        cwd.mkdir(parents=True)
        py_files = [str(self._fetch(u, job_dir / "py-files" / u.rsplit("/", 1)[1]))
                    for v in sub.option("--py-files") for u in v.split(",")]
        for value in sub.option("--files"):  # localized into the driver's working directory
            for uri in value.split(","):
                self._fetch(uri, cwd / uri.rsplit("/", 1)[1])
        entry = self._fetch(sub.entry_point, job_dir / "entry" / sub.entry_point.rsplit("/", 1)[1])
        mirrors, arguments = {}, []
        for arg in sub.arguments:
            if "s3://" in arg:
                name, _, uri = arg.partition("s3://")
                mirrors["s3://" + uri] = self._mirror("s3://" + uri, job_dir)
                arg = f"{name}{mirrors['s3://' + uri][0]}"
            arguments.append(arg)
        confs = [c for c in sub.option("--conf") if not c.startswith(_SIZING)]
        cmd = [str(self.spark_home / "bin" / "spark-submit"), "--master", "local[2]", "--driver-memory", "1g",
               "--driver-java-options", JVM_OPTS, "--conf", "spark.ui.enabled=false",
               "--conf", "spark.driver.host=127.0.0.1", *[x for c in confs for x in ("--conf", c)],
               "--py-files", ",".join(py_files), str(entry), *arguments]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(job_dir), "LANG": "C.UTF-8",
               "JAVA_HOME": str(self.java_home),
               "SPARK_HOME": str(self.spark_home), "PYSPARK_PYTHON": str(self.python),
               "PYSPARK_DRIVER_PYTHON": str(self.python), "SPARK_LOCAL_IP": "127.0.0.1",
               "TMPDIR": str(job_dir)}
        began = time.monotonic()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=600)
        log = (done.stdout + done.stderr).decode(errors="replace")
        self.runs[sub.job_id].update(cmd=cmd, cwd=cwd, returncode=done.returncode, log=log,
                                     seconds=time.monotonic() - began)
        if sub.log_dir:  # spark-submit's own streams; PySpark sends the Python driver's to stdout
            for name, stream in (("stdout.gz", done.stdout), ("stderr.gz", done.stderr)):
                self.s3.put_object(Bucket=sub.log_dir[0], Key=sub.log_dir[1] + name,
                                   Body=gzip.compress(stream))
        if done.returncode != 0:
            return False
        for uri, (local, fetched) in mirrors.items():  # what the job wrote goes back to S3
            bucket, prefix = split_uri(uri)
            for path in sorted(p for p in local.rglob("*") if p.is_file()):
                rel = path.relative_to(local).as_posix()
                if rel in fetched or path.name.endswith(".crc"):
                    continue
                self.s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{rel}")
        return True
