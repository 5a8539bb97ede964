"""demandcast: retail demand forecasting, from raw transactions to a served forecast.

The library behind the three doors of the project: the DVC stages (``stages/``), the
BentoML service (``bento/service.py``) and the planner's app (``ui/``). Subpackages by
domain: :mod:`~demandcast.data` (raw files, validation, synthetic data),
:mod:`~demandcast.features` (the one feature spec and its Spark and online engines),
:mod:`~demandcast.models` (datasets, XGBoost, recursive forecasts, evaluation),
:mod:`~demandcast.tracking` (MLflow runs and registry), :mod:`~demandcast.serving` (the
forecasting engine and everything the bento ships); shared basics at the top:
:mod:`~demandcast.config`, :mod:`~demandcast.errors`, :mod:`~demandcast.spark`,
:mod:`~demandcast.cli`. Nothing here imports a door, and paths come from the project root
(:func:`demandcast.config.root`), never from a file's location.
"""
