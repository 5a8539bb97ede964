"""What the accuracy benchmarks share: the evaluate stage's data for a given config."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(overrides=(), folds: int = 1) -> SimpleNamespace:
    """Config, spec, feature table (enough for ``folds`` folds), all-time prior inputs,
    static tables, truth and family names; from the demo pipeline's artifacts/features."""
    from stages import config, dataset, evaluate, feature_spec

    cfg = config.load(list(overrides))
    spec = feature_spec.from_config(cfg.features)
    features = ROOT / str(cfg.paths.artifacts) / "features"
    last = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon), folds - 1)
    table = dataset.load_table(features, spec, since=last.train_start)
    whole = dataset.load_table(features, spec, columns=dataset.PRIOR_INPUTS)
    static = dataset.read_static(ROOT / str(cfg.paths.data))
    truth = evaluate.read_truth(ROOT / str(cfg.paths.truth))
    families = sorted(static["items.csv"]["family"].unique())
    return SimpleNamespace(cfg=cfg, spec=spec, table=table, whole=whole, static=static, truth=truth,
                           families=families)


def model_fold(ctx, model_cfg, k: int, params: dict) -> dict:
    """Refit fold ``k`` with ``model_cfg`` and score its recursive forecasts with the baselines."""
    from omegaconf import OmegaConf

    from stages import evaluate

    cfg = OmegaConf.merge(ctx.cfg, {"model": model_cfg})
    fold, forecaster, online, shifted = evaluate.fold_model(cfg, ctx.spec, ctx.table, ctx.whole, ctx.static,
                                                            ctx.families, k, params)
    cells, _ = evaluate.forecast_window(forecaster, online, shifted, ctx.truth, ctx.spec, fold.origin,
                                        int(cfg.evaluate.horizon))
    return {"fold": fold, "cells": cells, "summary": evaluate.summarize(cells), "shifted": shifted}
