"""Seasonal naive and moving average see only the history up to the origin."""

import numpy as np
import pandas as pd
import pytest

from demandcast.models import baselines

ORIGIN = pd.Timestamp("2024-03-31")  # a Sunday


def history(values, first=None):
    days = pd.date_range(end=ORIGIN, periods=len(values))
    frame = pd.DataFrame({"store_nbr": 1, "item_nbr": 7, "date": days, "unit_sales": values})
    return frame if first is None else frame[frame["date"] >= first]


def targets(n):
    return pd.DataFrame({"store_nbr": 1, "item_nbr": 7,
                         "date": pd.date_range(ORIGIN + pd.Timedelta(days=1), periods=n)})


def test_seasonal_naive_repeats_last_week_by_weekday():
    values = np.arange(1.0, 29.0)  # the last 7 days before the origin are 22..28
    got = baselines.seasonal_naive(history(values), "unit_sales", ORIGIN, targets(14))
    assert got.tolist() == [22, 23, 24, 25, 26, 27, 28] * 2
    dates = targets(14)["date"]
    last_week = pd.date_range(end=ORIGIN, periods=7)
    assert all(d.dayofweek == last_week[i % 7].dayofweek for i, d in enumerate(dates))


def test_moving_average_over_the_last_28_days_and_unknown_days_skipped():
    values = np.r_[np.full(10, 100.0), np.arange(28.0)]
    got = baselines.moving_average(history(values), "unit_sales", ORIGIN, targets(3), 28)
    assert got == pytest.approx([np.arange(28.0).mean()] * 3)
    short = history(np.arange(28.0), first=ORIGIN - pd.Timedelta(days=4))  # 5 known days
    got = baselines.moving_average(short, "unit_sales", ORIGIN, targets(1), 28)
    assert got == pytest.approx([np.arange(23.0, 28.0).mean()])


def test_a_series_without_history_gets_zero_and_returns_clip_to_zero():
    none = baselines.seasonal_naive(history([1.0] * 7).iloc[:0], "unit_sales", ORIGIN, targets(2))
    assert none.tolist() == [0.0, 0.0]
    neg = baselines.seasonal_naive(history([-3.0] * 7), "unit_sales", ORIGIN, targets(1))
    assert neg.tolist() == [0.0]
