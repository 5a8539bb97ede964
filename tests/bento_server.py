"""Starting the packaged bento for real: `bentoml serve` in a subprocess on a loopback port
(through :mod:`demandcast.serving.local`, as `make ui` and the benchmarks start it)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from demandcast.serving import local
from tests.helpers import ROOT


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
    local.import_bento(archive, home)


@contextlib.contextmanager
def serving(home: Path, workdir: Path, port: int | None = None, timeout: float = 120, **env: str):
    """Serve ``demandcast:latest`` from the BentoML store ``home``; yields the base URL.

    Stopped with SIGTERM at the end (the service flushes its prediction log on shutdown);
    the server's output is kept in ``workdir/server.log``.
    """
    port = port or free_port()
    # One worker unless a test asks for more: /metadata's prediction-log counters are the
    # answering worker's own, and the tests read them as the whole service's.
    proc = local.serve(home, port, workdir, **{"DEMANDCAST_WORKERS": "1", **env})
    url = f"http://127.0.0.1:{port}"
    try:
        local.wait_until_up(f"{url}/readyz", proc, timeout, workdir / "server.log")
        yield url
    finally:
        local.stop(proc)
