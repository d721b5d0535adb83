"""The study configuration file (``walkcircle.toml``): read, validate, write a template.

Relative paths in the file are relative to the file's own folder. Unknown sections and keys
are errors that name the file and suggest the closest valid key; command-line flags override
the file.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walkcircle.errors import InputError
from walkcircle.sources.tables import TableSpec
from walkcircle.study import StudyConfig

CONFIG_NAME = "walkcircle.toml"

_SECTIONS: dict[str, set[str]] = {
    "study": {"name", "profile", "speed_kmh", "tiers_min", "lang", "snap_cap_m", "dedupe_m", "k"},
    "network": {
        "osm",
        "place",
        "bbox",
        "overpass_url",
        "nominatim_url",
        "timeout_s",
        "cache_dir",
        "include_private",
    },
    "facilities": {
        "path",
        "crs",
        "lon_col",
        "lat_col",
        "category_col",
        "typecode_col",
        "name_col",
        "category",
        "layer",
    },
    "osm_facilities": {"enabled"},
    "communities": {"path", "crs", "name_col", "population_col", "district_col"},
    "homes": {"source", "h3_resolution", "grid_m", "assign_m"},
    "scoring": {"decay_factor", "pass_share", "gap_ratio"},
    "suggest": set(),  # category = count, any category of the profile
    "outputs": {"folder", "map", "report", "basemap", "offline", "isochrones_at", "isochrone_minutes"},
}


@dataclass
class OutputOptions:
    """What `walkcircle run` writes besides the tables."""

    folder: Path | None = None
    map: bool = True
    report: bool = True
    basemap: str = "osm"
    offline: bool = True
    isochrones_at: list[tuple[float, float]] = field(default_factory=list)
    isochrone_minutes: list[float] = field(default_factory=lambda: [5.0, 10.0, 15.0])


def _close(key: str, allowed: set[str]) -> str:
    match = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f" (did you mean {match[0]!r}?)" if match else f"; expected one of {', '.join(sorted(allowed))}"


def load_config(path: str | Path) -> tuple[StudyConfig, OutputOptions]:
    """Read and validate a ``walkcircle.toml``.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple
        The study settings and the output options.

    Raises
    ------
    InputError
        For a missing or unreadable file, bad TOML, unknown sections or keys, wrong types.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: config file not found; `walkcircle init` writes a commented template"
        raise InputError(msg)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the config file ({exc.__class__.__name__})"
        raise InputError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc})"
        raise InputError(msg) from exc
    return config_from_dict(data, path)


def config_from_dict(data: Mapping[str, Any], path: Path) -> tuple[StudyConfig, OutputOptions]:
    """Validate parsed TOML and build the settings.

    Parameters
    ----------
    data
        Parsed document.
    path
        The file (for messages and relative paths).

    Returns
    -------
    tuple
        `StudyConfig` and `OutputOptions`.
    """
    base = path.parent

    def rel(value: Any, where: str) -> Path:
        if not isinstance(value, str) or not value:
            msg = f"{path}: {where} must be a path string"
            raise InputError(msg)
        p = Path(value)
        return p if p.is_absolute() else base / p

    for section, body in data.items():
        if section not in _SECTIONS:
            msg = f"{path}: unknown section [{section}]{_close(section, set(_SECTIONS))}"
            raise InputError(msg)
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            if not isinstance(table, Mapping):
                msg = f"{path}: [{section}] must be a table"
                raise InputError(msg)
            if section == "suggest":
                continue
            for key in table:
                if key not in _SECTIONS[section]:
                    msg = f"{path}: [{section}] unknown key {key!r}{_close(key, _SECTIONS[section])}"
                    raise InputError(msg)

    kw: dict[str, Any] = {}
    study = data.get("study", {})
    for key in ("name", "profile", "lang"):
        if key in study:
            kw[key] = _typed(study[key], str, path, f"[study] {key}")
    for key in ("speed_kmh", "snap_cap_m", "dedupe_m"):
        if key in study:
            kw[key] = float(_typed(study[key], (int, float), path, f"[study] {key}"))
    if "k" in study:
        kw["k"] = _typed(study["k"], int, path, "[study] k")
    if "tiers_min" in study:
        tiers = _typed(study["tiers_min"], list, path, "[study] tiers_min")
        kw["tiers_min"] = tuple(float(_typed(v, (int, float), path, "[study] tiers_min")) for v in tiers)

    network = data.get("network", {})
    if "osm" in network:
        kw["osm"] = rel(network["osm"], "[network] osm")
    if "place" in network:
        place = network["place"]
        if not (
            isinstance(place, str) or (isinstance(place, list) and all(isinstance(p, str) for p in place))
        ):
            msg = f"{path}: [network] place must be a string or a list of strings"
            raise InputError(msg)
        kw["place"] = place
    if "bbox" in network:
        bbox = _typed(network["bbox"], list, path, "[network] bbox")
        if len(bbox) != 4 or not all(isinstance(v, int | float) for v in bbox):
            msg = f"{path}: [network] bbox must be [west, south, east, north] in degrees"
            raise InputError(msg)
        kw["bbox"] = tuple(float(v) for v in bbox)
    for key, typ in (("overpass_url", str), ("nominatim_url", str), ("include_private", bool)):
        if key in network:
            kw[key] = _typed(network[key], typ, path, f"[network] {key}")
    if "timeout_s" in network:
        kw["timeout_s"] = float(_typed(network["timeout_s"], (int, float), path, "[network] timeout_s"))
    if "cache_dir" in network:
        kw["cache_dir"] = rel(network["cache_dir"], "[network] cache_dir")

    tables = data.get("facilities", [])
    tables = tables if isinstance(tables, list) else [tables]
    specs = []
    for i, table in enumerate(tables, start=1):
        if "path" not in table or "crs" not in table:
            msg = f"{path}: [[facilities]] #{i} needs path and crs (wgs84, gcj02 or bd09)"
            raise InputError(msg)
        options = {k: str(v) for k, v in table.items() if k not in ("path",)}
        specs.append(TableSpec(path=rel(table["path"], f"[[facilities]] #{i} path"), **options))
    kw["facilities"] = specs
    if "osm_facilities" in data:
        kw["osm_facilities"] = _typed(
            data["osm_facilities"].get("enabled", True), bool, path, "[osm_facilities] enabled"
        )

    communities = data.get("communities", {})
    if communities:
        if "path" not in communities:
            msg = f"{path}: [communities] needs a path"
            raise InputError(msg)
        kw["communities"] = rel(communities["path"], "[communities] path")
        for key, target in (
            ("crs", "communities_crs"), ("name_col", "community_name_col"),
            ("population_col", "population_col"), ("district_col", "district_col"),
        ):  # fmt: skip
            if key in communities:
                kw[target] = _typed(communities[key], str, path, f"[communities] {key}")

    homes = data.get("homes", {})
    if "source" in homes:
        kw["homes"] = _typed(homes["source"], str, path, "[homes] source")
    if "h3_resolution" in homes:
        kw["h3_resolution"] = _typed(homes["h3_resolution"], int, path, "[homes] h3_resolution")
    for key in ("grid_m", "assign_m"):
        if key in homes:
            kw[key] = float(_typed(homes[key], (int, float), path, f"[homes] {key}"))

    for key, value in data.get("scoring", {}).items():
        kw[key] = float(_typed(value, (int, float), path, f"[scoring] {key}"))

    suggest = {}
    for key, value in data.get("suggest", {}).items():
        count = _typed(value, int, path, f"[suggest] {key}")
        if count < 1:
            msg = f"{path}: [suggest] {key} must be a whole number >= 1"
            raise InputError(msg)
        suggest[key] = count
    kw["suggest"] = suggest

    out = data.get("outputs", {})
    options = OutputOptions()
    if "folder" in out:
        options.folder = rel(out["folder"], "[outputs] folder")
    for key in ("map", "report", "offline"):
        if key in out:
            setattr(options, key, _typed(out[key], bool, path, f"[outputs] {key}"))
    if "basemap" in out:
        options.basemap = _typed(out["basemap"], str, path, "[outputs] basemap")
    if "isochrones_at" in out:
        points = _typed(out["isochrones_at"], list, path, "[outputs] isochrones_at")
        parsed = []
        for point in points:
            if not (
                isinstance(point, list) and len(point) == 2 and all(isinstance(v, int | float) for v in point)
            ):
                msg = f"{path}: [outputs] isochrones_at must be a list of [lon, lat] pairs"
                raise InputError(msg)
            parsed.append((float(point[0]), float(point[1])))
        options.isochrones_at = parsed
    if "isochrone_minutes" in out:
        options.isochrone_minutes = [
            float(_typed(v, (int, float), path, "[outputs] isochrone_minutes"))
            for v in _typed(out["isochrone_minutes"], list, path, "[outputs] isochrone_minutes")
        ]
    return StudyConfig(**kw), options


def _typed(value: Any, types: type | tuple[type, ...], path: Path, where: str) -> Any:
    wanted = types if isinstance(types, tuple) else (types,)
    ok = False if isinstance(value, bool) and bool not in wanted else isinstance(value, wanted)
    if not ok:
        names = " or ".join(t.__name__ for t in wanted)
        msg = f"{path}: {where} must be {names} (got {value!r})"
        raise InputError(msg)
    return value


TEMPLATE = """\
# walkcircle study configuration. Run it with:  walkcircle run --config walkcircle.toml
# Command-line flags override what is set here. Relative paths are relative to this file.

[study]
name = "hebi-central"          # outputs go to data/processed/<name>/ unless [outputs] folder says otherwise
profile = "hebi-2021"          # gb50180-2018, mofcom-2021, hebi-2021, or a path to your own .toml
speed_kmh = 4.8                # 3.6 for the elderly scenario
tiers_min = [5, 10, 15]        # life-circle tiers, minutes
lang = "zh"                    # labels in maps and reports: zh or en

[network]
# Give ONE source. Overpass downloads are cached under cache_dir; a second run makes no request.
place = ["淇滨区, 鹤壁市, 河南省, 中国", "山城区, 鹤壁市, 河南省, 中国", "鹤山区, 鹤壁市, 河南省, 中国"]
# osm = "data/raw/hebi.osm.pbf"      # offline: a Geofabrik/OSM extract (.osm.pbf, .osm, .osm.bz2)
# bbox = [114.25, 35.70, 114.35, 35.80]
# overpass_url = "https://overpass-api.de/api"
timeout_s = 180
cache_dir = "data/raw"
include_private = false        # walk through gated compounds (access=private)?

# Facility tables: repeat [[facilities]] for each. crs is required:
# AMap/Gaode and Tencent exports are gcj02, Baidu bd09, GPS/OSM wgs84.
# [[facilities]]
# path = "data/amap_pois.csv"
# crs = "gcj02"
# typecode_col = "typecode"     # AMap type codes, mapped through the profile
# [[facilities]]
# path = "data/daycare_centres.csv"
# crs = "wgs84"
# category = "elderly_care"     # one category for every row

[osm_facilities]
enabled = true                 # also use facilities mapped in OpenStreetMap

# [communities]
# path = "data/communities.gpkg" # points or polygons with a name (and optionally population, district)
# crs = "wgs84"
# name_col = "name"
# population_col = "population"
# district_col = "district"

[homes]
source = "auto"                # without community polygons: auto (OSM residential buildings, else H3), osm, h3
h3_resolution = 10
grid_m = 50

[scoring]
decay_factor = 2.0             # scores fall from 100 at the threshold to 0 at 2x the threshold
pass_share = 0.8               # a community meets a category when 80% of its residents are covered
gap_ratio = 0.5                # "data gap" when the data holds < 50% of what the programme claims

[suggest]
# elderly_care = 5             # suggest 5 new sites for this category

[outputs]
map = true
report = true
basemap = "osm"                # osm, amap (GCJ-02; overlays shifted) or none
offline = true                 # self-contained HTML: no CDN needed to open the map
# isochrones_at = [[114.297, 35.748]]
isochrone_minutes = [5, 10, 15]
"""


def write_template(path: str | Path, overwrite: bool = False) -> Path:
    """Write the commented template.

    Parameters
    ----------
    path
        Target file.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from walkcircle.outputs.export import atomic_path

    path = Path(path)
    if path.exists() and not overwrite:
        msg = f"{path} exists; pass --overwrite to replace it"
        raise InputError(msg)
    with atomic_path(path) as tmp:
        tmp.write_text(TEMPLATE, encoding="utf-8")
    return path
