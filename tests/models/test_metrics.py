"""demandcast.models.metrics on hand-checked numbers."""

import math

import pandas as pd
import pytest

from demandcast.models import metrics


def test_scores_on_known_values():
    s = metrics.scores([10, 0, 5, 5], [8, 1, 5, 7])
    assert s["mae"] == pytest.approx(5 / 4)
    assert s["rmse"] == pytest.approx(math.sqrt((4 + 1 + 0 + 4) / 4))
    assert s["wape"] == pytest.approx(5 / 20)
    assert s["bias"] == pytest.approx(1 / 20)
    pairs = [(10, 8), (0, 1), (5, 5), (5, 7)]
    expected = math.sqrt(sum((math.log1p(f) - math.log1p(y)) ** 2 for y, f in pairs) / 4)
    assert s["rmsle"] == pytest.approx(expected)
    assert s["n"] == 4


def test_returns_do_not_break_rmsle_and_empty_input_is_nan():
    assert math.isfinite(metrics.scores([-2, 3], [0, 3])["rmsle"])
    assert math.isnan(metrics.scores([], [])["wape"])


def test_wape_by_group_and_coverage():
    frame = pd.DataFrame({"h": [1, 1, 2, 2], "actual": [2, 2, 4, 0], "f": [1, 3, 4, 4]})
    assert metrics.wape_by(frame, "h", "f") == {1: pytest.approx(0.5), 2: pytest.approx(1.0)}
    assert metrics.coverage([1, 2, 3, 4], [0, 2.5, 0, 5], [2, 3, 3, 6]) == 0.5
