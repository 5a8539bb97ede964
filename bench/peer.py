"""Benchmark: our model against a peer, mlforecast + LightGBM, on the same split and cells.

    uv run python bench/peer.py

The peer is what a careful team builds with Nixtla's mlforecast: LightGBM (Poisson loss),
the same lags (1, 7, 14, 28), rolling mean/std over 7 and 30 days of lag 1, calendar date
features, store/item/family/cluster as static features and the promotion flag as a known
future input; mlforecast forecasts recursively too. It is fit on every row up to the test
origin (more recent data than ours, which holds out the validation window), then both
forecast the test window's 28 days from the same origin and are scored on the same cells
as the evaluate stage. Needs the demo features and the tune stage's best parameters
(dvc repro). Figures: reports/bench_peer.json.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from evaldata import ROOT, load, model_fold


def peer_forecast(ctx, fold, cells: pd.DataFrame) -> tuple[np.ndarray, float]:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd

    spec = ctx.spec
    # With model.train_days=null the model trains on all history (no start): so does the peer.
    start = ctx.table["date"].min() if fold.train_start is None else pd.Timestamp(fold.train_start)
    history = ctx.table[(ctx.table["date"] >= start) & (ctx.table["date"] <= pd.Timestamp(fold.origin))]
    uid = lambda f: f["store_nbr"].astype(str) + "_" + f["item_nbr"].astype(str)  # noqa: E731
    statics = ["store_nbr", "item_nbr", "family_code", "cluster"]
    train = pd.DataFrame({"unique_id": uid(history), "ds": history["date"], "y": history[spec.target].clip(0),
                          "onpromotion": history["onpromotion"], **{c: history[c] for c in statics}})
    model = lgb.LGBMRegressor(objective="poisson", n_estimators=500, learning_rate=0.05, num_leaves=63,
                              min_child_samples=20, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              random_state=0, n_jobs=2, verbose=-1)
    fcst = MLForecast(models={"lgbm": model}, freq="D", lags=list(spec.lags),
                      lag_transforms={1: [RollingMean(7), RollingStd(7), RollingMean(30), RollingStd(30)]},
                      date_features=["dayofweek", "month", "day", "dayofyear"])
    began = time.perf_counter()
    fcst.fit(train, static_features=statics)
    # Series still running at the origin (mlforecast forecasts each from its own last day).
    ends = train.groupby("unique_id")["ds"].max()
    ids = ends.index[ends == pd.Timestamp(fold.origin)]
    current = train[train["unique_id"].isin(ids)]
    days = pd.date_range(pd.Timestamp(fold.origin) + pd.Timedelta(days=1), periods=fold.horizon)
    future = pd.DataFrame({"unique_id": np.repeat(ids, len(days)), "ds": np.tile(days, len(ids))})
    plan = pd.DataFrame({"unique_id": uid(cells), "ds": cells["date"], "onpromotion": cells["onpromotion"]})
    future = future.merge(plan, on=["unique_id", "ds"], how="left").fillna({"onpromotion": 0})
    out = fcst.predict(h=fold.horizon, new_df=current, X_df=future)
    seconds = time.perf_counter() - began
    got = pd.DataFrame({"unique_id": uid(cells), "ds": cells["date"]}).merge(out, on=["unique_id", "ds"],
                                                                            how="left")["lgbm"]
    return got.fillna(0).clip(lower=0).to_numpy(), seconds


def main() -> None:
    from demandcast.models import metrics

    ctx = load()
    best = ROOT / str(ctx.cfg.paths.artifacts) / "tune" / "best_params.json"
    tuned = json.loads(best.read_text())["params"]
    began = time.perf_counter()
    ours = model_fold(ctx, dict(ctx.cfg.model), 0, tuned)
    ours_seconds = time.perf_counter() - began
    cells = ours["cells"]
    cells["peer"], peer_seconds = peer_forecast(ctx, ours["fold"], cells)
    report = {"test_window": [str(d) for d in ours["fold"].forecast_days], "cells": len(cells),
              "ours": {**metrics.scores(cells["actual"], cells["model"]), "seconds": round(ours_seconds, 1)},
              "peer_mlforecast_lightgbm": {**metrics.scores(cells["actual"], cells["peer"]),
                                           "seconds": round(peer_seconds, 1)},
              "oracle": metrics.scores(cells["actual"], cells["oracle"]),
              "seasonal_naive": metrics.scores(cells["actual"], cells["seasonal_naive"])}
    report["wape_ours_to_peer"] = report["ours"]["wape"] / report["peer_mlforecast_lightgbm"]["wape"]
    for name in ("ours", "peer_mlforecast_lightgbm", "seasonal_naive", "oracle"):
        r = report[name]
        print(f"{name:>26}: WAPE {r['wape']:.4f}  RMSE {r['rmse']:.3f}  MAE {r['mae']:.3f}  "
              f"bias {r['bias']:+.3f}")
    print(f"{'ours / peer WAPE':>26}: {report['wape_ours_to_peer']:.3f}")
    out = ROOT / "reports" / "bench_peer.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
