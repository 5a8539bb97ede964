"""Serving the exported bento on this machine: import the archive into a BentoML store, run
``bentoml serve`` in its own process group, wait until it answers, stop it.

``make ui`` (:mod:`demandcast.ui.launch`), the UI benchmark and the serving tests start the
service this way; the image (``Dockerfile``) is the production route.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from demandcast.errors import UserError

BENTOML = Path(sys.executable).parent / "bentoml"


def import_bento(archive: Path, home: Path) -> Path:
    """``home`` (a BentoML store) holding ``archive``: imported once, and again from scratch
    when the archive's bytes change."""
    digest = hashlib.md5(Path(archive).read_bytes()).hexdigest()
    marker = home / "imported.md5"
    if marker.exists() and marker.read_text() == digest:
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run([str(BENTOML), "import", str(Path(archive).resolve())], env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise UserError(f"bentoml import {archive} failed: {done.stderr.strip()[-800:]}")
    marker.write_text(digest)
    return home


def serve(home: Path, port: int, workdir: Path, **env: str) -> subprocess.Popen:
    """``bentoml serve demandcast:latest`` from the store ``home`` on loopback ``port``; its
    output goes to ``workdir/server.log``, its prediction log under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
                "DEMANDCAST_LOG_DIR": str(workdir / "prediction-logs"), **env}
    with open(workdir / "server.log", "ab") as log:
        return subprocess.Popen([str(BENTOML), "serve", "demandcast:latest", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=workdir, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    """Until ``url`` answers 200 (``/readyz``: the bundle is loaded); the log's tail in the error
    when the process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"{proc.args[0]} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise UserError(f"{url} did not answer in {timeout:.0f} s:\n{_tail(log)}")


def stop(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the process group (the service flushes its prediction log), SIGKILL after ``grace``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"
