"""Check that a point or polygon file (communities, homes) is in the coordinate system declared.

AMap/Gaode and Tencent publish GCJ-02, Baidu BD-09; a communities file exported from them and
read as WGS-84 sits hundreds of metres off and silently changes every score. Facility tables
are checked against OSM facilities (`walkcircle.sources.tables.detect_crs_mismatch`); community
and home files are checked here against the street network and the OSM homes:

- polygons: community boundaries follow streets, so the misfit of a hypothesis is the median
  distance from points along the boundaries to the nearest street;
- points: the misfit is the median distance to the nearest OSM home (or street when there are
  no homes).

Each hypothesis (``wgs84``, ``gcj02``, ``bd09``) re-reads the coordinates as written in the
file in that system. When another system than the declared one fits clearly better (half the
misfit or less, and at least 10 m less), the check warns with the file and the fix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from walkcircle.coords import COORD_SYSTEMS, from_wgs84, in_china, normalise_crs, to_wgs84
from walkcircle.defaults import (
    SHIFT_CHECK_MAX_SAMPLES,
    SHIFT_CHECK_MIN_M,
    SHIFT_CHECK_RATIO,
    SHIFT_CHECK_SAMPLE_M,
)
from walkcircle.errors import WalkcircleWarning
from walkcircle.geodesy import to_projected

if TYPE_CHECKING:
    from collections.abc import Sequence

    from walkcircle.network import WalkNetwork

_DEG_PER_M = 1 / 111_000.0


@dataclass(frozen=True)
class AlignmentCheck:
    """The outcome of a shift check.

    Attributes
    ----------
    declared
        The system the file was read as.
    likely
        The system the data most likely are in, when it is not `declared`; else None.
    misfit_m
        Median misfit per hypothesis, metres.
    samples
        Sample points measured.
    reference
        What the samples were measured against: ``streets`` or ``homes``.
    """

    declared: str
    likely: str | None
    misfit_m: dict[str, float]
    samples: int
    reference: str


def sample_points(
    geometries: Sequence[shapely.Geometry], max_samples: int = SHIFT_CHECK_MAX_SAMPLES
) -> np.ndarray:
    """Return sample coordinates of geometries: boundary points of polygons, the points themselves.

    Parameters
    ----------
    geometries
        Points or (multi)polygons, WGS-84.
    max_samples
        At most this many (an even stride through all of them).

    Returns
    -------
    numpy.ndarray
        (n, 2) lon/lat.
    """
    geoms = np.asarray([g for g in geometries if g is not None and not g.is_empty], dtype=object)
    if geoms.size == 0:
        return np.zeros((0, 2))
    is_area = np.isin(shapely.get_type_id(geoms), [3, 6])  # Polygon, MultiPolygon: their boundaries
    areas = geoms[is_area]
    parts = [shapely.get_coordinates(geoms[~is_area])]
    if areas.size:
        boundaries = shapely.segmentize(shapely.boundary(areas), SHIFT_CHECK_SAMPLE_M * _DEG_PER_M)
        parts.append(shapely.get_coordinates(boundaries))
    coords = np.vstack(parts)
    if len(coords) > max_samples:
        coords = coords[np.linspace(0, len(coords) - 1, max_samples).astype(np.int64)]
    return coords


def alignment_check(
    geometries: Sequence[shapely.Geometry],
    declared: str | None,
    network: WalkNetwork,
    home_lonlat: tuple[np.ndarray, np.ndarray] | None = None,
) -> AlignmentCheck:
    """Measure how well geometries fit the streets (polygons) or homes (points) per coordinate system.

    Parameters
    ----------
    geometries
        The file's geometries, converted to WGS-84 as declared.
    declared
        ``wgs84``, ``gcj02`` or ``bd09`` (None: ``wgs84``); anything else (an EPSG code) is
        not checked.
    network
        The walking network of the study.
    home_lonlat
        OSM homes (lon, lat), for point files.

    Returns
    -------
    AlignmentCheck
        Misfits per hypothesis and the likely system when it differs from the declared one.
    """
    try:
        declared = normalise_crs(declared or "wgs84")
    except ValueError:  # an EPSG code (projected, CGCS2000): web shifts do not apply
        return AlignmentCheck(str(declared), None, {}, 0, "none")
    geoms = list(geometries)
    points_only = all(g is None or g.geom_type == "Point" for g in geoms)
    coords = sample_points(geoms)
    use_homes = points_only and home_lonlat is not None and len(home_lonlat[0]) > 0
    reference = "homes" if use_homes else "streets"
    if len(coords) == 0 or not in_china(coords[:, 0], coords[:, 1]).any():
        return AlignmentCheck(declared, None, {}, len(coords), reference)
    raw_lon, raw_lat = from_wgs84(coords[:, 0], coords[:, 1], declared)  # as written in the file
    distance = _homes_distance(network, home_lonlat) if use_homes else _street_distance(network)
    misfit = {}
    for system in COORD_SYSTEMS:
        lon, lat = to_wgs84(raw_lon, raw_lat, system)
        x, y = to_projected(lon, lat, network.epsg)
        misfit[system] = float(np.median(distance(x, y)))
    best = min(misfit, key=misfit.__getitem__)
    clearly = (
        misfit[best] <= SHIFT_CHECK_RATIO * misfit[declared]
        and misfit[declared] - misfit[best] >= SHIFT_CHECK_MIN_M
    )
    return AlignmentCheck(
        declared, best if best != declared and clearly else None, misfit, len(coords), reference
    )


def _street_distance(network: WalkNetwork):  # noqa: ANN202 - a closure over the network
    def distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return network.snap_xy(x, y, max_offset_m=np.inf).offset_m  # the network's own edge tree

    return distance


def _homes_distance(network: WalkNetwork, home_lonlat: tuple[np.ndarray, np.ndarray]):  # noqa: ANN202
    from scipy.spatial import cKDTree

    hx, hy = to_projected(np.asarray(home_lonlat[0]), np.asarray(home_lonlat[1]), network.epsg)
    tree = cKDTree(np.column_stack([hx, hy]))

    def distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return tree.query(np.column_stack([x, y]))[0]

    return distance


def warn_if_shifted(
    geometries: Sequence[shapely.Geometry],
    declared: str | None,
    network: WalkNetwork,
    source: object,
    home_lonlat: tuple[np.ndarray, np.ndarray] | None = None,
    flag: str = "--communities-crs",
) -> AlignmentCheck:
    """Warn (`WalkcircleWarning`) when a point/polygon file looks declared in the wrong system.

    Parameters
    ----------
    geometries
        The file's geometries, converted to WGS-84 as declared.
    declared
        What the file was declared as (``wgs84``, ``gcj02``, ``bd09``; None: ``wgs84``).
        Files declared with an EPSG code are not checked.
    network
        The study's walking network.
    source
        The file, named in the message.
    home_lonlat
        OSM homes, for point files.
    flag
        The setting that fixes it, named in the message.

    Returns
    -------
    AlignmentCheck
        The check.
    """
    check = alignment_check(geometries, declared, network, home_lonlat)
    if check.likely is not None:
        message = (
            f"{source}: the coordinates look like {check.likely}, not {check.declared}: they sit "
            f"{check.misfit_m[check.declared]:.0f} m (median) off the {check.reference} as {check.declared} and "
            f"{check.misfit_m[check.likely]:.0f} m as {check.likely}; if the file comes from "
            f"{'AMap/Gaode or Tencent' if check.likely == 'gcj02' else 'Baidu' if check.likely == 'bd09' else 'GPS or OSM'}, "
            f"declare {flag} {check.likely}"
        )
        warnings.warn(message, WalkcircleWarning, stacklevel=2)
    return check
