"""The thin command-line wrapper every stage's ``main()`` (and the ``demandcast`` command) goes through."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from omegaconf import DictConfig

from demandcast import config
from demandcast.errors import UserError

USAGE = "usage: python -m stages.<name> [key=value ...]   (see conf/ and params.yaml)"


def run_stage(body: Callable[[DictConfig], int | None], argv: Sequence[str] | None = None,
              usage: str = USAGE) -> int:
    """Load the config with ``key=value`` overrides from argv and run ``body``.

    A :class:`UserError` becomes one clear message on stderr and a non-zero exit,
    never a traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(usage)
        return 0
    try:
        return body(config.load(args)) or 0
    except UserError as exc:
        stage = _stage_name(body)
        print(f"error: {f'stage {stage}: ' if stage else ''}{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _stage_name(body) -> str | None:
    """The pipeline stage running ``body`` (``stages.<name>``), so DVC's log says which failed."""
    module = body.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else ""
    return module.removeprefix("stages.") if module.startswith("stages.") else None
