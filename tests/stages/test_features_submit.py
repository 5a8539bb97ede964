"""The feature ETL through ``spark-submit`` on a standalone cluster, not only in local mode.

A master and one worker run on loopback from pyspark's own ``bin/spark-class``; the stage
is submitted exactly as the docstring of :mod:`stages.features` says, with the ``demandcast``
library shipped as a zip, and must write what a local-mode run writes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from demandcast.features import feature_spec
from demandcast.features.feature_spec import META
from tests.features.test_stable_parquet import assert_stable_footers
from tests.helpers import JVM_OPTS, ROOT, digests

pytestmark = pytest.mark.slow

APP = "demandcast-features"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else f"({path} missing)"


def _stop(proc: subprocess.Popen) -> None:
    """End ``proc``'s whole process group (a worker's executors and their Python workers too)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Cluster:
    """A standalone master and one 1-core worker on loopback, started by :meth:`start`."""

    def __init__(self, tmp: Path):
        import pyspark

        from demandcast.spark import java_home

        self.tmp = tmp
        self.spark_home = Path(pyspark.__file__).parent  # the pip package is a SPARK_HOME
        self.work_dir = tmp / "work"
        self.port, self.webui = _free_port(), _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SPARK_", "PYSPARK_")) and k != "PYTHONPATH"}
        env.update(SPARK_HOME=str(self.spark_home), JAVA_HOME=str(java_home()),
                   SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=str(tmp / "logs"),
                   SPARK_PID_DIR=str(tmp / "pids"), SPARK_WORKER_DIR=str(self.work_dir),
                   SPARK_DAEMON_MEMORY="256m", SPARK_DAEMON_JAVA_OPTS=JVM_OPTS,
                   PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
                   NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        logs = self.tmp / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        deploy = "org.apache.spark.deploy"
        commands = {
            "master": [f"{deploy}.master.Master", "--host", "127.0.0.1", "--port", str(self.port),
                       "--webui-port", str(self.webui)],
            "worker": [f"{deploy}.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                       "--memory", "1g", "--webui-port", str(_free_port()), self.url],
        }
        for name, args in commands.items():
            with open(logs / f"{name}.log", "wb") as log:
                self.procs[name] = subprocess.Popen(
                    [str(self.spark_home / "bin" / "spark-class"), *args], env=self.env,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)

    def stop(self) -> None:
        for name in ("worker", "master"):
            if name in self.procs:
                _stop(self.procs[name])

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.webui}/json/", timeout=5) as resp:
            return json.load(resp)

    def logs(self) -> str:
        return "\n".join(f"--- {name}.log ---\n{_tail(self.tmp / 'logs' / f'{name}.log')}"
                         for name in self.procs)

    def wait_for_worker(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"the {name} exited ({proc.returncode})\n{self.logs()}"
            try:
                if any(w["state"] == "ALIVE" for w in self.state()["workers"]):
                    return
            except OSError:
                pass  # the master's web UI is not up yet
            time.sleep(0.5)
        pytest.fail(f"no worker registered with {self.url} within {timeout:.0f}s\n{self.logs()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A started standalone cluster; call ``wait_for_worker()`` before submitting to it."""
    cluster = Cluster(tmp_path_factory.mktemp("standalone"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _library_zip(dest: Path) -> Path:
    """The ``demandcast`` library as ``--py-files`` ships it to the executors."""
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted((ROOT / "src" / "demandcast").rglob("*.py")):
            zf.write(path, path.relative_to(ROOT / "src").as_posix())
    return dest


def _submit(cluster: Cluster, args: list[str], log: Path, timeout: float = 240) -> int:
    """``spark-submit`` in its own process group, so a timeout leaves no driver behind."""
    cmd = [str(cluster.spark_home / "bin" / "spark-submit"), "--master", cluster.url, *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=cluster.env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            pytest.fail(f"spark-submit ran past {timeout:.0f}s\n{_tail(log)}\n{cluster.logs()}")


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.astype({c: str for c in frame.select_dtypes("category").columns})
    return frame.sort_values(keys).reset_index(drop=True)


def test_features_stage_runs_on_a_standalone_cluster(spark, tiny_features, tiny_data, cluster, tmp_path):
    assert spark.sparkContext.master.startswith("local")  # tiny_features is the local-mode run
    local_out, manifest = tiny_features
    cluster.wait_for_worker()
    art, log = tmp_path / "art", tmp_path / "spark-submit.log"
    code = _submit(cluster, [
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.driver.host=127.0.0.1", "--executor-memory", "512m",
        "--driver-java-options", JVM_OPTS, "--conf", f"spark.executor.extraJavaOptions={JVM_OPTS}",
        "--py-files", str(_library_zip(tmp_path / "demandcast.zip")),
        "stages/features.py", "data=tiny", f"paths.data={tiny_data}", f"paths.artifacts={art}",
        f"paths.reports={tmp_path / 'reports'}",  # not the checkout's reports/
    ], log)
    assert code == 0, f"spark-submit exited {code}\n{_tail(log)}\n{cluster.logs()}"

    out = art / "features"
    assert (out / "_SUCCESS").exists() and list(out.glob("part_month=*/*.parquet"))
    written = json.loads((out / META / "manifest.json").read_text())
    assert written == json.loads(json.dumps(manifest, default=list))
    # Written by another JVM (the cluster's executor), rewritten by the driver: the local run's bytes.
    assert_stable_footers(out)
    assert digests(out) == digests(local_out)
    report = json.loads((tmp_path / "reports" / "features.json").read_text())
    assert report["warnings"] == written["checks"]["warnings"]

    keys = list(feature_spec.KEYS)
    got, want = (_sorted(pd.read_parquet(d), keys) for d in (out, local_out))
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_exact=False)
    for prior in sorted(local_out.glob(f"{META}/priors_*.parquet")):
        want = pd.read_parquet(prior)
        got = pd.read_parquet(out / META / prior.name)
        pd.testing.assert_frame_equal(_sorted(got, list(want.columns)), _sorted(want, list(want.columns)),
                                      check_exact=False)

    # The work ran on the worker's executor, not in the driver.
    apps = [a for a in cluster.state()["completedapps"] if a["name"] == APP]
    assert len(apps) == 1 and apps[0]["state"] == "FINISHED", cluster.state()["completedapps"]
    executors = sorted((cluster.work_dir / apps[0]["id"]).iterdir())  # one folder per executor
    assert executors and all((e / "demandcast.zip").exists() for e in executors), executors
    stderr = "".join((e / "stderr").read_text(errors="replace") for e in executors)
    assert "Finished task" in stderr and "PythonRunner" in stderr, stderr[-3000:]
