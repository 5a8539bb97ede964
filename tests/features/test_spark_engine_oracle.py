"""An outside oracle for lags and rolling statistics: Nixtla's mlforecast.

Our definitions (:mod:`demandcast.features.feature_spec`), for series s on day d of its gap-filled panel:
``lag_k`` = unit_sales on d-k (missing before the series' first day); ``roll_<stat>_w`` over
days d-w..d-1 that lie in the panel, missing when fewer than ``min_periods[stat]`` such days;
std is the sample std (ddof=1).

How mlforecast 1.1.0 relates (read in ``mlforecast/lag_transforms.py``, which delegates the
per-series case to ``coreforecast.lag_transforms``, and checked by
``test_mlforecast_semantics_we_rely_on`` below):

* ``lags=[k]`` -> column ``lag{k}``: the target shifted by k *rows* within the series, NaN for
  the first k rows. It is our lag because the panel has one row per day (asserted below).
* ``lag_transforms={1: [RollingMean(window_size=w, min_samples=m)]}`` -> the rolling mean of the
  lag-1 series over the last w rows, i.e. days d-w..d-1 clipped at the series' start, NaN when
  fewer than m values. Same for ``RollingStd``, which is the sample std (ddof=1) and NaN when
  the window has fewer than 2 values whatever ``min_samples`` says; our spec requires
  ``min_periods["std"] >= 2``, so the two NaN policies coincide. coreforecast caps
  ``min_samples`` at ``window_size`` (ours never yields a value then); the config keeps
  min_periods <= every window, which ``_oracle`` asserts rather than assumes.
* ``preprocess(..., dropna=False)`` keeps every row (the leading NaN rows included).

So no translation is needed: lags must match exactly, NaN positions included, and rolling
stats within 1e-6 relative, NaN positions again identical. One numerical (not definitional)
difference: coreforecast slides running sums (of squares, for std) while Spark re-aggregates
each frame, so where the exact statistic is 0 (a window of equal values, e.g. all zero days)
Spark gives exactly 0.0 and coreforecast a cancellation residue (seen: up to ~7.5e-9 x the
series' largest |value| for std, ~4e-16 x for the mean), which no relative tolerance admits.
There, and only there, the oracle must be within 1e-6 x that scale of 0 instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from mlforecast import MLForecast
from mlforecast.lag_transforms import RollingMean, RollingStd

from demandcast.features import feature_spec, spark_engine

RTOL = 1e-6
STATS = {"mean": RollingMean, "std": RollingStd}


@pytest.fixture(scope="module")
def spec(tiny_cfg):
    return feature_spec.from_config(tiny_cfg.features)


def _ours(panel, spec) -> pd.DataFrame:
    """Spark's panel + lags + rolling stats, as pandas sorted by series and date."""
    out = spark_engine.rolling(panel, spec).toPandas()
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["store_nbr", "item_nbr", "date"], ignore_index=True)


def _oracle(panel: pd.DataFrame, spec) -> pd.DataFrame:
    """mlforecast's features on the same filled panel, renamed to our column names."""
    mp = spec.min_periods
    assert all(mp[stat] <= w for stat in STATS for w in spec.windows), "coreforecast would cap it"
    names = {f"lag{k}": f"lag_{k}" for k in spec.lags}
    transforms = []
    for w in spec.windows:
        for stat, cls in STATS.items():
            transforms.append(cls(window_size=w, min_samples=mp[stat]))
            names[f"rolling_{stat}_lag1_window_size{w}_min_samples{mp[stat]}"] = f"roll_{stat}_{w}"
    fc = MLForecast(models=[], freq="D", lags=list(spec.lags), lag_transforms={1: transforms})
    df = pd.DataFrame({"unique_id": panel["store_nbr"].astype(str) + "/" + panel["item_nbr"].astype(str),
                       "ds": panel["date"], "y": panel[spec.target].astype("float64")})
    out = fc.preprocess(df, dropna=False, validate_data=True)
    assert len(out) == len(df), "preprocess dropped rows"
    assert set(names) <= set(out.columns), sorted(set(names) - set(out.columns))
    out = out.rename(columns=names)
    ids = out["unique_id"].str.split("/", expand=True).astype("int64")
    out["store_nbr"], out["item_nbr"] = ids[0], ids[1]
    out = out.rename(columns={"ds": "date", "y": spec.target})
    return out.sort_values(["store_nbr", "item_nbr", "date"], ignore_index=True)


def _assert_match(ours: pd.DataFrame, oracle: pd.DataFrame, spec) -> None:
    keys = ["store_nbr", "item_nbr", "date"]
    assert ours[keys].astype({"store_nbr": "int64", "item_nbr": "int64"}).equals(oracle[keys])
    gaps = ours.groupby(["store_nbr", "item_nbr"])["date"].diff().dropna()
    assert (gaps == pd.Timedelta(days=1)).all(), "the panel must have one row per series and day"
    for k in spec.lags:
        col = f"lag_{k}"
        np.testing.assert_array_equal(ours[col].to_numpy("float64", na_value=np.nan),
                                      oracle[col].to_numpy("float64"), err_msg=col)
    # The size of the series' values: what coreforecast's cancellation residue scales with.
    scale = ours[spec.target].abs().groupby([ours["store_nbr"], ours["item_nbr"]]).transform("max")
    for w in spec.windows:
        for stat in STATS:
            col = f"roll_{stat}_{w}"
            a = ours[col].to_numpy("float64", na_value=np.nan)
            b = oracle[col].to_numpy("float64")
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{col}: NaN positions")
            exact_zero = a == 0.0
            np.testing.assert_allclose(a[~exact_zero], b[~exact_zero], rtol=RTOL, atol=0, err_msg=col)
            residue = np.abs(b[exact_zero]) / np.maximum(scale.to_numpy()[exact_zero], 1.0)
            assert (residue <= RTOL).all(), f"{col}: {residue.max()} x scale where ours is exactly 0"


def test_lags_and_rolling_match_mlforecast_on_real_series(spark, spec, tiny_data):
    """Every series of the tiny data (63, ~19k panel rows): on this size the whole panel is
    cheaper in Spark than a filtered handful (no extra filter/join stage), and stronger."""
    train = spark_engine.read_raw(spark, str(tiny_data))["train.csv"]
    ours = _ours(spark_engine.panel(train), spec)
    oracle = _oracle(ours[["store_nbr", "item_nbr", "date", spec.target]], spec)
    np.testing.assert_array_equal(ours[spec.target].to_numpy(), oracle[spec.target].to_numpy())
    _assert_match(ours, oracle, spec)

    # The real data exercised the edges the definitions care about.
    raw = pd.read_csv(tiny_data / "train.csv", usecols=["store_nbr", "item_nbr", "date"],
                      parse_dates=["date"])
    assert len(ours) > len(raw), "no zero-filled days in the panel: the check would be weak"
    assert (ours[spec.target] < 0).any(), "no returns (negative sales)"
    first = ours.groupby(["store_nbr", "item_nbr"])["date"].min()
    assert (first > first.min()).any(), "no series launched late"
    for col in [f"lag_{k}" for k in spec.lags] + [f"roll_{s}_{w}" for w in spec.windows for s in STATS]:
        assert ours[col].notna().any() and ours[col].isna().any(), col  # defined and leading NaN
    assert (ours[[f"roll_std_{w}" for w in spec.windows]] == 0).any().all(), "no all-equal window"


def test_inline_series_with_zero_filled_gap_matches_mlforecast(spark, spec):
    """10 days with days 4-6 absent from train (zero days in the panel), a return, and a
    2-day second series; windows and lags shrunk to fit, min_periods kept from the config."""
    small = dataclasses.replace(spec, lags=(1, 2, 5), windows=(3, 4))
    start = dt.date(2023, 3, 1)
    values = {0: 4.0, 1: 2.0, 2: 7.5, 6: -1.0, 7: 3.0, 8: 3.0, 9: 10.0}  # days 3, 4, 5 missing
    rows = [(i, start + dt.timedelta(days=d), 1, 10, v, False) for i, (d, v) in enumerate(values.items())]
    rows += [(100, start + dt.timedelta(days=d), 2, 20, v, None) for d, v in ((4, 1.0), (5, 2.0))]
    panel = spark_engine.panel(spark.createDataFrame(rows, spark_engine.SCHEMAS["train.csv"]))

    ours = _ours(panel, small)
    one = ours[ours["item_nbr"] == 10]
    assert one[small.target].tolist() == [4.0, 2.0, 7.5, 0.0, 0.0, 0.0, -1.0, 3.0, 3.0, 10.0]
    oracle = _oracle(ours[["store_nbr", "item_nbr", "date", small.target]], small)
    _assert_match(ours, oracle, small)
    # Spot values by hand, so that a shared misreading of the spec cannot pass both engines.
    assert one["roll_mean_3"].iloc[4] == pytest.approx((2.0 + 7.5 + 0.0) / 3)
    assert one["roll_std_4"].iloc[7] == pytest.approx(np.std([0.0, 0.0, 0.0, -1.0], ddof=1))
    assert one["lag_5"].iloc[9] == 0.0 and one["lag_2"].iloc[8] == -1.0 and np.isnan(one["lag_5"].iloc[4])
    two = ours[ours["item_nbr"] == 20]
    assert np.isnan(two["roll_std_3"].iloc[1]) and two["roll_mean_3"].iloc[1] == 1.0  # one past day


def test_mlforecast_semantics_we_rely_on():
    """Pin the oracle's own behaviour, so that an mlforecast upgrade cannot silently agree."""
    y = np.array([5.0, 1.0, 0.0, 0.0, 2.0, 4.0])
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2023-01-01", periods=6), "y": y})
    fc = MLForecast(models=[], freq="D", lags=[2], lag_transforms={1: [
        RollingMean(window_size=3, min_samples=1), RollingStd(window_size=3, min_samples=1),
        RollingStd(window_size=3, min_samples=2)]})
    out = fc.preprocess(df, dropna=False)
    assert len(out) == 6
    np.testing.assert_array_equal(out["lag2"], [np.nan, np.nan, 5.0, 1.0, 0.0, 0.0])
    past = pd.Series(y).shift(1)  # pandas as the reference: window over d-3..d-1
    np.testing.assert_allclose(out["rolling_mean_lag1_window_size3_min_samples1"],
                               past.rolling(3, min_periods=1).mean(), rtol=RTOL)
    std = past.rolling(3, min_periods=2).std(ddof=1)  # NaN with fewer than 2 values
    np.testing.assert_allclose(out["rolling_std_lag1_window_size3_min_samples2"], std, rtol=RTOL)
    # min_samples=1 does not make a one-value std 0: it stays NaN, like Spark's stddev_samp.
    np.testing.assert_allclose(out["rolling_std_lag1_window_size3_min_samples1"], std, rtol=RTOL)
