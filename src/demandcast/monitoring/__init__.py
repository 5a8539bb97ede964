"""Monitoring: is the served model still right? Drift of its inputs, target and predictions
against the training window (Evidently reports, :mod:`~demandcast.monitoring.drift`), the
served forecasts read back from the prediction logs (:mod:`~demandcast.monitoring.logs`)
and scored against the actuals that arrived later (:mod:`~demandcast.monitoring.accuracy`),
the windows compared (:mod:`~demandcast.monitoring.windows`), and the alerts and retrain
recommendation with their reasons (:mod:`~demandcast.monitoring.decision`), kept as a
history (:mod:`~demandcast.monitoring.history`). The ``monitor`` stage runs it; the
serving process never imports it (Evidently takes seconds to import).
"""
