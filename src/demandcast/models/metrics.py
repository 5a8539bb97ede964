"""Point-forecast accuracy: the metrics evaluation reports, on arrays of actuals and forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd


def scores(actual, forecast) -> dict[str, float]:
    """RMSE, MAE, WAPE, RMSLE and bias (sum of errors over sum of actuals)."""
    y, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    if len(y) == 0:
        return {"rmse": float("nan"), "mae": float("nan"), "wape": float("nan"),
                "rmsle": float("nan"), "bias": float("nan"), "n": 0}
    err = f - y
    total = np.abs(y).sum()
    log_err = np.log1p(np.clip(f, 0, None)) - np.log1p(np.clip(y, 0, None))
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))),
            "wape": float(np.abs(err).sum() / total) if total else float("nan"),
            "rmsle": float(np.sqrt(np.mean(log_err**2))),
            "bias": float(err.sum() / total) if total else float("nan"), "n": int(len(y))}


def wape_by(frame: pd.DataFrame, key: str, forecast: str, actual: str = "actual") -> dict:
    """WAPE per value of ``key`` (horizon day, family, ...)."""
    err = (frame[forecast] - frame[actual]).abs().groupby(frame[key]).sum()
    total = frame[actual].abs().groupby(frame[key]).sum()
    return {(k.item() if hasattr(k, "item") else k): float(v)
            for k, v in (err / total.where(total > 0)).items()}


def coverage(actual, lower, upper) -> float:
    y = np.asarray(actual, dtype=np.float64)
    return float(np.mean((y >= lower) & (y <= upper))) if len(y) else float("nan")
