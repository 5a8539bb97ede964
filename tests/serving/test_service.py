"""The packaged bento served for real (`bentoml serve` on loopback), called over HTTP.

The tiny pipeline's champion is packaged by the package stage (``tiny_bento``), imported
into a throw-away BentoML store and served; the tests talk to it with
``bentoml.SyncHTTPClient`` and with plain HTTP (httpx).
"""

from __future__ import annotations

import datetime as dt
import time

import bentoml
import httpx
import numpy as np
import pandas as pd
import pytest

from demandcast.tracking import runs
from tests.bento_server import serving

pytestmark = pytest.mark.slow

HISTORY_END = dt.date(2023, 12, 31)
TEST_ORIGIN = dt.date(2023, 12, 3)


@pytest.fixture(scope="module")
def server(tiny_server):
    return tiny_server.url  # one `bentoml serve` of the tiny bento, shared with the app's tests


@pytest.fixture(scope="module")
def cells(tiny_bento) -> pd.DataFrame:
    """The evaluate stage's test-window forecasts (what the service must reproduce)."""
    return pd.read_parquet(tiny_bento.root / "artifacts" / "evaluation" / "forecasts.parquet")


@pytest.fixture(scope="module")
def ids(tiny_bento, cells):
    stores = pd.read_csv(tiny_bento.data / "stores.csv")["store_nbr"].tolist()
    items = pd.read_csv(tiny_bento.data / "items.csv")
    served = cells[["store_nbr", "item_nbr"]].drop_duplicates().sort_values(["store_nbr", "item_nbr"])
    return {"stores": stores, "items": items, "series": [tuple(map(int, s)) for s in served.to_numpy()]}


def post(url: str, body, **kw) -> httpx.Response:
    return httpx.post(f"{url}/forecast", json=body, timeout=60, **kw)


def test_probes_metrics_and_metadata(server, tiny_bento):
    assert httpx.get(f"{server}/livez").status_code == 200
    assert httpx.get(f"{server}/readyz").status_code == 200
    meta = httpx.get(f"{server}/metadata").json()
    assert meta["model_name"] == "demandcast-xgboost" and meta["model_version"] == 1
    assert meta["alias"] == "champion" and meta["data_version"] == runs.data_version()
    assert meta["history_end"] == str(HISTORY_END) and meta["max_series_per_request"] == 50
    assert meta["bentoml_model"] == tiny_bento.package["bentoml_model"]
    assert len(meta["git_commit"]) == 40 and len(meta["feature_spec_hash"]) == 16
    assert "test.wape" in meta["training_metrics"] and "validation_rmse" in meta["training_metrics"]
    post(server, {"requests": [{"store_nbr": 1, "item_nbr": 1, "horizon": 1}]})
    metrics = httpx.get(f"{server}/metrics").text
    assert "bentoml_service_request_total" in metrics and 'endpoint="/forecast"' in metrics


def test_forecast_with_the_bentoml_client(server, ids):
    store, item = ids["series"][0]
    with bentoml.SyncHTTPClient(server) as client:
        answer = client.forecast(requests=[{"store_nbr": store, "item_nbr": item}])
    one = answer["forecasts"][0]
    assert answer["model_version"] == "demandcast-xgboost/1" and len(answer["request_id"]) == 32
    assert one["dates"][0] == str(HISTORY_END + dt.timedelta(days=1)) and len(one["dates"]) == 28
    f = np.array(one["forecast"])
    lo80, hi80, lo95, hi95 = (np.array(one[k]) for k in ("lower_80", "upper_80", "lower_95", "upper_95"))
    assert (f >= 0).all() and (lo95 <= lo80).all() and (lo80 <= f).all() and (f <= hi80).all()
    assert (hi80 < hi95).all() and (lo95 >= 0).all()
    assert one["fallback"] is None and not any(one[k] for k in (
        "unknown_store", "unknown_item", "no_history", "history_overridden"))


def test_many_series_in_one_call_and_planned_promotions(server, ids):
    series = ids["series"][:40]
    body = {"requests": [{"store_nbr": s, "item_nbr": i, "horizon": 7} for s, i in series]}
    plain = post(server, body).json()["forecasts"]
    assert [(f["store_nbr"], f["item_nbr"]) for f in plain] == series
    week = [str(HISTORY_END + dt.timedelta(days=k)) for k in range(1, 8)]
    for r in body["requests"]:
        r["promotions"] = week
    promoted = post(server, body).json()["forecasts"]
    total = lambda answer: sum(sum(f["forecast"]) for f in answer)  # noqa: E731
    assert total(promoted) > 1.1 * total(plain)
    one = post(server, {"requests": [body["requests"][0] | {"promotions": []}]}).json()["forecasts"][0]
    assert one["forecast"] == plain[0]["forecast"]  # alone or with 39 others: the same numbers


def test_start_dates_after_and_inside_the_history(server, ids):
    store, item = ids["series"][1]
    base = post(server, {"requests": [{"store_nbr": store, "item_nbr": item, "horizon": 10}]}).json()
    later = post(server, {"requests": [{"store_nbr": store, "item_nbr": item, "horizon": 5,
                                        "start": str(HISTORY_END + dt.timedelta(days=6))}]}).json()
    # days 6..10 after the history: the same recursion, the days before forecast too
    assert later["forecasts"][0]["forecast"] == pytest.approx(base["forecasts"][0]["forecast"][5:], rel=1e-9)
    assert later["forecasts"][0]["dates"] == base["forecasts"][0]["dates"][5:]


def test_the_service_reproduces_the_evaluate_stage(server, cells):
    """End-to-end parity: the test origin's forecasts, with the test window's promotions."""
    series = cells[["store_nbr", "item_nbr"]].drop_duplicates().head(50)
    requests, wanted = [], []
    for store, item in series.itertuples(index=False):
        mine = cells[(cells["store_nbr"] == store) & (cells["item_nbr"] == item)]
        promos = [str(d.date()) for d in mine.loc[mine["onpromotion"] == 1, "date"]]
        requests.append({"store_nbr": int(store), "item_nbr": int(item), "horizon": 28,
                         "start": str(TEST_ORIGIN + dt.timedelta(days=1)), "promotions": promos})
        wanted.append(mine)
    answer = post(server, {"requests": requests}).json()["forecasts"]
    compared = 0
    for got, mine in zip(answer, wanted, strict=True):
        served = pd.DataFrame({"date": pd.to_datetime(got["dates"]), "served": got["forecast"],
                               "lo": got["lower_80"], "hi": got["upper_95"]})
        both = mine.merge(served, on="date")
        assert len(both) == len(mine)
        np.testing.assert_allclose(both["served"], both["model"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(both["lo"], both["lower_0.80"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(both["hi"], both["upper_0.95"], rtol=1e-6, atol=1e-9)
        compared += len(both)
    assert compared >= 500


def test_unknown_stores_and_items_fall_back_to_the_priors(server, ids):
    store, item = ids["series"][0]
    items = ids["items"]
    family = items.loc[items["item_nbr"] == item, "family"].iloc[0]
    other_family = next(f for f in sorted(items["family"].unique()) if f != family)
    body = {"requests": [
        {"store_nbr": store, "item_nbr": 999_999_999, "family": family, "horizon": 3},
        {"store_nbr": 999, "item_nbr": item, "horizon": 3},
        {"store_nbr": 999, "item_nbr": 999_999_998, "horizon": 3},
        {"store_nbr": 998, "item_nbr": 999_999_997, "family": other_family, "horizon": 3}]}
    got = post(server, body).json()["forecasts"]
    assert [f["fallback"] for f in got] == ["store_family", "family", "global", "family"]
    assert [(f["unknown_store"], f["unknown_item"]) for f in got] == [
        (False, True), (True, False), (True, True), (True, True)]
    for f in got:
        assert len(set(f["forecast"])) == 1 and f["forecast"][0] > 0  # the prior, every day
        assert all(lo <= x <= hi for lo, x, hi in zip(f["lower_95"], f["forecast"], f["upper_95"],
                                                      strict=True))
    assert got[1]["forecast"] != got[3]["forecast"]  # another family, another prior


def test_history_given_in_the_request_replaces_the_snapshot(server, ids):
    store, item = ids["series"][2]
    days = [HISTORY_END - dt.timedelta(days=k) for k in range(30)]
    busy = [{"date": str(d), "unit_sales": 80.0} for d in days]
    base = post(server, {"requests": [{"store_nbr": store, "item_nbr": item, "horizon": 7}]}).json()
    given = post(server, {"requests": [{"store_nbr": store, "item_nbr": item, "horizon": 7,
                                        "history": busy}]}).json()
    f0, f1 = base["forecasts"][0], given["forecasts"][0]
    assert f1["history_overridden"] and f1["fallback"] is None and f1["dates"] == f0["dates"]
    assert min(f1["forecast"]) > max(f0["forecast"]) and sum(f1["forecast"]) > 1.5 * sum(f0["forecast"])
    # a history reaching past the snapshot moves the default start
    ahead = post(server, {"requests": [{"store_nbr": store, "item_nbr": item, "horizon": 2, "history": [
        *busy, {"date": str(HISTORY_END + dt.timedelta(days=1)), "unit_sales": 5}]}]}).json()
    assert ahead["forecasts"][0]["dates"][0] == str(HISTORY_END + dt.timedelta(days=2))


BAD = {
    "horizon below 1": ([{"store_nbr": 1, "item_nbr": 1, "horizon": 0}], "horizon"),
    "horizon above 90": ([{"store_nbr": 1, "item_nbr": 1, "horizon": 91}], "horizon"),
    "horizon not a number": ([{"store_nbr": 1, "item_nbr": 1, "horizon": "soon"}], "horizon"),
    "negative store": ([{"store_nbr": -3, "item_nbr": 1}], "store_nbr"),
    "huge item id": ([{"store_nbr": 1, "item_nbr": 2**40}], "item_nbr"),
    "missing item": ([{"store_nbr": 1}], "item_nbr"),
    "unknown field": ([{"store_nbr": 1, "item_nbr": 1, "horizn": 3}], "horizn"),
    "bad date": ([{"store_nbr": 1, "item_nbr": 1, "start": "31/12/2023"}], "start"),
    "no series": ([], "requests"),
    "too many series": ([{"store_nbr": 1, "item_nbr": i} for i in range(1, 52)], "requests"),
    "start too early": ([{"store_nbr": 1, "item_nbr": 1, "start": "2023-01-01"}], "requests[0].start"),
    "reaching too far": ([{"store_nbr": 1, "item_nbr": 1, "start": "2024-03-28", "horizon": 5}],
                         "requests[0].start"),
    "promotion outside the days": ([{"store_nbr": 1, "item_nbr": 1, "horizon": 3,
                                     "promotions": ["2024-02-01"]}], "requests[0].promotions"),
    "history day twice": ([{"store_nbr": 1, "item_nbr": 1, "history": [
        {"date": "2023-12-30", "unit_sales": 1}, {"date": "2023-12-30", "unit_sales": 2}]}],
        "requests[0].history"),
    "history into the forecast": ([{"store_nbr": 1, "item_nbr": 1, "start": "2023-12-20", "history": [
        {"date": "2023-12-25", "unit_sales": 1}]}], "requests[0].history"),
    "sales out of range": ([{"store_nbr": 1, "item_nbr": 1, "history": [
        {"date": "2023-12-30", "unit_sales": -1e9}]}], "unit_sales"),
    "unknown family": ([{"store_nbr": 1, "item_nbr": 999_999_999, "family": "SPACESHIPS"}],
                       "requests[0].family"),
    "series twice": ([{"store_nbr": 1, "item_nbr": 1}, {"store_nbr": 1, "item_nbr": 1}], "requests[1]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gets_400_naming_the_field(server, case):
    requests, field = BAD[case]
    response = post(server, {"requests": requests})
    assert response.status_code == 400, response.text
    assert field in response.text


def test_malformed_and_oversized_bodies(server):
    for body, kind in ((b"{not json", "application/json"), (b"", "application/json"),
                       (b'{"requests": 5}', "application/json"), (b"\xff\xfe", "text/plain")):
        response = httpx.post(f"{server}/forecast", content=body, headers={"content-type": kind})
        assert response.status_code == 400, (body, response.text)
    big = {"requests": [{"store_nbr": 1, "item_nbr": 1, "history": [
        {"date": str(HISTORY_END - dt.timedelta(days=k)), "unit_sales": 1.0} for k in range(400)]}] * 30}
    response = post(server, big)
    assert response.status_code == 413 and "300,000 bytes" in response.json()["error"]

    def chunks():  # no Content-Length: counted while read
        yield b'{"requests": ['
        for _ in range(8000):  # about 370 kB
            yield b'{"store_nbr": 1, "item_nbr": 1, "horizon": 3},'
        yield b'{"store_nbr": 1, "item_nbr": 2}]}'

    response = httpx.post(f"{server}/forecast", content=chunks(),
                          headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_predict_takes_precomputed_features(server, tiny_bento, cells):
    from demandcast.config import load
    from demandcast.features import feature_spec
    from demandcast.models import boosting, dataset

    cfg = load(tiny_bento.args)
    spec = feature_spec.from_config(cfg.features)
    rows = dataset.load_table(tiny_bento.root / "artifacts" / "features", spec,
                              since=dt.date(2023, 12, 20)).head(120)  # under the 300 kB limit
    names = httpx.get(f"{server}/metadata").json()["features"]
    payload = [{n: (None if pd.isna(v) else float(v)) for n, v in zip(names, row, strict=True)}
               for row in rows[names].itertuples(index=False)]
    with bentoml.SyncHTTPClient(server) as client:
        got = client.predict(rows=payload)
    expected = boosting.Forecaster.load(tiny_bento.root / "artifacts" / "model").predict(rows)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    bad = httpx.post(f"{server}/predict", json={"rows": [{"lag_1": "many"}]})
    assert bad.status_code == 400 and "lag_1" in bad.text


def test_bearer_token_when_configured(tiny_bento, tmp_path):
    body = {"requests": [{"store_nbr": 1, "item_nbr": 1, "horizon": 1}]}
    with serving(tiny_bento.home, tmp_path, DEMANDCAST_API_TOKEN="s3cret-token") as url:
        assert post(url, body).status_code == 401
        assert post(url, body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        denied = post(url, body, headers={"Authorization": "Basic s3cret-token"})
        assert denied.status_code == 401 and "Bearer" in denied.json()["error"]
        assert post(url, body, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert httpx.get(f"{url}/metadata").status_code == 401
        assert httpx.get(f"{url}/readyz").status_code == 200  # probes stay open
        assert httpx.get(f"{url}/metrics").status_code == 200
    assert "s3cret-token" not in (tmp_path / "server.log").read_text()


def test_every_forecast_is_logged_with_its_features(server, ids, tiny_server):
    from demandcast.serving.prediction_log import read_records

    store, item = ids["series"][3]
    rid = "test-log-0001"
    post(server, {"requests": [{"store_nbr": store, "item_nbr": item, "horizon": 5}]},
         headers={"x-request-id": rid})
    logs = tiny_server.workdir / "prediction-logs"
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while dt.datetime.now() < deadline:
        mine = [r for r in read_records(logs) if r["request_id"] == rid]
        if mine:
            break
        time.sleep(0.2)
    (record,) = mine
    assert record["series"] == [store, item] and record["model_version"] == "demandcast-xgboost/1"
    assert record["inputs"]["horizon"] == 5 and len(record["outputs"]["forecast"]) == 5
    assert len(record["features"]["rows"]) == 5 and "lag_1" in record["features"]["names"]
    assert record["latency_ms"] > 0 and record["timestamp"].startswith(str(dt.datetime.now(dt.UTC).year))


def test_no_generated_request_gets_a_5xx(server):
    """Schemathesis against the live OpenAPI spec: at least 500 generated cases, none a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    schema = schemathesis.openapi.from_url(f"{server}/docs.json")
    calls, server_errors = [], []
    def exercise(operation) -> None:
        body = operation.method.upper() == "POST"

        @given(case=operation.as_strategy())
        @settings(max_examples=260 if body else 5, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(base_url=server, timeout=60)
            calls.append(operation.path)
            if response.status_code >= 500:
                server_errors.append((operation.path, case.body, response.status_code, response.text[:300]))

        check()

    for result in schema.get_all_operations():
        exercise(result.ok())
    assert len(calls) >= 500 and {"/forecast", "/predict", "/metadata"} <= set(calls)
    assert server_errors == []


def test_prediction_log_survives_an_s3_outage_under_load(tiny_bento, ids, tmp_path, monkeypatch):
    """Requests keep coming while the S3 endpoint (moto's server) goes away and comes back:
    every served series is logged to S3 exactly once, and the local spool ends empty."""
    import threading

    import boto3
    from moto.server import ThreadedMotoServer

    from demandcast.serving.prediction_log import read_records
    from tests.bento_server import free_port

    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    endpoint, uri = f"http://127.0.0.1:{port}", "s3://prediction-log-outage/serving"
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="prediction-log-outage")
    served, phase, lock, stop = [], {"now": "before"}, threading.Lock(), threading.Event()
    series = ids["series"][:8]

    def client(t: int) -> None:
        with httpx.Client(timeout=60) as http:
            n = 0
            while not stop.is_set():
                rid = f"load-{t}-{n}"
                pair = [series[(t + n) % len(series)], series[(t + n + 1) % len(series)]]
                r = http.post(f"{url}/forecast", headers={"x-request-id": rid}, json={"requests": [
                    {"store_nbr": s, "item_nbr": i, "horizon": 7} for s, i in pair]})
                assert r.status_code == 200, r.text
                with lock:
                    served.extend((rid, s, i, phase["now"]) for s, i in pair)
                n += 1

    try:
        with serving(tiny_bento.home, tmp_path, DEMANDCAST_LOG_S3=uri, DEMANDCAST_LOG_S3_ENDPOINT=endpoint,
                     DEMANDCAST_LOG_FLUSH_SECONDS="0.2", DEMANDCAST_LOG_RETRY_SECONDS="0.5", **creds) as url:
            threads = [threading.Thread(target=client, args=(t,)) for t in range(4)]
            for t in threads:
                t.start()
            time.sleep(3)
            moto.stop()  # the outage: connections to the endpoint are refused
            phase["now"] = "outage"
            time.sleep(3)
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            moto.start()
            phase["now"] = "after"
            time.sleep(3)
            stop.set()
            for t in threads:
                t.join()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                stats = httpx.get(f"{url}/metadata").json()["prediction_log"]
                if stats["spool_files"] == 0 and stats["pending"] == 0:
                    break
                time.sleep(0.5)
        logged = [(r["request_id"], *r["series"]) for r in read_records(s3_uri=uri, endpoint_url=endpoint)]
    finally:
        moto.stop()
    asked = [(rid, s, i) for rid, s, i, _ in served]
    assert sum(p == "outage" for *_, p in served) > 0  # requests were served during the outage
    assert stats["spooled"] > 0 and stats["retried"] > 0  # ... and their records went through the spool
    assert len(logged) == len(set(logged)) == len(asked)  # nothing duplicated, nothing lost
    assert set(logged) == set(asked)
    spool = tmp_path / "prediction-logs" / "_spool"
    assert not spool.exists() or not any(p.is_file() for p in spool.rglob("*"))
