"""The pipeline's stages: one module per ``dvc.yaml`` stage (``python -m stages.<name>``).

Each reads its parameters, calls the :mod:`demandcast` library and writes its outputs; a
pure ``run(cfg)`` and a thin ``main()``. No stage imports another: what they share lives
in the library.
"""
