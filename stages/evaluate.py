"""evaluate: recursive 1..H-day forecasts from each origin, scored as serving would be.

``python -m stages.evaluate [key=value ...]``. The method is
:mod:`demandcast.models.evaluation`'s: the test window and a rolling-origin backtest against
seasonal naive, a 28-day moving average and the ground-truth oracle, with conformal
intervals. Writes ``reports/metrics.json`` (DVC metrics), ``reports/evaluation.json``, plot
data under ``reports/plots/``, and ``artifacts/evaluation/`` (test-origin forecasts and
interval widths, which serving uses); adds the metrics to the train stage's MLflow run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from demandcast.cli import run_stage
from demandcast.models import evaluation
from demandcast.tracking import runs


def run(cfg) -> dict:
    artifacts, reports = Path(str(cfg.paths.artifacts)), Path(str(cfg.paths.reports))
    ev = evaluation.evaluate(cfg)
    headline = evaluation.headline(ev.result)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "metrics.json").write_text(json.dumps(headline, indent=2) + "\n")
    (reports / "evaluation.json").write_text(json.dumps(ev.result, indent=2, default=str) + "\n")
    plots = reports / "plots"
    if plots.exists():
        shutil.rmtree(plots)
    (plots / "forecasts").mkdir(parents=True)
    for name, table in evaluation.plot_tables(ev, int(cfg.seed), int(cfg.evaluate.sample_series)).items():
        table.to_csv(plots / name, index=False)

    out = artifacts / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "intervals.json").write_text(json.dumps({"method": "conformal, |y - f| / sqrt(1 + f) per horizon",
                                                    "widths": ev.widths}, indent=2) + "\n")
    ev.cells.to_parquet(out / "forecasts.parquet", index=False)
    runs.log_evaluation(cfg, headline, artifacts, reports)
    return ev.result


def main(argv=None) -> int:
    def body(cfg) -> None:
        r = run(cfg)
        t = r["test"]
        cov = ", ".join(f"{lvl}: {c:.3f}" for lvl, c in t["coverage"].items())
        print(f"evaluate: test {r['test_window'][0]}..{r['test_window'][1]}, {r['series_scored']} series; "
              f"WAPE model {t['model']['wape']:.3f}, seasonal naive {t['seasonal_naive']['wape']:.3f}, "
              f"oracle {t['oracle']['wape']:.3f}; coverage {cov} -> {cfg.paths.reports}/metrics.json")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
