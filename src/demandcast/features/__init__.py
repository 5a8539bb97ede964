"""Features: one spec, two engines that must agree on every value.

:mod:`~demandcast.features.feature_spec` defines every feature once (calendar, holidays,
lags, rolling windows, promotions, traffic, priors, categorical codes). The batch engine is
Spark (:mod:`~demandcast.features.spark_engine`, driven by :mod:`~demandcast.features.etl`
for the features stage, whose files :mod:`~demandcast.features.stable_parquet` rewrites
byte-stable); the online engine (:mod:`~demandcast.features.online`, with the
calendar and holiday lookups of :mod:`~demandcast.features.calendar` and the input checks
of :mod:`~demandcast.features.inputs`) computes the same columns in numpy from recent
history, for recursive forecasting and serving.
"""
