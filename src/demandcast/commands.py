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
``demandcast bento-requirements``
    Write ``bento/requirements.txt`` from ``uv.lock`` (``make bento-requirements``).
``demandcast pr-report --base REV [--out DIR]``
    The pull request's metrics, params, experiments and plots against ``REV`` (``make pr-report``).
``demandcast release --registry REGISTRY``
    Build, label, tag and push the serving image (``make release``).
``demandcast ui``
    The BentoML service from the exported bento if none answers, then the planner's app
    (``make ui``; see :mod:`demandcast.ui.launch`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from demandcast import config
from demandcast.cli import run_stage
from demandcast.errors import UserError

USAGE = ("usage: demandcast {generate,obtain-data,params,replay,ui,bento-requirements,pr-report,release} "
         "[args ...]\n"
         "  generate / obtain-data / replay / ui take key=value overrides (see conf/ and params.yaml);\n"
         "  pr-report and release: demandcast <command> --help")


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


def _ui(cfg) -> int:
    from demandcast.ui import launch

    return launch.run(cfg)


COMMANDS = {"generate": _generate, "obtain-data": _obtain, "replay": _replay, "ui": _ui}


def _params(argv: list[str]) -> None:  # composes conf/ itself: params.yaml may be missing or stale
    print(f"wrote {config.dump_params()}")


def _bento_requirements(argv: list[str]) -> None:
    from demandcast.serving import requirements

    print(f"wrote {requirements.write()}")


def _pr_report(argv: list[str]) -> None:
    import argparse

    from demandcast import pr_report

    parser = argparse.ArgumentParser(prog="demandcast pr-report",
                                     description=pr_report.__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare with, e.g. origin/main")
    parser.add_argument("--out", default="artifacts/pr-report", help="folder for report.md and plots/")
    parser.add_argument("--image-url", help="embed the plots from this URL prefix (where they were uploaded)")
    parser.add_argument("--plots-link", help="link to the plots (e.g. the workflow run) instead of embedding")
    opts = parser.parse_args(argv)
    report = pr_report.build(opts.base, Path(opts.out), config.root(), opts.image_url, opts.plots_link)
    print(f"wrote {report}")


def _release(argv: list[str]) -> None:
    import argparse

    from demandcast import release

    parser = argparse.ArgumentParser(prog="demandcast release", description=release.__doc__.split("\n")[0])
    parser.add_argument("--registry", required=True, help="host[:port][/namespace], e.g. an ECR registry")
    parser.add_argument("--bento", type=Path, help=f"the bento archive (default: {release.BENTO})")
    parser.add_argument("--base-image", help="the Dockerfile's BASE_IMAGE (default: python:3.11-slim)")
    parser.add_argument("--tls-verify", default="true", choices=["true", "false"],
                        help="false for a plain-HTTP or self-signed registry (tests)")
    parser.add_argument("--summary", type=Path, help="where to write what was pushed (JSON)")
    opts = parser.parse_args(argv)
    release.release(opts.registry, opts.bento, opts.base_image, opts.tls_verify == "true", opts.summary)


# Commands with their own arguments (not key=value overrides of params.yaml).
TOOLS = {"params": _params, "bento-requirements": _bento_requirements, "pr-report": _pr_report,
         "release": _release}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if args and args[0] in TOOLS:
        try:
            TOOLS[args[0]](args[1:])
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        return 0
    if not args or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    return run_stage(COMMANDS[args[0]], args[1:], USAGE)


if __name__ == "__main__":
    raise SystemExit(main())
