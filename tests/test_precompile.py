"""The first run's helper process compiles exactly the kernels, with the signatures, a study uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

STUDY = r"""
import json, sys, warnings
import numpy as np
import pandas as pd
from walkcircle import _precompile, paths
from walkcircle.access import compute_access
from walkcircle.isochrones import isochrones
from walkcircle.network import WalkNetwork

started = _precompile.start() if sys.argv[2] == "start" else False
net = WalkNetwork.load(sys.argv[1])
rng = np.random.default_rng(0)
w, s, e, n = net.bounds_lonlat()
homes = pd.DataFrame({"lon": rng.uniform(w, e, 300), "lat": rng.uniform(s, n, 300)})
fac = pd.DataFrame({"lon": rng.uniform(w, e, 40), "lat": rng.uniform(s, n, 40),
                    "category": rng.choice(["a", "b", "c"], 40)})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = compute_access(net, homes, fac, k=2)
    iso = isochrones(net, homes.lon[:2], homes.lat[:2])
reach = paths.reach_within(net.graph, np.arange(5), 200.0)
stats = {}
from walkcircle import _kernels
for name in _kernels.STUDY_KERNELS:
    kernel = getattr(_kernels, name)
    stats[name] = {"hits": sum(kernel.stats.cache_hits.values()),
                   "misses": sum(kernel.stats.cache_misses.values())}
print(json.dumps({"started": started, "stats": stats, "missing": _precompile.missing_kernels(),
                  "helpers_left": len(_precompile._HELPER),
                  "nearest_m": np.where(np.isfinite(res.nearest_m), res.nearest_m, -1).round(6).tolist(),
                  "iso_m2": iso.area_m2.round(3).tolist(), "reach": int(reach[1].size)}))
"""


@pytest.fixture(scope="module")
def network_file(tmp_path_factory, cau_osm):
    from walkcircle.sources.osm import read_osm

    return read_osm(cau_osm).save(tmp_path_factory.mktemp("net") / "net.npz")


def _python(args: list[str], cache_dir, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _study(network_file, cache_dir, mode: str) -> dict:
    done = _python(["-c", STUDY, str(network_file), mode], cache_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_helper_compiles_the_signatures_a_study_looks_up(tmp_path, network_file):
    cache = tmp_path / "numba"
    done = _python(
        [
            "-c",
            "from walkcircle import _precompile; import json; print(json.dumps(_precompile.missing_kernels()))",
        ],
        cache,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 5  # an empty cache misses every kernel
    done = _python(["-m", "walkcircle._kernels"], cache)
    assert done.returncode == 0, done.stderr
    out = _study(network_file, cache, "no-start")
    assert out["missing"] == []
    for name, counts in out["stats"].items():  # every kernel loaded from the cache, none compiled
        assert counts["misses"] == 0 and counts["hits"] >= 1, (name, counts)


@pytest.mark.slow
def test_a_cold_study_with_the_helper_equals_one_without(tmp_path, network_file):
    with_helper = _study(network_file, tmp_path / "a", "start")
    without = _study(network_file, tmp_path / "b", "no-start")
    assert with_helper["started"] is True and with_helper["helpers_left"] == 0
    assert with_helper["missing"] == [] and without["missing"] == []
    for key in ("nearest_m", "iso_m2", "reach"):
        assert with_helper[key] == without[key]
    warm = _study(network_file, tmp_path / "a", "start")  # everything cached: no helper
    assert warm["started"] is False
    assert all(c["misses"] == 0 for c in warm["stats"].values())


SCENARIO = r"""
import json, sys, warnings
import geopandas as gpd
import numpy as np
import pandas as pd
from walkcircle import _kernels
from walkcircle.access import compute_access
from walkcircle.network import WalkNetwork
from walkcircle.scenario import run_scenario

net = WalkNetwork.load(sys.argv[1])
rng = np.random.default_rng(1)
w, s, e, n = net.bounds_lonlat()

def table(size, prefix):
    frame = pd.DataFrame({"lon": rng.uniform(w, e, size), "lat": rng.uniform(s, n, size),
                          "category": rng.choice(["a", "b"], size)})
    frame["feature_id"] = [f"{prefix}{i}" for i in range(size)]
    frame["facility_id"] = frame["feature_id"] + "#" + frame["category"]
    frame["name"], frame["source"] = frame["feature_id"], prefix
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs="EPSG:4326")

homes = pd.DataFrame({"lon": rng.uniform(w, e, 200), "lat": rng.uniform(s, n, 200)})
fac = table(20, "f")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    base = compute_access(net, homes, fac, thresholds_m={"a": 300.0, "b": 500.0}, k=2, keep_state=True)
    result = run_scenario(net, base, fac, table(3, "p"), closed_rows=[0, 1])
stats = {name: getattr(_kernels, name).stats for name in _kernels.SCENARIO_KERNELS}
print(json.dumps({name: {"hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values())}
                  for name, s in stats.items()}))
"""


@pytest.mark.slow
def test_the_build_compiles_the_signatures_a_scenario_looks_up(tmp_path, network_file):
    cache = tmp_path / "numba"
    done = _python(
        ["-c", "from walkcircle import _kernels; _kernels.compile_kernels()"], cache
    )  # as the build
    assert done.returncode == 0, done.stderr
    done = _python(["-c", SCENARIO, str(network_file)], cache)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    for name, counts in stats.items():  # every scenario kernel loaded from the cache, none compiled
        assert counts["misses"] == 0 and counts["hits"] >= 1, (name, counts)


def test_an_index_from_another_numba_counts_as_missing(tmp_path, monkeypatch):
    """numba ignores an index another numba version wrote, so the helper must compile that kernel."""
    import pickle

    import numba

    from walkcircle import _kernels, _precompile

    def index(name: str, version: str | None) -> None:
        if version is not None:
            with (tmp_path / f"{name}.nbi").open("wb") as file:
                pickle.dump(version, file)
                pickle.dump(("stamp", {}), file)

    names = list(_kernels.STUDY_KERNELS)
    index(names[0], numba.__version__)
    index(names[1], "0.1.0")  # an older numba's
    (tmp_path / f"{names[2]}.nbi").write_bytes(b"not a pickle")
    # names[3:] have no index at all
    monkeypatch.setattr(_precompile, "_index_path", lambda name: tmp_path / f"{name}.nbi")
    assert _precompile.missing_kernels() == [f"walkcircle._kernels.{n}" for n in names[1:]]
