"""Get the raw data ``make run`` starts from: pull it from the DVC remote, or regenerate it.

``demandcast obtain-data [key=value ...]`` (what ``make run`` starts with):

1. ``data/`` already matches ``data.dvc`` (or there is no ``data.dvc`` and ``data/`` holds
   ``train.csv``): nothing to do.
2. No AWS credentials for an S3 remote: one line says so, then step 4.
3. ``dvc pull data.dvc`` with a single attempt per request and a hard time limit; if it
   fails, one line gives DVC's reason, then step 4.
4. ``demandcast generate`` with the same overrides, then ``dvc commit data.dvc``
   (without ``--force``), which caches the files if they match what is tracked and
   refuses otherwise, and a warning if they do not match. The generator is
   deterministic, so they match when ``data.dvc`` was made from the same config.

Offline this takes seconds, never minutes: the remote's ``connect_timeout`` bounds each
connection and ``AWS_MAX_ATTEMPTS=1`` stops botocore retrying it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PULL_TIMEOUT_S = 60


def dvc(*args: str, timeout: float | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the DVC command line; stdin is closed so a confirmation prompt fails, never hangs."""
    cmd = [sys.executable, "-m", "dvc", *args]
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGINT first: DVC then releases its repo lock instead of leaving it behind.
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def dvc_reason(result: subprocess.CompletedProcess) -> str:
    """DVC's first error line, which names the cause (the rest lists files)."""
    lines = [ln.strip() for ln in (result.stderr or "").splitlines() if ln.strip()]
    errors = [ln.removeprefix("ERROR:").strip() for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or [f"dvc exited with status {result.returncode}"])[0]


def difference(target: Path, data: Path) -> str | None:
    """How ``data`` differs from what ``target`` tracks; None when it matches."""
    if not target.exists():
        return None if (data / "train.csv").exists() else f"no {target} and no {data}/train.csv"
    result = dvc("status", str(target), "--json")
    if result.returncode != 0:
        return f"`dvc status {target}` failed: {dvc_reason(result)}"
    try:
        changes = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        return f"`dvc status {target}` printed no JSON: {result.stdout.strip()[:200]}"
    if not changes:
        return None
    states = {state for stage in changes.values() for entry in stage if isinstance(entry, dict)
              for outs in entry.values() if isinstance(outs, dict) for state in outs.values()}
    return f"{data}/ does not match {target} ({', '.join(sorted(states)) or 'changed'})"


def default_remote() -> tuple[str | None, dict[str, str]]:
    """The default remote's name and settings, merged over every DVC config level."""
    result = dvc("config", "--list")
    settings = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    name = settings.get("core.remote")
    prefix = f"remote.{name}."
    return name, {k.removeprefix(prefix): v for k, v in settings.items() if k.startswith(prefix)}


def missing_credentials(remote: dict[str, str]) -> bool:
    """True when nothing would sign requests to an S3 remote (honours profile, credentialpath)."""
    if not remote.get("url", "").startswith("s3://") or remote.get("access_key_id"):
        return False
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.Session(profile=remote.get("profile"))
        if remote.get("credentialpath"):
            session.set_config_variable("credentials_file", remote["credentialpath"])
        return session.get_credentials() is None
    except BotoCoreError:  # e.g. the configured profile does not exist
        return True


def pull(target: Path, timeout: float = PULL_TIMEOUT_S) -> str | None:
    """``dvc pull`` the target; None on success, else the reason it failed."""
    env = {**os.environ, "AWS_MAX_ATTEMPTS": "1"}
    began = time.monotonic()
    try:
        result = dvc("pull", str(target), timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return f"`dvc pull {target}` took over {timeout:.0f}s"
    took = time.monotonic() - began
    return None if result.returncode == 0 else f"{dvc_reason(result)}; gave up after {took:.1f}s"


def regenerate(cfg, target: Path, data: Path) -> int:
    """Run the generator with ``cfg``; warn if the result is not what is tracked."""
    from demandcast.data import generate

    print(generate.describe(generate.from_config(cfg), cfg))
    if target.exists():
        # Caches the files when they match what is tracked, so `dvc status` is clean even
        # without a cache; refuses (stdin closed, no --force) and changes nothing when not.
        dvc("commit", str(target))
        if difference(target, data):
            print(f"warning: the regenerated {data}/ does not match {target}, which was made "
                  f"from another config or generator version; the pipeline runs on {data}/ as "
                  f"regenerated", file=sys.stderr)
    return 0


def obtain(cfg) -> int:
    """Steps 1-4 of the module docstring for ``cfg.paths.data``; returns the exit status."""
    data = Path(str(cfg.paths.data))
    target = data.with_name(data.name + ".dvc")
    why = difference(target, data)
    if why is None:
        print(f"{data}/ is up to date" + (f" with {target}" if target.exists() else ""))
        return 0
    if not target.exists():
        print(f"{why}: nothing to pull, generating the demo data deterministically")
        return regenerate(cfg, target, data)

    name, remote = default_remote()
    where = remote.get("url", name or "")
    if not name or not where:
        print(f"{why} and no DVC remote is configured: regenerating the demo data instead")
    elif missing_credentials(remote):
        print(f"no AWS credentials for the DVC remote {where}: "
              f"regenerating the demo data deterministically instead")
    else:
        failure = pull(target)
        if failure is None:
            print(f"pulled {data}/ from {where}")
            return 0
        print(f"could not pull {data}/ from {where} ({failure}): "
              f"regenerating the demo data instead")
    return regenerate(cfg, target, data)
