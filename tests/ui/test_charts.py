"""Every chart of the app is a valid Vega-Lite spec (Altair's JSON-schema validation, which the
app skips on each rerun for speed), with the layers and fields the pages rely on."""

from __future__ import annotations

import pandas as pd
import pytest

from demandcast.ui import charts, experiments, forecasts, reports
from tests.helpers import ROOT
from tests.ui.conftest import add_study, monitor_report
from tests.ui.test_forecasts import answer


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_forecast_chart_with_history_bands_promotions_and_hover():
    history = forecasts.history_frame({"dates": ["2024-06-29", "2024-06-30"], "unit_sales": [3.0, 4.0],
                                       "onpromotion": [False, True]})
    plain = forecasts.forecast_frame(answer([2.0, 3.0, 3.0]))
    spec = charts.forecast_chart(history, plain, "Store 5 — item 1").to_dict()  # validates
    assert spec["title"] == "Store 5 — item 1" and len(layers(spec)) == 4  # 2 bands, lines, hover rule
    promoted = forecasts.forecast_frame(answer([2.0, 6.0, 3.0]), answer([2.0, 3.0, 3.0]), ["2024-07-02"])
    spec = charts.forecast_chart(history, promoted, "t").to_dict()
    assert len(layers(spec)) == 5  # + the promotion days
    folded = next(layer for layer in layers(spec) if "transform" in layer and "fold" in layer["transform"][0])
    assert folded["transform"][0]["fold"] == ["Sales", "Forecast", "Forecast without promotion"]
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 2 + 3 and rows[0]["Sales"] == 3.0 and rows[-1]["Forecast"] == 3.0
    assert charts.spec(charts.forecast_chart(history, promoted, "t")) == spec  # the same spec, unvalidated


@pytest.mark.parametrize("promotions", [[], ["2024-07-02"]])
def test_the_pages_forecast_spec_is_the_validated_chart_with_its_data_as_a_table(promotions):
    history = forecasts.history_frame({"dates": ["2024-06-29", "2024-06-30"], "unit_sales": [3.0, 4.0],
                                       "onpromotion": [False, True]})
    frame = forecasts.forecast_frame(answer([2.0, 6.0, 3.0]), answer([2.0, 3.0, 3.0]) if promotions else None,
                                     promotions)
    want = charts.forecast_chart(history, frame, "Store 5 — item 1").to_dict()
    rows = want.pop("datasets")[want.pop("data")["name"]]
    for title in ("Store 5 — item 1", "Store 5 — item 2"):  # the second from the shape's cached spec
        got = charts.forecast_spec(history, frame, title)
        table = got.pop("data")["values"]
        assert got == {**want, "title": title}
        assert table.astype(object).where(table.notna(), None).to_dict("records") == rows
    assert table["date"].tolist()[:2] == ["2024-06-29T00:00:00", "2024-06-30T00:00:00"]


def test_report_charts_are_valid():
    ev = reports.evaluation(ROOT / "reports")
    for chart in (charts.by_horizon_chart(reports.by_horizon(ev)),
                  charts.by_family_chart(reports.by_family(ev)), charts.coverage_chart(reports.coverage(ev))):
        assert chart.to_dict()
    history = pd.DataFrame({"run_date": pd.to_datetime(["2024-07-07", "2024-07-14"]),
                            "drift_share": [0.0, 0.3], "live_wape": [0.5, 0.6]})
    assert charts.over_time(history, ["drift_share", "live_wape"]).to_dict()
    columns = reports.drift_columns(monitor_report(True))
    assert charts.bars(columns, "column", "score", "drift score").to_dict()


@pytest.mark.parametrize("n_trials", [1, 6])
def test_tuning_charts_are_valid(tmp_path, n_trials):
    name = add_study(tmp_path, n_trials=n_trials)
    storage = experiments.optuna_storage(tmp_path)
    assert charts.trials_chart(experiments.trials(storage, name)).to_dict()
    scores = experiments.importance(storage, name)
    assert (scores is None) == (n_trials < 2)
    if scores is not None:
        assert charts.bars(scores, "parameter", "importance", "importance").to_dict()


def test_family_chart_is_valid():
    other = {**answer([5.0, 5.0]), "item_nbr": 99}
    long = forecasts.family_frame([answer([1.0, 2.0]), other], {103665: "103665 · BREAD", 99: "99 · DAIRY"})
    spec = charts.family_chart(long, "DAIRY at Store 5").to_dict()
    assert spec["encoding"]["y"]["aggregate"] == "sum" and spec["encoding"]["color"]["field"] == "item"
