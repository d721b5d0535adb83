"""The data a Chinese planner has, end to end through the command line: a cut extract, a population
raster, Hebi's communities table, output in CGCS2000."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from walkcircle.cli import app

runner = CliRunner()


def _raster(path, bounds, people_per_cell=10.0, cells=(20, 20)):
    import rasterio
    from rasterio.transform import from_bounds

    w, s, e, n = bounds
    data = np.full(cells, people_per_cell, np.float32)
    data[0, 0] = -99999  # nodata: counted, not summed
    with rasterio.open(path, "w", driver="GTiff", height=cells[0], width=cells[1], count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_bounds(w, s, e, n, cells[1], cells[0]), nodata=-99999) as dst:  # fmt: skip
        dst.write(data, 1)
    return float(data[data > 0].sum())


def test_population_raster_through_the_command_line(tmp_path, cau_osm, cau_net):
    w, s, e, n = cau_net.bounds_lonlat()
    total = _raster(tmp_path / "people.tif", (w + 0.001, s + 0.001, e - 0.001, n - 0.001))
    res = runner.invoke(app, ["score", "--osm", str(cau_osm), "--population", str(tmp_path / "people.tif"),
                              "--out", str(tmp_path / "o"), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["population_source"] == "raster"
    assert summary["population"] == pytest.approx(total, rel=0.005)
    assert summary["population_raster"]["raster_total"] == pytest.approx(total, rel=1e-6)


def test_osm_with_a_bbox_cuts_the_study_area(tmp_path, helsinki_pbf, helsinki_net):
    w, s, e, n = helsinki_net.bounds_lonlat()
    cx, cy = (w + e) / 2, (s + n) / 2
    bbox = f"{cx - 0.004},{cy - 0.002},{cx + 0.004},{cy + 0.002}"
    res = runner.invoke(app, ["run", "--osm", str(helsinki_pbf), "--bbox", bbox, "--margin-m", "200", "--homes", "h3", "--cache-dir",
                              str(tmp_path / "raw"), "--out", str(tmp_path / "o"), "--json", "--output-crs", "EPSG:4490"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["extract"]["margin_m"] == 200
    assert summary["network"]["nodes"] < helsinki_net.n_nodes  # read only the area plus its margin
    import geopandas as gpd

    homes = gpd.read_parquet(tmp_path / "o" / "homes.parquet")
    assert homes.crs.to_epsg() == 4490
    lon, lat = homes["lon"].to_numpy(), homes["lat"].to_numpy()
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    assert (
        (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    ).all()  # homes only inside, not in the margin


def test_init_city_hebi_writes_the_communities_table(tmp_path):
    import pandas as pd

    res = runner.invoke(app, ["init", str(tmp_path / "walkcircle.toml"), "--city", "hebi"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "hebi_communities.csv", encoding="utf-8-sig")
    counts = table["district"].value_counts().to_dict()
    assert counts["淇滨区"] == 69 and counts["山城区"] == 62 and counts["鹤山区"] == 30
    assert table[["population", "lon", "lat"]].isna().all().all()
    assert 'path = "hebi_communities.csv"' in (tmp_path / "walkcircle.toml").read_text(encoding="utf-8")
    again = runner.invoke(app, ["init", str(tmp_path / "walkcircle.toml"), "--city", "hebi"])
    assert again.exit_code == 2 and "exists" in again.stderr
