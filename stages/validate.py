"""validate: check every raw file in ``paths.data`` before any other stage reads it.

``python -m stages.validate [key=value ...]``. The rules are :mod:`demandcast.data.validation`'s.
Always writes ``reports/validation.json``; on failure prints a summary per problem (file,
check, column, examples, fix) and exits 1, so nothing downstream runs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from demandcast.cli import run_stage
from demandcast.data import validation
from demandcast.errors import UserError


def run(cfg) -> dict:
    return validation.run(Path(cfg.paths.data), cfg.data, cfg.validate)


def main(argv=None) -> int:
    def body(cfg) -> int:
        began = time.perf_counter()
        report = run(cfg)
        out = Path(cfg.paths.reports) / validation.REPORT
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write the report {out}: {exc.strerror}") from None
        if report["status"] != "passed":
            print(validation.describe(report, out), file=sys.stderr)
            return 1
        train = report["files"]["train.csv"]
        print(f"validated {len(report['files'])} files in {cfg.paths.data}/ (preset "
              f"{report['preset']}): train.csv {train['rows']:,} rows "
              f"{train.get('date_min')}..{train.get('date_max')}, {train.get('stores')} stores, "
              f"{train.get('items')} items; all checks passed in "
              f"{time.perf_counter() - began:.1f}s -> {out}")
        return 0

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
