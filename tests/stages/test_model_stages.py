"""tune -> train -> evaluate -> register on the tiny features, with a real MLflow store.

The stages run through their ``main()`` as ``python -m stages.<name>`` would, on a
throw-away artifacts folder, reports folder and SQLite tracking store.
"""

import json

import mlflow
import pytest
from mlflow import MlflowClient

from stages import evaluate, register, train, tune
from tests.helpers import stage_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_data, tiny_features):
    return stage_workspace(tmp_path_factory.mktemp("stages"), tiny_data, tiny_features,
                           "tune.trial_rows=null")


def stage(module, args, capsys) -> str:
    assert module.main(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_tune_resumes_a_stored_study(workspace, capsys):
    root, args = workspace
    first = stage(tune, [*args, "tune.n_trials=2"], capsys)
    assert "study demo" not in first and "tune: study tiny-" in first
    assert "2 trials, 2 complete" in first and "(2 run now)" in first
    again = stage(tune, [*args, "tune.n_trials=3"], capsys)
    assert "3 trials, 3 complete" in again and "(1 run now)" in again
    best = json.loads((root / "artifacts" / "tune" / "best_params.json").read_text())
    assert best["n_trials"] == 3 and set(best["params"]) == {
        "eta", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "lambda"}
    trials = (root / "artifacts" / "tune" / "trials.csv").read_text().splitlines()
    assert len(trials) == 4 and len(set(trials[1:])) == 3
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["demandcast"], output_format="list")
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(nested) == 3  # every trial is a nested run


def test_train_evaluate_register_and_the_champion_gates(workspace, capsys):
    root, args = workspace
    if not (root / "artifacts" / "tune" / "best_params.json").exists():
        stage(tune, [*args, "tune.n_trials=1"], capsys)
    stage(train, args, capsys)
    model_dir = root / "artifacts" / "model"
    assert {"model.json", "manifest.json", "training.json", "mlflow_run.json"} <= {
        p.name for p in model_dir.iterdir()}
    tuned = json.loads((root / "artifacts" / "tune" / "best_params.json").read_text())["params"]
    used = json.loads((model_dir / "training.json").read_text())["params"]
    assert all(used[k] == v for k, v in tuned.items())  # refit with the best trial's params

    out = stage(evaluate, args, capsys)
    assert "evaluate: test 2023-12-04..2023-12-31" in out
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    full = json.loads((root / "reports" / "evaluation.json").read_text())
    assert len(full["backtest"]["folds"]) == 3
    assert [f["origin"] for f in full["backtest"]["folds"]] == ["2023-12-03", "2023-11-05", "2023-10-08"]
    assert metrics["test"]["wape"] < metrics["test"]["wape_seasonal_naive"]
    assert metrics["test"]["wape_oracle"] < metrics["test"]["wape"]
    assert set(full["test"]["wape_by_horizon"]["model"]) == {str(h) for h in range(1, 29)}
    for name in ("error_by_horizon.csv", "feature_importance.csv", "residuals.csv"):
        assert (root / "reports" / "plots" / name).stat().st_size > 0
    assert any((root / "reports" / "plots" / "forecasts").iterdir())

    assert "-> champion" in stage(register, args, capsys)
    decision = json.loads((root / "reports" / "registry.json").read_text())
    assert decision["decision"] == "champion" and decision["version"] == 1
    assert "-> champion" in stage(register, args, capsys)  # the same run keeps its version
    assert json.loads((root / "reports" / "registry.json").read_text())["version"] == 1

    # A retrained model that cannot clear a 99% gain over seasonal naive stays a challenger.
    stage(train, args, capsys)
    stage(evaluate, [*args, "evaluate.folds=1"], capsys)
    out = stage(register, [*args, "register.min_gain_vs_naive=0.99"], capsys)
    assert "v2 -> challenger" in out and "needs 99%" in out
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    assert int(client.get_model_version_by_alias("demandcast-xgboost", "champion").version) == 1
    assert client.get_model_version("demandcast-xgboost", "2").tags["decision"] == "challenger"
    reasons = json.loads((root / "reports" / "registry.json").read_text())["gates"]
    assert [g["gate"] for g in reasons if not g["passed"]] == ["beats_seasonal_naive"]


def test_register_without_evaluation_says_what_to_run(tmp_path, capsys):
    code = register.main([f"paths.reports={tmp_path}", f"paths.artifacts={tmp_path}"])
    assert code != 0
    assert "run the evaluate stage first" in capsys.readouterr().err
