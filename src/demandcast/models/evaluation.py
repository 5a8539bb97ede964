"""Evaluation: recursive 1..H-day forecasts from each origin, as serving makes them.

On the test window (the final ``features.split.test_days``) and a rolling-origin backtest
(``evaluate.folds`` windows, each earlier one refit on its own training window with its own
priors), the model is compared on the same cells (:mod:`demandcast.models.scoring`) with
seasonal naive, a 28-day moving average and, when the data comes with ground truth, the
oracle (the generator's expected demand: the accuracy limit; this is the only stage that
reads ``paths.truth``). Without truth the oracle is omitted and ``oracle.reason`` says why.
Future promotions come only from the promotion plan. The validation window's recursive
forecasts (from the day before it) calibrate the forecasts' level (:mod:`demandcast.models.level_correction`)
and then the conformal intervals; the test window measures both, and every backtest fold
calibrates its own model on its own validation window.

:func:`evaluate` returns the results, the scored test cells and the interval widths;
:func:`headline` the flat metrics DVC shows; :func:`plot_tables` the plot data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demandcast.data import promotions
from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.models import (
    baselines,
    boosting,
    conformal,
    dataset,
    engines,
    forecast,
    level_correction,
    metrics,
    scoring,
    streaming,
)
from demandcast.models.scoring import BASELINES, MODEL, ORACLE

PLOTTED = (MODEL, *BASELINES, ORACLE)  # the columns of error_by_horizon.csv (dvc.yaml plots)
FORECAST_INPUTS = ["onpromotion"]  # beside the keys and the target, all a forecast reads of the table


@dataclass
class Evaluation:
    result: dict               # everything reports/evaluation.json holds
    cells: pd.DataFrame        # the scored test cells with every method's forecast and the intervals
    widths: dict               # conformal widths per level and horizon day
    forecaster: boosting.Forecaster
    level: float = 1.0         # the factor on every model forecast (demandcast.models.level_correction)


def forecast_window(forecaster, online, table, truth, plan, spec, origin,
                    horizon, series_chunk: int | None = None) -> tuple[pd.DataFrame, int]:
    """Model, baseline and (with truth) oracle forecasts for one origin, on the scored cells;
    the model's ``series_chunk`` series at a time when given (what it holds at once)."""
    cells, unscored = scoring.grid(table, truth, plan, spec, origin, horizon)
    history = dataset.between(table, None, origin)
    series = cells[["store_nbr", "item_nbr"]].drop_duplicates()
    planned = cells[["store_nbr", "item_nbr", "date", "onpromotion"]]
    parts = _chunks(series, series_chunk)
    if len(parts) == 1:
        made = forecast.recursive(forecaster, online, history, series, origin, horizon, planned)
    else:  # each chunk with its own history and plan rows: the work stays per chunk
        keys, plan_keys = (feature_spec.series_key(f["store_nbr"], f["item_nbr"]) for f in (history, planned))
        made = pd.concat([forecast.recursive(forecaster, online, history[np.isin(keys, mine)], part, origin,
                                             horizon, planned[np.isin(plan_keys, mine)])
                          for part in parts
                          for mine in [feature_spec.series_key(part["store_nbr"], part["item_nbr"])]],
                         ignore_index=True)
    cells = cells.merge(made[["store_nbr", "item_nbr", "date", "forecast"]],
                        on=["store_nbr", "item_nbr", "date"], how="left")
    cells["seasonal_naive"] = baselines.seasonal_naive(history, spec.target, origin, cells)
    cells["moving_average_28"] = baselines.moving_average(history, spec.target, origin, cells, 28)
    if "expected_demand" in cells:
        cells[ORACLE] = cells.pop("expected_demand")
    return cells.rename(columns={"forecast": MODEL}), unscored


def _chunks(series: pd.DataFrame, size) -> list[pd.DataFrame]:
    if size is None:
        return [series]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UserError(f"evaluate.series_chunk={size!r}: a whole number of series of at least 1 "
                        "(20000 caps what a forecast holds at Favorita scale), or null for all at once")
    if len(series) <= size:
        return [series]
    return [series.iloc[i:i + size] for i in range(0, len(series), size)]


def fold_model(cfg, spec, table, whole, static, families, k: int, params: dict):
    """Refit fold k's model on its own windows, with priors from its own training window
    (``whole``: the table's prior inputs from its first day; with ``model.engine:
    streamed`` it is None and the priors and the fit read the feature files instead)."""
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon), k)
    cutoff = fold.valid_start - pd.Timedelta(days=1)
    if whole is None:
        features_dir = Path(str(cfg.paths.artifacts)) / "features"
        priors = streaming.priors_until(features_dir, spec, cutoff, families)
        fitted = streaming.fit(features_dir, spec, fold, cfg.model, params, int(cfg.seed), priors, families)
        online = dataset.online(static, spec, priors, known_until=fold.origin)
        forecaster = boosting.Forecaster.from_fit(fitted.booster, spec.names(), cfg.model)
        return fold, forecaster, online, table, priors
    priors = dataset.priors_until(whole, cutoff, spec, families)
    shifted = dataset.with_priors(table, priors, families)
    train, valid = dataset.windows(shifted, fold)
    booster = boosting.fit(train, valid, spec.names(), spec.target, cfg.model, params, seed=int(cfg.seed))
    online = dataset.online(static, spec, priors, known_until=fold.origin)
    return fold, boosting.Forecaster.from_fit(booster, spec.names(), cfg.model), online, shifted, priors


def calibrate(cfg, forecaster, static, spec, priors, table, truth, plan, fold,
              chunk) -> tuple[float, pd.DataFrame]:
    """The level factor of ``forecaster`` (fold ``fold``'s model) and its validation window's
    forecasts, level applied (the conformal widths' residuals): forecast from the day before
    the window, with what was known then. Factor 1 with ``evaluate.level_correction`` off."""
    origin = pd.Timestamp(fold.valid_start - pd.Timedelta(days=1))
    online = dataset.online(static, spec, priors, known_until=origin)
    days = min(int(cfg.evaluate.horizon), spec.valid_days)
    calib, _ = forecast_window(forecaster, online, table, truth, plan, spec, origin, days, chunk)
    on = bool(cfg.evaluate.level_correction)
    factor = level_correction.factor(calib, MODEL) if on else 1.0
    calib[MODEL] *= factor
    return factor, calib


def oracle_note(truth, path) -> dict:
    if truth is not None:
        return {"included": True, "source": str(path),
                "reason": "the data comes with its ground truth (expected demand per active series-day)"}
    return {"included": False, "source": None,
            "reason": f"no ground truth: {path} does not exist (real data has none), so the oracle "
                      "(the accuracy limit) is omitted; the model is scored against actual sales and "
                      "the baselines only"}


def promotion_note(plan, data_dir, test) -> dict:
    covers = promotions.coverage(plan)
    first, last = (str(d) for d in test.forecast_days)
    inside = covers is not None and covers[0] <= last and covers[1] >= first
    return {"plan": str(promotions.plan_path(data_dir)) if plan is not None else None,
            "plan_promoted_days": covers, "test_window_covered": inside,
            "note": "the forecast days' promotions come from the promotion plan only" if inside else
            "the promotion plan lists no promotion in the test window, so it is forecast without "
            "promotions and their effect is not measured there"}


def evaluate(cfg) -> Evaluation:
    """Test window, intervals and backtest of the model in ``paths.artifacts``."""
    spec = feature_spec.from_config(cfg.features)
    artifacts = Path(str(cfg.paths.artifacts))
    horizon, n_folds = int(cfg.evaluate.horizon), int(cfg.evaluate.folds)
    if horizon < 1 or n_folds < 1:
        raise UserError(f"evaluate.horizon ({horizon}) and evaluate.folds ({n_folds}) must be at least 1")
    forecaster = boosting.Forecaster.load(artifacts / "model")
    dataset.check_spec(json.loads((artifacts / "model" / "manifest.json").read_text()), spec,
                       str(artifacts / "model"))
    streamed = engines.engine(cfg.model) == "streamed"
    chunk = cfg.evaluate.get("series_chunk")
    test = dataset.fold(cfg.data.end, spec, cfg.model, horizon, 0)
    valid_origin = pd.Timestamp(test.valid_start - pd.Timedelta(days=1))
    last_fold = dataset.fold(cfg.data.end, spec, cfg.model, horizon, n_folds - 1)
    # Streamed, only what forecasting and scoring read: the sales from the day before the
    # first window's history (forecast._edges tells from it whose panel starts earlier).
    # every fold forecasts its validation window too (the level), the last fold's is the earliest
    earliest = min(valid_origin, pd.Timestamp(last_fold.valid_start - pd.Timedelta(days=1)))
    first = earliest - pd.Timedelta(days=max(spec.history_days, 28) + 1)
    table = (streaming.load(artifacts / "features", spec, first, columns=FORECAST_INPUTS) if streamed else
             dataset.load_table(artifacts / "features", spec, since=last_fold.train_start))
    static = dataset.read_static(cfg.paths.data, cfg.data)
    truth = scoring.read_truth(cfg.paths.truth, since=first)
    plan = promotions.read_plan(cfg.paths.data)
    priors = dataset.read_priors(artifacts / "features", spec)
    online = dataset.online(static, spec, priors, known_until=test.origin)
    families = online.families

    # The level and the conformal widths from the validation window's recursive forecasts.
    factor, calib = calibrate(cfg, forecaster, static, spec, priors, table, truth, plan, test, chunk)
    widths = conformal.calibrate(calib.rename(columns={MODEL: "forecast"}), cfg.evaluate.intervals)

    cells, unscored = forecast_window(forecaster, online, table, truth, plan, spec, test.origin, horizon,
                                      chunk)
    cells[MODEL] *= factor
    bands = conformal.intervals(cells[MODEL], cells["horizon"], widths)
    for level, (lo, hi) in bands.items():
        cells[f"lower_{level}"], cells[f"upper_{level}"] = lo, hi
    names = scoring.methods(cells)
    result = {"test": scoring.summarize(cells), "test_window": [str(d) for d in test.forecast_days],
              "series_scored": int(cells[["store_nbr", "item_nbr"]].drop_duplicates().shape[0]),
              "series_without_history": int(unscored), "methods": list(names),
              "level": level_note(factor, calib, cfg),
              "oracle": oracle_note(truth, cfg.paths.truth),
              "promotions": promotion_note(plan, cfg.paths.data, test),
              "cells": "the truth's active series-days" if truth is not None else
              "every day of every series with history in the days before the origin"}
    result["test"]["coverage"] = {level: metrics.coverage(cells["actual"], lo, hi)
                                  for level, (lo, hi) in bands.items()}
    result["test"]["wape_by_horizon"] = {m: metrics.wape_by(cells, "horizon", m) for m in names}
    family = static["items.csv"].set_index("item_nbr")["family"]
    cells["family"] = cells["item_nbr"].map(family)
    result["test"]["wape_by_family"] = {m: metrics.wape_by(cells, "family", m) for m in names}

    folds = [{"origin": str(test.origin), "level": factor, **scoring.summarize(cells)}]
    params = json.loads((artifacts / "model" / "training.json").read_text())["params"]
    whole = (dataset.load_table(artifacts / "features", spec, columns=dataset.PRIOR_INPUTS)
             if n_folds > 1 and not streamed else None)
    for k in range(1, n_folds):
        fold, fk, online_k, shifted, priors_k = fold_model(cfg, spec, table, whole, static, families, k,
                                                           params)
        factor_k, _ = calibrate(cfg, fk, static, spec, priors_k, shifted, truth, plan, fold, chunk)
        cells_k, _ = forecast_window(fk, online_k, shifted, truth, plan, spec, fold.origin, horizon, chunk)
        cells_k[MODEL] *= factor_k
        folds.append({"origin": str(fold.origin), "level": factor_k, **scoring.summarize(cells_k)})
    result["backtest"] = {"folds": folds, "mean": scoring.mean_of_folds(folds)}
    result["undefined"] = metrics.undefined({k: result[k] for k in ("test", "backtest")})
    return Evaluation(result, cells, widths, forecaster, factor)


def level_note(factor: float, calib: pd.DataFrame, cfg) -> dict:
    """What reports/evaluation.json says about the level factor."""
    days = pd.to_datetime(calib["date"])
    return {"factor": factor, "applied": bool(cfg.evaluate.level_correction),
            "window": [str(days.min().date()), str(days.max().date())] if len(calib) else None,
            "bounds": list(level_correction.BOUNDS),
            "note": "model forecasts x factor after the recursion: the median over the validation window's "
                    "days of the day's sales over its recursive forecasts (demandcast.models."
                    "level_correction); serving applies it too"}


def headline(result: dict) -> dict:
    """The small, flat metrics file DVC shows and diffs (the same keys with or without truth:
    a metric that does not apply is null; evaluation.json says why)."""
    t, b = result["test"], result["backtest"]["mean"]
    oracle = t.get(ORACLE, {})
    return {"test": {"wape": t[MODEL]["wape"], "rmse": t[MODEL]["rmse"], "mae": t[MODEL]["mae"],
                     "rmsle": t[MODEL]["rmsle"], "bias": t[MODEL]["bias"],
                     **{f"wape_{m}": t[m]["wape"] for m in BASELINES},
                     "wape_oracle": oracle.get("wape"), "wape_model_to_oracle": None, **t["ratios"],
                     **{f"coverage_{lvl}": c for lvl, c in t["coverage"].items()}},
            "backtest": {"wape": b[MODEL]["wape"], "wape_oracle": b.get(ORACLE, {}).get("wape"),
                         "wape_seasonal_naive": b["seasonal_naive"]["wape"], "wape_model_to_oracle": None,
                         **b["ratios"]}}


def plot_tables(ev: Evaluation, seed: int, sample_series: int) -> dict[str, pd.DataFrame]:
    """The plot data DVC shows, by path under ``reports/plots/``: error by horizon, sample
    forecasts with their intervals, feature importance, residuals."""
    cells, result = ev.cells, ev.result
    by_h = pd.DataFrame({m: pd.Series(result["test"]["wape_by_horizon"].get(m, {}), dtype="float64")
                         for m in PLOTTED})
    by_h.index = by_h.index.astype(int)
    tables = {"error_by_horizon.csv": by_h.sort_index().rename_axis("horizon").reset_index()}
    rng = np.random.default_rng(seed)
    sold = cells.groupby(["store_nbr", "item_nbr"])["actual"].sum()
    chosen = sold[sold > 0].index.to_numpy()
    pick = chosen[rng.choice(len(chosen), size=min(sample_series, len(chosen)),
                             replace=False)] if len(chosen) else []
    bands = [c for c in cells.columns if c.startswith(("lower_", "upper_"))]
    for store, item in pick:
        one = cells[(cells["store_nbr"] == store) & (cells["item_nbr"] == item)]
        tables[f"forecasts/store{store}_item{item}.csv"] = one[["date", "actual", MODEL, *bands]].assign(
            date=one["date"].dt.date)
    gain = ev.forecaster.booster.get_score(importance_type="gain")
    tables["feature_importance.csv"] = pd.DataFrame(sorted(gain.items(), key=lambda kv: (-kv[1], kv[0])),
                                                    columns=["feature", "gain"])
    residuals = cells.sample(n=min(2000, len(cells)), random_state=seed)
    tables["residuals.csv"] = pd.DataFrame({"forecast": residuals[MODEL],
                                            "residual": residuals["actual"] - residuals[MODEL]})
    return tables
