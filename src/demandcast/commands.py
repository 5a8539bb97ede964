"""The ``demandcast`` command, for the steps that are not pipeline stages.

``demandcast generate [key=value ...]``
    Write the synthetic raw data (and its ground truth) into ``paths.data``.
``demandcast obtain-data [key=value ...]``
    ``dvc pull data.dvc`` when the remote is reachable, else regenerate (``make run``).
``demandcast params``
    Recompose ``params.yaml`` from ``conf/`` (``make params``).
``demandcast replay [key=value ...]``
    Send a newer export's weeks to a running service as planners' requests
    (``monitor.replay``), so the monitor has served forecasts to score.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from demandcast import config
from demandcast.cli import run_stage
from demandcast.errors import UserError

USAGE = "usage: demandcast {generate,obtain-data,params,replay} [key=value ...]   (see conf/ and params.yaml)"


def _generate(cfg) -> None:
    from demandcast.data import generate

    print(generate.describe(generate.from_config(cfg), cfg))


def _obtain(cfg) -> int:
    from demandcast.data import obtain

    return obtain.obtain(cfg)


def _replay(cfg) -> None:
    from demandcast.monitoring import replay

    r = cfg.monitor.replay
    done = replay.replay(str(r.url), str(r.export), int(r.origins), int(r.every_days), int(r.horizon),
                         int(r.batch))
    print(f"replayed {done['series']:,} series at origins {', '.join(done['origins'])} (history end "
          f"{done['history_end']}): {done['forecasts']:,} forecasts from {r.url} (model "
          f"{done['model_version']}), logged by the service")


COMMANDS = {"generate": _generate, "obtain-data": _obtain, "replay": _replay}


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
