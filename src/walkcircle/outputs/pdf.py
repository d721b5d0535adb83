"""``report.pdf``: the summary pages, then one A4 page per community (fpdf2, pure pip).

The text is real text in an embedded CJK font (the one `walkcircle.outputs.static_maps.cjk_font`
finds, e.g. WenQuanYi Micro Hei from Debian's fonts-wqy-microhei, or Noto Sans CJK), so the
PDF can be searched and copied. Tables span the printable width and wrap their cells, so no
table is wider than the page.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from fpdf.fonts import FontFace

from walkcircle.defaults import DEFAULT_GAP_RATIO
from walkcircle.errors import InputError
from walkcircle.i18n import check_lang, t
from walkcircle.outputs import readable
from walkcircle.outputs.export import atomic_path
from walkcircle.outputs.static_maps import category_maps, cjk_font_file, coverage_chart_png

if TYPE_CHECKING:
    from fpdf import FPDF

    from walkcircle.profile import Profile
    from walkcircle.scoring import ScoringRules
    from walkcircle.study import StudyResults

FONT = "cjk"
BODY_PT = 8.5
TABLE_PT = 7.5


PAD_MM = 2.2
"""Room a cell's padding takes, mm."""
MAX_COLUMN_MM = 70.0
SMALLEST_PT = 5.5


def _is_cjk(text: str) -> bool:
    return any(ord(ch) > 0x2E80 for ch in text)


def column_widths(pdf: FPDF, shown: pd.DataFrame, width_mm: float) -> list[float] | None:
    """Fit a table's columns into `width_mm` at the current font size.

    Each column gets at least its longest unbreakable word (Chinese text breaks between any
    two characters) and at most its longest cell; the room left is shared in proportion to
    what each column would still like.

    Parameters
    ----------
    pdf
        The document (its current font measures the text).
    shown
        Text cells.
    width_mm
        Room available.

    Returns
    -------
    list of float or None
        Widths in mm summing to `width_mm`; None when the words alone do not fit.
    """
    least, want = [], []
    for j, column in enumerate(shown.columns):
        cells = [str(column), *shown.iloc[:, j].astype(str).head(300)]
        # a header keeps at least four Chinese characters a line, a cell two
        words = [w[:4] if _is_cjk(w) else w for w in str(column).split()]
        words += [w[:2] if _is_cjk(w) else w for cell in cells[1:] for w in cell.split()]
        unbreakable = [pdf.get_string_width(w) for w in words] or [0.0]
        body = [pdf.get_string_width(c) for c in cells[1:]] or [0.0]
        low = max(unbreakable) + PAD_MM
        least.append(low)
        want.append(max(low, min(max(body), MAX_COLUMN_MM) + PAD_MM))
    room = width_mm - sum(least)
    if room < 0:
        return None
    extra = [w - lo for w, lo in zip(want, least, strict=True)]
    if sum(extra) <= room:  # everything fits whole: spread the rest evenly by size
        return [w * width_mm / sum(want) for w in want]
    return [lo + room * e / sum(extra) for lo, e in zip(least, extra, strict=True)]


def pdf_table(pdf: FPDF, frame: pd.DataFrame, lang: str, profile: Profile | None = None) -> None:
    """Add a builder's table, spanning the printable width, cells wrapped.

    The font shrinks (down to 5.5 pt) until every column's longest word fits.

    Parameters
    ----------
    pdf
        The document.
    frame
        A `walkcircle.outputs.readable` table.
    lang
        Language.
    profile
        Category names.
    """
    if frame.empty:
        pdf.multi_cell(0, 5, readable.DASH, new_x="LMARGIN", new_y="NEXT")
        return
    shown = readable.display_frame(frame, lang, profile)
    size = TABLE_PT
    pdf.set_font(FONT, size=size)
    widths = column_widths(pdf, shown, pdf.epw)
    while widths is None and size > SMALLEST_PT:
        size -= 0.5
        pdf.set_font(FONT, size=size)
        widths = column_widths(pdf, shown, pdf.epw)
    with pdf.table(
        col_widths=tuple(widths) if widths else None,
        width=pdf.epw,
        text_align="LEFT",
        line_height=1.35 * size * 0.3528,
        first_row_as_headings=True,
        headings_style=FontFace(emphasis="NONE", fill_color=(236, 236, 236)),
    ) as table:
        for row in [list(shown.columns), *shown.itertuples(index=False)]:
            cells = table.row()
            for value in row:
                cells.cell(str(value))
    pdf.ln(2)
    pdf.set_font(FONT, size=BODY_PT)


def _heading(pdf: FPDF, text: str, size: float = 12) -> None:
    if pdf.get_y() > pdf.h - pdf.b_margin - 30:  # a heading never ends a page
        pdf.add_page()
    pdf.set_font(FONT, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(FONT, size=BODY_PT)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, size=BODY_PT)
    pdf.multi_cell(0, 4.2, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _png_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.size


def _map_pages(
    pdf: FPDF, results: StudyResults, profile: Profile, lang: str, pngs: Mapping[str, bytes]
) -> None:
    """Add the category maps, two per row with their captions, on as many pages as they take."""
    if not pngs:
        return
    pdf.add_page()
    _heading(pdf, t("maps", lang))
    gap, caption_mm, tallest_mm = 6.0, 9.0, 105.0
    column_mm = (pdf.epw - gap) / 2
    items = list(pngs.items())
    for start in range(0, len(items), 2):
        row = items[start : start + 2]
        sizes = [_png_size(png) for _, png in row]
        # each map as wide as its column, unless that makes it taller than `tallest_mm`
        widths = [min(column_mm, tallest_mm * w / h) for w, h in sizes]
        heights = [wd * h / w for wd, (w, h) in zip(widths, sizes, strict=True)]
        if pdf.get_y() + max(heights) + caption_mm > pdf.h - pdf.b_margin:
            pdf.add_page()
        top = pdf.get_y()
        for column, ((cid, png), wd, ht) in enumerate(zip(row, widths, heights, strict=True)):
            x = pdf.l_margin + column * (column_mm + gap)
            pdf.image(io.BytesIO(png), x=x, y=top, w=wd, h=ht)
            pdf.set_xy(x, top + ht + 1)
            pdf.set_font(FONT, size=TABLE_PT)
            pdf.multi_cell(column_mm, 3.5, readable.map_caption(results, profile, cid, lang))
        pdf.set_xy(pdf.l_margin, top + max(heights) + caption_mm)
    pdf.set_font(FONT, size=BODY_PT)


def _summary_pages(
    pdf: FPDF,
    results: StudyResults,
    profile: Profile,
    lang: str,
    rules: ScoringRules | None,
    snap_cap_m: float | None,
) -> None:
    summary = results.summary
    pdf.add_page()
    if summary.get("demo"):
        _paragraph(pdf, t("demo", lang))
    _heading(pdf, t("summary", lang))
    pdf_table(pdf, readable.summary_facts(results, profile, lang), lang)
    _heading(pdf, t("coverage", lang))
    pdf_table(pdf, readable.category_table(results, profile, lang), lang, profile)
    png, _ = coverage_chart_png(results, profile, lang, dpi=150)
    pdf.image(io.BytesIO(png), w=min(pdf.epw, 150))
    _heading(pdf, t("methods", lang))
    pdf_table(pdf, readable.methods_table(results, profile, lang, rules, snap_cap_m), lang)
    _heading(pdf, t("thresholds", lang), 10)
    pdf_table(pdf, readable.thresholds_table(profile, results.access.speed_kmh, lang), lang, profile)
    _heading(pdf, t("sources", lang), 10)
    pdf_table(pdf, readable.sources_table(results, profile, lang), lang, profile)
    _heading(pdf, t("communities", lang))
    pdf_table(pdf, readable.communities_table(results, profile, lang), lang, profile)
    _heading(pdf, t("ledger", lang))
    ratio = rules.gap_ratio if rules else DEFAULT_GAP_RATIO
    _paragraph(pdf, t("ledger_intro", lang, ratio=ratio))
    pdf_table(pdf, readable.ledger_readable(results, profile, lang), lang, profile)
    if results.suggestions:
        _heading(pdf, t("sites", lang))
        pdf_table(pdf, readable.sites_table(results, profile, lang), lang, profile)
    if len(results.community_by_category):
        pdf.add_page(orientation="L")
        _heading(pdf, t("community_by_category", lang))
        pdf_table(pdf, readable.matrix_table(results, profile, lang), lang, profile)


def community_heading(name: str, lang: str) -> str:
    """Return the heading of a community's page (the PDF test looks for it).

    Parameters
    ----------
    name
        Community name.
    lang
        Language.

    Returns
    -------
    str
        ``"Community: name"`` or ``"社区：name"``.
    """
    return f"{t('community_page', lang)}{'：' if lang == 'zh' else ': '}{name}"


def write_pdf(
    results: StudyResults,
    profile: Profile,
    path: str | os.PathLike[str],
    lang: str = "en",
    title: str | None = None,
    *,
    rules: ScoringRules | None = None,
    snap_cap_m: float | None = None,
    maps: bool | Mapping[str, bytes] = True,
) -> Path:
    """Write ``report.pdf`` (atomically): summary pages, then one page per community.

    Parameters
    ----------
    results
        Study results.
    profile
        The profile.
    path
        Target ``.pdf``.
    lang
        ``zh`` or ``en``.
    title
        Document title (default: the study name).
    rules
        Scoring rules used (for the methods).
    snap_cap_m
        Snap cap used (for the methods).
    maps
        Static maps per category: drawn (True), left out (False) or given (category id -> PNG).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        No CJK font on the machine (names and Chinese text need one).
    """
    from fpdf import FPDF

    check_lang(lang)
    font = cjk_font_file()
    if font is None:
        msg = "report.pdf: no CJK font found; install one (Debian/Ubuntu: apt-get install fonts-wqy-microhei or fonts-noto-cjk)"
        raise InputError(msg)
    title = title or f"{t('title', lang)} — {results.summary['study']}"
    today = dt.date.today().isoformat()

    class Document(FPDF):
        def header(self) -> None:
            self.set_font(FONT, size=7)
            self.set_text_color(110)
            self.cell(0, 4, title, new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0)
            self.ln(1)

        def footer(self) -> None:
            self.set_y(-10)
            self.set_font(FONT, size=7)
            self.set_text_color(110)
            self.cell(0, 4, f"{t('footer', lang)} · {today} · {self.page_no()}", align="C")
            self.set_text_color(0)

    pdf = Document(format="A4")
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font(FONT, "", font)  # one style: loading a CJK font costs seconds
    pdf.set_title(title)
    pdf.set_lang("zh-CN" if lang == "zh" else "en")
    _summary_pages(pdf, results, profile, lang, rules, snap_cap_m)
    _map_pages(
        pdf, results, profile, lang, category_maps(results, profile, lang) if maps is True else (maps or {})
    )
    for page in readable.community_pages(results, profile, lang):
        pdf.add_page()
        _heading(pdf, community_heading(page.name, lang), 13)
        pdf_table(pdf, page.facts, lang)
        pdf_table(pdf, page.services, lang, profile)
    path = Path(path)
    with atomic_path(path) as tmp:
        pdf.output(str(tmp))
    return path
