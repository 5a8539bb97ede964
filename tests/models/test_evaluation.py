"""What evaluation scores: cells with and without ground truth, and promotions from the plan only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from demandcast.data import promotions
from demandcast.errors import UserError
from demandcast.models import dataset, evaluation, forecast, level_correction, scoring

KEYS = ["store_nbr", "item_nbr", "date"]


@pytest.fixture(scope="module")
def window(tiny_model, tiny_data):
    m = tiny_model
    truth = scoring.read_truth(tiny_data / "truth" / "expected_demand.parquet")
    plan = promotions.read_plan(tiny_data)
    cells, _ = evaluation.forecast_window(m.forecaster, m.online, m.table, truth, plan, m.spec,
                                          m.fold.origin, 28)
    return truth, plan, cells


def test_the_test_windows_promotions_come_from_the_plan_not_from_the_sales_rows(tiny_model, window):
    """The leak is gone: a promoted day without sales is in the plan and is forecast promoted."""
    m, (_, plan, cells) = tiny_model, window
    planned = cells[KEYS].merge(plan, on=KEYS, how="left", indicator=True)["_merge"] == "both"
    assert (cells["onpromotion"].to_numpy() == planned.to_numpy()).all()
    unsold = cells[(cells["onpromotion"] == 1) & (cells["actual"] == 0)]
    assert len(unsold) >= 5, "the plan should promote some days that sold nothing"

    history = dataset.between(m.table, None, m.fold.origin)
    series = unsold[["store_nbr", "item_nbr"]].drop_duplicates()
    with_plan = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 28,
                                   cells[[*KEYS, "onpromotion"]])
    used = unsold[KEYS].merge(with_plan[[*KEYS, "onpromotion", "forecast"]], on=KEYS)
    assert len(used) == len(unsold) and (used["onpromotion"] == 1).all()  # forecast with their promotion
    without = forecast.recursive(m.forecaster, m.online, history, series, m.fold.origin, 28, None)
    both = used.merge(without[[*KEYS, "forecast"]], on=KEYS, suffixes=("", "_none"))
    # and the promotion raises them: in all (the tiny model's uplift is about 1.4x) and on most
    # days (some slow movers' days barely move with the long windows' level behind them)
    assert both["forecast"].sum() > 1.2 * both["forecast_none"].sum()
    assert (both["forecast"] > both["forecast_none"]).mean() > 0.6


def test_without_a_plan_nothing_in_the_window_is_promoted(tiny_model, window):
    """The feature table still has promoted days in the test window (train.csv's flags): they
    must not reach the forecast."""
    m, (truth, _, _) = tiny_model, window
    day = pd.Timedelta(days=1)
    test = dataset.between(m.table, m.fold.origin + day, m.fold.origin + 28 * day)
    assert (test["onpromotion"] == 1).any()
    cells, _ = scoring.grid(m.table, truth, None, m.spec, m.fold.origin, 28)
    assert (cells["onpromotion"] == 0).all()


def test_without_truth_every_day_of_every_recent_series_is_scored_and_no_oracle(tiny_model, window):
    m, (_, plan, with_truth) = tiny_model, window
    cells, unscored = evaluation.forecast_window(m.forecaster, m.online, m.table, None, plan, m.spec,
                                                 m.fold.origin, 28)
    series = cells[["store_nbr", "item_nbr"]].drop_duplicates()
    assert len(cells) == 28 * len(series) and scoring.ORACLE not in cells
    assert scoring.methods(cells) == ("model", "seasonal_naive", "moving_average_28")
    # The truth's cells are a subset (its active days); where both score a cell they agree.
    same = with_truth.merge(cells, on=KEYS, suffixes=("", "_no_truth"))
    assert len(same) == len(with_truth)
    np.testing.assert_allclose(same["model"], same["model_no_truth"])
    summary = scoring.summarize(cells)
    assert "wape_model_to_oracle" not in summary["ratios"]
    assert summary["ratios"]["wape_model_to_best_baseline"] > 0
    assert unscored >= 0


def test_the_oracle_note_and_the_headline_without_truth(tiny_model, window):
    cells = window[2].drop(columns=scoring.ORACLE)
    note = evaluation.oracle_note(None, "data/truth/expected_demand.parquet")
    assert not note["included"] and "does not exist (real data has none)" in note["reason"]
    result = {"test": {**scoring.summarize(cells), "coverage": {"0.80": 0.8}},
              "backtest": {"mean": scoring.mean_of_folds([scoring.summarize(cells)])}}
    head = evaluation.headline(result)
    assert head["test"]["wape_oracle"] is None and head["test"]["wape_model_to_oracle"] is None
    assert head["test"]["wape"] > 0 and head["backtest"]["wape_oracle"] is None


def test_forecasting_a_chunk_of_series_at_a_time_changes_nothing(tiny_model, window):
    m, (truth, plan, cells) = tiny_model, window
    chunked, _ = evaluation.forecast_window(m.forecaster, m.online, m.table, truth, plan, m.spec,
                                            m.fold.origin, 28, series_chunk=7)
    assert len(cells[["store_nbr", "item_nbr"]].drop_duplicates()) > 7 * 3  # several chunks
    pd.testing.assert_frame_equal(chunked, cells)
    for bad in (0, 2.5, "ten"):
        with pytest.raises(UserError, match=rf"evaluate.series_chunk={bad!r}: a whole number of series"):
            evaluation.forecast_window(m.forecaster, m.online, m.table, truth, plan, m.spec,
                                       m.fold.origin, 28, series_chunk=bad)


def test_the_level_factor_is_the_validation_windows_sales_over_its_recursive_forecasts(tiny_model, tiny_data):
    m = tiny_model
    truth = scoring.read_truth(tiny_data / "truth" / "expected_demand.parquet")
    plan = promotions.read_plan(tiny_data)
    priors = dataset.read_priors(m.features, m.spec)
    origin = m.fold.valid_start - pd.Timedelta(days=1)
    online = dataset.online(m.static, m.spec, priors, known_until=origin)
    raw, _ = evaluation.forecast_window(m.forecaster, online, m.table, truth, plan, m.spec, origin,
                                        m.spec.valid_days)
    factor, calib = evaluation.calibrate(m.cfg, m.forecaster, m.static, m.spec, priors, m.table, truth, plan,
                                         m.fold, None)
    assert factor == level_correction.factor(raw, scoring.MODEL) and factor != 1.0  # of the unscaled ones
    assert calib["date"].min() == pd.Timestamp(m.fold.valid_start)
    assert calib["horizon"].max() == m.spec.valid_days
    np.testing.assert_allclose(calib[scoring.MODEL], raw[scoring.MODEL] * factor)
    off = OmegaConf.merge(m.cfg, {"evaluate": {"level_correction": False}})
    assert evaluation.calibrate(off, m.forecaster, m.static, m.spec, priors, m.table, truth, plan, m.fold,
                                None)[0] == 1.0
