"""The windows monitoring compares, as frames of the watched features, ``target`` and ``prediction``.

* **Reference**: the training window's rows of the feature table (the model's fold 0, as
  the train stage cuts it), its last ``monitor.reference_days`` days, sampled to
  ``monitor.reference_rows``, with the model's predictions on them.
* **Current**, source ``data``: the last ``monitor.current_days`` days of the feature table
  (the test window by default), sampled to ``monitor.current_rows``, with the model's
  predictions (one day ahead, from the actual lags). Source ``prediction_logs``: the
  served rows (:mod:`demandcast.monitoring.logs`), the logged forecast as the prediction
  and the actual, where one arrived, as the target.

Only the keys of the feature table are read whole (:func:`load_index`); the samples are
drawn on them and only the sampled rows are read with their features (:func:`rows_of`), a
batch at a time. At Favorita's scale the reference year is some 45M rows of 66 columns,
about 23 GB in pandas; its keys are about 1 GB.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features.feature_spec import KEYS, series_key
from demandcast.models import dataset, streaming


def watched_features(names: list[str], patterns) -> list[str]:
    """The model's features matching ``monitor.features`` (globs), in the model's order."""
    patterns = [str(p) for p in patterns]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        raise UserError(f"monitor.features: {unmatched} match no feature of the model "
                        f"({', '.join(names)})")
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def load_index(cfg, spec, features_dir) -> tuple[pd.DataFrame, dataset.Fold]:
    """The feature table's keys from the reference window's first day on, in key order (the
    order of :func:`dataset.load_table`, so a sample draws the same rows), and the model's fold
    with its training window cut to that reference (:func:`reference_fold`)."""
    fold = reference_fold(dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon)),
                          cfg.monitor.get("reference_days"))
    return streaming.load(features_dir, spec, first=fold.train_start, columns=[])[list(KEYS)], fold


def rows_of(features_dir, spec, keys: pd.DataFrame) -> pd.DataFrame:
    """The feature table's rows at ``keys`` (store, item, date; a sample of :func:`load_index`),
    every column, in key order; read a batch at a time over the keys' dates and series (Arrow
    drops the other series' rows before pandas sees them), keeping only the keys."""
    keys = keys[list(KEYS)]
    series = np.unique(series_key(keys["store_nbr"], keys["item_nbr"]))
    parts = [batch.merge(keys, on=list(KEYS)) for batch in
             streaming.batches(features_dir, spec, first=keys["date"].min(), last=keys["date"].max(),
                               series=series)]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(KEYS))
    return rows.sort_values(list(KEYS), kind="stable").reset_index(drop=True)


def reference_fold(fold: dataset.Fold, days) -> dataset.Fold:
    """``fold`` with its training window cut to its last ``days`` days (None: all of it).

    A model trained on all history still drifts against what the world looks like lately: a
    year covers every season once, and leaves out history recorded differently long ago
    (Favorita has no promotions before 2014-04, the demo none before 2022-07), which would
    otherwise read as drift of every promotion feature."""
    if days is None:
        return fold
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise UserError(f"monitor.reference_days={days!r}: a whole number of days of at least 1 "
                        "(365: the training window's last year), or null for all of it")
    start = fold.train_end - dt.timedelta(days=days - 1)
    if fold.train_start is not None and fold.train_start >= start:
        return fold
    return dataclasses.replace(fold, train_start=start)


def _frame(rows: pd.DataFrame, watched: list[str], target: str, forecaster) -> pd.DataFrame:
    frame = rows[watched].astype(np.float32).reset_index(drop=True)
    frame["target"] = rows[target].to_numpy(np.float64)
    frame["prediction"] = forecaster.predict(rows)
    return frame


def _sample(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return rows if len(rows) <= n else rows.sample(n=int(n), random_state=seed).sort_index()


def reference(index: pd.DataFrame, features_dir, fold: dataset.Fold, spec, forecaster, watched: list[str],
              n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    rows = dataset.between(index, fold.train_start, fold.train_end)
    if rows.empty:
        raise UserError(f"the training window ({fold.train_start}..{fold.train_end}) has no rows in "
                        "the feature table: rerun the features stage (dvc repro)")
    sample = rows_of(features_dir, spec, _sample(rows, n, seed))
    return _frame(sample, watched, spec.target, forecaster), {
        "start": _day(rows["date"].min()), "end": _day(rows["date"].max()), "rows": len(sample)}


def current_from_table(index: pd.DataFrame, features_dir, spec, forecaster, watched: list[str], days: int,
                       n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    last = index["date"].max()
    first = last - pd.Timedelta(days=int(days) - 1)
    rows = dataset.between(index, first, last)
    sample = rows_of(features_dir, spec, _sample(rows, n, seed))
    return _frame(sample, watched, spec.target, forecaster), {
        "start": _day(first), "end": _day(last), "rows": len(sample), "source": "data"}


def current_from_logs(served, actuals, watched: list[str], n: int, seed: int) -> pd.DataFrame:
    """The served model rows (forecast cells with features, and /predict rows), ``actuals``
    (aligned with ``served.cells``, NaN where none arrived) as the target, each column
    sampled on its own (:func:`column_samples`)."""
    cells = served.cells
    with_features = ~cells["fallback"].to_numpy(bool) & cells[watched].notna().any(axis=1).to_numpy()
    frame = cells.loc[with_features, watched].reset_index(drop=True)
    frame["target"] = np.asarray(actuals, dtype=np.float64)[with_features]
    frame["prediction"] = cells.loc[with_features, "forecast"].to_numpy(np.float64)
    extra = served.predict_rows.assign(target=np.nan)
    frame = pd.concat([frame, extra[frame.columns]], ignore_index=True) if len(extra) else frame
    return column_samples(frame, n, seed)


def column_samples(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` non-missing values of each column, drawn column by column, padded with NaN.

    Served rows are sparse by design (a fed-back feature is missing after the first days),
    so sampling whole rows would starve the sparse columns. Drift is judged column by column
    (univariate tests), so the rows need not line up across columns.
    """
    rng = np.random.default_rng(seed)
    values = {}
    for column in frame.columns:
        present = frame[column].dropna().to_numpy()
        if len(present) > n:
            present = present[np.sort(rng.choice(len(present), n, replace=False))]
        values[column] = present
    length = max((len(v) for v in values.values()), default=0)
    return pd.DataFrame({c: np.concatenate([v.astype(np.float64), np.full(length - len(v), np.nan)])
                         for c, v in values.items()})


def _day(value) -> str:
    return pd.Timestamp(value).date().isoformat()
