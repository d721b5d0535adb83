"""Scenarios: opening 5 facilities / closing 5, incremental update against a full recompute.

Run: python benchmarks/bench_scenario.py            (100k-node grid)
     python benchmarks/bench_scenario.py --full     (100k and 1M nodes)

Network: synthetic street grid (synthetic.py). Homes: one random point per 5 nodes. Facilities:
2% of nodes, spread over 9 categories with thresholds 300-1,000 m; k = 3 nearest; tiers 5/10/15
min. Both sides start from the same snapped homes.

- full: `compute_access` on the changed facility table (routing graph + nearest + counts +
  3-nearest for all 9 categories), what a run without the incremental engine does;
- incremental: `run_scenario` on a baseline computed with ``keep_state=True`` (snap the
  planned sites, update only the categories touched, read the homes' results out).

Each timing is the median of 3 runs. "same" checks the incremental result against the full one
(counts and reached exactly, distances to 1e-6 m).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import street_grid

N_CATEGORIES = 9
FACILITY_SHARE = 0.02
HOMES_PER_NODE = 0.2
CHANGES = 5
REPEATS = 3


def median_time(fn, repeats=REPEATS):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def points(frame_rows):
    import geopandas as gpd
    import pandas as pd

    frame = pd.DataFrame(frame_rows)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def near_nodes(net, rng, n, jitter_deg=0.0003):
    nodes = rng.integers(0, net.n_nodes, n)
    return net.lon[nodes] + rng.uniform(-jitter_deg, jitter_deg, n), net.lat[nodes] + rng.uniform(
        -jitter_deg, jitter_deg, n
    )


def same(a, b):
    finite = np.isfinite(b.nearest_m)
    return bool(
        np.array_equal(a.count_within_threshold, b.count_within_threshold)
        and np.array_equal(a.tier_counts, b.tier_counts)
        and np.array_equal(a.reached, b.reached)
        and np.array_equal(np.isfinite(a.nearest_m), finite)
        and np.abs(a.nearest_m[finite] - b.nearest_m[finite]).max(initial=0) <= 1e-6
    )


def run_size(n_nodes, seed=0):
    import pandas as pd

    from walkcircle.access import compute_access
    from walkcircle.errors import WalkcircleWarning
    from walkcircle.scenario import run_scenario

    warnings.simplefilter("ignore", WalkcircleWarning)
    rng = np.random.default_rng(seed)
    net = street_grid(n_nodes, seed=seed).network()
    cats = [f"c{i}" for i in range(N_CATEGORIES)]
    thresholds = dict(zip(cats, np.linspace(300, 1000, N_CATEGORIES), strict=True))
    hl, ht = near_nodes(net, rng, int(HOMES_PER_NODE * net.n_nodes))
    homes = points({"lon": hl, "lat": ht})
    home_snap = net.snap(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    n_fac = int(FACILITY_SHARE * net.n_nodes)
    fl, ft = near_nodes(net, rng, n_fac)
    fac_cat = rng.choice(cats, n_fac)
    ids = [f"f{i}" for i in range(n_fac)]
    facilities = points(
        {
            "facility_id": ids,
            "feature_id": ids,
            "category": fac_cat,
            "name": ids,
            "source": "bench",
            "lon": fl,
            "lat": ft,
        }
    )
    pl, pt = near_nodes(net, rng, CHANGES)
    pids = [f"p{i}" for i in range(CHANGES)]
    planned = points(
        {"facility_id": pids, "feature_id": pids, "category": rng.choice(cats, CHANGES), "name": pids,
         "source": "planned", "lon": pl, "lat": pt}
    )  # fmt: skip
    closed = rng.choice(n_fac, CHANGES, replace=False)

    def access(table, keep_state=False):
        return compute_access(
            net, home_snap, table, cats, thresholds_m=thresholds, k=3, keep_state=keep_state
        )

    t_base_plain, _ = median_time(lambda: access(facilities), 1)
    t_base_state, base = median_time(lambda: access(facilities, keep_state=True), 1)
    rows = []
    for label, plan, close, changed in (
        ("open 5", planned, (), pd.concat([facilities, planned], ignore_index=True)),
        ("close 5", None, closed, facilities.drop(index=closed).reset_index(drop=True)),
    ):
        t_full, full = median_time(lambda changed=changed: access(changed))
        t_inc, inc = median_time(
            lambda plan=plan, close=close: run_scenario(net, base, facilities, plan, close)
        )
        rows.append((label, t_full, t_inc, same(inc.access, full)))
    return net, len(homes), n_fac, t_base_plain, t_base_state, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the 1M-node grid")
    parser.add_argument("--sizes", default=None, help="comma-separated node counts (overrides --full)")
    args = parser.parse_args()
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [100_000] + ([1_000_000] if args.full else [])
    )
    # compile the kernels outside the timings
    run_size(2_000, seed=1)
    print(f"load average before the timings: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"{'nodes':>9} {'homes':>7} {'facil.':>6} {'base s':>7} {'+state s':>8}  {'change':<8}"
        f" {'full s':>7} {'incr. s':>8} {'speed-up':>8}  same"
    )
    for n in sizes:
        net, n_homes, n_fac, t_plain, t_state, rows = run_size(n)
        for label, t_full, t_inc, ok in rows:
            print(
                f"{net.n_nodes:>9,} {n_homes:>7,} {n_fac:>6,} {t_plain:>7.3f} {t_state:>8.3f}  {label:<8}"
                f" {t_full:>7.3f} {t_inc:>8.4f} {t_full / t_inc:>7.0f}x  {'yes' if ok else 'NO'}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
