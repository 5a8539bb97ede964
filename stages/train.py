"""train: XGBoost on the feature table's training window, early-stopped on validation.

``python -m stages.train [key=value ...]``. Uses the tuned parameters from
``artifacts/tune/best_params.json`` when the tune stage wrote them (else conf/model's),
writes ``artifacts/model/`` (model.json in XGBoost's JSON format, the feature manifest,
training.json: the same bytes for the same inputs) and logs the run to MLflow with the
model, its signature and an input example, tagged with the model's digest (how evaluate
and register find the run: no run id goes into the DVC-hashed output).

``model.engine`` says where (:mod:`demandcast.models.engines`): ``local`` from the
training window in memory; ``streamed`` from the feature files a month at a time, for
tables bigger than this machine's memory; ``spark`` with ``xgboost.spark`` on the Spark
session of ``conf/spark``, where the rows stay in Spark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.features import feature_spec
from demandcast.models import boosting, dataset, engines, tuning
from demandcast.tracking import runs


def run(cfg) -> dict:
    """Fit the model of fold 0 and write it; return the training summary."""
    spec = feature_spec.from_config(cfg.features)
    features_dir = Path(str(cfg.paths.artifacts)) / "features"
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon))
    overrides = tuning.tuned_params(cfg.paths.artifacts)
    names = spec.names()
    fitted = engines.fit_with_engine(cfg, features_dir, spec, fold, overrides)
    booster = fitted.booster
    forecaster = boosting.Forecaster.from_fit(booster, names, cfg.model)

    out = Path(str(cfg.paths.artifacts)) / "model"
    if out.exists():
        shutil.rmtree(out)
    forecaster.save(out)
    shutil.copy(features_dir / feature_spec.META / "manifest.json", out / "manifest.json")
    summary = {"objective": str(cfg.model.objective), "engine": engines.engine(cfg.model),
               "params": boosting.booster_params(cfg.model, overrides, int(cfg.seed)),
               "best_iteration": int(booster.best_iteration),
               "validation_rmse": float(booster.best_score),
               "train_rows": fitted.train_rows, "valid_rows": fitted.valid_rows,
               "fold": {k: str(v) for k, v in fold.__dict__.items()}}
    jsonio.write(out / "training.json", summary)
    manifest = dataset.read_manifest(features_dir)
    summary["run_id"] = runs.log_training(cfg, forecaster, summary, manifest, fitted.example, out)
    return summary


def main(argv=None) -> int:
    def body(cfg) -> None:
        s = run(cfg)
        print(f"train: {s['objective']} ({s['engine']}), {s['best_iteration'] + 1} trees, validation RMSE "
              f"{s['validation_rmse']:.4f} ({s['train_rows']:,} training rows) -> "
              f"{cfg.paths.artifacts}/model/ (MLflow run {s['run_id']})")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
