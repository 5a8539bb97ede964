"""demandcast.models.boosting: objectives, determinism, JSON round trip, clear errors."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from demandcast.errors import UserError
from demandcast.models import boosting


def cfg_with(base, **changes):
    merged = OmegaConf.merge(base, changes)
    return merged


def test_same_params_and_seed_give_the_same_model_bytes(tiny_model, tmp_path):
    m = tiny_model
    paths = []
    for run in ("a", "b"):
        booster = boosting.fit(m.train, m.valid, m.spec.names(), m.spec.target, m.cfg.model, seed=7)
        paths.append(boosting.Forecaster.from_fit(booster, m.spec.names(), m.cfg.model).save(tmp_path / run))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes().lstrip().startswith(b"{")  # XGBoost's JSON, not a pickle


def test_saved_model_predicts_the_same_after_loading(tiny_model, tmp_path):
    m = tiny_model
    m.forecaster.save(tmp_path / "model")
    loaded = boosting.Forecaster.load(tmp_path / "model")
    rows = m.valid.head(500)
    assert loaded.names == m.forecaster.names
    np.testing.assert_array_equal(loaded.predict(rows), m.forecaster.predict(rows))


@pytest.mark.parametrize("objective", sorted(boosting.OBJECTIVES))
def test_every_objective_fits_and_forecasts_sales_on_their_scale(tiny_model, objective):
    m = tiny_model
    model_cfg = cfg_with(m.cfg.model, objective=objective, num_boost_round=60)
    booster = boosting.fit(m.train, m.valid, m.spec.names(), m.spec.target, model_cfg, seed=1)
    pred = boosting.Forecaster.from_fit(booster, m.spec.names(), model_cfg).predict(m.valid)
    assert (pred >= 0).all()
    actual = m.valid[m.spec.target].clip(lower=0)
    assert 0.5 < pred.sum() / actual.sum() < 2.0  # sales units, not log units


def test_returns_are_zero_demand_in_the_label(tiny_model):
    y = np.array([-3.0, 0.0, 2.0])
    assert boosting.label(y, tiny_model.cfg.model).tolist() == [0.0, 0.0, 2.0]
    log_cfg = cfg_with(tiny_model.cfg.model, objective="log1p")
    np.testing.assert_allclose(boosting.label(y, log_cfg), np.log1p([0.0, 0.0, 2.0]))


def test_unknown_objective_is_named(tiny_model):
    with pytest.raises(UserError, match="model.objective='quantile' is not one of"):
        boosting.objective(cfg_with(tiny_model.cfg.model, objective="quantile"))


def test_missing_feature_columns_are_named(tiny_model):
    rows = tiny_model.valid.drop(columns=["lag_7", "tx_mean"])
    with pytest.raises(UserError, match=r"features missing from the model input: \['lag_7', 'tx_mean'\]"):
        tiny_model.forecaster.predict(rows)


def test_loading_a_missing_model_says_which_stage_makes_it(tmp_path):
    with pytest.raises(UserError, match="run the train stage first"):
        boosting.Forecaster.load(tmp_path)


def test_predict_matrix_equals_xgboosts_inplace_predict(tiny_model):
    """The direct library call serving uses gives XGBoost's own numbers, on one row, a few,
    many, on any number of threads, and from a non-contiguous float64 slice."""
    m = tiny_model
    f = m.forecaster
    x = m.valid[f.names].to_numpy(np.float64)
    for rows in (x[:1], x[:7], x, x[::3]):
        want = f.booster.inplace_predict(np.asarray(rows, dtype=np.float32), missing=np.nan,
                                         iteration_range=(0, f.booster.best_iteration + 1)
                                         if boosting._has_best(f.booster) else (0, 0))
        want = np.clip(np.asarray(np.expm1(want) if f.transform == "log1p" else want, dtype=np.float64),
                       0.0, None)
        for model in (f, f.threads(1), f.threads(0)):
            np.testing.assert_array_equal(model.predict_matrix(rows), want)
    assert f.predict_matrix(x[:0]).shape == (0,)
