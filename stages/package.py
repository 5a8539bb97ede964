"""Package stage: the registry's champion and a serving snapshot become a versioned bento.

``python -m stages.package [key=value ...]``. Takes the ``champion`` version of
``mlflow.model_name`` (its booster, manifest and conformal widths from its MLflow run),
checks that it was trained on the current data and feature spec, writes the serving
bundle (:mod:`stages.bundle`: recent history, priors, static tables, metadata) into a
BentoML model, runs ``bentoml build`` with ``bento/bentofile.yaml`` and exports the bento
to ``artifacts/package/demandcast.bento`` (a DVC output). The BentoML store used for
building is a private one under ``artifacts/package/.bentoml`` (deleted afterwards) so the
stage never depends on, or changes, a user's ``~/bentoml``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from stages import bundle, dataset, feature_spec, tracking
from stages.errors import UserError
from stages.feature_spec import KEYS
from stages.register import CHAMPION

ROOT = Path(__file__).resolve().parent.parent
BENTOFILE = ROOT / "bento" / "bentofile.yaml"
MODEL_NAME = "demandcast-forecaster"  # the BentoML model holding the bundle
ARCHIVE = "demandcast.bento"


def snapshot_days(cfg, spec: feature_spec.Spec) -> int:
    """Days of history packed: every lag and window of any origin from the test origin on."""
    days = cfg.serve.get("snapshot_days")
    return int(days) if days is not None else spec.test_days + spec.history_days


def history_snapshot(features_dir: Path, spec: feature_spec.Spec, first: dt.date,
                     prior_cutoff: dt.date) -> tuple[pd.DataFrame, float]:
    """The panel rows from ``first`` on, an earlier-start marker per series (see
    :mod:`stages.bundle`), and the global prior (mean daily sales up to ``prior_cutoff``)."""
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


def champion(cfg) -> dict:
    """The champion's registry version, run, tags and metrics (a UserError when there is none)."""
    mlflow = tracking.setup(cfg)
    client = mlflow.MlflowClient()
    name = str(cfg.mlflow.model_name)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except Exception:
        raise UserError(f"the MLflow registry at {tracking.tracking_uri(cfg)} has no {CHAMPION!r} "
                        f"version of {name!r}: run the register stage (dvc repro register); a model "
                        "becomes champion only when it passes the gates in conf register") from None
    run = client.get_run(version.run_id)
    return {"name": name, "version": int(version.version), "alias": CHAMPION, "run_id": version.run_id,
            "tags": dict(version.tags), "run_tags": dict(run.data.tags),
            "metrics": dict(run.data.metrics), "mlflow": mlflow}


def run(cfg) -> dict:
    spec = feature_spec.from_config(cfg.features)
    artifacts = Path(str(cfg.paths.artifacts))
    features_dir = artifacts / "features"
    dataset.check_spec(dataset.read_manifest(features_dir), spec, str(features_dir))
    best = champion(cfg)
    mlflow = best.pop("mlflow")
    data_version = tracking.data_version()
    trained_on = best["tags"].get("data_version") or best["run_tags"].get("data_version")
    if trained_on != data_version:
        raise UserError(f"champion v{best['version']} was trained on data version {trained_on}, but "
                        f"data/ is {data_version}: its snapshot would not match its model; retrain "
                        "(dvc repro) so a model of this data becomes champion, or restore its data")
    if best["run_tags"].get("feature_spec_hash") != spec.hash():
        raise UserError(f"champion v{best['version']} uses feature spec "
                        f"{best['run_tags'].get('feature_spec_hash')}, conf/features gives {spec.hash()}: "
                        "retrain (dvc repro) or restore conf/features")

    end = dt.date.fromisoformat(str(cfg.data.end))
    days = snapshot_days(cfg, spec)
    first = end - dt.timedelta(days=days - 1)
    prior_cutoff = end - dt.timedelta(days=spec.test_days + spec.valid_days)
    history, global_prior = history_snapshot(features_dir, spec, first, prior_cutoff)
    static = dataset.read_static(cfg.paths.data)
    tx = static.pop("transactions.csv")
    tx_since = pd.Timestamp(first) - pd.Timedelta(days=spec.tx_lag + spec.tx_window)
    tx = tx[pd.to_datetime(tx["date"]) >= tx_since].reset_index(drop=True)

    out = artifacts / "package"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        forecaster_dir = Path(mlflow.artifacts.download_artifacts(
            run_id=best["run_id"], artifact_path="forecaster", dst_path=tmp))
        metadata = {
            "model_name": best["name"], "model_version": best["version"], "alias": best["alias"],
            "run_id": best["run_id"], "git_commit": best["tags"].get("git_commit")
            or best["run_tags"].get("git_commit", "unknown"),
            "data_version": data_version, "feature_spec_hash": spec.hash(),
            "training_metrics": {k: v for k, v in sorted(best["metrics"].items())},
            "test_window": json.loads(best["tags"].get("test_window", "null")),
            "history_end": str(end), "snapshot_start": str(first), "global_prior": global_prior,
            "series": int(history[["store_nbr", "item_nbr"]].drop_duplicates().shape[0]),
            "max_horizon": int(cfg.serve.max_horizon), "packaged_at": dt.datetime.now(dt.UTC).isoformat(),
            "serve": {k: int(cfg.serve[k]) for k in ("max_series", "max_history_days", "max_body_bytes")},
        }
        folder = bundle.write(Path(tmp) / "bundle", forecaster_dir=forecaster_dir,
                              features_cfg=feature_config(cfg), history=history, static=static,
                              transactions=tx, priors=dataset.read_priors(features_dir, spec),
                              metadata=metadata)
        tags = build_bento(folder, metadata, out / ARCHIVE, Path(tmp) / "bentoml")
    summary = {**tags, "archive": str(out / ARCHIVE), **{k: metadata[k] for k in (
        "model_name", "model_version", "alias", "data_version", "feature_spec_hash", "history_end",
        "snapshot_start", "series")}}
    (out / "package.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def feature_config(cfg) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg.features, resolve=True)


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
    try:
        bento = bentoml.bentos.build_bentofile(str(BENTOFILE), build_ctx=str(ROOT))
    except Exception as exc:
        raise UserError(f"bentoml build with {BENTOFILE.relative_to(ROOT)} failed: {exc!r}") from exc
    archive.parent.mkdir(parents=True, exist_ok=True)
    bentoml.export_bento(bento.tag, str(archive.resolve()))
    return {"bento": str(bento.tag), "bentoml_model": str(model.tag)}


def main(argv=None) -> int:
    from stages.cli import run_stage

    def body(cfg) -> None:
        s = run(cfg)
        print(f"package: {s['model_name']} v{s['model_version']} ({s['alias']}), {s['series']:,} series "
              f"of history to {s['history_end']} -> bento {s['bento']} -> {s['archive']}")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
