"""Where a fold's model is fitted (``model.engine``): one choice for the train stage, the
backtest's refits and the benchmarks.

* ``local``: the fold's rows in a DataFrame, :func:`demandcast.models.boosting.fit` (the
  default; the demo's committed model bytes are this route's).
* ``streamed``: XGBoost from the feature files a month at a time into a ``QuantileDMatrix``
  (:mod:`demandcast.models.streaming`): tables bigger than memory on one machine; tuning
  and evaluation then read the feature table the same way.
* ``spark``: ``xgboost.spark`` on the Spark session of ``conf/spark``
  (:mod:`demandcast.models.distributed`): a cluster, for data bigger than one machine.
"""

from __future__ import annotations

from demandcast.errors import UserError
from demandcast.features.feature_spec import Spec
from demandcast.models import boosting, dataset
from demandcast.models.dataset import Fold

ENGINES = ("local", "streamed", "spark")


def engine(model_cfg) -> str:
    """``model.engine`` (``local`` when the key is absent)."""
    name = str(model_cfg.get("engine") or "local")
    if name not in ENGINES:
        raise UserError(f"model.engine={name!r} is not one of {list(ENGINES)} (conf/model/xgboost.yaml)")
    return name


def fit_with_engine(cfg, features_dir, spec: Spec, fold: Fold,
                    overrides: dict | None = None) -> boosting.Fitted:
    """Fold ``fold``'s model (with the feature table's own priors) on ``model.engine``."""
    seed, chosen = int(cfg.seed), engine(cfg.model)
    if chosen == "spark":
        from demandcast.models import distributed

        with distributed.spark_session(cfg.spark) as spark:
            return distributed.fit(spark, features_dir, spec, fold, cfg.model, overrides, seed)
    if chosen == "streamed":
        from demandcast.models import streaming

        return streaming.fit(features_dir, spec, fold, cfg.model, overrides, seed)
    table = dataset.load_table(features_dir, spec, since=fold.train_start)
    train, valid = dataset.windows(table, fold)
    booster = boosting.fit(train, valid, spec.names(), spec.target, cfg.model, overrides, seed)
    return boosting.Fitted(booster, len(train), len(valid), valid[spec.names()].head(5))
