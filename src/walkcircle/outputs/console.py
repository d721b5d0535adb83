"""What the command line prints: Rich tables of a network, facilities, isochrones, scores, sites, batches.

Each function returns renderables (a `rich.table.Table` or text lines) and prints nothing, so
the command line stays a thin adapter and the tables can be tested on their own.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from walkcircle.i18n import t, translate_message, translate_progress

err_console = Console(stderr=True)
"""Progress, warnings and errors go to stderr."""
out_console = Console()
"""Tables, results and JSON go to stdout."""

if TYPE_CHECKING:
    import geopandas as gpd

    from walkcircle.profile import Profile
    from walkcircle.results import StudyResults
    from walkcircle.siting import Suggestion


def _table(title: str, columns: list[str], left: tuple[str, ...] = ()) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def network_table(summary: dict[str, Any], lang: str = "en") -> Table:
    """Summarise a walking network.

    Parameters
    ----------
    summary
        `WalkNetwork.summary()`.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    rich.table.Table
        Two columns: what and how much.
    """
    table = Table(title=t("c_network", lang), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        (t("c_nodes", lang), f"{summary['nodes']:,}"),
        (t("c_edges", lang), f"{summary['edges']:,}"),
        (t("c_length_km", lang), f"{summary['length_km']:,.1f}"),
        (t("c_components", lang), f"{summary['components']:,}"),
        (t("c_largest", lang), f"{summary['largest_share']:.1%}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def facility_table(counts: pd.DataFrame, profile_name: str, lang: str = "en") -> Table:
    """Facilities per category and source, with the share on the street network.

    Parameters
    ----------
    counts
        `walkcircle.sources.facilities.category_counts_table` plus ``snapped_share``.
    profile_name
        The profile's name in the study language.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    rich.table.Table
        One row per category.
    """
    sources = [c for c in counts.columns if c not in ("name", "total", "snapped_share")]
    heads = [t("c_category", lang), t("c_name", lang), *sources, t("c_total", lang), t("c_on_network", lang)]
    table = _table(t("c_facilities_title", lang, profile=profile_name), heads, tuple(heads[:2]))
    for cid, row in counts.iterrows():
        share = row["snapped_share"]
        on = "-" if pd.isna(share) else f"{share:.0%}"
        table.add_row(str(cid), row["name"], *[str(int(row[s])) for s in sources], str(int(row["total"])), on)
    return table


def isochrone_table(iso: gpd.GeoDataFrame, speed_kmh: float, half_width_m: float, lang: str = "en") -> Table:
    """Isochrones: origin, minutes, metres and area.

    Parameters
    ----------
    iso
        `walkcircle.isochrones.isochrones` output.
    speed_kmh
        Walking speed.
    half_width_m
        Street half-width.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    rich.table.Table
        One row per isochrone.
    """
    heads = [t(k, lang) for k in ("c_origin", "c_minutes", "c_metres", "c_area_ha")]
    table = _table(
        t("c_isochrones_title", lang, speed=f"{speed_kmh:g}", width=f"{half_width_m:g}"), heads, heads[:1]
    )
    for row in iso.itertuples():
        table.add_row(
            str(row.origin_id), f"{row.minutes:g}", f"{row.budget_m:,.0f}", f"{row.area_m2 / 1e4:,.1f}"
        )
    return table


def score_lines(results: StudyResults, profile: Profile, lang: str) -> list[Any]:
    """Coverage per category, tiers and the programme's claim.

    Parameters
    ----------
    results
        The study's results.
    profile
        The profile.
    lang
        ``zh`` or ``en`` (labels and category names).

    Returns
    -------
    list
        A table and text lines.
    """
    summary, access = results.summary, results.access
    gaps = set(summary["data_gaps"])
    title = t("c_coverage_title", lang, homes=f"{summary['homes']:,}", people=f"{summary['population']:,.0f}",
              profile=profile.name(lang), speed=f"{summary['speed_kmh']:g}")  # fmt: skip
    keys = ("c_category", "c_name", "c_threshold", "c_facility_count", "c_covered", "c_note")
    heads = [t(k, lang) for k in keys]
    table = _table(title, heads, (heads[0], heads[1], heads[5]))
    for c, cid in enumerate(access.categories):
        count = summary["facilities"][cid]
        note = t("c_gap", lang) if cid in gaps else (t("c_no_facility", lang) if count == 0 else "")
        metres = f"{access.threshold_m[c]:,.0f} {'米' if lang == 'zh' else 'm'}"
        table.add_row(
            cid, profile.category(cid).name(lang), metres, str(count), f"{summary['coverage'][cid]:.0%}", note
        )
    tiers = ", ".join(
        t("c_tier", lang, minutes=k.removeprefix("tier_").removesuffix("min"), share=f"{v:.0%}")
        for k, v in summary["tiers"].items()
    )
    lines: list[Any] = [table, t("c_mean_score", lang, score=f"{summary['score_mean']:.1f}", tiers=tiers)]
    programme = summary["programme"]
    if programme["communities"]:
        claimed = t("c_claimed", lang, claimed=programme["claimed"]) if programme.get("claimed") else ""
        lines.append(
            t("c_programme", lang, meet=programme["meet_all"], total=programme["communities"]) + claimed
        )
    return lines


def suggestion_table(result: Suggestion, category_name: str, count: int, lang: str = "en") -> Table:
    """Suggested sites with their marginal gains.

    Parameters
    ----------
    result
        `walkcircle.siting.Suggestion`.
    category_name
        The category's name.
    count
        How many were asked for.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    rich.table.Table
        One row per site.
    """
    title = t(
        "c_sites_title",
        lang,
        count=count,
        name=category_name,
        metres=f"{result.threshold_m:,.0f}",
        method=result.method,
    )
    keys = ("c_rank", "c_site", "c_lon", "c_lat", "c_gain_people", "c_gain_homes", "c_coverage_after")
    heads = [t(k, lang) for k in keys]
    table = _table(title, heads, (heads[1],))
    for row in result.sites.itertuples():
        table.add_row(
            str(row.rank), str(row.candidate), f"{row.lon:.6f}", f"{row.lat:.6f}", f"{row.gain_population:,.0f}",
            str(row.gain_homes), f"{row.coverage_after:.1%}",
        )  # fmt: skip
    return table


def batch_table(areas: pd.DataFrame) -> Table:
    """One row per area of a batch.

    Parameters
    ----------
    areas
        `walkcircle.batch.BatchResult.areas`.

    Returns
    -------
    rich.table.Table
        Area, status, size, score, error.
    """
    table = _table(
        f"{len(areas)} areas",
        ["area", "status", "nodes", "homes", "score", "error"],
        ("area", "status", "error"),
    )
    for row in areas.to_dict(orient="records"):
        cells = [row.get(k) for k in ("network_nodes", "homes", "score_mean")]
        nodes, homes, score = ("" if v is None or pd.isna(v) else float(v) for v in cells)
        table.add_row(
            str(row["area"]), str(row["status"]), "" if nodes == "" else f"{nodes:,.0f}",
            "" if homes == "" else f"{homes:,.0f}", "" if score == "" else f"{score:.1f}", str(row.get("error") or "")[:120],
        )  # fmt: skip
    return table


def comparison_table(categories: pd.DataFrame, lang: str = "en") -> Table:
    """Two studies side by side per category (`walkcircle.compare.Comparison.tables.categories`).

    Parameters
    ----------
    categories
        One row per category, columns ``<x>_a``/``<x>_b`` and the residents gained and lost.
    lang
        ``zh`` or ``en`` (headers).

    Returns
    -------
    rich.table.Table
        The table.
    """
    from walkcircle.i18n import column_label

    heads = [column_label(str(c), lang) for c in categories.columns]
    table = _table(t("c_compare", lang), heads, (heads[0],))
    for row in categories.itertuples(index=False):
        table.add_row(*[f"{v:.0%}" if isinstance(v, float) and 0 <= v <= 1 and "coverage" in str(c) else
                        (f"{v:,.1f}" if isinstance(v, float) else str(v)) for c, v in zip(categories.columns, row, strict=True)])  # fmt: skip
    return table


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _plain(value.item()) if hasattr(value, "item") and callable(value.item) else value


def json_text(payload: Any) -> str:
    """Return JSON for machines: NaN and infinity become null, numpy scalars plain numbers.

    Parameters
    ----------
    payload
        JSON-ready data (dicts, lists, numbers, text; other objects become text).

    Returns
    -------
    str
        Indented JSON, Chinese kept as is.

    Examples
    --------
    >>> print(json_text({"share": float("nan"), "n": 2}))
    {
      "share": null,
      "n": 2
    }
    """
    return json.dumps(_plain(payload), ensure_ascii=False, indent=2, default=str, allow_nan=False)


@contextmanager
def steps_bar(
    console: Console,
    total: int,
    hide: bool,
    verbose: bool,
    check: Callable[[], None],
    lang: Callable[[], str] = lambda: "en",
) -> Iterator[Callable[[str | None], None]]:
    """Show a Rich progress bar over the steps of a job (each message starts a step).

    Parameters
    ----------
    console
        Where to draw it (stderr).
    total
        Expected number of steps (the bar grows if there are more).
    hide
        Draw nothing.
    verbose
        Also log each finished step with its duration.
    check
        Called at every step (raises to stop, e.g. after Ctrl-C).
    lang
        Returns the language to show the steps in (asked at every step: a command knows its
        study's language only once its settings are read); the messages come in English and
        go through `walkcircle.i18n.translate_progress`.

    Yields
    ------
    callable
        Call with a message when a step starts (None: the job is done).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=not verbose, disable=hide) as bar:
        task = bar.add_task(escape(translate_progress("starting", lang())), total=total)
        state: dict[str, Any] = {"message": None, "t": time.perf_counter()}

        def step(message: str | None) -> None:
            check()
            now = time.perf_counter()
            if state["message"] is not None:
                bar.advance(task)
                if verbose:
                    seconds = f"{now - state['t']:.1f}"
                    bar.console.log(
                        t("c_step_done", lang(), step=state["message"], seconds=seconds), highlight=False
                    )
            if bar.tasks[0].completed >= (bar.tasks[0].total or 0):
                bar.update(task, total=bar.tasks[0].completed + 1)
            shown = escape(translate_progress(message or "done", lang()))
            state.update(message=shown, t=now)
            bar.update(task, description=shown)

        yield step
        step(None)


def warn(messages: list[str], quiet: bool = False, lang: str = "en") -> None:
    """Print warnings on stderr, one line each, in the study language (nothing when quiet).

    Parameters
    ----------
    messages
        The warnings, in English as walkcircle writes them (summary.json keeps that text).
    quiet
        Print nothing.
    lang
        ``"zh"`` or ``"en"``: each warning goes through `walkcircle.i18n.translate_message`.
    """
    prefix = escape(t("c_warning", lang))
    for message in [] if quiet else messages:
        text = escape(translate_message(message, lang))
        err_console.print(f"[yellow]{prefix}[/]{text}", highlight=False, soft_wrap=True)


def show(mode: dict[str, Any], *renderables: Any) -> None:
    """Print tables and lines on stdout, unless the mode is ``as_json`` or ``quiet``.

    Parameters
    ----------
    mode
        ``as_json`` and ``quiet`` (a command's flags); ``lang`` (the study language, default
        ``"en"``): text lines such as `LoadReport.describe` go through `translate_message`.
    *renderables
        Rich tables or text.
    """
    lang = mode.get("lang") or "en"
    for item in [] if mode.get("as_json") or mode.get("quiet") else renderables:
        shown = escape(translate_message(item, lang)) if isinstance(item, str) else item
        out_console.print(shown, highlight=False)


def say(
    mode: dict[str, Any], payload: dict[str, Any], lines: list[str], warnings: list[str] = (), done: str = ""
) -> None:
    """Print a command's result: the JSON payload, or warnings, lines and the line naming what was written.

    Parameters
    ----------
    mode
        ``as_json`` (print only the payload), ``quiet`` (print only `done`) and ``lang``
        (the study language of the warnings and lines; default ``"en"``).
    payload
        JSON for machines (NaN and infinity become null).
    lines
        Text for people.
    warnings
        Printed on stderr.
    done
        The line naming what was written, printed even when quiet.
    """
    if mode.get("as_json"):
        out_console.file.write(json_text(payload) + "\n")
        return
    warn(list(warnings), bool(mode.get("quiet")), mode.get("lang") or "en")
    show(mode, *lines)
    if done:
        out_console.print(escape(done), highlight=False, soft_wrap=True)
