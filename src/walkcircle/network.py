"""The walking network: nodes, an undirected CSR adjacency with edge lengths, edge geometries.

`WalkNetwork` is the core's view of the street network. It is built from OSM way segments
(see `walkcircle.sources.osm`) by `build_network`, which merges chains of segments between
intersections into edges the way osmnx's simplification does, but with array operations
only. Edge lengths are geodesic (WGS-84 ellipsoid); snapping and geometry work happens in
the local UTM zone.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from walkcircle._arrays import unique_values
from walkcircle.defaults import DEFAULT_SNAP_CAP_M
from walkcircle.errors import EmptyNetworkError, InputError
from walkcircle.geodesy import geodesic_lengths, to_projected, utm_epsg

if TYPE_CHECKING:
    import geopandas as gpd

_CACHE_FORMAT = 2  # 2: nodes in Hilbert order (older caches are rebuilt)


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network.

    Attributes
    ----------
    node_id
        OSM node id of each node (int64), index = node number used everywhere else.
    lon, lat
        WGS-84 position of each node, degrees.
    x, y
        Position in the local UTM zone (`epsg`), metres.
    edge_u, edge_v
        Node numbers at the two ends of each edge. Walking is allowed both ways.
    edge_length_m
        Geodesic length of each edge along its geometry, metres.
    edge_way_id
        The OSM way each edge comes from.
    edge_highway, edge_name
        The way's ``highway`` and ``name`` tags ("" when absent).
    geom_offsets
        Edge ``k``'s vertices are ``geom_*[geom_offsets[k]:geom_offsets[k + 1]]``, from
        ``edge_u`` to ``edge_v``.
    geom_lon, geom_lat, geom_x, geom_y
        Flattened edge vertices, WGS-84 degrees and UTM metres.
    epsg
        The projected CRS of ``x``/``y``.
    source
        Where the network came from (file path or query), for reports.
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_way_id: np.ndarray
    edge_highway: np.ndarray
    edge_name: np.ndarray
    geom_offsets: np.ndarray
    geom_lon: np.ndarray
    geom_lat: np.ndarray
    geom_x: np.ndarray
    geom_y: np.ndarray
    epsg: int
    source: str = field(default="")

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.size)

    @property
    def n_edges(self) -> int:
        """Number of edges (parallel edges counted separately)."""
        return int(self.edge_u.size)

    # ------------------------------------------------------------------ graph
    @cached_property
    def graph(self) -> sparse.csr_matrix:
        """Symmetric CSR adjacency, weights in metres (the shortest of parallel edges).

        Explicit zeros are kept: scipy's csgraph treats them as zero-length edges, which is
        what two distinct nodes at the same position are.
        """
        return adjacency(self.edge_u, self.edge_v, self.edge_length_m, self.n_nodes)

    @cached_property
    def component(self) -> np.ndarray:
        """Connected-component label of each node (0 = the component with most length)."""
        _, labels = connected_components(self.graph, directed=False)
        edge_labels = labels[self.edge_u]
        length_by_label = np.bincount(edge_labels, weights=self.edge_length_m, minlength=labels.max() + 1)
        # relabel so that 0 is the largest component by street length, 1 the next...
        order = np.argsort(-length_by_label, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[labels]

    @property
    def n_components(self) -> int:
        """Number of connected components (islands)."""
        return int(self.component.max()) + 1 if self.n_nodes else 0

    def summary(self) -> dict[str, Any]:
        """Return nodes, edges, length_km, components and largest_share (of length).

        Returns
        -------
        dict
            JSON-ready summary of the network.
        """
        total = float(self.edge_length_m.sum())
        in_largest = float(self.edge_length_m[self.component[self.edge_u] == 0].sum())
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "length_km": round(total / 1000.0, 3),
            "components": self.n_components,
            "largest_share": round(in_largest / total, 4) if total > 0 else 0.0,
        }

    # --------------------------------------------------------------- geometry
    @cached_property
    def edge_lines(self) -> np.ndarray:
        """Edge geometries as shapely LineStrings in the projected CRS (UTM metres)."""
        return _linestrings(self.geom_x, self.geom_y, self.geom_offsets)

    @cached_property
    def _edge_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.edge_lines)

    @cached_property
    def _edge_planar_length(self) -> np.ndarray:
        return shapely.length(self.edge_lines)

    def prepare_snapping(self) -> WalkNetwork:
        """Build the edge index that `snap` uses now, not on the first snap.

        A process about to fork children that snap (`walkcircle.service_areas.AreaDrawing`)
        builds it once here, and the children share it instead of each building its own.

        Returns
        -------
        WalkNetwork
            Itself.
        """
        _ = self._edge_tree, self._edge_planar_length
        return self

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Return (west, south, east, north) of all edge vertices, degrees."""
        return (
            float(self.geom_lon.min()),
            float(self.geom_lat.min()),
            float(self.geom_lon.max()),
            float(self.geom_lat.max()),
        )

    def project(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Project WGS-84 lon/lat into this network's CRS.

        Parameters
        ----------
        lon, lat
            Degrees.

        Returns
        -------
        tuple of numpy.ndarray
            x, y in metres.
        """
        return to_projected(lon, lat, self.epsg)

    def snap(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        max_offset_m: float = DEFAULT_SNAP_CAP_M,
    ) -> Snapped:
        """Project points onto their nearest edge.

        Parameters
        ----------
        lon, lat
            WGS-84 coordinates of the points, degrees.
        max_offset_m
            Points farther than this from every street are flagged off-network (their
            nearest edge and offset are still reported, for diagnostics).

        Returns
        -------
        Snapped
            Edge, position along it (metres from ``edge_u``, geodesic scale), offset to the
            street (metres) and the off-network flag, per point.
        """
        if max_offset_m <= 0:
            msg = f"max_offset_m must be > 0 (got {max_offset_m}); it is the farthest a point may sit from a street"
            raise InputError(msg)
        x, y = self.project(np.atleast_1d(lon), np.atleast_1d(lat))
        return self.snap_xy(x, y, max_offset_m=max_offset_m)

    def snap_xy(
        self, x: npt.ArrayLike, y: npt.ArrayLike, max_offset_m: float = DEFAULT_SNAP_CAP_M
    ) -> Snapped:
        """Snap points given in this network's projected CRS; see `snap`.

        Parameters
        ----------
        x, y
            Projected coordinates, metres.
        max_offset_m
            Off-network cap, metres.

        Returns
        -------
        Snapped
            The snapping of each point.
        """
        x = np.atleast_1d(np.asarray(x, np.float64))
        y = np.atleast_1d(np.asarray(y, np.float64))
        n = x.size
        edge = np.full(n, -1, dtype=np.int64)
        offset = np.full(n, np.inf)
        position = np.zeros(n)
        if n == 0 or self.n_edges == 0:
            return Snapped(edge, position, offset, np.ones(n, bool), x.copy(), y.copy())
        points = shapely.points(x, y)
        valid = np.isfinite(x) & np.isfinite(y)
        (pt_idx, edge_idx), dist = self._edge_tree.query_nearest(
            points[valid], all_matches=False, return_distance=True
        )
        where = np.flatnonzero(valid)[pt_idx]
        edge[where] = edge_idx
        offset[where] = dist
        lines = self.edge_lines[edge_idx]
        along_planar = shapely.line_locate_point(lines, points[where])
        planar_len = self._edge_planar_length[edge_idx]
        scale = np.divide(
            self.edge_length_m[edge_idx], planar_len, out=np.ones_like(planar_len), where=planar_len > 0
        )
        position[where] = np.clip(along_planar * scale, 0.0, self.edge_length_m[edge_idx])
        on_street = shapely.line_interpolate_point(lines, along_planar)
        sx = x.copy()
        sy = y.copy()
        sx[where] = shapely.get_x(on_street)
        sy[where] = shapely.get_y(on_street)
        off_network = ~(offset <= max_offset_m)
        return Snapped(edge, position, offset, off_network, sx, sy)

    # -------------------------------------------------------------- exports
    def edges_geodataframe(self) -> gpd.GeoDataFrame:
        """Return the edges as a GeoDataFrame in WGS-84.

        Returns
        -------
        geopandas.GeoDataFrame
            Columns u, v (OSM node ids), way_id, highway, name, length_m, component, geometry.
        """
        import geopandas as gpd

        lines = _linestrings(self.geom_lon, self.geom_lat, self.geom_offsets)
        return gpd.GeoDataFrame(self.edge_attributes(), geometry=lines, crs="EPSG:4326")

    def edge_attributes(self) -> dict[str, np.ndarray]:
        """Return the edges' attribute columns, as the edges layer of the outputs has them.

        Returns
        -------
        dict
            u, v (OSM node ids), way_id, highway, name, length_m, component: one value per edge.
        """
        return {
            "u": self.node_id[self.edge_u],
            "v": self.node_id[self.edge_v],
            "way_id": self.edge_way_id,
            "highway": self.edge_highway.astype(str),
            "name": self.edge_name.astype(str),
            "length_m": self.edge_length_m,
            "component": self.component[self.edge_u],
        }

    def to_networkx(self) -> Any:
        """Return the network as an osmnx-style networkx MultiDiGraph (see `walkcircle.nxgraph`).

        Returns
        -------
        networkx.MultiDiGraph
            Nodes with ``x``/``y``; edges both ways with ``length`` (m) and ``geometry``; ``crs``.
        """
        from walkcircle.nxgraph import to_networkx

        return to_networkx(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to an uncompressed ``.npz`` cache (written to a temporary name, then renamed).

        Parameters
        ----------
        path
            Target file; ``.npz`` is appended if missing.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"format": _CACHE_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value.astype(str) if value.dtype == object else value
            else:
                meta[f.name] = value
        arrays["_meta"] = np.array(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WalkNetwork:
        """Load a network saved by `save`.

        Parameters
        ----------
        path
            The ``.npz`` file.

        Returns
        -------
        WalkNetwork
            The network.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["_meta"]))
                if meta.get("format") != _CACHE_FORMAT:
                    msg = f"{path}: network cache format {meta.get('format')} is not {_CACHE_FORMAT}; delete it to rebuild"
                    raise InputError(msg)
                kwargs: dict[str, Any] = {k: data[k] for k in data.files if k != "_meta"}
        except FileNotFoundError as exc:
            msg = f"{path}: no such network cache"
            raise InputError(msg) from exc
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, InputError):
                raise
            msg = f"{path}: not a walkcircle network cache ({exc.__class__.__name__}); delete it to rebuild"
            raise InputError(msg) from exc
        kwargs.update({k: v for k, v in meta.items() if k != "format"})
        return cls(**kwargs)


@dataclass(frozen=True)
class Snapped:
    """Points snapped onto a `WalkNetwork`'s edges.

    Attributes
    ----------
    edge
        Index of the nearest edge (-1 where the point has no finite coordinates).
    position_m
        Distance along the edge from its ``edge_u`` end, metres.
    offset_m
        Straight-line distance from the point to the street, metres.
    off_network
        True where the offset exceeds the cap (or the point is invalid): such points are
        not routed and count as unreachable.
    x, y
        The snapped position on the street, projected metres.
    """

    edge: np.ndarray
    position_m: np.ndarray
    offset_m: np.ndarray
    off_network: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.size)

    def subset(self, mask: npt.ArrayLike) -> Snapped:
        """Return the snapping of a subset of the points.

        Parameters
        ----------
        mask
            Boolean mask or integer index.

        Returns
        -------
        Snapped
            The selected points.
        """
        return Snapped(*(getattr(self, f.name)[mask] for f in fields(self)))


# ---------------------------------------------------------------------------- building


def adjacency(
    edge_u: np.ndarray, edge_v: np.ndarray, edge_length_m: np.ndarray, n_nodes: int
) -> sparse.csr_matrix:
    """Build a symmetric CSR adjacency keeping the shortest of parallel edges.

    Parameters
    ----------
    edge_u, edge_v
        Edge end nodes.
    edge_length_m
        Edge weights.
    n_nodes
        Matrix size.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n_nodes`` x ``n_nodes``; self-loops dropped.
    """
    rows = np.concatenate([edge_u, edge_v]).astype(np.int64, copy=False)
    cols = np.concatenate([edge_v, edge_u]).astype(np.int64, copy=False)
    return csr_min(rows, cols, np.concatenate([edge_length_m, edge_length_m]), n_nodes)


def csr_min(rows: np.ndarray, cols: np.ndarray, data: np.ndarray, n: int) -> sparse.csr_matrix:
    """Build a CSR matrix keeping the smallest weight among duplicate (row, col) entries.

    Parameters
    ----------
    rows, cols
        Entry positions (int64); self-loops (``row == col``) are dropped.
    data
        Entry weights.
    n
        Matrix size.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n`` x ``n`` with sorted indices.
    """
    keep = rows != cols
    rows, cols, data = rows[keep], cols[keep], data[keep]
    # one int64 key per entry: a single argsort is about 4x faster than lexsort on three keys
    key = rows.astype(np.int64, copy=False) * n + cols
    order = np.argsort(key, kind="stable")
    key, data = key[order], data[order]
    if key.size:
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        key, data = key[starts], np.minimum.reduceat(data, starts)
    rows = key // n
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sparse.csr_matrix((data, key - rows * n, indptr), shape=(n, n))


def build_network(
    node_id: np.ndarray,
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    seg_u: np.ndarray,
    seg_v: np.ndarray,
    seg_way: np.ndarray,
    way_id: np.ndarray,
    way_highway: np.ndarray,
    way_name: np.ndarray,
    source: str = "",
) -> WalkNetwork:
    """Build a `WalkNetwork` from straight OSM way segments.

    Nodes of the network are the OSM nodes where the street graph branches or a way
    changes: nodes with other than two incident segments, nodes shared by different ways,
    and one node on each isolated ring. Chains of segments between them become edges
    that keep every intermediate vertex as geometry.

    Parameters
    ----------
    node_id, node_lon, node_lat
        All OSM nodes that segments may refer to.
    seg_u, seg_v
        Segment ends as indices into the node arrays (consecutive nodes of a way).
    seg_way
        Index of each segment's way in the way arrays.
    way_id, way_highway, way_name
        OSM way id and tags.
    source
        Description of the input, kept on the network.

    Returns
    -------
    WalkNetwork
        The network.

    Raises
    ------
    EmptyNetworkError
        If there is no segment of positive extent.
    """
    seg_u = np.asarray(seg_u, np.int64)
    seg_v = np.asarray(seg_v, np.int64)
    seg_way = np.asarray(seg_way, np.int64)
    keep = seg_u != seg_v
    seg_u, seg_v, seg_way = seg_u[keep], seg_v[keep], seg_way[keep]
    if seg_u.size == 0:
        msg = f"{source or 'input'}: no walkable ways (no highway=* way that pedestrians may use)"
        raise EmptyNetworkError(msg)

    seg_len = geodesic_lengths(node_lon[seg_u], node_lat[seg_u], node_lon[seg_v], node_lat[seg_v])
    chain_root, chain_rank, half_from, half_to = _chain_segments(seg_u, seg_v, seg_way, node_id.size)

    # one direction of each chain: keep half-edges whose chain starts at the smaller root
    n_seg = seg_u.size
    half = np.arange(2 * n_seg)
    kept = chain_root[half] < chain_root[half ^ 1]
    half = half[kept]
    order = np.lexsort((chain_rank[half], chain_root[half]))
    half = half[order]
    roots = chain_root[half]
    starts = np.flatnonzero(np.r_[True, roots[1:] != roots[:-1]])
    ends = np.r_[starts[1:], half.size]  # exclusive
    n_edges = starts.size

    seg_of_half = half >> 1
    edge_len = np.add.reduceat(seg_len[seg_of_half], starts)
    edge_u_osm = half_from[half[starts]]
    edge_v_osm = half_to[half[ends - 1]]
    edge_way = seg_way[seg_of_half[starts]]

    # geometry: from-node of each half-edge, plus the to-node of each chain's last one
    counts = ends - starts + 1
    geom_offsets = np.zeros(n_edges + 1, dtype=np.int64)
    np.cumsum(counts, out=geom_offsets[1:])
    vertex_nodes = np.empty(int(geom_offsets[-1]), dtype=np.int64)
    # position of half-edge i (sorted order) within the flattened vertices: i + its edge number
    edge_of_sorted = np.repeat(np.arange(n_edges), ends - starts)
    vertex_nodes[np.arange(half.size) + edge_of_sorted] = half_from[half]
    vertex_nodes[geom_offsets[1:] - 1] = edge_v_osm

    return assemble_network(
        node_id=node_id,
        node_lon=node_lon,
        node_lat=node_lat,
        edge_u=edge_u_osm,
        edge_v=edge_v_osm,
        edge_length_m=edge_len,
        vertex_nodes=vertex_nodes,
        geom_offsets=geom_offsets,
        edge_way_id=np.asarray(way_id, np.int64)[edge_way],
        edge_highway=np.asarray(way_highway, dtype=str)[edge_way],
        edge_name=np.asarray(way_name, dtype=str)[edge_way],
        source=source,
    )


def assemble_network(
    node_id: np.ndarray,
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_length_m: np.ndarray,
    vertex_nodes: np.ndarray | None,
    geom_offsets: np.ndarray,
    edge_way_id: np.ndarray,
    edge_highway: np.ndarray,
    edge_name: np.ndarray,
    source: str = "",
    geom_lon: np.ndarray | None = None,
    geom_lat: np.ndarray | None = None,
) -> WalkNetwork:
    """Make a `WalkNetwork` from finished edges, keeping only the nodes edges use.

    Parameters
    ----------
    node_id, node_lon, node_lat
        Candidate nodes; edges refer to them by index.
    edge_u, edge_v
        Edge ends (indices into the node arrays).
    edge_length_m
        Edge lengths, metres.
    vertex_nodes
        Flattened edge vertices as node indices, or None when `geom_lon`/`geom_lat` give
        the vertex coordinates directly.
    geom_offsets
        Offsets of each edge's vertices in the flattened vertex arrays.
    edge_way_id, edge_highway, edge_name
        Per-edge attributes.
    source
        Description of the input.
    geom_lon, geom_lat
        Flattened vertex coordinates when `vertex_nodes` is None.

    Returns
    -------
    WalkNetwork
        The network, projected onto the UTM zone of its median node.
    """
    used = unique_values(np.concatenate([edge_u, edge_v]))
    lon = np.asarray(node_lon[used], np.float64)
    lat = np.asarray(node_lat[used], np.float64)
    epsg = utm_epsg(float(np.median(lon)), float(np.median(lat)))
    x, y = to_projected(lon, lat, epsg)
    # number nodes along a Hilbert curve: neighbours on the street get nearby numbers,
    # whatever order the input lists them in (OSM ids are not spatial)
    node_order = spatial_order(x, y)
    used, lon, lat, x, y = used[node_order], lon[node_order], lat[node_order], x[node_order], y[node_order]
    new_index = np.full(node_id.size, -1, dtype=np.int64)
    new_index[used] = np.arange(used.size)
    if vertex_nodes is not None:
        geom_lon = node_lon[vertex_nodes]
        geom_lat = node_lat[vertex_nodes]
    assert geom_lon is not None
    assert geom_lat is not None
    edge_u, edge_v = new_index[edge_u], new_index[edge_v]
    # edges in the order of their lower end, so pieces split off them stay close too
    edge_order = np.lexsort((np.maximum(edge_u, edge_v), np.minimum(edge_u, edge_v)))
    geom_offsets = np.asarray(geom_offsets, np.int64)
    vertex_take, geom_offsets = _reorder_ragged(geom_offsets, edge_order)
    geom_lon = np.asarray(geom_lon, np.float64)[vertex_take]
    geom_lat = np.asarray(geom_lat, np.float64)[vertex_take]
    geom_x, geom_y = to_projected(geom_lon, geom_lat, epsg)
    return WalkNetwork(
        node_id=np.asarray(node_id[used], np.int64),
        lon=lon,
        lat=lat,
        x=x,
        y=y,
        edge_u=edge_u[edge_order],
        edge_v=edge_v[edge_order],
        edge_length_m=np.asarray(edge_length_m, np.float64)[edge_order],
        edge_way_id=np.asarray(edge_way_id, np.int64)[edge_order],
        edge_highway=np.asarray(edge_highway, dtype=str)[edge_order],
        edge_name=np.asarray(edge_name, dtype=str)[edge_order],
        geom_offsets=geom_offsets,
        geom_lon=geom_lon,
        geom_lat=geom_lat,
        geom_x=geom_x,
        geom_y=geom_y,
        epsg=epsg,
        source=source,
    )


def spatial_order(x: np.ndarray, y: np.ndarray, bits: int = 16) -> np.ndarray:
    """Order points along a Hilbert curve over their bounding box.

    Numbering the network's nodes in this order puts nodes that are close on the ground
    close in memory, so the shortest-path kernels (which touch a node's street neighbours
    right after the node) read mostly cached data whatever order the input used.

    Parameters
    ----------
    x, y
        Projected coordinates, metres (non-finite values sort last).
    bits
        Resolution of the curve per axis (``2**bits`` cells across the bounding box).

    Returns
    -------
    numpy.ndarray
        A permutation: ``order[i]`` is the point that comes ``i``-th (stable for ties).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.size == 0:
        return np.zeros(0, np.int64)
    finite = np.isfinite(x) & np.isfinite(y)
    side = (1 << bits) - 1
    ix = np.zeros(x.size, np.int64)
    iy = np.zeros(x.size, np.int64)
    if finite.any():
        x0, y0 = x[finite].min(), y[finite].min()
        span = max(float(x[finite].max() - x0), float(y[finite].max() - y0), 1e-9)
        ix[finite] = np.clip(((x[finite] - x0) / span * side).astype(np.int64), 0, side)
        iy[finite] = np.clip(((y[finite] - y0) / span * side).astype(np.int64), 0, side)
    key = _hilbert_key(ix, iy, bits)
    key[~finite] = np.iinfo(np.int64).max
    return np.argsort(key, kind="stable")


def _hilbert_key(ix: np.ndarray, iy: np.ndarray, bits: int) -> np.ndarray:
    """Distance along the Hilbert curve of integer cells (the classic xy -> d, vectorised)."""
    x = ix.copy()
    y = iy.copy()
    d = np.zeros(x.size, np.int64)
    top = (1 << bits) - 1
    s = 1 << (bits - 1)
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        # rotate the quadrant so that the curve inside it has the standard orientation
        flip = ~ry
        swap_x = np.where(flip & rx, top - x, x)
        swap_y = np.where(flip & rx, top - y, y)
        x = np.where(flip, swap_y, swap_x)
        y = np.where(flip, swap_x, swap_y)
        s >>= 1
    return d


def _reorder_ragged(offsets: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gather index and new offsets that list ragged rows (``offsets``) in ``order``."""
    counts = np.diff(offsets)[order]
    new_offsets = np.zeros(order.size + 1, np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    take = np.repeat(offsets[:-1][order] - new_offsets[:-1], counts) + np.arange(int(new_offsets[-1]))
    return take, new_offsets


def _chain_segments(
    seg_u: np.ndarray, seg_v: np.ndarray, seg_way: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group half-edges into chains between branch nodes by pointer jumping.

    Half-edge ``2i`` runs ``seg_u[i] -> seg_v[i]``, ``2i + 1`` the other way.

    Returns
    -------
    tuple of numpy.ndarray
        ``chain_root`` (first half-edge of each half-edge's chain), ``chain_rank`` (its
        place in the chain), ``half_from``, ``half_to``.
    """
    n_seg = seg_u.size
    half_from = np.empty(2 * n_seg, np.int64)
    half_to = np.empty(2 * n_seg, np.int64)
    half_from[0::2], half_from[1::2] = seg_u, seg_v
    half_to[0::2], half_to[1::2] = seg_v, seg_u
    half_way = np.repeat(seg_way, 2)

    degree = np.bincount(half_from, minlength=n_nodes)
    lowest_way = np.full(n_nodes, np.iinfo(np.int64).max)
    highest_way = np.full(n_nodes, -1)
    np.minimum.at(lowest_way, half_from, half_way)
    np.maximum.at(highest_way, half_from, half_way)
    branch = (degree != 2) | (lowest_way != highest_way)

    # the two outgoing half-edges of each node of degree 2 are neighbours in this order
    by_from = np.argsort(half_from, kind="stable")
    partner = np.full(2 * n_seg, -1, np.int64)
    two = degree[half_from[by_from]] == 2
    first_of_pair = by_from[two][0::2]
    second_of_pair = by_from[two][1::2]
    partner[first_of_pair] = second_of_pair
    partner[second_of_pair] = first_of_pair

    for _ in range(2):
        root, rank, on_ring = _jump_to_chain_start(half_from, half_to, partner, branch)
        if not on_ring.any():
            return root, rank, half_from, half_to
        # isolated rings have no branch node: make the smallest node of each ring one
        branch = branch.copy()
        branch[_ring_min_nodes(half_from, half_to, partner, on_ring)] = True
    msg = "internal error: rings left after marking ring nodes"  # pragma: no cover
    raise RuntimeError(msg)  # pragma: no cover


def _next_half(half_to: np.ndarray, partner: np.ndarray, branch: np.ndarray) -> np.ndarray:
    """Continue each half-edge through a non-branch node (-1 at branch nodes)."""
    half = np.arange(half_to.size)
    nxt = partner[half ^ 1]
    return np.where(branch[half_to], -1, nxt)


def _jump_to_chain_start(
    half_from: np.ndarray, half_to: np.ndarray, partner: np.ndarray, branch: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nxt = _next_half(half_to, partner, branch)
    n_half = half_to.size
    prev = np.full(n_half, -1, np.int64)
    has_next = nxt >= 0
    prev[nxt[has_next]] = np.flatnonzero(has_next)
    is_start = prev < 0
    pointer = np.where(is_start, np.arange(n_half), prev)
    rank = (~is_start).astype(np.int64)
    for _ in range(int(np.ceil(np.log2(max(n_half, 2)))) + 1):
        rank = rank + np.where(is_start[pointer], 0, rank[pointer])
        pointer = pointer[pointer]
        if is_start[pointer].all():
            break
    on_ring = ~is_start[pointer]
    return pointer, rank, on_ring


def _ring_min_nodes(
    half_from: np.ndarray, half_to: np.ndarray, partner: np.ndarray, on_ring: np.ndarray
) -> np.ndarray:
    n_half = half_to.size
    nxt = partner[np.arange(n_half) ^ 1]
    ring_halves = np.flatnonzero(on_ring)
    smallest = half_from.copy()
    pointer = nxt.copy()
    for _ in range(int(np.ceil(np.log2(max(n_half, 2)))) + 1):
        smallest[ring_halves] = np.minimum(smallest[ring_halves], smallest[pointer[ring_halves]])
        pointer[ring_halves] = pointer[pointer[ring_halves]]
    return unique_values(smallest[ring_halves])


def _linestrings(x: np.ndarray, y: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    counts = np.diff(offsets)
    indices = np.repeat(np.arange(counts.size), counts)
    return shapely.linestrings(np.column_stack([x, y]), indices=indices)
