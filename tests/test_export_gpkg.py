"""The Arrow GeoPackage writer stores what `GeoDataFrame.to_file` (OGR feature by feature) stored."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from walkcircle.outputs.export import write_geopackage


def _reference(layers: dict[str, pd.DataFrame], path) -> None:
    """The writer walkcircle used before: geopandas' to_file, without Arrow."""
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio", use_arrow=False)
        else:
            pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=name, driver="GPKG", use_arrow=False)


def _same_files(got, expected) -> None:
    assert [n for n, _ in pyogrio.list_layers(got)] == [n for n, _ in pyogrio.list_layers(expected)]
    for name, _ in pyogrio.list_layers(expected):
        a_info = pyogrio.read_info(got, layer=name)
        b_info = pyogrio.read_info(expected, layer=name)
        for key in ("fields", "dtypes", "geometry_type", "features", "crs"):
            np.testing.assert_array_equal(a_info[key], b_info[key], err_msg=f"{name}: {key}")
        a = pyogrio.read_dataframe(got, layer=name, use_arrow=False)
        b = pyogrio.read_dataframe(expected, layer=name, use_arrow=False)
        if isinstance(b, gpd.GeoDataFrame):
            assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0).all()
            a, b = pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        pd.testing.assert_frame_equal(a, b)


def _layers(rng: np.random.Generator, n: int) -> dict[str, pd.DataFrame]:
    lon = 114.2 + rng.random(n) * 0.1
    lat = 35.7 + rng.random(n) * 0.1
    score = rng.normal(size=n)
    score[rng.random(n) < 0.2] = np.nan
    homes = gpd.GeoDataFrame(
        {
            "home_id": [f"h{i}" for i in range(n)],
            "community": rng.choice(["第1社区", "第2社区", ""], n),
            "population": rng.random(n) * 10,
            "reached_bus": rng.random(n) < 0.5,
            "count_bus": rng.integers(0, 9, n).astype(np.int32),
            "knn": rng.integers(-1, 10**12, n),
            "score": score,
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    homes = homes.iloc[rng.permutation(n)]  # a shuffled integer index is not written, as in to_file
    lines = shapely.linestrings(
        np.stack(
            [np.column_stack([lon, lat]), np.column_stack([lat - 35.7 + 114.2, lon - 114.2 + 35.7])], axis=1
        )
    )
    edges = gpd.GeoDataFrame(
        {
            "u": np.arange(n, dtype=np.int64),
            "highway": rng.choice(["residential", "footway"], n),
            "length_m": rng.random(n) * 100,
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    polygons = shapely.buffer(shapely.points(lon[:5], lat[:5]), 0.001, quad_segs=2)
    mixed = [*list(polygons[:3]), shapely.MultiPolygon(list(polygons[3:]))]
    communities = gpd.GeoDataFrame(
        {"community": ["甲", "乙", None, "丁"], "note": [1, "two", None, 3.5]},
        geometry=mixed,
        crs="EPSG:4326",
    )
    ledger = pd.DataFrame({"category": ["bus_stop", "park"], "mapped": [3, 0], "gap": [False, True]})
    named = pd.DataFrame({"share": [0.5, 0.25]}, index=pd.Index(["淇滨区", "山城区"], name="district"))
    sites = gpd.GeoDataFrame(
        {"gain": [1.0, 2.0]},
        geometry=shapely.points(lon[:2], lat[:2]),
        index=pd.Index(["a", "b"], name="site"),
        crs="EPSG:4326",
    )
    return {
        "homes": homes,
        "edges": edges,
        "communities": communities,
        "ledger": ledger,
        "districts": named,
        "sites": sites,
    }


@settings(max_examples=10, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 300))
def test_geopackage_layers_equal_the_feature_by_feature_writer(tmp_path_factory, seed, n):
    folder = tmp_path_factory.mktemp("gpkg")
    layers = _layers(np.random.default_rng(seed), n)
    write_geopackage(layers, folder / "new.gpkg")
    _reference(layers, folder / "old.gpkg")
    _same_files(folder / "new.gpkg", folder / "old.gpkg")
    assert sorted(p.name for p in folder.iterdir()) == ["new.gpkg", "old.gpkg"]


def test_a_failed_layer_leaves_nothing_and_restores_gdal_settings(tmp_path):
    before = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    layers = _layers(np.random.default_rng(0), 20)
    bad = gpd.GeoDataFrame({"a": [1], "b": [2]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4326")
    bad.columns = ["a", "a", "geometry"]
    with pytest.raises(ValueError, match="duplicated column names"):
        write_geopackage({**layers, "bad": bad}, tmp_path / "x.gpkg")
    assert list(tmp_path.iterdir()) == []
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == before


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(2, 12), max_size=40), seed=st.integers(0, 2**32 - 1))
def test_packed_wkb_is_shapelys_wkb_byte_for_byte(counts, seed):
    from walkcircle.outputs.export import linestrings_wkb

    rng = np.random.default_rng(seed)
    offsets = np.r_[0, np.cumsum(np.array(counts, np.int64))]
    x, y = rng.normal(114, 50, offsets[-1]), rng.normal(35, 30, offsets[-1])
    packed = linestrings_wkb(x, y, offsets).to_pylist()
    lines = shapely.linestrings(np.column_stack([x, y]), indices=np.repeat(np.arange(len(counts)), counts))
    assert packed == (list(shapely.to_wkb(lines, byte_order=1)) if counts else [])


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4547"])
def test_edges_layer_equals_the_edges_geodataframe_written_feature_by_feature(tmp_path, crs):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from synthetic import street_grid
    from walkcircle.outputs.export import edges_layer

    net = street_grid(900, seed=4).network()
    write_geopackage({"edges": edges_layer(net, crs)}, tmp_path / "new.gpkg")
    _reference({"edges": net.edges_geodataframe().to_crs(crs)}, tmp_path / "old.gpkg")
    _same_files(tmp_path / "new.gpkg", tmp_path / "old.gpkg")
