"""Maps in a real browser with the network off, the report, GIS files, atomic writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from browser import needs_browser, offline_browser, open_map, screenshot_is_not_blank
from walkcircle import Study
from walkcircle.coords import wgs84_to_gcj02
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.isochrones import isochrones
from walkcircle.outputs.export import atomic_path, export_results, write_geopackage
from walkcircle.outputs.maps import inline_assets, save_map, study_map
from walkcircle.outputs.report import render_report, write_report


@pytest.fixture(scope="module")
def cau_study(cau_osm):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        study = Study(osm=cau_osm, profile="hebi-2021", suggest={"elderly_care": 2})
        results = study.run()
    return study, results


def _map(study, results, **kw):
    iso = isochrones(results.network, [116.352], [40.003], [5, 10])
    return study_map(
        results.homes, results.facilities, study.profile, results.communities, iso, results.suggestions, **kw
    )


def test_offline_html_has_no_external_assets(tmp_path, cau_study):
    study, results = cau_study
    path = save_map(_map(study, results, lang="zh"), tmp_path / "map.html")
    page = path.read_text(encoding="utf-8")
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://', page)
    assert "Leaflet 1.9.3" in page and "jQuery" in page
    assert "data:image/png;base64" in page  # the layer-control icon
    online = save_map(_map(study, results), tmp_path / "online.html", offline=False).read_text(
        encoding="utf-8"
    )
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"' in online
    assert len(online) < len(page)


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("basemap", ["osm", "none"])
def test_map_opens_offline_in_chromium(tmp_path, cau_study, basemap):
    study, results = cau_study
    path = save_map(_map(study, results, basemap=basemap, title="CAU test"), tmp_path / "map.html")
    sites = sum(len(s.sites) for s in results.suggestions)
    with offline_browser() as driver:
        stats = open_map(driver, path)
        ok, colours = screenshot_is_not_blank(driver, tmp_path / "shot.png")
    assert stats["leaflet"] == "1.9.3"
    # every home, facility and suggested site is a circle marker on the map
    assert stats["circles"] == len(results.homes) + len(results.facilities) + sites
    assert stats["svg_paths"] >= stats["circles"]
    categories_present = results.facilities["category"].nunique()
    # homes + one layer per category + isochrones + sites (no community layer without a file)
    assert stats["overlays"] == 1 + categories_present + 1 + 1
    assert stats["tiles"] == (1 if basemap == "osm" else 0)
    assert stats["legend"]
    loaded_code = [
        u for u in stats["external_requests"] if not u.startswith("https://tile.openstreetmap.org/")
    ]
    assert loaded_code == []
    assert ok, f"screenshot looks blank ({colours} colours)"


def test_gcj02_basemap_shifts_the_overlay(tmp_path, cau_study):
    study, results = cau_study
    lon, lat = 116.3500000, 40.0000000
    facilities = results.facilities.iloc[:1].copy()
    facilities["lon"], facilities["lat"] = lon, lat
    facilities = gpd.GeoDataFrame(facilities, geometry=gpd.points_from_xy([lon], [lat]), crs="EPSG:4326")
    homes = results.homes.iloc[:1]
    for basemap, expected in (("amap", wgs84_to_gcj02(lon, lat)), ("osm", (lon, lat))):
        page = save_map(
            study_map(homes, facilities, study.profile, basemap=basemap), tmp_path / f"{basemap}.html"
        ).read_text(encoding="utf-8")
        features = [
            json.loads(m)
            for m in re.findall(r'_add\((\{"features": .*?"type": "FeatureCollection"\})\);', page)
        ]
        points = [
            f["geometry"]["coordinates"]
            for fc in features
            for f in fc["features"]
            if f["properties"].get("category")
        ]
        assert len(points) == 1
        np.testing.assert_allclose(points[0], [float(expected[0]), float(expected[1])], atol=1e-9)
    # the shift is the few hundred metres GCJ-02 puts between the two
    g_lon, _ = wgs84_to_gcj02(lon, lat)
    assert abs(float(g_lon) - lon) > 0.004


def test_unknown_basemap_and_language(cau_study):
    study, results = cau_study
    with pytest.raises(InputError, match="unknown basemap"):
        study_map(results.homes, results.facilities, study.profile, basemap="google")
    with pytest.raises(InputError, match="unknown language"):
        study_map(results.homes, results.facilities, study.profile, lang="fr")


def test_inline_refuses_leftover_cdn_assets():
    page = '<html><head><script src="https://cdn.example.org/x.js"></script></head></html>'
    with pytest.raises(InputError, match="external asset"):
        inline_assets(page)


def test_exports_read_back_in_gis_libraries(tmp_path, cau_study):
    _, results = cau_study
    written = export_results(results, tmp_path / "out")
    names = {p.name for p in written}
    assert {
        "study.gpkg",
        "homes.parquet",
        "homes.csv",
        "communities.csv",
        "ledger.csv",
        "summary.json",
    } <= names
    layers = dict(pyogrio.list_layers(tmp_path / "out" / "study.gpkg"))
    assert {"homes", "facilities", "edges", "ledger", "districts", "suggestions"} <= set(layers)
    homes = gpd.read_file(tmp_path / "out" / "study.gpkg", layer="homes")
    assert len(homes) == len(results.homes) and homes.crs.to_epsg() == 4326
    assert homes["score"].to_numpy() == pytest.approx(results.homes["score"].to_numpy())
    facilities = pyogrio.read_dataframe(tmp_path / "out" / "study.gpkg", layer="facilities")
    assert len(facilities) == len(results.facilities)
    edges = gpd.read_file(tmp_path / "out" / "study.gpkg", layer="edges")
    assert len(edges) == results.network.n_edges
    ledger = pyogrio.read_dataframe(tmp_path / "out" / "study.gpkg", layer="ledger")
    assert len(ledger) == len(results.ledger)
    parquet = gpd.read_parquet(tmp_path / "out" / "homes.parquet")
    assert len(parquet) == len(results.homes) and parquet.crs.to_epsg() == 4326
    csv = pd.read_csv(tmp_path / "out" / "homes.csv", encoding="utf-8-sig")
    # CSV files are tidy: no WKT (geometry lives in the GeoPackage/GeoParquet), coordinates kept
    assert len(csv) == len(results.homes) and "geometry" not in csv and {"lon", "lat"} <= set(csv)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["network"]["nodes"] == results.network.n_nodes
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_export_parts_apart_write_what_they_write_together(tmp_path, cau_study):
    _, results = cau_study
    together = {p.name for p in export_results(results, tmp_path / "both")}
    tables = {p.name for p in export_results(results, tmp_path / "apart", parts=("tables",))}
    geopackage = {p.name for p in export_results(results, tmp_path / "apart", parts=("geopackage",))}
    assert geopackage == {"study.gpkg"} and not tables & geopackage
    assert tables | geopackage == together == {p.name for p in (tmp_path / "apart").iterdir()}
    for name in tables:
        assert (tmp_path / "apart" / name).read_bytes() == (tmp_path / "both" / name).read_bytes(), name
    assert dict(pyogrio.list_layers(tmp_path / "apart" / "study.gpkg")) == dict(
        pyogrio.list_layers(tmp_path / "both" / "study.gpkg")
    )
    with pytest.raises(ValueError, match="unknown export parts"):
        export_results(results, tmp_path / "x", parts=("tables", "maps"))


def test_atomic_writes_leave_nothing_half_written(tmp_path, cau_study):
    _, results = cau_study
    target = tmp_path / "x.gpkg"

    def crash_mid_write():
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crash_mid_write()
    assert not target.exists() and not list(tmp_path.iterdir())
    # a layer GDAL cannot write fails the whole file, and the old file stays as it was
    target.write_bytes(b"old")
    bad = results.homes.iloc[:3].assign(bad=np.array([1 + 2j, 3j, 1j]))  # GDAL has no complex fields
    with pytest.raises(NotImplementedError, match="complex128"):
        write_geopackage({"ok": results.homes.iloc[:3], "bad": bad}, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.gpkg"]


def test_report_is_self_contained_in_both_languages(tmp_path, cau_study):
    study, results = cau_study
    en = render_report(results, study.profile, "en")
    zh = render_report(results, study.profile, "zh")
    for page in (en, zh):
        assert not re.findall(r'(?:src|href)="https?://', page)
        # two charts and a static map per category
        assert page.count("data:image/png;base64") == 2 + len(results.access.categories)
    assert "Programme ledger" in en and "项目台账" in zh
    assert study.profile.category("community_health").en in en and "Suggested new sites" in en
    assert "versions" in en and "numpy" in en
    path = write_report(results, study.profile, tmp_path / "report.html", "zh")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_map_and_report(tmp_path, cau_osm):
    args = [sys.executable, "-m", "walkcircle.cli"]
    res = subprocess.run(
        [*args, "map", "--osm", str(cau_osm), "--out", str(tmp_path / "m.html"), "--basemap", "amap", "--lang", "zh",
         "--isochrones-at", "116.352,40.003", "--suggest", "elderly_care:2", "-q"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "works offline" in res.stdout
    res = subprocess.run(
        [*args, "report", "--osm", str(cau_osm), "--out", str(tmp_path / "r.html"), "-q"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r.html").stat().st_size > 20_000
    res = subprocess.run(
        [*args, "map", "--osm", str(cau_osm), "--basemap", "bing"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "use one of" in res.stderr
    res = subprocess.run(
        [*args, "map", "--osm", str(cau_osm), "--suggest", "park:zero"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "CATEGORY:K" in res.stderr
