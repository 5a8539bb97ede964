"""Live accuracy: the served forecasts scored against the sales that arrived later.

The actuals are a newer export's ``train.csv`` (``monitor.actuals``), keyed by store, item
and date. A served day up to the export's last day without a row sold nothing (the export
omits zero days, as Favorita's does); a day after it has no actual yet and is not scored.
Every served forecast counts, fallbacks included: it is what the planner got. Reported:
WAPE and bias (sum of errors over sum of actuals; positive: forecasts too high) overall and
by horizon bucket, each interval's coverage, and beside them the backtest's WAPE and
the test window's coverage from ``reports/evaluation.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from demandcast.errors import UserError
from demandcast.models import metrics

KEYS = ["store_nbr", "item_nbr", "date"]
TYPES = {"date": pa.date32(), "store_nbr": pa.int64(), "item_nbr": pa.int64(), "unit_sales": pa.float64()}


def read_actuals(path, first: dt.date, last: dt.date) -> tuple[pd.DataFrame, dt.date | None]:
    """Sales of ``first..last`` in ``path`` (streamed), and the last day the file holds."""
    path = Path(str(path))
    if not path.is_file():
        raise UserError(f"{path} is missing: monitor.actuals names the export whose train.csv holds "
                        "the sales after the forecasts (the data/ of a newer data version)")
    lo, hi = pa.scalar(first, pa.date32()), pa.scalar(last, pa.date32())
    parts, newest = [], None
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=64 << 20),
                                convert_options=pacsv.ConvertOptions(column_types=TYPES,
                                                                     include_columns=list(TYPES)))
        for batch in reader:
            if batch.num_rows == 0:
                continue
            top = pc.max(batch["date"]).as_py()
            newest = top if newest is None or top > newest else newest
            keep = pc.and_(pc.greater_equal(batch["date"], lo), pc.less_equal(batch["date"], hi))
            parts.append(pa.Table.from_batches([batch]).filter(keep))
    except (pa.ArrowInvalid, KeyError) as exc:
        raise UserError(f"{path} is not a train.csv with columns date, store_nbr, item_nbr, "
                        f"unit_sales ({exc}); validate it with python -m stages.validate") from None
    frame = (pa.concat_tables(parts).to_pandas() if parts else
             pd.DataFrame({k: pd.Series(dtype="float64" if k == "unit_sales" else "int64") for k in TYPES}))
    frame["date"] = pd.to_datetime(frame["date"])
    return frame, newest


def match(cells: pd.DataFrame, actuals: pd.DataFrame, last_actual: dt.date | None) -> np.ndarray:
    """The actual of each served cell: its sales, 0 on a day the export has no row for, NaN
    after the export's last day."""
    if cells.empty:
        return np.empty(0)
    sales = actuals.groupby(KEYS, sort=False)["unit_sales"].sum()
    joined = cells[KEYS].merge(sales.reset_index(), on=KEYS, how="left")["unit_sales"].to_numpy(np.float64)
    if last_actual is None:
        return np.full(len(cells), np.nan)
    known = (cells["date"] <= pd.Timestamp(last_actual)).to_numpy()
    return np.where(known, np.nan_to_num(joined, nan=0.0), np.nan)


def backtest(path) -> dict:
    """The backtest's mean WAPE and the test window's interval coverage, from evaluation.json."""
    path = Path(str(path))
    if not path.is_file():
        raise UserError(f"{path} is missing: live accuracy is judged against the backtest the "
                        "evaluate stage writes (dvc repro evaluate)")
    result = json.loads(path.read_text())
    return {"wape": float(result["backtest"]["mean"]["model"]["wape"]),
            "coverage": {str(float(k)): float(v) for k, v in result["test"]["coverage"].items()}}


def live(cells: pd.DataFrame, actual: np.ndarray, buckets: dict, reference: dict) -> dict:
    """``live_accuracy`` of monitor.json: WAPE, bias, by horizon bucket, coverage, the backtest."""
    known = ~np.isnan(actual)
    scored = cells.loc[known]
    y = actual[known]

    def score(mask) -> dict:
        s = metrics.scores(y[mask], scored["forecast"].to_numpy()[mask])
        return {"wape": _number(s["wape"]), "bias": _number(s["bias"]), "n": int(mask.sum())}

    everything = score(np.ones(len(y), dtype=bool))
    horizon = scored["horizon"].to_numpy()
    by_horizon = {name: score((horizon >= int(lo)) & (horizon <= int(hi)))
                  for name, (lo, hi) in buckets.items()}
    coverage = {level: _number(metrics.coverage(y, scored[f"lower_{level}"].to_numpy(),
                                                scored[f"upper_{level}"].to_numpy()))
                for level in sorted(reference["coverage"], key=float) if f"lower_{level}" in scored}
    return {"predictions": int(len(cells)), "matched": int(known.sum()), "wape": everything["wape"],
            "bias": everything["bias"], "by_horizon": by_horizon, "coverage": coverage,
            "backtest": reference}


def _number(value) -> float | None:
    """JSON has no NaN: an undefined figure (no actuals, nothing sold) is null."""
    return None if value is None or not np.isfinite(value) else float(value)
