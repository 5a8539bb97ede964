"""The pull-request report on a throw-away repository with two commits whose metrics differ."""

from __future__ import annotations

import csv
import json
import struct
import subprocess
import sys

import pytest

from demandcast.pr_report import MARKER

pytestmark = pytest.mark.slow  # DVC subprocesses and PNG rendering: ~30 s

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_report_shows_what_the_change_did(project, tmp_path):
    repo = project()  # commit 1: this project, its committed metrics and plot data
    metrics_path = repo / "reports" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    old_wape = metrics["test"]["wape"]
    metrics["test"]["wape"] = round(old_wape * 0.9, 6)
    metrics_path.write_text(json.dumps(metrics, indent=2))
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("n_trials: 5", "n_trials: 8", 1))
    horizon = repo / "reports" / "plots" / "error_by_horizon.csv"
    rows = list(csv.DictReader(horizon.open()))
    for row in rows:
        row["model"] = str(float(row["model"]) * 0.9)
    with horizon.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    subprocess.run([*GIT, "commit", "-qam", "tune harder"], cwd=repo, check=True)  # commit 2

    out = tmp_path / "report"
    command = [sys.executable, "-m", "demandcast", "pr-report", "--base", "HEAD~1", "--out", str(out)]
    done = subprocess.run(command,
                          cwd=repo, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = (out / "report.md").read_text()
    assert report.startswith(MARKER + "\n## demandcast: this change against `HEAD~1`")

    metrics_table = report.split("### Metrics (`reports/metrics.json`)", 1)[1].split("###", 1)[0]
    [wape] = [line for line in metrics_table.splitlines() if "`test.wape`" in line]
    cells = [c.strip() for c in wape.strip("|").split("|")]
    assert float(cells[1]) == pytest.approx(old_wape, abs=1e-4)
    assert float(cells[2]) == pytest.approx(old_wape * 0.9, abs=1e-4) and cells[4] == "-10.0%"
    assert metrics_table.count("\n|") == 3  # header, rule and the one metric that moved

    params_table = report.split("### Params", 1)[1].split("###", 1)[0]
    assert "| `tune.n_trials` | 5 | 8 |" in params_table

    experiments = report.split("### Experiments", 1)[1].split("###", 1)[0]
    assert "`workspace (this change)`" in experiments and "test.wape" in experiments

    pngs = sorted((out / "plots").glob("*.png"))
    # dvc.yaml's plots: monitor history, error by horizon, 6 forecasts, importance, residuals
    assert len(pngs) == 10
    for png in pngs:
        width, height = png_size(png)
        assert width > 300 and height > 200, (png, width, height)
        assert f"](plots/{png.name})" in report
    assert "**`error_by_horizon`**" in report



def test_plots_can_be_linked_or_embedded_from_where_they_were_uploaded(tmp_path):
    from demandcast.pr_report import plots_section

    rendered = [("error_by_horizon", tmp_path / "plots" / "error_by_horizon.png")]
    linked = plots_section(rendered, tmp_path, None, "https://example.invalid/run/1")
    assert "![" not in linked and "`error_by_horizon`: [download them" not in linked
    assert "1 plots (`error_by_horizon`): [download them with the report](https://example.invalid/run/1)." \
        in linked
    hosted = plots_section(rendered, tmp_path, "https://img.example.invalid/pr-7/", None)
    assert "![error_by_horizon](https://img.example.invalid/pr-7/error_by_horizon.png)" in hosted


def test_a_base_that_does_not_exist_is_one_clear_message(project, tmp_path):
    repo = project()
    command = [sys.executable, "-m", "demandcast", "pr-report", "--base", "no-such-branch", "--out",
               str(tmp_path / "r")]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: dvc metrics diff no-such-branch --json failed")
