"""OSM readers on damaged or unusual input: ``;`` lists, cut multipolygons, bad coordinates,
missing nodes (issue 12). Small hand-written files; expectations computed independently."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest
import shapely

from osm_helpers import convert_with_osmium, write_osm_xml
from walkcircle.errors import EmptyNetworkError, InputError, WalkcircleWarning
from walkcircle.profile import load_profile
from walkcircle.sources.osm import read_graphml, read_osm
from walkcircle.sources.osm_features import facilities_from_osm_file, read_osm_features, tag_matcher

PROFILES = ["gb50180-2018", "hebi-2021", "mofcom-2021"]


def _osm(path, body: str):
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n{body}\n</osm>\n'
    )
    return path


def _node(nid, lon, lat, **tags):
    inner = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
    return f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}">{inner}</node>'


def _way(wid, refs, **tags):
    inner = "".join(f'<nd ref="{r}"/>' for r in refs) + "".join(
        f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()
    )
    return f'<way id="{wid}" version="1">{inner}</way>'


# ---------------------------------------------------------------------------- ; lists

SEMICOLON_TAGS = [
    {"shop": "convenience;bakery", "name": "A"},
    {"amenity": "school;kindergarten", "name": "实验小学"},
    {"shop": "greengrocer; butcher", "name": "C"},
    {"amenity": "clinic;pharmacy", "name": "D"},
    {"leisure": "park;garden", "name": "E"},
]


@pytest.mark.parametrize("profile_id", PROFILES)
def test_semicolon_lists_are_found_by_every_profile(tmp_path, profile_id):
    profile = load_profile(profile_id)
    nodes = [_node(i + 1, 114.30 + 0.001 * i, 35.75, **tags) for i, tags in enumerate(SEMICOLON_TAGS)]
    path = _osm(tmp_path / "lists.osm", "\n".join(nodes))
    fac = facilities_from_osm_file(path, profile).facilities
    for i, tags in enumerate(SEMICOLON_TAGS):
        # expected: what the profile finds for each single value, taken together
        key = next(k for k in tags if k != "name")
        expected = set()
        for value in tags[key].split(";"):
            expected |= set(profile.classify_tags({key: value.strip(), "name": tags["name"]}))
        got = set(fac.loc[fac["feature_id"] == f"osm:n{i + 1}", "category"])
        assert got == expected, (profile_id, tags)
    assert len(fac) > 0


def test_tag_matcher_reads_lists_and_ignores_no():
    match = tag_matcher({"shop": ["convenience"], "healthcare": True})
    assert match({"shop": "bakery;convenience"})
    assert not match({"shop": "bakery"})
    assert match({"healthcare": "clinic"})
    assert not match({"healthcare": "no"})


# ---------------------------------------------------------------------------- cut multipolygons


def _cut_park(tmp_path):
    # a park relation of 10 outer ways; the extract holds 3 of them (nodes 1..4)
    nodes = [
        _node(1, 114.3000, 35.7500),
        _node(2, 114.3010, 35.7500),
        _node(3, 114.3010, 35.7510),
        _node(4, 114.3020, 35.7510),
    ]
    ways = [_way(100, [1, 2]), _way(101, [2, 3]), _way(102, [3, 4])]
    members = "".join(f'<member type="way" ref="{w}" role="outer"/>' for w in range(100, 110))
    rel = (
        f'<relation id="500" version="1">{members}<tag k="type" v="multipolygon"/>'
        '<tag k="leisure" v="park"/><tag k="name" v="半个公园"/></relation>'
    )
    gone = "".join(f'<member type="way" ref="{w}" role="outer"/>' for w in range(200, 203))
    rel_gone = (
        f'<relation id="501" version="1">{gone}<tag k="type" v="multipolygon"/>'
        '<tag k="leisure" v="park"/><tag k="name" v="看不见的公园"/></relation>'
    )
    return _osm(tmp_path / "cut.osm", "\n".join([*nodes, *ways, rel, rel_gone]))


def test_a_multipolygon_cut_by_the_extract_is_placed_on_its_members_and_counted(tmp_path):
    path = _cut_park(tmp_path)
    hebi = load_profile("hebi-2021")
    with pytest.warns(WalkcircleWarning) as caught:
        load = facilities_from_osm_file(path, hebi)
    messages = [str(w.message) for w in caught]
    fac = load.facilities
    row = fac[fac["feature_id"] == "osm:r500"]
    assert list(row["category"]) == ["park"]
    members = shapely.MultiLineString([[(114.3, 35.75), (114.301, 35.75)], [(114.301, 35.75), (114.301, 35.751)],
                                       [(114.301, 35.751), (114.302, 35.751)]])  # fmt: skip
    assert members.distance(shapely.Point(row["lon"].iloc[0], row["lat"].iloc[0])) < 1e-9
    report = load.reports[0]
    assert report.recovered == 1
    # the relation with no member in the extract is counted as dropped, against its category
    assert "osm:r501" not in set(fac["feature_id"])
    assert report.dropped["incomplete_geometry"] == 1
    assert report.rows_read == 2 and report.rows_used == 1
    assert any("incomplete geometry" in m and "placed" in m for m in messages)
    assert any("left out (park 1)" in m for m in messages)


def test_pbf_gives_the_same_recovery(tmp_path):
    xml = _cut_park(tmp_path)
    pbf = convert_with_osmium(xml, tmp_path / "cut.osm.pbf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        a = facilities_from_osm_file(xml, load_profile("hebi-2021"))
        b = facilities_from_osm_file(pbf, load_profile("hebi-2021"))
    assert a.facilities["feature_id"].tolist() == b.facilities["feature_id"].tolist()
    np.testing.assert_allclose(a.facilities["lon"], b.facilities["lon"], atol=1e-7)


# ---------------------------------------------------------------------------- coordinates out of range


def _street(tmp_path, bad_lon=114.302, bad_lat=35.75, name="bad.osm"):
    nodes = {
        1: (114.300, 35.75, {}),
        2: (114.301, 35.75, {}),
        3: (bad_lon, bad_lat, {}),
        4: (114.303, 35.75, {}),
    }
    ways = [(10, [1, 2, 3, 4], {"highway": "residential"})]
    return write_osm_xml(tmp_path / name, nodes, ways)


@pytest.mark.parametrize(
    ("lon", "lat", "what"),
    [(114.302, 95.0, "latitude 95 outside -90..90"), (200.0, 35.75, "longitude 200 outside")],
)
def test_coordinates_out_of_range_are_refused_naming_the_node(tmp_path, lon, lat, what):
    path = _street(tmp_path, lon, lat)
    with pytest.raises(InputError) as err:
        read_osm(path)
    message = str(err.value)
    assert str(path) in message and f"node 3 has {what}" in message and "not WGS-84" in message
    assert "\n" not in message


def test_coordinates_out_of_range_in_pbf(tmp_path):
    xml = _street(tmp_path, 114.302, 95.0)
    pbf = convert_with_osmium(xml, tmp_path / "bad.osm.pbf")
    with pytest.raises(InputError, match="node 3 has latitude 95"):
        read_osm(pbf)


def test_a_facility_node_out_of_range_is_refused(tmp_path):
    path = _osm(tmp_path / "f.osm", _node(7, 114.3, -91.5, amenity="school", name="小学"))
    with pytest.raises(InputError, match=r"node 7 has latitude -91.5 outside -90\.\.90"):
        read_osm_features(path, load_profile("hebi-2021").overpass_tags())


def test_graphml_out_of_range_is_refused(tmp_path):
    import osmnx as ox

    graph = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_node(1, x=114.30, y=35.75)
    graph.add_node(2, x=200.0, y=35.75)
    graph.add_edge(1, 2, osmid=10, highway="residential", length=10.0)
    graph.add_edge(2, 1, osmid=10, highway="residential", length=10.0)
    path = tmp_path / "g.graphml"
    ox.save_graphml(graph, path)
    with pytest.raises(InputError, match="node 2 has longitude 200 outside -180..180"):
        read_graphml(path)


# ---------------------------------------------------------------------------- missing nodes


def test_ways_with_missing_nodes_warn_with_counts(tmp_path):
    nodes = {i: (114.300 + 0.001 * i, 35.75, {}) for i in range(1, 5)}
    # way 10 complete; way 11 misses 2 of its nodes (98, 99); way 12 misses node 97
    ways = [
        (10, [1, 2, 3], {"highway": "residential"}),
        (11, [3, 4, 98, 99], {"highway": "footway"}),
        (12, [97, 4], {"highway": "service"}),
    ]
    path = write_osm_xml(tmp_path / "part.osm", nodes, ways)
    with pytest.warns(WalkcircleWarning) as caught:
        net = read_osm(path)
    messages = [str(w.message) for w in caught]
    assert any("2 of 3 walkable ways miss nodes" in m and "3 nodes missing" in m for m in messages)
    assert net.edge_u.size > 0


def test_all_nodes_missing_says_so(tmp_path):
    nodes = {1: (114.3, 35.75, {})}
    ways = [(10, [91, 92, 93], {"highway": "residential"}), (11, [94, 95], {"highway": "footway"})]
    path = write_osm_xml(tmp_path / "empty.osm", nodes, ways)
    with pytest.raises(EmptyNetworkError) as err:
        read_osm(path)
    message = str(err.value)
    assert "nodes of all 2 walkable ways are missing from the extract" in message
    assert "pedestrians" not in message


def test_complete_extract_does_not_warn(tmp_path):
    path = _street(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WalkcircleWarning)
        read_osm(path)


def test_graphml_edge_geometry_out_of_range_is_refused(tmp_path):
    import osmnx as ox

    graph = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_node(1, x=114.30, y=35.75)
    graph.add_node(2, x=114.31, y=35.75)
    bent = shapely.LineString([(114.30, 35.75), (114.305, 97.0), (114.31, 35.75)])
    graph.add_edge(1, 2, osmid=10, highway="residential", length=10.0, geometry=bent)
    path = tmp_path / "g.graphml"
    ox.save_graphml(graph, path)
    with pytest.raises(InputError, match="a vertex of way 10 has latitude 97 outside"):
        read_graphml(path)
