"""One typed, validated, immutable settings object for a study.

A `Settings` is built by one function, `build_settings`, from a mapping in one vocabulary
(a ``walkcircle.toml`` file, a row of a batch's areas file, the keyword arguments of `Study`)
and updated from command-line flags by one function, `update_settings`. All validation lives
here; every default comes from `walkcircle.defaults`.

The vocabulary: every setting has a *file key* (``section.key`` as in ``walkcircle.toml``,
e.g. ``network.osm``, ``study.profile``) and a short *alias* (``osm``, ``profile``) that batch
rows, `Study(...)` keywords and flags use. A mapping may hold sections (``{"network": {"osm":
...}}``), dotted file keys (``"network.osm"``) or aliases, mixed. Unknown keys, wrong types and
bad values raise `SettingsError` with one line that names the key and where it came from.

>>> from walkcircle.settings import build_settings, update_settings
>>> s = build_settings({"study": {"profile": "mofcom-2021"}, "osm": "hebi.osm.pbf"}, check_profile=False)
>>> s.scoring.profile, str(s.sources.osm), s.routing.speed_kmh
('mofcom-2021', 'hebi.osm.pbf', 4.8)
>>> update_settings(s, {"speed_kmh": 3.6}, check_profile=False).routing.speed_kmh
3.6
>>> build_settings({"study": {"profle": "x"}}, origin="walkcircle.toml")
Traceback (most recent call last):
...
walkcircle.errors.SettingsError: walkcircle.toml: [study] unknown key 'profle' (did you mean 'profile'?)
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walkcircle import defaults as d
from walkcircle.errors import InputError, SettingsError
from walkcircle.sources.tables import TableSpec

__all__ = [
    "FacilitySettings",
    "HomeSettings",
    "NetworkSettings",
    "OutputSettings",
    "RoutingSettings",
    "ScoringSettings",
    "Settings",
    "build_settings",
    "settings_fingerprint",
    "settings_to_aliases",
    "update_settings",
]


# ---------------------------------------------------------------------------- the settings


@dataclass(frozen=True)
class NetworkSettings:
    """Where the walking network comes from: one of an OSM file, a place, a bbox or the demo."""

    osm: Path | None = None
    place: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None
    boundary: Path | None = None
    demo: bool = False
    margin_m: float = d.DEFAULT_EXTRACT_MARGIN_M
    overpass_url: str = d.DEFAULT_OVERPASS_URL
    nominatim_url: str = d.DEFAULT_NOMINATIM_URL
    timeout_s: float = d.DEFAULT_TIMEOUT_S
    cache_dir: Path = d.DEFAULT_CACHE_DIR
    include_private: bool = False


@dataclass(frozen=True)
class FacilitySettings:
    """Facility tables (each with its declared CRS), OSM facilities, near-duplicate distance."""

    tables: tuple[TableSpec, ...] = ()
    osm: bool = True
    dedupe_m: float = d.DEFAULT_DEDUPE_M


@dataclass(frozen=True)
class HomeSettings:
    """Where walks start: a communities file, OSM residential buildings or an H3 grid."""

    source: str = d.DEFAULT_HOMES
    communities: Path | None = None
    communities_crs: str | None = d.DEFAULT_COMMUNITIES_CRS
    name_col: str | None = None
    population_col: str | None = None
    district_col: str | None = None
    h3_resolution: int = d.DEFAULT_H3_RESOLUTION
    grid_m: float = d.DEFAULT_GRID_M
    assign_m: float = d.DEFAULT_ASSIGN_M
    population: Path | None = None
    population_orphans: str = d.DEFAULT_POPULATION_ORPHANS
    population_band: int = d.DEFAULT_POPULATION_BAND


@dataclass(frozen=True)
class RoutingSettings:
    """Walking speed, life-circle tiers, snapping cap and how many nearest facilities to keep."""

    speed_kmh: float = d.DEFAULT_SPEED_KMH
    tiers_min: tuple[float, ...] = d.DEFAULT_TIERS_MIN
    snap_cap_m: float = d.DEFAULT_SNAP_CAP_M
    k: int = d.DEFAULT_K


@dataclass(frozen=True)
class ScoringSettings:
    """The standard (profile), the scoring rules and the sites to suggest."""

    profile: str = d.DEFAULT_PROFILE
    decay_factor: float = d.DEFAULT_DECAY_FACTOR
    pass_share: float = d.DEFAULT_PASS_SHARE
    gap_ratio: float = d.DEFAULT_GAP_RATIO
    gap_min_expected: float = d.DEFAULT_GAP_MIN_EXPECTED
    suggest: tuple[tuple[str, int], ...] = ()
    suggest_method: str = "auto"


@dataclass(frozen=True)
class OutputSettings:
    """What a run writes besides the tables."""

    folder: Path | None = None
    map: bool = True
    report: bool = True
    basemap: str = d.DEFAULT_BASEMAP
    offline: bool = True
    isochrones_at: tuple[tuple[float, float], ...] = ()
    isochrone_minutes: tuple[float, ...] = d.DEFAULT_TIERS_MIN
    crs: str = d.DEFAULT_OUTPUT_CRS
    half_width_m: float = d.DEFAULT_HALF_WIDTH_M
    service_areas: bool = True
    service_area_cell_m: float = d.DEFAULT_SERVICE_AREA_CELL_M
    pdf: bool = True
    workbook: bool = True


@dataclass(frozen=True)
class ScenarioSettings:
    """What a plan changes (规划 against 现状): facilities planned, facilities closed."""

    planned: tuple[TableSpec, ...] = ()
    closed: Path | None = None
    closed_crs: str | None = None
    closed_match_m: float = d.DEFAULT_CLOSED_MATCH_M
    apply_suggestions: bool = False

    @property
    def active(self) -> bool:
        """Whether there is a scenario at all."""
        return bool(self.planned or self.closed or self.apply_suggestions)


@dataclass(frozen=True)
class Settings:
    """Everything a study needs, validated and immutable.

    Sections: `sources` (the network), `facilities`, `homes`, `routing`, `scoring`,
    `outputs`, `scenario`. Short aliases (``settings.profile``, ``settings.osm``) read the same values.
    """

    name: str = d.DEFAULT_STUDY_NAME
    lang: str = d.DEFAULT_LANG
    sources: NetworkSettings = field(default_factory=NetworkSettings)
    facilities: FacilitySettings = field(default_factory=FacilitySettings)
    homes: HomeSettings = field(default_factory=HomeSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    scenario: ScenarioSettings = field(default_factory=ScenarioSettings)

    def __getattr__(self, alias: str) -> Any:
        key = _BY_ALIAS.get(alias)
        if key is None or alias in ("name", "lang"):
            raise AttributeError(alias)
        return get_value(self, key.attr)

    def inputs(self) -> dict[str, Any]:
        """Return the inputs, for reports and summary.json.

        Returns
        -------
        dict
            Network source, facility tables, communities.
        """
        s = self.sources
        network = str(s.osm) if s.osm else (list(s.place) if s.place else None)
        if network is None and s.bbox:
            network = list(s.bbox)
        if isinstance(network, list) and len(network) == 1 and isinstance(network[0], str):
            network = network[0]
        return {
            "network": network,
            "demo": s.demo,
            "osm_facilities": self.facilities.osm,
            "facility_tables": [{"path": str(t.path), "crs": t.crs} for t in self.facilities.tables],
            "communities": str(self.homes.communities) if self.homes.communities else None,
            "boundary": str(s.boundary) if s.boundary else None,
            "population": str(self.homes.population) if self.homes.population else None,
        }


# ---------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Key:
    """One setting: where it lives, how it is written, how it is checked."""

    attr: str  # "sources.osm" (or "name")
    file_key: str  # "network.osm"
    alias: str  # "osm"
    kind: str
    choices: tuple[Any, ...] = ()
    low: float | None = None  # smallest allowed (inclusive unless `strict`)
    high: float | None = None
    strict: bool = False


_KEYS = (
    Key("name", "study.name", "name", "text"),
    Key("lang", "study.lang", "lang", "choice", d.LANGS),
    Key("scoring.profile", "study.profile", "profile", "text"),
    Key("routing.speed_kmh", "study.speed_kmh", "speed_kmh", "number", low=0, high=30, strict=True),
    Key("routing.tiers_min", "study.tiers_min", "tiers_min", "minutes"),
    Key("routing.snap_cap_m", "study.snap_cap_m", "snap_cap_m", "number", low=0, high=5000, strict=True),
    Key("routing.k", "study.k", "k", "integer", low=1, high=50),
    Key("facilities.dedupe_m", "study.dedupe_m", "dedupe_m", "number", low=0, high=1000),
    Key("scoring.suggest_method", "study.suggest_method", "suggest_method", "choice", d.SUGGEST_METHODS),
    Key("sources.osm", "network.osm", "osm", "path"),
    Key("sources.place", "network.place", "place", "places"),
    Key("sources.bbox", "network.bbox", "bbox", "bbox"),
    Key("sources.boundary", "network.boundary", "boundary", "path"),
    Key("sources.margin_m", "network.margin_m", "margin_m", "number", low=0, high=50000),
    Key("sources.demo", "network.demo", "demo", "flag"),
    Key("sources.overpass_url", "network.overpass_url", "overpass_url", "url"),
    Key("sources.nominatim_url", "network.nominatim_url", "nominatim_url", "url"),
    Key("sources.timeout_s", "network.timeout_s", "timeout_s", "number", low=1, high=3600),
    Key("sources.cache_dir", "network.cache_dir", "cache_dir", "path"),
    Key("sources.include_private", "network.include_private", "include_private", "flag"),
    Key("facilities.tables", "facilities", "facilities", "tables"),
    Key("facilities.osm", "osm_facilities.enabled", "osm_facilities", "flag"),
    Key("homes.communities", "communities.path", "communities", "path"),
    Key("homes.communities_crs", "communities.crs", "communities_crs", "geocrs"),
    Key("homes.name_col", "communities.name_col", "community_name_col", "column"),
    Key("homes.population_col", "communities.population_col", "population_col", "column"),
    Key("homes.district_col", "communities.district_col", "district_col", "column"),
    Key("homes.source", "homes.source", "homes", "choice", d.HOME_SOURCES),
    Key("homes.h3_resolution", "homes.h3_resolution", "h3_resolution", "integer", low=0, high=15),
    Key("homes.grid_m", "homes.grid_m", "grid_m", "number", low=0, high=10000, strict=True),
    Key("homes.assign_m", "homes.assign_m", "assign_m", "number", low=0, high=100000, strict=True),
    Key("homes.population", "homes.population", "population", "path"),
    Key(
        "homes.population_orphans",
        "homes.population_orphans",
        "population_orphans",
        "choice",
        d.POPULATION_ORPHAN_RULES,
    ),
    Key("homes.population_band", "homes.population_band", "population_band", "integer", low=1, high=1000),
    Key(
        "scoring.decay_factor", "scoring.decay_factor", "decay_factor", "number", low=1, high=100, strict=True
    ),
    Key("scoring.pass_share", "scoring.pass_share", "pass_share", "number", low=0, high=1, strict=True),
    Key("scoring.gap_ratio", "scoring.gap_ratio", "gap_ratio", "number", low=0, high=1),
    Key(
        "scoring.gap_min_expected", "scoring.gap_min_expected", "gap_min_expected", "number", low=0, high=1e6
    ),
    Key("scoring.suggest", "suggest", "suggest", "suggest"),
    Key("outputs.folder", "outputs.folder", "output_folder", "path"),
    Key("outputs.map", "outputs.map", "map", "flag"),
    Key("outputs.report", "outputs.report", "report", "flag"),
    Key("outputs.basemap", "outputs.basemap", "basemap", "choice", d.BASEMAPS),
    Key("outputs.offline", "outputs.offline", "offline", "flag"),
    Key("outputs.isochrones_at", "outputs.isochrones_at", "isochrones_at", "points"),
    Key("outputs.isochrone_minutes", "outputs.isochrone_minutes", "isochrone_minutes", "minutes"),
    Key("outputs.crs", "outputs.crs", "output_crs", "epsg"),
    Key(
        "outputs.half_width_m", "outputs.half_width_m", "half_width_m", "number", low=0, high=500, strict=True
    ),
    Key("outputs.service_areas", "outputs.service_areas", "service_areas", "flag"),
    Key(
        "outputs.service_area_cell_m",
        "outputs.service_area_cell_m",
        "service_area_cell_m",
        "number",
        low=0.5,
        high=100,
    ),
    Key("outputs.pdf", "outputs.pdf", "pdf", "flag"),
    Key("outputs.workbook", "outputs.workbook", "workbook", "flag"),
    Key("scenario.planned", "scenario.planned", "planned", "tables"),
    Key("scenario.closed", "scenario.closed", "closed", "path"),
    Key("scenario.closed_crs", "scenario.closed_crs", "closed_crs", "crs"),
    Key("scenario.closed_match_m", "scenario.closed_match_m", "closed_match_m", "number", low=0, high=5000),
    Key("scenario.apply_suggestions", "scenario.apply_suggestions", "apply_suggestions", "flag"),
)
_BY_ALIAS = {k.alias: k for k in _KEYS}
_BY_FILE = {k.file_key: k for k in _KEYS}
_BY_ATTR = {k.attr: k for k in _KEYS}
# keys that only modify others: the CRS of facility tables given as bare paths
_MODIFIERS = {"facilities_crs", "planned_crs"}  # the CRS of tables given as bare paths
_SECTIONS: dict[str, set[str]] = {}
for _k in _KEYS:
    if "." in _k.file_key:
        _section, _name = _k.file_key.split(".", 1)
        _SECTIONS.setdefault(_section, set()).add(_name)
_LIST_SECTIONS = {"facilities", "suggest"}  # whole sections that are one setting
SOURCE_ALIASES = ("osm", "place", "bbox", "demo")
AREA_ALIASES = ("place", "bbox", "boundary")
ALIASES = tuple(_BY_ALIAS)


def get_value(settings: Settings, attr: str) -> Any:
    """Read a setting by its dotted attribute path (``"routing.speed_kmh"``).

    Parameters
    ----------
    settings
        The settings.
    attr
        Attribute path.

    Returns
    -------
    Any
        The value.
    """
    value: Any = settings
    for part in attr.split("."):
        value = object.__getattribute__(value, part)
    return value


# ---------------------------------------------------------------------------- value checks


class _Where:
    """Where a value came from, for one-line messages."""

    def __init__(self, origin: str, label: str, crs_label: str = "facilities_crs") -> None:
        self.origin, self.label, self.crs_label = origin, label, crs_label

    def fail(self, problem: str) -> SettingsError:
        prefix = f"{self.origin}: " if self.origin else ""
        return SettingsError(f"{prefix}{self.label} {problem}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, key: Key, where: _Where) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise where.fail(f"must be a number (got {value!r})") from None
    if not _is_number(value) or not math.isfinite(value):
        raise where.fail(f"must be a number (got {value!r})")
    low_bad = key.low is not None and (value <= key.low if key.strict else value < key.low)
    if low_bad or (key.high is not None and value > key.high):
        rel = ">" if key.strict else ">="
        raise where.fail(f"must be {rel} {key.low:g} and <= {key.high:g} (got {value!r})")
    return float(value)


def _integer(value: Any, key: Key, where: _Where) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise where.fail(f"must be a whole number (got {value!r})")
    return int(_number(value, key, where))


def _flag(value: Any, key: Key, where: _Where) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    if not isinstance(value, bool):
        raise where.fail(f"must be true or false (got {value!r})")
    return value


def _text(value: Any, key: Key, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.fail(f"must be a non-empty text (got {value!r})")
    return value.strip()


def _column(value: Any, key: Key, where: _Where) -> str | None:
    return None if value is None else _text(value, key, where)


def _choice(value: Any, key: Key, where: _Where) -> str:
    if value not in key.choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in key.choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise where.fail(
            f"must be one of {', '.join(map(str, key.choices))} (got {value!r}); use one of these{hint}"
        )
    return value


def _url(value: Any, key: Key, where: _Where) -> str:
    text = _text(value, key, where)
    if not text.startswith(("http://", "https://")):
        raise where.fail(f"must be an http(s) URL (got {value!r})")
    return text


def _crs(value: Any, key: Key, where: _Where) -> str:
    from walkcircle.coords import normalise_crs

    try:
        normalise_crs(_text(value, key, where))
    except ValueError as exc:  # InputError too
        raise where.fail(f"is not a coordinate system walkcircle knows ({exc})") from None
    return value.strip()


def _epsg(value: Any, key: Key, where: _Where) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    text = _text(str(value), key, where)
    try:
        crs = CRS.from_user_input(f"EPSG:{text}" if text.isdigit() else text)
    except CRSError:
        raise where.fail(
            f"is not a coordinate system (got {value!r}); use e.g. EPSG:4326, EPSG:4490 or EPSG:4548"
        ) from None
    if crs.to_epsg() is None:
        raise where.fail(
            f"must have an EPSG code (got {value!r}); use e.g. EPSG:4326, EPSG:4490 or EPSG:4548"
        )
    return f"EPSG:{crs.to_epsg()}"


def _geocrs(value: Any, key: Key, where: _Where) -> str:
    """Check a declared CRS of a point/polygon file: wgs84, gcj02, bd09, cgcs2000 or an EPSG code."""
    from walkcircle.sources.geofiles import CoordinateSystem

    text = _text(str(value), key, where)
    try:
        CoordinateSystem.parse(text, where.label)
    except InputError as exc:
        raise where.fail(
            f"is not a coordinate system walkcircle knows ({exc}); use wgs84, gcj02, bd09 or an EPSG code such as EPSG:4547"
        ) from None
    return text


def _epsg_output(value: Any, key: Key, where: _Where) -> str:
    from walkcircle.outputs.export import output_crs

    text = _epsg(value, key, where)
    try:
        output_crs(text)
    except InputError as exc:
        raise where.fail(str(exc)) from None
    return text


def _split(value: Any, where: _Where, what: str) -> list[Any]:
    if isinstance(value, str):
        return [v for v in value.replace(";", ",").split(",") if v.strip()]
    if isinstance(value, Sequence):
        return list(value)
    raise where.fail(f"must be {what} (got {value!r})")


def _minutes(value: Any, key: Key, where: _Where) -> tuple[float, ...]:
    items = _split(value, where, "a list of minutes such as [5, 10, 15]")
    bound = Key(key.attr, key.file_key, key.alias, "number", low=0, high=240, strict=True)
    try:
        out = tuple(_number(v, bound, where) for v in items)
    except SettingsError:
        out = ()
    if not out:
        raise where.fail(f"must be positive numbers of minutes such as 5,10,15 (got {value!r})")
    return out


def _bbox(value: Any, key: Key, where: _Where) -> tuple[float, float, float, float]:
    items = _split(value, where, "west,south,east,north in degrees")
    try:
        w, s, e, n = (float(v) for v in items)
    except (TypeError, ValueError):
        raise where.fail(f"must be four numbers west,south,east,north in degrees (got {value!r})") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise where.fail(
            f"must be west < east within -180..180 and south < north within -90..90 (got {value!r})"
        )
    return (w, s, e, n)


def _places(value: Any, key: Key, where: _Where) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, Sequence)
        or not items
        or not all(isinstance(p, str) and p.strip() for p in items)
    ):
        raise where.fail(f"must be a place name or a list of place names (got {value!r})")
    return tuple(p.strip() for p in items)


def _point(item: Any, where: _Where) -> tuple[float, float]:
    text = item if isinstance(item, str) else None
    if text is not None:
        item = [v for v in text.split(",") if v.strip()]
    try:
        lon, lat = (float(v) for v in item)
    except (TypeError, ValueError):
        raise where.fail(f"{item!r}: expected LON,LAT in degrees, e.g. 114.297,35.748") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise where.fail(
            f"{text or list(item)!r}: LON must be within -180..180 and LAT within -90..90 (swapped?)"
        )
    return (lon, lat)


def _points(value: Any, key: Key, where: _Where) -> tuple[tuple[float, float], ...]:
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, Sequence):
        raise where.fail(f"must be a list of [lon, lat] pairs (got {value!r})")
    return tuple(_point(item, where) for item in items)


def _suggest(value: Any, key: Key, where: _Where) -> tuple[tuple[str, int], ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence):
        items = [(*v.partition(":")[::2],) if isinstance(v, str) else tuple(v) for v in value]
    else:
        raise where.fail(f"must map categories to counts, e.g. elderly_care = 5 (got {value!r})")
    out = []
    for cat, count in items:
        number = (
            int(count)
            if isinstance(count, str) and count.strip().isdigit()
            else (3 if count == "" else count)
        )
        if not cat or not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise where.fail(
                f"{cat}:{count}: expected CATEGORY:K with K a whole number >= 1, e.g. elderly_care:5"
            )
        out.append((str(cat).strip(), number))
    return tuple(out)


_TABLE_OPTIONS = {
    "crs",
    "lon_col",
    "lat_col",
    "category_col",
    "typecode_col",
    "name_col",
    "category",
    "layer",
}


def _one_table(value: Any, crs: Any, where: _Where, base: Path | None) -> TableSpec:
    if isinstance(value, TableSpec):
        return value
    crs_where = _Where(where.origin, f"{where.label} crs")
    if isinstance(value, str | Path):
        value, crs_where = {"path": str(value), "crs": crs}, _Where(where.origin, where.crs_label)
    if not isinstance(value, Mapping):
        raise where.fail(f"must be a table path or a table with path and crs (got {value!r})")
    unknown = set(value) - _TABLE_OPTIONS - {"path"}
    if unknown:
        name = sorted(unknown)[0]
        raise where.fail(f"unknown key {name!r}{_close(name, _TABLE_OPTIONS | {'path'})}")
    if value.get("path") in (None, ""):
        raise where.fail("needs a path")
    if value.get("crs") in (None, ""):
        raise where.fail(
            f"needs its coordinate system: declare the facility tables' crs with {where.crs_label} wgs84|gcj02|bd09 "
            "(AMap/Gaode and Tencent exports are gcj02, Baidu bd09, GPS/OSM wgs84)"
        )
    crs_key = Key("facilities.crs", "facilities.crs", "facilities_crs", "crs")
    options = {k: _text(v, crs_key, where) for k, v in value.items() if k != "path" and v is not None}
    options["crs"] = _crs(value["crs"], crs_key, crs_where)
    return TableSpec(path=_resolve(value["path"], base), **options)


def _tables(
    value: Any, key: Key, where: _Where, base: Path | None = None, crs: Any = None
) -> tuple[TableSpec, ...]:
    items = [value] if isinstance(value, str | Path | Mapping | TableSpec) else value
    if not isinstance(items, Sequence):
        raise where.fail(f"must be a table path or a list of tables (got {value!r})")
    systems = crs if isinstance(crs, list | tuple) else [crs] * len(items)
    if len(systems) == 1 and len(items) > 1:
        systems = list(systems) * len(items)
    if len(systems) != len(items):
        msg = f"give one {where.crs_label} for all tables or one per table ({len(items)} tables, {len(systems)} {where.crs_label})"
        raise SettingsError(f"{where.origin}: {msg}" if where.origin else msg)
    return tuple(_one_table(v, c, where, base) for v, c in zip(items, systems, strict=True))


def _resolve(value: Any, base: Path | None) -> Path:
    path = Path(value)
    return path if path.is_absolute() or base is None else base / path


def _path(value: Any, key: Key, where: _Where, base: Path | None = None) -> Path:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise where.fail(f"must be a path (got {value!r})")
    return _resolve(value, base)


_CHECKS: dict[str, Callable[..., Any]] = {
    "text": _text, "choice": _choice, "number": _number, "integer": _integer, "flag": _flag,
    "minutes": _minutes, "path": _path, "places": _places, "bbox": _bbox, "url": _url, "crs": _crs,
    "column": _column, "tables": _tables, "suggest": _suggest, "points": _points, "epsg": _epsg_output, "geocrs": _geocrs,
}  # fmt: skip


# ---------------------------------------------------------------------------- mapping -> settings


def _close(key: str, allowed: set[str] | Sequence[str]) -> str:
    match = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _flatten(data: Mapping[str, Any], origin: str) -> list[tuple[Key, Any, str]]:
    """Turn sections, dotted keys and aliases into (key, raw value, label) triples."""
    out: list[tuple[Key, Any, str]] = []
    for name, value in data.items():
        if name in _MODIFIERS:
            continue
        if name in _SECTIONS and isinstance(value, Mapping) and name not in _LIST_SECTIONS:
            for sub, inner in value.items():
                if sub in _MODIFIERS:
                    continue
                key = _BY_FILE.get(f"{name}.{sub}")
                if key is None:
                    hint = _close(sub, _SECTIONS[name])
                    raise _Where(origin, f"[{name}]").fail(f"unknown key {sub!r}{hint}")
                out.append((key, inner, f"[{name}] {sub}"))
            continue
        key = _BY_FILE.get(name) or _BY_ALIAS.get(name)
        if key is None:
            raise _unknown(name, value, origin)
        out.append((key, value, name))
    return out


def _unknown(name: str, value: Any, origin: str) -> SettingsError:
    prefix = f"{origin}: " if origin else ""
    if isinstance(value, Mapping):
        return SettingsError(f"{prefix}unknown section [{name}]{_close(name, _SECTIONS)}")
    return SettingsError(f"{prefix}unknown key {name!r}{_close(name, [*_BY_ALIAS, *_BY_FILE])}")


def normalise(
    data: Mapping[str, Any],
    origin: str = "",
    base: Path | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Check the settings a mapping gives and return them by alias (only those given).

    Parameters
    ----------
    data
        Sections, dotted file keys or aliases (values may be text, as in a CSV row).
    origin
        Where the mapping comes from (a file, a row), for messages.
    base
        Folder that relative paths are relative to (None: as given).
    labels
        How to name each alias in messages (e.g. the command-line flag ``--speed``).

    Returns
    -------
    dict
        Alias -> checked value.

    Raises
    ------
    SettingsError
        An unknown key or a bad value.
    """
    values: dict[str, Any] = {}
    labels = labels or {}
    crs = {
        m: data.get(m, (data.get("scenario") or {}).get(m) if m == "planned_crs" else None)
        for m in _MODIFIERS
    }
    for key, raw, label in _flatten(data, origin):
        if raw is None or (isinstance(raw, str) and not raw.strip() and key.kind != "text"):
            continue  # not given (an empty CSV cell)
        modifier = f"{key.alias}_crs"
        where = _Where(origin, labels.get(label, label), labels.get(modifier, modifier))
        check = _CHECKS[key.kind]
        if key.kind == "tables":
            values[key.alias] = check(raw, key, where, base, crs.get(modifier))
        elif key.kind == "path":
            values[key.alias] = check(raw, key, where, base)
        else:
            values[key.alias] = check(raw, key, where)
    for modifier, value in crs.items():
        tables = modifier.removesuffix("_crs")
        if value not in (None, "", []) and tables not in values:
            label = labels.get(modifier, modifier)
            raise _Where(origin, label).fail(
                f"is for {labels.get(tables, tables)} tables; give a table or drop {label}"
            )
    return values


def _assemble(values: Mapping[str, Any]) -> Settings:
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for alias, value in values.items():
        attr = _BY_ALIAS[alias].attr
        if "." in attr:
            section, name = attr.split(".", 1)
            sections.setdefault(section, {})[name] = value
        else:
            top[attr] = value
    classes = {
        f.name: f.default_factory
        for f in dataclasses.fields(Settings)
        if f.default_factory is not dataclasses.MISSING
    }  # type: ignore[misc]
    built = {name: factory(**sections.get(name, {})) for name, factory in classes.items()}
    return Settings(**top, **built)


def _check_sources(values: Mapping[str, Any], origin: str, labels: Mapping[str, str]) -> None:
    """At most one network source; an area (bbox, place, boundary) may cut an OSM extract."""
    prefix = f"{origin}: " if origin else ""
    name = {a: labels.get(a, a) for a in (*SOURCE_ALIASES, "boundary")}
    areas = [a for a in ("place", "bbox", "boundary") if values.get(a) is not None]
    given = [a for a in SOURCE_ALIASES if values.get(a) not in (None, False)]
    if (values.get("demo") and len(given) > 1) or len(areas) > 1:
        got = " and ".join(name[a] for a in (given if values.get("demo") else areas))
        listed = ", ".join(name[a] for a in SOURCE_ALIASES)
        msg = f"{prefix}give only one network source, only one of {listed} (got {got}); with {name['osm']}, one of {name['bbox']}, {name['place']} or {name['boundary']} cuts the study area from the extract"
        raise SettingsError(msg)
    if values.get("boundary") is not None and values.get("osm") is None:
        msg = (
            f"{prefix}{name['boundary']} cuts the study area from an extract: give it with {name['osm']} FILE"
        )
        raise SettingsError(msg)


def _check_profile(settings: Settings, origin: str) -> None:
    from walkcircle.profile import load_profile

    prefix = f"{origin}: " if origin else ""
    try:
        profile = load_profile(settings.scoring.profile)
    except InputError as exc:
        raise SettingsError(f"{prefix}{exc}") from None
    for category, _count in settings.scoring.suggest:
        if category not in profile.category_ids:
            hint = _close(category, profile.category_ids)
            msg = f"{prefix}suggest: profile {profile.id} has no category {category!r}{hint}"
            raise SettingsError(msg)


def build_settings(
    data: Mapping[str, Any] | None = None,
    origin: str = "",
    base: Path | None = None,
    check_profile: bool = True,
) -> Settings:
    """Build validated settings from a mapping (a config file, a batch row, keywords).

    Parameters
    ----------
    data
        Sections, dotted file keys or aliases; what is missing takes its default.
    origin
        Where the mapping comes from, for messages (a file name, ``areas.csv row 3``).
    base
        Folder that relative paths are relative to.
    check_profile
        Also load the profile and check the suggested categories exist in it.

    Returns
    -------
    Settings
        The settings.

    Raises
    ------
    SettingsError
        Unknown keys, wrong types, bad values, more than one network source, unknown profile.
    """
    values = normalise(data or {}, origin, base)
    _check_sources(values, origin, {})
    settings = _assemble(values)
    if check_profile:
        _check_profile(settings, origin)
    return settings


def settings_to_aliases(settings: Settings) -> dict[str, Any]:
    """Return every setting by its alias (the inverse of `build_settings`).

    Parameters
    ----------
    settings
        The settings.

    Returns
    -------
    dict
        Alias -> value.
    """
    return {k.alias: get_value(settings, k.attr) for k in _KEYS}


def update_settings(
    settings: Settings,
    changes: Mapping[str, Any],
    origin: str = "command line",
    check_profile: bool = True,
    labels: Mapping[str, str] | None = None,
) -> Settings:
    """Return new settings with `changes` applied (the settings given are not changed).

    A network source among the changes replaces the settings' source. ``None`` means "not
    given" and changes nothing.

    Parameters
    ----------
    settings
        The settings to start from.
    changes
        Alias (or dotted file key) -> new value; values are checked like any other.
    origin
        Where the changes come from, for messages.
    check_profile
        Check the profile and suggested categories.
    labels
        How to name each alias in messages (e.g. the command-line flag ``--speed``).

    Returns
    -------
    Settings
        The updated settings.
    """
    labels = labels or {}
    given = normalise({k: v for k, v in changes.items() if v is not None}, origin, labels=labels)
    _check_sources(given, origin, labels)
    merged = settings_to_aliases(settings)
    if any(given.get(a) not in (None, False) for a in (*SOURCE_ALIASES, "boundary")):
        merged.update(osm=None, place=None, bbox=None, boundary=None, demo=False)
    merged.update(given)
    result = _assemble(merged)
    if check_profile:
        _check_profile(result, origin)
    return result


def demo_defaults(settings: Settings, given: Mapping[str, Any]) -> Settings:
    """Apply the offline demo's own defaults where the user did not choose.

    The demo is named ``demo-helsinki``, suggests 3 elderly-care sites and scores an H3 grid
    (the sample extract maps few residential buildings).

    Parameters
    ----------
    settings
        Settings with ``demo`` set.
    given
        The aliases the user set explicitly (they win).

    Returns
    -------
    Settings
        The settings.
    """
    fallback = {"name": d.DEMO_NAME, "suggest": {"elderly_care": 3}, "homes": "h3"}
    changes = {k: v for k, v in fallback.items() if k not in given}
    if "name" in changes and settings.name != d.DEFAULT_STUDY_NAME:
        changes.pop("name")  # a config file named it
    if "suggest" in changes:
        from walkcircle.profile import load_profile

        if (
            settings.scoring.suggest
            or "elderly_care" not in load_profile(settings.scoring.profile).category_ids
        ):
            changes.pop("suggest")
    return update_settings(settings, changes, check_profile=False) if changes else settings


def settings_fingerprint(settings: Settings, ignore: Sequence[str] = ("outputs.folder",)) -> str:
    """Return a short hash of every setting that changes results.

    Parameters
    ----------
    settings
        The settings.
    ignore
        Attribute paths that do not change results.

    Returns
    -------
    str
        Twelve hex digits.
    """
    values = {k.attr: get_value(settings, k.attr) for k in _KEYS if k.attr not in ignore}
    text = json.dumps(
        values,
        sort_keys=True,
        default=lambda v: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else str(v),
    )
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def changed_attrs(old: Settings, new: Settings) -> set[str]:
    """Return the attribute paths whose values differ.

    Parameters
    ----------
    old, new
        Two settings.

    Returns
    -------
    set of str
        Attribute paths such as ``"facilities.tables"``.
    """
    return {k.attr for k in _KEYS if get_value(old, k.attr) != get_value(new, k.attr)}
