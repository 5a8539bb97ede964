"""Raw data: the Favorita-schema files, how they are read, the rules they must pass, where they come from.

:mod:`~demandcast.data.rawcsv` reads the CSVs in streamed chunks and diagnoses unreadable
files; :mod:`~demandcast.data.schemas` holds the pandera schema of each file and
:mod:`~demandcast.data.validation` the checks across files and the report the validate
stage writes. :mod:`~demandcast.data.generate` (with :mod:`~demandcast.data.synth`)
simulates a retailer in the same schema, with the ground truth beside it;
:mod:`~demandcast.data.obtain` gets ``data/`` for ``make run``: a ``dvc pull``, else a
deterministic regeneration.
"""
