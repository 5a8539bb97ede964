"""evaluate: recursive 1..H-day forecasts from each origin, scored as serving would be.

``python -m stages.evaluate [key=value ...]``. The method is
:mod:`demandcast.models.evaluation`'s: the test window and a rolling-origin backtest against
seasonal naive, a 28-day moving average and, when the data has ground truth, the oracle,
with the level correction and conformal intervals. Writes ``reports/metrics.json`` (DVC metrics),
``reports/evaluation.json``, plot data under ``reports/plots/`` (all only once everything
is computed, so a failure leaves the previous reports in place), and
``artifacts/evaluation/`` (test-origin forecasts; the interval widths and level factor, which serving uses);
adds the metrics to the train stage's MLflow run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.models import evaluation
from demandcast.tracking import runs


def write_plots(tables: dict, plots: Path) -> None:
    """Replace ``plots/`` with the tables (CSV), swapping a complete new folder in."""
    staging = Path(tempfile.mkdtemp(prefix=".plots-", dir=plots.parent))
    for name, table in tables.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(staging / name, index=False)
    old = plots.with_name(".plots-old")
    shutil.rmtree(old, ignore_errors=True)
    if plots.exists():
        plots.rename(old)
    staging.rename(plots)
    shutil.rmtree(old, ignore_errors=True)


def run(cfg) -> dict:
    artifacts, reports = Path(str(cfg.paths.artifacts)), Path(str(cfg.paths.reports))
    ev = evaluation.evaluate(cfg)
    headline = evaluation.headline(ev.result)
    tables = evaluation.plot_tables(ev, int(cfg.seed), int(cfg.evaluate.sample_series))
    out = artifacts / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    jsonio.write(out / "intervals.json", {"method": "conformal, |y - f| / sqrt(1 + f) per horizon",
                                          "widths": ev.widths, "level": ev.level})
    ev.cells.to_parquet(out / "forecasts.parquet", index=False)
    reports.mkdir(parents=True, exist_ok=True)
    write_plots(tables, reports / "plots")
    jsonio.write(reports / "evaluation.json", ev.result)
    jsonio.write(reports / "metrics.json", headline)
    runs.log_evaluation(cfg, headline, artifacts, reports)
    return ev.result


def main(argv=None) -> int:
    def body(cfg) -> None:
        r = run(cfg)
        t = r["test"]
        cov = ", ".join(f"{lvl}: {_num(c)}" for lvl, c in t["coverage"].items())
        oracle = f"{t['oracle']['wape']:.3f}" if r["oracle"]["included"] else "omitted (no ground truth)"
        print(f"evaluate: test {r['test_window'][0]}..{r['test_window'][1]}, {r['series_scored']} series; "
              f"WAPE model {_num(t['model']['wape'])}, seasonal naive {_num(t['seasonal_naive']['wape'])}, "
              f"moving average {_num(t['moving_average_28']['wape'])}, oracle {oracle}; coverage {cov}; "
              f"level x{r['level']['factor']:.3f} -> {cfg.paths.reports}/metrics.json")

    return run_stage(body, argv)


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
