"""What every page of the app does the same way, on Streamlit (imported where used): the
settings or a clear error, API calls that turn a failure into a message and the command to
fix it, and the sidebar line saying which model answers."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TypeVar

from demandcast import config
from demandcast.errors import UserError
from demandcast.ui import cache
from demandcast.ui.api import START_COMMAND, ApiError
from demandcast.ui.settings import TOKEN_ENV, URL_ENV, Settings
from demandcast.ui.settings import load as load_settings

T = TypeVar("T")
WATCHED = (config.ROOT_ENV, URL_ENV, TOKEN_ENV)
API_DOWN = "The forecasting API is not running"


def done() -> None:
    """Mark the end of a page's run (the browser tests and the benchmark wait for it)."""
    import streamlit as st

    st.markdown('<span class="page-done"></span>', unsafe_allow_html=True)


def stop() -> None:
    """End the page here on purpose (nothing to show yet, or an error shown): ``st.stop()``
    after the end marker, which Streamlit would drop once stopped."""
    import streamlit as st

    done()
    st.stop()


def settings() -> Settings:
    """The app's settings, or the reason they cannot be read (and the page stops). Read again
    only when the environment or params.yaml changed: loading takes longer than a forecast."""
    import streamlit as st

    try:
        params = config.params_path()
        changed = params.stat().st_mtime_ns if params.exists() else None
        return _settings(tuple(os.environ.get(k) for k in WATCHED), str(params), changed)
    except UserError as exc:
        st.error(f"The app cannot read the project's configuration: {exc}")
        stop()


@functools.lru_cache(maxsize=8)
def _settings(environment: tuple, params: str, changed: int | None) -> Settings:
    return load_settings()


def from_api(call: Callable[..., T], *args) -> T:
    """``call(*args)``; when the API fails, say why and how to fix it, and stop the page."""
    import streamlit as st

    try:
        return call(*args)
    except ApiError as exc:
        if exc.down:
            st.error(f"**{API_DOWN}.** {exc}", icon=":material/cloud_off:")
            st.markdown("Start it (and this app) from the project's folder with:")
            st.code(START_COMMAND, language="bash")
            st.caption("`make ui` serves the exported bento `artifacts/package/demandcast.bento` "
                       "(built by `make run`) when nothing answers at the configured URL.")
        else:
            st.error(str(exc), icon=":material/error:")
        stop()


def local(call: Callable[..., T], *args) -> T:
    """``call(*args)`` on the project's files; a UserError becomes the page's error message."""
    import streamlit as st

    try:
        return call(*args)
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
        stop()


def chart(chart, key: str) -> None:
    """An Altair chart, or a Vega-Lite spec ready for Streamlit (such as
    :func:`demandcast.ui.charts.forecast_spec`), across the page."""
    import streamlit as st

    from demandcast.ui.charts import spec

    st.vega_lite_chart(chart if isinstance(chart, dict) else spec(chart), width="stretch", key=key)


def model_status(s: Settings) -> dict | None:
    """The sidebar's line on the model that answers (None when the API is down)."""
    import streamlit as st

    try:
        meta = cache.metadata(s)
    except ApiError as exc:
        st.sidebar.error(f"API down at {s.api_url}" if exc.down else f"API: {exc}",
                         icon=":material/cloud_off:")
        return None
    st.sidebar.success(f"**{meta['model_name']} v{meta['model_version']}** ({meta['alias']})  \n"
                       f"sales known to {meta['history_end']}", icon=":material/cloud_done:")
    st.sidebar.caption(f"API {s.api_url} · run {meta['run_id'][:8]} · commit {meta['git_commit'][:8]}")
    return meta
