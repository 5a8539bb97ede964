"""The prediction logs read back: what the service served on a range of days.

The service writes one JSON line per served forecast (:mod:`demandcast.serving.prediction_log`)
under ``dt=YYYY-MM-DD/hour=HH/`` in a local folder or an S3 prefix. :func:`read` lists the
partitions of the days asked for, reads them without changing anything (the local spool of
batches not yet uploaded is not read) and returns :class:`Served`:

``cells``
    One row per forecast day of every ``/forecast`` record: ``store_nbr, item_nbr, date``,
    ``horizon`` (1 = the forecast's first day, the day after the origin it was made from),
    ``forecast``, the interval bounds ``lower_0.8 ... upper_0.95``, ``fallback`` (a prior
    answered, not the model), ``model_version``, ``served`` (the log day) and the watched
    features. A feature the recursion fed back is set missing: ``lag_k`` on horizon > k and
    the rolling windows after the first day hold the model's own forecasts, not
    observations, and drift compares observed inputs with the training rows.
``predict_rows``
    The watched features and the prediction of each ``/predict`` row (no keys, no dates).

A line that is not JSON (a write cut short, a bad disk) or not a prediction record is
counted and skipped with a message naming its file and line; the days that had no
predictions are listed, and a range with none at all is an error that says where it looked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from demandcast.errors import UserError
from demandcast.serving.prediction_log import SPOOL, parse_s3_uri

LEVELS = ("0.8", "0.95")
BANDS = {f"{side}_{lvl}": f"{side}_{lvl.removeprefix('0.').ljust(2, '0')}"   # lower_0.8 <- lower_80
         for lvl in LEVELS for side in ("lower", "upper")}
SHOWN_PROBLEMS = 10


@dataclass
class Served:
    cells: pd.DataFrame
    predict_rows: pd.DataFrame
    days: list[dt.date]
    empty_days: list[dt.date]
    records: int = 0
    files: int = 0
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)  # the first SHOWN_PROBLEMS, "file line N: why"


def observed_until(name: str) -> float:
    """The last horizon on which feature ``name`` is an observation in a recursive forecast."""
    if m := re.fullmatch(r"lag_(\d+)", name):
        return int(m.group(1))
    return 1 if name.startswith("roll_") else np.inf


def read(days: list[dt.date], watched: list[str], directory=None, s3_uri: str | None = None,
         endpoint_url: str | None = None) -> Served:
    """The records logged on ``days`` (UTC), from ``s3_uri`` if given, else ``directory``."""
    where = s3_uri or str(directory)
    s3 = None
    if s3_uri:
        import boto3

        s3 = boto3.session.Session().client("s3", endpoint_url=endpoint_url)
    collect = _Collector(watched)
    problems: list[str] = []
    bad = files = 0
    empty = []
    for day in days:
        before = collect.records
        for name, lines in _sources(day, directory, s3_uri, s3):
            files += 1
            for number, line in lines:
                if not line.strip():
                    continue
                try:
                    collect.add(orjson.loads(line), day)
                except (orjson.JSONDecodeError, _NotARecord) as exc:
                    bad += 1
                    why = ("a line cut short (no newline at its end)" if not line.endswith(b"\n")
                           else f"not a JSON record ({exc})" if isinstance(exc, orjson.JSONDecodeError)
                           else str(exc))
                    if len(problems) < SHOWN_PROBLEMS:
                        problems.append(f"{name} line {number}: {why}")
        if collect.records == before:
            empty.append(day)
    if len(empty) == len(days):
        span = f"{days[0]}..{days[-1]}" if days else "(no days)"
        raise UserError(f"no predictions logged in {where} on {span}: no dt=YYYY-MM-DD partition "
                        f"of those days holds a record{f' ({bad} bad lines)' if bad else ''}. Is the "
                        "service logging there (DEMANDCAST_LOG_DIR / DEMANDCAST_LOG_S3), and are "
                        "monitor.logs.start / end / days the days it served?")
    cells, predict_rows = collect.frames()
    return Served(cells, predict_rows, list(days), empty, collect.records, files, bad, problems)


def _sources(day: dt.date, directory, s3_uri, s3) -> Iterator[tuple[str, Iterator]]:
    """(name, numbered lines) of each log file of ``day``'s partition (``s3``: a boto3 client)."""
    partition = f"dt={day.isoformat()}/"
    if s3_uri:
        bucket, prefix = parse_s3_uri(s3_uri)
        try:
            keys = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix + partition) for obj in page.get("Contents", [])
                if obj["Key"].endswith(".jsonl")]
            for key in sorted(keys):
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                yield f"s3://{bucket}/{key}", enumerate(body.splitlines(keepends=True), start=1)
        except Exception as exc:  # botocore's errors: no bucket, no credentials, no endpoint
            if isinstance(exc, UserError):
                raise
            raise UserError(f"cannot read the prediction logs at s3://{bucket}/{prefix}{partition}: "
                            f"{exc} (monitor.logs.s3, monitor.logs.s3_endpoint, AWS credentials)") from None
        return
    folder = Path(directory) / partition
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.jsonl")):
        if SPOOL in path.parts:
            continue
        with open(path, "rb") as lines:
            yield str(path), enumerate(lines, start=1)


class _NotARecord(ValueError):
    pass


class _Collector:
    """Turns records into column arrays, one row per forecast day (or /predict row)."""

    def __init__(self, watched: list[str]):
        self.watched = list(watched)
        self.until = np.array([observed_until(n) for n in self.watched], dtype=np.float64)
        self._index: dict[tuple, np.ndarray] = {}
        self.records = 0
        self.cols: dict[str, list] = {k: [] for k in (
            "store_nbr", "item_nbr", "date", "horizon", "forecast", *BANDS, "fallback",
            "model_version", "served", "features")}
        self.predict: dict[str, list] = {"features": [], "prediction": []}

    def add(self, record, day: dt.date) -> None:
        if not isinstance(record, dict):
            raise _NotARecord("not a prediction record (a JSON object is expected)")
        try:
            if record.get("endpoint") == "predict":
                self._add_predict(record)
            else:
                self._add_forecast(record, day)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _NotARecord(f"not a prediction record ({type(exc).__name__}: {exc})") from None
        self.records += 1

    def _features(self, features, n: int) -> np.ndarray:
        if not features:
            return np.full((n, len(self.watched)), np.nan, dtype=np.float32)
        names = tuple(features["names"])
        if names not in self._index:
            where = {name: i for i, name in enumerate(names)}
            self._index[names] = np.array([where.get(n, -1) for n in self.watched], dtype=np.int64)
        index = self._index[names]
        rows = np.asarray(features["rows"], dtype=np.float64).reshape(n, len(names))
        out = np.where(index >= 0, rows[:, np.maximum(index, 0)], np.nan)
        return out.astype(np.float32)

    def _add_forecast(self, record: dict, day: dt.date) -> None:
        out = record["outputs"]
        dates = np.asarray(out["dates"], dtype="datetime64[D]")
        n = len(dates)
        forecast = np.asarray(out["forecast"], dtype=np.float64)
        if n == 0 or forecast.shape != (n,):
            raise ValueError(f"{n} dates but {forecast.size} forecasts")
        x = self._features(record.get("features"), n)
        horizon = np.arange(1, n + 1)
        x[horizon[:, None] > self.until[None, :]] = np.nan  # fed back by the recursion
        c = self.cols
        c["store_nbr"].append(np.full(n, int(out["store_nbr"]), dtype=np.int64))
        c["item_nbr"].append(np.full(n, int(out["item_nbr"]), dtype=np.int64))
        c["date"].append(dates)
        c["horizon"].append(horizon)
        c["forecast"].append(forecast)
        for band, key in BANDS.items():
            values = out.get(key)
            c[band].append(np.full(n, np.nan) if values is None else np.asarray(values, dtype=np.float64))
        c["fallback"].append(np.full(n, out.get("fallback") is not None))
        c["model_version"].append(np.full(n, str(record.get("model_version")), dtype=object))
        c["served"].append(np.full(n, np.datetime64(day, "D")))
        c["features"].append(x)

    def _add_predict(self, record: dict) -> None:
        prediction = np.asarray(record["outputs"]["predictions"], dtype=np.float64).ravel()
        self.predict["features"].append(self._features(record["features"], len(prediction)))
        self.predict["prediction"].append(prediction)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        c = self.cols
        if c["date"]:
            cells = pd.DataFrame({k: np.concatenate(v) for k, v in c.items() if k != "features"})
            cells["date"] = cells["date"].astype("datetime64[ns]")
            cells["served"] = cells["served"].astype("datetime64[ns]")
            cells["model_version"] = cells["model_version"].astype("category")
            features = pd.DataFrame(np.concatenate(c["features"]), columns=self.watched)
            cells = pd.concat([cells, features], axis=1)
        else:
            cells = pd.DataFrame(columns=[*(k for k in c if k != "features"), *self.watched])
        p = self.predict
        predict_rows = pd.DataFrame(np.concatenate(p["features"]) if p["features"] else
                                    np.empty((0, len(self.watched)), np.float32), columns=self.watched)
        predict_rows["prediction"] = np.concatenate(p["prediction"]) if p["prediction"] else np.empty(0)
        return cells, predict_rows
