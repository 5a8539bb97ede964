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


def test_returns_do_not_break_rmsle_and_undefined_metrics_are_none_not_nan():
    assert math.isfinite(metrics.scores([-2, 3], [0, 3])["rmsle"])
    empty = metrics.scores([], [])
    assert empty == {"rmse": None, "mae": None, "wape": None, "rmsle": None, "bias": None, "n": 0}
    closed = metrics.scores([0, 0], [1.5, 0.5])  # a day every store was closed
    assert closed["wape"] is None and closed["bias"] is None and closed["mae"] == 1.0
    assert metrics.coverage([], [], []) is None


def test_wape_by_group_and_coverage():
    frame = pd.DataFrame({"h": [1, 1, 2, 2, 3], "actual": [2, 2, 4, 0, 0], "f": [1, 3, 4, 4, 2]})
    assert metrics.wape_by(frame, "h", "f") == {1: pytest.approx(0.5), 2: pytest.approx(1.0), 3: None}
    assert metrics.coverage([1, 2, 3, 4], [0, 2.5, 0, 5], [2, 3, 3, 6]) == 0.5


def test_every_undefined_metric_gets_a_reason():
    tree = {"test": {"model": {"wape": None, "rmse": 1.0}, "ratios": {"wape_model_to_oracle": None},
                     "wape_by_horizon": {"model": {"25": None, "1": 0.4}}, "coverage": {"0.80": None}},
            "backtest": {"folds": [{"model": {"bias": None}}]}}
    reasons = metrics.undefined(tree)
    assert set(reasons) == {"test.model.wape", "test.ratios.wape_model_to_oracle",
                            "test.wape_by_horizon.model.25", "test.coverage.0.80",
                            "backtest.folds[0].model.bias"}
    assert reasons["test.wape_by_horizon.model.25"] == metrics.ZERO_SALES
    assert reasons["test.ratios.wape_model_to_oracle"] == metrics.NO_RATIO
    assert reasons["test.coverage.0.80"] == metrics.NO_CELLS
    assert metrics.ratio(1.0, None) is None and metrics.ratio(1.0, 0.0) is None
    assert metrics.mean([None, 1.0, 3.0]) == 2.0 and metrics.mean([None]) is None
