"""The feature table a file at a time: training, tuning and evaluation for tables bigger
than memory (``model.engine: streamed``).

The features stage writes one folder of Parquet files per month. Here every reader goes
through :func:`batches`: the rows of a date range, one month file at a time (files outside
the range are never opened), each batch in key order. On top of it:

* :func:`fit`: XGBoost from a ``QuantileDMatrix`` fed by an ``xgboost.DataIter`` over the
  batches. XGBoost passes over them several times (the quantile sketch, then counting and
  binning: four passes for the training matrix in xgboost 3.2), so the files are read again
  on each pass and the rows never held whole: what stays is the binned matrix, one byte per
  value at ``max_bin`` <= 256, against 8 for a DataFrame, 4 for float32 and 8 for a DMatrix.
  The rows come month by month instead of in key order, so the quantile sketch and the
  subsampling see them in another order than the in-memory route's: the model is as good,
  not the same bytes (a test holds both to the same accuracy).
* :func:`priors_until`: the backtest folds' priors as sums and counts per batch.
* :func:`load`: the few columns of a window that forecasting and scoring read, optionally
  for a sample of the series only (:func:`sample_series`, for tuning).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import xgboost as xgb

from demandcast.errors import UserError
from demandcast.features.feature_spec import KEYS, PRIOR_KEYS, Spec, series_key
from demandcast.models import boosting, dataset
from demandcast.models.dataset import Fold

MONTH = "part_month"  # the features stage's partition column: "YYYY-MM"


def _day(value) -> dt.date | None:
    return None if value is None else pd.Timestamp(value).date()


def _where(table: ds.Dataset, first, last, series: np.ndarray | None) -> ds.Expression | None:
    """The filter of rows dated ``first``..``last`` (inclusive; None: open) of ``series``
    (:func:`~demandcast.features.feature_spec.series_key`, here as an Arrow expression); on
    the month folders too, so other months' files stay shut."""
    parts, months = [], MONTH in table.schema.names
    if first is not None:
        parts.append(pc.field("date") >= pa.scalar(_day(first), pa.date32()))
        if months:
            parts.append(pc.field(MONTH) >= _day(first).strftime("%Y-%m"))
    if last is not None:
        parts.append(pc.field("date") <= pa.scalar(_day(last), pa.date32()))
        if months:
            parts.append(pc.field(MONTH) <= _day(last).strftime("%Y-%m"))
    if series is not None:
        key = pc.add(pc.multiply(pc.field("store_nbr").cast(pa.int64()), pa.scalar(1 << 32, pa.int64())),
                     pc.field("item_nbr").cast(pa.int64()))
        parts.append(key.isin(pa.array(series, pa.int64())))
    out = None
    for part in parts:
        out = part if out is None else out & part
    return out


# Rows per batch: a whole Favorita month (3.6M rows) went through pandas as four copies of
# 59 columns, 6.6 GB at the peak of a streamed fit; a million rows hold about 0.5 GB.
BATCH_ROWS = 1_000_000


def open_table(features_dir, spec: Spec) -> ds.Dataset:
    """The feature table as a pyarrow dataset, after checking it was made with ``spec``."""
    dataset.check_spec(dataset.read_manifest(features_dir), spec, str(features_dir))
    return ds.dataset(str(features_dir), format="parquet", partitioning="hive")


def _columns(spec: Spec, columns: list[str] | None) -> list[str]:
    """The keys and the target, then ``columns`` (None: every feature; [] none)."""
    return [*KEYS, spec.target, *[n for n in (spec.names() if columns is None else columns) if n not in KEYS]]


def batches(features_dir, spec: Spec, first=None, last=None, columns=None,
            series: np.ndarray | None = None) -> Iterator[pd.DataFrame]:
    """The rows dated ``first``..``last`` (inclusive; None: open), month file by month file
    in file order, at most :data:`BATCH_ROWS` rows a batch and never two files in one: the
    keys, the target and the features (or ``columns``), ``date`` as datetime64 (as
    :func:`dataset.load_table` gives it). The ETL writes each month's rows sorted by the keys
    (:mod:`demandcast.features.etl`), and the batches keep that order."""
    table = open_table(features_dir, spec)
    wanted = _columns(spec, columns)
    where = _where(table, first, last, series)
    for fragment in sorted(table.get_fragments(filter=where), key=lambda f: f.path):
        pending: list[pa.RecordBatch] = []
        held = 0
        for part in fragment.to_batches(schema=table.schema, columns=wanted, filter=where,
                                        batch_size=BATCH_ROWS, batch_readahead=1):  # not the file ahead
            if held + part.num_rows > BATCH_ROWS and pending:
                yield _frame(pending)
                pending, held = [], 0
            if part.num_rows:
                pending.append(part)
                held += part.num_rows
        if pending:
            yield _frame(pending)


def _frame(parts: list[pa.RecordBatch]) -> pd.DataFrame:
    frame = pa.Table.from_batches(parts).to_pandas()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def load(features_dir, spec: Spec, first=None, last=None, columns=None,
         series: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`batches` in one DataFrame, in key order (for a window or sample that fits)."""
    parts = list(batches(features_dir, spec, first, last, columns, series))
    if not parts:
        return pd.DataFrame(columns=_columns(spec, columns))
    return pd.concat(parts, ignore_index=True).sort_values(list(KEYS), kind="stable").reset_index(drop=True)


def sample_series(features_dir, spec: Spec, fold: Fold, share, seed: int) -> np.ndarray:
    """A seeded ``share`` of the series with rows in ``fold``'s validation window (packed)."""
    share = _share(share)
    keys = load(features_dir, spec, fold.valid_start, fold.origin, columns=[])
    series = np.unique(series_key(keys["store_nbr"], keys["item_nbr"]))
    if len(series) == 0:
        raise UserError(f"{features_dir}: no series has rows in the validation window "
                        f"{fold.valid_start}..{fold.origin}: the data is too short for features.split")
    size = max(1, round(share * len(series)))
    return np.sort(np.random.default_rng(seed).choice(series, size=size, replace=False))


def _share(share) -> float:
    try:
        value = float(share)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= 1:  # NaN fails too
        raise UserError(f"tune.series_share={share!r}: a share of the series in (0, 1] (0.05 tunes on "
                        "5% of them), or null for all")
    return value


def priors_until(features_dir, spec: Spec, cutoff, families: list[str]) -> dict[str, pd.DataFrame]:
    """:func:`dataset.priors_until` over the whole table up to ``cutoff``, read a file at a
    time: mean daily sales per prior level from per-batch sums and counts."""
    sums: dict[str, pd.DataFrame] = {}
    names = np.asarray(families, dtype=object)
    for batch in batches(features_dir, spec, None, cutoff, columns=list(dataset.PRIOR_INPUTS)):
        frame = batch.assign(family=names[batch["family_code"].to_numpy()], y=batch[spec.target])
        for level in spec.priors:
            keys = list(PRIOR_KEYS[level])
            part = frame.groupby(keys)["y"].agg(["sum", "count"])
            sums[level] = part if level not in sums else sums[level].add(part, fill_value=0)
    if not sums:
        raise UserError(f"{features_dir}: no rows up to {_day(cutoff)} to average the priors over")
    return {level: (part["sum"] / part["count"]).rename(f"prior_{level}").reset_index()
            for level, part in sums.items()}


class _Rows(xgb.DataIter):
    """Hands XGBoost one batch of features and labels at a time."""

    def __init__(self, make: Callable[[], Iterator[pd.DataFrame]], names: list[str], target: str, model_cfg,
                 cache_prefix: str | None = None):
        self._make, self._names, self._target, self._model_cfg = make, names, target, model_cfg
        self._it: Iterator[pd.DataFrame] | None = None
        self.first: pd.DataFrame | None = None  # the first batch's first rows (MLflow's input example)
        super().__init__(cache_prefix=cache_prefix, release_data=True)

    def next(self, input_data: Callable) -> bool:
        if self._it is None:
            self._it = self._make()
        batch = next(self._it, None)
        if batch is None:
            return False
        if self.first is None:  # a copy: a view would keep the whole batch alive
            self.first = batch[self._names].head(5).copy()
        input_data(data=batch[self._names].to_numpy(np.float32),
                   label=boosting.label(batch[self._target], self._model_cfg), feature_names=self._names)
        return True

    def reset(self) -> None:
        self._it = None


def fit(features_dir, spec: Spec, fold: Fold, model_cfg, overrides: dict | None = None, seed: int = 0,
        priors: dict[str, pd.DataFrame] | None = None, families: list[str] | None = None,
        callbacks=None) -> boosting.Fitted:
    """Fold ``fold``'s model from the feature files, as :func:`boosting.fit` fits it from
    the windows in memory. ``priors`` (with ``families``) replace the table's ``prior_*``
    columns batch by batch (the backtest's earlier folds, :func:`priors_until`)."""
    table = open_table(features_dir, spec)
    counts = [table.count_rows(filter=_where(table, first, last, None))
              for first, last in ((fold.train_start, fold.train_end), (fold.valid_start, fold.origin))]
    if min(counts) == 0:
        raise UserError(f"empty {'training' if counts[0] == 0 else 'validation'} window: "
                        "the data is too short for features.split and model.gap_days")
    names = spec.names()

    def rows(first, last, cache_prefix: str | None = None) -> _Rows:
        def make():
            for batch in batches(features_dir, spec, first, last):
                yield batch if priors is None else dataset.with_priors(batch, priors, families)
        return _Rows(make, names, spec.target, model_cfg, cache_prefix)

    params = boosting.booster_params(model_cfg, overrides, seed)
    bins = int(params.get("max_bin", 256))
    with _matrix_cache(model_cfg) as cache:
        if cache is None:
            dtrain = xgb.QuantileDMatrix(rows(fold.train_start, fold.train_end), max_bin=bins, missing=np.nan)
            valid = rows(fold.valid_start, fold.origin)
            dvalid = xgb.QuantileDMatrix(valid, max_bin=bins, missing=np.nan, ref=dtrain)
        else:
            train = rows(fold.train_start, fold.train_end, str(Path(cache) / "train"))
            dtrain = xgb.ExtMemQuantileDMatrix(train, max_bin=bins, missing=np.nan)
            valid = rows(fold.valid_start, fold.origin, str(Path(cache) / "valid"))
            dvalid = xgb.ExtMemQuantileDMatrix(valid, max_bin=bins, missing=np.nan, ref=dtrain)
        booster = boosting.train_matrices(params, dtrain, dvalid, model_cfg, callbacks)
        del dtrain, dvalid  # their pages live in the cache folder, removed on leaving
    return boosting.Fitted(booster, counts[0], counts[1], valid.first)


@contextlib.contextmanager
def _matrix_cache(model_cfg) -> Iterator[str | None]:
    """A temporary folder for the binned training matrix's pages when ``model.external_memory``
    is on (None: the matrix stays in memory). With missing values XGBoost keeps a 4-byte bin
    per value plus a column index (about 6 bytes a value measured, against 1 byte dense), so
    a Favorita year held in memory outgrows the box; on disk only a page at a time is held,
    at about 1.4x the training time (bench/streamed_training.py), and the model is the same bytes."""
    if not model_cfg.get("external_memory"):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="demandcast-xgb-") as folder:
        yield folder

