"""Scenarios: the incremental engine against full recomputes, and the before/after tables."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walkcircle.access import compute_access
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.network import build_network
from walkcircle.scenario import (
    change_tables,
    match_closed,
    read_closed_table,
    read_planned,
    run_scenario,
    suggestions_to_planned,
)
from walkcircle.scoring import home_table

CATS = ["a", "b"]
TIERS = (2.0, 4.0, 6.0)
EPS_M = 1e-6  # floating-point rounding of split edge pieces (see walkcircle.incremental)


def _points(lon, lat, **cols):
    frame = pd.DataFrame(
        {"lon": np.atleast_1d(np.asarray(lon, float)), "lat": np.atleast_1d(np.asarray(lat, float)), **cols}
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def _facilities(lon, lat, cats, prefix):
    ids = [f"{prefix}{i}" for i in range(len(cats))]
    return _points(
        lon, lat, facility_id=[f"{i}#{c}" for i, c in zip(ids, cats, strict=True)], feature_id=ids,
        category=list(cats), name=ids, source=prefix,
    )  # fmt: skip


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


@st.composite
def worlds(draw):
    """A random street graph, homes, baseline facilities, planned facilities and closures."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(3, 16))
    coords = {i + 1: (114.29 + rng.uniform(0, 0.008), 35.74 + rng.uniform(0, 0.008)) for i in range(n)}
    ways = [list(rng.choice(list(coords), draw(st.integers(2, 5)))) for _ in range(draw(st.integers(1, 9)))]
    n_h = draw(st.integers(1, 12))
    n_f = draw(st.integers(0, 8))
    n_p = draw(st.integers(0, 5))

    def pts(m):
        return 114.29 + rng.uniform(-0.001, 0.009, m), 35.74 + rng.uniform(-0.001, 0.009, m)

    homes = _points(*pts(n_h), population=rng.integers(1, 50, n_h).astype(float))
    facilities = _facilities(*pts(n_f), rng.choice(CATS, n_f), "f")
    planned = _facilities(*pts(n_p), rng.choice(CATS, n_p), "p")
    if n_p and draw(st.booleans()) and n_f:  # a planned site on top of an existing one
        planned.loc[0, ["lon", "lat"]] = facilities.loc[0, ["lon", "lat"]].to_numpy()
    closed = np.flatnonzero(rng.random(n_f) < draw(st.floats(0, 1))) if n_f else np.zeros(0, np.int64)
    k = draw(st.integers(1, 3))
    return coords, ways, homes, facilities, planned, closed, k


def _access(net, homes, facilities, k, keep_state=False):
    thresholds = {"a": 250.0, "b": 420.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        return compute_access(
            net, homes, facilities, CATS, thresholds_m=thresholds, tiers_min=TIERS, k=k, keep_state=keep_state
        )


def _unique(d, j):
    """True where the j-th distance differs from its neighbours in the list (ids comparable)."""
    ok = np.isfinite(d[..., j])
    with np.errstate(invalid="ignore"):
        if j > 0:
            ok &= d[..., j] - d[..., j - 1] > EPS_M
        if j + 1 < d.shape[-1]:
            ok &= d[..., j + 1] - d[..., j] > EPS_M
    return ok


def assert_equal_to_full(net, homes, facilities, planned, closed, k):
    base = _access(net, homes, facilities, k, keep_state=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        result = run_scenario(net, base, facilities, planned, closed)
    got = result.access
    kept = np.setdiff1d(np.arange(len(facilities)), closed)
    changed = pd.concat([facilities.iloc[kept], planned], ignore_index=True)
    row_of = np.concatenate([kept, len(facilities) + np.arange(len(planned))])
    full = _access(net, homes, changed, k + 1)  # one more, to tell ties at the k-th place
    # distances: equal up to split-piece rounding; unreachable exactly where unreachable
    assert np.array_equal(np.isinf(got.nearest_m), np.isinf(full.nearest_m))
    np.testing.assert_allclose(got.nearest_m, full.nearest_m, rtol=0, atol=EPS_M)
    np.testing.assert_allclose(got.knn_m, full.knn_m[:, :, :k], rtol=0, atol=EPS_M)
    # counts exactly
    np.testing.assert_array_equal(got.count_within_threshold, full.count_within_threshold)
    np.testing.assert_array_equal(got.tier_counts, full.tier_counts)
    # ids where the distance is unique
    full_rows = np.append(row_of, -1)[full.knn_facility]  # -1 stays -1
    for j in range(k):
        ok = _unique(full.knn_m, j)
        np.testing.assert_array_equal(got.knn_facility[:, :, j][ok], full_rows[:, :, j][ok])
    nearest_ok = _unique(full.knn_m, 0)
    np.testing.assert_array_equal(got.nearest_facility[nearest_ok], full_rows[:, :, 0][nearest_ok])
    assert np.all((got.nearest_facility >= 0) == np.isfinite(got.nearest_m))
    assert not np.isin(got.nearest_facility, closed).any()
    return base, result


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_incremental_equals_full_recompute(world):
    coords, ways, homes, facilities, planned, closed, k = world
    try:
        net = _network(coords, ways)
    except InputError:
        return  # every way degenerate
    assert_equal_to_full(net, homes, facilities, planned, closed, k)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_adding_never_lowers_and_closing_never_raises_coverage(world):
    coords, ways, homes, facilities, planned, closed, k = world
    try:
        net = _network(coords, ways)
    except InputError:
        return
    base = _access(net, homes, facilities, k, keep_state=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        added = run_scenario(net, base, facilities, planned).access
        removed = run_scenario(net, base, facilities, None, closed).access
    assert (added.reached >= base.reached).all()
    assert (added.nearest_m <= base.nearest_m).all()
    assert (added.count_within_threshold >= base.count_within_threshold).all()
    assert (removed.reached <= base.reached).all()
    assert (removed.nearest_m >= base.nearest_m).all()
    assert (removed.count_within_threshold <= base.count_within_threshold).all()


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), world2=worlds())
def test_scenarios_chain_and_baseline_is_untouched(world, world2):
    """A scenario on a scenario equals the full recompute too; the baseline stays as it was."""
    coords, ways, homes, facilities, planned, closed, k = world
    try:
        net = _network(coords, ways)
    except InputError:
        return
    base = _access(net, homes, facilities, k, keep_state=True)
    before = base.nearest_m.copy(), base.state.nearest_m[0].copy(), base.state.counts[0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        first = run_scenario(net, base, facilities, planned, closed)
        # then close every planned facility and one more existing one again
        n_all = len(first.facilities)
        second = run_scenario(net, first.access, first.facilities, None, np.arange(len(facilities), n_all))
    np.testing.assert_array_equal(base.nearest_m, before[0])
    np.testing.assert_array_equal(base.state.nearest_m[0], before[1])
    np.testing.assert_array_equal(base.state.counts[0], before[2])
    kept = np.setdiff1d(np.arange(len(facilities)), closed)
    full = _access(net, homes, facilities.iloc[kept], k)
    np.testing.assert_allclose(second.access.nearest_m, full.nearest_m, rtol=0, atol=EPS_M)
    np.testing.assert_array_equal(second.access.count_within_threshold, full.count_within_threshold)


# ---------------------------------------------------------------------------- hand-made


def _line():
    coords = {i + 1: (114.30 + 0.001 * i, 35.75) for i in range(8)}  # ~90 m apart
    return _network(coords, [list(range(1, 9))])


def test_planned_point_splits_an_edge_between_homes():
    net = _line()
    homes = _points([114.3012, 114.3018, 114.3055], [35.7501] * 3, population=[1.0, 2.0, 3.0])
    facilities = _facilities([114.3000, 114.3070], [35.7500, 35.7500], ["a", "b"], "f")
    planned = _facilities(
        [114.3015, 114.3015], [35.7502, 35.7498], ["a", "b"], "p"
    )  # same edge as homes 0, 1
    _, result = assert_equal_to_full(net, homes, facilities, planned, np.array([0]), 2)
    assert (result.access.nearest_facility[:2, 0] == 2).all()
    assert set(result.facilities["status"]) == {"open", "closed", "planned"}


def test_off_network_and_unknown_planned_rows_are_listed_not_routed():
    net = _line()
    homes = _points([114.3012], [35.7501], population=[1.0])
    facilities = _facilities([114.3000], [35.7500], ["a"], "f")
    planned = _facilities([114.3015, 114.3015], [35.80, 35.7501], ["a", "zzz"], "p")
    base = _access(net, homes, facilities, 1, keep_state=True)
    with pytest.warns(WalkcircleWarning) as record:
        result = run_scenario(net, base, facilities, planned)
    messages = [str(w.message) for w in record]
    assert any("1 planned facilities more than 300 m from any street" in m for m in messages)
    assert any("1 planned facilities in a category not computed" in m for m in messages)
    assert list(result.facilities["status"]) == ["open", "planned_off_network", "planned_unknown_category"]
    np.testing.assert_array_equal(result.access.nearest_m, base.nearest_m)
    assert len(result.notes) == 2
    # a plain table of category and coordinates is enough
    plain = pd.DataFrame({"category": ["a"], "lon": [114.3013], "lat": [35.7501]})
    one = run_scenario(net, base, facilities, plain)
    assert one.facilities.geometry.iloc[1] is not None and list(one.facilities["status"]) == [
        "open",
        "planned",
    ]
    assert one.access.nearest_facility[0, 0] == 1
    with pytest.raises(InputError, match="lack column"):
        run_scenario(net, base, facilities, plain.drop(columns="lat"))


def test_baseline_without_state_is_refused():
    net = _line()
    homes = _points([114.3012], [35.7501], population=[1.0])
    facilities = _facilities([114.3000], [35.7500], ["a"], "f")
    base = _access(net, homes, facilities, 1)
    with pytest.raises(InputError, match="keep_state=True"):
        run_scenario(net, base, facilities)


def test_match_closed_by_id_point_and_name(tmp_path):
    facilities = _facilities([114.3000, 114.3050, 114.3090], [35.75] * 3, ["a", "b", "a"], "f")
    facilities.loc[2, "name"] = "f0"  # two places named f0
    path = tmp_path / "closed.csv"
    pd.DataFrame(
        {
            "facility_id": ["f1#b", "", "", "", "nope"],
            "name": ["", "", "f0", "", ""],
            "category": ["", "a", "", "", ""],
            "lon": ["", "114.30905", "", "114.40", ""],
            "lat": ["", "35.75", "", "35.75", ""],
        }
    ).to_csv(path, index=False)
    with pytest.raises(InputError, match="declare the coordinate system"):
        read_closed_table(path)
    table = read_closed_table(path, crs="wgs84")
    with pytest.warns(WalkcircleWarning, match="3 of 5 facilities to close match no facility"):
        match = match_closed(table, facilities)
    assert list(match.rows) == [1, 2]
    assert list(match.table["status"]) == ["matched", "matched", "unmatched", "unmatched", "unmatched"]
    assert "ambiguous: 2 places named 'f0'" in match.table["reason"][2]
    assert "within 30 m" in match.table["reason"][3]
    assert "no facility with id 'nope'" in match.table["reason"][4]
    assert len(match.unmatched) == 3
    assert list(match_closed(["f0#a"], facilities).rows) == [0]
    # a place serving two categories closes in both when no category narrows the match
    two = pd.concat(
        [facilities, facilities.iloc[[1]].assign(category="a", facility_id="f1#a")], ignore_index=True
    )
    point = pd.DataFrame({"lon": [114.3050], "lat": [35.75001]})
    assert list(match_closed(point, two).rows) == [1, 3]
    assert list(match_closed(point.assign(category="a"), two).rows) == [3]


def test_change_tables_by_hand():
    homes = _points([114.30, 114.31, 114.32, 114.33], [35.75] * 4, population=[10.0, 20.0, 30.0, 40.0])
    homes["home_id"] = ["h0", "h1", "h2", "h3"]
    homes["community"] = ["x", "x", "y", "y"]
    before = pd.DataFrame({"reached_a": [True, False, False, True], "minutes_a": [3.0, 20.0, np.inf, 4.0]})
    after = pd.DataFrame({"reached_a": [True, True, True, False], "minutes_a": [3.0, 5.0, 6.0, 30.0]})
    t = change_tables(homes, before, after, ["a"], {"a": 2}, {"a": 3})
    row = t.categories.iloc[0]
    assert row["coverage_baseline"] == pytest.approx(0.5)
    assert row["coverage_planned"] == pytest.approx(0.6)
    assert row["residents_newly_covered"] == 50.0
    assert row["residents_newly_uncovered"] == 40.0
    assert (row["homes_newly_covered"], row["homes_newly_uncovered"]) == (2, 1)
    # population-weighted (lower) medians: before 3 (10), 4 (40), 20 (20), inf (30): half the
    # residents are within 4 min; after 3 (10), 5 (20), 6 (30), 30 (40): within 6
    assert (row["median_min_baseline"], row["median_min_planned"]) == (4.0, 6.0)
    assert t.summary == {
        "a": {
            "baseline": 0.5, "planned": 0.6, "facilities_baseline": 2, "facilities_planned": 3,
            "residents_newly_covered": 50.0, "residents_newly_uncovered": 40.0,
        }
    }  # fmt: skip
    comm = t.communities.set_index("community")
    assert comm.loc["x", "passes_now"] and not comm.loc["x", "meets_all_baseline"]
    assert comm.loc["x", "categories_now_passing"] == "a"
    assert not comm.loc["y", "meets_all_planned"] and comm.loc["y", "coverage_a_planned"] == pytest.approx(
        30 / 70
    )
    assert comm.loc["y", "residents_newly_covered"] == 30.0
    assert comm.loc["y", "residents_newly_uncovered"] == 40.0
    assert sorted(zip(t.changes["home_id"], t.changes["change"], strict=True)) == [
        ("h1", "newly_covered"), ("h2", "newly_covered"), ("h3", "newly_uncovered"),
    ]  # fmt: skip
    assert np.isnan(t.changes.set_index("home_id").loc["h2", "minutes_baseline"])


def test_suggestions_become_planned_facilities():
    from walkcircle.siting import Suggestion

    sites = gpd.GeoDataFrame(
        {"rank": [1, 2], "category": ["a", "a"], "candidate": ["node 5", "node 9"], "lon": [114.3, 114.31], "lat": [35.75, 35.76]},
        geometry=gpd.points_from_xy([114.3, 114.31], [35.75, 35.76]), crs="EPSG:4326",
    )  # fmt: skip
    s = Suggestion("a", 300.0, sites, 0.1, 0.5, 10.0, 9.0, "exact")
    planned = suggestions_to_planned([s])
    assert list(planned["facility_id"]) == ["suggested:a:1", "suggested:a:2"]
    assert list(planned["category"]) == ["a", "a"]
    assert planned.crs.to_epsg() == 4326


# ---------------------------------------------------------------------------- the test


@pytest.mark.slow
def test_three_planned_elderly_care_centres(tsinghua_osm, tsinghua_net, tmp_path):
    from walkcircle.profile import load_profile
    from walkcircle.sources.facilities import collect_facilities
    from walkcircle.sources.homes import homes_from_h3

    profile = load_profile("hebi-2021")
    net = tsinghua_net
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        facilities = collect_facilities(profile, osm_path=tsinghua_osm).facilities.reset_index(drop=True)
        homes = homes_from_h3(net, 10).homes
    cats = profile.category_ids
    elderly = next(c for c in cats if "elderly" in c)
    thresholds = {c.id: c.distance_m(4.8) for c in profile.categories}
    snap = net.snap(homes["lon"].to_numpy(), homes["lat"].to_numpy())

    def access(table, keep_state=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WalkcircleWarning)
            return compute_access(net, snap, table, cats, thresholds_m=thresholds, k=3, keep_state=keep_state)

    base = access(facilities, keep_state=True)
    # three centres at the homes farthest from any elderly care, written as a planner's table
    col = base.column(elderly)
    far = np.argsort(-np.where(np.isfinite(base.nearest_m[:, col]), base.nearest_m[:, col], -1))[:3]
    path = tmp_path / "planned.csv"
    pd.DataFrame(
        {"name": ["规划养老中心1", "规划养老中心2", "规划养老中心3"], "category": [elderly] * 3,
         "lon": homes["lon"].to_numpy()[far], "lat": homes["lat"].to_numpy()[far]}
    ).to_csv(path, index=False)  # fmt: skip
    planned = read_planned(path, profile, crs="wgs84").facilities
    result = run_scenario(net, base, facilities, planned)
    after, before = result.access, base
    reached_before = before.reached.mean(axis=0)
    reached_after = after.reached.mean(axis=0)
    assert reached_after[col] > reached_before[col]
    others = [c for c in range(len(cats)) if c != col]
    np.testing.assert_array_equal(after.nearest_m[:, others], before.nearest_m[:, others])
    np.testing.assert_array_equal(
        after.count_within_threshold[:, others], before.count_within_threshold[:, others]
    )
    # the same as a run that has them as ordinary facilities
    full = access(pd.concat([facilities, planned], ignore_index=True))
    np.testing.assert_array_equal(after.reached, full.reached)
    np.testing.assert_allclose(after.nearest_m, full.nearest_m, rtol=0, atol=EPS_M)
    np.testing.assert_array_equal(after.count_within_threshold, full.count_within_threshold)
    np.testing.assert_array_equal(after.tier_counts, full.tier_counts)
    tables = change_tables(
        homes, home_table(before, profile), home_table(after, profile), cats,
        {c: int((facilities["category"] == c).sum()) for c in cats}, result.facility_counts(), profile=profile,
    )  # fmt: skip
    row = tables.categories.set_index("category").loc[elderly]
    assert row["facilities_planned"] == row["facilities_baseline"] + 3
    assert row["coverage_planned"] > row["coverage_baseline"]
    assert row["homes_newly_uncovered"] == 0
    assert (tables.changes["category"] == elderly).all()
    assert len(tables.changes) == row["homes_newly_covered"] > 0
