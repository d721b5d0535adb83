"""Isochrones contain every reachable street point and nothing beyond the buffered reach."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.isochrones import edge_substrings, isochrones


def _node_distances(net, source_node):
    """Distances from a node over the network's edges, with networkx (independent)."""
    g = nx.Graph()
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["w"] > w):
            g.add_edge(int(u), int(v), w=float(w))
    d = nx.single_source_dijkstra_path_length(g, int(source_node), weight="w")
    out = np.full(net.n_nodes, np.inf)
    out[list(d)] = list(d.values())
    return out


def _edge_samples(net, step_m=4.0):
    """Points every few metres along every edge: (x, y, network distance function inputs)."""
    lines = net.edge_lines
    xs, ys, edge, frac = [], [], [], []
    for e, line in enumerate(lines):
        n = max(2, int(line.length / step_m) + 1)
        f = np.linspace(0, 1, n)
        pts = shapely.line_interpolate_point(line, f, normalized=True)
        xs.append(shapely.get_x(pts))
        ys.append(shapely.get_y(pts))
        edge.append(np.full(n, e))
        frac.append(f)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(edge), np.concatenate(frac)


@pytest.mark.parametrize("budget_min", [3, 8])
def test_isochrone_contains_reach_and_nothing_beyond(tsinghua_net, budget_min):
    net = tsinghua_net
    # origin exactly at a well-connected node, so distances need no snapping arithmetic
    node = int(np.argmax(np.bincount(np.r_[net.edge_u, net.edge_v])))
    iso = isochrones(net, [net.lon[node]], [net.lat[node]], [budget_min], half_width_m=25)
    polygon = shapely.transform(
        iso.geometry.iloc[0], lambda c: np.column_stack(net.project(c[:, 0], c[:, 1]))
    )
    budget = budget_min * 80.0
    dist = _node_distances(net, node)
    x, y, edge, frac = _edge_samples(net)
    length = net.edge_length_m[edge]
    d = np.minimum(dist[net.edge_u[edge]] + frac * length, dist[net.edge_v[edge]] + (1 - frac) * length)
    reachable = d <= budget - 0.5
    assert reachable.sum() > 50
    inside = shapely.contains_xy(polygon.buffer(0.01), x, y)
    assert inside[reachable].all(), f"{(~inside[reachable]).sum()} reachable points outside"
    # beyond the reach: farther than the half-width (+ sampling slack) from every reachable point
    tree = cKDTree(np.column_stack([x[reachable], y[reachable]]))
    gap, _ = tree.query(np.column_stack([x[~reachable], y[~reachable]]))
    clearly_out = gap > 25 + 4.0
    assert clearly_out.sum() > 100
    assert not inside[~reachable][clearly_out].any()


def test_area_grows_with_the_budget_and_polygons_nest(tsinghua_net):
    iso = isochrones(tsinghua_net, [116.32], [40.005], [2, 5, 10, 15])
    areas = iso["area_m2"].to_numpy()
    assert (np.diff(areas) > 0).all()
    geoms = iso.geometry.to_numpy()
    for small, big in itertools.pairwise(geoms):
        assert small.difference(big.buffer(1e-6)).area < 1e-12
    assert list(iso.columns) == ["origin_id", "minutes", "budget_m", "area_m2", "geometry"]
    assert iso.crs.to_epsg() == 4326


def test_many_origins_and_elderly_speed(tsinghua_net):
    lon = [116.315, 116.32, 116.325]
    lat = [40.0, 40.005, 40.008]
    fast = isochrones(tsinghua_net, lon, lat, [10], origin_ids=["a", "b", "c"])
    slow = isochrones(tsinghua_net, lon, lat, [10], speed_kmh=3.6, origin_ids=["a", "b", "c"])
    assert fast["origin_id"].tolist() == ["a", "b", "c"]
    assert (slow["area_m2"].to_numpy() < fast["area_m2"].to_numpy()).all()
    assert (slow["budget_m"] == 600).all()


def test_holes_are_kept():
    import sys as _sys
    from pathlib import Path

    _sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from synthetic import street_grid

    grid = street_grid(400, seed=3, gap_share=0.0, diagonal_share=0.0)
    # stretch the grid to 200 m blocks: much wider than two half-widths
    grid.lon = 114.25 + (grid.lon - 114.25) * 2.5
    grid.lat = 35.70 + (grid.lat - 35.70) * 2.5
    net = grid.network()
    centre = int(np.argmin((net.lon - net.lon.mean()) ** 2 + (net.lat - net.lat.mean()) ** 2))
    iso = isochrones(net, [net.lon[centre]], [net.lat[centre]], [15])
    geom = iso.geometry.iloc[0]
    polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    assert sum(len(p.interiors) for p in polys) >= 4


def test_raster_buffer_matches_the_union_of_edge_buffers(tsinghua_net):
    """The fast raster buffer against buffering each piece and unioning (the reference)."""
    from walkcircle import paths
    from walkcircle.isochrones import buffer_lines_raster, buffer_lines_union, reached_pieces
    from walkcircle.routing import routing_graph

    net = tsinghua_net
    snap = net.snap([116.32], [40.005])
    graph = routing_graph(net, {"o": (snap, "source")})
    dist, _ = paths.nearest(graph.csr, [graph.point_node["o"]])
    parent, a, b = reached_pieces(graph, dist[0], 800.0)
    coords, piece = edge_substrings(net, parent, a, b)
    lines = shapely.linestrings(coords, indices=piece)
    reference = buffer_lines_union(lines, 25)
    for cell in (2.0, 4.0):
        ours = buffer_lines_raster(lines, 25, cell)
        assert abs(ours.area / reference.area - 1) < 0.01
        assert ours.symmetric_difference(reference).area / reference.area < 0.01
        # every reached piece is inside, with its full half-width minus the grid's corner cut
        assert ours.contains(shapely.MultiLineString(list(lines)))
        assert ours.contains(shapely.buffer(shapely.MultiLineString(list(lines)), 25 - cell))
        assert reference.buffer(cell).contains(ours)


def test_union_method_agrees(tsinghua_net):
    raster = isochrones(tsinghua_net, [116.32], [40.005], [6])
    union = isochrones(tsinghua_net, [116.32], [40.005], [6], method="union")
    assert raster["area_m2"].iloc[0] == pytest.approx(union["area_m2"].iloc[0], rel=0.01)
    with pytest.raises(InputError, match="unknown isochrone method"):
        isochrones(tsinghua_net, [116.32], [40.005], [6], method="hull")
    with pytest.raises(InputError, match="cell_m"):
        isochrones(tsinghua_net, [116.32], [40.005], [6], cell_m=50)


def test_substrings_follow_the_edges(tsinghua_net):
    net = tsinghua_net
    rng = np.random.default_rng(5)
    parent = rng.integers(0, net.n_edges, 200)
    length = net.edge_length_m[parent]
    a = rng.uniform(0, 1, 200) * length
    b = a + rng.uniform(0, 1, 200) * (length - a)
    coords, piece = edge_substrings(net, parent, a, b)
    lines = shapely.linestrings(coords, indices=piece)
    keep = b > a
    planar = shapely.length(net.edge_lines[parent[keep]])
    expected = (b[keep] - a[keep]) * planar / length[keep]
    np.testing.assert_allclose(shapely.length(lines), expected, rtol=1e-6, atol=1e-6)
    # every piece lies on its parent edge
    assert shapely.distance(lines, net.edge_lines[parent[keep]]).max() < 1e-6
    # and starts where it should
    start = shapely.line_interpolate_point(net.edge_lines[parent[keep]], a[keep] * planar / length[keep])
    np.testing.assert_allclose(shapely.get_x(shapely.get_point(lines, 0)), shapely.get_x(start), atol=1e-6)


def test_bad_input(tsinghua_net):
    with pytest.raises(InputError, match="must be > 0 minutes"):
        isochrones(tsinghua_net, [116.32], [40.005], [0])
    with pytest.raises(InputError, match="speed must be > 0"):
        isochrones(tsinghua_net, [116.32], [40.005], [5], speed_kmh=-1)
    with pytest.raises(InputError, match="half-width must be > 0"):
        isochrones(tsinghua_net, [116.32], [40.005], [5], half_width_m=0)
    with pytest.raises(InputError, match="at least one origin"):
        isochrones(tsinghua_net, [], [], [5])
    with pytest.warns(WalkcircleWarning, match="outside the network's bounds; its isochrones are empty"):
        iso = isochrones(tsinghua_net, [116.0], [40.0], [5])
    assert iso.geometry.iloc[0].is_empty and iso["area_m2"].iloc[0] == 0


def test_cli_writes_a_geopackage(tmp_path, tsinghua_osm):
    out = tmp_path / "iso.gpkg"
    res = subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", "isochrones", "--osm", str(tsinghua_osm), "--at", "116.32,40.005",
         "--at", "116.325,40.008", "--minutes", "5,10", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    back = gpd.read_file(out, layer="isochrones")
    assert len(back) == 4 and back.crs.to_epsg() == 4326
    assert set(back["minutes"]) == {5.0, 10.0}
    bad = subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", "isochrones", "--osm", str(tsinghua_osm), "--at", "40.005,116.32"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "swapped" in bad.stderr
    with warnings.catch_warnings():
        bad = subprocess.run(
            [sys.executable, "-m", "walkcircle.cli", "isochrones", "--osm", str(tsinghua_osm), "--at", "116.32,40.005",
             "--minutes", "0"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert bad.returncode == 2 and "positive numbers" in bad.stderr
