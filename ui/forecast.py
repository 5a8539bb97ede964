"""Forecast: one series with its history, bands and a promotion plan; or a whole family at a store."""

import datetime as dt

import streamlit as st

from demandcast.ui import cache, charts, forecasts
from demandcast.ui.page import chart, from_api

s = st.session_state["settings"]
meta = st.session_state.get("model")
st.title("Forecast")
catalog = from_api(cache.catalog, s)
store_labels, item_labels = forecasts.labels(catalog)
families = {int(i["item_nbr"]): i["family"] for i in catalog["items"]}
max_horizon = int(meta["max_horizon"]) if meta else 90
limit = int(meta["max_series_per_request"]) if meta else 2000
units = {name: st.column_config.NumberColumn(label, format="%.1f") for name, label in (
    ("forecast", "forecast"), ("lower_80", "80% from"), ("upper_80", "80% to"), ("lower_95", "95% from"),
    ("upper_95", "95% to"), ("no_promotion_forecast", "without promotion"), ("uplift", "uplift"))}
forecast_columns = {"date": st.column_config.DateColumn("date", format="ddd YYYY-MM-DD"), **units}
view = st.radio("View", ["One item", "A family at a store"], horizontal=True, key="view",
                label_visibility="collapsed")

left, middle, right = st.columns([3, 4, 2])
store = left.selectbox("Store", list(store_labels), key="store", format_func=store_labels.get,
                       help="Type to search by number, city or type.")
horizon = right.slider("Days to forecast", 1, max_horizon, 28, key="horizon")
days = forecasts.forecast_days(catalog["history_end"], horizon)
sold = forecasts.items_sold_at(catalog, store)
# Every item the store sells, forecast (and its history fetched) in one request each (the API
# vectorizes series with the same origin), cached: switching items makes no API call, and the
# family view reuses the forecasts.
batch, by_item, histories = None, {}, {}
if sold and len(sold) <= limit:
    batch = from_api(cache.forecast, s, [forecasts.request(store, i, horizon) for i in sold])
    by_item = {f["item_nbr"]: f for f in batch["forecasts"]}
    histories = {h["item_nbr"]: h for h in from_api(cache.history, s, [(store, i) for i in sold],
                                                     s.history_days)["series"]}


@st.fragment
def one_item(picker, choices: list[int]) -> None:
    """The item picker (in the pickers' row), the promotion plan and the item's forecast. A
    fragment: choosing another item or promotion days reruns only this, not the page (the store,
    the horizon and the store's forecasts stay as the last full run left them)."""
    item = picker.selectbox("Item", choices, key="item", format_func=item_labels.get,
                            help="Type to search by item number, family or class.")
    with st.expander("Plan a promotion", expanded=True, icon=":material/sell:"):
        a, b = st.columns(2)
        period = a.date_input("Promotion period", value=(), min_value=days[0], max_value=days[-1],
                              key="promo_period", format="YYYY-MM-DD",
                              help="Pick the first and the last day on the calendar.")
        extra = b.multiselect("Other promotion days", days, key="promo_days",
                              format_func=lambda d: d.strftime("%a %d %b"))
    promoted = set(extra)
    if len(period) == 2:
        promoted |= {period[0] + dt.timedelta(days=k) for k in range((period[1] - period[0]).days + 1)}
    promoted = sorted(d for d in promoted if days[0] <= d <= days[-1])

    history = histories.get(item) or from_api(cache.history, s, [(store, item)], s.history_days)["series"][0]
    if item in by_item:
        answer, plain = batch, by_item[item]
    else:
        answer = from_api(cache.forecast, s, [forecasts.request(store, item, horizon)])
        plain = answer["forecasts"][0]
    series, baseline = plain, None
    if promoted:
        answer = from_api(cache.forecast, s, [forecasts.request(store, item, horizon, promoted)])
        series, baseline = answer["forecasts"][0], plain
    frame = forecasts.forecast_frame(series, baseline, promoted)

    for level, text in forecasts.flag_words(series):
        (st.warning if level == "warning" else st.info)(text, icon=":material/flag:")
    lift = forecasts.uplift(frame)
    cols = st.columns(4)
    cols[0].metric(f"Units over {horizon} days", f"{frame['forecast'].sum():,.1f}")
    busiest = frame.loc[frame["forecast"].idxmax()]
    cols[1].metric(f"Busiest day: {busiest['date']:%a %d %b}", f"{busiest['forecast']:,.1f}")
    if lift:
        share = f"{lift['share']:+.1%}" if lift["share"] is not None else None
        cols[2].metric(f"Promotion uplift ({lift['days']} days)", f"{lift['units']:+,.1f} units", share)
        cols[3].metric("Without the promotion", f"{lift['without']:,.1f}")
    title = f"{store_labels[store]} — item {item_labels[item]}"
    figure = charts.forecast_spec(forecasts.history_frame(history), frame, title)
    chart(figure, "forecast_chart")
    st.caption("Shaded: the 80% (dark) and 95% (light) prediction intervals. Hover a day for its values."
               + (" Red triangles: planned promotion days." if promoted else ""))
    st.dataframe(frame.drop(columns=["store_nbr", "item_nbr"]), hide_index=True, width="stretch",
                 key="forecast_table", column_config=forecast_columns)
    st.download_button("Download CSV", forecasts.csv_bytes(frame, answer["model_version"]),
                       file_name=f"forecast_store{store}_item{item}.csv", mime="text/csv",
                       icon=":material/download:", key="download", on_click="ignore")
    st.caption(f"Answered by {answer['model_version']} · request {answer['request_id']}")


if view == "One item":
    every = st.sidebar.toggle("Offer items this store never sold", key="every_item",
                              help="Those are answered from averages, not by the model.")
    one_item(middle, list(item_labels) if every else sold)
else:
    in_store = sorted({families[i] for i in sold if i in families})
    family = middle.selectbox("Family", in_store, key="family")
    members = [i for i in sold if families.get(i) == family]
    answers = [batch] if batch is not None else [
        from_api(cache.forecast, s, [forecasts.request(store, i, horizon) for i in members[k:k + limit]])
        for k in range(0, len(members), limit)]
    chosen = [f for a in answers for f in a["forecasts"] if f["item_nbr"] in set(members)]
    long = forecasts.family_frame(chosen, item_labels)
    totals = forecasts.family_totals(long)
    cols = st.columns(3)
    cols[0].metric("Items", len(members))
    cols[1].metric(f"Units over {horizon} days", f"{totals['units'].sum():,.1f}")
    cols[2].metric("Answered from averages", int(totals["fallback"].notna().sum()))
    figure = charts.family_chart(long, f"{family} at {store_labels[store]}")
    chart(figure, "family_chart")
    st.dataframe(totals, hide_index=True, width="stretch", key="family_table", column_config={
        "units": st.column_config.NumberColumn(f"units over {horizon} days", format="%.1f"),
        "peak_day": st.column_config.NumberColumn("busiest day", format="%.1f"),
        "upper_95": st.column_config.NumberColumn("sum of 95% highs", format="%.1f"),
        "fallback": st.column_config.TextColumn("answered from")})
    st.download_button("Download CSV",
                       forecasts.csv_bytes(long.drop(columns=["item"]), answers[0]["model_version"]),
                       file_name=f"forecast_store{store}_{family.replace('/', '-')}.csv", mime="text/csv",
                       icon=":material/download:", key="family_download", on_click="ignore")
