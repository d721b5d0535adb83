"""The walkcircle commands: thin adapters from flags to settings, a Study, and files."""

from pathlib import Path
from typing import Annotated, Any

import typer

from walkcircle.cli import _common as cli
from walkcircle.errors import InputError, UsageError
from walkcircle.outputs import console
from walkcircle.outputs.console import out_console, say, show
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
WRITES = ("overwrite", *cli.COMMON)


def _mount() -> None:
    from walkcircle.cli.amap import app as amap_app

    app.add_typer(amap_app, name="amap")


def _version(value: bool) -> None:
    if value:
        out_console.print(f"walkcircle {__import__('walkcircle').__version__}")
        raise typer.Exit(0)


Version = Annotated[
    bool, typer.Option("--version", help="Show the version", callback=_version, is_eager=True)
]


@app.callback()
def _root(version: Version = False) -> None:
    """15-minute life circles on real walking networks."""


def _study(flags: dict[str, Any], step: Any, **labels: str) -> Any:
    from walkcircle.study import Study

    flags["lang"] = (settings := cli.settings_from_flags(flags, labels=labels)).lang  # for say/show
    return Study(settings, progress=step)


def _write(flags: dict[str, Any], study: Any, out: Path, files: dict[str, Any]) -> list[Path]:
    return write_folder(out, flags["overwrite"], study_inputs(study), files)


@app.command()
@cli.options(*cli.SOURCE, "out_dir", *WRITES)
def network(*, flags: dict[str, Any]) -> None:
    """Load a walking network and summarise it (nodes, edges, km, islands); --out writes network.gpkg."""
    from walkcircle.outputs.export import edges_layer, write_geopackage

    with cli.progress_bar(flags, 1) as step:
        study = _study(flags, step)
        net = study.network()
    summary, written, out = net.summary(), [], flags["out_dir"]
    if out is not None:
        edges = edges_layer(net)
        written = _write(flags, study, out, {"network.gpkg": lambda p: write_geopackage({"edges": edges}, p)})
    show(flags, console.network_table(summary, study.settings.lang), f"source: {net.source}")
    gpkg = {"gpkg": str(written[0])} if written else {}
    say(flags, {**summary, **gpkg}, [], study.warnings, ", ".join(f"written: {p}" for p in written))


@app.command()
@cli.options(*cli.STUDY, "snap_cap", "out_dir", *WRITES)
def facilities(*, flags: dict[str, Any]) -> None:
    """Load facilities (OSM + tables), classify them by a profile and count them per category."""
    from walkcircle.outputs.export import write_csv, write_geopackage
    from walkcircle.sources.facilities import facility_overview

    with cli.progress_bar(flags, 3) as step:
        study = _study(flags, step)
        s, profile, load = study.settings, study.profile, study.facilities()
        fac, counts, payload = facility_overview(load, profile, study.network(), s.lang, s.routing.snap_cap_m)
    written: list[Path] = []
    if flags["out_dir"] is not None:
        files = {
            "facilities.gpkg": lambda p: write_geopackage({"facilities": fac}, p),
            "facilities.csv": lambda p: write_csv(fac, p),
        }
        written = _write(flags, study, flags["out_dir"], files)
    show(flags, console.facility_table(counts, profile.name(s.lang), s.lang))
    empty = payload["empty_categories"]
    lines = [r.describe() for r in load.reports] + (
        [f"no facility at all for: {', '.join(empty)}"] * bool(empty)
    )
    payload |= {"warnings": study.warnings, "written": [str(p) for p in written]}
    say(flags, payload, lines, study.warnings, ", ".join(f"written: {p}" for p in written))


@app.command()
@cli.options("at", *cli.SOURCE, "minutes", "speed", "elderly", "half_width", "out_gpkg", *WRITES)
def isochrones(*, flags: dict[str, Any]) -> None:
    """Draw walking isochrones (5/10/15 minutes by default) around one or more points."""
    from walkcircle.isochrones import isochrones_around
    from walkcircle.outputs.export import write_geopackage

    cli.require(flags, "at")
    out = flags["out_gpkg"]
    if out is not None:
        check_output_file(out, ".gpkg", "isochrones are written as a GeoPackage", flags["overwrite"])
    with cli.progress_bar(flags, 2) as step:
        study = _study(flags, step, isochrone_minutes="--minutes", isochrones_at="--at")
        kmh, budgets = study.settings.routing.speed_kmh, study.settings.outputs.isochrone_minutes
        points, half_width = study.settings.outputs.isochrones_at, study.settings.outputs.half_width_m
        net = study.network()
        step(f"routing from {len(points)} origin(s)")
        with study.collecting("isochrones"):
            iso = isochrones_around(net, points, budgets, kmh, half_width_m=half_width)
    written = write_geopackage({"isochrones": iso}, out) if out is not None else None
    show(flags, console.isochrone_table(iso, kmh, half_width, study.settings.lang))
    payload = {"speed_kmh": kmh, "isochrones": iso.drop(columns="geometry").to_dict(orient="records")}
    payload |= {"gpkg": str(written)} if written else {}
    say(flags, payload, [], study.warnings, f"written: {written}" if written else "")


@app.command()
@cli.options(*cli.STUDY, "suggest_sites", "out_dir", *WRITES)
def score(*, flags: dict[str, Any]) -> None:
    """Score homes, communities and districts against a standard, with the programme ledger."""
    from walkcircle.outputs.export import export_results

    final = flags["out_dir"] or Path("data/processed/score")
    with cli.progress_bar(flags) as step:
        study = _study(flags, step)
        results = study.results()
        step("writing tables")
        s = study.settings
        files = {
            "": lambda f: export_results(
                results, f, lang=s.lang if s.lang == "zh" else None, profile=study.profile, crs=s.outputs.crs
            )
        }
        written = _write(flags, study, final, files)
    show(flags, *console.score_lines(results, study.profile, study.settings.lang))
    done = f"tables written to {final}: {', '.join(p.name for p in written)}"
    payload = {**results.summary, "written": [str(p) for p in written]}
    say(flags, payload, [], results.summary["warnings"], done)


@app.command()
@cli.options("category", "count", "candidates", "candidates_crs", "method", *cli.STUDY, "out_dir", *WRITES)
def suggest(*, flags: dict[str, Any]) -> None:
    """Suggest where K new facilities of a category would cover the most uncovered residents."""
    from walkcircle.outputs.export import write_csv, write_geopackage

    cli.require(flags, "category")
    category, count = flags["category"], 3 if flags["count"] is None else flags["count"]
    final = flags["out_dir"] or Path("data/processed/suggest")
    with cli.progress_bar(flags) as step:
        study = _study(flags, step)
        result = study.suggest(category, count, flags["candidates"], flags["candidates_crs"] or "wgs84")
        step("writing")
        sites = result.sites
        files = {
            "suggestions.csv": lambda p: write_csv(sites, p),
            "suggestions.gpkg": lambda p: write_geopackage({"suggestions": sites}, p),
        }
        written = _write(flags, study, final, files)
    name, lang = study.profile.category(category).name(study.settings.lang), study.settings.lang
    show(flags, console.suggestion_table(result, name, count, lang))
    records = sites.drop(columns="geometry").to_dict(orient="records")
    payload = {**result.summary(), "sites": records, "written": [str(p) for p in written]}
    lines = [f"coverage {result.coverage_before:.1%} -> {result.coverage_after:.1%}"]
    say(flags, payload, lines, study.warnings, f"written: {', '.join(map(str, written))}")


def _html(flags: dict[str, Any], what: str, draw: Any) -> None:
    """Write the map or the report (an HTML file, checked first) from the study's results."""
    default = Path(f"data/processed/{what}.html")
    out = check_output_file(
        flags["out_html"] or default, ".html", f"the {what} is an HTML file", flags["overwrite"]
    )
    with cli.progress_bar(flags) as step:
        study = _study(flags, step)
        results = study.results()
        step(f"writing the {what}")
        written, note = draw(study, results, out)
    payload = {what: str(written), "warnings": study.warnings}
    say(flags, payload, [], study.warnings, f"{what} written to {written}{note}")


@app.command("map")
@cli.options(*cli.STUDY, *cli.MAPPED, "title", "out_html", *WRITES)
def map_command(*, flags: dict[str, Any]) -> None:
    """Draw the study map (folium HTML; self-contained and offline by default)."""
    from walkcircle.outputs.maps import save_map

    def draw(study: Any, _results: Any, out: Path) -> tuple[Path, str]:
        offline = study.settings.outputs.offline
        written = save_map(study.map(title=flags["title"] or study.settings.name), out, offline=offline)
        where = "self-contained, works offline" if offline else "needs internet for Leaflet"
        return written, f" ({written.stat().st_size / 1e6:.1f} MB, {where})"

    _html(flags, "map", draw)


@app.command()
@cli.options(*cli.STUDY, "suggest_sites", "title", "out_html", *WRITES)
def report(*, flags: dict[str, Any]) -> None:
    """Write the study report: one self-contained HTML page, and report.pdf next to it."""

    def draw(study: Any, _results: Any, out: Path) -> tuple[Path, str]:
        pdf = out.with_suffix(".pdf")
        return study.report(out, title=flags["title"]), f" and {pdf}" if study.settings.outputs.pdf else ""

    _html(flags, "report", draw)


@app.command()
@cli.options("city", *WRITES)
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the template")] = Path("walkcircle.toml"),
    *,
    flags: dict[str, Any],
) -> None:
    """Write a commented walkcircle.toml template; --city hebi also writes the city's communities table."""
    from walkcircle.config import write_study_start

    written, note = write_study_start(path, flags["overwrite"], flags["city"])
    show(flags, *[note] if note else [])
    done = f"wrote {', '.join(map(str, written))}: edit, then walkcircle run --config {path}"
    say(flags, {"written": [str(p) for p in written]}, [], [], done)


@app.command()
@cli.options(*cli.STUDY, *cli.MAPPED, *cli.SCENARIO, "out_dir", *WRITES)
def run(*, flags: dict[str, Any]) -> None:
    """Run the whole study into one folder; no source: Hebi's central districts from Overpass; --demo: offline."""
    from walkcircle.pipeline import listed_files, output_folder, write_study
    from walkcircle.study import Study

    settings = cli.settings_from_flags(flags, need_source=False, find_config=True)
    final = flags["out_dir"] or settings.outputs.folder or Path("data/processed") / settings.name
    with cli.progress_bar(flags, 16) as step:
        study = Study(settings, progress=step)
        with output_folder(final, flags["overwrite"], study_inputs(study)) as folder:
            results = write_study(study, folder, step)
            step("moving the outputs into place")
    files, label, flags["lang"] = listed_files(final), "DEMO " if settings.sources.demo else "", settings.lang
    show(flags, *[r.describe() for r in study.facilities().reports])
    show(flags, *console.score_lines(results, study.profile, settings.lang))
    payload = {**results.summary, "output": str(final), "files": files}
    say(flags, payload, [], results.summary["warnings"], f"{label}outputs in {final}: {', '.join(files)}")


@app.command()
@cli.options("out_dir", "lang", *WRITES)
def compare(
    dir_a: Annotated[Path, typer.Argument(help="A finished study folder (walkcircle run --out)")],
    dir_b: Annotated[
        Path, typer.Argument(help="Another study of the same area (other data, profile or year)")
    ],
    *,
    flags: dict[str, Any],
) -> None:
    """Compare two finished studies of the same area side by side; --out writes the tables and a changes layer."""
    from walkcircle.compare import compare_studies, comparison_files

    comparison, written = compare_studies(dir_a, dir_b), []
    if flags["out_dir"] is not None:
        written = write_folder(
            flags["out_dir"], flags["overwrite"], [dir_a, dir_b], comparison_files(comparison)
        )
    show(flags, console.comparison_table(comparison.tables.categories, flags["lang"] or "en"))
    payload = {"summary": comparison.tables.summary, "only_a": comparison.only_a, "only_b": comparison.only_b}
    say(flags, payload, [], [], ", ".join(f"written: {p}" for p in written))


@app.command()
@cli.options("out_dir", "scheduler", "workers", "force", "retry_failed", *cli.COMMON)
def batch(
    areas_file: Annotated[Path, typer.Argument(help="Areas: AREAS.toml ([[area]] tables) or AREAS.csv")],
    *,
    flags: dict[str, Any],
) -> None:
    """Run many study areas on Dask: areas done or failed with unchanged settings are skipped (see --retry-failed, --force)."""
    from walkcircle.batch import read_areas, run_batch

    out, workers = flags["out_dir"] or Path("data/processed/batch"), flags["workers"] or 2
    try:
        areas = read_areas(areas_file)
    except InputError as exc:
        raise UsageError(str(exc)) from exc
    with cli.progress_bar(flags, len(areas)) as step:
        result = run_batch(
            areas, out, scheduler=flags["scheduler"] or "local", workers=workers, force=flags["force"],
            retry_failed=flags["retry_failed"], progress=lambda _done, _total, area, status: step(f"{area}: {status}"),
            on_dashboard=lambda link: step(f"Dask dashboard: {link or 'not available'}"),
        )  # fmt: skip
    counts = result.areas["status"].value_counts().to_dict()
    show(flags, console.batch_table(result.areas))
    names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in result.files)
    files = [str(p) for p in result.files]
    payload = {
        "out": str(out),
        "counts": counts,
        "files": files,
        "areas": result.areas.to_dict(orient="records"),
    }
    say(flags, payload, [], [], f"combined tables in {out}: {names}")
    if counts.get("failed") or counts.get("failed earlier"):
        raise typer.Exit(1)


_mount()
