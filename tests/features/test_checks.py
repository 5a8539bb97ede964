"""The features stage's warnings: named holidays the calendar lacks, constant features (the
same inputs giving the same bytes: tests/stages/test_features.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from demandcast.features import checks, feature_spec, spark_engine
from tests.features.test_spark_engine import raw_frames, sales

D = dt.date
SPANISH = [(D(2023, 1, 1), "Holiday", "National", "Ecuador", "Primer dia del ano", False),
           (D(2023, 2, 20), "Holiday", "National", "Ecuador", "Carnaval", False),
           (D(2023, 12, 25), "Holiday", "National", "Ecuador", "Navidad", False)]


@pytest.fixture(scope="module")
def spec(tiny_cfg):
    return feature_spec.from_config(tiny_cfg.features)


def built(raw, spec, train_end):
    """The feature table computed once, as the stage reads it back from its files: each report
    below runs several queries on it, which would otherwise each recompute the whole plan."""
    table, _ = spark_engine.build(raw, spec, train_end, "2023-01-01", "2023-02-09")
    return table.localCheckpoint()


def test_a_spanish_calendar_with_english_names_warns_for_each_named_holiday(spark, spec):
    raw = raw_frames(spark, sales(1, 10, D(2023, 1, 1), list(range(1, 41))), SPANISH)
    table = built(raw, spec, "2023-01-20")
    report = checks.report(table, raw["holidays_events.csv"], spec, "2023-01-20", "data/holidays_events.csv")
    assert report["holidays"]["named_missing"] == dict(spec.named)  # all five US names
    constant = report["constant_features"]
    for name in spec.named:
        assert constant[f"is_{name}"] == 0.0 and constant[f"days_to_{name}"] == spec.cap_days
    assert "lag_1" not in constant and "unit_sales" not in constant
    text = "\n".join(report["warnings"])
    assert "named holiday 'christmas' ('Christmas Day') never occurs in the calendar" in text
    assert "set data.holidays.named" in text and "constant over the training window" in text

    spanish = replace(spec, named={"new_year": "Primer dia del ano", "carnaval": "Carnaval"})
    table = built(raw, spanish, "2023-01-20")
    report = checks.report(table, raw["holidays_events.csv"], spanish, "2023-01-20", "file")
    assert report["holidays"]["named_missing"] == {}
    assert "is_new_year" not in report["constant_features"]  # New Year's Day is in the window


def test_yearly_features_on_too_few_training_rows_are_named(spark, spec):
    """A small yearly config (base = days d-10..d-7): the base exists from the series' 8th day."""
    yearly = replace(spec, yearly=(6, 3, 4))
    raw = raw_frames(spark, sales(1, 10, D(2023, 1, 1), list(range(1, 41))))
    table = built(raw, yearly, "2023-01-20")
    holidays = raw["holidays_events.csv"]
    enough = checks.report(table, holidays, yearly, "2023-01-20", "file")  # days 8-20 of 20
    assert enough["yearly_share"] == pytest.approx(13 / 20)
    assert not any("features.yearly" in w for w in enough["warnings"])
    few = checks.report(table, holidays, yearly, "2023-01-10", "file")  # days 8-10 of 10
    assert few["yearly_share"] == pytest.approx(3 / 10) and 3 / 10 < checks.YEARLY_MIN_SHARE
    assert any("only 30% of the training window's rows (to 2023-01-10) have last year's sales" in w
               and "features.yearly=null" in w for w in few["warnings"])
    without = checks.report(table, holidays, replace(spec, yearly=None), "2023-01-10", "file")
    assert without["yearly_share"] is None
