"""register: the evaluated model becomes a registry version; champion only past the gates.

``python -m stages.register [key=value ...]``. The gates and who moves the ``champion`` alias
(never an experiment: its passing versions are ``candidate``) are
:mod:`demandcast.tracking.registry`'s. Writes the decision, which gates applied and each
gate's reason to ``reports/registry.json`` (and ``artifacts/registry.json``, see :func:`run`).
"""

from __future__ import annotations

import json
from pathlib import Path

from demandcast import jsonio
from demandcast.cli import run_stage
from demandcast.errors import UserError
from demandcast.tracking import registry, runs


def run(cfg) -> dict:
    artifacts, reports = Path(str(cfg.paths.artifacts)), Path(str(cfg.paths.reports))
    for path in (reports / "metrics.json", reports / "evaluation.json"):
        if not path.exists():
            raise UserError(f"{path} is missing: run the evaluate stage first (dvc repro evaluate)")
    decision = registry.register(cfg, json.loads((reports / "metrics.json").read_text()),
                                 json.loads((reports / "evaluation.json").read_text()),
                                 runs.find_train_run(cfg, artifacts / "model"))
    jsonio.write(reports / "registry.json", decision)
    # The same decision beside the MLflow store it was made in: reports/ is in git, so a
    # fresh clone has registry.json but an empty registry; this output is missing there, so
    # dvc repro registers again instead of skipping to package, which needs the champion.
    jsonio.write(artifacts / "registry.json", decision)
    return decision


def main(argv=None) -> int:
    def body(cfg) -> None:
        d = run(cfg)
        failed = [c["reason"] for c in d["gates"] if not c["passed"]]
        skipped = [c["gate"] for c in d["gates"] if not c["applied"]]
        print(f"register: {d['model']} v{d['version']} -> {d['decision']}"
              + (f" (experiment {d['experiment']}: the champion alias stays where it is)"
                 if d["experiment"] else "")
              + (f"; gates not applied: {', '.join(skipped)}" if skipped else "")
              + (f" (failed: {'; '.join(failed)})" if failed else ""))

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
