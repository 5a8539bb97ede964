"""Where the app finds the API and the project's files: conf ``ui`` (params.yaml), overridden
by the environment.

``DEMANDCAST_API_URL``
    The BentoML service (default ``ui.api_url``, http://127.0.0.1:3000).
``DEMANDCAST_API_TOKEN``
    The bearer token the service wants (the server's own setting of the same name); else
    ``ui.api_token``, else none.
``DEMANDCAST_ROOT``
    The project whose reports, MLflow store and Optuna studies the app shows (default: the
    working directory, see :func:`demandcast.config.root`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from demandcast import config

URL_ENV, TOKEN_ENV = "DEMANDCAST_API_URL", "DEMANDCAST_API_TOKEN"
DEFAULTS = {"api_url": "http://127.0.0.1:3000", "api_token": None, "timeout_s": 30,
            "cache_ttl_s": 300, "history_days": 56, "port": 8501}


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_token: str | None
    timeout_s: float
    cache_ttl_s: int
    history_days: int
    port: int
    root: Path
    reports: Path
    artifacts: Path
    cfg: object  # the full configuration (mlflow settings, paths)

    def shown(self, path: Path) -> str:
        """``path`` as a page names it: relative to the project's root when inside it (what a
        planner types in the project's folder), else as it is."""
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return str(path)


def load(overrides=()) -> Settings:
    """The settings for the project at :func:`demandcast.config.root`."""
    return from_config(config.load(list(overrides)))


def from_config(cfg) -> Settings:
    root = config.root()
    ui = {**DEFAULTS, **(dict(cfg.get("ui") or {}))}
    url = (os.environ.get(URL_ENV) or str(ui["api_url"])).rstrip("/")
    token = os.environ.get(TOKEN_ENV) or ui["api_token"] or None
    return Settings(api_url=url, api_token=token, timeout_s=float(ui["timeout_s"]),
                    cache_ttl_s=int(ui["cache_ttl_s"]), history_days=int(ui["history_days"]),
                    port=int(ui["port"]), root=root, reports=_under(root, cfg.paths.reports),
                    artifacts=_under(root, cfg.paths.artifacts), cfg=cfg)


def _under(root: Path, path) -> Path:
    path = Path(str(path))
    return path if path.is_absolute() else root / path
