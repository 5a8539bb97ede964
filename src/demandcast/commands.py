"""The ``demandcast`` command, for the steps that are not pipeline stages.

``demandcast generate [key=value ...]``
    Write the synthetic raw data (and its ground truth) into ``paths.data``.
``demandcast obtain-data [key=value ...]``
    ``dvc pull data.dvc`` when the remote is reachable, else regenerate (``make run``).
``demandcast params``
    Recompose ``params.yaml`` from ``conf/`` (``make params``).
``demandcast ui``
    The BentoML service from the exported bento if none answers, then the planner's app
    (``make ui``; see :mod:`demandcast.ui.launch`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from demandcast import config
from demandcast.cli import run_stage
from demandcast.errors import UserError

USAGE = "usage: demandcast {generate,obtain-data,params,ui} [key=value ...]   (see conf/ and params.yaml)"


def _generate(cfg) -> None:
    from demandcast.data import generate

    print(generate.describe(generate.from_config(cfg), cfg))


def _obtain(cfg) -> int:
    from demandcast.data import obtain

    return obtain.obtain(cfg)


def _ui(cfg) -> int:
    from demandcast.ui import launch

    return launch.run(cfg)


COMMANDS = {"generate": _generate, "obtain-data": _obtain, "ui": _ui}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if args[:1] == ["params"]:  # composes conf/ itself: params.yaml may be missing or stale
        return _params()
    if not args or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    return run_stage(COMMANDS[args[0]], args[1:], USAGE)


def _params() -> int:
    try:
        print(f"wrote {config.dump_params()}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
