"""The web map in a real browser: headless Debian Chromium driven through ChromeDriver.

The real app is served by uvicorn on 127.0.0.1 (a free port, a child process) over the
products directory the other tile tests use. Needs ``/usr/bin/chromium``,
``/usr/bin/chromedriver`` (``.ci/install-browser.sh``) and the ``selenium`` package; skipped
without them, except under ``CI`` where their absence fails the run.
Set ``PANTAU_BROWSER_SHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.tiles.browser_support import (
    changed_share,
    chromium,
    console_errors,
    layer_of_kind,
    map_pixels,
    require_browser,
    select_layer,
    serve,
    set_slider,
    wait,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# A data layer "renders" when it changes at least this share of the map's pixels.
MIN_CHANGED = 0.05


@pytest.fixture(scope="module")
def base_url(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app over the session's products (see ``browser_support.serve``)."""
    require_browser()
    with serve(products_dir, tmp_path_factory.mktemp("uvicorn") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    """Headless Chromium with a fresh profile whose languages are English (the Indonesian
    interface is tested in test_browser_planner.py)."""
    with chromium(base_url, languages="en-US,en") as driver:
        yield driver


@pytest.fixture
def driver(browser: Any) -> Any:
    """The page, its console emptied so each test sees only its own errors."""
    browser.get_log("browser")
    return browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ``$PANTAU_BROWSER_SHOTS`` if set, else a temporary folder."""
    folder = Path(os.environ.get("PANTAU_BROWSER_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------- tests ----------


def test_page_loads_without_console_errors(browser: Any) -> None:
    # `browser`, not `driver`: the console still holds what the first page load logged.
    assert browser.find_element("id", "layer-select").is_enabled()
    options = browser.execute_script(
        "return [...document.querySelectorAll('#layer-select option')].map((o) => o.value)"
    )
    assert options, "the layer picker is empty"
    assert console_errors(browser) == []


def test_english_browser_gets_english(browser: Any) -> None:
    assert browser.execute_script("return navigator.languages")[0] == "en-US"
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert browser.find_element("css selector", "label[for=layer-select]").text == "Layer"
    assert "lang=en" in browser.execute_script("return location.hash")


def test_page_requests_only_its_own_server(browser: Any, base_url: str) -> None:
    requested = browser.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]"
    )
    assert len(requested) > 3
    assert [u for u in requested if not u.startswith((base_url, "blob:", "data:"))] == []


@pytest.mark.parametrize("kind", ["raster", "choropleth", "bivariate", "vector"])
def test_layer_kind_renders(driver: Any, shots: Path, kind: str) -> None:
    select_layer(driver, layer_of_kind(driver, kind))
    set_slider(driver, "opacity-slider", "HOME")
    wait_idle(driver)
    hidden = map_pixels(driver, shots / f"{kind}-hidden.png")
    set_slider(driver, "opacity-slider", "END")
    wait_idle(driver)
    shown = map_pixels(driver, shots / f"{kind}.png")

    assert changed_share(hidden, shown) > MIN_CHANGED, f"the {kind} layer drew nothing"
    assert console_errors(driver) == []


@pytest.mark.parametrize(
    ("kind", "selector", "minimum"),
    [
        ("raster", "#legend .legend-gradient", 1),
        ("choropleth", "#legend .legend-list .swatch", 2),
        ("bivariate", "#legend .legend-bivariate .swatch", 9),
    ],
)
def test_legend_is_drawn(driver: Any, kind: str, selector: str, minimum: int) -> None:
    select_layer(driver, layer_of_kind(driver, kind))
    assert len(driver.find_elements("css selector", selector)) >= minimum


def test_village_outlines_render(driver: Any, shots: Path) -> None:
    select_layer(driver, layer_of_kind(driver, "raster"))
    set_slider(driver, "opacity-slider", "HOME")
    wait_idle(driver)
    outlines = map_pixels(driver, shots / "outlines.png")
    set_slider(driver, "opacity-slider", "END")
    background = np.array([0xEE, 0xF0, 0xF2], dtype=np.int16)  # BACKGROUND in mapview.js
    drawn = (np.abs(outlines.astype(np.int16) - background).max(axis=-1) > 24).mean()
    assert drawn > 0.002, "no village outlines on the map"


def test_period_slider_changes_period(driver: Any) -> None:
    layer_id = layer_of_kind(driver, "raster")
    select_layer(driver, layer_id)
    periods = driver.execute_script("return window.pantau.state.layer.periods")
    set_slider(driver, "opacity-slider", "END")
    set_slider(driver, "period-slider", "HOME")
    wait_idle(driver)
    assert driver.find_element("id", "period-label").text == str(periods[0])
    set_slider(driver, "period-slider", "END")
    wait_idle(driver)
    assert driver.find_element("id", "period-label").text == str(periods[-1])
    assert console_errors(driver) == []


def test_click_on_village_shows_its_card(driver: Any, shots: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    select_layer(driver, layer_of_kind(driver, "choropleth"))
    # Find a pixel inside a village by asking the map, then click there like a person would.
    target = driver.execute_script(
        """
        const m = window.pantau.map, c = m.getCanvas();
        const w = c.clientWidth, h = c.clientHeight;
        for (let fy = 0.5; fy < 0.95; fy += 0.05) for (const s of [1, -1]) {
          const y = h * (s > 0 ? fy : 1 - fy);
          for (let fx = 0.5; fx < 0.95; fx += 0.05) for (const t of [1, -1]) {
            const x = w * (t > 0 ? fx : 1 - fx);
            const f = m.queryRenderedFeatures([x, y], {layers: ['villages-hit']});
            if (f.length) return [x, y, String(f[0].properties.kode), w, h];
          }
        }
        return null;
        """
    )
    assert target, "no village under any point of the map"
    x, y, kode, width, height = target
    expected = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('villages/' + encodeURIComponent(arguments[0])).then((r) => r.json()).then(done);",
        kode,
    )
    map_element = driver.find_element("id", "map")
    ActionChains(driver).move_to_element_with_offset(
        map_element, int(x - width / 2), int(y - height / 2)
    ).click().perform()

    wait(driver, "return !document.getElementById('village-card').hidden", "the village card")
    wait(driver, "return !!document.querySelector('#village-card table.stats')", "statistics")
    card = driver.find_element("id", "village-card")
    shown = driver.find_element("id", "village-kode")
    assert shown.get_attribute("data-kode") == expected["kode"] == kode
    # shown dotted, as people write it
    assert shown.text == f"{kode[:2]}.{kode[2:4]}.{kode[4:6]}.{kode[6:]}"
    if expected.get("nama"):
        assert driver.find_element("id", "village-name").text == expected["nama"]
    periods = driver.execute_script(
        "return [...document.querySelectorAll('#village-card table.stats thead th')]"
        ".slice(1).map((th) => th.textContent)"
    )
    assert periods, "the statistics table has no period columns"
    driver.save_screenshot(str(shots / "village-card.png"))
    assert card.is_displayed()
    assert console_errors(driver) == []
