"""buildah for the image tests, without a daemon and without touching the machine's images.

:class:`Buildah` runs buildah with its own storage under a temporary folder (its own
storage.conf, chroot isolation, docker image format); :func:`open_buildah` picks a storage
driver that works here (overlay, else vfs) and :func:`close_buildah` removes everything it
made. :func:`base_image` gives the Dockerfile's BASE_IMAGE: ``python:3.11-slim`` when a
registry can be reached, else the local Debian base of ``tests/serving/container_base.sh``,
whose debootstrap root file system is cached under ``~/.cache/demandcast/container-base``,
so the image tests share it and only the first run on a machine pays for it.

Environment knobs: ``DEMANDCAST_BASE_IMAGE`` (use this base, no pull attempt; e.g.
``localhost/demandcast-base:py311`` to go straight to the Debian base),
``DEMANDCAST_BUILDAH_DRIVER`` (``overlay`` or ``vfs``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import ROOT

BASE_SCRIPT = ROOT / "tests" / "serving" / "container_base.sh"
UPSTREAM_BASE = "docker.io/library/python:3.11-slim"
LOCAL_BASE = "localhost/demandcast-base:py311"
PULL_TIMEOUT_S = 90
BASE_TIMEOUT_S = 1200


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Buildah:
    """buildah with its own storage under ``workdir``: a storage.conf of its own, chroot isolation."""

    workdir: Path
    driver: str = "overlay"
    env: dict[str, str] = field(default_factory=dict)

    def configure(self, driver: str) -> None:
        self.driver = driver
        conf = self.workdir / "storage.conf"
        conf.write_text(f'[storage]\ndriver = "{driver}"\n'
                        f'graphroot = "{self.workdir / "storage"}"\n'
                        f'runroot = "{self.workdir / "run"}"\n')
        tmp = self.workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        auth = self.workdir / "auth.json"  # logins made here stay here, not in the user's files
        if not auth.exists():
            auth.write_text('{"auths": {}}\n')
        self.env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf), "BUILDAH_ISOLATION": "chroot",
                    "BUILDAH_FORMAT": "docker", "TMPDIR": str(tmp),
                    "REGISTRY_AUTH_FILE": str(self.workdir / "auth.json")}

    def __call__(self, *args: str, timeout: float = 300, check: bool = True, log: Path | None = None,
                 input_text: str | None = None) -> subprocess.CompletedProcess:
        cmd = ["buildah", *args]
        if log is None:
            res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout,
                                 input=input_text)
            detail = (res.stdout + res.stderr)[-4000:]
        else:
            with log.open("a") as out:
                res = subprocess.run(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True,
                                     timeout=timeout)
            detail = tail(log)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {res.returncode}:\n{detail}")
        return res


def unmount_under(path: Path) -> None:
    """Lazily unmount whatever buildah left mounted below ``path`` (deepest first)."""
    prefix = str(path.resolve()) + "/"
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mnt in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def open_buildah(workdir: Path) -> Buildah:
    """A :class:`Buildah` on the first storage driver that works here; skips without buildah or root."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (Debian: apt-get install buildah debootstrap)")
    if os.geteuid() != 0:
        pytest.skip("the image tests run buildah with chroot isolation and debootstrap: they need root")
    bh = Buildah(workdir)
    drivers = [os.environ["DEMANDCAST_BUILDAH_DRIVER"]] if os.environ.get("DEMANDCAST_BUILDAH_DRIVER") \
        else ["overlay", "vfs"]
    errors = []
    for driver in drivers:
        bh.configure(driver)
        probe = bh("from", "scratch", check=False)
        if probe.returncode == 0:
            bh("rm", probe.stdout.strip())
            return bh
        errors.append(f"{driver}: {probe.stderr.strip()[-500:]}")
        unmount_under(bh.workdir)
        shutil.rmtree(bh.workdir / "storage", ignore_errors=True)
    pytest.fail("no buildah storage driver works here:\n" + "\n".join(errors))


def close_buildah(bh: Buildah) -> None:
    bh("rm", "--all", check=False)
    bh("rmi", "--all", "--force", check=False)
    unmount_under(bh.workdir)
    shutil.rmtree(bh.workdir, ignore_errors=True)


def base_image(bh: Buildah, timings: dict[str, float]) -> str:
    """python:3.11-slim if it can be pulled, else the local Debian base (container_base.sh)."""
    wanted = os.environ.get("DEMANDCAST_BASE_IMAGE")
    if wanted and wanted != LOCAL_BASE:
        bh("pull", wanted, timeout=900)
        return wanted
    if not wanted:
        began = time.monotonic()
        try:
            pulled = bh("pull", "--retry", "0", "--quiet", UPSTREAM_BASE, timeout=PULL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            pulled = None
        timings["base pull attempt"] = time.monotonic() - began
        if pulled is not None and pulled.returncode == 0:
            return UPSTREAM_BASE
    log = bh.workdir / "container_base.log"
    began = time.monotonic()
    with log.open("w") as out:
        res = subprocess.run(["bash", str(BASE_SCRIPT), LOCAL_BASE], env=bh.env, stdout=out,
                             stderr=subprocess.STDOUT, timeout=BASE_TIMEOUT_S)
    timings["local base (debootstrap or cache, import)"] = time.monotonic() - began
    assert res.returncode == 0, f"tests/serving/container_base.sh failed:\n{tail(log)}"
    return LOCAL_BASE
