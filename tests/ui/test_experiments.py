"""DVC experiments, Optuna studies and the MLflow store as the Experiments page reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demandcast.ui import experiments
from tests.ui.conftest import add_study

# `dvc exp show --json` (DVC 3.67) after two experiments on a one-stage repository:
# `dvc exp run -S seed=7 -n seed-seven`, then `-S model.eta=0.2 -S model.objective=tweedie -n eta-high`.
SHOW = json.loads((Path(__file__).parent / "data" / "dvc_exp_show.json").read_text())


def test_exp_show_becomes_one_row_per_workspace_baseline_and_experiment():
    table = experiments.exp_table(SHOW)
    assert table["experiment"].tolist() == ["workspace", "main", "eta-high", "seed-seven"]
    assert table["kind"].tolist() == ["workspace", "baseline", "experiment", "experiment"]
    assert set(table["baseline"]) == {"workspace", "main"} and set(table["status"]) == {"success"}
    row = table.set_index("experiment").loc["main"]
    assert row["param seed"] == 42 and row["param model.objective"] == "poisson"
    assert row["metric test.wape"] == 0.4875 and row["param evaluate.intervals"] == "[0.8, 0.95]"
    assert experiments.varying(table) == ["param seed", "param model.objective", "param model.eta"]


def test_compare_lists_what_differs_with_the_change():
    table = experiments.exp_table(SHOW)
    diff = experiments.compare(table, "main", "eta-high").set_index("key")
    assert set(diff.index) == {"seed", "model.objective", "model.eta", "test.wape"}
    assert diff.loc["model.objective", "main"] == "poisson"
    assert diff.loc["model.objective", "eta-high"] == "tweedie"
    assert diff.loc["seed", "change"] == -35 and diff.loc["test.wape", "change"] == pytest.approx(0.065)
    assert pd_isna(diff.loc["model.objective", "change"])
    assert experiments.compare(table, "workspace", "eta-high").empty  # the workspace holds eta-high


def pd_isna(value) -> bool:
    return value is None or value != value


def test_failed_experiments_and_repeated_names(tmp_path):
    broken = json.loads(json.dumps(SHOW))
    broken[1]["experiments"][0]["revs"][0]["error"] = {"msg": "stage failed", "type": "ReproductionError"}
    broken[1]["experiments"][1]["executor"] = {"state": "queued", "name": None, "local": None}
    broken[1]["experiments"][1]["name"] = "main"
    table = experiments.exp_table(broken)
    assert table.set_index("experiment").loc["eta-high", "status"] == "failed"
    assert [n for n in table["experiment"] if n.startswith("main")] == [
        f"main ({table.loc[1, 'rev']})", f"main ({table.loc[3, 'rev']})"]
    assert table.loc[3, "status"] == "queued"


def test_optuna_trials_best_so_far_and_importance(tmp_path):
    name = add_study(tmp_path, n_trials=8)
    storage = experiments.optuna_storage(tmp_path)
    assert experiments.current_study(tmp_path) == name and experiments.study_names(storage) == [name]
    trials = experiments.trials(storage, name)
    assert trials["number"].tolist() == list(range(8)) and {"eta", "max_depth"} <= set(trials.columns)
    assert (trials["best"].diff().dropna() <= 0).all() and trials["best"].iloc[-1] == trials["value"].min()
    scores = experiments.importance(storage, name)
    assert set(scores["parameter"]) == {"eta", "max_depth"} and scores["importance"].sum() == pytest.approx(1)


def test_no_store_yet_is_none_and_creates_nothing(tmp_path, params):
    assert experiments.optuna_storage(tmp_path) is None and experiments.current_study(tmp_path) is None
    cfg = params.copy()
    cfg.mlflow.tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert experiments.mlflow_runs(cfg) is None and experiments.registry_versions(cfg) is None
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_mlflow_runs_and_the_registry_of_the_tiny_pipeline(tiny_bento, params):
    cfg = params.copy()
    cfg.mlflow.tracking_uri = f"sqlite:///{tiny_bento.root / 'mlflow.db'}"
    versions = experiments.registry_versions(cfg)
    assert versions["version"].tolist() == [1] and versions.loc[0, "aliases"] == "champion"
    assert versions.loc[0, "decision"] == "champion" and 0 < versions.loc[0, "test_wape"] < 2
    runs = experiments.mlflow_runs(cfg)
    assert "train" in runs["stage"].tolist() and "metric test.wape" in runs
    assert runs.loc[runs["stage"] == "train", "run_id"].iloc[0] == versions.loc[0, "run_id"]
