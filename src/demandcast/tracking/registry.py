"""The MLflow model registry: versions, the gates a version passes, and who moves ``champion``.

:func:`register` registers the train run's model under ``mlflow.model_name`` (the same model,
by its digest, keeps its version) and checks the gates in ``conf`` ``register``, each one
applied only when what it needs exists (``applied`` says; the reason says why not):

* beats the best baseline: test WAPE at least ``min_gain_vs_baseline`` below the best of
  seasonal naive and the 28-day moving average (needs a defined WAPE);
* calibrated: each interval's test coverage within ``coverage_tolerance`` of nominal;
* no worse than the current champion on the same test window and data version (a
  champion evaluated elsewhere is not comparable; without a champion there is nothing to beat).

**Who moves the alias.** A version that passes becomes ``champion`` only in a pipeline run
outside experiments (``dvc repro``, or a stage run by hand). Under ``dvc exp run`` (DVC sets
``$DVC_EXP_NAME``; workspace, ``--temp`` and queued runs alike) a passing version is a
``candidate``: tagged with its experiment, never served by itself. A sweep's candidates
therefore never silently replace the champion; promoting one is a deliberate step
(``dvc exp apply <name>`` and ``dvc repro -f register``, which registers the same model
version again, now outside an experiment). A failing version is tagged ``challenger``.
The decision and its reasons go onto the version's tags and into ``reports/registry.json``
(no run id there, so the same registry state gives the same bytes). :func:`to_serve` is how
packaging finds the version to bundle.
"""

from __future__ import annotations

import json
import os

from demandcast.errors import UserError
from demandcast.tracking import runs

CHAMPION, CANDIDATE, CHALLENGER = "champion", "candidate", "challenger"
BASELINES = ("seasonal_naive", "moving_average_28")


def experiment() -> str | None:
    """The DVC experiment this stage runs for, if any."""
    return os.environ.get("DVC_EXP_NAME") or None


def _gate(name: str, passed: bool, reason: str, applied: bool = True) -> dict:
    return {"gate": name, "applied": applied, "passed": passed,
            "reason": reason if applied else f"not applied: {reason}"}


def _baseline_gate(test: dict, rules) -> dict:
    need = float(rules.min_gain_vs_baseline)
    defined = {b: test.get(f"wape_{b}") for b in BASELINES if test.get(f"wape_{b}")}
    if test.get("wape") is None or not defined:
        return _gate("beats_best_baseline", True, "the test WAPE of the model or of every baseline "
                     "is undefined (actual sales sum to 0)", applied=False)
    best = min(defined, key=defined.get)
    gain = 1.0 - test["wape"] / defined[best]
    return _gate("beats_best_baseline", gain >= need,
                 f"WAPE {test['wape']:.4f} is {gain:.1%} below the best baseline's ({best}, "
                 f"{defined[best]:.4f}; needs {need:.0%})")


def _champion_gate(test: dict, evaluation: dict, champion: dict | None, rules, data_version: str,
                   digest: str) -> dict:
    name = "no_worse_than_champion"
    if champion is None:
        return _gate(name, True, "there is no champion yet", applied=False)
    if champion.get(runs.DIGEST_TAG) == digest:
        return _gate(name, True, f"this model is champion v{champion['version']} already", applied=False)
    if (champion.get("test_window") != json.dumps(evaluation["test_window"])
            or champion.get("data_version") != data_version):
        return _gate(name, True, f"champion v{champion['version']} was evaluated on another window or "
                     "data version: not comparable", applied=False)
    if test.get("wape") is None or champion.get("test_wape") in (None, "None"):
        return _gate(name, True, "a test WAPE is undefined", applied=False)
    theirs = float(champion["test_wape"])
    limit = theirs * (1.0 + float(rules.max_loss_vs_champion))
    return _gate(name, test["wape"] <= limit + 1e-12,
                 f"WAPE {test['wape']:.4f} vs champion v{champion['version']}'s {theirs:.4f} on the same "
                 f"window (limit {limit:.4f})")


def gates(metrics: dict, evaluation: dict, champion: dict | None, rules, data_version: str,
          digest: str = "") -> list[dict]:
    """Each gate: name, applied, passed, reason. ``champion``: the current champion's tags, or None."""
    test = metrics["test"]
    checks = [_baseline_gate(test, rules)]
    tolerance = float(rules.coverage_tolerance)
    for level, got in evaluation["test"]["coverage"].items():
        if got is None:
            checks.append(_gate(f"coverage_{level}", True, "no test cells to measure coverage on",
                                applied=False))
            continue
        checks.append(_gate(f"coverage_{level}", abs(got - float(level)) <= tolerance,
                            f"{float(level):.0%} interval covers {got:.1%} of test days "
                            f"(tolerance {tolerance:.0%})"))
    checks.append(_champion_gate(test, evaluation, champion, rules, data_version, digest))
    return checks


def _current(client, name: str) -> dict | None:
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except Exception:  # no registered model or no alias yet
        return None
    return {"version": current.version, **current.tags}


def register(cfg, metrics: dict, evaluation: dict, run_info: dict) -> dict:
    """Register ``run_info``'s model, apply the gates, decide the alias; return the decision."""
    mlflow = runs.setup(cfg)
    client = mlflow.MlflowClient()
    name = str(cfg.mlflow.model_name)
    digest, exp = run_info[runs.DIGEST_TAG], experiment()
    with runs.store_lock(cfg):  # parallel experiments decide one at a time
        champion = _current(client, name)
        data_version = runs.data_version()
        checks = gates(metrics, evaluation, champion, cfg.register, data_version, digest)
        passed = all(c["passed"] for c in checks)
        decision = (CANDIDATE if exp else CHAMPION) if passed else CHALLENGER
        same = [v for v in client.search_model_versions(f"name='{name}'")
                if v.tags.get(runs.DIGEST_TAG) == digest]
        version = same[0] if same else mlflow.register_model(f"runs:/{run_info['run_id']}/model", name)
        tags = {"test_window": json.dumps(evaluation["test_window"]), "data_version": data_version,
                "test_wape": str(metrics["test"]["wape"]), "run_id": run_info["run_id"],
                runs.DIGEST_TAG: digest, "git_commit": runs.git_commit(), "decision": decision,
                "gates": json.dumps({c["gate"]: c["passed"] for c in checks if c["applied"]})}
        if exp:
            tags["dvc_experiment"] = exp
        for key, value in tags.items():
            client.set_model_version_tag(name, version.version, key, value)
        if decision == CHAMPION:
            client.set_registered_model_alias(name, CHAMPION, version.version)
        elif decision == CHALLENGER:
            client.set_model_version_tag(name, version.version, CHALLENGER, "true")
    return {"model": name, "version": int(version.version), "decision": decision, "experiment": exp,
            "previous_champion": None if champion is None else int(champion["version"]),
            "gates": checks, "applied": [c["gate"] for c in checks if c["applied"]]}


def version_info(cfg, version: int | None = None) -> dict:
    """A registry version (default: the champion) with its run, tags and metrics."""
    mlflow = runs.setup(cfg)
    client = mlflow.MlflowClient()
    name = str(cfg.mlflow.model_name)
    try:
        found = (client.get_model_version_by_alias(name, CHAMPION) if version is None
                 else client.get_model_version(name, str(version)))
    except Exception:
        if version is not None:
            raise UserError(f"the MLflow registry at {runs.tracking_uri(cfg)} has no version {version} of "
                            f"{name!r}: run the register stage (dvc repro register)") from None
        raise UserError(f"the MLflow registry at {runs.tracking_uri(cfg)} has no {CHAMPION!r} "
                        f"version of {name!r}: run the register stage (dvc repro register); a model "
                        "becomes champion only when it passes the gates in conf register") from None
    run = client.get_run(found.run_id)
    alias = CHAMPION if version is None else found.tags.get("decision", CANDIDATE)
    return {"name": name, "version": int(found.version), "alias": alias, "run_id": found.run_id,
            "tags": dict(found.tags), "run_tags": dict(run.data.tags),
            "metrics": dict(run.data.metrics), "mlflow": mlflow}


def champion(cfg) -> dict:
    """The champion's registry version, run, tags and metrics (a UserError when there is none)."""
    return version_info(cfg)


def to_serve(cfg, decision: dict | None) -> dict:
    """What the package stage bundles: in an experiment, the experiment's own version (so each
    experiment's bento is its own model); otherwise the champion."""
    if decision is not None and decision.get("experiment") and experiment():
        return version_info(cfg, int(decision["version"]))
    return champion(cfg)
