"""Benchmark: a fresh `dvc repro` of the whole pipeline on the demo data, stage by stage.

    uv run python bench/pipeline.py [--keep DIR]

Copies this checkout (git-tracked and new files, no artifacts, no MLflow store) and the
raw data into a scratch folder, runs `dvc repro` there and times each stage from its
output. Reports seconds per Optuna trial (from the study's trials) and the accuracy the
run reached (reports/metrics.json). Figures: reports/bench_pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def checkout(dest: Path, data: bool = True) -> None:
    """Copy this checkout's git-tracked and new files (and, with ``data``, the raw data) into
    ``dest`` and commit them there, so DVC and the train stage's git lookups see a repository."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    if data:
        shutil.copytree(ROOT / "data", dest / "data")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "add", "-A"],
                   cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm",
                    "bench"], cwd=dest, check=True)


def repro(work: Path, env: dict, *targets: str) -> tuple[dict, float]:
    """``dvc repro [targets]`` in ``work``, echoing each stage's own summary line; the seconds
    per stage (from one "Running stage" line to the next) and in all. Raises SystemExit with
    DVC's last lines when it fails."""
    stages, current, tail = {}, None, []
    began = last = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", *targets], cwd=work, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout:
        tail = [*tail[-19:], line.rstrip()]
        if line.startswith("Running stage '"):
            now = time.perf_counter()
            if current:
                stages[current] = round(now - last, 1)
            current, last = line.split("'")[1], now
        if line.split(":")[0] in ("validate", "features", "tune", "train", "evaluate", "register"):
            print(line.rstrip())
    code = proc.wait()
    total = time.perf_counter() - began
    if current:
        stages[current] = round(time.perf_counter() - last, 1)
    if code != 0:
        raise SystemExit(f"dvc repro failed ({code}) in {work}:\n" + "\n".join(tail))
    return stages, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    checkout(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}

    stages, total = repro(work, env)

    trials = pd.read_csv(work / "artifacts" / "tune" / "trials.csv")
    per_trial = pd.to_timedelta(trials["duration"]).dt.total_seconds()
    metrics = json.loads((work / "reports" / "metrics.json").read_text())["test"]
    report = {"cores": os.cpu_count(), "dvc_repro_seconds": round(total, 1), "stages": stages,
              "optuna": {"trials": len(trials), "states": trials["state"].value_counts().to_dict(),
                         "seconds_per_trial_mean": round(float(per_trial.mean()), 1),
                         "seconds_per_trial_max": round(float(per_trial.max()), 1)},
              "accuracy_test_h1_28": {k: metrics[k] for k in (
                  "wape", "wape_oracle", "wape_seasonal_naive", "wape_model_to_oracle",
                  "wape_model_to_seasonal_naive", "coverage_0.80", "coverage_0.95")}}
    print(f"fresh dvc repro: {total:.1f}s on {report['cores']} cores; stages {stages}")
    print(f"optuna: {report['optuna']['seconds_per_trial_mean']}s per trial ({len(trials)} trials)")
    a = report["accuracy_test_h1_28"]
    print(f"WAPE {a['wape']:.4f} = {a['wape_model_to_oracle']:.3f}x oracle, "
          f"{1 - a['wape_model_to_seasonal_naive']:.1%} better than seasonal naive; coverage "
          f"80%: {a['coverage_0.80']:.3f}, 95%: {a['coverage_0.95']:.3f}")
    out = ROOT / "reports" / "bench_pipeline.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
