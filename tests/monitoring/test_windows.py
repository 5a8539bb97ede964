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
