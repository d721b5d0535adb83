"""Node order: networks are numbered along a Hilbert curve, and that changes no answer.

A real extract is renumbered at random (nodes and edges listed in a random order, as OSM ids
come) and rebuilt; the kernels on the rebuilt network must give the same distances as scipy
and networkx on the original, node for node by OSM id.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from walkcircle import paths
from walkcircle.access import compute_access
from walkcircle.errors import WalkcircleWarning
from walkcircle.network import _hilbert_key, assemble_network, spatial_order


def _renumbered(net, seed):
    """Rebuild `net` from its nodes and edges listed in a random order."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(net.n_nodes)  # new input position i holds old node perm[i]
    where = np.empty(net.n_nodes, np.int64)
    where[perm] = np.arange(net.n_nodes)
    edge_perm = rng.permutation(net.n_edges)
    counts = np.diff(net.geom_offsets)[edge_perm]
    offsets = np.r_[0, np.cumsum(counts)]
    take = np.concatenate([np.arange(net.geom_offsets[e], net.geom_offsets[e + 1]) for e in edge_perm])
    return assemble_network(
        node_id=net.node_id[perm],
        node_lon=net.lon[perm],
        node_lat=net.lat[perm],
        edge_u=where[net.edge_u[edge_perm]],
        edge_v=where[net.edge_v[edge_perm]],
        edge_length_m=net.edge_length_m[edge_perm],
        vertex_nodes=None,
        geom_offsets=offsets,
        edge_way_id=net.edge_way_id[edge_perm],
        edge_highway=net.edge_highway[edge_perm],
        edge_name=net.edge_name[edge_perm],
        geom_lon=net.geom_lon[take],
        geom_lat=net.geom_lat[take],
    )


def _by_osm_id(net):
    """networkx graph of `net` keyed by OSM node id (built without walkcircle's CSR)."""
    g = nx.Graph()
    for u, v, w in zip(net.node_id[net.edge_u], net.node_id[net.edge_v], net.edge_length_m, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["weight"] > w):
            g.add_edge(int(u), int(v), weight=float(w))
    return g


@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_extract_gives_the_reference_distances(cau_net, seed):
    shuffled = _renumbered(cau_net, seed)
    assert sorted(shuffled.node_id.tolist()) == sorted(cau_net.node_id.tolist())
    assert shuffled.edge_length_m.sum() == pytest.approx(cau_net.edge_length_m.sum(), rel=1e-12)
    rng = np.random.default_rng(seed)
    groups_osm = [rng.choice(cau_net.node_id, size, replace=False) for size in (1, 5, 30)]
    index = pd.Series(np.arange(shuffled.n_nodes), index=shuffled.node_id)
    groups = [index[g].to_numpy() for g in groups_osm]
    limits = np.tile([200.0, 400.0, 800.0], (len(groups), 1))
    run = paths.passes(shuffled.graph, groups, count_limits=limits, k=3, k_limit=1600.0)
    assert run.dist is not None and run.counts is not None and run.knn_dist is not None

    g = _by_osm_id(cau_net)
    order_orig = pd.Series(np.arange(cau_net.n_nodes), index=cau_net.node_id)
    for gi, group in enumerate(groups_osm):
        # networkx on the original numbering, compared node by node through the OSM id
        ref = nx.multi_source_dijkstra_path_length(g, set(group.tolist()), weight="weight")
        want = np.array([ref.get(int(i), np.inf) for i in shuffled.node_id])
        np.testing.assert_allclose(run.dist[gi], want, atol=0.01)
        # scipy: every source separately on the original graph, for counts and k nearest
        full = dijkstra(cau_net.graph, directed=False, indices=order_orig[group].to_numpy())
        full = full[:, order_orig[shuffled.node_id].to_numpy()]
        for t, lim in enumerate(limits[gi]):
            np.testing.assert_array_equal(run.counts[gi, :, t], (full <= lim).sum(axis=0))
        best = np.sort(full, axis=0)[:3].T
        best[best > 1600.0] = np.inf
        np.testing.assert_allclose(run.knn_dist[gi, :, : best.shape[1]], best, atol=1e-6)


def test_shuffled_extract_gives_the_same_access(cau_net):
    rng = np.random.default_rng(3)
    w, s, e, n = cau_net.bounds_lonlat()
    homes = pd.DataFrame({"lon": rng.uniform(w, e, 300), "lat": rng.uniform(s, n, 300)})
    fac = pd.DataFrame(
        {
            "lon": rng.uniform(w, e, 40),
            "lat": rng.uniform(s, n, 40),
            "category": rng.choice(["a", "b", "c"], 40),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        a = compute_access(cau_net, homes, fac, k=3)
        b = compute_access(_renumbered(cau_net, 5), homes, fac, k=3)
    np.testing.assert_allclose(a.nearest_m, b.nearest_m, atol=1e-6)
    np.testing.assert_array_equal(a.tier_counts, b.tier_counts)
    np.testing.assert_allclose(a.knn_m, b.knn_m, atol=1e-6)


def test_hilbert_curve_visits_every_cell_once_stepping_to_a_neighbour():
    for bits in (1, 2, 4, 6):
        side = 1 << bits
        ix, iy = (a.ravel() for a in np.meshgrid(np.arange(side), np.arange(side)))
        key = _hilbert_key(ix, iy, bits)
        assert sorted(key.tolist()) == list(range(side * side))
        order = np.argsort(key)
        steps = np.abs(np.diff(ix[order])) + np.abs(np.diff(iy[order]))
        assert (steps == 1).all()


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 300))
def test_spatial_order_is_a_permutation_with_nonfinite_last(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1000, n)
    y = rng.normal(0, 1000, n)
    bad = rng.random(n) < 0.1
    x[bad] = np.nan
    order = spatial_order(x, y)
    assert sorted(order.tolist()) == list(range(n))
    assert not bad[order][: n - int(bad.sum())].any()
