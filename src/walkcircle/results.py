"""What a study produces: `StudyResults`, and the schema of ``summary.json``.

The outputs (tables, map, report) read a `StudyResults`; `study_summary` is the one place
that decides what ``summary.json`` holds:

``study``, ``demo``, ``created``, ``network`` {nodes, edges, length_km, components,
largest_share}, ``facilities`` {category: count}, ``facility_sources`` (rows read, dropped
with reasons, merged, per source and category), ``homes``, ``population``,
``population_source`` (raster, raster+communities, communities or homes),
``population_raster`` (what the raster gave), ``extract`` (the cut of a big extract),
``coverage`` {category: share}, ``score_mean``, ``tiers`` {tier: share}, ``profile``,
``speed_kmh``, ``knn_reach_m`` (the k nearest are searched up to this distance), ``sources`` (inputs), ``data_gaps``, ``empty_categories``, ``programme``
(with ``applicable``), ``suggestions``, ``warnings``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkcircle.defaults import KNN_REACH_FACTOR

if TYPE_CHECKING:
    import geopandas as gpd

    from walkcircle.access import AccessResult
    from walkcircle.network import WalkNetwork
    from walkcircle.settings import Settings
    from walkcircle.siting import Suggestion
    from walkcircle.sources.loads import FacilityLoad

__all__ = ["StudyResults", "study_summary"]


@dataclass
class StudyResults:
    """What a study produced (GeoDataFrames in WGS-84)."""

    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    homes: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | pd.DataFrame
    districts: pd.DataFrame
    community_by_category: pd.DataFrame
    programme: dict[str, Any]
    ledger: pd.DataFrame
    suggestions: list[Suggestion]
    access: AccessResult
    summary: dict[str, Any]
    service_areas: gpd.GeoDataFrame | None = None
    """Per category, the street area within its threshold of a facility (`Study.service_areas`)."""
    scenario: Any = None
    """The plan's changes (`walkcircle.scenario.ScenarioOutcome`) when a scenario was asked for."""


def _weighted(values: pd.Series | np.ndarray, weights: np.ndarray) -> float:
    return float(np.average(np.asarray(values, np.float64), weights=weights))


def study_summary(
    settings: Settings,
    profile_id: str,
    network: WalkNetwork,
    load: FacilityLoad,
    homes: pd.DataFrame,
    scores: pd.DataFrame,
    access: AccessResult,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Build the content of ``summary.json``.

    Parameters
    ----------
    settings
        The study's settings.
    profile_id
        The profile's id.
    network
        The walking network.
    load
        The facilities and their load reports.
    homes
        Homes (with ``population``).
    scores
        Per-home scores (`walkcircle.scoring.home_table`).
    access
        The access result.
    extra
        ``data_gaps``, ``programme``, ``suggestions``, ``warnings`` (and any later additions).

    Returns
    -------
    dict
        JSON-ready summary.
    """
    categories = access.categories
    weights = homes["population"].to_numpy(np.float64)
    weights = weights if weights.sum() > 0 else np.ones(len(weights))
    counts = load.counts()
    return {
        "study": settings.name,
        "demo": settings.sources.demo,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "network": network.summary(),
        "facilities": {cid: int(counts.get(cid, 0)) for cid in categories},
        "homes": len(homes),
        "population": float(homes["population"].sum()),
        "coverage": {cid: _weighted(scores[f"reached_{cid}"], weights) for cid in categories},
        "score_mean": _weighted(scores["score"], weights),
        "tiers": {c: _weighted(scores[c], weights) for c in scores.columns if c.startswith("tier_")},
        "profile": profile_id,
        "speed_kmh": settings.routing.speed_kmh,
        "knn_reach_m": KNN_REACH_FACTOR
        * float(max(access.threshold_m.max(initial=0), *(access.tiers_min * access.speed_kmh / 0.06))),
        "sources": settings.inputs(),
        "empty_categories": access.empty_categories,
        **extra,
    }
