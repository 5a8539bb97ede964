"""One monitor run: the windows, drift, live accuracy, alerts and recommendation, as monitor.json.

``reports/monitor.json`` (the contract with the planner UI; strict JSON, sorted keys, an
undefined figure is null and a reason says why)::

    {"status": "ok" | "alert",
     "windows": {"reference": {"start", "end", "rows"},
                 "current": {"start", "end", "rows", "source": "data" | "prediction_logs"}},
     "drift": {"share", "threshold", "alert",
               "columns": [{"column", "stattest", "score", "threshold", "drifted"}, ...],  # drifted first
               "target": {"stattest", "score", "drifted"} | null,
               "prediction": {"stattest", "score", "drifted"} | null},
     "live_accuracy": null | {"predictions", "matched", "wape", "bias",
                              "by_horizon": {"1-7": {"wape", "bias", "n"}, "8-14": ..., "15-28": ...},
                              "coverage": {"0.8", "0.95"},
                              "backtest": {"wape", "coverage": {"0.8", "0.95"}}},
     "alerts": {"drift", "accuracy", "coverage"},
     "recommendation": {"retrain", "reasons": [...], "command"}}

With ``source: prediction_logs``, ``windows.current`` also says what was read: ``records``,
``bad_lines`` and ``days_without_predictions`` (keys the UI may ignore). ``rows`` are the
rows compared for drift (after sampling); ``live_accuracy.predictions`` counts every
served forecast day.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from demandcast.errors import UserError
from demandcast.features import feature_spec
from demandcast.models import boosting, dataset
from demandcast.monitoring import accuracy, decision, drift, logs, windows

SOURCES = ("data", "prediction_logs")
MAX_DAYS = 366


@dataclass
class Result:
    monitor: dict                       # reports/monitor.json
    snapshot: object                    # Evidently's snapshot
    notes: list[str] = field(default_factory=list)  # what the run could not use, and why


def log_days(logs_cfg, today: dt.date) -> list[dt.date]:
    """The days of prediction logs to read (``monitor.logs.start/end/days``), oldest first."""
    def day(key: str, default: dt.date) -> dt.date:
        value = logs_cfg.get(key)
        try:
            return default if value is None else dt.date.fromisoformat(str(value))
        except ValueError:
            raise UserError(f"monitor.logs.{key}={value!r} is not a date (YYYY-MM-DD)") from None

    end = day("end", today)
    start = day("start", end - dt.timedelta(days=int(logs_cfg.days) - 1))
    span = (end - start).days + 1
    if not 1 <= span <= MAX_DAYS:
        raise UserError(f"monitor.logs: {start}..{end} must be 1 to {MAX_DAYS} days (start on or before end)")
    return [start + dt.timedelta(days=k) for k in range(span)]


def run(cfg, now: dt.datetime) -> Result:
    m = cfg.monitor
    if m.source not in SOURCES:
        raise UserError(f"monitor.source={m.source!r}: use one of {SOURCES}")
    artifacts, seed = Path(str(cfg.paths.artifacts)), int(cfg.seed)
    spec = feature_spec.from_config(cfg.features)
    forecaster = boosting.Forecaster.load(artifacts / "model")
    dataset.check_spec(json.loads((artifacts / "model" / "manifest.json").read_text()), spec,
                       str(artifacts / "model"))
    watched = windows.watched_features(forecaster.names, m.features)
    features_dir = artifacts / "features"
    index, fold = windows.load_index(cfg, spec, features_dir)
    notes: list[str] = []

    live = None
    if m.source == "data":
        current, current_window = windows.current_from_table(
            index, features_dir, spec, forecaster, watched, int(m.current_days), int(m.current_rows), seed)
        actuals_end = None
    else:
        served = logs.read(log_days(m.logs, now.date()), watched, m.logs.dir, m.logs.s3 or None,
                           m.logs.s3_endpoint or None)
        notes += _log_notes(served)
        actual, actuals_end = None, None
        if len(served.cells):
            cells = served.cells
            sales, last = accuracy.read_actuals(m.actuals, cells["date"].min().date(),
                                                cells["date"].max().date())
            actual = accuracy.match(cells, sales, last)
            actuals_end = None if last is None else last.isoformat()
            live = accuracy.live(cells, actual, m.horizon_buckets,
                                 accuracy.backtest(Path(str(cfg.paths.reports)) / "evaluation.json"))
            versions = sorted(cells["model_version"].astype(str).unique())
            if len(versions) > 1:
                notes.append(f"the window mixes model versions {versions}: accuracy is theirs together")
        current = windows.current_from_logs(served, actual if actual is not None else [], watched,
                                            int(m.current_rows), seed)
        current_window = {"start": served.days[0].isoformat(), "end": served.days[-1].isoformat(),
                          "rows": len(current), "source": "prediction_logs", "records": served.records,
                          "bad_lines": served.bad_lines,
                          "days_without_predictions": [d.isoformat() for d in served.empty_days]}

    reference, reference_window = windows.reference(index, features_dir, fold, spec, forecaster, watched,
                                                    int(m.reference_rows), seed)
    del index
    found = drift.compare(reference, current, watched, m.categorical, m,
                          name=f"monitor {current_window['start']}..{current_window['end']}",
                          timestamp=now.replace(tzinfo=None), tags=[str(m.source)])
    if found.skipped:
        notes.append(f"too few values to judge drift of {found.skipped} (at least {drift.MIN_VALUES} "
                     "per window); left out of the share")
    flags = decision.alerts(found.summary, live, m.thresholds)
    command = decision.retrain_command(actuals_end, str(cfg.data.end))
    recommendation = decision.recommend(found.summary, live, flags, m.thresholds, str(m.source), command)
    monitor = {"status": "alert" if any(flags.values()) else "ok",
               "windows": {"reference": reference_window, "current": current_window},
               "drift": found.summary, "live_accuracy": live, "alerts": flags,
               "recommendation": recommendation}
    return Result(monitor, found.snapshot, notes)


def _log_notes(served: logs.Served) -> list[str]:
    notes = []
    if served.bad_lines:
        shown = "; ".join(served.problems)
        more = served.bad_lines - len(served.problems)
        notes.append(f"skipped {served.bad_lines} bad log lines: {shown}"
                     + (f"; and {more} more" if more > 0 else ""))
    if served.empty_days:
        notes.append("no predictions logged on " + ", ".join(d.isoformat() for d in served.empty_days))
    if served.cells.empty:
        notes.append("only /predict rows in the window (no dates or series): no live accuracy")
    return notes
