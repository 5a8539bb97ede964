"""The pipeline's stages: one module per ``dvc.yaml`` stage (``python -m stages.<name>``).

Each reads its parameters, calls the :mod:`demandcast` library and writes its outputs; a
pure ``run(cfg)`` and a thin ``main()``. No stage imports another: what they share lives
in the library.

**Each checkout runs its own library.** ``uv sync`` installs ``demandcast`` in editable mode,
which points at the ``src/`` of the checkout the environment was made in. DVC runs queued and
``--temp`` experiments in a copy of the project (``.dvc/tmp/exps/...``) with that same
environment; so that such a copy runs *its* code, not the workspace's, importing ``stages``
puts the ``src/`` beside it first on ``sys.path``. ``demandcast`` is not imported yet at
that point: ``python -m stages.<name>`` imports this package first.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if sys.path[:1] != [_SRC]:
    sys.path.insert(0, _SRC)
