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


DROP_REASONS = (
    "invalid_coordinates",
    "outside_area",
    "unclassified",
    "incomplete_geometry",
)
"""Why a source row can be left out; every dropped row has exactly one of these."""


@dataclass
class LoadReport:
    """What a loader read and what it did with it.

    Rows are input rows (table rows, OSM features); facility rows are (row, category) pairs,
    so one row serving two categories gives two. The accounting closes:
    ``rows_read == rows_used + sum(dropped.values())`` and, per category,
    ``by_category == kept_after_merge + merged + doubles``.

    Attributes
    ----------
    source
        ``table:<file>``, ``osm:<file>``, ``osm:overpass`` or ``merged``.
    rows_read
        Input rows (features) read.
    kept
        Facility rows the loader gave (before merging).
    by_category
        Facility rows per category (before merging).
    unclassified, unknown_labels, invalid_coordinates, outside_area
        Detail counts of the loader (they may overlap; `dropped` does not).
    dropped
        Rows left out, by reason (one reason per row, see `DROP_REASONS`).
    recovered
        Features whose full geometry could not be built (members outside the extract)
        that were kept at a point of the members present.
    merged
        Facility rows per category merged into a row of another (earlier) source.
    doubles
        Facility rows per category that were the same OSM feature mapped twice (a stop's
        node and its platform) and were merged into the other mapping.
    duplicates_removed
        On the ``merged`` report: facility rows merged away, per category.
    merged_by_source
        On the ``merged`` report: source -> category -> facility rows merged away.
    warnings
        Lines already emitted as `WalkcircleWarning`.
    """

    source: str
    rows_read: int = 0
    kept: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    unclassified: int = 0
    unknown_labels: dict[str, int] = field(default_factory=dict)
    invalid_coordinates: int = 0
    outside_area: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    merged: dict[str, int] = field(default_factory=dict)
    doubles: dict[str, int] = field(default_factory=dict)
    duplicates_removed: dict[str, int] = field(default_factory=dict)
    merged_by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_used(self) -> int:
        """Rows that gave at least one facility row (read minus dropped)."""
        return self.rows_read - sum(self.dropped.values())

    def kept_after_merge(self) -> dict[str, int]:
        """Return this source's facility rows per category that survive the merge.

        Returns
        -------
        dict
            Category id -> facility rows.
        """
        return {
            cid: n - self.merged.get(cid, 0) - self.doubles.get(cid, 0) for cid, n in self.by_category.items()
        }

    def describe(self) -> str:
        """Return one line for the console: read, dropped by reason, used, merged.

        Returns
        -------
        str
            E.g. ``table:a.csv: 120 rows read, 3 dropped (invalid_coordinates 1,
            unclassified 2), 117 used -> 130 facilities, 5 merged into other sources``.
        """
        if self.source == "merged":
            total = sum(self.duplicates_removed.values())
            detail = ", ".join(f"{k} {v}" for k, v in sorted(self.duplicates_removed.items()))
            return (
                f"merged: {self.rows_read} facility rows, {total} near-duplicates kept once"
                + (f" ({detail})" if detail else "")
                + f", {self.kept} facilities"
            )
        dropped = sum(self.dropped.values())
        reasons = ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v)
        line = f"{self.source}: {self.rows_read} rows read, {dropped} dropped"
        line += f" ({reasons})" if reasons else ""
        line += f", {self.rows_used} used -> {self.kept} facilities"
        if self.recovered:
            line += f" ({self.recovered} placed from partial geometry)"
        n_merged, n_doubles = sum(self.merged.values()), sum(self.doubles.values())
        if n_merged:
            line += f", {n_merged} merged into other sources"
        if n_doubles:
            line += f", {n_doubles} the same feature mapped twice"
        return line

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
            "rows_used": self.rows_used,
            "dropped": dict(self.dropped),
            "recovered": self.recovered,
            "merged": dict(self.merged),
            "doubles": dict(self.doubles),
            "kept_after_merge": self.kept_after_merge(),
            "duplicates_removed": dict(self.duplicates_removed),
            "merged_by_source": {k: dict(v) for k, v in self.merged_by_source.items()},
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


def source_accounting(reports: Sequence[LoadReport]) -> dict[str, Any]:
    """Return what every source gave, dropped (why) and merged, ready for summary.json.

    Parameters
    ----------
    reports
        A `FacilityLoad`'s reports (the sources' and the last ``merged`` one).

    Returns
    -------
    dict
        ``sources``: one entry per source with ``source``, ``rows_read``, ``rows_used``,
        ``dropped`` {reason: rows}, ``recovered``, ``by_category`` {category: facility
        rows}, ``merged`` and ``doubles`` {category: facility rows merged away},
        ``kept_after_merge`` {category: facility rows}, ``warnings``; ``merged``: the
        totals per category (``duplicates_removed``) and per source (``merged_by_source``)
        and the facilities kept.
    """
    sources = [r for r in reports if r.source != "merged"]
    last = next((r for r in reversed(reports) if r.source == "merged"), None)
    keys = ("source", "rows_read", "rows_used", "dropped", "recovered", "by_category", "merged", "doubles")
    out_sources = []
    for r in sources:
        d = r.as_dict()
        out_sources.append(
            {**{k: d[k] for k in keys}, "kept_after_merge": d["kept_after_merge"], "warnings": d["warnings"]}
        )
    merged = {
        "facility_rows": last.rows_read if last else sum(r.kept for r in sources),
        "kept": last.kept if last else sum(r.kept for r in sources),
        "duplicates_removed": dict(last.duplicates_removed) if last else {},
        "merged_by_source": {k: dict(v) for k, v in last.merged_by_source.items()} if last else {},
    }
    return {"sources": out_sources, "merged": merged}


def accounting_table(reports: Sequence[LoadReport]) -> pd.DataFrame:
    """Return a source x category table for the console and the report.

    Parameters
    ----------
    reports
        A `FacilityLoad`'s reports.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``category``, ``facility_rows`` (given by the source),
        ``merged`` (into another source's row), ``doubles`` (one OSM feature mapped twice),
        ``kept``; plus one row per source and drop reason with ``category`` set to
        ``"(dropped: <reason>)"`` and the row count in ``facility_rows``.
    """
    rows: list[dict[str, Any]] = []
    for r in reports:
        if r.source == "merged":
            continue
        after = r.kept_after_merge()
        for cid, n in sorted(r.by_category.items()):
            rows.append(
                {
                    "source": r.source,
                    "category": cid,
                    "facility_rows": n,
                    "merged": r.merged.get(cid, 0),
                    "doubles": r.doubles.get(cid, 0),
                    "kept": after[cid],
                }
            )
        for reason, n in r.dropped.items():
            if n:
                rows.append(
                    {"source": r.source, "category": f"(dropped: {reason})", "facility_rows": n,
                     "merged": 0, "doubles": 0, "kept": 0}
                )  # fmt: skip
    return pd.DataFrame(rows, columns=["source", "category", "facility_rows", "merged", "doubles", "kept"])


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
