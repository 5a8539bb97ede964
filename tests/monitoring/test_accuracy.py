"""Live accuracy: served forecasts joined to the sales that came later, zeros for days the
export omits, nothing scored past its last day; WAPE, bias, buckets, coverage."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from demandcast.errors import UserError
from demandcast.monitoring import accuracy

BUCKETS = {"1-7": [1, 7], "8-14": [8, 14], "15-28": [15, 28]}
BACKTEST = {"wape": 0.5, "coverage": {"0.8": 0.81, "0.95": 0.95}}


def cells(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_actuals_are_read_for_the_served_days_and_the_last_day_known(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("id,date,store_nbr,item_nbr,unit_sales,onpromotion\n"
                    "0,2024-01-01,1,10,3.0,\n1,2024-01-02,1,10,2.5,True\n2,2024-01-05,2,20,-1.0,False\n"
                    "3,2024-01-09,1,10,7.0,False\n")
    sales, last = accuracy.read_actuals(path, dt.date(2024, 1, 2), dt.date(2024, 1, 5))
    assert last == dt.date(2024, 1, 9)
    assert sales["unit_sales"].tolist() == [2.5, -1.0]
    assert sales["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-02", "2024-01-05"]

    with pytest.raises(UserError, match="is missing: monitor.actuals"):
        accuracy.read_actuals(tmp_path / "absent.csv", dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    broken = tmp_path / "broken.csv"
    broken.write_text("date,store,sales\n2024-01-01,1,2\n")
    with pytest.raises(UserError, match="broken.csv is not a train.csv with columns date, store_nbr"):
        accuracy.read_actuals(broken, dt.date(2024, 1, 1), dt.date(2024, 1, 2))


def test_a_day_without_a_row_sold_nothing_and_a_day_after_the_export_is_unknown():
    served = cells(store_nbr=[1, 1, 1, 2], item_nbr=[10, 10, 10, 20],
                   date=["2024-01-02", "2024-01-03", "2024-01-10", "2024-01-02"])
    sales = cells(store_nbr=[1, 2], item_nbr=[10, 20], date=["2024-01-02", "2024-01-02"],
                  unit_sales=[4.0, 1.5])
    actual = accuracy.match(served, sales, dt.date(2024, 1, 9))
    assert actual[:2].tolist() == [4.0, 0.0] and np.isnan(actual[2]) and actual[3] == 1.5
    assert np.isnan(accuracy.match(served, sales, None)).all()  # an export with no rows at all


def test_wape_bias_buckets_and_coverage():
    horizon = np.array([1, 2, 8, 15, 30])
    served = cells(store_nbr=[1] * 5, item_nbr=[10] * 5, date=["2024-01-02"] * 5, horizon=horizon,
                   forecast=[2.0, 2.0, 4.0, 1.0, 9.0], **{"lower_0.8": [1.0, 3.0, 0.0, 0.0, 0.0],
                                                         "upper_0.8": [3.0, 4.0, 5.0, 0.5, 9.0],
                                                         "lower_0.95": [0.0] * 5, "upper_0.95": [9.0] * 5})
    actual = np.array([2.0, 2.0, 2.0, 1.0, np.nan])
    live = accuracy.live(served, actual, BUCKETS, BACKTEST)
    assert (live["predictions"], live["matched"]) == (5, 4)
    assert live["wape"] == pytest.approx(2.0 / 7.0) and live["bias"] == pytest.approx(2.0 / 7.0)
    assert live["by_horizon"]["1-7"] == {"wape": 0.0, "bias": 0.0, "n": 2}
    assert live["by_horizon"]["8-14"] == {"wape": 1.0, "bias": 1.0, "n": 1}
    assert live["by_horizon"]["15-28"]["n"] == 1
    assert live["coverage"] == {"0.8": 0.5, "0.95": 1.0}  # 2.0 in [1, 3] and [0, 5]; not in [3, 4], [0, 0.5]
    assert live["backtest"] == BACKTEST

    nothing_sold = accuracy.live(served, np.array([0.0, 0.0, np.nan, np.nan, np.nan]), BUCKETS, BACKTEST)
    assert nothing_sold["wape"] is None and nothing_sold["by_horizon"]["8-14"] == {"wape": None, "bias": None,
                                                                                    "n": 0}
    json.dumps(nothing_sold, allow_nan=False)  # undefined figures are null, never NaN


def test_backtest_figures_come_from_evaluation_json(tmp_path):
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps({"test": {"coverage": {"0.80": 0.79, "0.95": 0.94}},
                                "backtest": {"mean": {"model": {"wape": 0.49}}}}))
    assert accuracy.backtest(path) == {"wape": 0.49, "coverage": {"0.8": 0.79, "0.95": 0.94}}
    with pytest.raises(UserError, match="dvc repro evaluate"):
        accuracy.backtest(tmp_path / "absent.json")
