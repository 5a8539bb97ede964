"""`make ui` (`demandcast ui`): the API from the exported bento when none answers, then the app."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from demandcast.errors import UserError
from demandcast.serving import local
from demandcast.ui import launch
from demandcast.ui import settings as ui_settings
from demandcast.ui.api import Client
from tests.bento_server import free_port
from tests.helpers import ROOT


def test_an_api_elsewhere_that_does_not_answer_is_not_started_here(project, monkeypatch):
    monkeypatch.setenv("DEMANDCAST_API_URL", "http://forecasts.invalid:3000")
    with pytest.raises(UserError, match="not on this machine"):
        launch.ensure_api(ui_settings.load())


def test_without_the_exported_bento_it_says_how_to_build_it(project, closed_port, monkeypatch):
    monkeypatch.setenv("DEMANDCAST_API_URL", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(UserError, match=r"demandcast.bento is missing: build it with `make run`"):
        launch.ensure_api(ui_settings.load())


@pytest.mark.slow
def test_it_serves_the_exported_bento_when_nothing_answers(project, tiny_bento, monkeypatch):
    (project / "artifacts" / "package").mkdir(parents=True)
    shutil.copy(tiny_bento.archive, project / "artifacts" / "package" / "demandcast.bento")
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DEMANDCAST_API_URL", url)
    s = ui_settings.load()
    proc = launch.ensure_api(s)
    try:
        assert proc is not None and Client(url).catalog()["history_end"] == "2023-12-31"
        assert launch.ensure_api(s) is None  # now it answers: left alone
        home = project / "artifacts" / "ui" / "bentoml"
        marker = (home / "imported.md5").stat().st_mtime_ns
        assert local.import_bento(project / "artifacts" / "package" / "demandcast.bento", home) == home
        assert (home / "imported.md5").stat().st_mtime_ns == marker  # the same archive: not imported again
    finally:
        local.stop(proc)
    assert proc.poll() is not None and not Client(url).ready()
    assert (project / "artifacts" / "ui" / "server.log").exists()


@pytest.mark.slow
def test_the_command_runs_the_app_against_a_running_api_and_stops_on_ctrl_c(api, tmp_path):
    port = free_port()
    env = {**os.environ, "DEMANDCAST_API_URL": api}
    env.pop("DEMANDCAST_ROOT", None)
    proc = subprocess.Popen([sys.executable, "-m", "demandcast", "ui", f"ui.port={port}"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        local.stop(proc)
    assert proc.returncode == 0, out
    assert f"the API at {api} is up" in out and f"the app is at http://127.0.0.1:{port}" in out
