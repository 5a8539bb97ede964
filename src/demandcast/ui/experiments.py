"""What an ML engineer compares: MLflow runs and the registry's champion, the Optuna study's
trials and parameter importance, and DVC experiments (``dvc exp show --json``) side by side.

Each reader takes the configuration and paths, imports its heavy library (MLflow, Optuna)
when called, and returns plain tables; a store that does not exist yet is None (the page
says which stage makes it), never an empty store created as a side effect.
"""

from __future__ import annotations

import json
import math
import numbers as numbers_
import subprocess
import sys
from pathlib import Path

import pandas as pd

from demandcast.errors import UserError

EXP_COMMAND = "uv run dvc exp show --json"


# -- MLflow -----------------------------------------------------------------------------------

def _mlflow_client(cfg):
    from demandcast.tracking import runs

    uri = runs.tracking_uri(cfg)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def mlflow_runs(cfg, max_runs: int = 500) -> pd.DataFrame | None:
    """The experiment's runs, newest first: name, stage, status, start, metrics and params."""
    client = _mlflow_client(cfg)
    if client is None:
        return None
    experiment = client.get_experiment_by_name(str(cfg.mlflow.experiment))
    if experiment is None:
        return None
    found = client.search_runs([experiment.experiment_id], max_results=max_runs, order_by=["start_time DESC"])
    rows = []
    for run in found:
        tags = run.data.tags
        rows.append({"run": run.info.run_name, "run_id": run.info.run_id, "stage": tags.get("stage"),
                     "parent": tags.get("mlflow.parentRunId"), "status": run.info.status,
                     "start": pd.to_datetime(run.info.start_time, unit="ms"),
                     "git_commit": (tags.get("git_commit") or "")[:8],
                     **{f"metric {k}": v for k, v in run.data.metrics.items()},
                     **{f"param {k}": v for k, v in run.data.params.items()}})
    return pd.DataFrame(rows)


def registry_versions(cfg) -> pd.DataFrame | None:
    """Every registered version of the model: aliases, decision tags, test WAPE, run."""
    client = _mlflow_client(cfg)
    if client is None:
        return None
    from mlflow.exceptions import MlflowException

    name = str(cfg.mlflow.model_name)
    try:
        versions = client.search_model_versions(f"name='{name}'")
        aliases = client.get_registered_model(name).aliases
    except MlflowException:
        return None
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = [{"version": int(v.version), "aliases": ", ".join(sorted(by_version.get(str(v.version), []))),
             "decision": v.tags.get("decision"), "test_wape": _float(v.tags.get("test_wape")),
             "data_version": (v.tags.get("data_version") or "")[:12], "run_id": v.run_id,
             "created": pd.to_datetime(v.creation_timestamp, unit="ms")} for v in versions]
    return pd.DataFrame(rows).sort_values("version", ascending=False, ignore_index=True)


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- Optuna -----------------------------------------------------------------------------------

def optuna_storage(artifacts: Path) -> Path | None:
    from demandcast.models.tuning import STUDIES

    path = artifacts / STUDIES
    return path if path.exists() else None


def current_study(artifacts: Path) -> str | None:
    """The study the tune stage last ran (artifacts/tune/best_params.json), if any."""
    path = artifacts / "tune" / "best_params.json"
    return json.loads(path.read_text()).get("study") if path.exists() else None


def study_names(storage: Path) -> list[str]:
    import optuna

    return [s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{storage}")]


def trials(storage: Path, name: str) -> pd.DataFrame:
    """Each trial: number, state, value, the best value so far (minimised), duration, params."""
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{storage}")
    frame = study.trials_dataframe(attrs=("number", "state", "value", "duration", "params"))
    if frame.empty:
        return frame
    frame["state"] = frame["state"].astype(str)
    complete = frame["value"].where(frame["state"] == "COMPLETE")
    best = complete.cummin() if study.direction.name == "MINIMIZE" else complete.cummax()
    frame["best"] = best.ffill()
    frame["duration"] = frame["duration"].dt.total_seconds().round(1)
    return frame.rename(columns=lambda c: c.removeprefix("params_"))


def importance(storage: Path, name: str) -> pd.DataFrame | None:
    """fANOVA parameter importance over the complete trials (None with fewer than two)."""
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{storage}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return None
    scores = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return pd.DataFrame({"parameter": list(scores), "importance": list(scores.values())})


# -- DVC experiments ----------------------------------------------------------------------------

def dvc_exp_show(root: Path, timeout: float = 120) -> list:
    """``dvc exp show --json`` run in the project (the raw list it prints)."""
    done = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=root,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise UserError(f"`{EXP_COMMAND}` failed in {root}: {done.stderr.strip()[-500:]}")
    try:
        return json.loads(done.stdout or "[]")
    except ValueError as exc:
        raise UserError(f"`{EXP_COMMAND}` printed something that is not JSON ({exc})") from None


def _flat(tree, prefix: str = "") -> dict:
    if not isinstance(tree, dict):  # lists as text: one cell, one type per column
        return {prefix: json.dumps(tree) if isinstance(tree, list) else tree}
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _files(results: dict | None, kind: str) -> dict:
    """``{file: {"data": {...}}}`` flattened into ``{"<kind> key": value}`` (file named when several)."""
    results = results or {}
    named = len(results) > 1
    out = {}
    for path, result in results.items():
        for key, value in _flat((result or {}).get("data") or {}).items():
            out[f"{kind} {path}:{key}" if named else f"{kind} {key}"] = value
    return out


def _row(state: dict, kind: str, baseline: str, name: str | None = None, status: str = "success") -> dict:
    data = state.get("data") or {}
    return {"experiment": name or state.get("name") or state["rev"][:7], "rev": state["rev"][:7],
            "kind": kind,
            "baseline": baseline, "status": "failed" if state.get("error") else status,
            "created": pd.to_datetime(data.get("timestamp")) if data.get("timestamp") else pd.NaT,
            **_files(data.get("metrics"), "metric"), **_files(data.get("params"), "param")}


def exp_table(entries: list) -> pd.DataFrame:
    """``dvc exp show --json`` as one row per workspace, baseline commit and experiment; columns
    ``metric <key>`` and ``param <key>`` (dotted paths into the files)."""
    rows = []
    for entry in entries:
        workspace = entry["rev"] == "workspace"
        baseline = "workspace" if workspace else entry.get("name") or entry["rev"][:7]
        rows.append(_row(entry, "workspace" if workspace else "baseline", baseline, name=baseline))
        for group in entry.get("experiments") or []:
            status = ((group.get("executor") or {}).get("state")) or "success"
            for exp in group.get("revs") or []:
                rows.append(_row(exp, "experiment", baseline, group.get("name"), status))
    table = pd.DataFrame(rows)
    if not table.empty:  # names pick rows: make them unique
        twice = table["experiment"].duplicated(keep=False)
        table.loc[twice, "experiment"] = table.loc[twice, "experiment"] + " (" + table.loc[twice, "rev"] + ")"
    return table


def varying(table: pd.DataFrame, prefix: str = "param ") -> list[str]:
    """The columns with ``prefix`` whose value is not the same in every row."""
    cols = [c for c in table.columns if c.startswith(prefix)]
    return [c for c in cols if table[c].astype(str).nunique(dropna=False) > 1]


def compare(table: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """What differs between experiments ``a`` and ``b`` (rows of ``table`` by name): each
    parameter and metric with both values and, for numbers, the change from ``a`` to ``b``."""
    one, two = (table.set_index("experiment").loc[x] for x in (a, b))
    rows = []
    for col in table.columns:
        if not col.startswith(("param ", "metric ")):
            continue
        x, y = one[col], two[col]
        if (_missing(x) and _missing(y)) or str(x) == str(y):
            continue
        numbers = all(isinstance(v, numbers_.Real) and not isinstance(v, bool) and not _missing(v)
                      for v in (x, y))
        rows.append({"what": col.split(" ", 1)[0], "key": col.split(" ", 1)[1], a: _shown(x), b: _shown(y),
                     "change": (y - x) if numbers else None})
    return pd.DataFrame(rows, columns=["what", "key", a, b, "change"])


def _shown(value) -> str:
    """A value as text for a table column that holds numbers, strings and lists alike."""
    if _missing(value):
        return ""
    if isinstance(value, numbers_.Real) and not isinstance(value, bool):
        return f"{value:.6g}" if isinstance(value, float) else str(value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
