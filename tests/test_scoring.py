"""Scores, coverage, tiers, communities, the programme and the ledger."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkcircle.access import compute_access
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.profile import load_profile, profile_from_dict
from walkcircle.scoring import (
    ScoringRules,
    category_gaps,
    category_scores,
    community_by_category,
    community_table,
    district_table,
    home_table,
    ledger_table,
    programme_summary,
)
from worlds import line_network, points_at

TEN_NODE_PROFILE = {
    "id": "ten",
    "category": [
        {"id": "shop", "zh": "商店", "en": "Shop", "osm": ["shop=*"], "threshold_m": 300, "weight": 1},
        {
            "id": "clinic",
            "zh": "诊所",
            "en": "Clinic",
            "osm": ["amenity=clinic"],
            "threshold_m": 200,
            "weight": 2,
        },
    ],
    "tier": [{"minutes": 5, "categories": ["shop"]}, {"minutes": 10, "categories": ["shop", "clinic"]}],
    "circle": [{"id": "daily", "categories": ["shop", "clinic"]}, {"id": "health", "categories": ["clinic"]}],
    "ledger": [
        {"circle": "daily", "item_en": "shops", "count": 10, "categories": ["shop"]},
        {"circle": "health", "item_en": "clinics", "count": 2, "categories": ["clinic"]},
        {"circle": "daily", "item_en": "benches", "count": 40, "categories": []},
    ],
}


@pytest.fixture
def ten_node():
    """The hand-computed example: a 10-node street, 4 homes, 2 facilities, 2 communities."""
    net = line_network(10, 100.0)
    homes = points_at(
        [50, 350, 850, 450], [10, 10, 10, 400],
        community=["A", "A", "B", "B"], population=[100.0, 300.0, 200.0, 50.0], district=["d1", "d1", "d2", "d2"],
    )  # fmt: skip
    facilities = points_at([100, 700], [20, 0], category=["shop", "clinic"], feature_id=["f1", "f2"])
    profile = profile_from_dict(TEN_NODE_PROFILE, "ten")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(
            net, homes, facilities, ["shop", "clinic"], thresholds_m={"shop": 300, "clinic": 200}
        )
    return net, homes, facilities, profile, access


def test_hand_computed_distances_scores_and_tiers(ten_node):
    _, _, _, profile, access = ten_node
    # home 0 at 50 m (+10 m off), shop at 100 m (+20 m off): 50 + 10 + 20
    expected_m = np.array([[80, 660], [280, 360], [780, 160], [np.inf, np.inf]])
    np.testing.assert_allclose(access.nearest_m, expected_m, atol=1e-6)
    scores = home_table(access, profile)
    assert scores["reached_shop"].tolist() == [True, True, False, False]
    assert scores["reached_clinic"].tolist() == [False, False, True, False]
    # clinic at 360 m with a 200 m threshold: 100 * (1 - 160 / 200) = 20
    np.testing.assert_allclose(scores["score_shop"], [100, 100, 0, 0], atol=1e-9)
    np.testing.assert_allclose(scores["score_clinic"], [0, 20, 100, 0], atol=1e-9)
    # weights shop 1, clinic 2
    np.testing.assert_allclose(scores["score"], [100 / 3, 140 / 3, 200 / 3, 0], atol=1e-9)
    assert scores["tier_5min"].tolist() == [True, True, False, False]
    assert scores["tier_10min"].tolist() == [False, False, False, False]
    assert np.isnan(scores["minutes_clinic"].iloc[3]) or np.isinf(scores["minutes_clinic"].iloc[3])
    assert scores["minutes_shop"].iloc[0] == pytest.approx(80 / 80)  # 80 m at 80 m/min


def test_hand_computed_communities_districts_and_programme(ten_node):
    _, homes, _, profile, access = ten_node
    scores = home_table(access, profile)
    comm = community_table(homes, scores, ["shop", "clinic"]).set_index("community")
    a, b = comm.loc["A"], comm.loc["B"]
    assert (a["n_homes"], a["population"]) == (2, 400)
    assert a["coverage_shop"] == 1.0 and a["coverage_clinic"] == 0.0
    assert a["failing"] == "clinic" and a["affected_clinic"] == 400 and a["residents_affected"] == 400
    assert a["score_mean"] == pytest.approx((100 * 100 / 3 + 300 * 140 / 3) / 400)
    assert b["coverage_shop"] == 0.0 and b["coverage_clinic"] == pytest.approx(0.8)
    assert b["failing"] == "shop"  # 0.8 meets the default pass share
    assert b["residents_affected"] == 250 and b["affected_clinic"] == 50
    assert b["score_mean"] == pytest.approx((200 * 200 / 3 + 50 * 0) / 250)
    assert not a["meets_all"] and not b["meets_all"]
    assert a["share_tier_5min"] == 1.0 and b["share_tier_5min"] == 0.0
    strict = community_table(homes, scores, ["shop", "clinic"], ScoringRules(pass_share=0.9)).set_index(
        "community"
    )
    assert strict.loc["B", "failing"] == "shop;clinic"

    districts = district_table(homes, scores, ["shop", "clinic"]).set_index("district")
    assert districts.loc["d1", "population"] == 400 and districts.loc[
        "d2", "coverage_clinic"
    ] == pytest.approx(0.8)

    programme = programme_summary(comm.reset_index(), profile, ["shop", "clinic"])
    assert programme["communities"] == 2 and programme["meet_all"] == 0
    assert programme["meet_category"] == {"shop": 1, "clinic": 1}
    assert programme["meet_circle"] == {"daily": 0, "health": 1}
    table = community_by_category(comm.reset_index(), ["shop", "clinic"])
    assert table.loc["A"].tolist() == [1.0, 0.0]


def test_hand_computed_ledger(ten_node):
    _, _, facilities, profile, _ = ten_node
    ledger = ledger_table(profile, facilities).set_index("item")
    assert ledger.loc["shops", "claimed"] == 10 and ledger.loc["shops", "found"] == 1
    assert bool(ledger.loc["shops", "data_gap"]) and "map incomplete" in ledger.loc["shops", "note"]
    assert ledger.loc["clinics", "data_gap"] is False or not ledger.loc["clinics", "data_gap"]
    assert ledger.loc["benches", "data_gap"] is None and pd.isna(ledger.loc["benches", "found"])
    assert category_gaps(ledger.reset_index()) == {"shop": True, "clinic": False}


def test_hebi_ledger_lists_all_nine_circles_and_flags_gaps_on_a_fixture(cau_osm):
    from walkcircle.sources.osm_features import facilities_from_osm_file

    hebi = load_profile("hebi-2021")
    facilities = facilities_from_osm_file(cau_osm, hebi).facilities
    ledger = ledger_table(hebi, facilities, lang="zh")
    assert set(ledger["circle"]) == {c.zh for c in hebi.circles}
    claims = ledger.dropna(subset=["found"])
    # every item is in the ledger, summed into one row per claim
    assert claims["claimed"].sum() + ledger[ledger["found"].isna()]["claimed"].sum() == sum(
        i.count for i in hebi.ledger
    )
    fitness = claims[claims["categories"] == "fitness"].iloc[0]
    assert fitness["claimed"] == 18 + 27 + 115
    schools = claims[claims["categories"] == "primary_school;kindergarten"].iloc[0]
    assert schools["claimed"] == 28
    # the CAU extract holds 24 bus stops, far fewer than the 262 Hebi built in 2021
    bus = ledger[ledger["categories"] == "bus_stop"].iloc[0]
    assert bus["claimed"] == 262 and bus["found"] <= 24 and bus["data_gap"]
    assert claims["data_gap"].astype(bool).all()


def test_decay_formula():
    s = category_scores(np.array([[0.0, 300.0, 450.0, 600.0, 601.0, np.inf]]).T, np.array([300.0]))
    np.testing.assert_allclose(s[:, 0], [100, 100, 50, 0, 0, 0])
    s3 = category_scores(np.array([[450.0]]), np.array([300.0]), decay_factor=3.0)
    assert s3[0, 0] == pytest.approx(75)
    with pytest.raises(InputError, match="decay_factor must be > 1"):
        ScoringRules(decay_factor=1)
    with pytest.raises(InputError, match="pass_share"):
        ScoringRules(pass_share=0)
    with pytest.raises(InputError, match="gap_ratio"):
        ScoringRules(gap_ratio=1.5)


def test_bad_population(ten_node):
    _, homes, _, profile, access = ten_node
    scores = home_table(access, profile)
    bad = homes.assign(population=[1.0, -2.0, 1.0, 1.0])
    with pytest.raises(InputError, match="population must be finite and >= 0"):
        community_table(bad, scores, ["shop", "clinic"])


# ---------------------------------------------------------------------------- properties


@st.composite
def scenes(draw):
    n_homes = draw(st.integers(1, 8))
    along = draw(st.lists(st.floats(0, 900), min_size=n_homes, max_size=n_homes))
    north = draw(st.lists(st.floats(-60, 60), min_size=n_homes, max_size=n_homes))
    pops = draw(st.lists(st.floats(0, 100), min_size=n_homes, max_size=n_homes))
    comms = draw(st.lists(st.sampled_from(["A", "B"]), min_size=n_homes, max_size=n_homes))
    n_fac = draw(st.integers(1, 5))
    fac_along = draw(st.lists(st.floats(0, 900), min_size=n_fac, max_size=n_fac))
    fac_cat = draw(st.lists(st.sampled_from(["shop", "clinic"]), min_size=n_fac, max_size=n_fac))
    extra = (draw(st.floats(0, 900)), draw(st.sampled_from(["shop", "clinic"])))
    return along, north, pops, comms, fac_along, fac_cat, extra


def _score(net, homes, fac, profile, thresholds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(net, homes, fac, ["shop", "clinic"], thresholds_m=thresholds)
    scores = home_table(access, profile)
    return scores, community_table(homes, scores, ["shop", "clinic"])


@settings(max_examples=40, deadline=None)
@given(scene=scenes())
def test_more_facilities_and_longer_thresholds_never_lower_anything(scene):
    along, north, pops, comms, fac_along, fac_cat, extra = scene
    net = line_network(10, 100.0)
    profile = profile_from_dict(TEN_NODE_PROFILE, "ten")
    homes = points_at(along, north, community=comms, population=pops)
    fac = points_at(fac_along, 5.0, category=fac_cat, feature_id=[f"f{i}" for i in range(len(fac_cat))])
    more = pd.concat(
        [fac, points_at([extra[0]], 5.0, category=[extra[1]], feature_id=["new"])], ignore_index=True
    )
    base_t = {"shop": 300.0, "clinic": 200.0}
    s0, c0 = _score(net, homes, fac, profile, base_t)
    s1, c1 = _score(net, homes, more, profile, base_t)
    assert (s1["score"].to_numpy() >= s0["score"].to_numpy() - 1e-9).all()
    for cid in ("shop", "clinic"):
        assert (s1[f"reached_{cid}"] | ~s0[f"reached_{cid}"]).all()
        assert (c1[f"coverage_{cid}"].to_numpy() >= c0[f"coverage_{cid}"].to_numpy() - 1e-12).all()
    _, c2 = _score(net, homes, fac, profile, {"shop": 450.0, "clinic": 250.0})
    for cid in ("shop", "clinic"):
        assert (c2[f"coverage_{cid}"].to_numpy() >= c0[f"coverage_{cid}"].to_numpy() - 1e-12).all()
    # equal populations give the plain share of homes
    equal = homes.assign(population=7.0)
    ce = community_table(equal, s0, ["shop", "clinic"]).set_index("community")
    for name, group in s0.groupby(homes["community"].to_numpy()):
        assert ce.loc[name, "coverage_shop"] == pytest.approx(group["reached_shop"].mean())
