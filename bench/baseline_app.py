"""The baseline of bench/serve.py: the champion served the way a typical first version does.

    DEMANDCAST_BASELINE_BUNDLE=<bundle folder> uvicorn bench.baseline_app:app --workers 1

FastAPI + uvicorn, ``POST /forecast`` with the service's request shape (store_nbr, item_nbr,
horizon; forecasts from the day after the history end, no promotions) and response shape.
The bundle and the online features (static tables, priors) are loaded once at startup; each
request then works series by series and day by day with pandas: the series' rows picked
from the snapshot with a boolean mask, one ``OnlineFeatures.compute`` and one
``Forecaster.predict`` per day, the day's forecast appended to the history frame (the
recursion of ``step_by_step`` in tests/test_forecast.py). Same model, same features, so the
same numbers as the service; only the way they are computed differs.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

import pandas as pd
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

STATE: dict = {}


@asynccontextmanager
async def lifespan(_: FastAPI):
    from demandcast.models import dataset
    from demandcast.serving import bundle

    folder = os.environ.get("DEMANDCAST_BASELINE_BUNDLE")
    if not folder:
        raise RuntimeError("set DEMANDCAST_BASELINE_BUNDLE to a serving bundle folder "
                           "(the BentoML model demandcast-forecaster in the bento)")
    b = bundle.load(folder)
    history_end = pd.Timestamp(b.metadata["history_end"])
    STATE.update(bundle=b, origin=history_end, history=b.history,
                 online=dataset.online({**b.static, "transactions.csv": b.transactions}, b.spec, b.priors,
                                       known_until=history_end.date()),
                 version=f"{b.metadata['model_name']}/{b.metadata['model_version']}")
    yield
    STATE.clear()


app = FastAPI(lifespan=lifespan)


class SeriesRequest(BaseModel):
    store_nbr: int
    item_nbr: int
    horizon: int = 28


class ForecastRequest(BaseModel):
    requests: list[SeriesRequest]


@app.get("/readyz")
def readyz() -> dict:
    return {"ready": bool(STATE)}


@app.post("/forecast")
def forecast(body: ForecastRequest) -> dict:
    return {"request_id": None, "model_version": STATE["version"],
            "forecasts": [one_series(r.store_nbr, r.item_nbr, r.horizon) for r in body.requests]}


def one_series(store_nbr: int, item_nbr: int, horizon: int) -> dict:
    from demandcast.models import conformal

    b, online, origin = STATE["bundle"], STATE["online"], STATE["origin"]
    target = b.spec.target
    history = STATE["history"]
    rows = history[(history["store_nbr"] == store_nbr) & (history["item_nbr"] == item_nbr)]
    if rows.empty:
        raise HTTPException(404, f"store_nbr {store_nbr}, item_nbr {item_nbr} has no history")
    frame = rows[["store_nbr", "item_nbr", "date", target, "onpromotion"]]
    if rows["date"].max() < origin:  # days without a row up to the origin sold nothing
        frame = pd.concat([frame, pd.DataFrame({"store_nbr": [store_nbr], "item_nbr": [item_nbr],
                                                "date": [origin], target: [0.0], "onpromotion": [0]})],
                          ignore_index=True)
    dates, values = [], []
    for h in range(1, horizon + 1):
        day = origin + pd.Timedelta(days=h)
        step = pd.DataFrame({"store_nbr": [store_nbr], "item_nbr": [item_nbr], "date": [day],
                             "onpromotion": [0]})
        features = online.compute(frame, step)
        value = float(b.forecaster.predict(features)[0])
        frame = pd.concat([frame, step.assign(**{target: value})], ignore_index=True)
        dates.append(day.date().isoformat())
        values.append(value)
    values = [v * b.level for v in values]  # the evaluate stage's level factor, as the service applies it
    bands = conformal.intervals(values, list(range(1, horizon + 1)), b.widths)
    out = {"store_nbr": store_nbr, "item_nbr": item_nbr, "dates": dates, "forecast": values}
    for level in ("80", "95"):
        lower, upper = bands[f"0.{level}"]
        out[f"lower_{level}"], out[f"upper_{level}"] = lower.tolist(), upper.tolist()
    return {**out, "fallback": None}
