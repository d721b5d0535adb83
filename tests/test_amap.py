"""The AMap client against a local server that answers in AMap's documented format."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import prcoords
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box
from typer.testing import CliRunner

from amap_server import FakeAmapServer, type_prefix
from walkcircle.cli.amap import app
from walkcircle.errors import DownloadError, InputError
from walkcircle.profile import load_profile
from walkcircle.sources import amap
from walkcircle.sources.tables import read_facility_table

KEY = "S3CRETk3y0123456789abcdef"
AREA = box(114.20, 35.70, 114.30, 35.80)  # GCJ-02; the mid lines 114.25 / 35.75 are exact
PROFILE = load_profile("hebi-2021")


def profile_codes() -> list[str]:
    return sorted({p for c in PROFILE.categories for p in c.amap})


def make_pois(n: int, seed: int, area=AREA, prefix="B0", codes=None) -> list[dict]:
    rng = np.random.default_rng(seed)
    codes = codes or profile_codes()
    w, s, e, n_ = area.bounds
    out = []
    for i in range(n):
        prefix_code = codes[int(rng.integers(len(codes)))]
        code = (prefix_code + "".join(str(d) for d in rng.integers(0, 3, size=6)))[:6]
        out.append(
            {
                "id": f"{prefix}{seed:03d}{i:06d}",
                "name": f"设施{i}",
                "location": f"{rng.uniform(w, e):.6f},{rng.uniform(s, n_):.6f}",
                "type": "生活服务",
                "typecode": code,
                "address": f"淇滨大道{i}号",
                "pname": "河南省",
                "cityname": "鹤壁市",
                "adname": "淇滨区",
            }
        )
    return out


def brute_force(world: list[dict], area, types: list[str]) -> set[str]:
    prefixes = [type_prefix(t) for t in types]
    ids = set()
    for p in world:
        lon, lat = (float(v) for v in p["location"].split(","))
        pt = shapely.Point(lon, lat)
        if (area.contains(pt) or area.boundary.intersects(pt)) and any(
            p["typecode"].startswith(x) for x in prefixes
        ):
            ids.add(p["id"])
    return ids


def gcj2wgs(lat: float, lon: float) -> tuple[float, float]:
    """An independent GCJ-02 -> WGS-84 inverse (prcoords, about 0.1 m)."""
    p = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon), check_china=False)
    return p.lat, p.lon


def wgs2gcj(lat: float, lon: float) -> tuple[float, float]:
    p = prcoords.wgs_gcj(prcoords.Coords(lat, lon), check_china=False)
    return p.lat, p.lon


def client_for(server: FakeAmapServer, cache_dir: Path | None = None, **kw) -> amap.AmapClient:
    return amap.AmapClient(
        key=KEY, base_url=server.url, cache_dir=cache_dir, qps=1000.0, backoff_s=0.01, **kw
    )


def test_amap_types_pads_profile_prefixes():
    types = amap.amap_types(PROFILE)
    assert all(len(t) == 6 and t.isdigit() for t in types)
    for c in PROFILE.categories:
        for p in c.amap:
            assert any(p.startswith(type_prefix(t)) for t in types)


def test_pages_until_a_short_page():
    world = make_pois(60, seed=1)
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world, cap=200) as server:
        fetch = amap.fetch_pois(AREA, types, client_for(server), cap=200)
    expected = brute_force(world, AREA, types)
    assert set(fetch.table["id"]) == expected
    assert len(fetch.table) == len(expected) == 60
    assert fetch.pages == server.count("/v5/place/polygon") == 3  # 25 + 25 + 10
    assert fetch.splits == 0
    assert all(int(p["page_size"]) == 25 for _, p in server.requests)


def test_dense_cell_is_split_and_deduplicated():
    dense = make_pois(700, seed=2, area=box(114.26, 35.76, 114.27, 35.77))
    sparse = make_pois(80, seed=3, prefix="B1")
    # on the first split's mid lines: inside two quarters' rectangles at once
    edge = make_pois(6, seed=4, area=box(114.25, 35.70, 114.25, 35.80), prefix="B2")
    world = dense + sparse + edge
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world, cap=100) as server:
        fetch = amap.fetch_pois(AREA, types, client_for(server), cap=100)
    expected = brute_force(world, AREA, types)
    assert set(fetch.table["id"]) == expected
    assert fetch.table["id"].is_unique
    assert fetch.splits >= 3
    assert fetch.duplicates >= 6
    assert fetch.incomplete_cells == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(0, 300),
    cluster=st.integers(0, 400),
    seed=st.integers(0, 999),
    cap=st.sampled_from([25, 50, 100, 200]),
)
def test_any_world_comes_complete(n, cluster, seed, cap):
    world = make_pois(n, seed=seed) + make_pois(
        cluster, seed=seed + 1, area=box(114.21, 35.71, 114.215, 35.715), prefix="C"
    )
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world, cap=cap) as server:
        fetch = amap.fetch_pois(AREA, types, client_for(server), cap=cap)
    assert set(fetch.table["id"]) == brute_force(world, AREA, types)


def test_types_filter_leaves_other_pois_out():
    world = make_pois(30, seed=5) + make_pois(30, seed=6, prefix="X", codes=["9999"])
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world) as server:
        fetch = amap.fetch_pois(AREA, types, client_for(server))
    assert not any(i.startswith("X") for i in fetch.table["id"])
    assert len(fetch.table) == 30


def test_second_run_makes_no_request(tmp_path):
    world = make_pois(120, seed=7)
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world, cap=50) as server:
        first_client = client_for(server, tmp_path / "cache")
        first = amap.fetch_pois(AREA, types, first_client, cap=50)
        sent = len(server.requests)
        assert first_client.requests_sent == sent > 0
        second_client = client_for(server, tmp_path / "cache")
        second = amap.fetch_pois(AREA, types, second_client, cap=50)
        assert len(server.requests) == sent
    assert second_client.requests_sent == 0
    assert second_client.cache_hits == sent
    pd.testing.assert_frame_equal(first.table, second.table)


@pytest.mark.parametrize(
    ("infocode", "words"),
    [
        ("10001", "INVALID_USER_KEY"),
        ("10003", "DAILY_QUERY_OVER_LIMIT"),
        ("10009", "USERKEY_PLAT_NOMATCH"),
        ("10044", "USER_DAILY_QUERY_OVER_LIMIT"),
        ("20000", "INVALID_PARAMS"),
    ],
)
def test_error_infocodes_give_one_line(infocode, words):
    with FakeAmapServer(KEY, make_pois(5, seed=8)) as server:
        server.fail_next.extend([infocode] * 10)
        with pytest.raises(DownloadError) as err:
            amap.fetch_pois(AREA, ["060000"], client_for(server))
    text = str(err.value)
    assert words in text and f"infocode {infocode}" in text
    assert text == text.strip() and "\n" not in text
    assert KEY not in text
    assert infocode not in amap.INFOCODE_FIXES or amap.INFOCODE_FIXES[infocode] in text


def test_wrong_key_is_refused_by_the_server():
    with FakeAmapServer("another-key", make_pois(5, seed=8)) as server:
        client = client_for(server)
        with pytest.raises(DownloadError, match="INVALID_USER_KEY.*AMAP_KEY"):
            amap.fetch_pois(AREA, ["060000"], client)


@pytest.mark.parametrize("infocode", ["10004", "10019", "10020", "10021"])
def test_qps_exceeded_is_retried(infocode):
    world = make_pois(40, seed=9)
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world) as server:
        server.fail_next.extend([infocode, infocode])
        client = client_for(server)
        fetch = amap.fetch_pois(AREA, types, client)
    assert client.retried == 2
    assert set(fetch.table["id"]) == brute_force(world, AREA, types)


def test_qps_exceeded_forever_gives_up():
    with FakeAmapServer(KEY, make_pois(5, seed=9)) as server:
        server.fail_next.extend(["10019"] * 10)
        client = client_for(server, retries=3)
        with pytest.raises(
            DownloadError, match=r"CUQPS_HAS_EXCEEDED_THE_LIMIT \(infocode 10019\) after 3 retries"
        ):
            amap.fetch_pois(AREA, ["060000"], client)
    assert len(server.requests) == 4


def test_rate_limit_spaces_requests():
    import time

    with FakeAmapServer(KEY, make_pois(80, seed=10)) as server:
        client = amap.AmapClient(key=KEY, base_url=server.url, cache_dir=None, qps=20.0)
        start = time.monotonic()
        amap.fetch_pois(AREA, amap.amap_types(PROFILE), client)
        elapsed = time.monotonic() - start
    assert client.requests_sent == 4
    assert elapsed >= 3 / 20.0


def test_unreachable_host_timeout_and_not_json(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = amap.AmapClient(key=KEY, base_url=f"http://127.0.0.1:{port}", cache_dir=None)
    with pytest.raises(DownloadError, match="cannot reach AMap at 127.0.0.1") as err:
        amap.fetch_pois(AREA, ["060000"], closed)
    assert KEY not in str(err.value)
    with FakeAmapServer(KEY, make_pois(5, seed=11)) as server:
        server.mode = "stall"
        server.stall_s = 1.0
        slow = client_for(server, timeout_s=0.2)
        with pytest.raises(DownloadError, match="timeout") as err:
            amap.fetch_pois(AREA, ["060000"], slow)
        assert KEY not in str(err.value)
        server.mode = "notjson"
        with pytest.raises(DownloadError, match="not JSON"):
            amap.fetch_pois(AREA, ["060000"], client_for(server))
        server.mode = "503"
        with pytest.raises(DownloadError, match="HTTP 503 after 2 retries"):
            amap.fetch_pois(AREA, ["060000"], client_for(server, retries=2))


def test_missing_key(monkeypatch):
    monkeypatch.delenv("AMAP_KEY", raising=False)
    with pytest.raises(InputError, match="AMAP_KEY"):
        amap.AmapClient(key=None)
    monkeypatch.setenv("AMAP_KEY", KEY)
    client = amap.AmapClient(key=None, cache_dir=None)
    assert KEY not in repr(client)


def test_fetched_table_is_read_as_gcj02_facilities(tmp_path):
    world = make_pois(90, seed=12)
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world) as server:
        fetch = amap.fetch_pois(AREA, types, client_for(server))
    path = amap.write_table(fetch.table, tmp_path / "pois.csv")
    load = read_facility_table(path, PROFILE, crs="gcj02")
    frame = load.facilities
    # every POI lands in the categories its type code names, at the WGS-84 point
    expected = [(p["id"], c) for p in world for c in PROFILE.classify_typecode(p["typecode"])]
    assert len(frame) == len(expected)
    assert sorted(frame["category"]) == sorted(c for _, c in expected)
    by_name = {p["name"]: p for p in world}
    for _, row in frame.iterrows():
        gcj_lon, gcj_lat = (float(v) for v in by_name[row["name"]]["location"].split(","))
        lat, lon = gcj2wgs(gcj_lat, gcj_lon)
        assert row["lon"] == pytest.approx(lon, abs=2e-6)
        assert row["lat"] == pytest.approx(lat, abs=2e-6)


DISTRICT = Polygon([(114.21, 35.71), (114.29, 35.72), (114.25, 35.79)])


def polyline(poly: Polygon) -> str:
    return ";".join(f"{x:.6f},{y:.6f}" for x, y in poly.exterior.coords)


def test_place_outline_limits_the_pois():
    world = make_pois(150, seed=13)
    types = amap.amap_types(PROFILE)
    districts = {
        "淇滨区": [
            {"adcode": "410611", "name": "淇滨区", "level": "district", "polyline": polyline(DISTRICT)}
        ],
        "鼓楼区": [
            {"adcode": "320106", "name": "鼓楼区", "polyline": ""},
            {"adcode": "350102", "name": "鼓楼区", "polyline": ""},
        ],
    }
    with FakeAmapServer(KEY, world, districts=districts) as server:
        client = client_for(server)
        area = amap.area_from_place("淇滨区", client)
        fetch = amap.fetch_pois(area, types, client)
        with pytest.raises(InputError, match="2 districts.*320106"):
            amap.area_from_place("鼓楼区", client)
        with pytest.raises(InputError, match="no such district"):
            amap.area_from_place("不存在区", client)
    assert set(fetch.table["id"]) == brute_force(world, DISTRICT, types)
    inside_box = brute_force(world, box(*DISTRICT.bounds), types)
    assert fetch.outside_area == len(inside_box) - len(fetch.table)
    assert fetch.outside_area > 0
    wgs = amap.gcj02_to_wgs84(area)
    for (x, y), (wx, wy) in zip(area.exterior.coords, wgs.exterior.coords, strict=True):
        lat, lon = gcj2wgs(y, x)
        assert (wx, wy) == pytest.approx((lon, lat), abs=2e-6)


def test_bbox_and_boundary_are_converted_to_gcj02(tmp_path):
    import geopandas as gpd

    west, south, east, north = 114.25, 35.70, 114.35, 35.78
    area = amap.area_from_bbox((west, south, east, north))
    for x, y in list(area.exterior.coords)[:5]:
        # each vertex is a WGS-84 point of the box's outline, shifted to GCJ-02
        wlat, wlon = gcj2wgs(y, x)
        on_edge = min(abs(wlon - west), abs(wlon - east), abs(wlat - south), abs(wlat - north))
        assert on_edge < 2e-6
    ring = box(west, south, east, north)
    path = tmp_path / "boundary.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[ring], crs="EPSG:4326").to_file(path)
    from_file = amap.area_from_boundary(path)
    gcj_lat, gcj_lon = wgs2gcj(south, west)
    assert shapely.distance(from_file, shapely.Point(gcj_lon, gcj_lat)) < 1e-7
    path_nocrs = tmp_path / "nocrs.csv"
    path_nocrs.write_text("a\n1\n")
    with pytest.raises(InputError):
        amap.area_from_boundary(path_nocrs)
    with pytest.raises(InputError, match="west<east"):
        amap.area_from_bbox((114.3, 35.7, 114.2, 35.8))


GEOCODES = {
    "淇滨区华山社区": {
        "location": "114.297531,35.747812",
        "level": "兴趣点",
        "formatted_address": "河南省鹤壁市淇滨区华山社区",
        "adcode": "410611",
    },
    "山城区红旗街社区": {
        "location": "114.183410,35.899421",
        "level": "村庄",
        "formatted_address": "河南省鹤壁市山城区红旗街社区",
        "adcode": "410603",
    },
}


def test_geocode_keeps_unmatched_names(tmp_path):
    names = tmp_path / "names.csv"
    pd.DataFrame(
        {"社区": ["淇滨区华山社区", "不存在的社区", "山城区红旗街社区", ""], "code": ["1", "2", "3", "4"]}
    ).to_csv(names, index=False, encoding="gbk")
    with FakeAmapServer(KEY, geocodes=GEOCODES) as server:
        table = amap.geocode_table(names, "鹤壁", client_for(server), name_col="社区")
        assert all(p.get("city") == "鹤壁" for _, p in server.requests)
        assert server.count("/v3/geocode/geo") == 3  # the empty name is not sent
    assert list(table["code"]) == ["1", "2", "3", "4"]
    assert list(table["geocode_status"]) == ["ok", "not_found", "ok", "empty"]
    assert list(table["level"].fillna("")) == ["兴趣点", "", "村庄", ""]
    for i, name in [(0, "淇滨区华山社区"), (2, "山城区红旗街社区")]:
        gcj_lon, gcj_lat = (float(v) for v in GEOCODES[name]["location"].split(","))
        lat, lon = gcj2wgs(gcj_lat, gcj_lon)
        assert table["lon"][i] == pytest.approx(lon, abs=2e-6)
        assert table["lat"][i] == pytest.approx(lat, abs=2e-6)
    assert table.loc[[1, 3], ["lon", "lat"]].isna().all().all()


def test_cli_never_writes_or_prints_the_key(tmp_path, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    names = tmp_path / "names.csv"
    pd.DataFrame({"name": ["淇滨区华山社区", "无名社区"]}).to_csv(names, index=False)
    runner = CliRunner()
    world = make_pois(130, seed=14)
    outputs = []
    with FakeAmapServer(KEY, world, cap=50, geocodes=GEOCODES) as server:
        common = [
            "--key",
            KEY,
            "--amap-url",
            server.url,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--qps",
            "1000",
        ]
        bbox = "114.20,35.70,114.30,35.80"
        result = runner.invoke(
            app, ["pois", "--bbox", bbox, "--out", str(tmp_path / "pois.csv"), "--cap", "50", *common]
        )
        outputs.append(result.output)
        assert result.exit_code == 0, result.output
        monkeypatch.setenv("AMAP_KEY", KEY)
        rerun = runner.invoke(app, ["pois", "--bbox", bbox, "--out", str(tmp_path / "again.csv"), "--cap", "50",
                                    "--amap-url", server.url, "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
        outputs.append(rerun.output)
        assert rerun.exit_code == 0 and "requests 0" in rerun.output
        result = runner.invoke(
            app, ["geocode", str(names), "--city", "鹤壁", "--out", str(tmp_path / "points.csv"), *common]
        )
        outputs.append(result.output)
        assert result.exit_code == 0, result.output
        server.fail_next.append("10003")
        result = runner.invoke(app, ["pois", "--place", "淇滨区", "--out", str(tmp_path / "x.csv"), *common])
        outputs.append(result.output)
        assert result.exit_code == 1 and "DAILY_QUERY_OVER_LIMIT" in result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 10
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
        assert KEY not in str(path)
    assert all(KEY not in text for text in outputs)
    assert all(KEY not in r.getMessage() for r in caplog.records)
    pois = pd.read_csv(tmp_path / "pois.csv", dtype=str)
    pd.testing.assert_frame_equal(pois, pd.read_csv(tmp_path / "again.csv", dtype=str))
    points = pd.read_csv(tmp_path / "points.csv")
    assert list(points["geocode_status"]) == ["ok", "not_found"]


def test_cli_needs_exactly_one_area():
    result = CliRunner().invoke(app, ["pois", "--bbox", "1,2,3,4", "--place", "x", "--key", KEY])
    assert result.exit_code == 2  # a usage error, as everywhere
    assert "exactly one" in result.output


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_cli_boundary_file_and_collect_facilities(tmp_path, suffix):
    import geopandas as gpd

    from walkcircle.sources.facilities import collect_facilities
    from walkcircle.sources.tables import TableSpec

    world = make_pois(120, seed=15)
    # the boundary in WGS-84 whose GCJ-02 image is about the middle of AREA
    west, south = gcj2wgs(35.72, 114.22)[::-1]
    east, north = gcj2wgs(35.78, 114.28)[::-1]
    boundary = tmp_path / f"boundary{suffix}"
    gpd.GeoDataFrame({"name": ["区"]}, geometry=[box(west, south, east, north)], crs="EPSG:4326").to_file(
        boundary
    )
    out = tmp_path / "pois.csv"
    with FakeAmapServer(KEY, world) as server:
        args = [
            "pois",
            "--boundary",
            str(boundary),
            "--out",
            str(out),
            "--key",
            KEY,
            "--amap-url",
            server.url,
        ]
        result = CliRunner().invoke(app, [*args, "--cache-dir", str(tmp_path / "cache"), "--qps", "1000"])
    assert result.exit_code == 0, result.output
    area = amap.area_from_boundary(boundary)
    table = pd.read_csv(out, dtype=str)
    assert set(table["id"]) == brute_force(world, area, amap.amap_types(PROFILE))
    assert 0 < len(table) < len(world)
    load = collect_facilities(PROFILE, tables=[TableSpec(path=out, crs="gcj02")])
    assert len(load.facilities) == sum(len(PROFILE.classify_typecode(t)) for t in table["typecode"])


def test_a_spot_denser_than_the_cap_is_reported_not_looped():
    spot = make_pois(60, seed=16, area=box(114.2712, 35.7712, 114.2712, 35.7712), prefix="S")  # one point
    world = spot + make_pois(40, seed=17)
    types = amap.amap_types(PROFILE)
    with FakeAmapServer(KEY, world, cap=50) as server:
        fetch = amap.fetch_pois(AREA, types, client_for(server), cap=50, min_cell_m=200.0)
    assert fetch.incomplete_cells == 1
    assert any("may miss POIs" in w for w in fetch.warnings)
    # everything but what the cap hides at that spot came through
    expected = brute_force(world, AREA, types)
    assert set(fetch.table["id"]) <= expected
    assert len(expected - set(fetch.table["id"])) == 10


def test_district_polyline_with_several_parts():
    a = box(114.20, 35.70, 114.21, 35.71)
    b = box(114.30, 35.70, 114.32, 35.72)
    outline = amap.parse_polyline(f"{polyline(a)}|{polyline(b)}")
    assert outline.geom_type == "MultiPolygon"
    assert outline.area == pytest.approx(a.area + b.area, rel=1e-9)
    with pytest.raises(DownloadError, match="empty"):
        amap.parse_polyline("")
