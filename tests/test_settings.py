"""The settings layer: one vocabulary for config files, batch rows, keywords and flags; one validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from walkcircle.batch import read_areas
from walkcircle.cli._common import flags_to_changes, settings_from_flags
from walkcircle.config import load_config
from walkcircle.errors import SettingsError
from walkcircle.settings import (
    Settings,
    build_settings,
    settings_fingerprint,
    settings_to_aliases,
    update_settings,
)

CONTENT = {
    "osm": "x.osm.pbf",
    "profile": "mofcom-2021",
    "speed_kmh": 3.6,
    "communities": "c.gpkg",
    "communities_crs": "gcj02",
    "homes": "h3",
}


def test_config_file_batch_row_keywords_and_flags_agree(tmp_path):
    (tmp_path / "study.toml").write_text(
        '[network]\nosm = "x.osm.pbf"\n[study]\nprofile = "mofcom-2021"\nspeed_kmh = 3.6\n'
        '[communities]\npath = "c.gpkg"\ncrs = "gcj02"\n[homes]\nsource = "h3"\n',
        encoding="utf-8",
    )
    from_file, _ = load_config(tmp_path / "study.toml")
    (tmp_path / "areas.csv").write_text(
        "name,osm,profile,speed_kmh,communities,communities_crs,homes\n"
        "study,x.osm.pbf,mofcom-2021,3.6,c.gpkg,gcj02,h3\n",
        encoding="utf-8",
    )
    row = read_areas(tmp_path / "areas.csv")[0].settings
    from_row = build_settings(row)
    from_keywords = build_settings(CONTENT, base=tmp_path)
    flags = {"osm": tmp_path / "x.osm.pbf", "profile": "mofcom-2021", "speed": 3.6, "communities": tmp_path / "c.gpkg",
             "communities_crs": "gcj02", "homes": "h3"}  # fmt: skip
    from_flags = settings_from_flags(flags)
    assert from_file == from_row == from_keywords == from_flags
    # the nested sections hold what the aliases say
    assert from_file.sources.osm == tmp_path / "x.osm.pbf"
    assert from_file.routing.speed_kmh == 3.6 and from_file.scoring.profile == "mofcom-2021"
    assert from_file.homes.communities_crs == "gcj02" and from_file.homes.source == "h3"
    assert from_file.profile == "mofcom-2021"  # short aliases read the same values


def test_dotted_keys_sections_and_aliases_are_one_vocabulary():
    a = build_settings({"network": {"bbox": [116.3, 39.9, 116.4, 40.0]}, "scoring": {"pass_share": 0.7}})
    b = build_settings({"network.bbox": "116.3,39.9,116.4,40.0", "scoring.pass_share": "0.7"})
    c = build_settings({"bbox": (116.3, 39.9, 116.4, 40.0), "pass_share": 0.7})
    assert a == b == c and a.sources.bbox == (116.3, 39.9, 116.4, 40.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"study": {"profle": "x"}}, "f.toml: [study] unknown key 'profle' (did you mean 'profile'?)"),
        ({"colour": "red"}, "f.toml: unknown key 'colour'"),
        ({"areas": {"x": 1}}, "f.toml: unknown section [areas]"),
        ({"study": {"speed_kmh": "fast"}}, "f.toml: [study] speed_kmh must be a number (got 'fast')"),
        ({"study": {"speed_kmh": -1}}, "f.toml: [study] speed_kmh must be > 0"),
        (
            {"outputs": {"isochrone_minutes": "abc"}},
            "f.toml: [outputs] isochrone_minutes must be positive numbers",
        ),
        (
            {"outputs": {"isochrone_minutes": [0]}},
            "f.toml: [outputs] isochrone_minutes must be positive numbers",
        ),
        ({"homes": {"source": "census"}}, "f.toml: [homes] source must be one of auto, osm, h3"),
        ({"network": {"bbox": [1, 2]}}, "f.toml: [network] bbox must be four numbers"),
        ({"study": {"lang": "fr"}}, "f.toml: [study] lang must be one of zh, en"),
        ({"osm": "a.osm", "demo": True}, "give only one network source"),
        ({"facilities": "t.csv"}, "f.toml: facilities needs its coordinate system"),
        ({"facilities_crs": "gcj02"}, "f.toml: facilities_crs is for facilities tables"),
        ({"study": {"profile": "gb50180"}}, "did you mean 'gb50180-2018'"),
        ({"suggest": {"unicorn": 3}}, "suggest: profile hebi-2021 has no category 'unicorn'"),
        ({"suggest": {"elderly_care": 0}}, "expected CATEGORY:K"),
        ({"outputs": {"isochrones_at": [[35.7, 114.3]]}}, "(swapped?)"),
        ({"study": {"k": 2.5}}, "[study] k must be a whole number"),
        ({"network": {"include_private": "maybe"}}, "include_private must be true or false"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(data, message):
    with pytest.raises(SettingsError) as caught:
        build_settings(data, origin="f.toml")
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_settings_are_immutable_and_updates_copy():
    base = build_settings({"osm": "a.osm", "facilities": [{"path": "t.csv", "crs": "gcj02"}]})
    before = settings_to_aliases(base)
    new = update_settings(
        base, {"speed_kmh": 3.6, "facilities": [*base.facilities.tables, "u.csv"], "facilities_crs": "wgs84"}
    )
    assert settings_to_aliases(base) == before  # the original is untouched
    assert new.routing.speed_kmh == 3.6 and len(new.facilities.tables) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.routing.speed_kmh = 1.0  # type: ignore[misc]
    # a source among the changes replaces the old one
    assert update_settings(base, {"place": "淇滨区"}).sources.osm is None


def test_fingerprint_covers_every_result_setting():
    base = build_settings({"osm": "a.osm"})
    keys = {settings_fingerprint(base)}
    for change in ({"profile": "mofcom-2021"}, {"speed_kmh": 4.0}, {"homes": "h3"}, {"pass_share": 0.5},
                   {"dedupe_m": 10.0}, {"communities": "c.gpkg"}, {"facilities": "t.csv", "facilities_crs": "gcj02"}):  # fmt: skip
        keys.add(settings_fingerprint(update_settings(base, change)))
    assert len(keys) == 8
    assert settings_fingerprint(
        update_settings(base, {"output_folder": "elsewhere"})
    ) == settings_fingerprint(base)


def _defaults_written_in(tree) -> list[object]:
    """Function defaults and non-docstring string constants of a module."""
    import ast

    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    found: list[object] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arguments):
            found += [d.value for d in [*node.defaults, *node.kw_defaults] if isinstance(d, ast.Constant)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append(node.value)
    return found


def test_each_default_is_defined_once():
    """The defaults module is the only place where the defaults are written in the code."""
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "walkcircle"
    repeated = []
    for path in src.rglob("*.py"):
        if path.name != "defaults.py":
            values = _defaults_written_in(ast.parse(path.read_text(encoding="utf-8")))
            repeated += [
                (path.name, v) for v in values if v in (4.8, 3.6, 300.0, 30.0, "hebi-2021", "data/raw")
            ]
    assert repeated == []


def test_flags_translate_to_aliases():
    changes = flags_to_changes({"speed": None, "elderly": True, "no_osm": True, "online": False, "tables": [Path("t.csv")],
                                "crs": ["gcj02"], "suggest_sites": ["elderly_care:2"], "quiet": True, "overwrite": True})  # fmt: skip
    assert changes == {"speed_kmh": 3.6, "osm_facilities": False, "offline": True, "facilities": [Path("t.csv")],
                       "facilities_crs": ["gcj02"], "suggest": ["elderly_care:2"]}  # fmt: skip
    assert build_settings(changes).scoring.suggest == (("elderly_care", 2),)
    assert Settings().outputs.offline is True
