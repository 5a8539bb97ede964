"""The train stage's distributed route: XGBoost on Spark (``xgboost.spark``), for feature
tables bigger than one machine's memory (``model.engine: spark``).

It mirrors the local route (:func:`demandcast.models.boosting.fit` on
:func:`demandcast.models.dataset.windows`) argument for argument: the same fold windows,
feature columns in ``spec.names()`` order, label transform, objective, parameters, seed and
early stopping on the validation rows. The rows never come to the driver: Spark reads the
feature table, keeps the fold's rows and hands them to ``model.num_workers`` XGBoost
workers (one Spark task each, all running together in a barrier stage), which build one
model together. What comes back is a plain ``xgboost.Booster`` in the project's
:class:`~demandcast.models.boosting.Forecaster`, so evaluate, register, package and serving
use it unchanged.

The priors are the feature table's own ``prior_*`` columns, as :func:`dataset.load_table`
reads them for the local route: the features stage computed them up to fold 0's validation
window, so this route is for fold 0, the train stage's (the backtest's earlier folds
recompute them with :func:`dataset.with_priors`, locally). No feature is categorical (codes
are numbers on both routes). The feature folder is a local path (its manifest is read here).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from pathlib import Path

from demandcast.errors import UserError
from demandcast.features.feature_spec import KEYS, Spec
from demandcast.models import boosting, dataset
from demandcast.models.dataset import Fold

IS_VALID = "_is_validation"  # True on the fold's validation rows, False on its training rows
LABEL = "_label"
FEATURES = "_features"


@contextmanager
def spark_session(spark_cfg):
    """The Spark session of ``conf/spark`` (:func:`demandcast.spark.started`); refused for
    the settings that only submit the features stage to AWS EMR."""
    from demandcast.spark import CLOUD_ENGINES, started

    if str(spark_cfg.get("engine") or "") in CLOUD_ENGINES:
        raise UserError(
            f"model.engine=spark trains on a Spark session, but spark={spark_cfg.engine} only submits the "
            "features stage to AWS EMR: choose a session's settings (spark=local, local_all, large) or run "
            "stages/train.py under spark-submit on the cluster")
    with started(spark_cfg, app_name="demandcast-train") as spark:
        yield spark


def fold_rows(spark, features_dir, spec: Spec, fold: Fold, model_cfg):
    """The fold's training and validation rows of the feature table as a Spark DataFrame:
    the keys that are not features (the date), the features in ``spec.names()`` order, the
    label and the validation flag."""
    from pyspark.sql import functions as F

    manifest = dataset.read_manifest(features_dir)
    dataset.check_spec(manifest, spec, str(features_dir))
    priors_end = dt.date.fromisoformat(str(manifest["training_window_end"]))
    if priors_end != fold.valid_start - dt.timedelta(days=1):
        raise UserError(
            f"{features_dir}: its prior_* columns average sales up to {priors_end}, but this fold's "
            f"validation starts {fold.valid_start}: only fold 0 (the train stage's) trains on Spark; "
            "earlier folds recompute their priors (dataset.with_priors) on the local route")
    table = spark.read.parquet(str(features_dir))
    names = spec.names()
    missing = [c for c in [*KEYS, spec.target, *names] if c not in table.columns]
    if missing:
        raise UserError(f"{features_dir}: columns {missing} missing from the feature table; "
                        "rerun the features stage (dvc repro features)")
    day = F.col("date").cast("date")
    in_train = day <= F.lit(fold.train_end)
    if fold.train_start is not None:
        in_train &= day >= F.lit(fold.train_start)
    in_valid = day.between(F.lit(fold.valid_start), F.lit(fold.origin))
    keys = [k for k in KEYS if k not in names]
    label = label_column(spec.target, model_cfg).alias(LABEL)
    return table.where(in_train | in_valid).select(*keys, *names, label, in_valid.alias(IS_VALID))


def label_column(target: str, model_cfg):
    """:func:`boosting.label` as a Spark column: returns count as zero demand, log1p when
    the objective trains on log sales."""
    from pyspark.sql import functions as F

    clipped = F.greatest(F.col(target).cast("double"), F.lit(0.0))
    return F.log1p(clipped) if boosting.objective(model_cfg)[2] == "log1p" else clipped


def fit(spark, features_dir, spec: Spec, fold: Fold, model_cfg, overrides: dict | None = None,
        seed: int = 0) -> boosting.Fitted:
    """Fit fold ``fold``'s model with ``xgboost.spark`` on ``model_cfg.num_workers`` workers."""
    from pyspark.sql import functions as F
    from xgboost.spark import SparkXGBRegressor

    features_dir = Path(str(features_dir))
    workers = _workers(spark, model_cfg)
    rows = fold_rows(spark, features_dir, spec, fold, model_cfg)
    counts = {bool(r[IS_VALID]): int(r["count"]) for r in rows.groupBy(IS_VALID).count().collect()}
    train_rows, valid_rows = counts.get(False, 0), counts.get(True, 0)
    if train_rows == 0 or valid_rows == 0:
        raise UserError(f"empty {'training' if train_rows == 0 else 'validation'} window: "
                        "the data is too short for features.split and model.gap_days")

    _quiet_info_logs()
    names = spec.names()
    params = boosting.booster_params(model_cfg, overrides, seed)
    params.pop("nthread", None)  # xgboost.spark gives each worker spark.task.cpus threads
    # One array column, not features_col=[names]: with a list, xgboost.spark 3.2 fails
    # (KeyError 'values') on any Arrow batch holding no validation rows, or no training rows.
    # Nulls become NaN, XGBoost's missing value, as in boosting.matrix.
    nan = F.lit(float("nan")).cast("float")
    features = F.array(*[F.coalesce(F.col(n).cast("float"), nan) for n in names])
    estimator = SparkXGBRegressor(
        features_col=FEATURES, feature_names=names, label_col=LABEL, validation_indicator_col=IS_VALID,
        num_workers=workers, n_estimators=int(model_cfg.num_boost_round),
        early_stopping_rounds=int(model_cfg.early_stopping_rounds), verbose=False,
        # Spread training and validation rows over every worker (the table is stored by
        # month, so its own partitions would give one worker only validation days); seeded.
        force_repartition=True, repartition_random_shuffle=True, **params)
    model = estimator.fit(rows.select(features.alias(FEATURES), LABEL, IS_VALID))
    example = (rows.where(F.col(IS_VALID)).orderBy(*KEYS).select(*names).limit(5).toPandas())
    return boosting.Fitted(model.get_booster(), train_rows, valid_rows, example)


def _quiet_info_logs() -> None:
    """xgboost.spark logs every parameter and feature name at INFO on each fit (stage logs,
    and its workers'); keep warnings only, unless the caller configured these loggers."""
    for name in ("XGBoost-PySpark", "SparkXGBRegressor"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def _workers(spark, model_cfg) -> int:
    """``model.num_workers``, checked against the tasks the session runs at once: XGBoost's
    workers all start together, and Spark would otherwise wait ~10 minutes before failing."""
    from xgboost.spark.utils import _get_max_num_concurrent_tasks

    workers = int(model_cfg.get("num_workers") or 1)
    if workers < 1:
        raise UserError(f"model.num_workers={workers}: at least one XGBoost worker is needed")
    slots = _get_max_num_concurrent_tasks(spark.sparkContext)
    if workers > slots:
        raise UserError(
            f"model.num_workers={workers}, but the Spark session ({spark.sparkContext.master}) runs at most "
            f"{slots} task(s) at once and XGBoost's workers must all run together: lower model.num_workers "
            f"to {slots} or give Spark more cores (conf/spark: master, executors)")
    return workers
