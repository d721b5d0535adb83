"""A corpus of bad and unusual inputs over every subcommand.

Each case: the exit code (1 for data, 2 for usage), one line on stderr that names the file, flag or
key, no traceback, no "internal error", no partial folder left, and an earlier output intact.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkcircle.cli import app

runner = CliRunner()

NODE = '<node id="{i}" lat="{lat}" lon="{lon}"/>'


def _osm(path: Path, nodes: list[tuple[int, float, float]], ways: list[tuple[int, list[int], str]]) -> Path:
    body = [NODE.format(i=i, lat=lat, lon=lon) for i, lat, lon in nodes]
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        body.append(f'<way id="{wid}">{nds}{tags}</way>')
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(body) + "</osm>", encoding="utf-8")
    return path


STREET = '<tag k="highway" v="residential"/>'
GOOD_NODES = [(1, 40.0, 116.30), (2, 40.0, 116.31), (3, 40.01, 116.31)]


def _files(tmp: Path, osm: Path) -> dict[str, Path]:
    """Write every bad file the cases use; return them by name."""
    f: dict[str, Path] = {}
    f["empty.osm"] = tmp / "empty.osm"
    f["empty.osm"].write_text("")
    f["garbage.osm"] = tmp / "garbage.osm"
    f["garbage.osm"].write_text("this is not xml <<<")
    f["lat95.osm"] = _osm(tmp / "lat95.osm", [(1, 95.0, 116.3), (2, 40.0, 116.31)], [(7, [1, 2], STREET)])
    f["lon200.osm"] = _osm(tmp / "lon200.osm", [(1, 40.0, 200.0), (2, 40.0, 116.31)], [(7, [1, 2], STREET)])
    f["nonodes.osm"] = _osm(tmp / "nonodes.osm", [], [(7, [1, 2], STREET), (8, [2, 3], STREET)])
    f["nowalk.osm"] = _osm(tmp / "nowalk.osm", GOOD_NODES, [(7, [1, 2, 3, 1], '<tag k="building" v="yes"/>')])
    f["cut.osm.bz2"] = tmp / "cut.osm.bz2"
    f["cut.osm.bz2"].write_bytes(osm.read_bytes()[:5000])
    f["nocols.csv"] = tmp / "nocols.csv"
    f["nocols.csv"].write_text("a,b\n1,2\n")
    f["swapped.csv"] = tmp / "swapped.csv"
    f["swapped.csv"].write_text("lon,lat,category\n40.0,116.35,park\n40.001,116.351,park\n")
    f["emptytable.csv"] = tmp / "emptytable.csv"
    f["emptytable.csv"].write_text("")
    f["table.xlsx"] = tmp / "table.xlsx"
    f["table.xlsx"].write_text("not a table")
    f["good.csv"] = tmp / "good.csv"
    f["good.csv"].write_text("lon,lat,category\n116.35,40.0,park\n")
    f["mixed.geojson"] = tmp / "mixed.geojson"
    f["mixed.geojson"].write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Point","coordinates":[116.35,40.0]}},'
        '{"type":"Feature","properties":{"name":"b"},"geometry":{"type":"Polygon","coordinates":[[[116.34,40.0],[116.35,40.0],[116.35,40.01],[116.34,40.0]]]}}]}'
    )
    f["negpop.csv"] = tmp / "negpop.csv"
    f["negpop.csv"].write_text("name,lon,lat,population\n甲,116.35,40.0,-5\n")
    f["noloc.csv"] = tmp / "noloc.csv"
    f["noloc.csv"].write_text("name,lon,lat\n甲,,\n")
    f["metres.csv"] = tmp / "metres.csv"
    f["metres.csv"].write_text("name,x,y\n甲,38500000,4400000\n")
    for name, text in {
        "unknownkey.toml": "[study]\nprofle = 'hebi-2021'\n",
        "badtoml.toml": "[study\n",
        "wrongtype.toml": "[study]\nspeed_kmh = 'fast'\n",
        "minutes.toml": "[outputs]\nisochrone_minutes = 'abc'\n",
        "section.toml": "[studdy]\nname = 'x'\n",
        "bbox.toml": "[network]\nbbox = [1, 2]\n",
        "twosources.toml": "[network]\nplace = 'x'\nbbox = [116.3, 39.9, 116.4, 40.0]\n",
        "areas_badkey.toml": f'[[area]]\nname = "a"\nosm = "{osm}"\ncolour = "red"\n',
        "areas_nosource.toml": '[[area]]\nname = "a"\n',
        "areas_dupe.toml": f'[[area]]\nname = "a"\nosm = "{osm}"\n[[area]]\nname = "a"\nosm = "{osm}"\n',
        "areas_badcell.csv": f"name,osm,speed_kmh\na,{osm},fast\n",
    }.items():
        f[name] = tmp / name
        f[name].write_text(text, encoding="utf-8")
    f["plainfile"] = tmp / "plainfile"
    f["plainfile"].write_text("a file the user owns")
    f["userfolder"] = tmp / "userfolder"
    f["userfolder"].mkdir()
    (f["userfolder"] / "thesis.docx").write_text("years of work")
    f["inputfolder"] = tmp / "inputfolder"
    f["inputfolder"].mkdir()
    (f["inputfolder"] / "in.osm.bz2").write_bytes(osm.read_bytes())
    f["existing"] = tmp / "existing"
    f["existing"].mkdir()
    (f["existing"] / ".walkcircle-output").write_text("x")
    return f


def _cases() -> list[tuple[str, int, list[str], str]]:
    """(id, exit code, arguments with {placeholders}, text the error line must hold)."""
    osm = ["--osm", "{osm}"]
    return [
        # OSM files
        ("osm missing", 1, ["network", "--osm", "{tmp}/missing.osm.pbf"], "missing.osm.pbf"),
        ("osm empty", 1, ["network", "--osm", "{empty.osm}"], "empty.osm"),
        ("osm garbage", 1, ["network", "--osm", "{garbage.osm}"], "garbage.osm"),
        ("osm latitude 95", 1, ["network", "--osm", "{lat95.osm}"], "latitude"),
        ("osm longitude 200", 1, ["run", "--osm", "{lon200.osm}", "--out", "{tmp}/o"], "longitude"),
        ("osm nodes missing", 1, ["network", "--osm", "{nonodes.osm}"], "missing from the extract"),
        ("osm nothing walkable", 1, ["score", "--osm", "{nowalk.osm}", "--out", "{tmp}/o"], "nowalk.osm"),
        ("osm truncated bz2", 1, ["facilities", "--osm", "{cut.osm.bz2}"], "cut.osm.bz2"),
        ("osm unknown suffix", 1, ["network", "--osm", "{good.csv}"], "good.csv"),
        # facility tables
        ("table without --crs", 2, ["facilities", *osm, "--facilities", "{good.csv}"], "--crs"),
        ("table bad --crs", 2, ["facilities", *osm, "--facilities", "{good.csv}", "--crs", "venus"], "--crs"),
        (
            "table two --crs",
            2,
            ["score", *osm, "--facilities", "{good.csv}", "--crs", "wgs84", "--crs", "gcj02"],
            "--crs",
        ),
        ("--crs without table", 2, ["run", *osm, "--crs", "gcj02", "--out", "{tmp}/o"], "--crs"),
        (
            "table missing",
            1,
            ["facilities", *osm, "--facilities", "{tmp}/none.csv", "--crs", "wgs84"],
            "none.csv",
        ),
        (
            "table no columns",
            1,
            ["facilities", *osm, "--facilities", "{nocols.csv}", "--crs", "wgs84"],
            "nocols.csv",
        ),
        (
            "table swapped",
            1,
            ["facilities", *osm, "--facilities", "{swapped.csv}", "--crs", "wgs84"],
            "swapped",
        ),
        (
            "table empty",
            1,
            ["facilities", *osm, "--facilities", "{emptytable.csv}", "--crs", "wgs84"],
            "emptytable.csv",
        ),
        (
            "table xlsx",
            1,
            ["facilities", *osm, "--facilities", "{table.xlsx}", "--crs", "wgs84"],
            "table.xlsx",
        ),
        # communities
        (
            "communities missing",
            1,
            ["score", *osm, "--communities", "{tmp}/c.gpkg", "--out", "{tmp}/o"],
            "c.gpkg",
        ),
        (
            "communities mixed",
            1,
            ["score", *osm, "--communities", "{mixed.geojson}", "--out", "{tmp}/o"],
            "mixes",
        ),
        (
            "communities negative",
            1,
            ["score", *osm, "--communities", "{negpop.csv}", "--out", "{tmp}/o"],
            "negpop.csv",
        ),
        (
            "communities no location",
            1,
            ["score", *osm, "--communities", "{noloc.csv}", "--out", "{tmp}/o"],
            "noloc.csv",
        ),
        (
            "communities in metres",
            1,
            ["score", *osm, "--communities", "{metres.csv}", "--out", "{tmp}/o"],
            "metres.csv",
        ),
        (
            "communities bad crs",
            2,
            ["score", *osm, "--communities", "{noloc.csv}", "--communities-crs", "venus"],
            "--communities-crs",
        ),
        # config files
        ("config unknown key", 2, ["run", "--config", "{unknownkey.toml}"], "unknown key 'profle'"),
        ("config bad toml", 2, ["run", "--config", "{badtoml.toml}"], "not valid TOML"),
        ("config wrong type", 2, ["run", "--config", "{wrongtype.toml}"], "[study] speed_kmh"),
        ("config missing", 2, ["run", "--config", "{tmp}/none.toml"], "none.toml"),
        ("config minutes abc", 2, ["run", "--config", "{minutes.toml}"], "[outputs] isochrone_minutes"),
        ("config unknown section", 2, ["run", "--config", "{section.toml}"], "[studdy]"),
        ("config bbox", 2, ["run", "--config", "{bbox.toml}"], "[network] bbox"),
        ("config two sources", 2, ["score", "--config", "{twosources.toml}"], "only one network source"),
        # flags
        ("speed zero", 2, ["run", "--demo", "--speed", "0", "--out", "{tmp}/o"], "--speed"),
        ("speed text", 2, ["run", "--demo", "--speed", "fast", "--out", "{tmp}/o"], "--speed"),
        ("lang fr", 2, ["report", "--demo", "--lang", "fr", "--out", "{tmp}/r.html"], "--lang"),
        ("profile unknown", 2, ["facilities", *osm, "--profile", "gb-50180"], "unknown profile"),
        ("homes census", 2, ["score", *osm, "--homes", "census"], "--homes"),
        ("basemap bing", 2, ["map", *osm, "--basemap", "bing", "--out", "{tmp}/m.html"], "--basemap"),
        ("suggest zero", 2, ["run", "--demo", "--suggest", "park:0", "--out", "{tmp}/o"], "CATEGORY:K"),
        ("suggest unknown", 2, ["run", "--demo", "--suggest", "unicorn:3", "--out", "{tmp}/o"], "unicorn"),
        (
            "isochrones-at swapped",
            2,
            ["map", *osm, "--isochrones-at", "40.0,116.3", "--out", "{tmp}/m.html"],
            "--isochrones-at",
        ),
        (
            "isochrone-minutes zero",
            2,
            ["run", "--demo", "--isochrone-minutes", "0", "--out", "{tmp}/o"],
            "--isochrone-minutes",
        ),
        ("quiet verbose", 2, ["network", *osm, "--quiet", "--verbose"], "not both"),
        ("speed and elderly", 2, ["score", *osm, "--speed", "4", "--elderly"], "not both"),
        ("bbox short", 2, ["network", "--bbox", "1,2"], "--bbox"),
        ("place and bbox", 2, ["network", "--place", "x", "--bbox", "116.3,39.9,116.4,40.0"], "only one"),
        ("boundary without osm", 2, ["network", "--boundary", "{mixed.geojson}"], "--boundary"),
        ("output crs web mercator", 2, ["score", *osm, "--output-crs", "EPSG:3857"], "--output-crs"),
        ("no network source", 2, ["network"], "give a network source"),
        ("demo and osm", 2, ["facilities", "--demo", *osm], "only one network source"),
        ("dedupe negative", 2, ["facilities", *osm, "--dedupe-m", "-1"], "--dedupe-m"),
        ("isochrones no --at", 2, ["isochrones", *osm], "--at"),
        (
            "isochrones minutes negative",
            2,
            ["isochrones", *osm, "--at", "116.35,40.0", "--minutes", "-5"],
            "--minutes",
        ),
        (
            "isochrones half-width zero",
            2,
            ["isochrones", *osm, "--at", "116.35,40.0", "--half-width", "0"],
            "--half-width",
        ),
        (
            "isochrones out not gpkg",
            2,
            ["isochrones", *osm, "--at", "116.35,40.0", "--out", "{tmp}/i.shp"],
            "--out",
        ),
        (
            "suggest unknown category",
            2,
            ["suggest", *osm, "--category", "unicorns", "--out", "{tmp}/o"],
            "unicorns",
        ),
        (
            "suggest count zero",
            2,
            ["suggest", *osm, "--category", "park", "--count", "0", "--out", "{tmp}/o"],
            "must be >= 1",
        ),
        ("map out txt", 2, ["map", *osm, "--out", "{tmp}/m.txt"], "--out"),
        ("report out folder", 2, ["report", *osm, "--out", "{userfolder}"], "--out"),
        ("unknown option", 2, ["run", "--colour", "red"], "--colour"),
        # batch rows
        ("batch missing file", 2, ["batch", "{tmp}/areas.toml", "--out", "{tmp}/b"], "areas.toml"),
        ("batch unknown key", 2, ["batch", "{areas_badkey.toml}", "--out", "{tmp}/b"], "colour"),
        ("batch no source", 2, ["batch", "{areas_nosource.toml}", "--out", "{tmp}/b"], "exactly one of osm"),
        ("batch duplicate names", 2, ["batch", "{areas_dupe.toml}", "--out", "{tmp}/b"], "unique"),
        ("batch bad cell", 2, ["batch", "{areas_badcell.csv}", "--out", "{tmp}/b"], "speed_kmh"),
        # init and amap
        ("init existing", 2, ["init", "{unknownkey.toml}"], "exists"),
        ("init unknown city", 2, ["init", "{tmp}/w.toml", "--city", "atlantis"], "atlantis"),
        (
            "amap two areas",
            2,
            ["amap", "pois", "--bbox", "1,2,3,4", "--place", "x", "--key", "k"],
            "exactly one",
        ),
        ("amap geocode no city", 2, ["amap", "geocode", "{good.csv}", "--key", "k"], "--city"),
        (
            "amap unreachable",
            1,
            [
                "amap",
                "pois",
                "--place",
                "淇滨区",
                "--key",
                "k",
                "--amap-url",
                "http://127.0.0.1:9",
                "--cache-dir",
                "{tmp}/c",
            ],
            "127.0.0.1",
        ),
        # output folders
        ("out exists", 2, ["score", *osm, "--out", "{existing}"], "exists; pass --overwrite"),
        ("out is a file", 2, ["score", *osm, "--out", "{plainfile}", "--overwrite"], "is a file"),
        (
            "out holds an input",
            2,
            ["run", "--osm", "{inputfolder}/in.osm.bz2", "--out", "{inputfolder}", "--overwrite"],
            "an input of this run",
        ),
        (
            "out not ours",
            2,
            ["network", *osm, "--out", "{userfolder}", "--overwrite"],
            "not written by walkcircle",
        ),
        ("out parent is a file", 1, ["network", *osm, "--out", "{plainfile}/o"], "plainfile"),
    ]


CASES = _cases()


def test_the_corpus_is_large():
    assert len(CASES) >= 60
    commands = {args[0] for _, _, args, _ in CASES}
    assert commands >= {
        "network",
        "facilities",
        "isochrones",
        "score",
        "suggest",
        "map",
        "report",
        "init",
        "run",
        "batch",
        "amap",
    }


@pytest.mark.parametrize(("case", "code", "args", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path, cau_osm, case, code, args, needle):
    files = _files(tmp_path, cau_osm)
    earlier = files["existing"]
    (earlier / "summary.json").write_text("{}")
    values = {**{k: str(v) for k, v in files.items()}, "tmp": str(tmp_path), "osm": str(cau_osm)}
    argv = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        argv.append(arg)
    res = runner.invoke(app, argv)
    err = res.stderr
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("warning:", "using "))]
    assert res.exit_code == code, (case, res.exit_code, err, res.stdout)
    assert len(lines) >= 1, (case, err)
    text = " ".join(lines)
    assert needle in text, (case, text)
    assert "Traceback" not in err and "internal error" not in err, (case, err)
    if "Usage:" not in text:  # click's own usage errors print usage lines; ours are one line
        assert len(lines) == 1, (case, lines)
    assert not [p for p in tmp_path.rglob(".*partial*")], case
    assert (earlier / "summary.json").read_text() == "{}"
    assert (files["userfolder"] / "thesis.docx").exists() and (
        files["plainfile"]
    ).read_text() == "a file the user owns"
    assert (files["inputfolder"] / "in.osm.bz2").exists()


def test_a_second_writer_is_refused(tmp_path, cau_osm):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # "the other run"
    try:
        (tmp_path / ".o.lock").write_text(str(other.pid))
        res = runner.invoke(app, ["network", "--osm", str(cau_osm), "--out", str(tmp_path / "o")])
    finally:
        other.kill()
    assert res.exit_code == 2 and f"process {other.pid}" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_sigterm_cleans_up_and_keeps_an_earlier_output(tmp_path, helsinki_pbf):
    out = tmp_path / "o"
    first = subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", "run", "--osm", str(helsinki_pbf), "--homes", "h3", "--out", str(out), "-q"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = (out / "summary.json").read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "walkcircle.cli", "run", "--osm", str(helsinki_pbf), "--homes", "h3", "--out", str(out), "--overwrite"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and not list(tmp_path.glob(".o.partial-*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "terminated" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert (out / "summary.json").read_bytes() == before


@pytest.mark.parametrize("command", ["map", "run"])
def test_a_far_isochrone_origin_is_left_out_with_a_warning(tmp_path, cau_osm, command):
    out = ["--out", str(tmp_path / ("m.html" if command == "map" else "o"))]
    res = runner.invoke(
        app, [command, "--osm", str(cau_osm), "--homes", "h3", "--isochrones-at", "120.0,36.0", *out]
    )
    assert res.exit_code == 0, res.output
    assert "isochrone origin 120.000000,36.000000" in res.stderr and "left out" in res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr


def test_a_bow_tie_community_is_repaired_and_reported(tmp_path, cau_osm, cau_net):
    import geopandas as gpd
    import shapely

    w, s, e, n = cau_net.bounds_lonlat()
    bow = shapely.Polygon([(w, s), (e, n), (e, s), (w, n), (w, s)])
    gpd.GeoDataFrame({"name": ["蝴蝶"], "population": [100]}, geometry=[bow], crs="EPSG:4326").to_file(
        tmp_path / "c.geojson"
    )
    res = runner.invoke(
        app,
        [
            "score",
            "--osm",
            str(cau_osm),
            "--communities",
            str(tmp_path / "c.geojson"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "repaired with make_valid: 蝴蝶" in res.stderr
