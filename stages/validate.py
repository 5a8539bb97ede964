"""validate: check every raw file in ``paths.data`` before any other stage reads it.

``python -m stages.validate [key=value ...]``. The rules are :mod:`demandcast.data.validation`'s.
A pass writes ``reports/validation.json``; a failure prints a summary per problem (file,
check, column, examples, fix), writes the full report to ``reports/validation_failed.json``
(ignored by git) and exits 1, so nothing downstream runs and the committed
``reports/validation.json`` stays as it was.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.data import validation
from demandcast.errors import UserError


def run(cfg) -> dict:
    return validation.run(Path(cfg.paths.data), cfg.data, cfg.validate)


def main(argv=None) -> int:
    def body(cfg) -> int:
        began = time.perf_counter()
        report = run(cfg)
        reports = Path(cfg.paths.reports)
        passed = report["status"] == "passed"
        out = reports / (validation.REPORT if passed else validation.FAILED_REPORT)
        try:
            jsonio.write(out, report)
            if passed:
                (reports / validation.FAILED_REPORT).unlink(missing_ok=True)
        except OSError as exc:
            raise UserError(f"cannot write the report {out}: {exc.strerror}") from None
        if not passed:
            print(validation.describe(report, out), file=sys.stderr)
            return 1
        train = report["files"]["train.csv"]
        for note in report["notes"]:
            print(f"note: {note}")
        print(f"validated {sum(1 for f in report['files'].values() if 'absent' not in f)} files in "
              f"{cfg.paths.data}/ (preset {report['preset']}): train.csv {train['rows']:,} rows "
              f"{train.get('date_min')}..{train.get('date_max')}, {train.get('stores')} stores, "
              f"{train.get('items')} items; all checks passed in "
              f"{time.perf_counter() - began:.1f}s -> {out}")
        return 0

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
