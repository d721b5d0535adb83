"""`walkcircle run` end to end as a user runs it, the config file, and bad command lines."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from walkcircle.config import TEMPLATE, load_config

WALKCIRCLE = [sys.executable, "-m", "walkcircle.cli"]
OUTPUTS = (
    "summary.json",
    "study.xlsx",
    "report.pdf",
    "communities.csv",
    "homes.parquet",
    "homes.csv",
    "study.gpkg",
    "map.html",
    "report.html",
)


def run(*args, cwd=None, timeout=600):
    return subprocess.run([*WALKCIRCLE, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def _plausible(summary: dict) -> None:
    for key in (
        "network",
        "facilities",
        "homes",
        "population",
        "coverage",
        "score_mean",
        "profile",
        "speed_kmh",
        "sources",
    ):
        assert key in summary, key
    net = summary["network"]
    assert set(net) == {"nodes", "edges", "length_km", "components", "largest_share"}
    assert net["nodes"] > 100 and net["edges"] >= net["nodes"] - net["components"]
    assert 0 < net["largest_share"] <= 1 and net["length_km"] > 1
    assert all(isinstance(v, int) and v >= 0 for v in summary["facilities"].values())
    assert summary["homes"] > 10 and summary["population"] > 0
    assert all(0 <= v <= 1 for v in summary["coverage"].values())
    assert set(summary["coverage"]) == set(summary["facilities"])
    assert 0 <= summary["score_mean"] <= 100
    assert summary["speed_kmh"] == 4.8


def test_run_demo(tmp_path):
    out = tmp_path / "demo"
    res = run("run", "--demo", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    printed = json.loads(res.stdout)
    for name in (*OUTPUTS, "isochrones.gpkg", "suggestions.csv"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert printed["network"] == summary["network"]
    _plausible(summary)
    assert summary["demo"] is True and summary["sources"]["demo"] is True
    assert summary["profile"] == "hebi-2021"
    assert "DEMO" in (out / "map.html").read_text(encoding="utf-8")
    assert "DEMO" in (out / "report.html").read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*"))


def test_run_on_a_fixture_with_communities(tmp_path, cau_osm, cau_net):
    import numpy as np

    rng = np.random.default_rng(2)
    pick = rng.choice(cau_net.n_nodes, 6, replace=False)
    communities = tmp_path / "社区.csv"
    pd.DataFrame(
        {
            "名称": [f"社区{i}" for i in range(6)],
            "lon": cau_net.lon[pick],
            "lat": cau_net.lat[pick],
            "population": 1000,
        }
    ).to_csv(communities, index=False, encoding="utf-8")
    out = tmp_path / "cau"
    res = run(
        "run",
        "--osm",
        str(cau_osm),
        "--communities",
        str(communities),
        "--out",
        str(out),
        "--lang",
        "zh",
        "-q",
    )
    assert res.returncode == 0, res.stderr
    for name in OUTPUTS:
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    _plausible(summary)
    assert summary["population"] == pytest.approx(6000)
    assert summary["programme"]["communities"] == 6
    table = pd.read_csv(out / "communities.csv", encoding="utf-8-sig")
    assert sorted(table["社区"]) == [
        f"社区{i}" for i in range(6)
    ]  # --lang zh: CSV headers in Chinese (issue 14)
    assert "项目台账" in (out / "report.html").read_text(encoding="utf-8")


def test_existing_output_folder_needs_overwrite(tmp_path, cau_osm):
    out = tmp_path / "o"
    assert run("run", "--osm", str(cau_osm), "--out", str(out), "-q").returncode == 0
    (out / "marker.txt").write_text("old run")
    res = run("run", "--osm", str(cau_osm), "--out", str(out), "-q")
    assert res.returncode == 2 and "exists; pass --overwrite" in res.stderr
    assert (out / "marker.txt").exists()
    res = run("run", "--osm", str(cau_osm), "--out", str(out), "-q", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert not (out / "marker.txt").exists() and (out / "summary.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--demo", "--profile", "gb50180"], "did you mean 'gb50180-2018'"),
        (["--demo", "--osm", "x.osm"], "only one network source"),
        (["--demo", "--quiet", "--verbose"], "not both"),
        (["--demo", "--speed", "4", "--elderly"], "not both"),
        (["--demo", "--basemap", "google"], "use one of"),
        (["--demo", "--suggest", "unicorn:3"], "no category 'unicorn'"),
        (["--demo", "--crs", "gcj02"], "--crs is for --facilities"),
        (["--bbox", "1,2"], "four numbers"),
    ],
)
def test_bad_command_lines_are_usage_errors(tmp_path, args, message):
    res = run("run", "--out", str(tmp_path / "x"), *args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()


def test_config_file(tmp_path, cau_osm):
    bad = tmp_path / "bad.toml"
    bad.write_text("[study]\nname = 'x'\nprofle = 'hebi-2021'\n", encoding="utf-8")
    res = run("run", "--config", str(bad))
    assert res.returncode == 2 and "unknown key 'profle' (did you mean 'profile'?)" in res.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[study\n", encoding="utf-8")
    res = run("run", "--config", str(broken))
    assert res.returncode == 2 and "not valid TOML" in res.stderr
    res = run("run", "--config", str(tmp_path / "missing.toml"))
    assert res.returncode == 2 and "config file not found" in res.stderr

    # init writes a template that loads, and a run from an edited copy works; flags override it
    res = run("init", cwd=tmp_path)
    assert res.returncode == 0 and (tmp_path / "walkcircle.toml").read_text(encoding="utf-8") == TEMPLATE
    assert run("init", cwd=tmp_path).returncode == 2
    study, outputs = load_config(tmp_path / "walkcircle.toml")
    assert study.profile == "hebi-2021" and study.place and outputs.offline
    edited = TEMPLATE.replace('place = ["淇滨区', f'osm = "{cau_osm}"\n# place = ["淇滨区').replace(
        'lang = "zh"', 'lang = "en"'
    )
    config = tmp_path / "cau.toml"
    config.write_text(edited.replace("# elderly_care = 5", "elderly_care = 2"), encoding="utf-8")
    res = run(
        "run", "--config", str(config), "--out", str(tmp_path / "c"), "--profile", "mofcom-2021", "--json"
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["profile"] == "mofcom-2021"  # the flag won over the file's hebi-2021
    assert summary["suggestions"][0]["category"] == "elderly_care"  # from the file
    assert summary["sources"]["network"] == str(cau_osm)
    res = run("run", "--config", str(config), "--out", str(tmp_path / "d"), "--profile", "gb50180-2018")
    assert res.returncode == 2 and "profile gb50180-2018 has no category 'elderly_care'" in res.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_default_study_without_internet_fails_in_one_line(tmp_path):
    port = _closed_port()
    res = run(
        "run", "--out", str(tmp_path / "hebi"), "--cache-dir", str(tmp_path / "raw"),
        "--overpass-url", f"http://127.0.0.1:{port}/api", "--nominatim-url", f"http://127.0.0.1:{port}/",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("using ")]
    assert len(lines) == 1, res.stderr
    assert "cannot reach" in lines[0] and "--osm FILE" in lines[0] and "--demo" in lines[0]
    assert not (tmp_path / "hebi").exists()


def test_ctrl_c_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [*WALKCIRCLE, "run", "--demo", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while (
        not list(tmp_path.glob(".interrupted.partial-*")) and time.time() < deadline and proc.poll() is None
    ):
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".interrupted.*"))
    # a run killed outright leaves its partial folder; the next run clears it and starts clean
    stale = tmp_path / ".interrupted.partial-999999999"
    stale.mkdir()
    (stale / "half.csv").write_text("x")
    res = run("run", "--demo", "--out", str(out), "-q")
    assert res.returncode == 0, res.stderr
    assert not stale.exists() and (out / "summary.json").exists()


@pytest.mark.parametrize(
    "command", ["network", "facilities", "isochrones", "score", "suggest", "map", "report", "run", "init"]
)
def test_every_command_has_help(command):
    res = run(command, "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage" in res.stdout and len(res.stdout) > 300


def test_top_level_help_and_version():
    res = run("--help")
    assert res.returncode == 0
    for command in (
        "network",
        "facilities",
        "isochrones",
        "score",
        "suggest",
        "map",
        "report",
        "run",
        "init",
    ):
        assert command in res.stdout
    res = run("--version")
    assert res.returncode == 0 and res.stdout.startswith("walkcircle ")
