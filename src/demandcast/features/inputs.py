"""Checking and normalising the frames handed to :mod:`demandcast.features.online`.

Serving builds these frames from JSON, recursive forecasting from its own predictions and
tests from inline literals, so the same column may arrive as ints or floats, dates as
strings, ``datetime.date`` objects or timestamps, and flags as booleans, 0/1 or the raw
files' ``True``/``False`` text. Everything becomes plain numpy here, once, so the feature
code never meets a pandas extension type; anything that cannot be read is a
:class:`~demandcast.errors.UserError` naming the frame, the column, how many rows and an example.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from demandcast.errors import UserError

FLAG_TEXT = {"true": 1, "false": 0, "1": 1, "0": 0, "1.0": 1, "0.0": 0}


def require(frame, name: str, columns: Iterable[str]) -> None:
    """Stop unless ``frame`` is a DataFrame with every one of ``columns``."""
    columns = list(columns)
    if not isinstance(frame, pd.DataFrame):
        raise UserError(f"{name} must be a pandas DataFrame with columns {columns}, "
                        f"got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{name} lacks column(s) {missing}: it needs {columns} "
                        f"(it has {list(frame.columns)})")


def _bad(name: str, bad: np.ndarray, values: pd.Series, rule: str, fix: str) -> UserError:
    example = values[bad].iloc[0]
    return UserError(f"{name}: {int(bad.sum())} row(s) {rule}, e.g. {example!r} "
                     f"(row {values.index[bad][0]!r}); {fix}")


def ints(values: pd.Series, name: str) -> np.ndarray:
    """Whole numbers (ids, counts) as int64; missing or fractional values are errors."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise _bad(name, missing, values, "are empty", "fill them in or drop those rows")
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype=np.int64)
    number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(number) | (number % 1 != 0)
    if bad.any():
        raise _bad(name, bad, values, "are not whole numbers", "correct those rows")
    return number.astype(np.int64)


def floats(values: pd.Series, name: str) -> np.ndarray:
    """Numbers as float64; a missing value is an error (a sale is never unknown in history)."""
    number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(number)
    if bad.any():
        raise _bad(name, bad, values, "are empty or not numbers",
                   "every history row needs its sales: drop the rows of unknown days instead")
    return number


def days(values: pd.Series, name: str) -> np.ndarray:
    """Dates as int64 days since 1970-01-01 (a time of day is dropped)."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values)
        except (ValueError, TypeError) as exc:
            raise UserError(f"{name}: cannot read the dates ({exc}); write them as YYYY-MM-DD") from None
    if values.dt.tz is not None:  # the calendar day where the store is, not in UTC
        values = values.dt.tz_localize(None)
    missing = values.isna().to_numpy()
    if missing.any():
        raise _bad(name, missing, values, "have no date", "fill them in or drop those rows")
    return values.to_numpy().astype("datetime64[D]").astype(np.int64)


def flags(values: pd.Series, name: str, missing_is_zero: bool = True) -> np.ndarray:
    """0/1 flags as int64 from booleans, numbers or True/False text; missing -> 0 if allowed."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        number = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = values.astype("string").str.strip().str.lower()
        number = text.map(FLAG_TEXT).to_numpy(dtype=np.float64, na_value=np.nan)
        unreadable = np.isnan(number) & text.notna().to_numpy()
        if unreadable.any():
            raise _bad(name, unreadable, values, "are not True/False", "correct those rows")
    missing = np.isnan(number)
    if missing.any() and not missing_is_zero:
        raise _bad(name, missing, values, "are empty", "write True or False")
    number = np.where(missing, 0.0, number)
    bad = (number != 0) & (number != 1)
    if bad.any():
        raise _bad(name, bad, values, "are neither 0 nor 1", "correct those rows")
    return number.astype(np.int64)


def texts(values: pd.Series, name: str) -> np.ndarray:
    """Non-empty text as a numpy object array of str."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise _bad(name, missing, values, "are empty", "fill them in")
    return values.astype(str).to_numpy(dtype=object)


def unique_keys(name: str, columns: str, key: np.ndarray, show) -> None:
    """Stop if ``key`` repeats; ``show(i)`` describes row i for the message."""
    repeated = pd.Index(key).duplicated()
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0])
        raise UserError(f"{name}: {int(repeated.sum())} repeated row(s) for one {columns}, "
                        f"e.g. {show(first)}; keep one row per {columns}")
