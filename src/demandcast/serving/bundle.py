"""The serving bundle: everything the service needs to forecast, in one folder, without Spark.

The package stage writes it (into the BentoML model it packs into the bento); the service
and the serving benchmark read it with :func:`load`. Files:

``model.json``, ``manifest.json``, ``intervals.json``
    The champion's booster, its feature manifest, and its conformal interval widths and
    level factor (:mod:`demandcast.models.level_correction`), as logged on its MLflow run.
``spec.json``
    The ``features`` config the spec is built from (its hash must match the manifest's).
``history.parquet``
    store_nbr, item_nbr, date, the target, onpromotion: the feature table's panel rows of
    the last ``snapshot_days`` days (long enough for every lag and window from any origin
    between the test origin and the history end), plus, for each series whose panel started
    earlier, a zero row on the day before the snapshot (outside every window) that says so,
    so a series that sold nothing lately keeps its zero days.
``stores.csv``, ``items.csv``, ``holidays_events.csv``, ``transactions.parquet``
    The static tables of the online features (transactions from the days the
    ``tx_mean`` windows of the snapshot's origins reach back to).
``priors_<level>.parquet``
    The hierarchical priors: fallback forecasts for series the model cannot forecast.
``metadata.json``
    Registry name, version, alias, run id, git commit, data version, feature spec hash,
    training and evaluation metrics, the global prior, history end and snapshot start.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.models.boosting import Forecaster

STATIC = ("stores.csv", "items.csv", "holidays_events.csv")
FORECASTER_FILES = ("model.json", "manifest.json", "intervals.json")


def write(folder, *, forecaster_dir, features_cfg: dict, history: pd.DataFrame,
          static: dict[str, pd.DataFrame], transactions: pd.DataFrame,
          priors: dict[str, pd.DataFrame], metadata: dict) -> Path:
    """Write a bundle into ``folder`` (created; must not hold another bundle)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FORECASTER_FILES:
        source = Path(forecaster_dir) / name
        if not source.exists():
            raise UserError(f"{source} is missing: the champion's run lacks its forecaster files "
                            "(train logs model.json and manifest.json, evaluate intervals.json)")
        shutil.copy(source, folder / name)
    (folder / "spec.json").write_text(json.dumps(features_cfg, indent=2) + "\n")
    history.to_parquet(folder / "history.parquet", index=False)
    for name in STATIC:
        static[name].to_csv(folder / name, index=False)
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    for level, frame in priors.items():
        frame.to_parquet(folder / f"priors_{level}.parquet", index=False)
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    return folder


@dataclass
class Bundle:
    forecaster: Forecaster
    spec: feature_spec.Spec
    widths: dict[str, dict[int, float]]
    history: pd.DataFrame
    static: dict[str, pd.DataFrame]
    transactions: pd.DataFrame
    priors: dict[str, pd.DataFrame]
    metadata: dict
    level: float = 1.0  # every model forecast x this (demandcast.models.level_correction)


def load(folder) -> Bundle:
    """Read a bundle; a missing file or a spec that disagrees with the model is a UserError."""
    folder = Path(folder)
    needed = [*FORECASTER_FILES, "spec.json", "history.parquet", *STATIC, "transactions.parquet",
              "metadata.json"]
    missing = [n for n in needed if not (folder / n).exists()]
    if missing:
        raise UserError(f"{folder} is not a complete serving bundle: {missing} missing "
                        "(the package stage writes it: dvc repro package)")
    spec = feature_spec.from_config(json.loads((folder / "spec.json").read_text()))
    manifest = json.loads((folder / "manifest.json").read_text())
    if manifest["spec_hash"] != spec.hash():
        raise UserError(f"{folder}: the model's features ({manifest['spec_hash']}) are not the "
                        f"bundle's spec ({spec.hash()}): repackage (dvc repro package)")
    calibration = json.loads((folder / "intervals.json").read_text())
    widths = calibration["widths"]
    history = pd.read_parquet(folder / "history.parquet")
    history["date"] = pd.to_datetime(history["date"])
    transactions = pd.read_parquet(folder / "transactions.parquet")
    return Bundle(
        forecaster=Forecaster.load(folder), spec=spec,
        widths={level: {int(h): float(q) for h, q in per.items()} for level, per in widths.items()},
        # a model evaluated before the level correction existed: its forecasts as they were
        level=float(calibration.get("level", 1.0)),
        history=history, static={n: pd.read_csv(folder / n) for n in STATIC},
        transactions=transactions,
        priors={level: pd.read_parquet(folder / f"priors_{level}.parquet") for level in spec.priors},
        metadata=json.loads((folder / "metadata.json").read_text()))
