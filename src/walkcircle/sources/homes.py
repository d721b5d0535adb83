"""Where people live (the origins of every walk): OSM homes, communities, H3 grids.

Homes are points in WGS-84 with a population (residents the point stands for). Sources:

- residential buildings from OSM (``building=residential|apartments|house|...``), one home
  per building;
- residential landuse from OSM (``landuse=residential``) without mapped buildings, sampled
  on a regular grid (default 50 m);
- a communities file: points or polygons with a name (and optionally a population, a
  district); polygons get their homes from inside them, points are homes themselves;
- an H3 grid over the streets (resolution 10 by default, cells about 65 m across).

Columns of a homes table: ``home_id``, ``community`` (name or ""), ``population``, ``source``,
``lon``, ``lat``, ``geometry``. When no population is known every home has population 1, so
that shares are shares of homes (documented default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle.coords import to_wgs84
from walkcircle.defaults import DEFAULT_GRID_M, DEFAULT_H3_RESOLUTION
from walkcircle.errors import InputError
from walkcircle.geodesy import to_lonlat, to_projected, utm_epsg
from walkcircle.sources.geofiles import CoordinateSystem, coordinate_hint, looks_like_degrees
from walkcircle.sources.loads import LoadReport
from walkcircle.sources.osm_features import read_osm_features
from walkcircle.sources.tables import _find_column, _read_table

if TYPE_CHECKING:
    from walkcircle.network import WalkNetwork

RESIDENTIAL_BUILDINGS = (
    "residential",
    "apartments",
    "house",
    "detached",
    "semidetached_house",
    "terrace",
    "dormitory",
    "bungalow",
    "farm",
)
HOME_COLUMNS = ["home_id", "community", "population", "source", "lon", "lat"]
COMMUNITY_NAME_NAMES = ("name", "community", "名称", "社区", "社区名称", "name_zh")
POPULATION_NAMES = ("population", "pop", "人口", "常住人口", "residents")
DISTRICT_NAMES = ("district", "区", "区县", "area_name", "subdistrict", "街道", "street_name")


@dataclass
class Homes:
    """Homes, the communities they belong to, and how they were made."""

    homes: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None = None
    report: LoadReport = field(default_factory=lambda: LoadReport(source="homes"))

    @property
    def population(self) -> float:
        """Total population of the homes."""
        return float(self.homes["population"].sum()) if len(self.homes) else 0.0


def homes_frame(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    source: str,
    community: Sequence[str] | None = None,
    population: Sequence[float] | np.ndarray | None = None,
    prefix: str = "h",
) -> gpd.GeoDataFrame:
    """Build a homes table.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.
    source
        What the homes come from.
    community
        Community name per home ("" for none).
    population
        Residents per home (1 each if None).
    prefix
        Prefix of the generated ``home_id``.

    Returns
    -------
    geopandas.GeoDataFrame
        The homes.
    """
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    n = lon.size
    frame = pd.DataFrame(
        {
            "home_id": [f"{prefix}{i}" for i in range(n)],
            "community": list(community) if community is not None else [""] * n,
            "population": np.ones(n) if population is None else np.asarray(population, np.float64),
            "source": source,
            "lon": lon,
            "lat": lat,
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def grid_points_in(polygon: shapely.Geometry, spacing_m: float, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample a regular grid inside a polygon given in lon/lat.

    Parameters
    ----------
    polygon
        (Multi)Polygon in WGS-84.
    spacing_m
        Grid spacing, metres.
    epsg
        Projected CRS used for the grid.

    Returns
    -------
    tuple of numpy.ndarray
        lon, lat of the points inside (may be empty for slivers).
    """
    if spacing_m <= 0:
        msg = f"grid spacing must be > 0 m (got {spacing_m})"
        raise InputError(msg)
    coords = shapely.get_coordinates(polygon)
    x, y = to_projected(coords[:, 0], coords[:, 1], epsg)
    projected = shapely.transform(polygon, lambda c: np.column_stack(to_projected(c[:, 0], c[:, 1], epsg)))
    xmin, xmax, ymin, ymax = x.min(), x.max(), y.min(), y.max()
    # cell centres, aligned to a global lattice so neighbouring polygons share one grid
    gx = np.arange(np.floor(xmin / spacing_m) * spacing_m + spacing_m / 2, xmax, spacing_m)
    gy = np.arange(np.floor(ymin / spacing_m) * spacing_m + spacing_m / 2, ymax, spacing_m)
    if gx.size == 0 or gy.size == 0:
        return np.zeros(0), np.zeros(0)
    xx, yy = np.meshgrid(gx, gy)
    inside = shapely.contains_xy(projected, xx.ravel(), yy.ravel())
    lon, lat = to_lonlat(xx.ravel()[inside], yy.ravel()[inside], epsg)
    # edges straight in metres bow slightly in degrees: keep what is inside the polygon as given
    keep = shapely.contains_xy(polygon, lon, lat)
    return lon[keep], lat[keep]


def homes_from_osm(
    path: str | Path,
    grid_m: float = DEFAULT_GRID_M,
    buildings: bool = True,
    landuse: bool = True,
) -> Homes:
    """Homes from an OSM file: residential buildings, and residential landuse on a grid.

    Landuse areas that already contain residential buildings are not sampled again.

    Parameters
    ----------
    path
        OSM XML or PBF file.
    grid_m
        Grid spacing inside residential landuse, metres.
    buildings, landuse
        Which OSM sources to use.

    Returns
    -------
    Homes
        The homes (population 1 each).
    """
    tags: dict[str, list[str]] = {}
    if buildings:
        tags["building"] = list(RESIDENTIAL_BUILDINGS)
    if landuse:
        tags["landuse"] = ["residential"]
    features = read_osm_features(path, tags)
    report = LoadReport(source=f"osm:{Path(path).name}", rows_read=len(features.feature_id))
    b_lon, b_lat, b_geoms, areas = [], [], [], []
    for tags_i, lon, lat, geom in zip(
        features.tags, features.lon, features.lat, features.geometry, strict=True
    ):
        if buildings and tags_i.get("building") in RESIDENTIAL_BUILDINGS:
            b_lon.append(lon)
            b_lat.append(lat)
            b_geoms.append(geom)
        elif (
            landuse
            and tags_i.get("landuse") == "residential"
            and geom.geom_type in ("Polygon", "MultiPolygon")
        ):
            areas.append(geom)
    lon_parts = [np.asarray(b_lon, np.float64)]
    lat_parts = [np.asarray(b_lat, np.float64)]
    sources = ["building"] * len(b_lon)
    if areas:
        epsg = _utm_epsg_of(np.asarray(areas, dtype=object))
        building_points = shapely.points(lon_parts[0], lat_parts[0])
        has_building = _contains_any(np.asarray(areas, dtype=object), building_points)
        for area in (a for a, skip in zip(areas, has_building, strict=True) if not skip):
            g_lon, g_lat = grid_points_in(area, grid_m, epsg)
            if g_lon.size == 0:
                point = area.representative_point()
                g_lon, g_lat = np.array([point.x]), np.array([point.y])
            lon_parts.append(g_lon)
            lat_parts.append(g_lat)
            sources.extend(["landuse_grid"] * g_lon.size)
    lon = np.concatenate(lon_parts)
    lat = np.concatenate(lat_parts)
    homes = homes_frame(lon, lat, source="osm")
    homes["source"] = sources
    homes["footprint_m2"] = np.concatenate([footprint_areas_m2(b_geoms), np.zeros(len(homes) - len(b_geoms))])
    report.kept = len(homes)
    report.by_category = dict(Counter(sources))
    if len(homes) == 0:
        report.warn(
            f"{path}: no residential buildings or residential landuse in OSM; use --communities or the H3 grid"
        )
    return Homes(homes, None, report)


def footprint_areas_m2(geometries: Sequence[shapely.Geometry]) -> np.ndarray:
    """Return the footprint area of building outlines, square metres (0 for points and lines).

    Parameters
    ----------
    geometries
        Building geometries in WGS-84.

    Returns
    -------
    numpy.ndarray
        Area per geometry, in the UTM zone of the first one.
    """
    geoms = np.asarray(list(geometries), dtype=object)
    if geoms.size == 0:
        return np.zeros(0)
    epsg = utm_epsg(*shapely.get_coordinates(geoms[0])[0])
    projected = shapely.transform(geoms, lambda c: np.column_stack(to_projected(c[:, 0], c[:, 1], epsg)))
    return np.asarray(shapely.area(projected), np.float64)


def attach_footprints(homes: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Copy ``footprint_m2`` from building homes onto homes at the same position.

    `homes_for_communities` makes new home rows from the buildings inside each polygon and
    keeps only their positions; this brings their footprints back for the population raster.

    Parameters
    ----------
    homes
        Homes (``lon``, ``lat``).
    buildings
        Homes with ``footprint_m2`` (from `homes_from_osm`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``footprint_m2`` (NaN where no building has that exact position).
    """
    out = homes.copy()
    if "footprint_m2" not in buildings or len(buildings) == 0:
        out["footprint_m2"] = np.nan
        return out
    lookup = dict(
        zip(zip(buildings["lon"], buildings["lat"], strict=True), buildings["footprint_m2"], strict=True)
    )
    out["footprint_m2"] = [lookup.get(key, np.nan) for key in zip(out["lon"], out["lat"], strict=True)]
    return out


def homes_from_h3(network: WalkNetwork, resolution: int = DEFAULT_H3_RESOLUTION) -> Homes:
    """Homes at the centres of the H3 cells the street network passes through.

    Parameters
    ----------
    network
        The walking network (cells are taken along its edges).
    resolution
        H3 resolution (9: ~175 m cells, 10: ~65 m, 11: ~25 m).

    Returns
    -------
    Homes
        One home per cell, population 1, ``community`` = the cell id.
    """
    import h3

    if not 0 <= int(resolution) <= 15:
        msg = f"H3 resolution must be 0-15 (got {resolution})"
        raise InputError(msg)
    step_m = h3.average_hexagon_edge_length(int(resolution), unit="m") / 2
    lines = network.edge_lines
    dense = shapely.segmentize(lines, step_m)
    coords = shapely.get_coordinates(dense)
    lon, lat = to_lonlat(coords[:, 0], coords[:, 1], network.epsg)
    cells = sorted({h3.latlng_to_cell(la, lo, int(resolution)) for lo, la in zip(lon, lat, strict=True)})
    centres = np.array([h3.cell_to_latlng(c) for c in cells]) if cells else np.zeros((0, 2))
    homes = homes_frame(centres[:, 1], centres[:, 0], source=f"h3:r{resolution}")
    homes["h3_cell"] = cells
    report = LoadReport(source=f"h3 resolution {resolution}", rows_read=len(cells), kept=len(cells))
    return Homes(homes, None, report)


def read_communities(
    path: str | Path,
    *,
    name_col: str | None = None,
    population_col: str | None = None,
    district_col: str | None = None,
    crs: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer: str | None = None,
) -> tuple[gpd.GeoDataFrame, LoadReport]:
    """Read a communities file: points or polygons with a name.

    Official boundary files work as they come: Shapefiles with their ``.prj`` and ``.cpg``
    (GBK names without a ``.cpg`` are detected, see `walkcircle.sources.geofiles`), GeoPackage,
    GeoJSON, in CGCS2000 (EPSG:4490) or any of its Gauss-Krüger zones.

    Parameters
    ----------
    path
        CSV (with lon/lat columns), GeoJSON, GeoPackage, Shapefile or GeoParquet.
    name_col, population_col, district_col
        Columns (found by common names when not given). Names are required; duplicate
        names are made unique (``name (2)``) and reported.
    crs
        Coordinate system of the coordinates: ``wgs84``, ``gcj02``, ``bd09`` (degrees), or an
        EPSG code (``EPSG:4548``, ``4490``, ``cgcs2000``). None (not declared): the file's own
        CRS; a CSV in degrees is WGS-84; a file without a CRS is an error whose message says
        what its numbers look like (Gauss-Krüger metres and their zone, or degrees).
    lon_col, lat_col
        Coordinate columns of a CSV.
    layer
        GeoPackage layer.

    Returns
    -------
    tuple
        The communities (columns ``community``, ``population`` (NaN if unknown),
        ``district``, ``geometry`` in WGS-84) and the load report.
    """
    path = Path(path)
    declared = CoordinateSystem.parse(crs, path)
    table = _read_table(path, layer)
    report = LoadReport(source=f"communities:{path.name}", rows_read=len(table))
    if len(table) == 0:
        msg = f"{path}: the communities file has no rows"
        raise InputError(msg)
    name = _find_column(table.columns, name_col, COMMUNITY_NAME_NAMES, path, "community names")
    if name is None:
        msg = f"{path}: no name column for the communities (looked for {', '.join(COMMUNITY_NAME_NAMES)}); name it with --name-col"
        raise InputError(msg)
    names = table[name].astype(str).str.strip()
    blank = (names == "") | (names.str.lower().isin({"nan", "none"}))
    if blank.all():
        msg = f"{path}: column {name!r} is empty in every row; communities need names"
        raise InputError(msg)
    if blank.any():
        report.warn(f"{path}: {int(blank.sum())} communities have no name in {name!r}; named by row number")
        names = names.where(~blank, [f"community {i + 1}" for i in range(len(names))])
    counts = Counter(names)
    duplicates = {k: v for k, v in counts.items() if v > 1}
    if duplicates:
        seen: Counter[str] = Counter()
        unique = []
        for n in names:
            seen[n] += 1
            unique.append(n if counts[n] == 1 or seen[n] == 1 else f"{n} ({seen[n]})")
        names = pd.Series(unique, index=names.index)
        listed = ", ".join(f"{k} x{v}" for k, v in list(duplicates.items())[:5])
        report.warn(f"{path}: duplicate community names made unique with (2), (3)...: {listed}")

    population = _community_population(table, population_col, names, path, report)
    district = _find_column(table.columns, district_col, DISTRICT_NAMES, path, "districts")

    geometry = _repaired(_communities_geometry(table, path, declared, lon_col, lat_col), names, path, report)
    empty_geom = geometry.isna() | geometry.is_empty
    if empty_geom.all():
        msg = f"{path}: no community has a location"
        raise InputError(msg)
    if empty_geom.any():
        report.warn(f"{path}: {int(empty_geom.sum())} communities have no location and were left out")
    communities = gpd.GeoDataFrame(
        {
            "community": names.to_numpy(),
            "population": population.to_numpy(np.float64),
            "district": table[district].astype(str).to_numpy() if district else "",
        },
        geometry=geometry.to_numpy(),
        crs="EPSG:4326",
    )[~empty_geom.to_numpy()].reset_index(drop=True)
    report.kept = len(communities)
    return communities, report


def _repaired(geometry: gpd.GeoSeries, names: pd.Series, path: object, report: LoadReport) -> gpd.GeoSeries:
    """Repair invalid polygons (a bow-tie, a ring that crosses itself) with `shapely.make_valid`, and say so."""
    values = geometry.to_numpy()
    present = np.array([g is not None and not g.is_empty for g in values])
    invalid = present & ~shapely.is_valid(np.where(present, values, None))
    if not invalid.any():
        return geometry
    fixed = shapely.make_valid(values[invalid])
    polygonal = [
        shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
        for g in fixed
    ]
    values = values.copy()
    values[invalid] = polygonal
    listed = ", ".join(str(n) for n in names.to_numpy()[invalid][:5])
    report.warn(
        f"{path}: {int(invalid.sum())} community polygons were invalid (self-intersecting) and were repaired with make_valid: {listed}"
    )
    return gpd.GeoSeries(values, index=geometry.index, crs=geometry.crs)


def _community_population(
    table: pd.DataFrame, population_col: str | None, names: pd.Series, path: Path, report: LoadReport
) -> pd.Series:
    """Return the communities' population (NaN where unknown), checked."""
    pop_col = _find_column(table.columns, population_col, POPULATION_NAMES, path, "population")
    population = pd.Series(np.nan, index=table.index)
    if pop_col is not None:
        population = pd.to_numeric(table[pop_col], errors="coerce")
        if (population < 0).any():
            bad = names[population < 0].tolist()[:3]
            msg = (
                f"{path}: column {pop_col!r} has negative population (e.g. {', '.join(bad)}); fix the values"
            )
            raise InputError(msg)
        missing = population.isna()
        blank = table[pop_col].isna() | table[pop_col].astype(str).str.strip().str.lower().isin(
            {"", "nan", "none"}
        )
        if blank.all():  # an empty column, e.g. a communities template not filled in yet
            report.warn(
                f"{path}: column {pop_col!r} is empty; homes count one resident each unless a population raster is given"
            )
            return population.astype(np.float64)
        if missing.all():
            msg = f"{path}: column {pop_col!r} has no numeric population; fix it or leave the column out"
            raise InputError(msg)
        if missing.any():
            report.warn(
                f"{path}: {int(missing.sum())} communities have no population in {pop_col!r}; they count one resident per home"
            )
    return population


def _communities_geometry(
    table: pd.DataFrame,
    path: Path,
    declared: CoordinateSystem | None,
    lon_col: str | None,
    lat_col: str | None,
) -> gpd.GeoSeries:
    """Return the communities' geometry in WGS-84, honouring the file's and the declared CRS."""
    from walkcircle.sources.tables import _table_coordinates

    web = declared.web if declared is not None else None
    if isinstance(table, gpd.GeoDataFrame) and lon_col is None and lat_col is None:
        geo = _geo_to_wgs84(table, path, declared)
        geometry = geo.geometry
    else:
        x, y = _table_coordinates(table, path, lon_col, lat_col, web or "wgs84")
        if declared is not None and declared.crs is not None:
            located = np.isfinite(x) & np.isfinite(y)
            frame = gpd.GeoDataFrame(geometry=np.where(located, gpd.points_from_xy(x, y), None), crs=None)
            geometry = _geo_to_wgs84(frame, path, declared).geometry
            return gpd.GeoSeries(geometry.to_numpy(), index=table.index)
        if np.isfinite(x).any() and not looks_like_degrees(x, y):
            msg = f"{path}: the coordinates are not degrees; declare their CRS with --communities-crs: {coordinate_hint(x, y)}"
            raise InputError(msg)
        lon, lat = to_wgs84(x, y, web or "wgs84")
        points = gpd.points_from_xy(lon, lat)
        located = np.isfinite(lon) & np.isfinite(lat)
        return gpd.GeoSeries(np.where(located, points, None), index=table.index)
    if web not in (None, "wgs84"):
        geometry = geometry.apply(lambda g: _geometry_to_wgs84(g, web) if g is not None else None)
    return geometry


def _geo_to_wgs84(geo: gpd.GeoDataFrame, path: Path, declared: CoordinateSystem | None) -> gpd.GeoDataFrame:
    """Set the CRS a geometry file lacks (from `declared`), check it, and convert to EPSG:4326."""
    coords = shapely.get_coordinates(geo.geometry.dropna().to_numpy())
    x, y = coords[:, 0], coords[:, 1]
    web = declared.web if declared is not None else None
    if x.size == 0:  # no geometry at all: read_communities says so
        return geo.to_crs("EPSG:4326") if geo.crs is not None else geo.set_crs("EPSG:4326")
    if geo.crs is None:
        if declared is None:
            msg = f"{path}: the file has no coordinate system (no .prj or CRS); declare it with --communities-crs: {coordinate_hint(x, y)}"
            raise InputError(msg)
        geo = geo.set_crs(declared.crs if declared.crs is not None else "EPSG:4326")
    elif declared is not None and declared.crs is not None and not declared.crs.equals(geo.crs):
        msg = (
            f"{path}: the file says its CRS is {geo.crs.name} but --communities-crs says {declared.text}; "
            "leave --communities-crs out to use the file's, or fix the file's .prj"
        )
        raise InputError(msg)
    if geo.crs.is_geographic != looks_like_degrees(x, y):
        kind = "degrees" if geo.crs.is_geographic else "metres"
        msg = f"{path}: the CRS {geo.crs.name} is in {kind} but the numbers are not; declare the right one with --communities-crs: {coordinate_hint(x, y)}"
        raise InputError(msg)
    if web not in (None, "wgs84") and not geo.crs.is_geographic:
        msg = f"{path}: the file is in a projected CRS ({geo.crs.name}), which cannot be {web}; leave --communities-crs out"
        raise InputError(msg)
    return geo.to_crs("EPSG:4326")


def _geometry_to_wgs84(geometry: shapely.Geometry, crs_name: str) -> shapely.Geometry:
    return shapely.transform(geometry, lambda c: np.column_stack(to_wgs84(c[:, 0], c[:, 1], crs_name)))


def _utm_epsg_of(geoms: np.ndarray) -> int:
    """Return the EPSG code of the UTM zone of the centroid of the union of `geoms`.

    The union is skipped when it cannot matter: the centroid lies inside the bounding box,
    and UTM zones are longitude strips split by the equator, so when the four corners of the
    box share one zone, that is the zone; otherwise the union's centroid decides, as before.
    """
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    try:
        corners = {utm_epsg(x, y) for x in (xmin, xmax) for y in (ymin, ymax)}
    except ValueError:
        corners = set()
    if len(corners) == 1:
        return corners.pop()
    return utm_epsg(*shapely.union_all(geoms).centroid.coords[0])


def _contains_any(polygons: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Tell, for each polygon, whether it contains at least one of `points`.

    One STRtree query over the points instead of a loop over polygons (same predicate as
    ``shapely.contains``: a point on a polygon's boundary is not inside it).

    Parameters
    ----------
    polygons
        Shapely polygons.
    points
        Shapely points.

    Returns
    -------
    numpy.ndarray
        Boolean, one per polygon.
    """
    found = np.zeros(len(polygons), bool)
    if len(polygons) and len(points):
        poly_idx, _ = shapely.STRtree(points).query(polygons, predicate="contains")
        found[poly_idx] = True
    return found


def _points_inside(polygons: np.ndarray, points: np.ndarray) -> list[np.ndarray]:
    """For each polygon, the indices (ascending) of the `points` it contains.

    Same answer as ``[np.flatnonzero(shapely.contains(p, points)) for p in polygons]``, from
    one STRtree query (linear in polygons + points instead of their product). Geometries
    other than polygons get an empty list.

    Parameters
    ----------
    polygons
        Shapely geometries.
    points
        Shapely points.

    Returns
    -------
    list of numpy.ndarray
        Point indices per polygon.
    """
    areal = np.flatnonzero(np.isin(shapely.get_type_id(polygons), (3, 6)))  # Polygon, MultiPolygon
    if len(points) == 0 or areal.size == 0:
        return [np.zeros(0, np.int64) for _ in range(len(polygons))]
    sub_idx, point_idx = shapely.STRtree(points).query(polygons[areal], predicate="contains")
    poly_idx = areal[sub_idx]
    order = np.lexsort((point_idx, poly_idx))
    poly_idx, point_idx = poly_idx[order], point_idx[order]
    bounds = np.searchsorted(poly_idx, np.arange(len(polygons) + 1))
    return [point_idx[bounds[i] : bounds[i + 1]].astype(np.int64) for i in range(len(polygons))]


def _report_unassigned(inside: list[np.ndarray], n_candidates: int, report: LoadReport) -> None:
    """Count candidate homes outside every community polygon, or inside more than one."""
    per_candidate = np.bincount(np.concatenate(inside), minlength=n_candidates)
    outside = int((per_candidate == 0).sum())
    shared = int((per_candidate > 1).sum())
    if outside:
        report.warn(
            f"{outside} of {n_candidates} mapped homes lie outside every community polygon; they are left out"
        )
    if shared:
        report.warn(
            f"{shared} mapped homes lie inside more than one community polygon (overlapping polygons); each of those communities counts them"
        )


def _polygon_grid(polygon: shapely.Geometry, grid_m: float, epsg: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Homes of a polygon without candidates: its grid, or its representative point."""
    lon, lat = grid_points_in(polygon, grid_m, epsg)
    if lon.size:
        return lon, lat, "community_grid"
    point = polygon.representative_point()
    return np.array([point.x]), np.array([point.y]), "community_point"


def homes_for_communities(
    communities: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame | None = None,
    grid_m: float = DEFAULT_GRID_M,
    report: LoadReport | None = None,
) -> Homes:
    """Make the homes of each community.

    Polygons take the candidate homes inside them (e.g. OSM buildings); a polygon with
    none gets a grid at `grid_m`, and a sliver too small for the grid its representative
    point; both are reported, never dropped. A community point is one home. A community's
    population, when known, is shared equally among its homes.

    Parameters
    ----------
    communities
        From `read_communities`.
    candidates
        Homes to assign to polygons (optional).
    grid_m
        Grid spacing for polygons without candidates.
    report
        Report to add warnings to.

    Returns
    -------
    Homes
        Homes with ``community`` set, and the communities with an ``n_homes`` column.
    """
    report = report or LoadReport(source="communities")
    geoms = communities.geometry.to_numpy()
    epsg = _utm_epsg_of(geoms)
    has_candidates = candidates is not None and len(candidates) > 0
    if has_candidates:
        inside = _points_inside(geoms, candidates.geometry.to_numpy())
        _report_unassigned(inside, len(candidates), report)
        cand_lon = candidates["lon"].to_numpy(np.float64)
        cand_lat = candidates["lat"].to_numpy(np.float64)
    else:
        inside = [np.zeros(0, np.int64)] * len(geoms)
    lon_parts: list[np.ndarray] = []
    lat_parts: list[np.ndarray] = []
    source_parts: list[str] = []
    without_candidates: list[str] = []
    for geom, hits, name in zip(geoms, inside, communities["community"], strict=True):
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            point = geom if geom.geom_type == "Point" else geom.representative_point()
            lon, lat, source = np.array([point.x]), np.array([point.y]), "community_point"
        elif hits.size:
            lon, lat, source = cand_lon[hits], cand_lat[hits], "community_polygon"
        else:
            without_candidates.append(name)
            lon, lat, source = _polygon_grid(geom, grid_m, epsg)
        lon_parts.append(lon)
        lat_parts.append(lat)
        source_parts.append(source)
    n_homes = [part.size for part in lon_parts]
    pop = communities["population"].to_numpy(np.float64)
    per_home = np.where(np.isfinite(pop), pop / np.maximum(n_homes, 1), 1.0)
    homes = homes_frame(
        np.concatenate(lon_parts),
        np.concatenate(lat_parts),
        source="",
        community=np.repeat(communities["community"].to_numpy(), n_homes),
        population=np.repeat(per_home, n_homes),
    )
    homes["source"] = np.repeat(np.asarray(source_parts, dtype=object), n_homes)
    if without_candidates and has_candidates:
        listed = ", ".join(without_candidates[:5])
        report.warn(
            f"{len(without_candidates)} community polygons contain no mapped home; they were sampled on a {grid_m:g} m grid: {listed}"
        )
    out = communities.copy()
    out["n_homes"] = n_homes
    return Homes(homes, out, report)


def attach_population(homes: gpd.GeoDataFrame, column: str, source: Any) -> gpd.GeoDataFrame:
    """Validate and set a per-home population column.

    Parameters
    ----------
    homes
        Homes table.
    column
        Column holding residents per home.
    source
        Name of the input, for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``population`` set (missing values -> 1, negatives are an error).
    """
    if column not in homes.columns:
        msg = f"{source}: no population column {column!r}"
        raise InputError(msg)
    values = pd.to_numeric(homes[column], errors="coerce")
    if (values < 0).any():
        msg = f"{source}: column {column!r} has negative population; fix the values"
        raise InputError(msg)
    out = homes.copy()
    out["population"] = values.fillna(1.0).to_numpy(np.float64)
    return out


def assign_to_community_points(
    homes: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    max_distance_m: float = 1000.0,
    report: LoadReport | None = None,
) -> Homes:
    """Give each home the nearest community point (within `max_distance_m`).

    A community's population, when known, is shared equally among the homes assigned to it;
    a community point that no home is assigned to becomes a home itself (reported).

    Parameters
    ----------
    homes
        Candidate homes (e.g. OSM buildings or an H3 grid).
    communities
        Community points from `read_communities`.
    max_distance_m
        Homes farther than this from every community point stay unassigned (community "").
    report
        Report for warnings.

    Returns
    -------
    Homes
        Homes with ``community`` and ``population`` set, and the communities with ``n_homes``.
    """
    from scipy.spatial import cKDTree

    report = report or LoadReport(source="communities")
    points = communities.geometry.representative_point()
    epsg = utm_epsg(float(points.x.median()), float(points.y.median()))
    cx, cy = to_projected(points.x.to_numpy(), points.y.to_numpy(), epsg)
    out = homes.copy()
    if len(out):
        hx, hy = to_projected(out["lon"].to_numpy(), out["lat"].to_numpy(), epsg)
        dist, idx = cKDTree(np.column_stack([cx, cy])).query(
            np.column_stack([hx, hy]), distance_upper_bound=max_distance_m
        )
        assigned = np.isfinite(dist)
        names = communities["community"].to_numpy()
        out["community"] = np.where(assigned, names[np.minimum(idx, len(names) - 1)], "")
    else:
        out["community"] = []
    counts = out["community"].value_counts()
    lonely = [name for name in communities["community"] if counts.get(name, 0) == 0]
    if lonely:
        extra = communities[communities["community"].isin(lonely)]
        pts = extra.geometry.representative_point()
        out = pd.concat(
            [
                out,
                homes_frame(
                    pts.x.to_numpy(),
                    pts.y.to_numpy(),
                    "community_point",
                    community=extra["community"].tolist(),
                ),
            ],
            ignore_index=True,
        )
        report.warn(
            f"{len(lonely)} community points have no home within {max_distance_m:g} m; each counts as one home: "
            + ", ".join(lonely[:5])
        )
    population = out["population"].to_numpy(np.float64).copy()
    n_homes = out["community"].value_counts()
    for row in communities.itertuples(index=False):
        if np.isfinite(row.population):
            mask = (out["community"] == row.community).to_numpy()
            population[mask] = row.population / max(int(mask.sum()), 1)
    out["population"] = population
    out["home_id"] = [f"h{i}" for i in range(len(out))]
    out = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs="EPSG:4326")
    comm = communities.copy()
    comm["n_homes"] = [int(n_homes.get(name, 0)) for name in comm["community"]]
    return Homes(out, comm, report)
