"""The MLflow model registry: versions, the gates a version passes to become ``champion``.

:func:`register` registers the train run's model under ``mlflow.model_name`` and checks
the gates in ``conf`` ``register``:

* beats seasonal naive: test WAPE at least ``min_gain_vs_naive`` below naive's;
* calibrated: every interval's test coverage within ``coverage_tolerance`` of nominal;
* no worse than the current champion on the same test window (same window and data
  version); a champion evaluated elsewhere is not comparable and does not block.

Passing moves the ``champion`` alias to the new version; failing tags it ``challenger``.
The decision and its reasons go onto the version's tags (and, from the register stage, to
``reports/registry.json``). :func:`champion` is how packaging finds the version to serve.
"""

from __future__ import annotations

import json

from demandcast.errors import UserError
from demandcast.tracking import runs

CHAMPION = "champion"


def gates(metrics: dict, evaluation: dict, champion: dict | None, rules, data_version: str,
          run_id: str = "") -> list[dict]:
    """Each gate: name, passed, reason. ``champion``: the current champion's tags, or None."""
    test = metrics["test"]
    checks = []
    gain = 1.0 - test["wape_model_to_seasonal_naive"]
    need = float(rules.min_gain_vs_naive)
    checks.append({"gate": "beats_seasonal_naive", "passed": gain >= need,
                   "reason": f"WAPE {test['wape']:.4f} is {gain:.1%} below seasonal naive's "
                             f"{test['wape_seasonal_naive']:.4f} (needs {need:.0%})"})
    tolerance = float(rules.coverage_tolerance)
    for level, got in evaluation["test"]["coverage"].items():
        off = abs(got - float(level))
        checks.append({"gate": f"coverage_{level}", "passed": off <= tolerance,
                       "reason": f"{float(level):.0%} interval covers {got:.1%} of test days "
                                 f"(tolerance {tolerance:.0%})"})
    if champion is None:
        checks.append({"gate": "no_worse_than_champion", "passed": True, "reason": "no champion yet"})
    elif champion.get("run_id") == run_id:
        checks.append({"gate": "no_worse_than_champion", "passed": True,
                       "reason": f"this model is champion v{champion['version']} already"})
    elif (champion.get("test_window") != json.dumps(evaluation["test_window"])
          or champion.get("data_version") != data_version):
        checks.append({"gate": "no_worse_than_champion", "passed": True,
                       "reason": f"champion v{champion['version']} was evaluated on another window or "
                                 "data version: not comparable"})
    else:
        theirs = float(champion["test_wape"])
        limit = theirs * (1.0 + float(rules.max_loss_vs_champion))
        checks.append({"gate": "no_worse_than_champion", "passed": test["wape"] <= limit + 1e-12,
                       "reason": f"WAPE {test['wape']:.4f} vs champion v{champion['version']}'s "
                                 f"{theirs:.4f} on the same window (limit {limit:.4f})"})
    return checks


def register(cfg, metrics: dict, evaluation: dict, run_info: dict) -> dict:
    """Register ``run_info``'s model, apply the gates, move the alias; return the decision."""
    mlflow = runs.setup(cfg)
    client = mlflow.MlflowClient()
    name = str(cfg.mlflow.model_name)

    champion = None
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion = {"version": current.version, **current.tags}
    except Exception:  # no registered model or no alias yet
        champion = None

    data_version = runs.data_version()
    checks = gates(metrics, evaluation, champion, cfg.register, data_version, run_info["run_id"])
    passed = all(c["passed"] for c in checks)
    # The same run registered again (a rerun of this stage) keeps its version.
    same = [v for v in client.search_model_versions(f"name='{name}'") if v.run_id == run_info["run_id"]]
    version = same[0] if same else mlflow.register_model(f"runs:/{run_info['run_id']}/model", name)
    tags = {"test_window": json.dumps(evaluation["test_window"]), "data_version": data_version,
            "test_wape": str(metrics["test"]["wape"]), "run_id": run_info["run_id"],
            "git_commit": runs.git_commit(), "decision": CHAMPION if passed else "challenger",
            "gates": json.dumps({c["gate"]: c["passed"] for c in checks})}
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    if passed:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    else:
        client.set_model_version_tag(name, version.version, "challenger", "true")

    return {"model": name, "version": int(version.version), "run_id": run_info["run_id"],
            "decision": CHAMPION if passed else "challenger",
            "previous_champion": None if champion is None else int(champion["version"]),
            "gates": checks}


def champion(cfg) -> dict:
    """The champion's registry version, run, tags and metrics (a UserError when there is none)."""
    mlflow = runs.setup(cfg)
    client = mlflow.MlflowClient()
    name = str(cfg.mlflow.model_name)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except Exception:
        raise UserError(f"the MLflow registry at {runs.tracking_uri(cfg)} has no {CHAMPION!r} "
                        f"version of {name!r}: run the register stage (dvc repro register); a model "
                        "becomes champion only when it passes the gates in conf register") from None
    run = client.get_run(version.run_id)
    return {"name": name, "version": int(version.version), "alias": CHAMPION, "run_id": version.run_id,
            "tags": dict(version.tags), "run_tags": dict(run.data.tags),
            "metrics": dict(run.data.metrics), "mlflow": mlflow}
