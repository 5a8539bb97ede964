"""Recursive multi-horizon forecasts, and how the trained model behaves in them."""

import numpy as np
import pandas as pd
import pytest

from demandcast.errors import UserError
from demandcast.models import dataset, forecast

HOLIDAY_PREFIXES = ("hol_", "days_to_", "days_since_", "is_")


def setup(m, n_series=12):
    history = dataset.between(m.table, None, m.fold.origin)
    recent = history[history["date"] == pd.Timestamp(m.fold.origin)]
    series = recent[["store_nbr", "item_nbr"]].head(n_series)
    return history, series


def test_forecasts_feed_back_as_lags(tiny_model):
    m = tiny_model
    history, series = setup(m)
    out = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 10)
    assert len(out) == len(series) * 10
    assert sorted(out["horizon"].unique()) == list(range(1, 11))
    key = ["store_nbr", "item_nbr"]
    day1 = out[out["horizon"] == 1].set_index(key)
    day2 = out[out["horizon"] == 2].set_index(key)
    day8 = out[out["horizon"] == 8].set_index(key)
    np.testing.assert_allclose(day2["lag_1"], day1["forecast"])  # yesterday's forecast is today's lag
    np.testing.assert_allclose(day8["lag_7"], day1["forecast"])
    # the first day's lag_1 is the origin's actual sales
    actual = history[history["date"] == pd.Timestamp(m.fold.origin)].set_index(key)[m.spec.target]
    np.testing.assert_allclose(day1["lag_1"], actual.loc[day1.index])


def step_by_step(m, history, series, origin, horizon, plan=None):
    """The recursion spelled out: one compute() per day, each day's forecasts appended to history."""
    spec = m.spec
    origin = pd.Timestamp(origin)
    frames = [history[["store_nbr", "item_nbr", "date", spec.target, "onpromotion"]]]
    last = history.groupby(["store_nbr", "item_nbr"])["date"].max().reset_index()
    gap = last[last["date"] < origin].assign(date=origin, onpromotion=0, **{spec.target: 0.0})
    frames.append(gap)  # days without a row up to the origin sold nothing
    planned = {} if plan is None else {(s, i, d): p for s, i, d, p in plan.itertuples(index=False)}
    steps = []
    for h in range(1, horizon + 1):
        day = origin + pd.Timedelta(days=h)
        targets = series.assign(date=day)
        targets["onpromotion"] = [planned.get((s, i, day), 0) for s, i in
                                  zip(targets["store_nbr"], targets["item_nbr"], strict=True)]
        rows = m.online.compute(pd.concat(frames, ignore_index=True), targets)
        rows["forecast"] = m.forecaster.predict(rows)
        steps.append(rows)
        frames.append(targets.assign(**{spec.target: rows["forecast"].to_numpy()}))
    return pd.concat(steps, ignore_index=True)


def test_recursion_equals_one_compute_per_day(tiny_model):
    """The vectorized recursion gives exactly the day-by-day one, with and without promotions,
    also for series whose last sale lies days before the origin."""
    m = tiny_model
    history = dataset.between(m.table, None, m.fold.origin)
    last = history.groupby(["store_nbr", "item_nbr"])["date"].max().reset_index()
    stale = last[last["date"] < pd.Timestamp(m.fold.origin)].head(5)
    series = pd.concat([setup(m, 10)[1], stale[["store_nbr", "item_nbr"]]], ignore_index=True)
    assert len(stale) > 0
    days = pd.date_range(pd.Timestamp(m.fold.origin) + pd.Timedelta(days=3), periods=4)
    plan = series.head(6).merge(pd.DataFrame({"date": days}), how="cross").assign(onpromotion=1)
    for promotions in (None, plan):
        fast = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 14, promotions)
        slow = step_by_step(m, history.merge(series), series, m.fold.origin, 14, promotions)
        cols = [*m.spec.names(), "forecast"]
        pd.testing.assert_frame_equal(fast[["date", *cols]], slow[["date", *cols]], check_exact=False,
                                      rtol=1e-6)


def test_forecasts_are_non_negative_for_every_series(tiny_model):
    m = tiny_model
    history, series = setup(m, n_series=1000)
    out = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 28)
    assert out["forecast"].notna().all() and (out["forecast"] >= 0).all()


def test_planned_promotions_are_used_and_raise_the_forecast(tiny_model):
    m = tiny_model
    history, series = setup(m, n_series=1000)
    days = pd.date_range(pd.Timestamp(m.fold.origin) + pd.Timedelta(days=1), periods=7)
    plan = series.merge(pd.DataFrame({"date": days}), how="cross").assign(onpromotion=1)
    base = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 7)
    promo = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 7, plan)
    assert (promo["onpromotion"] == 1).all() and (base["onpromotion"] == 0).all()
    assert promo["forecast"].sum() > 1.1 * base["forecast"].sum()


def test_the_known_holiday_uplift_shows(tiny_model):
    """The day before Independence Day sells more than the same rows on a plain calendar."""
    m = tiny_model
    rows = m.table[m.table["date"] == pd.Timestamp("2023-07-03")]
    plain = m.table[m.table["date"] == pd.Timestamp("2023-06-13")].set_index(["store_nbr", "item_nbr"])
    holiday_cols = [c for c in m.spec.names() if c.startswith(HOLIDAY_PREFIXES)]
    counterfactual = rows.copy()
    index = pd.MultiIndex.from_frame(rows[["store_nbr", "item_nbr"]])
    counterfactual[holiday_cols] = plain[holiday_cols].reindex(index).to_numpy()
    counterfactual = counterfactual.dropna(subset=holiday_cols)
    rows = rows.loc[counterfactual.index]
    assert len(rows) > 30
    assert m.forecaster.predict(rows).sum() > 1.05 * m.forecaster.predict(counterfactual).sum()


def test_history_after_the_origin_is_refused(tiny_model):
    m = tiny_model
    history, series = setup(m)
    late = dataset.between(m.table, None, pd.Timestamp(m.fold.origin) + pd.Timedelta(days=3))
    with pytest.raises(UserError, match="history has rows after the origin"):
        forecast.recursive(m.forecaster, m.online, late, series, m.fold.origin, 5)


def test_unknown_series_and_bad_horizons_get_clear_errors(tiny_model):
    m = tiny_model
    history, series = setup(m)
    unknown = pd.DataFrame({"store_nbr": [999], "item_nbr": [series["item_nbr"].iloc[0]]})
    with pytest.raises(UserError, match=r"store_nbr \[999\].*not in stores.csv"):
        forecast.recursive(m.forecaster, m.online, history, unknown, m.fold.origin, 3)
    with pytest.raises(UserError, match="horizon must be at least 1 day"):
        forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 0)
