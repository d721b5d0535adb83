"""The access engine against networkx on independently built graphs with the same snap nodes."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from walkcircle.access import compute_access
from walkcircle.defaults import ELDERLY_SPEED_KMH, KNN_REACH_FACTOR
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.network import build_network
from walkcircle.routing import minutes_to_metres, routing_graph, speed_mps

GEOD = Geod(ellps="WGS84")


def _points(lon, lat, **cols):
    frame = pd.DataFrame(
        {"lon": np.atleast_1d(np.asarray(lon, float)), "lat": np.atleast_1d(np.asarray(lat, float)), **cols}
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def reference_graph(net, home_snap, fac_snap):
    """networkx DiGraph with the same virtual snap nodes, built without walkcircle's code."""
    g = nx.DiGraph()

    def add(a, b, w):
        for x, y in ((a, b), (b, a)):
            if not g.has_edge(x, y) or g[x][y]["weight"] > w:
                g.add_edge(x, y, weight=w)

    on_edge: dict[int, list] = {}
    for kind, snap in (("H", home_snap), ("F", fac_snap)):
        for i in range(len(snap)):
            if not snap.off_network[i]:
                on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.position_m[i]), kind, i))
    for e in range(net.n_edges):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length_m[e])
        pts = sorted(on_edge.get(e, []))
        chain = [(("n", u), 0.0)] + [((("p", kind, i)), pos) for pos, kind, i in pts] + [(("n", v), length)]
        for (a, pa), (b, pb) in itertools.pairwise(chain):
            if a != b:
                add(a, b, max(pb - pa, 0.0))
    for i in range(len(home_snap)):
        if not home_snap.off_network[i]:
            g.add_edge(("p", "H", i), ("H", i), weight=float(home_snap.offset_m[i]))
    for i in range(len(fac_snap)):
        if not fac_snap.off_network[i]:
            g.add_edge(("F", i), ("p", "F", i), weight=float(fac_snap.offset_m[i]))
    return g


def check_against_networkx(net, homes, facilities, categories, k=1, sample=None):
    home_snap = net.snap(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    fac_snap = net.snap(facilities["lon"].to_numpy(), facilities["lat"].to_numpy())
    g = reference_graph(net, home_snap, fac_snap)
    thresholds = dict.fromkeys(categories, 500.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        res = compute_access(net, homes, facilities, categories, thresholds_m=thresholds, k=k)
    cats = facilities["category"].to_numpy()
    homes_idx = range(len(homes)) if sample is None else sample
    for c, cid in enumerate(categories):
        sources = [("F", i) for i in np.flatnonzero(cats == cid) if not fac_snap.off_network[i]]
        per_fac = {s: nx.single_source_dijkstra_path_length(g, s, weight="weight") for s in sources}
        for h in homes_idx:
            target = ("H", h)
            d_all = sorted((per_fac[s].get(target, np.inf), s[1]) for s in sources)
            best = d_all[0][0] if d_all else np.inf
            got = res.nearest_m[h, c]
            if np.isfinite(best):
                assert abs(got - best) < 0.01, (cid, h, got, best)
                named = res.nearest_facility[h, c]
                assert abs(per_fac[("F", named)][target] - best) < 0.01
            else:
                assert np.isinf(got) and res.nearest_facility[h, c] == -1
            assert res.count_within_threshold[h, c] == sum(d <= 500.0 + 1e-9 for d, _ in d_all)
            for t, m in enumerate(minutes_to_metres(res.tiers_min, 4.8)):
                assert res.tier_counts[h, c, t] == sum(d <= m + 1e-9 for d, _ in d_all)
            # the k-nearest search stops at KNN_REACH_FACTOR x the largest threshold or tier
            reach = KNN_REACH_FACTOR * max(500.0, *minutes_to_metres(res.tiers_min, 4.8))
            want_k = [d for d, _ in d_all if d <= reach][:k]
            got_k = res.knn_m[h, c][np.isfinite(res.knn_m[h, c])]
            np.testing.assert_allclose(got_k, want_k, atol=0.01)
    return res


def test_fixture_matches_networkx(tsinghua_osm, tsinghua_net):
    from walkcircle.profile import load_profile
    from walkcircle.sources.homes import homes_from_osm
    from walkcircle.sources.osm_features import facilities_from_osm_file

    profile = load_profile("hebi-2021")
    facilities = facilities_from_osm_file(tsinghua_osm, profile).facilities
    homes = homes_from_osm(tsinghua_osm).homes
    categories = ["convenience_store", "bus_stop", "fresh_market", "kindergarten"]
    rng = np.random.default_rng(0)
    res = check_against_networkx(
        tsinghua_net, homes, facilities, categories, k=3, sample=rng.choice(len(homes), 40, replace=False)
    )
    assert np.isfinite(res.nearest_m).mean() > 0.8


@st.composite
def small_worlds(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(3, 14))
    coords = {i + 1: (114.29 + rng.uniform(0, 0.006), 35.74 + rng.uniform(0, 0.006)) for i in range(n)}
    ways = [list(rng.choice(list(coords), draw(st.integers(2, 4)))) for _ in range(draw(st.integers(1, 7)))]
    n_h = draw(st.integers(1, 8))
    n_f = draw(st.integers(1, 8))
    homes = (114.29 + rng.uniform(-0.001, 0.007, n_h), 35.74 + rng.uniform(-0.001, 0.007, n_h))
    facs = (114.29 + rng.uniform(-0.001, 0.007, n_f), 35.74 + rng.uniform(-0.001, 0.007, n_f))
    cats = rng.choice(["a", "b"], n_f)
    return coords, ways, homes, facs, cats


def _network(coords, ways):
    node_id = np.array(sorted(coords))
    index = {n: i for i, n in enumerate(node_id)}
    seg_u, seg_v, seg_way = [], [], []
    for w, refs in enumerate(ways):
        for a, b in itertools.pairwise(refs):
            seg_u.append(index[a])
            seg_v.append(index[b])
            seg_way.append(w)
    lon = np.array([coords[n][0] for n in node_id])
    lat = np.array([coords[n][1] for n in node_id])
    return build_network(
        node_id, lon, lat, np.array(seg_u), np.array(seg_v), np.array(seg_way), np.arange(len(ways)),
        np.array(["footway"] * len(ways)), np.array([""] * len(ways)),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(world=small_worlds())
def test_random_worlds_match_networkx(world):
    coords, ways, homes, facs, cats = world
    try:
        net = _network(coords, ways)
    except InputError:
        return  # every way degenerate: nothing to route on
    check_against_networkx(net, _points(*homes), _points(*facs, category=cats), ["a", "b"], k=3)


# ---------------------------------------------------------------------------- hand-made cases


def _line_network():
    # A (0) -- B (~180 m) -- C (~360 m) along a parallel at 35.75 N, plus an island far north
    coords = {
        1: (114.300, 35.75),
        2: (114.302, 35.75),
        3: (114.304, 35.75),
        10: (114.300, 35.76),
        11: (114.302, 35.76),
    }
    return _network(coords, [[1, 2], [2, 3], [10, 11]]), coords


def _offset_point(lon, lat, north_m):
    lon2, lat2, _ = GEOD.fwd(lon, lat, 0, north_m)
    return lon2, lat2


def test_no_false_zero_at_a_shared_node():
    net, coords = _line_network()
    ab = GEOD.inv(*coords[1], *coords[2])[2]
    # a home 20 m north of a point 10 m before B, a facility 30 m north of a point 15 m after B
    h_lon, h_lat, _ = GEOD.fwd(*coords[1], 90, ab - 10)
    f_lon, f_lat, _ = GEOD.fwd(*coords[2], 90, 15)
    home = _points(*_offset_point(h_lon, h_lat, 20))
    fac = _points(*_offset_point(f_lon, f_lat, 30), category=["x"])
    res = compute_access(net, home, fac, ["x"])
    assert res.nearest_m[0, 0] == pytest.approx(20 + 10 + 15 + 30, abs=0.3)
    assert res.nearest_facility[0, 0] == 0


def test_same_edge_walks_along_it():
    net, coords = _line_network()
    h_lon, h_lat, _ = GEOD.fwd(*coords[1], 90, 50)
    f_lon, f_lat, _ = GEOD.fwd(*coords[1], 90, 120)
    res = compute_access(net, _points(h_lon, h_lat), _points(f_lon, f_lat, category=["x"]), ["x"])
    assert res.nearest_m[0, 0] == pytest.approx(70, abs=0.2)


def test_island_and_off_network_homes_are_unreachable_not_zero():
    net, _coords = _line_network()
    island = _offset_point(114.301, 35.76, 5)
    far = _offset_point(114.302, 35.75, -1000)
    fac = _points([114.303], [35.75001], category=["x"])
    with pytest.warns(WalkcircleWarning, match="1 of 2 homes are more than 300 m from any street"):
        res = compute_access(net, _points([island[0], far[0]], [island[1], far[1]]), fac, ["x"])
    assert np.isinf(res.nearest_m).all() and (res.nearest_facility == -1).all()
    assert res.home_off_network.tolist() == [False, True]
    assert (res.count_within_threshold == 0).all()
    assert np.isinf(res.walk_time_s).all()
    frame = res.to_frame()
    assert np.isinf(frame["x_m"]).all()


def test_category_without_facilities_is_reported():
    net, _ = _line_network()
    fac = _points([114.303], [35.75001], category=["x"])
    with pytest.warns(WalkcircleWarning, match="no facility on the network for: y"):
        res = compute_access(net, _points([114.301], [35.75001]), fac, ["x", "y"])
    assert res.empty_categories == ["y"]
    assert np.isinf(res.nearest_m[:, 1]).all() and np.isfinite(res.nearest_m[:, 0]).all()


def test_off_network_facilities_are_reported():
    net, _ = _line_network()
    fac = _points([114.303, 114.303], [35.75001, 35.80], category=["x", "x"])
    with pytest.warns(WalkcircleWarning, match="1 facilities are more than 300 m"):
        res = compute_access(net, _points([114.301], [35.75001]), fac, ["x"])
    assert res.facility_off_network.tolist() == [False, True]


def test_speed_and_elderly_scenario():
    net, _ = _line_network()
    homes = _points([114.3005], [35.75001])
    fac = _points([114.3035], [35.75001], category=["x"])
    normal = compute_access(net, homes, fac, ["x"])
    elderly = compute_access(net, homes, fac, ["x"], speed_kmh=ELDERLY_SPEED_KMH)
    assert normal.nearest_m[0, 0] == pytest.approx(elderly.nearest_m[0, 0])
    assert elderly.walk_time_s[0, 0] == pytest.approx(elderly.nearest_m[0, 0] / 1.0)
    assert normal.walk_time_s[0, 0] == pytest.approx(normal.nearest_m[0, 0] / (4.8 / 3.6))
    # minute tiers shrink at the slower speed
    assert (elderly.tier_counts <= normal.tier_counts).all()
    assert speed_mps(3.6) == pytest.approx(1.0)
    with pytest.raises(InputError, match="speed must be > 0"):
        compute_access(net, homes, fac, ["x"], speed_kmh=0)
    with pytest.raises(InputError, match="k must be >= 1"):
        compute_access(net, homes, fac, ["x"], k=0)
    with pytest.raises(InputError, match="must be > 0 minutes"):
        compute_access(net, homes, fac, ["x"], tiers_min=(5, -1))
    with pytest.raises(InputError, match="thresholds must be > 0"):
        compute_access(net, homes, fac, ["x"], thresholds_m={"x": 0})
    with pytest.raises(InputError, match="lacks column"):
        compute_access(net, homes, fac.drop(columns="category"), ["x"])


def test_engines_agree(cau_osm, cau_net):
    from walkcircle.profile import load_profile
    from walkcircle.sources.homes import homes_from_h3
    from walkcircle.sources.osm_features import facilities_from_osm_file

    fac = facilities_from_osm_file(cau_osm, load_profile("gb50180-2018")).facilities
    homes = homes_from_h3(cau_net).homes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        a = compute_access(cau_net, homes, fac, engine="numba")
        b = compute_access(cau_net, homes, fac, engine="scipy")
    np.testing.assert_allclose(a.nearest_m, b.nearest_m, atol=1e-9)
    # tier counts grow with the budget
    assert (np.diff(a.tier_counts, axis=2) >= 0).all()


def test_routing_graph_splits_edges_at_points():
    net, _coords = _line_network()
    snap = net.snap([114.3005, 114.3012], [35.75001, 35.75002])
    g = routing_graph(net, {"p": (snap, "target")})
    assert g.n_nodes == net.n_nodes + 2 * 2
    # the first edge became three pieces covering exactly its length
    pieces = g.edge_parent == snap.edge[0]
    assert pieces.sum() == 3
    assert (g.edge_to_m[pieces] - g.edge_from_m[pieces]).sum() == pytest.approx(
        net.edge_length_m[snap.edge[0]]
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.floats(0, 100, allow_nan=False)), max_size=40)
)
def test_routing_csr_keeps_the_shortest_of_duplicate_links(entries):
    from walkcircle.network import csr_min

    rows = np.array([e[0] for e in entries], np.int64)
    cols = np.array([e[1] for e in entries], np.int64)
    data = np.array([e[2] for e in entries], np.float64)
    expected: dict[tuple[int, int], float] = {}
    for r, c, w in entries:  # brute force: the smallest weight per (row, col), no self-loops
        if r != c:
            expected[r, c] = min(w, expected.get((r, c), np.inf))
    got = csr_min(rows, cols, data, 7)
    coo = got.tocoo()
    pairs = zip(coo.row.tolist(), coo.col.tolist(), strict=True)
    assert dict(zip(pairs, coo.data.tolist(), strict=True)) == expected
    assert got.has_sorted_indices or got.nnz == 0
    assert len(coo.data) == len(expected)
