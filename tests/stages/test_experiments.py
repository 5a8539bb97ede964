"""DVC's Hydra integration: `dvc exp run -S` recomposes params.yaml from conf/ and runs."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def dvc(repo, *args):
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True, timeout=600)


def test_exp_run_runs_the_whole_pipeline_and_shows_its_metrics(project):
    """`dvc exp run -S` with a data preset and a tune override: validate through register."""
    repo = project("tiny")
    done = dvc(repo, "exp", "run", "-S", "data=tiny", "-S", "tune.n_trials=3", "--name", "tiny-sweep")
    assert done.returncode == 0, done.stderr
    params = (repo / "params.yaml").read_text()
    assert "name: tiny" in params and "n_trials: 3" in params
    report = json.loads((repo / "reports" / "validation.json").read_text())
    assert report["status"] == "passed" and report["preset"] == "tiny"
    best = json.loads((repo / "artifacts" / "tune" / "best_params.json").read_text())
    assert best["completed"] == 3
    assert json.loads((repo / "reports" / "registry.json").read_text())["decision"] == "champion"

    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    experiments = [exp for rev in shown for exp in (rev.get("experiments") or [])]
    sweep = [exp for exp in experiments if exp.get("name") == "tiny-sweep"]
    assert sweep, [exp.get("name") for exp in experiments]
    data = sweep[0]["revs"][0]["data"]
    metrics = data["metrics"]["reports/metrics.json"]["data"]
    assert 0 < metrics["test"]["wape"] < metrics["test"]["wape_seasonal_naive"]
    assert data["params"]["params.yaml"]["data"]["tune"]["n_trials"] == 3

    again = dvc(repo, "repro")
    assert again.returncode == 0
    out = again.stdout + again.stderr
    assert "Running stage" not in out, out


def test_exp_run_on_data_of_another_preset_stops_at_validate(project):
    repo = project("tiny")
    done = dvc(repo, "exp", "run", "-S", "data=medium")
    assert done.returncode != 0
    assert "data preset 'medium'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
