"""Monitoring: drift of inputs, target and predictions, live accuracy, and whether to retrain."""

import streamlit as st

from demandcast.ui import charts, reports
from demandcast.ui.page import chart, local, stop

s = st.session_state["settings"]
st.title("Monitoring")
mon = local(reports.monitoring, s.reports)
if mon is None:
    st.info(f"**No monitoring run yet.** `{s.shown(s.reports / 'monitor.json')}` does not exist: the monitor "
            "stage compares recent data and the served predictions with the training data and writes it.",
            icon=":material/hourglass_empty:")
    st.code(reports.MONITOR_COMMAND, language="bash")
    stop()

report = mon.report
rec, alerts, drift = report["recommendation"], report["alerts"], report["drift"]
windows = report["windows"]
ref, cur = windows["reference"], windows["current"]
source = "the served predictions" if cur.get("source") == "prediction_logs" else "the data"
st.caption(f"Current window {cur['start']} – {cur['end']} ({cur['rows']:,} rows from {source}) against the "
           f"reference {ref['start']} – {ref['end']} ({ref['rows']:,} rows).")
if rec["retrain"]:
    st.error("**Retrain recommended.**  \n" + "  \n".join(f"• {r}" for r in rec["reasons"]),
             icon=":material/warning:")
    st.code(rec["command"], language="bash")
elif report["status"] == "alert":
    st.warning("**Drift noticed, accuracy holds: no retrain yet.**  \n"
               + "  \n".join(f"• {r}" for r in rec["reasons"]), icon=":material/info:")
else:
    st.success("**All clear:** no drift alert, live accuracy within its tolerance.",
               icon=":material/check_circle:")

cols = st.columns(4)
cols[0].metric("Drifted columns", f"{drift['share']:.0%}", f"alert above {drift['threshold']:.0%}",
               delta_color="red" if drift["alert"] else "off", delta_arrow="off")
for col, (name, on) in zip(cols[1:], alerts.items(), strict=False):
    col.metric(f"{name.capitalize()} alert", "yes" if on else "no")

live = report.get("live_accuracy")
st.subheader("Live accuracy")
if not live:
    st.info("No live accuracy yet: no logged prediction has its actual sales yet.")
else:
    back = live.get("backtest") or {}
    cols = st.columns(4)
    cols[0].metric("Live WAPE", f"{live['wape']:.1%}", f"backtest {back.get('wape', float('nan')):.1%}",
                   delta_color="off", delta_arrow="off")
    cols[1].metric("Bias", f"{live['bias']:+.1%}")
    for col, (level, got) in zip(cols[2:], (live.get("coverage") or {}).items(), strict=False):
        col.metric(f"{float(level):.0%} interval covers", f"{got:.1%}",
                   f"backtest {(back.get('coverage') or {}).get(level, float('nan')):.1%}",
                   delta_color="off", delta_arrow="off")
    st.caption(f"{live['matched']:,} of {live['predictions']:,} logged predictions have their actual sales.")
    horizon = reports.live_by_horizon(report)
    if horizon is not None:
        st.dataframe(horizon, hide_index=True, width="stretch", key="live_by_horizon",
                     column_config={"wape": st.column_config.NumberColumn(format="percent"),
                                    "bias": st.column_config.NumberColumn(format="percent")})

if mon.history is not None and len(mon.history):
    st.subheader("Over time")
    measures = [c for c in ("drift_share", "live_wape", "coverage_80") if c in mon.history]
    chart(charts.over_time(mon.history, measures), "history_chart")

st.subheader("Drift by column")
columns = reports.drift_columns(report)
for name in ("target", "prediction"):
    got = drift.get(name)
    if got:
        st.markdown(f"**{name.capitalize()}**: {got['stattest']} {got['score']:.3g} — "
                    f"{'drifted' if got['drifted'] else 'no drift'}")
st.dataframe(columns, hide_index=True, width="stretch", key="drift_columns")

st.subheader("The drift report")
if mon.drift_html is None:
    st.info(f"`{s.shown(s.reports / 'monitoring' / 'drift.html')}` is missing: rerun "
            f"`{reports.MONITOR_COMMAND}`.")
else:
    st.iframe(mon.drift_html, height=900, alt="Evidently data drift report")
