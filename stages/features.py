"""features: the Spark feature ETL, raw files in ``data/`` -> ``artifacts/features/``.

``python -m stages.features [key=value ...]`` locally (``spark=local``, the default), or the
very same file on a cluster with the library shipped beside it (a wheel or zip of
``demandcast``)::

    spark-submit --master spark://host:7077 --py-files demandcast.zip stages/features.py \\
        paths.data=hdfs:///raw paths.artifacts=hdfs:///artifacts

With ``spark=emr_serverless`` or ``spark=emr`` (``dvc exp run -S spark=emr_serverless``) the
stage submits this file to AWS EMR and syncs the result into ``artifacts/features/``
(:mod:`demandcast.cloud.submit`); DVC sees the same output either way.

The work is :func:`demandcast.features.etl.run`; this entry point only starts the session
(under ``spark-submit`` the master and memory given there win over ``conf/spark``), prints
the checks' warnings (:mod:`demandcast.features.checks`) and writes them to
``reports/features.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.features import etl
from demandcast.spark import CLOUD_ENGINES, submitted


def run_here(cfg, rewrite_parquet: bool = True) -> dict:
    """The ETL in this process's Spark: local mode, or the driver spark-submit started (on
    EMR without the pyarrow rewrite: the sync back rewrites the files)."""
    from demandcast.spark import started

    with started(cfg.spark, app_name="demandcast-features") as spark:
        return etl.run(spark, str(cfg.paths.data), f"{cfg.paths.artifacts}/features", cfg.data, cfg.features,
                       rewrite_parquet=rewrite_parquet)


def main(argv=None) -> int:
    def body(cfg) -> None:
        engine = str(cfg.spark.get("engine") or "local")
        # On the cluster this file runs under spark-submit: always the ETL itself, never a resubmit.
        on_cluster = engine in CLOUD_ENGINES and submitted()
        if engine in CLOUD_ENGINES and not on_cluster:
            from demandcast.cloud import submit

            manifest = submit.run(cfg)
        else:
            manifest = run_here(cfg, rewrite_parquet=not on_cluster)
        out = f"{cfg.paths.artifacts}/features"
        checks = manifest["checks"]
        for warning in checks["warnings"]:
            print(f"warning: features: {warning}", file=sys.stderr)
        # A cloud job's report is written where the stage was started, after the sync.
        if "://" not in str(cfg.paths.reports) and not on_cluster:
            jsonio.write(Path(str(cfg.paths.reports)) / "features.json", checks)
        print(f"features: {len(manifest['features'])} columns, spec {manifest['spec_hash']}, "
              f"{manifest['first_date']}..{manifest['last_date']} -> {out}/; {len(checks['warnings'])} "
              f"warning(s) -> {cfg.paths.reports}/features.json")

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
