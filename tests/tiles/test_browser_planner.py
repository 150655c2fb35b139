"""The planner's map in a real browser, used as a person uses it (issue 13).

Headless Chromium that prefers Indonesian (``id,en``) opens the app served over the session's
products plus a ``regions.parquet`` (kab/kota and province values, boundaries and names). The
tests type into the search and choose with the keyboard, read the card and its trend, reopen
the link in a fresh tab and compare the map pixel by pixel, walk back with the Back button,
switch language, download the CSV tables, the legend and the PNG, and check accessibility:
keyboard-only path, accessible names, text contrast and axe-core's WCAG A/AA rules.

Set ``PANTAU_BROWSER_SHOTS=docs/img`` to write the README's screenshots of the Indonesian
interface (``webmap-search-id.png``, ``webmap-card-id.png``) there.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest

from tests.tiles.browser_support import (
    changed_share,
    chromium,
    console_errors,
    decode_png,
    map_pixels,
    require_browser,
    serve,
    wait,
    wait_idle,
)
from tests.tiles.conftest import DESA, KELURAHAN, PERIODS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CONDONGCATUR = "3404072003"  # desa Condongcatur, kecamatan Depok, Kabupaten Sleman
DEPOK = "340407"
assert CONDONGCATUR in DESA
#: Largest mean absolute difference (0-255) between the map before and after reopening a link.
MAX_MEAN_DIFF = 2.0
#: WCAG 2.x AA: normal text needs a contrast of at least 4.5:1.
MIN_CONTRAST = 4.5
OPTIONS = "#search-list [role=option]"
STATS_CELLS = (
    "return [...document.querySelectorAll('#village-card table.stats td')]"
    ".map((c) => c.textContent)"
)
VILLAGE_POINTS = "#village-card svg .trend-point[data-series=self]"
ZOOM_IN = ".maplibregl-ctrl-zoom-in"


# ---------- fixtures ----------


@pytest.fixture(scope="module")
def region_products(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's products plus regions.parquet, as ``pantau run`` writes it."""
    from workflows.regions import write_regions

    root = Path(shutil.copytree(products_dir, tmp_path_factory.mktemp("planner") / "products"))
    write_regions(root, gpd.read_parquet(root / "villages.parquet"))
    return root


@pytest.fixture(scope="module")
def base_url(region_products: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    with serve(region_products, tmp_path_factory.mktemp("uvicorn") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(base_url: str, downloads: Path) -> Iterator[Any]:
    """Chromium whose languages are Indonesian then English, saving downloads to a folder."""
    with chromium(base_url, languages="id,en", downloads=downloads) as driver:
        yield driver


@pytest.fixture
def page(browser: Any, base_url: str, downloads: Path) -> Any:
    """A fresh page at the server's root (no link), console and downloads emptied."""
    if len(browser.window_handles) > 1:  # a test that failed in a second tab
        for handle in browser.window_handles[1:]:
            browser.switch_to.window(handle)
            browser.close()
        browser.switch_to.window(browser.window_handles[0])
    browser.get("about:blank")
    browser.get(base_url)
    wait(browser, "return !!(window.pantau && window.pantau.state.layer)", "the first layer")
    wait_idle(browser)
    browser.get_log("browser")
    for path in downloads.iterdir():
        path.unlink()
    return browser


@pytest.fixture
def docs_shots(tmp_path: Path) -> Path:
    """Where the README's screenshots go: ``$PANTAU_BROWSER_SHOTS`` if set, else a temporary
    folder (the tests' other screenshots always go to a temporary folder)."""
    folder = Path(os.environ.get("PANTAU_BROWSER_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------- helpers ----------


def _text(driver: Any, element_id: str) -> str:
    return str(driver.execute_script(f"return document.getElementById('{element_id}').textContent"))


def _hash(driver: Any) -> dict[str, str]:
    raw = driver.execute_script("return location.hash.slice(1)")
    return dict(pair.split("=", 1) for pair in raw.split("&") if "=" in pair)


def _type_search(driver: Any, text: str) -> list[dict[str, str]]:
    """Type into the search box; wait for and return the options (id, kode, text)."""
    box = driver.find_element("id", "search-input")
    box.click()
    box.clear()
    box.send_keys(text)
    wait(driver, f"return document.querySelectorAll('{OPTIONS}').length > 0", "options")
    wait_idle(driver)
    return list(
        driver.execute_script(
            f"return [...document.querySelectorAll('{OPTIONS}')]"
            ".map((o) => ({id: o.id, kode: o.dataset.kode, text: o.innerText}))"
        )
    )


def _choose(driver: Any, text: str, kode: str) -> None:
    """Search for ``text`` and choose the option of ``kode`` with the arrow keys and Enter."""
    from selenium.webdriver.common.keys import Keys

    options = _type_search(driver, text)
    index = [o["kode"] for o in options].index(kode)
    box = driver.find_element("id", "search-input")
    for _ in range(index + 1):
        box.send_keys(Keys.ARROW_DOWN)
    assert box.get_attribute("aria-activedescendant") == options[index]["id"]
    box.send_keys(Keys.ENTER)
    wait(
        driver,
        "return document.getElementById('village-kode').dataset.kode === arguments[0]"
        " && !!document.querySelector('#village-card .trend, #village-card .trend-note')",
        "the card",
        kode,
    )
    wait_idle(driver)


def _download(downloads: Path, pattern: str, timeout: float = 30) -> Path:
    """The downloaded file whose name matches ``pattern``, once complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in downloads.iterdir() if re.search(pattern, p.name)]
        done = [p for p in done if not p.name.endswith(".crdownload") and p.stat().st_size]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no download matching {pattern}: {sorted(downloads.iterdir())}")


def _read_csv(path: Path) -> tuple[bytes, list[list[str]]]:
    raw = path.read_bytes()
    return raw[:3], list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _set_language(driver: Any, lang: str) -> None:
    from selenium.webdriver.support.select import Select

    Select(driver.find_element("id", "lang-select")).select_by_value(lang)
    wait(driver, "return document.documentElement.lang === arguments[0]", f"lang {lang}", lang)
    wait_idle(driver)


# ---------- language ----------


def test_indonesian_first(page: Any, base_url: str) -> None:
    assert page.execute_script("return document.documentElement.lang") == "id"
    assert page.find_element("css selector", "label[for=layer-select]").text == "Lapisan"
    legend = _text(page, "legend")
    assert re.search(r"\d,\d{3} – \d,\d{3} \(\d+ desa\)", legend), legend
    assert not re.search(r"\d\.\d", legend), legend
    assert _hash(page)["lang"] == "id"
    # English only for a browser that asks for English and not Indonesian.
    chosen = page.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('./static/i18n.js').then((m) => done(arguments[0].map(m.preferredLanguage)));",
        [["en-US", "id"], ["en-GB", "en"], ["fr"], ["in"], []],
    )
    assert chosen == ["id", "en", "id", "id", "id"]
    # Layer titles come from the server in both languages.
    title = page.execute_script("return window.pantau.state.layer.titles.id")
    assert page.find_element("css selector", "#layer-select option:checked").text == title
    requested = page.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert [u for u in requested if not u.startswith((base_url, "blob:", "data:"))] == []
    assert console_errors(page) == []


def test_language_switch_changes_labels_and_numbers(page: Any) -> None:
    _choose(page, "condong", CONDONGCATUR)
    cells = page.execute_script(STATS_CELLS)
    decimals = [c for c in cells if re.fullmatch(r"-?\d+[.,]\d+", c)]
    assert decimals and all("," in c for c in decimals), decimals

    _set_language(page, "en")
    assert page.find_element("css selector", "label[for=layer-select]").text == "Layer"
    assert page.find_element("id", "search-input").get_attribute("placeholder").startswith("Name")
    assert "villages)" in _text(page, "legend")
    cells = page.execute_script(STATS_CELLS)
    decimals = [c for c in cells if re.fullmatch(r"-?\d+[.,]\d+", c)]
    assert decimals and all("." in c for c in decimals), decimals
    assert _text(page, "card-level") == "Village"
    assert page.find_element("css selector", ZOOM_IN).get_attribute("aria-label") == "Zoom in"
    assert _hash(page)["lang"] == "en"

    _set_language(page, "id")
    assert page.find_element("css selector", "label[for=layer-select]").text == "Lapisan"
    assert page.find_element("css selector", ZOOM_IN).get_attribute("aria-label") == "Perbesar"
    assert console_errors(page) == []


# ---------- search and card ----------


def test_search_lists_places_to_tell_them_apart(page: Any, docs_shots: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    options = _type_search(page, "condong")
    box = page.find_element("id", "search-input")
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "true"
    assert page.find_element("id", "search-list").get_attribute("role") == "listbox"
    found = {o["kode"]: o["text"] for o in options}
    assert CONDONGCATUR in found
    text = found[CONDONGCATUR]
    for part in ("Condongcatur", "Kec. Depok", "Sleman", "34.04.07.2003", "Desa/Kelurahan"):
        assert part in text, text
    # A code prefix finds the kab/kota, its kecamatan and villages, each with its level.
    options = _type_search(page, "34.04")
    texts = [o["text"] for o in options]
    assert options[0]["kode"] == "3404" and "Kabupaten/Kota" in texts[0]
    assert any("Kecamatan" in t for t in texts) and any("Desa/Kelurahan" in t for t in texts)
    page.save_screenshot(str(docs_shots / "webmap-search-id.png"))

    box.send_keys(Keys.ESCAPE)
    assert box.get_attribute("aria-expanded") == "false"
    assert not page.find_element("id", "search-list").is_displayed()
    box.send_keys(Keys.ESCAPE)
    assert box.get_attribute("value") == ""
    assert console_errors(page) == []


def test_choosing_a_village_opens_its_card_with_trend(page: Any, docs_shots: Path) -> None:
    _choose(page, "condong", CONDONGCATUR)
    assert _text(page, "village-name") == "Condongcatur"
    assert page.find_element("id", "village-kode").text == "34.04.07.2003"
    # One point of the village per period, in order, and its kab/kota and province to compare.
    points = page.execute_script(
        f"return [...document.querySelectorAll('{VILLAGE_POINTS}')].map((p) => p.dataset.period)"
    )
    assert points == list(PERIODS)
    series = page.execute_script(
        "return [...document.querySelectorAll('#village-card svg [data-series]')]"
        ".map((g) => g.dataset.series)"
    )
    assert {"kab", "province"} <= set(series)
    changes = _text(page, "village-body")
    assert re.search(rf"{PERIODS[0]} → {PERIODS[1]}: [+-]?\d+,\d+ \((naik|turun)\)", changes)
    assert "Kabupaten Sleman" in _text(page, "card-where")
    # The map was fitted to the village, outlined as the selected one.
    fitted = page.execute_async_script(
        "const done = arguments[arguments.length - 1], m = window.pantau.map;"
        "fetch('villages/' + arguments[0]).then((r) => r.json()).then((v) => {"
        "  const b = m.getBounds(), [w, s, e, n] = v.bounds;"
        "  done(b.getWest() <= w && b.getEast() >= e && b.getSouth() <= s && b.getNorth() >= n);"
        "});",
        CONDONGCATUR,
    )
    assert fitted
    assert page.execute_script("return window.pantau.map.getFilter('selected')[2]") == CONDONGCATUR
    view = _hash(page)
    assert view["open"] == CONDONGCATUR and view["layer"] == "choropleth.built_up_fraction"
    page.save_screenshot(str(docs_shots / "webmap-card-id.png"))
    assert console_errors(page) == []


def test_search_by_code_opens_a_region_card(page: Any) -> None:
    _choose(page, "34.04.07", DEPOK)
    assert _text(page, "card-level") == "Kecamatan"
    assert page.find_element("id", "village-kode").text == "34.04.07"
    assert re.search(r"Terdiri dari \d+ Desa/Kelurahan", _text(page, "village-body"))
    points = page.execute_script(f"return document.querySelectorAll('{VILLAGE_POINTS}').length")
    assert points == len(PERIODS)
    assert _hash(page)["open"] == DEPOK
    assert console_errors(page) == []


# ---------- links and history ----------


def test_link_reopens_the_same_view(page: Any, tmp_path: Path) -> None:
    _choose(page, "condong", CONDONGCATUR)
    url = page.current_url
    before = map_pixels(page, tmp_path / "before.png")
    first = page.current_window_handle
    page.switch_to.new_window("tab")
    try:
        page.get(url)
        wait(page, "return !!(window.pantau && window.pantau.state.layer)", "the first layer")
        wait(page, "return !!document.querySelector('#village-card .trend')", "the card")
        wait_idle(page)
        assert page.current_url == url  # the link is already complete: nothing rewritten
        after = map_pixels(page, tmp_path / "after.png")
        assert _text(page, "village-name") == "Condongcatur"
        errors = console_errors(page)
    finally:
        page.close()
        page.switch_to.window(first)
    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).mean()
    assert diff < MAX_MEAN_DIFF, f"the reopened map differs: mean abs diff {diff:.2f}"
    assert errors == []


def test_back_button_walks_back_through_changes(page: Any) -> None:
    from selenium.webdriver.support.select import Select

    start = _hash(page)
    Select(page.find_element("id", "layer-select")).select_by_value("choropleth.ndvi_mean")
    wait_idle(page)
    _choose(page, "condong", CONDONGCATUR)
    assert _hash(page)["layer"] == "choropleth.ndvi_mean"

    page.back()
    wait(page, "return document.getElementById('village-card').hidden", "the card to close")
    wait_idle(page)
    view = _hash(page)
    assert "open" not in view and view["layer"] == "choropleth.ndvi_mean"
    assert view["map"] == start["map"]  # choosing the village had moved the map

    page.back()
    wait(page, "return window.pantau.state.layer.id === arguments[0]", "layer", start["layer"])
    wait_idle(page)
    assert _hash(page) == start
    assert page.find_element("id", "layer-select").get_attribute("value") == start["layer"]

    page.forward()
    wait(page, "return window.pantau.state.layer.id === 'choropleth.ndvi_mean'", "forward")
    assert console_errors(page) == []


def test_map_moves_are_recorded_after_they_stop(page: Any) -> None:
    before = _hash(page)["map"]
    length = page.execute_script("return history.length")
    page.execute_script("window.pantau.map.panBy([120, 40], {duration: 0})")
    wait_idle(page)  # idle includes the 500 ms wait before the move is recorded
    after = _hash(page)["map"]
    assert after != before
    assert page.execute_script("return history.length") == length + 1
    page.back()
    wait_idle(page)
    assert _hash(page)["map"] == before


# ---------- context ----------


def test_region_boundaries_and_names_without_basemap(page: Any) -> None:
    labels = page.execute_script(
        "return [...document.querySelectorAll('#map-labels .map-label')].map((l) => l.textContent)"
    )
    assert any("Sleman" in label for label in labels), labels
    drawn = page.execute_script(
        "const m = window.pantau.map;"
        "if (!m.getLayer('boundary-kab')) return -1;"
        "return m.queryRenderedFeatures({layers: ['boundary-kab']}).length;"
    )
    assert drawn > 0, "no kab/kota boundary drawn"


def test_true_colour_under_the_choropleth(page: Any, tmp_path: Path) -> None:
    plain = map_pixels(page, tmp_path / "off.png")
    page.find_element("id", "truecolour-toggle").click()
    wait_idle(page)
    shown = map_pixels(page, tmp_path / "on.png")
    assert changed_share(plain, shown) > 0.05
    assert _hash(page)["base"] == "rgb"
    requested = page.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((u) => u.includes('/layers/raster.rgb/'))"
    )
    assert requested, "the true-colour tiles were not requested"
    assert console_errors(page) == []


# ---------- downloads ----------


def test_table_of_the_selected_region_as_csv(page: Any, downloads: Path) -> None:
    _choose(page, "condong", CONDONGCATUR)
    page.find_element("id", "download-table-region").click()
    path = _download(downloads, rf"{CONDONGCATUR}.*\.csv$")
    bom, rows = _read_csv(path)
    assert bom == b"\xef\xbb\xbf"
    assert rows[0][:4] == ["kode", "nama", "kecamatan", "kabkota"]
    assert rows[1][:3] == [CONDONGCATUR, "Condongcatur", "Depok"]
    assert len(rows) == 2


def test_table_of_the_visible_area_as_csv(page: Any, downloads: Path) -> None:
    page.find_element("id", "download-table-view").click()
    path = _download(downloads, r"bbox.*\.csv$")
    bom, rows = _read_csv(path)
    assert bom == b"\xef\xbb\xbf"
    assert rows[0][0] == "kode"
    kodes = {r[0] for r in rows[1:]}
    assert kodes and kodes <= set(DESA + KELURAHAN)
    request = page.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".find((u) => u.includes('/table.csv?'))"
    )
    assert re.search(r"bbox=-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}&lang=id", request), request


def test_legend_classes_as_csv(page: Any, downloads: Path) -> None:
    page.find_element("id", "download-legend").click()
    path = _download(downloads, r"^pantau-legend-.*\.csv$")
    bom, rows = _read_csv(path)
    legend = page.execute_script("return window.pantau.state.layer.legend")
    assert bom == b"\xef\xbb\xbf"
    assert rows[0] == "layer period class lower upper label color pattern count".split()
    assert [r[6] for r in rows[1:]] == [e["color"] for e in legend]
    assert float(rows[1][3]) < float(rows[1][4]) <= float(rows[2][3]) + 1e-12


def test_map_as_png_with_legend(page: Any, downloads: Path) -> None:
    page.find_element("id", "download-png").click()
    path = _download(downloads, r"\.png$")
    image = decode_png(path.read_bytes())[..., :3]
    width, height = page.execute_script(
        "const c = window.pantau.map.getCanvas(); return [c.width, c.height]"
    )
    assert image.shape[1] > width and image.shape[0] > height  # legend beside, title above
    # The legend column holds the colour of every class.
    column = image[:, width:].reshape(-1, 3)
    legend = page.execute_script("return window.pantau.state.layer.legend")
    for entry in legend:
        rgb = np.array([int(entry["color"][i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(column.astype(int) - rgb).max(axis=1) <= 2).any(), entry["color"]
    # ... and the map itself (not a blank canvas).
    assert image[60 : 60 + height // 2, : width // 2].std() > 5


# ---------- accessibility ----------

KEYBOARD_PATH = [
    "lang-select", "search-input", "layer-select", "period-slider", "opacity-slider",
    "truecolour-toggle", "download-table-view", "download-png", "download-legend",
]  # fmt: skip


def test_keyboard_only_path(page: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.execute_script("document.activeElement.blur(); window.focus();")
    reached: list[str] = []
    unfocused: list[str] = []
    for _ in range(40):
        ActionChains(page).send_keys(Keys.TAB).perform()
        focus = page.execute_script(
            "const e = document.activeElement, s = getComputedStyle(e);"
            "return [e.id, s.outlineStyle, parseFloat(s.outlineWidth)];"
        )
        element_id, style, width = focus
        if element_id in KEYBOARD_PATH and element_id not in reached:
            reached.append(element_id)
            if style == "none" or width < 2:
                unfocused.append(element_id)
        if set(KEYBOARD_PATH) <= set(reached):
            break
    assert reached == [i for i in KEYBOARD_PATH if i in reached], f"tab order {reached}"
    assert set(KEYBOARD_PATH) <= set(reached), f"never reached: {set(KEYBOARD_PATH) - set(reached)}"
    assert unfocused == [], f"no visible focus on {unfocused}"
    # The layer picker works from the keyboard alone.
    before = page.execute_script("return window.pantau.state.layer.id")
    select = page.find_element("id", "layer-select")
    select.send_keys(Keys.ARROW_DOWN)
    wait_idle(page)
    assert page.execute_script("return window.pantau.state.layer.id") != before


ACCESSIBLE_NAMES = """
const nameOf = (e) => {
  const by = e.getAttribute('aria-labelledby');
  if (by) {
    const ids = by.split(/\\s+/);
    return ids.map((id) => document.getElementById(id)?.textContent || '').join(' ').trim();
  }
  if (e.getAttribute('aria-label')) return e.getAttribute('aria-label').trim();
  if (e.labels && e.labels.length) return [...e.labels].map((l) => l.textContent).join(' ').trim();
  if (e.tagName === 'BUTTON') return e.textContent.trim() || e.title;
  return (e.title || '').trim();
};
const controls = document.querySelectorAll(
  'input, select, textarea, button, [role=combobox], [role=listbox], [role=img], [role=region]');
const unnamed = [...controls].filter((e) => e.getClientRects().length && !nameOf(e));
return unnamed.map((e) => e.outerHTML.slice(0, 120));
"""


def test_every_control_has_an_accessible_name(page: Any) -> None:
    _choose(page, "condong", CONDONGCATUR)
    assert page.execute_script(ACCESSIBLE_NAMES) == []


CONTRAST = """
const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const linear = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const c = [r, g, b].map((v) => linear(v / 255));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
};
const background = (e) => {
  for (let n = e; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c.length === 4 ? c[3] > 0.95 : c.length === 3) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const blend = (fg, bg) =>
  fg.length === 4 ? fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3])) : fg;
const out = [];
for (const root of document.querySelectorAll(arguments[0])) {
  for (const e of root.querySelectorAll('*')) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length || e.closest('[hidden], .visually-hidden')) continue;
    const s = getComputedStyle(e);
    if (s.visibility === 'hidden' || e.closest(':disabled')) continue;
    const bg = background(e);
    const fg = blend(rgba(e instanceof SVGElement ? s.fill : s.color), bg);
    const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const cls = typeof e.className === 'string' ? e.className : e.className.baseVal;
    out.push([`${e.tagName}.${cls}`, e.textContent.trim().slice(0, 30), (a + 0.05) / (b + 0.05)]);
  }
}
return out;
"""


def test_text_contrast_of_panel_and_card(page: Any) -> None:
    _choose(page, "condong", CONDONGCATUR)
    measured = page.execute_script(CONTRAST, ".panel, #village-card")
    assert len(measured) > 30  # panel labels, legend, card texts and chart labels
    low = [(tag, text, round(ratio, 2)) for tag, text, ratio in measured if ratio < MIN_CONTRAST]
    assert low == [], f"text below {MIN_CONTRAST}:1 contrast: {low}"


def test_axe_finds_no_wcag_a_or_aa_violations(page: Any) -> None:
    axe = pytest.importorskip("selenium_axe_python", reason="axe-core: selenium-axe-python")
    _choose(page, "condong", CONDONGCATUR)
    axe.Axe(page).inject()
    results = page.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}}).then(done);",
        ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    )
    found = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]
    ]
    assert found == [], found
