"""Starting the packaged bento for real: `bentoml serve` in a subprocess on a loopback port
(through :mod:`demandcast.serving.local`, as `make ui` and the benchmarks start it)."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from demandcast.serving import local


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def import_bento(archive: Path, home: Path) -> None:
    local.import_bento(archive, home)


@contextlib.contextmanager
def serving(home: Path, workdir: Path, port: int | None = None, timeout: float = 120, **env: str):
    """Serve ``demandcast:latest`` from the BentoML store ``home``; yields the base URL.

    Stopped with SIGTERM at the end (the service flushes its prediction log on shutdown);
    the server's output is kept in ``workdir/server.log``.
    """
    port = port or free_port()
    proc = local.serve(home, port, workdir, **env)
    url = f"http://127.0.0.1:{port}"
    try:
        local.wait_until_up(f"{url}/readyz", proc, timeout, workdir / "server.log")
        yield url
    finally:
        local.stop(proc)
