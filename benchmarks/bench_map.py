"""The study map at city scale: build, write and open it in headless Chromium.

Run: python benchmarks/bench_map.py            (30,000 homes on a 20,000-node street grid)
     python benchmarks/bench_map.py --full     (120,000 homes on a 60,000-node grid: the size of
                                                the 4x synthetic city of issue 16)

A synthetic city around Hebi's latitude: a jittered street grid (benchmarks/synthetic.py),
homes scattered near the streets with residents, facilities of every hebi-2021 category
(one category left empty, as in real data), a community grid, per-category service areas, one
set of 5/10/15-minute isochrones. Access and scores are computed with walkcircle itself, so
the map gets the columns a real study gives it.

The same inputs are drawn side by side:

- ``hexagons`` (default): homes aggregated into H3 hexagons above 5,000 homes, canvas renderer;
- ``points``: every home a circle marker (``max_homes`` above the number of homes), the way
  the map drew homes before (it then sampled 30,000 of them), and each service-area layer with
  its not-covered homes as points; skipped beyond ``--points-max`` (default 50,000).

Timed: building the folium map, writing the HTML (offline, assets inlined), its size, and
opening it in headless Chromium with the network off: from navigation to the load event plus
Leaflet's map ready (median of ``--repeat`` opens, each in a fresh tab). Printed as a table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from synthetic import street_grid  # noqa: E402
from walkcircle.access import compute_access  # noqa: E402
from walkcircle.defaults import DEFAULT_SPEED_KMH  # noqa: E402
from walkcircle.errors import WalkcircleWarning  # noqa: E402
from walkcircle.geodesy import to_lonlat  # noqa: E402
from walkcircle.isochrones import isochrones_around  # noqa: E402
from walkcircle.outputs.maps import save_map, study_map  # noqa: E402
from walkcircle.profile import load_profile  # noqa: E402
from walkcircle.scoring import community_table, home_table  # noqa: E402
from walkcircle.service_areas import service_areas  # noqa: E402


def synthetic_city(n_nodes: int, n_homes: int, n_pois: int, n_communities: int, seed: int = 0):
    """Network, homes, facilities, communities, access, service areas and isochrones."""
    rng = np.random.default_rng(seed)
    net = street_grid(n_nodes, seed=seed).network()
    profile = load_profile("hebi-2021")
    categories = profile.category_ids

    def near_streets(n: int, spread_m: float) -> tuple[np.ndarray, np.ndarray]:
        edges = rng.integers(0, net.n_edges, n)
        pts = shapely.line_interpolate_point(net.edge_lines[edges], rng.uniform(0, 1, n), normalized=True)
        x = shapely.get_x(pts) + rng.normal(0, spread_m, n)
        y = shapely.get_y(pts) + rng.normal(0, spread_m, n)
        return to_lonlat(x, y, net.epsg)

    hlon, hlat = near_streets(n_homes, 20.0)
    homes = gpd.GeoDataFrame(
        {"home_id": np.arange(n_homes), "population": rng.integers(1, 60, n_homes).astype(float)},
        geometry=gpd.points_from_xy(hlon, hlat),
        crs="EPSG:4326",
    )
    homes["lon"], homes["lat"] = hlon, hlat
    flon, flat = near_streets(n_pois, 10.0)
    present = [c for c in categories if c != "elderly_care"]  # one category without any facility
    fac_cat = rng.choice(present, n_pois)
    facilities = gpd.GeoDataFrame(
        {"category": fac_cat, "name": [f"POI {i}" for i in range(n_pois)], "lon": flon, "lat": flat},
        geometry=gpd.points_from_xy(flon, flat),
        crs="EPSG:4326",
    )
    # communities: a grid of boxes over the homes
    w, s, e, n = homes.total_bounds
    side = int(np.ceil(np.sqrt(n_communities)))
    xs, ys = np.linspace(w, e, side + 1), np.linspace(s, n, side + 1)
    boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(side) for j in range(side)]
    names = [f"社区{k + 1:03d}" for k in range(len(boxes))]
    cell = np.clip(((hlon - w) / (e - w) * side).astype(int), 0, side - 1) * side + np.clip(
        ((hlat - s) / (n - s) * side).astype(int), 0, side - 1
    )
    homes["community"] = np.array(names)[cell]

    thresholds = {c.id: c.distance_m(DEFAULT_SPEED_KMH) for c in profile.categories}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(net, homes, facilities, categories, thresholds)
    scores = home_table(access, profile)
    homes = gpd.GeoDataFrame(
        pd.concat([homes.reset_index(drop=True), scores], axis=1), geometry="geometry", crs="EPSG:4326"
    )
    table = community_table(homes, scores, categories)
    communities = gpd.GeoDataFrame(
        table.merge(pd.DataFrame({"community": names, "geometry": boxes}), on="community"),
        geometry="geometry",
        crs="EPSG:4326",
    )
    t0 = time.perf_counter()
    areas = service_areas(
        net, facilities, dict(zip(access.categories, access.threshold_m, strict=True)), access, homes
    )
    t_areas = time.perf_counter() - t0
    centre = (float(np.median(net.lon)), float(np.median(net.lat)))
    iso = isochrones_around(net, [centre], [5, 10, 15])
    return net, profile, homes, facilities, communities, access, areas, iso, t_areas


def open_times(paths: list[Path], repeat: int) -> list[float]:
    """Median seconds to open each map (load event + Leaflet ready), fresh tab each time."""
    from browser import CHROMEDRIVER, CHROMIUM, offline_browser, open_map_timed

    if CHROMIUM is None or CHROMEDRIVER is None:
        return [float("nan")] * len(paths)
    out = []
    with offline_browser() as driver:
        for path in paths:
            runs = []
            for _ in range(repeat):
                driver.get("about:blank")
                runs.append(open_map_timed(driver, path))
            out.append(float(np.median(runs)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="120,000 homes on a 60,000-node grid")
    parser.add_argument("--homes", type=int, default=None)
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--pois", type=int, default=3000)
    parser.add_argument("--communities", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--points-max", type=int, default=50_000, help="skip the all-points map above this")
    args = parser.parse_args()
    n_homes = args.homes or (120_000 if args.full else 30_000)
    n_nodes = args.nodes or (60_000 if args.full else 20_000)

    t0 = time.perf_counter()
    net, profile, homes, facilities, communities, access, areas, iso, t_areas = synthetic_city(
        n_nodes, n_homes, args.pois, args.communities
    )
    print(
        f"synthetic city: {net.n_nodes:,} nodes, {len(homes):,} homes, {len(facilities):,} facilities, "
        f"{len(communities)} communities, {len(areas)} service areas ({t_areas:.1f} s), "
        f"prepared in {time.perf_counter() - t0:.1f} s"
    )
    folder = Path(tempfile.mkdtemp(prefix="walkcircle-bench-map-"))
    modes = [("hexagons (default)", {})]
    if n_homes <= args.points_max:
        modes.append(("every home a point*", {"max_homes": n_homes + 1}))
    rows, paths = [], []
    for name, options in modes:
        t0 = time.perf_counter()
        fmap = study_map(
            homes, facilities, profile, communities, iso, None, lang="zh", basemap="none", title="bench",
            service_areas=areas, access=access, network=net, **options,
        )  # fmt: skip
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        path = save_map(fmap, folder / f"map-{len(paths)}.html")
        t_write = time.perf_counter() - t0
        rows.append([name, t_build, t_write, path.stat().st_size / 1e6])
        paths.append(path)
    opened = open_times(paths, args.repeat)
    print(
        f"\n{len(homes):,} homes, lang zh, no basemap, offline HTML; open = median of {args.repeat} in headless Chromium"
    )
    print(f"{'map':<22} {'build s':>8} {'write s':>8} {'HTML MB':>8} {'open s':>8}")
    for (name, build, write, size), t_open in zip(rows, opened, strict=True):
        print(f"{name:<22} {build:8.2f} {write:8.2f} {size:8.1f} {t_open:8.2f}")
    if len(rows) > 1:
        print(
            "* every home a circle marker (SVG), and each service-area layer also draws its not-covered homes"
        )
    for path in paths:
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
