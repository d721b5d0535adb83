"""First run against a warm one: how long a fresh install (empty numba cache) waits.

Run: python benchmarks/bench_coldstart.py [--repeat 3] [--src DIR ...]

Two workloads. The library: a small study on a real extract (the shared CAU fixture, or a
10k-node synthetic grid when the fixtures are absent): 2,000 homes and 300 facilities of 9
categories through `walkcircle.access.compute_access` (nearest, counts within 5/10/15 min and
the threshold, 3 nearest), then 5 origins x 3 budgets through `walkcircle.isochrones.isochrones`.
The command: ``walkcircle run --demo`` (the offline Helsinki study, every output written), a
whole process with an empty and then a filled numba cache.

Each run is a fresh Python process. "cold" gets an empty ``NUMBA_CACHE_DIR`` (no compiled
kernel anywhere: what a machine sees whose install could not compile them, e.g. a wheel built on
another CPU); "warm" reuses the directory the cold run filled; "install" is a fresh install: the
source copied to a new folder and built as ``setup.py`` builds it (kernels compiled into the
package by ``python -m walkcircle._numba_cache``, timed apart as "build s"), then run with an
empty user cache; "reinstall" copies the source to a
second folder (a new install, virtualenv or Dask worker of the same version) and runs it with
numba's default cache settings after a first run from another copy filled the user cache
(walkcircle keeps kernels under ``~/.cache/walkcircle/numba`` keyed by source; older versions
kept them next to the installed files). Times:
the whole process (interpreter start, imports, compiling or loading kernels, the study) and the
study part alone. Several ``--src`` folders (a ``src`` with ``walkcircle`` inside, e.g. one
exported from an older commit with ``git archive <rev> src | tar -x -C /tmp/old``) are measured
side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"

WORKLOAD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
import numpy as np
import pandas as pd
from walkcircle.access import compute_access
from walkcircle.isochrones import isochrones
from walkcircle.network import WalkNetwork
t_import = time.perf_counter() - t0
net = WalkNetwork.load(sys.argv[1])
rng = np.random.default_rng(0)
w, s, e, n = net.bounds_lonlat()
homes = pd.DataFrame({"lon": rng.uniform(w, e, 2000), "lat": rng.uniform(s, n, 2000)})
fac = pd.DataFrame({"lon": rng.uniform(w, e, 300), "lat": rng.uniform(s, n, 300),
                    "category": rng.choice([f"c{i}" for i in range(9)], 300)})
t1 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = compute_access(net, homes, fac, k=3)
    t2 = time.perf_counter()
    iso = isochrones(net, homes.lon[:5], homes.lat[:5])
t3 = time.perf_counter()
print(json.dumps({"import_s": t_import, "access_s": t2 - t1, "isochrones_s": t3 - t2, "study_s": t3 - t1,
                  "check": float(np.nansum(np.where(np.isfinite(res.nearest_m), res.nearest_m, 0))) + float(iso.area_m2.sum())}))
"""


def network_file(tmp: Path) -> tuple[str, Path]:
    sys.path.insert(0, str(REPO / "src"))
    fixture = FIXTURES / "cau_map.osm.bz2"
    if fixture.exists():
        from walkcircle.sources.osm import read_osm

        return "cau fixture", read_osm(fixture).save(tmp / "net.npz")
    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import street_grid

    return "grid 10k", street_grid(10_000, seed=1).network().save(tmp / "net.npz")


def one_run(src: Path, net_path: Path, cache_dir: Path | None, xdg: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(src)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    if xdg is not None:
        env["XDG_CACHE_HOME"] = str(xdg)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, str(net_path)], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        msg = f"workload failed with {src}:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def fresh_install(src: Path, dest: Path) -> float | None:
    """Copy `src` to `dest` and compile its kernels as the build does; seconds, None if it cannot."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "_compiled"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(dest)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "walkcircle._numba_cache", str(dest / "walkcircle")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    built = done.returncode == 0 and (dest / "walkcircle" / "_compiled").is_dir()
    return time.perf_counter() - t0 if built else None  # older sources: no build step


def cli_run(src: Path, out: Path, cache_dir: Path | None, xdg: Path | None = None) -> float:
    """Seconds of one whole `walkcircle run --demo` process with the numba cache in `cache_dir`."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(src)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    if xdg is not None:
        env["XDG_CACHE_HOME"] = str(xdg)
    cmd = [sys.executable, "-m", "walkcircle.cli", "run", "--demo", "--out", str(out), "--overwrite", "-q"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        msg = f"walkcircle run --demo failed with {src}:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="cold and warm runs per source (median shown)")
    parser.add_argument(
        "--src", action="append", type=Path, help="src folder(s) to compare (default: this repo's)"
    )
    args = parser.parse_args()
    sources = args.src or [REPO / "src"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        label, net_path = network_file(Path(tmp))
        for src in sources:
            runs: dict[str, list[dict]] = {"cold": [], "warm": [], "install": [], "reinstall": []}
            builds: list[float | None] = []
            for r in range(args.repeat):
                cache = Path(tmp) / f"numba-{len(rows)}-{r}"
                runs["cold"].append(one_run(src, net_path, cache))
                runs["warm"].append(one_run(src, net_path, cache))
                fresh = Path(tmp) / f"fresh-{len(rows)}-{r}"
                builds.append(fresh_install(src, fresh))
                runs["install"].append(
                    one_run(fresh, net_path, None, Path(tmp) / f"xdg-fresh-{len(rows)}-{r}")
                )
                copies = []
                for name in ("a", "b"):
                    copy = Path(tmp) / f"install-{len(rows)}-{r}-{name}"
                    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "_compiled"))
                    copies.append(copy)
                xdg = Path(tmp) / f"xdg-{len(rows)}-{r}"
                one_run(copies[0], net_path, None, xdg)
                runs["reinstall"].append(one_run(copies[1], net_path, None, xdg))
                print(f"{src}: run {r + 1} cold {runs['cold'][-1]['process_s']:.1f} s, "
                      f"warm {runs['warm'][-1]['process_s']:.1f} s, "
                      f"install {runs['install'][-1]['process_s']:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
            runs["run cold"], runs["run warm"], runs["run install"] = [], [], []
            for r in range(args.repeat):
                cache = Path(tmp) / f"numba-run-{len(rows)}-{r}"
                out = Path(tmp) / f"demo-{len(rows)}-{r}"
                runs["run cold"].append({"process_s": cli_run(src, out, cache)})
                runs["run warm"].append({"process_s": cli_run(src, out, cache)})
                fresh = Path(tmp) / f"fresh-{len(rows)}-{r}"  # built above
                xdg = Path(tmp) / f"xdg-run-{len(rows)}-{r}"
                runs["run install"].append({"process_s": cli_run(fresh, out, None, xdg)})
                print(f"{src}: walkcircle run --demo {r + 1} cold {runs['run cold'][-1]['process_s']:.1f} s, "
                      f"warm {runs['run warm'][-1]['process_s']:.1f} s, "
                      f"install {runs['run install'][-1]['process_s']:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
            rows.append((str(src), runs, builds))
    print(f"\nFirst run (empty numba cache) against a warm one: {label}, 2,000 homes, 300 facilities, 9 categories,"
          f" k=3, 5 origins x 3 budgets; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    head = f"{'src':<34}{'run':<6}{'process s':>10}{'imports s':>10}{'access s':>10}{'isochr. s':>10}{'study s':>9}"
    print(head)
    print("-" * len(head))
    for src, runs, builds in rows:
        for kind in ("cold", "warm", "install", "reinstall"):
            med = {k: float(np.median([r[k] for r in runs[kind]])) for k in runs[kind][0] if k != "check"}
            print(f"{src[-34:]:<34}{kind:<10}{med['process_s']:>6.2f}{med['import_s']:>10.2f}"
                  f"{med['access_s']:>10.2f}{med['isochrones_s']:>10.2f}{med['study_s']:>9.2f}")  # fmt: skip
        cold = np.median([r["process_s"] for r in runs["cold"]])
        warm = np.median([r["process_s"] for r in runs["warm"]])
        again = np.median([r["process_s"] for r in runs["reinstall"]])
        fresh = np.median([r["process_s"] for r in runs["install"]])
        built = [b for b in builds if b is not None]
        build = f"{np.median(built):.2f} s" if built else "no build step in this source"
        print(f"{'':<34}whole process: cold/warm {cold / warm:.2f}x, install/warm {fresh / warm:.2f}x "
              f"(build compiles the kernels: {build}), reinstall/warm {again / warm:.2f}x")  # fmt: skip
        run_cold = np.median([r["process_s"] for r in runs["run cold"]])
        run_warm = np.median([r["process_s"] for r in runs["run warm"]])
        run_fresh = np.median([r["process_s"] for r in runs["run install"]])
        print(f"{'':<34}walkcircle run --demo (whole process, all outputs): cold {run_cold:.2f} s, "
              f"warm {run_warm:.2f} s, install {run_fresh:.2f} s; cold/warm {run_cold / run_warm:.2f}x, "
              f"install/warm {run_fresh / run_warm:.2f}x")  # fmt: skip
    print(
        f"\nmedians of {args.repeat}; 'study s' is access + isochrones, compilation included in the cold run."
    )


if __name__ == "__main__":
    main()
