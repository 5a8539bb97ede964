"""The GitHub workflows: least privilege per job, actions pinned, and linters that do bite."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: uv sync (it is a dev dependency)")
    return found


def test_the_workflows_are_the_three_we_document():
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "pr.yml", "release.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_asks_only_for_what_it_needs(workflow):
    spec = yaml.safe_load(workflow.read_text())
    assert spec["permissions"] == {}, "no workflow-wide permissions: each job states its own"
    allowed = {"contents": {"read"}, "id-token": {"write"}, "pull-requests": {"write"}}
    for name, job in spec["jobs"].items():
        assert "permissions" in job, f"{workflow.name}: job {name} states no permissions"
        for scope, level in job["permissions"].items():
            assert level in allowed.get(scope, set()), f"{workflow.name}: {name} asks {scope}: {level}"
        if job["permissions"].get("pull-requests") == "write":  # the commenting job holds nothing else
            assert set(job["permissions"]) == {"pull-requests"} and not any(
                "aws-actions" in str(step.get("uses", "")) for step in job["steps"])


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_named(workflow):
    lines = [line.strip() for line in workflow.read_text().splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        ref, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(ref.strip()), line
        assert re.fullmatch(r"v\d+\.\d+\.\d+", comment.strip()), f"no version comment: {line}"


def test_the_workflows_pass_actionlint_and_zizmor():
    lint = subprocess.run([tool("actionlint"), *map(str, WORKFLOWS)], capture_output=True, text=True,
                          timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run([tool("zizmor"), "--quiet", "--offline", "--persona", "auditor",
                            str(WORKFLOWS[0].parent)], capture_output=True, text=True, timeout=120)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_the_linters_catch_what_they_are_there_for(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  greet:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n")
    lint = subprocess.run([tool("actionlint"), str(bad)], capture_output=True, text=True, timeout=120)
    assert lint.returncode != 0 and "steps.nope" in lint.stdout
    audit = subprocess.run([tool("zizmor"), "--offline", str(bad.parent)], capture_output=True, text=True,
                           timeout=120)
    assert audit.returncode != 0
    assert "template-injection" in audit.stdout and "unpinned-uses" in audit.stdout
