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
