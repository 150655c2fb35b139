"""What the browser tests share: the app served by uvicorn, headless Chromium, waits, pixels.

The real app is served by uvicorn on 127.0.0.1 (a free port, a child process) over a
products directory. Chromium is Debian's ``/usr/bin/chromium`` driven through
``/usr/bin/chromedriver`` (``.ci/install-browser.sh``) and the ``selenium`` package; without
them the tests skip, except under ``CI`` where their absence fails the run.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

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


def require_browser() -> None:
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


@contextmanager
def serve(products_dir: Path, log_path: Path) -> Iterator[str]:
    """``uvicorn --factory tiles.app:create_app`` over ``products_dir``; yields its URL.

    A separate process, as deployed: settings come from the environment, and the pytest
    process's warnings-as-errors filter (which threads share) does not reach the server.
    On exit the server is stopped and its log must hold no exception.
    """
    import httpx

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
    found = sorted(set(exceptions(log_path)))
    assert not found, f"the server logged exceptions (see {log_path}): {found[:5]}"


def exceptions(log_path: Path) -> list[str]:
    """The exception line ending each traceback in a log."""
    found, inside = [], False
    for line in log_path.read_text().splitlines():
        if line.startswith("Traceback"):
            inside = True
        elif inside and line and not line.startswith(" "):
            found.append(line)
            inside = False
    return found


@contextmanager
def chromium(
    base_url: str, *, languages: str | None = None, downloads: Path | None = None
) -> Iterator[Any]:
    """Headless Chromium with a fresh profile at ``base_url``, its console kept.

    ``languages`` sets the browser's preferred languages (``"id,en"``: navigator.languages);
    ``downloads`` is the folder files are saved to without asking.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.TemporaryDirectory(prefix="pantau-chromium-")
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile.name}"]
    prefs: dict[str, Any] = {}
    if languages:
        flags.append(f"--lang={languages.split(',')[0]}")
        prefs["intl.accept_languages"] = languages
    if downloads:
        prefs.update(
            {
                "download.default_directory": str(downloads),
                "download.prompt_for_download": False,
                "download.directory_upgrade": True,
                # downloads that start after a fetch are "automatic": allow more than one
                "profile.default_content_setting_values.automatic_downloads": 1,
            }
        )
    for flag in flags:
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_script_timeout(WAIT)
    try:
        if downloads:
            browser.execute_cdp_cmd(
                "Browser.setDownloadBehavior",
                {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
            )
        browser.get(base_url)
        wait(browser, "return !!(window.pantau && window.pantau.state.layer)", "the first layer")
        wait_idle(browser)
        yield browser
    finally:
        browser.quit()
        profile.cleanup()


# ---------- waits ----------


def wait(browser: Any, script: str, what: str, *args: Any, timeout: float = WAIT) -> Any:
    """Poll a JS expression until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


IDLE = (
    "const m = window.pantau && window.pantau.map;"
    "return !!m && document.documentElement.dataset.state === 'idle'"
    " && m.loaded() && m.areTilesLoaded() && !m.isMoving();"
)


def wait_idle(browser: Any) -> None:
    """Wait until the page is settled (``<html data-state="idle">``: MapLibre idle, no request
    or delayed update pending) and one more frame is painted."""
    wait(browser, IDLE, "the page to be idle")
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
    )
    wait(browser, IDLE, "the page to be idle")


def console_errors(browser: Any) -> list[str]:
    """Errors the page logged since the last call (reading clears the log)."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


# ---------- pixels and controls ----------


def decode_png(png: bytes) -> np.ndarray:
    """A PNG as an (height, width, bands) uint8 array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a screenshot has no CRS
        with MemoryFile(png) as memfile, memfile.open() as image:
            return np.moveaxis(image.read(), 0, -1)


def map_pixels(browser: Any, path: Path) -> np.ndarray:
    """Screenshot of the map element as an (height, width, 3) uint8 array; also saved."""
    png = browser.find_element("id", "map").screenshot_as_png
    path.write_bytes(png)
    return decode_png(png)[..., :3]


def set_slider(browser: Any, slider_id: str, key: str) -> None:
    """Move a range input with the keyboard (``HOME``, ``END``, ``ARROW_LEFT`` ...)."""
    from selenium.webdriver.common.keys import Keys

    browser.find_element("id", slider_id).send_keys(getattr(Keys, key))


def select_layer(browser: Any, layer_id: str) -> None:
    """Choose a layer in the picker and wait until it is drawn."""
    from selenium.webdriver.support.select import Select

    Select(browser.find_element("id", "layer-select")).select_by_value(layer_id)
    wait(
        browser,
        "return window.pantau.state.layer.id === arguments[0]",
        f"layer {layer_id}",
        layer_id,
    )
    wait_idle(browser)


# The layer of each kind the tests draw, when the products have it (else the first of the kind).
PREFERRED = {"raster": "raster.ndvi", "choropleth": "choropleth.built_up_fraction"}


def layer_of_kind(browser: Any, kind: str) -> str:
    layer_id = browser.execute_script(
        "const layers = window.pantau.state.layers.filter((l) => l.kind === arguments[0]);"
        "const l = layers.find((l) => l.id === arguments[1]) || layers[0];"
        "return l ? l.id : null;",
        kind,
        PREFERRED.get(kind, ""),
    )
    assert layer_id, f"/layers lists no {kind} layer"
    return str(layer_id)


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ clearly (any channel by more than 24) between a and b."""
    assert a.shape == b.shape
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return float((diff > 24).mean())
