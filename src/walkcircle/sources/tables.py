"""Users' facility tables (CSV incl. GBK, GeoJSON, GeoPackage, GeoParquet) with a declared CRS.

Tables must declare their coordinate system (``wgs84``, ``gcj02`` for AMap/Gaode and Tencent,
``bd09`` for Baidu); they are converted to WGS-84 on load. Mixing them silently is the classic
error: GCJ-02 sits hundreds of metres off.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.coords import from_wgs84, normalise_crs, to_wgs84
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.profile import Profile
from walkcircle.sources.geofiles import read_shapefile
from walkcircle.sources.loads import FacilityLoad, LoadReport, _facility_frame, empty_facilities, metres_utm
from walkcircle.sources.osm_features import representative_point

if TYPE_CHECKING:
    pass

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
TABLE_SUFFIXES = (".csv", ".txt", ".geojson", ".json", ".gpkg", ".shp", ".zip", ".parquet")


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
        msg = f"{path}: unknown table type {suffix!r}; use CSV, GeoJSON, GeoPackage, Shapefile (.shp or .zip) or GeoParquet"
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
        if suffix in (".shp", ".zip"):  # GBK attributes without a .cpg: GDAL alone would read mojibake
            return read_shapefile(path, layer)
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

    classified = np.array([bool(cats) for cats in labels], dtype=bool)
    report.dropped = {
        "invalid_coordinates": int((~valid).sum()),
        "outside_area": int((valid & ~inside).sum()),
        "unclassified": int((inside & ~classified).sum()),
    }
    # one facility row per (row, category), vectorised: a 1M-row table loads in seconds
    rows = np.flatnonzero(inside)
    n_cats = np.fromiter((len(labels[i]) for i in rows), np.int64, rows.size)
    row_of = np.repeat(rows, n_cats)
    cats = [cid for i in rows for cid in labels[i]]
    ids = (path.name + ":" + pd.Series(row_of + 1).astype(str)).tolist()
    names_arr = np.asarray(names, dtype=object)
    frame = _facility_frame(
        ids, cats, names_arr[row_of].tolist(), wgs_lon[row_of], wgs_lat[row_of], report.source
    )
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
    n = len(table)
    labels = table[cat_name].astype(str).str.strip() if cat_name is not None else pd.Series([""] * n)
    codes = table[code_name].astype(str).str.strip() if code_name is not None else pd.Series([""] * n)
    keys = pd.DataFrame({"label": labels.to_numpy(), "code": codes.to_numpy()})
    group = keys.groupby(["label", "code"], sort=False, dropna=False).ngroup().to_numpy()
    # each distinct (label, code) is classified once; rows repeat them
    unknown: Counter[str] = Counter()
    per_group: list[list[str]] = []
    multiplicity = np.bincount(group)
    for g, (label, code) in enumerate(keys.drop_duplicates().itertuples(index=False, name=None)):
        matched, misses = _classify_label(
            profile, label if cat_name is not None else None, code if code_name is not None else None
        )
        per_group.append(matched)
        for miss in misses:
            unknown[miss] += int(multiplicity[g])
        if not matched:
            report.unclassified += int(multiplicity[g])
    out = [per_group[g] for g in group]
    if report.unclassified:
        report.unknown_labels = dict(unknown.most_common())
        top = ", ".join(f"{k} ({v})" for k, v in unknown.most_common(5))
        report.warn(
            f"{path}: {report.unclassified} rows match no category of profile {profile.id} and were left out (most common: {top or 'empty label'})"
        )
    return out


def _classify_label(profile: Profile, label: str | None, code: str | None) -> tuple[list[str], list[str]]:
    """Classify one category label (``|``/``;`` lists) and, failing that, one AMap code.

    Returns the category ids and the labels/codes that matched nothing.
    """
    matched: list[str] = []
    misses: list[str] = []
    if label is not None:
        for part in [p for p in label.replace(";", "|").split("|") if p.strip()]:
            cid = profile.category_for_label(part)
            if cid is None:
                misses.append(part.strip())
            elif cid not in matched:
                matched.append(cid)
    if code is not None and not matched:
        matched = profile.classify_typecode(code)
        if not matched and code:
            misses.append(f"typecode {code}")
    return matched, misses


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
        rx, ry = metres_utm(ref["lon"].to_numpy(), ref["lat"].to_numpy())
        tx, ty = metres_utm(group["lon"].to_numpy(), group["lat"].to_numpy())
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
        x1, y1 = metres_utm(raw_lon, raw_lat)
        x2, y2 = metres_utm(exp_lon, exp_lat)
        errors[system] = float(np.median(np.hypot(x1 - x2, y1 - y2)))
    best = min(errors, key=errors.get)  # type: ignore[arg-type]
    best_err = errors[best]
    declared_err = errors[normalise_crs(declared)]
    if best != normalise_crs(declared) and best_err < 0.5 * declared_err and declared_err > 100:
        return best
    return None


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
