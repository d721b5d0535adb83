"""Population rasters (WorldPop in WGS-84, GHSL in Mollweide) spread over the homes."""

from __future__ import annotations

import warnings

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin

from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.sources.homes import footprint_areas_m2, homes_frame, homes_from_osm
from walkcircle.sources.population import assign_population, population_source, spread_people

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # inside rasterio

W, N, STEP = 116.300, 40.020, 0.001  # a 20 x 20 WorldPop-like grid of 0.001 degree cells


def write_raster(path, data, transform, crs, nodata=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


def worldpop(tmp_path, rng, nodata_cells=0):
    data = rng.uniform(0, 50, size=(20, 20)).astype(np.float32)
    data[rng.random((20, 20)) < 0.1] = 0
    if nodata_cells:
        idx = rng.choice(400, nodata_cells, replace=False)
        data.ravel()[idx] = -99999
    path = write_raster(
        tmp_path / "ppp.tif",
        data,
        from_origin(W, N, STEP, STEP),
        "EPSG:4326",
        -99999 if nodata_cells else None,
    )
    return path, data.astype(np.float64)


AREA = shapely.Polygon([(116.3032, 40.0021), (116.3187, 40.0043), (116.3161, 40.0178), (116.3049, 40.0152)])


def homes_in(rng, n=150, footprint_share=0.6):
    lon = rng.uniform(116.302, 116.319, n)
    lat = rng.uniform(40.001, 40.019, n)
    fp = np.where(rng.random(n) < footprint_share, rng.uniform(50, 800, n), np.nan)
    homes = homes_frame(lon, lat, source="test")
    homes["footprint_m2"] = fp
    return homes


def brute_force(data, homes, area):
    """Independent: loops over cells and homes, in lon/lat (the raster is WGS-84)."""
    n_rows, n_cols = data.shape
    expected = np.zeros(len(homes))
    orphans, orphan_people, total = 0, 0.0, 0.0
    for r in range(n_rows):
        for c in range(n_cols):
            cx, cy = W + (c + 0.5) * STEP, N - (r + 0.5) * STEP
            v = data[r, c]
            if not area.contains(shapely.Point(cx, cy)) or v < 0:
                continue
            total += v
            x0, x1, y1, y0 = W + c * STEP, W + (c + 1) * STEP, N - r * STEP, N - (r + 1) * STEP
            members = [
                i
                for i, (lo, la) in enumerate(zip(homes["lon"], homes["lat"], strict=True))
                if x0 <= lo < x1 and y0 < la <= y1
            ]
            if not members:
                if v > 0:
                    orphans += 1
                    orphan_people += v
                continue
            fps = [homes["footprint_m2"].iloc[i] for i in members]
            with_fp = [f for f in fps if np.isfinite(f) and f > 0]
            for i, f in zip(members, fps, strict=True):
                if with_fp:
                    expected[i] = v * (f / sum(with_fp) if np.isfinite(f) and f > 0 else 0.0)
                else:
                    expected[i] = v / len(members)
    return expected, total, orphans, orphan_people


def test_worldpop_wgs84_total_weights_and_orphans(tmp_path):
    rng = np.random.default_rng(1)
    path, data = worldpop(tmp_path, rng)
    homes = homes_in(rng)
    expected, total, orphans, orphan_people = brute_force(data, homes, AREA)
    assert orphans > 0  # the test must exercise cells without homes
    with pytest.warns(WalkcircleWarning, match=rf"{orphans} raster cells hold .* people but no home"):
        out, report = assign_population(homes, path, AREA)
    assert report.raster_total == pytest.approx(total, rel=1e-6)
    assert out["population"].sum() == pytest.approx(total, rel=1e-6)  # within 0.5% asked; exact here
    assert report.cells_without_homes == orphans
    assert report.people_without_homes == pytest.approx(orphan_people, rel=1e-6)
    assert report.new_homes == orphans
    assert np.allclose(out["population"].to_numpy()[: len(homes)], expected, rtol=1e-6, atol=1e-6)
    new = out[out["source"] == "population_cell"]
    assert len(new) == orphans and new["population"].sum() == pytest.approx(orphan_people, rel=1e-6)
    assert shapely.contains_xy(AREA, new["lon"], new["lat"]).all()
    assert report.population_source == "raster"
    assert (out["population_source"] == "raster").all()


def test_orphans_to_nearest_home(tmp_path):
    rng = np.random.default_rng(2)
    path, data = worldpop(tmp_path, rng)
    homes = homes_in(rng, n=60)
    expected, total, orphans, _ = brute_force(data, homes, AREA)
    with pytest.warns(WalkcircleWarning, match="nearest home"):
        out, report = assign_population(homes, path, AREA, orphans="nearest_home")
    assert len(out) == len(homes) and report.new_homes == 0 and report.cells_without_homes == orphans
    assert out["population"].sum() == pytest.approx(total, rel=1e-6)
    # nobody loses people; the orphans' people landed on homes
    assert (out["population"].to_numpy() >= expected - 1e-6).all()
    with pytest.raises(InputError, match="orphans rule"):
        assign_population(homes, path, AREA, orphans="drop")


def test_nodata_cells_are_counted_not_summed(tmp_path):
    rng = np.random.default_rng(3)
    path, data = worldpop(tmp_path, rng, nodata_cells=40)
    homes = homes_in(rng, n=400)
    _, total, _, _ = brute_force(data, homes, AREA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        out, report = assign_population(homes, path, AREA)
    assert report.nodata_cells > 0
    assert report.raster_total == pytest.approx(total, rel=1e-6)
    assert out["population"].sum() == pytest.approx(total, rel=1e-6)


def test_ghsl_mollweide(tmp_path):
    rng = np.random.default_rng(4)
    moll = pyproj.Transformer.from_crs("EPSG:4326", "ESRI:54009", always_xy=True)
    x0, y0 = moll.transform(116.30, 40.021)
    x0, y0 = np.floor(x0 / 100) * 100, np.ceil(y0 / 100) * 100
    data = rng.uniform(0, 200, size=(40, 40))
    path = write_raster(tmp_path / "ghsl.tif", data, from_origin(x0, y0, 100, 100), "ESRI:54009")
    homes = homes_in(rng, n=300, footprint_share=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        out, report = assign_population(homes, path, AREA)
    # independent: each cell centre back to lon/lat, tested against the area as given
    rows, cols = np.indices(data.shape)
    inv = pyproj.Transformer.from_crs("ESRI:54009", "EPSG:4326", always_xy=True)
    lon, lat = inv.transform(x0 + (cols.ravel() + 0.5) * 100, y0 - (rows.ravel() + 0.5) * 100)
    total = data.ravel()[shapely.contains_xy(AREA, lon, lat)].sum()
    assert out["population"].sum() == pytest.approx(total, rel=0.005)
    assert report.raster_total == pytest.approx(total, rel=0.005)
    # each home shares its Mollweide cell equally with the others in it (brute force)
    hx, hy = moll.transform(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    col = np.floor((hx - x0) / 100).astype(int)
    row = np.floor((y0 - hy) / 100).astype(int)
    assert (col >= 0).all() and (col < 40).all() and (row >= 0).all() and (row < 40).all()
    for i in range(len(homes)):
        same = (col == col[i]) & (row == row[i])
        cx, cy = inv.transform(x0 + (col[i] + 0.5) * 100, y0 - (row[i] + 0.5) * 100)
        if not AREA.contains(shapely.Point(cx, cy)):
            continue
        assert out["population"].iloc[i] == pytest.approx(data[row[i], col[i]] / same.sum(), rel=1e-6)


def test_community_population_wins(tmp_path):
    import geopandas as gpd

    rng = np.random.default_rng(5)
    path, _ = worldpop(tmp_path, rng)
    homes = homes_in(rng, n=200)
    homes["community"] = np.where(homes["lon"] < 116.31, "东区", "西区")
    homes["population"] = np.where(homes["community"] == "东区", 7.0, 1.0)
    communities = gpd.GeoDataFrame(
        {"community": ["东区", "西区"], "population": [7.0 * (homes["community"] == "东区").sum(), np.nan]},
        geometry=[shapely.Point(116.305, 40.01), shapely.Point(116.315, 40.01)],
        crs="EPSG:4326",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        plain, _ = assign_population(homes, path, AREA)
        out, report = assign_population(homes, path, AREA, communities=communities)
    east = (homes["community"] == "东区").to_numpy()
    n = len(homes)
    assert (out["population"].to_numpy()[:n][east] == 7.0).all()
    assert np.allclose(out["population"].to_numpy()[:n][~east], plain["population"].to_numpy()[:n][~east])
    assert report.population_source == "raster+communities"
    assert report.community_homes == east.sum()
    assert report.raster_people_replaced == pytest.approx(plain["population"].to_numpy()[:n][east].sum())
    assert set(out["population_source"][:n][east]) == {"communities"}
    assert population_source(out, communities, report) == "raster+communities"
    assert population_source(homes, communities) == "communities"
    assert population_source(homes, None) == "homes"


def test_raster_errors(tmp_path):
    rng = np.random.default_rng(6)
    homes = homes_in(rng, n=5)
    far = write_raster(
        tmp_path / "far.tif", np.ones((5, 5)), from_origin(10.0, 50.0, 0.01, 0.01), "EPSG:4326"
    )
    with pytest.raises(InputError, match="does not cover the study area"):
        assign_population(homes, far, AREA)
    nocrs = write_raster(tmp_path / "nocrs.tif", np.ones((5, 5)), from_origin(W, N, STEP, STEP), None)
    with pytest.raises(InputError, match="has no CRS"):
        assign_population(homes, nocrs, AREA)
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(InputError, match="cannot read the population raster"):
        assign_population(homes, bad, AREA)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.one_of(st.just(0.0), st.floats(1, 1000))), min_size=1, max_size=40
    ),
    st.lists(st.floats(0, 100), min_size=6, max_size=6),
)
def test_spread_preserves_each_occupied_cell(homes, people):
    cell = np.array([h[0] for h in homes])
    fp = np.array([h[1] for h in homes])
    people = np.array(people)
    out = spread_people(people, cell, fp)
    per_cell = np.bincount(cell, weights=out, minlength=6)
    occupied = np.bincount(cell, minlength=6) > 0
    assert np.allclose(per_cell[occupied], people[occupied])
    assert np.allclose(per_cell[~occupied], 0)
    assert (out >= 0).all()


def test_osm_building_footprints(tsinghua_osm):
    homes = homes_from_osm(tsinghua_osm).homes
    buildings = homes[homes["source"] == "building"]
    assert (buildings["footprint_m2"] >= 0).all() and (buildings["footprint_m2"] > 0).mean() > 0.9
    assert (homes.loc[homes["source"] != "building", "footprint_m2"] == 0).all()
    # independent: geodesic polygon areas
    square = shapely.box(116.31, 40.0, 116.311, 40.001)
    geod = pyproj.Geod(ellps="WGS84")
    assert footprint_areas_m2([square])[0] == pytest.approx(
        abs(geod.geometry_area_perimeter(square)[0]), rel=1e-3
    )
