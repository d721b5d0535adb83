"""Service areas and blind spots against networkx, and the study map in headless Chromium."""

from __future__ import annotations

import json
import re
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from selenium.webdriver.support.ui import WebDriverWait

from browser import (
    MAP_TEXT_JS,
    element_rect,
    needs_browser,
    offline_browser,
    open_map,
    overlaps,
)
from walkcircle.access import compute_access
from walkcircle.defaults import DEFAULT_SERVICE_AREA_MAX_CELLS
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.geodesy import to_lonlat
from walkcircle.service_areas import blind_spots, service_areas

HALF_WIDTH_M = 25.0
CELL_M = 4.0
THRESHOLDS_M = {"clinic": 300.0, "market": 520.0, "elderly_care": 300.0}


# ---------------------------------------------------------------------------- independent reference


def _base_graph(net) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["w"] > w):
            g.add_edge(int(u), int(v), w=float(w))
    return g


def _on_edge_points(net, edges, fractions):
    """(lon, lat, position_m) of points at fractions along edges (geodesic position)."""
    pts = shapely.line_interpolate_point(net.edge_lines[edges], fractions, normalized=True)
    lon, lat = to_lonlat(shapely.get_x(pts), shapely.get_y(pts), net.epsg)
    return lon, lat, fractions * net.edge_length_m[edges]


def _nearest_distance_nx(net, g, src_edge, src_pos, src_offset, dst_edge, dst_pos):
    """Network distance from the nearest source to each destination point, with networkx.

    Sources and destinations are given as (edge, position along it from edge_u); sources also
    by their offset from the street. A super-source node carries every source's walk to both
    ends of its edge; points on a source's own edge may also walk straight along it.
    """
    g = g.copy()
    length = net.edge_length_m
    for e, p, off in zip(src_edge, src_pos, src_offset, strict=True):
        for node, w in ((net.edge_u[e], off + p), (net.edge_v[e], off + length[e] - p)):
            node = int(node)
            if not g.has_edge("S", node) or g["S"][node]["w"] > w:
                g.add_edge("S", node, w=float(w))
    d = nx.single_source_dijkstra_path_length(g, "S", weight="w")
    node_d = np.full(net.n_nodes, np.inf)
    for k, v in d.items():
        if k != "S":
            node_d[k] = v
    du = node_d[net.edge_u[dst_edge]] + dst_pos
    dv = node_d[net.edge_v[dst_edge]] + (length[dst_edge] - dst_pos)
    out = np.minimum(du, dv)
    for e, p, off in zip(src_edge, src_pos, src_offset, strict=True):
        same = dst_edge == e
        out[same] = np.minimum(out[same], off + np.abs(dst_pos[same] - p))
    return out


@pytest.fixture(scope="module")
def world(tsinghua_net):
    """Facilities on street edges (two categories, one empty) and homes off the streets."""
    net = tsinghua_net
    rng = np.random.default_rng(7)
    loops = net.edge_u == net.edge_v
    candidates = np.flatnonzero(~loops & (net.edge_length_m > 20))
    frames = []
    for cid, n in (("clinic", 6), ("market", 3)):
        edges = rng.choice(candidates, n, replace=False)
        lon, lat, _ = _on_edge_points(net, edges, rng.uniform(0.2, 0.8, n))
        frames.append(
            pd.DataFrame({"category": cid, "lon": lon, "lat": lat, "name": [f"{cid} {i}" for i in range(n)]})
        )
    fac = pd.concat(frames, ignore_index=True)
    facilities = gpd.GeoDataFrame(fac, geometry=gpd.points_from_xy(fac.lon, fac.lat), crs="EPSG:4326")
    # homes: random points up to 80 m from random street points
    n_homes = 1500
    edges = rng.choice(candidates, n_homes)
    pts = shapely.line_interpolate_point(net.edge_lines[edges], rng.uniform(0, 1, n_homes), normalized=True)
    angle = rng.uniform(0, 2 * np.pi, n_homes)
    radius = rng.uniform(0, 80, n_homes)
    hx = shapely.get_x(pts) + radius * np.cos(angle)
    hy = shapely.get_y(pts) + radius * np.sin(angle)
    hlon, hlat = to_lonlat(hx, hy, net.epsg)
    homes = gpd.GeoDataFrame(
        {"lon": hlon, "lat": hlat, "population": rng.integers(1, 40, n_homes).astype(float)},
        geometry=gpd.points_from_xy(hlon, hlat),
        crs="EPSG:4326",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(net, homes, facilities, list(THRESHOLDS_M), THRESHOLDS_M)
    areas = service_areas(
        net, facilities, THRESHOLDS_M, access, homes, half_width_m=HALF_WIDTH_M, cell_m=CELL_M
    )
    return net, facilities, homes, access, areas


def _street_samples(net, step_m=4.0):
    xs, ys, edge, pos = [], [], [], []
    for e, line in enumerate(net.edge_lines):
        n = max(2, int(line.length / step_m) + 1)
        f = np.linspace(0, 1, n)
        pts = shapely.line_interpolate_point(line, f, normalized=True)
        xs.append(shapely.get_x(pts))
        ys.append(shapely.get_y(pts))
        edge.append(np.full(n, e))
        pos.append(f * net.edge_length_m[e])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(edge), np.concatenate(pos)


@pytest.mark.parametrize("category", ["clinic", "market"])
def test_service_area_holds_exactly_the_streets_within_the_threshold(world, category):
    net, facilities, _, _, areas = world
    row = areas.set_index("category").loc[category]
    polygon = shapely.transform(row.geometry, lambda c: np.column_stack(net.project(c[:, 0], c[:, 1])))
    fac = facilities[facilities["category"] == category]
    snap = net.snap(fac["lon"].to_numpy(), fac["lat"].to_numpy())
    x, y, edge, pos = _street_samples(net)
    d = _nearest_distance_nx(net, _base_graph(net), snap.edge, snap.position_m, snap.offset_m, edge, pos)
    threshold = THRESHOLDS_M[category]
    within = d <= threshold - 0.5
    assert within.sum() > 100 and (~within).sum() > 100
    inside = shapely.contains_xy(polygon.buffer(0.01), x, y)
    assert inside[within].all(), f"{(~inside[within]).sum()} street points within {threshold} m lie outside"
    # beyond the threshold: inside only within the half-width (+ a grid cell and the sampling step)
    tree = cKDTree(np.column_stack([x[d <= threshold + 0.5], y[d <= threshold + 0.5]]))
    gap, _ = tree.query(np.column_stack([x[~within], y[~within]]))
    clearly_out = gap > HALF_WIDTH_M + CELL_M + 4.0
    assert clearly_out.sum() > 100
    assert not inside[~within][clearly_out].any()
    assert row.facilities == len(fac)
    assert row.area_m2 == pytest.approx(polygon.area, rel=1e-6)


def test_covered_counts_equal_networkx(world):
    net, facilities, homes, _, areas = world
    g = _base_graph(net)
    # independent snapping: the nearest street geometry with shapely
    hx, hy = net.project(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    points = shapely.points(hx, hy)
    tree = shapely.STRtree(net.edge_lines)
    (_, h_edge), h_off = tree.query_nearest(points, all_matches=False, return_distance=True)
    h_pos = (
        shapely.line_locate_point(net.edge_lines[h_edge], points, normalized=True) * net.edge_length_m[h_edge]
    )
    population = homes["population"].to_numpy()
    by_cat = areas.set_index("category")
    for cid, threshold in THRESHOLDS_M.items():
        fac = facilities[facilities["category"] == cid]
        row = by_cat.loc[cid]
        if len(fac) == 0:
            covered = np.zeros(len(homes), bool)
        else:
            snap = net.snap(fac["lon"].to_numpy(), fac["lat"].to_numpy())
            d = _nearest_distance_nx(net, g, snap.edge, snap.position_m, snap.offset_m, h_edge, h_pos) + h_off
            covered = d <= threshold
            # homes within a centimetre of the threshold could go either way in float arithmetic
            assert (np.abs(d - threshold) < 0.01).sum() == 0
        assert row.homes_covered == covered.sum()
        assert row.homes_not_covered == (~covered).sum()
        assert row.residents_covered == pytest.approx(population[covered].sum())
        assert row.residents_not_covered == pytest.approx(population[~covered].sum())
    assert 0 < by_cat.loc["clinic", "homes_covered"] < len(homes)


def test_category_without_facilities_is_an_empty_area_with_everyone_outside(world):
    _, _, homes, _, areas = world
    row = areas.set_index("category").loc["elderly_care"]
    assert row.facilities == 0 and row.area_m2 == 0 and row.geometry.is_empty
    assert row.homes_covered == 0 and row.residents_not_covered == homes["population"].sum()
    assert list(areas["category"]) == list(THRESHOLDS_M)
    assert areas.crs.to_epsg() == 4326


def test_blind_spots_are_the_homes_outside(world):
    _, _, homes, access, areas = world
    spots = blind_spots(homes, access)
    counts = spots.groupby("category").size().reindex(list(THRESHOLDS_M), fill_value=0)
    assert counts.to_dict() == areas.set_index("category")["homes_not_covered"].astype(int).to_dict()
    residents = spots.groupby("category")["population"].sum()
    assert residents.to_dict() == pytest.approx(
        areas.set_index("category")["residents_not_covered"].to_dict()
    )
    assert (spots["nearest_m"] > spots["threshold_m"]).all()
    assert spots.geometry.equals(homes.geometry.iloc[spots["home"]].reset_index(drop=True))


def test_service_areas_nest_with_the_threshold(tsinghua_net, world):
    net, facilities, *_ = world
    small = service_areas(net, facilities, {"clinic": 200.0})
    large = service_areas(net, facilities, {"clinic": 400.0})
    a, b = small.geometry.iloc[0], large.geometry.iloc[0]
    assert b.area > a.area
    assert a.difference(b.buffer(1e-6)).area < 1e-12  # degrees², i.e. nothing
    assert small["homes_covered"].isna().all()  # no access given: no counts, not zeros


def test_all_categories_at_once_equal_each_alone(world):
    """With several categories a forked child draws a share of them: the polygons are the same."""
    net, facilities, homes, access, areas = world
    assert len(areas) > 1
    for _, row in areas.iterrows():
        alone = service_areas(
            net, facilities, {row["category"]: THRESHOLDS_M[row["category"]]}, access, homes,
            half_width_m=HALF_WIDTH_M, cell_m=CELL_M,
        )  # fmt: skip
        assert shapely.to_wkb(alone.geometry.iloc[0]) == shapely.to_wkb(row.geometry), row["category"]
        assert alone.iloc[0]["homes_not_covered"] == row["homes_not_covered"]


def test_claims_give_every_category_to_exactly_one_process():
    """Parent and forked child take categories from one list at the same time: none twice, none lost."""
    import time

    from walkcircle._background import Background, Claims, can_fork

    n = 400
    order = list(np.random.default_rng(3).permutation(n))
    for _ in range(3):
        claims = Claims(n)

        def take_all(claims=claims) -> list[int]:
            got = []
            while (g := claims.take(order)) is not None:
                got.append(g)
                time.sleep(0.0005)  # as drawing takes a while: both get to take some
            return got

        child = Background(take_all)
        mine = take_all()
        theirs = child.join()
        claims.close()
        assert sorted(mine + theirs) == list(range(n))
        rank = {g: i for i, g in enumerate(order)}
        for got in (mine, theirs):  # each takes them in the order given
            assert [rank[g] for g in got] == sorted(rank[g] for g in got)
        if can_fork():
            assert theirs  # the child did take a share


def test_claims_are_freed_when_a_child_dies_holding_the_lock():
    """The lock is a POSIX record lock: killing its holder frees it, so the parent never waits forever."""
    import fcntl
    import time

    from walkcircle._background import Background, Claims, can_fork

    if not can_fork():
        pytest.skip("no fork here: no child to kill")
    claims = Claims(5)

    def hold() -> None:
        fcntl.lockf(claims._fd, fcntl.LOCK_EX)
        time.sleep(60)

    child = Background(hold)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until the child holds it
        try:
            fcntl.lockf(claims._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            break
        fcntl.lockf(claims._fd, fcntl.LOCK_UN)
        time.sleep(0.01)
    else:
        pytest.fail("the child never took the lock")
    child.kill()
    assert [claims.take([4, 3, 2, 1, 0]) for _ in range(6)] == [4, 3, 2, 1, 0, None]
    claims.close()
    assert claims.take([0]) is None  # closed: everything counts as taken


def test_a_drawing_started_early_gives_the_same_areas(world):
    """`AreaDrawing`: started, left to the child a while, then finished: the same table and polygons."""
    import gc
    import os
    import time

    from walkcircle.service_areas import AreaDrawing

    net, facilities, homes, access, areas = world
    drawing = AreaDrawing(net, facilities, THRESHOLDS_M, half_width_m=HALF_WIDTH_M, cell_m=CELL_M).start()
    assert drawing.start() is drawing  # one child, however often it is started
    time.sleep(0.5)  # the child takes a head start, as while a study places its homes
    early = drawing.finish(access, homes)
    pd.testing.assert_frame_equal(early.drop(columns="geometry"), areas.drop(columns="geometry"))
    assert list(shapely.to_wkb(early.geometry.to_numpy())) == list(shapely.to_wkb(areas.geometry.to_numpy()))
    again = drawing.finish(access, homes)  # drawn once; counted again
    assert list(shapely.to_wkb(again.geometry.to_numpy())) == list(shapely.to_wkb(areas.geometry.to_numpy()))
    cancelled = AreaDrawing(net, facilities, THRESHOLDS_M, half_width_m=HALF_WIDTH_M, cell_m=CELL_M).start()
    cancelled.cancel()
    assert cancelled._child is None
    with pytest.raises(RuntimeError, match="cancelled"):
        cancelled.finish(access, homes)
    dropped = AreaDrawing(net, facilities, THRESHOLDS_M, half_width_m=HALF_WIDTH_M, cell_m=CELL_M).start()
    pid = dropped._child._pid if dropped._child is not None else None
    del dropped
    gc.collect()
    if pid is not None:  # stopped and reaped: no such process any more
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_drawing_whose_child_dies_is_finished_here(world):
    """A child killed outright (out of memory, say) loses nothing: its share is drawn by the parent."""
    import os
    import signal
    import time

    from walkcircle._background import can_fork
    from walkcircle.service_areas import AreaDrawing

    if not can_fork():
        pytest.skip("no fork here: no child to kill")
    from walkcircle._background import Background

    net, facilities, homes, access, areas = world
    drawing = AreaDrawing(net, facilities, THRESHOLDS_M, half_width_m=HALF_WIDTH_M, cell_m=CELL_M)

    def take_one_and_die() -> None:  # as a child killed while drawing the category it took
        drawing._claims.take(drawing.routed.order)
        os.kill(os.getpid(), signal.SIGKILL)

    drawing._child = Background(take_one_and_die)
    time.sleep(0.3)  # it has taken its category and died
    done = drawing.finish(access, homes)
    pd.testing.assert_frame_equal(done.drop(columns="geometry"), areas.drop(columns="geometry"))
    assert list(shapely.to_wkb(done.geometry.to_numpy())) == list(shapely.to_wkb(areas.geometry.to_numpy()))


@st.composite
def _scattered_lines(draw):
    """Short polylines around a few centres: some groups far apart, some near, some crossing."""
    n_centres = draw(st.integers(1, 5))
    centres = [(draw(st.floats(0, 1200)), draw(st.floats(0, 1200))) for _ in range(n_centres)]
    lines = []
    for cx, cy in centres:
        for _ in range(draw(st.integers(1, 6))):
            n = draw(st.integers(2, 4))
            pts = [(cx + draw(st.floats(-150, 150)), cy + draw(st.floats(-150, 150))) for _ in range(n)]
            lines.append(shapely.LineString(pts))
    return np.array(lines, dtype=object)


@settings(max_examples=40, deadline=None)
@given(_scattered_lines())
def test_line_groups_keep_groups_out_of_each_others_reach(lines):
    from walkcircle.service_areas import line_groups

    reach = 45.0
    groups = line_groups(lines, reach)
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(lines)))  # each line once
    # a line of length 0 (a facility on its street) is a point to GEOS's distance
    first = shapely.points(shapely.get_coordinates(lines)[np.cumsum(shapely.get_num_coordinates(lines)) - 1])
    shapes = np.where(shapely.length(lines) > 0, lines, first)
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            gap = shapely.distance(shapes[groups[a]][:, None], shapes[groups[b]][None, :]).min()
            assert gap > 2 * reach  # no point is within reach of both


@pytest.mark.parametrize(
    ("second", "n_groups"),
    [
        ([(95.5, 0), (105.5, 0)], 1),  # 85.5 m away: within twice the reach (90 m) -> together
        ([(78, 63), (88, 63)], 1),  # diagonally 85 m away -> together
        ([(300, 0), (310, 0)], 2),  # 290 m away -> apart
    ],
)
def test_line_groups_join_lines_within_twice_the_reach(second, n_groups):
    from walkcircle.service_areas import line_groups

    lines = shapely.linestrings([[(0, 0), (10, 0)], second])
    assert len(line_groups(lines, 45.0)) == n_groups


@settings(max_examples=25, deadline=None)
@given(_scattered_lines())
def test_buffering_groups_apart_equals_one_raster(lines):
    """`buffer_lines_apart` gives the polygons of one raster over the whole box (brute force)."""
    from walkcircle.isochrones import buffer_lines_raster
    from walkcircle.service_areas import buffer_lines_apart

    apart = buffer_lines_apart(lines, 25.0, 10.0)
    whole = buffer_lines_raster(lines, 25.0, 10.0)
    assert apart.is_valid
    assert shapely.get_num_geometries(apart) == shapely.get_num_geometries(whole)
    assert shapely.symmetric_difference(apart, whole).area <= 1e-6 * whole.area
    assert apart.area == pytest.approx(whole.area, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(_scattered_lines())
def test_buffering_segments_equals_buffering_their_lines(lines):
    from walkcircle.isochrones import buffer_lines_raster, buffer_segments_raster

    coords = shapely.get_coordinates(lines)
    line = np.repeat(np.arange(len(lines)), shapely.get_num_coordinates(lines))
    same = line[:-1] == line[1:]
    segments = buffer_segments_raster(coords[:-1][same], coords[1:][same], 25.0, 10.0)
    assert shapely.to_wkb(segments) == shapely.to_wkb(buffer_lines_raster(lines, 25.0, 10.0))


@pytest.mark.parametrize("max_cells", [DEFAULT_SERVICE_AREA_MAX_CELLS, 60_000])
def test_area_from_segments_equals_the_area_of_its_lines(world, max_cells):
    """A drawing's pieces and connectors, buffered from their segments, give what their lines give."""
    from walkcircle.isochrones import edge_substrings, reached_pieces
    from walkcircle.service_areas import AreaDrawing, _area_geometry, buffer_lines_apart

    net, facilities, *_ = world
    drawing = AreaDrawing(net, facilities, THRESHOLDS_M, half_width_m=HALF_WIDTH_M, cell_m=CELL_M)
    routed = drawing.routed
    for g, rows in enumerate(routed.members):
        if rows.size == 0:
            continue
        limit = float(drawing.limits[g])
        end = np.column_stack([routed.snapped.x[rows], routed.snapped.y[rows]])
        start = end + np.array([25.0, -20.0])  # these facilities sit on their streets: walks of 32 m instead
        pieces = reached_pieces(routed.graph, routed.dist[g], limit)
        ours = _area_geometry(net, pieces, (start, end), HALF_WIDTH_M, CELL_M, max_cells=max_cells)
        coords, piece = edge_substrings(net, *pieces)
        lines = np.r_[
            shapely.linestrings(coords, indices=piece), shapely.linestrings(np.stack([start, end], 1))
        ]
        theirs = buffer_lines_apart(lines, HALF_WIDTH_M, CELL_M, max_cells=max_cells)
        assert not ours.is_empty and ours.is_valid
        # at 60,000 cells in tiles (this network's box is larger), from the same lines
        assert shapely.to_wkb(ours) == shapely.to_wkb(theirs)


def test_bad_input(world):
    net, facilities, *_ = world
    with pytest.raises(InputError, match="no threshold"):
        service_areas(net, facilities, {"clinic": 300.0}, categories=["clinic", "park"])
    with pytest.raises(InputError, match="lacks column"):
        service_areas(net, facilities.drop(columns="lon"), {"clinic": 300.0})
    with pytest.raises(InputError, match="cell_m"):
        service_areas(net, facilities, {"clinic": 300.0}, cell_m=40.0)
    with pytest.raises(InputError, match="thresholds"):
        service_areas(net, facilities, {"clinic": -1.0})


# ---------------------------------------------------------------------------- the study map

COMMUNITY_NAMES = ["东园社区", "西园社区", "南苑社区", "北苑社区"]


@pytest.fixture(scope="module")
def cau_maps(tmp_path_factory, cau_osm, cau_net):
    """A real study on the CAU extract with four community polygons, service areas, isochrones."""
    from walkcircle import Study
    from walkcircle.isochrones import isochrones_around

    folder = tmp_path_factory.mktemp("maps")
    w, s, e, n = cau_net.bounds_lonlat()
    mx, my = (w + e) / 2, (s + n) / 2
    boxes = [
        shapely.box(mx, s, e, my),
        shapely.box(w, s, mx, my),
        shapely.box(w, my, mx, n),
        shapely.box(mx, my, e, n),
    ]
    communities = gpd.GeoDataFrame(
        {"name": COMMUNITY_NAMES, "population": [900, 800, 700, 600]}, geometry=boxes, crs="EPSG:4326"
    )
    path = folder / "communities.geojson"
    communities.to_file(path, driver="GeoJSON")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        study = Study(osm=cau_osm, profile="hebi-2021", communities=path, suggest={"elderly_care": 2})
        results = study.run()
        access = results.access
        areas = service_areas(
            results.network,
            results.facilities,
            dict(zip(access.categories, access.threshold_m, strict=True)),
            access,
            results.homes,
        )
        iso = isochrones_around(results.network, [(116.352, 40.003)], [5, 10, 15])
    return study, results, areas, iso, folder


def _save(cau_maps, lang, name=None, **kw):
    from walkcircle.outputs.maps import save_map, study_map

    study, results, areas, iso, folder = cau_maps
    fmap = study_map(
        results.homes, results.facilities, study.profile, results.communities, iso, results.suggestions,
        lang=lang, title="CAU", service_areas=areas, access=results.access, network=results.network, **kw,
    )  # fmt: skip
    return save_map(fmap, folder / f"{name or lang}.html")


def test_study_map_keeps_the_old_call(cau_maps):
    from walkcircle.outputs.maps import study_map

    study, results, *_ = cau_maps
    fmap = study_map(
        results.homes,
        results.facilities,
        study.profile,
        results.communities,
        None,
        results.suggestions,
        "en",
        "none",
        "t",
        False,
        30_000,
    )
    assert fmap.get_root().render()


@needs_browser
@pytest.mark.browser
def test_one_exclusive_service_area_overlay_per_category(cau_maps):
    study, _results, areas, *_ = cau_maps
    path = _save(cau_maps, "en")
    names = [c.name("en") for c in study.profile.categories]
    with offline_browser() as driver:
        open_map(driver, path)

        def service_boxes():
            labels = driver.find_elements("css selector", ".leaflet-control-layers-overlays label")
            service = [lab for lab in labels if lab.text.strip().startswith("Service area: ")]
            return service, [lab.find_element("css selector", "input") for lab in service]

        service, boxes = service_boxes()
        assert [lab.text.strip().split(": ", 1)[1].rsplit(" ≤ ", 1)[0] for lab in service] == names
        assert not any(b.is_selected() for b in boxes)  # none on at first
        on_map = (
            "const map = window[document.querySelector('.folium-map').id];"
            "return Object.values(window).filter(v => v instanceof L.FeatureGroup && !(v instanceof L.GeoJSON)"
            " && map.hasLayer(v)).length"
        )
        # read the boxes in one script: Leaflet rebuilds the control's labels when a layer is added,
        # so elements found a moment earlier can go stale
        checked = (
            "return [...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
            ".filter(l => l.textContent.trim().startsWith('Service area: '))"
            ".map(l => l.querySelector('input').checked)"
        )
        for k in (0, 4, 6):
            service_boxes()[1][k].click()
            WebDriverWait(driver, 5).until(lambda d: d.execute_script(checked).count(True) == 1)
            assert driver.execute_script(checked)[k]
            assert driver.execute_script(on_map) == 2  # this service area + the isochrones group
        legend = element_rect(driver, ".walkcircle-legend")["text"]
    by_cat = areas.set_index("category")
    for c in study.profile.categories:
        not_covered = by_cat.loc[c.id, "residents_not_covered"]
        assert (
            f"{c.name('en')} ≤ {by_cat.loc[c.id, 'threshold_m']:,.0f} m — residents not covered {not_covered:,.0f}"
            in legend
        )


@needs_browser
@pytest.mark.browser
def test_legend_has_every_category_and_isochrone_budget(cau_maps):
    study, results, *_ = cau_maps
    path = _save(cau_maps, "zh")
    counts = results.facilities["category"].value_counts()
    assert "elderly_care" not in counts.index  # the case that used to vanish
    with offline_browser() as driver:
        open_map(driver, path)
        rows = driver.execute_script(
            "return [...document.querySelectorAll('.walkcircle-category')].map(e => [e.dataset.category, +e.dataset.count, e.innerText])"
        )
        minutes = driver.execute_script(
            "return [...document.querySelectorAll('.walkcircle-isochrone')].map(e => +e.dataset.minutes)"
        )
        origins = driver.execute_script("return document.querySelectorAll('.walkcircle-origin').length")
    assert [r[0] for r in rows] == study.profile.category_ids
    for cid, n, text in rows:
        assert n == counts.get(cid, 0)
        assert text.startswith(study.profile.category(cid).name("zh"))
        assert ("0 处设施" in text) == (n == 0)
    assert minutes == [5, 10, 15]
    assert origins == 1


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("size", [(1200, 900), (800, 600)])
def test_metric_scale_is_visible_and_clear_of_the_legend(cau_maps, size):
    path = _save(cau_maps, "zh")
    with offline_browser(*size) as driver:
        open_map(driver, path)
        scale = element_rect(driver, ".leaflet-control-scale-line")
        legend = element_rect(driver, ".walkcircle-legend")
        lines = driver.execute_script(
            "return document.querySelectorAll('.leaflet-control-scale-line').length"
        )
    assert scale is not None and scale["visible"] and scale["width"] > 20
    assert (
        scale["left"] >= 0 and scale["right"] <= size[0] and scale["top"] >= 0 and scale["bottom"] <= size[1]
    )
    assert re.fullmatch(r"\d+ k?m", scale["text"].strip()), scale["text"]
    assert lines == 1  # metric only, no feet
    assert not overlaps(scale, legend), (scale, legend)


def _proper_names(cau_maps) -> list[str]:
    _study, results, *_ = cau_maps
    names = set(results.facilities.get("name", pd.Series(dtype=str)).fillna("").astype(str))
    names |= set(results.network.edge_name.astype(str))
    names |= set(results.homes.get("community", pd.Series(dtype=str)).astype(str))
    names |= {"CAU", "Leaflet", "OpenStreetMap"}
    return sorted((n for n in names if n), key=len, reverse=True)


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize(("lang", "max_homes"), [("zh", 5000), ("en", 5000), ("zh", 10), ("en", 10)])
def test_map_speaks_one_language(cau_maps, lang, max_homes):
    path = _save(cau_maps, lang, name=f"lang-{lang}-{max_homes}", max_homes=max_homes)
    with offline_browser() as driver:
        open_map(driver, path)
        text = driver.execute_script(MAP_TEXT_JS)
    assert len(text) > 2000
    for name in _proper_names(cau_maps):
        text = text.replace(name, " ")
    if lang == "zh":
        words = set(re.findall(r"[A-Za-z]{2,}", text)) - {"km"}
        assert not words, f"English in the zh map: {sorted(words)[:20]}"
        assert "服务范围" in text and "未覆盖居民" in text and "分钟" in text
    else:
        han = set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", text))
        assert not han, f"Chinese in the en map: {sorted(han)[:20]}"
        assert "Service area" in text and "residents not covered" in text


@needs_browser
@pytest.mark.browser
def test_aggregated_homes_open_and_count_every_home(cau_maps):
    _, results, *_ = cau_maps
    path = _save(cau_maps, "en", name="hex", max_homes=10)
    page = path.read_text(encoding="utf-8")
    with offline_browser() as driver:
        open_map(driver, path)
        counted = driver.execute_script(
            "let n = 0; for (const v of Object.values(window)) { if (v instanceof L.GeoJSON) {"
            " v.eachLayer(l => { const p = l.feature.properties; if (p.n_homes !== undefined) n += p.n_homes; }); } }"
            " return n;"
        )
        note = element_rect(driver, ".walkcircle-homes-note")["text"]
    assert counted == len(results.homes)
    assert f"{len(results.homes):,} homes in" in note and "every home counted" in note
    assert "showing" not in page


# ---------------------------------------------------------------------------- map parts, checked in Python


def test_hexagons_count_every_home_and_weigh_scores_by_residents():
    import h3

    from walkcircle.outputs.maps import aggregate_homes_h3

    rng = np.random.default_rng(3)
    n = 20_000
    lon = 114.25 + rng.uniform(0, 0.08, n)
    lat = 35.70 + rng.uniform(0, 0.06, n)
    population = rng.integers(0, 30, n).astype(float)
    score = rng.uniform(0, 100, n)
    homes = gpd.GeoDataFrame(
        {"population": population, "score": score}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"
    )
    hexes, res = aggregate_homes_h3(homes, max_cells=500)
    assert len(hexes) <= 500
    assert hexes["n_homes"].sum() == n and hexes["population"].sum() == pytest.approx(population.sum())
    # brute force: every home's cell at that resolution, grouped with pandas
    cells = [h3.latlng_to_cell(y, x, res) for x, y in zip(lon, lat, strict=True)]
    frame = pd.DataFrame({"cell": cells, "p": population, "s": score})
    frame["ps"] = frame["p"] * frame["s"]
    grouped = frame.groupby("cell").agg(n=("p", "size"), p=("p", "sum"), ps=("ps", "sum"), s=("s", "mean"))
    expected = np.where(
        grouped["p"] > 0, grouped["ps"] / grouped["p"].where(grouped["p"] > 0, 1), grouped["s"]
    )
    got = hexes.set_index("h3_cell").loc[grouped.index]
    assert (got["n_homes"].to_numpy() == grouped["n"].to_numpy()).all()
    np.testing.assert_allclose(got["score"].to_numpy(), expected, rtol=1e-9)
    # each hexagon holds its homes
    joined = gpd.sjoin(homes.assign(cell=cells), hexes, predicate="within")
    assert (joined["cell"] == joined["h3_cell"]).mean() > 0.999  # boundary points may fall either side


def test_community_minutes_are_population_weighted_medians():
    from walkcircle.outputs.maps import community_minutes

    rng = np.random.default_rng(5)
    n = 3000
    homes = pd.DataFrame(
        {
            "community": rng.choice(["甲", "乙", "丙", ""], n),
            "population": rng.integers(0, 20, n).astype(float),
            "minutes_park": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 30, n)),  # NaN: unreachable
        }
    )
    got = community_minutes(homes, ["park", "school"])
    assert list(got.columns) == ["park"] and set(got.index) == {"甲", "乙", "丙"}
    for name, group in homes[homes["community"] != ""].groupby("community"):
        # brute force: the smallest value with at least half the residents at or below it
        values = group["minutes_park"].fillna(np.inf).to_numpy()
        weights = np.where(group["population"] > 0, group["population"], 1e-9)
        half = weights.sum() / 2
        candidates = sorted(values)
        median = next(v for v in candidates if weights[values <= v].sum() >= half - 1e-9)
        assert got.loc[name, "park"] == median


def test_sites_are_named_by_the_nearest_named_street(cau_net):
    from walkcircle.outputs.maps import name_sites

    net = cau_net
    named = np.flatnonzero(np.char.str_len(net.edge_name.astype(str)) > 0)
    assert named.size > 10
    rng = np.random.default_rng(2)
    pick = rng.choice(net.n_edges, 30, replace=False)
    pts = shapely.line_interpolate_point(net.edge_lines[pick], 0.5, normalized=True)
    lon, lat = to_lonlat(shapely.get_x(pts), shapely.get_y(pts), net.epsg)
    sites = pd.DataFrame({"lon": lon, "lat": lat, "candidate": [f"node {i}" for i in range(30)]})
    got = name_sites(sites, "zh", net)
    for k in range(30):
        d = shapely.distance(net.edge_lines[named], pts[k])
        if d.min() <= 300:
            best = set(net.edge_name[named[np.isclose(d, d.min(), atol=1e-6)]].astype(str))
            assert got[k] in best
        else:
            assert got[k] == f"位于 {lon[k]:.6f}, {lat[k]:.6f} 的地点"
    far = pd.DataFrame({"lon": [net.lon[0] + 0.5], "lat": [net.lat[0]], "candidate": ["node 7"]})
    assert name_sites(far, "en", net) == [f"site at {net.lon[0] + 0.5:.6f}, {net.lat[0]:.6f}"]
    assert name_sites(far.assign(candidate="候选点A"), "en", net) == [
        "候选点A"
    ]  # a candidates file's own name


def test_site_popup_has_whole_residents_and_six_decimals(cau_maps):
    path = _save(cau_maps, "en", name="sites")
    _, results, *_ = cau_maps
    page = path.read_text(encoding="utf-8")
    for sg in results.suggestions:
        for _, site in sg.sites.iterrows():
            assert f'"gain": "{round(site.gain_population):,}"' in page
            assert f'"coords": "{site.lon:.6f}, {site.lat:.6f}"' in page
    assert '"site": "node ' not in page


def test_tianditu_basemap_needs_a_key_and_does_not_shift(cau_maps, monkeypatch):
    from walkcircle.outputs.maps import study_map

    study, results, *_ = cau_maps
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(InputError, match="TIANDITU_KEY"):
        study_map(results.homes, results.facilities, study.profile, basemap="tianditu")
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    pages = {}
    for basemap in ("tianditu", "osm"):
        fmap = study_map(results.homes, results.facilities, study.profile, basemap=basemap, lang="zh")
        pages[basemap] = fmap.get_root().render()
    page = pages["tianditu"]
    assert (
        "tianditu.gov.cn/vec_w/wmts" in page and "tianditu.gov.cn/cva_w/wmts" in page and "tk=abc123" in page
    )
    assert "TILEMATRIXSET=w" in page  # Web Mercator tiles, CGCS2000 datum: no GCJ-02 shift
    coords = [re.findall(r'"coordinates": ?\[([-\d.]+), ?([-\d.]+)\]', p) for p in pages.values()]
    assert coords[0] == coords[1] and len(coords[0]) > 50


def test_communities_are_shaded_with_minutes_per_category(cau_maps):
    from walkcircle.outputs.maps import community_minutes, score_colour

    study, results, *_ = cau_maps
    page = _save(cau_maps, "zh", name="communities").read_text(encoding="utf-8")
    minutes = community_minutes(results.homes, study.profile.category_ids)
    assert set(minutes.index) == set(COMMUNITY_NAMES)
    assert list(minutes.columns) == study.profile.category_ids
    for _, row in results.communities.iterrows():
        colour = score_colour(row.score_mean)
        assert f'"score_mean": {round(row.score_mean, 2)}' in page
        assert f'"fillColor": "{colour}", "fillOpacity": 0.55' in page
        for cid in study.profile.category_ids:
            value = minutes.loc[row.community, cid]
            text = f"{value:.1f}" if np.isfinite(value) else "不可达"
            assert json.dumps({f"min_{cid}": text})[1:-1] in page
    assert np.isinf(minutes["elderly_care"]).all()  # no facility: unreachable, not blank


def test_colours_never_mean_two_things():
    import colorsys

    from walkcircle.outputs.maps import CATEGORY_COLOURS, ISOCHRONE_COLOURS, SCORE_COLOURS
    from walkcircle.profile import list_profiles, load_profile

    def hls(colour):
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hls(r, g, b)

    assert not set(CATEGORY_COLOURS) & (set(SCORE_COLOURS) | set(ISOCHRONE_COLOURS))
    assert not set(SCORE_COLOURS) & set(ISOCHRONE_COLOURS)
    for colour in CATEGORY_COLOURS:
        hue, light, sat = hls(colour)
        reddish = (hue < 20 / 360 or hue > 330 / 360) and sat > 0.4 and 0.2 < light < 0.8
        purple = 250 / 360 < hue < 300 / 360 and sat > 0.2
        assert not reddish and not purple, colour
    # the score scale is sequential: lightness grows with the score
    lightness = [hls(c)[1] for c in SCORE_COLOURS]
    assert lightness == sorted(lightness)
    # every profile's categories get distinct colours
    for name in list_profiles():
        assert len(load_profile(name).category_ids) <= len(set(CATEGORY_COLOURS))


@settings(max_examples=25, deadline=None)
@given(
    facilities_m=st.lists(st.floats(0, 900), min_size=1, max_size=4),
    threshold_m=st.floats(30, 400),
    homes=st.lists(st.tuples(st.floats(0, 900), st.floats(-120, 120)), min_size=5, max_size=30),
)
def test_service_area_on_a_straight_street_matches_geometry(facilities_m, threshold_m, homes):
    """On one straight street, the area is the buffered union of [p - T, p + T] and a home is
    covered iff its offset plus the distance along the street to the nearest facility is <= T."""
    from worlds import X0, Y0, line_network, points_at

    net = line_network(10, 100.0)  # 900 m of street
    along = np.array([h[0] for h in homes])
    north = np.array([h[1] for h in homes])
    walk = np.abs(north) + np.min(np.abs(along[:, None] - np.array(facilities_m)[None, :]), axis=1)
    assume(np.all(np.abs(walk - threshold_m) > 0.01))
    facilities = points_at(facilities_m, 0.0, category="clinic")
    home_frame = points_at(along, north, population=np.arange(1.0, len(homes) + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(net, home_frame, facilities, ["clinic"], {"clinic": threshold_m})
    area = service_areas(
        net, facilities, {"clinic": threshold_m}, access, home_frame, half_width_m=HALF_WIDTH_M, cell_m=2.0
    ).iloc[0]
    covered = walk <= threshold_m
    assert area.homes_covered == covered.sum()
    assert area.residents_not_covered == pytest.approx(home_frame["population"].to_numpy()[~covered].sum())
    reference = shapely.union_all(
        [
            shapely.LineString([(X0 + max(0.0, p - threshold_m), Y0), (X0 + min(900.0, p + threshold_m), Y0)])
            for p in facilities_m
        ]
    ).buffer(HALF_WIDTH_M, quad_segs=32)
    polygon = shapely.transform(area.geometry, lambda c: np.column_stack(net.project(c[:, 0], c[:, 1])))
    assert area.area_m2 == pytest.approx(reference.area, rel=0.01)
    assert polygon.symmetric_difference(reference).area < 0.02 * reference.area


@pytest.mark.parametrize("options", [{"tile_m": 300.0}, {"tile_m": 1000.0}, {"max_cells": 100_000}])
def test_tiles_give_the_same_area_as_one_raster(tsinghua_net, options):
    from walkcircle.isochrones import buffer_lines_raster
    from walkcircle.service_areas import buffer_lines_tiled

    rng = np.random.default_rng(1)
    lines = tsinghua_net.edge_lines[rng.random(tsinghua_net.n_edges) < 0.6]
    whole = buffer_lines_raster(lines, HALF_WIDTH_M, CELL_M)
    tiled = buffer_lines_tiled(lines, HALF_WIDTH_M, CELL_M, **options)
    assert tiled.is_valid
    assert tiled.area == pytest.approx(whole.area, rel=1e-6)
    # tiles are joined on coordinates rounded to the millimetre: slivers of at most that width
    assert whole.symmetric_difference(tiled).area < whole.length * 0.001
    # holes survive the tiling (street blocks)
    holes = sum(len(p.interiors) for p in shapely.get_parts(tiled))
    assert holes == sum(len(p.interiors) for p in shapely.get_parts(whole)) > 10


@pytest.mark.parametrize("max_homes", [5000, 10])
def test_each_service_area_layer_draws_its_blind_spots(cau_maps, max_homes):
    from walkcircle.outputs.maps import study_map

    study, results, areas, iso, _ = cau_maps
    fmap = study_map(
        results.homes, results.facilities, study.profile, results.communities, iso, results.suggestions,
        lang="en", service_areas=areas, access=results.access, max_homes=max_homes,
    )  # fmt: skip
    groups = {
        child.layer_name: child
        for child in fmap._children.values()
        if getattr(child, "layer_name", "").startswith("Service area: ")
    }
    by_name = {study.profile.category(c).name("en"): c for c in study.profile.category_ids}
    assert len(groups) == len(study.profile.category_ids)
    for name, group in groups.items():
        cid = by_name[name.split(": ", 1)[1].rsplit(" ≤ ", 1)[0]]
        row = areas.set_index("category").loc[cid]
        layers = [c for c in group._children.values() if hasattr(c, "data")]
        spots = [
            f for layer in layers for f in layer.data["features"] if f["geometry"]["type"] != "MultiPolygon"
        ]
        if max_homes == 10:  # hexagons: each counts the residents of its homes outside the area
            spots = [
                f for f in spots if f["geometry"]["type"] == "Polygon" and "category" not in f["properties"]
            ]
        else:
            spots = [f for f in spots if f["geometry"]["type"] == "Point"]
            assert len(spots) == row.homes_not_covered
        total = sum(f["properties"]["population"] for f in spots)
        assert total == pytest.approx(row.residents_not_covered, abs=0.01 * max(len(spots), 1))


def test_the_notebook_view_of_a_map_is_self_contained(cau_osm):
    """In Jupyter the map draws offline too: Leaflet is inlined in the iframe, no CDN is named."""
    from walkcircle import Study

    fmap = Study(osm=cau_osm, homes="h3").map()
    shown = fmap._repr_html_()
    assert shown.startswith("<iframe srcdoc=")
    assert "cdn.jsdelivr" not in shown and "code.jquery.com" not in shown
    assert "L.map" in shown or "L.map(" in html_unescape(shown)


def html_unescape(text):
    import html

    return html.unescape(text)


TEMPLATE_LOOKALIKES = ["A {{ 7*7 }} B", "C {% x", "D {# y", "E }} {%- raw %}"]


@needs_browser
@pytest.mark.browser
def test_names_that_look_like_templates_reach_the_map_verbatim(cau_maps):
    """branca re-reads rendered layers as Jinja templates; our layers must not ("{{ 7*7 }}" became "49")."""
    from walkcircle.outputs.maps import save_map, study_map

    study, results, areas, iso, folder = cau_maps
    facilities = results.facilities.copy()
    facilities.loc[facilities.index[: len(TEMPLATE_LOOKALIKES)], "name"] = TEMPLATE_LOOKALIKES
    fmap = study_map(
        results.homes, facilities, study.profile, results.communities, iso, results.suggestions,
        lang="en", title="{{ title }} {%", service_areas=areas, access=results.access, network=results.network,
    )  # fmt: skip
    path = save_map(fmap, folder / "lookalikes.html")
    page = path.read_text(encoding="utf-8")
    assert "A 49 B" not in page and "{{ title }} {%" in page
    with offline_browser() as driver:
        open_map(driver, path)
        names = driver.execute_script(
            "const out = []; for (const v of Object.values(window)) { if (v instanceof L.GeoJSON) {"
            " v.eachLayer(l => { const p = l.feature && l.feature.properties; if (p && p.name) out.push(p.name); }); } }"
            " return out;"
        )
        legend = driver.execute_script("return document.body.innerText;")
    for name in TEMPLATE_LOOKALIKES:
        assert name in names
    assert "{{ title }} {%" in legend


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.text(max_size=12), min_size=1, max_size=4),
    xy=st.lists(st.tuples(st.floats(-180, 180), st.floats(-85, 85)), min_size=3, max_size=6),
)
def test_geometry_text_reaches_the_page_as_folium_would_write_it(names, xy):
    """A layer given GEOS's geometry text renders the same data as folium given parsed dicts."""
    import folium

    from walkcircle.outputs import _folium as fl

    geoms = [shapely.Point(xy[0]), shapely.LineString(xy), shapely.Polygon(xy).buffer(0.1)]
    names = ["</script> & 'x'", *names]
    features = [
        {"type": "Feature", "properties": {"name": name}, "geometry": geom}
        for name, geom in zip(names * 3, geoms, strict=False)
    ]
    pages = []
    for raw in (True, False):
        data = {
            "type": "FeatureCollection",
            "features": [
                {
                    **f,
                    "geometry": fl.RawGeometry(shapely.to_geojson(f["geometry"]))
                    if raw
                    else json.loads(shapely.to_geojson(f["geometry"])),
                }
                for f in features
            ],
        }
        fmap = folium.Map(tiles=None)
        (fl.GeoJson if raw else folium.GeoJson)(data, name="layer").add_to(fmap)
        pages.append(fmap.get_root().render())
    found = [re.findall(r"_add\((\{.*?\})\);\n", page) for page in pages]
    assert len(found[0]) == len(found[1]) == 1
    assert json.loads(found[0][0]) == json.loads(found[1][0])  # the same data
    assert "</" not in found[0][0]  # nothing a name holds can close the script
    # read as a mapping, the text is the geometry (type and truth without parsing it all)
    for geom in [*geoms, shapely.GeometryCollection(geoms[:2]), shapely.Polygon()]:
        text = shapely.to_geojson(geom)
        geometry = fl.RawGeometry(text)
        assert geometry["type"] == json.loads(text)["type"] and len(geometry) == len(json.loads(text))
        assert dict(geometry) == json.loads(text)


def _generalised_one_by_one(geometry, simplify_m, min_hole_m2):
    """`generalise_area` written out polygon by polygon (the reference)."""
    m_per_deg = 111_320.0 * np.sqrt(np.cos(np.radians(shapely.get_y(geometry.centroid))))
    kept = [
        shapely.Polygon(
            part.exterior,
            [h for h in part.interiors if shapely.Polygon(h).area >= min_hole_m2 / m_per_deg**2],
        )
        for part in shapely.get_parts(geometry)
    ]
    merged = kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)
    return shapely.simplify(merged, simplify_m / m_per_deg, preserve_topology=False)


@settings(max_examples=40, deadline=None)
@given(
    blocks=st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(5, 60)), min_size=1, max_size=12
    ),
    islands=st.integers(1, 3),
)
def test_generalise_area_fills_small_holes_and_simplifies_each_polygon(blocks, islands):
    from walkcircle.outputs.maps import generalise_area

    # street-like areas near Hebi: squares of 1 km with square holes (blocks) of 5-60 m
    deg = 1 / 111_320.0
    parts = []
    for k in range(islands):
        x0, y0 = 114.29 + k * 0.02, 35.75
        holes, holes_by_block = {}, {}
        for i, j, size in blocks:
            holes_by_block[(i, j)] = size
            x, y = x0 + (50 + 90 * i) * deg, y0 + (50 + 90 * j) * deg
            holes[(i, j)] = shapely.box(x, y, x + size * deg, y + size * deg).exterior.coords
        parts.append(
            shapely.Polygon(
                shapely.box(x0, y0, x0 + 1000 * deg, y0 + 1000 * deg).exterior.coords, list(holes.values())
            )
        )
    geometry = parts[0] if islands == 1 else shapely.MultiPolygon(parts)
    result = generalise_area(geometry, simplify_m=2.0, min_hole_m2=1000.0)
    expected = _generalised_one_by_one(geometry, 2.0, 1000.0)
    assert shapely.equals_exact(result, expected, tolerance=0.0)
    assert shapely.get_num_geometries(result) == islands
    # holes as the function measures them: square degrees at the geometric mean of the scales
    kept = [size * size * np.cos(np.radians(35.75)) >= 1000.0 for size in holes_by_block.values()]
    assert shapely.get_num_interior_rings(shapely.get_parts(result)).sum() == sum(kept) * islands
