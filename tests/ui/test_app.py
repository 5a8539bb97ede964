"""Every page of the app run by Streamlit's AppTest: widgets present, the forecast request
made with the chosen values (against the served tiny bento), and the API-down message."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from demandcast.ui.api import Client
from tests.ui.conftest import APP, write_monitoring


def run_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def charts(at: AppTest) -> int:
    return len(at.get("vega_lite_chart"))


@pytest.fixture
def served(served_project, api, monkeypatch):
    monkeypatch.setenv("DEMANDCAST_ROOT", str(served_project))
    monkeypatch.setenv("DEMANDCAST_API_URL", api)
    return Client(api)


# -- Forecast ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_forecast_page_asks_the_api_with_the_chosen_values(served):
    at = run_app()
    assert [t.value for t in at.title] == ["Forecast"]
    catalog = served.catalog()
    store, item = catalog["series"][-1]
    at.selectbox(key="store").set_value(store).run()
    at.selectbox(key="item").set_value(item).run()
    at.slider(key="horizon").set_value(10).run()
    assert not at.exception, at.exception
    assert "Store" in at.selectbox(key="store").format_func(store) and at.date_input(key="promo_period")
    table = next(d.value for d in at.dataframe)
    want = served.forecast([{"store_nbr": store, "item_nbr": item, "horizon": 10}])["forecasts"][0]
    assert len(table) == 10 and table["forecast"].tolist() == pytest.approx(want["forecast"])
    assert [d.date() for d in pd.to_datetime(table["date"])] == [
        dt.date.fromisoformat(d) for d in want["dates"]]
    assert table["upper_95"].tolist() == pytest.approx(want["upper_95"])
    assert charts(at) == 1 and len(at.get("download_button")) == 1
    assert "Units over 10 days" in [m.label for m in at.metric]
    assert "demandcast-xgboost v1" in texts(at.sidebar.success)

    days = [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    at.multiselect(key="promo_days").set_value(days).run()
    promoted = next(d.value for d in at.dataframe)
    want = served.forecast([{"store_nbr": store, "item_nbr": item, "horizon": 10,
                             "promotions": [str(d) for d in days]}])["forecasts"][0]
    assert promoted["forecast"].tolist() == pytest.approx(want["forecast"])
    assert promoted["promotion"].sum() == 2 and promoted["no_promotion_forecast"].tolist() == pytest.approx(
        table["forecast"].tolist())
    uplift = next(m for m in at.metric if m.label.startswith("Promotion uplift (2 days)"))
    assert uplift.value.endswith("units")


@pytest.mark.slow
def test_forecast_page_explains_a_fallback_in_words(served):
    catalog = served.catalog()
    sold = {(s, i) for s, i in catalog["series"]}
    unsold = [{"store_nbr": s["store_nbr"], "item_nbr": i["item_nbr"], "horizon": 7}
              for s in catalog["stores"] for i in catalog["items"]
              if (s["store_nbr"], i["item_nbr"]) not in sold]
    # an item a store never sold, which the API answers from an average (not a discontinued one)
    answer = next(f for f in served.forecast(unsold)["forecasts"] if f["no_history"])
    store, item = answer["store_nbr"], answer["item_nbr"]
    at = run_app()
    at.sidebar.toggle(key="every_item").set_value(True).run()
    at.selectbox(key="store").set_value(store).run()
    at.selectbox(key="item").set_value(item).run()
    warned = texts(at.warning)
    assert f"Store {store} has no sales history for item {item}" in warned and "Fallback used" in warned
    assert answer["fallback"].replace("_", " ") in {"store family", "family", "global"}


@pytest.mark.slow
def test_forecast_page_for_a_whole_family(served):
    at = run_app()
    at.radio(key="view").set_value("A family at a store").run()
    store = at.selectbox(key="store").value
    family = at.selectbox(key="family").value
    catalog = served.catalog()
    families = {i["item_nbr"]: i["family"] for i in catalog["items"]}
    members = [i for s, i in catalog["series"] if s == store and families[i] == family]
    totals = next(d.value for d in at.dataframe)
    want = served.forecast([{"store_nbr": store, "item_nbr": i, "horizon": 28} for i in members])
    assert sorted(totals["item_nbr"]) == sorted(members)
    assert totals["units"].sum() == pytest.approx(sum(sum(f["forecast"]) for f in want["forecasts"]))
    assert charts(at) == 1 and len(at.get("download_button")) == 1


def test_every_page_says_when_the_api_is_down(project):
    at = run_app()
    assert "The forecasting API is not running" in texts(at.error)
    assert "make ui" in texts(at.code) and "API down at http://127.0.0.1:9" in texts(at.sidebar.error)
    at.switch_page("accuracy.py").run()  # pages that read reports work without the API
    assert [t.value for t in at.title] == ["Accuracy"] and "API down" in texts(at.sidebar.error)


# -- Accuracy ------------------------------------------------------------------------------------

def test_accuracy_page_shows_horizon_family_and_coverage(project):
    at = run_app("accuracy.py")
    labels = [m.label for m in at.metric]
    assert labels == ["Model WAPE", "Against seasonal naive", "Against the oracle", "80% interval covers",
                      "95% interval covers"]
    assert charts(at) == 4  # by horizon, by family, coverage, a sampled series
    assert [s.value for s in at.subheader][:3] == [
        "Error by days ahead", "Error by family", "Interval coverage"]
    samples = at.selectbox(key="sample")
    assert len(samples.options) == 6
    samples.set_value(samples.options[1]).run()
    assert not at.exception and "Inside the 80% band" in texts(at.caption)


def test_accuracy_page_before_any_evaluation(project):
    (project / "reports" / "evaluation.json").unlink()
    at = run_app("accuracy.py")
    assert "No evaluation yet" in texts(at.info) and "uv run dvc repro evaluate" in texts(at.code)
    assert "`reports/evaluation.json`" in texts(at.info)  # relative to the project, not this machine's path


@pytest.mark.slow
def test_accuracy_page_with_the_scored_cells_shows_coverage_by_family(served):
    at = run_app("accuracy.py")
    table = next(d.value for d in at.dataframe if "80% interval" in d.value)
    assert table["days"].sum() > 0 and ((table["80% interval"] >= 0) & (table["80% interval"] <= 1)).all()


# -- Experiments ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_experiments_page_champion_runs_study_and_dvc_experiments(served):
    at = run_app("experiments.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Registry champion"] == "v1" and metrics["Served by the API"] == "v1"
    assert not at.warning  # the API serves the registry's champion
    assert at.selectbox(key="study").value == "demandcast-test-study"
    assert charts(at) == 2  # trials and importance
    experiments = at.selectbox(key="exp_a").options
    assert set(experiments) == {"workspace", "main", "seed-seven"}
    at.selectbox(key="exp_a").set_value("main").run()
    at.selectbox(key="exp_b").set_value("seed-seven").run()
    diff = next(d.value for d in at.dataframe if "change" in d.value)
    assert set(diff["key"]) == {"seed", "test.wape"}


def test_experiments_page_with_nothing_run_yet(project):
    at = run_app("experiments.py")
    info = texts(at.info)
    for missing in ("No registered model yet", "No MLflow runs yet", "No Optuna study yet"):
        assert missing in info
    assert "dvc exp show --json` did not answer" in texts(at.warning)  # not a DVC repository


# -- Monitoring ----------------------------------------------------------------------------------

def test_monitoring_page_before_the_first_run(project):
    at = run_app("monitoring.py")
    assert "No monitoring run yet" in texts(at.info) and "uv run dvc repro monitor" in texts(at.code)
    assert "`reports/monitor.json` does not exist" in texts(at.info) and str(project) not in texts(at.info)


def test_monitoring_page_recommends_retraining_with_reasons(project):
    write_monitoring(project / "reports", retrain=True)
    at = run_app("monitoring.py")
    alert = texts(at.error)
    assert "Retrain recommended" in alert and "live WAPE 0.61 is 24% worse" in alert
    assert "uv run dvc repro" in texts(at.code)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drifted columns"] == "33%" and metrics["Live WAPE"] == "61.0%"
    assert metrics["Accuracy alert"] == "yes" and metrics["Coverage alert"] == "no"
    assert charts(at) == 1 and len(at.get("iframe")) == 1


def test_monitoring_page_all_clear(project):
    write_monitoring(project / "reports", retrain=False)
    at = run_app("monitoring.py")
    assert "All clear" in texts(at.success) and "Retrain" not in texts(at.error)
    assert {m.label: m.value for m in at.metric}["Drifted columns"] == "0%"
