"""Every home's walk to every kind of service: nearest, k nearest, counts within thresholds.

Homes and facilities are snapped onto edges (not nodes). The routing graph splits each edge
at the snapped points, so a home and a facility on the same edge reach each other along it,
and hangs each point off the street by its straight-line offset: a facility is a source node
with a one-way link to the street, a home a target node with a one-way link from it, so no
walk passes through a home or a facility. One multi-source pass per category then answers
all homes at once (see `walkcircle.paths`).

Unreachable is ``inf`` (metres and seconds) with facility index ``-1``: homes that are off the
network (farther than the snap cap from any street), and homes on an island without that
category. There is never a fake number.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkcircle import _precompile, paths
from walkcircle.defaults import DEFAULT_SNAP_CAP_M, DEFAULT_SPEED_KMH, DEFAULT_TIERS_MIN, KNN_REACH_FACTOR
from walkcircle.errors import InputError, WalkcircleWarning, require_columns
from walkcircle.network import Snapped, WalkNetwork
from walkcircle.routing import minutes_to_metres, routing_graph, speed_mps

if TYPE_CHECKING:
    import geopandas as gpd


# ---------------------------------------------------------------------------- results


@dataclass
class AccessResult:
    """Access of every home to every category.

    Arrays are indexed [home, category] (and [..., k] or [..., tier]). Unreachable is
    ``inf`` with facility ``-1``.

    Attributes
    ----------
    categories
        Category ids, in column order.
    nearest_m
        Walking distance to the nearest facility, metres.
    nearest_facility
        Row (position) of that facility in the facilities table given, or -1.
    threshold_m
        Each category's threshold, metres.
    count_within_threshold
        Facilities within the category's threshold.
    tiers_min, tier_counts
        Life-circle budgets (minutes) and facilities within each, [home, category, tier].
    knn_m, knn_facility
        The k nearest, [home, category, k]. When k > 1 the search stops at
        ``KNN_REACH_FACTOR`` (2) times the study's largest threshold or tier: a facility farther
        than that is ``inf`` / ``-1`` ("not within 2x the threshold"), also in column 0.
    speed_kmh
        Walking speed used for times and minute budgets.
    home_off_network, facility_off_network
        Points farther than the snap cap from every street.
    home_offset_m
        Each home's distance to the street.
    """

    categories: list[str]
    nearest_m: np.ndarray
    nearest_facility: np.ndarray
    threshold_m: np.ndarray
    count_within_threshold: np.ndarray
    tiers_min: np.ndarray
    tier_counts: np.ndarray
    knn_m: np.ndarray
    knn_facility: np.ndarray
    speed_kmh: float
    home_off_network: np.ndarray
    facility_off_network: np.ndarray
    home_offset_m: np.ndarray
    empty_categories: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    state: Any = field(default=None, repr=False)
    """`walkcircle.incremental.AccessState` when computed with ``keep_state=True`` (for scenarios)."""

    @property
    def walk_time_s(self) -> np.ndarray:
        """Walking time to the nearest facility, seconds (``inf`` where unreachable)."""
        return self.nearest_m / speed_mps(self.speed_kmh)

    @property
    def reached(self) -> np.ndarray:
        """True where the nearest facility is within the category's threshold."""
        return self.nearest_m <= self.threshold_m[None, :]

    def column(self, category: str) -> int:
        """Return the column of a category.

        Parameters
        ----------
        category
            Category id.

        Returns
        -------
        int
            Index into the category axis.
        """
        try:
            return self.categories.index(category)
        except ValueError:
            msg = f"no access results for category {category!r}; computed: {', '.join(self.categories)}"
            raise InputError(msg) from None

    def to_frame(self, home_ids: Sequence[Any] | None = None) -> pd.DataFrame:
        """Return a wide table: one row per home, columns per category.

        Columns: ``<cat>_m``, ``<cat>_min``, ``<cat>_facility``, ``<cat>_n`` (within the
        threshold), ``<cat>_n<T>min`` per tier, and ``<cat>_k<j>_m`` when k > 1.

        Parameters
        ----------
        home_ids
            Index for the rows.

        Returns
        -------
        pandas.DataFrame
            The table (``inf`` where unreachable).
        """
        out: dict[str, Any] = {"off_network": self.home_off_network}
        minutes = self.walk_time_s / 60.0
        for c, cid in enumerate(self.categories):
            out[f"{cid}_m"] = self.nearest_m[:, c]
            out[f"{cid}_min"] = minutes[:, c]
            out[f"{cid}_facility"] = self.nearest_facility[:, c]
            out[f"{cid}_n"] = self.count_within_threshold[:, c]
            for t, tier in enumerate(self.tiers_min):
                out[f"{cid}_n{tier:g}min"] = self.tier_counts[:, c, t]
            for j in range(1, self.knn_m.shape[2]):
                out[f"{cid}_k{j + 1}_m"] = self.knn_m[:, c, j]
        return pd.DataFrame(out, index=pd.Index(home_ids, name="home_id") if home_ids is not None else None)


def compute_access(
    network: WalkNetwork,
    homes: Snapped | gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    categories: Sequence[str] | None = None,
    thresholds_m: Mapping[str, float] | None = None,
    tiers_min: Sequence[float] = DEFAULT_TIERS_MIN,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    k: int = 1,
    snap_cap_m: float = DEFAULT_SNAP_CAP_M,
    engine: str = "numba",
    progress: Callable[[str], None] | None = None,
    keep_state: bool = False,
) -> AccessResult:
    """Compute each home's access to each category of facility.

    Parameters
    ----------
    network
        The walking network.
    homes
        Homes with ``lon``/``lat`` columns (or an existing snapping of them).
    facilities
        Facilities with ``category``, ``lon``, ``lat``.
    categories
        Categories to compute (default: those present in `facilities`, sorted). A category
        with no facility is all unreachable and listed in ``empty_categories``.
    thresholds_m
        Each category's threshold, metres (default: the largest tier).
    tiers_min
        Life-circle budgets in minutes for the tier counts (default 5, 10, 15).
    speed_kmh
        Walking speed (4.8 default; 3.6 for the elderly scenario).
    k
        How many nearest facilities to keep per category. The k-nearest search is bounded
        at twice the largest threshold or tier (results within that are exact; beyond it
        ``inf`` / ``-1``).
    snap_cap_m
        Points farther than this from every street are off-network.
    engine
        ``"numba"`` or ``"scipy"`` for the nearest pass (counts and k > 1 use numba).
    progress
        Called with a short message before each pass.
    keep_state
        Keep the routing graph and every node's results (``AccessResult.state``) so that
        `walkcircle.scenario` can update them incrementally.

    Returns
    -------
    AccessResult
        Distances, times, facilities, counts.
    """
    speed_mps(speed_kmh)  # validates
    _precompile.start()  # a first run: kernels compile in a helper while the inputs are prepared
    tiers = np.sort(np.asarray(list(tiers_min), np.float64))
    tier_m = minutes_to_metres(tiers, speed_kmh) if tiers.size else np.zeros(0)
    if k < 1:
        msg = f"k must be >= 1 (got {k})"
        raise InputError(msg)
    require_columns(facilities, ("category", "lon", "lat"), "facilities table")
    if categories is None:
        categories = sorted(map(str, facilities["category"].unique()))
    categories = list(categories)
    thresholds_m = dict(thresholds_m or {})
    threshold = np.array(
        [float(thresholds_m.get(c, tier_m.max() if tier_m.size else 1200.0)) for c in categories], np.float64
    )
    if (threshold <= 0).any():
        msg = f"thresholds must be > 0 m (got {dict(zip(categories, threshold.tolist(), strict=True))})"
        raise InputError(msg)

    if progress:
        progress("snapping homes and facilities onto streets")
    home_snap, fac_snap, fac_categories, result_warnings = _snap_points(
        network, homes, facilities, categories, snap_cap_m
    )
    graph = routing_graph(network, {"homes": (home_snap, "target"), "facilities": (fac_snap, "source")})
    fac_node = graph.point_node["facilities"]
    home_node = graph.point_node["homes"]
    groups, group_rows, empty = _category_groups(fac_categories, fac_node, categories)
    if empty:
        result_warnings.append(f"no facility on the network for: {', '.join(empty)} (every home unreachable)")

    n_cat = len(categories)
    on = home_node >= 0
    limits = np.column_stack([np.tile(tier_m, (n_cat, 1)), threshold]) if tier_m.size else threshold[:, None]
    order = np.argsort(limits, axis=1, kind="stable")
    run = _kernel_passes(graph.csr, groups, np.take_along_axis(limits, order, axis=1), k, engine, progress)
    nearest_m, nearest_fac = _per_home(run.dist[:, :, None], run.label[:, :, None], home_node, group_rows)
    nearest_m, nearest_fac = nearest_m[:, :, 0], nearest_fac[:, :, 0]
    counts = np.empty_like(run.counts)
    for c in range(n_cat):
        counts[c][:, order[c]] = run.counts[c]
    tier_counts = np.zeros((len(home_snap), n_cat, tier_m.size), np.int32)
    within = np.zeros((len(home_snap), n_cat), np.int32)
    tier_counts[on] = counts[:, home_node[on], : tier_m.size].transpose(1, 0, 2)
    within[on] = counts[:, home_node[on], tier_m.size].T
    if k > 1:
        knn_m, knn_fac = _per_home(run.knn_dist, run.knn_label, home_node, group_rows)
    else:  # the nearest, within the same reach as the k-nearest search (KNN_REACH_FACTOR x the largest limit)
        knn_m, knn_fac = nearest_m[:, :, None].copy(), nearest_fac[:, :, None].copy()
        beyond = knn_m > KNN_REACH_FACTOR * float(limits.max())
        knn_m[beyond], knn_fac[beyond] = np.inf, -1
    state = None
    if keep_state:
        from walkcircle.incremental import AccessState

        column = {cid: c for c, cid in enumerate(categories)}
        state = AccessState.from_passes(
            graph, home_node, categories, np.array([column.get(cat, -1) for cat in fac_categories], np.int64),
            np.where(np.isin(fac_categories, categories), fac_node, -1), group_rows, run.dist, run.label,
            np.take_along_axis(limits, order, axis=1), order, run.counts,
            run.knn_dist if k > 1 else None, run.knn_label if k > 1 else None,
        )  # fmt: skip
    for message in result_warnings:
        warnings.warn(message, WalkcircleWarning, stacklevel=2)
    return AccessResult(
        categories=categories,
        nearest_m=nearest_m,
        nearest_facility=nearest_fac,
        threshold_m=threshold,
        count_within_threshold=within,
        tiers_min=tiers,
        tier_counts=tier_counts,
        knn_m=knn_m,
        knn_facility=knn_fac,
        speed_kmh=float(speed_kmh),
        home_off_network=home_snap.off_network.copy(),
        facility_off_network=fac_snap.off_network.copy(),
        home_offset_m=home_snap.offset_m.copy(),
        empty_categories=empty,
        warnings=result_warnings,
        state=state,
    )


def _snap_points(
    network: WalkNetwork,
    homes: Snapped | pd.DataFrame,
    facilities: pd.DataFrame,
    categories: list[str],
    snap_cap_m: float,
) -> tuple[Snapped, Snapped, np.ndarray, list[str]]:
    """Snap homes and facilities onto the streets; say how many are too far to use."""
    found: list[str] = []
    home_snap = (
        homes
        if isinstance(homes, Snapped)
        else network.snap(homes["lon"].to_numpy(), homes["lat"].to_numpy(), snap_cap_m)
    )
    fac_snap = network.snap(facilities["lon"].to_numpy(), facilities["lat"].to_numpy(), snap_cap_m)
    if home_snap.off_network.any():
        found.append(
            f"{int(home_snap.off_network.sum())} of {len(home_snap)} homes are more than {snap_cap_m:g} m from any street: unreachable"
        )
    fac_categories = facilities["category"].astype(str).to_numpy()
    off_fac = fac_snap.off_network & np.isin(fac_categories, categories)
    if off_fac.any():
        found.append(
            f"{int(off_fac.sum())} facilities are more than {snap_cap_m:g} m from any street and not used"
        )
    return home_snap, fac_snap, fac_categories, found


def _category_groups(
    fac_categories: np.ndarray, fac_node: np.ndarray, categories: list[str]
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Per category: its routing-graph source nodes, their facility rows, and the empty categories."""
    groups, group_rows, empty = [], [], []
    for cid in categories:
        rows = np.flatnonzero((fac_categories == cid) & (fac_node >= 0))
        if rows.size == 0:
            empty.append(cid)
        groups.append(fac_node[rows])
        group_rows.append(rows)
    return groups, group_rows, empty


def _per_home(
    dist: np.ndarray, label: np.ndarray, home_node: np.ndarray, group_rows: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Read per-node results ([category, node, j]) at the homes' nodes; labels become facility rows."""
    on = home_node >= 0
    n_cat, _, depth = dist.shape
    metres = np.full((len(home_node), n_cat, depth), np.inf)
    rows = np.full((len(home_node), n_cat, depth), -1, np.int64)
    metres[on] = dist[:, home_node[on], :].transpose(1, 0, 2)
    raw = label[:, home_node[on], :].transpose(1, 0, 2)
    for c in range(n_cat):
        hit = raw[:, c, :] >= 0
        block = np.full(raw[:, c, :].shape, -1, np.int64)
        block[hit] = group_rows[c][raw[:, c, :][hit]]
        rows[on, c, :] = block
    return metres, rows


def _kernel_passes(
    csr: Any,
    groups: list[np.ndarray],
    limits_sorted: np.ndarray,
    k: int,
    engine: str,
    progress: Callable[[str], None] | None,
) -> paths.Passes:
    """Nearest, counts and (k > 1) k-nearest of every category in one pool of threads.

    The k-nearest search is bounded at ``KNN_REACH_FACTOR`` times the largest limit.
    """
    if engine not in paths.ENGINES:
        msg = f"unknown engine {engine!r}; use one of {paths.ENGINES}"
        raise ValueError(msg)
    if progress:
        progress(f"nearest facility for {len(groups)} categories")
        progress("counting facilities within each tier and threshold")
        if k > 1:
            progress(f"{k} nearest facilities per category")
    run = paths.passes(
        csr,
        groups,
        nearest=engine == "numba",
        count_limits=limits_sorted,
        k=k if k > 1 else None,
        k_limit=KNN_REACH_FACTOR * float(limits_sorted.max()) if limits_sorted.size else np.inf,
    )
    if engine != "numba":
        run.dist, run.label = paths.nearest(csr, groups, engine=engine)
    return run
