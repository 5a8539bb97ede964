"""Day-by-day demand simulation, streamed in chunks of days.

For series s (a store x item pair) on day t the expected demand is

    mu = exp(level_s + trend_i * years_t + weekly[store type, weekday]
             + yearly[family, day of year] + holiday[family group, t]
             + uplift_i * promo_{s,t} + z_{s,t}) * ramp_{s,t}

where z is a latent AR(1) state per series (so recent sales carry information beyond
the calendar) and ramp grows a newly launched item or newly opened store in over a few
weeks. Sales are negative binomial around mu (gamma-Poisson), weighed for items sold by
weight, and a rare return replaces the day's sales with a negative count. The truth file
holds the exact mean of that sampling distribution, including the zero days that
``train.csv`` omits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demandcast.data.synth.drift import Drift
from demandcast.data.synth.promotions import plan_rows

RETURN_MEAN = 1.3   # a return is 1 + Poisson(0.3) units
WEIGHT_SHAPE = 30.0  # per-unit weight of by-weight items ~ Gamma(30, 1/30): mean 1
RAMP_DAYS = 10.0    # launch/opening ramp time constant


@dataclass
class World:
    """Everything static the simulation reads; built by :func:`demandcast.data.generate.build_world`."""

    start: np.datetime64          # day 0
    n_days: int
    store_nbr: np.ndarray         # (n_stores,)
    item_nbr: np.ndarray          # (n_items,)
    s_store: np.ndarray           # (S,) store index of each series
    s_item: np.ndarray            # (S,) item index of each series
    level: np.ndarray             # (S,) log level
    trend: np.ndarray             # (S,) log change per year
    weekly: np.ndarray            # (S, 7) log effect by weekday
    yearly: np.ndarray            # (S_family_rows, n_days) via s_family
    s_family: np.ndarray          # (S,) row of ``yearly``
    holiday: np.ndarray           # (n_groups, n_days)
    s_group: np.ndarray           # (S,) row of ``holiday``
    closed: np.ndarray            # (n_days,) every store closed
    store_open: np.ndarray        # (n_stores,) first trading day
    phi: np.ndarray
    shock_sd: np.ndarray
    state0: np.ndarray
    start_day: np.ndarray         # (S,) first active day
    end_day: np.ndarray           # (S,) last active day
    ramps: np.ndarray             # (S,) whether the series starts after day 0
    promo_rate: np.ndarray
    uplift: np.ndarray
    dispersion: np.ndarray        # (S,) negative-binomial size
    by_weight: np.ndarray         # (S,) bool
    return_prob: float
    promo_tracked_from: int       # first day with onpromotion recorded
    drift: Drift | None = None    # a demand shift from a day on (data.drift), or none


@dataclass
class Chunk:
    train: pa.Table        # rows of train.csv (non-zero sales), without ids
    truth: pa.Table        # expected demand for every active series-day
    plan: pa.Table         # the promotion plan: every promoted series-day, sold or not (no ids)
    store_demand: np.ndarray  # (days, n_stores) expected units per store and day
    first_day: int
    state: np.ndarray      # (days, S) the latent state z: hidden from every forecaster; benchmarks
                           #   use it for the best forecast any model could make (bench/accuracy.py)


def simulate(world: World, chunk_days: int, seed: int) -> Iterator[Chunk]:
    """Yield the history chunk by chunk; states carry over, so output is one long run."""
    w = world
    n_series = len(w.level)
    z = w.state0.copy()
    promo_left = np.zeros(n_series, dtype=np.int64)
    weekday0 = (w.start.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 is Thu
    store_onehot = np.zeros((n_series, len(w.store_nbr)))
    store_onehot[np.arange(n_series), w.s_store] = 1.0
    weight_cols = np.flatnonzero(w.by_weight)

    for chunk_no, lo in enumerate(range(0, w.n_days, chunk_days)):
        hi = min(lo + chunk_days, w.n_days)
        days = np.arange(lo, hi)
        n = len(days)
        rng = np.random.default_rng([seed, 2, chunk_no])

        log_mu = w.level + np.outer(days / 365.25, w.trend)
        log_mu += w.weekly[:, (weekday0 + days) % 7].T
        log_mu += w.yearly[:, days][w.s_family].T
        log_mu += w.holiday[:, days][w.s_group].T

        rate = w.promo_rate if w.drift is None else w.drift.promo_rate(days, w.promo_rate)
        starts = rng.random((n, n_series)) < rate
        length = rng.integers(3, 11, (n, n_series))
        shocks = rng.standard_normal((n, n_series))
        promo = np.empty((n, n_series), dtype=bool)
        state = np.empty((n, n_series))
        for d in range(n):
            promo_left = np.where((promo_left == 0) & starts[d], length[d], promo_left)
            promo[d] = promo_left > 0
            promo_left = np.maximum(promo_left - 1, 0)
            z = w.phi * z + w.shock_sd * shocks[d]
            state[d] = z
        log_mu += promo * w.uplift + state
        if w.drift is not None:
            log_mu += w.drift.log_effect(days)

        age = days[:, None] - w.start_day
        active = (age >= 0) & (days[:, None] <= w.end_day)
        trading = active & ~w.closed[days][:, None]
        ramp = np.where(w.ramps, 1.0 - np.exp(-(np.maximum(age, 0) + 1) / RAMP_DAYS), 1.0)
        mu = np.exp(log_mu) * ramp * trading

        lam = rng.gamma(w.dispersion, 1.0, (n, n_series)) * (mu / w.dispersion)
        sales = rng.poisson(lam).astype(np.float64)
        weights = rng.gamma(WEIGHT_SHAPE, 1.0 / WEIGHT_SHAPE, (n, len(weight_cols)))
        sales[:, weight_cols] = np.round(sales[:, weight_cols] * weights, 3)
        returned = (rng.random((n, n_series)) < w.return_prob) & trading
        sales = np.where(returned, -(1.0 + rng.poisson(0.3, (n, n_series))), sales)
        expected = np.where(trading, (1 - w.return_prob) * mu - w.return_prob * RETURN_MEAN, 0.0)

        yield Chunk(
            train=_rows(w, days, active & (sales != 0), sales, promo, tracked=True),
            truth=_rows(w, days, active, expected, promo, tracked=False),
            plan=plan_rows(w.start, w.store_nbr[w.s_store], w.item_nbr[w.s_item], days, active,
                           promo, w.promo_tracked_from),
            store_demand=mu @ store_onehot,
            first_day=lo,
            state=state,
        )


def _rows(w: World, days, mask, values, promo, tracked: bool) -> pa.Table:
    d, s = np.nonzero(mask)  # C order: by date, then store, then item
    date = pa.array((w.start + days[d]).astype("datetime64[D]"), type=pa.date32())
    store = pa.array(w.store_nbr[w.s_store[s]].astype(np.int32))
    item = pa.array(w.item_nbr[w.s_item[s]].astype(np.int32))
    flag = promo[d, s]
    if not tracked:
        return pa.table(
            {"date": date, "store_nbr": store, "item_nbr": item,
             "expected_demand": pa.array(values[d, s].astype(np.float32)),
             "onpromotion": pa.array(flag)}
        )
    # Favorita writes onpromotion as True/False, and leaves it empty before it was tracked.
    text = np.where(flag, "True", "False").astype(object)
    text[days[d] < w.promo_tracked_from] = None
    return pa.table(
        {"date": date, "store_nbr": store, "item_nbr": item,
         "unit_sales": pa.array(values[d, s]), "onpromotion": pa.array(text, type=pa.string())}
    )
