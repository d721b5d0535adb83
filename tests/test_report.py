"""The report as a deliverable: methods, maps, no Python values, A4 print layout, report.pdf."""

from __future__ import annotations

import html
import re
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from browser import CHROMIUM
from study_world import cau_world
from walkcircle.i18n import t
from walkcircle.outputs.pdf import community_heading, write_pdf
from walkcircle.outputs.readable import _rows_by_key
from walkcircle.outputs.report import render_report, write_report
from walkcircle.outputs.static_maps import cjk_font_file

PYTHON_VALUES = re.compile(r"(?<![\w-])(True|False|None|nan|NaN|inf|-inf|<NA>|NaT)(?![\w-])")

pytestmark = pytest.mark.slow


def page_text(page: str) -> str:
    """The visible text of an HTML page: no tags, no images, no style."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r'src="data:[^"]*"', " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="module", params=["zh", "en"])
def report(request):
    study, results = cau_world(request.param)
    return request.param, study, results, render_report(results, study.profile, request.param)


def test_no_python_values_anywhere(report):
    lang, _, results, page = report
    found = PYTHON_VALUES.findall(page_text(page))
    assert found == [], found[:10]
    # the ledger really holds such values: the report spells them out
    assert results.ledger["expected"].isna().any() and results.ledger["data_gap"].isna().any()
    assert t("not_applicable", lang) in page


def test_methods_name_the_formula_thresholds_clauses_speed_snapping_and_sources(report):
    lang, study, results, page = report
    text = page_text(page)
    assert t("methods", lang) in text
    for key in ("m_score", "m_pass", "m_snap", "m_gap", "thresholds", "sources"):
        assert t(key, lang) in text, key
    for category in study.profile.categories:
        assert html.escape(category.clause) in page or category.clause in text, category.id
    assert t("speed_value", lang, value=results.summary["speed_kmh"]) in text
    assert "80%" in text  # the pass share
    assert "cau_map.osm.bz2" in text and "ODbL" in text  # the network source and its licence
    assert re.search(r"20\d\d-\d\d-\d\d", text)  # a date for each source


def test_one_static_map_per_category_and_nothing_online(report):
    _, _, results, page = report
    assert not re.findall(r'(?:src|href)="https?://', page)
    figures = re.findall(r'<figure><img alt="([a-z_]+)" src="data:image/png;base64,', page)
    assert figures == results.access.categories
    # inputs are tables, never Python dicts or lists
    assert not re.search(r"\{'|\['|': ", page_text(page))


def test_every_community_has_its_section(report):
    lang, _, results, page = report
    for name in results.communities["community"]:
        assert f"{t('community_page', lang)}{'：' if lang == 'zh' else ': '}{name}" in page_text(page)


def _glyph_widths():
    from fontTools.ttLib import TTFont

    font = TTFont(cjk_font_file(), fontNumber=0)
    cmap, hmtx, units = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm

    def width(text: str, size: float) -> float:
        return sum(hmtx[cmap[ord(ch)]][0] for ch in text if ord(ch) in cmap) * size / units

    return width


def text_runs(page):
    """(text, x_start, y, size) of every text run on a PDF page, in page coordinates."""
    runs = []

    def visit(text, cm, tm, _font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            runs.append((text, x, y, size * tm[0] * cm[0]))

    page.extract_text(visitor_text=visit)
    return runs


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_has_the_summary_then_one_page_per_community(tmp_path, lang):
    if cjk_font_file() is None:
        pytest.skip("no CJK font installed")
    study, results = cau_world(lang)
    path = write_pdf(results, study.profile, tmp_path / "report.pdf", lang)
    reader = PdfReader(path)
    texts = [p.extract_text() for p in reader.pages]
    names = list(results.communities["community"])
    headed = [i for i, text in enumerate(texts) if any(community_heading(n, lang) in text for n in names)]
    first = headed[0]
    assert first >= 1 and t("summary", lang) in texts[0]
    # after the summary pages, exactly one page per community, each naming only its community
    assert len(reader.pages) == first + len(names)
    assert headed == list(range(first, first + len(names)))
    for page_no, name in zip(headed, names, strict=True):
        assert community_heading(name, lang) in texts[page_no]
        others = [n for n in names if n != name]
        assert not any(community_heading(n, lang) in texts[page_no] for n in others)
        assert t("failing", lang) in texts[page_no] or t("nearest", lang) in texts[page_no]
    # no table wider than the page: every run of text ends inside the media box (exact glyph widths)
    width = _glyph_widths()
    for number, page in enumerate(reader.pages):
        box_w, box_h = float(page.mediabox.width), float(page.mediabox.height)
        runs = text_runs(page)
        assert runs, number
        for text, x, y, size in runs:
            assert x >= 0 and x + width(text.rstrip(), size) <= box_w + 0.5, (number, text, x)
            assert 0 <= y <= box_h, (number, text, y)


def test_write_report_writes_the_pdf_beside_the_html(tmp_path):
    if cjk_font_file() is None:
        pytest.skip("no CJK font installed")
    study, results = cau_world("zh")
    path = write_report(results, study.profile, tmp_path / "report.html", "zh", pdf=tmp_path / "report.pdf")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert PdfReader(tmp_path / "report.pdf").pages
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.pdf"]


def test_pages_built_once_are_the_pages_shown(tmp_path):
    """write_report builds the community pages once; HTML and PDF show exactly the pages handed in."""
    if cjk_font_file() is None:
        pytest.skip("no CJK font installed")
    from walkcircle.outputs.readable import community_pages

    study, results = cau_world("en")
    pages = community_pages(results, study.profile, "en")
    assert len(pages) >= 2
    first = pages[0]
    renamed = [type(first)(name="Pages-Handed-In", facts=first.facts, services=first.services)]
    text = page_text(render_report(results, study.profile, "en", maps=False, pages=renamed))
    assert "Pages-Handed-In" in text and not any(
        p.name in text.split("Pages-Handed-In")[1] for p in pages[1:]
    )
    pdf = write_pdf(results, study.profile, tmp_path / "one.pdf", "en", maps=False, pages=renamed)
    texts = [p.extract_text() for p in PdfReader(pdf).pages]
    assert community_heading("Pages-Handed-In", "en") in texts[-1]
    assert not any(community_heading(p.name, "en") in t for t in texts for p in pages)
    # without pages given, both build the same pages write_report shares
    write_report(results, study.profile, tmp_path / "r.html", "en", pdf=tmp_path / "r.pdf")
    shared = [p.extract_text() for p in PdfReader(tmp_path / "r.pdf").pages]
    alone = [
        p.extract_text() for p in PdfReader(write_pdf(results, study.profile, tmp_path / "a.pdf", "en")).pages
    ]
    assert shared == alone
    html_alone = render_report(results, study.profile, "en")
    assert page_text((tmp_path / "r.html").read_text(encoding="utf-8")) == page_text(html_alone)


def test_pdf_images_at_the_fast_zlib_level_and_fpdf_setting_restored(tmp_path):
    if cjk_font_file() is None:
        pytest.skip("no CJK font installed")
    import zlib

    from fpdf.image_parsing import SETTINGS

    from walkcircle.outputs.pdf import IMAGE_ZLIB_LEVEL

    study, results = cau_world("en")
    before = SETTINGS.compression_level
    path = write_pdf(results, study.profile, tmp_path / "report.pdf", "en")
    assert SETTINGS.compression_level == before
    images = [
        obj.get_object()
        for page in PdfReader(path).pages
        for obj in (page["/Resources"].get("/XObject") or {}).values()
        if obj.get_object()["/Subtype"] == "/Image"
    ]
    assert len(images) >= 1 + len(results.access.categories)  # the chart and a map per category
    for image in images:
        assert image["/Filter"] == "/FlateDecode"
        raw = image._data  # the stream as stored
        assert zlib.compress(zlib.decompress(raw), IMAGE_ZLIB_LEVEL) == raw
        assert zlib.compress(zlib.decompress(raw), 6) != raw  # not fpdf's default level


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_printed_html_fits_a4(tmp_path, lang):
    study, results = cau_world(lang)
    page = write_report(results, study.profile, tmp_path / "report.html", lang)
    pdf = tmp_path / "printed.pdf"
    res = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=http://127.0.0.1:9",
         "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0 and pdf.exists(), res.stderr[-500:]
    reader = PdfReader(pdf)
    a4 = {(595, 842), (842, 595)}
    names = list(results.communities["community"])
    starts = []
    for number, printed in enumerate(reader.pages):
        size = (round(float(printed.mediabox.width)), round(float(printed.mediabox.height)))
        assert size in a4, size
        for text, x, _, _ in text_runs(printed):
            assert 0 <= x < size[0], (number, text, x)  # nothing starts beyond the right edge
        text = printed.extract_text()
        starts += [n for n in names if text.lstrip().startswith(f"{t('community_page', lang)}")
                   and community_heading(n, lang) in text]  # fmt: skip
    assert starts == names  # each community starts its own page
    # the community x category table (14 columns) prints on a landscape page
    assert any(float(p.mediabox.width) > float(p.mediabox.height) for p in reader.pages)


def test_cells_never_show_python_values():
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from walkcircle.outputs.readable import format_value

    values = st.one_of(
        st.none(), st.just(float("nan")), st.just(float("inf")), st.just(float("-inf")), st.booleans(),
        st.integers(-(10**9), 10**9), st.floats(allow_nan=True, allow_infinity=True), st.just(__import__("pandas").NA),
        st.sampled_from(["", "社区甲", "park"]),
    )  # fmt: skip
    kinds = st.sampled_from(
        ["share", "minutes", "residents", "score", "coordinate", "metres", "count", "other", "text"]
    )

    @settings(max_examples=300, deadline=None)
    @given(values, kinds, st.sampled_from(["zh", "en"]))
    @example(1.797693134862316e306, "share", "zh")  # x100 overflowed to "inf%" (CI, stop 17)
    def check(value, kind, lang):
        text = format_value(value, kind, lang)
        assert isinstance(text, str)
        assert not PYTHON_VALUES.search(text), (value, kind, text)

    check()


@given(st.lists(st.sampled_from(["第1社区", "a", "b", "nan", ""]), max_size=40))
def test_rows_by_key_are_each_keys_rows_in_order(keys):
    array = np.array(keys, dtype=object)
    rows = _rows_by_key(array)
    assert set(rows) == set(keys)
    for key, found in rows.items():
        np.testing.assert_array_equal(found, np.flatnonzero(array == key))
