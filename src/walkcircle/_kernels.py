"""The numba kernels: shortest-path passes over CSR arrays and the isochrones' distance field.

Everything numba compiles lives here (the scenarios' searches of `walkcircle.incremental` too),
and this module imports only numpy, numba and walkcircle's cache locator, so that an install
can compile the kernels ahead of time: building walkcircle (``pip install``, editable or not)
runs `walkcircle._numba_cache.build_kernels`, which calls `compile_kernels` in the build
environment and ships the compiled kernels in the package (copied into the user's kernel cache
on first import). ``python -m walkcircle._kernels`` compiles `STUDY_KERNELS` only: the helper of
`walkcircle._precompile`. The callers are `walkcircle.paths` (the passes, threads and
scheduling), `walkcircle.isochrones` (the rasters) and `walkcircle.incremental` (scenarios).

`compile_kernel` runs one kernel on a tiny input with the types a study gives it (int32 node
ids, float64 metres, rows of C-ordered 2-D outputs, columns of a coordinate array; int64 ids in
a scenario), so the signature compiled ahead of time is the one a study looks up.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from walkcircle import _numba_cache

__all__ = ["KERNELS", "SCENARIO_KERNELS", "STUDY_KERNELS", "compile_kernel", "compile_kernels"]

_numba_cache.install()  # before the kernels below are decorated

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


# The k-nearest pass keeps each node's state in one row of a float64 array, so that an offer
# to a node touches one cache line (k = 3: 8 values, 64 bytes): the k distances ascending
# (``inf``: an empty slot), the k source indices (stored as ``-index - 1`` once the entry was sent
# on; exact, as indices are far below 2**53) and the node's key, its nearest entry not yet sent.
# Separate arrays for these cost a cache miss each once a city's nodes outgrow the L3 cache.


@njit(cache=True, nogil=True, inline="always")
def _row_width(k):  # noqa: ANN001, ANN202
    """Values per node row for k entries: 2 k + 1, padded to 4 or 8 (whole cache-line parts)."""
    width = 2 * k + 1
    if width <= 4:
        return 4
    return (width + 7) // 8 * 8


@njit(cache=True, nogil=True, inline="always")
def _source_of(stored):  # noqa: ANN001, ANN202
    """Return the source index of a stored label (sent entries are stored as ``-index - 1``)."""
    return stored if stored >= 0 else -stored - 1


@njit(cache=True, nogil=True, inline="always")
def _offer(state, v, d, lab, k):  # noqa: ANN001, ANN202
    """Offer (d, lab) to node v's list of at most k distinct sources, kept ascending.

    It goes in (not yet sent on) if `lab` is new and there is room or it beats the last, or
    if it shortens `lab`'s entry. Return whether it went in.
    """
    at = -1
    c = 0
    while c < k and state[v, c] < np.inf:
        if at == -1 and _source_of(state[v, k + c]) == lab:
            at = c
        c += 1
    if at >= 0:
        if d >= state[v, at]:
            return False
        i = at
    elif c < k:
        i = c
    else:
        if d >= state[v, k - 1]:
            return False
        i = k - 1  # the farthest leaves the list
    while i > 0 and state[v, i - 1] > d:
        state[v, i] = state[v, i - 1]
        state[v, k + i] = state[v, k + i - 1]
        i -= 1
    state[v, i] = d
    state[v, k + i] = lab
    return True


@njit(cache=True, nogil=True, inline="always")
def _send(indptr, indices, weights, limit, state, k, u, j, inv, queue, free, used):  # noqa: ANN001, ANN202
    """Send node u's entry j to its neighbours and queue those it improved.

    Return (done, free, used, added): done is False if the pool ran out.
    """
    head, entry_node, entry_next = queue
    d = state[u, j]
    lab = state[u, k + j]
    state[u, k + j] = -lab - 1  # sent
    added = 0
    for e in range(indptr[u], indptr[u + 1]):
        v = indices[e]
        nd = d + weights[e]
        if nd <= limit and _offer(state, v, nd, lab, k) and nd < state[v, 2 * k]:
            if _full(free, used, entry_node):
                return False, free, used, added
            state[v, 2 * k] = nd
            free, used = _enqueue(head, entry_node, entry_next, free, used, v, int(nd * inv))
            added += 1
    return True, free, used, added


@njit(cache=True, nogil=True)
def _seed(sources, state, k, queue):  # noqa: ANN001, ANN202
    """Give each source's node the entry (0, source) and queue it; return (done, entries used)."""
    head, entry_node, entry_next = queue
    used = 0
    for s in range(sources.size):
        node = sources[s]
        if node >= 0 and _offer(state, node, 0.0, float(s), k) and state[node, 2 * k] > 0.0:
            if _full(-1, used, entry_node):
                return False, used
            state[node, 2 * k] = 0.0
            _, used = _enqueue(head, entry_node, entry_next, -1, used, node, 0)
    return True, used


@njit(cache=True, nogil=True)
def _node_rows(n_nodes, k):  # noqa: ANN001, ANN202
    """Empty node rows (no entries, key ``inf``), the array starting on a 64-byte boundary."""
    width = _row_width(k)
    raw = np.empty(n_nodes * width + 8)
    skip = (8 - (raw.ctypes.data // 8) % 8) % 8
    state = raw[skip : skip + n_nodes * width].reshape((n_nodes, width))
    for v in range(n_nodes):
        for i in range(k):
            state[v, i] = np.inf
        state[v, 2 * k] = np.inf
    return state


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
    state = _node_rows(kd.shape[0], k)
    inv, n_buckets = _buckets(weights)
    queue = (
        np.full(n_buckets, -1, np.int64),
        np.empty(capacity, indices.dtype),
        np.empty(capacity, np.int64),
    )
    head, entry_node, entry_next = queue
    done, used = _seed(sources, state, k, queue)
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
        if state[u, 2 * k] == np.inf or int(state[u, 2 * k] * inv) != current:
            continue  # stale: u was sent on already, or its key moved to another bucket
        later = np.inf  # u's nearest entry left for a later bucket
        j = 0
        while done and j < k and state[u, j] < np.inf:
            if state[u, k + j] >= 0:  # not sent yet
                if int(state[u, j] * inv) != current:
                    later = min(later, state[u, j])
                else:
                    done, free, used, added = _send(
                        indptr, indices, weights, limit, state, k, u, j, inv, queue, free, used
                    )
                    pending += added
            j += 1
        state[u, 2 * k] = later
        if done and later < np.inf:
            done = not _full(free, used, entry_node)
            if done:
                free, used = _enqueue(head, entry_node, entry_next, free, used, u, int(later * inv))
                pending += 1
    _rows_out(state, k, kd, kl)
    return done


@njit(cache=True, nogil=True)
def _rows_out(state, k, kd, kl):  # noqa: ANN001, ANN202
    """Copy the node rows' entries into kd/kl (``inf`` / ``-1`` where a node has fewer than k)."""
    for v in range(kd.shape[0]):
        for i in range(k):
            kd[v, i] = state[v, i]
            kl[v, i] = int(_source_of(state[v, k + i])) if state[v, i] < np.inf else -1


@njit(cache=True, nogil=True)
def _bounded_search(indptr, indices, weights, start, limit, dist, pos, hk, hn, touched):  # noqa: ANN001, ANN202
    """Dijkstra from one node up to `limit`; return how many nodes it reached.

    The reached nodes are ``touched[:n]`` with their distances in ``dist``. ``dist`` must be
    ``inf`` and ``pos`` -1 everywhere on entry; callers reset the touched entries after use,
    so one set of arrays serves thousands of small searches.
    """
    touched[0] = start
    dist[start] = 0.0
    _sift_up(hk, hn, pos, 0, 0.0, start)
    return _settle(indptr, indices, weights, limit, dist, pos, hk, hn, touched, 1, 1)


@njit(cache=True, nogil=True, inline="always")
def _settle(indptr, indices, weights, limit, dist, pos, hk, hn, touched, n_touched, size):  # noqa: ANN001, ANN202
    """Run a bounded Dijkstra from the `size` nodes on the heap; return how many it has reached.

    ``touched[:n_touched]`` are the nodes reached so far (those on the heap among them).
    """
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


# ---------------------------------------------------------------------------- isochrone rasters


@njit(cache=True, nogil=True)
def _distance_field(x0, y0, x1, y1, x_min, y_min, cell, nx, ny, reach):  # noqa: ANN001, ANN202
    """Exact distance from each grid vertex to the nearest segment, capped at `reach`.

    The minimum is taken over squared distances (one square root per vertex, not one per
    vertex and segment): the square root is monotonic, so the result is the same.
    """
    reach2 = reach * reach
    field = np.full((ny, nx), reach2)
    for s in range(x0.size):
        ax, ay, bx, by = x0[s], y0[s], x1[s], y1[s]
        dx = bx - ax
        dy = by - ay
        length2 = dx * dx + dy * dy
        i0 = max(0, int(np.floor((min(ax, bx) - reach - x_min) / cell)))
        i1 = min(nx - 1, int(np.ceil((max(ax, bx) + reach - x_min) / cell)))
        j0 = max(0, int(np.floor((min(ay, by) - reach - y_min) / cell)))
        j1 = min(ny - 1, int(np.ceil((max(ay, by) + reach - y_min) / cell)))
        for j in range(j0, j1 + 1):
            py = y_min + j * cell
            for i in range(i0, i1 + 1):
                px = x_min + i * cell
                t = 0.0
                if length2 > 0:
                    t = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / length2))
                qx = ax + t * dx - px
                qy = ay + t * dy - py
                d2 = qx * qx + qy * qy
                if d2 < field[j, i]:
                    field[j, i] = d2
    for j in range(ny):
        for i in range(nx):
            field[j, i] = reach if field[j, i] >= reach2 else np.sqrt(field[j, i])
    return field


# ---------------------------------------------------------------------------- scenarios (walkcircle.incremental)


@njit(cache=True, nogil=True)
def _push(hd, hn, hl, size, d, n, lab):  # noqa: ANN001, ANN202
    """Push (d, n, lab) on `paths`' binary min-heap, growing its arrays; return arrays, size."""
    if size == hd.size:
        grown = hd.size * 2
        hd2 = np.empty(grown, np.float64)
        hn2 = np.empty(grown, np.int64)
        hl2 = np.empty(grown, np.int64)
        hd2[:size] = hd
        hn2[:size] = hn
        hl2[:size] = hl
        hd, hn, hl = hd2, hn2, hl2
    _heap_push(hd, hn, hl, size, d, n, lab)
    return hd, hn, hl, size + 1


@njit(cache=True, nogil=True)
def _pop(hd, hn, hl, size):  # noqa: ANN001, ANN202
    """Pop the smallest entry; return (d, n, lab, new size)."""
    d = hd[0]
    n = hn[0]
    lab = hl[0]
    _heap_drop_top(hd, hn, hl, size)
    return d, n, lab, size - 1


# ---------------------------------------------------------------------------- list kernels


@njit(cache=True, nogil=True)
def _insert(kd, kl, u, d, lab):  # noqa: ANN001, ANN202
    """Insert (d, lab) into node u's ascending list if it is among the k best; True if inserted.

    Ties keep the entry already there first; a label already in the list is not added again
    (searches pop in ascending order, so the entry there is at least as near).
    """
    k = kd.shape[1]
    if kl[u, k - 1] >= 0 and d >= kd[u, k - 1]:
        return False
    j = 0
    while j < k and kl[u, j] >= 0:
        if kl[u, j] == lab:
            return False
        j += 1
    j = 0
    while j < k and kl[u, j] >= 0 and kd[u, j] <= d:
        j += 1
    for m in range(k - 1, j, -1):
        kd[u, m] = kd[u, m - 1]
        kl[u, m] = kl[u, m - 1]
    kd[u, j] = d
    kl[u, j] = lab
    return True


@njit(cache=True, nogil=True)
def _spread(indptr, indices, weights, kd, kl, seed_node, seed_d, seed_lab, region, restrict):  # noqa: ANN001, ANN202
    """Label-setting search from the seeds that stops where a node's k-list does not improve.

    With `restrict`, only nodes where ``region`` is True are entered.
    """
    k = kd.shape[1]
    cap = max(16, 4 * seed_node.size)
    hd = np.empty(cap, np.float64)
    hn = np.empty(cap, np.int64)
    hl = np.empty(cap, np.int64)
    size = 0
    for s in range(seed_node.size):
        hd, hn, hl, size = _push(hd, hn, hl, size, seed_d[s], seed_node[s], seed_lab[s])
    while size > 0:
        d, u, lab, size = _pop(hd, hn, hl, size)
        if not _insert(kd, kl, u, d, lab):
            continue
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if restrict and not region[v]:
                continue
            nd = d + weights[e]
            if kl[v, k - 1] >= 0 and nd >= kd[v, k - 1]:
                continue
            hd, hn, hl, size = _push(hd, hn, hl, size, nd, v, lab)


@njit(cache=True, nogil=True)
def _boundary_seeds(rindptr, rindices, rweights, kd, kl, members, region):  # noqa: ANN001, ANN202
    """Candidates for the region's nodes from their in-neighbours outside it: (node, d, label)."""
    k = kd.shape[1]
    n_out = 0
    for i in range(members.size):
        u = members[i]
        for e in range(rindptr[u], rindptr[u + 1]):
            w = rindices[e]
            if not region[w]:
                for j in range(k):
                    if kl[w, j] >= 0:
                        n_out += 1
    node = np.empty(n_out, np.int64)
    dist = np.empty(n_out, np.float64)
    lab = np.empty(n_out, np.int64)
    n_out = 0
    for i in range(members.size):
        u = members[i]
        for e in range(rindptr[u], rindptr[u + 1]):
            w = rindices[e]
            if not region[w]:
                for j in range(k):
                    if kl[w, j] >= 0:
                        node[n_out] = u
                        dist[n_out] = kd[w, j] + rweights[e]
                        lab[n_out] = kl[w, j]
                        n_out += 1
    return node, dist, lab


# ---------------------------------------------------------------------------- counts kernel


@njit(cache=True, nogil=True)
def _seed_heap(nodes, dists, limit, dist, pos, hk, hn, touched):  # noqa: ANN001, ANN202
    """Put one source's seeds (within `limit`) on an empty indexed heap; return (touched, size)."""
    n_touched = 0
    size = 0
    for i in range(nodes.size):
        v = nodes[i]
        d = dists[i]
        if d <= limit and d < dist[v]:
            dist[v] = d
            if pos[v] == -1:
                touched[n_touched] = v
                n_touched += 1
                _sift_up(hk, hn, pos, size, d, v)
                size += 1
            else:
                _sift_up(hk, hn, pos, pos[v], d, v)
    return n_touched, size


@njit(cache=True, nogil=True)
def _counts_delta(indptr, indices, weights, seed_ptr, seed_node, seed_d, limits, counts, sign):  # noqa: ANN001, ANN202
    """Add `sign` to the counts of every node within each limit of each source (bounded searches)."""
    n = counts.shape[0]
    n_limits = limits.size
    limit = limits[n_limits - 1]
    dist = np.full(n, np.inf)
    pos = np.full(n, -1, np.int64)
    hk = np.empty(n, np.float64)
    hn = np.empty(n, np.int64)
    touched = np.empty(n, np.int64)
    for s in range(seed_ptr.size - 1):
        n_touched, size = _seed_heap(
            seed_node[seed_ptr[s] : seed_ptr[s + 1]],
            seed_d[seed_ptr[s] : seed_ptr[s + 1]],
            limit,
            dist,
            pos,
            hk,
            hn,
            touched,
        )
        n_touched = _settle(indptr, indices, weights, limit, dist, pos, hk, hn, touched, n_touched, size)
        for i in range(n_touched):
            u = touched[i]
            for t in range(n_limits):
                if dist[u] <= limits[t]:
                    counts[u, t] += sign
            dist[u] = np.inf
            pos[u] = -1


# ---------------------------------------------------------------------------- compiling ahead


# the kernels a study calls from Python, the longest to compile first (`walkcircle._precompile`)
STUDY_KERNELS = ("_counts_into", "_k_nearest_into", "_reach_lists", "_distance_field", "_nearest_into")
# the kernels a scenario adds (`walkcircle.incremental`)
SCENARIO_KERNELS = ("_spread", "_boundary_seeds", "_counts_delta")
KERNELS = STUDY_KERNELS + SCENARIO_KERNELS


def compile_kernel(name: str) -> None:
    """Compile one kernel of `KERNELS` with the signature a study uses, by running it once.

    Parameters
    ----------
    name
        The kernel's name.

    Raises
    ------
    ValueError
        If `name` is not in `KERNELS`.

    Examples
    --------
    >>> compile_kernel("_nearest_into")
    >>> _nearest_into.signatures[0][0]
    array(int32, 1d, C)
    """
    # a path 0 - 1 - 2 of 10 m edges, as `paths._csr_arrays` gives it
    indptr = np.array([0, 1, 3, 4], np.int32)
    indices = np.array([1, 0, 2, 1], np.int32)
    weights = np.full(4, 10.0)
    sources = np.array([0], np.int32)
    if name == "_nearest_into":
        _nearest_into(indptr, indices, weights, sources, np.inf, np.empty((1, 3))[0],
                      np.empty((1, 3), np.int32)[0], 8)  # fmt: skip
    elif name == "_k_nearest_into":
        _k_nearest_into(indptr, indices, weights, sources, 2, 40.0, np.empty((3, 2)),
                        np.empty((3, 2), np.int64), 16)  # fmt: skip
    elif name == "_counts_into":
        _counts_into(indptr, indices, weights, sources, np.array([10.0, 20.0]), np.zeros((3, 2), np.int32))
    elif name == "_reach_lists":
        _reach_lists(indptr, indices, weights, sources, 3, 15.0)
    elif name == "_distance_field":
        a = np.array([[0.0, 0.0], [30.0, 0.0]])  # segment starts (columns of an (n, 2) array)
        b = np.array([[30.0, 0.0], [30.0, 20.0]])
        _distance_field(a[:, 0], a[:, 1], b[:, 0], b[:, 1], -10.0, -10.0, 2.0, 26, 21, 9.0)
    elif name in SCENARIO_KERNELS:
        _compile_scenario_kernel(name)
    else:
        msg = f"no kernel {name!r} (kernels: {', '.join(KERNELS)})"
        raise ValueError(msg)


def _compile_scenario_kernel(name: str) -> None:
    """Run a scenario kernel on the same path, with int64 ids as `incremental` gives them."""
    indptr = np.array([0, 1, 3, 4], np.int64)
    indices = np.array([1, 0, 2, 1], np.int64)
    weights = np.full(4, 10.0)
    kd = np.full((3, 2), np.inf)
    kl = np.full((3, 2), -1, np.int64)
    region = np.array([False, True, True])
    if name == "_spread":
        _spread(indptr, indices, weights, kd, kl, np.array([0], np.int64), np.zeros(1), np.array([0], np.int64),
                region, True)  # fmt: skip
    elif name == "_boundary_seeds":
        _boundary_seeds(indptr, indices, weights, kd, kl, np.array([1, 2], np.int64), region)
    else:
        _counts_delta(indptr, indices, weights, np.array([0, 1], np.int64), np.array([0], np.int64),
                      np.zeros(1), np.array([10.0, 20.0]), np.zeros((3, 2), np.int32), 1)  # fmt: skip


def compile_kernels(names: tuple[str, ...] = KERNELS) -> None:
    """Compile kernels of `KERNELS` (all by default), in order, into the kernel cache.

    Parameters
    ----------
    names
        The kernels, e.g. `STUDY_KERNELS`.
    """
    for name in names:
        compile_kernel(name)


if __name__ == "__main__":  # `walkcircle._precompile`'s helper: what a study runs
    from walkcircle import _kernels  # the module's own kernels, not copies defined in __main__

    _kernels.compile_kernels(_kernels.STUDY_KERNELS)
