"""Population from a raster (WorldPop, GHSL, any GeoTIFF of people per cell, in any CRS).

Each cell's people go to the homes inside it, so the study's population equals the raster's
total over the study area:

- a cell belongs to the study area when its centre lies inside the area polygon; its value
  is people in that cell (WorldPop "ppp" and GHSL "POP" rasters are counts per cell, not
  densities); nodata, NaN and negative cells hold nobody and are counted;
- inside a cell, homes with a building footprint (``footprint_m2`` > 0) share the people in
  proportion to their footprint area; a cell without such buildings shares them equally among
  its homes (grid points, community points, building nodes). In a cell with footprints, homes
  without one get no people (counted as ``homes_without_people``);
- a cell with people but no home keeps its people at a new home at the cell's centre
  (``orphans="new_home"``, the default: the people are scored from where they live) or gives
  them to the nearest home (``orphans="nearest_home"``). Either way the cells and people are
  counted in the report, never lost;
- homes of communities whose file gives a population keep that population (the file wins);
  the raster people in their cells are counted as replaced.

Coverage is then weighted by people because every score averages over ``population``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from walkcircle.defaults import DEFAULT_POPULATION_BAND, DEFAULT_POPULATION_ORPHANS, POPULATION_ORPHAN_RULES
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.geodesy import to_projected, utm_epsg
from walkcircle.sources.homes import homes_frame

_DENSIFY_DEG = 0.001  # area edges are curved in the raster's CRS: densify before projecting


@dataclass
class PopulationReport:
    """How a population raster was spread over the homes.

    Attributes
    ----------
    source
        The raster file name.
    raster_crs
        Its CRS, as text.
    population_source
        Which population the homes carry: ``raster``, ``communities`` (every home's community
        gave a population) or ``raster+communities``; for the report's sentence.
    cells_in_area, cells_with_people, nodata_cells
        Cells whose centre lies in the area; of those, with people > 0; with nodata/NaN/negative.
    raster_total
        People in the area's cells (the target total).
    assigned_total
        People the homes received from the raster (equals `raster_total` up to rounding).
    cells_without_homes, people_without_homes
        Cells with people but no home, and their people.
    orphans, new_homes
        What happened to those people (``new_home`` or ``nearest_home``) and how many homes
        were added.
    homes_without_people, homes_outside_area
        Homes that got nobody: in empty cells or beside footprinted buildings; in cells outside
        the area or the raster.
    community_homes, community_population, raster_people_replaced
        Homes that kept their communities file's population, that population, and the raster
        people of those homes it replaced.
    warnings
        Messages also emitted as `WalkcircleWarning`.
    """

    source: str
    raster_crs: str = ""
    population_source: str = "raster"
    cells_in_area: int = 0
    cells_with_people: int = 0
    nodata_cells: int = 0
    raster_total: float = 0.0
    assigned_total: float = 0.0
    cells_without_homes: int = 0
    people_without_homes: float = 0.0
    orphans: str = DEFAULT_POPULATION_ORPHANS
    new_homes: int = 0
    homes_without_people: int = 0
    homes_outside_area: int = 0
    community_homes: int = 0
    community_population: float = 0.0
    raster_people_replaced: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a warning and emit it as a `WalkcircleWarning`.

        Parameters
        ----------
        message
            One line naming the file and the count.
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
        return asdict(self)


@dataclass
class PopulationCells:
    """The raster window over the area: people per cell, which cells count, and their geometry."""

    people: np.ndarray  # (rows, cols), 0 outside the area and at nodata
    in_area: np.ndarray  # bool (rows, cols)
    transform: Any  # affine transform of the window
    crs: pyproj.CRS
    nodata_cells: int


def read_population_cells(
    raster_path: str | Path, area: shapely.Geometry, band: int = DEFAULT_POPULATION_BAND
) -> PopulationCells:
    """Read the raster cells over an area (WGS-84 polygon): people per cell, centre-in-area mask.

    Parameters
    ----------
    raster_path
        GeoTIFF (any CRS rasterio knows).
    area
        Study area polygon, WGS-84.
    band
        Band holding people per cell.

    Returns
    -------
    PopulationCells
        The window's people (0 outside the area and at nodata), mask and transform.
    """
    import rasterio

    from walkcircle.sources.osm import check_readable

    path = check_readable(raster_path)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        msg = f"{path}: cannot read the population raster ({str(exc).splitlines()[0]}); give a GeoTIFF"
        raise InputError(msg) from exc
    with src:
        if src.crs is None:
            msg = f"{path}: the population raster has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:4326)"
            raise InputError(msg)
        if not 1 <= band <= src.count:
            msg = f"{path}: no band {band} (the raster has {src.count})"
            raise InputError(msg)
        crs = pyproj.CRS.from_user_input(src.crs.to_wkt())
        area_r = _area_in(area, crs)
        window = _window_over(area_r.bounds, src.transform, src.width, src.height)
        if window is None:
            msg = f"{path}: the population raster does not cover the study area"
            raise InputError(msg)
        values = src.read(band, window=window, masked=True)
        transform = src.window_transform(window)
    data = np.ma.getdata(values).astype(np.float64)
    bad = np.ma.getmaskarray(values) | ~np.isfinite(data) | (data < 0)
    rows, cols = np.indices(data.shape)
    cx, cy = _cell_centres(transform, rows.ravel(), cols.ravel())
    in_area = shapely.contains_xy(area_r, cx, cy).reshape(data.shape)
    people = np.where(in_area & ~bad, data, 0.0)
    return PopulationCells(people, in_area, transform, crs, int((bad & in_area).sum()))


def _window_over(bounds: tuple[float, ...], transform: Any, width: int, height: int) -> Any:
    """Return the window of whole cells covering `bounds`, one spare cell each side, or None."""
    import rasterio.windows

    inv = ~transform
    xs = np.array([bounds[0], bounds[2], bounds[0], bounds[2]])
    ys = np.array([bounds[1], bounds[1], bounds[3], bounds[3]])
    cols = inv.a * xs + inv.b * ys + inv.c
    rows = inv.d * xs + inv.e * ys + inv.f
    c0 = max(int(np.floor(cols.min())) - 1, 0)
    r0 = max(int(np.floor(rows.min())) - 1, 0)
    c1 = min(int(np.ceil(cols.max())) + 1, width)
    r1 = min(int(np.ceil(rows.max())) + 1, height)
    if c1 <= c0 or r1 <= r0:
        return None
    return rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)


def _area_in(area: shapely.Geometry, crs: pyproj.CRS) -> shapely.Geometry:
    dense = shapely.segmentize(area, _DENSIFY_DEG)
    t = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(dense, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def _cell_centres(transform: Any, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = cols + 0.5
    r = rows + 0.5
    return transform.a * c + transform.b * r + transform.c, transform.d * c + transform.e * r + transform.f


def home_cells(lon: np.ndarray, lat: np.ndarray, cells: PopulationCells) -> np.ndarray:
    """Return the flat window cell index of each home (-1 outside the window or the area).

    Parameters
    ----------
    lon, lat
        Homes, WGS-84.
    cells
        From `read_population_cells`.

    Returns
    -------
    numpy.ndarray
        int64 flat indices into ``cells.people``.
    """
    t = pyproj.Transformer.from_crs("EPSG:4326", cells.crs, always_xy=True)
    x, y = t.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    inv = ~cells.transform
    x, y = np.asarray(x), np.asarray(y)
    col_f = inv.a * x + inv.b * y + inv.c
    row_f = inv.d * x + inv.e * y + inv.f
    col = np.floor(col_f).astype(np.int64)
    row = np.floor(row_f).astype(np.int64)
    n_rows, n_cols = cells.people.shape
    inside = (
        (row >= 0) & (row < n_rows) & (col >= 0) & (col < n_cols) & np.isfinite(col_f) & np.isfinite(row_f)
    )
    flat = np.where(inside, row * n_cols + col, -1)
    flat[inside] = np.where(cells.in_area.ravel()[flat[inside]], flat[inside], -1)
    return flat


def spread_people(people: np.ndarray, cell: np.ndarray, footprint_m2: np.ndarray) -> np.ndarray:
    """Share each cell's people among the homes in it.

    Homes with a footprint (> 0) share their cell in proportion to it; in a cell without
    footprints the homes share equally. Homes with ``cell == -1`` get nothing.

    Parameters
    ----------
    people
        People per cell (flat).
    cell
        Cell index of each home (-1: none).
    footprint_m2
        Footprint area per home (NaN or 0: none).

    Returns
    -------
    numpy.ndarray
        People per home.
    """
    n_cells = people.size
    ok = cell >= 0
    c = cell[ok]
    fp = np.nan_to_num(np.asarray(footprint_m2, np.float64)[ok], nan=0.0)
    fp = np.where(fp > 0, fp, 0.0)
    fp_sum = np.bincount(c, weights=fp, minlength=n_cells)
    count = np.bincount(c, minlength=n_cells).astype(np.float64)
    by_footprint = fp_sum[c] > 0
    share = np.where(by_footprint, fp / np.where(by_footprint, fp_sum[c], 1.0), 1.0 / count[c])
    out = np.zeros(cell.size)
    out[ok] = people[c] * share
    return out


def assign_population(
    homes: gpd.GeoDataFrame,
    raster_path: str | Path,
    area_polygon: shapely.Geometry,
    *,
    communities: gpd.GeoDataFrame | None = None,
    orphans: str = DEFAULT_POPULATION_ORPHANS,
    band: int = DEFAULT_POPULATION_BAND,
) -> tuple[gpd.GeoDataFrame, PopulationReport]:
    """Give the homes the people of a population raster (see the module docstring for the rules).

    Parameters
    ----------
    homes
        Homes (``lon``, ``lat``, ``population``, optional ``footprint_m2`` and ``community``),
        WGS-84.
    raster_path
        GeoTIFF of people per cell (WorldPop in WGS-84, GHSL in Mollweide ESRI:54009, any CRS).
    area_polygon
        The study area, WGS-84: cells whose centre lies inside count.
    communities
        Communities (``community``, ``population``): homes of a community with a known
        population keep it (the communities file wins).
    orphans
        People in cells without homes: ``new_home`` (a home at the cell centre) or
        ``nearest_home``.
    band
        Raster band.

    Returns
    -------
    tuple
        The homes (``population`` replaced, a ``population_source`` column; new homes appended
        with ``source`` = ``population_cell``) and the `PopulationReport`.
    """
    if orphans not in POPULATION_ORPHAN_RULES:
        msg = f"population orphans rule must be one of {', '.join(POPULATION_ORPHAN_RULES)} (got {orphans!r})"
        raise InputError(msg)
    path = Path(raster_path)
    cells = read_population_cells(path, area_polygon, band)
    report = PopulationReport(source=path.name, raster_crs=cells.crs.to_string(), orphans=orphans)
    people = cells.people.ravel()
    report.cells_in_area = int(cells.in_area.sum())
    report.cells_with_people = int((people > 0).sum())
    report.nodata_cells = cells.nodata_cells
    report.raster_total = float(people.sum())

    out = homes.copy()
    lon, lat = out["lon"].to_numpy(np.float64), out["lat"].to_numpy(np.float64)
    cell = home_cells(lon, lat, cells)
    footprint = (
        out["footprint_m2"].to_numpy(np.float64) if "footprint_m2" in out else np.full(len(out), np.nan)
    )
    assigned = spread_people(people, cell, footprint)
    occupied = np.bincount(cell[cell >= 0], minlength=people.size) > 0
    orphan_cells = np.flatnonzero((people > 0) & ~occupied)
    report.cells_without_homes = int(orphan_cells.size)
    report.people_without_homes = float(people[orphan_cells].sum())
    source = np.full(len(out), "raster", dtype=object)
    extra = None
    if orphan_cells.size:
        if orphans == "nearest_home" and len(out):
            assigned += _to_nearest(orphan_cells, people, cells, lon, lat)
        else:
            extra = _new_homes(orphan_cells, people, cells)
            report.new_homes = len(extra)
        report.warn(
            f"{path}: {report.cells_without_homes} raster cells hold {report.people_without_homes:.0f} people but no home; "
            + (
                "they were given to the nearest home"
                if extra is None
                else "each became a home at the cell centre"
            )
        )
    report.homes_outside_area = int((cell < 0).sum())
    report.homes_without_people = int(((assigned == 0) & (cell >= 0)).sum())
    report.assigned_total = float(assigned.sum()) + (
        float(extra["population"].sum()) if extra is not None else 0.0
    )
    population = assigned
    keep = _community_kept(out, communities)
    if keep.any():
        population = np.where(keep, out["population"].to_numpy(np.float64), assigned)
        source[keep] = "communities"
        report.community_homes = int(keep.sum())
        report.community_population = float(population[keep].sum())
        report.raster_people_replaced = float(assigned[keep].sum())
    out["population"] = population
    out["population_source"] = source
    report.population_source = _population_source(keep, extra)
    _check_total(report, path)
    if extra is not None:
        out = gpd.GeoDataFrame(
            pd.concat([out, extra], ignore_index=True), geometry="geometry", crs="EPSG:4326"
        )
    return out, report


def population_source(
    homes: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None, report: PopulationReport | None = None
) -> str:
    """Say where the study's population comes from, for summary.json and the report.

    Parameters
    ----------
    homes
        The homes (with ``community`` when communities were given).
    communities
        The communities (``population`` NaN where unknown), or None.
    report
        The raster's report, when a raster was given.

    Returns
    -------
    str
        ``raster``, ``raster+communities``, ``communities`` (the raster was not given and
        some community has a population) or ``homes`` (one resident per home).
    """
    if report is not None:
        return report.population_source
    if _community_kept(homes, communities).any():
        return "communities"
    return "homes"


def _community_kept(homes: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None) -> np.ndarray:
    if communities is None or "community" not in homes or "population" not in communities:
        return np.zeros(len(homes), bool)
    known = communities.loc[np.isfinite(communities["population"].to_numpy(np.float64)), "community"]
    return homes["community"].isin(set(known)).to_numpy()


def _population_source(keep: np.ndarray, extra: gpd.GeoDataFrame | None) -> str:
    if keep.size and keep.all() and extra is None:
        return "communities"
    return "raster+communities" if keep.any() else "raster"


def _check_total(report: PopulationReport, path: Path) -> None:
    gap = abs(report.assigned_total - report.raster_total)
    if gap > 0.005 * max(report.raster_total, 1e-9) and gap > 1e-6:
        report.warn(
            f"{path}: homes received {report.assigned_total:.0f} people of the raster's {report.raster_total:.0f} in the area"
        )


def _new_homes(orphan_cells: np.ndarray, people: np.ndarray, cells: PopulationCells) -> gpd.GeoDataFrame:
    n_cols = cells.people.shape[1]
    x, y = _cell_centres(cells.transform, orphan_cells // n_cols, orphan_cells % n_cols)
    t = pyproj.Transformer.from_crs(cells.crs, "EPSG:4326", always_xy=True)
    lon, lat = t.transform(x, y)
    frame = homes_frame(lon, lat, source="population_cell", population=people[orphan_cells], prefix="p")
    frame["population_source"] = "raster"
    return frame


def _to_nearest(
    orphan_cells: np.ndarray, people: np.ndarray, cells: PopulationCells, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    from scipy.spatial import cKDTree

    n_cols = cells.people.shape[1]
    x, y = _cell_centres(cells.transform, orphan_cells // n_cols, orphan_cells % n_cols)
    c_lon, c_lat = pyproj.Transformer.from_crs(cells.crs, "EPSG:4326", always_xy=True).transform(x, y)
    epsg = utm_epsg(float(np.median(lon)), float(np.median(lat)))
    hx, hy = to_projected(lon, lat, epsg)
    ox, oy = to_projected(np.asarray(c_lon), np.asarray(c_lat), epsg)
    _, idx = cKDTree(np.column_stack([hx, hy])).query(np.column_stack([ox, oy]))
    return np.bincount(idx, weights=people[orphan_cells], minlength=lon.size)
