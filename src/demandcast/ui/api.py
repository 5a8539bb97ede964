"""The BentoML service's HTTP client, as the app uses it: JSON in, JSON out, errors in words.

The app never loads the model: every forecast, the catalogue of stores and items and the
recent history come from the service (``/forecast``, ``/catalog``, ``/history``,
``/metadata``). A failure is an :class:`ApiError` whose message says what a person should do;
``down`` tells "not reachable at all" (start it) from "reachable but refused" (fix the input
or the token).
"""

from __future__ import annotations

import functools

import httpx

START_COMMAND = "make ui"  # serves artifacts/package/demandcast.bento if nothing answers, then the app


def history_body(series: list[tuple[int, int]], days: int) -> dict:
    return {"series": [{"store_nbr": int(s), "item_nbr": int(i)} for s, i in series], "days": int(days)}


class ApiError(Exception):
    """The API did not give an answer; the message is for a person."""

    def __init__(self, message: str, *, down: bool = False, status: int | None = None):
        super().__init__(message)
        self.down, self.status = down, status


@functools.lru_cache(maxsize=8)
def _session(url: str, token: str | None, timeout: float) -> httpx.Client:
    """One keep-alive connection pool per API (a warm connection saves a few ms a call)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=timeout)


class Client:
    """Calls to one service. Stateless apart from the shared connection pool."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0):
        self.url, self.token, self.timeout = url.rstrip("/"), token, float(timeout)

    def call(self, method: str, path: str, body: dict | None = None) -> dict | list:
        session = _session(self.url, self.token, self.timeout)
        try:
            response = session.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise ApiError(f"The forecasting API at {self.url} is not answering ({type(exc).__name__}: "
                           f"{exc}). Start it with `{START_COMMAND}`, or point the app at a running one with "
                           "DEMANDCAST_API_URL.", down=True) from None
        if response.status_code == 200:
            return response.json()
        raise ApiError(self._refusal(response, path), status=response.status_code)

    def _refusal(self, response: httpx.Response, path: str) -> str:
        status = response.status_code
        try:
            detail = response.json().get("error") or response.text
        except (ValueError, AttributeError):
            detail = response.text
        detail = str(detail)[:500]
        if status == 401:
            return (f"The API at {self.url} wants a bearer token: set DEMANDCAST_API_TOKEN to the "
                    f"server's token and restart the app ({detail})")
        if status == 404:
            return (f"The API at {self.url} has no {path}: it serves an older bento. Repackage "
                    "(`uv run dvc repro package`) and restart it.")
        if status in (400, 413, 422):
            return f"The API refused the request ({status}): {detail}"
        if status == 503:
            return f"The API at {self.url} is starting (503): try again in a few seconds."
        return f"The API at {self.url} failed on {path} ({status}): {detail}"

    # -- the endpoints --------------------------------------------------------------------

    def ready(self) -> bool:
        try:
            return _session(self.url, self.token, self.timeout).get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def metadata(self) -> dict:
        return self.call("GET", "/metadata")

    def catalog(self) -> dict:
        return self.call("GET", "/catalog")

    def history(self, series: list[tuple[int, int]], days: int) -> dict:
        return self.call("POST", "/history", history_body(series, days))

    def forecast(self, requests: list[dict]) -> dict:
        return self.call("POST", "/forecast", {"requests": requests})
