"""Isochrones: the street area reachable on foot from origins within time budgets.

From each origin the walk is routed over the split network (as in `walkcircle.access`); every
street piece reached within the budget is kept, including the reachable part of edges at the
frontier, then the pieces are buffered by a street half-width (default 25 m). Not a convex hull
of reached nodes, which overstates reach across rivers, rail lines and gated blocks.

Speed: buffering every piece and unioning the buffers with GEOS (``method="union"``, kept as
the reference) costs tens of milliseconds per isochrone, and buffering all pieces as one
MultiLineString is slower still. The default (``method="raster"``) computes the exact distance
from every vertex of a fine grid (``cell_m``, default 4 m) to the nearest reached piece, in a
numba kernel that only visits grid vertices within reach of each segment, and traces the
``distance = half-width`` level with contourpy's filled contours, holes included. Because the
distance field is exact at the vertices and linear along straight streets, the boundary is
within centimetres of the true buffer except where it cuts sharp inner corners by under a cell;
`benchmarks/bench_isochrones.py` measures the speed and the area difference against the union.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import contourpy
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle import paths
from walkcircle._kernels import _distance_field
from walkcircle.defaults import DEFAULT_HALF_WIDTH_M, DEFAULT_SNAP_CAP_M, DEFAULT_SPEED_KMH
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.geodesy import to_lonlat
from walkcircle.network import WalkNetwork
from walkcircle.routing import RoutingGraph, minutes_to_metres, routing_graph

DEFAULT_QUAD_SEGS = 8
DEFAULT_CELL_M = 4.0
METHODS = ("raster", "union")
_CHUNK_CELLS = 20_000_000  # origins x nodes per Dijkstra batch (about 160 MB of distances)


def reached_pieces(
    graph: RoutingGraph, dist: np.ndarray, budget_m: float, edges: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Street pieces reachable within a budget, as spans of the network's edges.

    Parameters
    ----------
    graph
        The routing graph.
    dist
        Distance of every routing node from the origin.
    budget_m
        The budget, metres.
    edges
        Only look at these street edges of the routing graph (e.g. those with an end within
        the largest budget); default all.

    Returns
    -------
    tuple of numpy.ndarray
        ``parent`` edge, ``from_m`` and ``to_m`` (metres along it from its ``edge_u``) of each
        reached piece; an edge reached from both ends but not in the middle gives two pieces.
    """
    a, b = graph.edge_a, graph.edge_b
    start, end, parents = graph.edge_from_m, graph.edge_to_m, graph.edge_parent
    if edges is not None:
        a, b, start, end, parents = a[edges], b[edges], start[edges], end[edges], parents[edges]
    length = end - start
    reach_a = budget_m - dist[a]  # how far into the piece a walk from its a end gets
    reach_b = budget_m - dist[b]
    full = (reach_a >= length) | (reach_b >= length) | (reach_a + reach_b >= length)
    full &= (reach_a >= 0) | (reach_b >= 0)
    part_a = ~full & (reach_a > 0)
    part_b = ~full & (reach_b > 0)
    parent = np.concatenate([parents[full], parents[part_a], parents[part_b]])
    from_m = np.concatenate([start[full], start[part_a], end[part_b] - reach_b[part_b]])
    to_m = np.concatenate([end[full], start[part_a] + reach_a[part_a], end[part_b]])
    return parent, from_m, to_m


@dataclass(frozen=True)
class _EdgeMeasure:
    """Planar distance of every edge vertex from its edge's start, on one increasing key."""

    cum: np.ndarray
    key: np.ndarray
    base: np.ndarray
    scale: np.ndarray


_MEASURES: weakref.WeakKeyDictionary[WalkNetwork, _EdgeMeasure] = weakref.WeakKeyDictionary()


def _edge_measure(network: WalkNetwork) -> _EdgeMeasure:
    """Whole-network arrays for `edge_substrings`, computed once per network."""
    cached = _MEASURES.get(network)
    if cached is not None:
        return cached
    gx, gy, offsets = network.geom_x, network.geom_y, network.geom_offsets
    seg = np.hypot(np.diff(gx), np.diff(gy))
    vertex_edge = np.repeat(np.arange(network.n_edges), np.diff(offsets))
    first = offsets[:-1]
    seg[first[1:] - 1] = 0.0  # no segment between one edge's last vertex and the next edge's first
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    cum = cum - cum[first][vertex_edge]  # planar distance of each vertex from its edge's start
    planar_len = cum[offsets[1:] - 1]
    # planar and geodesic lengths differ slightly (UTM scale): convert spans to planar
    scale = np.divide(
        planar_len, network.edge_length_m, out=np.ones_like(planar_len), where=network.edge_length_m > 0
    )
    # one increasing key over all edges: each edge gets its own interval [base, base + length]
    base = np.concatenate([[0.0], np.cumsum(planar_len + 1.0)])[:-1]
    measure = _EdgeMeasure(cum=cum, key=base[vertex_edge] + cum, base=base, scale=scale)
    _MEASURES[network] = measure
    return measure


def edge_substrings(
    network: WalkNetwork, parent: np.ndarray, from_m: np.ndarray, to_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cut pieces out of the network's edges, vectorised.

    The whole-network arrays this needs are computed once per network and kept while the
    network lives, so each call costs only in proportion to the pieces.

    Parameters
    ----------
    network
        The network whose edge geometries are cut.
    parent, from_m, to_m
        Edge and span of each piece (geodesic metres from the edge's ``edge_u`` end).

    Returns
    -------
    tuple of numpy.ndarray
        Vertex coordinates (n, 2) in the projected CRS, and the piece each vertex belongs
        to (pieces of zero length are dropped).
    """
    keep = to_m > from_m
    parent, from_m, to_m = parent[keep], from_m[keep], to_m[keep]
    gx, gy, offsets = network.geom_x, network.geom_y, network.geom_offsets
    measure = _edge_measure(network)
    cum, key, base = measure.cum, measure.key, measure.base
    first = offsets[:-1]
    s = from_m * measure.scale[parent]
    t = to_m * measure.scale[parent]
    lo = np.searchsorted(key, base[parent] + s, side="right")  # first interior vertex
    hi = np.searchsorted(key, base[parent] + t, side="left")  # one past the last interior vertex
    lo = np.clip(lo, first[parent] + 1, offsets[parent + 1] - 1)
    hi = np.clip(hi, lo, offsets[parent + 1] - 1)

    def point_at(dist_along: np.ndarray, after: np.ndarray) -> np.ndarray:
        j = after - 1  # segment from vertex j to j + 1 contains the point
        seg_len = cum[j + 1] - cum[j]
        frac = np.divide(dist_along - cum[j], seg_len, out=np.zeros_like(dist_along), where=seg_len > 0)
        frac = np.clip(frac, 0.0, 1.0)
        return np.column_stack([gx[j] + frac * (gx[j + 1] - gx[j]), gy[j] + frac * (gy[j + 1] - gy[j])])

    start_pt = point_at(s, lo)
    end_pt = point_at(t, np.maximum(hi, lo))
    n_interior = hi - lo
    counts = n_interior + 2
    starts = np.cumsum(counts) - counts  # (no pieces: no starts)
    piece = np.repeat(np.arange(parent.size), counts)
    coords = np.empty((int(counts.sum()), 2))
    coords[starts] = start_pt
    coords[starts + counts - 1] = end_pt
    interior_piece = np.repeat(np.arange(parent.size), n_interior)
    interior_rank = np.arange(interior_piece.size) - np.repeat(np.cumsum(n_interior) - n_interior, n_interior)
    src = lo[interior_piece] + interior_rank
    coords[starts[interior_piece] + 1 + interior_rank] = np.column_stack([gx[src], gy[src]])
    return coords, piece


def _filled_polygons(points: np.ndarray | None, offsets: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Polygons from contourpy's combined filled output (rings by `offsets`, polygons by `outer`)."""
    if points is None or len(points) == 0:
        return np.empty(0, dtype=object)
    rings = shapely.linearrings(points, indices=np.repeat(np.arange(offsets.size - 1), np.diff(offsets)))
    return shapely.polygons(rings, indices=np.repeat(np.arange(outer.size - 1), np.diff(outer)))


def buffer_lines_raster(
    lines: np.ndarray, half_width_m: float, cell_m: float = DEFAULT_CELL_M
) -> shapely.Geometry:
    """Buffer many lines by tracing the level ``distance = half_width_m`` of their distance field.

    Parameters
    ----------
    lines
        LineStrings in a projected CRS (metres).
    half_width_m
        Buffer distance.
    cell_m
        Grid spacing; the boundary is exact at grid crossings and linear between them.

    Returns
    -------
    shapely.Geometry
        (Multi)Polygon with holes, or an empty polygon for no lines.
    """
    if len(lines) == 0:
        return shapely.Polygon()
    coords = shapely.get_coordinates(lines)
    ends = np.cumsum(shapely.get_num_coordinates(lines))
    is_start = np.ones(len(coords), bool)
    is_start[ends - 1] = False
    return buffer_segments_raster(
        coords[is_start], coords[np.flatnonzero(is_start) + 1], half_width_m, cell_m
    )


def buffer_segments_raster(
    a: np.ndarray, b: np.ndarray, half_width_m: float, cell_m: float = DEFAULT_CELL_M
) -> shapely.Geometry:
    """`buffer_lines_raster` of the segments from `a` to `b`: the same polygons, without lines.

    Parameters
    ----------
    a, b
        Segment ends, (n, 2) in a projected CRS (metres); a segment may have zero length.
    half_width_m, cell_m
        As in `buffer_lines_raster`.

    Returns
    -------
    shapely.Geometry
        (Multi)Polygon with holes, or an empty polygon for no segments.

    Examples
    --------
    >>> import numpy as np
    >>> area = buffer_segments_raster(np.array([[0.0, 0.0]]), np.array([[100.0, 0.0]]), 10.0, 2.0)
    >>> bool(abs(area.area - (200 * 10 + np.pi * 100)) < 10)
    True
    """
    if len(a) == 0:
        return shapely.Polygon()
    reach = half_width_m + 2 * cell_m
    # a global lattice (multiples of the cell) so nested budgets share grid vertices
    x_min = np.floor((min(a[:, 0].min(), b[:, 0].min()) - reach) / cell_m) * cell_m
    y_min = np.floor((min(a[:, 1].min(), b[:, 1].min()) - reach) / cell_m) * cell_m
    nx = int(np.ceil((max(a[:, 0].max(), b[:, 0].max()) + reach - x_min) / cell_m)) + 1
    ny = int(np.ceil((max(a[:, 1].max(), b[:, 1].max()) + reach - y_min) / cell_m)) + 1
    paths._before_kernels()
    field = _distance_field(a[:, 0], a[:, 1], b[:, 0], b[:, 1], x_min, y_min, cell_m, nx, ny, reach)
    x, y = np.meshgrid(x_min + np.arange(nx) * cell_m, y_min + np.arange(ny) * cell_m)
    # the class itself: contourpy.contour_generator would also scan the field for NaN (it has none)
    generator = contourpy.SerialContourGenerator(
        x, y, field, None, corner_mask=True, line_type=contourpy.LineType.Separate,
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset, quad_as_tri=False,
        z_interp=contourpy.ZInterp.Linear, x_chunk_size=0, y_chunk_size=0,
    )  # fmt: skip
    (points,), (offsets,), (outer,) = generator.filled(-1.0, half_width_m)  # one chunk
    polygons = _filled_polygons(points, offsets, outer)
    if polygons.size == 0:
        return shapely.Polygon()
    return polygons[0] if polygons.size == 1 else shapely.multipolygons(polygons)


def buffer_lines_union(
    lines: np.ndarray, half_width_m: float, quad_segs: int = DEFAULT_QUAD_SEGS
) -> shapely.Geometry:
    """Buffer each line and union the buffers (GEOS): the slow, exact reference.

    Parameters
    ----------
    lines
        LineStrings (metres).
    half_width_m
        Buffer distance.
    quad_segs
        Segments per quarter circle.

    Returns
    -------
    shapely.Geometry
        The union.
    """
    if len(lines) == 0:
        return shapely.Polygon()
    return shapely.union_all(shapely.buffer(lines, half_width_m, quad_segs=quad_segs))


def isochrones(
    network: WalkNetwork,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    minutes: Sequence[float] = (5, 10, 15),
    speed_kmh: float = DEFAULT_SPEED_KMH,
    half_width_m: float = DEFAULT_HALF_WIDTH_M,
    origin_ids: Sequence[str] | None = None,
    snap_cap_m: float = DEFAULT_SNAP_CAP_M,
    method: str = "raster",
    cell_m: float = DEFAULT_CELL_M,
) -> gpd.GeoDataFrame:
    """Isochrone polygons for one or many origins at several time budgets.

    Parameters
    ----------
    network
        The walking network.
    lon, lat
        Origins, WGS-84 degrees.
    minutes
        Budgets, minutes (> 0).
    speed_kmh
        Walking speed (> 0).
    half_width_m
        Street half-width the reached streets are buffered by (> 0).
    origin_ids
        Names of the origins (default ``"0"``, ``"1"``...).
    snap_cap_m
        Origins farther than this from every street get an empty polygon (and a warning).
    method
        ``"raster"`` (default, fast: exact distance field + contour) or ``"union"`` (buffer
        each piece and union them: the reference).
    cell_m
        Grid spacing of the raster method, metres.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per (origin, budget): ``origin_id``, ``minutes``, ``budget_m``, ``area_m2``,
        ``geometry`` (WGS-84; holes kept).
    """
    lon = np.atleast_1d(np.asarray(lon, np.float64))
    lat = np.atleast_1d(np.asarray(lat, np.float64))
    if lon.size == 0:
        msg = "give at least one origin"
        raise InputError(msg)
    if half_width_m <= 0:
        msg = f"street half-width must be > 0 m (got {half_width_m})"
        raise InputError(msg)
    if method not in METHODS:
        msg = f"unknown isochrone method {method!r}; use one of {', '.join(METHODS)}"
        raise InputError(msg)
    if not 0 < cell_m <= half_width_m:
        msg = f"cell_m must be > 0 and <= the half-width (got {cell_m})"
        raise InputError(msg)
    budgets_min = np.asarray(sorted(set(float(m) for m in minutes)), np.float64)
    budgets_m = minutes_to_metres(budgets_min, speed_kmh)
    ids = [str(i) for i in range(lon.size)] if origin_ids is None else [str(i) for i in origin_ids]
    if len(ids) != lon.size:
        msg = f"{len(ids)} origin ids for {lon.size} origins"
        raise InputError(msg)

    w, s, e, n = network.bounds_lonlat()
    outside = (lon < w) | (lon > e) | (lat < s) | (lat > n)
    snapped = network.snap(lon, lat, max_offset_m=snap_cap_m)
    for i in np.flatnonzero(outside | snapped.off_network):
        where = (
            "outside the network's bounds"
            if outside[i]
            else f"{snapped.offset_m[i]:.0f} m from the nearest street"
        )
        warnings.warn(
            f"origin {ids[i]} ({lon[i]:.5f}, {lat[i]:.5f}) lies {where}"
            + ("; its isochrones are empty" if snapped.off_network[i] else ""),
            WalkcircleWarning,
            stacklevel=2,
        )
    graph = routing_graph(network, {"origins": (snapped, "source")})
    origin_node = graph.point_node["origins"]
    origin_x, origin_y = network.project(lon, lat)
    offset = np.where(snapped.off_network, np.inf, snapped.offset_m)

    rows = [
        {"origin_id": ids[i], "minutes": minutes_i, "budget_m": budget}
        for i in range(lon.size)
        for minutes_i, budget in zip(budgets_min, budgets_m, strict=True)
    ]
    geoms: list[shapely.Geometry] = []
    areas: list[np.ndarray] = []
    chunk = max(1, _CHUNK_CELLS // max(graph.n_nodes, 1))
    # origins' geometry work (numba, GEOS and contourpy, mostly without the GIL) on a pool
    with ThreadPoolExecutor(max_workers=paths.get_threads()) as pool:
        for lo_i in range(0, lon.size, chunk):
            idx = np.arange(lo_i, min(lon.size, lo_i + chunk))
            dist, _ = paths.nearest(
                graph.csr, [origin_node[i : i + 1] for i in idx], limit=float(budgets_m.max())
            )
            jobs = [
                pool.submit(
                    _origin_isochrones,
                    network,
                    graph,
                    dist[row],
                    budgets_m,
                    ((origin_x[i], origin_y[i]), (snapped.x[i], snapped.y[i]), offset[i]),
                    half_width_m,
                    method,
                    cell_m,
                )
                for row, i in enumerate(idx)
            ]
            for job in jobs:
                area, lonlat = job.result()
                areas.append(area)
                geoms.extend(lonlat)
    frame = pd.DataFrame(rows)
    frame["area_m2"] = np.concatenate(areas) if areas else np.zeros(0)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")


def _origin_isochrones(
    network: WalkNetwork,
    graph: RoutingGraph,
    dist: np.ndarray,
    budgets_m: np.ndarray,
    origin: tuple[tuple[float, float], tuple[float, float], float],
    half_width_m: float,
    method: str,
    cell_m: float,
) -> tuple[np.ndarray, list[shapely.Geometry]]:
    """One origin's isochrones for every budget: areas (m², projected) and polygons in WGS-84.

    Runs on a worker thread, reprojection included.
    """
    # only street edges with an end inside the largest budget can hold reached pieces
    a_end, b_end = dist[graph.edge_a], dist[graph.edge_b]
    edges = np.flatnonzero((a_end <= budgets_m.max()) | (b_end <= budgets_m.max()))
    origin_xy, street_xy, offset_m = origin
    projected = np.array(
        [
            _one_isochrone(
                network,
                graph,
                dist,
                budget,
                origin_xy,
                street_xy,
                offset_m,
                half_width_m,
                method,
                cell_m,
                edges,
            )
            for budget in budgets_m
        ],
        dtype=object,
    )
    lonlat = shapely.transform(
        projected, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1], network.epsg))
    )
    return shapely.area(projected), list(lonlat)


def _one_isochrone(
    network: WalkNetwork,
    graph: RoutingGraph,
    dist: np.ndarray,
    budget_m: float,
    origin_xy: tuple[float, float],
    street_xy: tuple[float, float],
    offset_m: float,
    half_width_m: float,
    method: str,
    cell_m: float,
    edges: np.ndarray | None = None,
) -> shapely.Geometry:
    """Buffer the street pieces one origin reaches within one budget (projected CRS)."""
    if not np.isfinite(offset_m) or offset_m > budget_m:
        return shapely.Polygon()
    parent, from_m, to_m = reached_pieces(graph, dist, budget_m, edges)
    coords, piece = edge_substrings(network, parent, from_m, to_m)
    lines = list(shapely.linestrings(coords, indices=piece)) if coords.size else []
    # the walk from the origin to the street belongs to the reach too (a point if on it)
    lines.append(shapely.LineString([origin_xy, street_xy] if offset_m > 0 else [street_xy, street_xy]))
    array = np.array(lines, dtype=object)
    if method == "union":
        return buffer_lines_union(array, half_width_m)
    return buffer_lines_raster(array, half_width_m, cell_m)


def isochrones_around(
    network: WalkNetwork,
    points: Sequence[tuple[float, float]],
    minutes: Sequence[float] = (5, 10, 15),
    speed_kmh: float = DEFAULT_SPEED_KMH,
    **options: object,
) -> gpd.GeoDataFrame:
    """Isochrones around (lon, lat) points, each named ``"lon,lat"`` (what maps and files show).

    Parameters
    ----------
    network
        The walking network.
    points
        Origins as (lon, lat) pairs, WGS-84.
    minutes
        Budgets, minutes.
    speed_kmh
        Walking speed.
    **options
        Passed to `isochrones` (``half_width_m``, ``method``, ``cell_m``...).

    Returns
    -------
    geopandas.GeoDataFrame
        As `isochrones`.
    """
    points = _on_network(network, points, float(options.get("snap_cap_m", DEFAULT_SNAP_CAP_M)))  # type: ignore[arg-type]
    if not points:
        columns = {"origin_id": "object", "minutes": "float64", "budget_m": "float64", "area_m2": "float64"}
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=d) for c, d in columns.items()}, geometry=[], crs="EPSG:4326"
        )
    return isochrones(
        network,
        [p[0] for p in points],
        [p[1] for p in points],
        minutes,
        speed_kmh=speed_kmh,
        origin_ids=[f"{p[0]:.5f},{p[1]:.5f}" for p in points],
        **options,  # type: ignore[arg-type]
    )


def _on_network(
    network: WalkNetwork, points: Sequence[tuple[float, float]], snap_cap_m: float
) -> list[tuple[float, float]]:
    """Keep the origins within the snap cap of a street; warn about the others (they are left out)."""
    if not len(points):
        return []
    lon, lat = (np.asarray([p[i] for p in points], np.float64) for i in (0, 1))
    snapped = network.snap(lon, lat, snap_cap_m)
    for k in np.flatnonzero(snapped.off_network):
        warnings.warn(
            f"isochrone origin {lon[k]:.6f},{lat[k]:.6f} is farther than {snap_cap_m:g} m from every street of "
            "the network and was left out; check the point (LON,LAT in WGS-84) and the study area",
            WalkcircleWarning,
            stacklevel=3,
        )
    return [p for p, off in zip(points, snapped.off_network, strict=True) if not off]
