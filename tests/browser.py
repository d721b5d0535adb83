"""Headless Chromium for the map tests, with the network switched off."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium and chromedriver not installed (apt-get install chromium chromium-driver)",
)


@contextmanager
def offline_browser(width: int = 1200, height: int = 900):
    """A headless Chromium that cannot reach any network: every request goes to a closed port."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="walkcircle-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        # no network: a proxy on a port nobody listens on, and no name resolution at all
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


MAP_STATS_JS = """
const el = document.querySelector('.folium-map');
const map = el ? window[el.id] : null;
if (!map || typeof L === 'undefined') { return null; }
const stats = {leaflet: L.version, layers: 0, circles: 0, paths: 0, tiles: 0, overlays: 0};
map.eachLayer(function (layer) {
  stats.layers += 1;
  if (layer instanceof L.CircleMarker) { stats.circles += 1; }
  else if (layer instanceof L.Polygon || layer instanceof L.Polyline) { stats.paths += 1; }
  if (layer instanceof L.TileLayer) { stats.tiles += 1; }
});
const control = document.querySelectorAll('.leaflet-control-layers-overlays label');
stats.overlays = control.length;
stats.svg_paths = document.querySelectorAll('.leaflet-overlay-pane path').length;
stats.legend = !!document.querySelector('.walkcircle-legend');
stats.external_requests = performance.getEntriesByType('resource')
  .map(e => e.name).filter(n => n.startsWith('http'));
return stats;
"""


def open_map(driver, path: Path) -> dict:
    driver.get(Path(path).resolve().as_uri())
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.execute_script(MAP_STATS_JS) is not None)
    return driver.execute_script(MAP_STATS_JS)


def screenshot_is_not_blank(driver, path: Path) -> tuple[bool, int]:
    """Save a screenshot and tell whether it shows more than a flat background."""
    import numpy as np
    from PIL import Image

    driver.save_screenshot(str(path))
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    colours = np.unique(pixels // 16, axis=0).shape[0]
    return colours > 20, colours


# every text a reader of the map can see: the page (legend, layer control, attribution, scale)
# plus the tooltip and popup of the first features of every GeoJSON layer, on the map or not
MAP_TEXT_JS = """
const texts = [document.body.innerText];
const seen = new Set();
for (const key of Object.keys(window)) {
  let value;
  try { value = window[key]; } catch (e) { continue; }
  if (!(value instanceof L.GeoJSON) || seen.has(value)) { continue; }
  seen.add(value);
  let k = 0;
  value.eachLayer(function (layer) {
    if (k++ > 40) { return; }
    const own = [layer.getTooltip && layer.getTooltip(), layer.getPopup && layer.getPopup()];
    for (const bound of [...own, value.getTooltip(), value.getPopup()]) {
      if (!bound) { continue; }
      let content = bound._content;
      if (typeof content === 'function') { content = content(layer); }
      if (content instanceof HTMLElement) {
        const host = document.createElement('div');
        host.style.position = 'absolute'; host.style.left = '-10000px';
        host.appendChild(content); document.body.appendChild(host);
        content = host.innerText; host.remove();
      }
      texts.push(String(content));
    }
  });
}
return texts.join('\\n');
"""

RECT_JS = """
const el = document.querySelector(arguments[0]);
if (!el) { return null; }
const r = el.getBoundingClientRect();
const style = window.getComputedStyle(el);
return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,
        visible: style.visibility !== 'hidden' && style.display !== 'none', text: el.innerText};
"""


def element_rect(driver, selector: str) -> dict | None:
    """Bounding box (viewport pixels), visibility and text of the first element matching a selector."""
    return driver.execute_script(RECT_JS, selector)


def overlaps(a: dict, b: dict) -> bool:
    """Whether two bounding boxes intersect."""
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def open_map_timed(driver, path: Path, timeout_s: float = 120.0) -> float:
    """Open a map and return the seconds until the load event has fired and Leaflet is ready."""
    import time

    from selenium.webdriver.support.ui import WebDriverWait

    start = time.perf_counter()
    driver.get(Path(path).resolve().as_uri())  # returns after the load event
    WebDriverWait(driver, timeout_s, poll_frequency=0.02).until(
        lambda d: d.execute_script(
            "const el = document.querySelector('.folium-map');"
            "return document.readyState === 'complete' && !!el && typeof L !== 'undefined' && !!window[el.id]"
            " && window[el.id]._loaded === true;"
        )
    )
    return time.perf_counter() - start
