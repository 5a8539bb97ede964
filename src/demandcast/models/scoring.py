"""What evaluation scores: the cells of a forecast window, and the summary of their forecasts.

A cell is one series on one day after the origin. Which cells:

* **With ground truth** (generated data: ``paths.truth``, the expected demand of every
  active series-day): the truth's active days of every series with history in the
  ``history_days`` days before the origin; the truth's expected demand is the *oracle*,
  the best forecast possible.
* **Without** (real data has none): every day of the window for every series with history
  in those days. Days without a ``train.csv`` row are zero-sales days. There is no oracle.

Actual sales come from the feature table; the cells' promotions only from the promotion
plan (:mod:`demandcast.data.promotions`), never from the sales rows, which exist only on
days that sold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.models import dataset, metrics

MODEL = "model"
BASELINES = ("seasonal_naive", "moving_average_28")
ORACLE = "oracle"
STATS = ("rmse", "mae", "wape", "rmsle", "bias")
TRUTH_HINT = "paths.truth, data/truth/expected_demand.parquet by default"


def read_truth(path, since=None) -> pd.DataFrame | None:
    """The generator's expected demand per active series-day (from ``since`` on), or None
    when there is none."""
    path = Path(str(path))
    if not path.exists():
        return None
    filters = None if since is None else [("date", ">=", pd.Timestamp(since).date())]
    truth = pd.read_parquet(path, columns=["date", "store_nbr", "item_nbr", "expected_demand"],
                            filters=filters)
    truth["date"] = pd.to_datetime(truth["date"])
    return truth.astype({"store_nbr": np.int64, "item_nbr": np.int64})


def methods(cells: pd.DataFrame) -> tuple[str, ...]:
    """The forecasts ``cells`` holds: the model, the baselines, and the oracle when known."""
    return (MODEL, *BASELINES, *((ORACLE,) if ORACLE in cells else ()))


def _series(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["store_nbr", "item_nbr"]].drop_duplicates()


def grid(table: pd.DataFrame, truth: pd.DataFrame | None, plan: pd.DataFrame | None, spec, origin,
         horizon: int) -> tuple[pd.DataFrame, int]:
    """The cells scored after ``origin`` (see the module docstring) with ``actual``,
    ``onpromotion`` (from the plan), ``horizon`` and, with truth, ``expected_demand``; and the
    number of series active in the window that have no history to forecast from."""
    origin = pd.Timestamp(origin)
    last = origin + pd.Timedelta(days=horizon)
    recent = dataset.between(table, origin - pd.Timedelta(days=spec.history_days - 1), origin)
    known = _series(recent)
    window = dataset.between(table, origin + pd.Timedelta(days=1), last)
    if truth is not None:
        active = truth[(truth["date"] > origin) & (truth["date"] <= last)]
        cells = active.merge(known, on=["store_nbr", "item_nbr"])
        _check_truth(cells, known, origin, last)
    else:
        active = window
        days = pd.DataFrame({"date": pd.date_range(origin + pd.Timedelta(days=1), last, freq="D")})
        cells = known.merge(days, how="cross")
    unscored = len(_series(active).merge(known, how="left", indicator=True).query("_merge == 'left_only'"))
    sales = window[["store_nbr", "item_nbr", "date", spec.target]]
    cells = cells.merge(sales, on=["store_nbr", "item_nbr", "date"], how="left")
    cells["actual"] = cells.pop(spec.target).fillna(0.0)
    cells["onpromotion"] = promoted(plan, cells)
    cells["horizon"] = (cells["date"] - origin).dt.days
    return cells.sort_values(["store_nbr", "item_nbr", "date"]).reset_index(drop=True), unscored


def _check_truth(cells: pd.DataFrame, known: pd.DataFrame, origin, last) -> None:
    """The truth must describe this data: most series with history have active days in it."""
    covered = len(_series(cells))
    if len(known) and covered < 0.5 * len(known):
        raise UserError(
            f"the ground truth ({TRUTH_HINT}) lists active days {origin.date() + pd.Timedelta(days=1)}.."
            f"{last.date()} for only {covered} of the {len(known)} series with sales before them: it "
            "belongs to other data (left from generated data?); real data has no truth: delete it, or "
            "regenerate the data with it (demandcast generate)")


def promoted(plan: pd.DataFrame | None, cells: pd.DataFrame) -> np.ndarray:
    """1 where the promotion plan lists the cell's (store, item, date), else 0."""
    if plan is None or plan.empty:
        return np.zeros(len(cells), dtype=np.int64)
    keys = ["store_nbr", "item_nbr", "date"]
    hit = cells[keys].merge(plan[keys].assign(_planned=1), on=keys, how="left")["_planned"]
    return hit.fillna(0).astype(np.int64).to_numpy()


def summarize(cells: pd.DataFrame) -> dict:
    """Every method's scores on ``cells`` and the model's WAPE ratios to the others."""
    names = methods(cells)
    out = {m: metrics.scores(cells["actual"], cells[m]) for m in names}
    wape = out[MODEL]["wape"]
    best = min((out[b]["wape"] for b in BASELINES if out[b]["wape"] is not None), default=None)
    out["ratios"] = {f"wape_model_to_{m}": metrics.ratio(wape, out[m]["wape"]) for m in names if m != MODEL}
    out["ratios"]["wape_model_to_best_baseline"] = metrics.ratio(wape, best)
    return out


def mean_of_folds(folds: list[dict]) -> dict:
    """The backtest's mean per method and statistic, and of each ratio, over the folds that
    define them."""
    names = [m for m, v in folds[0].items() if isinstance(v, dict) and m != "ratios"]  # not origin, level
    out = {m: {s: metrics.mean(f[m][s] for f in folds) for s in STATS} for m in names}
    out["ratios"] = {r: metrics.mean(f["ratios"][r] for f in folds) for r in folds[0]["ratios"]}
    return out
