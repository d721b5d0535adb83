"""Merging facility loads from several sources, keeping a place mapped in two of them once.

The rule (issue 12): two facility rows of one category are one place only if

- they come from different sources (a city's table and OSM, or two tables), or they are
  one OSM feature mapped twice (a stop's pole node and its platform, a shop's node and its
  building: different kinds of element or transport role, with the same name or in the same
  ``public_transport=stop_area`` relation), and
- the later row lies within ``dedupe_m`` of the row it merges into, which is always the
  first row of its group (a kept row). Groups never chain. One exception, by design: the
  second mapping of an OSM feature (within ``dedupe_m`` of its first mapping) follows the
  first mapping into the group it joins, since both are one feature; it may then lie up to
  twice ``dedupe_m`` from the group's first row.

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
    parent = np.zeros(len(combined), np.int64) - 1
    is_double = np.zeros(len(combined), dtype=bool)
    if dedupe_m > 0:
        x, y = metres_utm(combined["lon"].to_numpy(), combined["lat"].to_numpy())
        kinds = combined[OSM_KIND_COLUMN].to_numpy()
        doubles_possible = bool((kinds != "").any())
        parent, is_double = near_duplicate_parents(
            pd.factorize(combined["category"])[0],
            combined["_load"].to_numpy(),
            x,
            y,
            dedupe_m,
            name=combined["name"].fillna("").astype(str).to_numpy() if doubles_possible else None,
            osm_kind=kinds if doubles_possible else None,
            stop_area=combined[STOP_AREA_COLUMN].to_numpy() if doubles_possible else None,
        )
    keep = parent < 0
    _count_merges(combined, parent, is_double, loads, merged_report)
    columns = [c for c in FACILITY_COLUMNS if c in combined.columns]
    out = gpd.GeoDataFrame(
        combined.loc[keep, [*columns, "geometry"]].reset_index(drop=True),
        geometry="geometry",
        crs="EPSG:4326",
    )
    # facility ids stay unique even when two sources used the same feature id
    out["facility_id"] = _unique(out["facility_id"]).to_numpy()
    merged_report.rows_read = len(combined)
    merged_report.kept = len(out)
    merged_report.by_category = {str(k): int(v) for k, v in out["category"].value_counts().items()}
    return FacilityLoad(out, [*reports, merged_report])


def near_duplicate_parents(
    category: np.ndarray,
    source: np.ndarray,
    x_m: np.ndarray,
    y_m: np.ndarray,
    dedupe_m: float,
    *,
    name: np.ndarray | None = None,
    osm_kind: np.ndarray | None = None,
    stop_area: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decide which rows are another row's place (the module's rule), over arrays.

    Parameters
    ----------
    category
        Category of each row; rows are in priority order (most trusted first).
    source
        Source of each row (any labels; rows of one source need not be contiguous).
    x_m, y_m
        Projected coordinates, metres.
    dedupe_m
        Largest distance between a row and the row it merges into, metres.
    name, osm_kind, stop_area
        Per row: name, OSM kind (`walkcircle.sources.osm_features.osm_kind`, empty for
        non-OSM rows) and stop_area relation id (empty when none). Without `osm_kind`, rows
        of one source never merge.

    Returns
    -------
    parent : numpy.ndarray
        For each row, the row it merged into (always a kept row, earlier in priority), or
        -1 for a kept row.
    is_double : numpy.ndarray
        True where a row is one OSM feature mapped twice (merged within its own source).
    """
    n = len(category)
    empty = np.full(n, "", dtype=object)
    name = empty if name is None else np.asarray(name, dtype=object)
    osm_kind = empty if osm_kind is None else np.asarray(osm_kind, dtype=object)
    stop_area = empty if stop_area is None else np.asarray(stop_area, dtype=object)
    xy = np.column_stack([np.asarray(x_m, np.float64), np.asarray(y_m, np.float64)])
    parent = np.full(n, -1, np.int64)
    is_double = np.zeros(n, dtype=bool)
    if dedupe_m <= 0 or n == 0:
        return parent, is_double
    _, source_code = np.unique(np.asarray(source), return_inverse=True)
    attrs = (name, osm_kind, stop_area)
    for idx in pd.Series(np.arange(n)).groupby(np.asarray(category), sort=False).indices.values():
        _merge_category(np.sort(idx), xy, source_code, attrs, dedupe_m, parent, is_double)
    return parent, is_double


def _merge_category(
    idx: np.ndarray,
    xy: np.ndarray,
    source_code: np.ndarray,
    attrs: tuple[np.ndarray, np.ndarray, np.ndarray],
    dedupe_m: float,
    parent: np.ndarray,
    is_double: np.ndarray,
) -> None:
    """Merge the rows `idx` (one category, priority order) source by source, in place."""
    anchors = np.zeros(0, np.int64)  # kept rows of earlier sources: the first rows of groups
    for k in pd.unique(source_code[idx]):
        rows = idx[source_code[idx] == k]
        heads = _fold_doubles(rows, xy, attrs, dedupe_m, parent, is_double)
        if anchors.size:
            head_pos, anchor_pos = match_one_to_one(xy[heads], xy[anchors], dedupe_m)
            matched = heads[head_pos]
            target = anchors[anchor_pos]
            # a head's doubles follow it into the group: they are the same feature
            followers = rows[is_double[rows]]
            if followers.size and matched.size:
                lookup = dict(zip(matched.tolist(), target.tolist(), strict=True))
                parent[followers] = [lookup.get(int(p), int(p)) for p in parent[followers]]
            parent[matched] = target
            heads = heads[~np.isin(heads, matched)]
        anchors = np.concatenate([anchors, heads])


def _fold_doubles(
    rows: np.ndarray,
    xy: np.ndarray,
    attrs: tuple[np.ndarray, np.ndarray, np.ndarray],
    dedupe_m: float,
    parent: np.ndarray,
    is_double: np.ndarray,
) -> np.ndarray:
    """Fold one OSM feature mapped twice into its first mapping; return the remaining rows."""
    names, kinds, areas = (a[rows] for a in attrs)
    osm = np.flatnonzero(kinds != "")
    if osm.size < 2:
        return rows
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy[rows[osm]]).query_pairs(dedupe_m, output_type="ndarray")
    if pairs.size == 0:
        return rows
    i, j = osm[pairs[:, 0]], osm[pairs[:, 1]]
    i, j = np.minimum(i, j), np.maximum(i, j)
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
    for a, b in zip(i[order].tolist(), j[order].tolist(), strict=True):
        # b joins a only if a is a first mapping and b is not yet placed; no chains
        if folded[a] or folded[b]:
            continue
        kinds_of_a = taken_kinds.setdefault(a, {str(kinds[a])})
        if kinds[b] in kinds_of_a:
            continue  # two platforms by one pole are two platforms
        kinds_of_a.add(str(kinds[b]))
        folded[b] = True
        parent[rows[b]] = rows[a]
        is_double[rows[b]] = True
    return rows[~folded]


def match_one_to_one(a_xy: np.ndarray, b_xy: np.ndarray, within_m: float) -> tuple[np.ndarray, np.ndarray]:
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
    # only points near the smaller set can pair: find them with one tree on the smaller set
    bound = np.nextafter(within_m, np.inf)  # query's bound is strict; pairs at within_m count
    a_near = np.arange(len(a_xy))
    b_near = np.arange(len(b_xy))
    if len(a_xy) <= len(b_xy):
        b_near = np.flatnonzero(np.isfinite(cKDTree(a_xy).query(b_xy, distance_upper_bound=bound)[0]))
    else:
        a_near = np.flatnonzero(np.isfinite(cKDTree(b_xy).query(a_xy, distance_upper_bound=bound)[0]))
    if a_near.size == 0 or b_near.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sdm = cKDTree(a_xy[a_near]).sparse_distance_matrix(cKDTree(b_xy[b_near]), within_m, output_type="ndarray")
    pa, pb, d = a_near[sdm["i"]], b_near[sdm["j"]], sdm["v"]
    order = np.lexsort((pb, pa, d))
    pa, pb = pa[order], pb[order]
    out_a, out_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
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
    gone = np.flatnonzero(parent >= 0)
    categories = combined["category"].iloc[gone].astype(str).to_numpy()
    sources = combined["source"].iloc[gone].astype(str).to_numpy()
    merged_report.duplicates_removed = dict(sorted(Counter(categories.tolist()).items()))
    by_source: dict[str, dict[str, int]] = {}
    for (src, cid), n in Counter(zip(sources.tolist(), categories.tolist(), strict=True)).items():
        by_source.setdefault(src, {})[cid] = n
    merged_report.merged_by_source = {k: dict(sorted(v.items())) for k, v in sorted(by_source.items())}
    load_of = combined["_load"].to_numpy()[gone]
    double = is_double[gone]
    for k, load in enumerate(loads):
        if len(load.reports) != 1:
            continue  # an already merged load keeps its own accounting
        mine = load_of == k
        load.reports[0].merged = dict(sorted(Counter(categories[mine & ~double].tolist()).items()))
        load.reports[0].doubles = dict(sorted(Counter(categories[mine & double].tolist()).items()))


def _unique(values: pd.Series) -> pd.Series:
    """Make ids unique: the second ``x`` becomes ``x~2``, the third ``x~3``."""
    ids = values.reset_index(drop=True)
    repeated = ids.duplicated(keep=False)
    if not repeated.any():
        return ids
    sub = ids[repeated].astype(object)
    rank = sub.groupby(sub, sort=False).cumcount()
    out = ids.astype(object)
    out[repeated] = sub.where(rank == 0, sub + "~" + (rank + 1).astype(str))
    return out
