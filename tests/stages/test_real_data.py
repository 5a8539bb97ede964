"""Real data end to end: a small Favorita-shaped export, no ground truth, `dvc repro` to a served forecast.

The fixture is what a user copies from Kaggle, in miniature: the six history files, the
holiday calendar with Favorita's Spanish (Ecuadorian) descriptions, the promotion plan
``test.csv`` covering only the days after the history (every store x item pair, True or
False), no ``data/truth/`` and no generator marker. It is derived from the tiny generated
data so it runs in minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import httpx
import pandas as pd
import pytest
from omegaconf import OmegaConf

from tests.bento_server import import_bento, serving
from tests.helpers import ROOT

END = "2023-12-15"  # the export's last day of sales; the plan covers the 16 days after it
SPANISH = {"Christmas Day": "Navidad", "New Year's Day": "Primer dia del ano", "Labor Day": "Dia del Trabajo",
           "Mother's Day": "Dia de la Madre", "Independence Day": "Primer Grito de Independencia"}


def favorita_shaped(data) -> None:
    """Turn generated tiny data into the shape of Favorita's export (see the module docstring)."""
    shutil.rmtree(data / "truth")
    (data / "_generator.json").unlink()
    train = pd.read_csv(data / "train.csv", dtype={"onpromotion": "object"})
    train[train["date"] <= END].to_csv(data / "train.csv", index=False)
    tx = pd.read_csv(data / "transactions.csv")
    tx[tx["date"] <= END].to_csv(data / "transactions.csv", index=False)
    holidays = pd.read_csv(data / "holidays_events.csv")
    holidays["description"] = holidays["description"].replace(SPANISH)
    holidays["locale_name"] = holidays["locale_name"].replace({"United States": "Ecuador"})
    holidays.to_csv(data / "holidays_events.csv", index=False)
    promoted = pd.read_csv(data / "test.csv")
    pairs = train[["store_nbr", "item_nbr"]].drop_duplicates()
    days = pd.DataFrame({"date": pd.date_range("2023-12-16", "2023-12-31").strftime("%Y-%m-%d")})
    plan = pairs.merge(days, how="cross").merge(promoted[["date", "store_nbr", "item_nbr", "onpromotion"]],
                                                 on=["date", "store_nbr", "item_nbr"], how="left")
    plan["onpromotion"] = plan["onpromotion"].fillna(False).astype(bool)
    plan.insert(0, "id", range(len(train), len(train) + len(plan)))
    columns = ["id", "date", "store_nbr", "item_nbr", "onpromotion"]
    plan.sort_values(["date", "store_nbr", "item_nbr"])[columns].to_csv(data / "test.csv", index=False)


def preset(repo) -> None:
    """`favorita_tiny`: the tiny preset's dates, Favorita's calendar names, small settings."""
    tiny = OmegaConf.load(repo / "conf" / "data" / "tiny.yaml")
    favorita = OmegaConf.load(repo / "conf" / "data" / "favorita.yaml")
    OmegaConf.save(OmegaConf.merge(tiny, {"name": "favorita_tiny", "end": END, "holidays": favorita.holidays,
                                          "rows": {"min": 1000, "max": 200000}}),
                   repo / "conf" / "data" / "favorita_tiny.yaml")
    config = (repo / "conf" / "config.yaml").read_text().replace("  - data: demo", "  - data: favorita_tiny")
    (repo / "conf" / "config.yaml").write_text(config)
    # One trial, one fold: what this test checks is the path from a Kaggle-shaped export to a
    # served forecast; the sweep and the backtest are other tests' (test_experiments, test_evaluation).
    (repo / "conf" / "tune" / "demo.yaml").write_text(
        (repo / "conf" / "tune" / "demo.yaml").read_text().replace("n_trials: 5", "n_trials: 1"))
    (repo / "conf" / "config.yaml").write_text(
        (repo / "conf" / "config.yaml").read_text().replace("  folds: 3", "  folds: 1"))


def run(repo, *args, timeout=1800):
    done = subprocess.run([sys.executable, "-m", *args], cwd=repo, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_dvc_repro_on_a_favorita_shaped_export_without_truth_serves_a_forecast(project, tmp_path):
    repo = project("tiny")
    favorita_shaped(repo / "data")
    preset(repo)
    run(repo, "demandcast", "params")
    run(repo, "dvc", "add", "-q", "data")
    done = run(repo, "dvc", "repro")
    log = done.stdout + done.stderr
    assert "Traceback" not in log

    # Holidays from the data's own calendar: the Spanish names it has are tracked, the two it
    # lacks (Carnaval and Viernes Santo: the US-derived calendar has neither) are warned about.
    features = json.loads((repo / "reports" / "features.json").read_text())
    assert set(features["holidays"]["named_missing"]) == {"carnaval", "good_friday"}
    assert "warning: features: named holiday 'carnaval' ('Carnaval') never occurs" in log
    assert "is_christmas" not in features["constant_features"]

    evaluation = json.loads((repo / "reports" / "evaluation.json").read_text())
    assert evaluation["oracle"]["included"] is False and "no ground truth" in evaluation["oracle"]["reason"]
    assert evaluation["test_window"] == ["2023-11-18", "2023-12-15"]
    assert evaluation["promotions"]["test_window_covered"] is False  # the plan starts after the history
    assert evaluation["test"]["model"]["wape"] > 0 and "oracle" not in evaluation["test"]
    registry = json.loads((repo / "reports" / "registry.json").read_text())
    assert registry["decision"] == "champion", registry["gates"]
    assert "beats_best_baseline" in registry["applied"]

    home = tmp_path / "bentoml"
    import_bento(repo / "artifacts" / "package" / "demandcast.bento", home)
    plan = pd.read_csv(repo / "data" / "test.csv")
    promoted = plan[plan["onpromotion"]].iloc[0]
    mine = plan[(plan["store_nbr"] == promoted["store_nbr"]) & (plan["item_nbr"] == promoted["item_nbr"])]
    request = {"store_nbr": int(promoted["store_nbr"]), "item_nbr": int(promoted["item_nbr"]), "horizon": 16,
               "promotions": mine.loc[mine["onpromotion"], "date"].tolist()}
    with serving(home, tmp_path / "server") as url:
        answer = httpx.post(f"{url}/forecast", json={"requests": [request]}, timeout=60)
    assert answer.status_code == 200, answer.text
    one = answer.json()["forecasts"][0]
    assert one["dates"][0] == "2023-12-16" and len(one["forecast"]) == 16 and one["fallback"] is None
    assert all(f >= 0 for f in one["forecast"])


@pytest.mark.parametrize("optional", ["data/truth", "data/test.csv", "data/holidays_events.csv"])
def test_no_stage_depends_on_a_file_real_data_may_lack(optional):
    """DVC fails on a missing dependency; the stages depend on data/ and check for these."""
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, spec in stages.items():
        deps = [d.split("#")[0].strip() for d in spec["deps"]]
        assert not [d for d in deps if d.startswith(optional)], name
