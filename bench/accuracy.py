"""Benchmark: accuracy on several generated retailers, each through the real pipeline.

    uv run python bench/accuracy.py [--only NAME ...] [--set KEY=VALUE ...] [--keep DIR] [--report PATH]

One demo data set can flatter a model, so this runs the pipeline on the configurations in
``CONFIGS``, fixed before any of them was run (no choosing by result; the report lists them
all). For each: copy this checkout into a scratch folder, compose its ``params.yaml`` from
``conf/`` with the configuration's Hydra overrides (DVC's own ``compose_and_dump``, what
``dvc exp run -S`` does), generate the data there (``demandcast generate``), run
``dvc repro evaluate`` (validate, features, tune, train, evaluate) and read the stage's
``reports/metrics.json``. Then the peer of ``bench/peer.py`` (mlforecast + LightGBM, fit on
every row up to the test origin) forecasts the same 28 days and is scored on the evaluate
stage's own test cells (``artifacts/evaluation/forecasts.parquet``).

Configurations (everything else is the demo preset, ``tune=demo``: 5 Optuna trials):

========= ==== ================ ======================= ======================================
name      seed stores x items   history                 test window (the last 28 days)
========= ==== ================ ======================= ======================================
spring       7 8 x 120          2022-01-01..2024-03-31  2024-03-04..03-31: no national holiday
autumn     123 14 x 80          2021-07-01..2023-09-30  2023-09-03..09-30: Labor Day
christmas 2024 6 x 150          2021-10-01..2023-12-31  2023-12-04..12-31: Christmas Day, when
                                                        every store is closed, and its run-up
========= ==== ================ ======================= ======================================

All three set ``evaluate.folds=1`` (the backtest's refits are not part of these figures)
and lower ``validate``'s row-count floor to fit the smaller data. Target (issue 15): test
WAPE / oracle WAPE over horizons 1..28 at most 1.12 on average and at most 1.15 in every
configuration. Beside it, the *state-aware* forecast's WAPE / oracle (bench/ceiling.py): the
generator's own parameters and today's latent demand state, known exactly; the floor no model
of the mean can go below, since the oracle also knows the state's future shocks. Figures:
reports/bench_accuracy.json.

A trial of a change to the defaults (``--set model.train_days=null``: Hydra overrides added
last to every configuration, so they win) or of some configurations only (``--only``) is
not the benchmark: it writes its figures only where ``--report`` says.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ceiling import state_aware
from evaldata import ROOT, load
from peer import peer_forecast
from pipeline import checkout, repro

COMMON = ("evaluate.folds=1", "data.rows.min=50000")
CONFIGS = {
    "spring": {"seed": 7, "data.n_stores": 8, "data.n_items": 120,
               "data.start": "2022-01-01", "data.end": "2024-03-31"},
    "autumn": {"seed": 123, "data.n_stores": 14, "data.n_items": 80,
               "data.start": "2021-07-01", "data.end": "2023-09-30"},
    "christmas": {"seed": 2024, "data.n_stores": 6, "data.n_items": 150,
                  "data.start": "2021-10-01", "data.end": "2023-12-31"},
}
TARGET_MEAN, TARGET_EACH = 1.12, 1.15
AVERAGED = ("wape_model_to_oracle", "state_aware_wape_to_oracle", "wape_model_to_seasonal_naive", "bias",
            "coverage_0.80", "coverage_0.95", "peer_wape_to_oracle", "wape_model_to_peer")


def overrides(name: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The configuration's Hydra overrides; ``extra`` last, so Hydra lets them win."""
    return [*(f"{k}={v}" for k, v in CONFIGS[name].items()), f"data.name=bench_{name}", *COMMON, *extra]


def run_config(name: str, work: Path, extra: tuple[str, ...] = ()) -> dict:
    """The pipeline on one configuration in ``work``, then the peer on its test cells."""
    import pandas as pd
    from dvc.utils.hydra import compose_and_dump

    from demandcast import jsonio
    from demandcast.models import dataset, metrics

    checkout(work, data=False)
    for tracked in ("data.dvc", "dvc.lock"):  # the demo's data and results: not this world's
        (work / tracked).unlink(missing_ok=True)
    compose_and_dump(work / "params.yaml", str(work / "conf"), None, "config", str(work),
                     overrides(name, extra))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DEMANDCAST_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    began = time.perf_counter()
    made = subprocess.run([sys.executable, "-m", "demandcast", "generate"], cwd=work, env=env, text=True,
                          capture_output=True)
    if made.returncode != 0:
        raise SystemExit(f"generate failed in {work}: {made.stderr.strip()}")
    print(made.stdout.strip())
    generate_s = time.perf_counter() - began
    stages, repro_s = repro(work, env, "evaluate")

    read = lambda rel: jsonio.loads_strict((work / rel).read_text())  # noqa: E731
    test, evaluation = read("reports/metrics.json")["test"], read("reports/evaluation.json")
    ctx = load(root=work)
    fold = dataset.fold(ctx.cfg.data.end, ctx.spec, ctx.cfg.model, int(ctx.cfg.evaluate.horizon), 0)
    cells = pd.read_parquet(work / "artifacts" / "evaluation" / "forecasts.parquet")
    cells["date"] = cells["date"].astype(ctx.table["date"].dtype)
    cells["peer"], peer_s = peer_forecast(ctx, fold, cells)
    peer = metrics.scores(cells["actual"], cells["peer"])
    floor = metrics.scores(cells["actual"], state_aware(cells, ctx.cfg, fold.origin))
    closed = cells.groupby("date")["actual"].sum()
    return {"overrides": overrides(name, extra), "seed": int(ctx.cfg.seed),
            "stores_x_items": [int(ctx.cfg.data.n_stores), int(ctx.cfg.data.n_items)],
            "history": [str(ctx.cfg.data.start), str(ctx.cfg.data.end)],
            "test_window": evaluation["test_window"], "series_scored": evaluation["series_scored"],
            "cells": len(cells), "days_without_sales": [str(d.date()) for d in closed.index[closed == 0]],
            "wape": test["wape"], "wape_oracle": test["wape_oracle"],
            "wape_seasonal_naive": test["wape_seasonal_naive"],
            "wape_model_to_oracle": test["wape_model_to_oracle"],
            # the best any model of the mean could do (bench/ceiling.py): the floor under the above
            "state_aware_wape_to_oracle": metrics.ratio(floor["wape"], test["wape_oracle"]),
            "wape_model_to_seasonal_naive": test["wape_model_to_seasonal_naive"],
            # sum of errors / sum of actuals: WAPE can be bought with a low forecast (a median
            # beats the mean on absolute error for skewed demand), so the report shows both
            "bias": test["bias"],
            "coverage_0.80": test["coverage_0.80"], "coverage_0.95": test["coverage_0.95"],
            "peer_wape": peer["wape"],
            "peer_wape_to_oracle": metrics.ratio(peer["wape"], test["wape_oracle"]),
            "wape_model_to_peer": metrics.ratio(test["wape"], peer["wape"]),
            "seconds": {"generate": round(generate_s, 1), "dvc_repro": round(repro_s, 1), "stages": stages,
                        "peer": round(peer_s, 1)}}


def summarize(results: dict[str, dict]) -> dict:
    """Means over the configurations that ran, the worst WAPE / oracle, and the targets; a
    configuration that failed (``error``) or has no oracle leaves the targets unmet."""
    ran = {n: r for n, r in results.items() if "error" not in r}
    mean = {k: (sum(r[k] for r in ran.values()) / len(ran)
                if ran and all(r[k] is not None for r in ran.values()) else None) for k in AVERAGED}
    ratios = [r["wape_model_to_oracle"] for r in ran.values()]
    worst = max(ratios) if ratios and None not in ratios else None
    complete = len(ran) == len(results) and worst is not None
    return {"mean": mean, "max_wape_model_to_oracle": worst,
            "failed": sorted(set(results) - set(ran)),
            "targets": {"mean_wape_model_to_oracle_at_most": TARGET_MEAN,
                        "each_wape_model_to_oracle_at_most": TARGET_EACH,
                        "mean_met": complete and mean["wape_model_to_oracle"] <= TARGET_MEAN,
                        "each_met": complete and worst <= TARGET_EACH}}


def table(results: dict[str, dict], summary: dict) -> str:
    cols = ("wape", "wape_oracle", "wape_model_to_oracle", "state_aware_wape_to_oracle",
            "wape_model_to_seasonal_naive", "bias",
            "coverage_0.80", "coverage_0.95", "peer_wape", "peer_wape_to_oracle", "wape_model_to_peer")
    heads = ("WAPE", "oracle", "/oracle", "floor", "/s.naive", "bias", "cov80", "cov95", "peer", "peer/orc",
             "ours/peer")
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    lines = [f"{'config':<10} {'test window':<23} " + " ".join(f"{h:>9}" for h in heads)]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:<10} failed: {r['error'].splitlines()[0]}")
            continue
        lines.append(f"{name:<10} {' .. '.join(r['test_window']):<23} "
                     + " ".join(f"{fmt(r[c]):>9}" for c in cols))
    mean = summary["mean"]
    lines.append(f"{'mean':<10} {'':<23} " + " ".join(f"{fmt(mean.get(c)):>9}" for c in cols))
    t, met = summary["targets"], lambda ok: "met" if ok else "not met"  # noqa: E731
    lines.append(f"target: mean WAPE/oracle <= {TARGET_MEAN} ({met(t['mean_met'])}), each <= {TARGET_EACH} "
                 f"(worst {fmt(summary['max_wape_model_to_oracle'])}: {met(t['each_met'])})")
    return "\n".join(lines)


def main() -> None:
    from demandcast import jsonio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), help="run only these configurations")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="Hydra overrides for every configuration (a trial of other defaults)")
    parser.add_argument("--keep", type=Path, help="run in this folder (one per config), keep it")
    parser.add_argument("--report", type=Path,
                        help="write the figures here (default: reports/bench_accuracy.json, full runs only)")
    args = parser.parse_args()
    extra = tuple(args.set)
    trial = bool(args.only or extra)
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-accuracy-"))
    results, began = {}, time.perf_counter()
    for name in args.only or CONFIGS:
        print(f"== {name}: {' '.join(overrides(name, extra))}", flush=True)
        work = base / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            results[name] = run_config(name, work, extra)
        except SystemExit as exc:  # one broken configuration is reported, the others still run
            results[name] = {"overrides": overrides(name, extra), "error": str(exc)}
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(results)
    report = {"cores": os.cpu_count(), "seconds": round(time.perf_counter() - began, 1),
              "common": list(COMMON), "set": list(extra), "configurations": results, "summary": summary}
    print(table(results, summary))
    if trial and args.report is None:
        print("a trial (--only or --set): no report written; --report PATH writes one")
    else:
        out = jsonio.write(args.report or ROOT / "reports" / "bench_accuracy.json", report)
        print(f"wrote {out}")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
