"""Population rasters: walkcircle's cell indexing against a GeoPandas spatial join of cell polygons.

Run: python benchmarks/bench_population.py [--full]

A WorldPop-like raster of 0.001-degree cells (about 85 x 111 m at 40N) over a square study
area, and homes spread over it (60% with a building footprint). Both methods give every home
its share of its cell's people (by footprint where the cell has footprints, else equally):

- walkcircle: `assign_population` (window read, affine cell index, bincount shares), end to end
  from the GeoTIFF, cells without homes included;
- geopandas: one polygon per cell in the area, `sjoin(homes, cells, predicate="within")`, a
  groupby for the shares (the cell polygons are built from the array read once, not timed
  from the file).

Both totals are printed against the raster's total in the area (geopandas plus the people of
cells without homes, which walkcircle keeps as new homes). Default: 100 x 100 cells (about
9 x 11 km) with 20,000 homes and 300 x 300 (27 x 33 km) with 200,000; ``--full`` adds
600 x 600 cells with 1,000,000 homes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

from walkcircle.errors import WalkcircleWarning
from walkcircle.sources.homes import homes_frame
from walkcircle.sources.population import assign_population

STEP = 0.001
W0, N0 = 114.0, 36.0  # north-west corner, near Hebi


def make_case(folder: Path, cells: int, homes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    data = rng.uniform(0, 60, (cells, cells)).astype(np.float32)
    data[rng.random((cells, cells)) < 0.2] = 0
    path = folder / f"pop_{cells}.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=cells,
        width=cells,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(W0, N0, STEP, STEP),
    ) as dst:
        dst.write(data, 1)
    e, s = W0 + cells * STEP, N0 - cells * STEP
    margin = 3 * STEP
    area = shapely.box(W0 + margin, s + margin, e - margin, N0 - margin)
    lon = rng.uniform(W0 + margin, e - margin, homes)
    lat = rng.uniform(s + margin, N0 - margin, homes)
    frame = homes_frame(lon, lat, source="bench")
    frame["footprint_m2"] = np.where(rng.random(homes) < 0.6, rng.uniform(50, 900, homes), np.nan)
    return path, data.astype(np.float64), area, frame


def geopandas_shares(data: np.ndarray, area: shapely.Geometry, homes: gpd.GeoDataFrame) -> float:
    rows, cols = np.indices(data.shape)
    x0 = W0 + cols.ravel() * STEP
    y1 = N0 - rows.ravel() * STEP
    cx, cy = x0 + STEP / 2, y1 - STEP / 2
    keep = shapely.contains_xy(area, cx, cy)
    cells = gpd.GeoDataFrame(
        {"people": data.ravel()[keep]},
        geometry=shapely.box(x0[keep], y1[keep] - STEP, x0[keep] + STEP, y1[keep]),
        crs="EPSG:4326",
    )
    joined = gpd.sjoin(homes[["footprint_m2", "geometry"]], cells, predicate="within", how="inner")
    fp = joined["footprint_m2"].where(joined["footprint_m2"] > 0, 0.0).fillna(0.0)
    joined["fp"] = fp
    by_cell = joined.groupby("index_right")
    fp_sum = by_cell["fp"].transform("sum")
    count = by_cell["fp"].transform("size")
    share = np.where(fp_sum > 0, joined["fp"] / fp_sum.where(fp_sum > 0, 1.0), 1.0 / count)
    return float((joined["people"] * share).sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="add 600 x 600 cells with 1,000,000 homes")
    args = parser.parse_args()
    sizes = [(100, 20_000), (300, 200_000)]
    if args.full:
        sizes.append((600, 1_000_000))
    print(
        f"{'cells':>9} {'homes':>9} {'raster total':>13} | {'walkcircle s':>12} {'total':>13} | {'geopandas s':>11} {'total':>13}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        warm = make_case(Path(tmp), 10, 10)  # first call pays imports and PROJ set-up: not timed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WalkcircleWarning)
            assign_population(warm[3], warm[0], warm[2])
        for cells, n_homes in sizes:
            path, data, area, homes = make_case(Path(tmp), cells, n_homes)
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", WalkcircleWarning)
                out, report = assign_population(homes, path, area)
            t_wc = time.perf_counter() - t
            t = time.perf_counter()
            gp_total = geopandas_shares(data, area, homes)
            t_gp = time.perf_counter() - t
            print(
                f"{cells * cells:>9,} {n_homes:>9,} {report.raster_total:>13,.1f} | {t_wc:>12.2f} "
                f"{out['population'].sum():>13,.1f} | {t_gp:>11.2f} {gp_total + report.people_without_homes:>13,.1f}"
            )


if __name__ == "__main__":
    main()
