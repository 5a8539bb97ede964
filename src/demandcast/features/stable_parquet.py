"""Parquet files whose bytes depend only on their rows: Spark's part files rewritten by pyarrow.

Spark's Parquet writer (parquet-mr) lists each column chunk's encodings in its footer in the
order of a hash set of enum values, and an enum's hash is its identity hash code, which
differs between JVM runs. So two runs in separate processes can write files with equal
rows, schema and statistics but different bytes (``PLAIN, RLE, BIT_PACKED`` against
``RLE, PLAIN, BIT_PACKED``), and DVC's hash of ``artifacts/features`` moves. Rewriting each
part file with pyarrow and fixed writer options gives bytes that follow from the rows, the
schema and the metadata alone (and the pyarrow version uv.lock pins).

The footer's key-value metadata is kept, Spark's schema
(``org.apache.spark.sql.parquet.row.metadata``) and version among it, so Spark reads the
same schema back; no Arrow schema is added, so pandas and pyarrow read the same types as
from Spark's own files (dates stay ``date32``, required columns stay required). Files with
timestamps are refused: pyarrow would write Spark's INT96 ones back as nanoseconds, which
Spark cannot read.
"""

from __future__ import annotations

import os
from pathlib import Path

# Rows per row group: months of the demo data fit in one; a month of Favorita's full size
# (about 3M rows) is rewritten a group at a time, so memory stays near one group.
ROW_GROUP_ROWS = 1 << 19
# The footer's codec names -> pyarrow's (Spark's LZO is not among them: pyarrow cannot write it).
_CODECS = {"UNCOMPRESSED": "none", "SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd",
           "LZ4": "lz4", "LZ4_RAW": "lz4", "BROTLI": "brotli"}


def rewrite_tree(folder: str | Path) -> list[Path]:
    """Rewrite every ``*.parquet`` file below the local ``folder`` (see :func:`rewrite`), in
    name order; return the files rewritten."""
    files = sorted(p for p in Path(folder).rglob("*.parquet") if p.is_file())
    for path in files:
        rewrite(path)
    return files


def rewrite(path: str | Path) -> None:
    """Rewrite one Parquet file in place with fixed writer options: the same rows, schema,
    key-value metadata and compression codec; bytes that no longer depend on the writer's
    process. Rewriting a rewritten file gives the same bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    incoming = path.with_name(f".{path.name}.rewrite")  # hidden: Spark and pyarrow skip it
    with pq.ParquetFile(path) as source:
        schema, meta = source.schema_arrow, source.metadata
        stamps = [f.name for f in schema if pa.types.is_timestamp(f.type)]
        if stamps:
            raise ValueError(f"{path}: column {stamps[0]!r} is a timestamp; only files without "
                             "timestamps are rewritten: store it as a date (date32) or an integer")
        try:
            # store_schema=False: no Arrow schema, so readers take the types from the Parquet
            # schema as they do from Spark's files; the footer's key-value metadata is added back.
            with pq.ParquetWriter(incoming, schema, compression=_codec(meta), version="2.6",
                                  data_page_version="1.0", use_dictionary=True, write_statistics=True,
                                  store_schema=False) as writer:
                for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS, use_threads=False):
                    writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                writer.add_key_value_metadata(dict(sorted((meta.metadata or {}).items())))
        except BaseException:
            incoming.unlink(missing_ok=True)
            raise
    os.replace(incoming, path)


def _codec(meta) -> str:
    """The file's compression codec, as pyarrow names it (Spark writes one for all columns)."""
    codecs = {meta.row_group(g).column(c).compression
              for g in range(meta.num_row_groups) for c in range(meta.num_columns)}
    codec = codecs.pop() if len(codecs) == 1 else "SNAPPY"
    if codec not in _CODECS:
        raise ValueError(f"Parquet compression {codec} cannot be rewritten by pyarrow: write with "
                         f"one of {', '.join(sorted(_CODECS))} (spark.sql.parquet.compression.codec)")
    return _CODECS[codec]
