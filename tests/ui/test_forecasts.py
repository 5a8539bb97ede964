"""The API's answers turned into what the planner reads: labels, tables, uplift, flags, CSV."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd

from demandcast.ui import forecasts

CATALOG = {"history_end": "2024-06-30",
           "stores": [{"store_nbr": 5, "city": "Quito", "state": "Pichincha", "type": "D", "cluster": 4},
                      {"store_nbr": 7, "city": None, "state": None, "type": None, "cluster": None}],
           "items": [{"item_nbr": 103665, "family": "BREAD/BAKERY", "class": 2712, "perishable": 1},
                     {"item_nbr": 99, "family": "DAIRY", "class": None, "perishable": 0}],
           "series": [[5, 103665], [7, 99], [5, 99]]}


def answer(values, start="2024-07-01", **flags):
    n = len(values)
    dates = [str(dt.date.fromisoformat(start) + dt.timedelta(days=k)) for k in range(n)]
    return {"store_nbr": 5, "item_nbr": 103665, "dates": dates, "forecast": values,
            "lower_80": [v * 0.5 for v in values], "upper_80": [v * 1.5 for v in values],
            "lower_95": [v * 0.2 for v in values], "upper_95": [v * 2 for v in values],
            "fallback": None, "unknown_store": False, "unknown_item": False, "no_history": False,
            "history_overridden": False, **flags}


def test_labels_show_city_type_family_and_class():
    stores, items = forecasts.stores_table(CATALOG), forecasts.items_table(CATALOG)
    assert forecasts.store_label(stores.loc[5]) == "Store 5 · Quito, Pichincha · type D"
    assert forecasts.store_label(stores.loc[7]) == "Store 7"
    assert forecasts.item_label(items.loc[103665]) == "103665 · BREAD/BAKERY · class 2712"
    assert forecasts.item_label(items.loc[99]) == "99 · DAIRY"
    assert forecasts.items_sold_at(CATALOG, 5) == [99, 103665]
    assert forecasts.labels(CATALOG) == ({5: "Store 5 · Quito, Pichincha · type D", 7: "Store 7"},
                                         {103665: "103665 · BREAD/BAKERY · class 2712", 99: "99 · DAIRY"})


def test_request_and_forecast_days():
    assert forecasts.request(5, 1, 7, [dt.date(2024, 7, 3), dt.date(2024, 7, 2), dt.date(2024, 7, 3)]) == {
        "store_nbr": 5, "item_nbr": 1, "horizon": 7, "promotions": ["2024-07-02", "2024-07-03"]}
    assert forecasts.forecast_days("2024-06-30", 3) == [dt.date(2024, 7, d) for d in (1, 2, 3)]


def test_uplift_against_the_no_promotion_forecast():
    promoted, plain = answer([2.0, 6.0, 3.0]), answer([2.0, 3.0, 3.0])
    frame = forecasts.forecast_frame(promoted, plain, [dt.date(2024, 7, 2)])
    assert frame["promotion"].tolist() == [False, True, False]
    assert frame["uplift"].tolist() == [0.0, 3.0, 0.0]
    lift = forecasts.uplift(frame)
    assert lift == {"with": 11.0, "without": 8.0, "units": 3.0, "share": 3.0 / 8.0, "days": 1}
    assert forecasts.uplift(forecasts.forecast_frame(plain)) is None


def test_flags_in_words():
    assert forecasts.flag_words(answer([1.0])) == []
    words = forecasts.flag_words(answer([1.0], fallback="store_family", no_history=True))
    assert [level for level, _ in words] == ["warning", "warning"]
    assert "Store 5 has no sales history for item 103665" in words[0][1]
    assert "Fallback used" in words[1][1] and "family at this store" in words[1][1]
    unknown = forecasts.flag_words(answer([1.0], fallback="global", unknown_item=True,
                                          history_overridden=True))
    assert any("does not know item 103665" in t for _, t in unknown)
    assert any("replaced the served history" in t for _, t in unknown)
    assert any("all items" in t for _, t in unknown)


def test_csv_has_one_row_per_day_with_the_model_version():
    frame = forecasts.forecast_frame(answer([1.23456, 2.0]))
    back = pd.read_csv(io.BytesIO(forecasts.csv_bytes(frame, "demandcast-xgboost/3")))
    assert back["date"].tolist() == ["2024-07-01", "2024-07-02"]
    assert back["forecast"].tolist() == [1.2346, 2.0]
    assert set(back["model_version"]) == {"demandcast-xgboost/3"}
    assert list(back.columns[:4]) == ["store_nbr", "item_nbr", "date", "forecast"]


def test_family_tables_sum_per_item_largest_first():
    _, item_labels = forecasts.labels(CATALOG)
    other = {**answer([5.0, 5.0]), "item_nbr": 99, "fallback": "family"}
    long = forecasts.family_frame([answer([1.0, 2.0]), other], item_labels)
    assert len(long) == 4 and set(long["item"]) == {"103665 · BREAD/BAKERY · class 2712", "99 · DAIRY"}
    totals = forecasts.family_totals(long)
    assert totals["item_nbr"].tolist() == [99, 103665] and totals["units"].tolist() == [10.0, 3.0]
    assert totals["fallback"].tolist() == ["family", None]
