"""Homes: OSM residential buildings and landuse, communities files, H3 grids, population."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from osm_helpers import open_xml
from walkcircle.coords import wgs84_to_gcj02
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.geodesy import to_projected
from walkcircle.sources.homes import (
    RESIDENTIAL_BUILDINGS,
    attach_population,
    grid_points_in,
    homes_for_communities,
    homes_from_h3,
    homes_from_osm,
    read_communities,
)


def test_residential_buildings_match_an_independent_count(tsinghua_osm):
    with open_xml(tsinghua_osm) as fh:
        root = ET.parse(fh).getroot()
    truth = 0
    for el in root:
        if el.tag in ("node", "way"):
            tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
            truth += tags.get("building") in RESIDENTIAL_BUILDINGS
    homes = homes_from_osm(tsinghua_osm)
    assert (homes.homes["source"] == "building").sum() == truth
    assert (homes.homes["population"] == 1).all()
    assert homes.homes["home_id"].is_unique


def test_landuse_without_buildings_is_sampled_on_a_grid(tsinghua_osm):
    homes = homes_from_osm(tsinghua_osm, grid_m=50)
    grid = homes.homes[homes.homes["source"] == "landuse_grid"]
    assert len(grid) > 0
    only_buildings = homes_from_osm(tsinghua_osm, landuse=False)
    assert (only_buildings.homes["source"] == "building").all()
    finer = homes_from_osm(tsinghua_osm, grid_m=25)
    assert (finer.homes["source"] == "landuse_grid").sum() > 3 * len(grid)


@settings(max_examples=30, deadline=None)
@given(w=st.floats(150, 900), h=st.floats(150, 900), spacing=st.floats(20, 80))
def test_grid_points_lie_inside_and_fill_the_area(w, h, spacing):
    epsg = 32650
    x0, y0 = 500000.0, 3960000.0
    from walkcircle.geodesy import to_lonlat

    xs = np.array([x0, x0 + w, x0 + w, x0])
    ys = np.array([y0, y0, y0 + h, y0 + h])
    lon, lat = to_lonlat(xs, ys, epsg)
    poly = shapely.Polygon(np.column_stack([lon, lat]))
    g_lon, g_lat = grid_points_in(poly, spacing, epsg)
    assert shapely.contains_xy(poly, g_lon, g_lat).all()
    expected = (w * h) / spacing**2
    assert abs(g_lon.size - expected) <= 2 * (w + h) / spacing + 2
    gx, _ = to_projected(g_lon, g_lat, epsg)
    # a lattice: coordinates sit at odd multiples of spacing/2
    frac = ((gx / spacing) - 0.5) % 1
    np.testing.assert_allclose(np.minimum(frac, 1 - frac), 0, atol=1e-4)


def test_grid_spacing_must_be_positive():
    with pytest.raises(InputError, match="spacing must be > 0"):
        grid_points_in(shapely.box(114.3, 35.7, 114.31, 35.71), 0, 32650)


def test_h3_grid_follows_the_streets(cau_net):
    import h3

    homes = homes_from_h3(cau_net, resolution=10)
    cells = homes.homes["h3_cell"]
    assert cells.is_unique and len(cells) > 50
    assert all(h3.get_resolution(c) == 10 for c in cells)
    snapped = cau_net.snap(homes.homes["lon"].to_numpy(), homes.homes["lat"].to_numpy())
    # cell centres lie within a cell of some street
    assert snapped.offset_m.max() < 2 * h3.average_hexagon_edge_length(10, unit="m")
    coarser = homes_from_h3(cau_net, resolution=9)
    assert len(coarser.homes) < len(homes.homes)
    with pytest.raises(InputError, match="0-15"):
        homes_from_h3(cau_net, resolution=16)


# ---------------------------------------------------------------------------- communities


def _csv(path, frame):
    pd.DataFrame(frame).to_csv(path, index=False, encoding="utf-8")
    return path


def test_community_points_with_population(tmp_path):
    path = _csv(
        tmp_path / "c.csv",
        {
            "name": ["九州社区", "朝阳社区"],
            "lon": [114.297, 114.30],
            "lat": [35.748, 35.75],
            "population": [3000, 1200],
        },
    )
    communities, report = read_communities(path)
    homes = homes_for_communities(communities, report=report)
    assert homes.homes["community"].tolist() == ["九州社区", "朝阳社区"]
    assert homes.population == 4200
    assert homes.communities["n_homes"].tolist() == [1, 1]


def test_duplicate_blank_and_missing_names(tmp_path):
    path = _csv(tmp_path / "d.csv", {"name": ["A", "A", "B", ""], "lon": [114.3] * 4, "lat": [35.75] * 4})
    with pytest.warns(WalkcircleWarning) as caught:
        communities, _ = read_communities(path)
    messages = " ".join(str(w.message) for w in caught)
    assert "duplicate community names made unique" in messages and "A x2" in messages
    assert "1 communities have no name" in messages
    assert communities["community"].tolist() == ["A", "A (2)", "B", "community 4"]
    nameless = _csv(tmp_path / "n.csv", {"lon": [114.3], "lat": [35.75]})
    with pytest.raises(InputError, match=r"n\.csv: no name column"):
        read_communities(nameless)
    blank = _csv(tmp_path / "b.csv", {"name": ["", ""], "lon": [114.3, 114.4], "lat": [35.75, 35.76]})
    with pytest.raises(InputError, match="empty in every row"):
        read_communities(blank)


def test_population_negative_or_missing(tmp_path):
    neg = _csv(
        tmp_path / "neg.csv",
        {"name": ["A", "B"], "lon": [114.3, 114.31], "lat": [35.75, 35.76], "population": [10, -5]},
    )
    with pytest.raises(
        InputError, match=r"neg\.csv: column 'population' has negative population \(e\.g\. B\)"
    ):
        read_communities(neg)
    part = _csv(
        tmp_path / "p.csv",
        {"name": ["A", "B"], "lon": [114.3, 114.31], "lat": [35.75, 35.76], "population": [10, None]},
    )
    with pytest.warns(WalkcircleWarning, match="1 communities have no population"):
        communities, _ = read_communities(part)
    homes = homes_for_communities(communities)
    assert homes.homes["population"].tolist() == [10.0, 1.0]
    with pytest.raises(InputError, match="negative population"):
        attach_population(homes.homes.assign(pop=[-1, 2]), "pop", "homes.csv")
    assert attach_population(homes.homes.assign(pop=[None, 2]), "pop", "h")["population"].tolist() == [
        1.0,
        2.0,
    ]


def test_polygons_take_homes_inside_and_empty_polygons_are_reported_not_dropped(tmp_path, tsinghua_osm):
    osm_homes = homes_from_osm(tsinghua_osm, landuse=False).homes
    # one polygon around a cluster of mapped homes, one over an area with none
    hull = shapely.MultiPoint(osm_homes.geometry.to_numpy()[:20]).convex_hull.buffer(0.0002)
    empty = shapely.box(116.3000, 39.9800, 116.3010, 39.9808)
    polys = gpd.GeoDataFrame(
        {"name": ["有楼", "无楼"], "population": [2000, 500]}, geometry=[hull, empty], crs="EPSG:4326"
    )
    polys.to_file(tmp_path / "c.gpkg", driver="GPKG")
    communities, report = read_communities(tmp_path / "c.gpkg")
    with pytest.warns(WalkcircleWarning, match="1 community polygons contain no mapped home.*无楼"):
        homes = homes_for_communities(communities, candidates=osm_homes, grid_m=40, report=report)
    h = homes.homes
    with_buildings = h[h["community"] == "有楼"]
    assert len(with_buildings) == shapely.contains(hull, osm_homes.geometry.to_numpy()).sum()
    assert with_buildings["population"].sum() == pytest.approx(2000)
    grid = h[h["community"] == "无楼"]
    assert len(grid) > 1 and (grid["source"] == "community_grid").all()
    assert grid["population"].sum() == pytest.approx(500)
    assert set(homes.communities["community"]) == {"有楼", "无楼"}
    assert shapely.contains_xy(empty, grid["lon"], grid["lat"]).all()


def test_gcj02_community_polygons_are_converted(tmp_path):
    lon = np.array([114.29, 114.30, 114.30, 114.29])
    lat = np.array([35.74, 35.74, 35.75, 35.75])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    gdf = gpd.GeoDataFrame(
        {"name": ["X"]}, geometry=[shapely.Polygon(np.column_stack([g_lon, g_lat]))], crs="EPSG:4326"
    )
    gdf.to_file(tmp_path / "aoi.geojson", driver="GeoJSON")
    communities, _ = read_communities(tmp_path / "aoi.geojson", crs="gcj02")
    got = shapely.get_coordinates(communities.geometry.iloc[0])[:4]
    np.testing.assert_allclose(got[:, 0], lon, atol=1e-7)
    np.testing.assert_allclose(got[:, 1], lat, atol=1e-7)
