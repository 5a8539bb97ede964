"""The app's HTTP client: against the served tiny bento, and against a loopback server that
answers every way the service can refuse."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from demandcast.ui.api import ApiError, Client


@pytest.fixture(scope="module")
def refusing():
    """A loopback server whose status comes from the path: /401, /404, /400, /500, /503."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            if self.path == "/echo":  # what the client sent
                body = json.dumps({"authorization": self.headers.get("authorization")}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            status = int(self.path.strip("/"))
            body = json.dumps({"error": f"requests[0].horizon: 0 is not in 1..90 ({status})"}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "words"), [
    (401, "wants a bearer token: set DEMANDCAST_API_TOKEN"),
    (404, "it serves an older bento. Repackage"),
    (400, "refused the request (400): requests[0].horizon: 0 is not in 1..90"),
    (500, "failed on /500 (500)"),
    (503, "is starting (503)"),
])
def test_refusals_are_explained(refusing, status, words):
    with pytest.raises(ApiError, match=re.escape(words)) as err:
        Client(refusing).call("POST", f"/{status}", {})
    assert not err.value.down and err.value.status == status


def test_the_bearer_token_is_sent_when_set(refusing):
    assert Client(refusing, token="s3cret").call("GET", "/echo") == {"authorization": "Bearer s3cret"}
    assert Client(refusing).call("GET", "/echo") == {"authorization": None}


def test_an_api_that_is_not_running_is_down_with_the_command(closed_port):
    client = Client(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ApiError, match="is not answering .* Start it with `make ui`") as err:
        client.metadata()
    assert err.value.down and not client.ready()


@pytest.mark.slow
def test_catalog_history_and_forecast_from_the_service(api, tiny_bento):
    client = Client(api)
    assert client.ready()
    catalog = client.catalog()
    meta = client.metadata()
    assert catalog["history_end"] == meta["history_end"] == "2023-12-31"
    stores = {s["store_nbr"] for s in catalog["stores"]}
    items = {i["item_nbr"]: i["family"] for i in catalog["items"]}
    assert all(s in stores and i in items for s, i in catalog["series"])
    # the snapshot's series minus those whose panel ended before it (discontinued: no day in it)
    assert 0 < len(catalog["series"]) <= meta["series"]
    assert {"city", "state", "type", "cluster"} <= set(catalog["stores"][0])
    assert {"family", "class", "perishable"} <= set(catalog["items"][0])

    # a series still selling (the 392-day snapshot also lists series that stopped in it)
    chunks = (catalog["series"][k:k + 5] for k in range(0, len(catalog["series"]), 5))  # within max_series
    store, item = next((h["store_nbr"], h["item_nbr"]) for chunk in chunks
                       for h in client.history([tuple(s) for s in chunk], days=14)["series"]
                       if len(h["dates"]) == 14)
    history = client.history([(store, item), (store, 999_999_999)], days=14)
    known, unknown = history["series"]
    assert known["known"] and len(known["dates"]) == 14 and known["dates"][-1] == "2023-12-31"
    assert len(known["unit_sales"]) == len(known["onpromotion"]) == 14
    assert not unknown["known"] and unknown["dates"] == []
    # the served history is the data the model was packaged with: train.csv's sales on those days
    import pandas as pd

    raw = pd.read_csv(tiny_bento.data / "train.csv", parse_dates=["date"])
    sold = raw[(raw.store_nbr == store) & (raw.item_nbr == item)].set_index("date")["unit_sales"]
    for day, units in zip(known["dates"], known["unit_sales"], strict=True):
        assert units == pytest.approx(float(sold.get(pd.Timestamp(day), 0.0)))

    answer = client.forecast([{"store_nbr": store, "item_nbr": item, "horizon": 7}])
    one = answer["forecasts"][0]
    assert one["dates"][0] == str(dt.date(2024, 1, 1)) and len(one["forecast"]) == 7
    with pytest.raises(ApiError, match=r"refused the request \(400\)"):
        client.forecast([{"store_nbr": store, "item_nbr": item, "horizon": 0}])
    with pytest.raises(ApiError, match="refused the request"):
        client.history([(store, item)], days=0)
    assert httpx.get(f"{api}/docs.json").json()["paths"].keys() >= {"/catalog", "/history", "/forecast"}
