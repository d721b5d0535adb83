"""Official boundary files: Shapefiles in CGCS2000 Gauss-Krüger zones with GBK names, GeoPackage, GeoJSON."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from community_blocks import community_blocks
from walkcircle import Study
from walkcircle.errors import InputError
from walkcircle.sources.geofiles import coordinate_hint, gk_zone_epsg, shapefile_encoding
from walkcircle.sources.homes import read_communities

BEIJING_GK = 4548  # CGCS2000 3-degree Gauss-Krüger CM 117E (covers Beijing, 115.5E-118.5E)


@pytest.fixture(scope="module")
def blocks(tsinghua_osm):
    return community_blocks(tsinghua_osm)


def write_gbk_shapefile(frame: gpd.GeoDataFrame, path: Path, epsg: int, prj: bool = True) -> Path:
    """A land-bureau style Shapefile: projected, GBK attributes, no .cpg, no language driver byte."""
    frame.to_crs(epsg).to_file(path, encoding="gbk", engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = 0  # no language driver id: GDAL alone would read Latin-1
    dbf.write_bytes(bytes(data))
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def assert_same_communities(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, tol_deg: float = 1e-7) -> None:
    assert a["community"].tolist() == b["community"].tolist()
    assert a["population"].tolist() == b["population"].tolist()
    assert a["district"].tolist() == b["district"].tolist()
    for ga, gb in zip(a.geometry, b.geometry, strict=True):
        assert shapely.hausdorff_distance(ga, gb) < tol_deg


def test_gbk_shapefile_without_cpg_reads_chinese_names(blocks, tmp_path):
    path = write_gbk_shapefile(blocks, tmp_path / "社区.shp", BEIJING_GK)
    assert not path.with_suffix(".cpg").exists()
    # GDAL on its own reads mojibake: this is what the detection repairs
    raw = gpd.read_file(path, engine="pyogrio")
    assert raw["name"].tolist() != blocks["name"].tolist()
    assert shapefile_encoding(path) == "GB18030"
    communities, _ = read_communities(path)
    assert communities["community"].tolist() == blocks["name"].tolist()


def test_shapefile_gk_zone_equals_geojson(blocks, tmp_path):
    shp = write_gbk_shapefile(blocks, tmp_path / "c.shp", BEIJING_GK)
    geojson = tmp_path / "c.geojson"
    blocks.to_file(geojson, driver="GeoJSON", engine="pyogrio")
    from_shp, _ = read_communities(shp)
    from_json, _ = read_communities(geojson)
    assert_same_communities(from_shp, from_json)


@pytest.mark.parametrize(
    "epsg",
    [4490, 4527, 4548, 4498, 4509],  # CGCS2000; 3-degree zone 39 and CM 117E; 6-degree zone 20 and CM 117E
)
def test_cgcs2000_and_its_gk_zones(blocks, tmp_path, epsg):
    path = tmp_path / f"c{epsg}.gpkg"
    blocks.to_crs(epsg).to_file(path, engine="pyogrio")
    communities, _ = read_communities(path)
    assert_same_communities(communities, read_communities(_geojson(blocks, tmp_path))[0])
    # independent: pyproj straight from the zone to WGS-84
    t = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)
    x, y = shapely.get_coordinates(blocks.to_crs(epsg).geometry.iloc[0])[0]
    lon, lat = t.transform(x, y)
    assert np.allclose(shapely.get_coordinates(communities.geometry.iloc[0])[0], [lon, lat], atol=1e-8)


def _geojson(frame: gpd.GeoDataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "ref.geojson"
    if not path.exists():
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def test_utf8_shapefile_with_cpg(blocks, tmp_path):
    path = tmp_path / "u.shp"
    blocks.to_crs(BEIJING_GK).to_file(path, encoding="utf-8", engine="pyogrio")
    assert path.with_suffix(".cpg").exists()
    assert shapefile_encoding(path) is None  # the .cpg speaks
    communities, _ = read_communities(path)
    assert communities["community"].tolist() == blocks["name"].tolist()


def test_utf8_shapefile_without_cpg_is_read_as_utf8(blocks, tmp_path):
    path = tmp_path / "u.shp"
    blocks.to_crs(BEIJING_GK).to_file(path, encoding="utf-8", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    data = bytearray(path.with_suffix(".dbf").read_bytes())
    data[29] = 0
    path.with_suffix(".dbf").write_bytes(bytes(data))
    assert shapefile_encoding(path) == "UTF-8"
    assert read_communities(path)[0]["community"].tolist() == blocks["name"].tolist()


def test_shapefile_without_prj_needs_a_crs_and_says_which(blocks, tmp_path):
    path = write_gbk_shapefile(blocks, tmp_path / "noprj.shp", BEIJING_GK, prj=False)
    with pytest.raises(
        InputError, match=r"no coordinate system.*--communities-crs.*Gauss-Kr.*EPSG:4548"
    ) as err:
        read_communities(path)
    assert "\n" not in str(err.value)
    # declaring the zone reads it exactly like the .prj would
    declared, _ = read_communities(path, crs="EPSG:4548")
    assert_same_communities(declared, read_communities(_geojson(blocks, tmp_path))[0])
    assert_same_communities(read_communities(path, crs="4548")[0], declared)


def test_zone_prefixed_metres_name_their_zone(blocks, tmp_path):
    path = write_gbk_shapefile(blocks, tmp_path / "zone39.shp", 4527, prj=False)  # 3-degree zone 39
    with pytest.raises(InputError, match=r"zone prefix 39: EPSG:4527"):
        read_communities(path)
    with pytest.raises(InputError, match=r"zone prefix 39: EPSG:4527"):
        read_communities(path, crs="wgs84")  # the default of a study: metres are not degrees


def test_degrees_without_crs_hint_and_declared(blocks, tmp_path):
    path = write_gbk_shapefile(blocks, tmp_path / "deg.shp", 4326, prj=False)
    with pytest.raises(InputError, match=r"degrees.*gcj02"):
        read_communities(path)
    assert_same_communities(
        read_communities(path, crs="wgs84")[0], read_communities(_geojson(blocks, tmp_path))[0]
    )


def test_declared_crs_that_contradicts_the_file(blocks, tmp_path):
    path = write_gbk_shapefile(blocks, tmp_path / "c.shp", BEIJING_GK)
    with pytest.raises(InputError, match=r"says its CRS is .*EPSG:4547"):
        read_communities(path, crs="EPSG:4547")
    with pytest.raises(InputError, match=r"projected CRS .* cannot be gcj02"):
        read_communities(path, crs="gcj02")
    with pytest.raises(InputError, match="unknown coordinate system 'hebi-local-grid'"):
        read_communities(path, crs="hebi-local-grid")


def test_csv_in_gk_metres(blocks, tmp_path):
    pts = blocks.to_crs(BEIJING_GK).geometry.representative_point()
    frame = pd.DataFrame({"name": blocks["name"], "x": pts.x, "y": pts.y})
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False, encoding="gbk")
    with pytest.raises(InputError, match=r"not degrees.*EPSG:4547"):
        read_communities(path)
    communities, _ = read_communities(path, crs="EPSG:4548")
    expected = pts.to_crs(4326)
    assert np.allclose(communities.geometry.x, expected.x, atol=1e-9)
    assert np.allclose(communities.geometry.y, expected.y, atol=1e-9)


def test_facility_table_as_shapefile(tmp_path):
    from walkcircle.profile import load_profile
    from walkcircle.sources.tables import read_facility_table

    frame = gpd.GeoDataFrame(
        {"name": ["药店", "超市"], "category": ["pharmacy", "supermarket"]},
        geometry=gpd.points_from_xy([116.31, 116.32], [40.0, 40.01]),
        crs=4326,
    )
    path = tmp_path / "f.shp"
    frame.to_crs(BEIJING_GK).to_file(path, encoding="gbk", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    load = read_facility_table(path, load_profile("mofcom-2021"), "wgs84")
    assert load.facilities["name"].tolist() == ["药店", "超市"]
    assert np.allclose(load.facilities["lon"], [116.31, 116.32], atol=1e-8)


@given(zone=st.integers(25, 45) | st.integers(13, 23), offset=st.floats(-200_000, 200_000))
def test_gk_zone_epsg_matches_pyproj(zone, offset):
    three = zone >= 25
    epsg = (4513 + zone - 25) if three else (4491 + zone - 13)
    crs = pyproj.CRS.from_epsg(epsg)
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    assert params["False easting"] == zone * 1_000_000 + 500_000  # independent: pyproj's definition
    x = params["False easting"] + offset
    assert gk_zone_epsg(x) == epsg
    assert str(epsg) in coordinate_hint(np.array([x]), np.array([4_000_000.0]))


@pytest.mark.slow
def test_same_scores_from_gk_shapefile_and_geojson(blocks, tsinghua_osm, tmp_path):
    shp = write_gbk_shapefile(blocks, tmp_path / "社区.shp", BEIJING_GK)
    geojson = _geojson(blocks, tmp_path)
    results = []
    for path in (shp, geojson):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results.append(Study(osm=tsinghua_osm, communities=path, profile="hebi-2021").run())
    a, b = (r.communities.sort_values("community").reset_index(drop=True) for r in results)
    assert sorted(a["community"]) == sorted(blocks["name"])
    numeric = [c for c in a.columns if c != "geometry" and pd.api.types.is_numeric_dtype(a[c])]
    assert numeric
    pd.testing.assert_frame_equal(a[numeric], b[numeric])
    assert results[0].summary["score_mean"] == pytest.approx(results[1].summary["score_mean"], abs=1e-12)
    assert results[0].summary["population"] == pytest.approx(blocks["population"].sum())


@pytest.mark.slow
def test_every_cgcs2000_gk_zone_reads_back(tmp_path):
    """All 64 CGCS2000 Gauss-Krüger codes: a point near each zone's meridian, written in metres, reads back."""
    codes = [*range(4491, 4513), *range(4513, 4555)]
    rows = []
    for code in codes:
        crs = pyproj.CRS.from_epsg(code)
        assert crs.name.startswith("CGCS2000 /") and "Gauss-Kruger" in crs.name
        params = {p.name: p.value for p in crs.coordinate_operation.params}
        lon, lat = params["Longitude of natural origin"] + 0.7, 35.0
        x, y = pyproj.Transformer.from_crs(4326, code, always_xy=True).transform(lon, lat)
        rows.append((code, lon, lat, x, y))
    for code, lon, lat, x, y in rows:
        path = tmp_path / f"p{code}.csv"
        pd.DataFrame({"name": ["社区"], "x": [x], "y": [y]}).to_csv(path, index=False)
        communities, _ = read_communities(path, crs=f"EPSG:{code}")
        point = communities.geometry.iloc[0]
        assert (point.x, point.y) == pytest.approx((lon, lat), abs=1e-9), code


def _zip(folder: Path, target: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(target, "w") as archive:
        for f in sorted(folder.iterdir()):
            archive.write(f, f"边界/{f.name}")
    return target


def test_zipped_gbk_shapefile(blocks, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    write_gbk_shapefile(blocks, folder / "社区边界.shp", BEIJING_GK)
    path = _zip(folder, tmp_path / "社区边界.zip")
    communities, _ = read_communities(path)
    assert_same_communities(communities, read_communities(_geojson(blocks, tmp_path))[0])


def test_zip_with_two_shapefiles_names_them(blocks, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    write_gbk_shapefile(blocks, folder / "a.shp", BEIJING_GK)
    write_gbk_shapefile(blocks.iloc[:3], folder / "b.shp", BEIJING_GK)
    path = _zip(folder, tmp_path / "two.zip")
    with pytest.raises(InputError, match=r"exactly one Shapefile \(found: a.shp, b.shp\)"):
        read_communities(path)
    assert len(read_communities(path, layer="b")[0]) == 3


def test_wrong_cpg_falls_back_to_gbk(blocks, tmp_path):
    from walkcircle.errors import WalkcircleWarning

    path = write_gbk_shapefile(blocks, tmp_path / "c.shp", BEIJING_GK)
    path.with_suffix(".cpg").write_text("UTF-8")  # a lie: the text is GBK
    with pytest.warns(WalkcircleWarning, match="read them as GB18030"):
        communities, _ = read_communities(path)
    assert communities["community"].tolist() == blocks["name"].tolist()
