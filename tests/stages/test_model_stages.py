"""tune -> train -> evaluate -> register on the tiny features, with a real MLflow store.

The stages run through their ``main()`` as ``python -m stages.<name>`` would, on a
throw-away artifacts folder, reports folder and SQLite tracking store.
"""

import csv
import json

import mlflow
import pytest
from mlflow import MlflowClient

from demandcast import config, jsonio
from demandcast.features import feature_spec
from demandcast.models import dataset
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
    first = next(csv.DictReader(trials))
    defaults = config.load(args).model.params  # the study starts from conf/model's parameters
    assert {k: float(first[f"params_{k}"]) for k in best["params"]} == {k: float(defaults[k])
                                                                          for k in best["params"]}
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["demandcast"], output_format="list")
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(nested) == 3  # every trial is a nested run


def test_train_evaluate_register_and_the_champion_gates(workspace, capsys, monkeypatch):
    root, args = workspace
    if not (root / "artifacts" / "tune" / "best_params.json").exists():
        stage(tune, [*args, "tune.n_trials=1"], capsys)
    stage(train, args, capsys)
    model_dir = root / "artifacts" / "model"
    # Only what the same inputs reproduce byte for byte: the MLflow run is found by the model's digest.
    assert {p.name for p in model_dir.iterdir()} == {"model.json", "manifest.json", "training.json"}
    tuned = json.loads((root / "artifacts" / "tune" / "best_params.json").read_text())["params"]
    used = json.loads((model_dir / "training.json").read_text())["params"]
    assert all(used[k] == v for k, v in tuned.items())  # refit with the best trial's params

    out = stage(evaluate, args, capsys)
    assert "evaluate: test 2023-12-04..2023-12-31" in out
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    full = json.loads((root / "reports" / "evaluation.json").read_text())
    assert len(full["backtest"]["folds"]) == 3
    # every fold's model calibrates its own level; the test's goes to serving with the widths
    intervals = json.loads((root / "artifacts" / "evaluation" / "intervals.json").read_text())
    assert intervals["level"] == full["level"]["factor"] == full["backtest"]["folds"][0]["level"]
    assert len({f["level"] for f in full["backtest"]["folds"]}) == 3 and full["level"]["applied"]
    assert [f["origin"] for f in full["backtest"]["folds"]] == ["2023-12-03", "2023-11-05", "2023-10-08"]
    assert metrics["test"]["wape"] < metrics["test"]["wape_seasonal_naive"]
    assert metrics["test"]["wape_oracle"] < metrics["test"]["wape"] and full["oracle"]["included"]
    assert set(full["test"]["wape_by_horizon"]["model"]) == {str(h) for h in range(1, 29)}
    # Christmas Day (horizon 22) every store is closed: WAPE is undefined, null with a reason, not NaN.
    assert full["test"]["wape_by_horizon"]["model"]["22"] is None
    assert "sum to 0" in full["undefined"]["test.wape_by_horizon.model.22"]
    for path in (root / "reports").rglob("*.json"):
        jsonio.loads_strict(path.read_text())
    assert full["promotions"]["test_window_covered"] is True
    for name in ("error_by_horizon.csv", "feature_importance.csv", "residuals.csv"):
        assert (root / "reports" / "plots" / name).stat().st_size > 0
    assert any((root / "reports" / "plots" / "forecasts").iterdir())
    horizons = (root / "reports" / "plots" / "error_by_horizon.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in horizons[1:4]] == ["1", "2", "3"]  # in horizon order

    assert "-> champion" in stage(register, args, capsys)
    decision = json.loads((root / "reports" / "registry.json").read_text())
    assert decision["decision"] == "champion" and decision["version"] == 1
    assert decision["applied"] == ["beats_best_baseline", "coverage_0.80", "coverage_0.95"]
    assert "run_id" not in decision  # a run id differs on every rerun; the report must not
    assert "-> champion" in stage(register, args, capsys)  # the same model keeps its version
    assert json.loads((root / "reports" / "registry.json").read_text())["version"] == 1

    # Another model that cannot clear a 99% gain over the best baseline stays a challenger.
    stage(train, [*args, "seed=7"], capsys)
    stage(evaluate, [*args, "seed=7", "evaluate.folds=1"], capsys)
    out = stage(register, [*args, "register.min_gain_vs_baseline=0.99"], capsys)
    assert "v2 -> challenger" in out and "needs 99%" in out
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    assert int(client.get_model_version_by_alias("demandcast-xgboost", "champion").version) == 1
    assert client.get_model_version("demandcast-xgboost", "2").tags["decision"] == "challenger"
    reasons = json.loads((root / "reports" / "registry.json").read_text())["gates"]
    assert "beats_best_baseline" in [g["gate"] for g in reasons if not g["passed"]]

    # Under `dvc exp run` a model that passes every gate is a candidate: the champion stays.
    monkeypatch.setenv("DVC_EXP_NAME", "sweep-a")
    stage(train, [*args, "seed=8"], capsys)
    stage(evaluate, [*args, "seed=8", "evaluate.folds=1"], capsys)
    out = stage(register, [*args, "register.min_gain_vs_baseline=0.0", "register.max_loss_vs_champion=1.0"],
                capsys)
    assert "v3 -> candidate (experiment sweep-a: the champion alias stays where it is)" in out
    assert int(client.get_model_version_by_alias("demandcast-xgboost", "champion").version) == 1
    tags = client.get_model_version("demandcast-xgboost", "3").tags
    assert tags["decision"] == "candidate" and tags["dvc_experiment"] == "sweep-a"
    train_run = client.get_run(client.get_model_version("demandcast-xgboost", "3").run_id)
    assert train_run.data.tags["dvc_experiment"] == "sweep-a"
    # Promoting it is a deliberate run outside the experiment (dvc exp apply + dvc repro -f register).
    monkeypatch.delenv("DVC_EXP_NAME")
    out = stage(register, [*args, "register.min_gain_vs_baseline=0.0", "register.max_loss_vs_champion=1.0"],
                capsys)
    assert "v3 -> champion" in out
    assert int(client.get_model_version_by_alias("demandcast-xgboost", "champion").version) == 3


def test_evaluate_and_register_without_ground_truth(workspace, capsys):
    """Real data has no truth file: scored against actual sales and the baselines, no oracle."""
    root, args = workspace
    no_truth = [*args, f"paths.truth={root / 'absent' / 'expected_demand.parquet'}", "evaluate.folds=2"]
    out = stage(evaluate, no_truth, capsys)
    assert "oracle omitted (no ground truth)" in out
    full = json.loads((root / "reports" / "evaluation.json").read_text())
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert full["oracle"]["included"] is False and "does not exist" in full["oracle"]["reason"]
    assert full["methods"] == ["model", "seasonal_naive", "moving_average_28"]
    assert metrics["test"]["wape_oracle"] is None and metrics["test"]["wape_model_to_oracle"] is None
    assert metrics["test"]["wape"] > 0 and metrics["test"]["wape_model_to_best_baseline"] < 1
    assert len(full["backtest"]["folds"]) == 2 and "coverage" in full["test"]
    for path in (root / "reports").rglob("*.json"):
        jsonio.loads_strict(path.read_text())
    oracle_column = (root / "reports" / "plots" / "error_by_horizon.csv").read_text().splitlines()[1]
    assert oracle_column.endswith(",")  # the plot keeps its oracle column, empty
    out = stage(register, [*args, "register.min_gain_vs_baseline=0.0", "register.coverage_tolerance=1.0"],
                capsys)
    decision = json.loads((root / "reports" / "registry.json").read_text())
    assert {"beats_best_baseline", "coverage_0.80", "coverage_0.95"} <= set(decision["applied"])


def test_register_without_evaluation_says_what_to_run(tmp_path, capsys):
    code = register.main([f"paths.reports={tmp_path}", f"paths.artifacts={tmp_path}"])
    assert code != 0
    assert "run the evaluate stage first" in capsys.readouterr().err


def test_train_on_spark(spark, tmp_path, tiny_data, tiny_features, capsys):
    """model.engine=spark through the stage: the session already running here is the one used
    (and left running); the model, its summary and its MLflow run are written as locally."""
    root, args = stage_workspace(tmp_path, tiny_data, tiny_features, "model.engine=spark",
                                 "model.num_boost_round=20", "model.train_days=null")
    out = stage(train, args, capsys)
    assert "train: poisson (spark), " in out
    summary = json.loads((root / "artifacts" / "model" / "training.json").read_text())
    assert summary["engine"] == "spark" and summary["best_iteration"] <= 19
    assert {p.name for p in (root / "artifacts" / "model").iterdir()} == {
        "model.json", "manifest.json", "training.json"}
    assert not spark.sparkContext._jsc.sc().isStopped()
    (tmp_path / "local").mkdir()
    local = stage_workspace(tmp_path / "local", tiny_data, tiny_features, "model.num_boost_round=20",
                            "model.train_days=null")
    stage(train, local[1], capsys)
    there = json.loads((local[0] / "artifacts" / "model" / "training.json").read_text())
    assert (summary["train_rows"], summary["valid_rows"]) == (there["train_rows"], there["valid_rows"])
    assert summary["params"] == there["params"]


def test_the_streamed_route_through_the_stages(tmp_path, tiny_data, tiny_features, capsys):
    """model.engine=streamed (the Favorita-scale route): tune on a share of the series, train
    from the feature files, evaluate reading only what forecasts need, series_chunk series at a
    time. The test window's model is the same, so its scores are the in-memory evaluation's."""
    root, args = stage_workspace(tmp_path, tiny_data, tiny_features, "model.engine=streamed",
                                 "tune.series_share=0.5", "tune.n_trials=2", "tune.trial_rows=null",
                                 "evaluate.folds=2", "evaluate.series_chunk=20")
    assert "2 trials, 2 complete" in stage(tune, args, capsys)
    out = stage(train, args, capsys)
    summary = json.loads((root / "artifacts" / "model" / "training.json").read_text())
    assert "train: poisson (streamed), " in out and summary["engine"] == "streamed"
    # the refit sees every series of the fold's windows, not the tuning sample
    spec = feature_spec.from_config(config.load(args).features)
    fold = dataset.fold(config.load(args).data.end, spec, config.load(args).model, 28)
    train_rows, valid_rows = dataset.windows(dataset.load_table(tiny_features[0], spec), fold)
    assert (summary["train_rows"], summary["valid_rows"]) == (len(train_rows), len(valid_rows))
    stage(evaluate, args, capsys)
    streamed = json.loads((root / "reports" / "evaluation.json").read_text())
    memory = [a for a in args if not a.startswith(("model.engine", "evaluate.series_chunk"))]
    stage(evaluate, memory, capsys)
    local = json.loads((root / "reports" / "evaluation.json").read_text())
    assert streamed["test"] == local["test"] and streamed["series_scored"] == local["series_scored"]
    s_fold, l_fold = (r["backtest"]["folds"][1]["model"]["wape"] for r in (streamed, local))
    assert s_fold != l_fold and abs(s_fold - l_fold) < 0.05 * l_fold  # refit from the files, as good
