"""The study report: one self-contained HTML page that prints on A4, and its PDF twin.

Sections: summary, methods (score formula, pass rule, thresholds with the clause each comes
from, walking speed, snapping, data sources with dates and licences), coverage by category
with charts, a static map per category (streets, facilities, homes covered and not covered),
communities, one section per community, the programme ledger, suggested sites, inputs and
versions, warnings. Every table comes from `walkcircle.outputs.readable`, so no Python value
(True, None, nan, <NA>, inf) reaches the page; every label from `walkcircle.i18n`.

Charts and maps are drawn with matplotlib and embedded as PNG data URIs; the page loads
nothing from the network. Chinese labels need a CJK font (e.g. Debian's fonts-wqy-microhei
or fonts-noto-cjk); without one the charts fall back to category ids and the report says so.
The PDF (`walkcircle.outputs.pdf`) has the summary pages, then one page per community.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from walkcircle.defaults import DEFAULT_GAP_RATIO
from walkcircle.i18n import check_lang, translate_message
from walkcircle.i18n import t as _t
from walkcircle.outputs import readable
from walkcircle.outputs.export import atomic_path
from walkcircle.outputs.static_maps import (
    CJK_FONTS,
    category_maps,
    cjk_font,
    coverage_chart_png,
    minutes_chart_png,
)

if TYPE_CHECKING:
    from walkcircle.profile import Profile
    from walkcircle.scoring import ScoringRules
    from walkcircle.study import StudyResults

__all__ = ["CJK_FONTS", "cjk_font", "render_report", "t", "versions", "write_report"]

PACKAGES = ("walkcircle", "numpy", "scipy", "numba", "pandas", "geopandas", "shapely", "pyproj", "osmnx", "osmium",
            "folium", "matplotlib", "openpyxl", "fpdf2")  # fmt: skip
WIDE_COLUMNS = 8
"""Tables with more columns than this print on a landscape page."""

CSS = """
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; max-width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f3f3f3; }
td.gap { background: #fde0dd; font-weight: bold; }
.demo { background: #fff3cd; border: 1px solid #e0b000; padding: 0.6em; font-weight: bold; }
img { max-width: 100%; }
figure { display: inline-block; margin: 0 0.5em 1em 0; width: 48%; vertical-align: top; }
figure img { width: 100%; }
figcaption { font-size: 12px; color: #444; }
.wide table { font-size: 11px; }
.community { border-top: 2px solid #888; margin-top: 2em; }
@page { size: A4; margin: 12mm; }
@page landscape { size: A4 landscape; margin: 10mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  table { width: 100%; table-layout: fixed; font-size: 8pt; page-break-inside: auto; }
  tr { page-break-inside: avoid; }
  th, td { padding: 2px 4px; }
  .wide { page: landscape; }
  .wide table { font-size: 6.5pt; }
  figure { width: 48%; page-break-inside: avoid; }
  .community { page-break-before: always; border-top: none; }
  h2 { page-break-after: avoid; }
}
"""


def t(key: str, lang: str) -> str:
    """Return report text in ``zh`` or ``en`` (see `walkcircle.i18n.STRINGS`).

    Parameters
    ----------
    key
        Text key.
    lang
        Language.

    Returns
    -------
    str
        The text.
    """
    return _t(key, "zh" if lang == "zh" else "en")


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def coverage_chart(results: StudyResults, profile: Profile, lang: str) -> tuple[str, bool]:
    """Draw the coverage bar chart as a PNG data URI.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    lang
        Label language.

    Returns
    -------
    tuple
        PNG data URI, and whether the labels are in the requested language.
    """
    png, localised = coverage_chart_png(results, profile, lang)
    return _uri(png), localised


def minutes_chart(results: StudyResults, profile: Profile, lang: str) -> str:
    """Draw box plots of walking minutes per category as a PNG data URI.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    lang
        Label language.

    Returns
    -------
    str
        PNG data URI.
    """
    return _uri(minutes_chart_png(results, profile, lang))


def versions() -> dict[str, str]:
    """Return the versions of Python and the main packages.

    Returns
    -------
    dict
        Package -> version (``""`` when not installed).
    """
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def html_table(
    frame: pd.DataFrame, lang: str, profile: Profile | None = None, max_rows: int = 500, heading: str = ""
) -> str:
    """Render a builder's table as an HTML table (text cells, translated headers).

    Tables with many columns are wrapped in a ``wide`` block that prints on a landscape page.

    Parameters
    ----------
    frame
        A `walkcircle.outputs.readable` table.
    lang
        Language.
    profile
        Category names.
    max_rows
        Rows shown; the rest are counted.
    heading
        A heading kept with the table (on its landscape page when the table is wide).

    Returns
    -------
    str
        HTML.
    """
    title = f"<h3>{html.escape(heading)}</h3>" if heading else ""
    if frame.empty:
        return f"{title}<p>{readable.DASH}</p>"
    header, columns = readable.display_columns(frame.head(max_rows), lang, profile)
    esc = html.escape
    gap_word = t("gap_yes", lang)
    head = "".join(f"<th>{esc(str(c))}</th>" for c in header)
    body = []
    for row in zip(*columns, strict=True):
        cells = "".join(
            f'<td class="gap">{esc(v)}</td>' if v == gap_word else f"<td>{esc(v)}</td>" for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    more = f"<p>{esc(_t('more_rows', lang, n=len(frame) - max_rows))}</p>" if len(frame) > max_rows else ""
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"
    return f'<div class="wide">{title}{table}</div>' if len(header) > WIDE_COLUMNS else title + table


def _section(title: str, body: str, css: str = "") -> str:
    extra = f' class="{css}"' if css else ""
    return f"<section{extra}><h2>{html.escape(title)}</h2>{body}</section>"


def _maps_html(results: StudyResults, profile: Profile, lang: str, pngs: Mapping[str, bytes]) -> str:
    figures = []
    for cid, png in pngs.items():
        caption = readable.map_caption(results, profile, cid, lang)
        figures.append(
            f'<figure><img alt="{html.escape(cid)}" src="{_uri(png)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        )
    return "".join(figures)


def _community_sections(profile: Profile, lang: str, pages: Sequence[readable.CommunityPage]) -> str:
    parts = []
    for page in pages:
        parts.append(
            f'<section class="community"><h2>{html.escape(t("community_page", lang))}{"：" if lang == "zh" else ": "}'
            f"{html.escape(page.name)}</h2>{html_table(page.facts, lang, profile)}"
            f"{html_table(page.services, lang, profile)}</section>"
        )
    return "".join(parts)


def _inputs_html(results: StudyResults, lang: str) -> str:
    access = results.access
    settings = pd.DataFrame(
        [
            (
                t("tiers_min", lang),
                readable.separator(lang).join(
                    _t("tier_label", lang, minutes=float(m)) for m in access.tiers_min
                ),
            ),
            (t("fact_speed", lang), _t("speed_value", lang, value=float(results.summary["speed_kmh"]))),
            (t("run_date", lang), readable.utc_text(str(results.summary.get("created", "")), lang)),
        ],
        columns=["key", "value"],
    )
    packages = pd.DataFrame(
        [(name, version or t("not_installed", lang)) for name, version in versions().items()],
        columns=["package", "version"],
    )
    return (
        html_table(settings, lang)
        + f"<h3>{html.escape(t('versions', lang))}</h3>"
        + html_table(packages, lang)
    )


def _sites_html(results: StudyResults, profile: Profile, lang: str) -> str:
    if not results.suggestions:
        return f"<p>{readable.DASH}</p>"
    heads = "".join(
        f"<p>{html.escape(_t('site_caption', lang, name=profile.category(sg.category).name(lang), before=sg.coverage_before, after=sg.coverage_after))}</p>"
        for sg in results.suggestions
    )
    return heads + html_table(readable.sites_table(results, profile, lang), lang, profile)


def _scenario_html(results: StudyResults, profile: Profile, lang: str) -> str:
    if getattr(results, "scenario", None) is None:
        return ""
    intro = f"<p>{html.escape(t('scenario_intro', lang))}</p>"
    return _section(
        t("scenario", lang),
        intro + html_table(readable.scenario_table(results, profile, lang), lang, profile),
    )


def render_report(
    results: StudyResults,
    profile: Profile,
    lang: str = "en",
    title: str | None = None,
    *,
    rules: ScoringRules | None = None,
    snap_cap_m: float | None = None,
    maps: bool | Mapping[str, bytes] = True,
    pages: Sequence[readable.CommunityPage] | None = None,
) -> str:
    """Render the report as one HTML page.

    Parameters
    ----------
    results
        Study results.
    profile
        The profile.
    lang
        ``zh`` or ``en``.
    title
        Page title (default: the study name).
    rules
        Scoring rules used (for the methods; defaults when None).
    snap_cap_m
        Snap cap used (for the methods; the default when None).
    maps
        Draw a static map per category (True), leave them out (False), or use these PNGs
        (category id -> bytes, from `walkcircle.outputs.static_maps.category_maps`).
    pages
        The community pages, when already built (`walkcircle.outputs.readable.community_pages`
        of the same results, profile and language).

    Returns
    -------
    str
        HTML with inline CSS and images.
    """
    check_lang(lang)
    summary = results.summary
    esc = html.escape
    pngs = category_maps(results, profile, lang) if maps is True else (maps or {})
    title = title or f"{t('title', lang)} — {summary['study']}"
    coverage_uri, localised = coverage_chart(results, profile, lang)
    minutes_uri = minutes_chart(results, profile, lang)
    ratio = rules.gap_ratio if rules else DEFAULT_GAP_RATIO
    demo = f'<p class="demo">{esc(t("demo", lang))}</p>' if summary.get("demo") else ""
    font_note = "" if localised else f"<p>{esc(t('no_cjk', lang))}</p>"
    methods = (
        html_table(readable.methods_table(results, profile, lang, rules, snap_cap_m), lang)
        + f"<h3>{esc(t('thresholds', lang))}</h3>"
        + html_table(readable.thresholds_table(profile, results.access.speed_kmh, lang), lang, profile)
        + f"<h3>{esc(t('sources', lang))}</h3>"
        + html_table(readable.sources_table(results, profile, lang), lang, profile)
        + f"<h3>{esc(t('facility_sources', lang))}</h3>"
        + html_table(readable.facility_sources_table(results, lang), lang, profile)
    )
    communities = html_table(readable.communities_table(results, profile, lang), lang, profile)
    if len(results.community_by_category):
        communities += html_table(
            readable.matrix_table(results, profile, lang),
            lang,
            profile,
            heading=t("community_by_category", lang),
        )
    ledger = f"<p>{esc(_t('ledger_intro', lang, ratio=ratio))}</p>" + html_table(
        readable.ledger_readable(results, profile, lang), lang, profile
    )
    warnings_html = (
        "".join(f"<li>{esc(translate_message(w, lang))}</li>" for w in summary.get("warnings", []))
        or f"<li>{readable.DASH}</li>"
    )
    ul_lang = ' lang="en"' if lang == "en" else ""
    sections = [
        _section(t("summary", lang), html_table(readable.summary_facts(results, profile, lang), lang)),
        _section(t("methods", lang), methods),
        _section(
            t("coverage", lang),
            html_table(readable.category_table(results, profile, lang), lang, profile)
            + f'<img alt="coverage" src="{coverage_uri}"><img alt="minutes" src="{minutes_uri}">{font_note}',
        ),
        _section(t("maps", lang), _maps_html(results, profile, lang, pngs)) if pngs else "",
        _section(t("communities", lang), communities),
        _community_sections(
            profile, lang, readable.community_pages(results, profile, lang) if pages is None else pages
        ),
        _section(t("ledger", lang), ledger),
        _section(t("sites", lang), _sites_html(results, profile, lang)),
        _scenario_html(results, profile, lang),
        _section(t("inputs", lang), _inputs_html(results, lang)),
        # warnings are written in English (summary.json keeps them so); shown in the study language
        _section(t("warnings", lang), f'<ul{ul_lang} class="warnings">{warnings_html}</ul>'),
    ]
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>{CSS}</style></head><body>
<h1>{esc(title)}</h1>
{demo}
{"".join(sections)}
<p><small>{esc(t("footer", lang))} · {dt.date.today().isoformat()}</small></p>
</body></html>
"""


def write_report(
    results: StudyResults,
    profile: Profile,
    path: str | os.PathLike[str],
    lang: str = "en",
    title: str | None = None,
    *,
    pdf: str | os.PathLike[str] | None = None,
    rules: ScoringRules | None = None,
    snap_cap_m: float | None = None,
) -> Path:
    """Write the report to one HTML file (atomically), and its PDF when asked.

    Parameters
    ----------
    results
        Study results.
    profile
        The profile.
    path
        Target ``.html``.
    lang
        ``zh`` or ``en``.
    title
        Page title.
    pdf
        Also write the PDF here (`walkcircle.outputs.pdf.write_pdf`).
    rules
        Scoring rules used (for the methods).
    snap_cap_m
        Snap cap used (for the methods).

    Returns
    -------
    pathlib.Path
        The HTML file written.
    """
    pngs = category_maps(results, profile, lang)
    pages = readable.community_pages(results, profile, lang)  # the HTML and the PDF show the same pages
    page = render_report(
        results, profile, lang, title, rules=rules, snap_cap_m=snap_cap_m, maps=pngs, pages=pages
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    if pdf is not None:
        from walkcircle.outputs.pdf import write_pdf

        write_pdf(
            results, profile, pdf, lang, title, rules=rules, snap_cap_m=snap_cap_m, maps=pngs, pages=pages
        )
    return path
