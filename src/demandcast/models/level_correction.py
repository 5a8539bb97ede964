"""The level correction of recursive forecasts, measured on the validation window.

The model learns from one-step rows, whose lags and rolling windows hold actual sales. A
forecast feeds its own forecasts back into them, and over 28 days the level drifts: on
bench/accuracy.py's christmas world the test window's forecasts ran 3% above the sales,
and the validation window's, forecast the same way from the day before it, 2.7%.

The evaluate stage forecasts the validation window recursively anyway (the conformal widths
come from it), so it measures the drift there: the factor is the window's sales over its
forecasts, and every model forecast is multiplied by it after the recursion. The lags inside
the recursion keep the model's own forecasts, so the factor does not feed back on itself.
Serving applies the same factor (``intervals.json``), so served and evaluated forecasts stay
the same numbers. Bounded to ``BOUNDS``: a window with few sales must not swing the forecasts.
"""

from __future__ import annotations

import numpy as np

BOUNDS = (0.8, 1.25)


def factor(actual, forecast) -> float:
    """sum(actual) / sum(forecast) over a window's cells, within :data:`BOUNDS`; 1.0 when
    the window has no forecast (returns, negative sales, count as they were sold)."""
    made = float(np.nansum(np.asarray(forecast, dtype=np.float64)))
    sold = float(np.nansum(np.asarray(actual, dtype=np.float64)))
    if not made > 0:
        return 1.0
    return float(np.clip(sold / made, *BOUNDS))
