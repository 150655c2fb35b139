"""quality.html in a real browser: headless Debian Chromium opens it from ``file://``.

The page is the planted DIY folder's (:mod:`.quality_support`: the 438 real DI Yogyakarta
village polygons), written by :func:`workflows.quality_report.write_quality_html` as a run
writes it. ``PANTAU_QUALITY_PAGE=/path/to/quality.html`` checks another page as well (e.g.
that of ``pantau demo --boundaries .../desa_kel_34_diy.parquet``). Needs
``/usr/bin/chromium``, ``/usr/bin/chromedriver`` and selenium; skipped without them, except
under ``CI`` where their absence fails the run (``browser_support.require_browser``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.tiles.browser_support import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    console_errors,
    decode_png,
    require_browser,
    wait,
)
from workflows.quality_report import write_quality_html

from .quality_support import diy_products

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

EXTRA = os.environ.get("PANTAU_QUALITY_PAGE")


@pytest.fixture(scope="module")
def diy_page(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    out = diy_products(tmp_path_factory.mktemp("quality-diy"), shared_data)
    return write_quality_html(out, json.loads((out / "quality.json").read_text()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium with a fresh profile and its console kept (as ``browser_support.
    chromium`` starts it; that one also waits for the web map, which this page is not)."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="pantau-chromium-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()


def _open(browser: Any, page: Path) -> None:
    browser.get_log("browser")  # only this page's messages count
    browser.get(page.resolve().as_uri())
    wait(browser, "return document.readyState === 'complete'", "the page to load")


BOXES = """
const box = (e) => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
const map = document.querySelector('svg.map');
const paths = [...map.querySelectorAll('path')];
return {
  svgs: [...document.querySelectorAll('svg')].map((s) => [s.getAttribute('class'), ...box(s)]),
  paths: paths.length,
  drawn: paths.filter((p) => { const b = p.getBBox(); return b.width > 0 && b.height > 0; }).length,
  villages: Number(map.dataset.villages),
  bars: [...document.querySelectorAll('svg.hist rect.bin')].filter((r) => box(r)[0] > 0).length,
};
"""


def _check_page(browser: Any, page: Path) -> None:
    _open(browser, page)
    assert console_errors(browser) == []
    found = browser.execute_script(BOXES)
    kinds = [k for k, _, _ in found["svgs"]]
    assert kinds.count("map") == 1 and kinds.count("months") == 1 and "hist" in kinds
    assert all(w > 0 and h > 0 for _, w, h in found["svgs"]), found["svgs"]
    assert found["paths"] == found["drawn"] == found["villages"] > 0
    assert found["bars"] >= 10 * kinds.count("hist")
    shot = decode_png(browser.find_element("css selector", "svg.map").screenshot_as_png)[..., :3]
    colours = np.unique(shot.reshape(-1, 3), axis=0)
    assert len(colours) > 5, "the map looks blank"


def test_diy_page_opens_with_its_pictures(browser: Any, diy_page: Path) -> None:
    _check_page(browser, diy_page)


@pytest.mark.skipif(not EXTRA, reason="set PANTAU_QUALITY_PAGE to check another page")
def test_given_page_opens_with_its_pictures(browser: Any) -> None:
    _check_page(browser, Path(str(EXTRA)))


@pytest.mark.parametrize(
    ("choice", "shown", "hidden"),
    [("lang-id", "Ringkasan", "Summary"), ("lang-en", "Summary", "Ringkasan")],
)
def test_language_switch_works_without_scripts(
    browser: Any, diy_page: Path, choice: str, shown: str, hidden: str
) -> None:
    _open(browser, diy_page)
    browser.find_element("css selector", f"label[for={choice}]").click()
    heading = browser.find_element("css selector", "#ringkasan h2").text
    assert shown in heading and hidden not in heading
    assert console_errors(browser) == []
