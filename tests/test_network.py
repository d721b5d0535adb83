"""WalkNetwork: building, distances against networkx, snapping, components, cache."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from scipy.sparse.csgraph import dijkstra

from walkcircle.errors import EmptyNetworkError, InputError
from walkcircle.geodesy import geodesic_lengths, utm_epsg
from walkcircle.network import WalkNetwork, adjacency, build_network

GEOD = Geod(ellps="WGS84")


def _ways_network(coords: dict[int, tuple[float, float]], ways: list[list[int]], source: str = "test"):
    node_id = np.array(sorted(coords), dtype=np.int64)
    index = {n: i for i, n in enumerate(node_id)}
    lon = np.array([coords[n][0] for n in node_id])
    lat = np.array([coords[n][1] for n in node_id])
    seg_u, seg_v, seg_way = [], [], []
    for w, refs in enumerate(ways):
        for a, b in itertools.pairwise(refs):
            seg_u.append(index[a])
            seg_v.append(index[b])
            seg_way.append(w)
    return build_network(
        node_id,
        lon,
        lat,
        np.array(seg_u),
        np.array(seg_v),
        np.array(seg_way),
        way_id=np.arange(len(ways)) + 1000,
        way_highway=np.array(["footway"] * len(ways)),
        way_name=np.array([f"w{w}" for w in range(len(ways))]),
        source=source,
    )


def _segment_graph(coords, ways) -> nx.Graph:
    """Every OSM node a graph node, every consecutive pair an edge: the unsimplified truth."""
    g = nx.Graph()
    for refs in ways:
        for a, b in itertools.pairwise(refs):
            if a == b:
                continue
            _, _, d = GEOD.inv(coords[a][0], coords[a][1], coords[b][0], coords[b][1])
            if g.has_edge(a, b):
                d = min(d, g[a][b]["length"])
            g.add_edge(a, b, length=d)
    return g


def _grid_coords(nx_: int, ny: int, step_deg: float = 0.001, lon0: float = 114.29, lat0: float = 35.74):
    return {
        j * nx_ + i + 1: (lon0 + i * step_deg, lat0 + j * step_deg * 0.8)
        for j in range(ny)
        for i in range(nx_)
    }


def test_geodesic_length_of_one_degree_of_latitude_at_the_equator():
    d = geodesic_lengths([0.0], [0.0], [0.0], [1.0])
    assert d[0] == pytest.approx(110574.389, abs=0.01)  # WGS-84 meridian arc 0..1 degree


def test_utm_zone_for_hebi_and_helsinki():
    assert utm_epsg(114.29, 35.75) == 32650
    assert utm_epsg(24.94, 60.17) == 32635
    assert utm_epsg(-70.6, -33.4) == 32719


def test_chain_merging_keeps_branch_nodes_only():
    # a plus sign made of two ways crossing at node 5, with interior nodes 2,4,6,8
    coords = {
        1: (114.000, 35.000),
        2: (114.001, 35.000),
        5: (114.002, 35.000),
        6: (114.003, 35.000),
        9: (114.004, 35.000),
        3: (114.002, 34.998),
        4: (114.002, 34.999),
        7: (114.002, 35.001),
        8: (114.002, 35.002),
    }
    net = _ways_network(coords, [[1, 2, 5, 6, 9], [3, 4, 5, 7, 8]])
    assert sorted(net.node_id.tolist()) == [1, 3, 5, 8, 9]
    assert net.n_edges == 4
    # every edge keeps its interior vertex as geometry
    assert (np.diff(net.geom_offsets) == 3).all()
    total = sum(
        GEOD.inv(coords[a][0], coords[a][1], coords[b][0], coords[b][1])[2]
        for a, b in [(1, 2), (2, 5), (5, 6), (6, 9), (3, 4), (4, 5), (5, 7), (7, 8)]
    )
    assert net.edge_length_m.sum() == pytest.approx(total, abs=1e-6)
    # geometry runs from edge_u to edge_v
    for k in range(net.n_edges):
        a, b = net.geom_offsets[k], net.geom_offsets[k + 1] - 1
        assert net.geom_lon[a] == net.lon[net.edge_u[k]] and net.geom_lat[a] == net.lat[net.edge_u[k]]
        assert net.geom_lon[b] == net.lon[net.edge_v[k]] and net.geom_lat[b] == net.lat[net.edge_v[k]]


def test_way_change_and_isolated_ring_make_nodes():
    coords = _grid_coords(6, 3)
    # way A then way B continue in a straight line: their shared node stays a node
    ring = [13, 14, 15, 16, 17, 13]  # a closed way touching nothing
    net = _ways_network(coords, [[1, 2, 3], [3, 4, 5], ring])
    assert {1, 3, 5} <= set(net.node_id.tolist())
    ring_nodes = set(net.node_id.tolist()) & set(ring)
    assert len(ring_nodes) == 1  # one node keeps the ring in the graph
    assert net.n_components == 2
    ring_edges = np.isin(net.node_id[net.edge_u], ring)
    assert ring_edges.sum() == 1 and net.edge_u[ring_edges][0] == net.edge_v[ring_edges][0]


def test_no_segments_is_an_empty_network_error():
    with pytest.raises(EmptyNetworkError, match="no walkable ways"):
        _ways_network({1: (114.0, 35.0)}, [[1, 1]], source="x.osm")


def test_parallel_edges_keep_the_shortest_in_the_adjacency():
    u = np.array([0, 0, 1])
    v = np.array([1, 1, 2])
    w = np.array([10.0, 7.0, 3.0])
    g = adjacency(u, v, w, 3)
    assert g[0, 1] == 7.0 and g[1, 0] == 7.0 and g[1, 2] == 3.0
    assert g.nnz == 4


ways_strategy = st.lists(
    st.lists(st.integers(min_value=1, max_value=30), min_size=2, max_size=8),
    min_size=1,
    max_size=14,
)


@settings(max_examples=80, deadline=None)
@given(ways=ways_strategy, seed=st.integers(0, 10_000))
def test_distances_equal_networkx_on_random_way_sets(ways, seed):
    """Property: merging chains never changes a shortest path between network nodes."""
    rng = np.random.default_rng(seed)
    coords = {n: (114.29 + rng.uniform(0, 0.01), 35.74 + rng.uniform(0, 0.01)) for n in range(1, 31)}
    truth = _segment_graph(coords, ways)
    if truth.number_of_edges() == 0:
        with pytest.raises(EmptyNetworkError):
            _ways_network(coords, ways)
        return
    net = _ways_network(coords, ways)
    ours = dijkstra(net.graph, directed=False)
    for i, a in enumerate(net.node_id):
        expected = nx.single_source_dijkstra_path_length(truth, int(a), weight="length")
        for j, b in enumerate(net.node_id):
            want = expected.get(int(b), np.inf)
            assert ours[i, j] == pytest.approx(want, abs=0.01) if np.isfinite(want) else np.isinf(ours[i, j])
    # total length is preserved (each distinct segment once per way occurrence)
    seg_total = sum(
        GEOD.inv(coords[a][0], coords[a][1], coords[b][0], coords[b][1])[2]
        for refs in ways
        for a, b in itertools.pairwise(refs)
        if a != b
    )
    assert net.edge_length_m.sum() == pytest.approx(seg_total, rel=1e-9, abs=1e-6)


def test_summary_counts_components_and_largest_share():
    coords = _grid_coords(5, 5)
    net = _ways_network(coords, [[1, 2, 3, 4, 5], [21, 22]])
    s = net.summary()

    def seg(a, b):
        return GEOD.inv(coords[a][0], coords[a][1], coords[b][0], coords[b][1])[2]

    big = seg(1, 2) + seg(2, 3) + seg(3, 4) + seg(4, 5)
    small = seg(21, 22)
    assert s["components"] == 2 and s["nodes"] == 4 and s["edges"] == 2
    assert s["largest_share"] == pytest.approx(big / (big + small), abs=1e-4)
    assert s["length_km"] == pytest.approx((big + small) / 1000, abs=1e-3)
    # component 0 is the one with most length
    assert (net.component[net.edge_u[net.edge_length_m.argmax()]]) == 0


def test_save_and_load_round_trip(tmp_path, tsinghua_net):
    path = tsinghua_net.save(tmp_path / "net")
    assert path.suffix == ".npz"
    back = WalkNetwork.load(path)
    for name in (
        "node_id",
        "lon",
        "x",
        "edge_u",
        "edge_length_m",
        "geom_offsets",
        "geom_y",
        "edge_highway",
        "edge_name",
    ):
        np.testing.assert_array_equal(getattr(back, name), getattr(tsinghua_net, name))
    assert back.epsg == tsinghua_net.epsg and back.source == tsinghua_net.source
    assert back.summary() == tsinghua_net.summary()
    assert not list(tmp_path.glob(".*tmp"))


def test_load_rejects_a_file_that_is_not_a_cache(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a walkcircle network cache"):
        WalkNetwork.load(bad)
    with pytest.raises(InputError, match="no such network cache"):
        WalkNetwork.load(tmp_path / "missing.npz")


def test_snap_matches_brute_force_nearest_edge(tsinghua_net):
    net = tsinghua_net
    rng = np.random.default_rng(1)
    w, s, e, n = net.bounds_lonlat()
    lon = rng.uniform(w, e, 400)
    lat = rng.uniform(s, n, 400)
    snapped = net.snap(lon, lat)
    x, y = net.project(lon, lat)
    pts = shapely.points(x, y)
    dist_all = shapely.distance(pts[:, None], net.edge_lines[None, :])
    best = dist_all.min(axis=1)
    np.testing.assert_allclose(snapped.offset_m, best, atol=1e-6)
    on_edge = shapely.distance(shapely.points(snapped.x, snapped.y), net.edge_lines[snapped.edge])
    assert on_edge.max() < 1e-6
    assert (snapped.position_m >= 0).all() and (
        snapped.position_m <= net.edge_length_m[snapped.edge] + 1e-9
    ).all()
    assert ((best > 300) == snapped.off_network).all()


def test_prepare_snapping_builds_the_index_a_forked_child_then_shares(tsinghua_net):
    """After `prepare_snapping` a forked child snaps without building the edge index again."""
    import dataclasses

    from walkcircle._background import Background, can_fork

    net = dataclasses.replace(tsinghua_net)  # a copy with nothing built yet
    assert "_edge_tree" not in net.__dict__
    assert net.prepare_snapping() is net
    assert {"edge_lines", "_edge_tree", "_edge_planar_length"} <= set(net.__dict__)
    w, s, e, n = net.bounds_lonlat()
    lon, lat = np.array([w + (e - w) / 3, (w + e) / 2]), np.array([(s + n) / 2, s + (n - s) / 3])
    built = []
    original = shapely.STRtree

    def job() -> tuple[np.ndarray, list[str]]:
        shapely.STRtree = lambda *a, **k: built.append("tree") or original(*a, **k)
        try:
            return net.snap(lon, lat).offset_m, built
        finally:
            shapely.STRtree = original

    offsets, built_there = Background(job, fork=can_fork()).join()
    assert built_there == []  # the child used the index it inherited
    np.testing.assert_array_equal(offsets, tsinghua_net.snap(lon, lat).offset_m)


def test_snap_position_is_geodesic_distance_along_the_edge():
    coords = {1: (114.000, 35.000), 2: (114.010, 35.000)}
    net = _ways_network(coords, [[1, 2]])
    # a point 40 m north of the midpoint
    lon_mid, lat_mid, _ = GEOD.fwd(114.0, 35.0, 90, GEOD.inv(114.0, 35.0, 114.01, 35.0)[2] / 2)
    lon_p, lat_p, _ = GEOD.fwd(lon_mid, lat_mid, 0, 40)
    s = net.snap([lon_p], [lat_p])
    full = net.edge_length_m[0]
    pos = s.position_m[0] if net.node_id[net.edge_u[0]] == 1 else full - s.position_m[0]
    assert pos == pytest.approx(full / 2, abs=0.5)
    assert s.offset_m[0] == pytest.approx(40, rel=0.002)
    far = net.snap([lon_p], [lat_p + 0.01], max_offset_m=300)
    assert far.off_network[0] and far.offset_m[0] > 1000
    with pytest.raises(InputError, match="max_offset_m"):
        net.snap([lon_p], [lat_p], max_offset_m=0)


def test_snap_flags_invalid_points():
    coords = {1: (114.000, 35.000), 2: (114.010, 35.000)}
    net = _ways_network(coords, [[1, 2]])
    s = net.snap([np.nan, 114.005], [35.0, 35.0001])
    assert s.off_network.tolist() == [True, False]
    assert s.edge[0] == -1
    assert len(s.subset(np.array([False, True]))) == 1


def test_networkx_round_trip(cau_net):
    """to_networkx gives osmnx's shape; back again gives the same nodes, lengths and shortest paths."""
    import networkx as nx
    import osmnx as ox
    from scipy.sparse.csgraph import dijkstra

    g = cau_net.to_networkx()
    assert g.graph["crs"] == "epsg:4326" and g.number_of_nodes() == cau_net.n_nodes
    assert g.number_of_edges() == 2 * cau_net.n_edges
    gdf_nodes, gdf_edges = ox.convert.graph_to_gdfs(g)  # osmnx accepts it as its own
    assert len(gdf_nodes) == cau_net.n_nodes and len(gdf_edges) == 2 * cau_net.n_edges
    from walkcircle.sources.osm import network_from_osmnx

    back = network_from_osmnx(g)
    assert sorted(back.node_id) == sorted(cau_net.node_id)
    assert back.edge_length_m.sum() == pytest.approx(cau_net.edge_length_m.sum(), rel=1e-9)
    rng = np.random.default_rng(3)
    sources = rng.choice(cau_net.n_nodes, 5, replace=False)
    ours = dijkstra(cau_net.graph, indices=sources)
    index = {n: i for i, n in enumerate(back.node_id)}
    again = dijkstra(back.graph, indices=[index[cau_net.node_id[s]] for s in sources])
    for row, s in enumerate(sources):
        lengths = nx.single_source_dijkstra_path_length(g, int(cau_net.node_id[s]), weight="length")
        for target, metres in list(lengths.items())[:200]:
            t_ours = int(np.flatnonzero(cau_net.node_id == target)[0])
            assert metres == pytest.approx(ours[row, t_ours], abs=1e-6)
            assert again[row, index[target]] == pytest.approx(metres, abs=0.01)


def test_edges_table_holds_each_edge_with_its_ends_length_and_island():
    """Checked against networkx's components and pyproj's geodesic lengths, not the network's own."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from synthetic import street_grid

    net = street_grid(900, seed=8, gap_share=0.3).network()
    edges = net.edges_geodataframe()
    attributes = net.edge_attributes()
    assert list(edges.columns) == [*attributes, "geometry"] and len(edges) == net.n_edges
    for name, values in attributes.items():
        np.testing.assert_array_equal(edges[name].to_numpy(), values)
    ids = {
        (float(lon), float(lat)): int(i) for lon, lat, i in zip(net.lon, net.lat, net.node_id, strict=True)
    }
    coords = [np.asarray(g.coords) for g in edges.geometry]
    assert [ids[tuple(c[0])] for c in coords] == list(edges["u"])
    assert [ids[tuple(c[-1])] for c in coords] == list(edges["v"])
    geod = Geod(ellps="WGS84")
    lengths = [geod.line_length(c[:, 0], c[:, 1]) for c in coords]
    np.testing.assert_allclose(edges["length_m"], lengths, rtol=1e-9)
    graph = nx.Graph(zip(edges["u"], edges["v"], strict=True))
    islands = sorted(nx.connected_components(graph), key=lambda c: -sum(
        edges["length_m"][edges["u"].isin(c)]
    ))  # fmt: skip
    expected = {node: k for k, island in enumerate(islands) for node in island}
    assert [expected[u] for u in edges["u"]] == list(edges["component"])
