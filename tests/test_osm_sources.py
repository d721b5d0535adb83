"""Reading walking networks from OSM XML, PBF, GraphML and Overpass (local test server)."""

from __future__ import annotations

import bz2
import gzip
import shutil
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import Geod

from osm_helpers import convert_with_osmium, overpass_json, parse_osm_xml, write_osm_xml
from overpass_server import FakeOSMServer
from walkcircle.errors import DownloadError, EmptyNetworkError, InputError
from walkcircle.network import WalkNetwork
from walkcircle.sources.osm import (
    OverpassConfig,
    WalkRules,
    download_network,
    read_graphml,
    read_network,
    read_osm,
)

GEOD = Geod(ellps="WGS84")


# ---------------------------------------------------------------------------- walk rules


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "service"}, True),
        ({"highway": "primary"}, True),
        ({"highway": "trunk", "sidewalk": "both"}, True),
        ({"highway": "steps"}, True),
        ({"highway": "pedestrian"}, True),
        ({"highway": "living_street"}, True),
        ({"highway": "path"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "motorway_link"}, False),
        ({"highway": "construction"}, False),
        ({"highway": "proposed"}, False),
        ({"highway": "platform"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "service", "service": "private"}, False),
        ({"highway": "residential", "access": "no"}, False),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "primary", "sidewalk": "separate"}, False),
        ({"highway": "primary", "sidewalk:left": "separate"}, False),
        ({"landuse": "residential"}, False),
        ({}, False),
    ],
)
def test_walk_rules(tags, walkable):
    assert WalkRules().is_walkable(tags) is walkable


def test_private_ways_are_walkable_when_configured():
    rules = WalkRules(include_private=True)
    assert rules.is_walkable({"highway": "service", "access": "private"})
    assert not rules.is_walkable({"highway": "service", "access": "private", "foot": "no"})
    assert rules.key() != WalkRules().key()


# ---------------------------------------------------------------------------- XML vs PBF


def _same_network(a: WalkNetwork, b: WalkNetwork) -> None:
    assert set(a.node_id.tolist()) == set(b.node_id.tolist())
    assert b.edge_length_m.sum() == pytest.approx(a.edge_length_m.sum(), rel=0.005)
    assert a.n_edges == b.n_edges
    assert a.summary()["components"] == b.summary()["components"]


def test_xml_and_pbf_of_the_same_area_give_the_same_network(tmp_path, tsinghua_osm, tsinghua_net):
    pbf = convert_with_osmium(tsinghua_osm, tmp_path / "tsinghua.osm.pbf")
    _same_network(tsinghua_net, read_osm(pbf))


def test_pbf_and_xml_of_helsinki_give_the_same_network(tmp_path, helsinki_pbf, helsinki_net):
    xml = convert_with_osmium(helsinki_pbf, tmp_path / "helsinki.osm")
    _same_network(helsinki_net, read_osm(xml))


def test_compressions_and_suffixes_agree(tmp_path, cau_osm, cau_net):
    raw = bz2.decompress(cau_osm.read_bytes())
    (tmp_path / "cau.osm").write_bytes(raw)
    (tmp_path / "cau.osm.xml").write_bytes(raw)
    with gzip.open(tmp_path / "cau.osm.gz", "wb") as fh:
        fh.write(raw)
    for name in ("cau.osm", "cau.osm.xml", "cau.osm.gz"):
        net = read_network(tmp_path / name)
        _same_network(cau_net, net)


# ---------------------------------------------------------------------------- against osmnx + networkx


def _walkable_xml(src, dst):
    nodes, ways = parse_osm_xml(src)
    rules = WalkRules()
    kept = [w for w in ways if rules.is_walkable(w[2])]
    used = {r for _, refs, _ in kept for r in refs}
    write_osm_xml(dst, {k: v for k, v in nodes.items() if k in used}, kept)
    return dst


@pytest.mark.parametrize("fixture", ["tsinghua", "cau"])
def test_distances_equal_networkx_on_the_osmnx_graph(tmp_path, request, fixture):
    import osmnx as ox
    from scipy.sparse.csgraph import dijkstra

    src = request.getfixturevalue(f"{fixture}_osm")
    net = request.getfixturevalue(f"{fixture}_net")
    walk_xml = _walkable_xml(src, tmp_path / "walk.osm")
    graph = ox.graph_from_xml(walk_xml, bidirectional=True, simplify=False, retain_all=True)
    truth = nx.Graph()
    for u, v in graph.edges():
        if u == v:
            continue
        a, b = graph.nodes[u], graph.nodes[v]
        truth.add_edge(u, v, length=GEOD.inv(a["x"], a["y"], b["x"], b["y"])[2])
    rng = np.random.default_rng(7)
    sources = rng.choice(net.n_nodes, 25, replace=False)
    ours = dijkstra(net.graph, directed=False, indices=sources)
    checked = 0
    for row, s in enumerate(sources):
        expected = nx.single_source_dijkstra_path_length(truth, int(net.node_id[s]), weight="length")
        targets = rng.choice(net.n_nodes, 40, replace=False)
        for t in targets:
            want = expected.get(int(net.node_id[t]), np.inf)
            got = ours[row, t]
            if np.isfinite(want):
                assert abs(got - want) < 0.01
                checked += 1
            else:
                assert np.isinf(got)
    assert checked > 300


def test_snapping_agrees_with_osmnx_nearest_edges(tmp_path, tsinghua_osm, tsinghua_net):
    import osmnx as ox

    net = tsinghua_net
    graph = ox.graph_from_xml(
        _walkable_xml(tsinghua_osm, tmp_path / "w.osm"), bidirectional=True, retain_all=True
    )
    graph = ox.project_graph(graph, to_crs=f"EPSG:{net.epsg}")
    rng = np.random.default_rng(3)
    w, s, e, n = net.bounds_lonlat()
    lon, lat = rng.uniform(w, e, 300), rng.uniform(s, n, 300)
    x, y = net.project(lon, lat)
    ox_edges, ox_dist = ox.distance.nearest_edges(graph, x, y, return_dist=True)
    ours = net.snap(lon, lat, max_offset_m=1e9)
    np.testing.assert_allclose(ours.offset_m, ox_dist, atol=1e-6)
    # where the nearest edge is unique, our edge lies along osmnx's edge
    gdf = ox.convert.graph_to_gdfs(graph, nodes=False)
    agree = 0
    for i, (u, v, k) in enumerate(ox_edges):
        ox_line = gdf.loc[(u, v, k), "geometry"]
        snapped_point = shapely.Point(ours.x[i], ours.y[i])
        if ox_line.distance(snapped_point) < 1e-6:
            agree += 1
    assert agree >= 0.98 * len(ox_edges)


def test_graphml_gives_the_same_distances(tmp_path, cau_osm, cau_net):
    import osmnx as ox
    from scipy.sparse.csgraph import dijkstra

    walk_xml = _walkable_xml(cau_osm, tmp_path / "walk.osm")
    for simplify in (False, True):
        graph = ox.graph_from_xml(walk_xml, bidirectional=True, simplify=simplify, retain_all=True)
        path = tmp_path / f"cau_{simplify}.graphml"
        ox.save_graphml(graph, path)
        net = read_graphml(path)
        common = np.intersect1d(net.node_id, cau_net.node_id)
        assert common.size > 0.8 * cau_net.n_nodes
        assert net.edge_length_m.sum() == pytest.approx(cau_net.edge_length_m.sum(), rel=1e-6)
        pick = common[:: max(1, common.size // 20)]
        # nodes are numbered along a Hilbert curve, not by OSM id: look ids up in sorted order
        order_a = np.argsort(cau_net.node_id)
        order_b = np.argsort(net.node_id)
        ia = np.searchsorted(cau_net.node_id[order_a], pick)
        ib = np.searchsorted(net.node_id[order_b], pick)
        da = dijkstra(cau_net.graph, directed=False, indices=order_a[ia])[:, order_a[ia]]
        db = dijkstra(net.graph, directed=False, indices=order_b[ib])[:, order_b[ib]]
        np.testing.assert_allclose(da, db, atol=0.01)


# ---------------------------------------------------------------------------- bad files


def test_missing_empty_truncated_and_foreign_files(tmp_path, cau_osm):
    with pytest.raises(InputError, match=r"nope\.osm: file not found"):
        read_osm(tmp_path / "nope.osm")
    empty = tmp_path / "empty.osm"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        read_osm(empty)
    raw = bz2.decompress(cau_osm.read_bytes())
    cut = tmp_path / "cut.osm"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_osm(cut)
    cut_bz2 = tmp_path / "cut.osm.bz2"
    cut_bz2.write_bytes(cau_osm.read_bytes()[:30000])
    with pytest.raises(InputError, match=r"cut\.osm\.bz2"):
        read_osm(cut_bz2)
    gpx = tmp_path / "track.osm"
    gpx.write_text('<?xml version="1.0"?><gpx version="1.1"></gpx>')
    with pytest.raises(InputError, match="not an OpenStreetMap file"):
        read_osm(gpx)
    csv = tmp_path / "table.osm"
    csv.write_text("name,lon,lat\na,1,2\n")
    with pytest.raises(InputError, match="not an OpenStreetMap file"):
        read_osm(csv)
    with pytest.raises(InputError, match="unknown network file type"):
        read_network(tmp_path / "roads.shp")
    with pytest.raises(InputError, match="folder"):
        read_osm(tmp_path)


def test_truncated_pbf_is_reported(tmp_path, helsinki_pbf):
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(helsinki_pbf.read_bytes()[:200_000])
    with pytest.raises(InputError, match=r"cut\.osm\.pbf: file is truncated"):
        read_osm(cut)


def test_area_without_walkable_ways(tmp_path):
    nodes = {1: (114.0, 35.0, {}), 2: (114.001, 35.0, {}), 3: (114.001, 35.001, {})}
    ways = [(10, [1, 2, 3, 1], {"landuse": "residential"}), (11, [1, 2], {"highway": "motorway"})]
    path = write_osm_xml(tmp_path / "fields.osm", nodes, ways)
    with pytest.raises(EmptyNetworkError, match=r"fields\.osm: no walkable ways \(1 highway=\* ways"):
        read_osm(path)


def test_bad_graphml(tmp_path):
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><oops")
    with pytest.raises(InputError, match="not an osmnx GraphML file"):
        read_graphml(bad)


def test_ways_past_the_extract_are_cut_not_bridged(tmp_path):
    nodes = {1: (114.0, 35.0, {}), 2: (114.001, 35.0, {}), 4: (114.003, 35.0, {}), 5: (114.004, 35.0, {})}
    # node 3 is missing from the extract
    path = write_osm_xml(tmp_path / "cut.osm", nodes, [(10, [1, 2, 3, 4, 5], {"highway": "footway"})])
    net = read_osm(path)
    assert net.n_edges == 2 and net.n_components == 2
    assert net.edge_length_m.sum() == pytest.approx(2 * GEOD.inv(114.0, 35.0, 114.001, 35.0)[2], rel=1e-6)


# ---------------------------------------------------------------------------- Overpass


@pytest.fixture
def overpass(cau_osm):
    nodes, ways = parse_osm_xml(cau_osm)
    answer = overpass_json(nodes, [w for w in ways if "highway" in w[2]])
    lons = [v[0] for v in nodes.values()]
    lats = [v[1] for v in nodes.values()]
    bbox = (min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01)
    with FakeOSMServer(answer, place_bbox=bbox, place_name="中国农业大学东校区") as server:
        server.bbox = bbox
        yield server


def _config(server, tmp_path, **kw):
    return OverpassConfig(
        overpass_url=server.url + "/api", nominatim_url=server.url + "/", cache_dir=tmp_path / "raw", **kw
    )


def test_overpass_place_download_matches_the_file_and_is_cached(tmp_path, overpass, cau_net):
    cfg = _config(overpass, tmp_path)
    net = download_network(place="中国农业大学东校区", config=cfg)
    _same_network(cau_net, net)
    assert any(r.startswith("POST /api/interpreter") for r in overpass.requests)
    assert any(r.startswith("GET /search") for r in overpass.requests)
    before = len(overpass.requests)
    again = download_network(place="中国农业大学东校区", config=cfg)
    assert len(overpass.requests) == before  # the second run makes no request
    np.testing.assert_array_equal(again.node_id, net.node_id)
    assert list((tmp_path / "raw" / "networks").glob("*.npz"))


def test_overpass_bbox_download(tmp_path, overpass, cau_net):
    net = download_network(bbox=overpass.bbox, config=_config(overpass, tmp_path))
    _same_network(cau_net, net)
    assert not any(r.startswith("GET /search") for r in overpass.requests)


@pytest.mark.parametrize("code", ["429", "503"])
def test_overpass_refusals_are_one_clear_error(tmp_path, overpass, code):
    overpass.mode = code
    with pytest.raises(DownloadError, match=rf"HTTP {code}.*--osm FILE"):
        download_network(bbox=overpass.bbox, config=_config(overpass, tmp_path))
    assert not list((tmp_path / "raw").rglob("*.npz"))


def test_overpass_timeout(tmp_path, overpass):
    overpass.mode = "stall"
    overpass.stall_s = 3
    with pytest.raises(DownloadError, match=r"timed out after 1 s.*--osm FILE"):
        download_network(bbox=overpass.bbox, config=_config(overpass, tmp_path, timeout_s=1))


def test_overpass_empty_answer(tmp_path, overpass):
    overpass.mode = "empty"
    with pytest.raises(EmptyNetworkError, match="no streets"):
        download_network(bbox=overpass.bbox, config=_config(overpass, tmp_path))


def test_unknown_place(tmp_path, overpass):
    with pytest.raises(DownloadError, match="not found by Nominatim"):
        download_network(place="Nowhere-on-earth", config=_config(overpass, tmp_path))


def test_unreachable_host(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = OverpassConfig(overpass_url=f"http://127.0.0.1:{port}/api", cache_dir=tmp_path)
    with pytest.raises(DownloadError, match=r"cannot reach .*--osm FILE"):
        download_network(bbox=(116.34, 39.99, 116.36, 40.0), config=cfg)
    cfg = OverpassConfig(overpass_url="http://no-such-host.invalid/api", cache_dir=tmp_path, timeout_s=3)
    with pytest.raises(DownloadError, match="does not resolve"):
        download_network(bbox=(116.34, 39.99, 116.36, 40.0), config=cfg)


def test_download_arguments_are_checked(tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        download_network(config=OverpassConfig(cache_dir=tmp_path))
    with pytest.raises(InputError, match="west<east"):
        download_network(bbox=(116.4, 39.9, 116.3, 40.0), config=OverpassConfig(cache_dir=tmp_path))


# ---------------------------------------------------------------------------- CLI


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_cli_network_json_and_gpkg(tmp_path, cau_osm, cau_net):
    import json

    import geopandas as gpd

    res = _cli("network", "--osm", str(cau_osm), "--json", "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    for key in ("nodes", "edges", "length_km", "components", "largest_share"):
        assert summary[key] == cau_net.summary()[key]
    edges = gpd.read_file(tmp_path / "out" / "network.gpkg", layer="edges")
    assert len(edges) == cau_net.n_edges and edges.crs.to_epsg() == 4326
    assert edges["length_m"].sum() == pytest.approx(cau_net.edge_length_m.sum())


def test_cli_network_from_the_local_overpass(tmp_path, overpass):
    import json

    w, s, e, n = overpass.bbox
    res = _cli(
        "network",
        "--bbox",
        f"{w},{s},{e},{n}",
        "--overpass-url",
        overpass.url + "/api",
        "--cache-dir",
        str(tmp_path / "raw"),
        "--json",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["nodes"] > 100


def test_cli_errors_are_one_line(tmp_path):
    res = _cli("network", "--osm", str(tmp_path / "missing.osm.pbf"))
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "missing.osm.pbf: file not found" in lines[0]
    assert "Traceback" not in res.stderr
    res = _cli("network")
    assert res.returncode == 2 and "give a network source" in res.stderr
    res = _cli(
        "network", "--bbox", "1,2,3,4", "--place", "x"
    )  # (--osm with an area cuts the extract: issue 13)
    assert res.returncode == 2 and "only one of" in res.stderr
    res = _cli("network", "--bbox", "1,2,3")
    assert res.returncode == 2 and "four numbers" in res.stderr


def test_cli_help_lists_network():
    res = _cli("--help")
    assert res.returncode == 0 and "network" in res.stdout
    res = _cli("network", "--help")
    assert res.returncode == 0 and "--osm" in res.stdout


@pytest.mark.skipif(shutil.which("osmium") is None, reason="osmium-tool not installed")
def test_osmium_tool_conversion_agrees(tmp_path, cau_osm, cau_net):
    out = tmp_path / "cau.osm.pbf"
    subprocess.run(["osmium", "cat", str(cau_osm), "-o", str(out)], check=True)
    _same_network(cau_net, read_osm(out))
