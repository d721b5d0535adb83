"""Merging facility loads from several sources, keeping a place mapped in two of them once.

The rule (issue 12): two facility rows of one category are one place only if

- they come from different sources (a city's table and OSM, or two tables), or they are
  one OSM feature mapped twice (a stop's pole node and its platform, a shop's node and its
  building: different kinds of element or transport role, with the same name or in the same
  ``public_transport=stop_area`` relation), and
- the later row lies within ``dedupe_m`` of the row it merges into, which is always the
  first row of its group (a kept row). Groups never chain.

Distinct rows of one source stay distinct: forty shops 25 m apart along a street stay forty.
A group holds at most one row (or one OSM feature mapped twice) per source; when several rows
of a later source lie near one earlier row, the nearest pairs are matched first and the rest
stay places of their own. Sources are given in priority order (the first wins).

Everything is vectorised (KD-trees, sorted pair arrays); only the rare OSM doubles are
walked in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.defaults import DEFAULT_DEDUPE_M
from walkcircle.sources.loads import FACILITY_COLUMNS, FacilityLoad, LoadReport, empty_facilities, metres_utm

OSM_KIND_COLUMN = "osm_kind"
"""Optional column: an OSM row's element type and transport role (``n:pole``, ``w:platform``)."""
STOP_AREA_COLUMN = "stop_area"
"""Optional column: the ``public_transport=stop_area`` relation an OSM row belongs to."""


def merge_facilities(loads: Sequence[FacilityLoad], dedupe_m: float = DEFAULT_DEDUPE_M) -> FacilityLoad:
    """Merge facilities from several sources, keeping a place found in two of them once.

    See the module docstring for the rule. Every row merged away is counted per category in
    the returned ``merged`` report (``duplicates_removed``, ``merged_by_source``) and on its
    own source's report (``merged``: into another source; ``doubles``: one OSM feature
    mapped twice).

    Parameters
    ----------
    loads
        Loaded facilities in priority order (most trusted first); each load is one source.
    dedupe_m
        Distance within which two rows of different sources count as one place, metres
        (0 disables merging).

    Returns
    -------
    FacilityLoad
        The merged facilities (standard columns only) and every source's report plus a
        last report with ``source="merged"``.
    """
    frames = []
    for k, load in enumerate(loads):
        if len(load.facilities):
            frame = pd.DataFrame(load.facilities).copy()
            frame["_load"] = k
            frames.append(frame)
    reports = [r for load in loads for r in load.reports]
    merged_report = LoadReport(source="merged")
    if not frames:
        return FacilityLoad(empty_facilities(), [*reports, merged_report])
    combined = pd.concat(frames, ignore_index=True)
    for column in (OSM_KIND_COLUMN, STOP_AREA_COLUMN):
        if column not in combined.columns:
            combined[column] = ""
        combined[column] = combined[column].fillna("").astype(str)
    parent = np.full(len(combined), -1, np.int64)
    is_double = np.zeros(len(combined), dtype=bool)
    if dedupe_m > 0:
        x, y = metres_utm(combined["lon"].to_numpy(), combined["lat"].to_numpy())
        xy = np.column_stack([x, y])
        load_of = combined["_load"].to_numpy()
        for idx in combined.groupby("category", sort=False).indices.values():
            _merge_category(np.sort(idx), xy, load_of, combined, dedupe_m, parent, is_double)
    keep = parent < 0
    _count_merges(combined, parent, is_double, loads, merged_report)
    columns = [c for c in FACILITY_COLUMNS if c in combined.columns]
    out = gpd.GeoDataFrame(
        combined.loc[keep, [*columns, "geometry"]].reset_index(drop=True), geometry="geometry", crs="EPSG:4326"
    )
    # facility ids stay unique even when two sources used the same feature id
    out["facility_id"] = _unique(out["facility_id"].tolist())
    merged_report.rows_read = len(combined)
    merged_report.kept = len(out)
    merged_report.by_category = {str(k): int(v) for k, v in out["category"].value_counts().items()}
    return FacilityLoad(out, [*reports, merged_report])


def _merge_category(
    idx: np.ndarray,
    xy: np.ndarray,
    load_of: np.ndarray,
    combined: pd.DataFrame,
    dedupe_m: float,
    parent: np.ndarray,
    is_double: np.ndarray,
) -> None:
    """Merge the rows `idx` (one category, priority order) source by source, in place."""
    anchors = np.zeros(0, np.int64)  # kept rows of earlier sources: the first rows of groups
    for k in pd.unique(load_of[idx]):
        rows = idx[load_of[idx] == k]
        heads = _fold_doubles(rows, xy, combined, dedupe_m, parent, is_double)
        if anchors.size:
            head_pos, anchor_pos = match_one_to_one(xy[heads], xy[anchors], dedupe_m)
            matched = heads[head_pos]
            target = anchors[anchor_pos]
            # a head's doubles follow it into the group: they are the same feature
            follows = np.flatnonzero(is_double[rows])
            moved = {int(h): int(t) for h, t in zip(matched, target, strict=True)}
            for r in rows[follows]:
                if int(parent[r]) in moved:
                    parent[r] = moved[int(parent[r])]
            parent[matched] = target
            heads = heads[~np.isin(heads, matched)]
        anchors = np.concatenate([anchors, heads])


def _fold_doubles(
    rows: np.ndarray,
    xy: np.ndarray,
    combined: pd.DataFrame,
    dedupe_m: float,
    parent: np.ndarray,
    is_double: np.ndarray,
) -> np.ndarray:
    """Fold one OSM feature mapped twice into its first mapping; return the remaining rows."""
    kinds = combined[OSM_KIND_COLUMN].to_numpy()[rows]
    if rows.size < 2 or not (kinds != "").any():
        return rows
    from scipy.spatial import cKDTree

    osm = np.flatnonzero(kinds != "")
    pairs = cKDTree(xy[rows[osm]]).query_pairs(dedupe_m, output_type="ndarray")
    if pairs.size == 0:
        return rows
    i, j = osm[pairs[:, 0]], osm[pairs[:, 1]]
    i, j = np.minimum(i, j), np.maximum(i, j)
    names = combined["name"].fillna("").astype(str).to_numpy()[rows]
    areas = combined[STOP_AREA_COLUMN].to_numpy()[rows]
    same_name = (names[i] == names[j]) & (names[i] != "")
    same_area = (areas[i] == areas[j]) & (areas[i] != "")
    ok = (kinds[i] != kinds[j]) & (same_name | same_area)
    if not ok.any():
        return rows
    i, j = i[ok], j[ok]
    dist = np.hypot(*(xy[rows[i]] - xy[rows[j]]).T)
    order = np.lexsort((dist, j))
    folded = np.zeros(rows.size, dtype=bool)
    taken_kinds: dict[int, set[str]] = {}
    for a, b in zip(i[order], j[order], strict=True):
        # b joins a only if a is a first mapping and b is not yet placed; no chains
        if folded[a] or folded[b]:
            continue
        kinds_of_a = taken_kinds.setdefault(int(a), {str(kinds[a])})
        if kinds[b] in kinds_of_a:
            continue  # two platforms of one pole are two platforms
        kinds_of_a.add(str(kinds[b]))
        folded[b] = True
        parent[rows[b]] = rows[a]
        is_double[rows[b]] = True
    return rows[~folded]


def match_one_to_one(
    a_xy: np.ndarray, b_xy: np.ndarray, within_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pair points of `a` with points of `b` one to one, nearest pairs first, within a distance.

    Greedy by distance (ties by position): the closest pair is matched, both points leave,
    and so on. Done in vectorised rounds of mutual nearest neighbours, which gives the same
    matching.

    Parameters
    ----------
    a_xy, b_xy
        Points in metres, shapes (n, 2) and (m, 2).
    within_m
        Largest distance of a matched pair.

    Returns
    -------
    tuple of numpy.ndarray
        Positions in `a` and in `b` of the matched pairs.
    """
    from scipy.spatial import cKDTree

    if len(a_xy) == 0 or len(b_xy) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sdm = cKDTree(a_xy).sparse_distance_matrix(cKDTree(b_xy), within_m, output_type="ndarray")
    pa, pb, d = sdm["i"].astype(np.int64), sdm["j"].astype(np.int64), sdm["v"]
    order = np.lexsort((pb, pa, d))
    pa, pb = pa[order], pb[order]
    out_a, out_b = [], []
    while pa.size:
        # first occurrence = nearest remaining partner (pairs are sorted by distance)
        first_a = np.zeros(pa.size, dtype=bool)
        first_a[np.unique(pa, return_index=True)[1]] = True
        first_b = np.zeros(pb.size, dtype=bool)
        first_b[np.unique(pb, return_index=True)[1]] = True
        mutual = first_a & first_b
        out_a.append(pa[mutual])
        out_b.append(pb[mutual])
        alive = ~(np.isin(pa, pa[mutual]) | np.isin(pb, pb[mutual]))
        pa, pb = pa[alive], pb[alive]
    return np.concatenate(out_a), np.concatenate(out_b)


def _count_merges(
    combined: pd.DataFrame,
    parent: np.ndarray,
    is_double: np.ndarray,
    loads: Sequence[FacilityLoad],
    merged_report: LoadReport,
) -> None:
    """Count rows merged away per category and source, on the merged and the source reports."""
    gone = parent >= 0
    categories = combined["category"].astype(str).to_numpy()
    sources = combined["source"].astype(str).to_numpy()
    merged_report.duplicates_removed = dict(sorted(Counter(categories[gone].tolist()).items()))
    by_source: dict[str, dict[str, int]] = {}
    for (src, cid), n in Counter(zip(sources[gone].tolist(), categories[gone].tolist(), strict=True)).items():
        by_source.setdefault(src, {})[cid] = n
    merged_report.merged_by_source = {k: dict(sorted(v.items())) for k, v in sorted(by_source.items())}
    load_of = combined["_load"].to_numpy()
    for k, load in enumerate(loads):
        if len(load.reports) != 1:
            continue  # an already merged load keeps its own accounting
        mine = load_of == k
        load.reports[0].merged = dict(sorted(Counter(categories[mine & gone & ~is_double].tolist()).items()))
        load.reports[0].doubles = dict(sorted(Counter(categories[mine & is_double].tolist()).items()))


def _unique(values: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for v in values:
        seen[v] += 1
        out.append(v if seen[v] == 1 else f"{v}~{seen[v]}")
    return out
