"""Reference forecasts on the same windows as the model: seasonal naive and a moving average.

Both see only each series' history up to the origin (a day missing inside the history
is a zero day, as in the feature table; a day before the series' first is unknown).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _series(targets: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct series of ``targets`` and each target row's position among them."""
    pairs = targets[["store_nbr", "item_nbr"]]
    keys = pairs.drop_duplicates().reset_index(drop=True)
    return keys, pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(pairs))


def _dense(history: pd.DataFrame, target: str, origin: pd.Timestamp, days: int, keys: pd.DataFrame):
    """(series x day) sales for the ``days`` days up to ``origin``; NaN where unknown."""
    series = pd.MultiIndex.from_frame(keys[["store_nbr", "item_nbr"]])
    start = origin - pd.Timedelta(days=days - 1)
    h = history[(history["date"] >= start) & (history["date"] <= origin)]
    row = series.get_indexer(pd.MultiIndex.from_frame(h[["store_nbr", "item_nbr"]]))
    col = (h["date"] - start).dt.days.to_numpy()
    grid = np.full((len(series), days), np.nan)
    ok = row >= 0
    grid[row[ok], col[ok]] = h[target].to_numpy(np.float64)[ok]
    return grid


def seasonal_naive(history, target, origin, targets: pd.DataFrame) -> np.ndarray:
    """Sales on the same weekday in the last week before the origin."""
    origin = pd.Timestamp(origin)
    keys, row = _series(targets)
    grid = _dense(history, target, origin, 7, keys)
    ahead = (pd.to_datetime(targets["date"]) - origin).dt.days.to_numpy()
    col = (ahead - 1) % 7  # column j is origin-6+j: the same weekday as origin+ahead
    return np.nan_to_num(grid[row, col], nan=0.0).clip(0, None)


def moving_average(history, target, origin, targets: pd.DataFrame, window: int = 28) -> np.ndarray:
    """Mean daily sales over the ``window`` known days before the origin."""
    origin = pd.Timestamp(origin)
    keys, row = _series(targets)
    grid = _dense(history, target, origin, window, keys)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isnan(grid).all(axis=1, keepdims=True), 0.0, grid), axis=1)
    return np.clip(mean[row], 0, None)
