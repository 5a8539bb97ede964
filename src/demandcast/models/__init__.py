"""Models: what is learnt from the feature table and how well it forecasts.

:mod:`~demandcast.models.dataset` cuts the table into folds and windows and reads priors
and static tables; :mod:`~demandcast.models.boosting` is the XGBoost forecaster
(objectives, fitting, JSON saving), fitted in-process or, with ``model.engine: spark``, by
:mod:`~demandcast.models.distributed` on Spark; :mod:`~demandcast.models.tuning` its Optuna search;
:mod:`~demandcast.models.forecast` the recursive 1..H-day forecast that evaluation and
serving share; :mod:`~demandcast.models.baselines`, :mod:`~demandcast.models.conformal`
(prediction intervals) and :mod:`~demandcast.models.metrics` feed
:mod:`~demandcast.models.evaluation`, the test window and rolling-origin backtest.
"""
