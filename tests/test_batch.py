"""Batches on a real Dask LocalCluster: broken areas, resuming, and a worker killed mid-task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import geopandas as gpd
import pandas as pd
import pytest

from walkcircle.batch import AreaSpec, read_areas, run_batch, safe_name
from walkcircle.errors import InputError


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def _areas_file(tmp_path, tsinghua_osm, cau_osm, helsinki_pbf, cau_net):
    import numpy as np

    rng = np.random.default_rng(0)
    pick = rng.choice(cau_net.n_nodes, 4, replace=False)
    pd.DataFrame(
        {
            "name": ["甲", "乙", "丙", "丁"],
            "lon": cau_net.lon[pick],
            "lat": cau_net.lat[pick],
            "population": 500,
        }
    ).to_csv(tmp_path / "cau_communities.csv", index=False)
    text = f"""
[defaults]
profile = "hebi-2021"

[[area]]
name = "tsinghua"
osm = "{tsinghua_osm}"

[[area]]
name = "cau"
osm = "{cau_osm}"
communities = "cau_communities.csv"

[[area]]
name = "helsinki"
osm = "{helsinki_pbf}"
homes = "h3"
profile = "mofcom-2021"

[[area]]
name = "broken"
osm = "missing-extract.osm.pbf"
"""
    path = tmp_path / "areas.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_batch_on_a_local_cluster(tmp_path, cluster_client, tsinghua_osm, cau_osm, helsinki_pbf, cau_net):
    areas = read_areas(_areas_file(tmp_path, tsinghua_osm, cau_osm, helsinki_pbf, cau_net))
    out = tmp_path / "out"
    seen = []
    result = run_batch(
        areas, out, client=cluster_client, progress=lambda d, t, a, s: seen.append((d, t, a, s))
    )
    table = result.areas.set_index("area")
    assert table.loc[["tsinghua", "cau", "helsinki"], "status"].tolist() == ["ok", "ok", "ok"]
    assert table.loc["broken", "status"] == "failed"
    assert "missing-extract.osm.pbf: file not found" in table.loc["broken", "error"]
    assert len(seen) == 4 and seen[-1][:2] == (4, 4)
    for name in ("tsinghua", "cau", "helsinki"):
        for file in ("summary.json", "study.gpkg", "map.html", "report.html", "homes.parquet"):
            assert (out / name / file).exists(), (name, file)
    assert not (out / "broken").exists()
    assert table.loc["helsinki", "profile"] == "mofcom-2021"
    assert table.loc["tsinghua", "network_nodes"] == 875
    assert 0 <= table.loc["cau", "coverage_bus_stop"] <= 1
    csv = pd.read_csv(out / "areas.csv", encoding="utf-8-sig")
    assert list(csv["area"]) == ["tsinghua", "cau", "helsinki", "broken"]
    communities = gpd.read_parquet(out / "communities")
    assert set(communities["area"].astype(str)) == {"cau"}
    assert sorted(communities["community"]) == ["丁", "丙", "乙", "甲"]
    assert communities.crs.to_epsg() == 4326

    # a rerun does no work: done areas are skipped and the broken one is not retried
    stamps = {n: (out / n / "summary.json").stat().st_mtime_ns for n in ("tsinghua", "cau", "helsinki")}
    dashboards = []
    again = run_batch(areas, out, on_dashboard=dashboards.append)  # no client given: would start a cluster
    assert dashboards == [None]  # ...but none was needed
    assert again.areas.set_index("area")["status"].to_dict() == {
        "tsinghua": "skipped", "cau": "skipped", "helsinki": "skipped", "broken": "failed earlier",
    }  # fmt: skip
    assert stamps == {n: (out / n / "summary.json").stat().st_mtime_ns for n in stamps}

    # --force recomputes; a fixed area definition is tried again without --retry-failed
    fixed = [a if a.name != "broken" else AreaSpec("broken", {**a.settings, "osm": cau_osm}) for a in areas]
    forced = run_batch(fixed[:1] + fixed[3:], out, client=cluster_client, force=True)
    assert forced.areas.set_index("area")["status"].to_dict() == {"tsinghua": "ok", "broken": "ok"}
    assert (out / "tsinghua" / "summary.json").stat().st_mtime_ns > stamps["tsinghua"]


def test_a_killed_worker_is_retried(tmp_path, cluster_client, tsinghua_osm, cau_osm, helsinki_pbf):
    sources = [tsinghua_osm, cau_osm, helsinki_pbf]
    areas = [
        AreaSpec(f"area{i}", {"name": f"area{i}", "osm": sources[i % 3], "homes": "h3"}) for i in range(6)
    ]
    out = tmp_path / "out"
    box = {}
    worker_pids = set(cluster_client.run(os.getpid).values())
    thread = threading.Thread(
        target=lambda: box.setdefault("result", run_batch(areas, out, client=cluster_client))
    )
    thread.start()
    killed = None
    deadline = time.time() + 120
    while killed is None and time.time() < deadline and thread.is_alive():
        for partial in out.glob(".area*.partial-*") if out.exists() else []:
            pid = int(partial.name.rsplit("-", 1)[-1])
            if pid in worker_pids:
                os.kill(pid, signal.SIGKILL)  # the worker dies in the middle of this area
                killed = (partial.name, pid)
                break
        time.sleep(0.02)
    thread.join(timeout=600)
    assert killed is not None, "no task was caught running"
    table = box["result"].areas
    assert (table["status"] == "ok").all(), table[["area", "status", "error"]]
    for spec in areas:
        assert (out / spec.name / "summary.json").exists()
    assert not list(out.glob(".*partial*"))  # the dead worker's partial folder was cleared
    assert killed[1] not in set(cluster_client.run(os.getpid).values())


def test_areas_files(tmp_path, cau_osm):
    csv = tmp_path / "areas.csv"
    csv.write_text(
        f'name,osm,bbox,profile\nA b/c,{cau_osm},,gb50180-2018\nother,,"116.3,39.9,116.4,40.0",\n',
        encoding="utf-8",
    )
    areas = read_areas(csv)
    assert [a.name for a in areas] == ["A_b_c", "other"]
    assert areas[0].settings["profile"] == "gb50180-2018" and areas[1].settings["bbox"] == (
        116.3,
        39.9,
        116.4,
        40.0,
    )
    assert areas[0].fingerprint() != areas[1].fingerprint()
    bad = tmp_path / "bad.toml"
    for text, message in (
        ('[[area]]\nname = "x"\nosm = "a.osm"\ncolour = "red"\n', "unknown key"),
        ('[[area]]\nname = "x"\n', "exactly one of osm, place or bbox"),
        ('[[area]]\nname = "x"\nosm = "a"\n[[area]]\nname = "x"\nosm = "b"\n', "must be unique"),
        ('[[area]]\nname = "x"\nosm = "a"\nfacilities = "t.csv"\n', "declare the facility tables"),
        ("[areas]\n", "unknown section"),
        ("[[area]\n", "not valid TOML"),
    ):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=message):
            read_areas(bad)
    with pytest.raises(InputError, match="not found"):
        read_areas(tmp_path / "none.toml")
    with pytest.raises(InputError, match="empty"):
        safe_name(" / ")


def _batch_command(areas, out) -> list[str]:
    """`walkcircle batch AREAS --out OUT` on one worker."""
    return [sys.executable, "-m", "walkcircle.cli", "batch", str(areas), "--out", str(out), "--workers", "1"]


def test_cli_batch(tmp_path, cau_osm):
    areas = tmp_path / "areas.toml"
    areas.write_text(
        f'[[area]]\nname = "cau"\nosm = "{cau_osm}"\n[[area]]\nname = "bad"\nosm = "nope.osm"\n',
        encoding="utf-8",
    )
    args = _batch_command(areas, tmp_path / "o")
    res = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 1, res.stderr  # one area failed
    data = json.loads(res.stdout)
    assert data["counts"] == {"ok": 1, "failed": 1}
    res = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 1 and "failed earlier" in res.stdout
    res = subprocess.run(
        [*args[:4], str(tmp_path / "missing.toml")], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2 and "areas file not found" in res.stderr
    res = subprocess.run(
        [*args, "--scheduler", "tcp://127.0.0.1:9", "--force"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 1 and "cannot connect to the Dask scheduler" in res.stderr


def test_retry_failed_and_changed_settings(tmp_path, cluster_client, cau_osm):
    """--retry-failed tries a fixed area again; a changed profile recomputes a done area."""
    import shutil

    out = tmp_path / "out"
    missing = tmp_path / "later.osm.bz2"
    areas = [AreaSpec("fixed", {"name": "fixed", "osm": missing, "homes": "h3"}),
             AreaSpec("done", {"name": "done", "osm": cau_osm, "homes": "h3"})]  # fmt: skip
    first = run_batch(areas, out, client=cluster_client).areas.set_index("area")["status"].to_dict()
    assert first == {"fixed": "failed", "done": "ok"}
    shutil.copy(cau_osm, missing)  # the user fixes the input, same settings
    again = run_batch(areas, out, client=cluster_client).areas.set_index("area")["status"].to_dict()
    assert again == {"fixed": "failed earlier", "done": "skipped"}
    retried = (
        run_batch(areas, out, client=cluster_client, retry_failed=True)
        .areas.set_index("area")["status"]
        .to_dict()
    )
    assert retried == {"fixed": "ok", "done": "skipped"}
    changed = [AreaSpec("done", {**areas[1].settings, "profile": "mofcom-2021"})]
    assert changed[0].fingerprint() != areas[1].fingerprint()
    table = run_batch(changed, out, client=cluster_client).areas.set_index("area")
    assert table.loc["done", "status"] == "ok" and table.loc["done", "profile"] == "mofcom-2021"
    summary = json.loads((out / "done" / "summary.json").read_text(encoding="utf-8"))
    assert summary["profile"] == "mofcom-2021"  # recomputed, not the old results under a new fingerprint


def test_cli_batch_passes_retry_failed(tmp_path, cau_osm):
    missing = tmp_path / "later.osm.bz2"
    areas = tmp_path / "areas.toml"
    areas.write_text(f'[[area]]\nname = "a"\nosm = "{missing}"\nhomes = "h3"\n', encoding="utf-8")
    args = [*_batch_command(areas, tmp_path / "o"), "--json"]
    assert subprocess.run(args, capture_output=True, text=True, timeout=600).returncode == 1
    import shutil

    shutil.copy(cau_osm, missing)
    res = subprocess.run([*args, "--retry-failed"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["counts"] == {"ok": 1}
