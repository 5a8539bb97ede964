"""register: the evaluated model becomes a registry version; champion only past the gates.

``python -m stages.register [key=value ...]``. The gates (:mod:`demandcast.tracking.registry`):
beats seasonal naive by ``register.min_gain_vs_naive``, interval coverage within
``register.coverage_tolerance``, no worse than the current champion on the same window and
data version. Writes the decision and each gate's reason to ``reports/registry.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

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
                                 runs.load_run(artifacts / "model"))
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "registry.json").write_text(json.dumps(decision, indent=2) + "\n")
    return decision


def main(argv=None) -> int:
    def body(cfg) -> None:
        d = run(cfg)
        failed = [c["reason"] for c in d["gates"] if not c["passed"]]
        print(f"register: {d['model']} v{d['version']} -> {d['decision']}"
              + (f" (failed: {'; '.join(failed)})" if failed else ""))

    return run_stage(body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
