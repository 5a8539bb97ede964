"""The feature table as training and evaluation see it: windows, priors, static tables.

Dates of one fold (``origin`` = the last day known when forecasting)::

    ... train rows ... | gap | validation (valid_days) | origin | forecast (horizon days)
                   train_end                      valid_end = origin

The main fold's origin is ``data.end - test_days`` (the test window is the final
``test_days``); backtest fold k moves it ``k * horizon`` days earlier. Priors are the
training window's mean daily sales per level: the features stage computes them up to
``data.end - test_days - valid_days``; :func:`priors_until` recomputes them for any
other cut-off the same way (a test holds the two to each other).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features.feature_spec import KEYS, META, PRIOR_KEYS, Spec
from demandcast.features.online import OnlineFeatures


@dataclass(frozen=True)
class Fold:
    """One forecast origin and the windows around it (all dates inclusive)."""

    train_start: dt.date | None
    train_end: dt.date
    valid_start: dt.date
    origin: dt.date
    horizon: int

    @property
    def forecast_days(self) -> tuple[dt.date, dt.date]:
        return self.origin + dt.timedelta(days=1), self.origin + dt.timedelta(days=self.horizon)


def fold(data_end, spec: Spec, model_cfg, horizon: int, k: int = 0) -> Fold:
    """Fold ``k`` (0 = the test window, 1.. = earlier backtest windows)."""
    end = dt.date.fromisoformat(str(data_end))
    origin = end - dt.timedelta(days=spec.test_days + k * horizon)
    valid_start = origin - dt.timedelta(days=spec.valid_days - 1)
    train_end = valid_start - dt.timedelta(days=1 + int(model_cfg.gap_days))
    train_days = model_cfg.get("train_days")
    start = None if train_days is None else train_end - dt.timedelta(days=int(train_days) - 1)
    return Fold(start, train_end, valid_start, origin, horizon)


def windows(table: pd.DataFrame, fold: Fold) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fold's training and validation rows."""
    return (between(table, fold.train_start, fold.train_end),
            between(table, fold.valid_start, fold.origin))


def read_manifest(features_dir) -> dict:
    path = Path(features_dir) / META / "manifest.json"
    if not path.exists():
        raise UserError(f"{path} is missing: run the features stage first (dvc repro features)")
    return json.loads(path.read_text())


def check_spec(manifest: dict, spec: Spec, where: str) -> None:
    if manifest["spec_hash"] != spec.hash():
        raise UserError(
            f"{where} was computed with feature spec {manifest['spec_hash']}, but conf/features "
            f"now gives {spec.hash()}: rerun the features stage (dvc repro) so both agree")


def load_table(features_dir, spec: Spec, since: dt.date | None = None, columns=None) -> pd.DataFrame:
    """The feature table (keys, target, features or ``columns``), optionally from ``since`` on."""
    manifest = read_manifest(features_dir)
    check_spec(manifest, spec, str(features_dir))
    filters = None if since is None else [("date", ">=", pd.Timestamp(since))]
    columns = [*KEYS, spec.target, *[n for n in (columns or spec.names()) if n not in KEYS]]
    table = pd.read_parquet(features_dir, columns=columns, filters=filters)
    table["date"] = pd.to_datetime(table["date"])
    return table.sort_values(list(KEYS), kind="stable").reset_index(drop=True)


def between(table: pd.DataFrame, first, last) -> pd.DataFrame:
    dates = table["date"]
    keep = np.ones(len(table), dtype=bool)
    if first is not None:
        keep &= (dates >= pd.Timestamp(first)).to_numpy()
    keep &= (dates <= pd.Timestamp(last)).to_numpy()
    return table[keep]


def read_static(data_dir, data=None) -> dict[str, pd.DataFrame]:
    """The raw tables online features need (never the target or the truth); ``data`` (the
    data preset) says where the holiday calendar comes from (file, or the `holidays` package)."""
    from demandcast.data import holiday_calendar
    from demandcast.data.rawcsv import locate

    package = data is not None and holiday_calendar.source(data) == "package"
    names = ["stores.csv", "items.csv", "transactions.csv"] + ([] if package else [holiday_calendar.FILE])
    found = {n: locate(data_dir, n) for n in names}
    missing = [n for n, path in found.items() if path is None]
    if missing:
        raise UserError(f"{data_dir}: {', '.join(missing)} missing; `make data` restores the raw files")
    static = {n: pd.read_csv(path) for n, path in found.items()}
    if package:
        static[holiday_calendar.FILE] = pd.DataFrame(holiday_calendar.from_config(data),
                                                     columns=list(holiday_calendar.COLUMNS))
    return static


def read_priors(features_dir, spec: Spec) -> dict[str, pd.DataFrame]:
    return {level: pd.read_parquet(Path(features_dir) / META / f"priors_{level}.parquet")
            for level in spec.priors}


PRIOR_INPUTS = ("cluster", "family_code")


def priors_until(table: pd.DataFrame, cutoff, spec: Spec, families: list[str]) -> dict[str, pd.DataFrame]:
    """Mean daily sales per prior level over the table's rows up to ``cutoff`` (pass the
    whole table from the first day: the features stage averages over all of it)."""
    window = between(table, None, cutoff)
    frame = pd.DataFrame({"store_nbr": window["store_nbr"], "item_nbr": window["item_nbr"],
                          "cluster": window["cluster"],
                          "family": np.asarray(families, dtype=object)[window["family_code"].to_numpy()],
                          "y": window[spec.target]})
    return {level: frame.groupby(list(PRIOR_KEYS[level]), as_index=False)["y"].mean()
            .rename(columns={"y": f"prior_{level}"}) for level in spec.priors}


def with_priors(table: pd.DataFrame, priors: dict[str, pd.DataFrame], families: list[str]) -> pd.DataFrame:
    """The table with its ``prior_*`` columns replaced by ``priors``."""
    out = table.copy()
    keyed = out.assign(family=np.asarray(families, dtype=object)[out["family_code"].to_numpy()])
    for level, frame in priors.items():
        keys = list(PRIOR_KEYS[level])
        out[f"prior_{level}"] = keyed[keys].merge(frame, on=keys, how="left")[f"prior_{level}"].to_numpy()
    return out


def online(static: dict[str, pd.DataFrame], spec: Spec, priors: dict[str, pd.DataFrame],
           known_until=None) -> OnlineFeatures:
    """Online features with only what is known on ``known_until`` (transactions included)."""
    tx = static["transactions.csv"]
    if known_until is not None:
        tx = tx[pd.to_datetime(tx["date"]) <= pd.Timestamp(known_until)]
    return OnlineFeatures(spec, static["stores.csv"], static["items.csv"],
                          static["holidays_events.csv"], priors, tx)
