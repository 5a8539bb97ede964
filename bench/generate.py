"""Benchmark: synthetic data generation speed and peak memory at scale.

    uv run python bench/generate.py [--presets medium favorita] [--out DIR]

Each preset runs `python -m demandcast generate` in a child process (so peak memory is the
child's own), prints rows/s and peak RSS, and writes reports/bench_generate.json.
The favorita preset must stay within 8 GB peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT_GB = 8.0


def measure(preset: str, out: Path) -> dict:
    data, truth = out / preset, out / preset / "truth" / "expected_demand.parquet"
    shutil.rmtree(data, ignore_errors=True)
    cmd = [sys.executable, "-m", "demandcast", "generate", f"data={preset}", f"paths.data={data}",
           f"paths.truth={truth}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{preset}: generation failed:\n{done.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        print(f"warning: {preset}'s peak is not above an earlier child's; reporting the larger")
    with open(data / "train.csv", "rb") as f:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1
    result = {
        "preset": preset,
        "train_rows": rows,
        "truth_bytes": truth.stat().st_size,
        "train_csv_bytes": (data / "train.csv").stat().st_size,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "peak_rss_gb": round(peak_kb / 1024**2, 2),
        "within_memory_limit": peak_kb / 1024**2 <= MEMORY_LIMIT_GB,
    }
    print(f"{preset:>9}: {rows:>12,} rows in {seconds:7.1f}s = {result['rows_per_s']:>10,} rows/s,"
          f" peak RSS {result['peak_rss_gb']:.2f} GB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["medium", "favorita"])
    parser.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    results = []
    try:
        for preset in args.presets:  # smallest first: RUSAGE_CHILDREN keeps the max so far
            results.append(measure(preset, out))
            if not args.keep:
                shutil.rmtree(out / preset, ignore_errors=True)
    finally:
        if not args.keep and args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    report = ROOT / "reports" / "bench_generate.json"
    previous = json.loads(report.read_text()) if report.exists() else {}
    previous.update({r["preset"]: r for r in results})
    report.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
    print(f"wrote {report.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
