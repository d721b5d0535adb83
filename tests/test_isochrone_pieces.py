"""Isochrones' fast path: pieces from the edges near the origin only, cut with cached measures."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from walkcircle import paths
from walkcircle.isochrones import edge_substrings, isochrones, reached_pieces
from walkcircle.routing import routing_graph


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), budget=st.sampled_from([50.0, 400.0, 800.0, 1200.0]))
def test_pieces_from_nearby_edges_equal_pieces_from_all_edges(cau_net, seed, budget):
    net = cau_net
    rng = np.random.default_rng(seed)
    w, s, e, n = net.bounds_lonlat()
    snap = net.snap(rng.uniform(w, e, 1), rng.uniform(s, n, 1), max_offset_m=1e6)
    graph = routing_graph(net, {"o": (snap, "source")})
    dist, _ = paths.nearest(graph.csr, [graph.point_node["o"]], limit=1200.0)
    near = np.flatnonzero((dist[0][graph.edge_a] <= 1200.0) | (dist[0][graph.edge_b] <= 1200.0))
    every = reached_pieces(graph, dist[0], budget)
    subset = reached_pieces(graph, dist[0], budget, near)
    key = lambda p: np.lexsort((p[2], p[1], p[0]))  # noqa: E731
    for got, want in zip(subset, every, strict=True):
        np.testing.assert_array_equal(got[key(subset)], want[key(every)])
    # the cached whole-network measures give the same cut twice
    first = edge_substrings(net, *every)
    again = edge_substrings(net, *every)
    np.testing.assert_array_equal(first[0], again[0])


def test_isochrones_of_many_origins_equal_one_at_a_time(cau_net):
    rng = np.random.default_rng(2)
    picks = rng.choice(cau_net.n_nodes, 6, replace=False)  # near streets, so none is empty
    lon = cau_net.lon[picks] + rng.normal(0, 2e-4, 6)
    lat = cau_net.lat[picks] + rng.normal(0, 2e-4, 6)
    together = isochrones(cau_net, lon, lat, [5, 10])
    for i in range(lon.size):
        alone = isochrones(cau_net, lon[i : i + 1], lat[i : i + 1], [5, 10])
        for m in (5.0, 10.0):
            a = together[(together.origin_id == str(i)) & (together.minutes == m)].geometry.iloc[0]
            b = alone[alone.minutes == m].geometry.iloc[0]
            assert a.area > 0
            assert shapely.equals_exact(a, b, tolerance=1e-9) or a.symmetric_difference(b).area < 1e-6
