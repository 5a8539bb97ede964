"""Reading the prediction logs back: the records of the days asked for, bad lines counted and
named, empty days listed, nothing modified; local partitions and S3 (moto on loopback)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson
import pytest

from demandcast.errors import UserError
from demandcast.monitoring import logs
from demandcast.serving.prediction_log import PredictionLog
from tests.helpers import digests

NAMES = ["store_nbr", "lag_1", "lag_7", "roll_mean_7", "onpromotion", "tx_mean"]
WATCHED = ["lag_1", "lag_7", "roll_mean_7", "onpromotion", "absent_feature"]
DAY = dt.date(2026, 3, 30)


def forecast_record(store: int, item: int, start: str, days: int, served: dt.date = DAY,
                    features: bool = True, fallback: str | None = None) -> dict:
    first = dt.date.fromisoformat(start)
    rows = [[store, 10.0 + h, 20.0 + h, 30.0 + h, h % 2, None] for h in range(days)]
    outputs = {"store_nbr": store, "item_nbr": item,
               "dates": [(first + dt.timedelta(days=h)).isoformat() for h in range(days)],
               "forecast": [1.0 + h for h in range(days)],
               **{f"{side}_{lvl}": [0.5 * (side == "upper") + h for h in range(days)]
                  for lvl in ("80", "95") for side in ("lower", "upper")},
               "unknown_store": False, "unknown_item": False, "no_history": False, "history_overridden": True}
    if fallback:
        outputs["fallback"] = fallback  # the service leaves it out when the model answered
    return {"request_id": f"{store}-{item}-{start}", "timestamp": f"{served.isoformat()}T10:00:00+00:00",
            "endpoint": "forecast", "model_version": "demandcast-xgboost/3", "latency_ms": 12.0,
            "series": [store, item], "inputs": {"store_nbr": store, "item_nbr": item, "horizon": days},
            "features": {"names": NAMES, "rows": rows} if features else None, "outputs": outputs}


def write(directory, records, s3_uri=None, endpoint=None) -> None:
    log = PredictionLog(directory, s3_uri, endpoint_url=endpoint, flush_seconds=0.05)
    for record in records:
        log.write(record)
    log.close()


def test_one_row_per_forecast_day_with_fed_back_features_left_out(tmp_path):
    write(tmp_path, [forecast_record(1, 100, "2024-01-08", 10),
                     forecast_record(2, 200, "2024-01-08", 3, fallback="family", features=False),
                     forecast_record(1, 100, "2024-01-15", 2, served=DAY + dt.timedelta(days=1)),
                     forecast_record(3, 300, "2024-01-08", 5, served=DAY - dt.timedelta(days=1))])
    served = logs.read([DAY, DAY + dt.timedelta(days=1)], WATCHED, tmp_path)

    assert (served.records, served.bad_lines, served.empty_days) == (3, 0, [])
    cells = served.cells
    assert len(cells) == 10 + 3 + 2  # the record of the day before the window is not read
    first = cells[(cells["store_nbr"] == 1) & (cells["served"] == np.datetime64(DAY))]
    assert first["horizon"].tolist() == list(range(1, 11))
    assert first["date"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["2024-01-08", "2024-01-09"]
    assert first["forecast"].tolist() == [1.0 + h for h in range(10)]
    assert first["upper_0.95"].tolist()[0] == 0.5 and first["lower_0.8"].tolist()[0] == 0.0
    # lag_1 is an observation on the first day only, lag_7 up to day 7, rolling windows on day 1
    assert first["lag_1"].notna().tolist() == [True] + [False] * 9
    assert first["lag_7"].notna().tolist() == [True] * 7 + [False] * 3
    assert first["roll_mean_7"].notna().tolist() == [True] + [False] * 9
    assert first["onpromotion"].tolist() == [h % 2 for h in range(10)]
    assert cells["absent_feature"].isna().all()  # a watched name the logged model lacks
    fallback = cells[cells["store_nbr"] == 2]
    assert fallback["fallback"].all() and fallback[["lag_1", "onpromotion"]].isna().all().all()
    assert not first["fallback"].any()
    assert set(cells["model_version"]) == {"demandcast-xgboost/3"}


def test_predict_rows_come_with_their_predictions(tmp_path):
    write(tmp_path, [{"request_id": "p", "timestamp": f"{DAY}T01:00:00Z", "endpoint": "predict",
                      "model_version": "m/1", "inputs": None,
                      "features": {"names": NAMES, "rows": [[1, 5.0, 6.0, 7.0, 1, None]] * 4},
                      "outputs": {"predictions": [2.0, 2.5, 3.0, 3.5]}}])
    served = logs.read([DAY], WATCHED, tmp_path)
    assert served.cells.empty and served.records == 1
    assert served.predict_rows["prediction"].tolist() == [2.0, 2.5, 3.0, 3.5]
    assert served.predict_rows["lag_1"].tolist() == [5.0] * 4  # caller-given features: all observed


def test_bad_lines_are_counted_and_named_and_the_logs_left_as_they_were(tmp_path):
    write(tmp_path, [forecast_record(1, 100, "2024-01-08", 2)])
    folder = tmp_path / f"dt={DAY}" / "hour=10"
    bad = folder / "part-crashed.jsonl"
    good = forecast_record(2, 200, "2024-01-08", 2)
    bad.write_bytes(b"".join([
        orjson.dumps(good) + b"\n",
        b'{"request_id": "x", "outputs": {"dates": ["2024-01-08"]\n',   # line 2: not JSON
        b"[1, 2, 3]\n",                                                 # line 3: not an object
        b'{"request_id": "y", "endpoint": "forecast"}\n',               # line 4: no outputs
        b"\n",
        orjson.dumps(good)[:40],                                        # line 6: cut short
    ]))
    (tmp_path / "_spool" / f"dt={DAY}").mkdir(parents=True)
    (tmp_path / "_spool" / f"dt={DAY}" / "waiting.jsonl").write_bytes(orjson.dumps(good) + b"\n")
    before = digests(tmp_path)

    served = logs.read([DAY], WATCHED, tmp_path)

    assert digests(tmp_path) == before
    assert (served.records, served.bad_lines) == (2, 4)  # the spool is not read
    assert [p.split(" line ")[1].split(":")[0] for p in served.problems] == ["2", "3", "4", "6"]
    assert all(p.startswith(str(bad)) for p in served.problems)
    assert "not a JSON record" in served.problems[0] and "cut short" in served.problems[3]
    assert "not a prediction record" in served.problems[2]


def test_days_without_predictions_are_listed_and_a_window_without_any_is_an_error(tmp_path):
    write(tmp_path, [forecast_record(1, 100, "2024-01-08", 2)])
    days = [DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1)]
    assert logs.read(days, WATCHED, tmp_path).empty_days == [days[0], days[2]]
    with pytest.raises(UserError, match=rf"no predictions logged in {tmp_path} on 2026-03-31..2026-04-01"):
        logs.read(days[2:] + [DAY + dt.timedelta(days=2)], WATCHED, tmp_path)


def test_s3_logs_read_as_the_local_ones(tmp_path, s3, bucket):
    uri = f"s3://{bucket}/served/predictions"
    records = [forecast_record(s, 100 + s, "2024-01-08", 7) for s in range(1, 6)]
    write(tmp_path / "spool", records, uri, s3.url)
    write(tmp_path / "local", records)
    remote = logs.read([DAY], WATCHED, s3_uri=uri, endpoint_url=s3.url)
    local = logs.read([DAY], WATCHED, tmp_path / "local")
    order = ["store_nbr", "horizon"]
    assert remote.records == 5 and remote.files >= 1
    assert remote.cells.sort_values(order).reset_index(drop=True).equals(
        local.cells.sort_values(order).reset_index(drop=True))
    with pytest.raises(UserError, match="cannot read the prediction logs at s3://no-such-bucket"):
        logs.read([DAY], WATCHED, s3_uri="s3://no-such-bucket/x", endpoint_url=s3.url)
