"""The Study pipeline on real fixtures, with communities files."""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from walkcircle import Study
from walkcircle.errors import InputError


def _community_points(path, net):
    rng = np.random.default_rng(4)
    pick = rng.choice(net.n_nodes, 5, replace=False)
    frame = pd.DataFrame(
        {
            "name": ["东区", "西区", "东区", "南区", "北区"],  # one duplicate name
            "lon": net.lon[pick],
            "lat": net.lat[pick],
            "population": [1000, 2000, 1500, None, 800],
            "district": ["海淀", "海淀", "海淀", "朝阳", "朝阳"],
        }
    )
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


def test_study_with_community_points(tmp_path, cau_osm, cau_net):
    path = _community_points(tmp_path / "communities.csv", cau_net)
    study = Study(osm=cau_osm, communities=path, profile="hebi-2021")
    results = study.run()
    names = set(results.communities["community"])
    assert names == {"东区", "东区 (2)", "西区", "南区", "北区"}
    assert any("duplicate community names" in w for w in study.warnings)
    assert any("no population" in w for w in study.warnings)
    # known populations are shared among the homes assigned to each point
    for name, pop in (("西区", 2000), ("北区", 800)):
        assert results.homes.loc[results.homes["community"] == name, "population"].sum() == pytest.approx(pop)
    assert set(results.districts["district"]) >= {"海淀", "朝阳"}
    summary = results.summary
    assert summary["homes"] == len(results.homes)
    assert summary["programme"]["communities"] == 5
    assert summary["programme"]["claimed"] == 55
    assert set(summary["coverage"]) == set(study.profile.category_ids)
    assert results.community_by_category.shape == (5, len(study.profile.category_ids))


def test_study_with_polygons_keeps_empty_ones(tmp_path, cau_osm, cau_net):
    w, s, e, n = cau_net.bounds_lonlat()
    mid_x, mid_y = (w + e) / 2, (s + n) / 2
    polys = gpd.GeoDataFrame(
        {"name": ["全区", "空地"], "population": [5000, 300]},
        geometry=[shapely.box(w, s, mid_x, mid_y), shapely.box(e + 0.001, n + 0.001, e + 0.002, n + 0.002)],
        crs="EPSG:4326",
    )
    polys.to_file(tmp_path / "c.gpkg", driver="GPKG")
    study = Study(osm=cau_osm, communities=tmp_path / "c.gpkg")
    results = study.run()
    assert set(results.communities["community"]) == {"全区", "空地"}
    assert any("contain no mapped home" in w for w in study.warnings)
    empty = results.communities.set_index("community").loc["空地"]
    assert empty["population"] == pytest.approx(300)
    assert results.homes.loc[results.homes["community"] == "全区", "population"].sum() == pytest.approx(5000)


def test_study_settings_are_checked(tmp_path, cau_osm, cau_net):
    with pytest.raises(InputError, match="unknown study setting"):
        Study(osm=cau_osm, colour="red")
    with pytest.raises(InputError, match="homes must be one of"):
        Study(osm=cau_osm, homes="census")
    mixed = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[
            shapely.Point(cau_net.lon[0], cau_net.lat[0]),
            shapely.Point(cau_net.lon[1], cau_net.lat[1]).buffer(0.001),
        ],
        crs="EPSG:4326",
    )
    mixed.to_file(tmp_path / "mixed.gpkg", driver="GPKG")
    with pytest.raises(InputError, match="mixes points and polygons"):
        Study(osm=cau_osm, communities=tmp_path / "mixed.gpkg").homes()
    with pytest.raises(InputError, match="only one network source"):
        Study(osm=cau_osm, demo=True).network()


def test_study_h3_homes_and_elderly_speed(cau_osm):
    fast = Study(osm=cau_osm, homes="h3").run()
    slow = Study(osm=cau_osm, homes="h3", speed_kmh=3.6).run()
    assert (fast.homes["source"].str.startswith("h3")).all()
    # minute thresholds (convenience store, 5 min) shrink at the slower speed
    assert slow.summary["coverage"]["convenience_store"] <= fast.summary["coverage"]["convenience_store"]
    assert slow.summary["speed_kmh"] == 3.6


def test_early_service_areas_are_drawn_while_the_homes_are_placed(cau_osm):
    """`early_service_areas`: the drawing starts before the homes; the areas equal `service_areas`'."""
    from walkcircle import _kernels
    from walkcircle.service_areas import service_areas
    from walkcircle.settings import build_settings

    _kernels.compile_kernels()  # a warm run (on a first run the drawing waits, see below)
    study = Study(build_settings({"osm": str(cau_osm), "homes": "h3"}))
    seen: list[tuple[str, bool]] = []
    study.progress = lambda message: seen.append((message, "service_area_drawing" in study._cache))
    with study.early_service_areas():
        study.read_inputs()
        assert ("placing homes", True) in seen  # started before the homes were placed
        areas = study.service_areas()
    assert "service_area_drawing" not in study._cache  # finished, its child gone
    r, s = study.results(), study.settings
    alone = service_areas(
        r.network, r.facilities, dict(zip(r.access.categories, r.access.threshold_m, strict=True)), r.access,
        r.homes, half_width_m=s.outputs.half_width_m, cell_m=s.outputs.service_area_cell_m,
        snap_cap_m=s.routing.snap_cap_m,
    )  # fmt: skip
    pd.testing.assert_frame_equal(areas.drop(columns="geometry"), alone.drop(columns="geometry"))
    assert list(shapely.to_wkb(areas.geometry.to_numpy())) == list(shapely.to_wkb(alone.geometry.to_numpy()))

    other = Study(build_settings({"osm": str(cau_osm), "homes": "h3"}))
    with other.early_service_areas():
        other.read_inputs()
        assert "service_area_drawing" in other._cache
    assert "service_area_drawing" not in other._cache  # left without the areas: stopped and dropped
    with other.early_service_areas():  # inputs already read: the drawing starts at once
        assert "service_area_drawing" in other._cache
        other.update(speed_kmh=4.0)  # a setting it reads: stopped and forgotten
        assert "service_area_drawing" not in other._cache


def test_early_service_areas_wait_while_the_kernels_are_compiled(cau_osm, monkeypatch):
    """On a first run (kernels missing from the cache) no third process compiles: the drawing waits."""
    from walkcircle import _precompile
    from walkcircle.settings import build_settings

    study = Study(build_settings({"osm": str(cau_osm), "homes": "h3"}))
    monkeypatch.setattr(_precompile, "missing_kernels", lambda: ["walkcircle._kernels._nearest_into"])
    with study.early_service_areas():
        study.read_inputs()
        assert "service_area_drawing" not in study._cache  # not started early
        areas = study.service_areas()  # drawn when asked, as before
    assert len(areas) == len(study.results().access.categories)
    assert areas["area_m2"].gt(0).any()


def test_add_facilities_recomputes_what_depends_on_them(tmp_path, cau_osm, cau_net):
    from walkcircle.settings import build_settings
    from walkcircle.study import STEPS, steps_to_forget

    settings = build_settings({"osm": str(cau_osm), "homes": "h3", "osm_facilities": False})
    before = dataclasses_snapshot(settings)
    study = Study(settings)
    first = study.results()
    net, homes = study.network(), study.homes()
    assert first.summary["facilities"]["elderly_care"] == 0
    rng = np.random.default_rng(7)
    pick = rng.choice(cau_net.n_nodes, 3, replace=False)
    table = tmp_path / "care.csv"
    pd.DataFrame({"lon": cau_net.lon[pick], "lat": cau_net.lat[pick], "category": "elderly_care"}).to_csv(
        table, index=False
    )
    study.add_facilities(table, crs="wgs84")
    again = study.results()
    assert again is not first and again.summary["facilities"]["elderly_care"] == 3
    assert again.summary["coverage"]["elderly_care"] > 0
    assert study.network() is net and study.homes() is homes  # not recomputed
    assert (
        dataclasses_snapshot(settings) == before and settings.facilities.tables == ()
    )  # caller's settings unchanged
    # the dependency table: what each change forgets
    after_results = {"results", "service_areas", "scenario"}
    drawing = {"service_area_drawing"}  # the polygons: from the network, facilities, thresholds
    assert steps_to_forget({"facilities.tables"}) == {"facilities", "access"} | after_results | drawing
    assert steps_to_forget({"routing.speed_kmh"}) == {"access"} | after_results | drawing
    assert steps_to_forget({"routing.tiers_min"}) == {"access"} | after_results
    assert steps_to_forget({"sources.osm"}) == set(STEPS) - {"profile"}
    assert (
        steps_to_forget({"scoring.profile"})
        == {"profile", "osm_facilities", "facilities", "access"} | after_results | drawing
    )
    assert (
        steps_to_forget({"facilities.osm"})
        == {"osm_facilities", "facilities", "access"} | after_results | drawing
    )
    assert "osm_homes" in steps_to_forget({"homes.grid_m"}) and "osm_homes" not in steps_to_forget(
        {"homes.population"}
    )
    assert steps_to_forget({"lang"}) == after_results
    assert steps_to_forget({"outputs.service_area_cell_m"}) == {"service_area_drawing", "service_areas"}
    assert (
        steps_to_forget({"homes.population"})
        == {"homes", "population", "home_snap", "access"} | after_results
    )
    # map and report follow the new results
    assert "elderly" in str(study.report()).lower() or "养老" in str(study.report())
    slow = study.update(speed_kmh=3.6).results()
    assert slow.summary["speed_kmh"] == 3.6 and study.network() is net


def dataclasses_snapshot(settings):
    import dataclasses

    return dataclasses.asdict(settings)


def test_inputs_read_beside_the_network_equal_those_read_one_after_another(tmp_path, cau_osm, monkeypatch):
    import os
    import warnings

    from walkcircle import study as study_module
    from walkcircle.errors import WalkcircleWarning

    real = study_module.homes_from_osm
    readers = tmp_path / "readers.txt"

    def homes_from_osm(*args, **kwargs):  # the real read, noting which process ran it, with a warning
        with readers.open("a") as out:
            out.write(f"{os.getpid()}\n")
        warnings.warn("a warning raised while the buildings were read", WalkcircleWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(study_module, "homes_from_osm", homes_from_osm)
    one_by_one = Study(osm=cau_osm)
    one_by_one.network(), one_by_one.facilities(), one_by_one.homes()
    beside = Study(osm=cau_osm)
    beside.read_inputs()
    pids = readers.read_text().split()
    assert pids[0] == str(os.getpid()) and pids[1] != str(os.getpid())  # the second read ran in a child
    pd.testing.assert_frame_equal(
        pd.DataFrame(beside.facilities().facilities), pd.DataFrame(one_by_one.facilities().facilities)
    )
    pd.testing.assert_frame_equal(pd.DataFrame(beside.homes().homes), pd.DataFrame(one_by_one.homes().homes))
    assert [r.as_dict() for r in beside.facilities().reports] == [
        r.as_dict() for r in one_by_one.facilities().reports
    ]
    # the child's warning is the homes step's, once, as when read here
    assert beside.warnings == one_by_one.warnings
    assert beside.warnings.count("a warning raised while the buildings were read") == 1
    assert "a warning raised while the buildings were read" in beside._warnings["homes"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="reads share a list only with a forked child")
def test_the_reads_beside_the_network_are_shared_out(tmp_path, cau_osm, monkeypatch):
    """The child starts with the buildings; this process reads what is left once the streets are in."""
    import time

    from walkcircle import study as study_module

    log = tmp_path / "reads.txt"

    def noted(name, real, pause_s=0.0):
        def read(*args, **kwargs):
            time.sleep(pause_s)
            with log.open("a") as out:
                out.write(f"{name} {os.getpid()}\n")
            return real(*args, **kwargs)

        return read

    monkeypatch.setattr(study_module, "homes_from_osm", noted("homes", study_module.homes_from_osm, 3.0))
    monkeypatch.setattr(
        study_module, "facilities_from_osm_file", noted("facilities", study_module.facilities_from_osm_file)
    )
    study = Study(osm=cau_osm)
    study.read_inputs()
    readers = dict(line.split() for line in log.read_text().splitlines())
    assert sorted(readers) == ["facilities", "homes"]  # each read once
    assert readers["homes"] != str(os.getpid())  # the child, first
    assert readers["facilities"] == str(os.getpid())  # here, while the child still read the buildings
    assert len(study.homes().homes) and len(study.facilities().facilities)


def test_a_read_that_fails_beside_the_network_fails_in_its_own_step(tmp_path, cau_osm, monkeypatch):
    from walkcircle import study as study_module

    def homes_from_osm(*args, **kwargs):
        raise InputError("buildings.pbf: broken")

    monkeypatch.setattr(study_module, "homes_from_osm", homes_from_osm)
    study = Study(osm=cau_osm)
    with pytest.raises(InputError, match="buildings.pbf: broken"):
        study.read_inputs()
    assert len(study.facilities().facilities)  # the other read and the network were kept
    monkeypatch.setattr(
        study_module, "homes_from_osm", lambda *a, **k: (_ for _ in ()).throw(InputError("again"))
    )
    with pytest.raises(InputError, match="again"):  # a failure is not kept: the next call reads again
        study.homes()
