"""The planner's app's library: everything ``ui/`` (the Streamlit pages) needs except the pages.

:mod:`~demandcast.ui.settings` says where the API and the project's reports are (``conf``
``ui`` and the environment); :mod:`~demandcast.ui.api` is the HTTP client of the BentoML
service (the app never imports the model) and :mod:`~demandcast.ui.cache` the thin layer
of Streamlit's cache over it; :mod:`~demandcast.ui.forecasts` turns the API's answers into
tables, uplifts, words for its flags and CSV; :mod:`~demandcast.ui.charts` draws them with
Altair; :mod:`~demandcast.ui.reports` reads the evaluation, registry and monitoring reports;
:mod:`~demandcast.ui.experiments` reads MLflow runs, Optuna studies and ``dvc exp show``;
:mod:`~demandcast.ui.launch` is ``make ui`` (the service from the exported bento, then the
app). Only :mod:`~demandcast.ui.cache` and :mod:`~demandcast.ui.launch` touch Streamlit,
and only inside their functions.
"""
