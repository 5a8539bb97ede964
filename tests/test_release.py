"""``demandcast release`` for real: build with buildah, push to a registry, pull back by digest.

The registry is Debian's ``docker-registry`` (the CNCF distribution registry) on loopback
with htpasswd authentication, plain HTTP (``--tls-verify=false``). The image is built once,
from the tiny bento the serving tests package (``$DEMANDCAST_RELEASE_BENTO``: another archive,
with its package.json beside it), on the Debian base the container test uses
(:mod:`tests.buildah`: its debootstrap root file system is cached, so a machine pays for it
once). After the push every local image is removed and the image is pulled back by digest:
its labels must name the model version, the git commit and the data version, and it must
hold exactly the packages of bento/requirements.txt.

Needs root, ``buildah``, ``docker-registry`` and ``htpasswd`` (apache2-utils); ``.ci/run``
installs them. Skipped with the reason otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demandcast.release import IMAGE
from demandcast.serving import requirements
from tests.buildah import base_image, close_buildah, open_buildah
from tests.helpers import ROOT

USER, PASSWORD = "releaser", "s3cret-for-tests"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
TIMINGS: dict[str, float] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    bh = open_buildah(tmp_path_factory.mktemp("release-buildah"))
    yield bh
    close_buildah(bh)
    print("\nrelease test timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """docker-registry on a free loopback port with htpasswd auth; yields ``host:port``."""
    for tool, package in (("docker-registry", "docker-registry"), ("htpasswd", "apache2-utils")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian: apt-get install {package})")
    tmp = tmp_path_factory.mktemp("registry")
    users = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True)
    (tmp / "htpasswd").write_text(users.stdout)
    port = _free_port()
    (tmp / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: demandcast-tests\n    path: {tmp / 'htpasswd'}\n")
    log = tmp / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(tmp / "config.yml")], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while _status(f"http://127.0.0.1:{port}/v2/") != 401:  # up, and asking for credentials
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"docker-registry not up:\n{log.read_text()}"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def _status(url: str, auth: bool = False) -> int | None:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", BASIC)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _get_json(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": BASIC})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def bento(request):
    """(archive, the package stage's package.json): the tiny bento the serving tests package,
    or ``$DEMANDCAST_RELEASE_BENTO`` (an archive with its package.json beside it)."""
    given = os.environ.get("DEMANDCAST_RELEASE_BENTO")
    if given:
        archive = Path(given)
        return archive, json.loads((archive.parent / "package.json").read_text())
    tiny = request.getfixturevalue("tiny_bento")
    return tiny.archive, tiny.package


@pytest.fixture(scope="module")
def released(buildah, registry, bento, tmp_path_factory):
    """``python -m demandcast release`` against the registry, as ``make release`` runs it."""
    began = time.monotonic()
    base = base_image(buildah, TIMINGS)
    TIMINGS["base image"] = time.monotonic() - began
    buildah("login", "--tls-verify=false", "-u", USER, "--password-stdin", registry, input_text=PASSWORD)
    summary = tmp_path_factory.mktemp("release") / "release.json"
    env = {k: v for k, v in buildah.env.items() if not k.startswith("GITHUB_")}
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "demandcast", "release", "--registry", registry,
                           "--bento", str(bento[0]), "--base-image", base, "--tls-verify", "false",
                           "--summary", str(summary)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    TIMINGS["release (build + push)"] = time.monotonic() - began
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return json.loads(summary.read_text()), done.stdout


@pytest.mark.slow
def test_release_pushes_both_tags_to_the_registry(released, registry, bento):
    result, stdout = released
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    sha = head.stdout.strip()
    version = bento[1]["model_version"]
    assert result["tags"] == [f"{registry}/{IMAGE}:{sha}", f"{registry}/{IMAGE}:model-v{version}"]
    assert result["digest"].startswith("sha256:")
    assert result["image"] == f"{registry}/{IMAGE}@{result['digest']}"
    tags = _get_json(f"http://{registry}/v2/{IMAGE}/tags/list")["tags"]
    assert sorted(tags) == sorted([sha, f"model-v{version}"])
    assert _status(f"http://{registry}/v2/{IMAGE}/tags/list") == 401  # the registry does check credentials
    assert f"release: pushed {result['image']}" in stdout


@pytest.mark.slow
def test_the_image_pulled_back_by_digest_carries_its_provenance(released, buildah, registry, bento):
    result, _ = released
    package = bento[1]
    buildah("rmi", "--all", "--force")  # nothing local left: what follows comes from the registry
    began = time.monotonic()
    buildah("pull", "--tls-verify=false", result["image"], timeout=900)
    TIMINGS["pull by digest"] = time.monotonic() - began
    inspected = json.loads(buildah("inspect", "--type", "image", result["image"]).stdout)
    labels = inspected["Docker"]["config"]["Labels"]
    sha = result["tags"][0].rsplit(":", 1)[1]
    assert labels["io.demandcast.model.version"] == str(package["model_version"])
    assert labels["io.demandcast.model.name"] == package["model_name"]
    assert labels["io.demandcast.data.version"] == package["data_version"]
    assert labels["io.demandcast.git.sha"] == labels["org.opencontainers.image.revision"] == sha
    assert labels["io.demandcast.features.spec_hash"] == package["feature_spec_hash"]
    assert inspected["Docker"]["config"]["Healthcheck"]["Test"][0] == "CMD"  # docker format kept it

    # Exactly the locked packages, no more: the image is what the lock says.
    ctr = buildah("from", result["image"]).stdout.strip()
    frozen = buildah("run", ctr, "--", "/opt/venv/bin/python", "-m", "pip", "list", "--format=freeze",
                     "--disable-pip-version-check").stdout
    installed = {_canonical(n): v for n, v in (line.split("==") for line in frozen.split() if "==" in line)}
    lines = (ROOT / requirements.REQUIREMENTS).read_text().splitlines()
    locked = {_canonical(n): v for n, v in (line.split("==") for line in lines if line and line[0] != "#")}
    tools = {"pip", "setuptools", "wheel"}  # the venv's own installer
    assert {n: v for n, v in installed.items() if n not in tools} == locked


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_models_provenance_is_read_from_inside_the_bento(tmp_path):
    import io
    import tarfile

    from demandcast.release import bento_metadata

    archive = tmp_path / "demandcast.bento"
    meta = {"model_name": "demandcast-xgboost", "model_version": 7, "data_version": "abc123"}
    with tarfile.open(archive, "w:xz") as tar:
        for name, body in (("./bento.yaml", b"service: x\n"),
                           ("./models/demandcast-forecaster/v1/metadata.json", json.dumps(meta).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    assert bento_metadata(archive) == meta


def test_release_without_a_bento_says_how_to_get_one(tmp_path):
    done = subprocess.run([sys.executable, "-m", "demandcast", "release", "--registry", "127.0.0.1:9",
                           "--bento", str(tmp_path / "none.bento")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "none.bento is missing: get the packaged bento first (uv run dvc pull package" in done.stderr
