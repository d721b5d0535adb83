"""Where to build next: exact and greedy maximal covering against brute force."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from walkcircle.access import compute_access
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.siting import exact_cover, greedy_cover, order_by_gain, suggest_sites
from worlds import line_network, points_at


def brute_force(coverage: np.ndarray, weight: np.ndarray, k: int) -> float:
    best = 0.0
    cols = range(coverage.shape[1])
    for size in range(1, min(k, coverage.shape[1]) + 1):
        for combo in itertools.combinations(cols, size):
            best = max(best, float(weight[coverage[:, list(combo)].any(axis=1)].sum()))
    return best


@st.composite
def instances(draw):
    rows = draw(st.integers(1, 9))
    cols = draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    coverage = rng.random((rows, cols)) < draw(st.floats(0.1, 0.6))
    weight = rng.integers(0, 10, rows).astype(float)
    return coverage, weight, draw(st.integers(1, 4))


@settings(max_examples=200, deadline=None)
@given(case=instances())
def test_exact_equals_brute_force_and_greedy_is_bounded(case):
    coverage, weight, k = case
    opt = brute_force(coverage, weight, k)
    csr = sparse.csr_matrix(coverage.astype(float))
    chosen = exact_cover(csr, weight, k)
    assert len(chosen) <= k
    assert weight[coverage[:, chosen].any(axis=1)].sum() == pytest.approx(opt)
    picks, gains = greedy_cover(csr, weight, k)
    got = weight[coverage[:, picks].any(axis=1)].sum() if picks else 0.0
    assert got == pytest.approx(sum(gains))
    assert got >= (1 - 1 / np.e) * opt - 1e-9
    assert all(g1 >= g2 - 1e-9 for g1, g2 in itertools.pairwise(gains))
    if k == 1:
        assert got == pytest.approx(opt)
    ordered, ordered_gains = order_by_gain(csr, weight, chosen)
    assert sorted(ordered) == sorted(chosen)
    assert sum(ordered_gains) == pytest.approx(opt)


@pytest.fixture
def ten_node():
    net = line_network(10, 100.0)
    homes = points_at(
        [50, 350, 850, 450],
        [10, 10, 10, 400],
        community=["A", "A", "B", "B"],
        population=[100.0, 300.0, 200.0, 50.0],
    )
    fac = points_at([100, 700], [20, 0], category=["shop", "clinic"], feature_id=["f1", "f2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        access = compute_access(
            net, homes, fac, ["shop", "clinic"], thresholds_m={"shop": 300, "clinic": 200}
        )
    snap = net.snap(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    return net, homes, snap, access


@pytest.mark.parametrize("method", ["exact", "greedy", "auto"])
def test_one_clinic_goes_where_it_covers_both_uncovered_homes(ten_node, method):
    net, homes, snap, access = ten_node
    # homes at 50 m and 350 m lack a clinic within 200 m; only node 2 (200 m) reaches both
    result = suggest_sites(net, homes, snap, access.nearest_m[:, 1], "clinic", 200.0, 1, method=method)
    assert result.sites["candidate"].tolist() == ["node 3"]  # OSM-style ids are 1-based here
    assert result.sites["gain_population"].tolist() == [400.0]
    assert result.sites["gain_homes"].tolist() == [2]
    assert result.coverage_before == pytest.approx(200 / 650)
    assert result.coverage_after == pytest.approx(600 / 650)
    assert result.sites["coverage_after"].iloc[-1] == pytest.approx(result.coverage_after)
    assert result.method == ("greedy" if method == "greedy" else "exact")
    assert result.summary()["residents_added"] == 400


def test_candidate_file_and_more_sites_than_needed(ten_node):
    net, homes, snap, access = ten_node
    cand = points_at([0, 300, 520], [5, 5, 250], name=["west", "middle", "far"])
    with pytest.warns(WalkcircleWarning, match="1 candidate sites are more than 200 m"):
        result = suggest_sites(
            net, homes, snap, access.nearest_m[:, 1], "clinic", 200.0, 3, candidates=cand, snap_cap_m=200
        )
    # "middle" (300 m, 5 m off) covers the home at 350 m: 50 + 10 + 5 = 65 m; "west" the one at 50 m
    assert result.sites["candidate"].tolist() == ["middle", "west"]
    assert result.sites["gain_population"].tolist() == [300.0, 100.0]
    assert result.coverage_after == pytest.approx(600 / 650)


def test_bad_requests(ten_node):
    net, homes, snap, access = ten_node
    with pytest.raises(InputError, match="--count must be >= 1"):
        suggest_sites(net, homes, snap, access.nearest_m[:, 1], "clinic", 200.0, 0)
    with pytest.raises(InputError, match="unknown method"):
        suggest_sites(net, homes, snap, access.nearest_m[:, 1], "clinic", 200.0, 1, method="annealing")
    with pytest.raises(InputError, match="no candidate site lies within"):
        suggest_sites(
            net,
            homes,
            snap,
            access.nearest_m[:, 1],
            "clinic",
            200.0,
            1,
            candidates=points_at([100], [900], name=["x"]),
        )
    with pytest.raises(InputError, match="candidates file has no rows"):
        suggest_sites(
            net, homes, snap, access.nearest_m[:, 1], "clinic", 200.0, 1, candidates=points_at([], [])
        )


def test_everyone_covered_gives_no_site(ten_node):
    net, homes, snap, _ = ten_node
    result = suggest_sites(net, homes, snap, np.zeros(len(homes)), "clinic", 200.0, 2)
    assert len(result.sites) == 0 and result.coverage_after == result.coverage_before


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_cli_score_and_suggest(tmp_path, cau_osm):
    res = _cli(
        "score", "--osm", str(cau_osm), "--profile", "hebi-2021", "--out", str(tmp_path / "s"), "--json"
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    for key in (
        "network",
        "facilities",
        "homes",
        "population",
        "coverage",
        "score_mean",
        "profile",
        "speed_kmh",
    ):
        assert key in summary
    assert 0 <= summary["score_mean"] <= 100
    # the CAU extract (Beijing) lies outside Hebi's programme: its claims flag no data gap
    assert summary["data_gaps"] == []
    homes = pd.read_csv(tmp_path / "s" / "homes.csv", encoding="utf-8-sig")
    assert len(homes) == summary["homes"]
    ledger = pd.read_csv(tmp_path / "s" / "ledger.csv", encoding="utf-8-sig")
    assert ledger["claimed"].notna().all()
    res = _cli(
        "suggest", "--osm", str(cau_osm), "--category", "elderly_care", "--count", "2", "--out", str(tmp_path / "g"),
        "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert (
        data["category"] == "elderly_care"
        and data["sites"]
        and data["coverage_after"] > data["coverage_before"]
    )
    assert (tmp_path / "g" / "suggestions.gpkg").exists()
    res = _cli("suggest", "--osm", str(cau_osm), "--category", "unicorns")
    assert (
        res.returncode == 2 and "no category 'unicorns'" in res.stderr
    )  # a bad flag value: usage (issue 11)
