"""The features stage as DVC runs it (``python -m stages.features``), twice, each run in its own
process and JVM: the same inputs give the same bytes in every file DVC hashes.

In one JVM two writes agree even without the pyarrow rewrite; across JVMs parquet-mr's footers
list encodings in an order that follows identity hash codes, so only sometimes differ. The
footers are therefore also checked directly: written by pyarrow, encodings in canonical order.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from demandcast.features import feature_spec
from tests.features.test_stable_parquet import assert_stable_footers
from tests.helpers import ROOT, digests, ok, run

pytestmark = pytest.mark.slow


def features_stage(tiny_data: Path, root: Path) -> Path:
    """One run of the stage in a new Python process (so a new JVM) writing under ``root``."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}  # JAVA_TOOL_OPTIONS: tests.helpers.JVM_OPTS (conftest)
    ok(run(ROOT, env, "-m", "stages.features", "data=tiny",
           f"paths.data={tiny_data}", f"paths.artifacts={root / 'artifacts'}",
           f"paths.reports={root / 'reports'}", "spark.driver_memory=1g", "spark.shuffle_partitions=2",
           timeout=900))
    return root


def test_two_runs_in_separate_processes_write_the_same_bytes(tiny_data, tmp_path):
    with ThreadPoolExecutor(2) as pool:  # side by side: the two processes share nothing
        first, second = pool.map(lambda name: features_stage(tiny_data, tmp_path / name), ("first", "second"))
    out = first / "artifacts" / "features"
    written = digests(out)
    assert written == digests(second / "artifacts" / "features")
    assert digests(first / "reports") == digests(second / "reports")
    assert_stable_footers(out)
    assert_stable_footers(second / "artifacts" / "features")

    # What DVC hashes: part files named by task, no checksum files naming Spark's random names.
    assert not [name for name in written if name.endswith(".crc") or "/." in f"/{name}"]
    months = [name for name in written if name.startswith("part_month=")]
    assert months and all(name.endswith("/part-00000.snappy.parquet") for name in months)
    for name in months:  # in key order, as the docstring of demandcast.features.etl says
        keys = pq.read_table(out / name, columns=list(feature_spec.KEYS)).to_pandas()
        assert keys.equals(keys.sort_values(list(feature_spec.KEYS)).reset_index(drop=True)), name
    priors = [name for name in written if name.startswith("_meta/priors_")]
    assert priors and all(name.endswith(".parquet/part-00000.snappy.parquet") or name.endswith("/_SUCCESS")
                          for name in priors)
    assert json.loads((first / "reports" / "features.json").read_text())["warnings"]
