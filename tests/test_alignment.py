"""A communities/homes file in GCJ-02 (or BD-09) read as WGS-84 is detected and warned about."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from community_blocks import community_blocks
from walkcircle.coords import from_wgs84, wgs84_to_gcj02
from walkcircle.errors import WalkcircleWarning
from walkcircle.sources.alignment import alignment_check, sample_points, warn_if_shifted
from walkcircle.sources.homes import homes_from_osm, read_communities


@pytest.fixture(scope="module")
def blocks(tsinghua_osm):
    return community_blocks(tsinghua_osm)


@pytest.fixture(scope="module")
def osm_homes(tsinghua_osm):
    return homes_from_osm(tsinghua_osm).homes


def shifted(frame: gpd.GeoDataFrame, system: str) -> gpd.GeoDataFrame:
    out = frame.copy()
    out["geometry"] = [
        shapely.transform(g, lambda c: np.column_stack(from_wgs84(c[:, 0], c[:, 1], system)))
        for g in frame.geometry
    ]
    return out


def shift_warnings(caught):
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, WalkcircleWarning) and "look like" in str(w.message)
    ]


def check_file(path, crs, net, homes=None):
    communities, _ = read_communities(path, crs=crs)
    lonlat = (homes["lon"].to_numpy(), homes["lat"].to_numpy()) if homes is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check = warn_if_shifted(communities.geometry, crs, net, path, lonlat)
    return check, shift_warnings(caught)


def test_gcj02_polygons_read_as_wgs84_warn(blocks, tsinghua_net, tmp_path):
    path = tmp_path / "amap_communities.geojson"
    shifted(blocks, "gcj02").to_file(path, driver="GeoJSON", engine="pyogrio")
    check, messages = check_file(path, "wgs84", tsinghua_net)
    assert check.likely == "gcj02" and check.reference == "streets"
    assert len(messages) == 1
    assert str(path) in messages[0] and "--communities-crs gcj02" in messages[0]
    # declared right, it is quiet
    check, messages = check_file(path, "gcj02", tsinghua_net)
    assert check.likely is None and messages == []


def test_true_wgs84_polygons_do_not_warn(blocks, tsinghua_net, tmp_path):
    path = tmp_path / "communities.geojson"
    blocks.to_file(path, driver="GeoJSON", engine="pyogrio")
    check, messages = check_file(path, "wgs84", tsinghua_net)
    assert check.likely is None and messages == []
    assert check.misfit_m["wgs84"] < check.misfit_m["gcj02"]
    # the same file wrongly declared gcj02 is caught the other way round
    check, messages = check_file(path, "gcj02", tsinghua_net)
    assert check.likely == "wgs84" and "--communities-crs wgs84" in messages[0]


def test_points_shifted_to_gcj02_warn(blocks, tsinghua_net, osm_homes, tmp_path):
    # community points at residential buildings (as a geocoder would place them)
    buildings = osm_homes[osm_homes["source"] == "building"].iloc[::7]
    lon, lat = wgs84_to_gcj02(buildings["lon"].to_numpy(), buildings["lat"].to_numpy())
    names = [f"社区{i}" for i in range(len(buildings))]
    path = tmp_path / "points.csv"
    pd.DataFrame({"name": names, "lon": lon, "lat": lat}).to_csv(path, index=False)
    check, messages = check_file(path, "wgs84", tsinghua_net, osm_homes)
    assert check.reference == "homes" and check.likely == "gcj02" and len(messages) == 1
    good = tmp_path / "good.csv"
    pd.DataFrame({"name": names, "lon": buildings["lon"], "lat": buildings["lat"]}).to_csv(good, index=False)
    check, messages = check_file(good, "wgs84", tsinghua_net, osm_homes)
    assert check.likely is None and messages == []


def test_bd09_polygons_detected(blocks, tsinghua_net, tmp_path):
    path = tmp_path / "baidu.geojson"
    shifted(blocks, "bd09").to_file(path, driver="GeoJSON", engine="pyogrio")
    check, messages = check_file(path, "wgs84", tsinghua_net)
    assert check.likely == "bd09" and "--communities-crs bd09" in messages[0]


def test_misfit_is_the_median_street_distance(blocks, tsinghua_net):
    # independent: shapely distance from every sample to every street, brute force
    samples = sample_points(blocks.geometry)[::25]
    check = alignment_check(shapely.points(samples), "wgs84", tsinghua_net)
    from walkcircle.geodesy import to_projected

    x, y = to_projected(samples[:, 0], samples[:, 1], tsinghua_net.epsg)
    lines = tsinghua_net.edge_lines
    brute = [min(shapely.distance(shapely.Point(a, b), lines)) for a, b in zip(x, y, strict=True)]
    assert check.misfit_m["wgs84"] == pytest.approx(float(np.median(brute)), abs=1e-6)


def test_outside_china_is_not_checked(helsinki_net):
    lon, lat = helsinki_net.lon[:50], helsinki_net.lat[:50]
    check = alignment_check(shapely.points(lon, lat), "wgs84", helsinki_net)
    assert check.likely is None and check.misfit_m == {}


def test_epsg_declared_files_are_not_checked(blocks, tsinghua_net):
    moved = shifted(blocks, "gcj02")
    check = alignment_check(moved.geometry, "EPSG:4548", tsinghua_net)
    assert check.likely is None and check.reference == "none"
