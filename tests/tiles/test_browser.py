"""The web map in a real browser: headless Debian Chromium driven through ChromeDriver.

The real app is served by uvicorn on 127.0.0.1 (a free port, a child process) over the
products directory the other tile tests use. Needs ``/usr/bin/chromium``,
``/usr/bin/chromedriver`` (``.ci/install-browser.sh``) and the ``selenium`` package; skipped
without them, except under ``CI`` where their absence fails the run.
Set ``PANTAU_BROWSER_SHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # MapLibre needs WebGL: without a GPU, Chromium now only uses SwiftShader when asked.
    "--enable-unsafe-swiftshader",
    "--window-size=1280,800",
]
WAIT = 30.0  # seconds for any one thing the page does
# A data layer "renders" when it changes at least this share of the map's pixels.
MIN_CHANGED = 0.05


def _require_browser() -> None:
    """Skip (fail under CI) when Chromium, ChromeDriver or selenium are missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package (pip install selenium)")
    if not missing:
        return
    msg = f"browser test needs {', '.join(missing)}: run .ci/install-browser.sh"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def base_url(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app, ``uvicorn --factory tiles.app:create_app``, on a free loopback port.

    A separate process, as deployed: settings come from the environment, and the pytest
    process's warnings-as-errors filter (which threads share) does not reach the server.
    """
    _require_browser()
    import httpx

    log_path = tmp_path_factory.mktemp("uvicorn") / "server.log"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    env = {**os.environ, "PANTAU_TILES_PRODUCTS_DIR": str(products_dir)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "tiles.app:create_app",
               "--fd", str(sock.fileno()), "--log-level", "warning"]  # fmt: skip
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()]
        )
    sock.close()  # the server holds its own copy
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert server.poll() is None, f"uvicorn exited: {log_path.read_text()[-2000:]}"
            try:
                if httpx.get(url + "healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not answer /healthz"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    found = sorted(set(_exceptions(log_path)))
    assert not found, f"the server logged exceptions (see {log_path}): {found[:5]}"


def _exceptions(log_path: Path) -> list[str]:
    """The exception line ending each traceback in a log."""
    found, inside = [], False
    for line in log_path.read_text().splitlines():
        if line.startswith("Traceback"):
            inside = True
        elif inside and line and not line.startswith(" "):
            found.append(line)
            inside = False
    return found


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, its console kept for the tests to read."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.TemporaryDirectory(prefix="pantau-chromium-")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile.name}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_script_timeout(WAIT)
    try:
        browser.get(base_url)
        _wait(browser, "return !!(window.pantau && window.pantau.state.layer)", "the first layer")
        _wait_idle(browser)
        yield browser
    finally:
        browser.quit()
        profile.cleanup()


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


# ---------- helpers ----------


def _wait(browser: Any, script: str, what: str, *args: Any) -> Any:
    """Poll a JS expression until it is truthy; returns its value."""
    deadline = time.monotonic() + WAIT
    while True:
        value = browser.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _wait_idle(browser: Any) -> None:
    """Wait until the map has loaded every tile it needs and stopped moving."""
    _wait(
        browser,
        "const m = window.pantau.map;return m.loaded() && m.areTilesLoaded() && !m.isMoving();",
        "the map to be idle",
    )
    # One more frame so the last tiles are painted before a screenshot.
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.pantau.map.triggerRepaint();"
        "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
    )


def _console_errors(browser: Any) -> list[str]:
    """Errors the page logged since the last call (reading clears the log)."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _map_pixels(browser: Any, path: Path) -> np.ndarray:
    """Screenshot of the map element as an (height, width, 3) uint8 array; also saved."""
    png = browser.find_element("id", "map").screenshot_as_png
    path.write_bytes(png)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a screenshot has no CRS
        with MemoryFile(png) as memfile, memfile.open() as image:
            return np.moveaxis(image.read()[:3], 0, -1)


def _set_slider(browser: Any, slider_id: str, key: str) -> None:
    """Move a range input to its minimum or maximum with the keyboard (Home / End)."""
    from selenium.webdriver.common.keys import Keys

    browser.find_element("id", slider_id).send_keys(getattr(Keys, key))


def _select_layer(browser: Any, layer_id: str) -> None:
    from selenium.webdriver.support.select import Select

    Select(browser.find_element("id", "layer-select")).select_by_value(layer_id)
    _wait(
        browser,
        "return window.pantau.state.layer.id === arguments[0]",
        f"layer {layer_id}",
        layer_id,
    )
    _wait_idle(browser)


# The layer of each kind the tests draw, when the products have it (else the first of the kind).
PREFERRED = {"raster": "raster.ndvi", "choropleth": "choropleth.built_up_fraction"}


def _layer_of_kind(browser: Any, kind: str) -> str:
    layer_id = browser.execute_script(
        "const layers = window.pantau.state.layers.filter((l) => l.kind === arguments[0]);"
        "const l = layers.find((l) => l.id === arguments[1]) || layers[0];"
        "return l ? l.id : null;",
        kind,
        PREFERRED.get(kind, ""),
    )
    assert layer_id, f"/layers lists no {kind} layer"
    return str(layer_id)


def _changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ clearly (any channel by more than 24) between a and b."""
    assert a.shape == b.shape
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return float((diff > 24).mean())


# ---------- tests ----------


def test_page_loads_without_console_errors(browser: Any) -> None:
    # `browser`, not `driver`: the console still holds what the first page load logged.
    assert browser.find_element("id", "layer-select").is_enabled()
    options = browser.execute_script(
        "return [...document.querySelectorAll('#layer-select option')].map((o) => o.value)"
    )
    assert options, "the layer picker is empty"
    assert _console_errors(browser) == []


def test_page_requests_only_its_own_server(browser: Any, base_url: str) -> None:
    requested = browser.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]"
    )
    assert len(requested) > 3
    assert [u for u in requested if not u.startswith((base_url, "blob:", "data:"))] == []


@pytest.mark.parametrize("kind", ["raster", "choropleth", "bivariate", "vector"])
def test_layer_kind_renders(driver: Any, shots: Path, kind: str) -> None:
    _select_layer(driver, _layer_of_kind(driver, kind))
    _set_slider(driver, "opacity-slider", "HOME")
    _wait_idle(driver)
    hidden = _map_pixels(driver, shots / f"{kind}-hidden.png")
    _set_slider(driver, "opacity-slider", "END")
    _wait_idle(driver)
    shown = _map_pixels(driver, shots / f"{kind}.png")

    assert _changed_share(hidden, shown) > MIN_CHANGED, f"the {kind} layer drew nothing"
    assert _console_errors(driver) == []


@pytest.mark.parametrize(
    ("kind", "selector", "minimum"),
    [
        ("raster", "#legend .legend-gradient", 1),
        ("choropleth", "#legend .legend-list .swatch", 2),
        ("bivariate", "#legend .legend-bivariate .swatch", 9),
    ],
)
def test_legend_is_drawn(driver: Any, kind: str, selector: str, minimum: int) -> None:
    _select_layer(driver, _layer_of_kind(driver, kind))
    assert len(driver.find_elements("css selector", selector)) >= minimum


def test_village_outlines_render(driver: Any, shots: Path) -> None:
    _select_layer(driver, _layer_of_kind(driver, "raster"))
    _set_slider(driver, "opacity-slider", "HOME")
    _wait_idle(driver)
    outlines = _map_pixels(driver, shots / "outlines.png")
    _set_slider(driver, "opacity-slider", "END")
    background = np.array([0xEE, 0xF0, 0xF2], dtype=np.int16)  # BACKGROUND in app.js
    drawn = (np.abs(outlines.astype(np.int16) - background).max(axis=-1) > 24).mean()
    assert drawn > 0.002, "no village outlines on the map"


def test_period_slider_changes_period(driver: Any) -> None:
    layer_id = _layer_of_kind(driver, "raster")
    _select_layer(driver, layer_id)
    periods = driver.execute_script("return window.pantau.state.layer.periods")
    _set_slider(driver, "opacity-slider", "END")
    _set_slider(driver, "period-slider", "HOME")
    _wait_idle(driver)
    assert driver.find_element("id", "period-label").text == str(periods[0])
    _set_slider(driver, "period-slider", "END")
    _wait_idle(driver)
    assert driver.find_element("id", "period-label").text == str(periods[-1])
    assert _console_errors(driver) == []


def test_click_on_village_shows_its_card(driver: Any, shots: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _select_layer(driver, _layer_of_kind(driver, "choropleth"))
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

    _wait(driver, "return !document.getElementById('village-card').hidden", "the village card")
    _wait(driver, "return !!document.querySelector('#village-card table.stats')", "statistics")
    card = driver.find_element("id", "village-card")
    assert driver.find_element("id", "village-kode").text == expected["kode"] == kode
    if expected.get("nama"):
        assert driver.find_element("id", "village-name").text == expected["nama"]
    periods = driver.execute_script(
        "return [...document.querySelectorAll('#village-card table.stats thead th')]"
        ".slice(1).map((th) => th.textContent)"
    )
    assert periods, "the statistics table has no period columns"
    driver.save_screenshot(str(shots / "village-card.png"))
    assert card.is_displayed()
    assert _console_errors(driver) == []
