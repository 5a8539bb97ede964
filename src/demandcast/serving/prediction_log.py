"""Prediction log: every served forecast as one JSON line, written off the request path.

The service calls ``PredictionLog.write(record)`` once per prediction; the record is a
JSON-serialisable dict with at least ``request_id`` and ``timestamp`` (ISO-8601, UTC) and
usually the model version, inputs, features used, outputs and latency.

How it behaves, and why:

- **Request path.** ``write`` works out the record's partition and ``put_nowait``s it on an
  *unbounded* queue; the writer thread serialises it (a forecast's features are thousands
  of numbers: not the request's work). The record is handed over: the caller must not
  change it afterwards. ``write`` never does I/O, never blocks and never raises: an
  unserialisable record is logged and counted as ``rejected``, a write after ``close`` as
  ``dropped``. The queue is unbounded on
  purpose: blocking would slow predictions down and dropping would lose records, while
  the writer (a local append, or a local spool file while S3 is down) keeps far ahead of
  any request rate; ``stats()["pending"]`` shows a backlog. Lines are made with orjson
  (numpy arrays natively, NaN as null, dates as ISO text); pydantic models become their JSON
  form, anything else orjson cannot encode its ``str()``.
- **Batching.** One daemon thread drains the queue and stores a batch when it holds
  ``batch_size`` records or its oldest record is ``flush_seconds`` old.
- **Partitions** come from each record's own timestamp, in UTC: ``dt=YYYY-MM-DD/hour=HH``
  (a naive timestamp is taken as UTC; a missing or unreadable one falls back to now).
- **Local mode** (default) appends the batch's lines, fsynced, to
  ``<directory>/dt=.../hour=.../part-<pid>-<token>.jsonl``: one file per process and
  instance, so several service workers never interleave writes.
- **S3 mode** (``s3_uri="s3://bucket/prefix"``) puts one object per batch and partition,
  ``<prefix>/dt=.../hour=.../<batch-uuid>.jsonl``. The key is fixed when the batch is
  made, so every retry overwrites the same object: a retry never duplicates records.
- **Outage.** boto3 runs with a 1 s connect timeout, 5 s read timeout and no retries of its
  own, so an outage shows within a second. A failed upload (any error: refused, timeout, 5xx, even
  a missing bucket) writes the batch to ``<directory>/_spool/<key>`` (atomically: temp
  file, fsync, rename) and marks S3 down; later batches go straight to the spool instead
  of waiting on timeouts. Every ``retry_seconds`` the spool is uploaded file by file and
  each file is deleted only after its upload succeeded; when it is empty, S3 is up again.
  Spool files left by an earlier process (a crash, or a ``close`` during an outage) are
  uploaded as soon as a new ``PredictionLog`` with S3 starts. Two processes sharing a
  spool may upload the same file twice; the fixed key makes that harmless.
- **Shutdown.** ``flush`` waits until every record written so far is stored (in the
  local files, in S3, or in the spool). ``close`` flushes, tries the spool once more and
  stops the thread; what still cannot be uploaded stays in the spool, and a warning names
  it. ``close`` is also registered with ``atexit``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)

SPOOL = "_spool"
COUNTERS = ("written", "stored_local", "uploaded", "spooled", "retried", "rejected", "dropped", "lost")
_STOP = object()
_ORJSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# Fail fast when S3 is down. No botocore retries: their backoff (up to seconds) would stall the
# writer thread, and the spool is the retry; a pooled connection the server closed is replaced
# by urllib3 before use. (botocore's "max_attempts" counts retries; "total_max_attempts" the
# requests, first included.)
_S3_CONFIG = {"connect_timeout": 1.0, "read_timeout": 5.0,
              "retries": {"total_max_attempts": 1, "mode": "standard"}}


def partition_for(timestamp: Any) -> str:
    """The ``dt=YYYY-MM-DD/hour=HH`` partition of an ISO-8601 string or datetime, in UTC."""
    try:
        ts = timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(str(timestamp))
    except ValueError:
        ts = datetime.now(UTC)
    ts = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    return f"dt={ts:%Y-%m-%d}/hour={ts:%H}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")`` (prefix may be empty)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ValueError(f"prediction log S3 location {uri!r} must look like s3://bucket/prefix "
                         "(DEMANDCAST_LOG_S3)")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _s3_client(endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=Config(**_S3_CONFIG))


class PredictionLog:
    """Asynchronous, batched, partitioned JSON-lines log of served predictions."""

    def __init__(self, directory, s3_uri: str | None = None, *, endpoint_url: str | None = None,
                 batch_size: int = 256, flush_seconds: float = 1.0, retry_seconds: float = 2.0):
        if batch_size < 1 or flush_seconds <= 0 or retry_seconds <= 0:
            raise ValueError(f"prediction log needs batch_size >= 1 and positive flush/retry seconds, got "
                             f"{batch_size=}, {flush_seconds=}, {retry_seconds=}")
        self.directory = Path(directory)
        self.s3_uri = s3_uri
        self.spool_directory = self.directory / SPOOL
        self._bucket, self._prefix = parse_s3_uri(s3_uri) if s3_uri else ("", "")
        self._s3 = _s3_client(endpoint_url) if s3_uri else None
        self._batch_size, self._flush_seconds, self._retry_seconds = batch_size, flush_seconds, retry_seconds
        self._token = uuid.uuid4().hex[:8]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._handled = 0
        self._s3_down = False
        self._next_retry = time.monotonic()  # a spool left by an earlier process goes up at once
        self._spool_files = len(self._spooled())
        if self._spool_files and self._s3 is None:
            logger.warning("prediction log: %d batch files in %s wait for S3, but no S3 location is set "
                           "(DEMANDCAST_LOG_S3); they stay there", self._spool_files, self.spool_directory)
            self._spool_files = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @classmethod
    def from_env(cls, default_directory) -> PredictionLog:
        """Configured by DEMANDCAST_LOG_DIR, DEMANDCAST_LOG_S3, DEMANDCAST_LOG_S3_ENDPOINT and
        the optional DEMANDCAST_LOG_BATCH_SIZE, _FLUSH_SECONDS and _RETRY_SECONDS."""
        env, knobs = os.environ, {}
        for name, kind in (("batch_size", int), ("flush_seconds", float), ("retry_seconds", float)):
            variable = f"DEMANDCAST_LOG_{name.upper()}"
            if env.get(variable):
                try:
                    knobs[name] = kind(env[variable])
                except ValueError:
                    raise ValueError(f"{variable}={env[variable]!r} is not a valid {kind.__name__}") from None
        return cls(env.get("DEMANDCAST_LOG_DIR") or default_directory, env.get("DEMANDCAST_LOG_S3") or None,
                   endpoint_url=env.get("DEMANDCAST_LOG_S3_ENDPOINT") or None, **knobs)

    def write(self, record: dict) -> None:
        """Enqueue one record; no I/O, never raises."""
        try:
            partition = partition_for(record.get("timestamp"))
        except Exception:
            logger.exception("prediction log: record is not a JSON-serialisable dict; not logged")
            self._count("rejected", 1)
            return
        with self._lock:  # the check and the put under one lock: nothing can slip in behind _STOP
            if self._closed:
                self._counts["dropped"] += 1
                logger.error("prediction log is closed; record %s not logged", record.get("request_id"))
                return
            self._counts["written"] += 1
            self._queue.put_nowait((partition, record))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every record written so far is stored; False if that took over ``timeout``."""
        done = threading.Event()
        with self._lock:
            if self._closed:
                return not self._thread.is_alive() and self._counts["written"] == self._handled
            self._queue.put_nowait(done)
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush, try the spool once more and stop the writer thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put_nowait(_STOP)
        atexit.unregister(self.close)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("prediction log: writer still busy after %.0f s; %d records pending",
                           timeout, self.stats()["pending"])
        elif self._s3 is not None and (left := self._spooled()):
            logger.warning("prediction log: S3 still unreachable at shutdown; %d batch files stay in the "
                           "spool %s and are uploaded when a PredictionLog on %s starts with S3 reachable",
                           len(left), self.spool_directory, self.directory)

    def stats(self) -> dict:
        """Record counters since start (``retried`` counts records uploaded from the spool, also
        those an earlier process left), ``pending`` (written, not yet stored), spool state."""
        with self._lock:
            stats: dict[str, Any] = dict(self._counts, pending=self._counts["written"] - self._handled)
        return stats | {"spool_files": self._spool_files, "s3_down": self._s3_down}

    # --- the writer thread -------------------------------------------------------------

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            self._counts[name] += n

    def _run(self) -> None:
        batch: list[tuple[str, dict]] = []
        deadline: float | None = None
        while True:
            waits = [] if deadline is None else [deadline]
            waits += [self._next_retry] if self._spool_files else []
            try:
                item = self._queue.get(timeout=max(0.0, min(waits) - time.monotonic()) if waits else None)
            except queue.Empty:
                item = None
            if isinstance(item, tuple):
                batch.append(item)
                deadline = deadline or time.monotonic() + self._flush_seconds
                if len(batch) < self._batch_size and time.monotonic() < deadline:
                    continue
            if batch:
                self._store(batch)
                batch, deadline = [], None
            if item is _STOP:
                if self._spool_files:
                    self._retry_spool()
                return
            if isinstance(item, threading.Event):
                item.set()
            if self._spool_files and time.monotonic() >= self._next_retry:
                self._retry_spool()

    def _store(self, batch: list[tuple[str, dict]]) -> None:
        groups: dict[str, list[bytes]] = defaultdict(list)
        for partition, record in batch:
            try:
                groups[partition].append(orjson.dumps(record, default=_plain, option=_ORJSON) + b"\n")
            except Exception:
                logger.exception("prediction log: record %r is not JSON-serialisable; not logged",
                                 record.get("request_id"))
                self._count("rejected", 1)
        batch_id = uuid.uuid4().hex
        for partition, lines in groups.items():
            body = b"".join(lines)
            key = f"{self._prefix}{partition}/{batch_id}.jsonl"
            try:
                if self._s3 is None:
                    self._append_local(partition, body)
                    self._count("stored_local", len(lines))
                elif not self._s3_down and self._put(key, body):
                    self._count("uploaded", len(lines))
                else:
                    self._spool(key, body)
                    self._count("spooled", len(lines))
            except Exception:
                logger.exception("prediction log: %d records of %s could not be stored",
                                 len(lines), partition)
                self._count("lost", len(lines))
        with self._lock:
            self._handled += len(batch)

    def _append_local(self, partition: str, body: bytes) -> None:
        path = self.directory / partition / f"part-{os.getpid()}-{self._token}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())

    def _put(self, key: str, body: bytes) -> bool:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/x-ndjson")
            return True
        except Exception as exc:
            if not self._s3_down:
                logger.warning("prediction log: upload to s3://%s/%s failed (%s); spooling to %s, "
                               "retrying every %.1f s", self._bucket, key, exc, self.spool_directory,
                               self._retry_seconds)
            self._s3_down = True
            self._next_retry = time.monotonic() + self._retry_seconds
            return False

    def _spool(self, key: str, body: bytes) -> None:
        path = self.spool_directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")  # not *.jsonl: never picked up half-written
        with open(partial, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
        self._spool_files += 1

    def _spooled(self) -> list[Path]:
        return sorted(self.spool_directory.rglob("*.jsonl"))

    def _retry_spool(self) -> None:
        try:
            for path in self._spooled():
                try:
                    body = path.read_bytes()
                except FileNotFoundError:  # another process sharing the spool uploaded it
                    continue
                if not self._put(path.relative_to(self.spool_directory).as_posix(), body):
                    return
                path.unlink(missing_ok=True)
                self._count("uploaded", body.count(b"\n"))
                self._count("retried", body.count(b"\n"))
                self._spool_files = max(0, self._spool_files - 1)
        except OSError:  # an unreadable spool must not stop the writer thread: try again later
            logger.exception("prediction log: could not read the spool %s", self.spool_directory)
            self._next_retry = time.monotonic() + self._retry_seconds
            return
        if self._s3_down:
            logger.warning("prediction log: S3 reachable again; spool %s uploaded", self.spool_directory)
        self._s3_down, self._spool_files = False, 0


def read_records(directory=None, s3_uri: str | None = None, endpoint_url: str | None = None) -> list[dict]:
    """Every logged record: S3 objects under ``s3_uri`` if given, else the JSON lines under
    ``directory`` (its ``_spool`` left out; pass ``<directory>/_spool`` to read the spool)."""
    if s3_uri:
        bucket, prefix = parse_s3_uri(s3_uri)
        s3 = _s3_client(endpoint_url)
        sources = [(f"s3://{bucket}/{obj['Key']}",
                    s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode())
                   for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                   for obj in page.get("Contents", []) if obj["Key"].endswith(".jsonl")]
    elif directory is not None:
        root = Path(directory)
        sources = [(str(path), path.read_text(encoding="utf-8")) for path in sorted(root.rglob("*.jsonl"))
                   if SPOOL not in path.relative_to(root).parts]
    else:
        raise ValueError("read_records needs a directory or an s3_uri")
    return [record for where, text in sources for record in _parse_lines(where, text)]


def _parse_lines(where: str, text: str) -> list[dict]:
    lines, records = text.split("\n"), []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines):  # no newline after it: a write torn by a crash
                logger.warning("prediction log: skipping the torn last line of %s", where)
                continue
            raise ValueError(f"{where} line {number} is not a JSON record ({exc}); "
                             "move the file aside to read the rest") from None
    return records


def _plain(value: Any) -> Any:
    """JSON for what json cannot encode itself: numpy values, pydantic models, else str()."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
