"""The contract with the planner UI: reports/monitor.json as the README's Monitoring section
describes it, checked on the monitor stage's output and on the UI tests' fixture."""

from __future__ import annotations

import json
import re
from pathlib import Path

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def number(value, nullable: bool = False) -> bool:
    return (value is None and nullable) or (isinstance(value, int | float) and not isinstance(value, bool))


def check(path: Path) -> dict:
    """Read monitor.json and assert it keeps the contract; return it."""
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    m = json.loads(text)
    assert text == json.dumps(m, indent=2, sort_keys=True) + "\n"  # sorted keys
    assert set(m) == {"status", "windows", "drift", "live_accuracy", "alerts", "recommendation"}
    assert m["status"] in ("ok", "alert") and (m["status"] == "alert") == any(m["alerts"].values())

    ref, cur = m["windows"]["reference"], m["windows"]["current"]
    for window in (ref, cur):
        assert DATE.match(window["start"]) and DATE.match(window["end"]) and window["start"] <= window["end"]
        assert isinstance(window["rows"], int) and window["rows"] > 0
    assert set(ref) == {"start", "end", "rows"} and cur["source"] in ("data", "prediction_logs")
    extra = set(cur) - {"start", "end", "rows", "source"}
    logged = {"records", "bad_lines", "days_without_predictions"}
    assert extra == (set() if cur["source"] == "data" else logged)

    d = m["drift"]
    assert set(d) == {"share", "threshold", "alert", "columns", "target", "prediction"}
    assert number(d["share"]) and number(d["threshold"]) and isinstance(d["alert"], bool)
    assert d["columns"] and [c["drifted"] for c in d["columns"]] == sorted(
        (c["drifted"] for c in d["columns"]), reverse=True)  # drifted first
    for c in d["columns"]:
        assert set(c) == {"column", "stattest", "score", "threshold", "drifted"} and number(c["score"])
    for outcome in (d["target"], d["prediction"]):
        assert outcome is None or set(outcome) == {"stattest", "score", "drifted"}
        assert outcome is None or number(outcome["score"])

    live = m["live_accuracy"]
    if live is not None:
        assert set(live) == {"predictions", "matched", "wape", "bias", "by_horizon", "coverage", "backtest"}
        assert isinstance(live["predictions"], int) and 0 <= live["matched"] <= live["predictions"]
        assert number(live["wape"], True) and number(live["bias"], True)
        assert set(live["by_horizon"]) == {"1-7", "8-14", "15-28"}
        for bucket in live["by_horizon"].values():
            assert set(bucket) == {"wape", "bias", "n"} and number(bucket["wape"], True)
        assert set(live["coverage"]) == {"0.8", "0.95"} == set(live["backtest"]["coverage"])
        assert number(live["backtest"]["wape"])

    assert set(m["alerts"]) == {"drift", "accuracy", "coverage"}
    rec = m["recommendation"]
    assert set(rec) == {"retrain", "reasons", "command"} and isinstance(rec["retrain"], bool)
    assert rec["reasons"] and all(isinstance(r, str) and r for r in rec["reasons"])
    assert rec["command"].startswith("uv run dvc ")
    return m
