"""Benchmark: the monitor stage on 100,000 and 1,000,000 logged predictions (forecast days).

    uv run python bench/monitor.py [--sizes 100000 1000000] [--out DIR]

Needs the demo pipeline's artifacts (``make run``): the feature table, the model, the
evaluation report and ``data/train.csv``. For each size it writes prediction logs in the
service's record format through the service's own writer (:class:`PredictionLog`): 28-day
forecasts of every demo series from successive origins inside the history, the features of
each day taken from the feature table, the forecast from the model, conformal intervals
from the evaluation, so the actuals in ``data/train.csv`` match every one. Then it runs
``python -m stages.monitor monitor=live`` on them in a child process (peak memory is the
child's own) and writes wall time, peak RSS and the log size to reports/bench_monitor.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HORIZON = 28
LOG_DAY = dt.date(2026, 1, 15)  # the day the synthetic logs say they were served


def write_logs(folder: Path, predictions: int) -> dict:
    """``predictions`` forecast days as the service logs them, into ``folder``."""
    from demandcast import config
    from demandcast.features import feature_spec
    from demandcast.models import boosting, conformal, dataset
    from demandcast.serving.prediction_log import PredictionLog

    cfg = config.load()
    spec = feature_spec.from_config(cfg.features)
    artifacts = ROOT / str(cfg.paths.artifacts)
    forecaster = boosting.Forecaster.load(artifacts / "model")
    names = forecaster.names
    widths = json.loads((artifacts / "evaluation" / "intervals.json").read_text())["widths"]
    widths = {level: {int(h): float(w) for h, w in per.items()} for level, per in widths.items()}
    records = -(-predictions // HORIZON)
    end = pd.Timestamp(str(cfg.data.end))
    series = dataset.load_table(artifacts / "features", spec, since=end - pd.Timedelta(days=HORIZON),
                                columns=["store_nbr"])[["store_nbr", "item_nbr"]].drop_duplicates()
    origins = -(-records // len(series))
    first = end - pd.Timedelta(days=HORIZON + origins - 1)
    table = dataset.load_table(artifacts / "features", spec, since=first)
    table = table.set_index(["store_nbr", "item_nbr", "date"]).sort_index()
    log = PredictionLog(folder, batch_size=512, flush_seconds=0.5)
    stamp = f"{LOG_DAY.isoformat()}T12:00:00+00:00"
    written = 0
    for k in range(origins):
        origin = end - pd.Timedelta(days=HORIZON + k)
        days = pd.date_range(origin + pd.Timedelta(days=1), periods=HORIZON, freq="D")
        keys = pd.MultiIndex.from_tuples([(s, i, d) for s, i in series.itertuples(index=False) for d in days],
                                         names=["store_nbr", "item_nbr", "date"])
        rows = table.reindex(keys).reset_index()
        x = rows[names].to_numpy(np.float64)
        f = forecaster.predict_matrix(x)
        bands = conformal.intervals(f, np.tile(np.arange(1, HORIZON + 1), len(series)), widths)
        for j, (store, item) in enumerate(series.itertuples(index=False)):
            if written >= records:
                break
            part = slice(j * HORIZON, (j + 1) * HORIZON)
            outputs = {"store_nbr": int(store), "item_nbr": int(item), "dates": [d.date() for d in days],
                       "forecast": f[part]}
            for level, (lo, hi) in bands.items():
                outputs[f"lower_{round(float(level) * 100)}"] = lo[part]
                outputs[f"upper_{round(float(level) * 100)}"] = hi[part]
            log.write({"request_id": f"bench-{k}-{j}", "timestamp": stamp, "endpoint": "forecast",
                       "model_version": "demandcast-xgboost/bench", "latency_ms": 1.0,
                       "series": [int(store), int(item)],
                       "inputs": {"store_nbr": int(store), "item_nbr": int(item), "horizon": HORIZON},
                       "features": {"names": names, "rows": x[part]}, "outputs": outputs})
            written += 1
    log.close()
    size = sum(p.stat().st_size for p in folder.rglob("*.jsonl"))
    return {"records": written, "predictions": written * HORIZON, "log_bytes": size}


def measure(predictions: int, scratch: Path) -> dict:
    logs, reports = scratch / f"logs-{predictions}", scratch / f"reports-{predictions}"
    shutil.rmtree(logs, ignore_errors=True)
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir(parents=True)
    shutil.copy(ROOT / "reports" / "evaluation.json", reports / "evaluation.json")
    began = time.perf_counter()
    made = write_logs(logs, predictions)
    print(f"{predictions:>9,}: wrote {made['records']:,} records ({made['log_bytes'] / 1e6:,.0f} MB) in "
          f"{time.perf_counter() - began:.0f}s")
    cmd = [sys.executable, "-m", "stages.monitor", "monitor=live", f"monitor.logs.dir={logs}",
           f"monitor.logs.start={LOG_DAY}", f"monitor.logs.end={LOG_DAY}", f"paths.reports={reports}",
           f"monitor.workspace={scratch / 'workspace'}"]
    # A fresh wrapper per size, so RUSAGE_CHILDREN's peak is this run's stage alone.
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
               "print(r.returncode, time.perf_counter() - t, peak); "
               "sys.stderr.write(r.stdout + r.stderr)")
    done = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=ROOT, capture_output=True, text=True)
    code, seconds, peak_kb = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"monitor failed on {predictions:,} predictions:\n{done.stderr[-3000:]}")
    monitor = json.loads((reports / "monitor.json").read_text())
    result = {**made, "seconds": round(float(seconds), 1), "peak_rss_gb": round(int(peak_kb) / 1024**2, 2),
              "matched": monitor["live_accuracy"]["matched"], "live_wape": monitor["live_accuracy"]["wape"],
              "drift_rows_compared": monitor["windows"]["current"]["rows"], "status": monitor["status"]}
    print(f"{predictions:>9,}: monitor {result['seconds']:.1f}s, peak RSS {result['peak_rss_gb']:.2f} GB "
          f"({result['matched']:,} matched, live WAPE {result['live_wape']:.3f})")
    shutil.rmtree(logs, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()
    if not (ROOT / "artifacts" / "model" / "model.json").exists():
        raise SystemExit("bench/monitor.py needs the demo pipeline's artifacts: run `make run` first")
    scratch = args.out or Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    try:
        runs = {str(n): measure(n, scratch) for n in args.sizes}
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    report = {"benchmark": "monitor stage, monitor=live, on logged predictions (forecast days)",
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "runs": runs}
    out = ROOT / "reports" / "bench_monitor.json"
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
