"""The prediction log against real storage: local partitions, and S3 on a loopback moto server
(``s3`` and ``bucket`` fixtures, tests/conftest.py) that is stopped and restarted on the same
port under load: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from demandcast.serving.prediction_log import PredictionLog, partition_for, read_records

BASE = datetime(2026, 3, 31, 21, 7, tzinfo=UTC)  # + up to 29 h: crosses a day and a month


def record(request_id: str, hours: int = 0) -> dict:
    timestamp = (BASE + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    return {"request_id": request_id, "timestamp": timestamp, "model_version": "demand-xgb/7",
            "inputs": {"store_nbr": 1, "item_nbr": 103665, "date": "2026-04-01"},
            "features": {"lag_7": 3.0, "onpromotion": 1}, "outputs": {"forecast": 4.2}, "latency_ms": 1.3}


def request_ids(records: list[dict]) -> list[str]:
    return sorted(r["request_id"] for r in records)


def wait_for(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize(("timestamp", "partition"), [
    ("2026-03-31T23:59:59Z", "dt=2026-03-31/hour=23"),
    ("2026-04-01T01:30:00+02:00", "dt=2026-03-31/hour=23"),  # converted to UTC
    ("2026-04-01T05:00:00", "dt=2026-04-01/hour=05"),  # naive: taken as UTC
    (datetime(2026, 12, 31, 9, tzinfo=UTC), "dt=2026-12-31/hour=09"),
])
def test_partition_is_the_records_utc_hour(timestamp, partition):
    assert partition_for(timestamp) == partition


def test_local_concurrent_writes_land_once_in_their_partitions(tmp_path):
    log = PredictionLog(tmp_path, batch_size=64, flush_seconds=0.05)
    threads, per_thread = 8, 500

    def writer(t: int) -> None:
        for i in range(per_thread):
            log.write(record(f"{t}-{i}", hours=(t * per_thread + i) % 30))

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()

    expected = sorted(f"{t}-{i}" for t in range(threads) for i in range(per_thread))
    assert request_ids(read_records(tmp_path)) == expected
    files = list(tmp_path.rglob("*.jsonl"))
    for path in files:
        folder = path.parent.relative_to(tmp_path).as_posix()
        for line in path.read_text().splitlines():
            assert partition_for(json.loads(line)["timestamp"]) == folder
    folders = {path.parent.relative_to(tmp_path).as_posix() for path in files}
    assert folders == {partition_for(BASE + timedelta(hours=h)) for h in range(30)}
    assert {"dt=2026-03-31/hour=21", "dt=2026-04-01/hour=00", "dt=2026-04-02/hour=02"} <= folders
    stats = log.stats()
    assert stats["written"] == stats["stored_local"] == len(expected)
    assert stats["pending"] == stats["lost"] == stats["uploaded"] == stats["spooled"] == 0


def test_write_only_enqueues_and_flush_stores(tmp_path):
    log = PredictionLog(tmp_path, batch_size=100_000, flush_seconds=60)
    took = []
    for i in range(2000):
        began = time.perf_counter()
        log.write(record(f"r{i}"))
        took.append(time.perf_counter() - began)
    assert statistics.median(took) < 0.001
    assert not list(tmp_path.rglob("*.jsonl"))  # the request path did no I/O
    assert log.stats()["pending"] == 2000

    circular = record("circular")
    circular["self"] = circular
    log.write(circular)  # not serialisable: counted, not raised
    log.write(None)
    log.write(record("last"))
    assert log.flush(timeout=10)
    records = read_records(tmp_path)
    assert len(records) == 2001 and log.stats()["pending"] == 0
    assert next(r for r in records if r["request_id"] == "last")["outputs"]["forecast"] == 4.2

    log.close()
    log.close()
    log.write(record("late"))  # after close: counted, not raised
    assert (log.stats()["rejected"], log.stats()["dropped"]) == (2, 1)
    assert len(read_records(tmp_path)) == 2001


def test_s3_outage_under_load_loses_and_duplicates_nothing(tmp_path, s3, bucket):
    uri, spool = f"s3://{bucket}/predictions", tmp_path / "_spool"
    log = PredictionLog(tmp_path, uri, endpoint_url=s3.url, batch_size=50, flush_seconds=0.05,
                        retry_seconds=0.2)
    written: list[list[str]] = [[] for _ in range(4)]
    done = threading.Event()

    def writer(t: int) -> None:
        i = 0
        while not done.is_set():
            log.write(record(f"{t}-{i}", hours=i % 3))
            written[t].append(f"{t}-{i}")
            i += 1
            time.sleep(0.001)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(len(written))]
    for worker in workers:
        worker.start()
    try:
        wait_for(lambda: log.stats()["uploaded"] >= 300, "uploads before the outage")
        before = s3.keys(bucket)
        s3.stop()
        wait_for(lambda: log.stats()["spooled"] >= 300, "records spooled during the outage")
        assert list(spool.rglob("*.jsonl"))
        s3.start()
        assert before <= s3.keys(bucket)  # moto's state survived the stop and restart
        wait_for(lambda: log.stats()["retried"] >= 300 and not log.stats()["s3_down"], "spool uploaded")
        resumed = log.stats()["uploaded"]
        wait_for(lambda: log.stats()["uploaded"] >= resumed + 300, "uploads after the outage")
    finally:
        done.set()
        for worker in workers:
            worker.join()
        log.close()

    expected = sorted(rid for ids in written for rid in ids)
    assert request_ids(read_records(s3_uri=uri, endpoint_url=s3.url)) == expected
    assert not list(spool.rglob("*.jsonl"))
    stats = log.stats()
    assert stats["written"] == stats["uploaded"] == len(expected)
    assert stats["spooled"] == stats["retried"] >= 300
    assert stats["pending"] == stats["lost"] == stats["dropped"] == 0


def test_close_during_outage_keeps_the_spool_for_the_next_start(tmp_path, s3, bucket, caplog):
    uri, spool = f"s3://{bucket}/predictions", tmp_path / "_spool"
    log = PredictionLog(tmp_path, uri, endpoint_url=s3.url, batch_size=40, flush_seconds=0.05,
                        retry_seconds=0.2)
    s3.stop()
    for i in range(300):
        log.write(record(f"r{i}", hours=i % 2))
    with caplog.at_level(logging.WARNING, logger="demandcast.serving.prediction_log"):
        log.close()
    expected = sorted(f"r{i}" for i in range(300))
    assert request_ids(read_records(spool)) == expected
    assert str(spool) in caplog.text
    assert log.stats()["spooled"] == 300 and log.stats()["uploaded"] == 0

    s3.start()
    recovered = PredictionLog(tmp_path, uri, endpoint_url=s3.url, retry_seconds=0.2)
    wait_for(lambda: recovered.stats()["retried"] == 300, "the spool uploaded on start")
    recovered.close()
    assert request_ids(read_records(s3_uri=uri, endpoint_url=s3.url)) == expected
    assert not list(spool.rglob("*.jsonl"))
    assert recovered.stats()["written"] == 0


def test_from_env(tmp_path, monkeypatch):
    for name in ("DEMANDCAST_LOG_S3", "DEMANDCAST_LOG_S3_ENDPOINT", "DEMANDCAST_LOG_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEMANDCAST_LOG_DIR", str(tmp_path / "logs"))
    log = PredictionLog.from_env(tmp_path / "default")
    log.close()
    assert (log.directory, log.s3_uri) == (tmp_path / "logs", None)

    monkeypatch.delenv("DEMANDCAST_LOG_DIR")
    monkeypatch.setenv("DEMANDCAST_LOG_S3", "s3://bucket/prefix")
    monkeypatch.setenv("DEMANDCAST_LOG_S3_ENDPOINT", "http://127.0.0.1:9")
    log = PredictionLog.from_env(tmp_path / "default")
    log.close()
    assert (log.directory, log.s3_uri) == (tmp_path / "default", "s3://bucket/prefix")

    monkeypatch.setenv("DEMANDCAST_LOG_BATCH_SIZE", "many")
    with pytest.raises(ValueError, match="DEMANDCAST_LOG_BATCH_SIZE='many'"):
        PredictionLog.from_env(tmp_path)
    monkeypatch.setenv("DEMANDCAST_LOG_BATCH_SIZE", "10")
    monkeypatch.setenv("DEMANDCAST_LOG_S3", "bucket/prefix")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        PredictionLog.from_env(tmp_path)
