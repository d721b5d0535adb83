"""Service areas and blind spots against networkx, and the study map in headless Chromium."""

from __future__ import annotations

import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree

from walkcircle.access import compute_access
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.geodesy import to_lonlat
from walkcircle.service_areas import blind_spots, service_areas

HALF_WIDTH_M = 25.0
CELL_M = 4.0
THRESHOLDS_M = {"clinic": 300.0, "market": 520.0, "elderly_care": 300.0}


# ---------------------------------------------------------------------------- independent reference


def _base_graph(net) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["w"] > w):
            g.add_edge(int(u), int(v), w=float(w))
    return g


def _on_edge_points(net, edges, fractions):
    """(lon, lat, position_m) of points at fractions along edges (geodesic position)."""
    pts = shapely.line_interpolate_point(net.edge_lines[edges], fractions, normalized=True)
    lon, lat = to_lonlat(shapely.get_x(pts), shapely.get_y(pts), net.epsg)
    return lon, lat, fractions * net.edge_length_m[edges]


def _nearest_distance_nx(net, g, src_edge, src_pos, src_offset, dst_edge, dst_pos):
    """Network distance from the nearest source to each destination point, with networkx.

    Sources and destinations are given as (edge, position along it from edge_u); sources also
    by their offset from the street. A super-source node carries every source's walk to both
    ends of its edge; points on a source's own edge may also walk straight along it.
    """
    g = g.copy()
    length = net.edge_length_m
    for e, p, off in zip(src_edge, src_pos, src_offset, strict=True):
        for node, w in ((net.edge_u[e], off + p), (net.edge_v[e], off + length[e] - p)):
            node = int(node)
            if not g.has_edge("S", node) or g["S"][node]["w"] > w:
                g.add_edge("S", node, w=float(w))
    d = nx.single_source_dijkstra_path_length(g, "S", weight="w")
    node_d = np.full(net.n_nodes, np.inf)
    for k, v in d.items():
        if k != "S":
            node_d[k] = v
    du = node_d[net.edge_u[dst_edge]] + dst_pos
    dv = node_d[net.edge_v[dst_edge]] + (length[dst_edge] - dst_pos)
    out = np.minimum(du, dv)
    for e, p, off in zip(src_edge, src_pos, src_offset, strict=True):
        same = dst_edge == e
        out[same] = np.minimum(out[same], off + np.abs(dst_pos[same] - p))
    return out


@pytest.fixture(scope="module")
def world(tsinghua_net):
    """Facilities on street edges (two categories, one empty) and homes off the streets."""
    net = tsinghua_net
    rng = np.random.default_rng(7)
    loops = net.edge_u == net.edge_v
    candidates = np.flatnonzero(~loops & (net.edge_length_m > 20))
    frames = []
    for cid, n in (("clinic", 6), ("market", 3)):
        edges = rng.choice(candidates, n, replace=False)
        lon, lat, _ = _on_edge_points(net, edges, rng.uniform(0.2, 0.8, n))
        frames.append(
            pd.DataFrame({"category": cid, "lon": lon, "lat": lat, "name": [f"{cid} {i}" for i in range(n)]})
        )
    fac = pd.concat(frames, ignore_index=True)
    facilities = gpd.GeoDataFrame(fac, geometry=gpd.points_from_xy(fac.lon, fac.lat), crs="EPSG:4326")
    # homes: random points up to 80 m from random street points
    n_homes = 1500
    edges = rng.choice(candidates, n_homes)
    pts = shapely.line_interpolate_point(net.edge_lines[edges], rng.uniform(0, 1, n_homes), normalized=True)
    angle = rng.uniform(0, 2 * np.pi, n_homes)
    radius = rng.uniform(0, 80, n_homes)
    hx = shapely.get_x(pts) + radius * np.cos(angle)
    hy = shapely.get_y(pts) + radius * np.sin(angle)
    hlon, hlat = to_lonlat(hx, hy, net.epsg)
    homes = gpd.GeoDataFrame(
        {"lon": hlon, "lat": hlat, "population": rng.integers(1, 40, n_homes).astype(float)},
        geometry=gpd.points_from_xy(hlon, hlat),
        crs="EPSG:4326",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(net, homes, facilities, list(THRESHOLDS_M), THRESHOLDS_M)
    areas = service_areas(
        net, facilities, THRESHOLDS_M, access, homes, half_width_m=HALF_WIDTH_M, cell_m=CELL_M
    )
    return net, facilities, homes, access, areas


def _street_samples(net, step_m=4.0):
    xs, ys, edge, pos = [], [], [], []
    for e, line in enumerate(net.edge_lines):
        n = max(2, int(line.length / step_m) + 1)
        f = np.linspace(0, 1, n)
        pts = shapely.line_interpolate_point(line, f, normalized=True)
        xs.append(shapely.get_x(pts))
        ys.append(shapely.get_y(pts))
        edge.append(np.full(n, e))
        pos.append(f * net.edge_length_m[e])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(edge), np.concatenate(pos)


@pytest.mark.parametrize("category", ["clinic", "market"])
def test_service_area_holds_exactly_the_streets_within_the_threshold(world, category):
    net, facilities, _, _, areas = world
    row = areas.set_index("category").loc[category]
    polygon = shapely.transform(row.geometry, lambda c: np.column_stack(net.project(c[:, 0], c[:, 1])))
    fac = facilities[facilities["category"] == category]
    snap = net.snap(fac["lon"].to_numpy(), fac["lat"].to_numpy())
    x, y, edge, pos = _street_samples(net)
    d = _nearest_distance_nx(net, _base_graph(net), snap.edge, snap.position_m, snap.offset_m, edge, pos)
    threshold = THRESHOLDS_M[category]
    within = d <= threshold - 0.5
    assert within.sum() > 100 and (~within).sum() > 100
    inside = shapely.contains_xy(polygon.buffer(0.01), x, y)
    assert inside[within].all(), f"{(~inside[within]).sum()} street points within {threshold} m lie outside"
    # beyond the threshold: inside only within the half-width (+ a grid cell and the sampling step)
    tree = cKDTree(np.column_stack([x[d <= threshold + 0.5], y[d <= threshold + 0.5]]))
    gap, _ = tree.query(np.column_stack([x[~within], y[~within]]))
    clearly_out = gap > HALF_WIDTH_M + CELL_M + 4.0
    assert clearly_out.sum() > 100
    assert not inside[~within][clearly_out].any()
    assert row.facilities == len(fac)
    assert row.area_m2 == pytest.approx(polygon.area, rel=1e-6)


def test_covered_counts_equal_networkx(world):
    net, facilities, homes, _, areas = world
    g = _base_graph(net)
    # independent snapping: the nearest street geometry with shapely
    hx, hy = net.project(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    points = shapely.points(hx, hy)
    tree = shapely.STRtree(net.edge_lines)
    (_, h_edge), h_off = tree.query_nearest(points, all_matches=False, return_distance=True)
    h_pos = (
        shapely.line_locate_point(net.edge_lines[h_edge], points, normalized=True) * net.edge_length_m[h_edge]
    )
    population = homes["population"].to_numpy()
    by_cat = areas.set_index("category")
    for cid, threshold in THRESHOLDS_M.items():
        fac = facilities[facilities["category"] == cid]
        row = by_cat.loc[cid]
        if len(fac) == 0:
            covered = np.zeros(len(homes), bool)
        else:
            snap = net.snap(fac["lon"].to_numpy(), fac["lat"].to_numpy())
            d = _nearest_distance_nx(net, g, snap.edge, snap.position_m, snap.offset_m, h_edge, h_pos) + h_off
            covered = d <= threshold
            # homes within a centimetre of the threshold could go either way in float arithmetic
            assert (np.abs(d - threshold) < 0.01).sum() == 0
        assert row.homes_covered == covered.sum()
        assert row.homes_not_covered == (~covered).sum()
        assert row.residents_covered == pytest.approx(population[covered].sum())
        assert row.residents_not_covered == pytest.approx(population[~covered].sum())
    assert 0 < by_cat.loc["clinic", "homes_covered"] < len(homes)


def test_category_without_facilities_is_an_empty_area_with_everyone_outside(world):
    _, _, homes, _, areas = world
    row = areas.set_index("category").loc["elderly_care"]
    assert row.facilities == 0 and row.area_m2 == 0 and row.geometry.is_empty
    assert row.homes_covered == 0 and row.residents_not_covered == homes["population"].sum()
    assert list(areas["category"]) == list(THRESHOLDS_M)
    assert areas.crs.to_epsg() == 4326


def test_blind_spots_are_the_homes_outside(world):
    _, _, homes, access, areas = world
    spots = blind_spots(homes, access)
    counts = spots.groupby("category").size().reindex(list(THRESHOLDS_M), fill_value=0)
    assert counts.to_dict() == areas.set_index("category")["homes_not_covered"].astype(int).to_dict()
    residents = spots.groupby("category")["population"].sum()
    assert residents.to_dict() == pytest.approx(
        areas.set_index("category")["residents_not_covered"].to_dict()
    )
    assert (spots["nearest_m"] > spots["threshold_m"]).all()
    assert spots.geometry.equals(homes.geometry.iloc[spots["home"]].reset_index(drop=True))


def test_service_areas_nest_with_the_threshold(tsinghua_net, world):
    net, facilities, *_ = world
    small = service_areas(net, facilities, {"clinic": 200.0})
    large = service_areas(net, facilities, {"clinic": 400.0})
    a, b = small.geometry.iloc[0], large.geometry.iloc[0]
    assert b.area > a.area
    assert a.difference(b.buffer(1e-6)).area < 1e-12  # degrees², i.e. nothing
    assert small["homes_covered"].isna().all()  # no access given: no counts, not zeros


def test_bad_input(world):
    net, facilities, *_ = world
    with pytest.raises(InputError, match="no threshold"):
        service_areas(net, facilities, {"clinic": 300.0}, categories=["clinic", "park"])
    with pytest.raises(InputError, match="lacks column"):
        service_areas(net, facilities.drop(columns="lon"), {"clinic": 300.0})
    with pytest.raises(InputError, match="cell_m"):
        service_areas(net, facilities, {"clinic": 300.0}, cell_m=40.0)
    with pytest.raises(InputError, match="thresholds"):
        service_areas(net, facilities, {"clinic": -1.0})
