"""Helpers shared by the tests that run the project's commands in a throw-away checkout."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout under test
TINY = ("data.n_stores=2", "data.n_items=10", "data.end=2022-03-31")
# Every JVM of the tests runs a tiny job and exits: C2 compilation and the parallel collector's
# threads cost more than they save there (a tiny features stage: 54 CPU-s with them, 32 without).
JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in this process on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def isolated_env(tmp: Path, **extra: str) -> dict[str, str]:
    """This machine's environment without its AWS and DVC settings, so only the test's count."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "DVC_")) and k != "PYTHONPATH"}
    env.update(AWS_CONFIG_FILE=str(tmp / "absent-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "absent-aws-credentials"),
               AWS_EC2_METADATA_DISABLED="true", NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost", DVC_NO_ANALYTICS="1",
               DVC_GLOBAL_CONFIG_DIR=str(tmp / "dvc-global"),
               DVC_SYSTEM_CONFIG_DIR=str(tmp / "dvc-system"),
               DVC_SITE_CACHE_DIR=str(tmp / "dvc-site-cache"), **extra)
    return env


def run(repo: Path, env: dict[str, str], *args: str,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """``python *args`` in ``repo`` with ``env``, output captured as text."""
    return subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=timeout)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Assert that ``result`` succeeded (showing its output if not) and return it."""
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


def digests(folder: Path) -> dict[str, str]:
    """The md5 of every file below ``folder``, by relative POSIX path."""
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tracked_data(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """Generate tiny data, ``dvc add`` it; return the md5 of every file by relative path."""
    ok(run(repo, env, "-m", "demandcast", "generate", *TINY))
    ok(run(repo, env, "-m", "dvc", "add", "data"))
    return digests(repo / "data")


def stage_workspace(root: Path, tiny_data: Path, tiny_features, *extra: str,
                    data: str = "tiny") -> tuple[Path, list[str]]:
    """A throw-away artifacts folder holding the tiny features, and the stage overrides that
    point artifacts, reports, data, truth and a SQLite MLflow store at it (plus ``extra``);
    ``data`` is the data preset the features were made with."""
    (root / "artifacts").mkdir()
    (root / "artifacts" / "features").symlink_to(tiny_features[0])
    return root, [f"paths.artifacts={root / 'artifacts'}", f"paths.reports={root / 'reports'}",
                  f"paths.data={tiny_data}", f"paths.truth={tiny_data / 'truth' / 'expected_demand.parquet'}",
                  f"mlflow.tracking_uri=sqlite:///{root / 'mlflow.db'}", f"data={data}", *extra]
