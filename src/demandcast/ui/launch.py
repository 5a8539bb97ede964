"""``make ui`` (``demandcast ui``): the API if nothing answers at ``ui.api_url``, then the app.

When the configured API does not answer and it is on this machine, the exported bento
(``artifacts/package/demandcast.bento``) is imported into a private BentoML store
(``artifacts/ui/bentoml``, imported again when the archive changes) and served with
``bentoml serve`` on the URL's port; its log and prediction log go to ``artifacts/ui/``. Then
``streamlit run ui/app.py`` serves the app on ``ui.port``. Ctrl-C stops both; a service that
was already running is left alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from demandcast.errors import UserError
from demandcast.ui import settings as ui_settings
from demandcast.ui.api import Client

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bento_home(archive: Path, home: Path) -> Path:
    """``home`` holding ``archive`` imported (re-imported from scratch when its bytes changed)."""
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    marker = home / "imported.md5"
    if marker.exists() and marker.read_text() == digest:
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run([str(Path(sys.executable).parent / "bentoml"), "import", str(archive.resolve())],
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise UserError(f"bentoml import {archive} failed: {done.stderr.strip()[-800:]}")
    marker.write_text(digest)
    return home


def serve(home: Path, port: int, workdir: Path, **env: str) -> subprocess.Popen:
    """``bentoml serve demandcast:latest`` from ``home`` on loopback ``port`` (own process group)."""
    workdir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
                "DEMANDCAST_LOG_DIR": str(workdir / "prediction-logs"), **env}
    with open(workdir / "server.log", "ab") as log:
        return subprocess.Popen([str(Path(sys.executable).parent / "bentoml"), "serve", "demandcast:latest",
                                 "--host", "127.0.0.1", "--port", str(port)], cwd=workdir, env=full_env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(client: Client, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    """Until ``/readyz`` says 200; the log's tail when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"the API exited with {proc.returncode}:\n{_tail(log)}")
        if client.ready():
            return
        time.sleep(0.3)
    raise UserError(f"the API was not ready in {timeout:.0f} s:\n{_tail(log)}")


def stop(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the process group (the service flushes its log), SIGKILL after ``grace``."""
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


def ensure_api(s: ui_settings.Settings) -> subprocess.Popen | None:
    """Nothing when the API answers; else the local service started (returned, to stop later)."""
    client = Client(s.api_url, s.api_token, s.timeout_s)
    if client.ready():
        print(f"ui: the API at {s.api_url} is up")
        return None
    url = urlparse(s.api_url)
    if url.hostname not in LOOPBACK:
        raise UserError(f"nothing answers at {s.api_url} and it is not on this machine: start the service "
                        "there, or set DEMANDCAST_API_URL to one that runs")
    archive = s.artifacts / "package" / "demandcast.bento"
    if not archive.exists():
        raise UserError(f"{archive} is missing: build it with `make run` (or `uv run dvc repro package`)")
    workdir = s.artifacts / "ui"
    print(f"ui: serving {archive} on {s.api_url} (log: {workdir / 'server.log'})")
    proc = serve(bento_home(archive, workdir / "bentoml"), url.port or 80, workdir,
                 **({"DEMANDCAST_API_TOKEN": s.api_token} if s.api_token else {}))
    try:
        wait_ready(client, proc, 300, workdir / "server.log")
    except BaseException:
        stop(proc)
        raise
    return proc


def streamlit_command(app: Path, port: int) -> list[str]:
    """``streamlit run`` of ``app`` on loopback ``port``, headless, without usage statistics."""
    return [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def run(cfg=None) -> int:
    s = ui_settings.load() if cfg is None else ui_settings.from_config(cfg)
    api = ensure_api(s)
    env = {**os.environ, ui_settings.URL_ENV: s.api_url, "DEMANDCAST_ROOT": str(s.root)}
    app = subprocess.Popen(streamlit_command(s.root / "ui" / "app.py", s.port), env=env,
                           start_new_session=True)
    print(f"ui: the app is at http://127.0.0.1:{s.port} (Ctrl-C stops it"
          f"{' and the API' if api else ''})")
    try:
        return app.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(app, grace=10)
        if api is not None:
            stop(api)
