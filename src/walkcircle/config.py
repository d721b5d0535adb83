"""The study configuration file (``walkcircle.toml``): read it into `Settings`, write a template.

The file's sections and keys are the vocabulary of `walkcircle.settings` (which validates
them); relative paths are relative to the file's own folder. Command-line flags override the
file (`walkcircle.settings.update_settings`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from walkcircle import defaults
from walkcircle.errors import InputError, SettingsError
from walkcircle.outputs.export import atomic_path
from walkcircle.settings import OutputSettings, Settings, build_settings

CONFIG_NAME = "walkcircle.toml"


def load_config(path: str | Path) -> tuple[Settings, OutputSettings]:
    """Read and validate a ``walkcircle.toml``.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple
        The settings and (for convenience) their output section.

    Raises
    ------
    SettingsError
        For a missing or unreadable file, bad TOML, unknown sections or keys, wrong types.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: config file not found; `walkcircle init` writes a commented template"
        raise SettingsError(msg)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the config file ({exc.__class__.__name__})"
        raise SettingsError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc})"
        raise SettingsError(msg) from exc
    settings = build_settings(data, origin=str(path), base=path.parent)
    return settings, settings.outputs


_TEMPLATE = """\
# walkcircle study configuration. Run it with:  walkcircle run --config walkcircle.toml
# Command-line flags override what is set here. Relative paths are relative to this file.

[study]
name = "hebi-central"          # outputs go to data/processed/<name>/ unless [outputs] folder says otherwise
profile = "{DEFAULT_PROFILE}"          # gb50180-2018, mofcom-2021, hebi-2021, or a path to your own .toml
speed_kmh = {DEFAULT_SPEED_KMH}                # {ELDERLY_SPEED_KMH} for the elderly scenario
tiers_min = [5, 10, 15]        # life-circle tiers, minutes
lang = "zh"                    # labels in maps and reports: zh or en

[network]
# Give ONE source. Overpass downloads are cached under cache_dir; a second run makes no request.
place = ["淇滨区, 鹤壁市, 河南省, 中国", "山城区, 鹤壁市, 河南省, 中国", "鹤山区, 鹤壁市, 河南省, 中国"]
# osm = "data/raw/hebi.osm.pbf"      # offline: a Geofabrik/OSM extract (.osm.pbf, .osm, .osm.bz2)
# bbox = [114.25, 35.70, 114.35, 35.80]
# overpass_url = "{DEFAULT_OVERPASS_URL}"
timeout_s = {DEFAULT_TIMEOUT_S:g}
cache_dir = "{DEFAULT_CACHE_DIR}"
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
h3_resolution = {DEFAULT_H3_RESOLUTION}
grid_m = {DEFAULT_GRID_M:g}

[scoring]
decay_factor = {DEFAULT_DECAY_FACTOR}             # scores fall from 100 at the threshold to 0 at 2x the threshold
pass_share = {DEFAULT_PASS_SHARE}               # a community meets a category when 80% of its residents are covered
gap_ratio = {DEFAULT_GAP_RATIO}                # "data gap" when the data holds < 50% of what the programme claims

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

TEMPLATE = _TEMPLATE.format(**{k: v for k, v in vars(defaults).items() if k.isupper()})


def write_template(path: str | Path, overwrite: bool = False, communities: str | None = None) -> Path:
    """Write the commented template.

    Parameters
    ----------
    path
        Target file.
    overwrite
        Replace an existing file.
    communities
        A communities table to name in ``[communities]`` (e.g. the one ``init --city`` writes).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        msg = f"{path} exists; pass --overwrite to replace it"
        raise SettingsError(msg)
    text = TEMPLATE
    if communities:
        text = text.replace(
            "# [communities]\n# path = ", f'[communities]\npath = "{communities}"  # was: ', 1
        )
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_study_start(
    path: str | Path, overwrite: bool = False, city: str | None = None
) -> tuple[list[Path], str]:
    """Write the template and, for a city walkcircle knows (``hebi``), its communities table.

    The communities table (NBS 2023 division list: code, name, sub-district, district, and empty
    population/lon/lat to fill in or geocode) is written next to the template and named in it.

    Parameters
    ----------
    path
        The template to write.
    overwrite
        Replace existing files.
    city
        A city with a shipped division list, or None.

    Returns
    -------
    tuple
        The files written, and a line describing the communities table ("" without a city).
    """
    from walkcircle.outputs.export import write_csv

    path = Path(path)
    table, target = None, None
    if city:
        from walkcircle.sources.divisions import city_communities_template

        try:
            table, target = city_communities_template(city), path.with_name(f"{city}_communities.csv")
        except InputError as exc:
            raise SettingsError(f"--city: {exc}") from None
    for file in (path, target):
        if file is not None and file.exists() and not overwrite:
            msg = f"{file} exists; pass --overwrite to replace it"
            raise SettingsError(msg)
    written = [write_template(path, overwrite=True, communities=target.name if target else None)]
    if table is None or target is None:
        return written, ""
    written.append(write_csv(table, target))
    counts = ", ".join(f"{k} {v}" for k, v in table["district"].value_counts(sort=False).items())
    return written, f"{len(table)} communities ({counts}): fill in lon/lat and population, or geocode them"
