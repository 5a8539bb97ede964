"""Fixtures of the app's tests: a project folder for the app to show (reports, an Optuna study,
monitoring files in the agreed schema), and one served tiny bento shared by every UI test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from demandcast import config
from tests.helpers import ROOT
from tests.monitoring import contract

APP = ROOT / "ui" / "app.py"


def make_project(root: Path, mlflow_db: Path | None = None, reports: Path = ROOT / "reports") -> Path:
    """A project folder the app can show: params.yaml pointing at its own reports/ and artifacts/
    (and at ``mlflow_db``), with a copy of ``reports``' evaluation and registry reports."""
    root.mkdir(parents=True, exist_ok=True)
    cfg = config.load()
    cfg.paths.reports, cfg.paths.artifacts = str(root / "reports"), str(root / "artifacts")
    cfg.mlflow.tracking_uri = f"sqlite:///{mlflow_db or root / 'artifacts' / 'mlflow.db'}"
    OmegaConf.save(cfg, root / "params.yaml")
    (root / "reports").mkdir(exist_ok=True)
    for name in ("evaluation.json", "metrics.json", "registry.json"):
        if (reports / name).exists():
            shutil.copy(reports / name, root / "reports" / name)
    if (reports / "plots").exists():
        shutil.copytree(reports / "plots", root / "reports" / "plots", dirs_exist_ok=True)
    return root


def monitor_report(retrain: bool) -> dict:
    """A reports/monitor.json as the monitor stage writes it (tests/monitoring/contract.py)."""
    columns = [{"column": name, "stattest": test, "score": score, "threshold": 0.1, "drifted": score > 0.1}
               for name, test, score in (("roll_mean_7", "wasserstein", 0.31),
                                         ("onpromotion", "jensenshannon", 0.02),
                                         ("lag_7", "wasserstein", 0.05))]
    return {
        "status": "alert" if retrain else "ok",
        "windows": {"reference": {"start": "2023-05-01", "end": "2024-04-30", "rows": 50000},
                    "current": {"start": "2024-07-01", "end": "2024-07-28", "rows": 4200,
                                "source": "prediction_logs", "records": 150, "bad_lines": 0,
                                "days_without_predictions": 0}},
        "drift": {"share": 1 / 3 if retrain else 0.0, "threshold": 0.3, "alert": retrain,
                  "columns": columns if retrain else [{**c, "drifted": False} for c in columns],
                  "target": {"stattest": "wasserstein", "score": 0.22, "drifted": retrain},
                  "prediction": None},
        "live_accuracy": {"predictions": 5000, "matched": 4200, "wape": 0.61 if retrain else 0.49,
                          "bias": -0.08,
                          "by_horizon": {"1-7": {"wape": 0.55, "bias": -0.05, "n": 1500},
                                         "8-14": {"wape": 0.62, "bias": -0.08, "n": 1400},
                                         "15-28": {"wape": 0.66, "bias": -0.11, "n": 1300}},
                          "coverage": {"0.8": 0.71, "0.95": 0.90},
                          "backtest": {"wape": 0.49, "coverage": {"0.8": 0.80, "0.95": 0.95}}},
        "alerts": {"drift": retrain, "accuracy": retrain, "coverage": False},
        "recommendation": {"retrain": retrain,
                           "reasons": ["no alert: 0 of 3 watched columns drifted (threshold 30%); live WAPE "
                                       "0.49 is within 10% of the backtest's 0.49"] if not retrain else [
                               "live WAPE 0.61 is 24% worse than the backtest's 0.49 (tolerance 10%)",
                               "1 of 3 columns drifted (threshold 30%): roll_mean_7"],
                           "command": "uv run dvc repro"},
    }


def write_monitoring(reports: Path, retrain: bool = True) -> None:
    folder = reports / "monitoring"
    folder.mkdir(parents=True, exist_ok=True)
    report = json.dumps(monitor_report(retrain), indent=2, sort_keys=True)
    (reports / "monitor.json").write_text(report + "\n")
    contract.check(reports / "monitor.json")  # the pages are tested on what the stage really writes
    (folder / "history.csv").write_text(
        "run_date,current_start,current_end,drift_share,live_wape,coverage_80,retrain\n"
        "2024-07-07,2024-06-10,2024-07-07,0.0,0.50,0.79,false\n"
        "2024-07-14,2024-06-17,2024-07-14,0.1,0.53,0.76,false\n"
        "2024-07-28,2024-07-01,2024-07-28,0.33,0.61,0.71,true\n")
    (folder / "drift.html").write_text("<html><body><h1>Data drift report</h1>"
                                       "<p>Drifted columns: roll_mean_7</p></body></html>")
    (folder / "snapshot.json").write_text("{}")


def add_study(artifacts: Path, name: str = "demandcast-test-study", n_trials: int = 6) -> str:
    """A real Optuna study in artifacts/optuna/studies.db, as the tune stage leaves it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (artifacts / "optuna").mkdir(parents=True, exist_ok=True)
    (artifacts / "tune").mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{artifacts / 'optuna' / 'studies.db'}",
                                sampler=optuna.samplers.TPESampler(seed=0), load_if_exists=True)
    study.optimize(lambda t: (t.suggest_float("eta", 0.01, 0.3, log=True) - 0.1) ** 2
                   + 0.01 * t.suggest_int("max_depth", 3, 10), n_trials=n_trials)
    best = {"study": name, "params": study.best_params}
    (artifacts / "tune" / "best_params.json").write_text(json.dumps(best))
    return name


SCORE = ("import json, yaml; p = yaml.safe_load(open('params.yaml')); "
         "m = json.load(open('metrics_base.json')); m['test']['wape'] += (p['seed'] - 42) / 1000; "
         "json.dump(m, open('reports/metrics.json', 'w'), indent=1)")


def git_dvc_repo(root: Path, experiment: str | None = None) -> None:
    """Make ``root`` a git + DVC repository with one stage that rewrites its metrics from
    ``seed`` (so ``dvc exp show --json`` answers there as in a real project); with
    ``experiment``, run one (``dvc exp run -S seed=7 -n <experiment>``)."""
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    (root / ".gitignore").write_text("artifacts/\n")
    shutil.copy(root / "reports" / "metrics.json", root / "metrics_base.json")
    stage = {"stages": {"score": {"cmd": f"{sys.executable} -c \"{SCORE}\"", "params": ["seed"],
                                  "deps": ["metrics_base.json"],
                                  "metrics": [{"reports/metrics.json": {"cache": False}}]}}}
    (root / "dvc.yaml").write_text(json.dumps(stage))
    dvc = [sys.executable, "-m", "dvc"]
    for cmd in ([*git, "init", "-q", "-b", "main"], [*dvc, "init", "-q"], [*dvc, "repro", "-q"],
                [*git, "add", "-A"], [*git, "commit", "-q", "-m", "baseline"]):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True, timeout=120)
    if experiment:
        subprocess.run([*dvc, "exp", "run", "-q", "-S", "seed=7", "-n", experiment], cwd=root, check=True,
                       capture_output=True, timeout=300)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (committed reports, no API: its URL refuses connections)."""
    root = make_project(tmp_path / "project")
    monkeypatch.setenv("DEMANDCAST_ROOT", str(root))
    monkeypatch.setenv("DEMANDCAST_API_URL", "http://127.0.0.1:9")
    return root


@pytest.fixture(scope="session")
def api(tiny_server):
    """The tiny pipeline's bento served once for every UI test (and the service's): its base URL."""
    return tiny_server.url


@pytest.fixture(scope="session")
def served_project(tiny_bento, tmp_path_factory):
    """A project folder with the tiny pipeline's reports and MLflow store, an Optuna study,
    monitoring files and a DVC repository (what the browser test and the screenshots show)."""
    root = make_project(tmp_path_factory.mktemp("served") / "project", tiny_bento.root / "mlflow.db",
                        tiny_bento.root / "reports")
    (root / "artifacts" / "evaluation").mkdir(parents=True)
    shutil.copy(tiny_bento.root / "artifacts" / "evaluation" / "forecasts.parquet",
                root / "artifacts" / "evaluation" / "forecasts.parquet")
    add_study(root / "artifacts")
    write_monitoring(root / "reports", retrain=True)
    git_dvc_repo(root, experiment="seed-seven")
    return root
