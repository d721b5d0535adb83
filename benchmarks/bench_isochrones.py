"""Isochrones: the public `isochrones()` end to end, and the buffer methods side by side.

Run: python benchmarks/bench_isochrones.py [--nodes 100000] [--origins 55] [--repeat 3] [--methods]

Part 1 (always): 55 origins x 3 budgets (5/10/15 min at 4.8 km/h) on a 100k-node grid through
the public `walkcircle.isochrones.isochrones` (snapping, routing graph, routing, reached pieces,
raster buffer, reprojection: everything), median of ``--repeat`` runs, wall and CPU time; the
areas are compared with the same call using ``method="union"`` (the buffered-edge union, the
reference). To compare with an older version, run it with that version's ``src`` on PYTHONPATH.

Part 2 (``--methods``, at ``--metres``): the same reached street pieces for every method (edge-accurate, partial frontier edges included),
computed once and timed separately; then, per origin:

- union of edge buffers: buffer every piece (GEOS default 8 segments per quarter circle) and
  `shapely.union_all` them: the reference, and slow (also shown with 3 segments);
- one MultiLineString of the pieces buffered at once (GEOS nodes everything together);
- walkcircle (default): exact distance field on a 4 m grid + contourpy filled contour;
- convex hull of the reached pieces, buffered: fast, but it overstates reach.

Areas are compared with the reference (ratio and symmetric difference share).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import street_grid
from walkcircle import paths
from walkcircle.isochrones import (
    DEFAULT_CELL_M,
    buffer_lines_raster,
    buffer_lines_union,
    edge_substrings,
    isochrones,
    reached_pieces,
)
from walkcircle.routing import routing_graph

HALF_WIDTH_M = 25.0


def public_function(net, lon, lat, repeat: int) -> None:
    """Part 1: the public function end to end against the buffered-edge union."""
    isochrones(net, lon[:2], lat[:2])  # compile or load the kernels; build the network's STRtree
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fast = isochrones(net, lon, lat, minutes=(5, 10, 15))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    t0 = time.perf_counter()
    ref = isochrones(net, lon, lat, minutes=(5, 10, 15), method="union")
    t_ref = time.perf_counter() - t0
    rel = fast["area_m2"].to_numpy() / ref["area_m2"].to_numpy() - 1
    print(f"isochrones(): {lon.size} origins x 3 budgets (5/10/15 min), grid of {net.n_nodes:,} nodes, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    head = f"{'method':<34}{'wall s':>9}{'CPU s':>9}{'area/union':>12}{'max |err|':>11}"
    print(head)
    print("-" * len(head))
    print(f"{'raster (default), median of ' + str(repeat):<34}{np.median(walls):>9.3f}{np.median(cpus):>9.3f}"
          f"{float(np.mean(rel + 1)):>12.4f}{float(np.abs(rel).max()):>11.4f}")  # fmt: skip
    print(f"{'union (reference), 1 run':<34}{t_ref:>9.3f}{'':>9}{1.0:>12.4f}{0.0:>11.4f}")
    print(
        "routing, reached pieces, buffering and reprojection included; CPU s is the process's (all threads).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--origins", type=int, default=55)
    parser.add_argument("--metres", type=float, default=1200.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", action="store_true", help="also compare the buffer methods (part 2)")
    args = parser.parse_args()

    net = street_grid(args.nodes, seed=7).network()
    rng = np.random.default_rng(0)
    picks = rng.choice(net.n_nodes, args.origins, replace=False)
    lon = net.lon[picks] + rng.normal(0, 2e-4, args.origins)
    lat = net.lat[picks] + rng.normal(0, 2e-4, args.origins)
    public_function(net, lon, lat, args.repeat)
    if not args.methods:
        return
    snapped = net.snap(lon, lat)
    buffer_lines_raster(shapely.linestrings([[0, 0], [1, 1]], indices=[0, 0])[None], HALF_WIDTH_M)  # compile

    t0 = time.perf_counter()
    graph = routing_graph(net, {"o": (snapped, "source")})
    origins = [graph.point_node["o"][i : i + 1] for i in range(args.origins)]
    dist, _ = paths.nearest(graph.csr, origins, limit=args.metres)
    lines_per_origin = []
    for i in range(args.origins):
        parent, a, b = reached_pieces(graph, dist[i], args.metres)
        coords, piece = edge_substrings(net, parent, a, b)
        lines_per_origin.append(shapely.linestrings(coords, indices=piece))
    t_reach = time.perf_counter() - t0
    n_pieces = sum(len(x) for x in lines_per_origin)

    def timed(fn):
        t0 = time.perf_counter()
        geoms = [fn(lines) for lines in lines_per_origin]
        return time.perf_counter() - t0, geoms

    t_ref, reference = timed(lambda lines: buffer_lines_union(lines, HALF_WIDTH_M, quad_segs=8))
    others = [
        (
            "union of edge buffers, q=3",
            *timed(lambda lines: buffer_lines_union(lines, HALF_WIDTH_M, quad_segs=3)),
        ),
        (
            "one MultiLineString buffer, q=3",
            *timed(
                lambda lines: shapely.buffer(shapely.MultiLineString(list(lines)), HALF_WIDTH_M, quad_segs=3)
            ),
        ),
        (
            f"walkcircle raster, {DEFAULT_CELL_M:g} m cells",
            *timed(lambda lines: buffer_lines_raster(lines, HALF_WIDTH_M, DEFAULT_CELL_M)),
        ),
        ("walkcircle raster, 2 m cells", *timed(lambda lines: buffer_lines_raster(lines, HALF_WIDTH_M, 2.0))),
        (
            "convex hull of reached pieces",
            *timed(lambda lines: shapely.MultiLineString(list(lines)).convex_hull.buffer(HALF_WIDTH_M)),
        ),
    ]
    ref_area = np.array([g.area for g in reference])

    def compare(geoms: list) -> tuple[float, float, float]:
        area = np.array([g.area for g in geoms])
        sym = np.array([g.symmetric_difference(r).area for g, r in zip(geoms, reference, strict=True)])
        return (
            float(np.mean(area / ref_area)),
            float(np.mean(sym / ref_area)),
            float(np.max(np.abs(area / ref_area - 1))),
        )

    print(
        f"{args.origins} origins, {args.metres:g} m, street half-width {HALF_WIDTH_M:g} m, "
        f"grid of {net.n_nodes:,} nodes; {n_pieces:,} reached pieces"
    )
    print(f"routing + reached pieces (shared by all methods): {t_reach:.3f} s")
    header = f"{'method':<36}{'time s':>9}{'x faster':>10}{'area/ref':>10}{'sym.diff':>10}{'max |err|':>10}"
    print(header)
    print("-" * len(header))
    print(
        f"{'union of edge buffers, q=8 (ref)':<36}{t_ref:>9.3f}{1.0:>10.1f}{1.0:>10.3f}{0.0:>10.3f}{0.0:>10.3f}"
    )
    for name, t, geoms in others:
        ratio, sym, worst = compare(geoms)
        print(f"{name:<36}{t:>9.3f}{t_ref / t:>10.1f}{ratio:>10.3f}{sym:>10.3f}{worst:>10.3f}")
    print(
        "\narea/ref: mean area ratio to the reference; sym.diff: mean symmetric difference / reference area;"
    )
    print("max |err|: worst relative area difference over the origins. q = segments per quarter circle.")


if __name__ == "__main__":
    main()
