"""study.xlsx read back with openpyxl; tidy CSV files; GIS outputs in the CRS asked for."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook
from pyproj import Transformer

from study_world import cau_world
from walkcircle.errors import InputError
from walkcircle.i18n import column_label
from walkcircle.outputs.export import column_kind, export_results, output_crs, tidy_table
from walkcircle.outputs.workbook import SHEETS, write_workbook

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text or "." not in text else len(text.split(".")[1].rstrip("0"))


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_sheets_headers_and_rounding(tmp_path, lang):
    study, results = cau_world(lang)
    profile = study.profile
    path = write_workbook(results, profile, tmp_path / "study.xlsx", lang)
    book = load_workbook(path)
    assert book.sheetnames == [
        SHEETS[s][lang] for s in ("summary", "coverage", "communities", "matrix", "ledger", "sites")
    ]
    for sheet in book.worksheets:
        headers = [c.value for c in sheet[1]]
        assert headers and all(isinstance(h, str) and h for h in headers)
        for header in headers:
            assert ("geometry" not in header.lower()) and "wkt" not in header.lower()
            if lang == "zh":
                assert CJK.search(header), (sheet.title, header)
            else:
                assert not CJK.search(header), (sheet.title, header)
        for row in sheet.iter_rows(min_row=2, values_only=True):
            for value in row:
                assert not (isinstance(value, str) and value.startswith(("POINT", "POLYGON", "MULTIPOLYGON")))
                assert value not in ("True", "False", "None", "nan", "<NA>", "inf")
    # coverage per category: shares as % with 4 decimals at most, equal to the summary
    coverage = book[SHEETS["coverage"][lang]]
    header = [c.value for c in coverage[1]]
    share_col = header.index(column_label("coverage", lang)) + 1
    minutes_col = header.index(column_label("minutes_median", lang)) + 1
    residents_col = header.index(column_label("residents_not_covered", lang)) + 1
    for i, cid in enumerate(results.access.categories, start=2):
        share = coverage.cell(i, share_col)
        assert share.number_format == "0.0%"
        assert share.value == pytest.approx(round(results.summary["coverage"][cid], 4))
        assert decimals(share.value) <= 4
        minutes = coverage.cell(i, minutes_col).value
        finite = results.access.walk_time_s[:, i - 2] / 60
        finite = finite[np.isfinite(finite)]
        if finite.size:
            assert minutes == pytest.approx(round(float(np.median(finite)), 1)) and decimals(minutes) <= 1
        else:
            assert minutes is None
        residents = coverage.cell(i, residents_col).value
        assert isinstance(residents, int)
        assert residents == round(results.summary["population"] * (1 - results.summary["coverage"][cid]))
    # communities: every community once, residents whole
    communities = book[SHEETS["communities"][lang]]
    names = [r[0] for r in communities.iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == sorted(results.communities["community"])
    matrix = book[SHEETS["matrix"][lang]]
    assert [c.value for c in matrix[1]][1:] == [
        profile.category(c).name(lang) for c in results.access.categories
    ]


def test_tidy_rounds_by_kind_and_drops_geometry():
    frame = gpd.GeoDataFrame(
        {
            "lon": [116.123456789],
            "lat": [40.1234567891],
            "offset_m": [12.3456],
            "minutes_park": [7799.999999999999 / 60],
            "coverage_park": [0.123456789],
            "population": [1000.04],
            "score": [55.55555],
            "name": ["甲"],
        },
        geometry=gpd.points_from_xy([116.123456789], [40.1234567891]),
        crs="EPSG:4326",
    )
    tidy = tidy_table(frame)
    assert "geometry" not in tidy.columns and not isinstance(tidy, gpd.GeoDataFrame)
    row = tidy.iloc[0]
    assert row["lon"] == 116.123457 and row["lat"] == 40.123457
    assert row["offset_m"] == 12.3 and row["minutes_park"] == 130.0 and row["coverage_park"] == 0.1235
    assert row["population"] == 1000.0 and row["score"] == 55.6
    assert [column_kind(c) for c in ("lon", "offset_m", "minutes_park", "coverage_park", "population", "score", "name")] == [
        "coordinate", "metres", "minutes", "share", "residents", "score", "other",
    ]  # fmt: skip
    # points without lon/lat get them from the geometry
    sites = gpd.GeoDataFrame({"rank": [1]}, geometry=gpd.points_from_xy([116.1], [40.1]), crs="EPSG:4326")
    assert list(tidy_table(sites).columns) == ["rank", "lon", "lat"]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en", None])
def test_exported_csvs_are_tidy_and_translated(tmp_path, lang):
    study, results = cau_world(lang or "en")
    written = export_results(results, tmp_path / "out", lang=lang, profile=study.profile)
    csvs = [p for p in written if p.suffix == ".csv"]
    assert {p.name for p in csvs} >= {
        "homes.csv",
        "communities.csv",
        "ledger.csv",
        "facilities.csv",
        "suggestions.csv",
    }
    for path in csvs:
        text = path.read_text(encoding="utf-8-sig")
        assert "POINT (" not in text and "POLYGON" not in text, path.name
        assert not re.search(r"\d\.\d{7,}", text), path.name  # no float noise
        headers = pd.read_csv(path, encoding="utf-8-sig", nrows=0).columns
        if lang == "zh":
            assert all(CJK.search(h) for h in headers), (path.name, list(headers))
        elif lang == "en":
            assert not any(CJK.search(h) for h in headers), (path.name, list(headers))
    homes = pd.read_csv(tmp_path / "out" / "homes.csv", encoding="utf-8-sig")
    lon = homes[column_label("lon", lang, study.profile) if lang else "lon"]
    np.testing.assert_allclose(lon, results.homes["lon"].round(6), atol=1e-9)
    # machine ids stay in summary.json and in the GIS files
    layers = dict(pyogrio.list_layers(tmp_path / "out" / "study.gpkg"))
    assert "homes" in layers
    gpkg = gpd.read_file(tmp_path / "out" / "study.gpkg", layer="homes")
    assert "score" in gpkg.columns


@pytest.mark.slow
@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4547", 4548])
def test_gis_outputs_in_the_crs_asked_for(tmp_path, crs):
    _, results = cau_world("en")
    export_results(results, tmp_path / "out", crs=crs)
    epsg = int(str(crs).removeprefix("EPSG:"))
    to = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = to.transform(results.homes.geometry.x.to_numpy(), results.homes.geometry.y.to_numpy())
    tolerance = 1e-9 if epsg == 4490 else 1e-4  # degrees, or metres in a Gauss-Krueger zone
    for frame in (
        gpd.read_file(tmp_path / "out" / "study.gpkg", layer="homes"),
        gpd.read_parquet(tmp_path / "out" / "homes.parquet"),
    ):
        assert frame.crs.to_epsg() == epsg
        np.testing.assert_allclose(frame.geometry.x, x, atol=tolerance)
        np.testing.assert_allclose(frame.geometry.y, y, atol=tolerance)
    edges = gpd.read_file(tmp_path / "out" / "study.gpkg", layer="edges")
    assert edges.crs.to_epsg() == epsg


def test_output_crs_is_validated_in_one_line():
    assert output_crs().to_epsg() == 4326
    assert output_crs("EPSG:4490").to_epsg() == 4490
    assert output_crs(4547).to_epsg() == 4547
    for bad in ("EPSG:3857", "EPSG:32650", "not a crs", 999999):
        with pytest.raises(InputError, match="output_crs") as info:
            output_crs(bad)
        assert "\n" not in str(info.value) and "EPSG:4490" in str(info.value)
