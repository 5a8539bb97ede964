"""Benchmark: the train stage's fit, local (xgboost.train) against Spark (xgboost.spark).

    uv run python bench/spark_training.py [--preset tiny] [--workers 1 2] [--repeat 2] [--out DIR]

Generates the preset's raw data, runs the feature ETL on conf/spark's local session, then
fits fold 0 with conf/model's parameters both ways: locally (the table read into pandas,
then xgboost.train) and on that same Spark session with each ``--workers`` count, ``--repeat``
times (the first Spark fit also starts Spark's Python workers and imports XGBoost in them).
Prints and writes the seconds, rows, trees and validation RMSE to reports/bench_spark_training.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn):
    began = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - began, 2)


def main() -> None:
    from omegaconf import OmegaConf

    from demandcast import config
    from demandcast.data import generate
    from demandcast.features import etl, feature_spec
    from demandcast.models import dataset, distributed, engines
    from demandcast.spark import session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()
    cfg = config.load([f"data={args.preset}"])
    scratch = args.out or Path(tempfile.mkdtemp(prefix="bench-spark-training-"))
    data, features = scratch / "data", scratch / "features"
    spec = feature_spec.from_config(cfg.features)
    fold = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon))
    spark = session(cfg.spark, app_name="bench-spark-training")
    try:
        if not (features / feature_spec.META / "manifest.json").exists():
            generate.run(cfg.data, int(cfg.seed), data, data / "truth" / "expected_demand.parquet")
            etl.run(spark, str(data), str(features), cfg.data, cfg.features)
        runs = []
        local_cfg = OmegaConf.merge(cfg, {"model": {"engine": "local"}})
        for _ in range(args.repeat):
            fitted, seconds = timed(lambda: engines.fit_with_engine(local_cfg, features, spec, fold))
            runs.append(summary("local", None, seconds, fitted))
        for workers in args.workers:
            model_cfg = OmegaConf.merge(cfg.model, {"engine": "spark", "num_workers": workers})
            for _ in range(args.repeat):
                fitted, seconds = timed(lambda m=model_cfg: distributed.fit(spark, features, spec, fold, m,
                                                                           seed=int(cfg.seed)))
                runs.append(summary("spark", workers, seconds, fitted))
    finally:
        spark.stop()
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    for r in runs:
        print(f"{r['engine']:>5} {r['workers'] or '':>2}: {r['seconds']:6.2f}s, {r['trees']} trees, "
              f"validation RMSE {r['validation_rmse']:.4f} ({r['train_rows']:,} + {r['valid_rows']:,} rows)")
    out = ROOT / "reports" / "bench_spark_training.json"
    report = {"preset": args.preset, "spark_master": str(cfg.spark.master), "cpus": os.cpu_count(),
              "omp_thread_limit": os.environ.get("OMP_THREAD_LIMIT"),
              "load_1min": round(os.getloadavg()[0], 1),
              "python": platform.python_version(), "runs": runs}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


def summary(engine: str, workers: int | None, seconds: float, fitted) -> dict:
    return {"engine": engine, "workers": workers, "seconds": seconds,
            "trees": fitted.booster.num_boosted_rounds(), "validation_rmse": float(fitted.booster.best_score),
            "train_rows": fitted.train_rows, "valid_rows": fitted.valid_rows}


if __name__ == "__main__":
    main()
