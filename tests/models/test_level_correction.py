"""The level factor: a window's sales over its forecasts, bounded."""

import numpy as np
import pytest

from demandcast.models import level_correction


def test_the_factor_is_the_windows_sales_over_its_forecasts():
    assert level_correction.factor([3.0, 5.0, -1.0, 0.0], [4.0, 3.0, 0.5, 0.5]) == pytest.approx(7.0 / 8.0)
    assert level_correction.factor([2.0, np.nan], [1.0, 1.0]) == pytest.approx(1.0)  # NaN cells add nothing


@pytest.mark.parametrize("actual, forecast, want", [([100.0], [10.0], 1.25), ([1.0], [10.0], 0.8),
                                                    ([5.0, 1.0], [0.0, 0.0], 1.0), ([], [], 1.0)])
def test_a_window_far_off_or_without_forecasts_is_bounded(actual, forecast, want):
    assert level_correction.factor(actual, forecast) == want
