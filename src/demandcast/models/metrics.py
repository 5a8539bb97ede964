"""Point-forecast accuracy: the metrics evaluation reports, on arrays of actuals and forecasts.

A metric that is undefined is ``None`` (JSON ``null``), never NaN: WAPE and bias divide by
the sum of actual sales, which is zero on a day every store is closed; every metric needs at
least one cell. :func:`undefined` explains each ``None`` of a result tree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ZERO_SALES = ("the actual sales of these cells sum to 0 (e.g. every store closed): WAPE and bias "
              "divide by them")
NO_CELLS = "there are no cells to score"
NO_RATIO = "one side of the ratio is undefined or 0"


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def scores(actual, forecast) -> dict[str, float | None]:
    """RMSE, MAE, WAPE, RMSLE and bias (sum of errors over sum of actuals); ``n`` cells."""
    y, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    if len(y) == 0:
        return {"rmse": None, "mae": None, "wape": None, "rmsle": None, "bias": None, "n": 0}
    err = f - y
    total = np.abs(y).sum()
    log_err = np.log1p(np.clip(f, 0, None)) - np.log1p(np.clip(y, 0, None))
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))),
            "wape": _ratio(np.abs(err).sum(), total), "rmsle": float(np.sqrt(np.mean(log_err**2))),
            "bias": _ratio(err.sum(), total), "n": int(len(y))}


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den, or None when either is undefined or the denominator is 0."""
    return None if num is None or not den else float(num / den)


def mean(values) -> float | None:
    """The mean of the defined values, or None when none is."""
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def wape_by(frame: pd.DataFrame, key: str, forecast: str, actual: str = "actual") -> dict:
    """WAPE per value of ``key`` (horizon day, family, ...); None where actuals sum to 0."""
    err = (frame[forecast] - frame[actual]).abs().groupby(frame[key]).sum()
    total = frame[actual].abs().groupby(frame[key]).sum()
    return {(k.item() if hasattr(k, "item") else k): _ratio(err[k], total[k]) for k in err.index}


def coverage(actual, lower, upper) -> float | None:
    y = np.asarray(actual, dtype=np.float64)
    return float(np.mean((y >= lower) & (y <= upper))) if len(y) else None


def undefined(tree, path: str = "") -> dict[str, str]:
    """Every ``None`` leaf of a nested result, by dotted path, with the reason it is undefined."""
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(undefined(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(tree, list):
        out = {}
        for i, value in enumerate(tree):
            out.update(undefined(value, f"{path}[{i}]"))
        return out
    if tree is not None:
        return {}
    leaf = path.rsplit(".", 1)[-1]
    if "ratio" in path or "_to_" in leaf:
        return {path: NO_RATIO}
    if "wape" in path or leaf == "bias":
        return {path: ZERO_SALES}
    return {path: NO_CELLS}
