"""The feature spec computed online with numpy and pandas, for serving and recursive forecasts.

:class:`OnlineFeatures` computes the columns of :mod:`demandcast.features.feature_spec` for target rows
(series x date) from each series' recent history, as :mod:`demandcast.features.spark_engine` computes
them for the whole panel; a parity test holds the two to each other. Static tables
(stores, items, holidays, transactions, priors) are read once in ``__init__``; ``compute``
works on dense arrays (series x day), vectorized across series.

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
        self._cluster, self._store_type = store["cluster"], store["store_type_code"]
        require(items, "items", ("item_nbr", "family"))
        item = ints(items["item_nbr"], "items.item_nbr")
        unique_keys("items", "item_nbr", item, lambda i: f"item_nbr {item[i]}")
        self._items = pd.Index(item)
        family = texts(items["family"], "items.family")
        self.families = sorted(set(family))
        self._family_code = pd.Index(self.families).get_indexer(family).astype(np.int64)
        self._holidays = HolidayCalendar(spec, store["city"], store["state"], holidays)
        self._traffic = None if transactions is None else StoreTraffic(spec, self._stores, transactions)
        if not isinstance(priors, dict):
            raise UserError(f"priors must be a dict level -> DataFrame, got {type(priors).__name__}")
        self._priors = {level: self._prior_table(level, priors.get(level)) for level in spec.priors}

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

    def compute(self, history: pd.DataFrame, targets: pd.DataFrame, predict=None) -> pd.DataFrame:
        """The features of every target row, in the targets' order (see the module docstring).

        With ``predict`` (a function from a float64 matrix of the spec's features, one row per
        target, to predictions), the targets are forecast recursively: day by day in date
        order, each day's predictions entering the history (with the targets' onpromotion) of
        the later days' lags, rolling stats and promotion shares; the result gains a
        ``forecast`` column. Targets must then start after their series' history.
        """
        spec = self.spec
        require(history, "history", (*KEYS, spec.target, "onpromotion"))
        require(targets, "targets", (*KEYS, "onpromotion"))
        t_store = ints(targets["store_nbr"], "targets.store_nbr")
        t_item = ints(targets["item_nbr"], "targets.item_nbr")
        t_day = days(targets["date"], "targets.date")
        if len(t_day) == 0:
            return self._frame(t_day, {name: np.empty(0) for name in self.spec.names()})
        store_row, item_row = self._stores.get_indexer(t_store), self._items.get_indexer(t_item)
        self._check_known(t_store, store_row, t_item, item_row)

        series_key = store_row * len(self._items) + item_row
        series, t_series = np.unique(series_key, return_inverse=True)
        h = self._history(history, series)
        y, promo, start = self._panel(h, len(series), t_series, t_day, targets)
        cols = self._from_panel(y, promo, t_series, t_day - start)

        family = self._family_code[item_row]
        cols.update(store_nbr=t_store, item_nbr=t_item, cluster=self._cluster[store_row],
                    family_code=family, store_type_code=self._store_type[store_row],
                    onpromotion=flags(targets["onpromotion"], "targets.onpromotion"))
        cols.update(calendar_columns(t_day))
        cols.update(self._holidays.lookup(store_row, t_day))
        cols["tx_mean"] = (np.full(len(t_day), np.nan) if self._traffic is None
                           else self._traffic.mean(store_row, t_day))
        level_columns = {"store_nbr": t_store, "item_nbr": t_item, "family": family,
                         "cluster": cols["cluster"]}
        for level, (index, value) in self._priors.items():
            pos = index.get_indexer(self._prior_key(level, level_columns))
            cols[f"prior_{level}"] = value[pos]

        if predict is None:
            return self._frame(t_day, cols)
        return self._frame(t_day, self._recursive(cols, y, promo, t_series, t_day - start, predict))

    def _recursive(self, cols, y, promo, t_series, t_col, predict) -> dict[str, np.ndarray]:
        """Step through the targets' days in order, each day's predictions becoming history."""
        names = self.spec.names()
        cols = {n: np.asarray(cols[n], dtype=np.float64) for n in names}
        changing = [n for n in names if n.startswith(("lag_", "roll_", "promo_share_"))]
        x = np.column_stack([cols[n] for n in names])
        where = [names.index(n) for n in changing]
        cols["forecast"] = np.empty(len(t_col))
        days = np.unique(t_col)
        for i, day in enumerate(days):
            rows = np.flatnonzero(t_col == day)
            if i:  # day 0 saw only history, as computed above; later days see the predictions
                now = self._from_panel(y, promo, t_series[rows], t_col[rows])
                x[np.ix_(rows, where)] = np.column_stack([now[n] for n in changing])
            pred = predict(x[rows])
            cols["forecast"][rows] = pred
            if day < y.shape[1]:
                y[t_series[rows], day] = pred
                promo[t_series[rows], day] = cols["onpromotion"][rows]
        for j, n in zip(where, changing, strict=True):
            cols[n] = x[:, j]
        return cols

    def _frame(self, day: np.ndarray, cols: dict[str, np.ndarray]) -> pd.DataFrame:
        out = {"store_nbr": cols["store_nbr"].astype(np.int64), "item_nbr": cols["item_nbr"].astype(np.int64),
               "date": day.astype("datetime64[D]").astype("datetime64[ns]")}
        dtypes = {"int": np.int64, "float": np.float64}
        for name, kind in self.spec.columns():
            if name not in KEYS:
                out[name] = np.asarray(cols[name], dtype=dtypes[kind])
        if "forecast" in cols:
            out["forecast"] = cols["forecast"]
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

    def _from_panel(self, y, promo, t_series, t_col) -> dict[str, np.ndarray]:
        """Lags, rolling stats and promotion shares of targets at panel columns ``t_col``."""
        spec, span = self.spec, self.spec.history_days
        past = t_col[:, None] + np.arange(-span, 0)  # column j is day d - span + j
        y_past, promo_past = y[t_series[:, None], past], promo[t_series[:, None], past]
        cols = {f"lag_{k}": y_past[:, span - k] for k in spec.lags}
        for w in spec.windows:
            mean, std, n = window_stats(y_past[:, span - w:])
            cols[f"roll_mean_{w}"] = np.where(n >= spec.min_periods["mean"], mean, np.nan)
            cols[f"roll_std_{w}"] = np.where(n >= spec.min_periods["std"], std, np.nan)
        for w in spec.promo_windows:
            cols[f"promo_share_{w}"] = window_stats(promo_past[:, span - w:])[0]
        return cols


def window_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``x``, over its non-NaN cells: mean, sample std (ddof=1) and count.

    The std is two-pass on values shifted by the row's first value, so a constant window
    is exactly 0 (as Spark's incremental update gives) and large levels lose no precision.
    """
    valid = ~np.isnan(x)
    n = valid.sum(axis=1)
    shift = x[np.arange(len(x)), valid.argmax(axis=1)]
    dev = np.where(valid, x - shift[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, x, 0.0).sum(axis=1) / n
        centred = np.where(valid, dev - (dev.sum(axis=1) / n)[:, None], 0.0)
        std = np.sqrt((centred * centred).sum(axis=1) / (n - 1))
    return np.where(n > 0, mean, np.nan), np.where(n > 1, std, np.nan), n
