"""tune: an Optuna study over XGBoost parameters, stored so a stopped sweep resumes.

``python -m stages.tune [key=value ...]`` (``tune=full`` for 250 trials). The study is in
SQLite at ``artifacts/optuna/studies.db`` (see :mod:`demandcast.models.tuning`); writes
``artifacts/tune/best_params.json`` (the train stage refits with them: on every series,
when ``tune.series_share`` tuned on a sample of them) and
``artifacts/tune/trials.csv`` (both the same bytes for the same study: no clock, no run id).
"""

from __future__ import annotations

import logging
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.features import feature_spec
from demandcast.models import dataset, streaming, tuning

VARYING = ("mlflow_run", "ran_now")


def run(cfg, show_progress: bool = True) -> dict:
    spec = feature_spec.from_config(cfg.features)
    artifacts = Path(str(cfg.paths.artifacts))
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon))
    features = artifacts / "features"
    share = cfg.tune.get("series_share")
    if share is None:
        table = dataset.load_table(features, spec, since=fold.train_start)
    else:  # the sampled series' rows only, read a month file at a time
        series = streaming.sample_series(features, spec, fold, share, int(cfg.seed))
        table = streaming.load(features, spec, fold.train_start, fold.origin, series=series)
    train, valid = dataset.windows(table, fold)
    train = tuning.sample(train, cfg.tune.trial_rows, int(cfg.seed))
    storage = artifacts / tuning.STUDIES
    study = tuning.open_study(cfg, tuning.study_name(cfg, spec, fold), storage)
    summary = tuning.optimize(cfg, study, train, valid, spec, dataset.read_manifest(artifacts / "features"),
                              show_progress)
    summary = {"study": summary.pop("study"), "storage": str(storage), **summary}
    out = artifacts / "tune"
    out.mkdir(parents=True, exist_ok=True)
    # What varies between two runs of the same study (the run id, how many trials ran now
    # rather than earlier, the clock) stays out of the DVC-hashed files.
    jsonio.write(out / "best_params.json", {k: v for k, v in summary.items() if k not in VARYING})
    trials = study.trials_dataframe()
    trials.drop(columns=[c for c in trials.columns if c.startswith(("datetime_", "duration"))]).to_csv(
        out / "trials.csv", index=False)
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
