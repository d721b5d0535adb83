"""The shipped Hebi division list and the communities template made from it."""

from __future__ import annotations

import csv
import warnings

import pandas as pd
import pytest

from conftest import REFERENCE
from walkcircle.errors import InputError
from walkcircle.sources.divisions import city_communities_template, read_divisions
from walkcircle.sources.homes import read_communities

URBAN = ("淇滨区", "山城区", "鹤山区", "鹤壁经济技术开发区")


def _reference_rows():
    path = REFERENCE / "hebi_divisions_nbs2023.csv"
    if not path.exists():
        pytest.skip(f"reference {path} not found")
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_shipped_copy_equals_reference_rows():
    rows = _reference_rows()
    shipped = read_divisions("hebi")
    assert len(shipped) == len(rows)
    assert shipped["code"].tolist() == [r["code"] for r in rows]
    assert shipped.to_dict("records") == rows


def test_template_counts_per_district_match_an_independent_count():
    rows = _reference_rows()
    expected: dict[str, int] = {}
    for r in rows:  # plain csv count, independent of pandas filtering
        if r["kind"] == "community" and r["area_name"] in URBAN:
            expected[r["area_name"]] = expected.get(r["area_name"], 0) + 1
    template = city_communities_template("hebi")
    assert template["district"].value_counts().to_dict() == expected
    # the reference README's figures
    assert expected == {"淇滨区": 69, "山城区": 62, "鹤山区": 30, "鹤壁经济技术开发区": 17}
    assert len(template) == 178


def test_template_columns_and_rows():
    template = city_communities_template("鹤壁")
    assert list(template.columns) == ["code", "name", "sub-district", "district", "population", "lon", "lat"]
    assert template[["population", "lon", "lat"]].isna().all().all()
    assert template["code"].is_unique
    assert template["name"].str.endswith("居民委员会").all()
    assert template["code"].str.len().eq(12).all()
    assert list(dict.fromkeys(template["district"])) == list(URBAN)


def test_filled_template_reads_as_communities(tmp_path):
    template = city_communities_template("hebi").head(5).copy()
    template["lon"] = [114.29, 114.30, 114.31, 114.32, 114.33]
    template["lat"] = 35.74
    template["population"] = [1000, 2000, 3000, 4000, 5000]
    path = tmp_path / "communities.csv"
    template.to_csv(path, index=False)
    communities, _report = read_communities(path)
    assert communities["community"].tolist() == template["name"].tolist()
    assert communities["district"].tolist() == template["district"].tolist()
    assert communities["population"].tolist() == [1000, 2000, 3000, 4000, 5000]


def test_unknown_city_is_one_line():
    with pytest.raises(InputError, match="no division list for city 'atlantis'"):
        city_communities_template("atlantis")


def test_read_divisions_kinds():
    table = read_divisions()
    assert set(table["kind"]) == {"community", "village"}
    assert isinstance(table, pd.DataFrame)


def test_template_with_locations_only_reads_with_a_warning(tmp_path):
    from walkcircle.errors import WalkcircleWarning

    template = city_communities_template("hebi").head(3).copy()
    template["lon"] = [114.29, 114.30, 114.31]
    template["lat"] = 35.74
    path = tmp_path / "communities.csv"
    template.to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.warns(WalkcircleWarning, match="'population' is empty"):
        communities, _ = read_communities(path)
    assert communities["population"].isna().all() and len(communities) == 3
    # a template not filled in at all: one line, no traceback
    city_communities_template("hebi").to_csv(path, index=False, encoding="utf-8-sig")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match="no community has a location"):
            read_communities(path)


def test_partly_filled_template_counts_the_rows_left_out(tmp_path):
    from walkcircle.errors import WalkcircleWarning

    template = city_communities_template("hebi").head(5).copy()
    template.loc[:1, "lon"] = [114.29, 114.30]
    template.loc[:1, "lat"] = [35.74, 35.75]
    template["population"] = 1000
    path = tmp_path / "communities.csv"
    template.to_csv(path, index=False)
    with pytest.warns(WalkcircleWarning, match="3 communities have no location and were left out"):
        communities, report = read_communities(path)
    assert communities["community"].tolist() == template["name"].head(2).tolist()
    assert report.rows_read == 5 and report.kept == 2
