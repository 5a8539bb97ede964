"""DVC's Hydra integration: `dvc exp run -S` recomposes params.yaml from conf/ and runs."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def dvc(repo, *args):
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True, timeout=600)


def test_exp_run_with_a_data_preset(project):
    repo = project("tiny")
    done = dvc(repo, "exp", "run", "-S", "data=tiny", "--name", "tiny-data")
    assert done.returncode == 0, done.stderr
    assert "name: tiny" in (repo / "params.yaml").read_text()
    report = json.loads((repo / "reports" / "validation.json").read_text())
    assert report["status"] == "passed" and report["preset"] == "tiny"

    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    experiments = [exp for rev in shown for exp in (rev.get("experiments") or [])]
    names = {exp.get("name") for exp in experiments}
    assert "tiny-data" in names, names

    again = dvc(repo, "repro")
    assert again.returncode == 0 and "didn't change" in again.stdout + again.stderr


def test_exp_run_on_data_of_another_preset_stops_at_validate(project):
    repo = project("tiny")
    done = dvc(repo, "exp", "run", "-S", "data=medium")
    assert done.returncode != 0
    assert "data preset 'medium'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
