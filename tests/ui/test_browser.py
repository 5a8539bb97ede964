"""The app in a real headless browser (Playwright + Debian's chromium) against `streamlit run`
and a live `bentoml serve` of the tiny pipeline's bento: a planner picks a series, reads the
forecast, plans a promotion, downloads the CSV; a screenshot of every page."""

from __future__ import annotations

import datetime as dt
import os
import re
import struct

import pandas as pd
import pytest

from demandcast.ui import launch
from demandcast.ui.api import Client
from tests.bento_server import free_port
from tests.ui import planner
from tests.ui.conftest import APP

pytestmark = pytest.mark.slow
HORIZON = 28
PAGES = tuple(planner.PAGES)


@pytest.fixture(scope="module")
def app(served_project, api, tmp_path_factory):
    """``streamlit run ui/app.py`` (as `make ui` starts it) over the served project and API."""
    port = free_port()
    env = {**os.environ, "DEMANDCAST_ROOT": str(served_project), "DEMANDCAST_API_URL": api}
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with planner.streamlit_app(launch.streamlit_command(APP, port), port, env, log) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    with planner.browser() as browser:
        yield browser


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_a_planner_forecasts_promotes_downloads_and_sees_every_page(app, api, chromium, tmp_path):
    client = Client(api)
    catalog = client.catalog()
    store, item = catalog["series"][-1]
    family = next(i["family"] for i in catalog["items"] if i["item_nbr"] == item)

    p = planner.Planner.open(chromium, app)
    assert p.timings["first_render_s"] < 60
    seconds = p.pick_series(str(store), str(item), item)
    assert f"Store {store}" in p.chart_title() and family in p.chart_title()
    want = client.forecast([{"store_nbr": store, "item_nbr": item, "horizon": HORIZON}])["forecasts"][0]

    # the numbers shown are the API's: the total, the busiest day, the last day on hover
    assert p.number(f"Units over {HORIZON} days") == pytest.approx(round(sum(want["forecast"]), 1))
    assert p.number("Busiest day") == pytest.approx(round(max(want["forecast"]), 1))
    tip = p.hover_last_day()
    day = dt.datetime.strptime(re.search(r"\w{3} (\d{2} \w{3} \d{4})", tip).group(1), "%d %b %Y").date()
    at = want["dates"].index(str(day))
    assert at >= 20, tip  # near the right edge: a forecast day
    assert re.search(r"Sales\s+–", tip) and re.search(r"95% to\s+[0-9.]+", tip), tip
    shown = float(re.search(r"Forecast\s+([0-9.]+)", tip).group(1))
    assert shown == pytest.approx(round(want["forecast"][at], 1), abs=0.051)

    # a promotion on three days raises the forecast on those days, by the API's uplift
    days = [dt.date.fromisoformat(d) for d in want["dates"][2:5]]
    before = p.number(f"Units over {HORIZON} days")
    p.add_promotion_days([d.strftime("%a %d %b") for d in days])
    promoted = client.forecast([{"store_nbr": store, "item_nbr": item, "horizon": HORIZON,
                                 "promotions": [str(d) for d in days]}])["forecasts"][0]
    after = p.number(f"Units over {HORIZON} days")
    assert after > before and after == pytest.approx(round(sum(promoted["forecast"]), 1))
    assert p.number("Promotion uplift") == pytest.approx(round(after - before, 1), abs=0.11)
    p.screenshot(tmp_path / "shots" / "forecast.png")

    # the CSV holds one row per day, the promotion days marked, the API's numbers
    csv = pd.read_csv(p.download_csv(tmp_path))
    assert len(csv) == HORIZON and csv["date"].tolist() == promoted["dates"]
    assert csv["forecast"].tolist() == pytest.approx(promoted["forecast"], abs=1e-4)
    assert csv["no_promotion_forecast"].tolist() == pytest.approx(want["forecast"], abs=1e-4)
    assert csv.loc[csv["promotion"], "date"].tolist() == [str(d) for d in days]
    assert set(csv["model_version"]) == {"demandcast-xgboost/1"}

    for title in PAGES[1:]:
        p.go(title)
        p.screenshot(tmp_path / "shots" / f"{title.lower()}.png")
    assert p.page.get_by_text("Retrain recommended").is_visible()  # the monitoring fixture's alert
    for title in PAGES:
        width, height = png_size(tmp_path / "shots" / f"{title.lower()}.png")
        assert width >= 1000 and height >= 600
    p.close()
    print(f"browser timings: first render {p.timings['first_render_s']:.2f} s, item change {seconds:.3f} s")
