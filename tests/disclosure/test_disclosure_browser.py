"""The public pages in a real headless Chromium: overview, drill-down via table and map, date change,
provenance, CSV twin against the API; screenshots at phone and desktop widths in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pandas as pd
import pytest
from disclosure_data import LAST, build_store
from tests.browser import ARTIFACTS, MARKS, chromium, serving

import accord.app
from accord.disclosure import pages
from accord.settings import Settings

pytestmark = MARKS


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("browser")
    build_store(path)
    app = accord.app.create_app(Settings(data_dir=path))
    pages.install(app)
    with serving(app) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def test_overview_drill_down_date_provenance_and_csv(browser: object, base_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(f"{base_url}/public/AR")
    page.wait_for_selector("#curve[data-drawn='1']", timeout=15000)  # plotly drew the epidemic curve
    assert page.locator(".card").count() == 5
    page.screenshot(path=str(ARTIFACTS / "disclosure-overview-desktop.png"), full_page=True)

    # drill down two levels through the table
    page.locator("#children tbody tr[data-code='AR-01'] td a").first.click()
    page.wait_for_url("**/public/AR-01")
    first_city = page.locator("#children tbody tr").first.get_attribute("data-code")
    page.locator("#children tbody tr").first.locator("td a").first.click()
    page.wait_for_url(f"**/public/{first_city}")
    assert page.locator("h1").inner_text().strip() != ""
    assert page.locator(".crumbs a").count() == 2  # country › province › (this city)

    # and two levels through the map
    page.goto(f"{base_url}/public/AR")
    page.locator("svg#map a[data-code='AR-02']").click()
    page.wait_for_url("**/public/AR-02")
    city = page.locator("svg#map a").first.get_attribute("data-code")
    page.locator("svg#map a").first.click()
    page.wait_for_url(f"**/public/{city}")

    # change the date with the picker: the URL carries it
    earlier = (LAST - dt.timedelta(days=3)).isoformat()
    page.goto(f"{base_url}/public/AR")
    page.fill("#date", earlier)
    page.dispatch_event("#date", "change")
    page.wait_for_url(f"**/public/AR?date={earlier}")
    assert page.input_value("#date") == earlier

    # provenance of the headline number
    headline = page.locator("#card-new_confirmed a.num").inner_text()
    page.locator("#card-new_confirmed a.num").click()
    page.wait_for_url("**/provenance?**")
    assert page.locator("#prov-value").inner_text() == headline

    # the CSV twin, fetched by the browser, agrees with the API
    page.goto(f"{base_url}/public/AR-01")
    href = page.locator("#csv-twin").get_attribute("href")
    csv = pd.read_csv(io.StringIO(page.request.get(f"{base_url}{href}").text()))
    for code, cum in zip(csv["code"], csv["cum_confirmed"], strict=True):
        api = page.request.get(f"{base_url}/api/v1/series?jurisdiction={code}&indicator=cum_confirmed").json()
        assert api["data"][-1]["value"] == cum
    page.close()


def test_phone_width_is_readable(browser: object, base_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)  # type: ignore[attr-defined]
    page.goto(f"{base_url}/public/AR-01?lang=zh")
    page.wait_for_selector("#curve[data-drawn='1']", timeout=15000)
    # nothing but the scrollable table may be wider than the screen
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=str(ARTIFACTS / "disclosure-overview-phone-zh.png"), full_page=True)
    page.goto(f"{base_url}/public/AR/bulletin?lang=zh")
    page.screenshot(path=str(ARTIFACTS / "disclosure-bulletin-phone-zh.png"), full_page=True)
    page.close()
