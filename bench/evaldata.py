"""What the accuracy benchmarks share: the evaluate stage's data for a given config.

Used by bench/objectives.py, bench/peer.py and bench/accuracy.py; reads a project's
params.yaml and artifacts/features (this checkout's by default, or a scratch copy's)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent


def load(overrides=(), folds: int = 1, root: Path = ROOT) -> SimpleNamespace:
    """Config, spec, feature table (enough for ``folds`` folds), all-time prior inputs,
    static tables, truth and family names; from the pipeline's artifacts/features under
    ``root`` (this checkout: the demo pipeline's)."""
    from demandcast import config
    from demandcast.data import promotions
    from demandcast.features import feature_spec
    from demandcast.models import dataset, scoring

    cfg = config.load(list(overrides), params=root / "params.yaml", conf=root / "conf")
    spec = feature_spec.from_config(cfg.features)
    features = root / str(cfg.paths.artifacts) / "features"
    last = dataset.fold(cfg.data.end, spec, cfg.model, int(cfg.evaluate.horizon), folds - 1)
    table = dataset.load_table(features, spec, since=last.train_start)
    whole = dataset.load_table(features, spec, columns=dataset.PRIOR_INPUTS)
    static = dataset.read_static(root / str(cfg.paths.data), cfg.data)
    truth = scoring.read_truth(root / str(cfg.paths.truth))
    plan = promotions.read_plan(root / str(cfg.paths.data))
    families = sorted(static["items.csv"]["family"].unique())
    return SimpleNamespace(cfg=cfg, spec=spec, table=table, whole=whole, static=static, truth=truth,
                           plan=plan, families=families)


def model_fold(ctx, model_cfg, k: int, params: dict) -> dict:
    """Refit fold ``k`` with ``model_cfg`` and score its recursive forecasts with the baselines."""
    from omegaconf import OmegaConf

    from demandcast.models import evaluation, scoring

    cfg = OmegaConf.merge(ctx.cfg, {"model": model_cfg})
    fold, forecaster, online, shifted, priors = evaluation.fold_model(cfg, ctx.spec, ctx.table, ctx.whole,
                                                                     ctx.static, ctx.families, k, params)
    factor, _ = evaluation.calibrate(cfg, forecaster, ctx.static, ctx.spec, priors, shifted, ctx.truth,
                                     ctx.plan, fold, None)
    cells, _ = evaluation.forecast_window(forecaster, online, shifted, ctx.truth, ctx.plan, ctx.spec,
                                          fold.origin, int(cfg.evaluate.horizon))
    cells[scoring.MODEL] *= factor  # as the evaluate stage scores it
    return {"fold": fold, "cells": cells, "summary": scoring.summarize(cells), "shifted": shifted}
