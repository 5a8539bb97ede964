"""Shared fixtures: one Spark session for the whole run, and tiny generated data."""

from __future__ import annotations

import os

# One OpenMP thread for XGBoost in this process and in every stage, server and experiment the
# tests start (they inherit the environment). The tests run beside a Spark JVM, a served bento or
# other experiments on two shared cores: there conf/model's nthread=2 makes XGBoost's two threads
# wait on each other's time slices at every tree-building step, and a fit on the tiny data took
# 178 s instead of 5 s (load 10). The fitted models are the same; only the waiting goes.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from tests.helpers import JVM_OPTS  # noqa: E402

# The same for every JVM they start: the session's Spark and those of the stages that `dvc repro`,
# `dvc exp run` and its queue workers run (conf/spark's settings are the pipeline's, not the tests').
os.environ.setdefault("JAVA_TOOL_OPTIONS", JVM_OPTS)

import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from omegaconf import OmegaConf

from demandcast import config
from tests.helpers import ROOT  # noqa: E402
from tests.raw_files import AS_OF, SMALL

# mlflow.set_tracking_uri() also sets $MLFLOW_TRACKING_URI "so that subprocesses inherit it":
# a stage run in this process (a session fixture's train/evaluate/register) would otherwise send
# every later `dvc repro`/`dvc exp run` subprocess's runs to that fixture's store.
SESSION_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")


@pytest.fixture(autouse=True)
def _tracking_uri_as_the_session_began():
    if SESSION_TRACKING_URI is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = SESSION_TRACKING_URI


@pytest.fixture(scope="session")
def params():
    """The committed configuration (params.yaml)."""
    return config.load()


@pytest.fixture(scope="session")
def spark():
    """The one SparkSession of the test run: local[2], UI off, few shuffle partitions."""
    from demandcast.spark import session

    spark_cfg = OmegaConf.create(
        {"master": "local[2]", "app_name": "demandcast-tests", "driver_memory": "1g",
         "shuffle_partitions": 2, "conf": {"spark.ui.enabled": "false",
                                           "spark.sql.session.timeZone": "UTC",
                                           "spark.sql.requireAllClusterKeysForCoPartition": "false",
                                           "spark.driver.extraJavaOptions": JVM_OPTS}}
    )
    spark = session(spark_cfg)
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def tiny_cfg():
    """The `tiny` data preset: seconds to generate, still a year with every holiday."""
    return config.load(["data=tiny"])


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory, tiny_cfg):
    """Tiny raw data with its truth, generated once per run; treat as read-only."""
    from demandcast.data import generate

    out = tmp_path_factory.mktemp("tiny") / "data"
    truth = out / "truth" / "expected_demand.parquet"
    generate.run(tiny_cfg.data, int(tiny_cfg.seed), out, truth)
    return out


@pytest.fixture(scope="session")
def drift_worlds(tmp_path_factory) -> dict[str, Path]:
    """tiny_drift generated with its shift ("shifted") and without ("steady"): the same history
    (train.csv and the rest), two next exports (later/train.csv); treat as read-only."""
    from demandcast.data import generate

    cfg = config.load(["data=tiny_drift"])
    root = tmp_path_factory.mktemp("drift_worlds")
    steady = OmegaConf.merge(cfg.data, {"drift": {"start": None}})
    for name, data in (("shifted", cfg.data), ("steady", steady)):
        generate.run(data, int(cfg.seed), root / name, root / name / "truth" / "expected_demand.parquet")
    return {name: root / name for name in ("shifted", "steady")}


def copy_project(dest: Path, data_preset: str | None = None) -> Path:
    """A throw-away git + DVC checkout of this working tree (tracked and new, unignored files).

    With ``data_preset``, raw data of that preset is generated into its data/.
    """
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=dest, check=True)
    if data_preset:
        subprocess.run([sys.executable, "-m", "demandcast", "generate", f"data={data_preset}"],
                       cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture
def project(tmp_path):
    """A function making a throw-away checkout of this project (see ``copy_project``)."""
    return lambda data_preset=None: copy_project(tmp_path / "project", data_preset)


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on loopback, with test credentials and no AWS settings of this machine."""
    from tests.s3_server import CREDENTIALS, S3Endpoint

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    endpoint = S3Endpoint()
    yield endpoint
    if endpoint.up:
        endpoint.stop()


@pytest.fixture
def bucket(s3):
    """A fresh bucket on the ``s3`` server (moto's buckets outlive a test)."""
    import uuid

    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3.url).create_bucket(Bucket=name)
    return name


@pytest.fixture
def closed_port():
    """A loopback port bound but not listening: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_features(spark, tiny_cfg, tiny_data, tmp_path_factory):
    """The Spark feature ETL run once on the tiny data: (output folder, manifest)."""
    from demandcast.features import etl

    out = tmp_path_factory.mktemp("features") / "features"
    manifest = etl.run(spark, str(tiny_data), str(out), tiny_cfg.data, tiny_cfg.features)
    return out, manifest


@pytest.fixture(scope="session")
def tiny_model(tiny_cfg, tiny_data, tiny_features):
    """A model fitted on the tiny features as the train stage fits it, with what it needs
    to forecast: a namespace of cfg, spec, fold, table, forecaster, online features."""
    from types import SimpleNamespace

    from demandcast.features import feature_spec
    from demandcast.models import boosting, dataset

    out, _ = tiny_features
    spec = feature_spec.from_config(tiny_cfg.features)
    table = dataset.load_table(out, spec)
    model_cfg = OmegaConf.merge(tiny_cfg.model, {"train_days": None})  # both years: holidays seen twice
    fold = dataset.fold(tiny_cfg.data.end, spec, model_cfg, int(tiny_cfg.evaluate.horizon))
    train, valid = dataset.windows(table, fold)
    booster = boosting.fit(train, valid, spec.names(), spec.target, model_cfg, seed=int(tiny_cfg.seed))
    forecaster = boosting.Forecaster.from_fit(booster, spec.names(), model_cfg)
    static = dataset.read_static(tiny_data)
    online = dataset.online(static, spec, dataset.read_priors(out, spec), known_until=fold.origin)
    return SimpleNamespace(cfg=tiny_cfg, spec=spec, fold=fold, table=table, train=train, valid=valid,
                           forecaster=forecaster, online=online, static=static, features=out)


@pytest.fixture(scope="session")
def tiny_bento(tmp_path_factory, tiny_data, tiny_features):
    """train -> evaluate -> register -> package on the tiny features, as the stages run them,
    with a SQLite MLflow store; the bento imported into a throw-away BentoML store.
    Small serving limits (serve.max_series=50, serve.max_body_bytes=300000) so tests can hit them."""
    from tests.bento_server import build_bento
    from tests.helpers import stage_workspace

    root, args = stage_workspace(tmp_path_factory.mktemp("serving"), tiny_data, tiny_features,
                                 "evaluate.folds=1", "serve.max_series=50", "serve.max_body_bytes=300000")
    return build_bento(root, args, tiny_data)


@pytest.fixture(scope="session")
def tiny_server(tiny_bento, tmp_path_factory):
    """``tiny_bento`` served once for every test that only calls it (the service's and the app's):
    its base URL and the server's working folder (its prediction log is under it)."""
    from types import SimpleNamespace

    from tests.bento_server import serving

    workdir = tmp_path_factory.mktemp("tiny-server")
    with serving(tiny_bento.home, workdir, timeout=300) as url:
        yield SimpleNamespace(url=url, workdir=workdir)


@pytest.fixture(scope="session")
def data_cfg():
    """The small raw-file set's data config (a tiny preset named 'small')."""
    cfg = OmegaConf.merge(OmegaConf.load(ROOT / "conf" / "data" / "demo.yaml"), SMALL)
    return OmegaConf.merge(cfg, {"name": "small"})


@pytest.fixture(scope="session")
def validate_cfg():
    """conf's validate settings with a fixed 'today'."""
    cfg = OmegaConf.load(ROOT / "conf" / "config.yaml").validate
    return OmegaConf.merge(cfg, {"as_of": AS_OF})


@pytest.fixture(scope="session")
def small_data(tmp_path_factory, data_cfg) -> Path:
    """A few thousand rows in Favorita's schema, generated once; copy before changing."""
    root = tmp_path_factory.mktemp("small")
    from demandcast.data import generate

    generate.run(data_cfg, 42, root / "data", root / "truth" / "expected_demand.parquet")
    return root / "data"


@pytest.fixture
def data_dir(small_data, tmp_path) -> Path:
    """A private copy of the raw files, free to corrupt."""
    from demandcast.data import generate

    out = tmp_path / "data"
    out.mkdir()
    for name in generate.RAW_FILES:
        shutil.copy(small_data / name, out / name)
    return out
