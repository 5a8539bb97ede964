"""Request and response models of the HTTP API, with examples, so the OpenAPI spec documents itself."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, create_model

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
LEVELS = ("80", "95")


class HistoryDay(BaseModel):
    """One known day of a series: units sold (negative for net returns) and the promotion flag."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    date: dt.date = Field(description="The day (YYYY-MM-DD).", examples=["2024-06-29"])
    unit_sales: float = Field(ge=-20_000, le=1_000_000, description="Units sold that day.", examples=[12.0])
    onpromotion: bool = Field(False, description="Whether the item was on promotion that day.")


class SeriesRequest(BaseModel):
    """One store x item series to forecast."""

    model_config = ConfigDict(
        extra="forbid",
        # BentoML's OpenAPI components take one `example` per model (OpenAPI 3.0 style).
        json_schema_extra={"example": {"store_nbr": 1, "item_nbr": 103665, "horizon": 7,
                                       "promotions": ["2024-07-03"]}})

    store_nbr: Id = Field(description="Store number, as in stores.csv.", examples=[1])
    item_nbr: Id = Field(description="Item number, as in items.csv.", examples=[103665])
    horizon: int = Field(28, ge=1, le=90, description="Days to forecast (1..90).", examples=[28])
    start: dt.date | None = Field(
        None, description="First forecast day; default: the day after the series' history.")
    promotions: list[dt.date] = Field(
        default_factory=list, max_length=90,
        description="Forecast days on which the item will be on promotion (planned).")
    history: list[HistoryDay] | None = Field(
        None, max_length=400,
        description="Recent days of this series that replace the served history from the first "
                    "given day on (days without a row count as zero sales).")
    family: str | None = Field(
        None, max_length=64,
        description="The item's family, only for items the model does not know: it picks the "
                    "fallback prior.")


class SeriesForecast(BaseModel):
    """The forecast of one series: one entry per day in each list."""

    store_nbr: int
    item_nbr: int
    dates: list[dt.date] = Field(description="The forecast days.")
    forecast: list[float] = Field(description="Expected units sold per day.")
    lower_80: list[float]
    upper_80: list[float]
    lower_95: list[float]
    upper_95: list[float]
    fallback: str | None = Field(
        description="null: the model forecast; else the prior used (store_family, family or global).")
    unknown_store: bool
    unknown_item: bool
    no_history: bool = Field(description="The model knows the series' store and item, but the "
                                         "series has no history to forecast from.")
    history_overridden: bool


class ForecastResponse(BaseModel):
    request_id: str
    model_version: str = Field(description="Registry name and version of the model that answered.")
    forecasts: list[SeriesForecast]


class Metadata(BaseModel):
    model_name: str
    model_version: int
    alias: str
    run_id: str
    git_commit: str
    data_version: str
    feature_spec_hash: str
    bentoml_model: str
    history_end: dt.date
    snapshot_start: dt.date
    series: int
    max_horizon: int
    max_series_per_request: int
    features: list[str]
    training_metrics: dict[str, float]
    test_window: list[dt.date] | None
    prediction_log: dict


class SeriesKey(BaseModel):
    """One store x item series."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"example": {"store_nbr": 1, "item_nbr": 103665}})

    store_nbr: Id = Field(description="Store number, as in stores.csv.")
    item_nbr: Id = Field(description="Item number, as in items.csv.")


class SeriesHistory(BaseModel):
    """The served history of one series: one entry per day in each list (zero-sales days included)."""

    store_nbr: int
    item_nbr: int
    known: bool = Field(description="False: the served snapshot has no history for this series.")
    dates: list[dt.date]
    unit_sales: list[float]
    onpromotion: list[bool]


class HistoryResponse(BaseModel):
    history_end: dt.date = Field(description="The last day of the served history.")
    series: list[SeriesHistory]


class Store(BaseModel):
    model_config = ConfigDict(extra="allow")  # whatever stores.csv holds besides these

    store_nbr: int
    city: str | None = None
    state: str | None = None
    type: str | None = None
    cluster: int | None = None


class Item(BaseModel):
    model_config = ConfigDict(extra="allow")

    item_nbr: int
    family: str
    perishable: int | None = None


class CatalogResponse(BaseModel):
    """The stores, items and series the served model knows (for pickers)."""

    history_end: dt.date
    snapshot_start: dt.date = Field(description="The first day of the served history.")
    stores: list[Store]
    items: list[Item]
    series: list[tuple[int, int]] = Field(description="(store_nbr, item_nbr) of every series with history.")


def feature_row(names: list[str]) -> type[BaseModel]:
    """The /predict row model: one optional number per feature of the model (null = missing)."""
    fields = {name: (float | None, Field(None)) for name in names}
    return create_model("FeatureRow", __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
                        **fields)
