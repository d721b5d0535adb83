"""Cutting a city-sized study area out of a big OSM extract, against loading the whole file.

Builds (once, cached) a synthetic ``.osm.pbf`` street grid around Hebi with pyosmium: rows and
columns of 80 m blocks cut into ways of about 40 nodes, plus tagged shop nodes. Then, each in
its own subprocess (so peak memory is the child's own maximum resident set), times:

- ``whole``: `walkcircle.sources.osm.read_network` on the whole file;
- ``cut``: `walkcircle.sources.extract.cut_extract` of a city-sized box (default 10 km x 10 km,
  plus the default 1.5 km walking margin) and `read_network` on the cut file;
- ``cut-disk``: the same with libosmium's node-location index in a file (``sparse_file_array``).

Usage::

    python benchmarks/bench_extract.py            # 5.0 million nodes (about 180 km x 180 km)
    python benchmarks/bench_extract.py --nodes 500000 --city-km 5
    python benchmarks/bench_extract.py --full     # 20 million nodes
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LON0, LAT0 = 113.50, 35.00  # south-west corner; Hebi lies inside the grid
STEP_M = 80.0
WAY_NODES = 40
M_PER_DEG_LAT = 110_950.0
CACHE = Path("/tmp/walkcircle-bench")


def grid_side(n_nodes: int) -> int:
    return int(np.ceil(np.sqrt(n_nodes)))


def grid_degrees(side: int) -> tuple[float, float]:
    return STEP_M / (
        111_320.0 * np.cos(np.radians(LAT0 + side * STEP_M / M_PER_DEG_LAT / 2))
    ), STEP_M / M_PER_DEG_LAT


def build_pbf(n_nodes: int, path: Path, seed: int = 0) -> Path:
    """Write a jittered street grid of about `n_nodes` nodes (rows and columns of ways) as PBF."""
    import osmium

    rng = np.random.default_rng(seed)
    side = grid_side(n_nodes)
    dlon, dlat = grid_degrees(side)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.osm.pbf")
    tmp.unlink(missing_ok=True)
    node = osmium.osm.mutable.Node
    way = osmium.osm.mutable.Way
    with osmium.SimpleWriter(str(tmp)) as writer:
        for i in range(side):
            jitter = rng.uniform(-0.15, 0.15, size=(side, 2))
            lats = LAT0 + (i + jitter[:, 1]) * dlat
            lons = LON0 + (np.arange(side) + jitter[:, 0]) * dlon
            shops = rng.random(side) < 0.01
            for j in range(side):
                tags = {"shop": "convenience", "name": f"shop {i}-{j}"} if shops[j] else {}
                writer.add_node(
                    node(id=i * side + j + 1, location=(float(lons[j]), float(lats[j])), tags=tags)
                )
        way_id = 1
        for i in range(side):  # rows, then columns, cut into ways of WAY_NODES
            for start in range(0, side - 1, WAY_NODES - 1):
                refs = [i * side + j + 1 for j in range(start, min(start + WAY_NODES, side))]
                writer.add_way(way(id=way_id, nodes=refs, tags={"highway": "residential"}))
                way_id += 1
        for j in range(side):
            for start in range(0, side - 1, WAY_NODES - 1):
                refs = [i * side + j + 1 for i in range(start, min(start + WAY_NODES, side))]
                writer.add_way(way(id=way_id, nodes=refs, tags={"highway": "footway"}))
                way_id += 1
    tmp.replace(path)
    return path


def city_bbox(n_nodes: int, city_km: float) -> tuple[float, float, float, float]:
    side = grid_side(n_nodes)
    dlon, dlat = grid_degrees(side)
    centre_lon, centre_lat = LON0 + side * dlon / 2, LAT0 + side * dlat / 2
    half_lon = city_km * 500.0 / STEP_M * dlon
    half_lat = city_km * 500.0 / STEP_M * dlat
    return centre_lon - half_lon, centre_lat - half_lat, centre_lon + half_lon, centre_lat + half_lat


def child(task: str, pbf: str, bbox: str, workdir: str) -> None:
    from walkcircle.sources.osm import read_network

    start = time.perf_counter()
    info: dict[str, float | int] = {}
    if task == "whole":
        net = read_network(pbf)
    else:
        from walkcircle.defaults import DEFAULT_EXTRACT_LOCATION_STORE
        from walkcircle.sources.extract import cut_extract

        out_dir = Path(workdir) / task
        store = DEFAULT_EXTRACT_LOCATION_STORE
        if task == "cut-disk":
            store = f"sparse_file_array,{out_dir / 'locations.idx'}"
            out_dir.mkdir(parents=True, exist_ok=True)
        cut = cut_extract(
            pbf, bbox=tuple(float(v) for v in bbox.split(",")), out_dir=out_dir, location_store=store
        )
        info["cut_s"] = time.perf_counter() - start
        info["cut_mb"] = cut.path.stat().st_size / 1e6
        net = read_network(cut.path)
    info["seconds"] = time.perf_counter() - start
    info["nodes"] = int(net.node_id.size)
    info["edges"] = int(net.edge_u.size)
    info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process's own peak
    print(json.dumps(info))


def run_child(task: str, pbf: Path, bbox: tuple[float, float, float, float], workdir: Path) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            task,
            "--pbf",
            str(pbf),
            "--bbox",
            ",".join(map(str, bbox)),
            "--workdir",
            str(workdir),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5_000_000)
    parser.add_argument("--full", action="store_true", help="20 million nodes")
    parser.add_argument("--city-km", type=float, default=10.0)
    parser.add_argument("--child")
    parser.add_argument("--pbf")
    parser.add_argument("--bbox")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.pbf, args.bbox, args.workdir)
        return
    n_nodes = 20_000_000 if args.full else args.nodes
    pbf = CACHE / f"grid-{n_nodes}.osm.pbf"
    if not pbf.exists():
        start = time.perf_counter()
        build_pbf(n_nodes, pbf)
        print(f"built {pbf} ({pbf.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s")
    bbox = city_bbox(n_nodes, args.city_km)
    workdir = CACHE / "cuts"
    if workdir.exists():  # time a real cut, not a cache hit
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    rows = [(task, run_child(task, pbf, bbox, workdir)) for task in ("cut", "cut-disk", "whole")]
    side = grid_side(n_nodes)
    print(f"\nfile: {pbf.name}, {side * side:,} nodes, {pbf.stat().st_size / 1e6:.0f} MB; "
          f"city box {args.city_km:g} km x {args.city_km:g} km + 1.5 km margin")  # fmt: skip
    print(
        f"{'task':<8}{'seconds':>10}{'peak MB':>10}{'net nodes':>12}{'net edges':>12}{'cut s':>8}{'cut MB':>8}"
    )
    for name, info in rows:
        print(
            f"{name:<10}{info['seconds']:>10.1f}{info['peak_mb']:>10.0f}{info['nodes']:>12,}{info['edges']:>12,}"
            f"{info.get('cut_s', float('nan')):>8.1f}{info.get('cut_mb', float('nan')):>8.1f}"
        )


if __name__ == "__main__":
    main()
