"""Comparing two finished studies: same area side by side; different areas refused."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from walkcircle.compare import compare_studies
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.outputs.export import export_results
from walkcircle.study import Study


def _study(osm, folder, facilities=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        study = Study(osm=osm, homes="h3", profile="hebi-2021", name=folder.name)
        if facilities is not None:
            study.add_facilities(facilities, crs="wgs84")
        export_results(study.run(), folder)
    return folder


@pytest.fixture(scope="module")
def two_studies(tsinghua_osm, tsinghua_net, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    # b adds three elderly-care centres and three clinics, at streets across the campus
    rng = np.random.default_rng(3)
    nodes = rng.choice(tsinghua_net.n_nodes, 6, replace=False)
    table = root / "added.csv"
    pd.DataFrame(
        {
            "name": [f"new {i}" for i in range(6)],
            "category": ["elderly_care"] * 3 + ["community_health"] * 3,
            "lon": tsinghua_net.lon[nodes],
            "lat": tsinghua_net.lat[nodes],
        }
    ).to_csv(table, index=False)
    return _study(tsinghua_osm, root / "a"), _study(tsinghua_osm, root / "b", table)


@pytest.mark.slow
def test_compare_two_studies_of_the_same_area(two_studies):
    dir_a, dir_b = two_studies
    comparison = compare_studies(dir_a, dir_b)
    t = comparison.tables
    import json

    sum_a = json.loads((dir_a / "summary.json").read_text(encoding="utf-8"))
    sum_b = json.loads((dir_b / "summary.json").read_text(encoding="utf-8"))
    cats = t.categories.set_index("category")
    assert set(cats.index) == set(sum_a["coverage"]) == set(sum_b["coverage"])
    for cid, row in cats.iterrows():
        assert row["coverage_a"] == pytest.approx(sum_a["coverage"][cid])
        assert row["coverage_b"] == pytest.approx(sum_b["coverage"][cid])
        assert row["facilities_a"] == sum_a["facilities"][cid]
        assert row["facilities_b"] == sum_b["facilities"][cid]
        assert t.summary[cid]["a"] == pytest.approx(sum_a["coverage"][cid])
    assert cats.loc["elderly_care", "facilities_b"] == cats.loc["elderly_care", "facilities_a"] + 3
    assert cats.loc["elderly_care", "coverage_b"] > cats.loc["elderly_care", "coverage_a"]
    assert (cats["homes_newly_uncovered"] == 0).all()  # only additions
    # the changed homes, independently from the two homes tables
    ha = pd.read_parquet(dir_a / "homes.parquet").set_index("home_id")
    hb = pd.read_parquet(dir_b / "homes.parquet").set_index("home_id").loc[ha.index]
    expected = set()
    for cid in cats.index:
        gained = ha.index[~ha[f"reached_{cid}"].to_numpy() & hb[f"reached_{cid}"].to_numpy()]
        expected |= {(h, cid) for h in gained}
    got = set(zip(t.changes["home_id"], t.changes["category"], strict=True))
    assert got == expected and len(got) > 0
    assert (t.changes["change"] == "newly_covered").all()
    assert set(t.changes["category"]) <= {"elderly_care", "community_health"}
    assert t.changes.crs.to_epsg() == 4326
    # reversed: the same homes, newly uncovered
    back = compare_studies(dir_b, dir_a).tables
    assert (back.changes["change"] == "newly_uncovered").all() and len(back.changes) == len(got)
    assert comparison.only_a == comparison.only_b == []


@pytest.mark.slow
def test_compare_refuses_different_areas(two_studies, cau_osm, tmp_path):
    other = _study(cau_osm, tmp_path / "cau")
    with pytest.raises(InputError, match="are studies of different areas"):
        compare_studies(two_studies[0], other)


def test_compare_refuses_a_folder_that_is_not_a_study(tmp_path):
    with pytest.raises(InputError, match="not a finished study"):
        compare_studies(tmp_path, tmp_path)
