"""The feature spec: which features exist, what each means, their order and types.

One declarative spec (``conf/features/``) drives both engines: the Spark batch ETL
(:mod:`demandcast.features.spark_engine`) and the online numpy/pandas implementation
(:mod:`demandcast.features.online`) that serving and recursive forecasting use. Both must
produce exactly :func:`columns` with these meanings, for a row of series s (a store x
item pair) on date d:

Panel
    One row per series and day from the series' first to its last day in ``train.csv``;
    a missing day is a zero-sales day. ``onpromotion`` is 1 when ``train.csv`` or the
    promotion plan (``test.csv``, :mod:`demandcast.data.promotions`) says the day is
    promoted, a zero-sales day included; a flag missing in ``train.csv`` (before it was
    tracked) counts as no promotion.
Calendar
    ``year, month, day, dayofweek`` (Monday=0), ``weekofyear`` (ISO), ``is_weekend``.
Holidays
    A store's holidays are the rows of ``holidays_events.csv`` that are National, or
    Regional with ``locale_name`` = the store's state, or Local with ``locale_name`` = the
    store's city, excluding rows with ``transferred`` = True (celebrated another day).
    ``hol_<type>`` flags such a row of that type on d (``Transfer`` counts as ``holiday``).
    ``days_to_holiday`` / ``days_since_holiday``: days to the next / since the last day
    with ``hol_holiday`` (0 on the day), capped at ``holidays.cap_days``; ``hol_before``
    / ``hol_after``: 1 when that distance is 1..before_days / 1..after_days.
    Named holidays (national rows of any type but ``Transfer`` matched by description,
    ``transferred`` ignored, since people celebrate the date itself, not the day off):
    ``is_<name>``, ``days_to_<name>``, ``days_since_<name>`` with the same cap.
Lags
    ``lag_<k>`` = unit_sales on d-k; missing before the series' first day.
Rolling
    ``roll_<stat>_<w>`` over unit_sales of days d-w..d-1 that lie in the series' panel;
    missing when fewer than ``min_periods[stat]`` such days. std is the sample std (ddof=1).
Yearly (optional: ``yearly: {lag: L, week: W, base: B}``)
    Last year's shape around d, for a yearly season the recent windows cannot see coming.
    ``yearly_mean_<W>`` = mean of unit_sales over the W days centred on d-L
    (d-L-W//2 .. d-L-W//2+W-1), ``yearly_base_<B>`` = mean over d-L-B .. d-L-1 (last year's
    level before that week), both over days in the series' panel and missing without any;
    ``yearly_ratio`` = yearly_mean / yearly_base, missing when either is missing or the base
    is 0. With L = 364 the week is centred on the same weekday a year earlier.
Promotion
    ``onpromotion`` (d's own flag, known in advance: planned promotions) and
    ``promo_share_<w>``: mean of the flag over days d-w..d-1 in the panel (missing if none).
Transactions
    ``tx_mean`` = mean of the store's ``transactions`` over days
    [d-lag-window+1, d-lag] that have a value; missing if none.
Priors
    ``prior_<level>`` = mean daily unit_sales (panel rows, zeros included) of the level's
    rows in the training window, i.e. dates <= data.end - split.test_days -
    split.valid_days; missing for a level first seen after it. Levels: store, item,
    family, cluster, store_family.
Categorical ids
    ``store_nbr``, ``item_nbr``, ``cluster``, ``family_code`` (index of the family in the
    sorted list of families in ``items.csv``), ``store_type_code`` (A=0, B=1, ...).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from omegaconf import OmegaConf

from demandcast.errors import UserError

HOLIDAY_TYPES = ("holiday", "additional", "bridge", "event", "work_day")
KEYS = ("store_nbr", "item_nbr", "date")
META = "_meta"  # the feature table's metadata folder: Spark's readers skip names starting with "_"


# numpy is imported in the two functions below, not here: this module goes to the Spark
# cluster with the ETL (spark.submit's zip), whose Python need not have numpy.


def series_key(store, item):
    """One int64 per (store, item) series, the store in the high 32 bits: sorting the keys
    sorts by store, then item, and one ``np.unique``/``np.isin`` replaces a two-column join."""
    import numpy as np

    return (np.asarray(store, dtype=np.int64) << np.int64(32)) | np.asarray(item, dtype=np.int64)


def series_parts(key):
    """(store, item) arrays of :func:`series_key`'s keys."""
    import numpy as np

    key = np.asarray(key, dtype=np.int64)
    return key >> np.int64(32), key & np.int64(0xFFFFFFFF)


@dataclass(frozen=True)
class Spec:
    target: str
    lags: tuple[int, ...]
    windows: tuple[int, ...]
    min_periods: dict[str, int]
    promo_windows: tuple[int, ...]
    cap_days: int
    before_days: int
    after_days: int
    named: dict[str, str]
    tx_window: int
    tx_lag: int
    priors: tuple[str, ...]
    test_days: int
    valid_days: int
    yearly: tuple[int, int, int] | None = None  # (lag, week, base); None: no yearly features

    @property
    def history_days(self) -> int:
        """Days of history a series needs for every feature to be as complete as possible."""
        reach = [a for a, _ in self.yearly_spans()] if self.yearly else []
        return max((*self.lags, *self.windows, *self.promo_windows, *reach, 1))

    def yearly_spans(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The yearly week's and base's days as (a, b): days d-a .. d-b, a >= b >= 1."""
        lag, week, base = self.yearly
        far = lag + week // 2
        return (far, far - week + 1), (lag + base, lag + 1)

    def columns(self) -> list[tuple[str, str]]:
        """Every feature column, in model order, with its dtype ('int' or 'float')."""
        cols = [("store_nbr", "int"), ("item_nbr", "int"), ("cluster", "int"),
                ("family_code", "int"), ("store_type_code", "int"),
                ("year", "int"), ("month", "int"), ("day", "int"), ("dayofweek", "int"),
                ("weekofyear", "int"), ("is_weekend", "int")]
        cols += [(f"hol_{t}", "int") for t in HOLIDAY_TYPES]
        cols += [("days_to_holiday", "int"), ("days_since_holiday", "int"),
                 ("hol_before", "int"), ("hol_after", "int")]
        for name in self.named:
            cols += [(f"is_{name}", "int"), (f"days_to_{name}", "int"), (f"days_since_{name}", "int")]
        cols += [(f"lag_{k}", "float") for k in self.lags]
        cols += [(f"roll_{stat}_{w}", "float") for w in self.windows for stat in ("mean", "std")]
        if self.yearly:
            cols += [(f"yearly_mean_{self.yearly[1]}", "float"), (f"yearly_base_{self.yearly[2]}", "float"),
                     ("yearly_ratio", "float")]
        cols += [("onpromotion", "int")]
        cols += [(f"promo_share_{w}", "float") for w in self.promo_windows]
        cols += [("tx_mean", "float")]
        cols += [(f"prior_{level}", "float") for level in self.priors]
        return cols

    def names(self) -> list[str]:
        return [name for name, _ in self.columns()]

    def hash(self) -> str:
        """Identifies the spec: features computed under another hash are not comparable."""
        text = json.dumps(self.__dict__, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


PRIOR_LEVELS = ("store", "item", "family", "cluster", "store_family")
# The key columns of each prior level's table (``family`` is the family's name).
PRIOR_KEYS = {"store": ("store_nbr",), "item": ("item_nbr",), "family": ("family",),
              "cluster": ("cluster",), "store_family": ("store_nbr", "family")}


def from_config(features) -> Spec:
    """Build and check the spec from the ``features`` config node."""
    f = OmegaConf.to_container(features, resolve=True) if not isinstance(features, dict) else features
    try:
        spec = Spec(
            target=str(f["target"]),
            lags=tuple(int(k) for k in f["lags"]),
            windows=tuple(int(w) for w in f["rolling"]["windows"]),
            min_periods={k: int(v) for k, v in f["rolling"]["min_periods"].items()},
            promo_windows=tuple(int(w) for w in f["promo_windows"]),
            cap_days=int(f["holidays"]["cap_days"]),
            before_days=int(f["holidays"]["before_days"]),
            after_days=int(f["holidays"]["after_days"]),
            named={str(k): str(v) for k, v in f["holidays"]["named"].items()},
            tx_window=int(f["transactions"]["window"]),
            tx_lag=int(f["transactions"]["lag"]),
            priors=tuple(str(p) for p in f["priors"]),
            test_days=int(f["split"]["test_days"]),
            valid_days=int(f["split"]["valid_days"]),
            yearly=(None if f.get("yearly") is None
                    else (int(f["yearly"]["lag"]), int(f["yearly"]["week"]), int(f["yearly"]["base"]))),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"the features config is incomplete or mistyped ({exc!r}); see conf/features/") from None
    bad = [k for k in (*spec.lags, *spec.windows, *spec.promo_windows, spec.tx_window) if k < 1]
    if bad or spec.tx_lag < 1:
        raise UserError(f"features: lags and windows must be at least 1 day, got {bad or spec.tx_lag}")
    if spec.yearly and (min(spec.yearly) < 1 or spec.yearly_spans()[0][1] < 1):
        lag, week, base = spec.yearly
        raise UserError(f"features.yearly: lag, week and base must be at least 1 day and the week must "
                        f"end before the row's day (lag >= (week + 1) // 2); got lag {lag}, week {week}, "
                        f"base {base}")
    unknown = set(spec.priors) - set(PRIOR_LEVELS)
    if unknown:
        raise UserError(f"features.priors: unknown level(s) {sorted(unknown)}; known: {PRIOR_LEVELS}")
    if not 0 < max(spec.before_days, spec.after_days) < spec.cap_days:
        raise UserError("features.holidays: before_days and after_days must be at least 1 and "
                        f"below cap_days ({spec.cap_days}), or every day would be flagged")
    if set(spec.min_periods) != {"mean", "std"} or spec.min_periods["std"] < 2:
        raise UserError("features.rolling.min_periods needs mean >= 1 and std >= 2")
    return spec
