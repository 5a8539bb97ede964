"""Starting the packaged bento for real: `bentoml serve` in a subprocess on a loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

from tests.helpers import ROOT

BENTOML = Path(sys.executable).parent / "bentoml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_bento(root: Path, args: list[str], data: Path) -> SimpleNamespace:
    """train -> evaluate -> register -> package in the stage workspace ``root`` (``args``: its
    overrides), as DVC runs them; the bento imported into a throw-away BentoML store."""
    from stages import evaluate, register, train  # the stages' own entry points

    for stage in (train, evaluate, register):
        assert stage.main(args) == 0, f"{stage.__name__} failed"
    assert json.loads((root / "reports" / "registry.json").read_text())["decision"] == "champion"
    done = subprocess.run([sys.executable, "-m", "stages.package", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    archive = root / "artifacts" / "package" / "demandcast.bento"
    home = root / "bentoml"
    import_bento(archive, home)
    return SimpleNamespace(root=root, args=args, archive=archive, home=home, data=data,
                           package=json.loads((root / "artifacts" / "package" / "package.json").read_text()),
                           stdout=done.stdout)


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
    full_env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
                "DEMANDCAST_LOG_DIR": str(workdir / "prediction-logs"), **env}
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
