"""Static maps per category for the report and the PDF (matplotlib, offline, no tiles).

Each map shows the streets, the category's facilities, and the homes covered and not covered
within the category's threshold. Chinese labels use a CJK font found on the machine
(`cjk_font`); without one the labels fall back to category ids.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from walkcircle.i18n import t

if TYPE_CHECKING:
    from walkcircle.profile import Profile
    from walkcircle.study import StudyResults

CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
    "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Droid Sans Fallback",
)  # fmt: skip
_HINTS = (
    "wqy",
    "notosanscjk",
    "notoserifcjk",
    "sourcehansans",
    "simhei",
    "msyh",
    "pingfang",
    "droidsansfallback",
)
COLOURS = {"street": "#c8c8c8", "covered": "#2b8cbe", "uncovered": "#e6550d", "facility": "#111111"}
"""One colour per meaning: blue covered, orange not covered, black facilities, grey streets."""


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
        for path in font_manager.findSystemFonts():
            if any(h in Path(path).name.lower().replace("-", "") for h in _HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError):  # pragma: no cover - unreadable font file
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in CJK_FONTS if name in installed), None)
    return found


def cjk_font_file() -> str | None:
    """Return the file of the CJK font `cjk_font` picks (for the PDF), or None.

    Returns
    -------
    str or None
        Path of a ``.ttf``/``.ttc``/``.otf`` file.
    """
    from matplotlib import font_manager

    name = cjk_font()
    if name is None:
        return None
    return next((f.fname for f in font_manager.fontManager.ttflist if f.name == name), None)


def street_segments(results: StudyResults) -> np.ndarray:
    """Return the street geometry as line segments, (n, 2, 2) lon/lat.

    Parameters
    ----------
    results
        Study results (its network).

    Returns
    -------
    numpy.ndarray
        Segments.
    """
    net = results.network
    lon, lat = np.asarray(net.geom_lon), np.asarray(net.geom_lat)
    starts_edge = np.zeros(lon.size, bool)
    starts_edge[np.asarray(net.geom_offsets)[:-1]] = True
    first = np.flatnonzero(~starts_edge[1:])  # vertex i and i + 1 belong to one edge
    return np.stack(
        [np.column_stack([lon[first], lat[first]]), np.column_stack([lon[first + 1], lat[first + 1]])], axis=1
    )


def category_map_png(
    results: StudyResults,
    profile: Profile,
    category: str,
    lang: str,
    segments: np.ndarray | None = None,
    dpi: int = 90,
) -> bytes:
    """Draw one category's map as PNG bytes.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    category
        Category id.
    lang
        Label language.
    segments
        `street_segments` (computed when None; pass it when drawing many maps).
    dpi
        Resolution.

    Returns
    -------
    bytes
        The PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    font = cjk_font() if lang == "zh" else None
    localised = lang != "zh" or font is not None
    segments = street_segments(results) if segments is None else segments
    homes = results.homes
    reached = homes[f"reached_{category}"].to_numpy(bool)
    facilities = results.facilities[results.facilities["category"].astype(str) == category]
    lat0 = float(np.nanmean(homes["lat"])) if len(homes) else 0.0
    with plt.rc_context({"font.family": [font, "sans-serif"]} if font else {}):
        fig, ax = plt.subplots(figsize=(6.2, 5.0))
        ax.add_collection(
            LineCollection(
                segments,
                colors=COLOURS["street"],
                linewidths=0.5,
                label=_label("legend_street", lang, localised),
            )
        )
        ax.scatter(
            homes["lon"][~reached],
            homes["lat"][~reached],
            s=9,
            c=COLOURS["uncovered"],
            label=_label("legend_uncovered", lang, localised),
            zorder=3,
        )
        ax.scatter(
            homes["lon"][reached],
            homes["lat"][reached],
            s=9,
            c=COLOURS["covered"],
            label=_label("legend_covered", lang, localised),
            zorder=3,
        )
        ax.scatter(
            facilities["lon"],
            facilities["lat"],
            s=28,
            marker="^",
            c=COLOURS["facility"],
            label=_label("legend_facility", lang, localised),
            zorder=4,
        )
        ax.autoscale()
        ax.set_aspect(1.0 / max(np.cos(np.radians(lat0)), 0.1))
        ax.set_xticks([])
        ax.set_yticks([])
        name = profile.category(category).name(lang) if localised else category
        ax.set_title(name, fontsize=11)
        ax.legend(loc="lower left", fontsize=7, framealpha=0.85)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    return buffer.getvalue()  # fmt: skip


def category_maps(results: StudyResults, profile: Profile, lang: str, dpi: int = 90) -> dict[str, bytes]:
    """Draw every category's map once (the HTML report and the PDF share them).

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    lang
        Label language.
    dpi
        Resolution.

    Returns
    -------
    dict
        Category id -> PNG bytes, in the order of the access results.
    """
    segments = street_segments(results)
    return {
        cid: category_map_png(results, profile, cid, lang, segments, dpi) for cid in results.access.categories
    }


def _label(key: str, lang: str, localised: bool) -> str:
    return t(key, lang if localised else "en")


def coverage_chart_png(
    results: StudyResults, profile: Profile, lang: str, dpi: int = 110
) -> tuple[bytes, bool]:
    """Draw a horizontal bar chart of residents covered per category.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    lang
        Label language.
    dpi
        Resolution.

    Returns
    -------
    tuple
        PNG bytes, and whether the labels are in the requested language.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font() if lang == "zh" else None
    localised = lang != "zh" or font is not None
    categories = results.access.categories
    names = [profile.category(c).name(lang) if localised else c for c in categories]
    shares = [results.summary["coverage"][c] * 100 for c in categories]
    gaps = set(results.summary.get("data_gaps", []))
    colours = ["#bdbdbd" if c in gaps else COLOURS["covered"] for c in categories]
    with plt.rc_context({"font.family": [font, "sans-serif"]} if font else {}):
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(categories) + 1.2))
        ax.barh(range(len(categories)), shares, color=colours)
        ax.set_yticks(range(len(categories)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel(_label("covered_pct", lang, localised))
        for i, share in enumerate(shares):
            ax.text(min(share + 1, 92), i, f"{share:.0f}%", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    return buffer.getvalue(), localised


def minutes_chart_png(results: StudyResults, profile: Profile, lang: str, dpi: int = 110) -> bytes:
    """Draw box plots of walking minutes to the nearest facility per category.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    lang
        Label language.
    dpi
        Resolution.

    Returns
    -------
    bytes
        The PNG.
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
            labels = [profile.category(cats[i]).name(lang) if localised else cats[i] for i in keep]
            ax.set_yticks(range(1, len(keep) + 1), labels)
            ax.invert_yaxis()
        for tier in results.access.tiers_min:
            ax.axvline(tier, color="#999999", linestyle=":", linewidth=1)
        ax.set_xlabel(_label("walking_minutes", lang, localised))
        ax.spines[["top", "right"]].set_visible(False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    return buffer.getvalue()
