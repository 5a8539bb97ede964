"""Fold windows, and priors recomputed in pandas equal the Spark stage's."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from demandcast.models import dataset


def test_fold_windows_line_up(tiny_model):
    m = tiny_model
    spec, model_cfg = m.spec, m.cfg.model
    f0 = dataset.fold("2023-12-31", spec, model_cfg, 28, 0)
    assert f0.origin == dt.date(2023, 12, 31) - dt.timedelta(days=spec.test_days)
    assert f0.forecast_days == (dt.date(2023, 12, 4), dt.date(2023, 12, 31))
    assert (f0.origin - f0.valid_start).days + 1 == spec.valid_days
    assert (f0.valid_start - f0.train_end).days == 1 + int(model_cfg.gap_days)
    f2 = dataset.fold("2023-12-31", spec, model_cfg, 28, 2)
    assert (f0.origin - f2.origin).days == 56 and f2.horizon == 28


def test_priors_until_the_training_window_end_equal_the_spark_priors(tiny_model):
    m = tiny_model
    manifest = dataset.read_manifest(m.features)
    whole = dataset.load_table(m.features, m.spec, columns=dataset.PRIOR_INPUTS)
    ours = dataset.priors_until(whole, manifest["training_window_end"], m.spec, m.online.families)
    spark = dataset.read_priors(m.features, m.spec)
    for level in m.spec.priors:
        keys = [c for c in ours[level].columns if c != f"prior_{level}"]
        a = ours[level].sort_values(keys).reset_index(drop=True)
        b = spark[level].sort_values(keys).reset_index(drop=True)[a.columns]
        pd.testing.assert_frame_equal(a, b.astype(a.dtypes.to_dict()), check_exact=False, rtol=1e-9)


def test_with_priors_replaces_the_prior_columns(tiny_model):
    m = tiny_model
    rows = m.table.head(200)
    whole = dataset.load_table(m.features, m.spec, columns=dataset.PRIOR_INPUTS)
    manifest = dataset.read_manifest(m.features)
    same = dataset.priors_until(whole, manifest["training_window_end"], m.spec, m.online.families)
    redone = dataset.with_priors(rows, same, m.online.families)
    cols = [f"prior_{level}" for level in m.spec.priors]
    np.testing.assert_allclose(redone[cols].to_numpy(), rows[cols].to_numpy(), rtol=1e-9)


def test_a_spec_change_since_the_features_stage_is_named(tiny_model):
    from dataclasses import replace

    from demandcast.errors import UserError

    changed = replace(tiny_model.spec, lags=(1, 2))
    with pytest.raises(UserError, match="rerun the features stage"):
        dataset.load_table(tiny_model.features, changed)
