"""Stores, items and the static parameters of every store x item series.

Everything here is drawn once from the seed; the day-by-day simulation in
:mod:`demandcast.data.synth.demand` only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# (city, state) where stores are; the first cities get the most stores.
CITIES = [
    ("Houston", "TX"), ("Los Angeles", "CA"), ("Chicago", "IL"), ("Phoenix", "AZ"),
    ("Philadelphia", "PA"), ("San Antonio", "TX"), ("San Diego", "CA"), ("Dallas", "TX"),
    ("Jacksonville", "FL"), ("Columbus", "OH"), ("Charlotte", "NC"), ("Seattle", "WA"),
    ("Denver", "CO"), ("Boston", "MA"), ("Nashville", "TN"), ("Portland", "OR"),
    ("Atlanta", "GA"), ("Miami", "FL"), ("Minneapolis", "MN"), ("Sacramento", "CA"),
    ("Tulsa", "OK"), ("Omaha", "NE"),
]
STORE_TYPES = ("A", "B", "C", "D", "E")
TYPE_SHARE = (0.2, 0.15, 0.35, 0.2, 0.1)
TYPE_SIZE = {"A": 0.35, "B": 0.1, "C": 0.0, "D": 0.1, "E": -0.25}  # log store size by type
N_CLUSTERS = 17

# Log-effect by weekday (Mon..Sun) for each store type: the weekly pattern differs by type.
WEEKLY = {
    "A": (-0.10, -0.12, -0.08, -0.02, 0.08, 0.25, 0.22),   # weekend family shopping
    "B": (0.02, 0.00, 0.00, 0.02, 0.06, 0.05, -0.15),     # flat, quiet Sunday
    "C": (-0.05, -0.05, -0.03, 0.00, 0.12, 0.18, 0.05),   # Friday/Saturday peak
    "D": (0.06, 0.05, 0.05, 0.05, 0.10, -0.08, -0.30),    # business district: weekdays
    "E": (-0.15, -0.15, -0.10, -0.05, 0.10, 0.35, 0.30),  # strong weekend
}


@dataclass(frozen=True)
class Family:
    name: str
    share: float        # share of the catalogue
    group: str          # holiday behaviour group (demandcast.data.synth.calendar.GROUPS)
    perishable: bool
    by_weight: bool     # sold by weight: fractional unit_sales, as Favorita's produce
    season_amp: float   # amplitude of the yearly cycle (log scale)
    season_peak: int    # day of year of the peak
    dispersion: float   # negative-binomial size: smaller means noisier


FAMILIES = (
    Family("GROCERY I", 0.28, "food", False, False, 0.05, 330, 8.0),
    Family("BEVERAGES", 0.13, "drink", False, False, 0.22, 200, 8.0),
    Family("CLEANING", 0.07, "nonfood", False, False, 0.04, 100, 6.0),
    Family("PRODUCE", 0.07, "fresh", True, True, 0.12, 190, 5.0),
    Family("DAIRY", 0.06, "fresh", True, False, 0.04, 20, 8.0),
    Family("PERSONAL CARE", 0.05, "nonfood", False, False, 0.03, 150, 5.0),
    Family("BREAD/BAKERY", 0.04, "fresh", True, False, 0.05, 340, 6.0),
    Family("HOME CARE", 0.03, "nonfood", False, False, 0.05, 110, 5.0),
    Family("DELI", 0.03, "fresh", True, True, 0.06, 350, 5.0),
    Family("MEATS", 0.03, "fresh", True, True, 0.15, 185, 4.0),
    Family("POULTRY", 0.03, "fresh", True, True, 0.08, 320, 4.0),
    Family("FROZEN FOODS", 0.02, "food", False, False, 0.15, 205, 6.0),
    Family("EGGS", 0.02, "fresh", True, False, 0.06, 95, 7.0),
    Family("LIQUOR,WINE,BEER", 0.03, "drink", False, False, 0.12, 355, 4.0),
    Family("SEAFOOD", 0.01, "fresh", True, True, 0.10, 80, 3.0),
    Family("GROCERY II", 0.02, "food", False, False, 0.05, 330, 5.0),
    Family("SCHOOL AND OFFICE SUPPLIES", 0.01, "nonfood", False, False, 0.70, 225, 3.0),
    Family("LAWN AND GARDEN", 0.01, "nonfood", False, False, 0.55, 130, 3.0),
    Family("CELEBRATION", 0.01, "nonfood", False, False, 0.45, 350, 3.0),
    Family("BEAUTY", 0.01, "nonfood", False, False, 0.03, 60, 4.0),
    Family("PET SUPPLIES", 0.02, "nonfood", False, False, 0.03, 10, 5.0),
    Family("BABY CARE", 0.01, "nonfood", False, False, 0.02, 10, 4.0),
)


def stores(cfg, rng: np.random.Generator, n_days: int) -> pd.DataFrame:
    """``stores.csv`` plus hidden columns (``size``, ``open_day``) the simulation uses."""
    n = int(cfg.n_stores)
    city_weight = 1.0 / np.arange(1, len(CITIES) + 1)
    city = rng.choice(len(CITIES), size=n, p=city_weight / city_weight.sum())
    kind = rng.choice(len(STORE_TYPES), size=n, p=TYPE_SHARE)
    size = np.array([TYPE_SIZE[STORE_TYPES[k]] for k in kind]) + rng.normal(0, 0.3, n)
    late = rng.random(n) < cfg.late_store_share
    late[0] = False  # at least one store trades from day one
    open_day = np.where(late, rng.integers(int(0.15 * n_days), int(0.6 * n_days) + 1, n), 0)
    return pd.DataFrame(
        {
            "store_nbr": np.arange(1, n + 1),
            "city": [CITIES[c][0] for c in city],
            "state": [CITIES[c][1] for c in city],
            "type": [STORE_TYPES[k] for k in kind],
            "cluster": rng.integers(1, N_CLUSTERS + 1, n),
            "size": size,
            "open_day": open_day,
        }
    )


def items(cfg, rng: np.random.Generator, n_days: int) -> pd.DataFrame:
    """``items.csv`` plus hidden per-item demand parameters."""
    n = int(cfg.n_items)
    share = np.array([f.share for f in FAMILIES])
    family = np.sort(rng.choice(len(FAMILIES), size=n, p=share / share.sum()))
    item_nbr = np.sort(rng.choice(np.arange(100_000, 2_200_000), size=n, replace=False))
    slow = rng.random(n) < cfg.slow_mover_share
    level = np.where(slow, rng.normal(np.log(0.25), 0.5, n), rng.normal(np.log(5.0), 0.85, n))
    launched = rng.random(n) < cfg.launch_share
    launch_day = np.where(launched, rng.integers(int(0.1 * n_days), int(0.85 * n_days) + 1, n), 0)
    stopped = rng.random(n) < cfg.discontinue_share
    end_day = rng.integers(int(0.3 * n_days), int(0.95 * n_days) + 1, n)
    end_day = np.where(stopped & (end_day > launch_day + 60), end_day, n_days - 1)
    promoted = rng.random(n) < 0.6
    return pd.DataFrame(
        {
            "item_nbr": item_nbr,
            "family": [FAMILIES[f].name for f in family],
            "class": 1000 + family * 40 + rng.integers(0, 40, n),
            "perishable": [int(FAMILIES[f].perishable) for f in family],
            "family_idx": family,
            "slow": slow,
            "level": level,
            "trend": rng.normal(0.0, 0.12, n),  # log change per year
            "launch_day": launch_day,
            "end_day": end_day,
            "promo_rate": np.where(promoted, rng.uniform(0.004, 0.03, n), 0.0),
            "uplift": np.where(slow, rng.uniform(0.1, 0.5, n), rng.uniform(0.2, 0.9, n)),
        }
    )


def series(cfg, rng: np.random.Generator, store: pd.DataFrame, item: pd.DataFrame) -> pd.DataFrame:
    """The store x item pairs each store carries, sorted by (store, item), with their params."""
    n_s, n_i = len(store), len(item)
    carried = rng.random((n_s, n_i)) < cfg.assortment
    s_idx, i_idx = np.nonzero(carried)
    n = len(s_idx)
    phi = rng.uniform(0.75, 0.95, n)
    sd = rng.uniform(0.15, 0.35, n)
    return pd.DataFrame(
        {
            "store": s_idx,
            "item": i_idx,
            "level": store["size"].to_numpy()[s_idx] + item["level"].to_numpy()[i_idx]
            + rng.normal(0, 0.25, n),
            "phi": phi,
            "shock_sd": sd * np.sqrt(1 - phi**2),  # keeps the latent state's spread at sd
            "state0": rng.normal(0, sd),
            "start_day": np.maximum(
                store["open_day"].to_numpy()[s_idx], item["launch_day"].to_numpy()[i_idx]
            ),
            "end_day": item["end_day"].to_numpy()[i_idx],
            "promo_rate": item["promo_rate"].to_numpy()[i_idx] * rng.uniform(0.5, 1.5, n),
        }
    )


def weekly_effects(store: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """(n_stores, 7) log-effect by weekday: the store type's pattern plus a little of its own."""
    base = np.array([WEEKLY[t] for t in store["type"]])
    return base + rng.normal(0, 0.03, base.shape)
