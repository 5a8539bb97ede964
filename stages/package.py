"""package: the registry's champion and a serving snapshot become a versioned bento.

``python -m stages.package [key=value ...]``. Takes the version to serve: the ``champion`` of
``mlflow.model_name``, or in a DVC experiment the experiment's own version
(:func:`demandcast.tracking.registry.to_serve`); its booster, manifest and conformal widths
come from its MLflow run. Checks it was trained on the current data and feature spec,
writes the serving bundle
(:mod:`demandcast.serving.bundle`) into a BentoML model, runs ``bentoml build`` with
``bento/bentofile.yaml`` and exports ``artifacts/package/demandcast.bento`` (a DVC output).
The BentoML store used for building is a private, temporary one, so the stage never
depends on, or changes, a user's ``~/bentoml``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.features import feature_spec
from demandcast.models import dataset
from demandcast.serving import bundle, packaging
from demandcast.tracking import registry, runs


def run(cfg) -> dict:
    spec = feature_spec.from_config(cfg.features)
    artifacts = Path(str(cfg.paths.artifacts))
    features_dir = artifacts / "features"
    dataset.check_spec(dataset.read_manifest(features_dir), spec, str(features_dir))
    decision = Path(str(cfg.paths.reports)) / "registry.json"
    best = registry.to_serve(cfg, json.loads(decision.read_text()) if decision.exists() else None)
    mlflow = best.pop("mlflow")
    data_version = runs.data_version()
    packaging.check_champion(best, data_version, spec)
    snap = packaging.snapshot(cfg, spec, features_dir)

    out = artifacts / "package"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # Outside the project: bentoml refuses to build under a hidden folder such as .dvc/tmp/.
    with tempfile.TemporaryDirectory(prefix="demandcast-package-") as tmp:
        forecaster_dir = Path(mlflow.artifacts.download_artifacts(
            run_id=best["run_id"], artifact_path="forecaster", dst_path=tmp))
        metadata = packaging.metadata(cfg, best, snap, data_version, spec)
        folder = bundle.write(Path(tmp) / "bundle", forecaster_dir=forecaster_dir,
                              features_cfg=packaging.feature_config(cfg), history=snap.history,
                              static=snap.static, transactions=snap.transactions, priors=snap.priors,
                              metadata=metadata)
        tags = packaging.build_bento(folder, metadata, out / packaging.ARCHIVE, Path(tmp) / "bentoml")
    summary = {**tags, "archive": str(out / packaging.ARCHIVE), **{k: metadata[k] for k in (
        "model_name", "model_version", "alias", "data_version", "feature_spec_hash", "history_end",
        "snapshot_start", "series")}}
    jsonio.write(out / "package.json", summary)
    return summary


def main(argv=None) -> int:
    def body(cfg) -> None:
        s = run(cfg)
        print(f"package: {s['model_name']} v{s['model_version']} ({s['alias']}), {s['series']:,} series "
              f"of history to {s['history_end']} -> bento {s['bento']} -> {s['archive']}")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
