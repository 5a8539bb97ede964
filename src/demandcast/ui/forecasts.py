"""The API's answers as a planner reads them: picker labels, tables, the promotion uplift,
the flags in words and the CSV export. Pure functions on the JSON the service returns."""

from __future__ import annotations

import datetime as dt

import pandas as pd

BANDS = ("lower_80", "upper_80", "lower_95", "upper_95")


def stores_table(catalog: dict) -> pd.DataFrame:
    return pd.DataFrame(catalog["stores"]).set_index("store_nbr", drop=False)


def items_table(catalog: dict) -> pd.DataFrame:
    return pd.DataFrame(catalog["items"]).set_index("item_nbr", drop=False)


def _plain(value) -> str:
    """A table cell as text: 2712.0 (a number column with gaps) reads 2712."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def store_label(store) -> str:
    """"Store 5 · Quito, Pichincha · type D" from a stores.csv row (a dict or a Series)."""
    where = ", ".join(_plain(store[k]) for k in ("city", "state") if pd.notna(store.get(k)))
    kind = f" · type {_plain(store['type'])}" if pd.notna(store.get("type")) else ""
    number = int(store["store_nbr"])
    return f"Store {number} · {where}{kind}" if where else f"Store {number}{kind}"


def item_label(item) -> str:
    """"103665 · BREAD/BAKERY · class 2712" from an items.csv row (a dict or a Series)."""
    extra = f" · class {_plain(item['class'])}" if pd.notna(item.get("class")) else ""
    return f"{int(item['item_nbr'])} · {item['family']}{extra}"


def labels(catalog: dict) -> tuple[dict[int, str], dict[int, str]]:
    """Picker labels by store number and by item number (built once per catalogue)."""
    stores = {int(r["store_nbr"]): store_label(r) for r in catalog["stores"]}
    items = {int(r["item_nbr"]): item_label(r) for r in catalog["items"]}
    return stores, items


def items_sold_at(catalog: dict, store: int) -> list[int]:
    """Items with history at the store, in item order."""
    return sorted(i for s, i in catalog["series"] if s == store)


def request(store: int, item: int, horizon: int, promotions=(), start: dt.date | None = None) -> dict:
    body = {"store_nbr": int(store), "item_nbr": int(item), "horizon": int(horizon),
            "promotions": sorted(str(d) for d in set(promotions))}
    if start is not None:
        body["start"] = str(start)
    return body


def forecast_days(history_end: str | dt.date, horizon: int) -> list[dt.date]:
    """The days a default-start forecast covers: the day after the history end on."""
    end = dt.date.fromisoformat(str(history_end))
    return [end + dt.timedelta(days=k) for k in range(1, int(horizon) + 1)]


def history_frame(series: dict) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime(series["dates"]), "unit_sales": series["unit_sales"],
                         "onpromotion": series["onpromotion"]})


def forecast_frame(answer: dict, baseline: dict | None = None, promotions=()) -> pd.DataFrame:
    """One row per forecast day: the forecast and its bands, whether the day is a planned
    promotion, and (with the no-promotion ``baseline``) that forecast and the uplift."""
    frame = pd.DataFrame({"date": pd.to_datetime(answer["dates"]), "forecast": answer["forecast"],
                          **{k: answer[k] for k in BANDS}})
    frame.insert(0, "item_nbr", int(answer["item_nbr"]))
    frame.insert(0, "store_nbr", int(answer["store_nbr"]))
    if baseline is not None:
        frame["promotion"] = frame["date"].isin(pd.to_datetime(list(promotions)))
        frame["no_promotion_forecast"] = baseline["forecast"]
        frame["uplift"] = frame["forecast"] - frame["no_promotion_forecast"]
    return frame


def uplift(frame: pd.DataFrame) -> dict | None:
    """Totals with and without the planned promotions, over the whole horizon."""
    if "uplift" not in frame:
        return None
    with_promo, without = float(frame["forecast"].sum()), float(frame["no_promotion_forecast"].sum())
    return {"with": with_promo, "without": without, "units": with_promo - without,
            "share": (with_promo - without) / without if without > 0 else None,
            "days": int(frame["promotion"].sum())}


FLAG_WORDS = {
    "unknown_store": ("warning", "The model does not know store {store_nbr}: this is not a model forecast."),
    "unknown_item": ("warning", "The model does not know item {item_nbr}: this is not a model forecast."),
    "no_history": ("warning", "Store {store_nbr} has no sales history for item {item_nbr}: "
                              "the model cannot forecast it from its own past."),
    "history_overridden": ("info", "The history sent with the request replaced the served history."),
}
FALLBACK_WORDS = {
    "store_family": "the average daily sales of the item's family at this store",
    "family": "the average daily sales of the item's family across stores",
    "global": "the average daily sales of all items (nothing more specific is known)",
}


def flag_words(answer: dict) -> list[tuple[str, str]]:
    """(level, sentence) for each flag the API raised; empty for a plain model forecast."""
    out = [(level, text.format(**answer)) for flag, (level, text) in FLAG_WORDS.items() if answer.get(flag)]
    if answer.get("fallback"):
        out.append(("warning", "Fallback used: the forecast is "
                               f"{FALLBACK_WORDS.get(answer['fallback'], answer['fallback'])}, flat over "
                               "the horizon; promotions and the calendar do not move it."))
    return out


def family_frame(series: list[dict], item_labels: dict[int, str]) -> pd.DataFrame:
    """Several series' forecasts in one long table (one row per series and day)."""
    long = pd.concat([forecast_frame(f) for f in series], ignore_index=True)
    long["item"] = [item_labels.get(i, str(i)) for i in long["item_nbr"]]
    flagged = {(f["store_nbr"], f["item_nbr"]): f.get("fallback") for f in series}
    long["fallback"] = [flagged[(s, i)] for s, i in zip(long["store_nbr"], long["item_nbr"], strict=True)]
    return long


def family_totals(long: pd.DataFrame) -> pd.DataFrame:
    """Per series: units over the horizon and the highest day, largest first."""
    grouped = long.groupby(["item_nbr", "item"], as_index=False).agg(
        units=("forecast", "sum"), peak_day=("forecast", "max"), upper_95=("upper_95", "sum"),
        fallback=("fallback", "first"))
    return grouped.sort_values("units", ascending=False, ignore_index=True)


def csv_bytes(frame: pd.DataFrame, model_version: str | None = None) -> bytes:
    """The table as CSV (dates as YYYY-MM-DD, 4 decimals), with the answering model's version."""
    out = frame.copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    if model_version:
        out["model_version"] = model_version
    return out.to_csv(index=False, float_format="%.4f").encode()
