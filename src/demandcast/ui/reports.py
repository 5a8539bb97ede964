"""The project's reports as the app shows them: evaluation (accuracy by horizon day and family,
interval coverage), the registry's decision, and the monitoring stage's files.

Every reader returns None when its file does not exist yet (the page then says which command
makes it) and raises a :class:`~demandcast.errors.UserError` naming the file when it exists
but cannot be read. The monitoring files follow the schema agreed with the monitoring stage
(``reports/monitor.json``, ``reports/monitoring/{drift.html,snapshot.json,history.csv}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from demandcast.errors import UserError

FORECASTERS = ("model", "seasonal_naive", "moving_average_28", "oracle")
EVALUATE_COMMAND = "uv run dvc repro evaluate"
MONITOR_COMMAND = "uv run dvc repro monitor"
MONITOR_KEYS = ("status", "windows", "drift", "live_accuracy", "alerts", "recommendation")


def _read(path: Path, reader, what: str, fix: str = "rerun the stage that writes it"):
    """``reader(path)``; None when the file is missing (the stage has not run), a UserError
    naming the file and the fix when it cannot be read."""
    if not path.exists():
        return None
    try:
        return reader(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read{what} ({exc}); {fix}") from None


def read_json(path: Path) -> dict | None:
    return _read(path, lambda p: json.loads(p.read_text()), " as JSON")


def read_csv(path: Path) -> pd.DataFrame | None:
    return _read(path, pd.read_csv, " as CSV")


# -- evaluation -----------------------------------------------------------------------------

def evaluation(reports: Path) -> dict | None:
    return read_json(reports / "evaluation.json")


def headline(ev: dict) -> pd.DataFrame:
    """One row per forecaster of the test window: WAPE, MAE, RMSE, bias, and WAPE against the model."""
    test = ev["test"]
    rows = [{"forecaster": name, **{k: test[name].get(k) for k in ("wape", "mae", "rmse", "rmsle", "bias")}}
            for name in FORECASTERS if name in test]
    table = pd.DataFrame(rows).set_index("forecaster")
    table["model's WAPE / this"] = table.loc["model", "wape"] / table["wape"]
    return table


def by_horizon(ev: dict) -> pd.DataFrame:
    per = ev["test"]["wape_by_horizon"]
    table = pd.DataFrame({name: per[name] for name in FORECASTERS if name in per})
    table.index = table.index.astype(int)
    return table.sort_index().rename_axis("horizon").reset_index()


def by_family(ev: dict) -> pd.DataFrame:
    per = ev["test"]["wape_by_family"]
    return pd.DataFrame({name: per[name] for name in FORECASTERS if name in per}).rename_axis("family")


def coverage(ev: dict) -> pd.DataFrame:
    return pd.DataFrame([{"interval": f"{float(level):.0%} interval", "nominal": float(level), "observed": v}
                         for level, v in ev["test"]["coverage"].items()])


def cells(artifacts: Path) -> pd.DataFrame | None:
    """The evaluate stage's scored test cells (artifacts/evaluation/forecasts.parquet), if any."""
    return _read(artifacts / "evaluation" / "forecasts.parquet", pd.read_parquet, "",
                 f"rerun {EVALUATE_COMMAND}")


def coverage_by(scored: pd.DataFrame, by: str = "family") -> pd.DataFrame:
    """Share of test days inside each interval, per ``by`` (rows) and level (columns), with
    the number of scored days; worst-covered first."""
    levels = sorted(c.removeprefix("lower_") for c in scored.columns if c.startswith("lower_"))
    inside = pd.DataFrame({f"{float(lvl):.0%} interval": scored["actual"].between(scored[f"lower_{lvl}"],
                                                                                   scored[f"upper_{lvl}"])
                           for lvl in levels})
    inside[by] = scored[by].to_numpy()
    table = inside.groupby(by).mean()
    table["days"] = inside.groupby(by).size()
    return table.sort_values(table.columns[0])


def backtest(ev: dict) -> pd.DataFrame | None:
    mean = (ev.get("backtest") or {}).get("mean")
    if not mean:
        return None
    return pd.DataFrame([{"forecaster": n, "wape": mean[n]["wape"]} for n in FORECASTERS if n in mean])


def sample_forecasts(reports: Path) -> dict[str, pd.DataFrame]:
    """The evaluation's forecast-vs-actual samples by series name (``store1_item1964454``)."""
    folder = reports / "plots" / "forecasts"
    return {p.stem: pd.read_csv(p, parse_dates=["date"]) for p in sorted(folder.glob("*.csv"))}


def sample_frames(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A sample as (actual sales, forecast) in the Forecast page's shapes, for the same chart."""
    bands = {f"{side}_0.{lvl}": f"{side}_{lvl}" for side in ("lower", "upper") for lvl in ("80", "95")}
    actual = frame[["date", "actual"]].rename(columns={"actual": "unit_sales"})
    return actual, frame.drop(columns=["actual"]).rename(columns={"model": "forecast", **bands})


def sample_coverage(frame: pd.DataFrame) -> dict[str, float]:
    """Share of a sample's days whose actual lies inside each band."""
    out = {}
    for level in ("0.80", "0.95"):
        inside = frame["actual"].between(frame[f"lower_{level}"], frame[f"upper_{level}"])
        out[level] = float(inside.mean())
    return out


# -- monitoring -------------------------------------------------------------------------------

@dataclass
class Monitoring:
    report: dict
    history: pd.DataFrame | None
    drift_html: Path | None
    path: Path


def monitoring(reports: Path) -> Monitoring | None:
    """The last monitor run, or None before the first one."""
    path = reports / "monitor.json"
    report = read_json(path)
    if report is None:
        return None
    missing = [k for k in MONITOR_KEYS if k not in report]
    if missing:
        raise UserError(f"{path} lacks {missing}: it was written by another version of the monitor "
                        f"stage; rerun it ({MONITOR_COMMAND})")
    folder = reports / "monitoring"
    history = read_csv(folder / "history.csv")
    if history is not None and "run_date" in history:
        history["run_date"] = pd.to_datetime(history["run_date"])
    html = folder / "drift.html"
    return Monitoring(report, history, html if html.exists() else None, path)


def drift_columns(report: dict) -> pd.DataFrame:
    columns = pd.DataFrame((report.get("drift") or {}).get("columns") or [],
                           columns=["column", "stattest", "score", "threshold", "drifted"])
    return columns.sort_values(["drifted", "column"], ascending=[False, True], ignore_index=True)


def live_by_horizon(report: dict) -> pd.DataFrame | None:
    live = report.get("live_accuracy")
    if not live:
        return None
    buckets = sorted((live.get("by_horizon") or {}).items(), key=lambda kv: int(kv[0].split("-")[0]))
    rows = [{"days ahead": k, **v} for k, v in buckets]  # "1-7" before "8-14": keys arrive sorted as text
    return pd.DataFrame(rows, columns=["days ahead", "wape", "bias", "n"])
