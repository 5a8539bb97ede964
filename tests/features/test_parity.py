"""Train-serve parity: the online features equal the Spark ETL's, feature by feature.

Integers must match exactly, floats within 1e-6 relative, missing values in the same
places, on sampled series and dates and on each edge case by name.
"""

import numpy as np
import pandas as pd
import pytest

from demandcast.features import feature_spec
from demandcast.features.online import OnlineFeatures

KEYS = ["store_nbr", "item_nbr", "date"]
HISTORY = ["store_nbr", "item_nbr", "date", "unit_sales", "onpromotion"]


@pytest.fixture(scope="module")
def spark_table(tiny_features):
    out, _ = tiny_features
    table = pd.read_parquet(out).drop(columns="part_month")
    table["date"] = pd.to_datetime(table["date"])
    return table.sort_values(KEYS, ignore_index=True)


@pytest.fixture(scope="module")
def online(tiny_cfg, tiny_data, tiny_features):
    out, _ = tiny_features
    spec = feature_spec.from_config(tiny_cfg.features)
    priors = {level: pd.read_parquet(out / "_meta" / f"priors_{level}.parquet") for level in spec.priors}
    read = lambda name: pd.read_csv(tiny_data / name)  # noqa: E731
    return spec, OnlineFeatures(spec, read("stores.csv"), read("items.csv"),
                                read("holidays_events.csv"), priors, read("transactions.csv"))


def assert_same(spec, expected: pd.DataFrame, got: pd.DataFrame):
    expected = expected.sort_values(KEYS, ignore_index=True)
    got = got.sort_values(KEYS, ignore_index=True)
    pd.testing.assert_frame_equal(expected[KEYS], got[KEYS], check_dtype=False)
    for name, kind in spec.columns():
        a, b = expected[name].to_numpy(np.float64), got[name].to_numpy(np.float64)
        where = KEYS
        one_sided = np.isnan(a) != np.isnan(b)
        assert not one_sided.any(), f"{name}: missing in one engine only at {expected.loc[one_sided, where]}"
        ok = ~np.isnan(a)
        if kind == "int":
            assert (a[ok] == b[ok]).all(), f"{name} differs: {expected.loc[ok][a[ok] != b[ok]].head(3)}"
        else:
            close = np.isclose(b[ok], a[ok], rtol=1e-6, atol=1e-12)
            assert close.all(), f"{name} differs beyond 1e-6: {a[ok][~close][:3]} vs {b[ok][~close][:3]}"


def snapshot(table, targets, days):
    """Each target's series history over the `days` days before its date, from the panel."""
    merged = targets[["store_nbr", "item_nbr", "date"]].rename(columns={"date": "target"}).merge(
        table[HISTORY], on=["store_nbr", "item_nbr"])
    start = merged["target"] - pd.Timedelta(days=days)
    window = (merged["date"] < merged["target"]) & (merged["date"] >= start)
    return merged.loc[window, HISTORY].drop_duplicates(KEYS)


def compute_one_by_one_day(engine, table, targets, days):
    """Targets on different dates need their own history cut; group them by date."""
    parts = [engine.compute(snapshot(table, group, days), group[[*KEYS, "onpromotion"]])
             for _, group in targets.groupby("date")]
    return pd.concat(parts, ignore_index=True)


def raw_history(data_dir) -> pd.DataFrame:
    """The history as the raw files give it: train.csv's rows, and the days the promotion plan
    promotes within each series' span of sales (sold or not, as the panel holds them)."""
    from demandcast.data.promotions import read_plan

    train = pd.read_csv(data_dir / "train.csv", parse_dates=["date"])[HISTORY]
    train["onpromotion"] = train["onpromotion"].fillna(False).astype(int)
    plan = read_plan(data_dir)
    if plan is None or plan.empty:
        return train
    spans = train.groupby(["store_nbr", "item_nbr"])["date"].agg(["min", "max"]).reset_index()
    planned = plan.merge(spans, on=["store_nbr", "item_nbr"])
    planned = planned[(planned["date"] >= planned["min"]) & (planned["date"] <= planned["max"])]
    out = train.merge(planned[KEYS].assign(planned=1), on=KEYS, how="outer")
    out["unit_sales"] = out["unit_sales"].fillna(0.0)
    out["onpromotion"] = np.maximum(out["onpromotion"].fillna(0), out["planned"].fillna(0)).astype(int)
    return out[HISTORY]


def test_every_row_with_full_history(spark_table, online, tiny_data):
    """All rows, history straight from the raw files: gaps (omitted zero days) filled online."""
    spec, engine = online
    got = engine.compute(raw_history(tiny_data), spark_table[[*KEYS, "onpromotion"]])
    assert_same(spec, spark_table, got)


def edge_cases(table, spec) -> dict[str, pd.DataFrame]:
    firsts = table.groupby(["store_nbr", "item_nbr"])["date"].transform("min")
    age = (table["date"] - firsts).dt.days
    launched = firsts > table["date"].min()
    share = table[f"promo_share_{spec.promo_windows[0]}"]
    return {
        "less history than the longest window": table[(age > 0) & (age < spec.history_days)],
        "a new item": table[launched & (age < 10)],
        "the day after a holiday": table[table["days_since_holiday"] == 1],
        "promotion gaps": table[(share > 0) & (share < 1) & (table["onpromotion"] == 0)],
        "a series' very first day": table[age == 0],
    }


@pytest.mark.parametrize("case", ["less history than the longest window", "a new item",
                                  "the day after a holiday", "promotion gaps",
                                  "a series' very first day"])
def test_edge_cases_with_serving_snapshots(spark_table, online, case):
    """History cut to what a serving snapshot keeps: the longest lag/window."""
    spec, engine = online
    targets = edge_cases(spark_table, spec)[case]
    assert len(targets) > 0, f"the tiny data has no '{case}' row: the test would prove nothing"
    targets = targets.sample(min(len(targets), 200), random_state=0)
    assert_same(spec, targets, compute_one_by_one_day(engine, spark_table, targets, spec.history_days))


def test_a_missing_day_in_the_history(spark_table, online, tiny_data):
    """Zero days are absent from train.csv; the online engine must fill them as Spark does."""
    spec, engine = online
    train = pd.read_csv(tiny_data / "train.csv", parse_dates=["date"])
    present = spark_table.merge(train[KEYS], on=KEYS, how="left", indicator=True)["_merge"] == "both"
    zero_days = spark_table.loc[~present.to_numpy(), KEYS]
    assert len(zero_days) > 0
    # targets 3 days after a missing day whose eve has a sale: the gap lies inside the history
    # (days after a series' last known day are unknown to the online engine, by design)
    later = zero_days.assign(date=zero_days["date"] + pd.Timedelta(days=3)).merge(spark_table, on=KEYS)
    eve = later[KEYS].assign(date=later["date"] - pd.Timedelta(days=1))
    sold_on_eve = eve.merge(train[KEYS], on=KEYS, how="left", indicator=True)["_merge"] == "both"
    later = later[sold_on_eve.to_numpy()]
    targets = later.sample(min(len(later), 200), random_state=1)
    history = raw_history(tiny_data)
    got = pd.concat([engine.compute(history[history["date"] < day], group[[*KEYS, "onpromotion"]])
                     for day, group in targets.groupby("date")], ignore_index=True)
    assert_same(spec, targets, got)


def test_random_sample_with_serving_snapshots(spark_table, online):
    spec, engine = online
    targets = spark_table.sample(400, random_state=2)
    assert_same(spec, targets, compute_one_by_one_day(engine, spark_table, targets, spec.history_days))
