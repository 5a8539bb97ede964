"""Benchmark: feature ETL throughput with Spark, against a polars single-machine reference.

    uv run python bench/etl.py [--preset medium] [--full-etl] [--out DIR]

The like-for-like task for both engines: read train.csv, fill each series' calendar
(zero days), compute the spec's lags and rolling mean/std over past days, write parquet.
Rows/s count output (panel) rows. ``--full-etl`` also times the whole features stage
(holidays, promotions, transactions, priors) and samples the peak memory of the Spark
driver JVM and Python together. Figures go to reports/bench_etl.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline import PeakMemory

ROOT = Path(__file__).resolve().parent.parent


def polars_reference(train_csv: Path, out: Path, spec) -> int:
    import polars as pl

    train = pl.read_csv(train_csv, schema_overrides={"date": pl.Date, "unit_sales": pl.Float64,
                                                 "onpromotion": pl.Boolean})
    series = ["store_nbr", "item_nbr"]
    spans = train.group_by(series).agg(pl.col("date").min().alias("first"),
                                       pl.col("date").max().alias("last"))
    days = spans.with_columns(pl.date_ranges("first", "last").alias("date")).explode("date")
    days = days.drop("first", "last")
    sales = train.select(*series, "date", "unit_sales", pl.col("onpromotion").cast(pl.Float64))
    panel = (days.join(sales, on=[*series, "date"], how="left")
             .with_columns(pl.col("unit_sales").fill_null(0.0), pl.col("onpromotion").fill_null(0.0))
             .sort([*series, "date"]))
    # The same columns as demandcast.features.spark_engine.rolling: lags, rolling mean/std, promotion
    # shares and the yearly week, base and ratio.
    y = pl.col("unit_sales")
    cols = [y.shift(k).over(series).alias(f"lag_{k}") for k in spec.lags]
    for w in spec.windows:
        past = y.shift(1)
        mean = past.rolling_mean(w, min_samples=spec.min_periods["mean"])
        std = past.rolling_std(w, min_samples=spec.min_periods["std"])
        cols += [mean.over(series).alias(f"roll_mean_{w}"), std.over(series).alias(f"roll_std_{w}")]
    for w in spec.promo_windows:
        share = pl.col("onpromotion").shift(1).rolling_mean(w, min_samples=1)
        cols.append(share.over(series).alias(f"promo_share_{w}"))
    if spec.yearly:  # days d-a..d-b: the mean of w = a-b+1 days ending b days back
        (wa, wb), (ba, bb) = spec.yearly_spans()
        week = y.shift(wb).rolling_mean(wa - wb + 1, min_samples=1).over(series)
        base = y.shift(bb).rolling_mean(ba - bb + 1, min_samples=1).over(series)
        cols += [week.alias(f"yearly_mean_{spec.yearly[1]}"), base.alias(f"yearly_base_{spec.yearly[2]}"),
                 pl.when(base > 0).then(week / base).alias("yearly_ratio")]
    result = panel.with_columns(cols)
    result.write_parquet(out)
    return result.height


def spark_reference(spark, train_csv: Path, out: Path, spec) -> int:
    from demandcast.features import spark_engine

    train = spark.read.csv(str(train_csv), header=True, schema=spark_engine.SCHEMAS["train.csv"])
    table = spark_engine.rolling(spark_engine.panel(train), spec)
    spark_engine.parquet_writer(table, spec).mode("overwrite").parquet(str(out))
    return spark.read.parquet(str(out)).count()


def cpu_seconds() -> float:
    """CPU time of this process and its live descendants (the Spark JVM among them): on a
    shared machine wall time depends on the neighbours' load, CPU time much less."""
    import psutil

    total = 0.0
    for p in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def timed(label: str, fn, *args) -> dict:
    memory = PeakMemory(os.getpid())  # this process and its descendants, the Spark JVM among them
    memory.label = label
    began, cpu = time.perf_counter(), cpu_seconds()
    rows = fn(*args)
    seconds, cpu = time.perf_counter() - began, cpu_seconds() - cpu
    peak_gb = memory.stop().get(label, 0.0)
    result = {"rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
              "cpu_seconds": round(cpu, 1), "peak_pss_gb": peak_gb,
              "load_average_1m": round(os.getloadavg()[0], 1)}
    print(f"{label:>28}: {rows:>12,} rows in {seconds:7.1f}s = {result['rows_per_s']:>10,} rows/s, "
          f"{cpu:6.1f} CPU s, peak PSS {result['peak_pss_gb']:.2f} GB, load {result['load_average_1m']}")
    return result


def main() -> None:
    from demandcast import config
    from demandcast.features import etl, feature_spec
    from demandcast.spark import session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--spark", default="local", help="conf/spark option (local, local_all)")
    parser.add_argument("--full-etl", action="store_true", help="also time the whole features stage")
    parser.add_argument("--skip-reference", action="store_true", help="only the full ETL")
    parser.add_argument("--out", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()

    cfg = config.load([f"data={args.preset}", f"spark={args.spark}"])
    spec = feature_spec.from_config(cfg.features)
    scratch = args.out or Path(tempfile.mkdtemp(prefix="bench-etl-"))
    data = scratch / f"data-{args.preset}"
    if not (data / "train.csv").exists():
        subprocess.run([sys.executable, "-m", "demandcast", "generate", f"data={args.preset}",
                        f"paths.data={data}", f"paths.truth={data}/truth/expected_demand.parquet"],
                       cwd=ROOT, check=True)
    report = {"preset": args.preset, "spark": dict(cfg.spark), "cores": os.cpu_count()}
    if not args.skip_reference:
        report["polars"] = timed("polars lags+rolling", polars_reference, data / "train.csv",
                                 scratch / "polars.parquet", spec)
    spark = session(cfg.spark, app_name="bench-etl")
    try:
        if not args.skip_reference:
            report["spark"] = timed("spark lags+rolling", spark_reference, spark, data / "train.csv",
                                    scratch / "spark.parquet", spec)
            report["ratio_spark_to_polars"] = round(
                report["spark"]["rows_per_s"] / report["polars"]["rows_per_s"], 3)
            print(f"{'ratio spark/polars':>28}: {report['ratio_spark_to_polars']}")
        if args.full_etl:
            report["full_etl"] = timed(
                "spark full features stage",
                lambda: (etl.run(spark, str(data), str(scratch / "features"), cfg.data,
                                      cfg.features),
                         spark.read.parquet(str(scratch / "features")).count())[1])
    finally:
        spark.stop()
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    path = ROOT / "reports" / "bench_etl.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous[args.preset] = report
    path.write_text(json.dumps(previous, indent=2, sort_keys=True, default=str) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
