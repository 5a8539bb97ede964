"""Training on Spark (xgboost.spark) against the local route, on the tiny features."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from omegaconf import OmegaConf

from demandcast.errors import UserError
from demandcast.models import boosting, dataset, distributed, evaluation, metrics

ROUNDS, PATIENCE = 80, 5  # eta 0.2 on the tiny data: both routes stop early, in seconds


def small(model_cfg, **extra):
    """tiny_model's settings (both years of training rows), a faster learning rate, few rounds."""
    return OmegaConf.merge(model_cfg, {"train_days": None, "num_boost_round": ROUNDS,
                                       "early_stopping_rounds": PATIENCE, "params": {"eta": 0.2}, **extra})


@pytest.fixture(scope="module")
def fits(spark, tiny_model):
    """The same fold fitted locally and on Spark (2 workers), with their fit times."""
    m = tiny_model
    model_cfg = small(m.cfg.model, engine="spark", num_workers=2)
    seed = int(m.cfg.seed)
    start = time.perf_counter()
    local = boosting.fit(m.train, m.valid, m.spec.names(), m.spec.target, model_cfg, seed=seed)
    local_s = time.perf_counter() - start
    start = time.perf_counter()
    on_spark = distributed.fit(spark, m.features, m.spec, m.fold, model_cfg, seed=seed)
    spark_s = time.perf_counter() - start
    print(f"\nfit on {len(m.train):,} + {len(m.valid):,} rows: local {local_s:.2f} s, spark {spark_s:.2f} s")
    return model_cfg, local, on_spark


def rmse(forecaster, frame, target):
    actual = np.clip(frame[target].to_numpy(np.float64), 0, None)
    return float(np.sqrt(np.mean((forecaster.predict(frame) - actual) ** 2)))


def test_spark_uses_the_local_routes_rows_and_feature_columns(fits, tiny_model):
    m = tiny_model
    _, local, on_spark = fits
    assert (on_spark.train_rows, on_spark.valid_rows) == (len(m.train), len(m.valid))
    assert on_spark.booster.feature_names == local.feature_names == m.spec.names()
    assert list(on_spark.example.columns) == m.spec.names()
    np.testing.assert_array_equal(on_spark.example.to_numpy(np.float32),
                                  m.valid[m.spec.names()].head(5).to_numpy(np.float32))


def test_spark_early_stops_on_the_validation_rows_like_the_local_fit(fits, tiny_model):
    m = tiny_model
    model_cfg, local, on_spark = fits
    booster = on_spark.booster
    # stopped PATIENCE rounds after the best validation score, as xgboost.train does locally
    assert booster.num_boosted_rounds() == booster.best_iteration + 1 + PATIENCE < ROUNDS
    assert local.num_boosted_rounds() == local.best_iteration + 1 + PATIENCE < ROUNDS
    # the same objective, tree parameters and seed (only the threads differ: Spark's task cores)
    ours_cfg, local_cfg = json.loads(booster.save_config()), json.loads(local.save_config())
    ours_learner, local_learner = ours_cfg["learner"], local_cfg["learner"]
    assert ours_learner["objective"] == local_learner["objective"]
    assert ours_learner["objective"]["name"] == "count:poisson"
    # the same booster settings; only the tree counts differ
    trees = [{k: v for k, v in learner["gradient_booster"].items() if k != "gbtree_model_param"}
             for learner in (ours_learner, local_learner)]
    assert trees[0] == trees[1] and float(trees[0]["tree_train_param"]["eta"]) == pytest.approx(0.2)
    assert ours_learner["generic_param"]["seed"] == local_learner["generic_param"]["seed"] == "42"
    ours = boosting.Forecaster.from_fit(booster, m.spec.names(), model_cfg)
    theirs = boosting.Forecaster.from_fit(local, m.spec.names(), model_cfg)
    # best_score is the validation RMSE the workers computed together; our own matches it
    assert rmse(ours, m.valid, m.spec.target) == pytest.approx(float(booster.best_score), rel=1e-3)
    # Another row order, histograms merged across workers: not the same trees, the same quality.
    ours_error, local_error = rmse(ours, m.valid, m.spec.target), rmse(theirs, m.valid, m.spec.target)
    actual = np.clip(m.valid[m.spec.target].to_numpy(np.float64), 0, None)
    mean_only = float(np.sqrt(np.mean((actual - np.clip(m.train[m.spec.target], 0, None).mean()) ** 2)))
    print(f"validation RMSE: spark {ours_error:.4f}, local {local_error:.4f}, training mean {mean_only:.4f}")
    assert ours_error < 1.10 * local_error and ours_error < 0.9 * mean_only


def test_the_spark_model_forecasts_on_the_evaluate_path(fits, tiny_model, tmp_path):
    m = tiny_model
    model_cfg, local, on_spark = fits
    forecaster = boosting.Forecaster.from_fit(on_spark.booster, m.spec.names(), model_cfg)
    forecaster.save(tmp_path)
    loaded = boosting.Forecaster.load(tmp_path)  # as evaluate, register and serving read it
    cells, _ = evaluation.forecast_window(loaded, m.online, m.table, None, None, m.spec, m.fold.origin, 7)
    reference, _ = evaluation.forecast_window(boosting.Forecaster.from_fit(local, m.spec.names(), model_cfg),
                                              m.online, m.table, None, None, m.spec, m.fold.origin, 7)
    model = cells[evaluation.MODEL].to_numpy()
    assert len(cells) > 0 and np.isfinite(model).all() and (model >= 0).all()
    ours = metrics.scores(cells["actual"], model)["wape"]
    local_wape = metrics.scores(reference["actual"], reference[evaluation.MODEL])["wape"]
    print(f"recursive 7-day WAPE: spark {ours:.4f}, local {local_wape:.4f}")
    assert ours < 1.15 * local_wape


def test_more_workers_than_spark_runs_at_once_is_refused(spark, tiny_model):
    m = tiny_model
    cfg = small(m.cfg.model, engine="spark", num_workers=3)
    said = r"model.num_workers=3.*at most 2 task\(s\).*lower model.num_workers to 2"
    with pytest.raises(UserError, match=said):
        distributed.fit(spark, m.features, m.spec, m.fold, cfg)


def test_a_missing_features_folder_says_to_run_the_features_stage(spark, tiny_model, tmp_path):
    m = tiny_model
    with pytest.raises(UserError, match=r"manifest.json is missing: run the features stage"):
        distributed.fit(spark, tmp_path / "features", m.spec, m.fold, small(m.cfg.model))


def test_an_earlier_fold_is_refused_its_priors_would_leak(spark, tiny_model):
    m = tiny_model
    cfg = small(m.cfg.model)
    earlier = dataset.fold(m.cfg.data.end, m.spec, cfg, int(m.cfg.evaluate.horizon), k=1)
    with pytest.raises(UserError, match=r"prior_\* columns average sales up to 2023-11-05.*only fold 0"):
        distributed.fit(spark, m.features, m.spec, earlier, cfg)


def test_an_emr_setting_is_not_a_session_to_train_on(spark):
    with pytest.raises(UserError, match="spark=emr_serverless only submits the features stage"):
        with distributed.spark_session(OmegaConf.create({"engine": "emr_serverless"})):
            pass


def test_the_spark_label_is_the_local_label(spark, tiny_model):
    m = tiny_model
    for objective in ("poisson", "log1p"):
        cfg = small(m.cfg.model, objective=objective)
        rows = distributed.fold_rows(spark, m.features, m.spec, m.fold, cfg).orderBy(*dataset.KEYS)
        ours = rows.where(~rows[distributed.IS_VALID]).select(distributed.LABEL).toPandas()
        np.testing.assert_allclose(ours[distributed.LABEL].to_numpy(),
                                   boosting.label(m.train[m.spec.target], cfg), rtol=1e-12)
