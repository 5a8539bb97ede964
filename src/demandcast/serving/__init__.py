"""Serving: everything the BentoML service runs, and how the bento is made.

:mod:`~demandcast.serving.bundle` is the serving bundle (model, snapshot, priors,
metadata) and :mod:`~demandcast.serving.packaging` how the package stage builds it into a
bento; :mod:`~demandcast.serving.engine` turns forecast requests into recursive forecasts
with intervals and fallbacks; :mod:`~demandcast.serving.schemas` are the request and
response models, :mod:`~demandcast.serving.catalog` the stores, items and recent history
served, :mod:`~demandcast.serving.http_guard` the size and token guard, and
:mod:`~demandcast.serving.prediction_log` the log of every served prediction. No Spark, no
Evidently: the service imports only what it needs.
"""
