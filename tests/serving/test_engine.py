"""The serving engine without HTTP: its array route equals the evaluate stage's route.

The engine builds each request's panels from the bundle's dense snapshot and overrides;
evaluation calls :func:`demandcast.models.forecast.recursive` on a history frame. For every
kind of request (default origin, a backtest origin, a start after the history, histories
given in the request with gaps, reaching past the snapshot or for a series it lacks) the
forecasts and the features must be exactly equal.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from demandcast.models import forecast
from demandcast.serving.engine import Query

pytestmark = pytest.mark.slow
DAY = dt.timedelta(days=1)
COLUMNS = ["store_nbr", "item_nbr", "date", "unit_sales", "onpromotion"]


def evaluate_route(engine, bundle, q: Query) -> pd.DataFrame:
    """forecast.recursive on a history frame: the snapshot's rows up to the origin (before
    the request's history, if any) and the request's history."""
    plan = engine.plan([q])[0]
    origin = plan["origin"]
    h = bundle.history
    mine = h[(h["store_nbr"] == q.store_nbr) & (h["item_nbr"] == q.item_nbr)]
    cut = origin if q.history is None else min(d for d, _, _ in q.history) - DAY
    rows = [mine.loc[mine["date"] <= pd.Timestamp(cut), COLUMNS]]
    if q.history is not None:
        rows.append(pd.DataFrame([(q.store_nbr, q.item_nbr, pd.Timestamp(d), float(y), int(p))
                                  for d, y, p in q.history], columns=COLUMNS))
    series = pd.DataFrame({"store_nbr": [q.store_nbr], "item_nbr": [q.item_nbr]})
    promotions = pd.DataFrame([(q.store_nbr, q.item_nbr, pd.Timestamp(d), 1) for d in q.promotions],
                              columns=["store_nbr", "item_nbr", "date", "onpromotion"])
    steps = (plan["last_day"] - origin).days
    out = forecast.recursive(bundle.forecaster, engine.online(origin), pd.concat(rows, ignore_index=True),
                             series, origin, steps, promotions)
    return out[out["date"] >= pd.Timestamp(q.start or origin + DAY)].reset_index(drop=True)


@pytest.fixture(scope="module")
def cases(engine, tiny_bundle) -> dict[str, Query]:
    h = tiny_bundle.history
    end = engine.history_end
    last = h.groupby(["store_nbr", "item_nbr"])["date"].max()
    fresh = [k for k in last.index if last[k] == pd.Timestamp(end)]
    stale = [k for k in last.index if last[k] < pd.Timestamp(end) - pd.Timedelta(days=3)]
    store, item = fresh[0]
    items = tiny_bundle.static["items.csv"]["item_nbr"].tolist()
    unseen = next(i for i in items if (store, i) not in last.index)
    gappy = [(end - k * DAY, float(k % 4), k % 3 == 0) for k in range(12) if k % 5 != 2]
    return {
        "default origin": Query(store, item, 28),
        "backtest origin with promotions": Query(*fresh[1], 10, start=end - 20 * DAY,
                                                 promotions=[end - 18 * DAY, end - 15 * DAY]),
        "start after the history": Query(*fresh[2], 3, start=end + 5 * DAY),
        "a series that stopped selling": Query(*stale[0], 14),
        "history with gaps": Query(*fresh[3], 7, history=gappy),
        "history past the snapshot": Query(*fresh[4], 5, history=[(end + 3 * DAY, 4.0, True)]),
        "history older than the snapshot": Query(*fresh[5], 6, history=[(end - 60 * DAY, 2.0, False),
                                                                        (end - 2 * DAY, 1.0, False)]),
        "a series the snapshot lacks": Query(store, unseen, 9, history=gappy),
    }


@pytest.mark.parametrize("case", ["default origin", "backtest origin with promotions",
                                  "start after the history", "a series that stopped selling",
                                  "history with gaps", "history past the snapshot",
                                  "history older than the snapshot", "a series the snapshot lacks"])
def test_the_engine_equals_the_evaluate_route(engine, tiny_bundle, cases, case):
    q = cases[case]
    got = engine.forecast([q])[0]
    want = evaluate_route(engine, tiny_bundle, q)
    assert got.flags["fallback"] is None
    assert [d.isoformat() for d in got.dates] == [str(d.date()) for d in want["date"]]
    # the evaluate stage's level factor on the recursion's forecasts (the features keep them as made)
    assert tiny_bundle.level != 1.0
    np.testing.assert_array_equal(got.forecast, want["forecast"].to_numpy() * tiny_bundle.level)
    np.testing.assert_array_equal(got.features, want[engine.feature_names].to_numpy(np.float64))


def test_all_cases_in_one_call_equal_each_alone(engine, cases):
    queries = list(cases.values())
    together = engine.forecast(queries)
    for q, got in zip(queries, together, strict=True):
        alone = engine.forecast([q])[0]
        np.testing.assert_array_equal(got.forecast, alone.forecast)
        for level, (lo, hi) in alone.intervals.items():
            np.testing.assert_array_equal(got.intervals[level][0], lo)
            np.testing.assert_array_equal(got.intervals[level][1], hi)


def test_a_pass_split_over_the_cores_answers_the_same_bytes(engine, cases, monkeypatch):
    from demandcast.features.online import OnlineFeatures
    from demandcast.serving import engine as engine_module

    calls: list[int] = []
    recursive = OnlineFeatures.recursive

    def counted(self, store_row, *args, **kwargs):
        calls.append(len(store_row))
        return recursive(self, store_row, *args, **kwargs)

    monkeypatch.setattr(OnlineFeatures, "recursive", counted)
    queries = list(cases.values())
    whole = engine.forecast(queries)
    passes, calls[:] = list(calls), []
    monkeypatch.setattr(engine_module, "WIDE_PASS", 2)  # from 2 series a pass, one part per core
    monkeypatch.setattr(engine, "_cores", 3)  # up to three parts, even on fewer cores
    split = engine.forecast(queries)
    assert sum(calls) == sum(passes) and len(calls) > len(passes)  # the same series, in more parts
    for a, b in zip(whole, split, strict=True):
        np.testing.assert_array_equal(a.forecast, b.forecast)
        np.testing.assert_array_equal(a.features, b.features)
        for level, (lo, hi) in a.intervals.items():
            np.testing.assert_array_equal(b.intervals[level][0], lo)
            np.testing.assert_array_equal(b.intervals[level][1], hi)
