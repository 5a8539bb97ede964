"""The windows: watched features from globs, and served columns sampled one by one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demandcast.errors import UserError
from demandcast.monitoring import windows

NAMES = ["store_nbr", "year", "lag_1", "lag_7", "roll_mean_7", "roll_std_7", "onpromotion", "tx_mean"]


def test_watched_features_follow_the_globs_in_model_order():
    assert windows.watched_features(NAMES, ["roll_*", "lag_*", "onpromotion"]) == [
        "lag_1", "lag_7", "roll_mean_7", "roll_std_7", "onpromotion"]
    with pytest.raises(UserError, match=r"monitor.features: \['price_\*'\] match no feature"):
        windows.watched_features(NAMES, ["lag_*", "price_*"])


def test_sparse_served_columns_keep_their_values():
    """A fed-back feature is missing on most served rows: sampling rows would starve it."""
    n = 10_000
    frame = pd.DataFrame({"lag_1": np.where(np.arange(n) % 28 == 0, 1.0, np.nan),  # first days only
                          "onpromotion": np.arange(n) % 2 * 1.0})
    sampled = windows.column_samples(frame, 2000, seed=0)
    assert len(sampled) == 2000
    assert sampled["lag_1"].notna().sum() == (np.arange(n) % 28 == 0).sum()  # all 358 of them
    assert sampled["onpromotion"].notna().sum() == 2000
    assert set(sampled["onpromotion"].unique()) == {0.0, 1.0}
    assert windows.column_samples(frame, 2000, seed=0).equals(sampled)  # seeded


def test_the_reference_is_the_training_windows_last_reference_days():
    import datetime as dt

    from demandcast.models.dataset import Fold

    end = dt.date(2024, 5, 19)
    all_history = Fold(None, end, dt.date(2024, 5, 27), dt.date(2024, 6, 23), 28)
    year = windows.reference_fold(all_history, 365)
    assert (year.train_start, year.train_end) == (dt.date(2023, 5, 21), end)  # 365 days (2024 is a leap year)
    assert (year.train_end - year.train_start).days + 1 == 365
    assert (year.valid_start, year.origin) == (all_history.valid_start, all_history.origin)
    assert windows.reference_fold(all_history, None) == all_history
    short = Fold(dt.date(2024, 1, 1), end, all_history.valid_start, all_history.origin, 28)
    assert windows.reference_fold(short, 365) == short  # a window shorter than the reference is kept whole
    for bad in (0, -3, 1.5, "365", True):
        with pytest.raises(UserError, match="monitor.reference_days"):
            windows.reference_fold(all_history, bad)


def test_the_sampled_rows_are_read_alone_and_are_the_rows_a_whole_table_sample_draws(tiny_cfg, tiny_features):
    """Only the keys are read whole; the sample drawn on them, then read with its features, is
    the sample of the whole table (same positions, every column, key order)."""
    from demandcast.features import feature_spec
    from demandcast.models import dataset

    features_dir, _ = tiny_features
    spec = feature_spec.from_config(tiny_cfg.features)
    index, fold = windows.load_index(tiny_cfg, spec, features_dir)
    assert list(index.columns) == ["store_nbr", "item_nbr", "date"]
    whole = dataset.load_table(features_dir, spec, since=fold.train_start)
    pd.testing.assert_frame_equal(index, whole[list(index.columns)])
    rows = dataset.between(whole, fold.train_start, fold.train_end)
    expected = rows.sample(n=500, random_state=7).sort_index().reset_index(drop=True)
    sample = windows.rows_of(features_dir, spec, dataset.between(index, fold.train_start, fold.train_end)
                             .sample(n=500, random_state=7).sort_index())
    pd.testing.assert_frame_equal(sample, expected)
