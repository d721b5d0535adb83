"""Merging facility loads from several sources, keeping near-duplicates once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.defaults import DEFAULT_DEDUPE_M
from walkcircle.sources.loads import FacilityLoad, LoadReport, empty_facilities, metres_utm

if TYPE_CHECKING:
    pass


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
        x, y = metres_utm(combined["lon"].to_numpy(), combined["lat"].to_numpy())
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
