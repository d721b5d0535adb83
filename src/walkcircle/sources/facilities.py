"""Facilities (destinations) from OSM and from users' tables, classified by a profile.

Every loader returns a `FacilityLoad`: a GeoDataFrame with one row per (feature, category)
in WGS-84, and a `LoadReport` that counts what was read, classified, left out and why. Nothing
is dropped without being counted.

Columns of the facilities table: ``facility_id`` (unique per row), ``feature_id`` (the
source feature; shared when one feature serves several categories), ``category``, ``name``,
``source``, ``lon``, ``lat``, ``geometry`` (Point, EPSG:4326).

Tables (CSV, GeoJSON, GeoPackage) must declare their coordinate system (``wgs84``,
``gcj02`` for AMap/Gaode and Tencent, ``bd09`` for Baidu); they are converted to WGS-84 on
load. Mixing them silently is the classic error: GCJ-02 sits hundreds of metres off.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.defaults import DEFAULT_DEDUPE_M
from walkcircle.profile import Profile
from walkcircle.sources.loads import FacilityLoad, source_accounting
from walkcircle.sources.merge import merge_facilities
from walkcircle.sources.osm_features import facilities_from_osm_file, facilities_from_overpass
from walkcircle.sources.tables import TableSpec, detect_crs_mismatch, read_facility_table

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from walkcircle.network import WalkNetwork
    from walkcircle.sources.osm import OverpassConfig


def category_counts_table(load: FacilityLoad, profile: Profile, lang: str = "en") -> pd.DataFrame:
    """Return counts per category and source, with every profile category listed.

    Parameters
    ----------
    load
        Merged facilities.
    profile
        The profile (categories with no facility get a row of zeros).
    lang
        ``"zh"`` or ``"en"`` for the category names.

    Returns
    -------
    pandas.DataFrame
        Index: category id; columns: name, one per source, total.
    """
    by_source = load.counts_by_source()
    rows = []
    for cat in profile.categories:
        row: dict[str, Any] = {"category": cat.id, "name": cat.name(lang)}
        if cat.id in by_source.index:
            row.update({str(k): int(v) for k, v in by_source.loc[cat.id].items()})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("category").fillna(0)
    sources = [c for c in table.columns if c != "name"]
    table[sources] = table[sources].astype(int)
    table["total"] = table[sources].sum(axis=1) if sources else 0
    return table


def empty_categories(load: FacilityLoad, profile: Profile) -> list[str]:
    """Return the profile categories with no facility at all.

    Parameters
    ----------
    load
        Facilities.
    profile
        The profile.

    Returns
    -------
    list of str
        Category ids.
    """
    counts = load.counts()
    return [c for c in profile.category_ids if counts.get(c, 0) == 0]


def collect_facilities(
    profile: Profile,
    *,
    osm_path: str | Path | None = None,
    osm_load: FacilityLoad | None = None,
    overpass_area: BaseGeometry | None = None,
    overpass_config: OverpassConfig | None = None,
    tables: Sequence[TableSpec] = (),
    area: tuple[float, float, float, float] | None = None,
    dedupe_m: float = DEFAULT_DEDUPE_M,
) -> FacilityLoad:
    """Load facilities from OSM (a file or Overpass) and any tables, check and merge them.

    Tables come first in the merge (a city's own list is trusted over the map), then OSM.
    Each table is checked against the OSM facilities for a coordinate system declared
    wrongly (GCJ-02 declared as WGS-84 and the like); a suspicion becomes a warning.

    Parameters
    ----------
    profile
        Classifies everything.
    osm_path
        OSM file to take facilities from (usually the network's file).
    osm_load
        The facilities of that file, already read (`facilities_from_osm_file`); used
        instead of `osm_path`.
    overpass_area
        Polygon to download facilities for, when the network came from Overpass.
    overpass_config
        Download settings.
    tables
        Facility tables.
    area
        Study area bounds; table rows outside are counted and left out.
    dedupe_m
        Near-duplicate distance for the merge.

    Returns
    -------
    FacilityLoad
        Merged facilities with every source's report.
    """
    if osm_load is None and osm_path is not None:
        osm_load = facilities_from_osm_file(osm_path, profile)
    elif osm_load is None and overpass_area is not None:
        osm_load = facilities_from_overpass(profile, polygon=overpass_area, config=overpass_config)
    table_loads = []
    for spec in tables:
        load = read_facility_table(
            spec.path,
            profile,
            spec.crs,
            lon_col=spec.lon_col,
            lat_col=spec.lat_col,
            category_col=spec.category_col,
            typecode_col=spec.typecode_col,
            name_col=spec.name_col,
            category=spec.category,
            layer=spec.layer,
            area=area,
        )
        if osm_load is not None and len(load.facilities):
            declared = load.facilities.attrs.get("declared_crs", "wgs84")
            likely = detect_crs_mismatch(load.facilities, osm_load.facilities, declared)
            if likely is not None:
                load.reports[0].warn(
                    f"{spec.path}: declared {declared} but the points sit where {likely} coordinates of the matching OSM "
                    f"facilities would; check --crs (AMap/Gaode and Tencent are gcj02, Baidu bd09)"
                )
        table_loads.append(load)
    loads = [*table_loads, *([osm_load] if osm_load is not None else [])]
    return merge_facilities(loads, dedupe_m=dedupe_m)


def facility_overview(
    load: FacilityLoad, profile: Profile, network: WalkNetwork, lang: str, snap_cap_m: float
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, Any]]:
    """Facilities with whether each lies on the street network, counts per category, a JSON summary.

    Parameters
    ----------
    load
        Merged facilities.
    profile
        The profile.
    network
        The walking network (a facility farther than `snap_cap_m` from a street is off it).
    lang
        ``zh`` or ``en`` for the category names.
    snap_cap_m
        Snapping cap, metres.

    Returns
    -------
    tuple
        The facilities with ``on_network``; `category_counts_table` with ``snapped_share``
        (NaN for a category without facilities); the JSON summary.
    """
    fac = load.facilities
    off = (
        network.snap(fac["lon"].to_numpy(), fac["lat"].to_numpy(), snap_cap_m).off_network if len(fac) else []
    )
    fac = fac.assign(on_network=~np.asarray(off, bool))
    counts = category_counts_table(load, profile, lang)
    share = fac.groupby("category")["on_network"].mean()
    counts["snapped_share"] = [float(share.get(c, np.nan)) for c in counts.index]
    sources = [c for c in counts.columns if c not in ("name", "total", "snapped_share")]
    payload = {
        "profile": profile.id,
        "categories": {
            cid: {
                "name": row["name"],
                "counts": {s: int(row[s]) for s in sources},
                "total": int(row["total"]),
                "snapped_share": None if np.isnan(row["snapped_share"]) else round(row["snapped_share"], 4),
            }
            for cid, row in counts.iterrows()
        },
        "empty_categories": empty_categories(load, profile),
        "duplicates_removed": load.reports[-1].duplicates_removed if load.reports else {},
        "sources": [r.as_dict() for r in load.reports[:-1]],
        "facility_sources": source_accounting(load.reports),
    }
    return fac, counts, payload
