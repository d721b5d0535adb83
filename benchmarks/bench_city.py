"""A whole city study, step by step, at 1x, 2x (and 4x) the size of a Chinese prefecture city.

Run: python benchmarks/bench_city.py [--full] [--repeats 3] [--scales 1,2] [--profile] [--baseline SRC] [--cold]

The cities are synthetic (benchmarks/city.py, written with pyosmium and cached under
data/raw/bench_city/): at 1x about 150,000 walk nodes on an irregular street grid with random
node ids, 30,000 residential buildings in residential compounds, 3,000 POIs of every hebi-2021
category and 250 community polygons with population. Each size runs in its own fresh process
(peak RSS from ``resource.getrusage``, and that of its largest forked child or compile helper); before the timed run the process runs the same study on a
tiny city, so numba kernels are compiled (or loaded from the cache) and libraries imported
(a warm run). The timed run is what ``walkcircle run --osm city.osm.pbf --communities
communities.gpkg`` does, through the Python API: `walkcircle.study.Study` +
`walkcircle.pipeline.write_study` (service areas, workbook, map, report and PDF included), with a progress callback that
timestamps every step. The output files are written by two processes: the run's own takes
the map, the GeoPackage, the tables and the workbook one by one from a shared list while a
forked helper writes the report and then takes whatever is left, so a row of the output phase
is what this process spent on that file and the "report" row is its wait for the helper at
the end. Default sizes 1x and 2x; ``--full`` adds 4x. With ``--repeats N`` every
cell is the median of N runs. ``--profile`` also writes a cProfile of each size next to the
cached city and prints its top functions. ``--baseline SRC`` also times another walkcircle
source tree (e.g. an older commit's ``src/`` from ``git archive``), alternating with this one
run by run (taking turns going first), and prints its table first (before/after on the same machine in
the same run).
``--cold`` also times each size's first run with no compiled kernel anywhere (an empty
``NUMBA_CACHE_DIR``, no warm-up): what an install whose build could not compile the kernels
sees; an install that compiled them runs warm from the start (see ``bench_coldstart.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CACHE = HERE.parent / "data" / "raw" / "bench_city"
WARMUP_SCALE = 0.02

# progress message prefix -> table row (in the order a run passes them)
STEPS = [
    ("reading ", "reading the PBF (streets; POIs + buildings beside them)"),
    ("loading facilities", "facilities (OSM POIs)"),
    ("placing homes", "placing homes"),
    ("snapping homes", "snapping homes"),
    ("snapping homes and facilities", "snapping facilities + routing graph"),
    # the nearest, counts and 3-nearest kernels run together in one pool of threads: one row
    ("nearest facility", "access kernels (nearest, counts, 3 nearest)"),
    ("counting facilities", "access kernels (nearest, counts, 3 nearest)"),
    ("3 nearest", "access kernels (nearest, counts, 3 nearest)"),
    ("scoring", "scoring + tables"),
    ("choosing ", "suggested sites"),
    ("isochrones", "isochrones"),
    ("service areas", "service areas"),
    ("writing the GeoPackage", "GeoPackage (study.gpkg)"),
    ("writing tables", "writing tables"),
    ("writing the workbook", "workbook"),
    ("drawing the map", "map"),
    ("writing the report", "report"),
]


def _row(message: str) -> str:
    best = ""
    label = message
    for prefix, name in STEPS:
        if message.startswith(prefix) and len(prefix) > len(best):
            best, label = prefix, name
    return label


def run_city(scale: float, out: Path) -> dict[str, float]:
    """Run one full study on the city of `scale`; return seconds per step (table rows)."""
    from city import build_city
    from walkcircle.pipeline import write_study
    from walkcircle.study import Study

    files = build_city(scale, CACHE)
    marks: list[tuple[float, str]] = []

    def progress(message: str) -> None:
        marks.append((time.perf_counter(), message))

    study = Study(osm=files.osm, communities=files.communities, name=f"city-{scale:g}x", progress=progress)
    start = time.perf_counter()
    # as write_study does: the service areas drawn by a forked child from the facilities on
    early = study.early_service_areas() if hasattr(study, "early_service_areas") else contextlib.nullcontext()
    with early:
        if hasattr(study, "read_inputs"):  # the streets here, POIs and buildings in a forked child
            study.read_inputs()
        else:  # an older tree (--baseline)
            study.network()
            study.facilities()
            study.homes()
        progress("snapping homes")
        study.home_snap()
        write_study(study, out, progress=progress)
    end = time.perf_counter()
    steps: dict[str, float] = {}
    stamps = [*marks, (end, "")]
    for (t0, message), (t1, _) in itertools.pairwise(stamps):
        row = _row(message)
        steps[row] = steps.get(row, 0.0) + t1 - t0
    steps["total wall"] = end - start
    return steps


def child(scale: float, profile: bool, cold: bool = False) -> None:
    """Warm up on a tiny city (unless `cold`), then time `scale`; print one JSON line."""
    import walkcircle
    from city import build_city

    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        if not cold:
            run_city(WARMUP_SCALE, Path(tmp) / "warmup")
        files = build_city(scale, CACHE)
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            steps = run_city(scale, Path(tmp) / "run")
            profiler.disable()
            prof = files.osm.parent / "bench_city.prof"
            profiler.dump_stats(prof)
            pstats.Stats(str(prof), stream=sys.stderr).sort_stats("cumulative").print_stats(45)
            pstats.Stats(str(prof), stream=sys.stderr).sort_stats("tottime").print_stats(25)
        else:
            steps = run_city(scale, Path(tmp) / "run")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # forked children (the report, the service areas' share) and the compile helper: the largest one
    child_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "scale": scale,
                "steps": steps,
                "peak_rss_mb": peak_mb,
                "child_peak_rss_mb": child_peak_mb,
                "walk_nodes": files.walk_nodes,
                "buildings": files.buildings,
                "pois": files.pois,
                "communities": files.n_communities,
                "walkcircle": str(Path(walkcircle.__file__).parent),
            }
        )
    )


def measure(scale: float, profile: bool, src: str | None = None, cold_cache: Path | None = None) -> dict:
    """Run `child` in a fresh interpreter (its own peak RSS) and read its JSON line.

    `src` puts another walkcircle source tree first on the child's path; `cold_cache` (an empty
    folder) is the child's numba cache and the child skips its warm-up: a first run after install.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(scale)]
    if profile:
        cmd.append("--profile")
    env = dict(os.environ)
    if cold_cache is not None:
        cmd.append("--cold")
        env["NUMBA_CACHE_DIR"] = str(cold_cache)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(src).resolve()), env.get("PYTHONPATH", "")])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        msg = f"child for scale {scale} failed ({done.returncode})"
        raise RuntimeError(msg)
    if profile:
        sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    return f"{value / 1024:.2f} GB" if unit == "GB" else f"{value:.2f} s"


def table(results: dict[float, list[dict]]) -> str:
    """Markdown table: rows = steps, columns = sizes (medians), plus last/first ratio."""
    scales = sorted(results)
    med: dict[float, dict[str, float]] = {}
    for s in scales:
        rows = {r for run in results[s] for r in run["steps"]}
        med[s] = {r: statistics.median(run["steps"].get(r, 0.0) for run in results[s]) for r in rows}
        med[s]["peak RSS"] = statistics.median(run["peak_rss_mb"] for run in results[s])
        med[s]["peak RSS, largest child"] = statistics.median(
            run.get("child_peak_rss_mb", 0.0) for run in results[s]
        )
    first, last = scales[0], scales[-1]
    names = list(dict.fromkeys(name for _, name in STEPS if any(name in med[s] for s in scales)))
    head = [f"{s:g}x ({results[s][0]['walk_nodes'] / 1000:.0f}k nodes)" for s in scales]
    lines = [
        "| step | " + " | ".join(head) + f" | {last:g}x / {first:g}x |",
        "|---" * (len(scales) + 2) + "|",
    ]
    for name in [*names, "total wall", "peak RSS", "peak RSS, largest child"]:
        unit = "GB" if name.startswith("peak RSS") else "s"
        cells = [_fmt(med[s].get(name), unit) for s in scales]
        a, b = med[first].get(name), med[last].get(name)
        ratio = f"{b / a:.2f}" if a and b and len(scales) > 1 else "-"
        label = f"**{name}**" if name in ("total wall", "peak RSS", "peak RSS, largest child") else name
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def cold_runs(scales: list[float], repeats: int) -> dict[float, list[float]]:
    """Total wall of each size's first run after install (an empty numba cache, no warm-up)."""
    cold: dict[float, list[float]] = {s: [] for s in scales}
    for r in range(repeats):
        for s in scales:
            with tempfile.TemporaryDirectory() as empty:
                cold[s].append(measure(s, False, None, Path(empty))["steps"]["total wall"])
            print(f"run {r + 1}/{repeats}, {s:g}x, cold: {cold[s][-1]:.1f} s", file=sys.stderr)
    return cold


def print_cold(cold: dict[float, list[float]], warm_runs: dict[float, list[dict]]) -> None:
    """Print cold against warm totals per size."""
    print("\nfirst run after install (empty numba cache) against a warm run, this tree, total wall:")
    for s, firsts in cold.items():
        warm = statistics.median(run["steps"]["total wall"] for run in warm_runs[s])
        first = statistics.median(firsts)
        print(f"  {s:g}x: cold {first:.2f} s, warm {warm:.2f} s, cold/warm {first / warm:.2f}x")


def build_cities(scales: list[float]) -> None:
    """Build (or find cached) the cities of `scales`."""
    from city import build_city

    for s in scales:
        t = time.perf_counter()
        files = build_city(s, CACHE)
        built = time.perf_counter() - t
        if built > 1:
            print(f"built the {s:g}x city in {built:.1f} s: {files.osm}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add the 4x city (600k nodes)")
    parser.add_argument("--scales", default=None, help="comma-separated sizes, e.g. 0.1,0.2")
    parser.add_argument("--repeats", type=int, default=1, help="runs per size (medians)")
    parser.add_argument("--profile", action="store_true", help="cProfile each size (slower)")
    parser.add_argument("--baseline", default=None, help="another walkcircle src/ to time alongside")
    parser.add_argument("--json", default=None, help="also write every run's raw numbers here")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also time each size's first run with no compiled kernel (empty numba cache)",
    )
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.profile, args.cold)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.scales:
        scales = [float(s) for s in args.scales.split(",")]
    else:
        scales = [1.0, 2.0, 4.0] if args.full else [1.0, 2.0]
    build_cities([WARMUP_SCALE, *scales])
    trees = {"baseline": args.baseline, "this tree": None} if args.baseline else {"this tree": None}
    results: dict[str, dict[float, list[dict]]] = {label: {s: [] for s in scales} for label in trees}
    for r in range(args.repeats):
        for s in scales:
            # the trees take turns going first (ABBA): a run right after another is not always the same tree's
            for label, src in list(trees.items())[:: 1 if r % 2 == 0 else -1]:
                run = measure(s, args.profile, src)
                results[label][s].append(run)
                total = run["steps"]["total wall"]
                load_now = " ".join(Path("/proc/loadavg").read_text().split()[:3])
                print(
                    f"run {r + 1}/{args.repeats}, {s:g}x, {label}: {total:.1f} s (load {load_now})",
                    file=sys.stderr,
                )
    cold = cold_runs(scales, args.repeats) if args.cold else {}
    load = Path("/proc/loadavg").read_text().split()[:3]
    if args.json:
        raw = {label: {f"{s:g}": runs for s, runs in by_scale.items()} for label, by_scale in results.items()}
        Path(args.json).write_text(json.dumps(raw, indent=1))
    for label, by_scale in results.items():
        where = by_scale[scales[0]][0]["walkcircle"]
        print(f"\n{label} ({where}): warm, medians of {args.repeats}; load average now {' '.join(load)}")
        print(table(by_scale))
    if cold:
        print_cold(cold, results["this tree"])
    if args.baseline:
        print("\ntotal wall, baseline -> this tree:")
        for s in scales:
            before = statistics.median(run["steps"]["total wall"] for run in results["baseline"][s])
            after = statistics.median(run["steps"]["total wall"] for run in results["this tree"][s])
            print(f"  {s:g}x: {before:.2f} s -> {after:.2f} s ({before / after:.2f}x faster)")


if __name__ == "__main__":
    main()
