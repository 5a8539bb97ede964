"""Spark's Parquet files rewritten by pyarrow: the same rows, schema and metadata for Spark,
pyarrow and the training loader, and bytes that depend on nothing else."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.parquet as pq
import pytest

from demandcast.features import etl, feature_spec, stable_parquet
from demandcast.features.feature_spec import META
from demandcast.models import dataset

SPARK_SCHEMA = "org.apache.spark.sql.parquet.row.metadata"
# The Parquet format's Encoding enum (parquet.thrift), the order pyarrow lists them in.
ENCODING_IDS = {"PLAIN": 0, "PLAIN_DICTIONARY": 2, "RLE": 3, "BIT_PACKED": 4, "DELTA_BINARY_PACKED": 5,
                "DELTA_LENGTH_BYTE_ARRAY": 6, "DELTA_BYTE_ARRAY": 7, "RLE_DICTIONARY": 8,
                "BYTE_STREAM_SPLIT": 9}


def assert_stable_footers(folder: Path) -> None:
    """Every Parquet file below ``folder`` written by this pyarrow, each column chunk's encodings
    in the format's enum order (parquet-mr lists them in a hash set's order that varies by JVM run)."""
    files = sorted(p for p in folder.rglob("*.parquet") if p.is_file())  # priors_*.parquet are folders
    assert files, f"no parquet files below {folder}"
    for path in files:
        meta = pq.ParquetFile(path).metadata
        assert meta.created_by == f"parquet-cpp-arrow version {pyarrow.__version__}", (path, meta.created_by)
        assert SPARK_SCHEMA.encode() in meta.metadata, path
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                encodings = meta.row_group(g).column(c).encodings
                assert list(encodings) == sorted(encodings, key=ENCODING_IDS.__getitem__), (path, encodings)


def spark_written(spark, folder: Path, compression: str = "snappy") -> Path:
    """A few rows of each column type the feature table has, some required, written by Spark
    as one part file."""
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("store_nbr", T.IntegerType()),
                           T.StructField("date", T.DateType(), nullable=False),
                           T.StructField("lag_1", T.DoubleType()),
                           T.StructField("onpromotion", T.LongType(), nullable=False),
                           T.StructField("family", T.StringType())])
    rows = [(i % 3 or None, dt.date(2023, 1, 1) + dt.timedelta(days=i), i / 7 if i % 4 else None, i % 2,
             f"FAMILY {i % 5}" if i % 6 else None) for i in range(500)]
    (spark.createDataFrame(rows, schema).repartition(1)
     .write.mode("overwrite").option("compression", compression).parquet(str(folder)))
    etl.deterministic_names(spark, str(folder))
    return folder


def test_a_rewritten_file_reads_back_in_spark_and_pyarrow_as_spark_wrote_it(spark, tmp_path):
    original = spark_written(spark, tmp_path / "spark")
    shutil.copytree(original, tmp_path / "rewritten")
    [path] = stable_parquet.rewrite_tree(tmp_path / "rewritten")
    before = pq.ParquetFile(original / path.name)
    after = pq.ParquetFile(path)
    assert before.metadata.created_by.startswith("parquet-mr")
    assert_stable_footers(tmp_path / "rewritten")
    assert after.metadata.metadata == before.metadata.metadata  # Spark's schema and version
    assert after.schema_arrow.equals(before.schema_arrow)  # types and required columns
    assert after.schema.equals(before.schema)  # the Parquet schema too
    assert after.schema_arrow.field("date").type == pyarrow.date32()  # not a nanosecond timestamp
    assert after.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert after.read().equals(before.read())

    want, got = spark.read.parquet(str(original)), spark.read.parquet(str(tmp_path / "rewritten"))
    assert got.schema == want.schema
    assert got.orderBy("date").collect() == want.orderBy("date").collect() and got.count() == 500

    again = path.read_bytes()
    stable_parquet.rewrite(path)
    assert path.read_bytes() == again  # a rewritten file is already stable
    assert sorted(p.name for p in path.parent.iterdir()) == ["_SUCCESS", path.name]  # no temporary left


def test_row_groups_have_a_fixed_size_and_the_codec_is_kept(spark, tmp_path, monkeypatch):
    original = spark_written(spark, tmp_path / "spark", compression="zstd")
    shutil.copytree(original, tmp_path / "rewritten")
    monkeypatch.setattr(stable_parquet, "ROW_GROUP_ROWS", 128)
    [path] = stable_parquet.rewrite_tree(tmp_path / "rewritten")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [128, 128, 128, 116]
    assert {meta.row_group(g).column(c).compression
            for g in range(meta.num_row_groups) for c in range(meta.num_columns)} == {"ZSTD"}
    assert pq.read_table(path).equals(pq.read_table(original / path.name))
    got = spark.read.parquet(str(tmp_path / "rewritten"))
    assert got.orderBy("date").collect() == spark.read.parquet(str(original)).orderBy("date").collect()


def test_the_feature_table_reads_the_same_in_spark_and_the_training_loader(spark, tiny_cfg, tiny_features,
                                                                           tmp_path):
    """The ETL's table and priors as Spark writes them, against the same files rewritten."""
    out, _ = tiny_features
    assert_stable_footers(out)  # the ETL rewrote what it wrote
    spec = feature_spec.from_config(tiny_cfg.features)
    written, rewritten = tmp_path / "spark" / "features", tmp_path / "rewritten" / "features"
    table = spark.read.parquet(str(out))
    table.write.partitionBy("part_month").parquet(str(written))
    for level in spec.priors:
        name = f"priors_{level}.parquet"
        spark.read.parquet(str(out / META / name)).write.parquet(str(written / META / name))
    shutil.copy(out / META / "manifest.json", written / META / "manifest.json")
    etl.deterministic_names(spark, str(written))
    shutil.copytree(written, rewritten)
    etl.settle(spark, str(rewritten))
    assert_stable_footers(rewritten)

    want, got = spark.read.parquet(str(written)), spark.read.parquet(str(rewritten))
    assert got.schema == want.schema == table.schema
    assert got.count() == want.count() > 0 and got.exceptAll(want).count() == 0
    parts = sorted(p.relative_to(written) for p in written.rglob("part-*.parquet"))
    assert len(parts) == len(list(out.rglob("part-*.parquet"))) > len(spec.priors)
    for part in parts:
        before, after = pq.ParquetFile(written / part), pq.ParquetFile(rewritten / part)
        assert before.metadata.created_by.startswith("parquet-mr")
        assert after.schema_arrow.equals(before.schema_arrow) and after.schema.equals(before.schema), part
        assert after.metadata.metadata == before.metadata.metadata, part
    month = next(out.glob("part_month=*/part-00000.snappy.parquet"))
    assert not pq.read_schema(month).field("date").nullable  # required, as the ETL's Spark wrote it

    pd.testing.assert_frame_equal(dataset.load_table(rewritten, spec), dataset.load_table(written, spec))
    since = dt.date.fromisoformat(str(tiny_cfg.data.end)) - dt.timedelta(days=40)
    pd.testing.assert_frame_equal(dataset.load_table(rewritten, spec, since=since),
                                  dataset.load_table(written, spec, since=since))
    priors_want, priors_got = dataset.read_priors(written, spec), dataset.read_priors(rewritten, spec)
    for level in spec.priors:
        pd.testing.assert_frame_equal(priors_got[level], priors_want[level])
        assert (spark.read.parquet(str(rewritten / META / f"priors_{level}.parquet")).schema
                == spark.read.parquet(str(written / META / f"priors_{level}.parquet")).schema)


def test_a_file_with_timestamps_is_refused_and_left_as_it_was(spark, tmp_path):
    folder = tmp_path / "stamps"
    spark.createDataFrame([(dt.datetime(2023, 1, 1, 12, 30),)], "logged_at timestamp").repartition(1) \
        .write.parquet(str(folder))
    [path] = folder.glob("part-*.parquet")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="column 'logged_at' is a timestamp"):
        stable_parquet.rewrite_tree(folder)
    assert path.read_bytes() == before and not list(folder.glob(".*.rewrite"))
