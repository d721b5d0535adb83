"""The walkcircle commands: thin adapters from flags to settings, a Study, and files."""

from pathlib import Path
from typing import Annotated, Any

import typer

from walkcircle.cli._common import (
    COMMON,
    MAPPED,
    SCENARIO,
    SOURCE,
    STUDY,
    options,
    out_console,
    print_json,
    progress_bar,
    require,
    settings_from_flags,
    warn,
)  # fmt: skip
from walkcircle.errors import InputError, UsageError
from walkcircle.outputs import console
from walkcircle.pipeline import check_output_file, study_inputs, write_folder

app = typer.Typer(
    name="walkcircle",
    help="15-minute life circles on real walking networks: who can walk to which daily services in 5, 10 and "
    "15 minutes, where the gaps are, where to build next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
WRITES = ("overwrite", *COMMON)


def _version(value: bool) -> None:
    if value:
        from walkcircle import __version__

        out_console.print(f"walkcircle {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Show the version", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """15-minute life circles on real walking networks."""


def _study(flags: dict[str, Any], step: Any, **labels: str) -> Any:
    from walkcircle.study import Study

    return Study(settings_from_flags(flags, labels=labels), progress=step)


def _show(flags: dict[str, Any], *renderables: Any) -> None:
    for item in [] if flags["as_json"] or flags["quiet"] else renderables:
        out_console.print(item, highlight=False)


def _say(
    flags: dict[str, Any], payload: dict[str, Any], lines: list[str], warnings: list[str] = (), done: str = ""
) -> None:
    """Print JSON, or the warnings, the lines and the line that names what was written (even when quiet)."""
    if flags["as_json"]:
        print_json(payload)
        return
    warn(list(warnings), flags["quiet"])
    _show(flags, *lines)
    if done:
        out_console.print(done, highlight=False)


@app.command()
@options(*SOURCE, "out_dir", *WRITES)
def network(*, flags: dict[str, Any]) -> None:
    """Load a walking network and summarise it (nodes, edges, km, islands); --out writes network.gpkg."""
    from walkcircle.outputs.export import write_geopackage

    with progress_bar(flags, 1) as step:
        study = _study(flags, step)
        net = study.network()
    summary, written, out = net.summary(), [], flags["out_dir"]
    if out is not None:
        edges = net.edges_geodataframe()
        written = write_folder(
            out,
            flags["overwrite"],
            study_inputs(study),
            {"network.gpkg": lambda p: write_geopackage({"edges": edges}, p)},
        )
    _show(flags, console.network_table(summary), f"source: {net.source}")
    gpkg = {"gpkg": str(written[0])} if written else {}
    _say(flags, {**summary, **gpkg}, [], study.warnings, ", ".join(f"written: {p}" for p in written))


@app.command()
@options(*STUDY, "snap_cap", "out_dir", *WRITES)
def facilities(*, flags: dict[str, Any]) -> None:
    """Load facilities (OSM + tables), classify them by a profile and count them per category."""
    from walkcircle.outputs.export import write_csv, write_geopackage
    from walkcircle.sources.facilities import facility_overview

    with progress_bar(flags, 3) as step:
        study = _study(flags, step)
        s, profile = study.settings, study.profile
        fac, counts, payload = facility_overview(
            study.facilities(), profile, study.network(), s.lang, s.routing.snap_cap_m
        )
    written: list[Path] = []
    if flags["out_dir"] is not None:
        files = {
            "facilities.gpkg": lambda p: write_geopackage({"facilities": fac}, p),
            "facilities.csv": lambda p: write_csv(fac, p),
        }
        written = write_folder(flags["out_dir"], flags["overwrite"], study_inputs(study), files)
    _show(flags, console.facility_table(counts, profile.name(s.lang)))
    merged, empty = payload["duplicates_removed"], payload["empty_categories"]
    lines = [f"near-duplicates kept once: {sum(merged.values())} ({merged})"] if merged else []
    lines += [f"no facility at all for: {', '.join(empty)}"] if empty else []
    payload |= {"warnings": study.warnings, "written": [str(p) for p in written]}
    _say(flags, payload, lines, study.warnings, ", ".join(f"written: {p}" for p in written))


@app.command()
@options("at", *SOURCE, "minutes", "speed", "elderly", "half_width", "out_gpkg", *WRITES)
def isochrones(*, flags: dict[str, Any]) -> None:
    """Draw walking isochrones (5/10/15 minutes by default) around one or more points."""
    from walkcircle.defaults import DEFAULT_HALF_WIDTH_M
    from walkcircle.isochrones import isochrones_around
    from walkcircle.outputs.export import write_geopackage

    require(flags, "at")
    out = flags["out_gpkg"]
    half_width = DEFAULT_HALF_WIDTH_M if flags["half_width"] is None else flags["half_width"]
    if half_width <= 0:
        raise UsageError(f"--half-width {half_width:g}: the street half-width must be > 0 m")
    if out is not None:
        check_output_file(out, ".gpkg", "isochrones are written as a GeoPackage", flags["overwrite"])
    with progress_bar(flags, 2) as step:
        study = _study(flags, step, isochrone_minutes="--minutes", isochrones_at="--at")
        kmh, budgets = study.settings.routing.speed_kmh, study.settings.outputs.isochrone_minutes
        points = study.settings.outputs.isochrones_at
        net = study.network()
        step(f"routing from {len(points)} origin(s)")
        with study.collecting("isochrones"):
            iso = isochrones_around(net, points, budgets, kmh, half_width_m=half_width)
    written = write_geopackage({"isochrones": iso}, out) if out is not None else None
    _show(flags, console.isochrone_table(iso, kmh, half_width))
    payload = {"speed_kmh": kmh, "isochrones": iso.drop(columns="geometry").to_dict(orient="records")}
    payload |= {"gpkg": str(written)} if written else {}
    _say(flags, payload, [], study.warnings, f"written: {written}" if written else "")


@app.command()
@options(*STUDY, "suggest_sites", "out_dir", *WRITES)
def score(*, flags: dict[str, Any]) -> None:
    """Score homes, communities and districts against a standard, with the programme ledger."""
    from walkcircle.outputs.export import export_results

    final = flags["out_dir"] or Path("data/processed/score")
    with progress_bar(flags) as step:
        study = _study(flags, step)
        results = study.results()
        step("writing tables")
        written = write_folder(
            final,
            flags["overwrite"],
            study_inputs(study),
            {"": lambda folder: export_results(results, folder)},
        )
    _show(flags, *console.score_lines(results, study.profile, study.settings.lang))
    done = f"tables written to {final}: {', '.join(p.name for p in written)}"
    _say(
        flags,
        {**results.summary, "written": [str(p) for p in written]},
        [],
        results.summary["warnings"],
        done,
    )


@app.command()
@options("category", "count", "candidates", "candidates_crs", "method", *STUDY, "out_dir", *WRITES)
def suggest(*, flags: dict[str, Any]) -> None:
    """Suggest where K new facilities of a category would cover the most uncovered residents."""
    from walkcircle.outputs.export import write_csv, write_geopackage
    from walkcircle.sources.tables import read_candidate_points

    require(flags, "category")
    category, count = flags["category"], 3 if flags["count"] is None else flags["count"]
    if count < 1:
        raise UsageError(f"--count {count}: give a whole number >= 1")
    final = flags["out_dir"] or Path("data/processed/suggest")
    with progress_bar(flags) as step:
        study = _study(flags, step)
        ids = study.profile.category_ids
        if category not in ids:
            raise UsageError(
                f"--category: profile {study.profile.id} has no category {category!r}; use one of {', '.join(ids)}"
            )
        path = flags["candidates"]
        cand = read_candidate_points(path, flags["candidates_crs"] or "wgs84") if path is not None else None
        result = study.suggest(category, count, cand)
        step("writing")
        sites = result.sites
        files = {
            "suggestions.csv": lambda p: write_csv(sites, p),
            "suggestions.gpkg": lambda p: write_geopackage({"suggestions": sites}, p),
        }
        written = write_folder(final, flags["overwrite"], study_inputs(study), files)
    _show(
        flags,
        console.suggestion_table(result, study.profile.category(category).name(study.settings.lang), count),
    )
    records = sites.drop(columns="geometry").to_dict(orient="records")
    payload = {**result.summary(), "sites": records, "written": [str(p) for p in written]}
    lines = [f"coverage {result.coverage_before:.1%} -> {result.coverage_after:.1%}"]
    _say(flags, payload, lines, study.warnings, f"written: {', '.join(map(str, written))}")


@app.command("map")
@options(*STUDY, *MAPPED, "title", "out_html", *WRITES)
def map_command(*, flags: dict[str, Any]) -> None:
    """Draw the study map (folium HTML; self-contained and offline by default)."""
    from walkcircle.outputs.maps import save_map

    out = check_output_file(
        flags["out_html"] or Path("data/processed/map.html"),
        ".html",
        "the map is an HTML file",
        flags["overwrite"],
    )
    with progress_bar(flags) as step:
        study = _study(flags, step)
        study.results()
        step("drawing the map")
        offline = study.settings.outputs.offline
        written = save_map(study.map(title=flags["title"] or study.settings.name), out, offline=offline)
    where = "self-contained, works offline" if offline else "needs internet for Leaflet"
    line = f"map written to {written} ({written.stat().st_size / 1e6:.1f} MB, {where})"
    _say(
        flags, {"map": str(written), "offline": offline, "warnings": study.warnings}, [], study.warnings, line
    )


@app.command()
@options(*STUDY, "suggest_sites", "title", "out_html", *WRITES)
def report(*, flags: dict[str, Any]) -> None:
    """Write the study report (one self-contained HTML page with tables and charts)."""
    from walkcircle.outputs.report import write_report

    out = check_output_file(
        flags["out_html"] or Path("data/processed/report.html"),
        ".html",
        "the report is an HTML file",
        flags["overwrite"],
    )
    with progress_bar(flags) as step:
        study = _study(flags, step)
        results = study.results()
        step("writing the report")
        written = write_report(results, study.profile, out, lang=study.settings.lang, title=flags["title"])
    payload = {"report": str(written), "warnings": study.warnings}
    _say(flags, payload, [], study.warnings, f"report written to {written}")


@app.command()
@options(*WRITES)
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the template")] = Path("walkcircle.toml"),
    *,
    flags: dict[str, Any],
) -> None:
    """Write a commented walkcircle.toml template to start a study from."""
    from walkcircle.config import write_template

    if path.exists() and not flags["overwrite"]:
        raise UsageError(f"{path} exists; pass --overwrite to replace it")
    written = write_template(path, overwrite=True)
    done = f"wrote {written}: edit it, then run walkcircle run --config {written}"
    _say(flags, {"written": [str(written)]}, [], [], done)


@app.command()
@options(*STUDY, *MAPPED, *SCENARIO, "out_dir", *WRITES)
def run(*, flags: dict[str, Any]) -> None:
    """Run the whole study: network, facilities, homes, access, scores, map, report and tables.

    Without a source it studies Hebi's central districts (淇滨区, 山城区, 鹤山区) from
    Overpass; --demo runs offline on a real sample extract.
    """
    from walkcircle.pipeline import listed_files, output_folder, study_inputs, write_study
    from walkcircle.study import Study

    settings = settings_from_flags(flags, need_source=False, find_config=True)
    final = flags["out_dir"] or settings.outputs.folder or Path("data/processed") / settings.name
    with progress_bar(flags, 16) as step:
        study = Study(settings, progress=step)
        with output_folder(final, flags["overwrite"], study_inputs(study)) as folder:
            results = write_study(study, folder, step)
            step("moving the outputs into place")
    files = listed_files(final)
    if flags["as_json"]:
        print_json({**results.summary, "output": str(final), "files": files})
        return
    _show(flags, *console.score_lines(results, study.profile, settings.lang))
    label = "DEMO " if settings.sources.demo else ""
    _say(flags, {}, [], results.summary["warnings"], f"{label}outputs in {final}: {', '.join(files)}")


@app.command()
@options("out_dir", "scheduler", "workers", "force", "retry_failed", *COMMON)
def batch(
    areas_file: Annotated[Path, typer.Argument(help="Areas: AREAS.toml ([[area]] tables) or AREAS.csv")],
    *,
    flags: dict[str, Any],
) -> None:
    """Run many study areas on Dask (a province, a country): resumable and fault tolerant.

    Areas done with the same settings are skipped, and so are areas that failed before with the
    same settings (after fixing their input, use --retry-failed); an area whose settings changed
    is computed again; --force recomputes everything.
    """
    from walkcircle.batch import read_areas, run_batch

    out, workers = flags["out_dir"] or Path("data/processed/batch"), flags["workers"] or 2
    try:
        areas = read_areas(areas_file)
    except InputError as exc:
        raise UsageError(str(exc)) from exc
    with progress_bar(flags, len(areas)) as step:
        result = run_batch(
            areas, out, scheduler=flags["scheduler"] or "local", workers=workers, force=flags["force"],
            retry_failed=flags["retry_failed"], progress=lambda _done, _total, area, status: step(f"{area}: {status}"),
            on_dashboard=lambda link: step(f"Dask dashboard: {link or 'not available'}"),
        )  # fmt: skip
    counts = result.areas["status"].value_counts().to_dict()
    _show(flags, console.batch_table(result.areas))
    names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in result.files)
    files = [str(p) for p in result.files]
    payload = {
        "out": str(out),
        "counts": counts,
        "areas": result.areas.to_dict(orient="records"),
        "files": files,
    }
    _say(flags, payload, [], [], f"combined tables in {out}: {names}")
    if counts.get("failed") or counts.get("failed earlier"):
        raise typer.Exit(1)
