"""``study.xlsx``: the study's tables as one Excel workbook, in the study's language.

Sheets: summary, coverage per category, communities, community x category, the ledger and
suggested sites. Headers and sheet names are in the study's language; numbers stay numbers,
rounded for reading (minutes 1 decimal, shares kept to 4 decimals and shown as %, residents
whole) with matching number formats; there are no geometry columns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkcircle.i18n import check_lang, column_label
from walkcircle.outputs import readable
from walkcircle.outputs.export import atomic_path

if TYPE_CHECKING:
    from walkcircle.profile import Profile
    from walkcircle.study import StudyResults

SHEETS = {
    "summary": {"en": "Summary", "zh": "概要"},
    "coverage": {"en": "Coverage by category", "zh": "分类覆盖率"},
    "communities": {"en": "Communities", "zh": "社区"},
    "matrix": {"en": "Community x category", "zh": "社区分类覆盖率"},
    "ledger": {"en": "Ledger", "zh": "项目台账"},
    "sites": {"en": "Suggested sites", "zh": "建议新增设施"},
    "scenario": {"en": "Scenario", "zh": "规划情景"},
}
"""Sheet names (Excel allows 31 characters and no ``[]:*?/\\``)."""
DECIMALS = {"minutes": 1, "share": 4, "residents": 0, "score": 1, "coordinate": 6, "metres": 0, "count": 1}
FORMATS = {"minutes": "0.0", "share": "0.0%", "residents": "#,##0", "score": "0.0", "coordinate": "0.000000",
           "metres": "#,##0", "count": "#,##0"}  # fmt: skip


def workbook_tables(results: StudyResults, profile: Profile, lang: str) -> dict[str, pd.DataFrame]:
    """Return the workbook's tables (column ids, numbers unformatted), keyed by sheet id.

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    lang
        Language of text cells.

    Returns
    -------
    dict
        Sheet id -> table.
    """
    return {
        "summary": readable.summary_facts(results, profile, lang),
        "coverage": readable.category_table(results, profile, lang),
        "communities": readable.communities_table(results, profile, lang),
        "matrix": readable.matrix_table(results, profile, lang),
        "ledger": readable.ledger_readable(results, profile, lang),
        "sites": readable.sites_table(results, profile, lang),
    } | (
        {"scenario": readable.scenario_table(results, profile, lang)}
        if getattr(results, "scenario", None)
        else {}
    )


def _cell(value: Any, kind: str, lang: str) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and not np.isfinite(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return readable.format_value(bool(value), "text", lang)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        digits = DECIMALS.get(kind, 4)
        number = round(float(value), digits)
        return int(number) if digits == 0 else number
    return value


def write_workbook(
    results: StudyResults, profile: Profile, path: str | os.PathLike[str], lang: str = "en"
) -> Path:
    """Write ``study.xlsx`` (atomically).

    Parameters
    ----------
    results
        Study results.
    profile
        Names.
    path
        Target ``.xlsx``.
    lang
        ``"zh"`` or ``"en"``: sheet names, headers and text cells.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    check_lang(lang)
    categories = set(profile.category_ids)
    book = Workbook()
    book.remove(book.active)
    for sheet_id, table in workbook_tables(results, profile, lang).items():
        sheet = book.create_sheet(SHEETS[sheet_id][lang])
        columns = [str(c) for c in table.columns]
        kinds = [readable.display_kind(c, categories) for c in columns]
        headers = [column_label(c, lang, profile) for c in columns]
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.itertuples(index=False):
            sheet.append([_cell(v, k, lang) for v, k in zip(row, kinds, strict=True)])
        for j, kind in enumerate(kinds, start=1):
            letter = get_column_letter(j)
            width = max([len(str(headers[j - 1]))] + [len(str(v)) for v in table.iloc[:, j - 1].head(200)])
            sheet.column_dimensions[letter].width = min(60, max(8, width * (2 if lang == "zh" else 1.1)))
            if kind in FORMATS:
                for cell in sheet[letter][1:]:
                    cell.number_format = FORMATS[kind]
        sheet.freeze_panes = "A2"
    path = Path(path)
    with atomic_path(path) as tmp:
        book.save(tmp)
    return path
