"""The thin command-line wrapper every stage's ``main()`` goes through."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from omegaconf import DictConfig

from stages import config
from stages.errors import UserError


def run_stage(body: Callable[[DictConfig], int | None], argv: Sequence[str] | None = None) -> int:
    """Load the config with ``key=value`` overrides from argv and run ``body``.

    A :class:`UserError` becomes one clear message on stderr and a non-zero exit,
    never a traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print("usage: python -m stages.<name> [key=value ...]   (see conf/ and params.yaml)")
        return 0
    try:
        return body(config.load(args)) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
