"""Experiments: which model is live, the registry, MLflow runs, the Optuna study, DVC experiments."""

import streamlit as st

from demandcast.ui import charts, experiments, reports
from demandcast.ui.page import chart, local, stop

s = st.session_state["settings"]
live = st.session_state.get("model")
st.title("Experiments")


@st.cache_data(ttl=60, show_spinner="Reading the MLflow store…")
def _registry(_cfg, key):
    return experiments.registry_versions(_cfg), experiments.mlflow_runs(_cfg)


@st.cache_data(ttl=60, show_spinner="Reading the Optuna study…")
def _study(storage, name):
    return experiments.trials(storage, name), experiments.importance(storage, name)


@st.cache_data(ttl=60, show_spinner="Running dvc exp show…")
def _dvc(root):
    return experiments.exp_table(experiments.dvc_exp_show(root))


st.subheader("The champion")
versions, runs = local(_registry, s.cfg, str(s.artifacts))
registry = local(reports.read_json, s.reports / "registry.json")
if versions is None or versions.empty:
    st.info("No registered model yet: the register stage makes one (`uv run dvc repro register`).")
else:
    champion = versions[versions["aliases"].str.contains("champion")]
    cols = st.columns(3)
    if not champion.empty:
        row = champion.iloc[0]
        cols[0].metric("Registry champion", f"v{row['version']}", f"test WAPE {row['test_wape']:.4f}",
                       delta_color="off", delta_arrow="off")
    if live:
        cols[1].metric("Served by the API", f"v{live['model_version']}", live["alias"], delta_color="off",
                       delta_arrow="off")
        if not champion.empty and int(champion.iloc[0]["version"]) != int(live["model_version"]):
            st.warning(f"The API serves v{live['model_version']} but the registry's champion is "
                       f"v{champion.iloc[0]['version']}: repackage (`uv run dvc repro package`) and "
                       "restart the API.")
    else:
        cols[1].metric("Served by the API", "unknown", "API down", delta_color="off", delta_arrow="off")
    if registry:
        cols[2].metric("Last registration", f"v{registry['version']}", registry["decision"],
                       delta_color="off", delta_arrow="off")
        with st.expander("The gates of the last registration"):
            st.dataframe(registry["gates"], hide_index=True, width="stretch", key="gates")
    st.dataframe(versions, hide_index=True, width="stretch", key="versions")

st.subheader("MLflow runs")
if runs is None or runs.empty:
    st.info("No MLflow runs yet: `uv run dvc repro` logs them.")
else:
    top = runs[runs["parent"].isna()].drop(columns=["parent"]).dropna(axis=1, how="all")
    st.caption(f"{len(top)} runs ({len(runs) - len(top)} Optuna trials nested under the tune runs); "
               "`uv run mlflow ui --backend-store-uri sqlite:///artifacts/mlflow.db` shows everything.")
    st.dataframe(top, hide_index=True, width="stretch", key="runs")

st.subheader("Tuning (Optuna)")
storage = experiments.optuna_storage(s.artifacts)
if storage is None:
    st.info("No Optuna study yet: the tune stage makes one (`uv run dvc repro tune`).")
else:
    names = local(experiments.study_names, storage)
    current = experiments.current_study(s.artifacts)
    name = st.selectbox("Study", names, index=names.index(current) if current in names else 0, key="study",
                        help="The tune stage's current study is selected first.")
    trials, importance = local(_study, storage, name)
    left, right = st.columns([3, 2])
    with left:
        st.caption("Each trial's validation objective and the best so far (red).")
        chart(charts.trials_chart(trials), "trials_chart")
    with right:
        if importance is None:
            st.info("Parameter importance needs at least two complete trials.")
        else:
            chart(charts.bars(importance, "parameter", "importance", "fANOVA importance"), "importance_chart")
    with st.expander(f"{len(trials)} trials"):
        st.dataframe(trials, hide_index=True, width="stretch", key="trials")

st.subheader("DVC experiments")
try:
    table = _dvc(s.root)
except Exception as exc:  # dvc missing, not a DVC repository, a lock held by a running repro
    st.warning(f"`{experiments.EXP_COMMAND}` did not answer: {exc}")
    stop()
metrics = [c for c in table.columns if c.startswith("metric ")]
shown = ["experiment", "kind", "baseline", "status", "created", *metrics, *experiments.varying(table)]
st.caption("Click a column header to sort. Parameters are shown where experiments differ; "
           "`uv run dvc exp run -S key=value` adds one.")
st.dataframe(table[shown], hide_index=True, width="stretch", key="dvc_table")
if len(table) >= 2:
    names = table["experiment"].tolist()
    a, b = st.columns(2)
    first = a.selectbox("Compare", names, index=0, key="exp_a")
    second = b.selectbox("with", names, index=1, key="exp_b")
    diff = experiments.compare(table, first, second)
    if diff.empty:
        st.info("Same parameters and metrics.")
    else:
        st.dataframe(diff, hide_index=True, width="stretch", key="exp_diff")
