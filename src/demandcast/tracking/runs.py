"""MLflow runs: the store set-up, the provenance every run carries (git commit, data
version, feature spec), and what the train and evaluate stages log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

from demandcast import config
from demandcast.errors import UserError

RUN_FILE = "mlflow_run.json"


def tracking_uri(cfg) -> str:
    """conf ``mlflow.tracking_uri``, else $MLFLOW_TRACKING_URI, else SQLite under artifacts/."""
    configured = cfg.mlflow.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return str(configured)
    db = Path(str(cfg.paths.artifacts)).resolve() / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def setup(cfg):
    """Point MLflow at the configured store and experiment; return the mlflow module."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    for name in ("alembic", "mlflow"):  # after import: mlflow sets its own level on import
        logging.getLogger(name).setLevel(logging.ERROR)

    uri = tracking_uri(cfg)
    mlflow.set_tracking_uri(uri)
    name = str(cfg.mlflow.experiment)
    location = artifact_location(cfg, uri)
    try:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            mlflow.create_experiment(name, artifact_location=location)
        mlflow.set_experiment(name)
    except Exception as exc:  # an unreachable server or a broken store: say which
        raise UserError(f"MLflow tracking store {uri} is not usable: {exc}") from exc
    configured = str(cfg.mlflow.get("artifact_location") or "").rstrip("/")
    if experiment is not None and configured and experiment.artifact_location.rstrip("/") != configured:
        raise UserError(f"MLflow experiment {name!r} at {uri} keeps its artifacts in "
                        f"{experiment.artifact_location}, not mlflow.artifact_location={configured}: an "
                        "experiment's location cannot change; set mlflow.experiment to a new name "
                        "(or artifact_location to null)")
    return mlflow


def artifact_location(cfg, uri: str) -> str | None:
    """Where a new experiment's artifacts go: conf ``mlflow.artifact_location`` (e.g.
    ``s3://bucket/mlflow``, written by each client with its own AWS credentials), else under
    artifacts/ beside a SQLite store, else the tracking server's default (``mlflow server
    --artifacts-destination s3://...`` proxies uploads, so clients need no AWS access)."""
    configured = cfg.mlflow.get("artifact_location")
    if configured:
        return str(configured)
    if uri.startswith("sqlite"):
        return (Path(str(cfg.paths.artifacts)).resolve() / "mlartifacts").as_uri()
    return None


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.root(), capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_version(root: Path | None = None) -> str:
    """The md5 of ``data/`` recorded in data.dvc (what `dvc pull` would restore)."""
    path = (root or config.root()) / "data.dvc"
    if not path.exists():
        return "untracked"
    for line in path.read_text().splitlines():
        if line.strip().removeprefix("- ").startswith("md5:"):  # the first out's md5
            return line.split(":", 1)[1].strip()
    return "untracked"


def provenance(manifest: dict) -> dict[str, str]:
    return {"git_commit": git_commit(), "data_version": data_version(),
            "feature_spec_hash": manifest["spec_hash"]}


def save_run(folder, run_id: str, **extra) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / RUN_FILE).write_text(json.dumps({"run_id": run_id, **extra}, indent=2) + "\n")


def load_run(folder) -> dict:
    path = Path(folder) / RUN_FILE
    if not path.exists():
        raise UserError(f"{path} is missing: run the train stage first (dvc repro train)")
    return json.loads(path.read_text())


def log_training(cfg, forecaster, summary: dict, manifest: dict, example, out: Path) -> str:
    """The train stage's MLflow run: parameters, provenance, the forecaster files and the
    model with its signature and an input example; returns the run id."""
    mlflow = setup(cfg)
    from mlflow.models import infer_signature

    with mlflow.start_run(run_name="train") as active:
        mlflow.set_tags({**provenance(manifest), "stage": "train"})
        mlflow.log_params({k: v for k, v in summary["params"].items()})
        mlflow.log_params({"best_iteration": summary["best_iteration"], "data": str(cfg.data.name),
                           **{f"fold.{k}": v for k, v in summary["fold"].items()}})
        mlflow.log_metric("validation_rmse", summary["validation_rmse"])
        mlflow.log_artifact(str(out / "manifest.json"), artifact_path="forecaster")
        mlflow.log_artifact(str(out / "model.json"), artifact_path="forecaster")
        signature = infer_signature(example.astype("float64"), forecaster.predict(example))
        mlflow.xgboost.log_model(forecaster.booster, name="model", model_format="json",
                                 signature=signature, input_example=example.astype("float64"))
        return active.info.run_id


def log_evaluation(cfg, headline: dict, artifacts: Path, reports: Path) -> None:
    """The evaluate stage's metrics, report, plots and interval widths onto the train run."""
    import math

    run = load_run(artifacts / "model")
    mlflow = setup(cfg)
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({f"{part}.{k}": v for part, vals in headline.items() for k, v in vals.items()
                            if v is not None and math.isfinite(v)})
        mlflow.log_artifact(str(reports / "evaluation.json"), artifact_path="evaluation")
        mlflow.log_artifacts(str(reports / "plots"), artifact_path="evaluation/plots")
        mlflow.log_artifact(str(artifacts / "evaluation" / "intervals.json"), artifact_path="forecaster")
