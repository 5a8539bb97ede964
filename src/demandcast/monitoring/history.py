"""What a monitor run leaves behind: Evidently's report, its snapshot, and the history.

* ``reports/monitoring/drift.html``: Evidently's self-contained report (opens offline);
* ``reports/monitoring/snapshot.json``: Evidently's snapshot JSON;
* ``reports/monitoring/history.csv``: one row per run (``HISTORY_COLUMNS``), which ``dvc
  plots`` draws over time;
* the snapshot also goes into a local Evidently workspace (``monitor.workspace``, under
  ``artifacts/monitoring/``) whose project dashboard plots drift share and the prediction's
  drift over runs: ``evidently ui --workspace artifacts/monitoring``.
"""

from __future__ import annotations

import csv
from pathlib import Path

HISTORY_COLUMNS = ("run_date", "current_start", "current_end", "drift_share", "live_wape", "coverage_80",
                   "retrain")


def save_report(snapshot, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    html, snap = folder / "drift.html", folder / "snapshot.json"
    snapshot.save_html(str(html))  # a pathlib.Path makes evidently 0.7.23 write nothing, silently
    snap.write_text(snapshot.json(), encoding="utf-8")
    if not html.is_file() or html.stat().st_size == 0:
        raise RuntimeError(f"Evidently wrote no report to {html}")
    return html, snap


def append_history(path: Path, monitor: dict, run_date: str) -> Path:
    live = monitor["live_accuracy"] or {}
    row = {"run_date": run_date, "current_start": monitor["windows"]["current"]["start"],
           "current_end": monitor["windows"]["current"]["end"], "drift_share": monitor["drift"]["share"],
           "live_wape": live.get("wape"), "coverage_80": (live.get("coverage") or {}).get("0.8"),
           "retrain": monitor["recommendation"]["retrain"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def add_to_workspace(snapshot, folder: Path, project_name: str) -> str:
    """Add the run to the workspace's project (made, with its dashboard, on first use)."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel
    from evidently.ui.workspace import Workspace

    folder.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(str(folder))
    found = workspace.search_project(project_name)
    if found:
        project = found[0]
    else:
        project = workspace.create_project(project_name, description="demandcast: drift of the "
                                           "served model's inputs and predictions, one run per monitor stage")
        project.dashboard.add_panel(line_plot_panel("Share of drifted features", [PanelMetric(
            metric="DriftedColumnsCount", metric_labels={"value_type": "share"}, legend="share")]))
        project.dashboard.add_panel(line_plot_panel("Drift of the predictions and the target", [
            PanelMetric(metric="ValueDrift", metric_labels={"column": c}, legend=c)
            for c in ("prediction", "target")]))
    workspace.add_run(project.id, snapshot, include_data=False)
    return str(project.id)
