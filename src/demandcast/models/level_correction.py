"""The level correction of recursive forecasts, measured on the validation window.

The model learns from one-step rows, whose lags and rolling windows hold actual sales. A
forecast feeds its own forecasts back into them, and over 28 days the level drifts: on
bench/accuracy.py's christmas world the test window's forecasts summed to 3% more than what
sold, and the validation window's, forecast the same way from the day before it, 2.7% more.

The evaluate stage forecasts the validation window recursively anyway (the conformal widths
come from it), so it measures the drift there: the factor is the median over the window's
days of the day's sales over its forecasts, and every model forecast is multiplied by it
after the recursion. The lags inside the recursion keep the model's own forecasts, so the
factor does not feed back on itself. The median, not the window's total: a holiday in the
window that the model under- or over-forecasts is one day of 28, not the level of all of
them (the demo's validation window holds Memorial Day). Days without sales (every store
closed) say nothing about the level and are left out. Serving applies the same factor
(``intervals.json``), so served and evaluated forecasts stay the same numbers. Bounded to
``BOUNDS``: a window far off must not swing the forecasts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BOUNDS = (0.8, 1.25)


def factor(cells: pd.DataFrame, forecast: str = "forecast") -> float:
    """The median over days (``date``) of sum(``actual``) / sum(``forecast``), within
    :data:`BOUNDS`; 1.0 when no day has both sales and a forecast (returns, negative sales,
    count as they were sold)."""
    if cells.empty:
        return 1.0
    days = cells.groupby("date")[["actual", forecast]].sum(min_count=1)
    days = days[(days["actual"] > 0) & (days[forecast] > 0)]
    if days.empty:
        return 1.0
    return float(np.clip(np.median(days["actual"] / days[forecast]), *BOUNDS))
