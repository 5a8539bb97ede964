"""Altair charts of the app: dates on the axis, values on hover, colours that mean one thing
everywhere (history black, the model blue, baselines grey and orange, the oracle green)."""

from __future__ import annotations

import functools
import json

import altair as alt
import pandas as pd

COLOURS = {"Sales": "#262730", "Forecast": "#1f77b4", "Forecast without promotion": "#9aa0a6",
           "model": "#1f77b4", "seasonal_naive": "#9aa0a6", "moving_average_28": "#ff7f0e",
           "oracle": "#2ca02c"}
BAND_LABELS = {"lower_80": "80% from", "upper_80": "80% to", "lower_95": "95% from", "upper_95": "95% to"}
NAMES = {"model": "model", "seasonal_naive": "seasonal naive", "moving_average_28": "28-day average",
         "oracle": "oracle (best possible)"}


def spec(chart: alt.TopLevelMixin) -> dict:
    """The chart's Vega-Lite spec for ``st.vega_lite_chart``, without Altair's JSON-schema
    validation: on every rerun it cost more than the API call (0.1-0.4 s for the forecast
    chart); the tests validate each chart once (``chart.to_dict()``)."""
    return chart.to_dict(validate=False)


def _legend(names: list[str]) -> alt.Scale:
    return alt.Scale(domain=names, range=[COLOURS[n] for n in names])


def forecast_chart(history: pd.DataFrame, forecast: pd.DataFrame, title: str, height: int = 380) -> alt.Chart:
    """Recent sales, the forecast with its 80% and 95% bands, the no-promotion forecast and the
    promotion days when there are any; hovering a day shows every value of that day."""
    wide = _forecast_table(history, forecast)
    return _forecast_layers(*_forecast_shape(wide)).properties(data=wide, title=title, height=height)


def forecast_spec(history: pd.DataFrame, forecast: pd.DataFrame, title: str, height: int = 380) -> dict:
    """:func:`forecast_chart` as a spec for ``st.vega_lite_chart``, fast enough for every rerun.

    Altair takes ~0.1 s to build this chart (each channel is checked against the schema as it
    is made), more than the rest of an item change. The chart's layers depend only on its
    shape (which lines and bands, any promotion days), so each shape is built and validated
    once per process and its spec reused; the data goes in as a table (``data.values``, which
    Streamlit sends as Arrow), dates as the ISO text Altair would write."""
    wide = _forecast_table(history, forecast)
    spec = json.loads(_forecast_template(*_forecast_shape(wide), height))
    table = wide.assign(date=wide["date"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    return {**spec, "title": title, "data": {"values": table}}


def _forecast_table(history: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """History and forecast side by side, one row per day, columns named as the legend says."""
    return pd.merge(history[["date", "unit_sales"]].rename(columns={"unit_sales": "Sales"}),
                    forecast.rename(columns={"forecast": "Forecast",
                                             "no_promotion_forecast": "Forecast without promotion"}),
                    on="date", how="outer").sort_values("date", ignore_index=True)


def _forecast_shape(wide: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(the lines drawn, the band columns present, whether any day is a planned promotion)."""
    lines = tuple(c for c in ("Sales", "Forecast", "Forecast without promotion") if c in wide)
    bands = tuple(c for c in BAND_LABELS if c in wide)
    promoted = bool("promotion" in wide and wide["promotion"].eq(True).any())
    return lines, bands, promoted


@functools.lru_cache(maxsize=32)
def _forecast_template(lines: tuple[str, ...], bands: tuple[str, ...], promoted: bool, height: int) -> str:
    """The chart of one shape without data or title, validated, as JSON text (a fresh copy each use)."""
    chart = _forecast_layers(lines, bands, promoted).properties(data=alt.NamedData("table"), height=height)
    spec = chart.to_dict()
    del spec["data"]  # a placeholder: without data on the chart, Altair gives each layer an empty one
    return json.dumps(spec)


def _forecast_layers(lines: tuple[str, ...], bands: tuple[str, ...], promoted: bool) -> alt.LayerChart:
    x = alt.X("date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0))
    # The data goes on the layer chart only: given to every layer, Altair hashes each copy (a
    # DataFrame repr) to merge them, which was most of the time this function took.
    base = alt.Chart()
    band95 = base.mark_area(opacity=0.15, color=COLOURS["Forecast"]).encode(
        x=x, y=alt.Y("lower_95:Q", title="units per day"), y2="upper_95:Q")
    band80 = base.mark_area(opacity=0.3, color=COLOURS["Forecast"]).encode(
        x=x, y="lower_80:Q", y2="upper_80:Q")
    long = base.transform_fold(list(lines), as_=["series", "units"])
    drawn = long.mark_line(strokeWidth=2).encode(
        x=x, y="units:Q", color=alt.Color("series:N", scale=_legend(list(lines)), title=None,
                                          legend=alt.Legend(orient="top", labelLimit=300)),
        strokeDash=alt.condition(alt.datum.series == "Forecast without promotion",
                                 alt.value([5, 4]), alt.value([1, 0])))
    layers = [band95, band80, drawn]
    if promoted:
        layers.append(base.transform_filter(alt.datum.promotion == True).mark_point(  # noqa: E712
            shape="triangle-up", size=90, filled=True, color="#d62728").encode(x=x, y="Forecast:Q"))
    hover = alt.selection_point(fields=["date"], nearest=True, on="pointerover", empty=False,
                                clear="pointerout")
    shown = {**{c: c for c in lines}, **{c: BAND_LABELS[c] for c in bands}}
    # Values as text, "–" where a day has none (no sales on forecast days, no forecast before)
    texts = {label: f"isValid(datum['{c}']) ? format(datum['{c}'], '.1f') : '–'"
             for c, label in shown.items()}
    layers.append(base.transform_calculate(**texts).mark_rule(color="#888").encode(
        x=x, opacity=alt.condition(hover, alt.value(0.6), alt.value(0)),
        tooltip=[alt.Tooltip("date:T", title="day", format="%a %d %b %Y"),
                 *[alt.Tooltip(f"{label}:N") for label in texts]]).add_params(hover))
    return alt.layer(*layers)


def family_chart(long: pd.DataFrame, title: str, height: int = 380) -> alt.Chart:
    """The family's total forecast per day, stacked by item (hover: the item and its value)."""
    return alt.Chart(long).mark_area(opacity=0.85).encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
        y=alt.Y("sum(forecast):Q", title="units per day", stack="zero"),
        color=alt.Color("item:N", title="item", legend=alt.Legend(orient="right", symbolLimit=30)),
        tooltip=[alt.Tooltip("date:T", format="%a %d %b %Y"), "item:N",
                 alt.Tooltip("forecast:Q", format=".1f"), alt.Tooltip("upper_95:Q", format=".1f")],
    ).properties(title=title, height=height)


def by_horizon_chart(table: pd.DataFrame, height: int = 320) -> alt.Chart:
    """WAPE per horizon day (columns: horizon, then one per forecaster)."""
    names = [c for c in NAMES if c in table]
    long = table.melt("horizon", names, var_name="forecaster", value_name="WAPE")
    long["forecaster"] = long["forecaster"].map(NAMES)
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("horizon:Q", title="days ahead", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("WAPE:Q", scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%")),
        color=alt.Color("forecaster:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=[NAMES[n] for n in names], range=[COLOURS[n] for n in names])),
        tooltip=["horizon:Q", "forecaster:N", alt.Tooltip("WAPE:Q", format=".1%")],
    ).properties(height=height)


def by_family_chart(table: pd.DataFrame, height: int | None = None) -> alt.Chart:
    """WAPE per family (rows: family; columns: forecasters), sorted by the model's WAPE."""
    names = [c for c in NAMES if c in table]
    long = table.reset_index(names="family").melt("family", names, var_name="forecaster", value_name="WAPE")
    long["forecaster"] = long["forecaster"].map(NAMES)
    order = table.sort_values("model").index.tolist()
    return alt.Chart(long).mark_point(filled=True, size=70).encode(
        y=alt.Y("family:N", sort=order, title=None),
        x=alt.X("WAPE:Q", axis=alt.Axis(format=".0%"), scale=alt.Scale(zero=False)),
        color=alt.Color("forecaster:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=[NAMES[n] for n in names], range=[COLOURS[n] for n in names])),
        tooltip=["family:N", "forecaster:N", alt.Tooltip("WAPE:Q", format=".1%")],
    ).properties(height=height or max(200, 22 * len(order)))


def coverage_chart(coverage: pd.DataFrame, height: int = 160) -> alt.Chart:
    """Observed against nominal coverage per interval (columns: interval, nominal, observed)."""
    bars = alt.Chart(coverage).mark_bar(color=COLOURS["model"], opacity=0.7).encode(
        y=alt.Y("interval:N", title=None),
        x=alt.X("observed:Q", title="share of test days inside", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%")),
        tooltip=["interval:N", alt.Tooltip("nominal:Q", format=".0%"),
                 alt.Tooltip("observed:Q", format=".1%")])
    ticks = alt.Chart(coverage).mark_tick(color="#d62728", thickness=3, size=30).encode(
        y="interval:N", x="nominal:Q")
    return (bars + ticks).properties(height=height)


def trials_chart(trials: pd.DataFrame, height: int = 280) -> alt.Chart:
    """Each trial's value and the best so far (columns: number, value, best, state)."""
    points = alt.Chart(trials).mark_point(filled=True, size=60).encode(
        x=alt.X("number:Q", title="trial"), y=alt.Y("value:Q", title="validation objective",
                                                    scale=alt.Scale(zero=False)),
        color=alt.Color("state:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=["number:Q", "state:N", alt.Tooltip("value:Q", format=".4f")])
    best = alt.Chart(trials.dropna(subset=["best"])).mark_line(
        interpolate="step-after", color="#d62728").encode(
        x="number:Q", y="best:Q", tooltip=[alt.Tooltip("best:Q", format=".4f")])
    return (points + best).properties(height=height)


def bars(table: pd.DataFrame, label: str, value: str, title: str, fmt: str = ".2f") -> alt.Chart:
    """Horizontal bars, largest on top (parameter importance, feature gain, drift scores)."""
    return alt.Chart(table).mark_bar(color=COLOURS["model"]).encode(
        y=alt.Y(f"{label}:N", sort="-x", title=None), x=alt.X(f"{value}:Q", title=title),
        tooltip=[f"{label}:N", alt.Tooltip(f"{value}:Q", format=fmt)],
    ).properties(height=max(120, 22 * len(table)))


def over_time(history: pd.DataFrame, columns: list[str], height: int = 240) -> alt.Chart:
    """Monitoring history: one line per column against the run date."""
    long = history.melt("run_date", columns, var_name="measure", value_name="value").dropna()
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("run_date:T", title=None), y=alt.Y("value:Q", title=None),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("run_date:T"), "measure:N", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=height)
