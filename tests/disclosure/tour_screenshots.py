"""Screenshots for ``docs/tour.md`` (not a test): the public pages of a demo store at desktop and phone widths.

    ACCORD_DATA_DIR=/tmp/tour uv run accord demo --days 60 --communities 300
    ACCORD_DATA_DIR=/tmp/tour uv run accord serve --port 8765 &
    uv run python tests/disclosure/tour_screenshots.py http://127.0.0.1:8765 docs/images

Needs Debian ``chromium``; install ``fonts-noto-cjk`` first so Chinese names do not render as boxes. Each
picture is the first screen of its page (not the full page), so that the PNGs stay small.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {"desktop": (1200, 760), "phone": (390, 760)}
#: where a stop's picture starts: the map and the table of a drill-down are below the first screen
SCROLL_TO = {"drilldown": "#map", "drilldown-zh": "#children"}


def pages(base: str) -> dict[str, str]:
    """The tour's stops, found from the store: the root, one province, a city below it."""
    root = httpx.get(f"{base}/public", follow_redirects=True).url.path.rsplit("/", 1)[-1]
    province = httpx.get(f"{base}/public/{root}.json", params={"sort": "cum_confirmed", "dir": "desc"}).json()
    prov = province["data"][0]["code"]
    city = httpx.get(f"{base}/public/{prov}.json", params={"sort": "cum_confirmed", "dir": "desc"}).json()
    town = city["data"][0]["code"]
    return {
        "overview": f"/public/{root}",
        "drilldown": f"/public/{prov}?sort=per100k&dir=desc",
        "drilldown-zh": f"/public/{town}?lang=zh",
        "provenance": f"/public/{prov}/provenance?indicator=new_confirmed",
        "bulletin": f"/public/{root}/bulletin",
        "bulletin-zh": f"/public/{root}/bulletin?lang=zh",
        "scorecard": f"/public/{root}/scorecard",
    }


def main(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    stops = pages(base)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for size, (width, height) in SIZES.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            for name, path in stops.items():
                if size == "phone" and name in ("bulletin-zh", "drilldown-zh"):
                    continue
                page.goto(base + path, wait_until="networkidle")
                if name in SCROLL_TO:
                    page.eval_on_selector(SCROLL_TO[name], "e => e.closest('section').scrollIntoView()")
                page.wait_for_timeout(300)
                target = out / f"{name}-{size}.png"
                page.screenshot(path=str(target))
                print(f"{target}: {target.stat().st_size / 1024:.0f} KB")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
