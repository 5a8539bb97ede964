"""Recursive multi-horizon forecasts: what serving does, and so what evaluation measures.

From an origin (the last known day), day ``origin + h`` for h = 1..horizon is forecast from
the online features (:mod:`demandcast.features.online`), whose lags and rolling windows then
see the forecasts of days 1..h-1 in place of the unknown sales. Calendar, holidays and the
planned promotions are known in advance. All series move one day at a time together; the
features that do not depend on sales are computed once for every day.

History is complete up to the origin: a series with history whose last row is before the
origin sold nothing on the days in between (``train.csv`` lists only days with sales), so
those days are zero-sales days, not unknown ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features.feature_spec import series_key, series_parts
from demandcast.features.online import OnlineFeatures
from demandcast.models.boosting import Forecaster


def recursive(forecaster: Forecaster, features: OnlineFeatures, history: pd.DataFrame,
              series: pd.DataFrame, origin, horizon: int,
              promotions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Forecasts of ``series`` (store_nbr, item_nbr) for the ``horizon`` days after ``origin``.

    ``history``: store_nbr, item_nbr, date, the target and onpromotion up to ``origin``
    (the features need the last ``spec.history_days`` days). ``promotions``: planned
    onpromotion per (store_nbr, item_nbr, date); absent days are not on promotion.
    Returns store_nbr, item_nbr, date, horizon (1..), forecast, and the features used,
    day by day (all series of day 1, then of day 2, ...).
    """
    spec = features.spec
    if horizon < 1:
        raise UserError(f"horizon must be at least 1 day, got {horizon}")
    origin = pd.Timestamp(origin)
    dates = pd.to_datetime(history["date"])
    if (dates > origin).any():
        raise UserError(f"history has rows after the origin {origin.date()}: the forecast may "
                        "only see what is known on its origin")
    since = origin - pd.Timedelta(days=spec.history_days)
    cols = ["store_nbr", "item_nbr", "date", spec.target, "onpromotion"]
    known = history.loc[dates > since, cols].assign(date=dates[dates > since])
    series = series[["store_nbr", "item_nbr"]].drop_duplicates().reset_index(drop=True)
    known = pd.concat([known, _edges(history, dates, series, spec.target, since, origin)],
                      ignore_index=True)

    days = origin + pd.to_timedelta(np.arange(1, horizon + 1), unit="D")
    targets = pd.DataFrame({"store_nbr": np.tile(series["store_nbr"].to_numpy(), horizon),
                            "item_nbr": np.tile(series["item_nbr"].to_numpy(), horizon),
                            "date": np.repeat(days.to_numpy(), len(series))})
    planned = _promoted(_plan(promotions), targets).reshape(horizon, len(series)).T
    n = len(series)
    store_row, item_row = features.rows(targets["store_nbr"].to_numpy(np.int64),
                                        targets["item_nbr"].to_numpy(np.int64))
    # Panels from history_days before day 1 to the day before the last, one row per series:
    # known up to the origin, unknown after it until forecast.
    row, y, promo, start = features.panel(known, store_row, item_row,
                                          targets["date"].to_numpy("datetime64[D]").astype(np.int64), targets)
    order = model_order(forecaster, spec.names())
    made, x = features.recursive(store_row[:n], item_row[:n], y[row[:n]], promo[row[:n]], start, planned,
                                 lambda m: forecaster.predict_matrix(m[:, order]))
    flat = x.reshape(horizon * n, -1)
    rows = features.frame(np.repeat(days.to_numpy("datetime64[D]").astype(np.int64), n),
                          {name: flat[:, j] for j, name in enumerate(spec.names())})
    rows["forecast"] = made.ravel()
    rows["horizon"] = np.repeat(np.arange(1, horizon + 1), n)
    return rows


def _edges(history: pd.DataFrame, dates: pd.Series, series: pd.DataFrame, target: str,
           since: pd.Timestamp, origin: pd.Timestamp) -> pd.DataFrame:
    """Rows that keep each of ``series``' panel as long as its whole history makes it once
    the history is cut to the days after ``since``: a zero-sales row on the origin where the
    history stops before it, and a row on ``since`` (outside every window) where it starts
    on or before it."""
    key = series_key(history["store_nbr"], history["item_nbr"])
    asked = np.isin(key, series_key(series["store_nbr"], series["item_nbr"]))
    keys, group = np.unique(key[asked], return_inverse=True)
    day = dates.to_numpy("datetime64[ns]")[asked].astype(np.int64)
    first = np.full(len(keys), np.iinfo(np.int64).max)
    last = np.full(len(keys), np.iinfo(np.int64).min)
    np.minimum.at(first, group, day)
    np.maximum.at(last, group, day)
    early, short = keys[first <= since.value], keys[last < origin.value]
    both = np.concatenate([early, short])
    store, item = series_parts(both)
    return pd.DataFrame({"store_nbr": store, "item_nbr": item,
                         "date": np.repeat(np.array([since, origin], dtype="datetime64[ns]"),
                                           [len(early), len(short)]),
                         target: 0.0, "onpromotion": 0})


def model_order(forecaster: Forecaster, names: list[str]) -> np.ndarray:
    missing = [n for n in forecaster.names if n not in names]
    if missing:
        raise UserError(f"the model needs features the feature spec does not make: {missing}; "
                        "the model and conf/features disagree: retrain (dvc repro)")
    return np.array([names.index(n) for n in forecaster.names])


def _plan(promotions: pd.DataFrame | None) -> pd.Series | None:
    if promotions is None or len(promotions) == 0:
        return None
    index = pd.MultiIndex.from_arrays([promotions["store_nbr"].astype(np.int64),
                                       promotions["item_nbr"].astype(np.int64),
                                       pd.to_datetime(promotions["date"])])
    return pd.Series(promotions["onpromotion"].fillna(0).astype(np.int64).to_numpy(), index=index)


def _promoted(plan: pd.Series | None, targets: pd.DataFrame) -> np.ndarray:
    if plan is None:
        return np.zeros(len(targets), dtype=np.int64)
    index = pd.MultiIndex.from_arrays([targets["store_nbr"].astype(np.int64),
                                       targets["item_nbr"].astype(np.int64), targets["date"]])
    return plan.reindex(index).fillna(0).astype(np.int64).to_numpy()
