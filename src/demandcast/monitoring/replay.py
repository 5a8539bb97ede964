"""Replaying a newer export's weeks against a running service, as planners would have asked.

For the demo and the tests: the service was packaged with history up to ``history_end``;
the newer export (``data/later/train.csv`` of a ``later_days`` preset) holds what happened
after. At each weekly origin the planner asks for the next ``horizon`` days of every series,
giving the days since ``history_end`` as the series' ``history`` (zero days written out) and
that export's promotion days as the planned ``promotions``. The service logs each forecast,
which the monitor then reads back and scores against the same export.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import numpy as np
import pandas as pd

from demandcast.errors import UserError

RECENT_DAYS = 56  # a series sold within this many days before the history end is still asked for


def read_export(path, history_end: dt.date) -> pd.DataFrame:
    """The export's train.csv rows from ``RECENT_DAYS`` before ``history_end`` on."""
    try:
        frame = pd.read_csv(path, usecols=["date", "store_nbr", "item_nbr", "unit_sales", "onpromotion"],
                            parse_dates=["date"], dtype={"onpromotion": "boolean"})
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the export {path} ({exc}): monitor.replay.export names a "
                        "train.csv that runs past the served history (a later_days preset writes "
                        "data/later/train.csv)") from None
    frame = frame[frame["date"] > pd.Timestamp(history_end - dt.timedelta(days=RECENT_DAYS))]
    frame["onpromotion"] = frame["onpromotion"].fillna(False).astype(bool)
    return frame.reset_index(drop=True)


def requests(export: pd.DataFrame, series: list[tuple[int, int]], history_end: dt.date, origin: dt.date,
             horizon: int) -> list[dict]:
    """One /forecast request item per series: history_end+1..origin as history, forecast from origin+1."""
    if origin < history_end:
        raise UserError(f"origin {origin} is before the served history's end {history_end}")
    known_days = pd.date_range(history_end + dt.timedelta(days=1), origin, freq="D")
    first, last = (pd.Timestamp(origin + dt.timedelta(days=k)) for k in (1, horizon))
    by_series = {key: rows for key, rows in export.groupby(["store_nbr", "item_nbr"])}
    empty = export.iloc[0:0]
    items = []
    for store, item in series:
        rows = by_series.get((store, item), empty)
        known = rows[rows["date"] <= pd.Timestamp(origin)].set_index("date")
        sales = known["unit_sales"].reindex(known_days, fill_value=0.0)
        promo = known["onpromotion"].reindex(known_days, fill_value=False)
        planned = rows[(rows["date"] >= first) & (rows["date"] <= last) & rows["onpromotion"]]
        body = {"store_nbr": int(store), "item_nbr": int(item), "horizon": int(horizon),
                "start": (origin + dt.timedelta(days=1)).isoformat(),
                "promotions": [d.date().isoformat() for d in planned["date"]]}
        if len(known_days):
            body["history"] = [{"date": d.date().isoformat(), "unit_sales": float(s), "onpromotion": bool(p)}
                               for d, s, p in zip(known_days, sales.to_numpy(np.float64),
                                                  promo.to_numpy(bool), strict=True)]
        items.append(body)
    return items


def post(url: str, path: str, body: dict | None = None, timeout: float = 120) -> dict:
    """JSON over HTTP (GET when ``body`` is None); a non-2xx answer is a UserError with its body."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url.rstrip('/')}{path}", data=data,
                                 method="GET" if body is None else "POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise UserError(f"{url}{path} answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise UserError(f"cannot reach the service at {url} ({exc.reason}): is it running?") from None


def replay(url: str, export_path, origins: int, every_days: int, horizon: int, batch: int) -> dict:
    """Ask the service at ``url`` for every recent series at ``origins`` weekly origins (the
    first ``every_days`` after the served history's end); return what was asked."""
    meta = post(url, "/metadata")
    history_end = dt.date.fromisoformat(str(meta["history_end"]))
    export = read_export(export_path, history_end)
    last = export["date"].max().date() if len(export) else history_end
    days = [history_end + dt.timedelta(days=every_days * (k + 1)) for k in range(int(origins))]
    if not days or days[-1] > last:
        raise UserError(f"the export {export_path} ends {last}: it cannot give the history up to the last "
                        f"origin {days[-1] if days else '(none)'}; ask for fewer origins")
    limit = min(int(batch), int(meta.get("max_series_per_request", batch)))
    series = sorted({(int(s), int(i)) for s, i in zip(export["store_nbr"], export["item_nbr"], strict=True)})
    served = 0
    for origin in days:
        items = requests(export, series, history_end, origin, horizon)
        for k in range(0, len(items), limit):
            served += len(post(url, "/forecast", {"requests": items[k:k + limit]})["forecasts"])
    return {"history_end": history_end.isoformat(), "origins": [d.isoformat() for d in days],
            "series": len(series), "forecasts": served, "model_version": meta.get("model_version")}
