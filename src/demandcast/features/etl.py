"""The feature ETL with Spark: raw files -> the feature table and its metadata.

:func:`run` reads the raw files, checks they can give features, builds the table with
:mod:`demandcast.features.spark_engine` and writes parquet partitioned by month
(``part_month=YYYY-MM``, one ``part-00000.snappy.parquet`` per month, rows sorted by series
and date, each file rewritten by :mod:`demandcast.features.stable_parquet`: the same inputs
give the same bytes, in any process) plus ``_meta/``: the manifest (feature names,
dtypes, the spec's hash, the training window, the checks of
:mod:`demandcast.features.checks`) and one ``priors_<level>.parquet`` per prior level, which
training and serving read. Paths may be local or any filesystem Hadoop knows (``hdfs://``,
``s3a://`` on a cluster).
"""

from __future__ import annotations

import json
import os
import re
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


def run(spark, data_dir: str, out: str, data, features, *, rewrite_parquet: bool = True) -> dict:
    """Compute and write the feature table and its metadata; return the manifest, whose
    ``checks`` (:mod:`demandcast.features.checks`) hold the warnings for the stage's report.

    ``rewrite_parquet=False`` leaves the part files as Spark wrote them: for a job on EMR,
    whose result :mod:`demandcast.cloud.submit` rewrites as it syncs it into
    ``artifacts/features`` (the job's Python need not have pyarrow: only pure-Python
    dependencies are shipped). Files on other filesystems (``s3a://``, ``hdfs://``) are
    never rewritten: DVC hashes only a local copy."""
    from pyspark.sql import functions as F

    from demandcast.data import holiday_calendar
    from demandcast.features import checks, spark_engine

    spec = feature_spec.from_config(features)
    raw = spark_engine.read_raw(spark, data_dir)
    source = holiday_calendar.source(data)
    if source == "package":
        raw[holiday_calendar.FILE] = spark.createDataFrame(
            [tuple(row[c] for c in holiday_calendar.COLUMNS) for row in holiday_calendar.from_config(data)],
            spark_engine.SCHEMAS[holiday_calendar.FILE])
    first, last, train_end = check_inputs(raw, spec, data)
    table, _ = spark_engine.build(raw, spec, train_end, first, last)
    # One task per month (repartition by it), rows sorted, part files renamed and rewritten
    # (settle): the same inputs give the same bytes, so DVC's hash of the folder does not move.
    months = (table.withColumn("part_month", F.date_format("date", "yyyy-MM"))
              .repartition("part_month").sortWithinPartitions("part_month", *feature_spec.KEYS))
    spark_engine.parquet_writer(months, spec).mode("overwrite").partitionBy("part_month").parquet(out)
    settle(spark, out, rewrite_parquet)
    written = spark.read.parquet(out)  # the settled files: priors and checks read what DVC hashes
    for level, frame in spark_engine.priors_from_table(written, raw["items.csv"], spec).items():
        path = f"{out}/{META}/priors_{level}.parquet"
        (frame.repartition(1).sortWithinPartitions(*feature_spec.PRIOR_KEYS[level])
         .write.mode("overwrite").parquet(path))
        settle(spark, path, rewrite_parquet)
    calendar = (f"the holidays package's {data.holidays.country} calendar" if source == "package"
                else f"{data_dir}/{holiday_calendar.FILE}")
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
        "checks": checks.report(written, raw[holiday_calendar.FILE], spec, train_end, calendar),
    }
    _write_text(spark, f"{out}/{META}/manifest.json",
                json.dumps(manifest, indent=2, sort_keys=True, default=list))
    return manifest


def settle(spark, folder: str, rewrite_parquet: bool = True) -> None:
    """What Spark wrote to ``folder`` made byte-stable: deterministic part names, then (local
    files only) each file rewritten by :func:`demandcast.features.stable_parquet.rewrite_tree`."""
    deterministic_names(spark, folder)
    local = _local(folder)
    if rewrite_parquet and local is not None:
        from demandcast.features import stable_parquet

        stable_parquet.rewrite_tree(local)


def deterministic_names(spark, folder: str) -> None:
    """Rename Spark's part files (``part-00003-<random uuid>.c000.snappy.parquet``) to
    ``part-00000.snappy.parquet``, ``part-00001...`` in each folder, in their task order, and
    drop the checksum files, which name the old files."""
    local = _local(folder)
    if local is None:
        return _deterministic_names_hadoop(spark, folder)
    for directory, _, files in os.walk(local):
        parts = sorted(f for f in files if f.startswith("part-"))
        for i, name in enumerate(parts):
            renamed = os.path.join(directory, f"part-{i:05d}.{_suffix(name)}")
            os.replace(os.path.join(directory, name), renamed)
        for name in files:
            if name.endswith(".crc"):
                os.remove(os.path.join(directory, name))


def _deterministic_names_hadoop(spark, folder: str) -> None:
    jvm = spark._jvm
    root = jvm.org.apache.hadoop.fs.Path(folder)
    fs = root.getFileSystem(spark._jsc.hadoopConfiguration())
    todo = [root]
    while todo:
        directory = todo.pop()
        entries = list(fs.listStatus(directory))
        todo += [e.getPath() for e in entries if e.isDirectory()]
        parts = sorted(e.getPath().getName() for e in entries if e.isFile()
                       and e.getPath().getName().startswith("part-"))
        for i, name in enumerate(parts):
            fs.rename(jvm.org.apache.hadoop.fs.Path(directory, name),
                      jvm.org.apache.hadoop.fs.Path(directory, f"part-{i:05d}.{_suffix(name)}"))


def _local(path: str) -> Path | None:
    """``path`` on this machine's filesystem (plain or ``file://``); None for hdfs://, s3a://..."""
    if "://" in path and not path.startswith("file://"):
        return None
    return Path(path.removeprefix("file://"))


def _suffix(name: str) -> str:
    """``snappy.parquet`` of ``part-00003-<uuid>.c000.snappy.parquet``."""
    return re.sub(r"^c\d+\.", "", name.split(".", 1)[1]) if "." in name else "parquet"


def _write_text(spark, path: str, text: str) -> None:
    """Write through Hadoop's filesystem layer so s3a:// and hdfs:// paths work as local ones."""
    local = _local(path)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text + "\n")
        return
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark._jsc.hadoopConfiguration())
    stream = fs.create(hpath, True)
    stream.write(bytearray((text + "\n").encode()))
    stream.close()
