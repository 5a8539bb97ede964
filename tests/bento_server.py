"""Starting the packaged bento for real: `bentoml serve` in a subprocess on a loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BENTOML = Path(sys.executable).parent / "bentoml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def import_bento(archive: Path, home: Path) -> None:
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    subprocess.run([str(BENTOML), "import", str(archive.resolve())], env=env, check=True,
                   capture_output=True, timeout=120)


@contextlib.contextmanager
def serving(home: Path, workdir: Path, port: int | None = None, timeout: float = 120, **env: str):
    """Serve ``demandcast:latest`` from the BentoML store ``home``; yields the base URL.

    Stopped with SIGTERM at the end (the service flushes its prediction log on shutdown);
    the server's output is kept in ``workdir/server.log``.
    """
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "server.log", "ab")
    # One worker unless a test asks for more: /metadata's prediction-log counters are the
    # answering worker's own, and the tests read them as the whole service's.
    full_env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
                "DEMANDCAST_WORKERS": "1", "DEMANDCAST_LOG_DIR": str(workdir / "prediction-logs"), **env}
    proc = subprocess.Popen([str(BENTOML), "serve", "demandcast:latest", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=workdir, env=full_env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout, workdir / "server.log")
        yield url
    finally:
        stop(proc)
        log.close()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"bentoml serve not ready in {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen, grace: float = 30) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
