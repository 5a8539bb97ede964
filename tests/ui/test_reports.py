"""Reading the evaluation, registry and monitoring reports the pages show."""

from __future__ import annotations

import json

import pytest

from demandcast.errors import UserError
from demandcast.ui import reports
from tests.helpers import ROOT
from tests.ui.conftest import monitor_report, write_monitoring


@pytest.fixture(scope="module")
def evaluation():
    return reports.evaluation(ROOT / "reports")


def test_evaluation_tables(evaluation):
    horizon = reports.by_horizon(evaluation)
    assert horizon["horizon"].tolist() == list(range(1, 29))
    assert list(horizon.columns) == ["horizon", "model", "seasonal_naive", "moving_average_28", "oracle"]
    assert horizon.loc[0, "model"] == evaluation["test"]["wape_by_horizon"]["model"]["1"]
    family = reports.by_family(evaluation)
    assert family.index.name == "family" and len(family) == len(evaluation["test"]["wape_by_family"]["model"])
    head = reports.headline(evaluation)
    assert head.loc["model", "wape"] == evaluation["test"]["model"]["wape"]
    assert head.loc["model", "model's WAPE / this"] == 1.0
    cov = reports.coverage(evaluation)
    assert cov["interval"].tolist() == ["80% interval", "95% interval"]
    assert cov["nominal"].tolist() == [0.8, 0.95]
    assert reports.backtest(evaluation)["forecaster"].tolist()[0] == "model"


def test_evaluation_without_the_oracle_and_the_backtest(evaluation):
    real = json.loads(json.dumps(evaluation))  # real data has no truth: no oracle (issue 11)
    for part in (real["test"], real["test"]["wape_by_horizon"], real["test"]["wape_by_family"]):
        part.pop("oracle")
    real.pop("backtest")
    assert "oracle" not in reports.by_horizon(real) and "oracle" not in reports.headline(real).index
    assert reports.backtest(real) is None


def test_samples_and_their_coverage():
    samples = reports.sample_forecasts(ROOT / "reports")
    assert samples and all(len(f) == 28 for f in samples.values())
    frame = next(iter(samples.values()))
    actual, predicted = reports.sample_frames(frame)
    assert list(actual.columns) == ["date", "unit_sales"]
    assert {"forecast", "lower_80", "upper_95"} <= set(predicted.columns)
    inside = reports.sample_coverage(frame)
    assert 0 <= inside["0.80"] <= inside["0.95"] <= 1


def test_coverage_by_family_from_the_scored_cells():
    import pandas as pd

    scored = pd.DataFrame({"family": ["A", "A", "A", "B"], "actual": [1.0, 5.0, 2.0, 9.0],
                           "lower_0.8": [0.0, 0.0, 1.0, 0.0], "upper_0.8": [2.0, 2.0, 3.0, 8.0],
                           "lower_0.95": [0.0, 0.0, 0.0, 0.0], "upper_0.95": [4.0, 6.0, 4.0, 9.0]})
    table = reports.coverage_by(scored, "family")
    assert table.index.tolist() == ["B", "A"]  # worst covered first
    assert table.loc["A", "80% interval"] == pytest.approx(2 / 3) and table.loc["A", "95% interval"] == 1.0
    assert table.loc["B", "80% interval"] == 0.0 and table["days"].tolist() == [1, 3]


def test_missing_reports_are_none_and_broken_ones_name_the_file(tmp_path):
    assert reports.evaluation(tmp_path) is None and reports.monitoring(tmp_path) is None
    assert reports.cells(tmp_path) is None
    (tmp_path / "evaluation.json").write_text("{not json")
    with pytest.raises(UserError, match="evaluation.json cannot be read as JSON"):
        reports.evaluation(tmp_path)


def test_monitoring_files_in_the_agreed_schema(tmp_path):
    write_monitoring(tmp_path, retrain=True)
    mon = reports.monitoring(tmp_path)
    assert mon.report["recommendation"]["retrain"]
    assert mon.drift_html == tmp_path / "monitoring" / "drift.html"
    assert mon.history["run_date"].dt.year.tolist() == [2024, 2024, 2024]
    columns = reports.drift_columns(mon.report)
    assert columns["column"].tolist()[0] == "roll_mean_7"
    assert columns["drifted"].tolist() == [True, False, False]
    assert reports.live_by_horizon(mon.report)["days ahead"].tolist() == ["1-7", "8-14", "15-28"]
    quiet = {**monitor_report(False), "live_accuracy": None}
    assert reports.live_by_horizon(quiet) is None


def test_a_monitor_report_of_another_schema_says_so(tmp_path):
    (tmp_path / "monitor.json").write_text(json.dumps({"status": "ok"}))
    with pytest.raises(UserError, match=r"monitor.json lacks \['windows'"):
        reports.monitoring(tmp_path)
