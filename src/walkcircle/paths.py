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
stay busy until the end. The kernels are plain ``@njit(nogil=True, cache=True)`` functions with
no ``parallel=True``: that keeps the first run's compilation short (see
`benchmarks/bench_coldstart.py`).

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
from numba import njit
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from walkcircle import _numba_cache

_numba_cache.install()  # before the kernels below are decorated
ENGINES = ("numba", "scipy")
_THREADS = [os.cpu_count() or 1]
# run (once each) before a kernel runs: on a first run, `walkcircle._precompile.wait` is here
_BEFORE_KERNELS: list[Callable[[], None]] = []


def _before_kernels() -> None:
    while _BEFORE_KERNELS:
        _BEFORE_KERNELS.pop()()


# ---------------------------------------------------------------------------- heap helpers


@njit(cache=True, nogil=True)
def _heap_push(hd, hn, hl, size, d, node, lab):  # noqa: ANN001, ANN202
    """Push (d, node, lab) on a binary min-heap held in three arrays with room for one more."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if hd[parent] <= d:
            break
        hd[i] = hd[parent]
        hn[i] = hn[parent]
        hl[i] = hl[parent]
        i = parent
    hd[i] = d
    hn[i] = node
    hl[i] = lab


@njit(cache=True, nogil=True)
def _heap_drop_top(hd, hn, hl, size):  # noqa: ANN001, ANN202
    """Remove the top of a binary min-heap of `size` entries (the caller read it first)."""
    size -= 1
    if size <= 0:
        return
    last_d = hd[size]
    last_n = hn[size]
    last_l = hl[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and hd[child + 1] < hd[child]:
            child += 1
        if hd[child] >= last_d:
            break
        hd[i] = hd[child]
        hn[i] = hn[child]
        hl[i] = hl[child]
        i = child
    hd[i] = last_d
    hn[i] = last_n
    hl[i] = last_l


@njit(cache=True, nogil=True)
def _sift_up(hk, hn, pos, i, k, node):  # noqa: ANN001, ANN202
    """Place (k, node) at slot i of an indexed 4-ary min-heap and move it up.

    Keys live in the heap (``hk``) next to the nodes (``hn``), so sifting never reads the
    distance array; ``pos[node]`` is the node's slot. Four children per slot halve the depth.
    """
    while i > 0:
        parent = (i - 1) >> 2
        if hk[parent] <= k:
            break
        hk[i] = hk[parent]
        moved = hn[parent]
        hn[i] = moved
        pos[moved] = i
        i = parent
    hk[i] = k
    hn[i] = node
    pos[node] = i


@njit(cache=True, nogil=True)
def _pop_min(hk, hn, pos, size):  # noqa: ANN001, ANN202
    """Remove the top of the heap, mark it settled (``pos`` -2); return (node, new size)."""
    top = hn[0]
    pos[top] = -2
    size -= 1
    if size > 0:
        k = hk[size]
        node = hn[size]
        i = 0
        while True:
            child = 4 * i + 1
            if child >= size:
                break
            best = child
            best_k = hk[child]
            for j in range(child + 1, min(child + 4, size)):
                if hk[j] < best_k:
                    best_k = hk[j]
                    best = j
            if best_k >= k:
                break
            hk[i] = best_k
            moved = hn[best]
            hn[i] = moved
            pos[moved] = i
            i = best
        hk[i] = k
        hn[i] = node
        pos[node] = i
    return top, size


# ---------------------------------------------------------------------------- kernels


# The nearest and k-nearest passes keep their frontier in buckets of this many metres (Dial's
# queue, circular) rather than a heap: a heap moves every node through ~log(frontier) slots
# scattered in memory, which at 1M nodes costs more than the search. 1-20 m measured within
# 10% of each other on the benchmark cities.
_BUCKET_M = 5.0
_MAX_BUCKETS = 65536


@njit(cache=True, nogil=True)
def _buckets(weights):  # noqa: ANN001, ANN202
    """Return (1 / bucket width, number of buckets) for a bucket queue over these edge weights.

    A relaxation lands at most the longest edge ahead of the current bucket, so the circular
    array never wraps onto a bucket still in use; very long edges widen the buckets instead of
    multiplying them.
    """
    max_w = 0.0
    for e in range(weights.size):
        if weights[e] > max_w and weights[e] < np.inf:
            max_w = weights[e]
    width = max(_BUCKET_M, max_w / (_MAX_BUCKETS - 2))
    return 1.0 / width, int(max_w / width) + 2


@njit(cache=True, nogil=True, inline="always")
def _full(free, used, entry_node):  # noqa: ANN001, ANN202
    """Whether the pool of queue entries has none left (the caller returns False to get a larger one)."""
    return free == -1 and used == entry_node.size


@njit(cache=True, nogil=True, inline="always")
def _enqueue(head, entry_node, entry_next, free, used, node, bucket):  # noqa: ANN001, ANN202
    """Put `node` in circular bucket `bucket`, taking a free entry first; return (free, used)."""
    if free != -1:
        entry = free
        free = entry_next[entry]
    else:
        entry = used
        used += 1
    entry_node[entry] = node
    slot = bucket % head.size
    entry_next[entry] = head[slot]
    head[slot] = entry
    return free, used


@njit(cache=True, nogil=True)
def _nearest_into(indptr, indices, weights, sources, limit, dist, label, capacity):  # noqa: ANN001, ANN202
    """Multi-source Dijkstra; writes each node's distance and source index into dist/label.

    The frontier is a bucket queue: bucket ``b`` holds the nodes whose distance lies in
    ``[b w, (b + 1) w)``; buckets are emptied in order, so every node of a later bucket is
    farther than any of the current one. Inside a bucket the order is free: a node whose
    distance drops (through an edge shorter than ``w``) after it was expanded is expanded
    again, so the result is the exact shortest distance, the same sums of the same edge
    weights as a heap-ordered Dijkstra. Entries live in a pool of `capacity` with a free
    list, so the slots in use stay few and hot in the cache. Return False, unfinished, if the
    pool runs out (`_until_done` runs it again with a larger one).
    """
    n_nodes = dist.size
    dist[:] = np.inf
    label[:] = -1
    inv, n_buckets = _buckets(weights)
    head = np.full(n_buckets, -1, np.int64)
    entry_node = np.empty(capacity, indices.dtype)
    entry_next = np.empty(capacity, np.int64)
    expanded = np.zeros(n_nodes, np.bool_)
    free, used, pending = -1, 0, 0
    for s in range(sources.size):
        node = sources[s]
        if node >= 0 and label[node] == -1:
            if _full(free, used, entry_node):
                return False
            dist[node] = 0.0
            label[node] = s
            free, used = _enqueue(head, entry_node, entry_next, free, used, node, 0)
            pending += 1
    current = 0
    while pending > 0:
        slot = current % n_buckets
        entry = head[slot]
        if entry == -1:
            current += 1
            continue
        head[slot] = entry_next[entry]
        u = entry_node[entry]
        entry_next[entry] = free
        free = entry
        pending -= 1
        du = dist[u]
        if expanded[u] or int(du * inv) != current:
            continue  # a stale entry: u was expanded, or its distance dropped to another bucket
        expanded[u] = True
        lu = label[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = du + weights[e]
            if nd < dist[v] and nd <= limit:
                if _full(free, used, entry_node):
                    return False
                dist[v] = nd
                label[v] = lu
                expanded[v] = False
                free, used = _enqueue(head, entry_node, entry_next, free, used, v, int(nd * inv))
                pending += 1
    return True


@njit(cache=True, nogil=True, inline="always")
def _offer(kd, kl, sent, count, v, d, lab, k):  # noqa: ANN001, ANN202
    """Offer (d, lab) to node v's list of at most k distinct sources, kept ascending.

    It goes in (not yet sent on) if `lab` is new and there is room or it beats the last, or
    if it shortens `lab`'s entry. Return whether it went in.
    """
    c = count[v]
    at = -1
    for i in range(c):
        if kl[v, i] == lab:
            at = i
            break
    if at >= 0:
        if d >= kd[v, at]:
            return False
        i = at
    elif c < k:
        i = c
        count[v] = c + 1
    else:
        if d >= kd[v, k - 1]:
            return False
        i = k - 1  # the farthest leaves the list
    while i > 0 and kd[v, i - 1] > d:
        kd[v, i] = kd[v, i - 1]
        kl[v, i] = kl[v, i - 1]
        sent[v, i] = sent[v, i - 1]
        i -= 1
    kd[v, i] = d
    kl[v, i] = lab
    sent[v, i] = False
    return True


@njit(cache=True, nogil=True, inline="always")
def _send(indptr, indices, weights, limit, kd, kl, sent, count, key, u, j, inv, queue, free, used):  # noqa: ANN001, ANN202
    """Send node u's entry j to its neighbours and queue those it improved.

    Return (done, free, used, added): done is False if the pool ran out.
    """
    head, entry_node, entry_next = queue
    k = kd.shape[1]
    d = kd[u, j]
    lab = kl[u, j]
    sent[u, j] = True
    added = 0
    for e in range(indptr[u], indptr[u + 1]):
        v = indices[e]
        nd = d + weights[e]
        if nd <= limit and _offer(kd, kl, sent, count, v, nd, lab, k) and nd < key[v]:
            if _full(free, used, entry_node):
                return False, free, used, added
            key[v] = nd
            free, used = _enqueue(head, entry_node, entry_next, free, used, v, int(nd * inv))
            added += 1
    return True, free, used, added


@njit(cache=True, nogil=True)
def _seed(sources, kd, kl, sent, count, key, queue):  # noqa: ANN001, ANN202
    """Give each source's node the entry (0, source) and queue it; return (done, entries used)."""
    head, entry_node, entry_next = queue
    used = 0
    for s in range(sources.size):
        node = sources[s]
        if node >= 0 and _offer(kd, kl, sent, count, node, 0.0, s, kd.shape[1]) and key[node] > 0.0:
            if _full(-1, used, entry_node):
                return False, used
            key[node] = 0.0
            _, used = _enqueue(head, entry_node, entry_next, -1, used, node, 0)
    return True, used


@njit(cache=True, nogil=True)
def _k_nearest_into(indptr, indices, weights, sources, k, limit, kd, kl, capacity):  # noqa: ANN001, ANN202
    """Each node's k nearest distinct sources; writes (nodes, k) distances and source indices into kd/kl.

    Every node keeps a list of at most k (distance, source) entries, ascending. An entry is
    sent on to the node's neighbours when its bucket comes (the bucket queue of
    `_nearest_into`, keyed by the node's nearest entry not yet sent); a neighbour takes what
    improves its list. A source that is not among a node's k nearest cannot be among the k
    nearest of a node reached through it, so the lists settle on exactly the k nearest: the
    same sums of the same weights as a label-setting search, without its heap of k x edges
    entries. Return False, unfinished, if the pool of `capacity` queue entries runs out.
    """
    n_nodes = kd.shape[0]
    kd[:] = np.inf
    kl[:] = -1
    count = np.zeros(n_nodes, np.int32)
    sent = np.zeros((n_nodes, k), np.bool_)
    key = np.full(n_nodes, np.inf)  # the node's nearest entry not yet sent; inf: none
    inv, n_buckets = _buckets(weights)
    head = np.full(n_buckets, -1, np.int64)
    entry_node = np.empty(capacity, indices.dtype)
    entry_next = np.empty(capacity, np.int64)
    queue = (head, entry_node, entry_next)
    done, used = _seed(sources, kd, kl, sent, count, key, queue)
    free, pending, current = -1, used, 0
    while done and pending > 0:
        entry = head[current % n_buckets]
        if entry == -1:
            current += 1
            continue
        head[current % n_buckets] = entry_next[entry]
        u = entry_node[entry]
        entry_next[entry] = free
        free = entry
        pending -= 1
        if key[u] == np.inf or int(key[u] * inv) != current:
            continue  # stale: u was sent on already, or its key moved to another bucket
        later = np.inf  # u's nearest entry left for a later bucket
        for j in range(count[u]):
            if sent[u, j]:
                continue
            if int(kd[u, j] * inv) != current:
                later = min(later, kd[u, j])
                continue
            done, free, used, added = _send(
                indptr, indices, weights, limit, kd, kl, sent, count, key, u, j, inv, queue, free, used
            )
            pending += added
            if not done:
                return False
        key[u] = later
        if later < np.inf:
            done = not _full(free, used, entry_node)
            if done:
                free, used = _enqueue(head, entry_node, entry_next, free, used, u, int(later * inv))
                pending += 1
    return done


@njit(cache=True, nogil=True)
def _bounded_search(indptr, indices, weights, start, limit, dist, pos, hk, hn, touched):  # noqa: ANN001, ANN202
    """Dijkstra from one node up to `limit`; return how many nodes it reached.

    The reached nodes are ``touched[:n]`` with their distances in ``dist``. ``dist`` must be
    ``inf`` and ``pos`` -1 everywhere on entry; callers reset the touched entries after use,
    so one set of arrays serves thousands of small searches.
    """
    n_touched = 1
    touched[0] = start
    dist[start] = 0.0
    _sift_up(hk, hn, pos, 0, 0.0, start)
    size = 1
    while size > 0:
        u, size = _pop_min(hk, hn, pos, size)
        du = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            p = pos[v]
            if p == -2:
                continue
            nd = du + weights[e]
            if nd < dist[v] and nd <= limit:
                dist[v] = nd
                if p == -1:
                    touched[n_touched] = v
                    n_touched += 1
                    _sift_up(hk, hn, pos, size, nd, v)
                    size += 1
                else:
                    _sift_up(hk, hn, pos, p, nd, v)
    return n_touched


@njit(cache=True, nogil=True)
def _reset(dist, pos, touched, n_touched):  # noqa: ANN001, ANN202
    for i in range(n_touched):
        dist[touched[i]] = np.inf
        pos[touched[i]] = -1


@njit(cache=True, nogil=True)
def _counts_into(indptr, indices, weights, sources, limits, counts):  # noqa: ANN001, ANN202
    """Add, for each node, how many sources lie within each (ascending) limit into counts."""
    n_nodes = counts.shape[0]
    n_limits = limits.size
    counts[:] = 0
    dist = np.full(n_nodes, np.inf)
    pos = np.full(n_nodes, -1, indices.dtype)
    hk = np.empty(n_nodes, np.float64)
    hn = np.empty(n_nodes, indices.dtype)
    touched = np.empty(n_nodes, indices.dtype)
    for s in range(sources.size):
        if sources[s] < 0:
            continue
        n_touched = _bounded_search(
            indptr, indices, weights, sources[s], limits[n_limits - 1], dist, pos, hk, hn, touched
        )
        for i in range(n_touched):
            u = touched[i]
            du = dist[u]
            # limits ascend: count from the largest down and stop at the first that is too small
            t = n_limits - 1
            while t >= 0 and du <= limits[t]:
                counts[u, t] += 1
                t -= 1
        _reset(dist, pos, touched, n_touched)


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
    if nearest:
        out.dist = np.empty((n_groups, n), np.float64)
        out.label = np.empty((n_groups, n), indices.dtype)
        for g in range(n_groups):
            tasks.append((float(n), _task(_until_done, _nearest_into, indices.size + sources[g].size + 1, indptr,
                                          indices, weights, sources[g], float(limit), out.dist[g], out.label[g])))  # fmt: skip
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
            tasks.append((2.0 * k * n, _task(_until_done, _k_nearest_into, k * indices.size + n + 1, indptr, indices,
                                             weights, sources[g], int(k), float(k_limit), out.knn_dist[g],
                                             out.knn_label[g])))  # fmt: skip
    _run_tasks(tasks)
    if out.label is not None:
        out.label = out.label.astype(np.int64, copy=False)
    return out


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


@njit(cache=True, nogil=True)
def _reach_lists(indptr, indices, weights, starts, n_nodes, limit):  # noqa: ANN001, ANN202
    """Every (start, node, distance) with distance <= limit, one bounded search per start."""
    dist = np.full(n_nodes, np.inf)
    pos = np.full(n_nodes, -1, indices.dtype)
    hk = np.empty(n_nodes, np.float64)
    hn = np.empty(n_nodes, indices.dtype)
    touched = np.empty(n_nodes, indices.dtype)
    out_start = np.empty(max(16, starts.size * 8), np.int64)
    out_node = np.empty(out_start.size, np.int64)
    out_dist = np.empty(out_start.size, np.float64)
    n_out = 0
    for s in range(starts.size):
        if starts[s] < 0:
            continue
        n_touched = _bounded_search(indptr, indices, weights, starts[s], limit, dist, pos, hk, hn, touched)
        while n_out + n_touched > out_start.size:
            grown = out_start.size * 2
            out_start = np.concatenate((out_start, np.empty(grown - out_start.size, np.int64)))
            out_node = np.concatenate((out_node, np.empty(grown - out_node.size, np.int64)))
            out_dist = np.concatenate((out_dist, np.empty(grown - out_dist.size, np.float64)))
        for i in range(n_touched):
            out_start[n_out] = s
            out_node[n_out] = touched[i]
            out_dist[n_out] = dist[touched[i]]
            n_out += 1
        _reset(dist, pos, touched, n_touched)
    return out_start[:n_out], out_node[:n_out], out_dist[:n_out]


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
