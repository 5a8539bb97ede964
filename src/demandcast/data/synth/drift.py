"""A demand shift from a given day on (``data.drift``): the scenario monitoring must catch.

Off unless ``data.drift.start`` is set (``conf/data/demo_drift.yaml`` and
``tiny_drift.yaml`` turn it on). From ``start`` on:

* a **price shock**: the expected demand of every series in ``drift.families`` is
  multiplied by ``drift.demand_factor`` (a price rise on a family, a competitor opening);
* a **promotion policy change**: every series starts promotions ``drift.promo_rate_factor``
  times as often (same uplift per promotion day).

The shift changes no random draw before ``start``, which must begin a generated chunk of
``data.chunk_days`` days: days before it are byte for byte what the same configuration
without ``drift`` generates, so one model trained before the shift can be monitored
against the world where it happened and the one where it did not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demandcast.errors import UserError


@dataclass(frozen=True)
class Drift:
    day: int                 # index of the first shifted day (0 = data.start)
    shocked: np.ndarray      # (S,) bool: series whose family takes the price shock
    log_demand: float        # log of drift.demand_factor
    promo_rate_factor: float

    def log_effect(self, days: np.ndarray) -> np.ndarray:
        """(days, S) log-effect on expected demand."""
        return np.outer(days >= self.day, self.shocked * self.log_demand)

    def promo_rate(self, days: np.ndarray, rate: np.ndarray) -> np.ndarray:
        """(days, S) chance a promotion starts, per day and series."""
        return np.where((days >= self.day)[:, None], rate * self.promo_rate_factor, rate)


def from_config(data, start: np.datetime64, n_days: int, series_family: list[str]) -> Drift | None:
    """The shift ``data.drift`` describes, for series whose families are ``series_family``."""
    cfg = data.get("drift") if hasattr(data, "get") else None
    if not cfg or cfg.get("start") is None:
        return None
    try:
        day = int((np.datetime64(str(cfg.start), "D") - start).astype(int))
    except ValueError:
        raise UserError(f"data.drift.start={cfg.start!r} is not a date (use YYYY-MM-DD)") from None
    if not 0 < day < n_days:
        raise UserError(f"data.drift.start={cfg.start} must fall after data.start and within the "
                        "generated days (data.end + data.later_days)")
    chunk = int(data.chunk_days)
    if day % chunk:  # a chunk draws its noise in one go: a shift inside it would move earlier days too
        before, after = (start + day // chunk * chunk), (start + (day // chunk + 1) * chunk)
        raise UserError(f"data.drift.start={cfg.start} must start a generated chunk (data.start + k x "
                        f"data.chunk_days={chunk}), so that the days before it stay as they are without "
                        f"the drift: use {before} or {after}, or change data.chunk_days")
    families = [str(f) for f in cfg.get("families") or []]
    unknown = sorted(set(families) - set(series_family))
    if unknown:
        raise UserError(f"data.drift.families: {unknown} carried by no store; families: "
                        f"{sorted(set(series_family))}")
    factor, promo = float(cfg.get("demand_factor", 1.0)), float(cfg.get("promo_rate_factor", 1.0))
    if factor <= 0 or promo < 0:
        raise UserError(f"data.drift: demand_factor must be > 0 and promo_rate_factor >= 0, got "
                        f"{factor} and {promo}")
    return Drift(day=day, shocked=np.isin(series_family, families), log_demand=float(np.log(factor)),
                 promo_rate_factor=promo)
