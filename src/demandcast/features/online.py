"""The feature spec computed online with numpy and pandas, for serving and recursive forecasts.

:class:`OnlineFeatures` computes the columns of :mod:`demandcast.features.feature_spec` for target rows
(series x date) from each series' recent history, as :mod:`demandcast.features.spark_engine` computes
them for the whole panel; a parity test holds the two to each other. Static tables
(stores, items, holidays, transactions, priors) are read once in ``__init__``; ``compute``
works on dense arrays (series x day), vectorized across series. :meth:`OnlineFeatures.recursive`
is the numpy entry point of recursive forecasting: from dense (series x day) panels, with
no DataFrame per call, which serving and evaluation share.

What the spec leaves to the online side, decided here:

* Unknown days. ``history`` is what is known of each series. A day after its last history
  row is *unknown*, not a zero day: a lag on it is missing and rolling stats and promotion
  shares skip it, like a day before the series' first. Recursive forecasting appends its
  predictions to ``history`` before asking for the next day.
* The panel spans the whole history: a day absent between a series' first and last history
  rows is a zero-sales day without promotion, also for a target inside that span (as in
  the Spark panel). A target never takes a value from history on or after its own date.
* A series without history: every history feature is missing. A target before its series'
  first history row contradicts that history and is an error.
* ``transactions=None``: ``tx_mean`` is missing. A level value absent from its priors table
  (a store, item, ... first seen after the training window): ``prior_<level>`` is missing.
* Unknown ``store_nbr`` / ``item_nbr`` in targets: :class:`~demandcast.errors.UserError`.
* The result has ``KEYS`` then the spec's features not already among them (``store_nbr``
  and ``item_nbr`` are both), as in the Spark table, so ``result[spec.names()]`` is the
  model matrix. ``date`` is datetime64[ns].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features.calendar import HolidayCalendar, StoreTraffic, calendar_columns, store_columns
from demandcast.features.feature_spec import KEYS, PRIOR_KEYS, Spec
from demandcast.features.inputs import days, flags, floats, ints, require, texts, unique_keys


class OnlineFeatures:
    """The spec's features for target rows, from history; static tables loaded once."""

    def __init__(self, spec: Spec, stores: pd.DataFrame, items: pd.DataFrame, holidays: pd.DataFrame,
                 priors: dict[str, pd.DataFrame], transactions: pd.DataFrame | None = None):
        self.spec = spec
        store = store_columns(stores)
        self._stores = pd.Index(store["store_nbr"])
        self._store_nbr = store["store_nbr"]
        self._cluster, self._store_type = store["cluster"], store["store_type_code"]
        require(items, "items", ("item_nbr", "family"))
        item = ints(items["item_nbr"], "items.item_nbr")
        unique_keys("items", "item_nbr", item, lambda i: f"item_nbr {item[i]}")
        self._items = pd.Index(item)
        self._item_nbr = item
        self._store_rows, self._item_rows = _Rows(self._store_nbr), _Rows(item)
        family = texts(items["family"], "items.family")
        self.families = sorted(set(family))
        self._family_code = pd.Index(self.families).get_indexer(family).astype(np.int64)
        self._holidays = HolidayCalendar(spec, store["city"], store["state"], holidays)
        self._traffic = None if transactions is None else StoreTraffic(spec, self._stores, transactions)
        if not isinstance(priors, dict):
            raise UserError(f"priors must be a dict level -> DataFrame, got {type(priors).__name__}")
        self._priors = {level: self._prior_by_row(level, *self._prior_table(level, priors.get(level)))
                        for level in spec.priors}

    def _prior_key(self, level: str, columns: dict[str, np.ndarray]) -> np.ndarray:
        """One int64 per row for ``level``; store_family packs (store_nbr, family code)."""
        if level == "store_family":
            return columns["store_nbr"] * len(self.families) + columns["family"]
        return columns[PRIOR_KEYS[level][0]]

    def _prior_table(self, level: str, frame) -> tuple[pd.Index, np.ndarray]:
        if frame is None:
            raise UserError(f"priors: no table for level {level!r}, which the spec lists "
                            f"({list(self.spec.priors)}); the features stage writes it to "
                            f"artifacts/features/_meta/priors_{level}.parquet")
        name = f"priors[{level!r}]"
        require(frame, name, (*PRIOR_KEYS[level], f"prior_{level}"))
        keys = {col: pd.Index(self.families).get_indexer(texts(frame[col], f"{name}.{col}"))
                if col == "family" else ints(frame[col], f"{name}.{col}") for col in PRIOR_KEYS[level]}
        # A family items.csv lacks (code -1) can match no target: its rows are dropped.
        known = keys["family"] >= 0 if "family" in keys else np.ones(len(frame), dtype=bool)
        keys = {col: v[known] for col, v in keys.items()}
        key = self._prior_key(level, keys)
        unique_keys(name, "/".join(PRIOR_KEYS[level]), key,
                    lambda i: frame[known].iloc[i][list(PRIOR_KEYS[level])].to_dict())
        value = pd.to_numeric(frame[f"prior_{level}"], errors="coerce")
        # A trailing NaN, so that get_indexer's -1 (not in the table) reads as missing.
        return pd.Index(key), np.append(value.to_numpy(np.float64, na_value=np.nan)[known], np.nan)

    def _prior_by_row(self, level: str, index: pd.Index, value: np.ndarray) -> tuple[np.ndarray, str | None]:
        """The level's priors as a gather table over (store row, item row or family code):
        shape (stores or 1, items or families or 1), and which the second axis is."""
        axes = {"store_nbr": self._store_nbr[:, None], "cluster": self._cluster[:, None],
                "item_nbr": self._item_nbr[None, :],
                "family": np.arange(len(self.families))[None, :]}
        keys = PRIOR_KEYS[level]
        second = next((k for k in keys if k in ("item_nbr", "family")), None)
        key = self._prior_key(level, {k: axes[k] for k in keys})
        key = np.broadcast_to(key, (len(self._stores) if set(keys) & {"store_nbr", "cluster"} else 1,
                                    key.shape[1]))
        return value[index.get_indexer(key.ravel())].reshape(key.shape), second

    def rows(self, store: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of stores.csv and items.csv for store and item numbers; unknown ones are errors."""
        store_row, item_row = self._store_rows(store), self._item_rows(item)
        self._check_known(store, store_row, item, item_row)
        return store_row, item_row

    def fixed(self, store_row: np.ndarray, item_row: np.ndarray, day: np.ndarray,
              onpromotion: np.ndarray) -> dict[str, np.ndarray]:
        """The features that do not depend on sales: ids, calendar, holidays, traffic, priors
        and the (planned) promotion flag, for (store row, item row, day) triples."""
        family = self._family_code[item_row]
        cols = {"store_nbr": self._store_nbr[store_row], "item_nbr": self._item_nbr[item_row],
                "cluster": self._cluster[store_row], "family_code": family,
                "store_type_code": self._store_type[store_row], "onpromotion": onpromotion}
        cols.update(calendar_columns(day))
        cols.update(self._holidays.lookup(store_row, day))
        cols["tx_mean"] = (np.full(len(day), np.nan) if self._traffic is None
                           else self._traffic.mean(store_row, day))
        second = {"item_nbr": item_row, "family": family, None: 0}
        for level, (table, axis) in self._priors.items():
            cols[f"prior_{level}"] = table[store_row if len(table) > 1 else 0, second[axis]]
        return cols

    def compute(self, history: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
        """The features of every target row, in the targets' order (see the module docstring)."""
        require(history, "history", (*KEYS, self.spec.target, "onpromotion"))
        require(targets, "targets", (*KEYS, "onpromotion"))
        t_store = ints(targets["store_nbr"], "targets.store_nbr")
        t_item = ints(targets["item_nbr"], "targets.item_nbr")
        t_day = days(targets["date"], "targets.date")
        if len(t_day) == 0:
            return self.frame(t_day, {name: np.empty(0) for name in self.spec.names()})
        store_row, item_row = self.rows(t_store, t_item)
        t_series, y, promo, start = self.panel(history, store_row, item_row, t_day, targets)
        cols = self.from_panel(y, promo, t_series, t_day - start)
        cols.update(self.fixed(store_row, item_row, t_day,
                               flags(targets["onpromotion"], "targets.onpromotion")))
        return self.frame(t_day, cols)

    def panel(self, history: pd.DataFrame, store_row: np.ndarray, item_row: np.ndarray,
              t_day: np.ndarray, targets: pd.DataFrame):
        """Dense (series x day) sales and promotion panels of the targets' series over the days
        the targets look back on: the target rows' series (panel rows), sales, promotion flags
        and the day of column 0 (see :meth:`_panel`)."""
        series, t_series = np.unique(store_row * len(self._items) + item_row, return_inverse=True)
        h = self._history(history, series)
        y, promo, start = self._panel(h, len(series), t_series, t_day, targets)
        return t_series, y, promo, start

    def recursive(self, store_row: np.ndarray, item_row: np.ndarray, y: np.ndarray, promo: np.ndarray,
                  start: int, planned: np.ndarray, predict) -> tuple[np.ndarray, np.ndarray]:
        """Forecasts of the days after the known panel, one day at a time for all series.

        ``y``, ``promo``: (series, history_days + steps - 1) panels from day ``start`` (NaN:
        outside the series' panel or unknown), the first ``history_days`` columns known (the
        last of them the origin), the rest unknown; ``planned``: (series, steps) promotion
        flags of the forecast days. ``predict`` maps a float64 matrix of the spec's features
        to predictions. Each day's predictions (and planned flags) enter the panels before
        the next day's lags, rolling stats and promotion shares; ``y`` and ``promo`` are
        filled in place. Returns the forecasts (steps, series) and the features used
        (steps, series, features) in spec order.
        """
        names, span = self.spec.names(), self.spec.history_days
        n, steps = planned.shape
        day = start + span + np.arange(steps)  # the forecast days
        grid = self.fixed(np.tile(store_row, steps), np.tile(item_row, steps), np.repeat(day, n),
                          planned.T.ravel())
        changing = [j for j, name in enumerate(names) if name not in grid]
        x = np.empty((steps, n, len(names)))
        for j, name in enumerate(names):
            if name in grid:
                x[:, :, j] = np.reshape(grid[name], (steps, n))
        forecast = np.empty((steps, n))
        for t in range(steps):
            now = self.from_panel(y, promo, None, span + t)
            for j in changing:
                x[t, :, j] = now[names[j]]
            forecast[t] = predict(x[t])
            if span + t < y.shape[1]:
                y[:, span + t] = forecast[t]
                promo[:, span + t] = planned[:, t]
        return forecast, x

    def frame(self, day: np.ndarray, cols: dict[str, np.ndarray]) -> pd.DataFrame:
        """KEYS then the spec's other features, typed, from day numbers and feature columns."""
        out = {"store_nbr": cols["store_nbr"].astype(np.int64), "item_nbr": cols["item_nbr"].astype(np.int64),
               "date": day.astype("datetime64[D]").astype("datetime64[ns]")}
        dtypes = {"int": np.int64, "float": np.float64}
        for name, kind in self.spec.columns():
            if name not in KEYS:
                out[name] = np.asarray(cols[name], dtype=dtypes[kind])
        return pd.DataFrame(out)

    def _check_known(self, store, store_row, item, item_row) -> None:
        problems = []
        for what, ids, row, file in (("store_nbr", store, store_row, "stores.csv"),
                                     ("item_nbr", item, item_row, "items.csv")):
            unknown = np.unique(ids[row < 0])
            if len(unknown):
                problems.append(f"{what} {unknown[:10].tolist()}{' ...' if len(unknown) > 10 else ''} "
                                f"({int((row < 0).sum())} target row(s)) not in {file}")
        if problems:
            raise UserError(f"targets: {'; '.join(problems)}. The model knows only those series: "
                            "drop such targets before asking for features")

    def _history(self, history: pd.DataFrame, series: np.ndarray) -> dict[str, np.ndarray]:
        """The history rows of the target series: series index, day, sales, promotion flag."""
        store = ints(history["store_nbr"], "history.store_nbr")
        item = ints(history["item_nbr"], "history.item_nbr")
        store_row, item_row = self._stores.get_indexer(store), self._items.get_indexer(item)
        key = np.where((store_row >= 0) & (item_row >= 0), store_row * len(self._items) + item_row, -1)
        pos = np.minimum(np.searchsorted(series, key), len(series) - 1)
        mine = series[pos] == key  # rows of series no target asks about are skipped
        day = days(history["date"], "history.date")[mine]
        h = {"series": pos[mine], "day": day,
             "y": floats(history[self.spec.target], f"history.{self.spec.target}")[mine],
             "promo": flags(history["onpromotion"], "history.onpromotion")[mine]}
        if len(day):
            unique_keys("history", "(store_nbr, item_nbr, date)",
                        h["series"] * (int(day.max()) - int(day.min()) + 1) + day - day.min(),
                        lambda i: f"store_nbr {store[mine][i]}, item_nbr {item[mine][i]} "
                                  f"on {np.datetime64(int(day[i]), 'D')}")
        return h

    def _panel(self, h, n_series: int, t_series, t_day, targets):
        """Dense (series x day) sales and promotion panels over the days the targets look back
        on (NaN: outside the panel or unknown), and the day of column 0."""
        span = self.spec.history_days
        first = np.full(n_series, np.iinfo(np.int64).max)
        last = np.full(n_series, np.iinfo(np.int64).min)
        np.minimum.at(first, h["series"], h["day"])
        np.maximum.at(last, h["series"], h["day"])
        # A series without history (first = max int64) starts with its targets: never early.
        early = (t_day < first[t_series]) & (first[t_series] != np.iinfo(np.int64).max)
        if early.any():
            i = int(np.flatnonzero(early)[0])
            raise UserError(
                f"targets: {int(early.sum())} row(s) lie before their series' first history row, "
                f"e.g. store_nbr {targets['store_nbr'].iloc[i]}, item_nbr {targets['item_nbr'].iloc[i]} "
                f"on {np.datetime64(int(t_day[i]), 'D')} (history starts "
                f"{np.datetime64(int(first[t_series[i]]), 'D')}); pass the full history, or drop them")

        # Columns are the days [start, end): every target's past `span` days, nothing later.
        start, end = int(t_day.min()) - span, int(t_day.max())
        day = np.arange(start, end)
        panel = (day >= first[:, None]) & (day <= last[:, None])
        y = np.where(panel, 0.0, np.nan)  # NaN: outside the panel or unknown
        promo = y.copy()
        inside = (h["day"] >= start) & (h["day"] < end)
        cell = (h["series"][inside], h["day"][inside] - start)
        y[cell], promo[cell] = h["y"][inside], h["promo"][inside]
        return y, promo, start

    def from_panel(self, y, promo, t_series, t_col) -> dict[str, np.ndarray]:
        """Lags, rolling stats and promotion shares of targets at panel columns ``t_col``
        (an int: every series of the panels, in order, at that one column)."""
        spec, span = self.spec, self.spec.history_days
        if np.ndim(t_col) == 0:  # a view, not a copy: recursive forecasting's every step
            y_past, promo_past = y[:, t_col - span:t_col], promo[:, t_col - span:t_col]
        else:
            past = t_col[:, None] + np.arange(-span, 0)  # column j is day d - span + j
            y_past, promo_past = y[t_series[:, None], past], promo[t_series[:, None], past]
        cols = {f"lag_{k}": y_past[:, span - k] for k in spec.lags}
        # The windows all end on day d - 1: the widest one's mask and zero-filled values hold
        # every narrower one's as their last columns (the same cells, so the same sums).
        valid = ~np.isnan(y_past)
        filled = np.where(valid, y_past, 0.0)
        for w in spec.windows:
            mean, std, n = window_stats(y_past[:, span - w:], valid[:, span - w:], filled[:, span - w:])
            cols[f"roll_mean_{w}"] = np.where(n >= spec.min_periods["mean"], mean, np.nan)
            cols[f"roll_std_{w}"] = np.where(n >= spec.min_periods["std"], std, np.nan)
        if spec.yearly:
            days = [slice(span - a, span - b + 1) for a, b in spec.yearly_spans()]  # d-a .. d-b
            week, base = (window_mean(y_past[:, d], valid[:, d], filled[:, d])[0] for d in days)
            cols[f"yearly_mean_{spec.yearly[1]}"], cols[f"yearly_base_{spec.yearly[2]}"] = week, base
            cols["yearly_ratio"] = np.divide(week, base, out=np.full(len(week), np.nan), where=base > 0)
        for w in spec.promo_windows:
            cols[f"promo_share_{w}"] = window_mean(promo_past[:, span - w:])[0]
        return cols


class _Rows:
    """Row of each id in a table's unique ids, -1 if absent: ``pd.Index.get_indexer``
    without building an index per call."""

    def __init__(self, ids: np.ndarray):
        self.order = np.argsort(ids, kind="stable")
        self.sorted = ids[self.order]

    def __call__(self, wanted: np.ndarray) -> np.ndarray:
        if len(self.sorted) == 0:
            return np.full(len(wanted), -1)
        at = np.minimum(np.searchsorted(self.sorted, wanted), len(self.sorted) - 1)
        return np.where(self.sorted[at] == wanted, self.order[at], -1)


def window_mean(x: np.ndarray, valid: np.ndarray | None = None,
                filled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``x``, over its non-NaN cells: mean (NaN without any), count, and which
    cells count. ``valid`` (``~isnan(x)``) and ``filled`` (``x`` with 0 for NaN) when the
    caller has them already."""
    valid = ~np.isnan(x) if valid is None else valid
    filled = np.where(valid, x, 0.0) if filled is None else filled
    n = valid.sum(axis=1)
    mean = np.divide(filled.sum(axis=1), n, out=np.full(len(x), np.nan), where=n > 0)
    return mean, n, valid


def window_stats(x: np.ndarray, valid: np.ndarray | None = None,
                 filled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``x``, over its non-NaN cells: mean, sample std (ddof=1) and count.

    The std is two-pass on values shifted by the row's first value, so a constant window
    is exactly 0 (as Spark's incremental update gives) and large levels lose no precision.
    """
    mean, n, valid = window_mean(x, valid, filled)
    shift = x[np.arange(len(x)), valid.argmax(axis=1)]
    dev = np.where(valid, x - shift[:, None], 0.0)
    centred = np.where(valid, dev - (dev.sum(axis=1) / np.maximum(n, 1))[:, None], 0.0)
    std = np.sqrt(np.divide((centred * centred).sum(axis=1), n - 1, out=np.full(len(x), np.nan),
                            where=n > 1))
    return mean, std, n
