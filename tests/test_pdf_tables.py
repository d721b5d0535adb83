"""report.pdf's tables: cells wrapped to their column, long tables going on over pages under their heading."""

from __future__ import annotations

import io
import itertools
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from walkcircle.outputs.pdf import FONT, PAD_MM, pdf_table, string_measure, wrap_text
from walkcircle.outputs.static_maps import cjk_font_file

SLACK_MM = 1e-6


def _document(orientation: str = "P"):
    from fpdf import FPDF

    font = cjk_font_file()
    if font is None:
        pytest.skip("no CJK font installed")
    pdf = FPDF(format="A4")
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font(FONT, "", font)
    pdf.add_page(orientation=orientation)
    pdf.set_font(FONT, size=8.5)
    return pdf


@pytest.fixture(scope="module")
def pdf():
    return _document()


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


latin = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:()/%-–",
    min_size=1,
    max_size=30,
)
chinese = st.text(
    alphabet="社区便民超市利店消费菜场邮政快递末端智能件箱养老服务日间照料中心体育健身地卫生站文化设施（）、，：",
    min_size=1,
    max_size=12,
)
words = st.lists(latin | chinese | st.sampled_from(["", " ", "\n"]), max_size=25)
texts = words.map(" ".join) | st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(text=texts, width_mm=st.floats(2.0, 80.0), size=st.sampled_from([5.5, 7.5, 12.0]))
def test_wrapped_lines_fit_and_keep_the_text(pdf, text, width_mm, size):
    pdf.set_font(FONT, size=size)
    lines = wrap_text(text, width_mm, string_measure(pdf))
    if not text.strip():
        assert lines == [""]
        return
    assert all(lines) and all(line == line.strip() for line in lines), lines
    for line in lines:  # measured by fpdf itself; only a lone character may be wider than the column
        assert pdf.get_string_width(line) <= width_mm + SLACK_MM or len(line) == 1, (line, width_mm)
    # nothing lost, nothing added, in order: only the spaces lines broke at are gone
    assert _squeezed("".join(lines)) == _squeezed(text)


@settings(max_examples=200, deadline=None)
@given(text=st.lists(latin, min_size=1, max_size=25).map(" ".join), width_mm=st.floats(2.0, 80.0))
def test_latin_breaks_only_at_spaces_and_fills_its_lines(pdf, text, width_mm):
    pdf.set_font(FONT, size=7.5)
    lines = wrap_text(text, width_mm, string_measure(pdf))
    if all(pdf.get_string_width(word) <= width_mm for word in text.split()):
        assert " ".join(lines) == " ".join(text.split())
        # greedy: the next line's first word would not have fitted on the line before
        for line, following in itertools.pairwise(lines):
            assert pdf.get_string_width(f"{line} {following.split()[0]}") > width_mm
    else:  # a word longer than the column is cut, on a line of its own start
        assert _squeezed("".join(lines)) == _squeezed(text)


def test_chinese_fills_a_line_and_breaks_between_characters(pdf):
    pdf.set_font(FONT, size=7.5)
    measure = string_measure(pdf)
    text = "便民超市 / 便利店、便民消费市场 / 菜市场、养老服务 / 日间照料中心"
    lines = wrap_text(text, measure("便民超市 / 便利店"), measure)
    assert lines[0] == "便民超市 / 便利店"
    assert lines[1].startswith("、便民")  # the long word was split, not moved whole
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize("sizes", [(7.5,), (7.5, 10.0, 7.5)])  # the document keeps what it measured
def test_measure_is_fpdfs_width(pdf, sizes):
    for size in sizes:
        pdf.set_font(FONT, size=size)
        measure = string_measure(pdf)
        for text in ["", "abc", "社区：第12社区", "5 分钟（400 米）", "\u0378\u0379 missing glyphs"]:
            assert measure(text) == pytest.approx(pdf.get_string_width(text), abs=1e-9)


def _long_table(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "place": [f"第{i}社区" for i in range(rows)],
            "remark": [
                f"row {i}: " + " ".join(["便民超市 / 便利店、菜市场", "Convenience store"] * (1 + i % 4))
                for i in range(rows)
            ],
            "count": list(range(rows)),
        }
    )


def _page_texts(pdf) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(bytes(pdf.output()))).pages]


@pytest.mark.parametrize("orientation", ["P", "L"])
def test_a_long_table_repeats_its_heading_row_and_keeps_every_cell(orientation):
    pdf = _document(orientation)
    frame = _long_table(150)
    pdf_table(pdf, frame, "en")
    assert pdf.get_x() == pdf.l_margin
    pdf.cell(0, 5, "AFTER THE TABLE")
    texts = _page_texts(pdf)
    assert len(texts) >= 3
    for text in texts:
        assert re.match(r"\s*place\s+remark\s+count", text), text[:80]
    whole = _squeezed("".join(texts))
    for row in frame.itertuples(index=False):
        row_text = "".join(_squeezed(f"{value:,}" if isinstance(value, int) else value) for value in row)
        assert row_text in whole, row_text
    assert _squeezed(texts[-1]).endswith("AFTERTHETABLE")
    # every page keeps the table's orientation
    reader = PdfReader(io.BytesIO(bytes(pdf.output())))
    landscape = [page.mediabox.width > page.mediabox.height for page in reader.pages]
    assert landscape == [orientation == "L"] * len(landscape)


def test_text_stays_inside_its_cell():
    pdf = _document()
    pdf_table(pdf, _long_table(40), "zh")
    runs = []

    def visit(text, _cm, tm, _font, size):
        if text.strip():
            runs.append((text.strip(), tm[4], size * tm[0]))

    for page in PdfReader(io.BytesIO(bytes(pdf.output()))).pages:
        page.extract_text(visitor_text=visit)
    # each line starts a padding past its column's left edge, and ends a padding before the next
    starts = sorted({round(x, 2) for _, x, _ in runs})
    assert len(starts) == 3
    edges = [x - PAD_MM / 2 * pdf.k for x in starts] + [(pdf.w - pdf.r_margin) * pdf.k]
    assert edges[0] == pytest.approx(pdf.l_margin * pdf.k, abs=0.01)
    for text, x, size in runs:
        column = starts.index(round(x, 2))
        pdf.set_font(FONT, size=size)
        assert x + pdf.get_string_width(text) * pdf.k <= edges[column + 1] - PAD_MM / 2 * pdf.k + 0.01, text


def test_a_row_taller_than_a_page_ends():
    pdf = _document()
    frame = pd.DataFrame({"a": ["short"], "b": [" ".join(["word"] * 4000)]})
    pdf_table(pdf, frame, "en")
    assert pdf.page <= 2
    assert pdf.get_x() == pdf.l_margin


def test_an_empty_table_is_a_dash():
    pdf = _document()
    pdf_table(pdf, pd.DataFrame({"a": []}), "en")
    assert "–" in _page_texts(pdf)[0]
