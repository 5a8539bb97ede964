"""Experiments as users run them: `dvc exp run` in the workspace, `--temp`, and `--queue` with
`dvc queue start -j 2`, each through `package`; all MLflow runs in the workspace's one store;
the champion alias untouched by experiments; a failed run loses nothing."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from tests.conftest import copy_project

pytestmark = pytest.mark.slow

# data=tiny as the sweep ran it: -S overrides hold for one run (conf/ still says demo)
SMALL = ("-S", "data=tiny", "-S", "tune.n_trials=1", "-S", "evaluate.folds=1")


def dvc(repo, *args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True, timeout=timeout)


def git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True, check=True).stdout


def experiments(repo) -> dict[str, dict]:
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    return {exp["name"]: exp["revs"][0] for rev in shown for exp in (rev.get("experiments") or [])
            if exp.get("name")}


def store(repo):
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'artifacts' / 'mlflow.db'}")
    return mlflow.MlflowClient()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A checkout with tiny data tracked in data.dvc, after `dvc exp run -S data=tiny -S
    tune.n_trials=3 --name tiny-sweep` in the workspace, its results committed: (repo, the run,
    `dvc exp show` before that commit).

    Both tests start from it. The queued and --temp experiments change only tune's and later
    stages' parameters, so DVC takes validate's and features' outputs from the committed lock and
    the cache instead of running them (and their Spark JVM) twice more: three pipelines' worth of
    feature ETL was most of this module's time on two cores."""
    repo = copy_project(tmp_path_factory.mktemp("experiments") / "project", "tiny")
    added = dvc(repo, "add", "data")  # the copies get data/ from the cache, as data.dvc says
    assert added.returncode == 0, added.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tiny data")
    done = dvc(repo, "exp", "run", "-S", "data=tiny", "-S", "tune.n_trials=3", "--name", "tiny-sweep")
    assert done.returncode == 0, done.stderr
    shown = experiments(repo)  # the sweep's baseline is HEAD until its results are committed
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the sweep's results")
    return repo, done, shown


def test_exp_run_runs_the_whole_pipeline_and_a_failed_one_loses_nothing(swept):
    """`dvc exp run -S` with a data preset and a tune override: validate through package."""
    repo, done, shown = swept
    assert "Running stage 'validate'" in done.stdout and "Running stage 'package'" in done.stdout, done.stdout
    params = (repo / "params.yaml").read_text()
    assert "name: tiny" in params and "n_trials: 3" in params
    report = json.loads((repo / "reports" / "validation.json").read_text())
    assert report["status"] == "passed" and report["preset"] == "tiny"
    best = json.loads((repo / "artifacts" / "tune" / "best_params.json").read_text())
    assert best["completed"] == 3
    decision = json.loads((repo / "reports" / "registry.json").read_text())
    assert decision["decision"] == "candidate" and decision["experiment"] == "tiny-sweep"
    assert (repo / "artifacts" / "package" / "demandcast.bento").exists()
    package = json.loads((repo / "artifacts" / "package" / "package.json").read_text())
    assert package["alias"] == "candidate" and package["model_version"] == decision["version"]

    sweep = shown["tiny-sweep"]["data"]
    metrics = sweep["metrics"]["reports/metrics.json"]["data"]
    assert 0 < metrics["test"]["wape"] < metrics["test"]["wape_seasonal_naive"]
    assert sweep["params"]["params.yaml"]["data"]["tune"]["n_trials"] == 3

    again = dvc(repo, "repro")
    assert again.returncode == 0
    assert "Running stage" not in again.stdout + again.stderr, again.stdout

    # A failing experiment (on the committed sweep): evaluate stops at once; the committed
    # reports stay as they were.
    # -S overrides hold for one run only (params.yaml is recomposed from conf/): repeat the
    # sweep's, so only evaluate's parameter changes and evaluate is the first stage to run.
    failed = dvc(repo, "exp", "run", "-S", "data=tiny", "-S", "tune.n_trials=3", "-S", "evaluate.folds=0")
    assert failed.returncode != 0
    assert "failed to reproduce 'evaluate'" in failed.stderr
    why = "error: stage evaluate: evaluate.horizon (28) and evaluate.folds (0) must be at least 1"
    assert why in failed.stderr
    changed = git(repo, "status", "--porcelain").split("\n")
    assert [line for line in changed if line] == [" M params.yaml"]  # what `-S` asked for, nothing lost
    assert (repo / "reports" / "plots" / "error_by_horizon.csv").exists()


def queue_workers(repo) -> str:
    """What the queue's workers wrote (celery's log per worker): the evidence when the queue stalls."""
    return "\n".join(f"--- {out.name}\n{out.read_text()[-3000:]}"
                     for out in sorted((repo / ".dvc" / "tmp" / "exps" / "celery").glob("*.out")))


def stop_queue_workers(repo):
    """No queue worker outlives the test: `queue stop --kill`, then a SIGKILL to any pid left in the
    workers' pid files (a worker whose shutdown broadcast was lost never exits on its own)."""
    dvc(repo, "queue", "stop", "--kill", timeout=120)
    for pid_file in (repo / ".dvc" / "tmp" / "exps" / "celery").glob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text())
            if b"queue-worker" in Path(f"/proc/{pid}/cmdline").read_bytes():  # not a reused pid
                os.kill(pid, signal.SIGKILL)


def test_queued_and_temp_experiments_run_through_package_into_the_workspace_store(swept, tmp_path):
    """A queued and a --temp experiment run side by side in DVC's copies under .dvc/tmp/exps, each
    through `package`; their data comes from data.dvc, their MLflow runs go to the workspace."""
    # A clone of the sweep's commit with its DVC cache: what the other test does to its
    # workspace stays there, and this workspace's MLflow store starts empty.
    repo = tmp_path / "clone"
    git(swept[0].parent, "clone", "-q", str(swept[0]), str(repo))
    shutil.copytree(swept[0] / ".dvc" / "cache", repo / ".dvc" / "cache")
    queued = dvc(repo, "exp", "run", "--queue", *SMALL, "-S", "model.objective=tweedie",
                 "--name", "q-tweedie")
    assert queued.returncode == 0, queued.stderr
    try:
        # Not through pipes: the workers are forked from `queue start` and keep its stdout open
        # until they exit, so reading it would wait for the whole queue (or forever, if a worker
        # hangs). A file lets `queue start` return once the workers are up, as it does in a shell.
        log = tmp_path / "queue-start.log"
        with log.open("w") as out:
            started = subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", "2"], cwd=repo,
                                     stdout=out, stderr=subprocess.STDOUT, timeout=300)
        assert started.returncode == 0, log.read_text()
        temp = dvc(repo, "exp", "run", "--temp", *SMALL, "-S", "seed=7", "--name", "t-seed7")  # meanwhile
        assert temp.returncode == 0, temp.stderr[-3000:]
        deadline = time.monotonic() + 900  # the queued run alone takes 1-3 minutes on two cores
        while time.monotonic() < deadline:
            status = dvc(repo, "queue", "status").stdout
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(2)
        assert "Success" in status and "Failed" not in status, (
            status, dvc(repo, "queue", "logs", "q-tweedie", timeout=120).stdout[-3000:], queue_workers(repo))
    finally:
        stop_queue_workers(repo)

    names = {"q-tweedie", "t-seed7"}
    shown = experiments(repo)
    assert names <= set(shown)
    for name in names:
        data = shown[name]["data"]
        assert data["metrics"]["reports/metrics.json"]["data"]["test"]["wape"] > 0, name
        assert data["outs"]["artifacts/package"]["hash"], name
    assert shown["q-tweedie"]["data"]["params"]["params.yaml"]["data"]["model"]["objective"] == "tweedie"

    # Every experiment's runs and versions are in the workspace's store, none in a copy's.
    client = store(repo)
    trains = mlflow.search_runs(experiment_names=["demandcast"], filter_string="tags.stage = 'train'",
                                output_format="list")
    assert {r.data.tags.get("dvc_experiment") for r in trains} == names
    versions = client.search_model_versions("name='demandcast-xgboost'")
    assert {v.tags.get("dvc_experiment") for v in versions} == names
    assert {v.tags["decision"] for v in versions} <= {"candidate", "challenger"}
    with pytest.raises(Exception, match="alias"):  # no experiment made itself the champion
        client.get_model_version_by_alias("demandcast-xgboost", "champion")
    assert not list((repo / ".dvc" / "tmp" / "exps").rglob("mlflow.db"))
