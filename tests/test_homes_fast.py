"""Homes placement with one STRtree query gives what per-polygon `shapely.contains` loops gave.

The references here are brute force: every polygon tested against every point with
`shapely.contains`, written out in the tests (the algorithm walkcircle used before).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from osm_helpers import write_osm_xml
from walkcircle.errors import WalkcircleWarning
from walkcircle.geodesy import utm_epsg
from walkcircle.sources.homes import (
    RESIDENTIAL_BUILDINGS,
    _points_inside,
    _utm_epsg_of,
    grid_points_in,
    homes_for_communities,
    homes_from_osm,
)
from walkcircle.sources.osm_features import read_osm_features

LON0, LAT0 = 114.25, 35.70
STEP = 0.001  # degrees per lattice unit: polygons and points on a lattice hit boundaries and vertices


def _polygon(rng: np.random.Generator) -> shapely.Geometry:
    """A random box, triangle, box with a hole, or multipolygon on the lattice."""
    x0, y0 = rng.integers(0, 12, 2)
    w, h = rng.integers(1, 6, 2)
    kind = rng.integers(0, 4)
    if kind == 0:
        geom = shapely.box(x0, y0, x0 + w, y0 + h)
    elif kind == 1:
        geom = shapely.Polygon([(x0, y0), (x0 + w, y0), (x0, y0 + h)])
    elif kind == 2:
        outer = shapely.box(x0, y0, x0 + w + 2, y0 + h + 2)
        geom = outer.difference(shapely.box(x0 + 1, y0 + 1, x0 + w + 1, y0 + h + 1))
    else:
        geom = shapely.MultiPolygon(
            [shapely.box(x0, y0, x0 + 1, y0 + 1), shapely.box(x0 + 2, y0, x0 + 4, y0 + h)]
        )
    return shapely.transform(geom, lambda c: np.column_stack([LON0 + c[:, 0] * STEP, LAT0 + c[:, 1] * STEP]))


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    """Points on the lattice (on edges and corners) and off it (in the open)."""
    xy = np.where(rng.random((n, 2)) < 0.4, rng.integers(0, 18, (n, 2)), rng.uniform(0, 18, (n, 2)))
    return shapely.points(LON0 + xy[:, 0] * STEP, LAT0 + xy[:, 1] * STEP)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_poly=st.integers(0, 12), n_pts=st.integers(0, 80))
def test_points_inside_equals_brute_force(seed, n_poly, n_pts):
    rng = np.random.default_rng(seed)
    polygons = np.array([_polygon(rng) for _ in range(n_poly)] + [shapely.Point(LON0, LAT0)], dtype=object)
    points = _points(rng, n_pts)
    got = _points_inside(polygons, points)
    assert len(got) == len(polygons)
    for polygon, hits in zip(polygons, got, strict=True):
        expected = (
            np.flatnonzero(shapely.contains(polygon, points))
            if polygon.geom_type in ("Polygon", "MultiPolygon") and len(points)
            else np.zeros(0, np.int64)
        )
        np.testing.assert_array_equal(hits, expected)


def _brute_force_community_homes(communities, candidates, grid_m):
    """The per-community loop: contains against every candidate, grid, or representative point."""
    epsg = utm_epsg(*shapely.union_all(communities.geometry.to_numpy()).centroid.coords[0])
    rows = []
    for name, pop, geom in zip(
        communities["community"], communities["population"], communities.geometry, strict=True
    ):
        inside = shapely.contains(geom, candidates.geometry.to_numpy())
        if inside.any():
            lon, lat = candidates["lon"].to_numpy()[inside], candidates["lat"].to_numpy()[inside]
            source = "community_polygon"
        else:
            lon, lat = grid_points_in(geom, grid_m, epsg)
            source = "community_grid"
            if lon.size == 0:
                p = geom.representative_point()
                lon, lat, source = np.array([p.x]), np.array([p.y]), "community_point"
        share = pop / lon.size if np.isfinite(pop) else 1.0
        rows += [(name, share, source, x, y) for x, y in zip(lon, lat, strict=True)]
    frame = pd.DataFrame(rows, columns=["community", "population", "source", "lon", "lat"])
    frame.insert(0, "home_id", [f"h{i}" for i in range(len(frame))])
    return frame


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_poly=st.integers(1, 10), n_pts=st.integers(1, 120))
def test_community_homes_equal_the_per_polygon_loop(seed, n_poly, n_pts):
    rng = np.random.default_rng(seed)
    geoms = [_polygon(rng) for _ in range(n_poly)]
    geoms.append(
        shapely.box(LON0 + 0.0301, LAT0 + 0.0301, LON0 + 0.03012, LAT0 + 0.03012)
    )  # sliver, no candidate
    population = rng.integers(100, 5000, len(geoms)).astype(float)
    population[rng.random(len(geoms)) < 0.3] = np.nan
    communities = gpd.GeoDataFrame(
        {"community": [f"c{i}" for i in range(len(geoms))], "population": population, "district": ""},
        geometry=geoms,
        crs="EPSG:4326",
    )
    pts = _points(rng, n_pts)
    candidates = gpd.GeoDataFrame(
        {"lon": shapely.get_x(pts), "lat": shapely.get_y(pts)}, geometry=pts, crs="EPSG:4326"
    )
    expected = _brute_force_community_homes(communities, candidates, 150.0)
    with pytest.warns(WalkcircleWarning, match="contain no mapped home") as caught:
        got = homes_for_communities(communities, candidates, grid_m=150.0)
    per_point = sum(shapely.contains(g, pts).astype(int) for g in geoms)
    messages = " ".join(str(w.message) for w in caught)
    outside, shared = int((per_point == 0).sum()), int((per_point > 1).sum())
    assert (f"{outside} of {n_pts} mapped homes lie outside" in messages) == (outside > 0)
    assert (f"{shared} mapped homes lie inside more than one" in messages) == (shared > 0)
    cols = ["home_id", "community", "population", "source", "lon", "lat"]
    pd.testing.assert_frame_equal(got.homes[cols].reset_index(drop=True), expected[cols], check_dtype=False)
    assert shapely.equals(
        got.homes.geometry.to_numpy(), shapely.points(expected["lon"], expected["lat"])
    ).all()
    assert (
        got.communities["n_homes"].tolist()
        == expected.groupby("community", sort=False).size().reindex(communities["community"]).tolist()
    )


def _brute_force_osm_homes(path, grid_m):
    """Buildings, then every residential area that contains no building, on the grid."""
    features = read_osm_features(path, {"building": list(RESIDENTIAL_BUILDINGS), "landuse": ["residential"]})
    b_lon, b_lat, areas = [], [], []
    for tags, lon, lat, geom in zip(
        features.tags, features.lon, features.lat, features.geometry, strict=True
    ):
        if tags.get("building") in RESIDENTIAL_BUILDINGS:
            b_lon.append(lon)
            b_lat.append(lat)
        elif tags.get("landuse") == "residential" and geom.geom_type in ("Polygon", "MultiPolygon"):
            areas.append(geom)
    lon, lat, source = list(b_lon), list(b_lat), ["building"] * len(b_lon)
    buildings = shapely.points(b_lon, b_lat)
    epsg = utm_epsg(*shapely.union_all(areas).centroid.coords[0])
    for area in areas:
        if len(b_lon) and shapely.contains(area, buildings).any():
            continue
        g_lon, g_lat = grid_points_in(area, grid_m, epsg)
        if g_lon.size == 0:
            p = area.representative_point()
            g_lon, g_lat = [p.x], [p.y]
        lon += list(g_lon)
        lat += list(g_lat)
        source += ["landuse_grid"] * len(g_lon)
    return pd.DataFrame({"source": source, "lon": lon, "lat": lat})


def _check_osm_homes(path, grid_m):
    expected = _brute_force_osm_homes(path, grid_m)
    got = homes_from_osm(path, grid_m=grid_m).homes
    pd.testing.assert_frame_equal(
        got[["source", "lon", "lat"]].reset_index(drop=True), expected, check_dtype=False
    )
    return got


def test_osm_homes_equal_the_per_area_loop_on_a_written_file(tmp_path):
    rng = np.random.default_rng(7)
    nodes: dict[int, tuple[float, float, dict]] = {}
    ways: list[tuple[int, list[int], dict]] = []

    def ring(x0, y0, w, h, tags):
        first = len(nodes) + 1
        for k, (dx, dy) in enumerate([(0, 0), (w, 0), (w, h), (0, h)]):
            nodes[first + k] = (LON0 + (x0 + dx) * STEP, LAT0 + (y0 + dy) * STEP, {})
        ways.append((len(ways) + 1, [first, first + 1, first + 2, first + 3, first], tags))

    for i in range(40):  # residential areas; about half get buildings inside (some on the edge)
        x0, y0 = float(rng.integers(0, 30)), float(rng.integers(0, 30))
        ring(x0, y0, 2.0, 2.0, {"landuse": "residential"})
        if i % 2 == 0:
            bx, by = x0 + rng.uniform(-0.5, 1.8), y0 + rng.uniform(-0.5, 1.8)
            ring(bx, by, 0.1, 0.1, {"building": str(rng.choice(["residential", "apartments", "house"]))})
    ring(40.0, 40.0, 0.01, 0.01, {"landuse": "residential"})  # too small for the grid
    path = write_osm_xml(tmp_path / "homes.osm", nodes, ways)
    got = _check_osm_homes(path, 60.0)
    assert {"building", "landuse_grid"} <= set(got["source"])


def test_osm_homes_equal_the_per_area_loop_on_a_real_extract(tsinghua_osm):
    _check_osm_homes(tsinghua_osm, 50.0)


@settings(max_examples=80, deadline=None)
@given(
    lon=st.floats(113.5, 114.5),
    lat=st.floats(-0.5, 0.5),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_utm_zone_without_the_union_equals_the_union_centroid_zone(lon, lat, n, seed):
    rng = np.random.default_rng(seed)
    # boxes near lon 114 (a zone boundary) and the equator (a hemisphere boundary)
    x = lon + rng.uniform(-0.3, 0.3, n)
    y = lat + rng.uniform(-0.3, 0.3, n)
    geoms = shapely.box(x, y, x + rng.uniform(0.001, 0.2, n), y + rng.uniform(0.001, 0.2, n))
    assert _utm_epsg_of(geoms) == utm_epsg(*shapely.union_all(geoms).centroid.coords[0])
