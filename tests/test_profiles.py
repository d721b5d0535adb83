"""Profiles: the shipped standards, the Hebi ledger, validation errors, tag rules."""

from __future__ import annotations

import re

import pytest

from conftest import REFERENCE
from walkcircle.defaults import ELDERLY_SPEED_KMH
from walkcircle.errors import InputError
from walkcircle.profile import (
    TagRule,
    list_profiles,
    load_profile,
    parse_rule,
    profile_from_dict,
)

SHIPPED = ["gb50180-2018", "hebi-2021", "mofcom-2021"]


def test_three_profiles_ship():
    assert list_profiles() == SHIPPED


@pytest.mark.parametrize("pid", SHIPPED)
def test_every_category_is_complete(pid):
    profile = load_profile(pid)
    assert profile.id == pid
    for cat in profile.categories:
        assert cat.zh and cat.en and cat.clause
        assert cat.osm, f"{cat.id} has no OSM rule"
        assert (cat.threshold_m is None) != (cat.threshold_min is None)
        assert 0 < cat.distance_m(4.8) <= 5000
        assert cat.weight >= 0
    assert [t.minutes for t in profile.tiers] == [5.0, 10.0, 15.0]


def test_gb50180_radii_from_the_design_notes():
    p = load_profile("gb50180-2018")
    expected = {
        "kindergarten": 300, "primary_school": 500, "junior_school": 1000, "health_station": 300,
        "health_centre": 1000, "elderly_daycare": 300, "small_sports": 300, "medium_sports": 500,
        "large_sports": 1000, "culture_station": 500, "culture_centre": 1000, "fresh_market": 500,
        "bus_stop": 500, "rail_station": 800, "community_service": 300, "waste_point": 70,
    }  # fmt: skip
    assert {c.id: c.threshold_m for c in p.categories} == expected


def test_mofcom_minutes_and_groups():
    p = load_profile("mofcom-2021")
    assert p.category("convenience_store").threshold_min == 5
    for cid in ("breakfast", "pharmacy", "laundry", "hairdresser", "fresh_market"):
        assert p.category(cid).threshold_min == 10
    for cid in ("supermarket", "repair", "fitness"):
        assert p.category(cid).threshold_min == 15
    groups = {c.group for c in p.categories}
    assert groups == {"basic", "quality"}
    basic = {c.id for c in p.categories if c.group == "basic"}
    assert {"convenience_store", "supermarket", "fresh_market", "breakfast", "hairdresser", "laundry",
            "photo_print", "housekeeping", "repair", "pharmacy", "post_courier", "recycling"} == basic  # fmt: skip


def test_minutes_become_metres_at_the_walking_speed():
    p = load_profile("mofcom-2021")
    store = p.category("convenience_store")
    assert store.distance_m(4.8) == pytest.approx(400.0)
    assert store.distance_m(ELDERLY_SPEED_KMH) == pytest.approx(300.0)
    # service radii are distances whatever the speed
    assert load_profile("gb50180-2018").category("kindergarten").distance_m(ELDERLY_SPEED_KMH) == 300


def _reference_counts() -> dict[str, int]:
    path = REFERENCE / "hebi_program_2021.md"
    if not path.exists():
        pytest.skip("reference/hebi_program_2021.md not found")
    counts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"[\d,]+", cells[2]):
            counts[cells[1]] = int(cells[2].replace(",", ""))
    return counts


def test_hebi_ledger_matches_the_programme_article():
    profile = load_profile("hebi-2021")
    reference = _reference_counts()
    assert len(profile.circles) == 9
    assert {c.zh for c in profile.circles} == {
        "综合服务圈", "全民健身圈", "养老服务圈", "健康医疗圈", "社区文化圈",
        "就学便利圈", "绿色出行圈", "便捷消费圈", "市政提质圈",
    }  # fmt: skip
    matched = 0
    for item in profile.ledger:
        if item.item_en in reference:
            assert item.count == reference[item.item_en], item.item_en
            matched += 1
    assert matched >= 28
    # items whose article cell is not a plain number
    by_en = {i.item_en: i.count for i in profile.ledger}
    assert by_en["slow-traffic lanes added or upgraded (95 + 13)"] == 95 + 13
    assert by_en["waste-sorting collection stations / points / smart bins (7 / 53 / 138)"] == 7 + 53 + 138
    assert by_en["health trails / community fitness paths (92 km)"] == 388
    assert profile.communities_claimed == 55
    claimed = profile.claimed_by_category()
    assert claimed["elderly_care"] == 12 + 136 + 12
    assert claimed["bus_stop"] == 262
    assert claimed["convenience_store"] == 396
    assert set(claimed) <= set(profile.category_ids)
    every_circle = {item.circle for item in profile.ledger}
    assert every_circle == {c.id for c in profile.circles}


# ---------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("rule", "tags", "expected"),
    [
        ("shop=convenience", {"shop": "convenience"}, True),
        ("shop=convenience", {"shop": "supermarket"}, False),
        ("shop=convenience", {"shop": "convenience;hairdresser"}, True),
        ("shop=greengrocer|butcher", {"shop": "butcher"}, True),
        ("healthcare=*", {"healthcare": "clinic"}, True),
        ("healthcare=*", {"healthcare": "no"}, False),
        ("healthcare=*", {"amenity": "clinic"}, False),
        ("amenity=school + name~小学", {"amenity": "school", "name": "五道口小学"}, True),
        ("amenity=school + name~小学", {"amenity": "school", "name": "清华附中"}, False),
        ("leisure=garden + access!=private", {"leisure": "garden"}, True),
        ("leisure=garden + access!=private", {"leisure": "garden", "access": "private"}, False),
        ("public_transport=platform + bus=yes", {"public_transport": "platform", "bus": "yes"}, True),
        ("public_transport=platform + bus=yes", {"public_transport": "platform", "tram": "yes"}, False),
    ],
)
def test_rule_terms(rule, tags, expected):
    assert parse_rule(rule).matches(tags) is expected


@pytest.mark.parametrize("bad", ["shop", "=convenience", "shop=", "a=b + ", "access!=private"])
def test_bad_rules(bad):
    with pytest.raises(ValueError, match="bad tag rule"):
        parse_rule(bad)


def _tags_satisfying(rule: TagRule) -> dict[str, str]:
    tags = {}
    for term in rule.terms:
        if term.op == "*":
            tags[term.key] = "yes"
        elif term.op in ("=", "~"):
            tags[term.key] = sorted(term.values)[0]
    return tags


@pytest.mark.parametrize("pid", SHIPPED)
def test_a_hand_made_feature_for_every_rule_is_classified(pid):
    profile = load_profile(pid)
    for cat in profile.categories:
        for rule in cat.osm:
            tags = _tags_satisfying(rule)
            assert cat.id in profile.classify_tags(tags), (cat.id, rule.text, tags)
    assert profile.classify_tags({"amenity": "bench"}) == []


def test_one_feature_can_serve_several_categories():
    gb = load_profile("gb50180-2018")
    got = gb.classify_tags({"leisure": "pitch"})
    assert {"small_sports", "medium_sports"} <= set(got)


def test_typecodes_and_labels():
    hebi = load_profile("hebi-2021")
    assert hebi.classify_typecode("060200") == ["convenience_store"]
    assert hebi.classify_typecode("050100|060400") == ["convenience_store"]
    assert hebi.classify_typecode("150702") == ["bus_stop"]
    assert hebi.classify_typecode("999999") == []
    assert hebi.category_for_label("Bus stop") == "bus_stop"
    assert hebi.category_for_label("公交车站") == "bus_stop"
    assert hebi.category_for_label("BUS_STOP") == "bus_stop"
    assert hebi.category_for_label("spaceport") is None


def test_overpass_tags_ask_for_first_terms_only():
    tags = load_profile("gb50180-2018").overpass_tags()
    assert "name" not in tags and "isced:level" not in tags
    assert tags["highway"] == ["bus_stop"]
    assert "school" in tags["amenity"]


# ---------------------------------------------------------------------------- validation


def _minimal(**category) -> dict:
    base = {"id": "x", "zh": "某", "en": "X", "osm": ["shop=x"], "threshold_m": 300, "weight": 1.0}
    base.update(category)
    return {"id": "mine", "category": [base]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_minimal(thresold_m=300), r"unknown key 'thresold_m' \(did you mean 'threshold_m'\?\)"),
        (_minimal(threshold_m=-5), "threshold_m must be a number > 0"),
        (_minimal(threshold_m=0), "threshold_m must be a number > 0"),
        (_minimal(threshold_m="300"), "threshold_m must be a number > 0"),
        (_minimal(threshold_m=99999), "<= 5000"),
        (_minimal(threshold_min=5), "exactly one of threshold_m"),
        ({"id": "mine", "category": [{"id": "x", "osm": ["shop=x"]}]}, "exactly one of threshold_m"),
        (_minimal(weight=-1), "weight must be a number >= 0"),
        (_minimal(osm=["shop"]), "bad tag rule"),
        (_minimal(amap=["06a"]), "must be digits"),
        ({"id": "mine"}, "missing required key 'category'"),
        ({"id": "mine", "category": []}, "non-empty list"),
        ({"id": "mine", "colour": "red", "category": _minimal()["category"]}, "unknown key 'colour'"),
    ],
)
def test_invalid_profiles_are_clear_errors(doc, message):
    with pytest.raises(InputError, match=message):
        profile_from_dict(doc, "my.toml")


def test_duplicate_ids_and_dangling_references():
    doc = _minimal()
    doc["category"].append(dict(doc["category"][0]))
    with pytest.raises(InputError, match="duplicate category id 'x'"):
        profile_from_dict(doc, "my.toml")
    doc = _minimal()
    doc["tier"] = [{"minutes": 5, "categories": ["y"]}]
    with pytest.raises(InputError, match="tier 5 min refers to unknown category 'y'"):
        profile_from_dict(doc, "my.toml")
    doc = _minimal()
    doc["circle"] = [{"id": "c", "categories": ["x"]}]
    doc["ledger"] = [{"circle": "d", "item_en": "things", "count": 3, "categories": ["x"]}]
    with pytest.raises(InputError, match="unknown circle 'd'"):
        profile_from_dict(doc, "my.toml")
    doc["ledger"] = [{"circle": "c", "item_en": "things", "count": -3, "categories": ["x"]}]
    with pytest.raises(InputError, match="count must be a whole number"):
        profile_from_dict(doc, "my.toml")


def test_user_profile_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'id = "mine"\n[[category]]\nid = "pharmacy"\nzh = "药店"\nen = "Pharmacy"\nosm = ["amenity=pharmacy"]\nthreshold_min = 10\n',
        encoding="utf-8",
    )
    p = load_profile(path)
    assert p.category_ids == ["pharmacy"] and p.category("pharmacy").distance_m(4.8) == pytest.approx(800)
    bad = tmp_path / "bad.toml"
    bad.write_text("id = [", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml: not valid TOML"):
        load_profile(bad)
    with pytest.raises(InputError, match="profile file not found"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(InputError, match=r"unknown profile 'gb50180' \(did you mean 'gb50180-2018'\?\)"):
        load_profile("gb50180")
    with pytest.raises(InputError, match="no category 'nope'"):
        p.category("nope")
