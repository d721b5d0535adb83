"""Facilities: OSM classification against independent counts, tables, CRS checks, merging."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from osm_helpers import open_xml, overpass_json, parse_osm_xml
from overpass_server import FakeOSMServer
from walkcircle.coords import from_wgs84, wgs84_to_gcj02
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.profile import load_profile
from walkcircle.sources.facilities import collect_facilities, empty_categories
from walkcircle.sources.loads import FacilityLoad, LoadReport, _facility_frame
from walkcircle.sources.merge import merge_facilities
from walkcircle.sources.osm import OverpassConfig
from walkcircle.sources.osm_features import facilities_from_osm_file, facilities_from_overpass
from walkcircle.sources.tables import TableSpec, detect_crs_mismatch, looks_swapped, read_facility_table

GEOD = Geod(ellps="WGS84")
GB = load_profile("gb50180-2018")
HEBI = load_profile("hebi-2021")
MOFCOM = load_profile("mofcom-2021")


def _independent_counts(path) -> dict[str, int]:
    """Count features by plain reading of the XML (nodes, ways, multipolygon relations)."""
    with open_xml(path) as fh:
        root = ET.parse(fh).getroot()
    node_ids = {el.get("id") for el in root if el.tag == "node"}
    way_ids = {el.get("id") for el in root if el.tag == "way"}
    counts: dict[str, int] = {}

    def values(tags, key):
        return {v.strip() for v in tags.get(key, "").split(";")}

    for el in root:
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        if el.tag == "way" and not all(nd.get("ref") in node_ids for nd in el.findall("nd")):
            continue
        if el.tag == "relation":
            if tags.get("type") != "multipolygon":
                continue
            members = [m for m in el.findall("member") if m.get("type") == "way"]
            if not members or not all(m.get("ref") in way_ids for m in members):
                continue
        hits = {
            "bus_stop": "bus_stop" in values(tags, "highway")
            or ("platform" in values(tags, "public_transport") and tags.get("bus") == "yes")
            or "bus_station" in values(tags, "amenity"),
            "kindergarten": bool(values(tags, "amenity") & {"kindergarten", "childcare"}),
            "convenience": bool(values(tags, "shop") & {"convenience", "kiosk"}),
            "pharmacy": "pharmacy" in values(tags, "amenity") or "chemist" in values(tags, "shop")
            or "pharmacy" in values(tags, "healthcare"),
            "library_arts_community": bool(values(tags, "amenity") & {"library", "arts_centre", "community_centre"}),
            "pitch": "pitch" in values(tags, "leisure"),
        }  # fmt: skip
        for k, hit in hits.items():
            counts[k] = counts.get(k, 0) + int(hit)
    return counts


@pytest.mark.parametrize("fixture", ["tsinghua_osm", "cau_osm"])
def test_osm_counts_match_an_independent_count(request, fixture):
    path = request.getfixturevalue(fixture)
    truth = _independent_counts(path)
    gb = facilities_from_osm_file(path, GB).counts()
    mofcom = facilities_from_osm_file(path, MOFCOM).counts()
    assert gb.get("bus_stop", 0) == truth["bus_stop"]
    assert gb.get("kindergarten", 0) == truth["kindergarten"]
    assert mofcom.get("convenience_store", 0) == truth["convenience"]
    assert mofcom.get("pharmacy", 0) == truth["pharmacy"]
    assert gb.get("culture_station", 0) == truth["library_arts_community"]
    # a pitch is both a small and a medium sports ground
    assert gb.get("small_sports", 0) >= truth["pitch"] and gb.get("medium_sports", 0) >= truth["pitch"]


def test_bus_stop_facts_from_the_fixture_readme(tsinghua_osm, cau_osm):
    # README of ../shared/fixtures: 68 and 24 nodes tagged highway=bus_stop
    assert facilities_from_osm_file(tsinghua_osm, GB).counts()["bus_stop"] == 68
    assert facilities_from_osm_file(cau_osm, GB).counts()["bus_stop"] == 24


def test_buildings_and_sites_become_one_point_inside(tsinghua_osm):
    load = facilities_from_osm_file(tsinghua_osm, HEBI)
    fac = load.facilities
    assert fac["feature_id"].str.startswith("osm:w").any()
    # a way feature's point lies inside its polygon (representative point, not centroid)
    nodes, ways = parse_osm_xml(tsinghua_osm)
    checked = 0
    import shapely

    for wid, refs, tags in ways:
        if tags.get("amenity") in ("hospital", "school") and refs[0] == refs[-1]:
            poly = shapely.Polygon([nodes[r][:2] for r in refs])
            row = fac[fac["feature_id"] == f"osm:w{wid}"].iloc[0]
            assert poly.contains(shapely.Point(row["lon"], row["lat"]))
            checked += 1
    assert checked >= 2
    assert fac["facility_id"].is_unique


def test_pbf_and_xml_give_the_same_facilities(tmp_path, tsinghua_osm):
    from osm_helpers import convert_with_osmium

    pbf = convert_with_osmium(tsinghua_osm, tmp_path / "t.osm.pbf")
    a = facilities_from_osm_file(tsinghua_osm, HEBI).facilities.sort_values("facility_id")
    b = facilities_from_osm_file(pbf, HEBI).facilities.sort_values("facility_id")
    assert a["facility_id"].tolist() == b["facility_id"].tolist()
    np.testing.assert_allclose(a["lon"], b["lon"], atol=1e-7)


def test_incomplete_multipolygons_are_counted(helsinki_pbf):
    with pytest.warns(WalkcircleWarning, match="incomplete geometry"):
        load = facilities_from_osm_file(helsinki_pbf, MOFCOM)
    assert len(load.facilities) > 100


# ---------------------------------------------------------------------------- tables


def _write_csv(path, rows, encoding="utf-8"):
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


HEBI_POINTS = [(114.2970, 35.7480), (114.3010, 35.7512), (114.2890, 35.7420), (114.3105, 35.7555)]


def test_gcj02_table_is_converted_to_wgs84(tmp_path):
    lon = np.array([p[0] for p in HEBI_POINTS])
    lat = np.array([p[1] for p in HEBI_POINTS])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    path = _write_csv(
        tmp_path / "amap.csv",
        {
            "name": ["a", "b", "c", "d"],
            "lng": g_lon,
            "lat": g_lat,
            "typecode": ["060200", "150702", "090300", "141204"],
        },
    )
    load = read_facility_table(path, HEBI, "gcj02")
    fac = load.facilities
    assert fac["category"].tolist() == ["convenience_store", "bus_stop", "community_health", "kindergarten"]
    err = GEOD.inv(fac["lon"].to_numpy(), fac["lat"].to_numpy(), lon, lat)[2]
    assert np.max(err) < 0.5
    assert fac.crs.to_epsg() == 4326


@pytest.mark.parametrize("crs", ["wgs84", "bd09"])
def test_other_systems_round_trip(tmp_path, crs):
    lon = np.array([p[0] for p in HEBI_POINTS])
    lat = np.array([p[1] for p in HEBI_POINTS])
    x, y = from_wgs84(lon, lat, crs)
    path = _write_csv(tmp_path / "t.csv", {"longitude": x, "latitude": y, "category": ["bus_stop"] * 4})
    fac = read_facility_table(path, HEBI, crs).facilities
    assert np.max(GEOD.inv(fac["lon"].to_numpy(), fac["lat"].to_numpy(), lon, lat)[2]) < 0.5


def test_labels_in_chinese_english_and_ids_and_unknowns_are_counted(tmp_path):
    path = _write_csv(
        tmp_path / "t.csv",
        {
            "经度": [114.297, 114.298, 114.299, 114.300, 114.301],
            "纬度": [35.748, 35.749, 35.750, 35.751, 35.752],
            "名称": ["一", "二", "三", "四", "五"],
            "类别": ["公交车站", "Kindergarten", "park", "宇宙飞船站", "bus_stop|park"],
        },
    )
    with pytest.warns(WalkcircleWarning, match="1 rows match no category.*宇宙飞船站"):
        load = read_facility_table(path, HEBI, "wgs84")
    assert load.counts() == {"bus_stop": 2, "park": 2, "kindergarten": 1}
    report = load.reports[0]
    assert report.unclassified == 1 and report.unknown_labels == {"宇宙飞船站": 1}
    assert load.facilities["name"].tolist()[0] == "一"


def test_unknown_typecodes_are_counted(tmp_path):
    path = _write_csv(
        tmp_path / "t.csv", {"lon": [114.3, 114.31], "lat": [35.75, 35.76], "typecode": ["060200", "999999"]}
    )
    with pytest.warns(WalkcircleWarning, match="typecode 999999"):
        load = read_facility_table(path, HEBI, "gcj02")
    assert load.reports[0].unclassified == 1 and len(load.facilities) == 1


def test_gbk_csv_and_location_column(tmp_path):
    path = tmp_path / "gbk.csv"
    pd.DataFrame({"名称": ["鹤壁便利店"], "location": ["114.297,35.748"], "typecode": ["060200"]}).to_csv(
        path, index=False, encoding="gbk"
    )
    load = read_facility_table(path, HEBI, "gcj02")
    assert load.facilities["name"].iloc[0] == "鹤壁便利店"
    assert len(load.facilities) == 1


def test_one_category_for_every_row(tmp_path):
    path = _write_csv(tmp_path / "t.csv", {"lon": [114.3, 114.31], "lat": [35.75, 35.76]})
    load = read_facility_table(path, HEBI, "wgs84", category="elderly_care")
    assert load.counts() == {"elderly_care": 2}
    with pytest.raises(InputError, match="no category 'daycare'"):
        read_facility_table(path, HEBI, "wgs84", category="daycare")


def test_geojson_and_geopackage_tables(tmp_path):
    lon = [p[0] for p in HEBI_POINTS]
    lat = [p[1] for p in HEBI_POINTS]
    gdf = gpd.GeoDataFrame(
        {"name": list("abcd"), "category": ["bus_stop", "park", "park", "culture"]},
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )
    gdf.to_file(tmp_path / "f.geojson", driver="GeoJSON")
    gdf.to_file(tmp_path / "f.gpkg", layer="pois", driver="GPKG")
    a = read_facility_table(tmp_path / "f.geojson", HEBI, "wgs84")
    b = read_facility_table(tmp_path / "f.gpkg", HEBI, "wgs84", layer="pois")
    assert a.counts() == b.counts() == {"park": 2, "bus_stop": 1, "culture": 1}
    np.testing.assert_allclose(a.facilities["lon"], lon)
    # a projected GeoPackage is reprojected; it cannot be GCJ-02
    gdf.to_crs("EPSG:32650").to_file(tmp_path / "utm.gpkg", driver="GPKG")
    c = read_facility_table(tmp_path / "utm.gpkg", HEBI, "wgs84")
    np.testing.assert_allclose(c.facilities["lat"], lat, atol=1e-7)
    with pytest.raises(InputError, match="projected CRS.*cannot be gcj02"):
        read_facility_table(tmp_path / "utm.gpkg", HEBI, "gcj02")


# ---------------------------------------------------------------------------- bad tables


def test_bad_tables(tmp_path):
    ok = {"lon": [114.3], "lat": [35.75], "category": ["bus_stop"]}
    path = _write_csv(tmp_path / "ok.csv", ok)
    with pytest.raises(InputError, match=r"ok\.csv: declare the table's coordinate system"):
        read_facility_table(path, HEBI, None)
    with pytest.raises(InputError, match="unknown coordinate system 'utm50'"):
        read_facility_table(path, HEBI, "utm50")
    no_coords = _write_csv(tmp_path / "nc.csv", {"addr": ["x"], "category": ["bus_stop"]})
    with pytest.raises(InputError, match=r"nc\.csv: no coordinate columns found.*--lon-col"):
        read_facility_table(no_coords, HEBI, "wgs84")
    with pytest.raises(InputError, match="no column 'x_gcj'"):
        read_facility_table(path, HEBI, "wgs84", lon_col="x_gcj", lat_col="lat")
    no_cat = _write_csv(tmp_path / "ncat.csv", {"lon": [114.3], "lat": [35.75]})
    with pytest.raises(InputError, match="no 'category' or AMap 'typecode' column"):
        read_facility_table(no_cat, HEBI, "wgs84")
    swapped = _write_csv(
        tmp_path / "sw.csv", {"lon": [35.75, 35.76], "lat": [114.3, 114.31], "category": ["park", "park"]}
    )
    with pytest.raises(InputError, match=r"sw\.csv: longitude and latitude look swapped"):
        read_facility_table(swapped, HEBI, "wgs84")
    bad_values = _write_csv(
        tmp_path / "bv.csv", {"lon": ["x", "y"], "lat": ["", "?"], "category": ["park", "park"]}
    )
    with pytest.raises(InputError, match="no row has valid coordinates"):
        read_facility_table(bad_values, HEBI, "wgs84")
    missing = tmp_path / "missing.csv"
    with pytest.raises(InputError, match="file not found"):
        read_facility_table(missing, HEBI, "wgs84")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_facility_table(empty, HEBI, "wgs84")
    header_only = tmp_path / "header.csv"
    header_only.write_text("lon,lat,category\n")
    with pytest.warns(WalkcircleWarning, match="no rows"):
        assert len(read_facility_table(header_only, HEBI, "wgs84").facilities) == 0
    # zipped Shapefiles are read now: a broken zip fails in one line
    (tmp_path / "x.shp.zip").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"x\.shp\.zip: cannot read the table \(File is not a zip file\)"):
        read_facility_table(tmp_path / "x.shp.zip", HEBI, "wgs84")


def test_some_invalid_rows_and_rows_outside_the_area_are_counted(tmp_path):
    path = _write_csv(
        tmp_path / "t.csv",
        {
            "lon": ["114.30", "", "114.31", "116.4"],
            "lat": ["35.75", "35.7", "35.76", "39.9"],
            "category": ["park"] * 4,
        },
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load = read_facility_table(path, HEBI, "wgs84", area=(114.2, 35.7, 114.4, 35.8))
    messages = [str(w.message) for w in caught]
    assert any("1 rows without valid coordinates" in m for m in messages)
    assert any("1 rows lie outside the study area" in m for m in messages)
    r = load.reports[0]
    assert (r.rows_read, r.invalid_coordinates, r.outside_area, r.kept) == (4, 1, 1, 2)


def test_swap_detection():
    assert looks_swapped(np.array([35.7, 35.8]), np.array([114.3, 114.2]))
    assert not looks_swapped(np.array([114.3, 114.2]), np.array([35.7, 35.8]))
    assert looks_swapped(np.array([60.1, 60.2]), np.array([24.9, 24.95]), area=(24.9, 60.1, 25.0, 60.2))
    assert not looks_swapped(np.array([24.9, 24.95]), np.array([60.1, 60.2]), area=(24.9, 60.1, 25.0, 60.2))
    assert looks_swapped(np.array([45.0]), np.array([120.0]))  # |lat| > 90


# ---------------------------------------------------------------------------- CRS mismatch


def test_gcj02_declared_as_wgs84_is_detected_from_osm_matches(tmp_path, cau_osm):
    osm = facilities_from_osm_file(cau_osm, HEBI).facilities
    sample = osm.sample(12, random_state=1)
    g_lon, g_lat = wgs84_to_gcj02(sample["lon"].to_numpy(), sample["lat"].to_numpy())
    path = _write_csv(
        tmp_path / "amap.csv",
        {"name": sample["name"], "lon": g_lon, "lat": g_lat, "category": sample["category"]},
    )
    wrong = read_facility_table(path, HEBI, "wgs84")
    assert detect_crs_mismatch(wrong.facilities, osm, "wgs84") == "gcj02"
    right = read_facility_table(path, HEBI, "gcj02")
    assert detect_crs_mismatch(right.facilities, osm, "gcj02") is None
    with pytest.warns(WalkcircleWarning, match="declared wgs84 but the points sit where gcj02"):
        collect_facilities(HEBI, osm_path=cau_osm, tables=[TableSpec(path, "wgs84")])
    with warnings.catch_warnings():
        warnings.simplefilter("error", WalkcircleWarning)
        collect_facilities(HEBI, osm_path=cau_osm, tables=[TableSpec(path, "gcj02")])


def test_too_few_matches_say_nothing(cau_osm):
    osm = facilities_from_osm_file(cau_osm, HEBI).facilities
    assert detect_crs_mismatch(osm.iloc[:2], osm, "wgs84") is None


# ---------------------------------------------------------------------------- merging


def _load(points, category, source):
    lon = [p[0] for p in points]
    lat = [p[1] for p in points]
    ids = [f"{source}:{i}" for i in range(len(points))]
    frame = _facility_frame(ids, [category] * len(points), [""] * len(points), lon, lat, source)
    return FacilityLoad(frame, [LoadReport(source=source)])


def test_merge_keeps_near_duplicates_once_and_counts_them():
    a = _load([(114.3000, 35.7500), (114.3100, 35.7500)], "bus_stop", "table")
    # 11 m and 900 m away from the first table point
    b = _load([(114.30012, 35.7500), (114.3100, 35.7581)], "bus_stop", "osm")
    c = _load([(114.30012, 35.7500)], "park", "osm2")  # same place, other category: kept
    merged = merge_facilities([a, b, c], dedupe_m=30)
    assert merged.counts() == {"bus_stop": 3, "park": 1}
    assert merged.reports[-1].duplicates_removed == {"bus_stop": 1}
    kept = merged.facilities[merged.facilities["category"] == "bus_stop"]
    assert "table:0" in kept["feature_id"].tolist() and "osm:0" not in kept["feature_id"].tolist()
    assert merge_facilities([a, b], dedupe_m=0).counts() == {"bus_stop": 4}


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.tuples(st.floats(-0.003, 0.003), st.floats(-0.003, 0.003)), min_size=1, max_size=25),
    dedupe=st.floats(1, 200),
)
def test_merge_properties(offsets, dedupe):
    pts = [(114.3 + dx, 35.75 + dy) for dx, dy in offsets]
    half = len(pts) // 2
    merged = merge_facilities(
        [_load(pts[:half], "park", "a"), _load(pts[half:], "park", "b")], dedupe_m=dedupe
    )
    fac = merged.facilities
    assert 1 <= len(fac) <= len(pts)
    assert len(fac) + sum(merged.reports[-1].duplicates_removed.values()) == len(pts)
    # issue 12: rows of one source stay distinct (no chains); a row of "b" merges into at most
    # one row of "a" within the distance, one to one (the rule itself: tests/test_merge.py)
    assert (fac["source"] == "a").sum() == half
    assert len(fac) >= max(half, len(pts) - half)
    lon, lat = fac["lon"].to_numpy(), fac["lat"].to_numpy()
    gone_b = len(pts) - len(fac)
    a_pts = pts[:half]
    near = sum(
        1 for bx, by in pts[half:] if any(GEOD.inv(bx, by, ax, ay)[2] <= dedupe * 1.001 for ax, ay in a_pts)
    )
    assert gone_b <= near and len(lon) == len(lat)
    assert fac["facility_id"].is_unique


def test_empty_categories_are_reported(cau_osm):
    load = facilities_from_osm_file(cau_osm, GB)
    empty = empty_categories(load, GB)
    assert "elderly_daycare" in empty
    assert "bus_stop" not in empty


# ---------------------------------------------------------------------------- Overpass + CLI


def test_facilities_from_the_local_overpass(tmp_path, cau_osm):
    nodes, ways = parse_osm_xml(cau_osm)
    lons = [v[0] for v in nodes.values()]
    lats = [v[1] for v in nodes.values()]
    bbox = (min(lons), min(lats), max(lons), max(lats))
    features = overpass_json(nodes, ways, tagged_nodes=True)
    with FakeOSMServer({"elements": []}, bbox, "x", features_answer=features) as server:
        cfg = OverpassConfig(
            overpass_url=server.url + "/api", nominatim_url=server.url + "/", cache_dir=tmp_path
        )
        load = facilities_from_overpass(GB, bbox=bbox, config=cfg)
    assert load.counts()["bus_stop"] == 24
    from_file = facilities_from_osm_file(cau_osm, GB).counts()
    assert load.counts()["kindergarten"] == from_file["kindergarten"]


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_facilities_json_and_files(tmp_path, cau_osm):
    sample = facilities_from_osm_file(cau_osm, HEBI).facilities.iloc[:3]
    g_lon, g_lat = wgs84_to_gcj02(sample["lon"].to_numpy() + 0.001, sample["lat"].to_numpy())
    table = _write_csv(tmp_path / "amap.csv", {"lon": g_lon, "lat": g_lat, "category": ["elderly_care"] * 3})
    res = _cli(
        "facilities",
        "--osm",
        str(cau_osm),
        "--profile",
        "hebi-2021",
        "--facilities",
        str(table),
        "--crs",
        "gcj02",
        "--json",
        "--out",
        str(tmp_path / "out"),
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["profile"] == "hebi-2021"
    assert data["categories"]["elderly_care"]["counts"]["table:amap.csv"] == 3
    assert data["categories"]["bus_stop"]["total"] <= 24
    assert 0 <= data["categories"]["bus_stop"]["snapped_share"] <= 1
    assert "waste_point" in data["empty_categories"]
    back = gpd.read_file(tmp_path / "out" / "facilities.gpkg", layer="facilities")
    assert len(back) == sum(c["total"] for c in data["categories"].values())
    assert "on_network" in back.columns
    csv = pd.read_csv(tmp_path / "out" / "facilities.csv", encoding="utf-8-sig")
    assert len(csv) == len(back)


def test_cli_facilities_requires_a_declared_crs(tmp_path, cau_osm):
    table = _write_csv(tmp_path / "t.csv", {"lon": [116.35], "lat": [40.0], "category": ["park"]})
    res = _cli("facilities", "--osm", str(cau_osm), "--facilities", str(table))
    assert res.returncode == 2 and "--crs" in res.stderr
    res = _cli(
        "facilities", "--osm", str(cau_osm), "--facilities", str(table), "--crs", "gcj02", "--crs", "wgs84"
    )
    assert res.returncode == 2 and "one --crs for all tables or one per table" in res.stderr
    res = _cli("facilities", "--osm", str(cau_osm), "--profile", "gb-50180")
    assert res.returncode == 2 and "unknown profile" in res.stderr  # a usage error everywhere (issue 11)
