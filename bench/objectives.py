"""Benchmark: XGBoost objectives compared on recursive 28-day forecasts (demo data).

    uv run python bench/objectives.py [--folds 2]

Each objective in demandcast.models.boosting.OBJECTIVES is fit with conf/model's parameters on the same
windows and scored on the same cells as the evaluate stage (test window, and backtest
folds). Needs the demo features (dvc repro features). Figures: reports/bench_objectives.json.
"""

from __future__ import annotations

import argparse
import json
import time

from evaldata import ROOT, load, model_fold


def main() -> None:
    from demandcast.models import boosting

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=2)
    args = parser.parse_args()
    ctx = load(folds=args.folds)
    report = {}
    for name in sorted(boosting.OBJECTIVES):
        model_cfg = {**dict(ctx.cfg.model), "objective": name}
        began = time.perf_counter()
        folds = [model_fold(ctx, model_cfg, k, {})["summary"] for k in range(args.folds)]
        mean = lambda get, folds=folds: sum(get(f) for f in folds) / len(folds)  # noqa: E731
        wape = mean(lambda f: f["model"]["wape"])
        report[name] = {"wape": wape, "rmse": mean(lambda f: f["model"]["rmse"]),
                        "wape_to_oracle": mean(lambda f: f["ratios"]["wape_model_to_oracle"]),
                        "bias": mean(lambda f: f["model"]["bias"]),
                        "seconds": round(time.perf_counter() - began, 1)}
        r = report[name]
        print(f"{name:>8}: WAPE {wape:.4f} (x{r['wape_to_oracle']:.3f} oracle), RMSE {r['rmse']:.3f}, "
              f"bias {r['bias']:+.3f}, {r['seconds']}s")
    best = min(report, key=lambda n: report[n]["wape"])
    print(f"best: {best} (conf/model default: {ctx.cfg.model.objective})")
    out = ROOT / "reports" / "bench_objectives.json"
    out.write_text(json.dumps({"folds": args.folds, "objectives": report, "best": best}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
