"""What the service knows besides its forecasts: the stores, items and series it serves, and
their recent sales.

A client that must not read the pipeline's files (the planner's app, a dashboard) builds its
store and item pickers from :meth:`Catalog.listing` and draws the days before a forecast from
:meth:`Catalog.history`. Both read the serving bundle's snapshot only, so they answer for the
data the served model was packaged with. Days of a series inside the snapshot without sales
are zero-sales days (the feature table's panel is dense); the marker row some series carry
on the day before the snapshot is not history and is never returned.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from demandcast.features.feature_spec import series_key, series_parts
from demandcast.serving.bundle import Bundle

EPOCH = dt.date(1970, 1, 1)


class Catalog:
    """The bundle's stores, items and series, indexed once (read-only afterwards)."""

    def __init__(self, bundle: Bundle):
        meta = bundle.metadata
        self.history_end = dt.date.fromisoformat(meta["history_end"])
        self.snapshot_start = dt.date.fromisoformat(meta["snapshot_start"])
        h = bundle.history
        day = h["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        inside = day >= (self.snapshot_start - EPOCH).days
        self._store = h["store_nbr"].to_numpy(np.int64)[inside]
        self._item = h["item_nbr"].to_numpy(np.int64)[inside]
        self._day = day[inside]
        self._sales = h[bundle.spec.target].to_numpy(np.float64)[inside]
        self._promo = h["onpromotion"].to_numpy(np.int64)[inside]
        keys = series_key(self._store, self._item)  # the bundle is sorted by series, then day
        self._keys, self._starts = np.unique(keys, return_index=True)
        self._ends = np.append(self._starts[1:], len(keys))
        self._stores = _records(bundle.static["stores.csv"],
                                ("store_nbr", "city", "state", "type", "cluster"))
        self._items = _records(bundle.static["items.csv"], ("item_nbr", "family", "class", "perishable"))

    @property
    def days(self) -> int:
        """Days of history the snapshot holds per series."""
        return (self.history_end - self.snapshot_start).days + 1

    def listing(self) -> dict:
        """Stores and items with their attributes, and the (store, item) series with history."""
        return {"history_end": self.history_end, "snapshot_start": self.snapshot_start,
                "stores": self._stores, "items": self._items,
                "series": np.column_stack(series_parts(self._keys)).tolist()}

    def history(self, series: list[tuple[int, int]], days: int) -> list[dict]:
        """The last ``days`` days up to the history end of each series (fewer when the snapshot
        or the series is shorter): dates, unit sales, promotion flags; ``known`` is False for a
        series without history in the snapshot (its lists are empty)."""
        first = (self.history_end - EPOCH).days - int(days) + 1
        out = []
        keys = series_key([s for s, _ in series], [i for _, i in series]).tolist()
        for (store, item), key in zip(series, keys, strict=True):
            pos = int(np.searchsorted(self._keys, key))
            known = pos < len(self._keys) and int(self._keys[pos]) == key
            if known:
                a, b = int(self._starts[pos]), int(self._ends[pos])
                a += int(np.searchsorted(self._day[a:b], first))
                take = slice(a, b)
            else:
                take = slice(0, 0)
            out.append({"store_nbr": int(store), "item_nbr": int(item), "known": bool(known),
                        "dates": self._day[take].astype("datetime64[D]").astype(object).tolist(),
                        "unit_sales": self._sales[take].tolist(),
                        "onpromotion": self._promo[take].astype(bool).tolist()})
        return out


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    """The table's rows as plain dicts of the given columns (those it has), sorted by the first."""
    have = [c for c in columns if c in frame.columns]
    rows = frame[have].sort_values(have[0])
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in rows.to_dict("records")]
