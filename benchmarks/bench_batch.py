"""Batch speed-up: the same areas on a Dask LocalCluster with 1 and with 2 worker processes.

Run: python benchmarks/bench_batch.py [--areas 8] [--nodes 20000] [--cold]

Each area is a synthetic street grid written as an .osm.pbf file (benchmarks only: no
synthetic data is used by walkcircle itself) and runs the full study (network, OSM
facilities, H3 homes, access, scores, map, report, tables) as one task. Both runs start a
fresh cluster and recompute every area (force); cluster start-up is timed separately.
``--cold`` adds fresh workers on a fresh machine: 2 workers with an empty user cache folder
that load the kernels this install compiled ("2, installed"; see setup.py), 2 workers with an
empty numba cache (no compiled kernel anywhere: each worker's first study compiles them), then
the same again with the cache they filled.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import street_grid, write_osm
from walkcircle.batch import AreaSpec, run_batch


def timed_batch(areas: list[AreaSpec], out: Path, workers: int) -> tuple[float, float, int]:
    """Cluster start-up seconds, batch seconds and areas done on a fresh LocalCluster."""
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.run(lambda: __import__("walkcircle.study"))  # import walkcircle before timing
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_batch(areas, out, client=client, force=True)
    elapsed = time.perf_counter() - t0
    client.close()
    cluster.close()
    return startup, elapsed, int((result.areas["status"] == "ok").sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--areas", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument(
        "--cold", action="store_true", help="also time fresh workers with an empty numba cache"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        areas = []
        for i in range(args.areas):
            path = write_osm(street_grid(args.nodes, seed=100 + i), tmp / f"area{i}.osm.pbf")
            areas.append(
                AreaSpec(
                    f"area{i}", {"name": f"area{i}", "osm": path, "homes": "h3", "profile": "gb50180-2018"}
                )
            )
        rows = [(str(w), *timed_batch(areas, tmp / f"out{w}", w)) for w in (1, 2)]
        if args.cold:
            os.environ.pop("NUMBA_CACHE_DIR", None)
            os.environ["XDG_CACHE_HOME"] = str(tmp / "home")  # the workers inherit it: empty
            rows.append(("2, installed", *timed_batch(areas, tmp / "installed", 2)))
            os.environ["NUMBA_CACHE_DIR"] = str(tmp / "numba")
            rows.append(("2, cold", *timed_batch(areas, tmp / "cold", 2)))
            rows.append(("2, warm", *timed_batch(areas, tmp / "warm", 2)))
    base = rows[0][2]
    print(f"{args.areas} areas of ~{args.nodes:,} nodes (synthetic grids), full study each")
    print(f"{'workers':>13}{'cluster start s':>17}{'batch s':>10}{'areas ok':>10}{'speed-up':>10}")
    for workers, startup, elapsed, ok in rows:
        print(f"{workers:>13}{startup:>17.2f}{elapsed:>10.2f}{ok:>10}{base / elapsed:>10.2f}")
    print("\nspeed-up: batch time with 1 worker / batch time with this many workers (same areas, same run).")
    if args.cold:
        import walkcircle

        built = (Path(walkcircle.__file__).parent / "_compiled").is_dir()
        print("'2, installed': fresh workers, empty user cache, kernels from the install"
              + ("" if built else " (this install compiled none: a cold start)") + ";")  # fmt: skip
        print("'2, cold': fresh workers, empty numba cache; '2, warm': the same after them (cache filled).")


if __name__ == "__main__":
    main()
