"""The catalogue and history the service serves, from a hand-made bundle snapshot."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd

from demandcast.serving.catalog import Catalog


def bundle():
    """Two series over five days from 2024-01-01, one with a marker row on the day before the
    snapshot (as the package stage writes it for series that started earlier)."""
    days = pd.date_range("2024-01-01", periods=5)
    a = pd.DataFrame({"store_nbr": 1, "item_nbr": 10, "date": days, "unit_sales": [1.0, 0, 3, 4, 5],
                      "onpromotion": [0, 0, 1, 1, 0]})
    marker = pd.DataFrame({"store_nbr": [2], "item_nbr": [10], "date": [pd.Timestamp("2023-12-31")],
                           "unit_sales": [0.0], "onpromotion": [0]})
    b = pd.DataFrame({"store_nbr": 2, "item_nbr": 10, "date": days[2:], "unit_sales": [7.0, 8, 9],
                      "onpromotion": 0})
    history = pd.concat([a, marker, b], ignore_index=True)
    static = {"stores.csv": pd.DataFrame({"store_nbr": [2, 1], "city": ["Quito", "Cuenca"],
                                          "state": ["P", "A"], "type": ["D", "A"], "cluster": [3, 1]}),
              "items.csv": pd.DataFrame({"item_nbr": [10, 11], "family": ["DAIRY", "BREAD/BAKERY"],
                                         "class": [100, 200], "perishable": [1, 1]})}
    return SimpleNamespace(history=history, static=static, spec=SimpleNamespace(target="unit_sales"),
                           metadata={"history_end": "2024-01-05", "snapshot_start": "2024-01-01"})


def test_listing_holds_stores_items_and_the_series_with_history():
    listing = Catalog(bundle()).listing()
    assert [s["store_nbr"] for s in listing["stores"]] == [1, 2]
    assert listing["stores"][0] == {"store_nbr": 1, "city": "Cuenca", "state": "A", "type": "A", "cluster": 1}
    assert listing["items"][1] == {"item_nbr": 11, "family": "BREAD/BAKERY", "class": 200, "perishable": 1}
    assert listing["series"] == [[1, 10], [2, 10]]
    assert listing["history_end"] == dt.date(2024, 1, 5)


def test_history_returns_the_last_days_and_never_the_marker_row():
    catalog = Catalog(bundle())
    assert catalog.days == 5
    one, two, unknown = catalog.history([(1, 10), (2, 10), (1, 11)], days=3)
    assert one["dates"] == [dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5)]
    assert one["unit_sales"] == [3.0, 4.0, 5.0] and one["onpromotion"] == [True, True, False]
    full = catalog.history([(2, 10)], days=400)[0]
    assert full["dates"][0] == dt.date(2024, 1, 3) and full["unit_sales"] == [7.0, 8.0, 9.0]  # no marker
    assert two["known"] and not unknown["known"] and unknown["dates"] == [] and unknown["unit_sales"] == []
