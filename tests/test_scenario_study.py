"""Scenarios through the Study and the command line: planned facilities, closures, compare."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from walkcircle import Study
from walkcircle.cli import app


def _planned(tmp_path, net, n=3, seed=5):
    rng = np.random.default_rng(seed)
    pick = rng.choice(net.n_nodes, n, replace=False)
    path = tmp_path / "planned.csv"
    frame = pd.DataFrame({"name": [f"规划养老{i}" for i in range(n)], "lon": net.lon[pick], "lat": net.lat[pick],
                          "category": "elderly_care"})  # fmt: skip
    frame.to_csv(path, index=False)
    return path


def test_planned_centres_raise_only_their_category_and_equal_a_full_run(tmp_path, tsinghua_osm, tsinghua_net):
    planned = _planned(tmp_path, tsinghua_net)
    study = Study(osm=tsinghua_osm, homes="h3", profile="hebi-2021")
    outcome = study.scenario(planned=planned, planned_crs="wgs84")
    summary = outcome.tables.summary
    assert summary["elderly_care"]["planned"] > summary["elderly_care"]["baseline"]
    for cid, row in summary.items():
        if cid != "elderly_care":
            assert row["planned"] == row["baseline"], cid
    full = (
        Study(osm=tsinghua_osm, homes="h3", profile="hebi-2021")
        .add_facilities(planned, crs="wgs84")
        .results()
    )
    assert summary["elderly_care"]["planned"] == pytest.approx(
        full.summary["coverage"]["elderly_care"], abs=1e-12
    )
    np.testing.assert_allclose(
        outcome.result.access.nearest_m[:, outcome.result.access.column("elderly_care")],
        full.access.nearest_m[:, full.access.column("elderly_care")],
    )


def test_run_with_planned_and_closed_writes_the_scenario(tmp_path, tsinghua_osm, tsinghua_net):
    planned = _planned(tmp_path, tsinghua_net)
    first = Study(osm=tsinghua_osm, homes="h3").facilities().facilities
    closed = tmp_path / "closed.csv"
    pd.DataFrame({"facility_id": [first["facility_id"].iloc[0], "no-such-id"]}).to_csv(closed, index=False)
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["run", "--osm", str(tsinghua_osm), "--homes", "h3", "--planned", str(planned),
                                   "--planned-crs", "wgs84", "--closed", str(closed), "--out", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (
        summary["scenario"]["elderly_care"]["facilities_planned"]
        == summary["scenario"]["elderly_care"]["facilities_baseline"] + 3
    )
    assert summary["scenario_closed_unmatched"] == 1  # listed, not dropped
    for name in ("scenario.csv", "scenario_communities.csv", "scenario_closed.csv", "scenario.gpkg"):
        assert (out / name).exists(), name
    assert "scenario" in (out / "report.html").read_text(encoding="utf-8").lower()
    closed_rows = pd.read_csv(out / "scenario_closed.csv")
    assert sorted(closed_rows["status"]) == ["matched", "unmatched"]
    # compare: the same area with the plan as ordinary facilities
    other = tmp_path / "p"
    res = CliRunner().invoke(app, ["run", "--osm", str(tsinghua_osm), "--homes", "h3", "--facilities", str(planned),
                                   "--crs", "wgs84", "--out", str(other), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["compare", str(out), str(other), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["summary"]["elderly_care"]["b"] >= data["summary"]["elderly_care"]["a"]


def test_compare_refuses_different_areas(tmp_path, tsinghua_osm, cau_osm):
    for name, osm in (("t", tsinghua_osm), ("c", cau_osm)):
        assert (
            CliRunner()
            .invoke(app, ["score", "--osm", str(osm), "--homes", "h3", "--out", str(tmp_path / name), "-q"])
            .exit_code
            == 0
        )
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "t"), str(tmp_path / "c")])
    assert res.exit_code == 1 and "different areas" in res.stderr
