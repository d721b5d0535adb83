"""Chinese web-map coordinates: GCJ-02 (AMap/Gaode, Tencent) and BD-09 (Baidu) <-> WGS-84.

GCJ-02 is WGS-84 plus a deliberate, smoothly varying offset of a few hundred metres inside
mainland China (and none outside it); BD-09 adds a further rotation-like offset on top of
GCJ-02. The forward formulas are the public ones; the inverses are solved by fixed-point
iteration until they agree with the forward transform to about a millimetre.

All functions take and return numpy arrays (or scalars) of longitude and latitude in
degrees, in that order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

CoordSystem = Literal["wgs84", "gcj02", "bd09"]
COORD_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-10  # about 0.01 mm
_MAX_ITER = 30


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
    """Return True where GCJ-02 applies (the usual rough mainland-China rectangle).

    Parameters
    ----------
    lon, lat
        Degrees.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    d_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _as_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return lon_a.astype(np.float64, copy=True), lat_a.astype(np.float64, copy=True)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 to GCJ-02 (unchanged outside China).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 lon, lat.
    """
    lon, lat = _as_arrays(lon, lat)
    d_lon, d_lat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to WGS-84 by iterating the forward formula to convergence.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 lon, lat (forward transform reproduces the input to ~1e-10 degrees).
    """
    target_lon, target_lat = _as_arrays(lon, lat)
    return _invert(wgs84_to_gcj02, target_lon, target_lat)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to BD-09.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 lon, lat.
    """
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to GCJ-02 by iterating the forward formula to convergence.

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 lon, lat.
    """
    target_lon, target_lat = _as_arrays(lon, lat)
    return _invert(gcj02_to_bd09, target_lon, target_lat)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 lon, lat.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to WGS-84 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 lon, lat.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates declared in `crs` to WGS-84.

    Parameters
    ----------
    lon, lat
        Degrees in `crs`.
    crs
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (case-insensitive; ``"wgs-84"``, ``"gcj-02"``,
        ``"bd-09"`` also accepted).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 lon, lat.
    """
    name = normalise_crs(crs)
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _as_arrays(lon, lat)


def from_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 coordinates to `crs`.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.
    crs
        Target system, as in `to_wgs84`.

    Returns
    -------
    tuple of numpy.ndarray
        lon, lat in `crs`.
    """
    name = normalise_crs(crs)
    if name == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if name == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _as_arrays(lon, lat)


def normalise_crs(crs: str) -> str:
    """Return the canonical name of a Chinese/web coordinate system.

    Parameters
    ----------
    crs
        A name such as ``"WGS-84"``, ``"gcj02"``, ``"BD09"``, ``"epsg:4326"``.

    Returns
    -------
    str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"``.

    Raises
    ------
    ValueError
        For anything else.
    """
    key = str(crs).strip().lower().replace("-", "").replace("_", "")
    aliases = {"wgs84": "wgs84", "epsg:4326": "wgs84", "gps": "wgs84", "gcj02": "gcj02", "mars": "gcj02"}
    aliases |= {"bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09", "amap": "gcj02", "gaode": "gcj02"}
    if key not in aliases:
        msg = (
            f"unknown coordinate system {crs!r}; use one of wgs84, gcj02 (AMap/Gaode, Tencent), bd09 (Baidu)"
        )
        raise ValueError(msg)
    return aliases[key]


def _invert(forward: object, target_lon: np.ndarray, target_lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x) = target by fixed-point iteration x <- x + (target - forward(x))."""
    lon = target_lon.copy()
    lat = target_lat.copy()
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(lon, lat)  # type: ignore[operator]
        err_lon = target_lon - f_lon
        err_lat = target_lat - f_lat
        lon = lon + err_lon
        lat = lat + err_lat
        finite = np.isfinite(err_lon) & np.isfinite(err_lat)
        if (
            not finite.any()
            or max(np.abs(err_lon[finite]).max(initial=0), np.abs(err_lat[finite]).max(initial=0))
            < _TOLERANCE_DEG
        ):
            break
    return lon, lat
