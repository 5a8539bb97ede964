"""Evaluation: recursive 1..H-day forecasts from each origin, as serving makes them.

On the test window (the final
``features.split.test_days``) and a rolling-origin backtest (``evaluate.folds`` windows,
each earlier one refit on its own training window with its own priors), the model is
compared on the same series and days with seasonal naive, a 28-day moving average and the
ground-truth oracle (the generator's expected demand: the accuracy limit; this is the only
stage that reads ``data/truth/``). Conformal intervals are calibrated on the validation
window's recursive forecasts and their coverage is measured on the test window.

:func:`evaluate` returns the results, the scored test cells and the interval widths;
:func:`headline` the flat metrics DVC shows; :func:`plot_tables` the plot data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.models import baselines, boosting, conformal, dataset, forecast, metrics

METHODS = ("model", "seasonal_naive", "moving_average_28", "oracle")


@dataclass
class Evaluation:
    result: dict               # everything reports/evaluation.json holds
    cells: pd.DataFrame        # the scored test cells with every method's forecast and the intervals
    widths: dict               # conformal widths per level and horizon day
    forecaster: boosting.Forecaster


def read_truth(path) -> pd.DataFrame:
    path = Path(str(path))
    if not path.exists():
        raise UserError(f"{path} is missing: evaluation scores the active series-days the ground "
                        "truth lists, which comes with generated data (demandcast generate); "
                        "evaluating real data without a truth file is not supported yet")
    truth = pd.read_parquet(path, columns=["date", "store_nbr", "item_nbr", "expected_demand"])
    truth["date"] = pd.to_datetime(truth["date"])
    return truth.astype({"store_nbr": np.int64, "item_nbr": np.int64})


def grid(table: pd.DataFrame, truth: pd.DataFrame, spec, origin, horizon: int) -> tuple[pd.DataFrame, int]:
    """The (series, day) cells scored after ``origin``: the truth's active days of every
    series with history in the days before the origin; actual sales 0 where none were sold."""
    origin = pd.Timestamp(origin)
    last = origin + pd.Timedelta(days=horizon)
    cells = truth[(truth["date"] > origin) & (truth["date"] <= last)]
    recent = dataset.between(table, origin - pd.Timedelta(days=spec.history_days - 1), origin)
    known = recent[["store_nbr", "item_nbr"]].drop_duplicates()
    scored = cells.merge(known, on=["store_nbr", "item_nbr"])
    series = lambda frame: frame[["store_nbr", "item_nbr"]].drop_duplicates().shape[0]  # noqa: E731
    unscored = series(cells) - series(scored)
    window = dataset.between(table, origin + pd.Timedelta(days=1), last)
    sales = window[["store_nbr", "item_nbr", "date", spec.target, "onpromotion"]]
    scored = scored.merge(sales, on=["store_nbr", "item_nbr", "date"], how="left")
    scored["actual"] = scored.pop(spec.target).fillna(0.0)
    scored["onpromotion"] = scored["onpromotion"].fillna(0).astype(np.int64)
    scored["horizon"] = (scored["date"] - origin).dt.days
    return scored.sort_values(["store_nbr", "item_nbr", "date"]).reset_index(drop=True), unscored


def forecast_window(forecaster, online, table, truth, spec, origin, horizon) -> tuple[pd.DataFrame, int]:
    """Model, baseline and oracle forecasts for one origin, on the scored cells."""
    cells, unscored = grid(table, truth, spec, origin, horizon)
    history = dataset.between(table, None, origin)
    series = cells[["store_nbr", "item_nbr"]].drop_duplicates()
    plan = cells[["store_nbr", "item_nbr", "date", "onpromotion"]]
    made = forecast.recursive(forecaster, online, history, series, origin, horizon, plan)
    cells = cells.merge(made[["store_nbr", "item_nbr", "date", "forecast"]],
                        on=["store_nbr", "item_nbr", "date"], how="left")
    cells["seasonal_naive"] = baselines.seasonal_naive(history, spec.target, origin, cells)
    cells["moving_average_28"] = baselines.moving_average(history, spec.target, origin, cells, 28)
    cells["oracle"] = cells.pop("expected_demand")
    return cells.rename(columns={"forecast": "model"}), unscored


def summarize(cells: pd.DataFrame) -> dict:
    out = {m: metrics.scores(cells["actual"], cells[m]) for m in METHODS}
    model_wape = out["model"]["wape"]
    out["ratios"] = {"wape_model_to_oracle": model_wape / out["oracle"]["wape"],
                     "wape_model_to_seasonal_naive": model_wape / out["seasonal_naive"]["wape"],
                     "wape_model_to_moving_average_28": model_wape / out["moving_average_28"]["wape"]}
    return out


def fold_model(cfg, spec, table, whole, static, families, k: int, params: dict):
    """Refit fold k's model on its own windows, with priors from its own training window."""
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon), k)
    cutoff = fold.valid_start - pd.Timedelta(days=1)
    priors = dataset.priors_until(whole, cutoff, spec, families)
    shifted = dataset.with_priors(table, priors, families)
    train, valid = dataset.windows(shifted, fold)
    booster = boosting.fit(train, valid, spec.names(), spec.target, cfg.model, params, seed=int(cfg.seed))
    online = dataset.online(static, spec, priors, known_until=fold.origin)
    return fold, boosting.Forecaster.from_fit(booster, spec.names(), cfg.model), online, shifted


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
    last_fold = dataset.fold(cfg.data.end, spec, cfg.model, horizon, n_folds - 1)
    table = dataset.load_table(artifacts / "features", spec, since=last_fold.train_start)
    static = dataset.read_static(cfg.paths.data)
    truth = read_truth(cfg.paths.truth)
    priors = dataset.read_priors(artifacts / "features", spec)
    test = dataset.fold(cfg.data.end, spec, cfg.model, horizon, 0)
    online = dataset.online(static, spec, priors, known_until=test.origin)
    families = online.families

    # Conformal widths from the validation window's recursive forecasts (origin: the day before it).
    valid_origin = test.valid_start - pd.Timedelta(days=1)
    calib, _ = forecast_window(forecaster, dataset.online(static, spec, priors, known_until=valid_origin),
                               table, truth, spec, valid_origin, min(horizon, spec.valid_days))
    widths = conformal.calibrate(calib.rename(columns={"model": "forecast"}), cfg.evaluate.intervals)

    cells, unscored = forecast_window(forecaster, online, table, truth, spec, test.origin, horizon)
    bands = conformal.intervals(cells["model"], cells["horizon"], widths)
    for level, (lo, hi) in bands.items():
        cells[f"lower_{level}"], cells[f"upper_{level}"] = lo, hi
    result = {"test": summarize(cells), "test_window": [str(d) for d in test.forecast_days],
              "series_scored": int(cells[["store_nbr", "item_nbr"]].drop_duplicates().shape[0]),
              "series_without_history": int(unscored)}
    result["test"]["coverage"] = {level: metrics.coverage(cells["actual"], lo, hi)
                                  for level, (lo, hi) in bands.items()}
    result["test"]["wape_by_horizon"] = {m: metrics.wape_by(cells, "horizon", m) for m in METHODS}
    family = static["items.csv"].set_index("item_nbr")["family"]
    cells["family"] = cells["item_nbr"].map(family)
    result["test"]["wape_by_family"] = {m: metrics.wape_by(cells, "family", m) for m in METHODS}

    folds = [{"origin": str(test.origin), **summarize(cells)}]
    params = json.loads((artifacts / "model" / "training.json").read_text())["params"]
    whole = (dataset.load_table(artifacts / "features", spec, columns=dataset.PRIOR_INPUTS)
             if n_folds > 1 else None)
    for k in range(1, n_folds):
        fold, fk, online_k, shifted = fold_model(cfg, spec, table, whole, static, families, k, params)
        cells_k, _ = forecast_window(fk, online_k, shifted, truth, spec, fold.origin, horizon)
        folds.append({"origin": str(fold.origin), **summarize(cells_k)})
    result["backtest"] = {"folds": folds, "mean": {
        m: {s: float(np.mean([f[m][s] for f in folds])) for s in ("rmse", "mae", "wape", "rmsle", "bias")}
        for m in METHODS}}
    result["backtest"]["mean"]["ratios"] = {
        r: float(np.mean([f["ratios"][r] for f in folds])) for r in folds[0]["ratios"]}

    return Evaluation(result, cells, widths, forecaster)


def headline(result: dict) -> dict:
    """The small, flat metrics file DVC shows and diffs."""
    t, b = result["test"], result["backtest"]["mean"]
    return {"test": {"wape": t["model"]["wape"], "rmse": t["model"]["rmse"], "mae": t["model"]["mae"],
                     "rmsle": t["model"]["rmsle"], "bias": t["model"]["bias"],
                     "wape_seasonal_naive": t["seasonal_naive"]["wape"],
                     "wape_moving_average_28": t["moving_average_28"]["wape"],
                     "wape_oracle": t["oracle"]["wape"], **t["ratios"],
                     **{f"coverage_{lvl}": c for lvl, c in t["coverage"].items()}},
            "backtest": {"wape": b["model"]["wape"], "wape_oracle": b["oracle"]["wape"],
                         "wape_seasonal_naive": b["seasonal_naive"]["wape"], **b["ratios"]}}



def plot_tables(ev: Evaluation, seed: int, sample_series: int) -> dict[str, pd.DataFrame]:
    """The plot data DVC shows, by path under ``reports/plots/``: error by horizon, sample
    forecasts with their intervals, feature importance, residuals."""
    cells, result = ev.cells, ev.result
    by_h = pd.DataFrame({m: pd.Series(result["test"]["wape_by_horizon"][m]) for m in METHODS})
    tables = {"error_by_horizon.csv": by_h.rename_axis("horizon").reset_index()}
    rng = np.random.default_rng(seed)
    sold = cells.groupby(["store_nbr", "item_nbr"])["actual"].sum()
    chosen = sold[sold > 0].index.to_numpy()
    pick = chosen[rng.choice(len(chosen), size=min(sample_series, len(chosen)),
                             replace=False)] if len(chosen) else []
    bands = [c for c in cells.columns if c.startswith(("lower_", "upper_"))]
    for store, item in pick:
        one = cells[(cells["store_nbr"] == store) & (cells["item_nbr"] == item)]
        tables[f"forecasts/store{store}_item{item}.csv"] = one[["date", "actual", "model", *bands]].assign(
            date=one["date"].dt.date)
    gain = ev.forecaster.booster.get_score(importance_type="gain")
    tables["feature_importance.csv"] = pd.DataFrame(sorted(gain.items(), key=lambda kv: -kv[1]),
                                                    columns=["feature", "gain"])
    residuals = cells.sample(n=min(2000, len(cells)), random_state=seed)
    tables["residuals.csv"] = pd.DataFrame({"forecast": residuals["model"],
                                            "residual": residuals["actual"] - residuals["model"]})
    return tables
