"""Hyperparameter search: an Optuna study over XGBoost parameters that a stopped sweep resumes.

The study lives in SQLite under a name derived from everything that makes trials
comparable (search space, objective, data version, feature spec, windows, seed), so
``n_trials`` is the study's total: a rerun after an interruption (or with a larger
``n_trials``) runs only the missing trials. The sampler is a seeded TPE, re-seeded by the
trials done so a resumed sweep does not replay its first draws; unpromising trials are
pruned through optuna-integration's XGBoost callback. Every trial is a nested MLflow run
under one ``tune`` run. :func:`tuned_params` is how training reads the winner back.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import optuna
from omegaconf import OmegaConf

from demandcast.errors import UserError
from demandcast.models import boosting
from demandcast.tracking import runs

BEST_PARAMS = "tune/best_params.json"  # under paths.artifacts
STUDIES = "optuna/studies.db"


def tuned_params(artifacts) -> dict:
    """The best trial's parameters the tune stage wrote, or {} (conf/model's then apply)."""
    path = Path(str(artifacts)) / BEST_PARAMS
    return json.loads(path.read_text())["params"] if path.exists() else {}


def suggest(trial: optuna.Trial, space: dict) -> dict:
    """Parameters for one trial from ``{name: [low, high, scale]}``."""
    params = {}
    for name, bounds in space.items():
        low, high, scale = _bounds(name, bounds)
        if scale == "int":
            params[name] = trial.suggest_int(name, int(low), int(high))
        else:
            params[name] = trial.suggest_float(name, float(low), float(high), log=scale == "log")
    return params


def _bounds(name: str, bounds) -> tuple:
    """``tune.space.<name>``'s (low, high, scale), checked."""
    try:
        low, high, scale = bounds
    except (TypeError, ValueError):
        raise UserError(f"tune.space.{name}: expected [low, high, scale], got {bounds}") from None
    if not low < high:
        raise UserError(f"tune.space.{name}: low {low} must be below high {high}")
    if scale not in ("int", "log", "linear"):
        raise UserError(f"tune.space.{name}: scale {scale!r} is not one of int, log, linear")
    return low, high, scale


def defaults_in_space(model_params: dict, space: dict) -> dict | None:
    """conf/model's own parameters for the searched names, when every one lies in the space:
    the study's first trial, so a handful of random trials cannot pick worse than the
    defaults on the validation window. None when a default falls outside the space."""
    picked = {}
    for name, bounds in space.items():
        low, high, scale = _bounds(name, bounds)
        value = model_params.get(name)
        if value is None or not float(low) <= float(value) <= float(high):
            return None
        picked[name] = int(value) if scale == "int" else float(value)
    return picked


def study_name(cfg, spec, fold) -> str:
    identity = {"space": OmegaConf.to_container(cfg.tune.space), "model": OmegaConf.to_container(cfg.model),
                "trial_rows": cfg.tune.trial_rows, "pruning": bool(cfg.tune.pruning),
                "seed": int(cfg.seed), "data": runs.data_version(), "data_name": str(cfg.data.name),
                "spec": spec.hash(), "fold": str(fold)}
    if cfg.tune.get("series_share") is not None:  # only when set: studies stored before keep their names
        identity["series_share"] = str(cfg.tune.series_share)  # checked by streaming.sample_series
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return f"{cfg.data.name}-{cfg.model.objective}-{digest[:12]}"


def sample(frame, rows, seed: int):
    if rows is None or len(frame) <= int(rows):
        return frame
    keep = np.random.default_rng(seed).choice(len(frame), size=int(rows), replace=False)
    return frame.iloc[np.sort(keep)]


def open_study(cfg, name: str, storage: Path) -> optuna.Study:
    """The study ``name`` in SQLite at ``storage``, created or resumed."""
    storage.parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{storage.resolve()}"
    existing = optuna.load_study(study_name=name, storage=url).trials if name in {
        s.study_name for s in optuna.get_all_study_summaries(url)} else []
    return optuna.create_study(
        study_name=name, storage=url, load_if_exists=True, direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=int(cfg.seed) + len(existing)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=20)
        if cfg.tune.pruning else optuna.pruners.NopPruner())


def optimize(cfg, study: optuna.Study, train, valid, spec, manifest: dict,
             show_progress: bool = True) -> dict:
    """Run the study's missing trials on ``train``/``valid``; return its summary."""
    n_trials = int(cfg.tune.n_trials)
    if n_trials < 1:
        raise UserError(f"tune.n_trials must be at least 1, got {n_trials}")
    names = spec.names()
    _, metric, _ = boosting.objective(cfg.model)
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                   optuna.trial.TrialState.PRUNED)]
    remaining = n_trials - len(done)

    mlflow = runs.setup(cfg)
    with mlflow.start_run(run_name="tune") as parent:
        mlflow.set_tags({**runs.provenance(manifest), "stage": "tune", "study": study.study_name,
                         **runs.experiment_tags()})
        mlflow.log_params({"n_trials": n_trials, "resumed_from": len(done), "objective": cfg.model.objective})

        def objective(trial: optuna.Trial) -> float:
            params = suggest(trial, OmegaConf.to_container(cfg.tune.space))
            began = time.perf_counter()
            with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
                callbacks = ([__import__("optuna_integration").XGBoostPruningCallback(
                    trial, f"validation-{metric}")] if cfg.tune.pruning else None)
                booster = boosting.fit(train, valid, names, spec.target, cfg.model, params,
                                       seed=int(cfg.seed), callbacks=callbacks)
                mlflow.log_params(params)
                mlflow.log_metrics({f"validation_{metric}": float(booster.best_score),
                                    "best_iteration": int(booster.best_iteration),
                                    "seconds": time.perf_counter() - began})
            trial.set_user_attr("best_iteration", int(booster.best_iteration))
            return float(booster.best_score)

        if remaining > 0:
            first = defaults_in_space(OmegaConf.to_container(cfg.model.params),
                                      OmegaConf.to_container(cfg.tune.space))
            if first is not None:  # a resumed study already holding them does not run them twice
                study.enqueue_trial(first, skip_if_exists=True)
            timeout = cfg.tune.get("timeout_s")
            study.optimize(objective, n_trials=remaining, timeout=None if timeout is None else float(timeout),
                           show_progress_bar=show_progress, gc_after_trial=True)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise UserError(f"study {study.study_name}: no trial completed; see the MLflow tune run")
        best = study.best_trial
        mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})
        mlflow.log_metric(f"best_validation_{metric}", best.value)
        parent_id = parent.info.run_id
    return {"study": study.study_name, "n_trials": len(study.trials), "completed": len(complete),
            "ran_now": max(remaining, 0), "best_trial": best.number,
            f"best_validation_{metric}": best.value, "params": best.params, "mlflow_run": parent_id}
