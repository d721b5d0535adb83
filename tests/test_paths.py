"""The shortest-path kernels against scipy's Dijkstra and brute force, on random graphs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from walkcircle import paths


@st.composite
def graphs_with_sources(draw):
    n = draw(st.integers(2, 40))
    m = draw(st.integers(0, 120))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    # integer-ish weights make ties common, which is where label bugs hide
    w = rng.integers(0, 20, m).astype(float) * draw(st.sampled_from([1.0, 0.5, 7.3]))
    directed = draw(st.booleans())
    if directed:
        g = sparse.coo_matrix((w, (u, v)), shape=(n, n))
    else:
        g = sparse.coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n))
    g = g.tocsr()
    g.sum_duplicates()  # scipy would add duplicates; keep the graph as scipy reads it
    n_groups = draw(st.integers(1, 3))
    groups = [rng.choice(n, draw(st.integers(0, min(n, 6))), replace=True) for _ in range(n_groups)]
    return g, groups


def _all_pairs(g, group):
    if len(group) == 0:
        return np.full((0, g.shape[0]), np.inf)
    return dijkstra(g, directed=True, indices=np.asarray(group))


@settings(max_examples=150, deadline=None)
@given(case=graphs_with_sources())
def test_nearest_equals_the_minimum_over_sources(case):
    g, groups = case
    dist, label = paths.nearest(g, groups)
    dist_s, _label_s = paths.nearest(g, groups, engine="scipy")
    for k, group in enumerate(groups):
        full = _all_pairs(g, group)
        want = full.min(axis=0) if len(group) else np.full(g.shape[0], np.inf)
        np.testing.assert_allclose(dist[k], want, atol=1e-9)
        np.testing.assert_allclose(dist_s[k], want, atol=1e-9)
        reached = np.isfinite(want)
        assert (label[k][~reached] == -1).all()
        # the named source is at the nearest distance (ties may name any of them)
        named = full[label[k][reached], np.flatnonzero(reached)]
        np.testing.assert_allclose(named, want[reached], atol=1e-9)
        named_s = full[_label_s[k][reached], np.flatnonzero(reached)]
        np.testing.assert_allclose(named_s, want[reached], atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(case=graphs_with_sources(), k=st.integers(1, 4))
def test_k_nearest_equals_brute_force(case, k):
    g, groups = case
    kd, kl = paths.k_nearest(g, groups, k)
    for gi, group in enumerate(groups):
        full = _all_pairs(g, group)
        for node in range(g.shape[0]):
            # distinct sources: a source listed twice is one source per index
            best = sorted(full[:, node])[:k] if len(group) else []
            best = [b for b in best if np.isfinite(b)]
            got = kd[gi, node][np.isfinite(kd[gi, node])]
            np.testing.assert_allclose(got, best, atol=1e-9)
            # each entry names a distinct source at that distance; an empty slot names none
            named = kl[gi, node][: got.size]
            assert len(set(named.tolist())) == got.size
            np.testing.assert_allclose(full[named, node], got, atol=1e-9)
            assert (kl[gi, node][got.size :] == -1).all()
            labels = kl[gi, node][kl[gi, node] >= 0]
            assert len(set(labels.tolist())) == len(labels)
            np.testing.assert_allclose(full[labels, node], got, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(case=graphs_with_sources())
def test_counts_equal_brute_force(case):
    g, groups = case
    limits = np.array([[0.0, 5.0, 12.5, 40.0]] * len(groups))
    counts = paths.counts_within(g, groups, limits)
    for gi, group in enumerate(groups):
        full = _all_pairs(g, group)
        for t, limit in enumerate(limits[gi]):
            want = (full <= limit).sum(axis=0) if len(group) else np.zeros(g.shape[0])
            np.testing.assert_array_equal(counts[gi, :, t], want)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([1e-3, 0.9, 10.0, 37.0, 1e7]),
    long_edge=st.sampled_from([0.0, 5e3, 1e9, np.inf]),
)
def test_bucket_queue_gives_dijkstra_distances_at_any_edge_length(seed, scale, long_edge):
    # the nearest pass's bucket queue: edges far shorter than a bucket (every node corrected
    # inside one), far longer (the bucket width stretches so the buckets stay few), infinite
    rng = np.random.default_rng(seed)
    n, m = 60, 200
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.random(m) * scale
    w[0] = long_edge
    g = sparse.coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    sources = rng.choice(n, 3, replace=False)
    dist, label = paths.nearest(g, [sources])
    want = dijkstra(g, directed=True, indices=sources).min(axis=0)
    np.testing.assert_array_equal(np.isfinite(dist[0]), np.isfinite(want))
    reached = np.isfinite(want)
    # the same sums of the same weights as a heap-ordered Dijkstra: equal up to rounding
    np.testing.assert_allclose(dist[0][reached], want[reached], rtol=1e-12, atol=0)
    assert (label[0][~reached] == -1).all() and (label[0][reached] >= 0).all()


@settings(max_examples=40, deadline=None)
@given(case=graphs_with_sources(), k=st.integers(1, 3))
def test_a_queue_pool_too_small_is_grown_not_overrun(case, k):
    # the bucket-queue kernels stop (return False) when their pool of entries runs out;
    # _until_done runs them again with twice the pool until they finish
    g, groups = case
    indptr, indices, weights = paths._csr_arrays(g)
    n = g.shape[0]
    sources = np.asarray(groups[0], np.int64).astype(indices.dtype)
    dist, label = np.empty(n), np.empty(n, indices.dtype)
    kd, kl = np.empty((n, k)), np.empty((n, k), np.int64)
    if len(set(sources.tolist())) > 1:  # two sources need two entries at once
        assert not paths._nearest_into(indptr, indices, weights, sources, np.inf, dist, label, 1)
    paths._until_done(paths._nearest_into, 1, indptr, indices, weights, sources, np.inf, dist, label)
    paths._until_done(paths._k_nearest_into, 1, indptr, indices, weights, sources, k, np.inf, kd, kl)
    want_d, _ = paths.nearest(g, [groups[0]], engine="scipy")
    np.testing.assert_allclose(dist, want_d[0], atol=1e-9)
    # the same lists as with the first pool (checked against brute force in test_k_nearest_equals_brute_force)
    want_kd, want_kl = paths.k_nearest(g, [groups[0]], k)
    np.testing.assert_array_equal(kd, want_kd[0])
    np.testing.assert_array_equal(kl, want_kl[0])


def test_limit_stops_the_search():
    g = sparse.csr_matrix(np.array([[0, 5, 0], [5, 0, 5], [0, 5, 0]], float))
    dist, label = paths.nearest(g, [np.array([0])], limit=6)
    assert dist[0].tolist() == [0, 5, np.inf] and label[0].tolist() == [0, 0, -1]
    kd, _ = paths.k_nearest(g, [np.array([0, 2])], 2, limit=6)
    assert kd[0, 1].tolist() == [5, 5]
    assert kd[0, 0].tolist() == [0, np.inf]


def test_off_network_sources_are_ignored():
    g = sparse.csr_matrix(np.array([[0, 1], [1, 0]], float))
    dist, label = paths.nearest(g, [np.array([-1, 1])])
    assert dist[0].tolist() == [1, 0] and label[0].tolist() == [1, 1]
    assert paths.counts_within(g, [np.array([-1])], [[5.0]]).sum() == 0


def test_bad_arguments():
    g = sparse.csr_matrix(np.array([[0, -1], [1, 0]], float))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        paths.nearest(g, [np.array([0])])
    g = abs(g)
    with pytest.raises(ValueError, match="unknown engine"):
        paths.nearest(g, [np.array([0])], engine="pandana")
    with pytest.raises(ValueError, match="k must be >= 1"):
        paths.k_nearest(g, [np.array([0])], 0)
    with pytest.raises(ValueError, match="ascending"):
        paths.counts_within(g, [np.array([0])], [[5.0, 1.0]])
    with pytest.raises(ValueError, match="one row per source group"):
        paths.counts_within(g, [np.array([0])], [[1.0], [2.0]])


def test_threads_can_be_set():
    assert paths.set_threads(1) == 1
    assert paths.set_threads(None) >= 1


@settings(max_examples=100, deadline=None)
@given(case=graphs_with_sources(), limit=st.sampled_from([0.0, 3.0, 12.5, 1e9]))
def test_reach_within_lists_exactly_the_nodes_within_the_limit(case, limit):
    g, groups = case
    starts = groups[0]
    start_idx, node, dist = paths.reach_within(g, starts, limit)
    full = _all_pairs(g, starts)
    got = {(int(s), int(v)): d for s, v, d in zip(start_idx, node, dist, strict=True)}
    want = {(s, v): full[s, v] for s in range(len(starts)) for v in range(g.shape[0]) if full[s, v] <= limit}
    assert got.keys() == want.keys()
    for key, d in got.items():
        assert d == pytest.approx(want[key], abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(case=graphs_with_sources(), k=st.integers(1, 4), limit=st.sampled_from([0.0, 5.0, 12.5, 30.0]))
def test_bounded_k_nearest_equals_unbounded_within_the_bound(case, k, limit):
    g, groups = case
    kd, _ = paths.k_nearest(g, groups, k)
    bd, bl = paths.k_nearest(g, groups, k, limit=limit)
    inside = kd <= limit
    # within the bound the distances are the unbounded ones; beyond it inf / -1
    np.testing.assert_array_equal(bd[inside], kd[inside])
    assert np.isinf(bd[~inside]).all()
    assert (bl[~inside] == -1).all()
    # ties may name other sources: check each named source against brute force
    for gi, group in enumerate(groups):
        full = _all_pairs(g, group)
        for node in range(g.shape[0]):
            named = bl[gi, node][bl[gi, node] >= 0]
            assert len(set(named.tolist())) == len(named)
            np.testing.assert_allclose(full[named, node], bd[gi, node][: named.size], atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(case=graphs_with_sources(), threads=st.sampled_from([1, 2, 3]))
def test_passes_in_one_pool_equal_each_pass_alone(case, threads):
    g, groups = case
    limits = np.array([[0.0, 5.0, 12.5]] * len(groups))
    try:
        paths.set_threads(threads)
        run = paths.passes(g, groups, count_limits=limits, k=2, k_limit=12.5)
    finally:
        paths.set_threads(None)
    dist_s, _ = paths.nearest(g, groups, engine="scipy")
    np.testing.assert_allclose(run.dist, dist_s, atol=1e-9)
    np.testing.assert_array_equal(run.counts, paths.counts_within(g, groups, limits))
    kd, _ = paths.k_nearest(g, groups, 2, limit=12.5)
    np.testing.assert_array_equal(run.knn_dist, kd)


@st.composite
def graphs_with_dead_ends(draw):
    """A random graph with homes hung off it: nodes with one edge in and none out (some are sources)."""
    g, groups = draw(graphs_with_sources())
    n = g.shape[0]
    n_ends = draw(st.integers(1, 25))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    before = rng.integers(0, n + n_ends, n_ends) % n  # some nodes get several dead ends
    w = rng.integers(0, 20, n_ends).astype(float) * draw(st.sampled_from([1.0, 0.5, 7.3]))
    coo = g.tocoo()
    grown = sparse.coo_matrix(
        (np.r_[coo.data, w], (np.r_[coo.row, before], np.r_[coo.col, n + np.arange(n_ends)])),
        shape=(n + n_ends, n + n_ends),
    ).tocsr()
    if draw(st.booleans()):  # a source on a dead end keeps it in the search
        groups = [np.r_[grp, n + rng.integers(0, n_ends, 1)] for grp in groups]
    return grown, groups


@settings(max_examples=120, deadline=None)
@given(case=graphs_with_dead_ends(), k=st.integers(1, 4), limit=st.sampled_from([np.inf, 12.5]))
def test_dead_ends_skipped_get_what_the_full_search_gives(case, k, limit):
    g, groups = case
    out = paths.passes(g, groups, nearest=True, k=k, limit=limit, k_limit=limit)
    indptr, indices, weights = paths._csr_arrays(g)
    n = g.shape[0]
    for gi, group in enumerate(groups):
        src = np.asarray(group, indices.dtype)
        full = _all_pairs(g, group)
        dist, label = np.empty(n), np.empty(n, indices.dtype)
        assert paths._nearest_into(indptr, indices, weights, src, limit, dist, label, indices.size + n + 1)
        np.testing.assert_array_equal(out.dist[gi], dist)  # the same sums, bit for bit
        kd, kl = np.empty((n, k)), np.empty((n, k), np.int64)
        assert paths._k_nearest_into(
            indptr, indices, weights, src, k, limit, kd, kl, k * indices.size + n + 1
        )
        np.testing.assert_array_equal(out.knn_dist[gi], kd)
        # a label may differ only between two sources whose sums round to the same distance
        _assert_same_or_tied(out.label[gi][:, None], label[:, None], dist[:, None], full)
        _assert_same_or_tied(out.knn_label[gi], kl, kd, full)
        # and against Dijkstra from each source
        want = full.min(axis=0) if len(group) else np.full(n, np.inf)
        want[want > limit] = np.inf
        np.testing.assert_allclose(out.dist[gi], want, atol=1e-9)


def _assert_same_or_tied(got, expected, dist, full):
    assert ((got == -1) == (expected == -1)).all()
    node, slot = np.nonzero(got != expected)
    np.testing.assert_allclose(full[got[node, slot], node], dist[node, slot], atol=1e-9)
    if got.shape[1] > 1:  # still distinct sources per node
        for v in np.unique(node):
            named = got[v][got[v] >= 0]
            assert len(set(named.tolist())) == named.size


def test_dead_ends_are_nodes_with_one_edge_in_none_out_and_no_source():
    # 0 -> 1 -> 2 (dead end), 0 -> 3 (a source), 0 -> 4 and 1 -> 4 (two edges in), 1 -> 5 (dead end)
    g = sparse.csr_matrix((np.ones(6), ([0, 1, 0, 0, 1, 1], [1, 2, 3, 4, 4, 5])), shape=(6, 6))
    indptr, indices, weights = paths._csr_arrays(g)
    ends = paths._dead_ends(indptr, indices, weights, [np.array([3, -1], indices.dtype)])
    assert sorted(ends.node.tolist()) == [2, 5]
    assert ends.before[np.argsort(ends.node)].tolist() == [1, 1]
    assert ends.indices.size == 4 and 2 not in ends.indices and 5 not in ends.indices
    assert paths._dead_ends(indptr, indices, weights, [np.array([2, 5, 3], indices.dtype)]) is None
