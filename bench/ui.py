"""Benchmark: the planner's app in a real browser, on the demo bento, with the API warm.

    uv run python bench/ui.py [--renders 5] [--changes 10] [--no-screenshots]

Serves artifacts/package/demandcast.bento (the package stage's export, `make run`) from a
private BentoML home, warms it with a few requests, runs `streamlit run ui/app.py` over this
project, and drives headless chromium with the browser test's planner session
(tests/ui/planner.py):

* first render of the Forecast page: a new browser session from `goto` until the forecast
  chart is drawn and the script is idle (the first session of the app process is reported
  apart, as the cold start);
* item change: from opening the item picker, typing the item and choosing it (an item never
  shown before, so nothing is cached) until the chart shows it and the script is idle; and the
  part of it after the choice (Enter), when the app updates the chart.

Both are wall-clock on this machine, so they depend on how busy it is: the load average before
and after goes with the figures. Where the time goes is written beside them: the first
render's share spent loading Streamlit's own page before the app runs (``page_load_s``).

Targets: first render <= 2 s, item change <= 0.5 s. Figures to reports/bench_ui.json; the
screenshots of every page (the README's) to reports/ui/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demandcast.serving import local  # noqa: E402
from demandcast.ui import launch  # noqa: E402
from demandcast.ui.api import Client  # noqa: E402
from tests.bento_server import free_port  # noqa: E402
from tests.ui import planner  # noqa: E402

BENTO = ROOT / "artifacts" / "package" / "demandcast.bento"
TARGETS = {"first_render_s": 2.0, "item_change_s": 0.5}
PAGES = tuple(planner.PAGES)


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 3), "max": round(ordered[-1], 3),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
            "runs": [round(v, 3) for v in values]}


def shrink(path: Path, colours: int = 128) -> None:
    """An 8-bit palette PNG: a fraction of the bytes, the same picture for a screenshot."""
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def screenshots(p: planner.Planner, days: list[str], out: Path) -> list[str]:
    p.add_promotion_days(days)
    shots = [p.screenshot(out / "forecast.png", height=1500)]
    for title in PAGES[1:]:
        p.go(title)
        shots.append(p.screenshot(out / f"{title.lower()}.png", height=1500))
    for shot in shots:
        shrink(shot)
    return [str(s.relative_to(ROOT)) for s in shots]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renders", type=int, default=5, help="fresh sessions timed for the first render")
    ap.add_argument("--changes", type=int, default=10, help="item changes timed")
    ap.add_argument("--no-screenshots", action="store_true")
    args = ap.parse_args()
    if not BENTO.exists():
        sys.exit(f"{BENTO} is missing: run `make run` (or `uv run dvc repro package`) first")
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    api_port, app_port = free_port(), free_port()
    server = local.serve(local.import_bento(BENTO, work / "bentoml"), api_port, work)
    api = f"http://127.0.0.1:{api_port}"
    client = Client(api)
    try:
        local.wait_until_up(f"{api}/readyz", server, 300, work / "server.log")
        catalog = client.catalog()
        store = catalog["series"][0][0]
        items = [i for s, i in catalog["series"] if s == store]
        if len(items) < args.changes + 4:
            sys.exit(f"store {store} has {len(items)} items: too few for {args.changes} item changes")
        for item in items[-3:]:  # the API warm: features, model and connection; not the items timed
            client.history([(store, item)], 56)
            client.forecast([{"store_nbr": store, "item_nbr": item, "horizon": 28}])
        env = {**os.environ, "DEMANDCAST_ROOT": str(ROOT), "DEMANDCAST_API_URL": api}
        command = launch.streamlit_command(ROOT / "ui" / "app.py", app_port)
        with planner.streamlit_app(command, app_port, env, work / "streamlit.log") as url, \
                planner.browser() as chromium:
            cold = planner.Planner.open(chromium, url)
            cold.close()
            renders, loads = [], []
            for _ in range(args.renders):
                p = planner.Planner.open(chromium, url)
                renders.append(p.timings["first_render_s"])
                loads.append(p.timings["page_load_s"])
                p.close()
            p = planner.Planner.open(chromium, url)
            p.choose("Store", str(store))
            p.idle()
            changes, updates = [], []
            for item in items[1:args.changes + 1]:
                changes.append(p.pick_series(str(store), str(item), item))
                updates.append(p.timings["item_update_s"])
            shots = []
            if not args.no_screenshots:
                item = items[args.changes + 1]
                p.pick_series(str(store), str(item), item)
                answer = client.forecast([{"store_nbr": store, "item_nbr": item,
                                           "horizon": 28}])["forecasts"][0]
                days = [time.strftime("%a %d %b", time.strptime(d, "%Y-%m-%d")) for d in answer["dates"][3:7]]
                shots = screenshots(p, days, ROOT / "reports" / "ui")
            p.close()
    finally:
        local.stop(server)
    result = {
        "first_render_s": summary(renders), "first_render_cold_s": round(cold.timings["first_render_s"], 3),
        "page_load_s": summary(loads), "item_change_s": summary(changes), "item_update_s": summary(updates),
        "targets": TARGETS,
        "met": {"first_render_s": statistics.median(renders) <= TARGETS["first_render_s"],
                "item_change_s": statistics.median(changes) <= TARGETS["item_change_s"],
                "item_update_s": statistics.median(updates) <= TARGETS["item_change_s"]},
        "how": "median over fresh browser sessions (first render; page_load_s is its part until the "
               "browser has loaded Streamlit's page, before the app's script runs) and over items never "
               "shown before (item change: picker opened, item typed and chosen, chart drawn; item_update_s "
               "is its part after the choice); wall-clock around Playwright's actions and waits (chart "
               "drawn, script idle)",
        "screenshots": shots, "bento": str(BENTO.relative_to(ROOT)),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
    }
    out = ROOT / "reports" / "bench_ui.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    render, change, update = result["first_render_s"], result["item_change_s"], result["item_update_s"]
    machine = result["machine"]
    print(f"first render: median {render['median']} s (page load {result['page_load_s']['median']} s of it; "
          f"cold {result['first_render_cold_s']} s; target {TARGETS['first_render_s']} s); "
          f"item change: median {change['median']} s, max {change['max']} s, after the choice "
          f"{update['median']} s (target {TARGETS['item_change_s']} s); load average "
          f"{machine['load_average_before']} before, {machine['load_average_after']} after -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
