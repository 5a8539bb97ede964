"""Register stage: the evaluated model becomes a registry version; champion only past the gates.

``python -m stages.register [key=value ...]``. Registers the train run's model under
``mlflow.model_name`` and checks the gates in ``conf`` ``register``:

* beats seasonal naive: test WAPE at least ``min_gain_vs_naive`` below naive's;
* calibrated: every interval's test coverage within ``coverage_tolerance`` of nominal;
* no worse than the current champion on the same test window (same window and data
  version); a champion evaluated elsewhere is not comparable and does not block.

Passing moves the ``champion`` alias to the new version; failing tags it ``challenger``.
The decision and its reasons go to ``reports/registry.json`` and onto the version's tags.
"""

from __future__ import annotations

import json
from pathlib import Path

from stages import tracking
from stages.errors import UserError

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


def run(cfg) -> dict:
    artifacts, reports = Path(str(cfg.paths.artifacts)), Path(str(cfg.paths.reports))
    for path in (reports / "metrics.json", reports / "evaluation.json"):
        if not path.exists():
            raise UserError(f"{path} is missing: run the evaluate stage first (dvc repro evaluate)")
    metrics = json.loads((reports / "metrics.json").read_text())
    evaluation = json.loads((reports / "evaluation.json").read_text())
    run_info = tracking.load_run(artifacts / "model")
    mlflow = tracking.setup(cfg)
    client = mlflow.MlflowClient()
    name = str(cfg.mlflow.model_name)

    champion = None
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion = {"version": current.version, **current.tags}
    except Exception:  # no registered model or no alias yet
        champion = None

    data_version = tracking.data_version()
    checks = gates(metrics, evaluation, champion, cfg.register, data_version, run_info["run_id"])
    passed = all(c["passed"] for c in checks)
    # The same run registered again (a rerun of this stage) keeps its version.
    same = [v for v in client.search_model_versions(f"name='{name}'") if v.run_id == run_info["run_id"]]
    version = same[0] if same else mlflow.register_model(f"runs:/{run_info['run_id']}/model", name)
    tags = {"test_window": json.dumps(evaluation["test_window"]), "data_version": data_version,
            "test_wape": str(metrics["test"]["wape"]), "run_id": run_info["run_id"],
            "git_commit": tracking.git_commit(), "decision": CHAMPION if passed else "challenger",
            "gates": json.dumps({c["gate"]: c["passed"] for c in checks})}
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    if passed:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    else:
        client.set_model_version_tag(name, version.version, "challenger", "true")

    decision = {"model": name, "version": int(version.version), "run_id": run_info["run_id"],
                "decision": CHAMPION if passed else "challenger",
                "previous_champion": None if champion is None else int(champion["version"]),
                "gates": checks}
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "registry.json").write_text(json.dumps(decision, indent=2) + "\n")
    return decision


def main(argv=None) -> int:
    from stages.cli import run_stage

    def body(cfg) -> None:
        d = run(cfg)
        failed = [c["reason"] for c in d["gates"] if not c["passed"]]
        print(f"register: {d['model']} v{d['version']} -> {d['decision']}"
              + (f" (failed: {'; '.join(failed)})" if failed else ""))

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
