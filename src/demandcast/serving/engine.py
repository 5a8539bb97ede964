"""Forecasts for serving requests, from a serving bundle: the service's logic without HTTP.

For each requested series (store_nbr, item_nbr):

* **Origin.** The forecast starts on ``start`` (default: the day after the series' history
  ends). The history ends on the bundle's history end, or on the last day of a history the
  request gives. A start after that is reached by forecasting the days in between too
  (recursively, as unknown days); a start inside the snapshot forecasts from the day before
  it with only the history known then (a backtest). The last forecast day may lie at most
  ``max_horizon`` days after the history end.
* **Model.** Series whose store and item the model knows and that have history (in the
  snapshot or in the request) are forecast by the champion, recursively, vectorized across
  every series with the same origin: panels cut from the bundle's dense snapshot go straight
  into :meth:`~demandcast.features.online.OnlineFeatures.recursive`, the numpy route that
  evaluation's :func:`demandcast.models.forecast.recursive` takes after building them from
  a history frame (``tests/serving/test_engine.py`` holds the two exactly equal), then times
  the bundle's level factor, as the evaluate stage scores them (:mod:`demandcast.models.level_correction`).
* **Fallback.** Otherwise the forecast is a hierarchical prior (mean daily sales in the
  training window): store x family, else family, else the global mean; the response says
  which (``fallback``) and why (``unknown_store``, ``unknown_item``, ``no_history``).
  A request may name the ``family`` of an item the model does not know.
* **Intervals.** Split-conformal widths per day after the origin (:mod:`demandcast.models.conformal`).
* **History override.** A series' ``history`` replaces the snapshot's days of that series
  from its first date on; days without a row up to the origin are zero-sales days.

Anything a request gets wrong is a :class:`~demandcast.errors.UserError` naming the request,
the field and the rule.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features.feature_spec import series_key
from demandcast.models import conformal, dataset, forecast
from demandcast.serving.bundle import Bundle

EPOCH = dt.date(1970, 1, 1)
WIDE_PASS = 256  # series in a pass from which XGBoost predicts on every core


@dataclass
class Query:
    """One series to forecast (what a request item says, already type-checked)."""

    store_nbr: int
    item_nbr: int
    horizon: int = 28
    start: dt.date | None = None
    promotions: list[dt.date] = field(default_factory=list)
    history: list[tuple[dt.date, float, bool]] | None = None  # (date, sales, on promotion)
    family: str | None = None


@dataclass
class Result:
    """One series' answer: dates, forecasts, intervals, flags, and the features used."""

    query: Query
    dates: list[dt.date]
    forecast: np.ndarray
    intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    flags: dict
    features: np.ndarray | None = None  # rows = dates, columns = Engine.feature_names


class Engine:
    """Forecasts for many series at once from one bundle (read-only after ``__init__``)."""

    def __init__(self, bundle: Bundle, max_horizon: int = 90, max_history_days: int = 400,
                 cached_origins: int = 8):
        self.bundle, self.spec = bundle, bundle.spec
        # Serving predicts a few rows at a time, recursively: one thread per call is faster
        # than OpenMP's fan-out (0.2 against 0.3 ms a call); more workers use more cores.
        # Passes of many series (a big request, merged requests) use every core.
        bundle.forecaster.booster.set_param({"nthread": 1})
        self._wide = bundle.forecaster.threads(0)
        self._cores = len(os.sched_getaffinity(0))
        self.max_horizon, self.max_history_days = int(max_horizon), int(max_history_days)
        meta = bundle.metadata
        self.history_end = dt.date.fromisoformat(meta["history_end"])
        self.earliest_origin = (dt.date.fromisoformat(meta["snapshot_start"])
                                + dt.timedelta(days=self.spec.history_days - 1))
        self.feature_names = self.spec.names()
        self._order = forecast.model_order(bundle.forecaster, self.feature_names)
        self._series, self._y, self._promo, self._day0 = _dense_snapshot(bundle.history, self.spec.target)
        stores, items = bundle.static["stores.csv"], bundle.static["items.csv"]
        self._stores = set(stores["store_nbr"].astype(np.int64).tolist())
        self._family = dict(zip(items["item_nbr"].astype(np.int64).tolist(),
                                items["family"].astype(str).tolist(), strict=True))
        self.families = sorted(set(self._family.values()))
        self._prior_store_family = _prior_map(bundle.priors.get("store_family"), ("store_nbr", "family"),
                                              "prior_store_family")
        self._prior_family = _prior_map(bundle.priors.get("family"), ("family",), "prior_family")
        self._global = float(meta["global_prior"])
        self._static = {**bundle.static, "transactions.csv": bundle.transactions}
        self._online: OrderedDict[dt.date, object] = OrderedDict()
        self._cached_origins = cached_origins
        self.online(self.history_end)  # the default origin's features, ready before the first request

    # -- public ---------------------------------------------------------------------------

    def online(self, origin: dt.date):
        """Online features with what is known on ``origin`` (a few origins are cached)."""
        known = min(origin, self.history_end)
        if known not in self._online:
            self._online[known] = dataset.online(self._static, self.spec, self.bundle.priors,
                                                 known_until=known)
            while len(self._online) > self._cached_origins:
                self._online.popitem(last=False)
        self._online.move_to_end(known)
        return self._online[known]

    def forecast(self, queries: list[Query]) -> list[Result]:
        """A result per query, in order (see the module docstring)."""
        return self.answer([(queries, self.plan(queries))])[0]

    def plan(self, queries: list[Query]) -> list[dict]:
        """Each query checked and resolved (origin, days, history, fallback); a UserError
        names the first query that breaks a rule."""
        plans = [self._plan(i, q) for i, q in enumerate(queries)]
        _no_repeats(queries)
        return plans

    def answer(self, requests: list[tuple[list[Query], list[dict]]]) -> list[list[Result]]:
        """The results of planned requests, their model work merged: the series of every
        request with the same origin are forecast in one vectorized pass. Each series' numbers
        do not depend on the others in the pass."""
        results: list[list[Result | None]] = [[None] * len(queries) for queries, _ in requests]
        by_origin: dict[dt.date, list[tuple[int, int]]] = {}
        for r, (queries, plans) in enumerate(requests):
            for i, (q, p) in enumerate(zip(queries, plans, strict=True)):
                if p["fallback"] is None:
                    by_origin.setdefault(p["origin"], []).append((r, i))
                else:
                    results[r][i] = self._fallback(q, p)
        for origin, members in by_origin.items():
            made = self._model(origin, [requests[r][0][i] for r, i in members],
                               [requests[r][1][i] for r, i in members])
            for (r, i), result in zip(members, made, strict=True):
                results[r][i] = result
        return results

    # -- one query ------------------------------------------------------------------------

    def _plan(self, i: int, q: Query) -> dict:
        where = f"requests[{i}]"
        if not 1 <= q.horizon <= self.max_horizon:
            raise UserError(f"{where}.horizon: {q.horizon} is not in 1..{self.max_horizon}")
        last_known = self.history_end
        override = None
        if q.history is not None:
            override = self._override(where, q)
            last_known = max(last_known, override["last"])
        start = q.start or last_known + dt.timedelta(days=1)
        if abs((start - self.history_end).days) > 10 * 366:
            raise UserError(f"{where}.start: {start} is years away from the served history, which "
                            f"ends {self.history_end}")
        last_day = start + dt.timedelta(days=q.horizon - 1)
        if (last_day - last_known).days > self.max_horizon:
            raise UserError(f"{where}.start: {start} with horizon {q.horizon} ends {last_day}, more than "
                            f"{self.max_horizon} days after the history end {last_known}; start earlier "
                            "or ask for fewer days")
        origin = min(start - dt.timedelta(days=1), last_known)
        if origin < self.earliest_origin:
            first = self.earliest_origin + dt.timedelta(days=1)
            raise UserError(f"{where}.start: {start} is before {first}, the first day the served "
                            f"history can forecast (it holds the last {self.spec.history_days} days "
                            "before each origin from there on)")
        if override is not None and override["last"] > origin:
            raise UserError(f"{where}.history: it reaches {override['last']}, into the forecast days "
                            f"from {start}; give history up to {origin} only")
        if override is not None and (origin - override["first"]).days >= self.max_history_days:
            raise UserError(f"{where}.history: {override['first']} is {self.max_history_days} or more "
                            f"days before the forecast origin {origin}; give the recent days only")
        bad = [d for d in q.promotions if not start <= d <= last_day]
        if bad:
            raise UserError(f"{where}.promotions: {bad[0]} is outside the forecast days {start}..{last_day}")
        flags = {"fallback": None, "unknown_store": q.store_nbr not in self._stores,
                 "unknown_item": q.item_nbr not in self._family, "no_history": False,
                 "history_overridden": override is not None}
        family = self._family.get(q.item_nbr)
        if q.family is not None:
            if q.family not in self.families:
                raise UserError(f"{where}.family: {q.family!r} is not a family the model knows "
                                f"({', '.join(self.families)})")
            if family is not None and family != q.family:
                raise UserError(f"{where}.family: item {q.item_nbr} is in family {family!r}, "
                                f"not {q.family!r}; leave family out for items the model knows")
        key = series_key(q.store_nbr, q.item_nbr)
        pos = np.searchsorted(self._series, key)
        in_snapshot = bool(pos < len(self._series) and self._series[pos] == key)
        plan = {"start": start, "last_day": last_day, "origin": origin, "last_known": last_known,
                "override": override, "family": family or q.family, "flags": flags, "fallback": None,
                "snapshot_pos": int(pos) if in_snapshot else None}
        if flags["unknown_store"] or flags["unknown_item"] or not (in_snapshot or override):
            flags["no_history"] = not (in_snapshot or override)
            plan["fallback"] = True
        return plan

    def _override(self, where: str, q: Query) -> dict:
        rows = q.history or []
        if not rows:
            raise UserError(f"{where}.history: empty; leave it out to use the served history")
        if max(abs((r[0] - self.history_end).days) for r in rows) > 10 * 366:
            raise UserError(f"{where}.history: dates years away from the served history, which ends "
                            f"{self.history_end}")
        if len(rows) > self.max_history_days:
            raise UserError(f"{where}.history: {len(rows)} days, at most {self.max_history_days} allowed")
        days = [r[0] for r in rows]
        if len(set(days)) != len(days):
            seen = set()
            twice = next(d for d in days if d in seen or seen.add(d))
            raise UserError(f"{where}.history: {twice} appears more than once; one row per day")
        return {"day": np.array([(d - EPOCH).days for d in days], dtype=np.int64),
                "y": np.array([float(r[1]) for r in rows]),
                "promo": np.array([float(bool(r[2])) for r in rows]),
                "first": min(days), "last": max(days)}

    # -- forecasts --------------------------------------------------------------------------

    def _fallback(self, q: Query, p: dict) -> Result:
        family = p["family"]
        value, level = None, None
        if family is not None and not p["flags"]["unknown_store"]:
            value, level = self._prior_store_family.get((q.store_nbr, family)), "store_family"
        if value is None and family is not None:
            value, level = self._prior_family.get((family,)), "family"
        if value is None or not np.isfinite(value):
            value, level = self._global, "global"
        p["flags"]["fallback"] = level
        dates = _days(p["start"], q.horizon)
        steps = np.array([(d - p["last_known"]).days for d in dates])
        f = np.full(len(dates), float(value))
        return Result(q, dates, f, conformal.intervals(f, steps, self.bundle.widths), p["flags"])

    def _model(self, origin: dt.date, queries: list[Query], plans: list[dict]) -> list[Result]:
        online = self.online(origin)
        n, span = len(queries), self.spec.history_days
        steps = max((p["last_day"] - origin).days for p in plans)
        start = (origin - EPOCH).days + 1 - span  # the panels' first day
        y, promo = self._panels(plans, start, span + steps - 1)
        planned = np.zeros((n, steps))
        for j, q in enumerate(queries):
            planned[j, [(d - origin).days - 1 for d in set(q.promotions)]] = 1.0
        store_row, item_row = online.rows(np.array([q.store_nbr for q in queries], dtype=np.int64),
                                          np.array([q.item_nbr for q in queries], dtype=np.int64))
        f, x = self._recursive(online, store_row, item_row, y, promo, start, planned)
        f = f * self.bundle.level  # after the recursion, as the evaluate stage (models.level_correction)
        h = np.repeat(np.arange(1, steps + 1), n)
        bands = {level: (lo.reshape(steps, n), hi.reshape(steps, n))
                 for level, (lo, hi) in conformal.intervals(f.ravel(), h, self.bundle.widths).items()}
        out, dates = [], {}
        for j, (q, p) in enumerate(zip(queries, plans, strict=True)):
            first = (p["start"] - origin).days - 1
            take = slice(first, first + q.horizon)
            if (p["start"], q.horizon) not in dates:
                dates[p["start"], q.horizon] = _days(p["start"], q.horizon)
            out.append(Result(q, list(dates[p["start"], q.horizon]), f[take, j],
                              {level: (lo[take, j], hi[take, j]) for level, (lo, hi) in bands.items()},
                              p["flags"], np.ascontiguousarray(x[take, j])))
        return out

    def _recursive(self, online, store_row, item_row, y, promo, start, planned):
        """:meth:`OnlineFeatures.recursive`; a pass of many series is split by series over
        the cores (each series' recursion is its own, so the answers are the same bytes;
        numpy and XGBoost release the GIL)."""
        n = len(store_row)
        parts = min(self._cores, n // (WIDE_PASS // 2))
        if parts < 2:
            model = self._wide if n >= WIDE_PASS else self.bundle.forecaster
            return online.recursive(store_row, item_row, y, promo, start, planned,
                                    lambda m: model.predict_matrix(m[:, self._order]))
        model = self.bundle.forecaster  # one thread each: the parts fill the cores

        def part(rows: slice):
            return online.recursive(store_row[rows], item_row[rows], y[rows], promo[rows], start,
                                    planned[rows], lambda m: model.predict_matrix(m[:, self._order]))

        edges = np.linspace(0, n, parts + 1).astype(int)
        with ThreadPoolExecutor(parts) as pool:
            done = list(pool.map(part, [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]))
        return np.concatenate([f for f, _ in done], axis=1), np.concatenate([x for _, x in done], axis=1)

    def _panels(self, plans: list[dict], start: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Sales and promotion panels of the queries from day ``start``: the snapshot's days
        (its zero days and, before a series' first day, NaN) up to the origin, replaced from
        an override's first day on; the days after the origin unknown (NaN)."""
        span = self.spec.history_days
        y, promo = np.full((len(plans), width), np.nan), np.full((len(plans), width), np.nan)
        pos = np.array([-1 if p["snapshot_pos"] is None else p["snapshot_pos"] for p in plans])
        have = np.flatnonzero(pos >= 0)
        day = start + np.arange(span)
        # Days before the snapshot's first column precede every series' first row (NaN);
        # days after its last are zero days of a known series.
        inside = np.flatnonzero((day >= self._day0) & (day - self._day0 < self._y.shape[1]))
        later = np.flatnonzero(day - self._day0 >= self._y.shape[1])
        cells = np.ix_(pos[have], day[inside] - self._day0)
        y[np.ix_(have, inside)], promo[np.ix_(have, inside)] = self._y[cells], self._promo[cells]
        y[np.ix_(have, later)], promo[np.ix_(have, later)] = 0.0, 0.0
        for j, p in enumerate(plans):
            given = p["override"]
            if given is None:
                continue
            y[j, max((given["first"] - EPOCH).days - start, 0):span] = 0.0  # its days without a row
            promo[j, max((given["first"] - EPOCH).days - start, 0):span] = 0.0
            seen = given["day"] >= start
            y[j, given["day"][seen] - start] = given["y"][seen]
            promo[j, given["day"][seen] - start] = given["promo"][seen]
        return y, promo


def _dense_snapshot(history: pd.DataFrame, target: str):
    """The bundle's history as (series x day) panels from its first day to its last: sales
    (NaN before a series' first row, 0 on its days without one) and promotion flags (NaN
    likewise), the series' keys (sorted) and the day number of column 0."""
    store = history["store_nbr"].to_numpy(np.int64)
    item = history["item_nbr"].to_numpy(np.int64)
    day = history["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    keys = series_key(store, item)
    series, row = np.unique(keys, return_inverse=True)
    if len(series) == 0:
        return series, np.empty((0, 0)), np.empty((0, 0)), 0
    day0 = int(day.min())
    first = np.full(len(series), np.iinfo(np.int64).max)
    np.minimum.at(first, row, day)
    columns = np.arange(day0, int(day.max()) + 1)
    y = np.where(columns >= first[:, None], 0.0, np.nan)
    promo = y.copy()
    y[row, day - day0] = history[target].to_numpy(np.float64)
    promo[row, day - day0] = history["onpromotion"].to_numpy(np.float64)
    return series, y, promo, day0


def _days(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=k) for k in range(n)]


def _prior_map(frame: pd.DataFrame | None, keys: tuple[str, ...], column: str) -> dict:
    if frame is None:
        return {}
    values = frame[column].to_numpy(np.float64)
    cols = [frame[k].astype(np.int64 if k != "family" else str).tolist() for k in keys]
    return {key: v for key, v in zip(zip(*cols, strict=True), values, strict=True) if np.isfinite(v)}


def _no_repeats(queries: list[Query]) -> None:
    seen: dict[tuple[int, int], int] = {}
    for i, q in enumerate(queries):
        key = (q.store_nbr, q.item_nbr)
        if key in seen:
            raise UserError(f"requests[{i}]: store_nbr {q.store_nbr}, item_nbr {q.item_nbr} is asked "
                            f"for again (first in requests[{seen[key]}]); ask once per series")
        seen[key] = i
