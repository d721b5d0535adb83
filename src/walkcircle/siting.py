"""Where to build next: up to K new sites that cover the most uncovered residents.

For one category with threshold T, a candidate site covers a home when the walk from the site
to the home is at most T. Residents already within T of an existing facility are covered and
count for nothing. Choosing K sites to cover the most residents is the maximal covering location
problem:

- ``method="exact"`` solves it as an integer programme with scipy's HiGHS (``milp``);
- ``method="greedy"`` picks, K times, the site that adds the most residents (within 1 - 1/e of
  the optimum, and what planners can follow pick by pick);
- ``method="auto"`` (default) is exact when the problem is small enough to solve in seconds and
  greedy otherwise.

Either way the chosen sites are listed in greedy order with each pick's marginal gain.
Candidates are the network's nodes (default) or the points of a candidates file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from walkcircle import paths
from walkcircle.defaults import DEFAULT_SNAP_CAP_M
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.routing import routing_graph

if TYPE_CHECKING:
    from walkcircle.network import Snapped, WalkNetwork

METHODS = ("auto", "greedy", "exact")
_EXACT_MAX_NONZEROS = 200_000


def greedy_cover(coverage: sparse.csr_matrix, weight: np.ndarray, k: int) -> tuple[list[int], list[float]]:
    """Pick up to `k` columns that cover the most row weight, one at a time.

    Parameters
    ----------
    coverage
        (rows, columns) with a non-zero where the column covers the row.
    weight
        Row weights (residents), >= 0.
    k
        Sites to pick.

    Returns
    -------
    tuple of list
        Chosen columns and each one's marginal gain; stops early when nothing more can be
        covered. Ties go to the lowest column.
    """
    csc = sparse.csc_matrix(coverage, dtype=np.float64)
    csr = sparse.csr_matrix(coverage, dtype=np.float64)
    remaining = np.asarray(weight, np.float64).copy()
    picks: list[int] = []
    gains: list[float] = []
    gain = csc.T @ remaining
    for _ in range(k):
        best = int(np.argmax(gain)) if gain.size else -1
        if best < 0 or gain[best] <= 0:
            break
        picks.append(best)
        gains.append(float(gain[best]))
        rows = csc.indices[csc.indptr[best] : csc.indptr[best + 1]]
        newly = rows[remaining[rows] > 0]
        # the columns covering the newly covered rows lose those rows' weight
        delta = csr[newly].T @ remaining[newly]
        gain = gain - delta
        remaining[newly] = 0.0
    return picks, gains


def exact_cover(coverage: sparse.csr_matrix, weight: np.ndarray, k: int) -> list[int]:
    """Solve maximal covering exactly with an integer programme (HiGHS).

    Maximise sum_i w_i y_i subject to y_i <= sum_{j covers i} x_j, sum_j x_j <= k,
    x binary, 0 <= y <= 1.

    Parameters
    ----------
    coverage
        (rows, columns) coverage.
    weight
        Row weights.
    k
        Sites.

    Returns
    -------
    list of int
        Chosen columns (unordered).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    csr = sparse.csr_matrix(coverage, dtype=np.float64)
    n_rows, n_cols = csr.shape
    if n_rows == 0 or n_cols == 0:
        return []
    # variables: x (columns) then y (rows)
    c = np.concatenate([np.zeros(n_cols), -np.asarray(weight, np.float64)])
    a_cover = sparse.hstack([-csr, sparse.identity(n_rows)]).tocsr()  # y_i - sum x_j <= 0
    a_count = sparse.hstack([sparse.csr_matrix(np.ones((1, n_cols))), sparse.csr_matrix((1, n_rows))])
    constraints = [
        LinearConstraint(a_cover, -np.inf, 0.0),
        LinearConstraint(a_count, -np.inf, float(k)),
    ]
    integrality = np.concatenate([np.ones(n_cols), np.zeros(n_rows)])
    result = milp(c, constraints=constraints, integrality=integrality, bounds=Bounds(0, 1))
    if result.x is None:  # pragma: no cover - HiGHS always finds the trivial solution
        msg = f"the exact solver failed ({result.message}); use method='greedy'"
        raise InputError(msg)
    return [int(j) for j in np.flatnonzero(result.x[:n_cols] > 0.5)]


def order_by_gain(
    coverage: sparse.csr_matrix, weight: np.ndarray, chosen: list[int]
) -> tuple[list[int], list[float]]:
    """Order chosen columns greedily and give each its marginal gain.

    Parameters
    ----------
    coverage
        Coverage matrix.
    weight
        Row weights.
    chosen
        Columns to order.

    Returns
    -------
    tuple of list
        Ordered columns and their marginal gains.
    """
    if not chosen:
        return [], []
    sub = sparse.csr_matrix(coverage)[:, chosen]
    order, gains = greedy_cover(sub, weight, len(chosen))
    ordered = [chosen[j] for j in order]
    # chosen sites that add nothing after the others still belong to the solution
    ordered += [j for j in chosen if j not in ordered]
    gains += [0.0] * (len(chosen) - len(gains))
    return ordered, gains


@dataclass
class Suggestion:
    """Suggested sites for one category and what they add.

    Attributes
    ----------
    sites
        GeoDataFrame: ``rank``, ``category``, ``candidate``, ``gain_population``,
        ``gain_homes``, ``covered_after``, ``coverage_after`` (population share), geometry.
    coverage_before, coverage_after
        Population-weighted share of homes within the threshold.
    population, uncovered_before
        Total residents and residents not covered before.
    method
        ``"exact"`` or ``"greedy"``.
    """

    category: str
    threshold_m: float
    sites: gpd.GeoDataFrame
    coverage_before: float
    coverage_after: float
    population: float
    uncovered_before: float
    method: str

    def summary(self) -> dict[str, Any]:
        """Return the headline numbers as JSON-ready data.

        Returns
        -------
        dict
            Category, threshold, method, coverage before/after, sites.
        """
        return {
            "category": self.category,
            "threshold_m": self.threshold_m,
            "method": self.method,
            "population": self.population,
            "uncovered_before": self.uncovered_before,
            "coverage_before": round(self.coverage_before, 4),
            "coverage_after": round(self.coverage_after, 4),
            "sites": len(self.sites),
            "residents_added": float(self.sites["gain_population"].sum()) if len(self.sites) else 0.0,
        }


def suggest_sites(
    network: WalkNetwork,
    homes: gpd.GeoDataFrame,
    home_snap: Snapped,
    nearest_m: np.ndarray,
    category: str,
    threshold_m: float,
    count: int,
    candidates: gpd.GeoDataFrame | None = None,
    method: str = "auto",
    snap_cap_m: float = DEFAULT_SNAP_CAP_M,
) -> Suggestion:
    """Suggest up to `count` new sites for a category.

    Parameters
    ----------
    network
        The walking network.
    homes
        Homes with ``population``, ``lon``, ``lat``.
    home_snap
        The homes' snapping (as used for the access results).
    nearest_m
        Each home's distance to the nearest existing facility of the category.
    category
        Category id (for the output).
    threshold_m
        A site covers homes within this walk.
    count
        How many sites (K >= 1).
    candidates
        Candidate points (``lon``/``lat``; an ``id`` or ``name`` column names them); the
        network's nodes when None.
    method
        ``"auto"``, ``"greedy"`` or ``"exact"``.
    snap_cap_m
        Candidates farther than this from a street are left out.

    Returns
    -------
    Suggestion
        The sites in pick order with their marginal gains, and coverage before and after.
    """
    if count < 1:
        msg = f"--count must be >= 1 (got {count})"
        raise InputError(msg)
    if method not in METHODS:
        msg = f"unknown method {method!r}; use one of {', '.join(METHODS)}"
        raise InputError(msg)
    if threshold_m <= 0:
        msg = f"threshold must be > 0 m (got {threshold_m})"
        raise InputError(msg)
    population = homes["population"].to_numpy(np.float64)
    covered = np.asarray(nearest_m) <= threshold_m
    total = float(population.sum())
    uncovered = (~covered) & (~home_snap.off_network) & (population > 0)

    point_sets: dict[str, tuple[Snapped, str]] = {"homes": (home_snap, "target")}
    cand_snap = None
    if candidates is not None:
        if len(candidates) == 0:
            msg = "the candidates file has no rows"
            raise InputError(msg)
        cand_snap = network.snap(candidates["lon"].to_numpy(), candidates["lat"].to_numpy(), snap_cap_m)
        if cand_snap.off_network.all():
            msg = f"no candidate site lies within {snap_cap_m:g} m of a street"
            raise InputError(msg)
        if cand_snap.off_network.any():
            warnings.warn(
                f"{int(cand_snap.off_network.sum())} candidate sites are more than {snap_cap_m:g} m from a street and were left out",
                WalkcircleWarning,
                stacklevel=2,
            )
        point_sets["candidates"] = (cand_snap, "source")
    graph = routing_graph(network, point_sets)
    # walks run from a site to a home: search backwards from the homes
    reverse = graph.csr.T.tocsr()
    starts = np.flatnonzero(uncovered)
    home_nodes = graph.point_node["homes"][starts]
    start_idx, node, _ = paths.reach_within(reverse, home_nodes, threshold_m)
    if candidates is None:
        column_of_node = np.full(graph.n_nodes, -1, np.int64)
        column_of_node[: network.n_nodes] = np.arange(network.n_nodes)
        n_cols = network.n_nodes
    else:
        column_of_node = np.full(graph.n_nodes, -1, np.int64)
        cand_nodes = graph.point_node["candidates"]
        on = cand_nodes >= 0
        column_of_node[cand_nodes[on]] = np.flatnonzero(on)
        n_cols = len(candidates)
    cols = column_of_node[node]
    keep = cols >= 0
    coverage = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (start_idx[keep], cols[keep])), shape=(starts.size, n_cols)
    )
    coverage.data[:] = 1.0  # duplicates (parallel paths) are one cover
    weight = population[starts]

    use_exact = method == "exact" or (method == "auto" and coverage.nnz <= _EXACT_MAX_NONZEROS)
    if use_exact:
        chosen = exact_cover(coverage, weight, count)
        picks, gains = order_by_gain(coverage, weight, chosen)
        used = "exact"
    else:
        picks, gains = greedy_cover(coverage, weight, count)
        used = "greedy"

    csc = coverage.tocsc()
    newly = np.zeros(starts.size, bool)
    rows_out = []
    for rank, (col, gain) in enumerate(zip(picks, gains, strict=True), start=1):
        rows = csc.indices[csc.indptr[col] : csc.indptr[col + 1]]
        gained_homes = int((~newly[rows]).sum())
        newly[rows] = True
        covered_after = float(population[covered].sum() + weight[newly].sum())
        if candidates is None:
            lon, lat, name = float(network.lon[col]), float(network.lat[col]), f"node {network.node_id[col]}"
        else:
            lon, lat = float(candidates["lon"].iloc[col]), float(candidates["lat"].iloc[col])
            label_col = next((c for c in ("id", "name", "名称") if c in candidates.columns), None)
            name = str(candidates[label_col].iloc[col]) if label_col else f"candidate {col}"
        rows_out.append(
            {
                "rank": rank,
                "category": category,
                "candidate": name,
                "gain_population": gain,
                "gain_homes": gained_homes,
                "covered_after": covered_after,
                "coverage_after": covered_after / total if total > 0 else float("nan"),
                "lon": lon,
                "lat": lat,
            }
        )
    sites = pd.DataFrame(
        rows_out,
        columns=[
            "rank", "category", "candidate", "gain_population", "gain_homes",
            "covered_after", "coverage_after", "lon", "lat",
        ],
    )  # fmt: skip
    sites = gpd.GeoDataFrame(sites, geometry=gpd.points_from_xy(sites["lon"], sites["lat"]), crs="EPSG:4326")
    before = float(population[covered].sum()) / total if total > 0 else float("nan")
    after = float(population[covered].sum() + weight[newly].sum()) / total if total > 0 else float("nan")
    return Suggestion(
        category=category,
        threshold_m=float(threshold_m),
        sites=sites,
        coverage_before=before,
        coverage_after=after,
        population=total,
        uncovered_before=float(population[~covered].sum()),
        method=used,
    )
