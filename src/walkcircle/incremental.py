"""Incremental access: what opening or closing a few facilities changes, without a full pass.

A baseline `compute_access(..., keep_state=True)` keeps its routing graph and, for every node
of it and every category, the nearest facility, the k nearest and the counts within each limit
(`AccessState`). `apply_changes` then updates only what a change touches:

- **opening** a facility runs a search from the new source only, and stops wherever it does not
  improve a node's list (nearest or k nearest); counts get +1 along one bounded search of the
  largest limit from the new source;
- **closing** a facility empties the lists of the nodes that held it, refills them from their unaffected neighbours, and counts get -1 along
  one bounded search from the closed source.

A planned facility is snapped like any other, but not inserted into the graph: it sits on one
street piece ``a - b`` of the routing graph (pieces have no points inside), so every walk from it
starts at ``a`` with ``offset + (p - from)`` or at ``b`` with ``offset + (to - p)``: its "seeds".
These are exactly the sums a graph split at the point would give.

Equality with a full recompute (`compute_access` on the changed facility table): counts and
k-nearest/nearest facilities are the same; distances are the same up to floating-point
rounding of split edge pieces (a full recompute splits an edge at a planned point, or does not
split it at a closed one, so a path along that piece sums ``(p - from) + (to - p)`` instead of
``to - from``: differences of the order of 1e-12 m). Where two facilities are exactly equally
near, both engines keep one of them; which one is not specified (compare ids where distances
differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from walkcircle._kernels import _boundary_seeds, _counts_delta, _spread

if TYPE_CHECKING:
    from walkcircle.network import Snapped
    from walkcircle.routing import RoutingGraph

__all__ = ["AccessState", "FacilitySeeds", "apply_changes", "point_seeds"]


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class FacilitySeeds:
    """Where each facility's walks start: nodes of the routing graph and their start distances.

    Facility ``i``'s seeds are ``node[ptr[i]:ptr[i + 1]]`` at ``dist_m[...]``. A facility in the
    graph has one seed, its own node at 0 m; a planned one the two ends of its street piece.
    An off-network facility has none.
    """

    ptr: np.ndarray
    node: np.ndarray
    dist_m: np.ndarray

    def __len__(self) -> int:
        return int(self.ptr.size - 1)

    def select(self, rows: np.ndarray) -> FacilitySeeds:
        """Return the seeds of some facilities, in the order given.

        Parameters
        ----------
        rows
            Facility rows.

        Returns
        -------
        FacilitySeeds
            Their seeds.
        """
        rows = np.asarray(rows, np.int64)
        sizes = self.ptr[rows + 1] - self.ptr[rows]
        ptr = np.zeros(rows.size + 1, np.int64)
        np.cumsum(sizes, out=ptr[1:])
        take = np.concatenate([np.arange(self.ptr[r], self.ptr[r + 1]) for r in rows]) if rows.size else []
        take = np.asarray(take, np.int64)
        return FacilitySeeds(ptr, self.node[take], self.dist_m[take])

    def concat(self, other: FacilitySeeds) -> FacilitySeeds:
        """Append another facility set's seeds.

        Parameters
        ----------
        other
            Seeds of the facilities appended.

        Returns
        -------
        FacilitySeeds
            Both.
        """
        return FacilitySeeds(
            np.concatenate([self.ptr, self.ptr[-1] + other.ptr[1:]]),
            np.concatenate([self.node, other.node]),
            np.concatenate([self.dist_m, other.dist_m]),
        )

    def expanded(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flatten to (node, dist, label) triples, labelled with each facility's label.

        Parameters
        ----------
        labels
            One label per facility.

        Returns
        -------
        tuple of numpy.ndarray
            Node, distance, label per seed.
        """
        sizes = np.diff(self.ptr)
        return self.node, self.dist_m, np.repeat(np.asarray(labels, np.int64), sizes)


def point_seeds(graph: RoutingGraph, snap: Snapped, piece_order: np.ndarray | None = None) -> FacilitySeeds:
    """Seeds of points snapped onto the network but not in the graph (planned facilities).

    Parameters
    ----------
    graph
        The routing graph.
    snap
        The points' snapping onto the same network.
    piece_order
        ``np.lexsort((graph.edge_from_m, graph.edge_parent))`` if already known
        (`AccessState.piece_order`).

    Returns
    -------
    FacilitySeeds
        Two seeds per on-network point (the ends of the street piece it sits on), none for
        off-network points.
    """
    order = (
        piece_order
        if piece_order is not None and piece_order.size
        else np.lexsort((graph.edge_from_m, graph.edge_parent))
    )
    parent = graph.edge_parent[order]
    nodes, dists, sizes = [], [], []
    for i in range(len(snap)):
        if snap.off_network[i]:
            sizes.append(0)
            continue
        e, p, offset = int(snap.edge[i]), float(snap.position_m[i]), float(snap.offset_m[i])
        lo, hi = np.searchsorted(parent, [e, e + 1])
        starts = graph.edge_from_m[order[lo:hi]]
        piece = order[lo + max(int(np.searchsorted(starts, p, side="right")) - 1, 0)]
        from_m, to_m = graph.edge_from_m[piece], graph.edge_to_m[piece]
        # the same sums a graph split at p gives: offset link, then the piece to each end
        nodes += [graph.edge_a[piece], graph.edge_b[piece]]
        dists += [offset + max(p - from_m, 0.0), offset + max(to_m - p, 0.0)]
        sizes.append(2)
    ptr = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=ptr[1:])
    return FacilitySeeds(ptr, np.asarray(nodes, np.int64), np.asarray(dists, np.float64))


@dataclass(frozen=True)
class AccessState:
    """Everything an incremental update needs, for every node of the routing graph.

    Per category ``c`` (lists, so that an update copies only the categories it changes):
    ``nearest_m[c]``/``nearest_row[c]`` of shape (nodes, 1), ``knn_m[c]``/``knn_row[c]`` of
    shape (nodes, k) when k > 1, ``counts[c]`` of shape (nodes, limits) for the ascending
    ``limits_m[c]``. Facility labels are rows of the facility table (planned ones appended).

    Attributes
    ----------
    graph
        The routing graph (not changed by updates).
    reverse
        Its transpose (in-edges), for refilling closed regions.
    home_node
        Each home's node (-1 off-network).
    categories
        Category ids, in column order.
    facility_category
        Column of each facility row (-1: not a computed category).
    facility_open
        False for closed rows (and off-network ones).
    seeds
        Where each facility row's walks start.
    limit_order
        How ``limits_m`` was sorted from (tiers..., threshold) per category.
    """

    graph: RoutingGraph
    reverse: sparse.csr_matrix
    home_node: np.ndarray
    categories: list[str]
    facility_category: np.ndarray
    facility_open: np.ndarray
    seeds: FacilitySeeds
    nearest_m: list[np.ndarray]
    nearest_row: list[np.ndarray]
    knn_m: list[np.ndarray] | None
    knn_row: list[np.ndarray] | None
    limits_m: np.ndarray
    limit_order: np.ndarray
    counts: list[np.ndarray]
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False, default=())  # type: ignore[assignment]
    reverse_arrays: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False, default=())  # type: ignore[assignment]
    piece_order: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_facilities(self) -> int:
        """Facility rows known (baseline and planned)."""
        return int(self.facility_category.size)

    @classmethod
    def from_passes(
        cls,
        graph: RoutingGraph,
        home_node: np.ndarray,
        categories: Sequence[str],
        facility_category: np.ndarray,
        facility_node: np.ndarray,
        group_rows: Sequence[np.ndarray],
        dist: np.ndarray,
        label: np.ndarray,
        limits_sorted: np.ndarray,
        limit_order: np.ndarray,
        counts_sorted: np.ndarray,
        kd: np.ndarray | None,
        kl: np.ndarray | None,
    ) -> AccessState:
        """Build the state from a full pass (labels within groups mapped to facility rows).

        Parameters
        ----------
        graph
            Routing graph of the pass.
        home_node
            Each home's node.
        categories
            Category ids.
        facility_category
            Column of each facility row (-1 if not computed).
        facility_node
            Each facility row's node (-1 off-network).
        group_rows
            Facility rows of each category's sources, in source order.
        dist, label
            `walkcircle.paths.nearest` output (groups x nodes).
        limits_sorted, limit_order, counts_sorted
            The counting limits (ascending per row), how they were sorted, and
            `walkcircle.paths.counts_within` output.
        kd, kl
            `walkcircle.paths.k_nearest` output, or None when k is 1.

        Returns
        -------
        AccessState
            The state.
        """
        n_cat = len(categories)
        on = facility_node >= 0
        ptr = np.zeros(facility_node.size + 1, np.int64)
        np.cumsum(on, out=ptr[1:])
        seeds = FacilitySeeds(ptr, facility_node[on].astype(np.int64), np.zeros(int(on.sum())))

        def rows_of(c: int, lab: np.ndarray) -> np.ndarray:
            out = np.full(lab.shape, -1, np.int64)
            hit = lab >= 0
            out[hit] = np.asarray(group_rows[c], np.int64)[lab[hit]]
            return out

        nearest_m = [dist[c][:, None] for c in range(n_cat)]
        nearest_row = [rows_of(c, label[c])[:, None] for c in range(n_cat)]
        knn_m = [kd[c] for c in range(n_cat)] if kd is not None else None
        knn_row = [rows_of(c, kl[c]) for c in range(n_cat)] if kl is not None else None
        csr = graph.csr
        reverse = csr.T.tocsr()
        return cls(
            graph=graph,
            reverse=reverse,
            home_node=np.asarray(home_node, np.int64),
            categories=list(categories),
            facility_category=np.asarray(facility_category, np.int64),
            facility_open=on.copy(),
            seeds=seeds,
            nearest_m=nearest_m,
            nearest_row=nearest_row,
            knn_m=knn_m,
            knn_row=knn_row,
            limits_m=np.asarray(limits_sorted, np.float64),
            limit_order=np.asarray(limit_order, np.int64),
            counts=[np.ascontiguousarray(counts_sorted[c]) for c in range(n_cat)],
            arrays=_numba_arrays(csr),
            reverse_arrays=_numba_arrays(reverse),
            piece_order=np.lexsort((graph.edge_from_m, graph.edge_parent)),
        )


def _numba_arrays(csr: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.ascontiguousarray(csr.indptr, np.int64),
        np.ascontiguousarray(csr.indices, np.int64),
        np.ascontiguousarray(csr.data, np.float64),
    )


def _close_lists(
    state: AccessState, kd: np.ndarray, kl: np.ndarray, closed: np.ndarray, c: int, opening: np.ndarray
) -> None:
    """Remove closed labels from the lists (in place) and refill the nodes that held them.

    Facilities being opened in the same change (`opening`) are left to `_open_lists`.
    """
    indptr, indices, weights = state.arrays
    # every node whose list holds a closed facility (a scan, not a walk of the shortest-path
    # trees: with equal distances a tree walk could miss nodes)
    region = np.append(closed, False)[kl].any(axis=1)
    members = np.flatnonzero(region)
    if members.size == 0:
        return
    kd[members] = np.inf
    kl[members] = -1
    rindptr, rindices, rweights = state.reverse_arrays
    node, dist, lab = _boundary_seeds(rindptr, rindices, rweights, kd, kl, members, region)
    # open facilities of this category that start inside the region (planned ones do)
    live = (state.facility_category == c) & state.facility_open & ~closed
    live[opening] = False
    rows = np.flatnonzero(live)
    s_node, s_dist, s_lab = state.seeds.select(rows).expanded(rows)
    inside = region[s_node]
    node = np.concatenate([node, s_node[inside]])
    dist = np.concatenate([dist, s_dist[inside]])
    lab = np.concatenate([lab, s_lab[inside]])
    _spread(indptr, indices, weights, kd, kl, node, dist, lab, region, True)


def _open_lists(state: AccessState, kd: np.ndarray, kl: np.ndarray, rows: np.ndarray) -> None:
    indptr, indices, weights = state.arrays
    node, dist, lab = state.seeds.select(rows).expanded(rows)
    _spread(indptr, indices, weights, kd, kl, node, dist, lab, np.zeros(1, np.bool_), False)


def _update_category(
    state: AccessState, c: int, opened: np.ndarray, closed: np.ndarray
) -> dict[str, np.ndarray]:
    """Return category `c`'s new arrays after closing rows `closed` and opening rows `opened`."""
    indptr, indices, weights = state.arrays
    closed_mask = np.zeros(state.n_facilities, np.bool_)
    closed_mask[closed] = True
    closed_seeds = state.seeds.select(closed)
    lists = [(state.nearest_m[c].copy(), state.nearest_row[c].copy())]
    if state.knn_m is not None and state.knn_row is not None:
        lists.append((state.knn_m[c].copy(), state.knn_row[c].copy()))
    counts = state.counts[c].copy()
    for kd, kl in lists:
        if closed.size:
            _close_lists(state, kd, kl, closed_mask, c, opened)
        if opened.size:
            _open_lists(state, kd, kl, opened)
    limits = state.limits_m[c]
    if closed.size:
        s = closed_seeds
        _counts_delta(indptr, indices, weights, s.ptr, s.node, s.dist_m, limits, counts, -1)
    if opened.size:
        s = state.seeds.select(opened)
        _counts_delta(indptr, indices, weights, s.ptr, s.node, s.dist_m, limits, counts, 1)
    out = {"nearest_m": lists[0][0], "nearest_row": lists[0][1], "counts": counts}
    if len(lists) > 1:
        out["knn_m"], out["knn_row"] = lists[1]
    return out


def apply_changes(
    state: AccessState,
    close_rows: Sequence[int] | np.ndarray = (),
    new_category: Sequence[int] | np.ndarray = (),
    new_seeds: FacilitySeeds | None = None,
) -> AccessState:
    """Close some facilities and open new ones; return the new state (the old one is unchanged).

    Closing is applied first. Only the categories that change are copied and updated.

    Parameters
    ----------
    state
        The state before.
    close_rows
        Facility rows to close (rows already closed are ignored).
    new_category
        Column of each new facility (-1: a category not computed; kept as a row, not routed).
    new_seeds
        Seeds of the new facilities (`point_seeds`), same order.

    Returns
    -------
    AccessState
        The state after; new facilities are rows ``state.n_facilities + i``.
    """
    close_rows = np.unique(np.asarray(close_rows, np.int64))
    if close_rows.size and (close_rows.min() < 0 or close_rows.max() >= state.n_facilities):
        msg = f"facility rows to close must be in 0..{state.n_facilities - 1}"
        raise ValueError(msg)
    close_rows = close_rows[state.facility_open[close_rows]]
    new_category = np.asarray(new_category, np.int64)
    new_seeds = new_seeds or FacilitySeeds(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if len(new_seeds) != new_category.size:
        msg = "one category per new facility's seeds"
        raise ValueError(msg)
    n_old = state.n_facilities
    new_rows = n_old + np.arange(new_category.size)
    new_open = (np.diff(new_seeds.ptr) > 0) & (new_category >= 0)
    grown = replace(
        state,
        facility_category=np.concatenate([state.facility_category, new_category]),
        facility_open=np.concatenate([state.facility_open, new_open]),
        seeds=state.seeds.concat(new_seeds),
    )
    nearest_m, nearest_row = list(state.nearest_m), list(state.nearest_row)
    knn_m = list(state.knn_m) if state.knn_m is not None else None
    knn_row = list(state.knn_row) if state.knn_row is not None else None
    counts = list(state.counts)
    for c in range(len(state.categories)):
        closed = close_rows[state.facility_category[close_rows] == c]
        opened = new_rows[new_open & (new_category == c)]
        if closed.size == 0 and opened.size == 0:
            continue
        arrays = _update_category(grown, c, opened, closed)
        nearest_m[c], nearest_row[c], counts[c] = arrays["nearest_m"], arrays["nearest_row"], arrays["counts"]
        if knn_m is not None and knn_row is not None:
            knn_m[c], knn_row[c] = arrays["knn_m"], arrays["knn_row"]
    is_open = grown.facility_open.copy()
    is_open[close_rows] = False
    return replace(
        grown,
        facility_open=is_open,
        nearest_m=nearest_m,
        nearest_row=nearest_row,
        knn_m=knn_m,
        knn_row=knn_row,
        counts=counts,
    )
