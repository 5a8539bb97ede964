"""Benchmark: a fresh `dvc repro` of the whole pipeline, stage by stage: wall time and peak memory.

    uv run python bench/pipeline.py [--keep DIR]                       # the demo data
    uv run python bench/pipeline.py --data favorita -S spark=large   # + conf/scale/large.yaml's routes

Copies this checkout (git-tracked and new files, no artifacts, no MLflow store) into a
scratch folder with the raw data (the demo's), or generates the ``--data`` preset's there
with params composed by DVC's own Hydra composition (``-S`` overrides as `dvc exp run -S`),
runs `dvc repro` and times each stage from its output. Memory is the whole process tree's
proportional set size (DVC, the stage, Spark's JVM, its Python workers; a page shared by n
processes counts 1/n in each, so the sum is what the tree holds, where summed resident sets
count shared pages once per process), sampled every half second; per stage, the peak.
Reports seconds per Optuna trial (from the study's trials) and the accuracy the run reached
(reports/metrics.json). Figures: reports/bench_pipeline.json, one entry per ``--name``
(default: the data preset), the other entries kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
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


class PeakMemory:
    """The largest memory of a process and all its descendants together, sampled in a thread,
    per label (the stage running at the time): the sum of their proportional set sizes (PSS,
    from /proc/PID/smaps_rollup), or resident sets where PSS cannot be read."""

    def __init__(self, pid: int, every_s: float = 0.5):
        import psutil

        self._root, self._every, self.label, self.peaks = psutil.Process(pid), every_s, None, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(self._every):
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                continue
            held = 0
            for proc in tree:
                try:
                    held += _pss(proc)
                except psutil.Error:
                    pass  # ended between the listing and the reading
            if self.label is not None:
                self.peaks[self.label] = max(self.peaks.get(self.label, 0), held)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {label: round(peak / 2**30, 2) for label, peak in self.peaks.items()}


def _pss(proc) -> int:
    import psutil

    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):  # not ours to read, or no smaps on this system
        return proc.memory_info().rss


def repro(work: Path, env: dict, *targets: str) -> tuple[dict, float]:
    """``dvc repro [targets]`` in ``work``, echoing each stage's own summary line; the seconds
    per stage (from one "Running stage" line to the next) and in all. Raises SystemExit with
    DVC's last lines when it fails."""
    stages, _, total = repro_measured(work, env, *targets)
    return stages, total


def repro_measured(work: Path, env: dict, *targets: str) -> tuple[dict, dict, float]:
    """:func:`repro` with the peak memory of each stage (GB, the whole process tree)."""
    stages, current, tail = {}, None, []
    began = last = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", *targets], cwd=work, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    memory = PeakMemory(proc.pid)
    for line in proc.stdout:
        tail = [*tail[-19:], line.rstrip()]
        if line.startswith("Running stage '"):
            now = time.perf_counter()
            if current:
                stages[current] = round(now - last, 1)
            current, last = line.split("'")[1], now
            memory.label = current
        if line.split(":")[0] in ("validate", "features", "tune", "train", "evaluate", "register", "package"):
            print(line.rstrip(), flush=True)
    code = proc.wait()
    peaks = memory.stop()
    total = time.perf_counter() - began
    if current:
        stages[current] = round(time.perf_counter() - last, 1)
    if code != 0:
        raise ReproFailed(f"dvc repro failed ({code}) in {work} after {total:.0f}s; seconds per stage "
                          f"{stages}, peak GB {peaks}:\n" + "\n".join(tail), stages, peaks)
    return stages, peaks, total


class ReproFailed(SystemExit):
    """``dvc repro`` failed: the message, and what the stages that ran took until then."""

    def __init__(self, message: str, stages: dict, peaks: dict):
        super().__init__(message)
        self.stages, self.peaks = stages, peaks


def generated(work: Path, env: dict, preset: str, sets: list[str]) -> float:
    """Params for ``preset`` with ``sets`` composed into ``work`` and its raw data generated
    there (the demo's data.dvc and dvc.lock removed: not this data's); the seconds it took."""
    from dvc.utils.hydra import compose_and_dump

    for tracked in ("data.dvc", "dvc.lock"):
        (work / tracked).unlink(missing_ok=True)
    compose_and_dump(work / "params.yaml", str(work / "conf"), None, "config", str(work),
                     [f"data={preset}", *sets])
    began = time.perf_counter()
    made = subprocess.run([sys.executable, "-m", "demandcast", "generate"], cwd=work, env=env, text=True,
                          capture_output=True)
    if made.returncode != 0:
        raise SystemExit(f"generate failed in {work}: {made.stderr.strip()}")
    print(made.stdout.strip(), flush=True)
    return time.perf_counter() - began


def study_trials(work: Path) -> pd.DataFrame:
    """The tune stage's trials with their durations, from its Optuna store (trials.csv has
    no clock times: they would move its hash)."""
    import optuna

    name = json.loads((work / "artifacts" / "tune" / "best_params.json").read_text())["study"]
    storage = f"sqlite:///{work / 'artifacts' / 'optuna' / 'studies.db'}"
    return optuna.load_study(study_name=name, storage=storage).trials_dataframe()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--data", default="demo", help="data preset (conf/data); not demo: generated")
    parser.add_argument("-S", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a params override, as `dvc exp run -S` (repeatable)")
    parser.add_argument("--name", help="the entry in reports/bench_pipeline.json (default: --data)")
    parser.add_argument("--until", default=None, help="the last stage to run (default: every stage)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --keep DIR: DVC runs only the stages not yet done")
    args = parser.parse_args()
    if args.resume and not (args.keep and (args.keep / ".dvc").is_dir()):
        raise SystemExit("--resume needs --keep DIR holding an earlier run of this benchmark")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    own_data = args.data == "demo" and not args.sets
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DEMANDCAST_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    generate_s = None
    if not args.resume:
        checkout(work, data=own_data)
        # Outputs hard-linked from DVC's cache, not copied: at Favorita scale a copy is ~10 GB more.
        subprocess.run([sys.executable, "-m", "dvc", "config", "--local", "cache.type", "hardlink,symlink"],
                       cwd=work, check=True)
        generate_s = None if own_data else generated(work, env, args.data, args.sets)

    out = ROOT / "reports" / "bench_pipeline.json"
    runs = json.loads(out.read_text()) if out.exists() else {}
    if "dvc_repro_seconds" in runs:  # the one-run layout before entries per run: the demo's
        runs = {"demo": runs}
    name = args.name or args.data
    earlier = runs.get(name, {}) if args.resume else {}
    try:
        stages, peaks, total = repro_measured(work, env, *([args.until] if args.until else []))
    except ReproFailed as failed:  # keep what the stages that ran took: --resume continues from there
        runs[name] = {"data": args.data, "overrides": args.sets, "failed": str(failed).splitlines()[0],
                      "generate_seconds": earlier.get("generate_seconds",
                                                      generate_s and round(generate_s, 1)),
                      "stages": {**earlier.get("stages", {}), **failed.stages},
                      "peak_pss_gb": {**earlier.get("peak_pss_gb", {}), **failed.peaks}}
        out.write_text(json.dumps(dict(sorted(runs.items())), indent=2) + "\n")
        raise
    if earlier:  # the stages an earlier, failed run of this entry finished (DVC did not rerun them)
        total += sum(s for k, s in earlier.get("stages", {}).items() if k not in stages)
        stages, peaks = {**earlier.get("stages", {}), **stages}, {**earlier.get("peak_pss_gb", {}), **peaks}
        generate_s = earlier.get("generate_seconds")

    trials = study_trials(work)
    per_trial = trials["duration"].dt.total_seconds()
    metrics = json.loads((work / "reports" / "metrics.json").read_text())["test"]
    report = {"cores": os.cpu_count(), "data": args.data, "overrides": args.sets,
              "generate_seconds": None if generate_s is None else round(generate_s, 1),
              "dvc_repro_seconds": round(total, 1), "stages": stages, "peak_pss_gb": peaks,
              "peak_pss_gb_max": max(peaks.values(), default=None),
              "load_average_1m_at_end": round(os.getloadavg()[0], 1),
              "training": json.loads((work / "artifacts" / "model" / "training.json").read_text()),
              "optuna": {"trials": len(trials), "states": trials["state"].value_counts().to_dict(),
                         "seconds_per_trial_mean": round(float(per_trial.mean()), 1),
                         "seconds_per_trial_max": round(float(per_trial.max()), 1)},
              "accuracy_test_h1_28": {k: metrics[k] for k in (
                  "wape", "wape_oracle", "wape_seasonal_naive", "wape_model_to_oracle",
                  "wape_model_to_seasonal_naive", "coverage_0.80", "coverage_0.95")}}
    print(f"fresh dvc repro: {total:.1f}s on {report['cores']} cores; stages {stages}")
    print(f"peak memory (GB, process tree) per stage: {peaks}")
    a = report["accuracy_test_h1_28"]
    print(f"WAPE {a['wape']:.4f} = {a['wape_model_to_oracle']:.3f}x oracle, "
          f"{1 - a['wape_model_to_seasonal_naive']:.1%} better than seasonal naive; coverage "
          f"80%: {a['coverage_0.80']:.3f}, 95%: {a['coverage_0.95']:.3f}")
    if earlier:
        report["resumed_after"] = earlier.get("failed")
    runs[name] = report
    out.write_text(json.dumps(dict(sorted(runs.items())), indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
