"""A ledger that means something: where the programme applies, and the data-gap rule inside it."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from conftest import REFERENCE
from walkcircle.errors import InputError
from walkcircle.profile import load_profile, profile_from_dict
from walkcircle.scoring import (
    ProgrammeScope,
    ScoringRules,
    category_gaps,
    geodesic_area_km2,
    judge_claim,
    ledger_table,
    programme_scope,
    programme_summary,
)

HEBI = load_profile("hebi-2021")
# a box over central 淇滨区 (Qibin district), well inside Hebi
QIBIN = shapely.box(114.25, 35.70, 114.33, 35.78)


def equal_area_km2(geometry) -> float:
    """Area in an equal-area projection centred on the geometry (independent of pyproj.Geod)."""
    c = geometry.centroid
    laea = CRS.from_proj4(f"+proj=laea +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m")
    to = Transformer.from_crs("EPSG:4326", laea, always_xy=True)
    return (
        shapely.transform(geometry.segmentize(0.001), lambda xy: np.column_stack(to.transform(*xy.T))).area
        / 1e6
    )


def facilities(category: str, n: int, area=QIBIN, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    w, s, e, nn = area.bounds
    lon, lat = rng.uniform(w, e, n), rng.uniform(s, nn, n)
    return gpd.GeoDataFrame(
        {"category": [category] * n, "feature_id": [f"f{i}" for i in range(n)], "lon": lon, "lat": lat},
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


def test_hebi_outline_holds_every_subdistrict_centre():
    path = REFERENCE / "hebi_subdistrict_centres_osm.csv"
    if not path.exists():
        pytest.skip("reference data absent")
    centres = pd.read_csv(path)
    outline = HEBI.programme.geometry()
    assert len(centres) == 44
    assert shapely.contains_xy(outline, centres["lon"], centres["lat"]).all()
    assert HEBI.programme.area == "hebi" and HEBI.programme.area_km2 == pytest.approx(2182)


def test_share_is_the_studys_part_of_the_city_land_area():
    scope = programme_scope(HEBI, QIBIN)
    assert scope.applicable is True
    # independent area: an equal-area projection instead of the ellipsoidal geodesic
    assert scope.study_km2 == pytest.approx(equal_area_km2(QIBIN), rel=1e-3)
    assert scope.share == pytest.approx(equal_area_km2(QIBIN) / 2182, rel=1e-3)
    # a study straddling the outline counts only its part inside
    straddle = shapely.box(114.70, 35.70, 114.80, 35.78)
    inside = straddle.intersection(HEBI.programme.geometry())
    assert programme_scope(HEBI, straddle).study_km2 == pytest.approx(equal_area_km2(inside), rel=1e-3)
    # the whole city or more: share capped at 1
    assert programme_scope(HEBI, shapely.box(113, 35, 115, 37)).share == 1.0


def test_the_flag_is_raised_inside_hebi_when_the_data_holds_too_few():
    scope = programme_scope(HEBI, QIBIN)
    expected = 262 * scope.share  # bus stops claimed city-wide, scaled to the study's share
    few = facilities("bus_stop", int(expected * 0.5) - 1)
    ledger = ledger_table(HEBI, few, QIBIN)
    bus = ledger[ledger["categories"] == "bus_stop"].iloc[0]
    assert bus["applicable"] and bus["expected"] == pytest.approx(round(expected, 1))
    assert bus["data_gap"] is True and "map incomplete" in bus["note"]
    assert category_gaps(ledger)["bus_stop"] is True
    summary = programme_summary(pd.DataFrame(), HEBI, HEBI.category_ids, area=QIBIN)
    assert summary["applicable"] is True and summary["area"] == "hebi"
    assert summary["area_share"] == pytest.approx(scope.share)


def test_the_flag_is_not_raised_inside_hebi_when_the_data_holds_enough():
    scope = programme_scope(HEBI, QIBIN)
    enough = facilities("bus_stop", int(np.ceil(262 * scope.share * 0.5)) + 1)
    ledger = ledger_table(HEBI, enough, QIBIN)
    bus = ledger[ledger["categories"] == "bus_stop"].iloc[0]
    assert bus["data_gap"] is False
    assert category_gaps(ledger)["bus_stop"] is False
    # facilities outside the study area do not count
    outside = facilities("bus_stop", 50, shapely.box(114.5, 35.5, 114.6, 35.6))
    ledger = ledger_table(HEBI, outside, QIBIN)
    bus = ledger[ledger["categories"] == "bus_stop"].iloc[0]
    assert bus["found"] == 50 and bus["in_area"] == 0 and bus["data_gap"] is True


def test_small_claims_in_a_small_study_area_are_not_judged():
    tiny = shapely.box(114.29, 35.74, 114.295, 35.745)  # about 0.25 km²
    ledger = ledger_table(HEBI, facilities("bus_stop", 0, tiny), tiny)
    judged = ledger.dropna(subset=["found"])
    assert (judged["expected"] < 2).all()
    assert judged["data_gap"].isna().all()
    assert category_gaps(ledger) == {}


def test_helsinki_demo_area_flags_nothing_and_is_not_applicable(helsinki_pbf, helsinki_net):
    from walkcircle.sources.osm_features import facilities_from_osm_file

    area = shapely.box(*helsinki_net.bounds_lonlat())
    found = facilities_from_osm_file(helsinki_pbf, HEBI).facilities
    ledger = ledger_table(HEBI, found, area, lang="zh")
    assert not ledger["applicable"].any()
    assert not ledger["data_gap"].fillna(False).astype(bool).any()
    assert category_gaps(ledger) == {} or not any(category_gaps(ledger).values())
    assert ledger["claimed"].sum() == sum(i.count for i in HEBI.ledger)  # claims listed for reference
    assert set(ledger["note"]) <= {"研究区不在项目范围内：仅供参考", "非步行可达目的地，不作对比"}
    summary = programme_summary(pd.DataFrame(), HEBI, HEBI.category_ids, area=area)
    assert summary["applicable"] is False and summary["area_share"] == 0.0


def test_without_a_study_area_the_whole_programme_is_assumed():
    scope = programme_scope(HEBI, None)
    assert scope == ProgrammeScope(None, 1.0, None, "hebi")
    ledger = ledger_table(HEBI, facilities("bus_stop", 10))
    bus = ledger[ledger["categories"] == "bus_stop"].iloc[0]
    assert bus["expected"] == 262 and bus["data_gap"] is True
    assert programme_summary(pd.DataFrame(), HEBI, HEBI.category_ids)["applicable"] is None


def test_profiles_without_a_ledger_or_an_outline():
    gb = load_profile("gb50180-2018")
    assert programme_scope(gb, QIBIN).applicable is False
    ledger = ledger_table(gb, facilities("kindergarten", 3), QIBIN)
    assert ledger["data_gap"].isna().all() and not ledger["applicable"].any()
    doc = {
        "id": "x",
        "category": [{"id": "shop", "osm": ["shop=*"], "threshold_m": 300}],
        "ledger": [{"item_en": "shops", "count": 10, "categories": ["shop"]}],
    }
    no_outline = profile_from_dict(doc)
    scope = programme_scope(no_outline, QIBIN)
    assert scope.applicable is True and scope.share == 1.0


def test_programme_outline_from_a_polygon_and_validation():
    doc = {
        "id": "x",
        "category": [{"id": "shop", "osm": ["shop=*"], "threshold_m": 300}],
        "ledger": [{"item_en": "shops", "count": 1000, "categories": ["shop"]}],
        "programme": {
            "area": "tri",
            "polygon": [[114.2, 35.7], [114.4, 35.7], [114.3, 35.8]],
            "area_km2": 100,
        },
    }
    profile = profile_from_dict(doc)
    triangle = shapely.Polygon([(114.2, 35.7), (114.4, 35.7), (114.3, 35.8)])
    assert programme_scope(profile, shapely.box(114.0, 35.0, 114.1, 35.1)).applicable is False
    scope = programme_scope(profile, shapely.box(114.2, 35.7, 114.3, 35.75))
    part = shapely.box(114.2, 35.7, 114.3, 35.75).intersection(triangle)
    assert scope.share == pytest.approx(equal_area_km2(part) / 100, rel=1e-3)
    for bad, message in (
        ({"bbox": [1, 2, 3]}, "bbox must be"),
        ({"bbox": [1, 2, 0, 3]}, "bbox must be"),
        ({"polygon": [[1, 2]]}, "polygon must be"),
        ({"bbox": [1, 2, 3, 4], "polygon": [[1, 2], [2, 2], [2, 3]]}, "exactly one of bbox"),
        ({"bbox": [1, 2, 3, 4], "area_km2": -5}, "area_km2"),
        ({"bbox": [1, 2, 3, 4], "colour": "red"}, "unknown key 'colour'"),
    ):
        broken = copy.deepcopy(doc)
        broken["programme"] = {"area": "tri", "area_km2": 100, **bad}
        with pytest.raises(InputError, match=message) as info:
            profile_from_dict(broken, "my.toml")
        assert "\n" not in str(info.value) and "my.toml" in str(info.value)


@settings(max_examples=200, deadline=None)
@given(
    in_area=st.integers(0, 500),
    claimed=st.integers(0, 1000),
    share=st.floats(0, 1),
    ratio=st.floats(0.05, 1),
)
def test_gap_rule_property(in_area, claimed, share, ratio):
    rules = ScoringRules(gap_ratio=ratio)
    expected, gap, _ = judge_claim(in_area, claimed, ProgrammeScope(True, share, 1.0, "x"), rules)
    assert expected == pytest.approx(claimed * share)
    if expected < rules.gap_min_expected:
        assert gap is None
    else:
        assert gap == (in_area < ratio * claimed * share)
        # more facilities in the data never turn "no gap" into "gap"
        _, more, _ = judge_claim(in_area + 1, claimed, ProgrammeScope(True, share, 1.0, "x"), rules)
        assert not (gap is False and more is True)
    # outside the programme nothing is ever flagged
    assert judge_claim(in_area, claimed, ProgrammeScope(False, 0.0, 0.0, "x"), rules)[1] is False


def test_geodesic_area_of_a_degree_cell_near_hebi():
    cell = shapely.box(114.0, 35.0, 115.0, 36.0)
    assert geodesic_area_km2(cell) == pytest.approx(equal_area_km2(cell), rel=1e-3)
    assert geodesic_area_km2(shapely.Polygon()) == 0.0
