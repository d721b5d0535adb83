"""Merging facility sources: the rule of issue 12 against the old transitive (chained) merge.

Run: python benchmarks/bench_merge.py [--full]

One table of N rows (4 categories, uniform over a square sized for about one row per 400 m²,
i.e. a dense AMap-like POI table) plus an OSM-like source of N/200 rows, merged at 30 m.

- new: `walkcircle.sources.merge.merge_facilities` (different sources only, one to one,
  within 30 m of the group's first row; KD-trees, vectorised rounds).
- old chained: the previous rule, re-implemented here as it was: connected components of
  all same-category pairs within 30 m, whatever their source (`query_pairs` + scipy).

The table shows the rows kept and the time of the merge alone (frames built beforehand).
Sizes: 10,000 and 100,000 rows; --full adds 1,000,000.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from walkcircle.geodesy import to_lonlat
from walkcircle.sources.loads import FacilityLoad, LoadReport, _facility_frame, metres_utm
from walkcircle.sources.merge import merge_facilities

EPSG = 32650
X0, Y0 = 500_000.0, 3_960_000.0
CATEGORIES = np.array(["convenience_store", "pharmacy", "bus_stop", "park"])


def _load(n: int, side_m: float, source: str, rng: np.random.Generator) -> FacilityLoad:
    x = X0 + rng.uniform(0, side_m, n)
    y = Y0 + rng.uniform(0, side_m, n)
    lon, lat = to_lonlat(x, y, EPSG)
    cats = CATEGORIES[rng.integers(0, CATEGORIES.size, n)].tolist()
    frame = _facility_frame([f"{source}:{i}" for i in range(n)], cats, [""] * n, lon, lat, source)
    return FacilityLoad(frame, [LoadReport(source=source, rows_read=n, kept=n)])


def old_chained(loads: list[FacilityLoad], dedupe_m: float) -> int:
    """The merge before issue 12: transitive groups within `dedupe_m`, any source. Rows kept."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    combined = pd.concat([pd.DataFrame(load.facilities) for load in loads], ignore_index=True)
    keep = np.ones(len(combined), dtype=bool)
    x, y = metres_utm(combined["lon"].to_numpy(), combined["lat"].to_numpy())
    for idx in combined.groupby("category").indices.values():
        pairs = cKDTree(np.column_stack([x[idx], y[idx]])).query_pairs(dedupe_m, output_type="ndarray")
        if pairs.size == 0:
            continue
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(idx.size, idx.size))
        _, label = connected_components(graph, directed=False)
        first = np.zeros(idx.size, dtype=bool)
        first[np.unique(label, return_index=True)[1]] = True
        keep[idx[~first]] = False
    return int(keep.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add the 1,000,000-row table")
    args = parser.parse_args()
    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    print(f"{'table rows':>10} {'osm rows':>8} | {'new kept':>9} {'new s':>7} | {'old kept':>9} {'old s':>7}")
    for n in sizes:
        rng = np.random.default_rng(n)
        side = float(np.sqrt(n * 400.0))
        loads = [_load(n, side, "table:t.csv", rng), _load(n // 200, side, "osm:x", rng)]
        start = time.perf_counter()
        merged = merge_facilities(loads, 30.0)
        t_new = time.perf_counter() - start
        start = time.perf_counter()
        kept_old = old_chained(loads, 30.0)
        t_old = time.perf_counter() - start
        print(
            f"{n:>10,} {n // 200:>8,} | {len(merged.facilities):>9,} {t_new:>7.2f} | {kept_old:>9,} {t_old:>7.2f}"
        )


if __name__ == "__main__":
    main()
