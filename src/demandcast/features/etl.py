"""The feature ETL with Spark: raw files -> the feature table and its metadata.

:func:`run` reads the raw files, checks they can give features, builds the table with
:mod:`demandcast.features.spark_engine` and writes parquet partitioned by month
(``part_month=YYYY-MM``) plus ``_meta/``: the manifest (feature names, dtypes, the spec's
hash, the training window) and one ``priors_<level>.parquet`` per prior level, which
training and serving read. Paths may be local or any filesystem Hadoop knows (``hdfs://``,
``s3a://`` on a cluster).
"""

from __future__ import annotations

import json
from pathlib import Path

from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.features.feature_spec import META


def training_window_end(data, spec) -> str:
    import datetime as dt

    end = dt.date.fromisoformat(str(data.end))
    return (end - dt.timedelta(days=spec.test_days + spec.valid_days)).isoformat()


def check_inputs(raw, spec, data) -> tuple[str, str]:
    """Stop with a clear message on input the features cannot be computed from."""
    from pyspark.sql import functions as F

    span = raw["train.csv"].agg(F.min("date").alias("first"), F.max("date").alias("last"),
                                F.count("*").alias("rows")).first()
    if span["rows"] == 0:
        raise UserError("train.csv has no rows: there is nothing to compute features from")
    first, last = span["first"].isoformat(), span["last"].isoformat()
    days = (span["last"] - span["first"]).days + 1
    train_end = training_window_end(data, spec)
    if train_end < first:
        raise UserError(
            f"the training window is empty: train.csv starts {first}, and the last "
            f"{spec.test_days}+{spec.valid_days} days before data.end={data.end} are held out "
            f"(features.split); use more history or smaller split windows")
    longest = max((*spec.lags, *spec.windows))
    if longest >= days:
        raise UserError(
            f"features: a lag or window of {longest} days is longer than the history "
            f"({days} days, {first}..{last}); every such feature would be missing: "
            f"shorten features.lags / features.rolling.windows")
    return first, last, train_end


def run(spark, data_dir: str, out: str, data, features) -> dict:
    """Compute and write the feature table and its metadata; return the manifest."""
    from demandcast.features import spark_engine

    spec = feature_spec.from_config(features)
    raw = spark_engine.read_raw(spark, data_dir)
    first, last, train_end = check_inputs(raw, spec, data)
    table, _ = spark_engine.build(raw, spec, train_end, first, last)
    from pyspark.sql import functions as F

    (table.withColumn("part_month", F.date_format("date", "yyyy-MM"))
     .repartition("part_month").write.mode("overwrite").partitionBy("part_month").parquet(out))
    written = spark.read.parquet(out)
    for level, frame in spark_engine.priors_from_table(written, raw["items.csv"], spec).items():
        frame.coalesce(1).write.mode("overwrite").parquet(f"{out}/{META}/priors_{level}.parquet")
    manifest = {
        "spec_hash": spec.hash(),
        "keys": list(feature_spec.KEYS),
        "target": spec.target,
        "features": [{"name": n, "dtype": d} for n, d in spec.columns()],
        "history_days": spec.history_days,
        "first_date": first,
        "last_date": last,
        "training_window_end": train_end,
        "spec": spec.__dict__,
    }
    _write_text(spark, f"{out}/{META}/manifest.json", json.dumps(manifest, indent=2, default=list))
    return manifest


def _write_text(spark, path: str, text: str) -> None:
    """Write through Hadoop's filesystem layer so s3a:// and hdfs:// paths work as local ones."""
    if "://" not in path or path.startswith("file://"):
        local = Path(path.removeprefix("file://"))
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text + "\n")
        return
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark._jsc.hadoopConfiguration())
    stream = fs.create(hpath, True)
    stream.write(bytearray((text + "\n").encode()))
    stream.close()
