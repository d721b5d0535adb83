"""The routing graph: the street network split at snapped points, and walking-unit conversions.

Homes and facilities are snapped onto edges (not nodes). `routing_graph` splits each edge at
the snapped points and hangs each point off the street by its straight-line offset: a source
point (a facility, an isochrone origin, a candidate site) gets a one-way link to the street, a
target point (a home) a one-way link from it, so no walk passes through a home or a facility.
Access, isochrones and siting all route on this graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from walkcircle.defaults import DEFAULT_SPEED_KMH, ELDERLY_SPEED_KMH
from walkcircle.errors import InputError
from walkcircle.network import Snapped, WalkNetwork, csr_min

__all__ = ["RoutingGraph", "minutes_to_metres", "routing_graph", "speed_mps"]


def speed_mps(speed_kmh: float) -> float:
    """Convert km/h to m/s, refusing speeds that are not positive.

    Parameters
    ----------
    speed_kmh
        Walking speed.

    Returns
    -------
    float
        Metres per second.
    """
    if not np.isfinite(speed_kmh) or speed_kmh <= 0:
        msg = f"walking speed must be > 0 km/h (got {speed_kmh}); the default is {DEFAULT_SPEED_KMH}, elderly {ELDERLY_SPEED_KMH}"
        raise InputError(msg)
    return speed_kmh / 3.6


def minutes_to_metres(minutes: float | Sequence[float] | np.ndarray, speed_kmh: float) -> np.ndarray:
    """Convert walking minutes to metres at a speed.

    Parameters
    ----------
    minutes
        Minutes (> 0).
    speed_kmh
        Walking speed.

    Returns
    -------
    numpy.ndarray
        Metres.
    """
    values = np.atleast_1d(np.asarray(minutes, np.float64))
    if (values <= 0).any() or not np.isfinite(values).all():
        msg = f"time budgets must be > 0 minutes (got {values.tolist()})"
        raise InputError(msg)
    return values * speed_mps(speed_kmh) * 60.0


# ---------------------------------------------------------------------------- routing graph


@dataclass(frozen=True)
class RoutingGraph:
    """The street graph split at snapped points, with one virtual node per point.

    Attributes
    ----------
    csr
        Directed adjacency (metres).
    n_base
        Nodes ``0..n_base-1`` are the network's nodes.
    point_node
        Per point set: the virtual node of each point (``-1`` if off-network).
    street_node
        Per point set: the node on the street where each point joins it (``-1`` if off).
    edge_a, edge_b
        Undirected street edges of the routing graph (both directions are in `csr`).
    edge_parent, edge_from_m, edge_to_m
        Which network edge each street edge is a piece of, and the piece's span along it
        (metres from the parent's ``edge_u``; ``edge_a`` sits at ``edge_from_m``).
    """

    csr: sparse.csr_matrix
    n_base: int
    point_node: dict[str, np.ndarray]
    street_node: dict[str, np.ndarray]
    edge_a: np.ndarray
    edge_b: np.ndarray
    edge_parent: np.ndarray
    edge_from_m: np.ndarray
    edge_to_m: np.ndarray

    @property
    def n_nodes(self) -> int:
        """All nodes: network, split and virtual."""
        return int(self.csr.shape[0])


def routing_graph(network: WalkNetwork, point_sets: Mapping[str, tuple[Snapped, str]]) -> RoutingGraph:
    """Split the network's edges at snapped points and attach every point by its offset.

    Parameters
    ----------
    network
        The walking network.
    point_sets
        Name -> (snapping, kind) where kind is ``"source"`` (walks start there: facilities,
        isochrone origins) or ``"target"`` (walks end there: homes).

    Returns
    -------
    RoutingGraph
        The graph and where each point sits in it.
    """
    n_base = network.n_nodes
    names = list(point_sets)
    edge_parts, pos_parts, set_parts, idx_parts, off_parts, kind_parts = [], [], [], [], [], []
    for s, name in enumerate(names):
        snapped, kind = point_sets[name]
        if kind not in ("source", "target"):
            msg = f"point set {name!r}: kind must be 'source' or 'target'"
            raise ValueError(msg)
        on = np.flatnonzero(~snapped.off_network)
        edge_parts.append(snapped.edge[on])
        pos_parts.append(snapped.position_m[on])
        set_parts.append(np.full(on.size, s))
        idx_parts.append(on)
        off_parts.append(snapped.offset_m[on])
        kind_parts.append(np.full(on.size, kind == "source"))
    edge = np.concatenate(edge_parts) if edge_parts else np.zeros(0, np.int64)
    pos = np.concatenate(pos_parts) if pos_parts else np.zeros(0)
    set_id = np.concatenate(set_parts) if set_parts else np.zeros(0, np.int64)
    local = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
    offset = np.concatenate(off_parts) if off_parts else np.zeros(0)
    is_source = np.concatenate(kind_parts) if kind_parts else np.zeros(0, bool)
    n_points = edge.size

    # order points along their edges; point i gets street node n_base + rank
    order = np.lexsort((pos, edge))
    street = np.empty(n_points, np.int64)
    street[order] = n_base + np.arange(n_points)
    virtual = n_base + n_points + np.arange(n_points)

    # street pieces: untouched edges, then each split edge as a chain u - p1 - ... - pk - v
    split = np.zeros(network.n_edges, bool)
    split[edge] = True
    whole = np.flatnonzero(~split)
    sorted_edge = edge[order]
    sorted_pos = pos[order]
    sorted_node = n_base + np.arange(n_points)
    first = np.r_[True, sorted_edge[1:] != sorted_edge[:-1]] if n_points else np.zeros(0, bool)
    last = np.r_[sorted_edge[1:] != sorted_edge[:-1], True] if n_points else np.zeros(0, bool)
    # piece from the previous chain node to each point
    prev_node = np.where(first, network.edge_u[sorted_edge], np.r_[-1, sorted_node[:-1]])
    prev_pos = np.where(first, 0.0, np.r_[0.0, sorted_pos[:-1]])
    # closing piece from each edge's last point to its v end
    tail_edge = sorted_edge[last]
    a = np.concatenate([network.edge_u[whole], prev_node, sorted_node[last]])
    b = np.concatenate([network.edge_v[whole], sorted_node, network.edge_v[tail_edge]])
    parent = np.concatenate([whole, sorted_edge, tail_edge])
    from_m = np.concatenate([np.zeros(whole.size), prev_pos, sorted_pos[last]])
    to_m = np.concatenate([network.edge_length_m[whole], sorted_pos, network.edge_length_m[tail_edge]])
    length = np.maximum(to_m - from_m, 0.0)

    # one-way links between each point and the street
    link_from = np.where(is_source, virtual, street)
    link_to = np.where(is_source, street, virtual)
    rows = np.concatenate([a, b, link_from])
    cols = np.concatenate([b, a, link_to])
    data = np.concatenate([length, length, offset])
    n_all = n_base + 2 * n_points
    csr = csr_min(rows, cols, data, n_all)

    point_node: dict[str, np.ndarray] = {}
    street_node: dict[str, np.ndarray] = {}
    for s, name in enumerate(names):
        snapped, _ = point_sets[name]
        pn = np.full(len(snapped), -1, np.int64)
        sn = np.full(len(snapped), -1, np.int64)
        mine = set_id == s
        pn[local[mine]] = virtual[mine]
        sn[local[mine]] = street[mine]
        point_node[name] = pn
        street_node[name] = sn
    return RoutingGraph(csr, n_base, point_node, street_node, a, b, parent, from_m, to_m)
