"""The Spark feature ETL: inline-frame unit tests, the no-peeking proof, and bad input."""

import datetime as dt
import math

import pandas as pd
import pytest
from omegaconf import OmegaConf

from demandcast.errors import UserError
from demandcast.features import etl, feature_spec, spark_engine
from demandcast.features.spark_engine import SCHEMAS

D = dt.date


@pytest.fixture(scope="module")
def spec(tiny_cfg):
    return feature_spec.from_config(tiny_cfg.features)


def frame(spark, name, rows):
    return spark.createDataFrame(rows, SCHEMAS[name])


def raw_frames(spark, train_rows, holidays=(), transactions=()):
    return {
        "train.csv": frame(spark, "train.csv", train_rows),
        "stores.csv": frame(spark, "stores.csv", [(1, "Austin", "TX", "A", 3),
                                                  (2, "Boston", "MA", "D", 5)]),
        "items.csv": frame(spark, "items.csv", [(10, "DAIRY", 1, 1), (20, "BEVERAGES", 2, 0)]),
        "holidays_events.csv": frame(spark, "holidays_events.csv", list(holidays)),
        "transactions.csv": frame(spark, "transactions.csv", list(transactions)),
    }


def sales(store, item, start, values, promo=None):
    promo = promo or [False] * len(values)
    return [(0, start + dt.timedelta(days=i), store, item, float(v), p)
            for i, (v, p) in enumerate(zip(values, promo, strict=True)) if v is not None]


def test_panel_fills_gaps_with_zero_days(spark):
    rows = sales(1, 10, D(2023, 1, 1), [3, None, None, 5], [True, False, False, None])
    out = spark_engine.panel(frame(spark, "train.csv", rows)).orderBy("date").toPandas()
    assert out["unit_sales"].tolist() == [3.0, 0.0, 0.0, 5.0]
    assert out["onpromotion"].tolist() == [1, 0, 0, 0]  # an unrecorded promotion counts as none


def test_panel_spans_each_series_alone(spark):
    """Each series runs from its own first to its own last sale; a gap never borrows the
    next series' sale or a sale's promotion."""
    rows = (sales(1, 10, D(2023, 1, 1), [2, None, None, None, None, 1], [True] + [False] * 5)
            + sales(1, 20, D(2023, 1, 3), [7, None, 4]) + sales(2, 10, D(2023, 1, 5), [9]))
    out = spark_engine.panel(frame(spark, "train.csv", rows)).toPandas()
    by_series = {key: part.sort_values("date") for key, part in out.groupby(["store_nbr", "item_nbr"])}
    assert {key: part["date"].tolist() for key, part in by_series.items()} == {
        (1, 10): [D(2023, 1, d) for d in range(1, 7)], (1, 20): [D(2023, 1, d) for d in (3, 4, 5)],
        (2, 10): [D(2023, 1, 5)]}
    assert by_series[(1, 10)]["unit_sales"].tolist() == [2.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert by_series[(1, 10)]["onpromotion"].tolist() == [1, 0, 0, 0, 0, 0]
    assert by_series[(1, 20)]["unit_sales"].tolist() == [7.0, 0.0, 4.0]


def test_the_promotion_plan_promotes_days_without_sales(spark):
    """train.csv cannot say a day without sales was promoted; the plan (test.csv) can."""
    rows = sales(1, 10, D(2023, 1, 1), [3, None, None, 5], [True, False, False, None])
    plan = spark.createDataFrame([(0, D(2023, 1, 2), 1, 10, True), (1, D(2023, 1, 3), 1, 10, False),
                                  (2, D(2023, 1, 9), 1, 10, True)], SCHEMAS["test.csv"])
    out = spark_engine.panel(frame(spark, "train.csv", rows), plan).orderBy("date").toPandas()
    assert out["unit_sales"].tolist() == [3.0, 0.0, 0.0, 5.0]
    assert out["onpromotion"].tolist() == [1, 1, 0, 0]  # day 2: planned, unsold; day 9: outside the panel


def test_calendar_columns(spark):
    df = spark.createDataFrame([(D(2023, 11, 23),), (D(2023, 11, 25),), (D(2024, 1, 1),)], "date DATE")
    out = spark_engine.calendar(df).orderBy("date").toPandas()
    assert out["dayofweek"].tolist() == [3, 5, 0]  # Thursday, Saturday, Monday
    assert out["is_weekend"].tolist() == [0, 1, 0]
    assert out["weekofyear"].tolist() == [47, 47, 1]


def test_lags_and_rolling_use_past_days_only(spark, spec):
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    df = spark_engine.panel(frame(spark, "train.csv", sales(1, 10, D(2023, 3, 1), values)))
    out = spark_engine.rolling(df, spec).orderBy("date").toPandas()
    assert math.isnan(out["lag_1"][0]) and out["lag_1"][1:].tolist() == values[:-1]
    assert out["lag_7"][7] == 1.0
    assert math.isnan(out["roll_mean_7"][0])  # no past day yet
    assert out["roll_mean_7"][1] == 1.0 and math.isnan(out["roll_std_7"][1])  # std needs two
    assert out["roll_mean_7"][9] == pytest.approx(sum(values[2:9]) / 7)
    assert out["roll_std_7"][9] == pytest.approx(pd.Series(values[2:9]).std())


def test_yearly_features_equal_the_hand_computed_ones(spark, tiny_cfg):
    """The running-sum differences give the online engine's hand-checked values
    (tests/features/test_online.py): week = days d-7..d-5, base = d-10..d-7."""
    spec = feature_spec.from_config(OmegaConf.merge(tiny_cfg.features,
                                                    {"yearly": {"lag": 6, "week": 3, "base": 4}}))
    df = spark_engine.panel(frame(spark, "train.csv", sales(1, 10, D(2023, 3, 1), list(range(1, 22)))))
    out = spark_engine.rolling(df, spec).orderBy("date").toPandas()  # row i is day i + 1, value i + 1
    got = out.loc[[20, 9, 7, 4], ["yearly_mean_3", "yearly_base_4", "yearly_ratio"]]
    assert got.iloc[:3, 0].tolist() == [15.0, 4.0, 2.0]
    assert got.iloc[:3, 1].tolist() == [12.5, 2.0, 1.0] and got.iloc[:3, 2].tolist() == [1.2, 2.0, 2.0]
    assert got.iloc[3].isna().all()  # day 5: days -2..0 and -5..-2 are before the series


def test_holidays_follow_locale_and_transfers(spark, spec):
    holidays = [
        (D(2023, 7, 4), "Holiday", "National", "United States", "Independence Day", False),
        (D(2023, 3, 2), "Holiday", "Regional", "TX", "Texas Independence Day", False),
        (D(2023, 12, 25), "Holiday", "National", "United States", "Christmas Day", True),
        (D(2023, 12, 26), "Transfer", "National", "United States", "Christmas Day", False),
    ]
    raw = raw_frames(spark, [], holidays)
    out = spark_engine.holiday_features(raw["holidays_events.csv"], raw["stores.csv"],
                                          "2023-01-01", "2023-12-31", spec).toPandas()
    day = out.set_index(["store_nbr", "date"])
    assert day.loc[(1, D(2023, 3, 2)), "hol_holiday"] == 1  # Texas store
    assert day.loc[(2, D(2023, 3, 2)), "hol_holiday"] == 0  # Massachusetts store
    assert day.loc[(1, D(2023, 12, 25)), "hol_holiday"] == 0  # transferred away...
    assert day.loc[(1, D(2023, 12, 26)), "hol_holiday"] == 1  # ...to the 26th
    assert day.loc[(1, D(2023, 12, 25)), "is_christmas"] == 1  # but it is still Christmas
    assert day.loc[(2, D(2023, 7, 2)), "days_to_holiday"] == 2
    assert day.loc[(2, D(2023, 7, 2)), "hol_before"] == 1
    assert day.loc[(2, D(2023, 7, 5)), "days_since_holiday"] == 1
    assert day.loc[(2, D(2023, 7, 5)), "hol_after"] == 1
    assert day.loc[(2, D(2023, 5, 1)), "days_to_holiday"] == spec.cap_days


def test_priors_see_the_training_window_only(spark, spec):
    rows = sales(1, 10, D(2023, 1, 1), [2] * 10 + [100] * 10)
    df = spark_engine.panel(frame(spark, "train.csv", rows)).withColumn("family", pd_lit("DAIRY"))
    df = df.join(frame(spark, "stores.csv", [(1, "Austin", "TX", "A", 3)]).select("store_nbr", "cluster"),
                 "store_nbr")
    tables = spark_engine.priors(df, "2023-01-10", spec)
    assert tables["store"].first()["prior_store"] == 2.0


def pd_lit(value):
    from pyspark.sql import functions as F

    return F.lit(value)


def test_stage_writes_features_and_manifest(tiny_features, spec):
    out, manifest = tiny_features
    table = pd.read_parquet(out)
    assert manifest["spec_hash"] == spec.hash()
    assert [f["name"] for f in manifest["features"]] == spec.names()
    assert set(spec.names()) <= set(table.columns)
    assert (out / "_meta" / "priors_store_family.parquet").exists()
    assert not table.duplicated(["store_nbr", "item_nbr", "date"]).any()


def _perturbed_copy(src, dst, cut):
    dst.mkdir()
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    train = pd.read_csv(src / "train.csv", dtype={"onpromotion": "object"})
    late = train["date"] >= cut
    train.loc[late, "unit_sales"] = train.loc[late, "unit_sales"].abs() * 3 + 1
    train.loc[late, "onpromotion"] = "True"
    train.to_csv(dst / "train.csv", index=False)
    tx = pd.read_csv(src / "transactions.csv")
    tx.loc[tx["date"] >= cut, "transactions"] *= 5
    tx.to_csv(dst / "transactions.csv", index=False)


@pytest.mark.slow
def test_values_after_the_training_window_move_no_earlier_feature_and_no_prior(spark, tiny_cfg, tiny_data,
                                                                              tiny_features, tmp_path):
    """Perturb every target, promotion and transaction count from the day after the training
    window on: every feature of the earlier rows (priors included) and every prior table stay
    the same. One perturbed ETL run checks both leaks (two runs cost 25 s of the suite)."""
    out, manifest = tiny_features
    cut = (pd.Timestamp(manifest["training_window_end"]) + pd.Timedelta(days=1)).date()
    _perturbed_copy(tiny_data, tmp_path / "raw", cut.isoformat())
    etl.run(spark, str(tmp_path / "raw"), str(tmp_path / "features"), tiny_cfg.data, tiny_cfg.features)
    keys = ["store_nbr", "item_nbr", "date"]
    before = pd.read_parquet(out).drop(columns="part_month").sort_values(keys).reset_index(drop=True)
    after = pd.read_parquet(tmp_path / "features").drop(columns="part_month").sort_values(keys)
    after = after.reset_index(drop=True)
    past = before["date"] < cut
    assert past.sum() > 0.8 * len(before)  # most of the table is before the cut: a real check
    pd.testing.assert_frame_equal(before.loc[past], after.loc[past])
    assert not before.loc[~past, "unit_sales"].equals(after.loc[~past, "unit_sales"])
    for prior in sorted((out / "_meta").glob("priors_*.parquet")):
        a, b = (pd.read_parquet(root / "_meta" / prior.name) for root in (out, tmp_path / "features"))
        keys = [c for c in a.columns if not c.startswith("prior_")]
        pd.testing.assert_frame_equal(a.sort_values(keys).reset_index(drop=True),
                                      b.sort_values(keys).reset_index(drop=True))


def test_single_day_series_and_store_without_sales(spark, spec):
    rows = sales(1, 10, D(2023, 1, 1), list(range(1, 41))) + sales(1, 20, D(2023, 2, 9), [4])
    raw = raw_frames(spark, rows)  # store 2 has no sales at all
    table, _ = spark_engine.build(raw, spec, "2023-01-20", "2023-01-01", "2023-02-09")
    out = table.toPandas()
    assert set(out["store_nbr"]) == {1}  # a store with no sales has no series
    single = out[out["item_nbr"] == 20]
    assert len(single) == 1 and math.isnan(single["lag_1"].iloc[0])
    assert single["prior_item"].isna().all()  # first seen after the training window


@pytest.mark.parametrize(
    ("rows", "override", "message"),
    [([], {}, "no rows"),
     (sales(1, 10, D(2023, 1, 1), [1] * 40),
      {"lags": [1, 60], "split": {"test_days": 5, "valid_days": 5}}, "longer than the history"),
     (sales(1, 10, D(2023, 1, 1), [1] * 40), {"split": {"test_days": 28, "valid_days": 28}},
      "training window is empty")],
)
def test_bad_input_gets_a_clear_message(spark, tiny_cfg, rows, override, message):
    spec = feature_spec.from_config(OmegaConf.merge(tiny_cfg.features, override))
    data = OmegaConf.create({"end": "2023-02-09"})
    with pytest.raises(UserError, match=message):
        etl.check_inputs(raw_frames(spark, rows), spec, data)


def test_bad_spec_is_named(tiny_cfg):
    with pytest.raises(UserError, match="at least 1 day"):
        feature_spec.from_config(OmegaConf.merge(tiny_cfg.features, {"lags": [0, 7]}))
    with pytest.raises(UserError, match="below cap_days"):
        feature_spec.from_config(OmegaConf.merge(tiny_cfg.features, {"holidays": {"before_days": 30}}))
    with pytest.raises(UserError, match="unknown level"):
        feature_spec.from_config(OmegaConf.merge(tiny_cfg.features, {"priors": ["region"]}))
    with pytest.raises(UserError, match="must end before the row's day"):
        feature_spec.from_config(OmegaConf.merge(tiny_cfg.features, {"yearly": {"lag": 3, "week": 7}}))


def test_the_writer_skips_dictionaries_for_window_statistics_only(spark, spec, tmp_path):
    """Dictionaries are off for the window statistics (nearly all distinct) and on for the
    rest, and the values read back equal a plain write's."""
    import pyarrow.parquet as pq

    rows = (sales(1, 10, D(2023, 1, 1), [3, 0, 5, 2, 0, 7, 1, 4] * 5)
            + sales(2, 20, D(2023, 1, 1), [1, 2] * 20))
    table = spark_engine.rolling(spark_engine.panel(frame(spark, "train.csv", rows)), spec).coalesce(1)
    spark_engine.parquet_writer(table, spec).mode("overwrite").parquet(str(tmp_path / "tuned"))
    table.write.mode("overwrite").parquet(str(tmp_path / "plain"))

    skipped = set(spark_engine.window_statistics(spec))
    assert {f"roll_mean_{spec.windows[0]}", f"promo_share_{spec.promo_windows[0]}"} <= skipped
    assert not skipped & {"store_nbr", "item_nbr", "date", spec.target, f"lag_{spec.lags[0]}"}
    (part,) = (tmp_path / "tuned").glob("part-*.parquet")
    group = pq.ParquetFile(part).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    dictionary = {name for name, used in encodings.items() if any("DICTIONARY" in e for e in used)}
    written = skipped & set(encodings)
    assert written and not written & dictionary
    assert {"store_nbr", "item_nbr", spec.target} <= dictionary
    sort = ["store_nbr", "item_nbr", "date"]
    tuned = pd.read_parquet(tmp_path / "tuned").sort_values(sort, ignore_index=True)
    plain = pd.read_parquet(tmp_path / "plain").sort_values(sort, ignore_index=True)
    pd.testing.assert_frame_equal(tuned, plain)
