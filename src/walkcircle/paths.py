"""Multi-source shortest paths over a CSR graph (numba kernels; scipy as the reference).

Three passes answer every access question for one kind of destination at once:

- `nearest`: one multi-source Dijkstra from all sources: each node's distance to its nearest
  source and which source that is;
- `k_nearest`: the same with up to ``k`` distinct sources per node (each node keeps its k best
  entries and sends them on: a source that is not among a node's k nearest cannot be among
  the k nearest of any node reached through it);
- `counts_within`: how many sources lie within each of several distances, by one bounded
  Dijkstra per source that touches only the nodes inside the largest distance.

`passes` runs any of them for many groups (categories) at once: every (pass, group) is one task,
and the tasks run largest first on a pool of threads (the kernels release the GIL), so two cores
stay busy until the end. The kernels (`walkcircle._kernels`) are plain ``@njit(nogil=True,
cache=True)`` functions with no ``parallel=True``: that keeps the first run's compilation short (see
`benchmarks/bench_coldstart.py`). The nearest and k-nearest passes skip the graph's dead ends (a
node with one edge in, none out and no source on it: every home's point in a study) and give
them the result of the node before them plus that edge afterwards.

Graphs are directed ``scipy.sparse.csr_matrix`` with non-negative weights (metres). Distances
to nodes no source reaches are ``inf`` and their source label is ``-1``. The kernels run fastest
when nodes that are close on the ground have close numbers, which `walkcircle.network` ensures
(Hilbert order) for every network it builds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from walkcircle._kernels import _counts_into, _k_nearest_into, _nearest_into, _reach_lists

ENGINES = ("numba", "scipy")
_THREADS = [os.cpu_count() or 1]
# run (once each) before a kernel runs: on a first run, `walkcircle._precompile.wait` is here
_BEFORE_KERNELS: list[Callable[[], None]] = []


def _before_kernels() -> None:
    while _BEFORE_KERNELS:
        _BEFORE_KERNELS.pop()()


# ---------------------------------------------------------------------------- scheduling


def _run_tasks(tasks: list[tuple[float, Callable[[], None]]]) -> None:
    """Run (estimated cost, job) tasks on the thread pool, largest first.

    A pool's queue hands the next task to whichever thread is free, so starting with the
    largest ones keeps every thread busy until the end (longest-processing-time first).
    """
    jobs = [job for _, job in sorted(tasks, key=lambda t: -t[0])]
    workers = min(_THREADS[0], len(jobs))
    if workers <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


@dataclass
class Passes:
    """Results of `passes`; a pass that was not asked for is None.

    Attributes
    ----------
    dist, label
        Nearest source per group: (groups, nodes) distances and source indices.
    counts
        Sources within each limit: int32 (groups, nodes, limits).
    knn_dist, knn_label
        The k nearest: (groups, nodes, k).
    """

    dist: np.ndarray | None = None
    label: np.ndarray | None = None
    counts: np.ndarray | None = None
    knn_dist: np.ndarray | None = None
    knn_label: np.ndarray | None = None


def _check_limits(limits: np.ndarray | Sequence[Sequence[float]], n_groups: int) -> np.ndarray:
    limits = np.ascontiguousarray(limits, np.float64)
    if limits.ndim != 2 or limits.shape[0] != n_groups:
        msg = "limits must have one row per source group"
        raise ValueError(msg)
    if limits.shape[1] and (np.diff(limits, axis=1) < 0).any():
        msg = "each row of limits must be ascending"
        raise ValueError(msg)
    return limits


def passes(
    graph: sparse.csr_matrix,
    source_groups: Sequence[np.ndarray],
    nearest: bool = True,
    count_limits: np.ndarray | Sequence[Sequence[float]] | None = None,
    k: int | None = None,
    limit: float = np.inf,
    k_limit: float = np.inf,
) -> Passes:
    """Run the nearest, count and k-nearest passes for every group in one pool of threads.

    Parameters
    ----------
    graph
        Directed CSR graph, weights >= 0.
    source_groups
        One array of source node ids per group. Negative ids are ignored.
    nearest
        Run the nearest pass.
    count_limits
        Run the count pass with these distances: shape (groups, n_limits), rows ascending.
    k
        Run the k-nearest pass with this k (>= 1).
    limit
        The nearest pass stops beyond this distance.
    k_limit
        The k-nearest pass stops beyond this distance.

    Returns
    -------
    Passes
        The arrays of the passes run (see `nearest`, `counts_within`, `k_nearest`).
    """
    if k is not None and k < 1:
        msg = f"k must be >= 1 (got {k})"
        raise ValueError(msg)
    n_groups = len(source_groups)
    limits = None if count_limits is None else _check_limits(count_limits, n_groups)
    _before_kernels()  # a first run's kernels: compiled by the helper, loaded from the cache
    indptr, indices, weights = _csr_arrays(graph)
    n = graph.shape[0]
    sources = [np.ascontiguousarray(np.asarray(g, np.int64).astype(indices.dtype)) for g in source_groups]
    out = Passes()
    tasks: list[tuple[float, Callable[[], None]]] = []
    # the nearest and k-nearest passes skip the dead ends (homes hang off the streets so) and fill them after
    ends = _dead_ends(indptr, indices, weights, sources) if nearest or k is not None else None
    ptr, idx, wts = (
        (ends.indptr, ends.indices, ends.weights) if ends is not None else (indptr, indices, weights)
    )
    if nearest:
        out.dist = np.empty((n_groups, n), np.float64)
        out.label = np.empty((n_groups, n), indices.dtype)
        for g in range(n_groups):
            tasks.append((float(n), _task(_until_done, _nearest_into, idx.size + sources[g].size + 1, ptr,
                                          idx, wts, sources[g], float(limit), out.dist[g], out.label[g])))  # fmt: skip
    if limits is not None:
        out.counts = np.empty((n_groups, n, limits.shape[1]), np.int32)
        for g in range(n_groups):
            # a bounded search per source: cost grows with the sources (ball size unknown here)
            cost = float(min(n, 200 * sources[g].size)) * 2.0
            tasks.append(
                (cost, _task(_counts_into, indptr, indices, weights, sources[g], limits[g], out.counts[g]))
            )
    if k is not None:
        out.knn_dist = np.empty((n_groups, n, int(k)), np.float64)
        out.knn_label = np.empty((n_groups, n, int(k)), np.int64)
        for g in range(n_groups):
            tasks.append((2.0 * k * n, _task(_until_done, _k_nearest_into, k * idx.size + n + 1, ptr, idx,
                                             wts, sources[g], int(k), float(k_limit), out.knn_dist[g],
                                             out.knn_label[g])))  # fmt: skip
    _run_tasks(tasks)
    if ends is not None:
        ends.fill(out, float(limit), float(k_limit))
    if out.label is not None:
        out.label = out.label.astype(np.int64, copy=False)
    return out


@dataclass
class _DeadEnds:
    """A graph without the edges into its dead ends, and how to give the dead ends their results.

    A dead end is a node with no edge out, exactly one edge in and no source on it: a home's
    point in a study's routing graph. Its nearest sources are those of the node before it,
    at the sum the search would add (``d + w``), so the searches skip them (a sixth of a city's
    nodes, each a cache miss on every offer) and `fill` writes them afterwards.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    node: np.ndarray  # the dead ends
    before: np.ndarray  # the node before each
    step_m: np.ndarray  # the weight of the edge in

    def fill(self, out: Passes, limit: float, k_limit: float) -> None:
        """Write the dead ends' nearest and k-nearest results from those of the node before them."""
        if out.dist is not None and out.label is not None:
            d = out.dist[:, self.before] + self.step_m
            near = d <= limit
            out.dist[:, self.node] = np.where(near, d, np.inf)
            out.label[:, self.node] = np.where(near, out.label[:, self.before], -1)
        if out.knn_dist is not None and out.knn_label is not None:
            d = out.knn_dist[:, self.before, :] + self.step_m[:, None]
            near = d <= k_limit
            out.knn_dist[:, self.node, :] = np.where(near, d, np.inf)
            out.knn_label[:, self.node, :] = np.where(near, out.knn_label[:, self.before, :], -1)


def _dead_ends(
    indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, sources: list[np.ndarray]
) -> _DeadEnds | None:
    """Take the dead ends' edges in out of the graph (None when it has no dead end)."""
    n = indptr.size - 1
    out_degree = np.diff(indptr)
    in_degree = np.bincount(indices, minlength=n)
    is_end = (out_degree == 0) & (in_degree == 1)
    for group in sources:
        is_end[group[group >= 0]] = False
    if not is_end.any():
        return None
    into_end = is_end[indices]
    tail = np.repeat(np.arange(n, dtype=indices.dtype), out_degree)
    kept = np.bincount(tail[~into_end], minlength=n)
    new_indptr = np.zeros(n + 1, indptr.dtype)
    np.cumsum(kept, out=new_indptr[1:])
    end_node = indices[into_end]
    return _DeadEnds(
        new_indptr,
        np.ascontiguousarray(indices[~into_end]),
        np.ascontiguousarray(weights[~into_end]),
        end_node,
        tail[into_end],
        weights[into_end],
    )


def _until_done(kernel: Callable[..., bool], capacity: int, *args: object) -> None:
    """Run a bucket-queue kernel with a pool of `capacity` entries, doubling it until it is enough.

    The pool holds the queue entries in use at once; entries are reused, so the first size
    (one per edge) is far more than a street network needs, but a graph built to make a
    node improve many times inside one bucket could need more.
    """
    while not kernel(*args, capacity):
        capacity *= 2


def _task(kernel: Callable[..., None], *args: object) -> Callable[[], None]:
    def job() -> None:
        kernel(*args)

    return job


# ---------------------------------------------------------------------------- public API


def _index_dtype(graph: sparse.csr_matrix) -> type:
    # 32-bit node ids halve the memory traffic of the heap and adjacency scans
    return np.int32 if max(graph.shape[0], graph.nnz) < 2**31 - 1 else np.int64


def _csr_arrays(graph: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    graph = sparse.csr_matrix(graph)
    if graph.data.size and graph.data.min() < 0:
        msg = "edge weights must be >= 0"
        raise ValueError(msg)
    dtype = _index_dtype(graph)
    return (
        np.ascontiguousarray(graph.indptr, dtype),
        np.ascontiguousarray(graph.indices, dtype),
        np.ascontiguousarray(graph.data, np.float64),
    )


def nearest(
    graph: sparse.csr_matrix,
    source_groups: Sequence[np.ndarray],
    limit: float = np.inf,
    engine: str = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """Find every node's distance to the nearest source of each group, and which source.

    Parameters
    ----------
    graph
        Directed CSR graph, weights >= 0.
    source_groups
        One array of source node ids per group (e.g. per category). Negative ids are
        ignored (off-network sources).
    limit
        Stop exploring beyond this distance (nodes farther away get ``inf``).
    engine
        ``"numba"`` (indexed 4-ary heap, groups on a pool of threads) or ``"scipy"``
        (``csgraph.dijkstra`` with ``min_only=True``), which serves as the reference.

    Returns
    -------
    tuple of numpy.ndarray
        ``dist`` (groups x nodes, ``inf`` where unreachable) and ``source`` (index of the
        nearest source within its group, ``-1`` where unreachable).
    """
    n = graph.shape[0]
    if engine == "scipy":
        return _nearest_scipy(graph, source_groups, n, limit)
    if engine != "numba":
        msg = f"unknown engine {engine!r}; use one of {ENGINES}"
        raise ValueError(msg)
    out = passes(graph, source_groups, nearest=True, limit=limit)
    assert out.dist is not None
    assert out.label is not None
    return out.dist, out.label


def _nearest_scipy(
    graph: sparse.csr_matrix, source_groups: Sequence[np.ndarray], n: int, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    dist = np.full((len(source_groups), n), np.inf)
    label = np.full((len(source_groups), n), -1, np.int64)
    for g, group in enumerate(source_groups):
        group = np.asarray(group, np.int64)
        valid = np.flatnonzero(group >= 0)
        if valid.size == 0:
            continue
        d, _, src = dijkstra(
            graph,
            directed=True,
            indices=group[valid],
            min_only=True,
            return_predecessors=True,
            limit=limit,
        )
        dist[g] = d
        reached = src >= 0
        # scipy names the source node; map node -> first source index with that node
        order = np.argsort(group[valid], kind="stable")
        nodes_sorted = group[valid][order]
        pos = np.searchsorted(nodes_sorted, src[reached])
        label[g, reached] = valid[order[pos]]
    return dist, label


def k_nearest(
    graph: sparse.csr_matrix, source_groups: Sequence[np.ndarray], k: int, limit: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Find the `k` nearest distinct sources of each group for every node.

    Parameters
    ----------
    graph
        Directed CSR graph, weights >= 0.
    source_groups
        Source node ids per group.
    k
        How many (>= 1).
    limit
        Sources farther than this are not reported (``inf`` / ``-1``); within it the result
        equals the unbounded search. Bounding the search (e.g. at twice the largest threshold
        a study uses) makes it much cheaper on large networks.

    Returns
    -------
    tuple of numpy.ndarray
        ``dist`` and ``source`` of shape (groups, nodes, k), ascending by distance; missing
        entries are ``inf`` / ``-1``.
    """
    out = passes(graph, source_groups, nearest=False, k=k, k_limit=limit)
    assert out.knn_dist is not None
    assert out.knn_label is not None
    return out.knn_dist, out.knn_label


def counts_within(
    graph: sparse.csr_matrix,
    source_groups: Sequence[np.ndarray],
    limits: np.ndarray | Sequence[Sequence[float]],
) -> np.ndarray:
    """How many sources of each group lie within each distance of every node.

    Parameters
    ----------
    graph
        Directed CSR graph, weights >= 0.
    source_groups
        Source node ids per group.
    limits
        Distances per group: shape (groups, n_limits), each row ascending.

    Returns
    -------
    numpy.ndarray
        int32 counts, shape (groups, nodes, n_limits).
    """
    out = passes(graph, source_groups, nearest=False, count_limits=limits)
    assert out.counts is not None
    return out.counts


def set_threads(n: int | None) -> int:
    """Set how many threads the kernels use (None: all cores); return the number in use.

    Parameters
    ----------
    n
        Threads.

    Returns
    -------
    int
        Threads now used.
    """
    _THREADS[0] = max(1, int(n)) if n else os.cpu_count() or 1
    return _THREADS[0]


def get_threads() -> int:
    """Return how many threads the kernels use.

    Returns
    -------
    int
        Threads.
    """
    return _THREADS[0]


def reach_within(
    graph: sparse.csr_matrix, starts: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List every node within `limit` of each start (bounded searches).

    Parameters
    ----------
    graph
        Directed CSR graph, weights >= 0.
    starts
        Start nodes (negative ids are skipped).
    limit
        Largest distance, metres.

    Returns
    -------
    tuple of numpy.ndarray
        ``start`` (index into `starts`), ``node`` and ``dist`` of every pair found, grouped
        by start (the start itself first, at distance 0).
    """
    indptr, indices, weights = _csr_arrays(graph)
    starts = np.asarray(starts, np.int64).astype(indices.dtype)
    _before_kernels()
    return _reach_lists(indptr, indices, weights, starts, graph.shape[0], float(limit))
