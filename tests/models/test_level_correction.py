"""The level factor: the median over a window's days of the day's sales over its forecasts."""

import numpy as np
import pandas as pd
import pytest

from demandcast.models import level_correction


def window(actual, forecast, per_day: int = 2) -> pd.DataFrame:
    days = np.repeat(pd.date_range("2024-01-01", periods=len(actual) // per_day), per_day)
    return pd.DataFrame({"date": days, "actual": actual, "forecast": forecast})


def test_the_factor_is_the_median_days_sales_over_its_forecasts():
    # days: 9/10, 12/10, 8/10 -> median 0.9; the total (29/30) would say 0.967
    cells = window([4.0, 5.0, 7.0, 5.0, -1.0, 9.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    assert level_correction.factor(cells) == pytest.approx(0.9)


def test_one_day_far_off_does_not_set_the_level():
    # a holiday the model under-forecast by half: the total moves, the median does not
    ordinary = [10.0] * 20
    cells = window([*ordinary, 20.0, 20.0], [10.0] * 22)
    assert level_correction.factor(cells) == pytest.approx(1.0)


def test_days_without_sales_are_left_out_and_the_column_can_be_named():
    cells = window([0.0, 0.0, 6.0, 6.0], [1.0, 1.0, 5.0, 5.0]).rename(columns={"forecast": "model"})
    assert level_correction.factor(cells, "model") == pytest.approx(1.2)


@pytest.mark.parametrize("actual, forecast, want", [([100.0, 100.0], [10.0, 10.0], 1.25),
                                                    ([1.0, 1.0], [10.0, 10.0], 0.8),
                                                    ([5.0, 1.0], [0.0, 0.0], 1.0), ([], [], 1.0)])
def test_a_window_far_off_or_without_forecasts_is_bounded(actual, forecast, want):
    assert level_correction.factor(window(actual, forecast)) == want
