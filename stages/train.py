"""Train stage: XGBoost on the feature table's training window, early-stopped on validation.

``python -m stages.train [key=value ...]``. Uses the tuned parameters from
``artifacts/tune/best_params.json`` when the tune stage wrote them (else conf/model's),
writes ``artifacts/model/`` (model.json in XGBoost's JSON format, the feature manifest,
training.json) and logs the run to MLflow with the model, its signature and an input example.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from stages import dataset, feature_spec, model, tracking

BEST_PARAMS = "tune/best_params.json"


def tuned_params(artifacts) -> dict:
    path = Path(artifacts) / BEST_PARAMS
    return json.loads(path.read_text())["params"] if path.exists() else {}


def windows(table: pd.DataFrame, fold: dataset.Fold) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (dataset.between(table, fold.train_start, fold.train_end),
            dataset.between(table, fold.valid_start, fold.origin))


def run(cfg) -> dict:
    """Fit the model of fold 0 and write it; return the training summary."""
    spec = feature_spec.from_config(cfg.features)
    features_dir = Path(str(cfg.paths.artifacts)) / "features"
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon))
    table = dataset.load_table(features_dir, spec, since=fold.train_start)
    train, valid = windows(table, fold)
    overrides = tuned_params(cfg.paths.artifacts)
    names = spec.names()
    booster = model.fit(train, valid, names, spec.target, cfg.model, overrides, seed=int(cfg.seed))
    forecaster = model.Forecaster.from_fit(booster, names, cfg.model)

    out = Path(str(cfg.paths.artifacts)) / "model"
    if out.exists():
        shutil.rmtree(out)
    forecaster.save(out)
    shutil.copy(features_dir / dataset.META / "manifest.json", out / "manifest.json")
    summary = {"objective": str(cfg.model.objective),
               "params": model.booster_params(cfg.model, overrides, int(cfg.seed)),
               "best_iteration": int(booster.best_iteration),
               "validation_rmse": float(booster.best_score),
               "train_rows": len(train), "valid_rows": len(valid),
               "fold": {k: str(v) for k, v in fold.__dict__.items()}}
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    manifest = dataset.read_manifest(features_dir)
    summary["run_id"] = log(cfg, forecaster, summary, manifest, valid[names].head(5), out)
    tracking.save_run(out, summary["run_id"])
    return summary


def log(cfg, forecaster: model.Forecaster, summary: dict, manifest: dict, example: pd.DataFrame,
        out: Path) -> str:
    mlflow = tracking.setup(cfg)
    from mlflow.models import infer_signature

    with mlflow.start_run(run_name="train") as active:
        mlflow.set_tags({**tracking.provenance(manifest), "stage": "train"})
        mlflow.log_params({k: v for k, v in summary["params"].items()})
        mlflow.log_params({"best_iteration": summary["best_iteration"], "data": str(cfg.data.name),
                           **{f"fold.{k}": v for k, v in summary["fold"].items()}})
        mlflow.log_metric("validation_rmse", summary["validation_rmse"])
        mlflow.log_artifact(str(out / "manifest.json"), artifact_path="forecaster")
        mlflow.log_artifact(str(out / model.MODEL_FILE), artifact_path="forecaster")
        signature = infer_signature(example.astype("float64"), forecaster.predict(example))
        mlflow.xgboost.log_model(forecaster.booster, name="model", model_format="json",
                                 signature=signature, input_example=example.astype("float64"))
        return active.info.run_id


def main(argv=None) -> int:
    from stages.cli import run_stage

    def body(cfg) -> None:
        s = run(cfg)
        print(f"train: {s['objective']}, {s['best_iteration'] + 1} trees, validation RMSE "
              f"{s['validation_rmse']:.4f} ({s['train_rows']:,} training rows) -> "
              f"{cfg.paths.artifacts}/model/ (MLflow run {s['run_id']})")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
