"""Drift of the current window against the reference, with Evidently 0.7's ``Report`` API.

One report: ``DriftedColumnsCount`` over the watched features with a share test (the drift
alert: at least ``monitor.thresholds.drift_share`` of them drifted), a ``ValueDrift`` per
feature, and a ``ValueDrift`` each for the target and the prediction (reported, not counted
in the share). The stattests are pinned in ``monitor.stattest`` (Wasserstein distance normed
by the reference's std for numbers, Jensen-Shannon distance for categories, both drifting
at 0.1): left alone, Evidently picks K-S or chi-squared p-values below 1,000 rows and
distances above, so the same shift would be judged by another rule as traffic grows, and
p-values call any tiny difference significant on large windows.

Evidently 0.7.23's traps, handled here: tests run only with ``include_tests=True``;
``share_tests=[...]`` tests the share (``tests=`` the count); results are read from
``json.loads(snapshot.json())``; ``save_html`` needs a ``str`` path (see
:mod:`demandcast.monitoring.history`). Evidently is imported here only, never by serving.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field

import pandas as pd

# Fewer values than this in either window and a column is not judged: two samples of one
# distribution are 0.1 apart (normed Wasserstein) about once in 20 at 500 values, once in 100
# at 1,000 (measured on sales-like gamma and negative-binomial samples against 20,000).
MIN_VALUES = 1000
P_VALUE_TESTS = {"ks", "chisquare", "z", "t_test", "anderson", "fisher_exact", "cramer_von_mises",
                 "mannw", "epps_singleton", "g_test", "empirical_mmd"}  # smaller means more drift
OUTCOMES = ("target", "prediction")


@dataclass
class Drift:
    summary: dict                  # the "drift" block of monitor.json
    snapshot: object               # the Evidently Snapshot (HTML, JSON, workspace)
    skipped: list[str] = field(default_factory=list)  # watched columns too empty to judge


def compare(reference: pd.DataFrame, current: pd.DataFrame, watched: list[str], categorical,
            cfg, name: str, timestamp: dt.datetime, tags: list[str]) -> Drift:
    """Evidently's verdict on ``watched`` (and ``target``, ``prediction`` when both windows
    have them) of ``current`` against ``reference``; ``cfg`` is ``monitor``."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift
    from evidently.tests import lt

    def judged(column: str) -> bool:
        return all(column in f and f[column].notna().sum() >= MIN_VALUES for f in (reference, current))

    columns = [c for c in watched if judged(c)]
    skipped = [c for c in watched if c not in columns]
    if not columns:
        from demandcast.errors import UserError

        raise UserError(f"no watched feature has {MIN_VALUES} values in both windows "
                        f"(reference {len(reference)} rows, current {len(current)}): nothing to compare")
    outcomes = [c for c in OUTCOMES if judged(c)]
    cats = [c for c in columns if c in set(categorical)]
    st, share = cfg.stattest, float(cfg.thresholds.drift_share)

    def method(column: str) -> tuple[str, float]:
        kind = "categorical" if column in cats else "numerical"
        return str(st[kind]), float(st[f"{kind}_threshold"])

    metrics = [DriftedColumnsCount(columns=columns, drift_share=share, num_method=str(st.numerical),
                                   cat_method=str(st.categorical),
                                   num_threshold=float(st.numerical_threshold),
                                   cat_threshold=float(st.categorical_threshold), share_tests=[lt(share)])]
    metrics += [ValueDrift(column=c, method=method(c)[0], threshold=method(c)[1])
                for c in [*columns, *outcomes]]
    definition = DataDefinition(numerical_columns=[c for c in [*columns, *outcomes] if c not in cats],
                                categorical_columns=cats)
    keep = [*columns, *outcomes]
    report = Report(metrics, include_tests=True)
    snapshot = report.run(Dataset.from_pandas(current[keep], data_definition=definition),
                          Dataset.from_pandas(reference[keep], data_definition=definition),
                          timestamp=timestamp, name=name, tags=tags)
    return Drift(summarize(json.loads(snapshot.json()), share), snapshot, skipped)


def summarize(result: dict, threshold: float) -> dict:
    """The ``drift`` block of monitor.json from Evidently's snapshot JSON."""
    failed = {t["metric_config"]["metric_id"] for t in result["tests"] if t["status"] == "FAIL"}
    share, alert, columns, outcomes = None, False, [], {}
    for m in result["metrics"]:
        config = m["config"]
        kind = config["type"].rsplit(":", 1)[-1]
        if kind == "DriftedColumnsCount":
            share, alert = float(m["value"]["share"]), m["id"] in failed
        elif kind == "ValueDrift":
            entry = {"column": config["column"], "stattest": config["method"], "score": _number(m["value"]),
                     "threshold": float(config["threshold"]), "drifted": m["id"] in failed}
            if entry["column"] in OUTCOMES:
                outcomes[entry.pop("column")] = {k: entry[k] for k in ("stattest", "score", "drifted")}
            else:
                columns.append(entry)
    columns.sort(key=lambda c: (not c["drifted"], -_strength(c)))
    return {"share": share, "threshold": threshold, "alert": alert, "columns": columns,
            "target": outcomes.get("target"), "prediction": outcomes.get("prediction")}


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _strength(column: dict) -> float:
    """How far past (or short of) its threshold a column is: distances above, p-values below."""
    score, threshold = column["score"] or 0.0, column["threshold"]
    if column["stattest"] in P_VALUE_TESTS:
        return threshold / max(score, 1e-300)
    return score / threshold if threshold else score
