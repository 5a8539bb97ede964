"""The planner's app: `make ui` (or, with the API running, `uv run streamlit run ui/app.py
--runner.postScriptGC false`: see :func:`demandcast.ui.launch.streamlit_command` for why).

Pages only; everything else is in :mod:`demandcast.ui`. The app reaches the model only over
HTTP (DEMANDCAST_API_URL, default conf `ui.api_url`; DEMANDCAST_API_TOKEN when the API wants
a token) and reads the reports of the project at DEMANDCAST_ROOT (default: the working folder).
"""

import streamlit as st

from demandcast.ui import page

st.set_page_config(page_title="demandcast", page_icon=":material/insights:", layout="wide")

pages = [
    st.Page("forecast.py", title="Forecast", icon=":material/show_chart:", default=True),
    st.Page("accuracy.py", title="Accuracy", icon=":material/target:"),
    st.Page("experiments.py", title="Experiments", icon=":material/science:"),
    st.Page("monitoring.py", title="Monitoring", icon=":material/monitor_heart:"),
]
current = st.navigation(pages)
st.session_state["settings"] = page.settings()
st.session_state["model"] = page.model_status(st.session_state["settings"])
current.run()
page.done()  # a page that ends early marks it itself (page.stop)
