"""Tracking: MLflow runs and the model registry.

:mod:`~demandcast.tracking.runs` points MLflow at its store, stamps every run with its
provenance (git commit, data version, feature spec hash) and logs what the train and
evaluate stages produce; :mod:`~demandcast.tracking.registry` registers versions, applies
the gates that make a version ``champion`` and finds the champion to serve.
"""
