"""Merging facilities from several sources: no chains, one source's rows stay distinct, all counted.

The rule is checked against a plain-Python greedy reference, against independent counts from
the fixtures' XML, and as properties (hypothesis).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from osm_helpers import open_xml
from walkcircle.errors import WalkcircleWarning
from walkcircle.geodesy import to_lonlat
from walkcircle.profile import load_profile
from walkcircle.sources.facilities import collect_facilities
from walkcircle.sources.loads import FacilityLoad, LoadReport, _facility_frame
from walkcircle.sources.merge import match_one_to_one, merge_facilities, near_duplicate_parents
from walkcircle.sources.osm_features import facilities_from_osm_file
from walkcircle.sources.tables import TableSpec

GEOD = Geod(ellps="WGS84")
GB = load_profile("gb50180-2018")
HEBI = load_profile("hebi-2021")
EPSG = 32650
X0, Y0 = 500_000.0, 3_960_000.0  # UTM 50N near Hebi


def _load_xy(x_m, y_m, category, source, names=None) -> FacilityLoad:
    lon, lat = to_lonlat(np.asarray(x_m, float), np.asarray(y_m, float), EPSG)
    n = len(lon)
    ids = [f"{source}:{i}" for i in range(n)]
    frame = _facility_frame(ids, [category] * n, names or [""] * n, lon, lat, source)
    return FacilityLoad(frame, [LoadReport(source=source, rows_read=n, kept=n, by_category={category: n})])


# ---------------------------------------------------------------------------- the rule


def test_forty_shops_25_m_apart_along_a_street_stay_forty(tmp_path):
    # issue 12: chained merging made these one shop
    x = X0 + 25.0 * np.arange(40)
    lon, lat = to_lonlat(x, np.full(40, Y0), EPSG)
    path = tmp_path / "shops.csv"
    pd.DataFrame({"lon": lon, "lat": lat, "category": "convenience_store", "name": "美宜佳"}).to_csv(
        path, index=False
    )
    load = collect_facilities(HEBI, tables=[TableSpec(path, "wgs84")], dedupe_m=30.0)
    assert load.counts() == {"convenience_store": 40}
    assert load.reports[-1].duplicates_removed == {}
    table = load.reports[0]
    assert (table.rows_read, table.rows_used, table.merged, table.kept_after_merge()) == (
        40,
        40,
        {},
        {"convenience_store": 40},
    )


def test_a_table_row_and_an_osm_node_10_m_apart_are_one_place():
    table = _load_xy([X0], [Y0], "bus_stop", "table:stops.csv", names=["A"])
    osm = _load_xy([X0 + 10.0, X0 + 500.0], [Y0, Y0], "bus_stop", "osm:x.osm")
    merged = merge_facilities([table, osm], dedupe_m=30.0)
    assert merged.counts() == {"bus_stop": 2}
    kept = merged.facilities["feature_id"].tolist()
    assert "table:stops.csv:0" in kept and "osm:x.osm:0" not in kept  # the table wins
    assert merged.reports[-1].duplicates_removed == {"bus_stop": 1}
    assert merged.reports[-1].merged_by_source == {"osm:x.osm": {"bus_stop": 1}}
    assert table.reports[0].merged == {} and osm.reports[0].merged == {"bus_stop": 1}
    assert osm.reports[0].kept_after_merge() == {"bus_stop": 1}


def test_no_chains_across_sources():
    # table a at 0 m; osm b at 25 m; table2 c at 50 m: c is 50 m from the group's first row
    a = _load_xy([X0], [Y0], "park", "table:a.csv")
    b = _load_xy([X0 + 25.0], [Y0], "park", "osm:b")
    c = _load_xy([X0 + 50.0], [Y0], "park", "table:c.csv")
    merged = merge_facilities([a, b, c], dedupe_m=30.0)
    # b merges into a; c is 25 m from b but 50 m from a, and b is no longer a place: c stays
    assert sorted(merged.facilities["feature_id"]) == ["table:a.csv:0", "table:c.csv:0"]


def test_one_row_per_source_in_a_group():
    # two OSM shops 8 m either side of one table shop: the nearer merges, the other stays
    table = _load_xy([X0], [Y0], "convenience_store", "table:t.csv")
    osm = _load_xy([X0 - 8.0, X0 + 6.0], [Y0, Y0], "convenience_store", "osm:o")
    merged = merge_facilities([table, osm], dedupe_m=30.0)
    assert sorted(merged.facilities["feature_id"]) == ["osm:o:0", "table:t.csv:0"]


def test_osm_doubles_need_another_kind_and_the_same_name_or_stop_area():
    n = 6
    x = X0 + np.array([0.0, 12.0, 20.0, 100.0, 112.0, 300.0])
    cat = np.array(["bus_stop"] * n)
    src = np.zeros(n, int)
    kinds = np.array(["n:pole", "w:platform", "n:pole", "n:pole", "n:platform", "n:pole"], dtype=object)
    names = np.array(["东门", "东门", "东门", "西门", "", "北门"], dtype=object)
    areas = np.array(["", "", "", "r9", "r9", ""], dtype=object)
    parent, double = near_duplicate_parents(
        cat, src, x, np.full(n, Y0), 30.0, name=names, osm_kind=kinds, stop_area=areas
    )
    # 1 is the platform of pole 0 (same name); 2 is another pole of the same name: distinct;
    # 4 is the platform of pole 3 by their stop_area; 5 is alone
    assert parent.tolist() == [-1, 0, -1, -1, 3, -1]
    assert double.tolist() == [False, True, False, False, True, False]
    # without kinds (not OSM), rows of one source never merge
    parent, _ = near_duplicate_parents(cat, src, x, np.full(n, Y0), 30.0, name=names)
    assert (parent == -1).all()


def test_merge_zero_distance_disables_and_categories_are_separate():
    a = _load_xy([X0, X0], [Y0, Y0], "park", "a")
    b = _load_xy([X0], [Y0], "park", "b")
    c = _load_xy([X0], [Y0], "bus_stop", "c")
    assert merge_facilities([a, b, c], dedupe_m=0).counts() == {"park": 3, "bus_stop": 1}
    assert merge_facilities([a, b, c], dedupe_m=30).counts() == {"park": 2, "bus_stop": 1}


# ---------------------------------------------------------------------------- reference


def _greedy_reference(category, source, x, y, dedupe_m):
    """The rule without OSM doubles, by brute force: per category, per source in order,
    all (row, kept earlier row) pairs within the distance, closest first, one to one."""
    n = len(category)
    parent = [-1] * n
    for cat in dict.fromkeys(category):
        anchors: list[int] = []
        for src in dict.fromkeys(source[i] for i in range(n) if category[i] == cat):
            rows = [i for i in range(n) if category[i] == cat and source[i] == src]
            pairs = sorted(
                (float(np.hypot(x[r] - x[a], y[r] - y[a])), r, a)
                for r in rows
                for a in anchors
                if np.hypot(x[r] - x[a], y[r] - y[a]) <= dedupe_m
            )
            used_a, used_r = set(), set()
            for _, r, a in pairs:  # ties: the earlier row, then the earlier kept row
                if a not in used_a and r not in used_r:
                    used_a.add(a)
                    used_r.add(r)
                    parent[r] = a
            anchors += [r for r in rows if r not in used_r]
    return parent


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(0, 200, allow_nan=False),
            st.floats(0, 200, allow_nan=False),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["park", "school"]),
        ),
        min_size=1,
        max_size=40,
    ),
    dedupe=st.floats(1, 80),
)
def test_matches_a_brute_force_greedy_reference(rows, dedupe):
    # priority order: sources a, b, c (rows sorted by source, stable)
    rows = sorted(rows, key=lambda r: r[2])
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    src = np.array([r[2] for r in rows])
    cat = np.array([r[3] for r in rows])
    parent, double = near_duplicate_parents(cat, src, x, y, dedupe)
    assert parent.tolist() == _greedy_reference(cat, src, x, y, dedupe)
    assert not double.any()
    merged = parent >= 0
    # every merged row is within the distance of a kept row of another source and category alike
    assert (parent[parent[merged]] == -1).all()  # no chains
    assert (src[merged] != src[parent[merged]]).all()
    assert (cat[merged] == cat[parent[merged]]).all()
    assert (np.hypot(x[merged] - x[parent[merged]], y[merged] - y[parent[merged]]) <= dedupe + 1e-9).all()
    # a group holds at most one row per source
    groups = pd.DataFrame({"p": parent[merged], "s": src[merged]})
    assert not groups.duplicated().any()


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), max_size=30),
    b=st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), max_size=30),
    within=st.floats(0.5, 50),
)
@example(a=[(0.0, 0.0)], b=[(30.0, 0.0), (0.0, 30.0)], within=30.0)  # "within" includes the distance
def test_one_to_one_matching_equals_greedy_by_distance(a, b, within):
    a_xy = np.array(a, float).reshape(-1, 2)
    b_xy = np.array(b, float).reshape(-1, 2)
    pa, pb = match_one_to_one(a_xy, b_xy, within)
    pairs = sorted(
        (float(np.hypot(*(a_xy[i] - b_xy[j]))), i, j)
        for i in range(len(a_xy))
        for j in range(len(b_xy))
        if np.hypot(*(a_xy[i] - b_xy[j])) <= within
    )
    used_a, used_b, expected = set(), set(), set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            expected.add((i, j))
    assert set(zip(pa.tolist(), pb.tolist(), strict=True)) == expected


# ---------------------------------------------------------------------------- real extracts


def _bus_stop_doubles_from_xml(path, dedupe_m):
    """Count pole/platform doubles of bus stops independently: an element tagged as a
    platform and a ``highway=bus_stop`` pole of another kind, same name or stop_area, near."""
    with open_xml(path) as fh:
        root = ET.parse(fh).getroot()
    nodes = {el.get("id"): (float(el.get("lon")), float(el.get("lat"))) for el in root if el.tag == "node"}
    stop_area = {}
    for el in root:
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        if el.tag == "relation" and tags.get("public_transport") == "stop_area":
            for m in el.findall("member"):
                stop_area.setdefault(m.get("type")[0] + m.get("ref"), el.get("id"))
    poles, platforms = [], []
    for el in root:
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        platform = tags.get("public_transport") == "platform" and tags.get("bus") == "yes"
        pole = tags.get("highway") == "bus_stop" and tags.get("public_transport") != "platform"
        if el.tag == "node" and (platform or pole):
            lon, lat = nodes[el.get("id")]
        elif el.tag == "way" and platform:
            pts = [nodes[nd.get("ref")] for nd in el.findall("nd") if nd.get("ref") in nodes]
            lon, lat = np.mean(pts, axis=0)
        else:
            continue
        item = (el.tag[0] + el.get("id"), tags.get("name", ""), lon, lat)
        (platforms if platform else poles).append(item)
    doubles = 0
    for pid, pname, plon, plat in platforms:
        for sid, sname, slon, slat in poles:
            same = (pname and pname == sname) or (
                stop_area.get(pid) and stop_area.get(pid) == stop_area.get(sid)
            )
            if same and GEOD.inv(plon, plat, slon, slat)[2] <= dedupe_m:
                doubles += 1
                break
    return doubles


@pytest.mark.parametrize(("fixture", "poles"), [("tsinghua_osm", 68), ("cau_osm", 24)])
def test_bus_stop_poles_of_the_fixtures_stay(request, fixture, poles):
    # fixture README: 68 and 24 nodes tagged highway=bus_stop; only true node+platform doubles merge
    path = request.getfixturevalue(fixture)
    load = collect_facilities(GB, osm_path=path, dedupe_m=30.0)
    doubles = _bus_stop_doubles_from_xml(path, 30.0)
    osm_report, merged = load.reports[0], load.reports[-1]
    assert osm_report.by_category["bus_stop"] == poles
    assert load.counts()["bus_stop"] == poles - doubles
    assert osm_report.doubles.get("bus_stop", 0) == doubles
    assert merged.duplicates_removed.get("bus_stop", 0) == doubles
    # the accounting closes for every category
    after = osm_report.kept_after_merge()
    assert {k: v for k, v in after.items() if v} == load.counts()
    assert osm_report.rows_read == osm_report.rows_used + sum(osm_report.dropped.values())


def test_helsinki_doubles_follow_the_rule(helsinki_pbf):
    load = facilities_from_osm_file(helsinki_pbf, GB)
    fac = load.facilities
    from walkcircle.sources.loads import metres_utm

    x, y = metres_utm(fac["lon"].to_numpy(), fac["lat"].to_numpy())
    parent, double = near_duplicate_parents(
        fac["category"].to_numpy(),
        np.zeros(len(fac), int),
        x,
        y,
        30.0,
        name=fac["name"].to_numpy(),
        osm_kind=fac["osm_kind"].to_numpy(),
        stop_area=fac["stop_area"].to_numpy(),
    )
    assert (double == (parent >= 0)).all()
    for j in np.flatnonzero(double):
        i = parent[j]
        a, b = fac.iloc[i], fac.iloc[j]
        assert a["osm_kind"] != b["osm_kind"]
        assert (a["name"] and a["name"] == b["name"]) or (a["stop_area"] and a["stop_area"] == b["stop_area"])
        assert GEOD.inv(a["lon"], a["lat"], b["lon"], b["lat"])[2] <= 30.0 * 1.001
    merged = merge_facilities([load], dedupe_m=30.0)
    assert len(merged.facilities) == len(fac) - int(double.sum())
    assert "osm_kind" not in merged.facilities.columns


# ---------------------------------------------------------------------------- large


@pytest.mark.slow
def test_a_million_row_table_keeps_its_rows_and_merges_fast(tmp_path):
    from scipy.spatial import cKDTree

    from walkcircle.sources.tables import read_facility_table

    rng = np.random.default_rng(12)
    side_m = 20_000.0  # 1M points in 20 x 20 km: about one per 20 m

    def table(n, name):
        x = X0 + rng.uniform(0, side_m, n)
        y = Y0 + rng.uniform(0, side_m, n)
        lon, lat = to_lonlat(x, y, EPSG)
        cats = np.array(["convenience_store", "kindergarten", "bus_stop", "park"])[rng.integers(0, 4, n)]
        path = tmp_path / name
        pd.DataFrame({"lon": lon.round(7), "lat": lat.round(7), "category": cats}).to_csv(path, index=False)
        return path, cats

    big, big_cats = table(1_000_000, "big.csv")
    small, small_cats = table(5_000, "city.csv")
    start = time.perf_counter()
    loads = [read_facility_table(p, HEBI, "wgs84") for p in (big, small)]
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    merged = merge_facilities(loads, dedupe_m=30.0)
    merge_s = time.perf_counter() - start
    print(f"1,000,000 + 5,000 table rows: read {read_s:.1f} s, merge {merge_s:.1f} s")
    fac = merged.facilities
    # every row of the big table stays (issue 12: the old merge left one per category)
    big_kept = fac[fac["source"] == "table:big.csv"]["category"].value_counts()
    assert big_kept.to_dict() == pd.Series(big_cats).value_counts().to_dict()
    # each row of the second table is kept or merged into a big-table row of its category within 30 m
    frame = [ld.facilities for ld in loads]
    bx, by = to_projected_utm(frame[0])
    sx, sy = to_projected_utm(frame[1])
    near = 0
    for cid in np.unique(small_cats):
        in_big = (frame[0]["category"] == cid).to_numpy()
        in_small = (frame[1]["category"] == cid).to_numpy()
        d, _ = cKDTree(np.column_stack([bx[in_big], by[in_big]])).query(
            np.column_stack([sx[in_small], sy[in_small]])
        )
        near += int((d <= 30.0).sum())
    gone = sum(merged.reports[-1].duplicates_removed.values())
    assert gone == sum(merged.reports[-1].merged_by_source.get("table:city.csv", {}).values())
    assert 0.9 * near <= gone <= near  # one to one: a few lose their big-table row to a nearer row
    assert len(fac) == 1_005_000 - gone
    assert loads[0].reports[0].kept_after_merge() == big_kept.to_dict()


def to_projected_utm(frame):
    from walkcircle.geodesy import to_projected

    return to_projected(frame["lon"].to_numpy(), frame["lat"].to_numpy(), EPSG)


# ---------------------------------------------------------------------------- accounting


def test_every_table_row_is_accounted_for(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame(
        {
            "lon": ["114.30", "", "114.31", "116.4", "114.32", "114.33"],
            "lat": ["35.75", "35.7", "35.76", "39.9", "35.75", "35.75"],
            "category": ["park", "park", "park", "park", "火星", "park|bus_stop"],
        }
    ).to_csv(path, index=False)
    with pytest.warns(WalkcircleWarning, match="rows"):
        load = collect_facilities(
            HEBI, tables=[TableSpec(path, "wgs84")], area=(114.2, 35.7, 114.4, 35.8), dedupe_m=30.0
        )
    r = load.reports[0]
    assert r.dropped == {"invalid_coordinates": 1, "outside_area": 1, "unclassified": 1}
    assert r.rows_used == 3 and r.rows_read == 6
    assert r.by_category == {"park": 3, "bus_stop": 1}
    d = r.as_dict()
    assert d["rows_used"] == 3 and d["kept_after_merge"] == {"park": 3, "bus_stop": 1}
    line = r.describe()
    assert "6 rows read, 3 dropped" in line and "3 used -> 4 facilities" in line
    assert "merged" in load.reports[-1].describe()


# ---------------------------------------------------------------------------- adding rows (hypothesis)

_CATS = ["park", "primary_school"]
_THRESHOLDS = {"park": 250.0, "primary_school": 400.0}
_rows = st.lists(
    # on a 12.5 m lattice, so that rows often fall within the merge distance of each other
    st.tuples(
        st.integers(0, 32).map(lambda k: 12.5 * k),
        st.integers(-2, 2).map(lambda k: 10.0 * k),
        st.sampled_from(_CATS),
    ),
    max_size=12,
)


def _table_load(rows, source):
    along = np.array([r[0] for r in rows], float)
    north = np.array([r[1] for r in rows], float)
    lon, lat = to_lonlat(X0 + along, Y0 + north, EPSG)
    ids = [f"{source}:{i}" for i in range(len(rows))]
    frame = _facility_frame(ids, [r[2] for r in rows], [""] * len(rows), lon, lat, source)
    return FacilityLoad(frame, [LoadReport(source=source, rows_read=len(rows), kept=len(rows))])


def _access(network, homes, rows_a, rows_b):
    from walkcircle.access import compute_access

    merged = merge_facilities([_table_load(rows_a, "table:a.csv"), _table_load(rows_b, "table:b.csv")], 30.0)
    result = compute_access(network, homes, merged.facilities, categories=_CATS, thresholds_m=_THRESHOLDS)
    covered = result.nearest_m <= result.threshold_m[None, :]
    return covered.mean(axis=0), result.count_within_threshold, result.tier_counts, merged


def _far_from(rows, others, dedupe_m=30.0):
    """Rows farther than the merge distance from every row of another source (same category)."""
    return [
        r
        for r in rows
        if all(o[2] != r[2] or np.hypot(o[0] - r[0], o[1] - r[1]) > dedupe_m * 1.01 for o in others)
    ]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:no facility on the network:walkcircle.errors.WalkcircleWarning")
@settings(max_examples=40, deadline=None)
@given(rows_a=_rows, rows_b=_rows, added=_rows, into_a=st.booleans())
@example(
    rows_a=[(100.0, 0.0, "park"), (150.0, 0.0, "park")], rows_b=[], added=[(125.0, 0.0, "park")], into_a=True
)
def test_adding_rows_to_a_table_never_lowers_any_coverage_or_count(rows_a, rows_b, added, into_a):
    """Issue 12: adding rows never lowers coverage or a count (the chained merge broke this).

    The added rows may lie anywhere near rows of their own table (those never merge). Rows
    that are the same place as a row of the other table (within the merge distance) are left
    out: such a row is by definition that place, and the group takes the first source's
    position, which moves it by up to the merge distance (see the next test).
    """
    from worlds import line_network, points_at

    network = line_network(12, 100.0)
    homes = points_at(np.arange(0, 1101, 50.0), 20.0)
    added = _far_from(added, rows_b if into_a else rows_a)
    before = _access(network, homes, rows_a, rows_b)
    after = (
        _access(network, homes, rows_a + added, rows_b)
        if into_a
        else _access(network, homes, rows_a, rows_b + added)
    )
    assert (after[0] >= before[0] - 1e-12).all()
    assert (after[1] >= before[1]).all()
    assert (after[2] >= before[2]).all()
    assert len(after[3].facilities) == len(before[3].facilities) + len(added)


def test_a_duplicate_added_to_the_first_table_takes_the_place_of_the_later_row():
    # the documented exception: one place, the first source's position wins (moved 20 m here)
    first = _table_load([(500.0, 0.0, "park")], "table:a.csv")
    later = _table_load([(520.0, 0.0, "park")], "table:b.csv")
    merged = merge_facilities([first, later], 30.0)
    assert merged.facilities["feature_id"].tolist() == ["table:a.csv:0"]
    assert merged.reports[-1].merged_by_source == {"table:b.csv": {"park": 1}}


def test_accounting_for_summary_console_and_report(tmp_path, cau_osm):
    import json

    from walkcircle.sources.loads import accounting_table, source_accounting

    x = X0 + 25.0 * np.arange(5)
    lon, lat = to_lonlat(x, np.full(5, Y0), EPSG)
    path = tmp_path / "stops.csv"
    pd.DataFrame({"lon": lon, "lat": lat, "category": "bus_stop"}).to_csv(path, index=False)
    load = collect_facilities(GB, osm_path=cau_osm, tables=[TableSpec(path, "wgs84")], dedupe_m=30.0)
    data = source_accounting(load.reports)
    json.dumps(data, allow_nan=False)
    names = [s["source"] for s in data["sources"]]
    assert names == ["table:stops.csv", "osm:cau_map.osm.bz2"]
    total_kept = sum(sum(s["kept_after_merge"].values()) for s in data["sources"])
    assert total_kept == data["merged"]["kept"] == len(load.facilities)
    for s in data["sources"]:
        assert s["rows_read"] == s["rows_used"] + sum(s["dropped"].values())
    table = accounting_table(load.reports)
    per_cat = table[~table["category"].str.startswith("(")].groupby("category")["kept"].sum()
    assert per_cat[per_cat > 0].to_dict() == load.counts()
    assert (table["facility_rows"] >= table["merged"] + table["doubles"]).all()


def test_an_osm_stop_mapped_twice_joins_a_table_row_as_one_feature():
    # table stop at 0 m; OSM pole at 10 m and its platform way at 18 m (same name)
    x = X0 + np.array([0.0, 10.0, 18.0])
    cat = np.array(["bus_stop"] * 3)
    src = np.array(["table", "osm", "osm"])
    kinds = np.array(["", "n:pole", "w:platform"], dtype=object)
    names = np.array(["东门", "东门", "东门"], dtype=object)
    parent, double = near_duplicate_parents(cat, src, x, np.full(3, Y0), 30.0, name=names, osm_kind=kinds)
    assert parent.tolist() == [-1, 0, 0]
    assert double.tolist() == [False, False, True]
    # through merge_facilities, with the counts on each report
    table = _load_xy([X0], [Y0], "bus_stop", "table:t.csv", names=["东门"])
    osm = _load_xy([X0 + 10.0, X0 + 18.0], [Y0, Y0], "bus_stop", "osm:x.osm", names=["东门", "东门"])
    osm.facilities["osm_kind"] = ["n:pole", "w:platform"]
    merged = merge_facilities([table, osm], 30.0)
    assert merged.counts() == {"bus_stop": 1}
    assert osm.reports[0].merged == {"bus_stop": 1} and osm.reports[0].doubles == {"bus_stop": 1}
    assert osm.reports[0].kept_after_merge() == {"bus_stop": 0}
