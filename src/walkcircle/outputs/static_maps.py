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


class MapCanvas:
    """One figure with the streets drawn once; each category's map only moves the points.

    All maps of a study share the extent (streets, homes and every facility), so they compare
    at a glance, and drawing thirteen of them costs little more than drawing one.

    Parameters
    ----------
    results
        Study results.
    lang
        Label language.
    segments
        `street_segments` (computed when None).
    """

    def __init__(self, results: StudyResults, lang: str, segments: np.ndarray | None = None) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.collections import PathCollection
        from matplotlib.lines import Line2D

        self.results, self.lang = results, lang
        self.font = cjk_font() if lang == "zh" else None
        self.localised = lang != "zh" or self.font is not None
        segments = street_segments(results) if segments is None else segments
        homes, facilities = results.homes, results.facilities
        self._rc = plt.rc_context({"font.family": [self.font, "sans-serif"]} if self.font else {})
        self._rc.__enter__()
        points = [
            segments.reshape(-1, 2),
            homes[["lon", "lat"]].to_numpy(float),
            facilities[["lon", "lat"]].to_numpy(float),
        ]
        xy = (
            np.concatenate([p for p in points if len(p)]) if any(len(p) for p in points) else np.zeros((1, 2))
        )
        (w, s), (e, n) = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
        pad_x, pad_y = max((e - w) * 0.03, 1e-4), max((n - s) * 0.03, 1e-4)
        aspect = 1.0 / max(np.cos(np.radians((s + n) / 2)), 0.1)
        shape = (n - s + 2 * pad_y) * aspect / (e - w + 2 * pad_x)  # height / width on paper
        self.fig, ax = plt.subplots(figsize=(6.2, float(np.clip(6.2 * shape / 0.92 + 0.1, 3.5, 8.5))))
        self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
        # streets in compound paths of 1,000 segments: one path per segment costs seconds to build,
        # one path for all of them seconds to stroke
        ax.add_collection(
            PathCollection(_compound_paths(segments, 1000), facecolors="none", edgecolors=COLOURS["street"],
                           linewidths=0.5),
            autolim=False,
        )  # fmt: skip
        street_key = Line2D(
            [], [], color=COLOURS["street"], linewidth=0.5, label=self._label("legend_street")
        )
        empty = np.empty((0, 2))
        self.uncovered = ax.scatter(
            empty[:, 0],
            empty[:, 1],
            s=9,
            c=COLOURS["uncovered"],
            label=self._label("legend_uncovered"),
            zorder=3,
        )
        self.covered = ax.scatter(
            empty[:, 0], empty[:, 1], s=9, c=COLOURS["covered"], label=self._label("legend_covered"), zorder=3
        )
        self.facilities = ax.scatter(
            empty[:, 0],
            empty[:, 1],
            s=28,
            marker="^",
            c=COLOURS["facility"],
            label=self._label("legend_facility"),
            zorder=4,
        )
        ax.set_xlim(w - pad_x, e + pad_x)
        ax.set_ylim(s - pad_y, n + pad_y)
        ax.set_aspect(aspect, adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        self.legend = ax.legend(
            handles=[street_key, self.uncovered, self.covered, self.facilities],
            loc="lower left",
            fontsize=7,
            framealpha=0.85,
        )
        self.ax = ax
        self._background: tuple[int, object] | None = None  # (dpi, the streets drawn once)
        self._homes_xy = homes[["lon", "lat"]].to_numpy(float)
        self._facility_xy = facilities[["lon", "lat"]].to_numpy(float)
        self._facility_cat = facilities["category"].astype(str).to_numpy()

    def _label(self, key: str) -> str:
        return _label(key, self.lang, self.localised)

    def draw(self, profile: Profile, category: str, dpi: int = 90) -> bytes:
        """Return one category's map as PNG bytes.

        Parameters
        ----------
        profile
            Names.
        category
            Category id.
        dpi
            Resolution.

        Returns
        -------
        bytes
            The PNG.
        """
        reached = self.results.homes[f"reached_{category}"].to_numpy(bool)
        self.uncovered.set_offsets(self._homes_xy[~reached])
        self.covered.set_offsets(self._homes_xy[reached])
        self.facilities.set_offsets(self._facility_xy[self._facility_cat == category])
        self.ax.set_title(
            profile.category(category).name(self.lang) if self.localised else category, fontsize=11
        )
        canvas = self.fig.canvas
        canvas.restore_region(self._streets(dpi))
        for artist in self._moving():
            self.ax.draw_artist(artist)
        return _png(canvas)

    def _moving(self) -> tuple:
        """Artists each map draws over the streets, bottom to top."""
        return (self.uncovered, self.covered, self.facilities, self.legend, self.ax.title)

    def _streets(self, dpi: int) -> object:
        """Return the figure with only the streets (and frame) drawn at `dpi`, rendered once."""
        if self._background is None or self._background[0] != dpi:
            self.fig.set_dpi(dpi)
            title = self.ax.title.get_text()
            self.ax.title.set_text("")  # drawn (so placed) but empty
            for artist in self._moving()[:-1]:
                artist.set_visible(False)
            self.fig.canvas.draw()
            for artist in self._moving()[:-1]:
                artist.set_visible(True)
            self.ax.title.set_text(title)
            self._background = (dpi, self.fig.canvas.copy_from_bbox(self.fig.bbox))
        return self._background[1]

    def close(self) -> None:
        """Free the figure."""
        import matplotlib.pyplot as plt

        plt.close(self.fig)
        self._rc.__exit__(None, None, None)


def category_map_png(
    results: StudyResults,
    profile: Profile,
    category: str,
    lang: str,
    segments: np.ndarray | None = None,
    dpi: int = 90,
) -> bytes:
    """Draw one category's map as PNG bytes (streets, facilities, homes covered and not).

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
        `street_segments` (computed when None).
    dpi
        Resolution.

    Returns
    -------
    bytes
        The PNG.
    """
    canvas = MapCanvas(results, lang, segments)
    try:
        return canvas.draw(profile, category, dpi)
    finally:
        canvas.close()


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
    canvas = MapCanvas(results, lang)
    try:
        return {cid: canvas.draw(profile, cid, dpi) for cid in results.access.categories}
    finally:
        canvas.close()


def _compound_paths(segments: np.ndarray, size: int) -> list:
    """Group line segments ((n, 2, 2) array) into matplotlib paths of `size` segments each."""
    from matplotlib.path import Path as MplPath

    codes = np.tile(np.array([MplPath.MOVETO, MplPath.LINETO], np.uint8), size)
    return [
        MplPath(segments[i : i + size].reshape(-1, 2), codes[: 2 * len(segments[i : i + size])])
        for i in range(0, len(segments), size)
    ]


def _png(canvas: object) -> bytes:
    """Encode what an Agg canvas holds as PNG bytes."""
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    buffer = io.BytesIO()
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    image.save(buffer, "png", compress_level=3)  # PIL's default 6 is 2.5x slower and no smaller here
    return buffer.getvalue()


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
