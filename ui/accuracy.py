"""Accuracy: how good the served model was on the held-out test window, against the baselines."""

import streamlit as st

from demandcast.ui import charts, reports
from demandcast.ui.page import chart, local, stop

s = st.session_state["settings"]
st.title("Accuracy")
ev = local(reports.evaluation, s.reports)
if ev is None:
    st.info(f"No evaluation yet: `{s.shown(s.reports / 'evaluation.json')}` is written by the evaluate "
            "stage.",
            icon=":material/hourglass_empty:")
    st.code(reports.EVALUATE_COMMAND, language="bash")
    stop()

test = ev["test"]
start, end = ev.get("test_window") or ("?", "?")
st.caption(f"Recursive forecasts of days 1–{len(test['wape_by_horizon']['model'])} from one origin, as "
           f"served, on the test window {start} – {end} ({ev.get('series_scored', '?')} series), against "
           "baselines on the same series and days. WAPE: absolute errors summed over units sold; "
           "lower is better.")
cols = st.columns(5)
cols[0].metric("Model WAPE", f"{test['model']['wape']:.1%}")
naive = test.get("seasonal_naive", {}).get("wape")
if naive:
    cols[1].metric("Against seasonal naive", f"{1 - test['model']['wape'] / naive:.1%} lower",
                   help="Same weekday last week.")
if "oracle" in test:
    cols[2].metric("Against the oracle", f"{test['model']['wape'] / test['oracle']['wape']:.2f}×",
                   help="The generator's expected demand: the best any forecast can do on this data.")
for col, (level, got) in zip(cols[3:], test["coverage"].items(), strict=False):
    col.metric(f"{float(level):.0%} interval covers", f"{got:.1%}",
               help="Share of test days whose sales fell inside the interval.")

st.subheader("Error by days ahead")
chart(charts.by_horizon_chart(reports.by_horizon(ev)), "by_horizon")
left, right = st.columns([3, 2])
with left:
    st.subheader("Error by family")
    chart(charts.by_family_chart(reports.by_family(ev)), "by_family")
with right:
    st.subheader("Interval coverage")
    chart(charts.coverage_chart(reports.coverage(ev)), "coverage")
    st.caption("Bars: share of test days whose sales fell inside the interval; red ticks: the nominal level.")
    scored = local(reports.cells, s.artifacts)
    if scored is not None and "family" in scored:
        st.subheader("Coverage by family")
        st.dataframe(reports.coverage_by(scored, "family"), width="stretch", key="coverage_by_family",
                     column_config={c: st.column_config.NumberColumn(format="percent")
                                    for c in ("80% interval", "95% interval")})
    st.subheader("All forecasters")
    st.dataframe(reports.headline(ev), width="stretch", key="headline",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("wape", "mae", "rmse", "rmsle", "bias")})
    folds = reports.backtest(ev)
    if folds is not None:
        st.caption("Rolling-origin backtest, mean WAPE over the folds:")
        st.dataframe(folds, hide_index=True, width="stretch", key="backtest")

samples = reports.sample_forecasts(s.reports)
if samples:
    st.subheader("Forecast against actual sales, sampled series")
    name = st.selectbox("Series", list(samples), key="sample")
    frame = samples[name]
    inside = reports.sample_coverage(frame)
    actual, predicted = reports.sample_frames(frame)
    chart(charts.forecast_spec(actual, predicted, name.replace("_", " · ")), "sample_chart")
    st.caption(f"Inside the 80% band on {inside['0.80']:.0%} of these days, "
               f"the 95% band on {inside['0.95']:.0%}.")
