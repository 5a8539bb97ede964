"""Alerts and the retrain recommendation, each with its reason in words.

* **drift**: at least ``thresholds.drift_share`` of the watched features drifted;
* **accuracy**: live WAPE more than ``thresholds.wape_tolerance`` (relative) above the
  backtest's, on at least ``thresholds.min_matched`` forecasts with actuals;
* **coverage**: an interval's live coverage more than ``thresholds.coverage_points`` off
  its nominal level, on as many forecasts.

Drift alone explains; accuracy decides: ``retrain`` is true when the accuracy or the
coverage alert is on. Drift with accuracy intact is a reason to watch, not to retrain
(inputs move with the seasons and the assortment, and the model's lags follow them);
drift without actuals yet says to rerun the monitor once they arrive. The recommendation
names the command that retrains.
"""

from __future__ import annotations

MAX_NAMED = 6  # drifted columns named in a reason


def alerts(drift: dict, live: dict | None, thresholds) -> dict[str, bool]:
    judged = _judged(live, thresholds)
    wape, backtest = (live or {}).get("wape"), (live or {}).get("backtest", {}).get("wape")
    accuracy = bool(judged and wape is not None and backtest is not None
                    and wape > backtest * (1 + float(thresholds.wape_tolerance)))
    coverage = bool(judged and any(_coverage_gap(level, value) > float(thresholds.coverage_points)
                                   for level, value in live["coverage"].items() if value is not None))
    return {"drift": bool(drift["alert"]), "accuracy": accuracy, "coverage": coverage}


def recommend(drift: dict, live: dict | None, flags: dict, thresholds, source: str, command: str) -> dict:
    reasons = []
    if flags["accuracy"]:
        tolerance = float(thresholds.wape_tolerance)
        worse = live["wape"] / live["backtest"]["wape"] - 1
        reasons.append(f"live WAPE {live['wape']:.3f} is {worse:.0%} worse than the backtest's "
                       f"{live['backtest']['wape']:.3f} (tolerance {tolerance:.0%}) on {live['matched']:,} "
                       f"forecasts with actuals; bias {live['bias']:+.1%} "
                       f"({'too high' if live['bias'] > 0 else 'too low'}){_worst_bucket(live)}")
    if flags["coverage"]:
        for level, value in live["coverage"].items():
            gap = _coverage_gap(level, value)
            if value is not None and gap > float(thresholds.coverage_points):
                reasons.append(f"{float(level):.0%} intervals cover {value:.1%} of actuals, "
                               f"{gap * 100:.1f} points off nominal (tolerance "
                               f"{float(thresholds.coverage_points) * 100:.0f})")
    drifted = [c["column"] for c in drift["columns"] if c["drifted"]]
    if flags["drift"]:
        named = ", ".join(drifted[:MAX_NAMED]) + (f" and {len(drifted) - MAX_NAMED} more"
                                                  if len(drifted) > MAX_NAMED else "")
        reasons.append(f"{len(drifted)} of {len(drift['columns'])} watched features drifted (share "
                       f"{drift['share']:.2f}, threshold {drift['threshold']:.2f}): {named}"
                       + _outcome_drift(drift))
    retrain = flags["accuracy"] or flags["coverage"]
    if retrain and flags["drift"]:
        reasons.append("the drift explains the accuracy loss: the inputs no longer look like the "
                       "training window, so retrain on the recent weeks")
    elif flags["drift"] and _judged(live, thresholds):
        reasons.append(f"live accuracy holds (WAPE {live['wape']:.3f}, backtest "
                       f"{live['backtest']['wape']:.3f}): drift alone does not call for a retrain; "
                       "watch the next runs")
    elif flags["drift"]:
        reasons.append(_no_accuracy(live, thresholds, source) + ": drift alone does not decide; "
                       "rerun the monitor on the served weeks once their actuals arrive")
    elif not retrain:
        reasons.append("no watched feature drifted past the threshold share"
                       + (f" and live WAPE {live['wape']:.3f} is within tolerance of the backtest's "
                          f"{live['backtest']['wape']:.3f}" if _judged(live, thresholds)
                          else f"; {_no_accuracy(live, thresholds, source)}")
                       + ": no retrain needed")
    return {"retrain": bool(retrain), "reasons": reasons, "command": command}


def retrain_command(actuals_end: str | None, data_end: str) -> str:
    """Retrain on the newer export: a DVC experiment with data.end moved to its last day."""
    if actuals_end and actuals_end > str(data_end):
        return f"uv run dvc exp run -S data.end={actuals_end}"
    return "uv run dvc repro"


def _judged(live: dict | None, thresholds) -> bool:
    return bool(live and live["matched"] >= int(thresholds.min_matched) and live["wape"] is not None)


def _coverage_gap(level: str, value: float | None) -> float:
    return 0.0 if value is None else abs(value - float(level))


def _no_accuracy(live: dict | None, thresholds, source: str) -> str:
    if source == "data":
        return "no live accuracy from the feature table (monitor=live reads what the service served)"
    matched = 0 if not live else live["matched"]
    return (f"live accuracy not judged: {matched:,} served forecasts have actuals yet "
            f"(at least {int(thresholds.min_matched):,} needed)")


def _worst_bucket(live: dict) -> str:
    buckets = [(name, b) for name, b in live["by_horizon"].items() if b["wape"] is not None]
    if not buckets:
        return ""
    name, worst = max(buckets, key=lambda nb: nb[1]["wape"])
    return f"; worst {name} days ahead: WAPE {worst['wape']:.3f}"


def _outcome_drift(drift: dict) -> str:
    moved = [name for name in ("target", "prediction") if (drift.get(name) or {}).get("drifted")]
    return f"; the {' and the '.join(moved)} drifted too" if moved else ""
