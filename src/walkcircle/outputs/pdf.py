"""``report.pdf``: the summary pages, then one A4 page per community (fpdf2, pure pip).

The text is real text in an embedded CJK font (the one `walkcircle.outputs.static_maps.cjk_font`
finds, e.g. WenQuanYi Micro Hei from Debian's fonts-wqy-microhei, or Noto Sans CJK), so the
PDF can be searched and copied. Tables span the printable width and wrap their cells, so no
table is wider than the page; they are drawn here, line by line (`pdf_table`), since fpdf's
own ``table()`` takes seconds for a city's tables, and a long one goes on over pages, each
starting with its heading row.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from fpdf.fonts import TTFFont

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
"""Room a cell's padding takes across, mm (half on each side of the text)."""
ROW_PAD_MM = 0.6
"""Room a cell's padding takes up and down, mm."""
LINE_SPACING = 1.35
"""A table's line height over its font size."""
PT_MM = 0.3528
"""mm in a point."""
HEADING_FILL = (236, 236, 236)
"""Grey behind a table's heading row."""
MAX_COLUMN_MM = 70.0
SAMPLE_ROWS = 300
"""Rows whose cells choose a table's column widths."""
SMALLEST_PT = 5.5
_SLACK_MM = 1e-6
"""What a sum of widths may exceed its room by (rounding)."""
IMAGE_ZLIB_LEVEL = 1
"""zlib level of the images in the PDF. fpdf's default (6) spent 0.69 s on the 1x bench city's 14
images; level 1 takes 8 ms instead of 52 ms a map, for 13% more bytes (lossless either way)."""


def _is_cjk(text: str) -> bool:
    return any(ord(ch) > 0x2E80 for ch in text)


def string_measure(pdf: FPDF) -> Callable[[str], float]:
    """Return a function giving a string's width in mm in the current font and size.

    For a TrueType font it adds up the font's own advance widths (``current_font.cw``, the
    table fpdf measures with, and like fpdf the width of ``.notdef`` for a character the font
    lacks), which is many times faster than `FPDF.get_string_width`; for anything else
    (core fonts, stretching, character spacing, text shaping) it is `FPDF.get_string_width`.

    Parameters
    ----------
    pdf
        The document, its font set.

    Returns
    -------
    callable
        ``str -> float``, mm.
    """
    font = pdf.current_font
    if not isinstance(font, TTFFont) or pdf.font_stretching != 100 or pdf.char_spacing or pdf.text_shaping:
        return pdf.get_string_width
    advance, missing = font.cw.get, font.desc.missing_width
    scale = pdf.font_size_pt / 1000 / pdf.k
    # the advances summed per string, in font units, kept with the document for every table
    known: dict[str, float] = pdf.__dict__.setdefault("_walkcircle_advances", {}).setdefault(font.fontkey, {})

    def width(text: str) -> float:
        units = known.get(text)
        if units is None:
            units = known[text] = sum([advance(ord(ch), missing) for ch in text])
        return units * scale

    return width


def _break_word(
    word: str, line: str, used: float, width_mm: float, measure: Callable[[str], float], lines: list[str]
) -> tuple[str, float]:
    """Set `word` after `line` a character at a time, ending lines as they fill (into `lines`).

    Returns the last line, not yet ended, and its width. A character wider than the whole
    column gets a line of its own.
    """
    gap = measure(" ") if line else 0.0
    for ch in word:
        ch_mm = measure(ch)
        if line and used + gap + ch_mm > width_mm + _SLACK_MM:
            lines.append(line)
            line, used, gap = "", 0.0, 0.0
        line += (" " if gap else "") + ch
        used += gap + ch_mm
        gap = 0.0
    return line, used


def _wrap_paragraph(paragraph: str, width_mm: float, measure: Callable[[str], float]) -> list[str]:
    """Wrap one paragraph (no newline) into lines of at most `width_mm`; none if it is blank."""
    lines: list[str] = []
    line, used, gap = "", 0.0, measure(" ")
    for word in paragraph.split():
        word_mm = measure(word)
        if line and used + gap + word_mm <= width_mm + _SLACK_MM:
            line, used = f"{line} {word}", used + gap + word_mm
        elif word_mm <= width_mm + _SLACK_MM and not (line and _is_cjk(word)):  # starts a line whole
            if line:
                lines.append(line)
            line, used = word, word_mm
        else:  # Chinese fills the line; a Latin word longer than a line starts one
            if line and not _is_cjk(word):
                lines.append(line)
                line, used = "", 0.0
            line, used = _break_word(word, line, used, width_mm, measure, lines)
    return [*lines, line] if line else lines


def wrap_text(text: str, width_mm: float, measure: Callable[[str], float]) -> list[str]:
    """Wrap a cell's text into lines no wider than `width_mm`.

    Lines break at spaces (which are dropped, as are runs of spaces and the spaces at either
    end); a word with Chinese (CJK) characters also breaks between any two of its characters,
    filling a line before starting the next; any other word longer than a line is broken
    where it must. Newlines in the text end lines; blank lines are left out.

    Parameters
    ----------
    text
        The cell's text.
    width_mm
        Room for the text, mm.
    measure
        Width in mm of a string (`string_measure`).

    Returns
    -------
    list of str
        The lines, none empty, except ``[""]`` for a blank text.
    """
    lines = [
        line for paragraph in text.splitlines() for line in _wrap_paragraph(paragraph, width_mm, measure)
    ]
    return lines or [""]


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
    header = [str(column) for column in shown.columns]
    body = shown.head(SAMPLE_ROWS).to_numpy(dtype=object)
    cells = [[str(value) for value in body[:, j]] for j in range(len(header))]
    return _fit_columns(string_measure(pdf), header, cells, width_mm)


def _fit_columns(
    measure: Callable[[str], float], header: Sequence[str], columns: Sequence[Sequence[str]], width_mm: float
) -> list[float] | None:
    """`column_widths` of a table given as its header and its columns' cells (`SAMPLE_ROWS` at most)."""
    least, want = [], []
    for column, cells in zip(header, columns, strict=True):
        # a header keeps at least four Chinese characters a line, a cell two
        words = [w[:4] if _is_cjk(w) else w for w in column.split()]
        words += [w[:2] if _is_cjk(w) else w for cell in cells for w in cell.split()]
        unbreakable = [measure(w) for w in words] or [0.0]
        body = [measure(c) for c in cells] or [0.0]
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


def _fitting_font(pdf: FPDF, header: Sequence[str], columns: Sequence[Sequence[str]]) -> list[float]:
    """Set the largest table font (down to `SMALLEST_PT`) at which every column's words fit.

    Returns the column widths (equal ones when even the smallest size is too big).
    """
    columns = [cells[:SAMPLE_ROWS] for cells in columns]
    size = TABLE_PT
    pdf.set_font(FONT, size=size)
    widths = _fit_columns(string_measure(pdf), header, columns, pdf.epw)
    while widths is None and size > SMALLEST_PT:
        size -= 0.5
        pdf.set_font(FONT, size=size)
        widths = _fit_columns(string_measure(pdf), header, columns, pdf.epw)
    return widths or [pdf.epw / len(header)] * len(header)


def _draw_row(
    pdf: FPDF, y: float, height: float, cells: Sequence[list[str]], widths: Sequence[float], *, heading: bool
) -> None:
    """Write one row's lines at `y`, left aligned and in the middle of the row (`_rule` rules it).

    The heading row gets its grey fill first.
    """
    line_mm = LINE_SPACING * pdf.font_size_pt * PT_MM
    baseline = 0.5 * line_mm + 0.3 * pdf.font_size  # where fpdf's cell() puts it in a line
    if heading:
        with pdf.local_context(fill_color=HEADING_FILL):
            pdf.rect(pdf.l_margin, y, sum(widths), height, style="F")
    x = pdf.l_margin
    for lines, width in zip(cells, widths, strict=True):
        top = y + (height - len(lines) * line_mm) / 2
        for number, line in enumerate(lines):
            if line:
                pdf.text(x + PAD_MM / 2, top + number * line_mm + baseline, line)
        x += width


def _rule(pdf: FPDF, edges: Sequence[float], widths: Sequence[float]) -> None:
    """Draw the borders of a block of rows on one page: `edges` are their tops, then its bottom."""
    left = x = pdf.l_margin
    right = left + sum(widths)
    for y in edges:
        pdf.line(left, y, right, y)
    for width in [0.0, *widths]:
        x += width
        pdf.line(x, edges[0], x, edges[-1])


def _draw_rows(pdf: FPDF, rows: Sequence[Sequence[list[str]]], widths: Sequence[float]) -> float:
    """Draw the wrapped rows (the first is the heading) from the cursor down; return the bottom.

    A row that would cross the bottom margin goes to a new page (same orientation) under a
    copy of the heading row; the heading row never ends a page alone. A row taller than a
    page is drawn all the same, from the top of one.
    """
    size = pdf.font_size_pt
    line_mm = LINE_SPACING * size * PT_MM
    heights = [max(len(lines) for lines in row) * line_mm + ROW_PAD_MM for row in rows]
    edges = [pdf.get_y()]  # of the rows drawn on this page
    fresh = False  # this table began the page and has put only its heading row on it
    for number, (row, height) in enumerate(zip(rows, heights, strict=True)):
        need = height + (heights[1] if number == 0 and len(rows) > 1 else 0.0)
        if edges[-1] + need > pdf.page_break_trigger and not fresh:
            if len(edges) > 1:
                _rule(pdf, edges, widths)
            pdf.add_page(same=True)
            pdf.set_font(FONT, size=size)
            edges, fresh = [pdf.get_y()], True
            if number:
                _draw_row(pdf, edges[0], heights[0], rows[0], widths, heading=True)
                edges.append(edges[0] + heights[0])
        _draw_row(pdf, edges[-1], height, row, widths, heading=number == 0)
        edges.append(edges[-1] + height)
        fresh = fresh and number == 0
    _rule(pdf, edges, widths)
    return edges[-1]


def pdf_table(pdf: FPDF, frame: pd.DataFrame, lang: str, profile: Profile | None = None) -> None:
    """Add a builder's table, spanning the printable width, cells wrapped.

    The font shrinks (down to 5.5 pt) until every column's longest word fits. The table is
    drawn here, line by line (fpdf's own ``table()`` breaks lines a character at a time, which
    takes seconds for a city's tables); a long table goes on over pages (of the same
    orientation), each starting with the heading row. The cursor ends below the table, at the
    left margin.

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
    header, columns = readable.display_columns(frame, lang, profile)
    text = [header, *(list(row) for row in zip(*columns, strict=True))]
    widths = _fitting_font(pdf, header, columns)
    measure = string_measure(pdf)
    rows = [
        [wrap_text(cell, w - PAD_MM, measure) for cell, w in zip(row, widths, strict=True)] for row in text
    ]
    bottom = _draw_rows(pdf, rows, widths)
    pdf.set_xy(pdf.l_margin, bottom)
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


@contextmanager
def _image_compression(level: int) -> Iterator[None]:
    """Let fpdf compress the images placed meanwhile at zlib `level`, then restore its setting.

    fpdf keeps the level in one module-wide setting (``fpdf.image_parsing.SETTINGS``).

    Parameters
    ----------
    level
        zlib level, 0-9 (-1: zlib's default).

    Yields
    ------
    None
    """
    from fpdf.image_parsing import SETTINGS

    before = SETTINGS.compression_level
    SETTINGS.compression_level = level
    try:
        yield
    finally:
        SETTINGS.compression_level = before


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
    pages: Sequence[readable.CommunityPage] | None = None,
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
    pages
        The community pages, when already built (`walkcircle.outputs.readable.community_pages`
        of the same results, profile and language).

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
    with _image_compression(IMAGE_ZLIB_LEVEL):  # fpdf compresses each image as it is placed
        _summary_pages(pdf, results, profile, lang, rules, snap_cap_m)
        _map_pages(
            pdf,
            results,
            profile,
            lang,
            category_maps(results, profile, lang) if maps is True else (maps or {}),
        )
    for page in readable.community_pages(results, profile, lang) if pages is None else pages:
        pdf.add_page()
        _heading(pdf, community_heading(page.name, lang), 13)
        pdf_table(pdf, page.facts, lang)
        pdf_table(pdf, page.services, lang, profile)
    path = Path(path)
    with atomic_path(path) as tmp:
        pdf.output(str(tmp))
    return path
