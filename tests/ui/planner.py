"""A demand planner's session in a real browser (Playwright driving Debian's chromium), used by
the browser test (tests/ui/test_browser.py) and the UI benchmark (bench/ui.py).

Each step returns what the page showed, so the caller can hold it against the API; the
timings are wall-clock seconds measured around the browser's actions and waits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("DEMANDCAST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 180_000  # a shared 2-core machine under load needs it for MLflow's first import
# A page run has finished: its end marker (demandcast.ui.page.done) is there, nothing is running or stale.
DONE = """!document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
          && !document.querySelector('[data-stale="true"]')
          && document.querySelector('.page-done')"""
IDLE = f"() => {DONE}"
# Each page's title and a text of its last section (or of its "nothing yet" message).
PAGES = {"Forecast": "Download CSV", "Accuracy": "All forecasters|No evaluation yet",
         "Experiments": "DVC experiments", "Monitoring": "The drift report|No monitoring run yet"}


@contextlib.contextmanager
def streamlit_app(command: list[str], port: int, env: dict, log: Path, timeout: float = 120):
    """``streamlit run`` (the command ``demandcast.ui.launch`` builds) until its health check answers."""
    from demandcast.serving.local import stop, wait_until_up

    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health", proc, timeout, log)
        yield url
    finally:
        stop(proc, grace=10)


@contextlib.contextmanager
def browser():
    """A headless chromium (Debian's package: ``apt-get install chromium``)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (playwright install "
                           "cannot download browsers here)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Planner:
    """One browser page of the app, with the steps a planner takes."""

    page: object
    url: str
    timings: dict = field(default_factory=dict)

    @classmethod
    def open(cls, chromium, url: str) -> Planner:
        context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        planner = cls(page, url)
        began = time.perf_counter()
        page.goto(url)
        planner.timings["page_load_s"] = time.perf_counter() - began  # Streamlit's own HTML and scripts
        planner.wait_chart()
        planner.timings["first_render_s"] = time.perf_counter() - began
        return planner

    def close(self) -> None:
        self.page.context.close()

    # -- waiting ------------------------------------------------------------------------------

    def idle(self) -> None:
        self.page.wait_for_function(IDLE, polling="raf")

    def chart_title(self) -> str:
        return self.page.locator('[data-testid="stVegaLiteChart"] .role-title-text').first.text_content()

    def wait_chart(self, title_contains: str | None = None) -> None:
        """Until the forecast chart is drawn (with a title holding ``title_contains``) and the
        script has finished."""
        script = """(want) => {
            const t = document.querySelector('[data-testid="stVegaLiteChart"] .role-title-text');
            return t && (!want || t.textContent.includes(want)) && """ + DONE + """;
        }"""
        self.page.wait_for_function(script, arg=title_contains, polling="raf")

    # -- the planner's steps -------------------------------------------------------------------

    def choose(self, label: str, search: str) -> None:
        """Type into a searchable select box and take the first match."""
        box = self.page.get_by_role("combobox", name=label)
        box.click()
        box.fill(search)
        self.page.keyboard.press("Enter")

    def pick_series(self, store_search: str, item_search: str, item_nbr: int) -> float:
        """Pick a store, then an item; seconds from opening the item picker to the chart showing
        the item. Of those, ``timings["item_update_s"]``: from the item chosen (Enter) on."""
        self.choose("Store", store_search)
        self.idle()
        began = time.perf_counter()
        self.choose("Item", item_search)
        chosen = time.perf_counter()
        self.wait_chart(f"item {item_nbr}")
        done = time.perf_counter()
        self.timings["item_update_s"] = done - chosen
        return done - began

    def metric(self, label: str) -> str:
        box = self.page.get_by_test_id("stMetric").filter(has_text=label).first
        return box.get_by_test_id("stMetricValue").inner_text()

    def number(self, label: str) -> float:
        return float(re.sub(r"[^0-9.+-]", "", self.metric(label)))

    def add_promotion_days(self, labels: list[str]) -> None:
        for label in labels:
            box = self.page.get_by_role("combobox", name="Other promotion days")
            box.click()
            box.fill(label)
            self.page.keyboard.press("Enter")
            self.idle()
        self.page.keyboard.press("Escape")
        # The uplift metric names how many days are planned: waiting for that count (not only
        # for an idle script, which a rerun may not have started yet) reads the last run's numbers.
        self.page.get_by_test_id("stMetric").filter(
            has_text=f"Promotion uplift ({len(labels)} days)").wait_for()
        self.wait_chart()

    def hover_last_day(self) -> str:
        """Hover near the chart's right edge: the tooltip of one of the last forecast days, as text."""
        chart = self.page.locator('[data-testid="stVegaLiteChart"] svg.marks').first
        box = chart.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] - 45, box["y"] + box["height"] / 2)
        tip = self.page.locator("#vg-tooltip-element")
        tip.wait_for(state="visible")
        return tip.inner_text()

    def download_csv(self, folder: Path) -> Path:
        with self.page.expect_download() as info:
            self.page.get_by_test_id("stDownloadButton").get_by_role("button").click()
        target = folder / info.value.suggested_filename
        info.value.save_as(target)
        return target

    def go(self, title: str) -> None:
        """Open another page from the sidebar; wait for its last section (PAGES) and the end of its run."""
        self.page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
        self.page.get_by_role("heading", name=title, level=1).wait_for()
        self.page.get_by_text(re.compile(PAGES[title])).first.wait_for()
        self.idle()

    def screenshot(self, path: Path, height: int | None = None) -> Path:
        """The window as PNG; ``height`` makes it taller first (Streamlit scrolls inside its own
        container, so a "full page" shot would still stop at the window's bottom)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if height:
            self.page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
            self.idle()
        self.page.mouse.move(0, 0)
        self.page.screenshot(path=str(path), animations="disabled")
        return path
