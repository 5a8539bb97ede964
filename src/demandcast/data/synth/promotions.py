"""The synthetic retailer's promotion plan: every promoted store x item x day.

``train.csv`` has rows only on days with sales (Favorita's convention), so its
``onpromotion`` is known only where something sold; on its own it tells a model "this day
sold". A retailer knows its promotions in advance, sold or not: the plan lists each
promoted day of a carried item from ``data.promo_tracking_start`` on, zero-sales days
included, in the schema of Favorita's ``test.csv`` (see :mod:`demandcast.data.promotions`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def plan_rows(start: np.datetime64, store_nbr: np.ndarray, item_nbr: np.ndarray,
              days: np.ndarray, active: np.ndarray, promo: np.ndarray,
              tracked_from: int) -> pa.Table:
    """Plan rows (without ids) of a chunk of days: (days, series) masks -> one row per promoted
    series-day, in (date, store, item) order; ``store_nbr``/``item_nbr`` are per series."""
    d, s = np.nonzero(active & promo & (days >= tracked_from)[:, None])
    return pa.table({
        "date": pa.array((start + days[d]).astype("datetime64[D]"), type=pa.date32()),
        "store_nbr": pa.array(store_nbr[s].astype(np.int32)),
        "item_nbr": pa.array(item_nbr[s].astype(np.int32)),
        "onpromotion": pa.array(np.full(len(d), "True", dtype=object), type=pa.string()),
    })
