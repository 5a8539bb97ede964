"""MLflow runs: the store set-up, the provenance every run carries (git commit, data
version, feature spec), and what the train and evaluate stages log.

**One store per project.** The default store is SQLite at ``<project>/artifacts/mlflow.db``
where the project is the DVC workspace: ``$DVC_ROOT``, which DVC sets for every stage it
runs and, in an experiment run in a temporary copy (``dvc exp run --temp``, ``--queue``),
points at the workspace the experiment came from. So every experiment's runs and model
versions land in the workspace's one store, not in a throw-away copy. ``mlflow.tracking_uri``
or ``$MLFLOW_TRACKING_URI`` choose another store.

**A run is found by its model.** The train run is tagged with the digest of the model's
bytes (``model_digest``); evaluate and register find it by that tag, so no run id sits in a
DVC-hashed output (a run id differs on every rerun; the model's bytes do not).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
from pathlib import Path

from demandcast import config
from demandcast.errors import UserError

MODEL_FILE = "model.json"
DIGEST_TAG = "model_digest"


def project_root() -> Path:
    """The DVC workspace the stages belong to: ``$DVC_ROOT`` (set by DVC, the workspace even in
    an experiment's temporary copy), else the project root."""
    given = os.environ.get("DVC_ROOT")
    return Path(given).resolve() if given else config.root()


def _store_dir(cfg) -> Path:
    artifacts = Path(str(cfg.paths.artifacts))
    return artifacts.resolve() if artifacts.is_absolute() else project_root() / artifacts


def tracking_uri(cfg) -> str:
    """conf ``mlflow.tracking_uri``, else $MLFLOW_TRACKING_URI, else SQLite in the project's
    artifacts/ (see the module docstring)."""
    configured = cfg.mlflow.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return str(configured)
    db = _store_dir(cfg) / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


@contextlib.contextmanager
def store_lock(cfg):
    """Serialize work on a SQLite store across processes (queued experiments run in parallel):
    creating its tables, and the registry's read-decide-write of the champion."""
    uri = tracking_uri(cfg)
    if not uri.startswith("sqlite:///"):
        yield
        return
    lock = Path(uri.removeprefix("sqlite:///") + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        with store_lock(cfg):
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


def model_digest(model_dir) -> str:
    """The sha256 of the saved model's bytes: what identifies its MLflow run and version."""
    path = Path(model_dir) / MODEL_FILE
    if not path.exists():
        raise UserError(f"{path} is missing: run the train stage first (dvc repro train)")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_train_run(cfg, model_dir) -> dict:
    """The latest train run of the model in ``model_dir`` (found by its digest): run_id, digest."""
    digest = model_digest(model_dir)
    mlflow = setup(cfg)
    found = mlflow.search_runs(filter_string=f"tags.{DIGEST_TAG} = '{digest}' and tags.stage = 'train'",
                               order_by=["attributes.start_time DESC"], max_results=1,
                               output_format="list")
    if not found:
        raise UserError(f"the MLflow store {tracking_uri(cfg)} has no train run of the model in {model_dir} "
                        f"({DIGEST_TAG} {digest[:12]}): run the train stage (dvc repro -f train) "
                        "against this store")
    return {"run_id": found[0].info.run_id, DIGEST_TAG: digest}


def artifact_location(cfg, uri: str) -> str | None:
    """Where a new experiment's artifacts go: conf ``mlflow.artifact_location`` (e.g.
    ``s3://bucket/mlflow``, written by each client with its own AWS credentials), else under
    artifacts/ beside a SQLite store, else the tracking server's default (``mlflow server
    --artifacts-destination s3://...`` proxies uploads, so clients need no AWS access)."""
    configured = cfg.mlflow.get("artifact_location")
    if configured:
        return str(configured)
    if uri.startswith("sqlite"):
        return (_store_dir(cfg) / "mlartifacts").as_uri()
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


def experiment_tags() -> dict[str, str]:
    """``dvc_experiment`` when DVC runs the stage for an experiment (``$DVC_EXP_NAME``)."""
    name = os.environ.get("DVC_EXP_NAME")
    return {"dvc_experiment": name} if name else {}


def provenance(manifest: dict) -> dict[str, str]:
    return {"git_commit": git_commit(), "data_version": data_version(),
            "feature_spec_hash": manifest["spec_hash"]}


def log_training(cfg, forecaster, summary: dict, manifest: dict, example, out: Path) -> str:
    """The train stage's MLflow run: parameters, provenance, the forecaster files and the
    model with its signature and an input example; returns the run id."""
    mlflow = setup(cfg)
    from mlflow.models import infer_signature

    with mlflow.start_run(run_name="train") as active:
        mlflow.set_tags({**provenance(manifest), "stage": "train", DIGEST_TAG: model_digest(out),
                         **experiment_tags()})
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

    run = find_train_run(cfg, artifacts / "model")
    mlflow = setup(cfg)
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({f"{part}.{k}": v for part, vals in headline.items() for k, v in vals.items()
                            if v is not None and math.isfinite(v)})
        mlflow.log_artifact(str(reports / "evaluation.json"), artifact_path="evaluation")
        mlflow.log_artifacts(str(reports / "plots"), artifact_path="evaluation/plots")
        mlflow.log_artifact(str(artifacts / "evaluation" / "intervals.json"), artifact_path="forecaster")
