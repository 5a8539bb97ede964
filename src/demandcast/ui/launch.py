"""``make ui`` (``demandcast ui``): the API if nothing answers at ``ui.api_url``, then the app.

When the configured API does not answer and it is on this machine, the exported bento
(``artifacts/package/demandcast.bento``) is imported into a private BentoML store
(``artifacts/ui/bentoml``, imported again when the archive changes) and served with
``bentoml serve`` on the URL's port; its log and prediction log go to ``artifacts/ui/``. Then
``streamlit run ui/app.py`` serves the app on ``ui.port``. Ctrl-C stops both; a service that
was already running is left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from demandcast.errors import UserError
from demandcast.serving.local import import_bento, serve, stop, wait_until_up
from demandcast.ui import settings as ui_settings
from demandcast.ui.api import Client

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    proc = serve(import_bento(archive, workdir / "bentoml"), url.port or 80, workdir,
                 **({"DEMANDCAST_API_TOKEN": s.api_token} if s.api_token else {}))
    try:
        wait_until_up(f"{s.api_url}/readyz", proc, 300, workdir / "server.log")
    except BaseException:
        stop(proc)
        raise
    return proc


def streamlit_command(app: Path, port: int) -> list[str]:
    """``streamlit run`` of ``app`` on loopback ``port``, headless, without usage statistics and
    without Streamlit's full garbage collection after every script run: with pandas, pyarrow
    and Altair loaded, ``gc.collect(2)`` took 0.2-2 s here, holding the interpreter while the
    server should send the page's last messages and scripts (Python's own collector still runs)."""
    return [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--runner.postScriptGC", "false",
            "--client.toolbarMode", "viewer"]  # no "Deploy" button or developer menu for planners


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
