"""Scenarios: what a plan changes (现状 vs 规划), from a baseline's kept state, in well under a second.

A scenario opens planned facilities and closes existing ones. The baseline must have been
computed with ``compute_access(..., keep_state=True)``; `run_scenario` then updates it with
`walkcircle.incremental.apply_changes` (its results equal a full recompute: see that module),
and `change_tables` turns the two results into what a planner reads: per category and per
community, before and after, who is newly covered and who newly is not.

The same tables compare two finished studies (`walkcircle.compare`). Column names are plain
English ids; the outputs translate them.

    >>> base = compute_access(net, homes, facilities, ..., keep_state=True)   # doctest: +SKIP
    >>> planned = read_planned("planned.csv", profile, crs="gcj02").facilities   # doctest: +SKIP
    >>> closed = match_closed(read_closed_table("closed.csv"), facilities)   # doctest: +SKIP
    >>> result = run_scenario(net, base, facilities, planned, closed.rows)   # doctest: +SKIP
    >>> tables = change_tables(homes, home_table(base, profile), home_table(result.access, profile),
    ...                        base.categories, facility_counts(...), facility_counts(...))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.access import AccessResult
from walkcircle.coords import normalise_crs, to_wgs84
from walkcircle.defaults import DEFAULT_CLOSED_MATCH_M, DEFAULT_SNAP_CAP_M, KNN_REACH_FACTOR, SCENARIO_LABELS
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.incremental import AccessState, apply_changes, point_seeds
from walkcircle.scoring import ScoringRules, community_table, programme_summary
from walkcircle.sources.loads import FACILITY_COLUMNS, FacilityLoad, metres_utm
from walkcircle.sources.tables import read_facility_table

if TYPE_CHECKING:
    from walkcircle.network import WalkNetwork
    from walkcircle.profile import Profile
    from walkcircle.siting import Suggestion

__all__ = [
    "ChangeTables",
    "ClosedMatch",
    "ScenarioResult",
    "access_from_state",
    "change_tables",
    "match_closed",
    "read_closed_table",
    "read_planned",
    "run_scenario",
    "suggestions_to_planned",
]


# ---------------------------------------------------------------------------- inputs


def read_planned(path: str | Path, profile: Profile, crs: str | None, **options: Any) -> FacilityLoad:
    """Read planned facilities: the same formats and column rules as any facility table.

    Parameters
    ----------
    path
        CSV, GeoJSON, GeoPackage or GeoParquet (category or AMap type code, name, coordinates).
    profile
        Classifies the rows.
    crs
        ``wgs84``, ``gcj02`` or ``bd09`` (required).
    **options
        Passed to `walkcircle.sources.tables.read_facility_table` (``lon_col``, ``category``,
        ``area``...).

    Returns
    -------
    FacilityLoad
        The planned facilities (``source`` ``planned:<file>``) and the load report.
    """
    load = read_facility_table(path, profile, crs, **options)
    load.facilities["source"] = f"planned:{Path(path).name}"
    return load


def suggestions_to_planned(suggestions: Sequence[Suggestion]) -> gpd.GeoDataFrame:
    """Turn site suggestions into planned facilities ("apply suggestions").

    Parameters
    ----------
    suggestions
        `walkcircle.siting.Suggestion` results.

    Returns
    -------
    geopandas.GeoDataFrame
        One facility per suggested site, ids ``suggested:<category>:<rank>``.
    """
    rows = []
    for s in suggestions:
        for site in s.sites.itertuples():
            fid = f"suggested:{site.category}:{site.rank}"
            rows.append(
                {
                    "facility_id": fid, "feature_id": fid, "category": str(site.category),
                    "name": str(site.candidate), "source": "suggestion", "lon": float(site.lon), "lat": float(site.lat),
                }
            )  # fmt: skip
    frame = pd.DataFrame(rows, columns=FACILITY_COLUMNS)
    frame["lon"] = frame["lon"].astype(np.float64)
    frame["lat"] = frame["lat"].astype(np.float64)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def read_closed_table(path: str | Path, crs: str | None = None) -> pd.DataFrame:
    """Read a list of facilities to close: ``facility_id``, or ``name``, or ``lon``/``lat``.

    Optional ``category`` narrows name and point matches. Points need `crs`.

    Parameters
    ----------
    path
        CSV (UTF-8), or any table geopandas reads (points give ``lon``/``lat``).
    crs
        Coordinate system of ``lon``/``lat``: ``wgs84``, ``gcj02`` or ``bd09``.

    Returns
    -------
    pandas.DataFrame
        Columns ``facility_id``, ``name``, ``category``, ``lon``, ``lat`` (WGS-84), any missing
        one empty.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: no such file of facilities to close"
        raise InputError(msg)
    if path.suffix.lower() in (".csv", ".txt"):
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:
        geo = gpd.read_file(path)
        table = pd.DataFrame(geo.drop(columns=geo.geometry.name)).astype(str)
        if geo.geometry.geom_type.eq("Point").all() and len(geo):
            table["lon"], table["lat"] = geo.geometry.x.astype(str), geo.geometry.y.astype(str)
    table.columns = [str(c).strip().lower() for c in table.columns]
    usable = {"facility_id", "name", "lon", "lat"} & set(table.columns)
    if not usable:
        msg = f"{path}: give a facility_id column (ids from facilities.csv), a name column, or lon and lat columns"
        raise InputError(msg)
    out = pd.DataFrame(index=table.index)
    for col in ("facility_id", "name", "category"):
        out[col] = table[col].astype(str).str.strip() if col in table.columns else ""
    lon = (
        pd.to_numeric(table.get("lon", pd.Series(np.nan, table.index)), errors="coerce")
        .to_numpy(np.float64)
        .copy()
    )
    lat = (
        pd.to_numeric(table.get("lat", pd.Series(np.nan, table.index)), errors="coerce")
        .to_numpy(np.float64)
        .copy()
    )
    has_point = np.isfinite(lon) & np.isfinite(lat)
    if has_point.any():
        if crs is None:
            msg = f"{path}: declare the coordinate system of lon/lat (crs=wgs84|gcj02|bd09; --closed-crs)"
            raise InputError(msg)
        lon[has_point], lat[has_point] = to_wgs84(lon[has_point], lat[has_point], normalise_crs(crs))
    out["lon"], out["lat"] = lon, lat
    return out


@dataclass
class ClosedMatch:
    """Which existing facilities a list of closures names.

    Attributes
    ----------
    rows
        Facility rows (positions in the facilities table) to close, unique.
    table
        The closure list with ``status`` (``matched``/``unmatched``), ``matched`` (facility ids,
        ``;``-separated), ``n_matched`` and ``reason``: every row listed, none dropped.
    """

    rows: np.ndarray
    table: pd.DataFrame

    @property
    def unmatched(self) -> pd.DataFrame:
        """Closure rows that name no facility."""
        return self.table[self.table["status"] != "matched"]


def _match_one(
    row: pd.Series, facilities: pd.DataFrame, xy: tuple[np.ndarray, np.ndarray] | None, tolerance_m: float
) -> tuple[np.ndarray, str]:
    """Facility rows a closure row names, and why none if so."""
    cats = facilities["category"].astype(str).to_numpy()
    in_cat = np.ones(len(facilities), bool) if not row["category"] else cats == row["category"]
    if row["facility_id"]:
        fid = row["facility_id"]
        hit = (facilities["facility_id"].astype(str).to_numpy() == fid) | (
            facilities["feature_id"].astype(str).to_numpy() == fid
        )
        return np.flatnonzero(hit & in_cat), f"no facility with id {fid!r}"
    if np.isfinite(row["lon"]) and xy is not None:
        px, py = metres_utm(np.array([row["lon"]]), np.array([row["lat"]]))
        dist = np.hypot(xy[0] - px[0], xy[1] - py[0])
        dist[~in_cat] = np.inf
        best = int(np.argmin(dist)) if dist.size else -1
        if best >= 0 and dist[best] <= tolerance_m:
            # the place closes in every category it serves (unless a category narrows it)
            feature = facilities["feature_id"].astype(str).to_numpy()
            return np.flatnonzero((feature == feature[best]) & in_cat), ""
        kind = f" of {row['category']}" if row["category"] else ""
        return np.zeros(0, np.int64), f"no facility{kind} within {tolerance_m:g} m"
    if row["name"]:
        hit = np.flatnonzero((facilities["name"].astype(str).to_numpy() == row["name"]) & in_cat)
        features = facilities["feature_id"].astype(str).to_numpy()[hit]
        if np.unique(features).size > 1:
            return np.zeros(0, np.int64), (
                f"ambiguous: {np.unique(features).size} places named {row['name']!r}; give facility_id, category or a point"
            )
        return hit, f"no facility named {row['name']!r}"
    return np.zeros(0, np.int64), "row names no facility (empty facility_id, name and point)"


def match_closed(
    closed: pd.DataFrame | Sequence[str],
    facilities: pd.DataFrame,
    tolerance_m: float = DEFAULT_CLOSED_MATCH_M,
) -> ClosedMatch:
    """Match a closure list to existing facilities: by id, else by point, else by name.

    Parameters
    ----------
    closed
        `read_closed_table` output, or a list of facility ids.
    facilities
        The study's facilities (``facility_id``, ``feature_id``, ``category``, ``name``,
        ``lon``, ``lat``).
    tolerance_m
        How far a closure point may be from the facility it names, metres.

    Returns
    -------
    ClosedMatch
        Rows to close and the closure list with each row's status; unmatched rows are
        reported in a `WalkcircleWarning` and listed, never dropped.
    """
    if not isinstance(closed, pd.DataFrame):
        closed = pd.DataFrame({"facility_id": [str(c) for c in closed]})
    table = closed.copy()
    for col in ("facility_id", "name", "category"):
        table[col] = table[col].astype(str) if col in table.columns else ""
    for col in ("lon", "lat"):
        table[col] = pd.to_numeric(table[col], errors="coerce") if col in table.columns else np.nan
    xy = metres_utm(facilities["lon"].to_numpy(), facilities["lat"].to_numpy()) if len(facilities) else None
    rows, matched, reasons = [], [], []
    for _, row in table.iterrows():
        hit, reason = _match_one(row, facilities, xy, tolerance_m)
        rows.append(hit)
        matched.append(";".join(facilities["facility_id"].astype(str).to_numpy()[hit]))
        reasons.append("" if hit.size else reason)
    table["n_matched"] = [r.size for r in rows]
    table["matched"] = matched
    table["status"] = np.where(table["n_matched"] > 0, "matched", "unmatched")
    table["reason"] = reasons
    n_bad = int((table["status"] != "matched").sum())
    if n_bad:
        import warnings

        warnings.warn(
            f"{n_bad} of {len(table)} facilities to close match no facility (listed with their reason)",
            WalkcircleWarning,
            stacklevel=2,
        )
    all_rows = np.unique(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
    return ClosedMatch(all_rows.astype(np.int64), table)


# ---------------------------------------------------------------------------- the update


@dataclass
class ScenarioResult:
    """A scenario's access and facilities.

    Attributes
    ----------
    access
        Access of every home after the changes (facility rows index `facilities`).
    state
        The updated state (a base for further scenarios).
    facilities
        Baseline rows then planned rows, with ``status``: ``open``, ``closed``, ``planned``,
        ``planned_off_network`` or ``planned_unknown_category`` (the last two not routed).
    notes
        What was left out and why (also emitted as warnings).
    """

    access: AccessResult
    state: AccessState
    facilities: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)

    def facility_counts(self) -> dict[str, int]:
        """Open (routed or not) facilities per category after the changes."""
        return _open_counts(self.facilities)


def _open_counts(facilities: pd.DataFrame) -> dict[str, int]:
    status = facilities["status"] if "status" in facilities.columns else pd.Series("open", facilities.index)
    live = facilities[status.isin(["open", "planned"])]
    return {str(k): int(v) for k, v in live["category"].astype(str).value_counts().items()}


def access_from_state(
    state: AccessState, base: AccessResult, facility_off_network: np.ndarray
) -> AccessResult:
    """Read every home's results out of a state, in `compute_access`'s layout.

    Parameters
    ----------
    state
        The (updated) state.
    base
        The baseline result (speed, thresholds, tiers, homes' snapping).
    facility_off_network
        Off-network flag per facility row of the state.

    Returns
    -------
    AccessResult
        Results for the homes.
    """
    node = state.home_node
    on = node >= 0
    n_cat = len(state.categories)
    n_tiers = base.tiers_min.size
    nearest_m, nearest_f = base.nearest_m.copy(), base.nearest_facility.copy()
    within, tiers = base.count_within_threshold.copy(), base.tier_counts.copy()
    knn_m, knn_f = base.knn_m.copy(), base.knn_facility.copy()
    before = base.state if isinstance(base.state, AccessState) else None
    for c in range(n_cat):
        if (
            before is not None
            and state.counts[c] is before.counts[c]
            and state.nearest_m[c] is before.nearest_m[c]
        ):
            continue  # category untouched: the baseline's columns hold
        nearest_m[on, c] = state.nearest_m[c][node[on], 0]
        nearest_f[on, c] = state.nearest_row[c][node[on], 0]
        counts = np.empty((int(on.sum()), state.limits_m.shape[1]), np.int32)
        counts[:, state.limit_order[c]] = state.counts[c][node[on]]
        tiers[on, c] = counts[:, :n_tiers]
        within[on, c] = counts[:, n_tiers]
        if state.knn_m is not None and state.knn_row is not None:
            knn_m[on, c] = state.knn_m[c][node[on]]
            knn_f[on, c] = state.knn_row[c][node[on]]
    if state.knn_m is None:
        knn_m, knn_f = nearest_m[:, :, None].copy(), nearest_f[:, :, None].copy()
    beyond = knn_m > KNN_REACH_FACTOR * float(state.limits_m.max())  # as compute_access: the k nearest
    knn_m[beyond], knn_f[beyond] = np.inf, -1  # only within KNN_REACH_FACTOR x the largest limit
    open_cats = {int(c) for c in state.facility_category[state.facility_open]}
    empty = [cid for c, cid in enumerate(state.categories) if c not in open_cats]
    return replace(
        base,
        nearest_m=nearest_m,
        nearest_facility=nearest_f,
        count_within_threshold=within,
        tier_counts=tiers,
        knn_m=knn_m,
        knn_facility=knn_f,
        facility_off_network=np.asarray(facility_off_network, bool).copy(),
        empty_categories=empty,
        warnings=[],
        state=state,
    )


def _with_status(facilities: gpd.GeoDataFrame, status: np.ndarray) -> gpd.GeoDataFrame:
    out = facilities.copy()
    out["status"] = status
    return out


def run_scenario(
    network: WalkNetwork,
    baseline: AccessResult,
    facilities: gpd.GeoDataFrame,
    planned: gpd.GeoDataFrame | None = None,
    closed_rows: Sequence[int] | np.ndarray = (),
    snap_cap_m: float = DEFAULT_SNAP_CAP_M,
) -> ScenarioResult:
    """Open planned facilities and close existing ones, updating the baseline incrementally.

    Parameters
    ----------
    network
        The baseline's network.
    baseline
        `compute_access(..., keep_state=True)` result (or a previous scenario's access).
    facilities
        The facility table the baseline was computed with (same rows, same order), or a
        previous `ScenarioResult.facilities`.
    planned
        Planned facilities (``category``, ``lon``, ``lat``; facility-table columns).
    closed_rows
        Rows of `facilities` to close (`ClosedMatch.rows`).
    snap_cap_m
        Snap cap, as in the baseline.

    Returns
    -------
    ScenarioResult
        Access after the changes; equal to `compute_access` on the changed table (see
        `walkcircle.incremental`).
    """
    state = baseline.state
    if not isinstance(state, AccessState):
        msg = "the baseline keeps no state: compute it with compute_access(..., keep_state=True)"
        raise InputError(msg)
    if len(facilities) != state.n_facilities:
        msg = f"facilities has {len(facilities)} rows but the baseline was computed with {state.n_facilities}"
        raise InputError(msg)
    notes: list[str] = []
    closed_rows = np.asarray(closed_rows, np.int64)
    base = (
        facilities
        if "status" in facilities.columns
        else _with_status(facilities, np.full(len(facilities), "open"))
    )
    status = base["status"].to_numpy(object).copy()
    status[closed_rows] = "closed"
    planned = planned if planned is not None else suggestions_to_planned([])
    missing = [c for c in ("category", "lon", "lat") if c not in planned.columns]
    if missing:
        msg = f"planned facilities lack column(s) {', '.join(missing)}; read them with read_planned"
        raise InputError(msg)
    if not isinstance(planned, gpd.GeoDataFrame) or "geometry" not in planned.columns:
        planned = gpd.GeoDataFrame(
            planned, geometry=gpd.points_from_xy(planned["lon"], planned["lat"]), crs="EPSG:4326"
        )
    column = {cid: c for c, cid in enumerate(state.categories)}
    new_cat = np.array([column.get(str(c), -1) for c in planned["category"]], np.int64)
    snap = network.snap(planned["lon"].to_numpy(np.float64), planned["lat"].to_numpy(np.float64), snap_cap_m)
    seeds = point_seeds(state.graph, snap, state.piece_order)
    planned_status = np.where(
        new_cat < 0, "planned_unknown_category", np.where(snap.off_network, "planned_off_network", "planned")
    )
    for label, reason in (
        ("planned_off_network", f"more than {snap_cap_m:g} m from any street"),
        ("planned_unknown_category", "in a category not computed"),
    ):
        n = int((planned_status == label).sum())
        if n:
            notes.append(f"{n} planned facilities {reason}: listed with status {label}, not routed")
    new_state = apply_changes(state, closed_rows, new_cat, seeds)
    off = np.concatenate([baseline.facility_off_network[: len(facilities)], snap.off_network])
    access = access_from_state(new_state, baseline, off)
    planned_rows = _with_status(planned[[c for c in planned.columns if c != "status"]], planned_status)
    all_rows = pd.concat([base.assign(status=status), planned_rows], ignore_index=True)
    out = gpd.GeoDataFrame(all_rows, geometry="geometry", crs="EPSG:4326")
    if notes:
        import warnings

        for note in notes:
            warnings.warn(note, WalkcircleWarning, stacklevel=2)
    return ScenarioResult(access, new_state, out, notes)


# ---------------------------------------------------------------------------- tables


@dataclass
class ChangeTables:
    """Before/after tables of a scenario or a comparison; labels name the two sides.

    Attributes
    ----------
    categories
        Per category: ``facilities_<a>``/``_<b>``, ``coverage_<a>``/``_<b>``,
        ``residents_newly_covered``, ``residents_newly_uncovered``, ``homes_newly_covered``,
        ``homes_newly_uncovered``, ``median_min_<a>``/``_<b>``.
    communities
        Per community: population, ``meets_all_<a>``/``_<b>``, ``passes_now`` (meets every
        category after and did not before), ``fails_now``, ``categories_now_passing``,
        ``categories_now_failing``, residents newly covered/uncovered in any category, and
        ``coverage_<cat>_<a>``/``_<b>``.
    summary
        ``{category: {<a>: share, <b>: share, "facilities_<a>": n, ..., "residents_newly_covered":
        p, "residents_newly_uncovered": p}}``.
    programme
        ``{<a>: programme_summary, <b>: programme_summary}`` when a profile was given.
    changes
        Homes whose coverage changed, one row per (home, category): ``home_id``, ``category``,
        ``change`` (``newly_covered``/``newly_uncovered``), minutes on both sides, population,
        geometry (a map layer).
    labels
        The two sides' names.
    """

    categories: pd.DataFrame
    communities: pd.DataFrame
    summary: dict[str, dict[str, Any]]
    programme: dict[str, Any]
    changes: gpd.GeoDataFrame
    labels: tuple[str, str] = SCENARIO_LABELS


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Median over residents (``inf`` when more than half cannot reach); NaN without residents."""
    if values.size == 0 or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _minutes(scores: pd.DataFrame, cid: str) -> np.ndarray:
    # files store unreachable as NaN; in memory it is inf
    minutes = scores[f"minutes_{cid}"].to_numpy(np.float64)
    return np.where(np.isnan(minutes), np.inf, minutes)


def _category_rows(
    homes: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    categories: Sequence[str],
    counts: tuple[Mapping[str, int], Mapping[str, int]],
    labels: tuple[str, str],
) -> pd.DataFrame:
    a, b = labels
    population = homes["population"].to_numpy(np.float64)
    weights = population if population.sum() > 0 else np.ones(population.size)
    rows = []
    for cid in categories:
        was = before[f"reached_{cid}"].to_numpy(bool)
        now = after[f"reached_{cid}"].to_numpy(bool)
        rows.append(
            {
                "category": cid,
                f"facilities_{a}": int(counts[0].get(cid, 0)),
                f"facilities_{b}": int(counts[1].get(cid, 0)),
                f"coverage_{a}": float(np.average(was, weights=weights)) if was.size else float("nan"),
                f"coverage_{b}": float(np.average(now, weights=weights)) if now.size else float("nan"),
                "residents_newly_covered": float(population[now & ~was].sum()),
                "residents_newly_uncovered": float(population[was & ~now].sum()),
                "homes_newly_covered": int((now & ~was).sum()),
                "homes_newly_uncovered": int((was & ~now).sum()),
                f"median_min_{a}": _weighted_median(_minutes(before, cid), weights),
                f"median_min_{b}": _weighted_median(_minutes(after, cid), weights),
            }
        )
    return pd.DataFrame(rows)


def _community_rows(
    homes: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    categories: Sequence[str],
    rules: ScoringRules,
    labels: tuple[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    a, b = labels
    homes = homes.reset_index(drop=True)
    before, after = (
        s.reset_index(drop=True).assign(score=s["score"] if "score" in s.columns else np.nan)
        for s in (before, after)
    )
    t_a = community_table(homes, before, categories, rules)
    t_b = community_table(homes, after, categories, rules)
    if t_a.empty or "community" not in t_a.columns or len(t_a) == 0:
        return pd.DataFrame(columns=["community"]), t_a, t_b
    merged = t_a.merge(t_b, on="community", suffixes=(f"_{a}", f"_{b}"))
    out = pd.DataFrame({"community": merged["community"], "population": merged[f"population_{a}"]})
    out[f"score_mean_{a}"] = merged[f"score_mean_{a}"]
    out[f"score_mean_{b}"] = merged[f"score_mean_{b}"]
    out[f"meets_all_{a}"] = merged[f"meets_all_{a}"].astype(bool)
    out[f"meets_all_{b}"] = merged[f"meets_all_{b}"].astype(bool)
    out["passes_now"] = out[f"meets_all_{b}"] & ~out[f"meets_all_{a}"]
    out["fails_now"] = out[f"meets_all_{a}"] & ~out[f"meets_all_{b}"]
    fail_a = [set(str(f).split(";")) - {""} for f in merged[f"failing_{a}"].fillna("")]
    fail_b = [set(str(f).split(";")) - {""} for f in merged[f"failing_{b}"].fillna("")]
    out["categories_now_passing"] = [
        ";".join(c for c in categories if c in fa - fb) for fa, fb in zip(fail_a, fail_b, strict=True)
    ]
    out["categories_now_failing"] = [
        ";".join(c for c in categories if c in fb - fa) for fa, fb in zip(fail_a, fail_b, strict=True)
    ]
    key = homes["community"].astype(str).to_numpy()
    pop = homes["population"].to_numpy(np.float64)
    gained = np.zeros(len(homes), bool)
    lost = np.zeros(len(homes), bool)
    for cid in categories:
        was = before[f"reached_{cid}"].to_numpy(bool)
        now = after[f"reached_{cid}"].to_numpy(bool)
        gained |= now & ~was
        lost |= was & ~now
    by = (
        pd.DataFrame({"community": key, "gained": pop * gained, "lost": pop * lost})
        .groupby("community")
        .sum()
    )
    out["residents_newly_covered"] = out["community"].map(by["gained"]).fillna(0.0).to_numpy()
    out["residents_newly_uncovered"] = out["community"].map(by["lost"]).fillna(0.0).to_numpy()
    for cid in categories:
        out[f"coverage_{cid}_{a}"] = merged[f"coverage_{cid}_{a}"]
        out[f"coverage_{cid}_{b}"] = merged[f"coverage_{cid}_{b}"]
    return out, t_a, t_b


def _changed_homes(
    homes: gpd.GeoDataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    categories: Sequence[str],
    labels: tuple[str, str],
) -> gpd.GeoDataFrame:
    a, b = labels
    parts = []
    ids = homes["home_id"].to_numpy() if "home_id" in homes.columns else np.arange(len(homes))
    for cid in categories:
        was = before[f"reached_{cid}"].to_numpy(bool)
        now = after[f"reached_{cid}"].to_numpy(bool)
        hit = np.flatnonzero(was != now)
        if hit.size == 0:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "home_id": ids[hit], "category": cid,
                    "change": np.where(now[hit], "newly_covered", "newly_uncovered"),
                    f"minutes_{a}": _minutes(before, cid)[hit], f"minutes_{b}": _minutes(after, cid)[hit],
                    "population": homes["population"].to_numpy(np.float64)[hit],
                    "community": homes["community"].astype(str).to_numpy()[hit] if "community" in homes.columns else "",
                    "geometry": homes.geometry.to_numpy()[hit],
                }
            )
        )  # fmt: skip
    columns = [
        "home_id",
        "category",
        "change",
        f"minutes_{a}",
        f"minutes_{b}",
        "population",
        "community",
        "geometry",
    ]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    for col in (f"minutes_{a}", f"minutes_{b}"):
        frame[col] = frame[col].astype(np.float64).replace(np.inf, np.nan)  # unreachable: NaN in files
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def change_tables(
    homes: gpd.GeoDataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    categories: Sequence[str],
    facilities_before: Mapping[str, int],
    facilities_after: Mapping[str, int],
    rules: ScoringRules | None = None,
    profile: Profile | None = None,
    labels: tuple[str, str] = SCENARIO_LABELS,
) -> ChangeTables:
    """Compare two sets of home results on the same homes.

    Parameters
    ----------
    homes
        Homes (``home_id``, ``community``, ``population``, geometry), same rows as the scores.
    before, after
        Per home ``reached_<cat>`` and ``minutes_<cat>`` (`walkcircle.scoring.home_table`
        output, or the columns of a study's homes.parquet).
    categories
        Category ids.
    facilities_before, facilities_after
        Facilities per category on each side.
    rules
        Scoring rules (pass share for communities).
    profile
        For the programme summary (circles); skipped when None.
    labels
        Names of the two sides (``("baseline", "planned")`` for scenarios).

    Returns
    -------
    ChangeTables
        The tables.
    """
    if not (len(homes) == len(before) == len(after)):
        msg = f"homes ({len(homes)}), before ({len(before)}) and after ({len(after)}) must have the same rows"
        raise InputError(msg)
    rules = rules or ScoringRules()
    a, b = labels
    cat_table = _category_rows(
        homes, before, after, categories, (facilities_before, facilities_after), labels
    )
    communities, t_a, t_b = _community_rows(homes, before, after, categories, rules, labels)
    summary = {
        row["category"]: {
            a: row[f"coverage_{a}"], b: row[f"coverage_{b}"],
            f"facilities_{a}": row[f"facilities_{a}"], f"facilities_{b}": row[f"facilities_{b}"],
            "residents_newly_covered": row["residents_newly_covered"],
            "residents_newly_uncovered": row["residents_newly_uncovered"],
        }
        for row in cat_table.to_dict("records")
    }  # fmt: skip
    programme: dict[str, Any] = {}
    if profile is not None:
        programme = {
            a: programme_summary(t_a, profile, categories),
            b: programme_summary(t_b, profile, categories),
        }
    changes = _changed_homes(homes, before, after, categories, labels)
    return ChangeTables(cat_table, communities, summary, programme, changes, labels)


@dataclass
class ScenarioOutcome:
    """A scenario computed on a study: access after the changes, before/after tables, closures.

    Attributes
    ----------
    result
        `ScenarioResult` (access, state, facilities with their status, notes).
    tables
        `ChangeTables` with sides ``baseline``/``planned``.
    closed
        `ClosedMatch` of the closure list (None without one): unmatched rows listed.
    """

    result: ScenarioResult
    tables: ChangeTables
    closed: ClosedMatch | None = None

    def summary(self) -> dict[str, Any]:
        """Return the summary.json entries: ``scenario``, ``scenario_programme``, notes, unmatched closures.

        Returns
        -------
        dict
            JSON-ready.
        """
        return {
            "scenario": self.tables.summary,
            "scenario_programme": self.tables.programme,
            "scenario_notes": list(self.result.notes),
            "scenario_closed_unmatched": 0 if self.closed is None else len(self.closed.unmatched),
        }


def build_scenario(
    study: Any,
    planned: gpd.GeoDataFrame | str | Path | None,
    closed: pd.DataFrame | Sequence[str] | str | Path | None,
    apply_suggestions: bool,
    planned_crs: str | None = None,
) -> ScenarioOutcome:
    """Compute a scenario on a `walkcircle.Study` (see `walkcircle.Study.scenario`).

    Parameters
    ----------
    study
        The study (its baseline access must keep its state).
    planned
        Planned facilities: a file (read like any facility table, `planned_crs` or the settings'
        table CRS) or a GeoDataFrame with ``category``, ``lon``, ``lat``.
    closed
        Closures: facility ids, a table, or a file (`read_closed_table`).
    apply_suggestions
        Open the study's suggested sites too.
    planned_crs
        Coordinate system of a planned file.

    Returns
    -------
    ScenarioOutcome
        The scenario.
    """
    from walkcircle.scoring import home_table
    from walkcircle.sources.tables import TableSpec

    s = study.settings
    results = study.results()
    base, load, network = study.access(), study.facilities(), study.network()
    w, so, e, n = network.bounds_lonlat()
    parts = []
    specs = list(planned) if isinstance(planned, tuple) else [planned]
    for spec in specs:
        if isinstance(spec, TableSpec | str | Path):
            path = spec.path if isinstance(spec, TableSpec) else Path(spec)
            crs = spec.crs if isinstance(spec, TableSpec) else planned_crs
            parts.append(
                read_planned(
                    path, study.profile, crs, area=(w - 0.01, so - 0.01, e + 0.01, n + 0.01)
                ).facilities
            )
        elif spec is not None:
            parts.append(spec)
    if apply_suggestions:
        parts.append(suggestions_to_planned(results.suggestions))
    planned_frame = pd.concat(parts, ignore_index=True) if parts else None
    match = None
    if closed is not None:
        table = read_closed_table(closed, s.scenario.closed_crs) if isinstance(closed, str | Path) else closed
        match = match_closed(table, load.facilities, s.scenario.closed_match_m)
    result = run_scenario(
        network, base, load.facilities, planned_frame, match.rows if match else (), s.routing.snap_cap_m
    )
    scores = home_table(base, study.profile, study.rules)
    tables = change_tables(
        study.homes().homes, scores, home_table(result.access, study.profile, study.rules), base.categories,
        {cid: int(load.counts().get(cid, 0)) for cid in base.categories}, result.facility_counts(),
        rules=study.rules, profile=study.profile,
    )  # fmt: skip
    return ScenarioOutcome(result, tables, match)
