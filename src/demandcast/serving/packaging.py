"""Packaging: what goes into the bento besides the code, and the bento build itself.

:func:`check_champion` refuses a champion of other data or another feature spec;
:func:`snapshot` gathers the serving snapshot (each series' recent history with its
earlier-start markers, the priors and a global mean for fallbacks, the static tables, the
transactions the snapshot's origins need); :func:`metadata` the provenance and limits;
:func:`build_bento` puts the written bundle (:mod:`demandcast.serving.bundle`) into a
BentoML model in a private store, runs ``bentoml build`` with ``bento/bentofile.yaml``
(which ships the ``demandcast`` library as a src-layout package) on a copy of the project's
``bento/`` and library outside any hidden folder (:func:`build_context`), and exports the archive.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from demandcast import config
from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.features.feature_spec import KEYS
from demandcast.models import dataset

BENTOFILE = "bento/bentofile.yaml"  # under the project root; built from a copy (build_context)
MODEL_NAME = "demandcast-forecaster"  # the BentoML model holding the bundle
ARCHIVE = "demandcast.bento"


def snapshot_days(cfg, spec: feature_spec.Spec) -> int:
    """Days of history packed: every lag and window of any origin from the test origin on."""
    days = cfg.serve.get("snapshot_days")
    return int(days) if days is not None else spec.test_days + spec.history_days


def history_snapshot(features_dir: Path, spec: feature_spec.Spec, first: dt.date,
                     prior_cutoff: dt.date) -> tuple[pd.DataFrame, float]:
    """The panel rows from ``first`` on, an earlier-start marker per series (see
    :mod:`demandcast.serving.bundle`), and the global prior (mean daily sales up to ``prior_cutoff``)."""
    recent = dataset.load_table(features_dir, spec, since=first, columns=["onpromotion"])
    recent = recent[[*KEYS, spec.target, "onpromotion"]]
    first_ts, cutoff_ts = pd.Timestamp(first), pd.Timestamp(prior_cutoff)
    earlier, total, count = [], 0.0, 0
    table = pads.dataset(str(features_dir), format="parquet", partitioning="hive",
                         exclude_invalid_files=True)
    stop = max(first_ts - pd.Timedelta(days=1), cutoff_ts)
    scanner = table.scanner(columns=["store_nbr", "item_nbr", "date", spec.target],
                            filter=pads.field("date") <= stop)
    for batch in scanner.to_batches():  # streamed: the whole table never sits in memory
        frame = batch.to_pandas()
        if frame.empty:
            continue
        dates = pd.to_datetime(frame["date"])
        before = frame.loc[dates < first_ts, ["store_nbr", "item_nbr"]]
        earlier.append(before.drop_duplicates())
        window = frame.loc[dates <= cutoff_ts, spec.target]
        total, count = total + float(window.sum()), count + len(window)
    marks = (pd.concat(earlier).drop_duplicates() if earlier
             else pd.DataFrame({"store_nbr": [], "item_nbr": []}))
    marks = marks.assign(date=first_ts - pd.Timedelta(days=1), **{spec.target: 0.0}, onpromotion=0)
    history = pd.concat([marks, recent], ignore_index=True).astype(
        {"store_nbr": np.int64, "item_nbr": np.int64, spec.target: np.float64, "onpromotion": np.int64})
    history["date"] = pd.to_datetime(history["date"]).astype("datetime64[us]")
    history = history.sort_values(list(KEYS), kind="stable").reset_index(drop=True)
    return history, (total / count if count else float("nan"))


def check_champion(best: dict, data_version: str, spec: feature_spec.Spec) -> None:
    """The champion must be a model of this data and this feature spec."""
    trained_on = best["tags"].get("data_version") or best["run_tags"].get("data_version")
    if trained_on != data_version:
        raise UserError(f"champion v{best['version']} was trained on data version {trained_on}, but "
                        f"data/ is {data_version}: its snapshot would not match its model; retrain "
                        "(dvc repro) so a model of this data becomes champion, or restore its data")
    if best["run_tags"].get("feature_spec_hash") != spec.hash():
        raise UserError(f"champion v{best['version']} uses feature spec "
                        f"{best['run_tags'].get('feature_spec_hash')}, conf/features gives {spec.hash()}: "
                        "retrain (dvc repro) or restore conf/features")


@dataclass
class Snapshot:
    """The serving snapshot's tables (see :mod:`demandcast.serving.bundle`)."""

    history: pd.DataFrame
    global_prior: float
    static: dict[str, pd.DataFrame]
    transactions: pd.DataFrame
    priors: dict[str, pd.DataFrame]
    first: dt.date
    end: dt.date


def snapshot(cfg, spec: feature_spec.Spec, features_dir: Path) -> Snapshot:
    """Recent history, priors, static tables and the transactions the snapshot's origins need."""
    end = dt.date.fromisoformat(str(cfg.data.end))
    first = end - dt.timedelta(days=snapshot_days(cfg, spec) - 1)
    prior_cutoff = end - dt.timedelta(days=spec.test_days + spec.valid_days)
    history, global_prior = history_snapshot(features_dir, spec, first, prior_cutoff)
    static = dataset.read_static(cfg.paths.data, cfg.data)
    tx = static.pop("transactions.csv")
    tx_since = pd.Timestamp(first) - pd.Timedelta(days=spec.tx_lag + spec.tx_window)
    tx = tx[pd.to_datetime(tx["date"]) >= tx_since].reset_index(drop=True)
    return Snapshot(history, global_prior, static, tx, dataset.read_priors(features_dir, spec), first, end)


def metadata(cfg, best: dict, snap: Snapshot, data_version: str, spec: feature_spec.Spec) -> dict:
    """The bundle's provenance and limits (``metadata.json``; ``GET /metadata`` shows it)."""
    return {
        "model_name": best["name"], "model_version": best["version"], "alias": best["alias"],
        "run_id": best["run_id"], "git_commit": best["tags"].get("git_commit")
        or best["run_tags"].get("git_commit", "unknown"),
        "data_version": data_version, "feature_spec_hash": spec.hash(),
        "training_metrics": {k: v for k, v in sorted(best["metrics"].items())},
        "test_window": json.loads(best["tags"].get("test_window", "null")),
        "history_end": str(snap.end), "snapshot_start": str(snap.first), "global_prior": snap.global_prior,
        "series": int(snap.history[["store_nbr", "item_nbr"]].drop_duplicates().shape[0]),
        "max_horizon": int(cfg.serve.max_horizon), "packaged_at": dt.datetime.now(dt.UTC).isoformat(),
        "serve": {k: int(cfg.serve[k]) for k in ("max_series", "max_history_days", "max_body_bytes")},
    }


def feature_config(cfg) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg.features, resolve=True)


def build_context(root: Path, dest: Path) -> Path:
    """A copy of what ``bento/bentofile.yaml`` includes (``bento/`` and the library's modules),
    for ``bentoml build`` to read: it refuses a context under a hidden folder, such as the
    ``.dvc/tmp/exps/...`` copy DVC runs a queued or ``--temp`` experiment in, so ``dest``
    must not be under one."""
    hidden = [part for part in dest.resolve().parts if part.startswith(".") and part not in (".", "..")]
    if hidden:
        raise UserError(f"the bento build folder {dest} is under a hidden folder ({hidden[0]}), which "
                        "bentoml refuses: set TMPDIR to a folder without a leading dot in its path")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(root / "bento", dest / "bento", ignore=shutil.ignore_patterns("__pycache__"))
    library = root / "src" / "demandcast"
    for path in sorted(library.rglob("*.py")):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def build_bento(folder: Path, metadata: dict, archive: Path, home: Path) -> dict:
    """Bundle -> BentoML model -> ``bentoml build`` -> exported archive, in a private store."""
    os.environ["BENTOML_HOME"] = str(home)  # read when bentoml is first imported
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    import bentoml
    from bentoml._internal.configuration.containers import BentoMLContainer

    if Path(BentoMLContainer.bentoml_home.get()).resolve() != home.resolve():
        raise UserError("bentoml was imported before the package stage chose its store; "
                        "run the stage as `python -m stages.package`")
    labels = {"registry_version": str(metadata["model_version"]), "alias": metadata["alias"],
              "data_version": metadata["data_version"][:63]}
    with bentoml.models.create(MODEL_NAME, labels=labels, metadata={
            k: v for k, v in metadata.items() if k != "training_metrics"}) as model:
        for path in folder.iterdir():
            shutil.copy(path, Path(model.path) / path.name)
    os.environ["DEMANDCAST_BENTO_MODEL"] = str(model.tag)
    context = build_context(config.root(), home.parent / "context")
    try:
        bento = bentoml.bentos.build_bentofile(str(context / BENTOFILE), build_ctx=str(context))
    except Exception as exc:
        raise UserError(f"bentoml build with {BENTOFILE} failed: {exc!r}") from exc
    archive.parent.mkdir(parents=True, exist_ok=True)
    bentoml.export_bento(bento.tag, str(archive.resolve()))
    return {"bento": str(bento.tag), "bentoml_model": str(model.tag)}
