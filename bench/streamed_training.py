"""Benchmark: the streamed train stage's peak memory and time, the binned matrix in memory
against paged to disk (``model.external_memory``), on a feature table already built.

    uv run python bench/streamed_training.py --features DIR [--data favorita] [-S key=value ...]

``DIR`` is a features stage's output (``artifacts/features``, e.g. a `bench/pipeline.py
--keep` scratch's). For each setting `python -m stages.train model.engine=streamed` runs in
its own scratch artifacts folder (the features linked, the tune stage's parameters copied
when ``DIR``'s sibling ``tune/`` has them), with its own MLflow store; memory is the whole
process tree's resident set, sampled every half second. The two models must be the same
bytes. Figures: reports/bench_streamed_training.json, one entry per ``--name``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline import PeakMemory

ROOT = Path(__file__).resolve().parent.parent


def train(features: Path, scratch: Path, data: str, sets: list[str], external: bool) -> dict:
    """One train stage run; its seconds, peak GB, rows, trees and the model's digest."""
    out = scratch / ("external" if external else "in_memory")
    out.mkdir(parents=True)
    (out / "features").symlink_to(features.resolve())
    tuned = features.parent / "tune" / "best_params.json"
    if tuned.exists():
        (out / "tune").mkdir()
        shutil.copy(tuned, out / "tune" / tuned.name)
    args = [f"data={data}", "model.engine=streamed", f"model.external_memory={str(external).lower()}",
            f"paths.artifacts={out}", f"paths.reports={out / 'reports'}",
            f"mlflow.tracking_uri=sqlite:///{out / 'mlflow.db'}", *sets]
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "stages.train", *args], cwd=ROOT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    memory = PeakMemory(proc.pid)
    memory.label = "train"
    lines = proc.stdout.read().splitlines()
    code = proc.wait()
    peak = memory.stop().get("train")
    seconds = round(time.perf_counter() - began, 1)
    if code != 0:
        raise SystemExit(f"train failed ({code}) with {args}:\n" + "\n".join(lines[-20:]))
    print(next((line for line in lines if line.startswith("train:")), lines[-1]), flush=True)
    summary = json.loads((out / "model" / "training.json").read_text())
    model = (out / "model" / "model.json").read_bytes()
    return {"seconds": seconds, "peak_rss_gb": peak, "train_rows": summary["train_rows"],
            "valid_rows": summary["valid_rows"], "trees": summary["best_iteration"] + 1,
            "validation_rmse": summary["validation_rmse"], "model_sha256": hashlib.sha256(model).hexdigest()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="a features stage's output folder")
    ap.add_argument("--data", default="favorita", help="the data preset the features were built from")
    ap.add_argument("-S", dest="sets", action="append", default=[], help="a key=value override")
    ap.add_argument("--name", default=None, help="the entry in the report (default: the data preset)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_streamed_training.json")
    a = ap.parse_args()
    if not (a.features / "_meta" / "manifest.json").exists():
        raise SystemExit(f"{a.features}: not a features stage's output (no _meta/manifest.json)")
    with tempfile.TemporaryDirectory(prefix="bench-streamed-") as scratch:
        runs = {("external" if ext else "in_memory"): train(a.features, Path(scratch), a.data, a.sets, ext)
                for ext in (False, True)}
    same = runs["in_memory"]["model_sha256"] == runs["external"]["model_sha256"]
    entry = {**runs, "same_model_bytes": same, "overrides": a.sets, "cores": os.cpu_count(),
             "load_average_1m": round(os.getloadavg()[0], 1)}
    report = json.loads(a.out.read_text()) if a.out.exists() else {}
    report[a.name or a.data] = entry
    a.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    for name, run in runs.items():
        print(f"{name:>9}: {run['seconds']:7.1f} s, peak {run['peak_rss_gb']:5.2f} GB, "
              f"{run['train_rows']:,} rows, {run['trees']} trees")
    print(f"same model bytes: {same} -> {a.out}")
    if not same:
        raise SystemExit("the two settings fitted different models")


if __name__ == "__main__":
    main()
