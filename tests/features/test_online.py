"""The online features (numpy/pandas): hand-computed values on inline frames, and bad input."""

import math

import numpy as np
import pandas as pd
import pytest

from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.features.feature_spec import KEYS
from demandcast.features.online import OnlineFeatures

NAN = float("nan")
CONFIG = {
    "target": "unit_sales",
    "lags": [1, 2, 7],
    "rolling": {"windows": [3, 5], "min_periods": {"mean": 1, "std": 2}},
    "promo_windows": [3],
    "holidays": {"cap_days": 5, "before_days": 2, "after_days": 1,
                 "named": {"christmas": "Christmas Day", "new_year": "New Year's Day"}},
    "transactions": {"window": 3, "lag": 2},
    "priors": ["store", "item", "family", "cluster", "store_family"],
    "split": {"test_days": 7, "valid_days": 7},
}
STORES = pd.DataFrame({"store_nbr": [1, 2, 3], "city": ["Austin", "Boston", "Dallas"],
                       "state": ["TX", "MA", "TX"], "type": ["A", "D", "B"], "cluster": [3, 5, 3]})
ITEMS = pd.DataFrame({"item_nbr": [10, 20, 30], "family": ["DAIRY", "BEVERAGES", "CLEANING"],
                      "class": [1, 2, 3], "perishable": [1, 0, 0]})
HOLIDAYS = pd.DataFrame([
    ("2023-03-02", "Holiday", "Regional", "TX", "Texas Independence Day", False),
    ("2023-03-10", "Holiday", "Local", "Austin", "Austin Day", False),
    ("2023-03-20", "Holiday", "Regional", "TX", "Moved Day", True),
    ("2023-05-13", "Additional", "Regional", "MA", "Extra Day", False),
    ("2023-05-14", "Event", "National", "United States", "Mother's Day", False),
    ("2023-05-15", "Bridge", "National", "United States", "Bridge", False),
    ("2023-05-20", "Work Day", "National", "United States", "Recovery Day", False),
    ("2023-12-24", "Holiday", "Regional", "TX", "Christmas Day", False),
    ("2023-12-25", "Holiday", "National", "United States", "Christmas Day", True),
    ("2023-12-26", "Transfer", "National", "United States", "Christmas Day", False),
], columns=["date", "type", "locale", "locale_name", "description", "transferred"])


def empty_priors():
    return {"store": pd.DataFrame({"store_nbr": [], "prior_store": []}),
            "item": pd.DataFrame({"item_nbr": [], "prior_item": []}),
            "family": pd.DataFrame({"family": [], "prior_family": []}),
            "cluster": pd.DataFrame({"cluster": [], "prior_cluster": []}),
            "store_family": pd.DataFrame({"store_nbr": [], "family": [], "prior_store_family": []})}


@pytest.fixture(scope="module")
def spec():
    return feature_spec.from_config(CONFIG)


@pytest.fixture(scope="module")
def online(spec):
    return OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, empty_priors())


def day(n: int) -> pd.Timestamp:
    """Day n of a March 2023 series (day 1 = 2023-03-01)."""
    return pd.Timestamp("2023-03-01") + pd.Timedelta(days=n - 1)


def history(values, store=1, item=10, start=1, promo=None) -> pd.DataFrame:
    """A series' history from day ``start``; a None value leaves that day out (a gap)."""
    promo = promo or [False] * len(values)
    rows = [(store, item, day(start + i), v, p) for i, (v, p) in enumerate(zip(values, promo, strict=True))
            if v is not None]
    return pd.DataFrame(rows, columns=[*KEYS, "unit_sales", "onpromotion"])


def targets(*days_, store=1, item=10, promo=None) -> pd.DataFrame:
    return pd.DataFrame({"store_nbr": store, "item_nbr": item, "date": [day(d) for d in days_],
                         "onpromotion": promo if promo is not None else [False] * len(days_)})


def no_history() -> pd.DataFrame:
    return history([])


def same(actual, expected) -> bool:
    """Equal, with NaN equal to NaN (for exact hand-computed values)."""
    return [a if not math.isnan(a) else "nan" for a in actual] == \
        [e if not math.isnan(e) else "nan" for e in expected]


def test_columns_dtypes_and_target_order(spec, online):
    t = pd.concat([targets(12, 11), targets(11, store=2, item=20)], ignore_index=True)
    out = online.compute(history(range(1, 11)), t)
    assert list(out.columns) == [*KEYS, *[n for n in spec.names() if n not in KEYS]]
    assert out[spec.names()].shape == (3, len(spec.names()))  # the model matrix
    for name, kind in spec.columns():
        assert str(out[name].dtype) == {"int": "int64", "float": "float64"}[kind], name
    assert str(out["date"].dtype) == "datetime64[ns]"
    assert out[list(KEYS)].values.tolist() == t[list(KEYS)].values.tolist()


def test_the_configured_spec_gives_its_columns(params):
    spec = feature_spec.from_config(params.features)
    out = OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, empty_priors()).compute(
        history(range(1, 40)), targets(40))
    assert list(out.columns) == [*KEYS, *[n for n in spec.names() if n not in KEYS]]
    assert out["roll_mean_30"][0] == pytest.approx(np.mean(range(10, 40)))


def test_lags_use_past_days_only(online):
    out = online.compute(history(range(1, 11)), targets(11, 5, 1))  # values 1..10 on days 1..10
    assert same(out["lag_1"], [10, 4, NAN])  # day 5 ignores the history from day 5 on
    assert same(out["lag_2"], [9, 3, NAN])
    assert same(out["lag_7"], [4, NAN, NAN])  # day 5 - 7 is before the series' first day


def test_rolling_mean_std_and_min_periods(online):
    out = online.compute(history(range(1, 11)), targets(11, 2, 1))
    assert out["roll_mean_3"].tolist()[:2] == [9.0, 1.0]  # mean(8, 9, 10); day 2 sees day 1 only
    assert out["roll_std_3"][0] == pytest.approx(1.0)
    assert math.isnan(out["roll_std_3"][1])  # one past day: the std needs two
    assert math.isnan(out["roll_mean_3"][2]) and math.isnan(out["roll_std_3"][2])  # the first day


def test_a_gap_in_the_history_is_a_zero_day(online):
    h = history([3, 5, None, 7], promo=[True, True, None, False])  # day 3 absent
    out = online.compute(h, targets(5))
    assert out["lag_1"][0] == 7 and out["lag_2"][0] == 0
    assert out["roll_mean_3"][0] == 4.0  # (5 + 0 + 7) / 3
    assert out["roll_std_3"][0] == pytest.approx(math.sqrt(13))  # deviations 1, -4, 3
    assert out["promo_share_3"][0] == pytest.approx(1 / 3)  # the gap day had no promotion


def test_days_after_the_history_are_unknown_not_zero(online):
    out = online.compute(history([1, 2, 3, 4, 5]), targets(8, 7))
    assert same(out["lag_1"], [NAN, NAN]) and same(out["lag_2"], [NAN, 5])
    assert same(out["lag_7"], [1, NAN])
    assert same(out["roll_mean_3"], [5, 4.5])  # day 8: only day 5 of days 5..7 is known
    assert math.isnan(out["roll_std_3"][0])
    assert out["roll_std_3"][1] == pytest.approx(math.sqrt(0.5))
    # Recursive forecasting appends its prediction for day 6 (and 7) before asking for day 8.
    more = pd.concat([history([1, 2, 3, 4, 5]), history([6, 7], start=6)], ignore_index=True)
    assert online.compute(more, targets(8))["lag_1"][0] == 7


def test_a_series_shorter_than_the_longest_window(online):
    out = online.compute(history([2, 4, 6, 8]), targets(5))
    assert out["roll_mean_5"][0] == 5.0  # four days in the panel, min_periods 1
    assert out["roll_std_5"][0] == pytest.approx(np.std([2, 4, 6, 8], ddof=1))
    assert math.isnan(out["lag_7"][0])


def test_a_constant_window_has_a_std_of_exactly_zero(online):
    out = online.compute(history([0.1] * 6), targets(7))
    assert out["roll_std_5"][0] == 0.0 and out["roll_std_3"][0] == 0.0


def test_yearly_week_base_and_ratio(spec):
    """A small yearly config (lag 6, week 3, base 4): week = days d-7..d-5, base = d-10..d-7."""
    yearly = feature_spec.from_config({**CONFIG, "yearly": {"lag": 6, "week": 3, "base": 4}})
    assert yearly.yearly_spans() == ((7, 5), (10, 7)) and yearly.history_days == 10
    out = OnlineFeatures(yearly, STORES, ITEMS, HOLIDAYS, empty_priors()).compute(
        history(range(1, 21)), targets(21, 10, 8, 5))  # values 1..20 on days 1..20
    assert out["yearly_mean_3"].tolist()[:3] == [15.0, 4.0, 2.0]  # days 14-16, 3-5, 1-3
    assert same(out["yearly_base_4"], [12.5, 2.0, 1.0, NAN])  # days 11-14; 1-3 of 0-3; 1 of -2..1
    assert same(out["yearly_ratio"], [1.2, 2.0, 2.0, NAN])
    assert math.isnan(out["yearly_mean_3"][3])  # days -2..0: before the series
    zero = OnlineFeatures(yearly, STORES, ITEMS, HOLIDAYS, empty_priors()).compute(
        history([0, 0, 0, 0, 3, 3, 3, 3, 3, 3]), targets(11))
    assert zero["yearly_base_4"][0] == 0.0 and math.isnan(zero["yearly_ratio"][0])
    assert "yearly_ratio" not in spec.names()  # optional: the base CONFIG has no yearly node


def test_promotion_share_and_planned_flag(online):
    h = history([1, 1, 1, 1], promo=["True", "False", None, "True"])  # text, as in train.csv
    out = online.compute(h, targets(5, 6, promo=[pd.NA, True]))
    assert out["onpromotion"].tolist() == [0, 1]  # the target's own, planned, flag; NA is none
    assert out["promo_share_3"][0] == pytest.approx(1 / 3)  # days 2..4: False, missing, True
    assert out["promo_share_3"][1] == pytest.approx(1 / 2)  # days 3..5: day 5 unknown


def test_no_history_leaves_history_features_missing(online):
    out = online.compute(no_history(), targets(5))
    for name in ("lag_1", "roll_mean_3", "roll_std_5", "promo_share_3"):
        assert math.isnan(out[name][0]), name
    assert out["dayofweek"][0] == 6  # the rest still comes: 2023-03-05 is a Sunday


def test_many_series_at_once_equal_one_at_a_time(online):
    rng = np.random.default_rng(3)
    parts, asks = [], []
    for store, item in [(1, 10), (1, 20), (2, 10), (3, 30)]:
        values = [None if rng.random() < 0.2 else float(rng.integers(0, 9)) for _ in range(20)]
        values[0] = 1.0
        parts.append(history(values, store, item, start=int(rng.integers(1, 5)),
                             promo=[bool(rng.random() < 0.3) for _ in values]))
        asks.append(targets(8, 15, 22, 26, store=store, item=item))
    together = online.compute(pd.concat(parts, ignore_index=True), pd.concat(asks, ignore_index=True))
    alone = pd.concat([online.compute(h, t) for h, t in zip(parts, asks, strict=True)], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)


def test_history_on_or_after_the_target_does_not_move_it(online):
    h = history([4, 0, 2, 9, 1, 3, 5, 8])
    later = h["date"] >= day(6)
    changed = h.assign(unit_sales=h["unit_sales"].where(~later, 100.0), onpromotion=later)
    pd.testing.assert_frame_equal(online.compute(h, targets(6)), online.compute(changed, targets(6)))


def test_calendar_columns(online):
    t = pd.DataFrame({"store_nbr": 1, "item_nbr": 10, "onpromotion": 0,
                      "date": pd.to_datetime(["2023-11-23", "2023-11-25", "2024-01-01", "2021-01-03"])})
    out = online.compute(no_history(), t)
    assert out["dayofweek"].tolist() == [3, 5, 0, 6]  # Thursday, Saturday, Monday, Sunday
    assert out["is_weekend"].tolist() == [0, 1, 0, 1]
    assert out["weekofyear"].tolist() == [47, 47, 1, 53]  # ISO: 2021-01-03 is in 2020's week 53
    assert out["year"].tolist() == [2023, 2023, 2024, 2021]
    assert out["month"].tolist() == [11, 11, 1, 1] and out["day"].tolist() == [23, 25, 1, 3]


def test_categorical_codes(online):
    t = pd.concat([targets(1, store=2, item=10), targets(1, store=3, item=30)])
    out = online.compute(no_history(), t)
    assert out["family_code"].tolist() == [2, 1]  # BEVERAGES=0, CLEANING=1, DAIRY=2
    assert out["store_type_code"].tolist() == [3, 1]  # D, B
    assert out["cluster"].tolist() == [5, 3]


HOLIDAY_CASES = [  # store, date, expected (Austin TX = 1, Boston MA = 2, Dallas TX = 3)
    (1, "2023-02-24", {"days_to_holiday": 5, "hol_before": 0}),  # 6 days away: capped
    (1, "2023-02-28", {"days_to_holiday": 2, "hol_before": 1}),
    (1, "2023-03-02", {"hol_holiday": 1, "days_to_holiday": 0, "days_since_holiday": 0, "hol_before": 0}),
    (2, "2023-03-02", {"hol_holiday": 0, "days_to_holiday": 5, "days_since_holiday": 5}),  # not in MA
    (3, "2023-03-02", {"hol_holiday": 1}),  # Regional TX: every Texas store
    (1, "2023-03-03", {"days_since_holiday": 1, "hol_after": 1}),
    (1, "2023-03-04", {"days_since_holiday": 2, "hol_after": 0, "days_to_holiday": 5}),
    (1, "2023-03-10", {"hol_holiday": 1}),  # Local: Austin's city
    (3, "2023-03-10", {"hol_holiday": 0, "days_to_holiday": 5}),  # same state, other city
    (1, "2023-03-20", {"hol_holiday": 0}),  # transferred away
    (2, "2023-05-13", {"hol_additional": 1}), (1, "2023-05-13", {"hol_additional": 0}),
    (2, "2023-05-14", {"hol_event": 1, "hol_holiday": 0}),
    (1, "2023-05-15", {"hol_bridge": 1}), (3, "2023-05-20", {"hol_work_day": 1}),
    (2, "2023-12-25", {"hol_holiday": 0, "is_christmas": 1}),  # the day off moved; it is Christmas
    (2, "2023-12-26", {"hol_holiday": 1, "is_christmas": 0, "days_since_christmas": 1}),  # Transfer
    (1, "2023-12-24", {"hol_holiday": 1, "is_christmas": 0, "days_to_christmas": 1}),  # not national
    (2, "2023-12-22", {"days_to_holiday": 4, "hol_before": 0, "days_to_christmas": 3}),
    (2, "2023-12-27", {"days_since_holiday": 1, "days_since_christmas": 2, "days_to_christmas": 5}),
    (2, "2023-12-31", {"days_since_christmas": 5, "days_to_holiday": 5}),  # 6 days: capped
    (2, "2023-12-31", {"is_new_year": 0, "days_to_new_year": 5, "days_since_new_year": 5}),
    (1, "2030-06-01", {"hol_holiday": 0, "days_to_holiday": 5, "days_since_holiday": 5,
                       "is_christmas": 0, "days_to_christmas": 5}),  # beyond the table
    (1, "2001-06-01", {"days_to_holiday": 5, "days_since_christmas": 5}),  # before it
]


def test_holiday_features(online):
    t = pd.DataFrame({"store_nbr": [c[0] for c in HOLIDAY_CASES], "item_nbr": 10, "onpromotion": 0,
                      "date": pd.to_datetime([c[1] for c in HOLIDAY_CASES])})
    out = online.compute(no_history(), t)
    for i, (store, date, expected) in enumerate(HOLIDAY_CASES):
        got = {name: int(out[name][i]) for name in expected}
        assert got == expected, (store, date)


def test_holidays_read_from_csv_text(spec, tmp_path):
    HOLIDAYS.to_csv(tmp_path / "h.csv", index=False)
    text = pd.read_csv(tmp_path / "h.csv", dtype=str)  # transferred as "True"/"False"
    out = OnlineFeatures(spec, STORES, ITEMS, text, empty_priors()).compute(
        no_history(), pd.DataFrame({"store_nbr": [1, 1], "item_nbr": 10, "onpromotion": 0,
                                    "date": ["2023-12-25", "2023-12-26"]}))
    assert out["hol_holiday"].tolist() == [0, 1] and out["is_christmas"].tolist() == [1, 0]


def test_tx_mean_window(spec):
    tx = pd.DataFrame({"store_nbr": [1, 1, 1, 1, 99], "transactions": [10, 20, 40, 50, 7],
                       "date": [day(1), day(2), day(4), day(5), day(4)]})  # day 3 has no count
    online = OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, empty_priors(), transactions=tx)
    t = pd.concat([targets(6, 5, 8, 1, 12), targets(6, store=2)], ignore_index=True)
    out = online.compute(no_history(), t)
    # window [d-4, d-2]: day 6 -> days 2..4 (20, 40), day 5 -> 1..3, day 8 -> 4..6, then none
    assert same(out["tx_mean"], [30, 15, 45, NAN, NAN, NAN])
    without = OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, empty_priors()).compute(no_history(), t)
    assert without["tx_mean"].isna().all()


def test_priors_lookup(spec):
    priors = {"store": pd.DataFrame({"store_nbr": [1], "prior_store": [1.5]}),
              "item": pd.DataFrame({"item_nbr": [10], "prior_item": [2.5]}),
              "family": pd.DataFrame({"family": ["DAIRY", "NOT SOLD HERE"], "prior_family": [3.5, 9.0]}),
              "cluster": pd.DataFrame({"cluster": [3], "prior_cluster": [4.5]}),
              "store_family": pd.DataFrame({"store_nbr": [1, 2], "family": ["DAIRY", "BEVERAGES"],
                                            "prior_store_family": [5.5, 6.5]})}
    online = OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, priors)
    t = pd.concat([targets(1, store=1, item=10), targets(1, store=2, item=20),
                   targets(1, store=1, item=20)], ignore_index=True)
    out = online.compute(no_history(), t)
    assert same(out["prior_store"], [1.5, NAN, 1.5])  # store 2 is not in the table
    assert same(out["prior_item"], [2.5, NAN, NAN])
    assert same(out["prior_family"], [3.5, NAN, NAN])
    assert same(out["prior_cluster"], [4.5, NAN, 4.5])  # store 2 is cluster 5
    assert same(out["prior_store_family"], [5.5, 6.5, NAN])


def test_empty_targets(spec, online):
    out = online.compute(history([1, 2]), targets().iloc[:0])
    assert len(out) == 0 and list(out.columns)[3:] == [n for n in spec.names() if n not in KEYS]


def test_unknown_store_or_item_is_an_error(online):
    t = pd.concat([targets(5, store=7), targets(5, item=99), targets(5)], ignore_index=True)
    with pytest.raises(UserError, match=r"store_nbr \[7\].*stores.csv.*item_nbr \[99\].*items.csv"):
        online.compute(history([1, 2]), t)


@pytest.mark.parametrize("frame, column", [("history", "unit_sales"), ("history", "date"),
                                           ("targets", "onpromotion"), ("targets", "store_nbr")])
def test_missing_columns_are_named(online, frame, column):
    inputs = {"history": history([1, 2]), "targets": targets(3)}
    inputs[frame] = inputs[frame].drop(columns=column)
    with pytest.raises(UserError, match=rf"{frame} lacks column\(s\) \['{column}'\]"):
        online.compute(inputs["history"], inputs["targets"])


@pytest.mark.parametrize("table, column", [("stores", "state"), ("items", "family"),
                                           ("holidays", "transferred"), ("transactions", "date")])
def test_missing_columns_of_static_tables(spec, table, column):
    tables = {"stores": STORES, "items": ITEMS, "holidays": HOLIDAYS,
              "transactions": pd.DataFrame({"store_nbr": [1], "date": [day(1)], "transactions": [5]})}
    tables[table] = tables[table].drop(columns=column)
    with pytest.raises(UserError, match=rf"{table} lacks column\(s\) \['{column}'\]"):
        OnlineFeatures(spec, tables["stores"], tables["items"], tables["holidays"], empty_priors(),
                       tables["transactions"])


def test_priors_table_missing_or_incomplete(spec):
    priors = empty_priors()
    del priors["cluster"]
    with pytest.raises(UserError, match="no table for level 'cluster'.*priors_cluster.parquet"):
        OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, priors)
    priors = empty_priors() | {"store_family": pd.DataFrame({"store_nbr": [1], "prior_store_family": [1.0]})}
    with pytest.raises(UserError, match=r"priors\['store_family'\] lacks column\(s\) \['family'\]"):
        OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, priors)
    priors = empty_priors() | {"store": pd.DataFrame({"store_nbr": [1, 1], "prior_store": [1.0, 2.0]})}
    with pytest.raises(UserError, match="repeated row"):
        OnlineFeatures(spec, STORES, ITEMS, HOLIDAYS, priors)


def test_a_target_before_its_series_history_is_an_error(online):
    with pytest.raises(UserError, match=r"1 row\(s\) lie before their series' first history row.*2023-03-02"):
        online.compute(history([1, 2, 3], start=3), targets(2, 6))


def test_repeated_history_days_are_an_error(online):
    h = pd.concat([history([1, 2, 3]), history([5], start=2)], ignore_index=True)
    with pytest.raises(UserError, match=r"history: 1 repeated row.*item_nbr 10 on 2023-03-02"):
        online.compute(h, targets(5))


def test_unreadable_values_are_errors(online):
    with pytest.raises(UserError, match=r"history.unit_sales: 1 row\(s\) are empty"):
        online.compute(history([1, NAN, 3]), targets(5))
    with pytest.raises(UserError, match="targets.date: cannot read the dates"):
        online.compute(history([1]), targets(5).assign(date="not a date"))
    with pytest.raises(UserError, match=r"history.onpromotion: 1 row\(s\) are not True/False"):
        online.compute(history([1, 2], promo=["True", "maybe"]), targets(5))
    with pytest.raises(UserError, match=r"targets.store_nbr: 1 row\(s\) are empty"):
        online.compute(history([1]), targets(5, 6).assign(store_nbr=[1, None]))


def test_repeated_store_is_an_error(spec):
    with pytest.raises(UserError, match=r"stores: 1 repeated row.*store_nbr 1"):
        OnlineFeatures(spec, pd.concat([STORES, STORES.iloc[:1]]), ITEMS, HOLIDAYS, empty_priors())
