"""Language purity: report.html, study.xlsx and CSV headers hold no words of the other language.

Allowed in either language: names from the data (communities, facilities, the study, input
files), the standard's own citations (clauses and sources, quoted as published) and the proper
names of `walkcircle.i18n.PROPER_NAMES` (OpenStreetMap, ODbL, package names...). The report's
warnings list is left out here: it quotes paths, category ids, CRS names and flags, and is
checked in `test_warning_language.py` with those allowed. The map and the console join later.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from openpyxl import load_workbook

from study_world import cau_world
from walkcircle.i18n import PROPER_NAMES
from walkcircle.outputs.export import export_results
from walkcircle.outputs.report import render_report
from walkcircle.outputs.workbook import write_workbook

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")

pytestmark = pytest.mark.slow


def allowed_names(study, results) -> list[str]:
    """Proper names from the data and the standard's citations, longest first."""
    names = set(results.communities["community"].astype(str))
    names |= set(results.facilities["name"].fillna("").astype(str))
    names |= {str(results.summary["study"]), "cau_map.osm.bz2", "communities.csv"}
    profile = study.profile
    names |= {c.clause for c in profile.categories} | {profile.source}
    if profile.programme is not None:
        names.add(profile.programme.source)
    return sorted((n for n in names if n.strip()), key=len, reverse=True)


def foreign(text: str, lang: str, allowed: list[str]) -> list[str]:
    """Words of the other language left once the allowed names are taken out."""
    for name in allowed:
        text = text.replace(name, " ")
    if lang == "en":
        return sorted(set(CJK.findall(text)))
    return sorted({w for w in WORD.findall(text) if w not in PROPER_NAMES})


def report_text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r'<ul[^>]* class="warnings">.*?</ul>', " ", page, flags=re.S)
    page = re.sub(r'src="data:[^"]*"', " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_is_in_one_language(lang):
    study, results = cau_world(lang)
    page = render_report(results, study.profile, lang)
    found = foreign(report_text(page), lang, allowed_names(study, results))
    assert found == [], found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_is_in_one_language(tmp_path, lang):
    study, results = cau_world(lang)
    book = load_workbook(write_workbook(results, study.profile, tmp_path / "study.xlsx", lang))
    cells = [sheet.title for sheet in book.worksheets]
    for sheet in book.worksheets:
        cells += [str(v) for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    found = foreign("\n".join(cells), lang, allowed_names(study, results))
    assert found == [], found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_csv_headers_are_in_one_language(tmp_path, lang):
    study, results = cau_world(lang)
    written = export_results(results, tmp_path / "out", lang=lang, profile=study.profile)
    headers = []
    for path in written:
        if path.suffix == ".csv":
            headers += list(pd.read_csv(path, encoding="utf-8-sig", nrows=0).columns)
    assert len(headers) > 50
    found = foreign("\n".join(headers), lang, allowed_names(study, results))
    assert found == [], found


def test_the_check_finds_words_of_the_other_language():
    # the test would notice a leak: an English header in a Chinese table and the reverse
    assert foreign("社区 coverage_park 居民", "zh", []) == ["coverage", "park"]
    assert foreign("Community 社区 Residents", "en", []) == ["区", "社"]
    assert foreign("社区甲 居民", "en", ["社区甲"]) == ["居", "民"]
    assert foreign("OpenStreetMap 贡献者", "zh", []) == []
