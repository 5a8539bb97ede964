"""Recursive multi-horizon forecasts: what serving does, and so what evaluation measures.

From an origin (the last known day), day ``origin + h`` for h = 1..horizon is forecast from
the online features (:mod:`stages.online_features`), whose lags and rolling windows then
see the forecasts of days 1..h-1 in place of the unknown sales. Calendar, holidays and the
planned promotions are known in advance. All series move one day at a time together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stages.errors import UserError
from stages.model import Forecaster
from stages.online_features import OnlineFeatures


def recursive(forecaster: Forecaster, features: OnlineFeatures, history: pd.DataFrame,
              series: pd.DataFrame, origin, horizon: int,
              promotions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Forecasts of ``series`` (store_nbr, item_nbr) for the ``horizon`` days after ``origin``.

    ``history``: store_nbr, item_nbr, date, the target and onpromotion up to ``origin``
    (the features need the last ``spec.history_days`` days). ``promotions``: planned
    onpromotion per (store_nbr, item_nbr, date); absent days are not on promotion.
    Returns store_nbr, item_nbr, date, horizon (1..), forecast, and the features used.
    """
    spec = features.spec
    if horizon < 1:
        raise UserError(f"horizon must be at least 1 day, got {horizon}")
    origin = pd.Timestamp(origin)
    keep = pd.to_datetime(history["date"])
    if (keep > origin).any():
        raise UserError(f"history has rows after the origin {origin.date()}: the forecast may "
                        "only see what is known on its origin")
    since = origin - pd.Timedelta(days=spec.history_days)
    cols = ["store_nbr", "item_nbr", "date", spec.target, "onpromotion"]
    known = history.loc[keep > since, cols].assign(date=keep[keep > since])
    series = series[["store_nbr", "item_nbr"]].drop_duplicates().reset_index(drop=True)
    plan = _plan(promotions)

    steps, frames = [], [known]
    for h in range(1, horizon + 1):
        day = origin + pd.Timedelta(days=h)
        targets = series.assign(date=day)
        targets["onpromotion"] = _promoted(plan, targets)
        rows = features.compute(pd.concat(frames, ignore_index=True), targets)
        rows["horizon"] = h
        rows["forecast"] = forecaster.predict(rows)
        steps.append(rows)
        frames.append(targets.assign(**{spec.target: rows["forecast"].to_numpy()}))
    return pd.concat(steps, ignore_index=True)


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
