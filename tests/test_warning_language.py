"""Warnings and per-source accounting lines in the study language (issue 14 item 6).

walkcircle writes every warning in English (summary.json keeps that text for machines);
`walkcircle.i18n.translate_message` turns it into Chinese where people read it: the console
(stderr warnings, stdout accounting lines) and the report's warnings list. Allowed in Chinese
text: numbers, paths, source ids, category ids, CRS names, flags, quoted column names and the
proper names of `walkcircle.i18n.PROPER_NAMES` (checked with `test_language.foreign`).
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import fixture_path
from test_language import CJK, foreign
from walkcircle.cli import app
from walkcircle.i18n import MESSAGES, translate_message
from walkcircle.sources.loads import LoadReport

NUMBER = re.compile(r"\d+")
runner = CliRunner()

# one English example (as the readers write them) per pattern of MESSAGES, at least
EXAMPLES = [
    "12 of 3400 homes are more than 300 m from any street: unreachable",
    "4 facilities are more than 300 m from any street and not used",
    "no facility on the network for: kindergarten, fresh_market (every home unreachable)",
    "no facility at all for: kindergarten",
    "7 of 900 homes lie in the walking margin outside the study area and are not scored",
    "2 of 5 facilities to close match no facility (listed with their reason)",
    "3 planned facilities more than 300 m from any street: listed with status planned_off_network, not routed",
    "1 planned facilities in a category not computed: listed with status planned_unknown_category, not routed",
    "origin 0 (116.35000, 40.00300) lies outside the network's bounds; its isochrones are empty",
    "origin 2 (116.35000, 40.00300) lies 412 m from the nearest street; its isochrones are empty",
    "origin 1 (116.35000, 40.00300) lies 35 m from the nearest street",
    "isochrone origin 120.000000,36.000000 is farther than 300 m from every street of the network and was "
    "left out; check the point (LON,LAT in WGS-84) and the study area",
    "6 candidate sites are more than 300 m from a street and were left out",
    "data/pop.tif: 14 raster cells hold 230 people but no home; they were given to the nearest home",
    "data/pop.tif: 14 raster cells hold 230 people but no home; each became a home at the cell centre",
    "data/pop.tif: homes received 51200 people of the raster's 52000 in the area",
    "osm:cau_map.osm.bz2: 9 OSM ways/multipolygons had incomplete geometry (nodes or members outside the "
    "extract); each was placed at a point of what is present",
    "osm:cau_map.osm.bz2: 3 OSM features had incomplete geometry (all members or nodes outside the extract) "
    "and were left out (kindergarten 1, park 2)",
    "data/cau_map.osm.bz2: 164 of 2473 walkable ways miss nodes that are not in the extract (673 nodes "
    "missing); those ways are cut where nodes are missing, so the network may be smaller than the area: cut "
    "the extract with complete ways",
    "data/设施 a.csv: the table has no rows",
    "data/设施 a.csv: 2 rows without valid coordinates left out",
    "data/设施 a.csv: 5 rows lie outside the study area and were left out",
    "data/设施 a.csv: 8 rows match no category of profile hebi-2021 and were left out (most common: 加油站 5)",
    "data/设施 a.csv: 8 rows match no category of profile hebi-2021 and were left out (most common: empty label)",
    "data/设施 a.csv: 3 candidates without coordinates left out",
    "data/社区.shp: the attributes are not in the encoding the .cpg names; read them as GB18030 (GBK)",
    "data/设施 a.csv: declared wgs84 but the points sit where gcj02 coordinates of the matching OSM facilities "
    "would; check --crs (AMap/Gaode and Tencent are gcj02, Baidu bd09)",
    "data/社区.csv: the coordinates look like gcj02, not wgs84: they sit 512 m (median) off the homes as wgs84 "
    "and 12 m as gcj02; if the file comes from AMap/Gaode or Tencent, declare --communities-crs gcj02",
    "data/社区.csv: the coordinates look like bd09, not wgs84: they sit 900 m (median) off the streets as wgs84 "
    "and 20 m as bd09; if the file comes from Baidu, declare --communities-crs bd09",
    "data/社区.csv: the coordinates look like wgs84, not gcj02: they sit 480 m (median) off the streets as gcj02 "
    "and 15 m as wgs84; if the file comes from GPS or OSM, declare --crs wgs84",
    "osm:cau_map.osm.bz2: no residential buildings or residential landuse in OSM; use --communities or the H3 grid",
    "data/社区.csv: 2 communities have no name in '名称'; named by row number",
    "data/社区.csv: duplicate community names made unique with (2), (3)...: 社区甲 x2, 社区乙 x3",
    "data/社区.csv: 1 communities have no location and were left out",
    "data/社区.geojson: 1 community polygons were invalid (self-intersecting) and were repaired with make_valid: 蝴蝶",
    "data/社区.csv: column 'population' is empty; homes count one resident each unless a population raster is given",
    "data/社区.csv: 3 communities have no population in '人口'; they count one resident per home",
    "40 of 1200 mapped homes lie outside every community polygon; they are left out",
    "18 mapped homes lie inside more than one community polygon (overlapping polygons); each of those "
    "communities counts them",
    "2 community polygons contain no mapped home; they were sampled on a 25 m grid: 社区甲, 社区乙",
    "3 community points have no home within 250 m; each counts as one home: 社区甲, 社区乙, 社区丙",
    "4 cells of about 250 m still reached AMap's cap of 200: they may miss POIs",
    "17 POIs in the query rectangles lie outside the area and were left out",
    "3 names not matched (listed in points.csv with empty coordinates)",
    "merged: 206 facility rows, 1 near-duplicates kept once (bus_stop 1), 205 facilities",
    "merged: 20 facility rows, 0 near-duplicates kept once, 20 facilities",
    "osm:Helsinki.osm.pbf: 299 rows read, 96 dropped (unclassified 96), 203 used -> 206 facilities (9 placed "
    "from partial geometry), 1 the same feature mapped twice",
    "table:设施 a.csv: 120 rows read, 3 dropped (invalid_coordinates 1, outside_area 0, unclassified 2), "
    "117 used -> 130 facilities, 5 merged into other sources",
    "table:b.csv: 10 rows read, 0 dropped, 10 used -> 10 facilities",
]
# what stays as written in Chinese text: paths, source/category/status ids, CRS names, flags, columns
KEPT = [
    "data/cau_map.osm.bz2", "osm:cau_map.osm.bz2", "osm:Helsinki.osm.pbf", "data/设施 a.csv", "table:设施 a.csv",
    "table:b.csv", "data/社区.csv", "data/社区.shp", "data/社区.geojson", "data/pop.tif", "points.csv",
    "planned_off_network", "planned_unknown_category", "kindergarten", "fresh_market", "bus_stop", "park",
    "hebi-2021", "--communities-crs", "--communities", "--crs", "make_valid", ".cpg", "wgs84", "gcj02", "bd09",
    "'population'", "'名称'", "'人口'", "GB18030", "GBK", "WGS-84", "LON", "LAT",
]  # fmt: skip


def _first_pattern(text: str) -> int | None:
    return next((i for i, (p, _) in enumerate(MESSAGES) if p.match(text)), None)


def _same_numbers(english: str, chinese: str) -> bool:
    """Every number of the English text is in the Chinese one (as often)."""
    return not Counter(NUMBER.findall(english)) - Counter(NUMBER.findall(chinese))


def test_every_pattern_has_an_example():
    hit = {_first_pattern(e) for e in EXAMPLES}
    assert None not in hit, [e for e in EXAMPLES if _first_pattern(e) is None]
    assert hit == set(range(len(MESSAGES)))


@pytest.mark.parametrize("english", EXAMPLES)
def test_examples_become_chinese_with_the_same_facts(english):
    chinese = translate_message(english, "zh")
    assert chinese != english and CJK.search(chinese)
    assert _same_numbers(english, chinese), (english, chinese)
    assert foreign(chinese, "zh", KEPT) == [], chinese
    assert translate_message(english, "en") == english


def test_a_message_no_pattern_knows_stays_as_written():
    text = "something new went wrong in data/x.csv"
    assert translate_message(text, "zh") == text


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(0, 10**6),  # rows used
    dropped=st.dictionaries(
        st.sampled_from(["invalid_coordinates", "outside_area", "unclassified", "incomplete_geometry"]),
        st.integers(0, 1000),
    ),
    kept=st.integers(0, 10**6),
    recovered=st.integers(0, 50),
    merged=st.dictionaries(st.sampled_from(["park", "bus_stop"]), st.integers(0, 100)),
    doubles=st.dictionaries(st.sampled_from(["park", "bus_stop"]), st.integers(0, 100)),
    source=st.sampled_from(["table:设施 a.csv", "osm:cau_map.osm.bz2", "merged"]),
)
def test_every_accounting_line_is_translated(rows, dropped, kept, recovered, merged, doubles, source):
    # the lines come from LoadReport.describe itself, not from a copy of its format
    rows += sum(dropped.values())  # a source drops only rows it read
    report = LoadReport(source, rows_read=rows, kept=kept, dropped=dropped, recovered=recovered)
    report.merged, report.doubles, report.duplicates_removed = merged, doubles, merged
    english = report.describe()
    chinese = translate_message(english, "zh")
    assert CJK.search(chinese), english
    assert _same_numbers(english, chinese), (english, chinese)
    assert foreign(chinese, "zh", [source, "park", "bus_stop"]) == [], chinese


# ---------------------------------------------------------------------------- real studies, CLI
def _warning_lines(stderr: str, prefix: str) -> list[str]:
    return [ln.removeprefix(prefix) for ln in stderr.splitlines() if ln.startswith(prefix)]


def _report_warnings(folder: Path) -> tuple[str, list[str]]:
    page = (folder / "report.html").read_text(encoding="utf-8")
    ul = re.search(r'<ul([^>]*) class="warnings">(.*?)</ul>', page, flags=re.S)
    assert ul is not None
    return ul.group(1), [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", ul.group(2), flags=re.S)]


def _check_chinese_run(res, folder: Path, kept: list[str]) -> list[str]:
    """The run's warnings: English in summary.json, Chinese on stderr and in the report."""
    assert res.exit_code == 0, res.stderr
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    english, kept = summary["warnings"], [*kept, *summary["coverage"]]  # category ids stay
    shown = _warning_lines(res.stderr, "警告：")
    assert "warning:" not in res.stderr
    assert shown == [translate_message(w, "zh") for w in english]
    lang_attr, listed = _report_warnings(folder)
    assert lang_attr == "" and listed == shown
    assert all(translate_message(w, "zh") != w for w in english), english  # a pattern knew each
    for line in shown:
        assert CJK.search(line) and foreign(line, "zh", kept) == [], line
    assert "rows read" not in res.stdout and "读取" in res.stdout  # accounting lines
    return english


@pytest.mark.slow
def test_demo_warnings_are_chinese(tmp_path):
    out = tmp_path / "demo"
    argv = ["run", "--demo", "--lang", "zh", "--isochrones-at", "30.0,60.0", "--out", str(out)]
    res = runner.invoke(app, argv)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8")) if out.exists() else {}
    kept = [str(s["source"]) for s in summary.get("facility_sources", {}).get("sources", [])]
    kept += [re.sub(r"^osm:", "", k) for k in kept] + ["osm:", "kindergarten"]
    paths = re.findall(r"(/\S+\.osm\.pbf)", res.stderr)
    english = _check_chinese_run(res, out, paths + kept + ["Helsinki.osm.pbf"])
    joined = "\n".join(english)
    for fact in ("walkable ways miss nodes", "incomplete geometry", "no facility on the network for: kindergarten",
                 "isochrone origin 30.000000,60.000000"):  # fmt: skip
        assert fact in joined  # the study raised what the test is about


def _cau_inputs(folder: Path) -> tuple[Path, Path, Path]:
    from walkcircle.coords import wgs84_to_gcj02
    from walkcircle.sources.homes import homes_from_osm
    from walkcircle.sources.osm import read_osm

    osm = fixture_path("cau_map.osm.bz2")
    net, homes = read_osm(osm), homes_from_osm(osm).homes
    pick = np.random.default_rng(5).choice(len(homes), 12, replace=False)
    home_lon, home_lat = homes["lon"].to_numpy()[pick], homes["lat"].to_numpy()[pick]
    lon, lat = wgs84_to_gcj02(home_lon, home_lat)  # at OSM homes, shifted: declared WGS-84, looks GCJ-02
    nodes = np.random.default_rng(5).choice(net.n_nodes, 8, replace=False)
    names = ["社区甲", "社区甲", "社区乙", "社区丙", "社区丙", "社区丁", "社区戊", "社区己", "社区庚", "社区辛",
             "社区壬", "社区癸"]  # fmt: skip
    lon[3] = lat[3] = np.nan
    communities = folder / "社区.csv"
    pd.DataFrame({"名称": names, "lon": lon, "lat": lat, "population": np.nan}).to_csv(
        communities, index=False
    )
    labels = ["幼儿园", "幼儿园", "菜市场", "加油站", "加油站", "幼儿园", "幼儿园", "菜市场"]
    f_lon, f_lat = net.lon[nodes].copy(), net.lat[nodes].copy()
    f_lon[5:7] += 1.0  # outside the study area
    f_lon[7] = np.nan
    table = folder / "设施.csv"
    pd.DataFrame({"名称": [f"设施{i}" for i in range(8)], "类别": labels, "lon": f_lon, "lat": f_lat}).to_csv(
        table, index=False
    )
    return osm, communities, table


@pytest.mark.slow
def test_cau_study_warnings_are_chinese(tmp_path):
    osm, communities, table = _cau_inputs(tmp_path)
    out = tmp_path / "cau"
    argv = ["run", "--osm", str(osm), "--communities", str(communities), "--facilities", str(table), "--crs", "wgs84",
            "--isochrones-at", "120.0,36.0", "--lang", "zh", "--out", str(out)]  # fmt: skip
    res = runner.invoke(app, argv)
    kept = [str(table), f"table:{table.name}", str(communities), str(osm), f"osm:{osm.name}", "'population'"]
    kept += [
        "kindergarten",
        "wgs84",
        "gcj02",
        "--communities-crs",
        "hebi-2021",
        "gb50180-2018",
        "mofcom-2021",
    ]
    english = "\n".join(_check_chinese_run(res, out, kept))
    for fact in ("duplicate community names", "communities have no location", "'population' is empty",
                 "look like gcj02", "lie outside the study area", "match no category", "without valid coordinates",
                 "isochrone origin 120.000000,36.000000"):  # fmt: skip
        assert fact in english, english


@pytest.mark.slow
def test_english_warnings_are_unchanged(tmp_path):
    osm, _, table = _cau_inputs(tmp_path)
    argv = ["facilities", "--osm", str(osm), "--facilities", str(table), "--crs", "wgs84", "--lang", "en"]
    res = runner.invoke(app, argv)
    as_json = runner.invoke(app, [*argv, "--json"])
    assert res.exit_code == 0 and as_json.exit_code == 0, res.stderr + as_json.stderr
    english = json.loads(as_json.stdout)["warnings"]
    assert len(english) >= 3
    assert _warning_lines(res.stderr, "warning: ") == english
    assert foreign(res.stderr, "en", [str(table), "菜市场", "加油站", "幼儿园"]) == []  # path and labels
    assert "rows read" in res.stdout and "读取" not in res.stdout
