"""A study area cut from a bigger extract equals the whole file read and kept to the area."""

from __future__ import annotations

import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import Polygon, box

from walkcircle.errors import InputError
from walkcircle.profile import load_profile
from walkcircle.sources.extract import cut_extract, grow_area
from walkcircle.sources.osm import read_network
from walkcircle.sources.osm_features import read_osm_features

INNER = box(24.941, 60.168, 24.947, 60.174)  # the middle of the Helsinki fixture
MARGIN_M = 300.0


def ways_of(path) -> dict[int, tuple[list[int], dict]]:
    out = {}
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        out[way.id] = ([n.ref for n in way.nodes], dict(way.tags))
    return out


def node_locations(path) -> dict[int, tuple[float, float, dict]]:
    return {
        n.id: (n.location.lon, n.location.lat, dict(n.tags))
        for n in osmium.FileProcessor(str(path), osmium.osm.NODE)
        if n.location.valid()
    }


@pytest.fixture(scope="module")
def helsinki_cut(helsinki_pbf, tmp_path_factory):
    out = tmp_path_factory.mktemp("cuts")
    return cut_extract(helsinki_pbf, bbox=INNER.bounds, margin_m=MARGIN_M, out_dir=out)


def graph(net):
    n = net.node_id.size
    m = coo_matrix((net.edge_length_m, (net.edge_u, net.edge_v)), shape=(n, n)).tocsr()
    return m + m.T


def test_ways_touching_the_area_are_kept_whole(helsinki_pbf, helsinki_cut):
    full_ways = ways_of(helsinki_pbf)
    full_nodes = node_locations(helsinki_pbf)
    cut_ways = ways_of(helsinki_cut.path)
    cut_nodes = node_locations(helsinki_cut.path)
    grown = helsinki_cut.grown
    # brute force: every tagged way with a located node inside the grown area
    expected = set()
    for way_id, (refs, tags) in full_ways.items():
        points = [full_nodes[r][:2] for r in refs if r in full_nodes]
        if tags and any(grown.intersects(shapely.Point(p)) for p in points):
            expected.add(way_id)
    assert expected <= set(cut_ways)
    crossing = 0
    for way_id, (refs, tags) in cut_ways.items():
        assert refs == full_ways[way_id][0]  # whole: every node, in order
        assert tags == full_ways[way_id][1]
        located = [r for r in refs if r in full_nodes]
        assert all(r in cut_nodes for r in located)
        outside = [r for r in located if not grown.contains(shapely.Point(full_nodes[r][:2]))]
        crossing += bool(outside)
    assert crossing > 0  # some kept ways run past the margin, and are still whole
    for node_id, (lon, lat, tags) in full_nodes.items():
        if tags and grown.contains(shapely.Point(lon, lat)):
            assert node_id in cut_nodes and cut_nodes[node_id][2] == tags
    assert helsinki_cut.ways == len(cut_ways)
    assert helsinki_cut.nodes == len(cut_nodes)
    assert helsinki_cut.ways < len(full_ways)


def test_network_inside_the_area_is_the_same(helsinki_net, helsinki_cut):
    cut = read_network(helsinki_cut.path)
    assert cut.node_id.size < helsinki_net.node_id.size

    def inner_edges(net):
        inside = shapely.contains_xy(INNER, net.lon, net.lat)
        keep = inside[net.edge_u] & inside[net.edge_v] & (net.edge_length_m < MARGIN_M)
        ids = net.node_id
        return {
            (min(ids[u], ids[v]), max(ids[u], ids[v]), int(w), round(float(length), 6))
            for u, v, w, length in zip(
                net.edge_u[keep],
                net.edge_v[keep],
                net.edge_way_id[keep],
                net.edge_length_m[keep],
                strict=True,
            )
        }

    full_edges = inner_edges(helsinki_net)
    assert len(full_edges) > 50
    assert inner_edges(cut) == full_edges


def test_walks_from_inside_are_the_same(helsinki_net, helsinki_cut):
    cut = read_network(helsinki_cut.path)
    limit_m = 0.9 * MARGIN_M  # a walk this long from inside stays within the margin
    inside = np.flatnonzero(shapely.contains_xy(INNER, helsinki_net.lon, helsinki_net.lat))
    rng = np.random.default_rng(0)
    sources = rng.choice(inside, size=min(40, inside.size), replace=False)
    cut_index = {int(n): i for i, n in enumerate(cut.node_id)}
    cut_sources = [cut_index[int(helsinki_net.node_id[s])] for s in sources]
    full_d = dijkstra(graph(helsinki_net), indices=sources, limit=limit_m)
    cut_d = dijkstra(graph(cut), indices=cut_sources, limit=limit_m)
    reached = 0
    for k in range(len(sources)):
        full_reach = {
            int(helsinki_net.node_id[j]): full_d[k, j] for j in np.flatnonzero(np.isfinite(full_d[k]))
        }
        cut_reach = {int(cut.node_id[j]): cut_d[k, j] for j in np.flatnonzero(np.isfinite(cut_d[k]))}
        assert full_reach.keys() == cut_reach.keys()
        for node, d in full_reach.items():
            assert cut_reach[node] == pytest.approx(d, abs=1e-6)
        reached += len(full_reach)
    assert reached > 40 * 5


def test_facilities_inside_the_area_are_the_same(helsinki_pbf, helsinki_cut):
    tags = load_profile("gb50180-2018").overpass_tags()
    full = read_osm_features(helsinki_pbf, tags)
    cut = read_osm_features(helsinki_cut.path, tags)

    def inner(features):
        return {
            fid: geometry.wkb
            for fid, lon, lat, geometry in zip(
                features.feature_id, features.lon, features.lat, features.geometry, strict=True
            )
            if INNER.contains(shapely.Point(lon, lat))
        }

    expected = inner(full)
    assert len(expected) > 5
    assert inner(cut) == expected


def test_polygon_area_and_xml_input(tsinghua_osm, tmp_path):
    full_nodes = node_locations(tsinghua_osm)
    lon = np.array([v[0] for v in full_nodes.values()])
    lat = np.array([v[1] for v in full_nodes.values()])
    w, s, e, n = (
        np.percentile(lon, 30),
        np.percentile(lat, 30),
        np.percentile(lon, 70),
        np.percentile(lat, 70),
    )
    triangle = Polygon([(w, s), (e, s), ((w + e) / 2, n)])
    cut = cut_extract(tsinghua_osm, polygon=triangle, margin_m=100.0, out_dir=tmp_path)
    grown = grow_area(triangle, 100.0)
    assert grown.contains(triangle) and not grown.equals(triangle)
    full_ways = ways_of(tsinghua_osm)
    cut_ways = ways_of(cut.path)
    for way_id, (refs, tags) in full_ways.items():
        touches = any(r in full_nodes and grown.intersects(shapely.Point(full_nodes[r][:2])) for r in refs)
        if tags and touches:
            assert way_id in cut_ways
        if way_id in cut_ways:
            assert cut_ways[way_id][0] == refs
    again = cut_extract(tsinghua_osm, polygon=triangle, margin_m=100.0, out_dir=tmp_path)
    assert again.cached and again.path == cut.path
    assert read_network(cut.path).node_id.size > 10


def test_enclosing_closed_way_is_kept(tmp_path):
    path = tmp_path / "ring.osm"
    # a landuse ring of 2 km around a tiny area, and a street inside it
    path.write_text(
        """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="1" lat="35.70" lon="114.20"/><node id="2" lat="35.70" lon="114.24"/>
 <node id="3" lat="35.74" lon="114.24"/><node id="4" lat="35.74" lon="114.20"/>
 <node id="5" lat="35.719" lon="114.219"/><node id="6" lat="35.721" lon="114.221"/>
 <node id="7" lat="35.80" lon="114.30"/><node id="8" lat="35.81" lon="114.31"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/><tag k="landuse" v="residential"/></way>
 <way id="11"><nd ref="5"/><nd ref="6"/><tag k="highway" v="residential"/></way>
 <way id="12"><nd ref="7"/><nd ref="8"/><tag k="highway" v="residential"/></way>
</osm>
"""
    )
    cut = cut_extract(path, bbox=(114.2195, 35.7195, 114.2205, 35.7205), margin_m=100.0, out_dir=tmp_path)
    assert set(ways_of(cut.path)) == {10, 11}
    assert cut.ways == 2 and cut.nodes == 6


def test_area_outside_the_file_is_refused(helsinki_pbf, tmp_path):
    with pytest.raises(InputError, match="nothing of the file lies within"):
        cut_extract(helsinki_pbf, bbox=(114.2, 35.7, 114.3, 35.8), out_dir=tmp_path)
    with pytest.raises(InputError, match="exactly one"):
        cut_extract(helsinki_pbf, out_dir=tmp_path)
    with pytest.raises(InputError, match="not found"):
        cut_extract(tmp_path / "missing.osm.pbf", bbox=(0, 0, 1, 1), out_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:no facility on the network")
def test_homes_inside_keep_their_walks(helsinki_pbf, helsinki_net, helsinki_cut):
    from walkcircle.access import compute_access
    from walkcircle.sources.homes import homes_from_osm
    from walkcircle.sources.osm_features import facilities_from_osm_file

    profile = load_profile("gb50180-2018")

    # homes: the OSM residential buildings inside the area, and a grid of points over it
    w, s_, e, n = INNER.bounds
    gx, gy = np.meshgrid(np.linspace(w, e, 12), np.linspace(s_, n, 12))

    def study(path, net):
        homes = homes_from_osm(path).homes
        inside = shapely.contains_xy(INNER, homes["lon"].to_numpy(), homes["lat"].to_numpy())
        lon = np.concatenate([np.sort(homes["lon"].to_numpy()[inside]), gx.ravel()])
        lat = np.concatenate(
            [homes["lat"].to_numpy()[inside][np.argsort(homes["lon"].to_numpy()[inside])], gy.ravel()]
        )
        points = pd.DataFrame({"lon": lon, "lat": lat})
        facilities = facilities_from_osm_file(path, profile).facilities
        return points, compute_access(net, points, facilities, categories=profile.category_ids)

    full_homes, full = study(helsinki_pbf, helsinki_net)
    cut_homes, cut = study(helsinki_cut.path, read_network(helsinki_cut.path))
    assert len(full_homes) > 100
    np.testing.assert_array_equal(full_homes.to_numpy(), cut_homes.to_numpy())
    # a walk shorter than the margin (less the walk to the street) cannot leave the cut
    limit_m = 0.8 * MARGIN_M
    near_full = full.nearest_m <= limit_m
    near_cut = cut.nearest_m <= limit_m
    assert near_full.sum() > 20
    np.testing.assert_array_equal(near_full, near_cut)
    np.testing.assert_allclose(cut.nearest_m[near_full], full.nearest_m[near_full], atol=1e-6)


def test_location_index_on_disk_gives_the_same_cut(helsinki_pbf, helsinki_cut, tmp_path):
    on_disk = cut_extract(
        helsinki_pbf,
        bbox=INNER.bounds,
        margin_m=MARGIN_M,
        out_dir=tmp_path,
        location_store=f"sparse_file_array,{tmp_path / 'locations.idx'}",
    )
    assert not on_disk.cached
    assert ways_of(on_disk.path) == ways_of(helsinki_cut.path)
    assert node_locations(on_disk.path) == node_locations(helsinki_cut.path)


def test_only_area_relations_are_kept(helsinki_pbf, helsinki_cut):
    full = {r.id: dict(r.tags) for r in osmium.FileProcessor(str(helsinki_pbf), osmium.osm.RELATION)}
    cut = {r.id: dict(r.tags) for r in osmium.FileProcessor(str(helsinki_cut.path), osmium.osm.RELATION)}
    assert any(t.get("type") != "multipolygon" for t in full.values())  # routes etc. exist in the file
    assert cut, "some multipolygons touch the area"
    assert all(t.get("type") == "multipolygon" for t in cut.values())
    assert helsinki_cut.relations == len(cut)


def test_unsorted_file_keeps_its_ways(tmp_path):
    path = tmp_path / "unsorted.osm"
    # a relation before the ways (as some editors save): the ways must still be cut
    path.write_text(
        """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="1" lat="35.7200" lon="114.2200"/><node id="2" lat="35.7210" lon="114.2210"/>
 <node id="3" lat="35.9000" lon="114.5000"/><node id="4" lat="35.9010" lon="114.5010"/>
 <relation id="20"><member type="way" ref="12" role=""/><tag k="type" v="route"/></relation>
 <way id="11"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
 <way id="12"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
</osm>
"""
    )
    cut = cut_extract(path, bbox=(114.2195, 35.7195, 114.2215, 35.7215), margin_m=50.0, out_dir=tmp_path)
    assert set(ways_of(cut.path)) == {11}
    assert cut.relations == 0
