"""Life-circle scores for homes, communities, districts and a programme, and the ledger.

The formula (documented, and asserted by hand in the tests):

- category score of a home: 100 when the nearest facility is within the category's threshold
  T; beyond it the score falls linearly to 0 at ``decay_factor * T`` (default 2, so a clinic at
  450 m with a 300 m threshold scores 50); unreachable scores 0;
- home score: the weighted mean of its category scores, with the profile's weights;
- a home satisfies a life-circle tier (5/10/15 minutes) when it reaches every category that
  the profile lists for that tier within the category's threshold;
- coverage of a category in a community: the population-weighted share of its homes that reach
  it within the threshold (off-network homes count as not covered);
- a community meets a category when coverage >= ``pass_share`` (default 0.8); it meets a circle
  when it meets all its categories; residents affected are those not covered;
- ledger: per programme item, the claimed count, the count in the data loaded and inside the
  study area, and a data-gap flag by this rule. A profile may declare where its programme
  applies (``[programme]``: an outline in WGS-84 and the land area, km²). A study area that
  does not meet the outline is *outside*: the claims are listed for reference, marked not
  applicable, and nothing is flagged. Inside, the study covers ``share = area(study ∩ outline)
  / land area`` of the programme's area (capped at 1; geodesic areas), the claims expected in
  the study area are ``expected = claimed x share``, and a row is a data gap when
  ``in_area < gap_ratio x expected`` (default 0.5): the map, not the city, is then the likely
  gap. Rows with ``expected < gap_min_expected`` (default 2) are too small to judge and are not
  flagged. With no study area given, or a profile that declares no outline, the share is 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkcircle.defaults import DEFAULT_GAP_MIN_EXPECTED
from walkcircle.errors import InputError
from walkcircle.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd
    import shapely

    from walkcircle.access import AccessResult
    from walkcircle.profile import Profile


@dataclass(frozen=True)
class ScoringRules:
    """The knobs of the scoring formula.

    Attributes
    ----------
    decay_factor
        Scores fall linearly from 100 at the threshold to 0 at ``decay_factor`` x threshold
        (> 1).
    pass_share
        Share of residents that must be covered for a community to meet a category (0-1].
    gap_ratio
        Data gap when the data holds fewer than this share of the claims expected in the study
        area.
    gap_min_expected
        Rows with fewer claims expected in the study area are not judged.
    """

    decay_factor: float = 2.0
    pass_share: float = 0.8
    gap_ratio: float = 0.5
    gap_min_expected: float = DEFAULT_GAP_MIN_EXPECTED

    def __post_init__(self) -> None:
        if not self.decay_factor > 1:
            msg = f"decay_factor must be > 1 (got {self.decay_factor})"
            raise InputError(msg)
        if not 0 < self.pass_share <= 1:
            msg = f"pass_share must be in (0, 1] (got {self.pass_share})"
            raise InputError(msg)
        if not 0 < self.gap_ratio <= 1:
            msg = f"gap_ratio must be in (0, 1] (got {self.gap_ratio})"
            raise InputError(msg)
        if not self.gap_min_expected >= 0:
            msg = f"gap_min_expected must be >= 0 (got {self.gap_min_expected})"
            raise InputError(msg)


def category_scores(nearest_m: np.ndarray, threshold_m: np.ndarray, decay_factor: float = 2.0) -> np.ndarray:
    """Score each (home, category) from 0 to 100.

    Parameters
    ----------
    nearest_m
        Distances to the nearest facility, (homes, categories); ``inf`` if unreachable.
    threshold_m
        Threshold per category.
    decay_factor
        Score 0 at ``decay_factor * threshold``.

    Returns
    -------
    numpy.ndarray
        Scores in [0, 100].
    """
    threshold = np.asarray(threshold_m, np.float64)[None, :]
    beyond = (np.asarray(nearest_m, np.float64) - threshold) / ((decay_factor - 1.0) * threshold)
    return np.clip(100.0 * (1.0 - beyond), 0.0, 100.0)


def weighted_score(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over categories (weights of 0 everywhere give NaN).

    Parameters
    ----------
    scores
        (homes, categories).
    weights
        Per category.

    Returns
    -------
    numpy.ndarray
        Per home.
    """
    weights = np.asarray(weights, np.float64)
    total = weights.sum()
    if total <= 0:
        return np.full(scores.shape[0], np.nan)
    return scores @ weights / total


def home_table(access: AccessResult, profile: Profile, rules: ScoringRules | None = None) -> pd.DataFrame:
    """Per home: reached, walk time and score per category, overall score, tier flags.

    Parameters
    ----------
    access
        Access results (categories in any order; each must be in the profile).
    profile
        Weights and tiers.
    rules
        Scoring rules.

    Returns
    -------
    pandas.DataFrame
        Columns ``reached_<cat>`` (bool), ``minutes_<cat>`` (inf when unreachable),
        ``score_<cat>``, ``score``, ``tier_<T>min`` (bool) per profile tier.
    """
    rules = rules or ScoringRules()
    weights = np.array([profile.category(c).weight for c in access.categories])
    reached = access.reached
    scores = category_scores(access.nearest_m, access.threshold_m, rules.decay_factor)
    minutes = access.walk_time_s / 60.0
    out: dict[str, Any] = {}
    for c, cid in enumerate(access.categories):
        out[f"reached_{cid}"] = reached[:, c]
        out[f"minutes_{cid}"] = minutes[:, c]
        out[f"score_{cid}"] = scores[:, c]
    out["score"] = weighted_score(scores, weights)
    for tier in profile.tiers:
        needed = [access.categories.index(c) for c in tier.categories if c in access.categories]
        missing = [c for c in tier.categories if c not in access.categories]
        flag = reached[:, needed].all(axis=1) if needed else np.ones(len(reached), bool)
        if missing:  # a tier whose categories were not computed cannot be satisfied
            flag = np.zeros(len(reached), bool)
        out[f"tier_{tier.minutes:g}min"] = flag
    out["off_network"] = access.home_off_network
    return pd.DataFrame(out)


def _group_table(
    homes: pd.DataFrame, scores: pd.DataFrame, categories: Sequence[str], by: str, rules: ScoringRules
) -> pd.DataFrame:
    population = homes["population"].to_numpy(np.float64)
    if (population < 0).any() or not np.isfinite(population).all():
        msg = "home population must be finite and >= 0"
        raise InputError(msg)
    keys = homes[by].astype(str).to_numpy()
    frame = pd.DataFrame({"key": keys, "population": population, "score": scores["score"].to_numpy()})
    rows = []
    for key, idx in frame.groupby("key").indices.items():
        pop = population[idx]
        total = pop.sum()
        row: dict[str, Any] = {by: key, "n_homes": int(idx.size), "population": float(total)}
        weights = pop if total > 0 else np.ones(idx.size)
        row["score_mean"] = float(np.average(scores["score"].to_numpy()[idx], weights=weights))
        failing, affected_total = [], np.zeros(idx.size, bool)
        for cid in categories:
            covered = scores[f"reached_{cid}"].to_numpy()[idx]
            share = float(np.average(covered, weights=weights))
            row[f"coverage_{cid}"] = share
            row[f"affected_{cid}"] = float(pop[~covered].sum())
            if share < rules.pass_share:
                failing.append(cid)
                affected_total |= ~covered
        row["failing"] = ";".join(failing)
        row["n_failing"] = len(failing)
        row["meets_all"] = not failing
        row["residents_affected"] = float(pop[affected_total].sum())
        for col in scores.columns:
            if col.startswith("tier_"):
                row[f"share_{col}"] = float(np.average(scores[col].to_numpy()[idx], weights=weights))
        rows.append(row)
    return pd.DataFrame(rows)


def community_table(
    homes: pd.DataFrame, scores: pd.DataFrame, categories: Sequence[str], rules: ScoringRules | None = None
) -> pd.DataFrame:
    """Aggregate home results per community (homes with no community are left out).

    Parameters
    ----------
    homes
        Homes with ``community`` and ``population``.
    scores
        `home_table` output, same row order.
    categories
        Category ids.
    rules
        Scoring rules.

    Returns
    -------
    pandas.DataFrame
        One row per community: ``n_homes``, ``population``, ``score_mean``,
        ``coverage_<cat>``, ``affected_<cat>``, ``failing`` (``;``-separated ids),
        ``n_failing``, ``meets_all``, ``residents_affected``, ``share_tier_<T>min``.
    """
    rules = rules or ScoringRules()
    has = homes["community"].astype(str).str.len() > 0
    if not has.any():
        return pd.DataFrame(columns=["community", "n_homes", "population", "score_mean"])
    return _group_table(homes[has.to_numpy()], scores[has.to_numpy()], categories, "community", rules)


def district_table(
    homes: pd.DataFrame, scores: pd.DataFrame, categories: Sequence[str], rules: ScoringRules | None = None
) -> pd.DataFrame:
    """Aggregate home results per district (column ``district``; all homes if absent).

    Parameters
    ----------
    homes
        Homes, optionally with ``district``.
    scores
        `home_table` output.
    categories
        Category ids.
    rules
        Scoring rules.

    Returns
    -------
    pandas.DataFrame
        Same columns as `community_table`, keyed by ``district``.
    """
    rules = rules or ScoringRules()
    frame = homes.copy()
    if "district" not in frame.columns or (frame["district"].astype(str) == "").all():
        frame["district"] = "all"
    frame["district"] = frame["district"].astype(str).replace("", "(none)")
    return _group_table(frame, scores, categories, "district", rules)


@dataclass(frozen=True)
class ProgrammeScope:
    """Whether a profile's programme applies to a study area, and how much of it the study covers.

    Attributes
    ----------
    applicable
        True inside the programme's area, False outside it (or when the profile has no ledger),
        None when no study area was given (the ledger then assumes the whole programme).
    share
        Share of the programme's area the study covers, in [0, 1] (1 when applicable is None
        or the profile declares no outline; 0 when not applicable).
    study_km2
        Geodesic area of the study area inside the outline, km² (None without an outline).
    area_id
        The programme area's id (``""`` when none is declared).
    """

    applicable: bool | None
    share: float
    study_km2: float | None = None
    area_id: str = ""


def geodesic_area_km2(geometry: shapely.Geometry) -> float:
    """Return the area of a WGS-84 polygon on the WGS-84 ellipsoid, km².

    Parameters
    ----------
    geometry
        Polygon or MultiPolygon, lon/lat degrees.

    Returns
    -------
    float
        Area in km² (0 for empty or non-areal geometries).
    """
    from pyproj import Geod

    if geometry is None or geometry.is_empty:
        return 0.0
    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(geometry)
    return abs(float(area)) / 1e6


def programme_scope(profile: Profile, area: shapely.Geometry | None) -> ProgrammeScope:
    """Decide whether the profile's programme applies to a study area (see the module notes).

    Parameters
    ----------
    profile
        Its ``programme`` outline and ledger.
    area
        Study area in WGS-84 (None: not known).

    Returns
    -------
    ProgrammeScope
        Applicability and share.
    """
    programme = profile.programme
    if not profile.ledger:
        return ProgrammeScope(False, 0.0, None, programme.area if programme else "")
    if programme is None or area is None:
        return ProgrammeScope(None if area is None else True, 1.0, None, programme.area if programme else "")
    inside = area.intersection(programme.geometry())
    study_km2 = geodesic_area_km2(inside)
    if inside.is_empty or study_km2 <= 0:
        return ProgrammeScope(False, 0.0, 0.0, programme.area)
    return ProgrammeScope(True, min(1.0, study_km2 / programme.area_km2), study_km2, programme.area)


def programme_summary(
    communities: pd.DataFrame,
    profile: Profile,
    categories: Sequence[str],
    area: shapely.Geometry | None = None,
) -> dict[str, Any]:
    """Count communities meeting every category and every circle.

    Parameters
    ----------
    communities
        `community_table` output.
    profile
        For the circles.
    categories
        Categories scored.
    area
        Study area in WGS-84, to say whether the profile's programme applies (`programme_scope`).

    Returns
    -------
    dict
        ``communities``, ``meet_all``, ``meet_category`` {id: n}, ``meet_circle`` {id: n},
        ``claimed`` (the programme's claimed number of communities, if any), ``applicable``
        (True/False; None when no area was given), ``area`` (the programme area's id),
        ``area_share`` (share of the programme's area the study covers).
    """
    n = len(communities)
    failing = [set(str(f).split(";")) - {""} for f in communities.get("failing", pd.Series(dtype=str))]
    meet_category = {cid: sum(cid not in f for f in failing) for cid in categories}
    meet_circle = {}
    for circle in profile.circles:
        cats = [c for c in circle.categories if c in categories]
        meet_circle[circle.id] = sum(not (set(cats) & f) for f in failing) if cats else None
    scope = programme_scope(profile, area)
    return {
        "communities": n,
        "meet_all": sum(not f for f in failing),
        "meet_category": meet_category,
        "meet_circle": meet_circle,
        "claimed": profile.communities_claimed,
        "applicable": scope.applicable,
        "area": scope.area_id,
        "area_share": scope.share,
    }


def community_by_category(communities: pd.DataFrame, categories: Sequence[str]) -> pd.DataFrame:
    """Return the community x category table of coverage shares.

    Parameters
    ----------
    communities
        `community_table` output.
    categories
        Column order.

    Returns
    -------
    pandas.DataFrame
        Index: community; columns: category ids; values: coverage share.
    """
    if communities.empty:
        return pd.DataFrame(columns=list(categories))
    table = communities.set_index("community")[[f"coverage_{c}" for c in categories]]
    table.columns = list(categories)
    return table


def _ledger_counter(
    facilities: gpd.GeoDataFrame, area: shapely.Geometry | None
) -> tuple[Any, np.ndarray, np.ndarray]:
    import shapely

    cats = facilities["category"].astype(str).to_numpy() if len(facilities) else np.array([], str)
    inside = np.ones(len(facilities), bool)
    if area is not None and len(facilities):
        inside = shapely.contains_xy(area, facilities["lon"].to_numpy(), facilities["lat"].to_numpy())
    feature = facilities["feature_id"].astype(str).to_numpy() if len(facilities) else np.array([], str)

    def count(category_ids: Sequence[str], mask: np.ndarray) -> int:
        hit = np.isin(cats, list(category_ids)) & mask
        return int(np.unique(feature[hit]).size)  # a feature serving two categories counts once

    return count, inside, np.ones(len(cats), bool)


def judge_claim(
    in_area: int, claimed: int, scope: ProgrammeScope, rules: ScoringRules
) -> tuple[float, bool | None, str]:
    """Apply the data-gap rule to one ledger row.

    Parameters
    ----------
    in_area
        Facilities of the row's categories in the study area.
    claimed
        The programme's claim for the whole programme area.
    scope
        `programme_scope` of the study.
    rules
        ``gap_ratio`` and ``gap_min_expected``.

    Returns
    -------
    tuple
        ``expected`` (claims expected in the study area), ``data_gap`` (None when not judged:
        outside the programme or too few expected) and a note key of `walkcircle.i18n`.
    """
    if scope.applicable is False:
        return 0.0, False, "ledger_not_applicable"
    expected = claimed * scope.share
    if expected < rules.gap_min_expected:
        return expected, None, "ledger_too_few"
    if in_area < rules.gap_ratio * expected:
        return expected, True, "ledger_gap"
    return expected, False, "ledger_ok"


def ledger_table(
    profile: Profile,
    facilities: gpd.GeoDataFrame,
    area: shapely.Geometry | None = None,
    rules: ScoringRules | None = None,
    lang: str = "en",
) -> pd.DataFrame:
    """Build the programme ledger: claimed counts against what the data holds.

    Parameters
    ----------
    profile
        Its ledger items (a profile without a ledger gives one row per category with no
        claim) and its programme outline.
    facilities
        Facilities loaded (all sources, merged).
    area
        Study area in WGS-84; counts "in area" are of facilities inside it (all if None), and
        it decides whether the programme applies (`programme_scope`).
    rules
        For ``gap_ratio`` and ``gap_min_expected``.
    lang
        Item names and notes in ``"zh"`` or ``"en"``.

    Returns
    -------
    pandas.DataFrame
        One row per claim: items over the same categories are summed (e.g. sports halls,
        multi-purpose grounds and outdoor fitness grounds are one fitness claim); columns
        ``circle``, ``item``, ``categories``, ``claimed``, ``found``, ``in_area``,
        ``applicable`` (the programme applies to the study area), ``expected`` (claims scaled
        to the study's share of the programme area), ``data_gap`` (True/False; None for rows
        not judged: items that are not walkable destinations, listed last, and rows with too
        few claims expected), ``note``.
    """
    rules = rules or ScoringRules()
    scope = programme_scope(profile, area)
    count, inside, everywhere = _ledger_counter(facilities, area)
    rows = []
    items = list(profile.ledger)
    if not items:
        for cat in profile.categories:
            rows.append(
                {
                    "circle": "", "item": cat.name(lang), "categories": cat.id, "claimed": None,
                    "found": count([cat.id], everywhere), "in_area": count([cat.id], inside),
                    "applicable": False, "expected": None, "data_gap": None, "note": t("ledger_no_claim", lang),
                }
            )  # fmt: skip
        return _ledger_frame(rows)
    circle_names = {c.id: c.name(lang) for c in profile.circles}
    # items over the same categories are one claim (the three fitness items are all sports
    # grounds); an item over several categories (schools + kindergartens) is compared with
    # the facilities of all of them together
    groups: dict[tuple[str, ...], list[Any]] = {}
    for item in items:
        if item.categories:
            groups.setdefault(tuple(item.categories), []).append(item)
    applicable = scope.applicable is not False
    for category_ids, group in groups.items():
        claimed = sum(item.count for item in group)
        in_area = count(category_ids, inside)
        expected, gap, note = judge_claim(in_area, claimed, scope, rules)
        rows.append(
            {
                "circle": circle_names.get(group[0].circle, group[0].circle),
                "item": " + ".join(item.item_zh if lang == "zh" else item.item_en for item in group),
                "categories": ";".join(category_ids),
                "claimed": claimed,
                "found": count(category_ids, everywhere),
                "in_area": in_area,
                "applicable": applicable,
                "expected": round(expected, 1) if applicable else None,
                "data_gap": gap,
                "note": t(note, lang, in_area=in_area, expected=expected, claimed=claimed),
            }
        )
    for item in items:
        if not item.categories:
            rows.append(
                {
                    "circle": circle_names.get(item.circle, item.circle),
                    "item": item.item_zh if lang == "zh" else item.item_en,
                    "categories": "",
                    "claimed": item.count,
                    "found": None,
                    "in_area": None,
                    "applicable": applicable,
                    "expected": None,
                    "data_gap": None,
                    "note": t("ledger_not_destination", lang),
                }
            )
    return _ledger_frame(rows)


def _ledger_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    for col in ("claimed", "found", "in_area"):
        table[col] = table[col].astype("Int64")  # counts stay whole numbers next to blanks
    table["expected"] = table["expected"].astype("Float64")
    table["data_gap"] = table["data_gap"].astype(object).where(table["data_gap"].notna(), None)
    return table


def category_gaps(ledger: pd.DataFrame) -> dict[str, bool]:
    """Return, per category, whether any ledger item over it flags a data gap.

    Parameters
    ----------
    ledger
        `ledger_table` output.

    Returns
    -------
    dict
        Category id -> data gap.
    """
    out: dict[str, bool] = {}
    for row in ledger.itertuples():
        if (
            row.data_gap is None
            or pd.isna(row.data_gap)
            or not isinstance(row.categories, str)
            or not row.categories
        ):
            continue
        for cid in row.categories.split(";"):
            out[cid] = out.get(cid, False) or bool(row.data_gap)
    return out
