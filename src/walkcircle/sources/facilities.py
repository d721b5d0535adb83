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

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle.coords import from_wgs84, normalise_crs, to_wgs84
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.geodesy import to_projected, utm_epsg
from walkcircle.profiles import Profile

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from walkcircle.sources.osm import OverpassConfig

FACILITY_COLUMNS = ["facility_id", "feature_id", "category", "name", "source", "lon", "lat"]
LON_NAMES = (
    "lon",
    "lng",
    "longitude",
    "long",
    "x",
    "经度",
    "wgs84_lng",
    "gcj02_lng",
    "bd09_lng",
    "lon_gcj02",
)
LAT_NAMES = ("lat", "latitude", "y", "纬度", "wgs84_lat", "gcj02_lat", "bd09_lat", "lat_gcj02")
LOCATION_NAMES = ("location", "坐标", "lnglat")
NAME_NAMES = ("name", "名称", "poi_name", "title")
CATEGORY_NAMES = ("category", "类别", "分类")
TYPECODE_NAMES = ("typecode", "type_code", "类型编码")
TABLE_SUFFIXES = (".csv", ".txt", ".geojson", ".json", ".gpkg", ".parquet")
DEFAULT_DEDUPE_M = 30.0


@dataclass
class LoadReport:
    """What a loader read and what it did with it."""

    source: str
    rows_read: int = 0
    kept: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    unclassified: int = 0
    unknown_labels: dict[str, int] = field(default_factory=dict)
    invalid_coordinates: int = 0
    outside_area: int = 0
    duplicates_removed: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a warning and emit it as a `WalkcircleWarning`.

        Parameters
        ----------
        message
            One line naming the file, the field and the count.
        """
        self.warnings.append(message)
        warnings.warn(message, WalkcircleWarning, stacklevel=3)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data.

        Returns
        -------
        dict
            All fields.
        """
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "kept": self.kept,
            "by_category": dict(self.by_category),
            "unclassified": self.unclassified,
            "unknown_labels": dict(self.unknown_labels),
            "invalid_coordinates": self.invalid_coordinates,
            "outside_area": self.outside_area,
            "duplicates_removed": dict(self.duplicates_removed),
            "warnings": list(self.warnings),
        }


@dataclass
class FacilityLoad:
    """Facilities and the report of how they were loaded."""

    facilities: gpd.GeoDataFrame
    reports: list[LoadReport]

    def counts(self) -> dict[str, int]:
        """Return facilities per category.

        Returns
        -------
        dict
            Category id -> count.
        """
        return {str(k): int(v) for k, v in self.facilities["category"].value_counts().items()}

    def counts_by_source(self) -> pd.DataFrame:
        """Return a category x source table of counts.

        Returns
        -------
        pandas.DataFrame
            Counts, zero-filled.
        """
        if self.facilities.empty:
            return pd.DataFrame()
        return self.facilities.groupby(["category", "source"]).size().unstack(fill_value=0)


def empty_facilities() -> gpd.GeoDataFrame:
    """Return an empty facilities table with the standard columns.

    Returns
    -------
    geopandas.GeoDataFrame
        No rows.
    """
    frame = pd.DataFrame(
        {c: pd.Series(dtype="float64" if c in ("lon", "lat") else "object") for c in FACILITY_COLUMNS}
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy([], []), crs="EPSG:4326")


def _facility_frame(
    feature_ids: Sequence[str],
    categories: Sequence[str],
    names: Sequence[str],
    lons: Sequence[float],
    lats: Sequence[float],
    source: str,
) -> gpd.GeoDataFrame:
    if not feature_ids:
        return empty_facilities()
    frame = pd.DataFrame(
        {
            "feature_id": list(feature_ids),
            "category": list(categories),
            "name": [
                str(n) if n is not None and not (isinstance(n, float) and np.isnan(n)) else "" for n in names
            ],
            "source": source,
            "lon": np.asarray(lons, np.float64),
            "lat": np.asarray(lats, np.float64),
        }
    )
    frame.insert(0, "facility_id", frame["feature_id"] + "#" + frame["category"])
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


# ---------------------------------------------------------------------------- OSM features


def representative_point(geometry: BaseGeometry) -> shapely.Point:
    """Return one point that stands for a feature: inside a polygon, halfway along a line.

    Parameters
    ----------
    geometry
        A shapely geometry in lon/lat.

    Returns
    -------
    shapely.Point
        The point.
    """
    if isinstance(geometry, shapely.Point):
        return geometry
    if geometry.geom_type in ("LineString", "MultiLineString", "LinearRing"):
        merged = shapely.line_merge(geometry) if geometry.geom_type == "MultiLineString" else geometry
        if merged.geom_type == "LineString":
            return merged.interpolate(0.5, normalized=True)
    return geometry.representative_point()


@dataclass
class OsmFeatures:
    """Tagged OSM features read once from a file: ids, tags and representative points."""

    feature_id: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    geometry: list[BaseGeometry] = field(default_factory=list)
    incomplete: int = 0

    def add(self, feature_id: str, tags: dict[str, str], geometry: BaseGeometry) -> None:
        """Append one feature (its representative point is computed here).

        Parameters
        ----------
        feature_id
            ``n123``, ``w456`` or ``r789``.
        tags
            Its OSM tags.
        geometry
            Its geometry in lon/lat.
        """
        point = representative_point(geometry)
        self.feature_id.append(feature_id)
        self.tags.append(tags)
        self.lon.append(point.x)
        self.lat.append(point.y)
        self.geometry.append(geometry)


def read_osm_features(path: str | Path, tags: Mapping[str, bool | Sequence[str]]) -> OsmFeatures:
    """Read every node, way and multipolygon carrying one of `tags` from an OSM file.

    Buildings and sites (closed ways, multipolygons) become polygons; open ways lines.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``...
    tags
        Key -> True (any value) or a list of values, as `Profile.overpass_tags` gives.

    Returns
    -------
    OsmFeatures
        The features; `incomplete` counts ways/relations whose geometry could not be built
        (members missing from the extract).
    """
    import osmium

    from walkcircle.sources.osm import _describe_osmium_error, check_readable

    path = check_readable(path)
    out = OsmFeatures()
    if not tags:
        return out
    if all(v is not True for v in tags.values()):
        # exact pairs let libosmium skip every other object before Python sees it
        wanted = osmium.filter.TagFilter(*[(k, v) for k, values in tags.items() for v in values])  # type: ignore[union-attr]
    else:
        wanted = osmium.filter.KeyFilter(*tags)
    factory = osmium.geom.WKBFactory()
    closed_ways: dict[int, tuple[dict[str, str], Any]] = {}
    ways_as_areas: set[int] = set()
    try:
        processor = osmium.FileProcessor(str(path)).with_locations().with_areas().with_filter(wanted)
        for obj in processor:
            if obj.is_node():
                if obj.location.valid():
                    out.add(f"n{obj.id}", dict(obj.tags), shapely.Point(obj.location.lon, obj.location.lat))
            elif obj.is_area():
                try:
                    geometry = shapely.from_wkb(factory.create_multipolygon(obj))
                except RuntimeError:
                    out.incomplete += 1
                    continue
                if obj.from_way():
                    ways_as_areas.add(obj.orig_id())
                    out.add(f"w{obj.orig_id()}", dict(obj.tags), geometry)
                else:
                    out.add(f"r{obj.orig_id()}", dict(obj.tags), geometry)
            elif obj.is_way():
                coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                if len(coords) < 2:
                    out.incomplete += 1
                    continue
                if obj.is_closed():
                    # an area may follow for it; use the outline only if none does
                    closed_ways[obj.id] = (dict(obj.tags), coords)
                else:
                    out.add(f"w{obj.id}", dict(obj.tags), shapely.LineString(coords))
    except RuntimeError as exc:
        msg = f"{path}: {_describe_osmium_error(exc)}"
        raise InputError(msg) from exc
    for way_id, (tags, coords) in closed_ways.items():
        if way_id not in ways_as_areas:
            out.add(f"w{way_id}", tags, shapely.LineString(coords))
    return out


def classify_osm_features(features: OsmFeatures, profile: Profile, source: str) -> FacilityLoad:
    """Turn tagged OSM features into facilities of the profile's categories.

    Parameters
    ----------
    features
        Features read from a file or a download.
    profile
        The profile whose tag rules classify them.
    source
        Label for the ``source`` column and the report.

    Returns
    -------
    FacilityLoad
        One row per (feature, category); unclassified features counted.
    """
    report = LoadReport(source=source, rows_read=len(features.feature_id))
    ids, cats, names, lons, lats = [], [], [], [], []
    for fid, tags, lon, lat in zip(
        features.feature_id, features.tags, features.lon, features.lat, strict=True
    ):
        matched = profile.classify_tags(tags)
        if not matched:
            report.unclassified += 1
            continue
        for cid in matched:
            ids.append(f"osm:{fid}")
            cats.append(cid)
            names.append(tags.get("name:zh") or tags.get("name") or tags.get("name:en") or "")
            lons.append(lon)
            lats.append(lat)
    if features.incomplete:
        report.warn(
            f"{source}: {features.incomplete} OSM ways/relations had incomplete geometry (members outside the extract) and were skipped"
        )
    frame = _facility_frame(ids, cats, names, lons, lats, source)
    report.kept = len(frame)
    report.by_category = (
        {str(k): int(v) for k, v in frame["category"].value_counts().items()} if len(frame) else {}
    )
    return FacilityLoad(frame, [report])


def facilities_from_osm_file(path: str | Path, profile: Profile) -> FacilityLoad:
    """Read and classify the facilities of an OSM file.

    Parameters
    ----------
    path
        An OSM XML or PBF file (the same file as the network, usually).
    profile
        The profile.

    Returns
    -------
    FacilityLoad
        The facilities and report.
    """
    features = read_osm_features(path, profile.overpass_tags())
    return classify_osm_features(features, profile, source=f"osm:{Path(path).name}")


def facilities_from_overpass(
    profile: Profile,
    polygon: BaseGeometry | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    *,
    config: OverpassConfig | None = None,
) -> FacilityLoad:
    """Download and classify facilities inside a polygon or bbox from Overpass (via osmnx).

    Parameters
    ----------
    profile
        The profile (its rules decide what is asked for).
    polygon
        Study area in WGS-84.
    bbox
        (west, south, east, north), if no polygon.
    config
        Endpoints, timeout, cache (shared with the network download).

    Returns
    -------
    FacilityLoad
        The facilities and report.
    """
    import osmnx as ox
    import osmnx._errors as osmnx_errors
    import requests

    from walkcircle.errors import OFFLINE_HINT, DownloadError
    from walkcircle.sources.osm import OverpassConfig, check_reachable, osmnx_settings

    config = config or OverpassConfig()
    if polygon is None:
        if bbox is None:
            msg = "give a polygon or a bbox for the facilities download"
            raise InputError(msg)
        polygon = shapely.box(*bbox)
    out = OsmFeatures()
    with osmnx_settings(config):
        check_reachable(config.overpass_url, min(config.timeout_s, 10.0))
        try:
            gdf = ox.features_from_polygon(polygon, tags=profile.overpass_tags())
        except osmnx_errors.InsufficientResponseError:
            gdf = gpd.GeoDataFrame()
        except requests.exceptions.Timeout as exc:
            msg = f"Overpass timed out after {config.timeout_s:g} s fetching facilities; raise --timeout, or {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
        except requests.exceptions.ConnectionError as exc:
            msg = f"cannot connect to {config.overpass_url} for facilities; {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
    if len(gdf):
        tag_columns = [c for c in gdf.columns if c != "geometry"]
        for (element, osm_id), row in gdf.iterrows():
            tags = {c: str(row[c]) for c in tag_columns if isinstance(row[c], str)}
            out.add(f"{str(element)[0]}{osm_id}", tags, row.geometry)
    return classify_osm_features(out, profile, source="osm:overpass")


# ---------------------------------------------------------------------------- tables


def _find_column(
    columns: Iterable[str], wanted: str | None, candidates: Sequence[str], path: Path, what: str
) -> str | None:
    columns = list(columns)
    if wanted is not None:
        if wanted not in columns:
            msg = f"{path}: no column {wanted!r} for {what}; columns are {', '.join(map(str, columns))}"
            raise InputError(msg)
        return wanted
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def _read_table(path: Path, layer: str | None) -> pd.DataFrame:
    from walkcircle.sources.osm import check_readable

    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        msg = f"{path}: unknown table type {suffix!r}; use CSV, GeoJSON, GeoPackage or GeoParquet"
        raise InputError(msg)
    check_readable(path)
    try:
        if suffix in (".csv", ".txt"):
            for encoding in ("utf-8-sig", "gb18030"):  # Chinese exports are often GBK
                try:
                    return pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
                except UnicodeDecodeError:
                    continue
            msg = f"{path}: cannot decode the CSV as UTF-8 or GBK/GB18030; save it as UTF-8"
            raise InputError(msg)
        if suffix == ".parquet":
            return gpd.read_parquet(path)
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        msg = f"{path}: the table is empty"
        raise InputError(msg) from exc
    except Exception as exc:  # pyogrio/pandas raise many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        msg = f"{path}: cannot read the table ({first})"
        raise InputError(msg) from exc


def looks_swapped(
    lon: np.ndarray, lat: np.ndarray, area: tuple[float, float, float, float] | None = None
) -> bool:
    """Tell whether a table's longitude and latitude columns are most likely swapped.

    Parameters
    ----------
    lon, lat
        Values as read from the columns named as longitude and latitude.
    area
        Optional (west, south, east, north) of the study area.

    Returns
    -------
    bool
        True if the values only make sense the other way round.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return False
    lon, lat = lon[ok], lat[ok]
    if np.mean(np.abs(lat) > 90) > 0.5 and np.mean(np.abs(lon) <= 90) > 0.5:
        return True
    if area is not None:
        w, s, e, n = area
        pad = 0.1

        def inside(x: np.ndarray, y: np.ndarray) -> float:
            return float(np.mean((x >= w - pad) & (x <= e + pad) & (y >= s - pad) & (y <= n + pad)))

        return inside(lat, lon) > 0.5 and inside(lon, lat) < 0.1
    # in China longitudes are 73-135 and latitudes 18-54: the ranges do not overlap
    china_swapped = (lon >= 17) & (lon <= 54) & (lat >= 73) & (lat <= 136)
    return bool(np.mean(china_swapped) > 0.5)


def read_facility_table(
    path: str | Path,
    profile: Profile,
    crs: str | None,
    *,
    lon_col: str | None = None,
    lat_col: str | None = None,
    category_col: str | None = None,
    typecode_col: str | None = None,
    name_col: str | None = None,
    category: str | None = None,
    layer: str | None = None,
    area: tuple[float, float, float, float] | None = None,
) -> FacilityLoad:
    """Read a facility table (CSV, GeoJSON, GeoPackage, GeoParquet) and classify its rows.

    Parameters
    ----------
    path
        The table.
    profile
        Maps the ``category`` labels or AMap ``typecode`` values onto categories.
    crs
        The coordinate system the table's coordinates are in: ``wgs84``, ``gcj02`` or
        ``bd09``. Required: AMap/Gaode and Tencent exports are GCJ-02, Baidu BD-09.
    lon_col, lat_col
        Coordinate columns (found by common names when not given; a ``location`` column
        holding ``"lon,lat"`` works too; geometry is used for GeoJSON/GeoPackage).
    category_col, typecode_col
        Column with category labels (id, zh or en name) or AMap type codes.
    name_col
        Name column.
    category
        One category for every row (e.g. a list of day-care centres), instead of a column.
    layer
        GeoPackage layer.
    area
        Study area (west, south, east, north): rows outside are counted and left out.

    Returns
    -------
    FacilityLoad
        Facilities in WGS-84 and the report (unknown labels, invalid and outside rows).
    """
    path = Path(path)
    if crs is None:
        msg = (
            f"{path}: declare the table's coordinate system (crs=wgs84|gcj02|bd09; on the command line "
            "--crs): AMap/Gaode and Tencent exports are gcj02, Baidu bd09, GPS and OSM wgs84"
        )
        raise InputError(msg)
    try:
        crs_name = normalise_crs(crs)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc
    if category is not None:
        profile.category(category)  # fails clearly if unknown

    table = _read_table(path, layer)
    report = LoadReport(source=f"table:{path.name}", rows_read=len(table))
    if len(table) == 0:
        report.warn(f"{path}: the table has no rows")
        return FacilityLoad(empty_facilities(), [report])

    lon, lat = _table_coordinates(table, path, lon_col, lat_col, crs_name)
    if looks_swapped(lon, lat, area):
        msg = (
            f"{path}: longitude and latitude look swapped (values in the longitude column are latitudes); "
            "pass the columns the other way round (--lon-col/--lat-col)"
        )
        raise InputError(msg)
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if not valid.any():
        msg = f"{path}: no row has valid coordinates; check the coordinate columns"
        raise InputError(msg)
    if (~valid).any():
        report.invalid_coordinates = int((~valid).sum())
        report.warn(f"{path}: {report.invalid_coordinates} rows without valid coordinates left out")

    wgs_lon = np.full(lon.size, np.nan)
    wgs_lat = np.full(lat.size, np.nan)
    wgs_lon[valid], wgs_lat[valid] = to_wgs84(lon[valid], lat[valid], crs_name)

    labels = _row_categories(table, path, profile, category, category_col, typecode_col, report)
    name_column = _find_column(table.columns, name_col, NAME_NAMES, path, "names")
    names = table[name_column].astype(str).tolist() if name_column else [""] * len(table)

    inside = valid.copy()
    if area is not None:
        w, s, e, n = area
        inside &= (wgs_lon >= w) & (wgs_lon <= e) & (wgs_lat >= s) & (wgs_lat <= n)
        report.outside_area = int((valid & ~inside).sum())
        if report.outside_area:
            report.warn(f"{path}: {report.outside_area} rows lie outside the study area and were left out")

    ids, cats, out_names, lons, lats = [], [], [], [], []
    for i in np.flatnonzero(inside):
        for cid in labels[i]:
            ids.append(f"{path.name}:{i + 1}")
            cats.append(cid)
            out_names.append(names[i])
            lons.append(wgs_lon[i])
            lats.append(wgs_lat[i])
    frame = _facility_frame(ids, cats, out_names, lons, lats, report.source)
    frame.attrs["declared_crs"] = crs_name
    report.kept = len(frame)
    report.by_category = (
        {str(k): int(v) for k, v in frame["category"].value_counts().items()} if len(frame) else {}
    )
    return FacilityLoad(frame, [report])


def _table_coordinates(
    table: pd.DataFrame, path: Path, lon_col: str | None, lat_col: str | None, crs_name: str
) -> tuple[np.ndarray, np.ndarray]:
    lon_name = _find_column(table.columns, lon_col, LON_NAMES, path, "longitude")
    lat_name = _find_column(table.columns, lat_col, LAT_NAMES, path, "latitude")
    if lon_name is not None and lat_name is not None:
        return (
            pd.to_numeric(table[lon_name], errors="coerce").to_numpy(np.float64),
            pd.to_numeric(table[lat_name], errors="coerce").to_numpy(np.float64),
        )
    location = _find_column(table.columns, None, LOCATION_NAMES, path, "location")
    if location is not None and lon_col is None and lat_col is None:
        parts = table[location].astype(str).str.split(",", n=1, expand=True)
        if parts.shape[1] == 2:
            return (
                pd.to_numeric(parts[0], errors="coerce").to_numpy(np.float64),
                pd.to_numeric(parts[1], errors="coerce").to_numpy(np.float64),
            )
    if isinstance(table, gpd.GeoDataFrame) and table.geometry is not None and lon_col is None:
        geo = table
        if geo.crs is not None and not geo.crs.is_geographic:
            if crs_name != "wgs84":
                msg = f"{path}: the file is in a projected CRS ({geo.crs.to_string()}), which cannot be {crs_name}; declare --crs wgs84"
                raise InputError(msg)
            geo = geo.to_crs("EPSG:4326")
        points = [representative_point(g) if g is not None and not g.is_empty else None for g in geo.geometry]
        return (
            np.array([p.x if p is not None else np.nan for p in points], np.float64),
            np.array([p.y if p is not None else np.nan for p in points], np.float64),
        )
    msg = (
        f"{path}: no coordinate columns found (looked for {', '.join(LON_NAMES[:4])} / {', '.join(LAT_NAMES[:3])} "
        f"or a 'location' column 'lon,lat'); name them with --lon-col and --lat-col"
    )
    raise InputError(msg)


def _row_categories(
    table: pd.DataFrame,
    path: Path,
    profile: Profile,
    category: str | None,
    category_col: str | None,
    typecode_col: str | None,
    report: LoadReport,
) -> list[list[str]]:
    if category is not None:
        return [[category]] * len(table)
    cat_name = _find_column(table.columns, category_col, CATEGORY_NAMES, path, "categories")
    code_name = _find_column(table.columns, typecode_col, TYPECODE_NAMES, path, "AMap type codes")
    if cat_name is None and code_name is None:
        msg = (
            f"{path}: no 'category' or AMap 'typecode' column; add one, name it with --category-col / "
            f"--typecode-col, or give one category for every row with --category ID ({', '.join(profile.category_ids)})"
        )
        raise InputError(msg)
    unknown: Counter[str] = Counter()
    out: list[list[str]] = []
    for i in range(len(table)):
        matched: list[str] = []
        if cat_name is not None:
            label = str(table[cat_name].iloc[i]).strip()
            for part in [p for p in label.replace(";", "|").split("|") if p.strip()]:
                cid = profile.category_for_label(part)
                if cid is None:
                    unknown[part.strip()] += 1
                elif cid not in matched:
                    matched.append(cid)
        if code_name is not None and not matched:
            code = str(table[code_name].iloc[i]).strip()
            matched = profile.classify_typecode(code)
            if not matched and code:
                unknown[f"typecode {code}"] += 1
        if not matched:
            report.unclassified += 1
        out.append(matched)
    if report.unclassified:
        report.unknown_labels = dict(unknown.most_common())
        top = ", ".join(f"{k} ({v})" for k, v in unknown.most_common(5))
        report.warn(
            f"{path}: {report.unclassified} rows match no category of profile {profile.id} and were left out (most common: {top or 'empty label'})"
        )
    return out


# ---------------------------------------------------------------------------- checks and merging


def _metres(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    epsg = utm_epsg(float(np.nanmedian(lon)), float(np.nanmedian(lat)))
    return to_projected(lon, lat, epsg)


def detect_crs_mismatch(
    table: gpd.GeoDataFrame, reference: gpd.GeoDataFrame, declared: str, max_match_m: float = 1500.0
) -> str | None:
    """Guess whether a table's coordinates are in another system than declared.

    Each table facility is paired with the nearest reference facility (OSM) of the same
    category, preferring one with the same name. If the displacements line up with the
    GCJ-02 (or BD-09) offset at those places, the table was probably declared wrongly.

    Parameters
    ----------
    table
        Facilities from a table, already converted to WGS-84 as declared.
    reference
        Facilities from OSM (WGS-84).
    declared
        What the table was declared as.
    max_match_m
        Pairs farther apart than this are not used.

    Returns
    -------
    str or None
        The system the data most likely is in, when that differs from `declared` and at
        least three pairs support it; else None.
    """
    if len(table) == 0 or len(reference) == 0:
        return None
    from scipy.spatial import cKDTree

    pairs_t, pairs_r = [], []
    for cid, group in table.groupby("category"):
        ref = reference[reference["category"] == cid]
        if ref.empty:
            continue
        rx, ry = _metres(ref["lon"].to_numpy(), ref["lat"].to_numpy())
        tx, ty = _metres(group["lon"].to_numpy(), group["lat"].to_numpy())
        dist, idx = cKDTree(np.column_stack([rx, ry])).query(
            np.column_stack([tx, ty]), distance_upper_bound=max_match_m
        )
        ref_names = ref["name"].to_numpy()
        for k, (d, j) in enumerate(zip(dist, idx, strict=True)):
            name = group["name"].iloc[k]
            same_name = np.flatnonzero((ref_names == name) & (name != ""))
            if same_name.size:
                j = same_name[np.argmin(np.hypot(rx[same_name] - tx[k], ry[same_name] - ty[k]))]
                d = float(np.hypot(rx[j] - tx[k], ry[j] - ty[k]))
            if np.isfinite(d) and d <= max_match_m:
                pairs_t.append(group.index[k])
                pairs_r.append(ref.index[j])
    if len(pairs_t) < 3:
        return None
    t = table.loc[pairs_t]
    r = reference.loc[pairs_r]
    r_lon, r_lat = r["lon"].to_numpy(), r["lat"].to_numpy()
    # where each hypothesis says the table point should be, given the true (OSM) position
    raw_lon, raw_lat = from_wgs84(
        t["lon"].to_numpy(), t["lat"].to_numpy(), declared
    )  # as written in the file
    errors = {}
    for system in ("wgs84", "gcj02", "bd09"):
        exp_lon, exp_lat = from_wgs84(r_lon, r_lat, system)
        x1, y1 = _metres(raw_lon, raw_lat)
        x2, y2 = _metres(exp_lon, exp_lat)
        errors[system] = float(np.median(np.hypot(x1 - x2, y1 - y2)))
    best = min(errors, key=errors.get)  # type: ignore[arg-type]
    best_err = errors[best]
    declared_err = errors[normalise_crs(declared)]
    if best != normalise_crs(declared) and best_err < 0.5 * declared_err and declared_err > 100:
        return best
    return None


def merge_facilities(loads: Sequence[FacilityLoad], dedupe_m: float = DEFAULT_DEDUPE_M) -> FacilityLoad:
    """Merge facilities from several sources, keeping near-duplicates once.

    Two facilities of the same category closer than `dedupe_m` are one place (e.g. a bus
    stop mapped as a node and as a platform, or a clinic in both OSM and a city list). The
    first source given wins, so list the most trusted source first.

    Parameters
    ----------
    loads
        Loaded facilities in priority order.
    dedupe_m
        Distance under which two facilities of one category count as one (0 disables).

    Returns
    -------
    FacilityLoad
        The merged facilities, with a report that counts the duplicates per category.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    frames = [load.facilities for load in loads if len(load.facilities)]
    reports = [r for load in loads for r in load.reports]
    merged_report = LoadReport(source="merged")
    if not frames:
        return FacilityLoad(empty_facilities(), [*reports, merged_report])
    combined = pd.concat(frames, ignore_index=True)
    keep = np.ones(len(combined), dtype=bool)
    if dedupe_m > 0:
        x, y = _metres(combined["lon"].to_numpy(), combined["lat"].to_numpy())
        for cid, idx in combined.groupby("category").indices.items():
            if idx.size < 2:
                continue
            pairs = cKDTree(np.column_stack([x[idx], y[idx]])).query_pairs(dedupe_m, output_type="ndarray")
            if pairs.size == 0:
                continue
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(idx.size, idx.size))
            _, label = connected_components(graph, directed=False)
            # the first row of each group (earliest source) stays
            first = np.zeros(idx.size, dtype=bool)
            _, first_pos = np.unique(label, return_index=True)
            first[first_pos] = True
            keep[idx[~first]] = False
            merged_report.duplicates_removed[str(cid)] = int((~first).sum())
    out = gpd.GeoDataFrame(combined[keep].reset_index(drop=True), geometry="geometry", crs="EPSG:4326")
    # facility ids stay unique even when two sources used the same feature id
    out["facility_id"] = _unique(out["facility_id"].tolist())
    merged_report.rows_read = len(combined)
    merged_report.kept = len(out)
    merged_report.by_category = {str(k): int(v) for k, v in out["category"].value_counts().items()}
    return FacilityLoad(out, [*reports, merged_report])


def _unique(values: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for v in values:
        seen[v] += 1
        out.append(v if seen[v] == 1 else f"{v}~{seen[v]}")
    return out


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


@dataclass(frozen=True)
class TableSpec:
    """How to read one facility table (the options of `read_facility_table`)."""

    path: Path
    crs: str | None
    lon_col: str | None = None
    lat_col: str | None = None
    category_col: str | None = None
    typecode_col: str | None = None
    name_col: str | None = None
    category: str | None = None
    layer: str | None = None


def collect_facilities(
    profile: Profile,
    *,
    osm_path: str | Path | None = None,
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
    osm_load = None
    if osm_path is not None:
        osm_load = facilities_from_osm_file(osm_path, profile)
    elif overpass_area is not None:
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


def read_candidate_points(
    path: str | Path, crs: str, lon_col: str | None = None, lat_col: str | None = None
) -> gpd.GeoDataFrame:
    """Read candidate sites (points) for `walkcircle.siting`, converted to WGS-84.

    Parameters
    ----------
    path
        CSV, GeoJSON, GeoPackage or GeoParquet.
    crs
        ``wgs84``, ``gcj02`` or ``bd09``.
    lon_col, lat_col
        Coordinate columns of a CSV.

    Returns
    -------
    geopandas.GeoDataFrame
        The table with ``lon``/``lat`` in WGS-84 (rows without coordinates dropped, counted
        in a warning).
    """
    path = Path(path)
    try:
        crs_name = normalise_crs(crs)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc
    table = _read_table(path, None)
    lon, lat = _table_coordinates(table, path, lon_col, lat_col, crs_name)
    valid = np.isfinite(lon) & np.isfinite(lat)
    if not valid.any():
        msg = f"{path}: no candidate has valid coordinates"
        raise InputError(msg)
    if (~valid).any():
        warnings.warn(
            f"{path}: {int((~valid).sum())} candidates without coordinates left out",
            WalkcircleWarning,
            stacklevel=2,
        )
    w_lon, w_lat = to_wgs84(lon[valid], lat[valid], crs_name)
    frame = pd.DataFrame(table).loc[valid].drop(columns=["geometry"], errors="ignore").reset_index(drop=True)
    frame["lon"] = w_lon
    frame["lat"] = w_lat
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(w_lon, w_lat), crs="EPSG:4326")
