"""tune: an Optuna study over XGBoost parameters, stored so a stopped sweep resumes.

``python -m stages.tune [key=value ...]`` (``tune=full`` for 250 trials). The study is in
SQLite at ``artifacts/optuna/studies.db`` (see :mod:`demandcast.models.tuning`); writes
``artifacts/tune/best_params.json`` (the train stage refits with them) and
``artifacts/tune/trials.csv``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from demandcast.cli import run_stage
from demandcast.features import feature_spec
from demandcast.models import dataset, tuning


def run(cfg, show_progress: bool = True) -> dict:
    spec = feature_spec.from_config(cfg.features)
    artifacts = Path(str(cfg.paths.artifacts))
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon))
    table = dataset.load_table(artifacts / "features", spec, since=fold.train_start)
    train, valid = dataset.windows(table, fold)
    train = tuning.sample(train, cfg.tune.trial_rows, int(cfg.seed))
    storage = artifacts / tuning.STUDIES
    study = tuning.open_study(cfg, tuning.study_name(cfg, spec, fold), storage)
    summary = tuning.optimize(cfg, study, train, valid, spec, dataset.read_manifest(artifacts / "features"),
                              show_progress)
    summary = {"study": summary.pop("study"), "storage": str(storage), **summary}
    out = artifacts / "tune"
    out.mkdir(parents=True, exist_ok=True)
    (out / "best_params.json").write_text(json.dumps(summary, indent=2) + "\n")
    study.trials_dataframe().to_csv(out / "trials.csv", index=False)
    return summary


def main(argv=None) -> int:
    def body(cfg) -> None:
        logging.getLogger("optuna").setLevel(logging.WARNING)
        s = run(cfg)
        print(f"tune: study {s['study']}: {s['n_trials']} trials, {s['completed']} complete and "
              f"{s['n_trials'] - s['completed']} pruned or failed ({s['ran_now']} run now), "
              f"best #{s['best_trial']} -> {cfg.paths.artifacts}/tune/best_params.json")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
