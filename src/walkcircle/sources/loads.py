"""What every facility loader returns: the facilities table and a report of what was read.

Columns of the facilities table: ``facility_id`` (unique per row), ``feature_id`` (the
source feature; shared when one feature serves several categories), ``category``, ``name``,
``source``, ``lon``, ``lat``, ``geometry`` (Point, EPSG:4326). Nothing is dropped without
being counted in a `LoadReport`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.errors import WalkcircleWarning
from walkcircle.geodesy import to_projected, utm_epsg

if TYPE_CHECKING:
    pass

FACILITY_COLUMNS = ["facility_id", "feature_id", "category", "name", "source", "lon", "lat"]


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


def metres_utm(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS-84 points into the UTM zone of their median.

    Parameters
    ----------
    lon, lat
        Degrees.

    Returns
    -------
    tuple of numpy.ndarray
        Easting and northing, metres.
    """
    epsg = utm_epsg(float(np.nanmedian(lon)), float(np.nanmedian(lat)))
    return to_projected(lon, lat, epsg)
