"""monitor: drift against the training window, live accuracy, and whether to retrain.

``python -m stages.monitor [key=value ...]``; ``monitor=live`` reads the service's prediction
logs (``monitor.logs``) instead of the feature table's last weeks. The method is
:mod:`demandcast.monitoring`'s. Writes ``reports/monitor.json`` (DVC metric),
``reports/monitoring/drift.html`` and ``snapshot.json`` (Evidently's report and snapshot),
appends a row to ``reports/monitoring/history.csv`` (``dvc plots``) and adds the run to the
Evidently workspace ``monitor.workspace`` (``evidently ui --workspace artifacts/monitoring``).
Prints the recommendation and its reasons; the exit code is 0 whatever the verdict.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from demandcast.cli import run_stage
from demandcast.monitoring import history, monitor


def run(cfg, now: dt.datetime | None = None) -> monitor.Result:
    now = now or dt.datetime.now(dt.UTC)
    result = monitor.run(cfg, now)
    reports = Path(str(cfg.paths.reports))
    folder = reports / "monitoring"
    history.save_report(result.snapshot, folder)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "monitor.json").write_text(
        json.dumps(result.monitor, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    history.append_history(folder / "history.csv", result.monitor, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    history.add_to_workspace(result.snapshot, Path(str(cfg.monitor.workspace)), str(cfg.monitor.project))
    return result


def describe(result: monitor.Result, reports) -> str:
    """What a person reads after the run: the verdict, the figures behind it, what was left out."""
    m = result.monitor
    w, d, live, rec = m["windows"], m["drift"], m["live_accuracy"], m["recommendation"]
    drifted = [c["column"] for c in d["columns"] if c["drifted"]]
    lines = [f"monitor: {m['status'].upper()}: current {w['current']['start']}..{w['current']['end']} "
             f"({w['current']['source']}, {w['current']['rows']:,} rows) against training rows "
             f"{w['reference']['start']}..{w['reference']['end']} ({w['reference']['rows']:,} rows)",
             f"  drift: {len(drifted)} of {len(d['columns'])} watched features (share {d['share']:.2f}, "
             f"alert at {d['threshold']:.2f}){': ' + ', '.join(drifted) if drifted else ''}"]
    if live:
        wape = "n/a" if live["wape"] is None else f"{live['wape']:.3f}"
        cover = ", ".join(f"{float(k):.0%}: {'n/a' if v is None else f'{v:.1%}'}"
                          for k, v in live["coverage"].items())
        lines.append(f"  live accuracy: {live['matched']:,} of {live['predictions']:,} served forecasts "
                     f"have actuals; WAPE {wape} (backtest {live['backtest']['wape']:.3f}); coverage {cover}")
    lines += [f"  note: {n}" for n in result.notes]
    lines.append(f"  recommendation: {'RETRAIN' if rec['retrain'] else 'no retrain'}")
    lines += [f"    - {r}" for r in rec["reasons"]]
    if rec["retrain"]:
        lines.append(f"    retrain with: {rec['command']}")
    lines.append(f"  -> {reports}/monitor.json, {reports}/monitoring/drift.html")
    return "\n".join(lines)


def main(argv=None) -> int:
    def body(cfg) -> None:
        print(describe(run(cfg), cfg.paths.reports))

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
