"""Per-day and per-store-day lookups for :mod:`demandcast.features.online`: calendar, holidays, traffic.

Holidays and store traffic do not depend on the series, so they are computed once per
store and day when serving starts (:class:`HolidayCalendar`, :class:`StoreTraffic`) and a
request only gathers from those arrays. Meanings are the spec's (:mod:`demandcast.features.feature_spec`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demandcast.errors import UserError
from demandcast.features.feature_spec import HOLIDAY_TYPES, Spec
from demandcast.features.inputs import days, flags, floats, ints, require, texts, unique_keys

HOLIDAY_COLUMNS = ("date", "type", "locale", "locale_name", "description", "transferred")
TRANSACTION_COLUMNS = ("date", "store_nbr", "transactions")


def calendar_columns(day: np.ndarray) -> dict[str, np.ndarray]:
    """year, month, day, dayofweek (Monday=0), ISO weekofyear, is_weekend for day numbers.

    Pure numpy date arithmetic (no pandas index per call: serving asks for a few days at a
    time); tests hold it equal to pandas' calendar over centuries of days.
    """
    day = np.asarray(day, dtype=np.int64)
    date = day.astype("datetime64[D]")
    year, month = date.astype("datetime64[Y]"), date.astype("datetime64[M]")
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday
    # ISO week: the week's Thursday decides its year; weeks count from that year's first Thursday.
    thursday = day - dow + 3
    january_1 = thursday.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]")
    return {"year": year.astype(np.int64) + 1970,
            "month": (month - year.astype("datetime64[M]")).astype(np.int64) + 1,
            "day": (date - month.astype("datetime64[D]")).astype(np.int64) + 1,
            "dayofweek": dow, "weekofyear": (thursday - january_1.astype(np.int64)) // 7 + 1,
            "is_weekend": (dow >= 5).astype(np.int64)}


def distances(flag: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Days to the next and since the last set cell along the last axis (0 on it), capped."""
    index = np.arange(flag.shape[-1])
    # Sentinels beyond the cap, so that "no such day" reads as the cap after np.minimum.
    nxt = np.where(flag, index, flag.shape[-1] + cap)
    nxt = np.minimum.accumulate(nxt[..., ::-1], axis=-1)[..., ::-1]
    last = np.maximum.accumulate(np.where(flag, index, -cap - 1), axis=-1)
    return np.minimum(nxt - index, cap), np.minimum(index - last, cap)


class HolidayCalendar:
    """The holiday features of every store on every day of the holidays table, padded.

    The range runs from cap+1 days before the table's first date to cap+1 days after its
    last, so its first and last columns are farther than the cap from every holiday: any
    date outside the range has exactly their values (no flag, distances at the cap), and
    :meth:`lookup` clips dates into the range instead of recomputing.
    """

    def __init__(self, spec: Spec, city: np.ndarray, state: np.ndarray, holidays: pd.DataFrame):
        require(holidays, "holidays", HOLIDAY_COLUMNS)
        day = days(holidays["date"], "holidays.date")
        kind = texts(holidays["type"], "holidays.type")
        locale = texts(holidays["locale"], "holidays.locale")
        where = texts(holidays["locale_name"], "holidays.locale_name")
        description = texts(holidays["description"], "holidays.description")
        transferred = flags(holidays["transferred"], "holidays.transferred", missing_is_zero=False) == 1
        cap = spec.cap_days
        self.first = int(day.min()) - cap - 1 if len(day) else 0
        width = int(day.max()) + cap + 2 - self.first if len(day) else 1
        column = day - self.first

        applies = ((locale == "National")[:, None]
                   | ((locale == "Regional")[:, None] & (where[:, None] == state[None, :]))
                   | ((locale == "Local")[:, None] & (where[:, None] == city[None, :])))
        applies &= ~transferred[:, None]  # celebrated on another day, which has its own row
        # "Transfer" marks the day a holiday moved to: it is a holiday for every feature.
        kind_name = np.array([k.replace("Transfer", "Holiday").lower().replace(" ", "_") for k in kind],
                             dtype=object)
        self.per_store: dict[str, np.ndarray] = {}
        for t in HOLIDAY_TYPES:
            hit = np.zeros((len(state), width), dtype=bool)
            rows, stores = np.nonzero(applies & (kind_name == t)[:, None])
            hit[stores, column[rows]] = True
            self.per_store[f"hol_{t}"] = hit
        to, since = distances(self.per_store["hol_holiday"], cap)
        self.per_store.update(days_to_holiday=to, days_since_holiday=since,
                              hol_before=(to >= 1) & (to <= spec.before_days),
                              hol_after=(since >= 1) & (since <= spec.after_days))

        # The date itself is the named day, wherever the day off went: transfers are skipped.
        national = (locale == "National") & (kind != "Transfer")
        self.per_day: dict[str, np.ndarray] = {}
        for name, text in spec.named.items():
            hit = np.zeros(width, dtype=bool)
            hit[column[national & (description == text)]] = True
            to, since = distances(hit, cap)
            self.per_day.update({f"is_{name}": hit, f"days_to_{name}": to, f"days_since_{name}": since})
        self.width = width

    def lookup(self, store_row: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
        """The holiday features of (store row, day) pairs, as int64."""
        col = np.clip(day - self.first, 0, self.width - 1)
        out = {name: a[store_row, col] for name, a in self.per_store.items()}
        out.update({name: a[col] for name, a in self.per_day.items()})
        return {name: v.astype(np.int64) for name, v in out.items()}


class StoreTraffic:
    """``tx_mean``: running sums of each store's transactions, for any window by subtraction.

    Sums of whole transaction counts are exact in float64, so the means equal Spark's.
    A store without rows, or a window without values, gives NaN.
    """

    def __init__(self, spec: Spec, stores: pd.Index, transactions: pd.DataFrame):
        require(transactions, "transactions", TRANSACTION_COLUMNS)
        # A day without a count is absent, as in Spark's average over days that have a value.
        transactions = transactions[transactions["transactions"].notna()]
        store = ints(transactions["store_nbr"], "transactions.store_nbr")
        day = days(transactions["date"], "transactions.date")
        value = floats(transactions["transactions"], "transactions.transactions")
        row = stores.get_indexer(store)
        keep = row >= 0  # traffic of stores this service does not know is never asked for
        row, day, value = row[keep], day[keep], value[keep]
        self.first = int(day.min()) if len(day) else 0
        width = int(day.max()) - self.first + 1 if len(day) else 0
        unique_keys("transactions", "(store_nbr, date)", row * (width + 1) + day - self.first,
                    lambda i: f"store_nbr {store[keep][i]} on {np.datetime64(int(day[i]), 'D')}")
        total = np.zeros((len(stores), width + 1))
        count = np.zeros((len(stores), width + 1))
        total[row, day - self.first + 1] = value
        count[row, day - self.first + 1] = 1
        self.total, self.count = total.cumsum(axis=1), count.cumsum(axis=1)
        self.window, self.lag, self.width = spec.tx_window, spec.tx_lag, width

    def mean(self, store_row: np.ndarray, day: np.ndarray) -> np.ndarray:
        # Window [d-lag-window+1, d-lag] as prefix-sum columns (end, start], clipped into range.
        end = np.clip(day - self.lag - self.first + 1, 0, self.width)
        start = np.clip(day - self.lag - self.window - self.first + 1, 0, self.width)
        n = self.count[store_row, end] - self.count[store_row, start]
        total = self.total[store_row, end] - self.total[store_row, start]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / n, np.nan)


def store_columns(stores: pd.DataFrame) -> dict[str, np.ndarray]:
    """stores.csv checked and as arrays: store_nbr, city, state, cluster, store_type_code."""
    require(stores, "stores", ("store_nbr", "city", "state", "type", "cluster"))
    store = ints(stores["store_nbr"], "stores.store_nbr")
    unique_keys("stores", "store_nbr", store, lambda i: f"store_nbr {store[i]}")
    kind = texts(stores["type"], "stores.type")
    if any(len(k) == 0 for k in kind):
        raise UserError("stores.type: an empty store type; write a letter A, B, C, ...")
    return {"store_nbr": store, "city": texts(stores["city"], "stores.city"),
            "state": texts(stores["state"], "stores.state"),
            "cluster": ints(stores["cluster"], "stores.cluster"),
            "store_type_code": np.array([ord(k[0]) - ord("A") for k in kind], dtype=np.int64)}
