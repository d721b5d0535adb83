"""Lengths on the WGS-84 ellipsoid and the local projected coordinate system."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Geod, Transformer

_GEOD = Geod(ellps="WGS84")


def geodesic_lengths(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> np.ndarray:
    """Return geodesic distances in metres between pairs of WGS-84 points.

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Arrays of equal length, in degrees.

    Returns
    -------
    numpy.ndarray
        Distances on the WGS-84 ellipsoid (Karney's algorithm via PROJ), metres.
    """
    lon1 = np.asarray(lon1, dtype=np.float64)
    if lon1.size == 0:
        return np.zeros(0, dtype=np.float64)
    _, _, dist = _GEOD.inv(
        lon1,
        np.asarray(lat1, dtype=np.float64),
        np.asarray(lon2, dtype=np.float64),
        np.asarray(lat2, dtype=np.float64),
    )
    return np.asarray(dist, dtype=np.float64)


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS-84 UTM zone that contains a point.

    Parameters
    ----------
    lon, lat
        The point, degrees.

    Returns
    -------
    int
        326xx north of the equator, 327xx south of it.
    """
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        msg = f"no UTM zone for lon={lon}, lat={lat}: coordinates out of range"
        raise ValueError(msg)
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def to_projected(lon: npt.ArrayLike, lat: npt.ArrayLike, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS-84 lon/lat onto a projected CRS (metres).

    Parameters
    ----------
    lon, lat
        Degrees.
    epsg
        Target CRS.

    Returns
    -------
    tuple of numpy.ndarray
        x and y in metres.
    """
    transformer = _transformer(4326, epsg)
    x, y = transformer.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Unproject metres in a projected CRS back to WGS-84 lon/lat.

    Parameters
    ----------
    x, y
        Metres in `epsg`.
    epsg
        Source CRS.

    Returns
    -------
    tuple of numpy.ndarray
        lon and lat in degrees.
    """
    transformer = _transformer(epsg, 4326)
    lon, lat = transformer.transform(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


@lru_cache(maxsize=16)
def _transformer(source_epsg: int, target_epsg: int) -> Transformer:
    """Return the transformer between two EPSG codes in lon/lat order, made once (thread-safe)."""
    return Transformer.from_crs(CRS.from_epsg(source_epsg), CRS.from_epsg(target_epsg), always_xy=True)
