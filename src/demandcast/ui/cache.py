"""Streamlit's cache over the API client, kept thin: one cached function per kind of call,
keyed by the API, the token and the request itself (JSON text), so a repeated request
(going back to an item, a rerun after a click) costs no HTTP call. Failures are not cached:
Streamlit does not cache a raised exception, so a restarted API is seen at once. Streamlit
is imported when a cached call is first made, never at import time.
"""

from __future__ import annotations

import functools
import json

from demandcast.ui.api import Client, history_body
from demandcast.ui.settings import Settings


@functools.cache
def _cached(ttl: int):
    import streamlit as st

    @st.cache_data(ttl=ttl, max_entries=2048, show_spinner=False)
    def call(url: str, token: str | None, timeout: float, method: str, path: str, body: str | None):
        return Client(url, token, timeout).call(method, path, None if body is None else json.loads(body))

    @st.cache_data(ttl=min(ttl, 30), max_entries=16, show_spinner=False)
    def short(url: str, token: str | None, timeout: float, method: str, path: str):
        return Client(url, token, timeout).call(method, path)

    return call, short


def _call(s: Settings, method: str, path: str, body: dict | None = None):
    call, _ = _cached(s.cache_ttl_s)
    text = None if body is None else json.dumps(body, sort_keys=True, default=str)
    return call(s.api_url, s.api_token, s.timeout_s, method, path, text)


def metadata(s: Settings) -> dict:
    """Which model answers (cached for 30 s at most: a redeploy shows up quickly)."""
    _, short = _cached(s.cache_ttl_s)
    return short(s.api_url, s.api_token, s.timeout_s, "GET", "/metadata")


def catalog(s: Settings) -> dict:
    return _call(s, "GET", "/catalog")


def history(s: Settings, series: list[tuple[int, int]], days: int) -> dict:
    return _call(s, "POST", "/history", history_body(series, days))


def forecast(s: Settings, requests: list[dict]) -> dict:
    return _call(s, "POST", "/forecast", {"requests": requests})
