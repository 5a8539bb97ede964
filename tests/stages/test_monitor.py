"""The monitor stage on the tiny pipeline's artifacts: the feature table's last weeks against
the training window, the files of the contract, the history over runs, and clear errors."""

from __future__ import annotations

import csv
import json

import pytest

from stages import monitor
from tests.monitoring import contract

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tiny_bento):
    """The stage run twice on the tiny workspace (data mode, the default)."""
    outputs = []
    for _ in range(2):
        assert monitor.main(tiny_bento.args) == 0
        outputs.append(json.loads((tiny_bento.root / "reports" / "monitor.json").read_text()))
    return outputs


def test_data_mode_compares_the_last_weeks_with_the_training_window(tiny_bento, runs):
    m = contract.check(tiny_bento.root / "reports" / "monitor.json")
    current = m["windows"]["current"]
    assert (current["start"], current["end"], current["source"]) == ("2023-12-04", "2023-12-31", "data")
    assert current["rows"] <= 28 * 63  # the series-days of the last four weeks
    training = json.loads((tiny_bento.root / "artifacts" / "model" / "training.json").read_text())["fold"]
    assert m["windows"]["reference"]["end"] == training["train_end"]
    assert m["windows"]["reference"]["rows"] == 20000  # sampled to monitor.reference_rows
    assert m["live_accuracy"] is None and not m["alerts"]["accuracy"] and not m["recommendation"]["retrain"]
    watched = {c["column"] for c in m["drift"]["columns"]}
    assert {"lag_7", "roll_mean_30", "onpromotion", "tx_mean"} <= watched
    assert not watched & {"year", "month", "dayofweek", "days_to_christmas"}  # calendar: not watched
    assert m["drift"]["target"]["stattest"] == "wasserstein" and m["drift"]["prediction"] is not None
    assert "monitor=live" in " ".join(m["recommendation"]["reasons"])
    assert runs[0]["drift"] == runs[1]["drift"]  # same data, same seed, same verdict


def test_report_snapshot_history_and_workspace_are_written(tiny_bento, runs):
    folder = tiny_bento.root / "reports" / "monitoring"
    page = (folder / "drift.html").read_text()
    assert "lag_7" in page and '<script src="http' not in page
    snapshot = json.loads((folder / "snapshot.json").read_text())
    assert snapshot["metrics"][0]["config"]["share_tests"][0]["threshold"] == 0.3
    rows = list(csv.DictReader(open(folder / "history.csv")))
    assert len(rows) >= 2 and rows[-1]["current_end"] == "2023-12-31" and rows[-1]["live_wape"] == ""
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(tiny_bento.root / "artifacts" / "monitoring"))
    (project,) = workspace.list_projects()
    assert len(workspace.list_runs(project.id)) >= 2


@pytest.mark.parametrize(("overrides", "message"), [
    (["monitor.source=elsewhere"], "monitor.source='elsewhere': use one of"),
    (["monitor.features=[nope_*]"], "monitor.features: ['nope_*'] match no feature of the model"),
    (["monitor.source=prediction_logs", "monitor.logs.start=2024-13-01"],
     "monitor.logs.start='2024-13-01' is not a date"),
])
def test_bad_settings_are_named(tiny_bento, overrides, message, capsys):
    assert monitor.main([*tiny_bento.args, *overrides]) == 2
    assert message in capsys.readouterr().err


def test_an_empty_log_window_says_where_it_looked(tiny_bento, tmp_path, capsys):
    (tmp_path / "dt=2026-01-02" / "hour=03").mkdir(parents=True)
    code = monitor.main([*tiny_bento.args, "monitor.source=prediction_logs", f"monitor.logs.dir={tmp_path}",
                         "monitor.logs.start=2026-01-01", "monitor.logs.end=2026-01-03"])
    err = capsys.readouterr().err
    assert code == 2 and f"no predictions logged in {tmp_path} on 2026-01-01..2026-01-03" in err
    assert "Traceback" not in err
