"""Split-conformal prediction intervals per horizon day, from validation residuals.

The score of a validation forecast is its absolute error scaled by sqrt(1 + forecast)
(count-like noise grows with the level), so one quantile per horizon and level gives
intervals that are wide for big sellers and narrow for slow movers. With n scores, the
ceil((n + 1) * level) / n empirical quantile covers a new exchangeable point with
probability at least ``level``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def scale(forecast) -> np.ndarray:
    return np.sqrt(1.0 + np.clip(np.asarray(forecast, dtype=np.float64), 0, None))


def calibrate(frame: pd.DataFrame, levels) -> dict[str, dict[int, float]]:
    """{level: {horizon: q}} from ``frame`` with horizon, actual, forecast."""
    score = np.abs(frame["actual"] - frame["forecast"]) / scale(frame["forecast"])
    widths = {}
    for level in levels:
        per = {}
        for h, s in score.groupby(frame["horizon"]):
            s = np.sort(s.to_numpy())
            k = min(len(s), math.ceil((len(s) + 1) * float(level)))
            per[int(h)] = float(s[k - 1])
        widths[f"{float(level):.2f}"] = per
    return widths


def intervals(forecast, horizon, widths: dict[str, dict[int, float]]) -> dict[str, tuple]:
    """{level: (lower, upper)} for forecasts at the given horizons (lower clipped at 0)."""
    f, h = np.asarray(forecast, dtype=np.float64), np.asarray(horizon)
    out = {}
    for level, per in widths.items():
        known = sorted((int(k), float(v)) for k, v in per.items())
        steps, width = np.array([k for k, _ in known]), np.array([v for _, v in known])
        at = np.minimum(np.searchsorted(steps, h), len(steps) - 1)
        q = np.where(steps[at] == h, width[at], width[-1])  # beyond the calibrated days: the last one's
        half = q * scale(f)
        out[level] = (np.clip(f - half, 0, None), f + half)
    return out
