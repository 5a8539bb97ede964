"""The BentoML service: the champion's forecasts over HTTP.

``POST /forecast`` (series in, daily forecasts with 80% and 95% intervals out),
``POST /predict`` (rows of precomputed features, adaptively batched), ``GET /metadata``,
``GET /catalog`` (stores, items and series served) and ``POST /history`` (their recent sales);
BentoML adds ``/livez``, ``/readyz`` (ready once the bundle is loaded), ``/metrics``
(Prometheus) and ``/docs``. The model and its serving snapshot come from the BentoML
model the package stage made (pinned in the bento); limits come from the bundle's
metadata (conf ``serve``). Environment:

``DEMANDCAST_API_TOKEN``
    Bearer token required on the API paths when set (off by default).
``DEMANDCAST_LOG_DIR``, ``DEMANDCAST_LOG_S3``, ``DEMANDCAST_LOG_S3_ENDPOINT``
    Where the prediction log goes (:mod:`demandcast.serving.prediction_log`); default ``./prediction-logs``.
``DEMANDCAST_BENTO_MODEL``
    The BentoML model tag (default ``demandcast-forecaster:latest``; a bento pins its own).
``DEMANDCAST_WORKERS``
    Worker processes (default: one per CPU core; each loads the bundle and forecasts
    independently, XGBoost single-threaded in each). Each worker keeps its own prediction
    log, so ``/metadata``'s ``prediction_log`` counters are those of the worker that answers.
``DEMANDCAST_THREADS``
    Forecast requests handled at once per worker (default 16): concurrent requests are
    merged into one engine pass (:mod:`demandcast.serving.coalescing`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from pathlib import Path

import bentoml
import numpy as np
from fastapi import FastAPI
from pydantic import Field
from starlette.responses import JSONResponse

from demandcast.errors import UserError
from demandcast.serving import bundle as bundles
from demandcast.serving.catalog import Catalog
from demandcast.serving.coalescing import Coalescer
from demandcast.serving.engine import Engine, Query
from demandcast.serving.http_guard import HttpGuard
from demandcast.serving.prediction_log import PredictionLog
from demandcast.serving.schemas import (
    LEVELS,
    CatalogResponse,
    ForecastResponse,
    HistoryResponse,
    Metadata,
    SeriesForecast,
    SeriesKey,
    SeriesRequest,
    feature_row,
)

MODEL_TAG = os.environ.get("DEMANDCAST_BENTO_MODEL", "demandcast-forecaster:latest")
MODEL = bentoml.models.BentoModel(MODEL_TAG)


def _manifest_names() -> list[str]:
    stored = MODEL.stored
    if stored is None:
        raise RuntimeError(f"BentoML model {MODEL_TAG} is not in the model store "
                           f"({bentoml.models.list()}): run the package stage (dvc repro package)")
    manifest = json.loads((Path(stored.path) / "manifest.json").read_text())
    return [f["name"] for f in manifest["features"]]


FeatureRow = feature_row(_manifest_names())
LIMITS = json.loads((Path(MODEL.stored.path) / "metadata.json").read_text()).get("serve", {})
MAX_SERIES = int(LIMITS.get("max_series", 2000))
MAX_HISTORY_DAYS = int(LIMITS.get("max_history_days", 400))
WORKERS = os.environ.get("DEMANDCAST_WORKERS", "cpu_count")



def _bad_input(exc: Exception, ctx) -> JSONResponse:
    """400 with the rule broken, as pydantic's own validation errors are answered."""
    if ctx is not None:  # BentoML copies the context's status onto a returned response
        ctx.response.status_code = 400
    return JSONResponse({"error": str(exc)}, status_code=400)


info = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.service(name="demandcast", workers=WORKERS if WORKERS == "cpu_count" else int(WORKERS),
                 threads=int(os.environ.get("DEMANDCAST_THREADS", "16")),
                 traffic={"timeout": 60, "max_concurrency": 256},
                 metrics={"enabled": True})
@bentoml.asgi_app(info, path="/")
class DemandForecast:
    bundle_model = MODEL

    def __init__(self) -> None:
        self._ready = False
        folder = Path(self.bundle_model.path)
        self.bundle = bundles.load(folder)
        meta = self.bundle.metadata
        self.engine = Engine(self.bundle, max_horizon=int(meta["max_horizon"]),
                             max_history_days=MAX_HISTORY_DAYS)
        self.coalescer = Coalescer(self.engine, max_series=2 * MAX_SERIES)
        self.names = self.engine.feature_names
        self.catalog = Catalog(self.bundle)
        self.model_version = f"{meta['model_name']}/{meta['model_version']}"
        self.log = PredictionLog.from_env(Path.cwd() / "prediction-logs")
        self._order = np.array([self.names.index(n) for n in self.bundle.forecaster.names])
        self._ready = True

    def __is_ready__(self) -> bool:
        return self._ready

    @bentoml.on_shutdown
    def _flush_log(self) -> None:
        self.log.close()

    @bentoml.api(route="/forecast")
    def forecast(self, requests: list[SeriesRequest] = Field(  # noqa: B008
            ..., min_length=1, max_length=MAX_SERIES,
            description=f"The series to forecast (1..{MAX_SERIES} per call)."),
            ctx: bentoml.Context = None) -> ForecastResponse:
        """Daily forecasts with 80% and 95% intervals for each series, from the champion."""
        began = time.perf_counter()
        request_id = _request_id(ctx)
        queries = [Query(r.store_nbr, r.item_nbr, r.horizon, r.start, list(r.promotions),
                         None if r.history is None else [(d.date, d.unit_sales, d.onpromotion)
                                                         for d in r.history], r.family) for r in requests]
        try:
            results = self.coalescer.forecast(queries)
        except UserError as exc:
            return _bad_input(exc, ctx)
        out = []
        for res in results:
            bands = {lvl: res.intervals[f"0.{lvl}"] for lvl in LEVELS}
            out.append(SeriesForecast.model_construct(
                store_nbr=res.query.store_nbr, item_nbr=res.query.item_nbr, dates=res.dates,
                forecast=res.forecast.tolist(),
                **{f"{side}_{lvl}": bands[lvl][k].tolist() for lvl in LEVELS
                   for k, side in enumerate(("lower", "upper"))}, **res.flags))
        latency_ms = (time.perf_counter() - began) * 1000
        stamp = dt.datetime.now(dt.UTC).isoformat()
        for res, request, answer in zip(results, requests, out, strict=True):
            self.log.write({
                "request_id": request_id, "timestamp": stamp, "endpoint": "forecast",
                "model_version": self.model_version, "latency_ms": latency_ms,
                "series": [res.query.store_nbr, res.query.item_nbr],
                # handed over as they are: the log's writer thread turns them into JSON
                "inputs": request, "features": None if res.features is None else
                {"names": self.names, "rows": res.features}, "outputs": answer})
        if ctx is not None:
            ctx.response.headers["x-request-id"] = request_id
        return ForecastResponse.model_construct(request_id=request_id, model_version=self.model_version,
                                                forecasts=out)

    @bentoml.api(route="/predict", batchable=True, max_batch_size=4096, max_latency_ms=50)
    def predict(self, rows: list[FeatureRow]) -> list[float]:
        """Expected units sold for rows of precomputed features (null = missing), one per row."""
        began = time.perf_counter()
        x = np.array([[np.nan if (v := getattr(r, n)) is None else v for n in self.names] for r in rows],
                     dtype=np.float64).reshape(len(rows), len(self.names))
        y = self.bundle.forecaster.predict_matrix(x[:, self._order])
        self.log.write({"request_id": uuid.uuid4().hex, "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                        "endpoint": "predict", "model_version": self.model_version,
                        "latency_ms": (time.perf_counter() - began) * 1000,
                        "inputs": None, "features": {"names": self.names, "rows": x},
                        "outputs": {"predictions": y}})
        return y.tolist()

    @bentoml.api(route="/history")
    def history(self, series: list[SeriesKey] = Field(  # noqa: B008
            ..., min_length=1, max_length=MAX_SERIES,
            description=f"The series whose served history to return (1..{MAX_SERIES} per call)."),
            days: int = Field(56, ge=1, le=MAX_HISTORY_DAYS,  # noqa: B008
                              description="Days up to the history end (fewer if the snapshot is shorter).")
            ) -> HistoryResponse:
        """Recent daily sales and promotion flags of each series, as the model saw them."""
        return HistoryResponse(
            history_end=self.catalog.history_end,
            series=self.catalog.history([(s.store_nbr, s.item_nbr) for s in series], days))

    @info.get("/catalog", response_model=CatalogResponse, summary="What the model serves")
    def catalog_listing(self) -> dict:
        """Stores (city, state, type, cluster), items (family, class, perishable), series with history."""
        return self.catalog.listing()

    @info.get("/metadata", response_model=Metadata, summary="Which model answers")
    def metadata(self) -> Metadata:
        """Registry name, version and alias, provenance, training metrics, limits, log counters."""
        meta = self.bundle.metadata
        return Metadata(**{k: meta[k] for k in (
            "model_name", "model_version", "alias", "run_id", "git_commit", "data_version",
            "feature_spec_hash", "history_end", "snapshot_start", "series", "max_horizon",
            "training_metrics", "test_window")},
            bentoml_model=str(self.bundle_model.tag), max_series_per_request=MAX_SERIES,
            features=self.names, prediction_log=self.log.stats())


DemandForecast.add_asgi_middleware(HttpGuard, max_body_bytes=int(LIMITS.get("max_body_bytes", 8_000_000)),
                                   token=os.environ.get("DEMANDCAST_API_TOKEN") or None)


def _request_id(ctx) -> str:
    given = None if ctx is None else ctx.request.headers.get("x-request-id")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex
