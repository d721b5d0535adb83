"""Service areas (服务范围) and blind spots (盲区) per category of facility.

A category's service area is the street area from which a facility of that kind lies within
the category's threshold: one multi-source distance field from all its facilities at once,
routed on `walkcircle.routing.routing_graph` (facilities are sources, as in
`walkcircle.access`), every street piece within the threshold kept (the reachable part of
frontier edges included), plus each facility's walk to the street, then buffered by a street
half-width and contoured with `walkcircle.isochrones.buffer_lines_raster`, exactly like an
isochrone whose origins are all the facilities of the category.

Blind spots are the homes outside: ``AccessResult.nearest_m[:, c] > threshold`` (off-network
homes and homes on islands without that category included, since their distance is ``inf``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle import paths
from walkcircle._background import Background, Claims
from walkcircle.defaults import (
    DEFAULT_HALF_WIDTH_M,
    DEFAULT_SERVICE_AREA_CELL_M,
    DEFAULT_SERVICE_AREA_MAX_CELLS,
    DEFAULT_SNAP_CAP_M,
)
from walkcircle.errors import InputError, require_columns
from walkcircle.geodesy import to_lonlat
from walkcircle.isochrones import buffer_lines_raster, buffer_segments_raster, edge_substrings, reached_pieces
from walkcircle.network import Snapped, WalkNetwork
from walkcircle.routing import RoutingGraph, routing_graph

if TYPE_CHECKING:
    from walkcircle.access import AccessResult

__all__ = [
    "SERVICE_AREA_COLUMNS",
    "AreaDrawing",
    "blind_spots",
    "buffer_lines_apart",
    "buffer_lines_tiled",
    "covered_mask",
    "line_groups",
    "service_areas",
]

SERVICE_AREA_COLUMNS = [
    "category",
    "threshold_m",
    "facilities",
    "homes_covered",
    "homes_not_covered",
    "residents_covered",
    "residents_not_covered",
    "area_m2",
]


def covered_mask(access: AccessResult, category: str, threshold_m: float | None = None) -> np.ndarray:
    """Homes within a category's threshold of a facility of that category.

    Parameters
    ----------
    access
        Access results of the homes.
    category
        Category id.
    threshold_m
        Threshold, metres (default: the one the access was computed with).

    Returns
    -------
    numpy.ndarray
        Boolean per home; ``False`` for unreachable homes (``inf``).
    """
    c = access.column(category)
    limit = float(access.threshold_m[c]) if threshold_m is None else float(threshold_m)
    return access.nearest_m[:, c] <= limit


def _population(homes: pd.DataFrame | None, n: int) -> np.ndarray | None:
    if homes is None or "population" not in homes.columns:
        return None
    if len(homes) != n:
        msg = f"homes table has {len(homes)} rows but the access results {n}; pass the homes the access was computed for"
        raise InputError(msg)
    population = homes["population"].to_numpy(np.float64)
    if not np.isfinite(population).all() or (population < 0).any():
        msg = "homes table: column population must be finite and >= 0; fix or drop the bad rows"
        raise InputError(msg)
    return population


def _area_geometry(
    network: WalkNetwork,
    graph_pieces: tuple[np.ndarray, np.ndarray, np.ndarray],
    connectors: tuple[np.ndarray, np.ndarray],
    half_width_m: float,
    cell_m: float,
    max_cells: int = DEFAULT_SERVICE_AREA_MAX_CELLS,
) -> shapely.Geometry:
    """Buffer the reached street pieces and facility connectors (projected CRS).

    What `buffer_lines_apart` gives for the pieces and connectors as lines, drawn from their
    segments: no line is made unless a group needs tiles.
    """
    parent, from_m, to_m = graph_pieces
    coords, piece = edge_substrings(network, parent, from_m, to_m)
    start, end = connectors
    n_pieces = int(piece[-1]) + 1 if piece.size else 0
    same = piece[:-1] == piece[1:]
    a = np.concatenate([coords[:-1][same], start])  # segments: the pieces', then the connectors
    b = np.concatenate([coords[1:][same], end])
    line = np.concatenate([piece[:-1][same], n_pieces + np.arange(len(start))])
    if line.size == 0:
        return shapely.Polygon()
    bounds = np.concatenate([_piece_bounds(coords, piece, n_pieces), _segment_bounds(start, end)])
    reach = half_width_m + 2 * cell_m
    groups = _box_groups(bounds, reach)
    group_of_line = np.empty(len(bounds), np.int64)
    for g, rows in enumerate(groups):
        group_of_line[rows] = g
    seg_group = group_of_line[line]
    order = np.argsort(seg_group, kind="stable")
    cuts = np.searchsorted(seg_group[order], np.arange(len(groups) + 1))
    areas = []
    for g, rows in enumerate(groups):
        box = bounds[rows]
        x0, y0 = box[:, :2].min(axis=0)
        x1, y1 = box[:, 2:].max(axis=0)
        segs = order[cuts[g] : cuts[g + 1]]
        if (x1 - x0 + 2 * reach) * (y1 - y0 + 2 * reach) / cell_m**2 <= max_cells:
            areas.append(buffer_segments_raster(a[segs], b[segs], half_width_m, cell_m))
        else:  # a city-wide group: in tiles, from its lines (whole pieces: far fewer than segments)
            areas.append(
                buffer_lines_tiled(
                    _lines(coords, piece, connectors, rows), half_width_m, cell_m, max_cells=max_cells
                )
            )
    return _gathered(areas)


def _lines(
    coords: np.ndarray, piece: np.ndarray, connectors: tuple[np.ndarray, np.ndarray], rows: np.ndarray
) -> np.ndarray:
    """LineStrings of the lines `rows` (the pieces, numbered first, then the connectors), in order."""
    n_pieces = int(piece[-1]) + 1 if piece.size else 0
    on = np.flatnonzero(np.isin(piece, rows[rows < n_pieces]))
    kept = piece[on]  # sorted; numbered 0, 1, ... for shapely
    dense = np.cumsum(np.r_[True, kept[1:] != kept[:-1]]) - 1 if kept.size else kept
    pieces = shapely.linestrings(coords[on], indices=dense) if kept.size else np.empty(0, dtype=object)
    joined = rows[rows >= n_pieces] - n_pieces
    start, end = connectors
    return np.concatenate([pieces, shapely.linestrings(np.stack([start[joined], end[joined]], axis=1))])


def _piece_bounds(coords: np.ndarray, piece: np.ndarray, n_pieces: int) -> np.ndarray:
    """Each piece's box (x min, y min, x max, y max); `piece` is sorted, every piece has vertices."""
    if n_pieces == 0:
        return np.zeros((0, 4))
    first = np.searchsorted(piece, np.arange(n_pieces))
    return np.column_stack([np.minimum.reduceat(coords, first), np.maximum.reduceat(coords, first)])


def _segment_bounds(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Each segment's box (x min, y min, x max, y max)."""
    return np.column_stack([np.minimum(start, end), np.maximum(start, end)])


def _gathered(areas: list[shapely.Geometry]) -> shapely.Geometry:
    """Gather the polygons of disjoint areas into one (Multi)Polygon (an empty polygon for none)."""
    if len(areas) == 1:
        return areas[0]
    parts = shapely.get_parts(np.array(areas, dtype=object))
    parts = parts[shapely.get_type_id(parts) == 3]
    if parts.size == 0:
        return shapely.Polygon()
    return parts[0] if parts.size == 1 else shapely.MultiPolygon(list(parts))


def buffer_lines_apart(
    lines: np.ndarray,
    half_width_m: float,
    cell_m: float,
    max_cells: int = DEFAULT_SERVICE_AREA_MAX_CELLS,
) -> shapely.Geometry:
    """`buffer_lines_tiled` for each group of lines that lies apart from the others.

    A category's service area covers a fraction of the city's bounding box (a few per cent
    for a category with few facilities), so one raster of the whole box spends most of its
    cells on nothing. The lines are grouped (`line_groups`) so that no point within the
    field's reach of one group is within reach of another; each group is buffered on its own
    raster of the same global lattice, and the polygons, disjoint by construction, are
    gathered without a union. Every grid vertex that matters has the value it has on the
    whole box, so the result is the same polygons.

    Parameters
    ----------
    lines, half_width_m, cell_m, max_cells
        As in `buffer_lines_tiled` (LineStrings in metres, buffer distance, grid spacing,
        largest raster buffered in one piece).

    Returns
    -------
    shapely.Geometry
        What `buffer_lines_tiled` gives for all the lines at once.
    """
    if len(lines) == 0:
        return shapely.Polygon()
    groups = line_groups(lines, half_width_m + 2 * cell_m)
    return _gathered(
        [buffer_lines_tiled(lines[g], half_width_m, cell_m, max_cells=max_cells) for g in groups]
    )


def line_groups(lines: np.ndarray, reach_m: float) -> list[np.ndarray]:
    """Group lines so that no point within `reach_m` of one group is within `reach_m` of another.

    Each line's bounding box grown by `reach_m` is marked on a grid of `reach_m` blocks; groups
    are the blocks' connected pieces (diagonal neighbours count as connected), so two groups'
    grown boxes are at least a block apart.

    Parameters
    ----------
    lines
        LineStrings (metres).
    reach_m
        How far each group's influence goes, metres (> 0).

    Returns
    -------
    list of numpy.ndarray
        Row positions in `lines`, one array per group, in order of their first line.

    Examples
    --------
    >>> import shapely
    >>> lines = shapely.linestrings([[(0, 0), (10, 0)], [(500, 0), (510, 0)], [(20, 0), (30, 0)]])
    >>> [g.tolist() for g in line_groups(lines, 50.0)]
    [[0, 2], [1]]
    """
    return _box_groups(shapely.bounds(lines), reach_m)


def _box_groups(bounds: np.ndarray, reach_m: float) -> list[np.ndarray]:
    """`line_groups` of boxes (n, 4: x min, y min, x max, y max)."""
    from scipy import ndimage

    x0, y0 = bounds[:, 0].min() - reach_m, bounds[:, 1].min() - reach_m
    i0 = np.floor((bounds[:, 0] - reach_m - x0) / reach_m).astype(np.int64)
    i1 = np.floor((bounds[:, 2] + reach_m - x0) / reach_m).astype(np.int64)
    j0 = np.floor((bounds[:, 1] - reach_m - y0) / reach_m).astype(np.int64)
    j1 = np.floor((bounds[:, 3] + reach_m - y0) / reach_m).astype(np.int64)
    # every box marked at once: +1/-1 at its corners, then running sums along both axes
    marks = np.zeros((int(j1.max()) + 2, int(i1.max()) + 2), np.int64)
    np.add.at(marks, (j0, i0), 1)
    np.add.at(marks, (j0, i1 + 1), -1)
    np.add.at(marks, (j1 + 1, i0), -1)
    np.add.at(marks, (j1 + 1, i1 + 1), 1)
    covered = marks.cumsum(axis=0).cumsum(axis=1) > 0
    labels, _ = ndimage.label(covered, structure=np.ones((3, 3), bool))
    group = labels[j0, i0]
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))  # groups in order of their first line
    order = np.argsort(rank[inverse], kind="stable")
    return np.split(order, np.cumsum(np.bincount(rank[inverse]))[:-1])


def buffer_lines_tiled(
    lines: np.ndarray,
    half_width_m: float,
    cell_m: float,
    tile_m: float | None = None,
    max_cells: int = DEFAULT_SERVICE_AREA_MAX_CELLS,
) -> shapely.Geometry:
    """`walkcircle.isochrones.buffer_lines_raster`, in square tiles when one raster would be huge.

    A city-wide service area on one grid needs a raster of the whole city. Up to `max_cells`
    grid vertices it is one raster; beyond, tiles (aligned to the cell lattice) are buffered one
    at a time from the lines clipped to the tile plus the buffer's reach (so the distance field
    inside the tile is exact), cut to the tile and joined, so memory stays bounded; tiles
    without lines cost nothing.

    Parameters
    ----------
    lines
        LineStrings in a projected CRS (metres).
    half_width_m
        Buffer distance.
    cell_m
        Grid spacing.
    tile_m
        Tile side, metres (rounded to whole cells); default: from `max_cells`.
    max_cells
        Largest raster (grid vertices) buffered in one piece.

    Returns
    -------
    shapely.Geometry
        (Multi)Polygon with holes, or an empty polygon.
    """
    if len(lines) == 0:
        return shapely.Polygon()
    x0, y0, x1, y1 = shapely.total_bounds(lines)
    reach = half_width_m + 2 * cell_m
    if tile_m is None:
        if (x1 - x0 + 2 * reach) * (y1 - y0 + 2 * reach) / cell_m**2 <= max_cells:
            return buffer_lines_raster(lines, half_width_m, cell_m)
        tile_m = np.sqrt(max_cells) * cell_m - 2 * reach
    if max(x1 - x0, y1 - y0) <= tile_m:
        return buffer_lines_raster(lines, half_width_m, cell_m)
    side = max(1, round(tile_m / cell_m)) * cell_m
    tree = shapely.STRtree(lines)
    # tile edges computed once, so neighbouring tiles share them bit for bit
    xs = np.floor((x0 - reach) / side) * side + side * np.arange(
        int(np.ceil((x1 - x0 + 2 * reach) / side)) + 2
    )
    ys = np.floor((y0 - reach) / side) * side + side * np.arange(
        int(np.ceil((y1 - y0 + 2 * reach) / side)) + 2
    )
    pieces = []
    for i in range(xs.size - 1):
        for j in range(ys.size - 1):
            cut = _tile_area(lines, tree, (xs[i], ys[j], xs[i + 1], ys[j + 1]), half_width_m, cell_m, reach)
            if cut is not None:
                pieces.append(cut)
    if not pieces:
        return shapely.Polygon()
    polygons = shapely.get_parts(np.array(pieces, dtype=object))
    return _join_tiles(polygons[shapely.get_type_id(polygons) == 3])


def _join_tiles(polygons: np.ndarray) -> shapely.Geometry:
    """Join polygons cut along tile lines into one (Multi)Polygon, holes and islands in holes kept.

    The tiles meet along lattice lines where both sides traced the same field, so the pieces
    form a coverage; coordinates are rounded to the millimetre first, since each tile's grid
    origin differs and the same crossing can differ in the last bits. (Joining only the outer
    rings and putting the holes back lost islands that lie inside a hole.)
    """
    rounded = shapely.transform(polygons, lambda c: np.round(c, 3))
    try:
        joined = shapely.coverage_union_all(rounded)
        if not joined.is_valid:
            joined = shapely.union_all(rounded)
    except shapely.errors.GEOSException:
        joined = shapely.union_all(rounded)
    parts = shapely.get_parts(joined)
    parts = parts[shapely.get_type_id(parts) == 3]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(parts))


def _tile_area(
    lines: np.ndarray,
    tree: shapely.STRtree,
    box: tuple[float, float, float, float],
    half_width_m: float,
    cell_m: float,
    reach: float,
) -> shapely.Geometry | None:
    """Buffer the lines within one tile (None when the tile holds none of the buffer)."""
    tx0, ty0, tx1, ty1 = box
    outer = (tx0 - reach, ty0 - reach, tx1 + reach, ty1 + reach)
    near = tree.query(shapely.box(*outer))
    if near.size == 0:
        return None
    clipped = shapely.clip_by_rect(lines[near], *outer)
    parts = shapely.get_parts(clipped[~shapely.is_empty(clipped)])  # clipping can split a line
    parts = parts[shapely.get_type_id(parts) == 1]
    if parts.size == 0:
        return None
    cut = shapely.clip_by_rect(buffer_lines_raster(parts, half_width_m, cell_m), tx0, ty0, tx1, ty1)
    return None if cut.is_empty else cut


def service_areas(
    network: WalkNetwork,
    facilities: gpd.GeoDataFrame | pd.DataFrame,
    thresholds_m: Mapping[str, float],
    access: AccessResult | None = None,
    homes: pd.DataFrame | None = None,
    categories: Sequence[str] | None = None,
    half_width_m: float = DEFAULT_HALF_WIDTH_M,
    cell_m: float = DEFAULT_SERVICE_AREA_CELL_M,
    snap_cap_m: float = DEFAULT_SNAP_CAP_M,
) -> gpd.GeoDataFrame:
    """Service area of every category: the streets within its threshold of one of its facilities.

    Parameters
    ----------
    network
        The walking network.
    facilities
        Facilities with ``category``, ``lon``, ``lat`` (WGS-84).
    thresholds_m
        Category id -> threshold, metres (e.g. ``dict(zip(access.categories,
        access.threshold_m))``).
    access
        Access results of the homes: gives the covered / not covered counts (blind spots).
        Without it those columns are ``<NA>``.
    homes
        The homes `access` was computed for, with ``population`` (residents columns are
        ``<NA>`` without it).
    categories
        Categories, in order (default: the keys of `thresholds_m`). A category without a
        facility on the network gets an empty polygon and every home not covered.
    half_width_m
        Street half-width the reached streets are buffered by, metres.
    cell_m
        Grid spacing of the contoured distance field, metres (<= `half_width_m`).
    snap_cap_m
        Facilities farther than this from every street are not used (as in access).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per category: ``category``, ``threshold_m``, ``facilities`` (on the network),
        ``homes_covered``, ``homes_not_covered``, ``residents_covered``,
        ``residents_not_covered``, ``area_m2`` and the (Multi)Polygon, holes kept, in WGS-84.
    """
    drawing = AreaDrawing(
        network, facilities, thresholds_m, categories, half_width_m=half_width_m, cell_m=cell_m,
        snap_cap_m=snap_cap_m,
    )  # fmt: skip
    return drawing.start().finish(access, homes)


class AreaDrawing:
    """The service-area polygons of every category, drawn by this process and a forked child together.

    Making one only checks the inputs. `start` forks a child that snaps and routes the
    facilities (every category at once, a multi-source search) and draws categories, the
    largest first, while this process goes on (a `walkcircle.study.Study` starts it as soon as
    the network and the facilities are read, so the polygons are drawn while the homes are
    placed and the access computed); `finish` routes here too, draws whatever the child has not
    taken, waits for the child and adds the blind-spot counts. Each category is drawn by
    exactly one of the two processes: they take them from a shared list under a lock that the
    system releases if a process dies. Where fork is missing or unsafe, `finish` draws them all
    here.

    Parameters
    ----------
    network, facilities, thresholds_m, categories, half_width_m, cell_m, snap_cap_m
        As in `service_areas`.
    """

    def __init__(
        self,
        network: WalkNetwork,
        facilities: gpd.GeoDataFrame | pd.DataFrame,
        thresholds_m: Mapping[str, float],
        categories: Sequence[str] | None = None,
        half_width_m: float = DEFAULT_HALF_WIDTH_M,
        cell_m: float = DEFAULT_SERVICE_AREA_CELL_M,
        snap_cap_m: float = DEFAULT_SNAP_CAP_M,
    ) -> None:
        self.categories, self.limits = _checked(facilities, thresholds_m, categories, half_width_m, cell_m)
        self.network, self.half_width_m, self.cell_m = network, half_width_m, cell_m
        self._facilities, self._snap_cap_m = facilities, snap_cap_m
        self._routed: _Routed | None = None  # routed where first needed: in the child, here at `finish`
        self._claims = Claims(len(self.categories))
        self._child: Background | None = None
        self._drawn: dict[int, tuple[float, bytes]] | None = None
        self._cancelled = False

    @property
    def routed(self) -> _Routed:
        """The facilities snapped and routed (computed on first use, in each process that uses it)."""
        if self._routed is None:
            self._routed = _route(
                self.network, self._facilities, self.categories, self.limits, self._snap_cap_m
            )
        return self._routed

    def start(self) -> AreaDrawing:
        """Fork the child that draws categories until none is left (nothing happens twice).

        Returns
        -------
        AreaDrawing
            Itself.
        """
        if self._child is None and len(self.categories) > 1:
            self.network.prepare_snapping()  # built once, here: the child inherits it
            self._child = Background(self._draw_claimed)  # routes the facilities there first
        return self

    def finish(
        self, access: AccessResult | None = None, homes: pd.DataFrame | None = None
    ) -> gpd.GeoDataFrame:
        """Draw the categories left, wait for the child, and count the homes covered and not.

        Parameters
        ----------
        access, homes
            As in `service_areas`.

        Returns
        -------
        geopandas.GeoDataFrame
            As `service_areas` returns.
        """
        drawn = self._drawn_all()
        area_m2 = np.array([drawn[g][0] for g in range(len(self.categories))], np.float64)
        wkb = np.array([drawn[g][1] for g in range(len(self.categories))], dtype=object)
        frame = pd.DataFrame(
            {
                "category": self.categories,
                "threshold_m": self.limits,
                "facilities": [int(m.size) for m in self.routed.members],
            }
        )
        _add_counts(frame, access, homes, self.categories, self.limits)
        frame["area_m2"] = area_m2
        return gpd.GeoDataFrame(
            frame[SERVICE_AREA_COLUMNS], geometry=list(shapely.from_wkb(wkb)), crs="EPSG:4326"
        )

    def cancel(self) -> None:
        """Stop the child if it still runs (the drawing cannot be finished afterwards)."""
        if self._child is not None:
            self._child.kill()
            self._child = None
        self._claims.close()
        self._cancelled = self._drawn is None

    def __del__(self) -> None:
        """Stop the child of a drawing dropped unfinished (it would wait on its pipe until this process ends)."""
        with contextlib.suppress(Exception):
            if self._child is not None:
                self.cancel()

    def _drawn_all(self) -> dict[int, tuple[float, bytes]]:
        """Every category's area and WKB: drawn here and by the child (once; kept for a later `finish`)."""
        if self._drawn is None:
            if self._cancelled:
                msg = "this service-area drawing was cancelled; make a new AreaDrawing"
                raise RuntimeError(msg)
            drawn = self._draw_claimed()
            if self._child is not None:
                child, self._child = self._child, None
                # a child that died or failed: its share is drawn below, here (where a failure repeats)
                with contextlib.suppress(Exception):
                    drawn.update(child.join())
            for g in range(len(self.categories)):  # whatever a dead child had taken
                if g not in drawn:
                    drawn[g] = self._draw(g)
            self._claims.close()
            self._drawn = drawn
        return self._drawn

    def _draw_claimed(self) -> dict[int, tuple[float, bytes]]:
        """Draw categories taken from the shared list until it is empty: ``{g: (area m², WGS-84 WKB)}``."""
        drawn = {}
        while (g := self._claims.take(self.routed.order)) is not None:
            drawn[g] = self._draw(g)
        return drawn

    def _draw(self, g: int) -> tuple[float, bytes]:
        """Category `g`'s area (m², projected) and its polygon as WGS-84 WKB."""
        projected = self._area(g)
        wgs = shapely.transform(
            projected, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1], self.network.epsg))
        )
        return float(shapely.area(projected)), shapely.to_wkb(wgs)

    def _area(self, g: int) -> shapely.Geometry:
        """Category `g`'s service area in the network's projected CRS."""
        routed = self.routed
        rows, limit, snapped = routed.members[g], float(self.limits[g]), routed.snapped
        if rows.size == 0:
            return shapely.Polygon()
        near = rows[snapped.offset_m[rows] <= limit]
        # each facility's walk to the street (a point where it sits on the street)
        connectors = (
            np.column_stack([routed.fac_x[near], routed.fac_y[near]]),
            np.column_stack([snapped.x[near], snapped.y[near]]),
        )
        pieces = reached_pieces(routed.graph, routed.dist[g], limit)
        return _area_geometry(self.network, pieces, connectors, self.half_width_m, self.cell_m)


@dataclass(frozen=True)
class _Routed:
    """Facilities snapped and routed: per category its facility rows and distance field."""

    snapped: Snapped
    graph: RoutingGraph
    fac_x: np.ndarray
    fac_y: np.ndarray
    members: list[np.ndarray]
    dist: np.ndarray
    order: list[int]  # categories, the most reached nodes first (the costliest to draw)


def _route(
    network: WalkNetwork,
    facilities: pd.DataFrame,
    categories: list[str],
    limits: np.ndarray,
    snap_cap_m: float,
) -> _Routed:
    """Snap the facilities, route every category's at once (up to the largest threshold)."""
    fac_cat = facilities["category"].astype(str).to_numpy()
    fac_lon = facilities["lon"].to_numpy(np.float64)
    fac_lat = facilities["lat"].to_numpy(np.float64)
    snapped = network.snap(fac_lon, fac_lat, snap_cap_m)
    graph = routing_graph(network, {"facilities": (snapped, "source")})
    fac_node = graph.point_node["facilities"]
    fac_x, fac_y = network.project(fac_lon, fac_lat)
    members = [np.flatnonzero((fac_cat == cid) & (fac_node >= 0)) for cid in categories]
    groups = [fac_node[rows] for rows in members]
    dist = paths.nearest(graph.csr, groups, limit=float(limits.max()))[0] if categories else np.zeros((0, 0))
    reached = [int(np.count_nonzero(dist[g] <= limits[g])) if m.size else 0 for g, m in enumerate(members)]
    order = sorted(range(len(reached)), key=lambda g: -reached[g])
    return _Routed(snapped, graph, fac_x, fac_y, members, dist, order)


def _checked(
    facilities: pd.DataFrame,
    thresholds_m: Mapping[str, float],
    categories: Sequence[str] | None,
    half_width_m: float,
    cell_m: float,
) -> tuple[list[str], np.ndarray]:
    """Check the inputs of `service_areas`; return the categories and their thresholds (m)."""
    categories = list(thresholds_m) if categories is None else list(categories)
    missing = [c for c in categories if c not in thresholds_m]
    if missing:
        msg = f"no threshold for categor{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}; give thresholds_m for every category"
        raise InputError(msg)
    require_columns(facilities, ("category", "lon", "lat"), "facilities table")
    if half_width_m <= 0 or not 0 < cell_m <= half_width_m:
        msg = f"need half_width_m > 0 and 0 < cell_m <= half_width_m (got {half_width_m}, {cell_m})"
        raise InputError(msg)
    limits = np.array([float(thresholds_m[c]) for c in categories], np.float64)
    if (limits <= 0).any() or not np.isfinite(limits).all():
        msg = (
            f"thresholds must be finite and > 0 m (got {dict(zip(categories, limits.tolist(), strict=True))})"
        )
        raise InputError(msg)
    return categories, limits


def _add_counts(
    frame: pd.DataFrame,
    access: AccessResult | None,
    homes: pd.DataFrame | None,
    categories: list[str],
    limits: np.ndarray,
) -> None:
    """Fill the covered / not covered columns (``<NA>`` where the inputs are missing)."""
    n = len(categories)
    homes_in = pd.array([pd.NA] * n, dtype="Int64")
    homes_out = pd.array([pd.NA] * n, dtype="Int64")
    res_in = pd.array([pd.NA] * n, dtype="Float64")
    res_out = pd.array([pd.NA] * n, dtype="Float64")
    if access is not None:
        population = _population(homes, access.nearest_m.shape[0])
        for g, cid in enumerate(categories):
            covered = covered_mask(access, cid, limits[g])
            homes_in[g] = int(covered.sum())
            homes_out[g] = int((~covered).sum())
            if population is not None:
                res_in[g] = float(population[covered].sum())
                res_out[g] = float(population[~covered].sum())
    frame["homes_covered"] = homes_in
    frame["homes_not_covered"] = homes_out
    frame["residents_covered"] = res_in
    frame["residents_not_covered"] = res_out


def blind_spots(
    homes: gpd.GeoDataFrame, access: AccessResult, categories: Sequence[str] | None = None
) -> gpd.GeoDataFrame:
    """List the homes outside each category's service area (盲区), one row per home and category.

    Parameters
    ----------
    homes
        The homes `access` was computed for (same order), with a geometry and optionally
        ``population`` and ``community``.
    access
        Their access results.
    categories
        Categories (default: all of `access`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``home`` (row position in `homes`), ``category``, ``nearest_m`` (``inf`` where
        unreachable), ``threshold_m``, ``population`` (1 per home without that column),
        ``community`` (when present) and the home's geometry.
    """
    if len(homes) != access.nearest_m.shape[0]:
        msg = f"homes table has {len(homes)} rows but the access results {access.nearest_m.shape[0]}; pass the homes the access was computed for"
        raise InputError(msg)
    categories = list(access.categories) if categories is None else list(categories)
    population = _population(homes, len(homes))
    parts = []
    for cid in categories:
        c = access.column(cid)
        idx = np.flatnonzero(~covered_mask(access, cid))
        part = pd.DataFrame(
            {
                "home": idx,
                "category": cid,
                "nearest_m": access.nearest_m[idx, c],
                "threshold_m": float(access.threshold_m[c]),
                "population": population[idx] if population is not None else np.ones(idx.size),
            }
        )
        if "community" in homes.columns:
            part["community"] = homes["community"].to_numpy()[idx]
        part["geometry"] = homes.geometry.to_numpy()[idx]
        parts.append(part)
    columns = ["home", "category", "nearest_m", "threshold_m", "population", "geometry"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=homes.crs or "EPSG:4326")
