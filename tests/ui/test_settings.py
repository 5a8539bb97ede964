"""Where the app looks for the API and the project: conf `ui`, the environment first."""

from __future__ import annotations

from omegaconf import OmegaConf

from demandcast.ui import settings


def test_defaults_from_conf(project, monkeypatch):
    monkeypatch.delenv("DEMANDCAST_API_URL")
    monkeypatch.delenv("DEMANDCAST_API_TOKEN", raising=False)
    s = settings.load()
    assert s.api_url == "http://127.0.0.1:3000" and s.api_token is None and s.history_days == 56
    assert s.root == project and s.reports == project / "reports" and s.artifacts == project / "artifacts"


def test_the_environment_wins_over_conf(project, monkeypatch):
    cfg = OmegaConf.load(project / "params.yaml")
    cfg.ui.api_url, cfg.ui.api_token = "http://conf:1/", "from-conf"
    OmegaConf.save(cfg, project / "params.yaml")
    monkeypatch.delenv("DEMANDCAST_API_URL")
    monkeypatch.delenv("DEMANDCAST_API_TOKEN", raising=False)
    assert (settings.load().api_url, settings.load().api_token) == ("http://conf:1", "from-conf")
    monkeypatch.setenv("DEMANDCAST_API_URL", "http://env:2")
    monkeypatch.setenv("DEMANDCAST_API_TOKEN", "from-env")
    assert (settings.load().api_url, settings.load().api_token) == ("http://env:2", "from-env")


def test_overrides_as_for_every_command(project):
    assert settings.load(["ui.port=8600", "ui.history_days=28"]).port == 8600


def test_pages_name_the_project_files_relative_to_its_root(project, tmp_path):
    s = settings.load()
    assert s.shown(s.reports / "monitor.json") == "reports/monitor.json"
    assert s.shown(tmp_path / "elsewhere.json") == str(tmp_path / "elsewhere.json")
