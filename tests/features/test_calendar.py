"""The per-day lookups of the online features: the numpy calendar against pandas' own."""

import numpy as np
import pandas as pd

from demandcast.features.calendar import calendar_columns


def test_calendar_columns_equal_pandas_over_centuries():
    """Every day from 1696 to 2243 (pandas' nanosecond range), leap years and ISO week 53s
    included: the date arithmetic in numpy gives pandas' calendar exactly."""
    day = np.arange(-100_000, 100_000)
    dates = pd.DatetimeIndex(day.astype("datetime64[D]").astype("datetime64[ns]"))
    expected = {"year": dates.year, "month": dates.month, "day": dates.day, "dayofweek": dates.dayofweek,
                "weekofyear": dates.isocalendar()["week"], "is_weekend": dates.dayofweek >= 5}
    got = calendar_columns(day)
    for name, values in expected.items():
        assert got[name].dtype == np.int64, name
        np.testing.assert_array_equal(got[name], np.asarray(values, dtype=np.int64), err_msg=name)


def test_calendar_columns_of_a_few_known_days():
    day = pd.to_datetime(["2020-12-31", "2021-01-03", "2021-01-04", "2024-02-29"]).to_numpy()
    got = calendar_columns(day.astype("datetime64[D]").astype(np.int64))
    assert got["weekofyear"].tolist() == [53, 53, 1, 9]
    assert got["dayofweek"].tolist() == [3, 6, 0, 3] and got["is_weekend"].tolist() == [0, 1, 0, 0]
    assert got["month"].tolist() == [12, 1, 1, 2] and got["day"].tolist() == [31, 3, 4, 29]
