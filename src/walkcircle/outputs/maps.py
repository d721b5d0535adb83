"""Folium maps planners can share: offline by default, in Chinese or English.

A study map has:

- homes coloured by score; above ``max_homes`` homes they are aggregated into H3 hexagons
  (each counts its homes and residents: every home is represented, none is dropped or
  sampled) and drawn on a canvas, so a city of 100k+ homes opens in seconds;
- communities shaded by their mean score, with per-category walking minutes in the popup;
- facilities per category in toggleable layers; every category of the profile in the legend,
  those without a facility marked as such;
- per category a service area (服务范围) layer, switched on one at a time (the layer control
  keeps at most one of them on), drawn generalised (holes under 1 ha filled), with the homes
  outside it (盲区: points, or hexagons counting their residents on large maps) and the
  residents not covered in the legend;
- graded isochrones (one colour per budget) with origin markers and a legend;
- suggested sites named by the nearest named street (or facility), residents gained as
  whole numbers, coordinates to 6 decimals;
- a metric scale bar (bottom left, below the legend) and a layer control.

Colours never mean two things: categories use a qualitative palette (also for their service
areas), scores a sequential red scale (darker = lower score; no category is red), isochrones
a purple scale that no category uses.

Offline (the default): every script and stylesheet the map needs (Leaflet, jQuery for folium's
popups) is inlined from installed packages (XStatic), images as data URIs; nothing is fetched
when the file is opened, so it works on networks that block CDNs. Without a reachable basemap
the data layers still draw. Basemaps: OpenStreetMap tiles, none, AMap (高德; tiles in GCJ-02,
every overlay is then shifted to GCJ-02 so that it lines up) or Tianditu (天地图; Web Mercator
tiles on CGCS2000, which agrees with WGS-84 to well under a metre, so overlays are not
shifted; needs a key in the ``TIANDITU_KEY`` environment variable and the internet to show).
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.template import Template

from walkcircle.coords import wgs84_to_gcj02
from walkcircle.defaults import (
    DEFAULT_MAP_MAX_BLIND_CELLS,
    DEFAULT_MAP_MAX_CELLS,
    DEFAULT_MAP_MAX_POINTS,
    DEFAULT_MAP_MIN_HOLE_M2,
    DEFAULT_MAP_SIMPLIFY_M,
    SITE_NAME_MAX_M,
    TIANDITU_KEY_ENV,
)
from walkcircle.errors import InputError
from walkcircle.outputs import _folium as fl
from walkcircle.outputs.export import atomic_path

if TYPE_CHECKING:
    from walkcircle.access import AccessResult
    from walkcircle.network import WalkNetwork
    from walkcircle.profile import Profile
    from walkcircle.siting import Suggestion

_TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
BASEMAPS: dict[str, dict[str, Any]] = {
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": {
            "en": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
            "zh": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> 贡献者',
        },
        "title": {"en": "OpenStreetMap", "zh": "OpenStreetMap"},
        "crs": "wgs84",
    },
    "amap": {
        "tiles": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": {"en": "&copy; AutoNavi (GCJ-02)", "zh": "&copy; 高德地图"},
        "title": {"en": "AutoNavi", "zh": "高德地图"},
        "subdomains": "1234",
        "crs": "gcj02",
    },
    "tianditu": {
        "tiles": _TIANDITU_URL,
        "attr": {"en": "&copy; Tianditu (CGCS2000)", "zh": "&copy; 天地图"},
        "title": {"en": "Tianditu", "zh": "天地图"},
        "subdomains": "01234567",
        "crs": "wgs84",  # CGCS2000 and WGS-84 differ by centimetres: no shift
        "needs_key": TIANDITU_KEY_ENV,
    },
    "none": {"tiles": None, "attr": {"en": "", "zh": ""}, "title": {"en": "", "zh": ""}, "crs": "wgs84"},
}

# Qualitative palette for categories (and their service areas): no red (red is "low score"),
# no purple (isochrones).
CATEGORY_COLOURS = [
    "#1f78b4", "#33a02c", "#e6ab02", "#17becf", "#8c564b", "#666666", "#b2df8a", "#a6cee3",
    "#1b9e77", "#bcbd22", "#08519c", "#a6761d", "#006d2c", "#66c2a5", "#000000", "#ffd92f",
    "#80cdc1", "#35978f", "#7f6000", "#4d9221",
]  # fmt: skip
# Sequential scale for scores: darker red = lower score.
SCORE_COLOURS = ["#99000d", "#cb181d", "#ef3b2c", "#fb6a4a", "#fc9272", "#fcbba1", "#fee0d2", "#fff5f0"]
# Isochrones, shortest budget darkest.
ISOCHRONE_COLOURS = ["#3f007d", "#6a51a3", "#9e9ac8", "#cbc9e2", "#dadaeb"]
NO_DATA_COLOUR = "#bdbdbd"

LABELS = {
    "scenario": {
        "en": "Plan: homes newly covered / no longer covered",
        "zh": "规划：新增覆盖／失去覆盖的住所",
    },
    "newly_covered": {"en": "newly covered", "zh": "新增覆盖"},
    "newly_uncovered": {"en": "no longer covered", "zh": "失去覆盖"},
    "homes": {"en": "Homes by score", "zh": "住所（按得分）"},
    "cells": {"en": "Grid cells by score", "zh": "网格（按得分）"},
    "hexagons": {"en": "Homes by score (hexagons)", "zh": "住所（按得分，六边形汇总）"},
    "hex_note": {
        "en": "{homes:,} homes in {cells:,} hexagons (every home counted)",
        "zh": "{homes:,} 个住所汇总为 {cells:,} 个六边形（全部计入）",
    },
    "n_homes": {"en": "Homes", "zh": "住所数"},
    "communities": {"en": "Communities by score", "zh": "社区（按得分）"},
    "community": {"en": "Community", "zh": "社区"},
    "isochrones": {"en": "Walking isochrones", "zh": "步行等时圈"},
    "origin": {"en": "Isochrone origin", "zh": "等时圈起点"},
    "sites": {"en": "Suggested sites", "zh": "建议新增设施"},
    "facilities": {"en": "Facilities", "zh": "设施"},
    "no_facility": {"en": "0 facilities", "zh": "0 处设施"},
    "score": {"en": "Score (0-100)", "zh": "得分（0-100）"},
    "score_mean": {"en": "Mean score", "zh": "平均得分"},
    "failing": {"en": "Failing categories", "zh": "未达标类别"},
    "affected": {"en": "Residents affected", "zh": "受影响居民"},
    "population": {"en": "Residents", "zh": "居民"},
    "name": {"en": "Name", "zh": "名称"},
    "category": {"en": "Category", "zh": "类别"},
    "minutes": {"en": "minutes", "zh": "分钟"},
    "min_walk": {"en": "{name}: walk (min)", "zh": "{name}：步行（分钟）"},
    "unreachable": {"en": "unreachable", "zh": "不可达"},
    "rank": {"en": "Rank", "zh": "排序"},
    "gain": {"en": "Residents added", "zh": "新增覆盖居民"},
    "coords": {"en": "Longitude, latitude", "zh": "经纬度"},
    "near": {"en": "near {name}", "zh": "{name}附近"},
    "site_at": {"en": "site at {lon:.6f}, {lat:.6f}", "zh": "位于 {lon:.6f}, {lat:.6f} 的地点"},
    "service": {"en": "Service area", "zh": "服务范围"},
    "service_title": {
        "en": "Service areas (one at a time, in the layer control)",
        "zh": "服务范围（在图层控制中每次显示一类）",
    },
    "not_covered": {"en": "residents not covered", "zh": "未覆盖居民"},
    "generalised": {
        "en": "Drawn simplified, holes under {ha:g} ha filled; exact areas in the GeoPackage",
        "zh": "图上已简化，小于 {ha:g} 公顷的空洞已填补；精确范围见导出的地理数据文件",
    },
    "not_covered_homes": {"en": "homes not covered", "zh": "未覆盖住所"},
    "blind": {"en": "Not covered", "zh": "未覆盖（盲区）"},
    "basemap": {"en": "Basemap", "zh": "底图"},
    "metres": {"en": "m", "zh": "米"},
    "colon": {"en": ": ", "zh": "："},
    "demo": {"en": "DEMO on a sample extract — not a real study", "zh": "演示（样例数据，非正式研究）"},
    "none": {"en": "none", "zh": "无"},
}

_XSTATIC = {
    "leaflet": ("xstatic.pkg.leaflet", "leaflet.js"),
    "jquery": ("xstatic.pkg.jquery", "jquery.min.js"),
    "leaflet_css": ("xstatic.pkg.leaflet", "leaflet.css"),
}


def label(key: str, lang: str, **values: Any) -> str:
    """Return a UI label in ``zh`` or ``en``.

    Parameters
    ----------
    key
        Label key.
    lang
        Language.
    **values
        Filled into the label's ``{placeholders}``.

    Returns
    -------
    str
        The label.
    """
    text = LABELS[key]["zh" if lang == "zh" else "en"]
    return text.format(**values) if values else text


class OfflineMap(folium.Map):
    """A folium Map that loads only Leaflet and jQuery (no Bootstrap, no icon fonts).

    The study maps use circle markers and plain HTML legends, so the other default assets of
    folium are not needed; fewer assets keep the offline file small.
    """

    default_js: ClassVar[list[tuple[str, str]]] = [
        ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"),
        ("jquery", "https://code.jquery.com/jquery-3.7.1.min.js"),
    ]
    default_css: ClassVar[list[tuple[str, str]]] = [
        ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")
    ]

    def _repr_html_(self, **kwargs: Any) -> str:
        """Show the map in Jupyter self-contained: Leaflet inlined, so it draws without internet."""
        page = inline_assets(self.get_root().render())
        return f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:600px;border:none"></iframe>'


def _asset(name: str) -> str:
    import importlib

    module, filename = _XSTATIC[name]
    try:
        package = importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - xstatic packages are dependencies
        msg = f"offline maps need the {module.replace('.pkg.', '-').replace('_', '-')} package; pip install it or use --online"
        raise InputError(msg) from exc
    return (Path(package.BASE_DIR) / filename).read_text(encoding="utf-8")


def _leaflet_css_inline() -> str:
    import xstatic.pkg.leaflet as leaflet

    css = _asset("leaflet_css")
    images = Path(leaflet.BASE_DIR) / "images"

    def data_uri(match: re.Match[str]) -> str:
        path = images / Path(match.group(1)).name
        encoded = base64.b64encode(path.read_bytes()).decode()
        return f"url(data:image/png;base64,{encoded})"

    return re.sub(r"url\(images/([^)]+)\)", data_uri, css)


def inline_assets(page: str) -> str:
    """Replace the CDN script and stylesheet tags of a rendered OfflineMap with inline copies.

    Parameters
    ----------
    page
        HTML from ``map.get_root().render()``.

    Returns
    -------
    str
        Self-contained HTML.

    Raises
    ------
    InputError
        If any external script or stylesheet remains (a map element needing assets that
        are not available offline).
    """
    for name, url in OfflineMap.default_js:
        tag = f'<script src="{url}"></script>'
        if tag not in page:
            continue
        code = _asset(name).replace("</script>", "<\\/script>")
        page = page.replace(tag, f"<script>/* {name}, inlined for offline use */\n{code}\n</script>")
    for _, url in OfflineMap.default_css:
        tag = f'<link rel="stylesheet" href="{url}"/>'
        page = page.replace(tag, f"<style>/* leaflet.css, inlined */\n{_leaflet_css_inline()}\n</style>")
    leftover = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', page)
    if leftover:
        msg = f"the map still loads {len(leftover)} external asset(s) ({leftover[0]}); use --online for this map"
        raise InputError(msg)
    return page


# ---------------------------------------------------------------------------- small helpers


def _shift(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    if crs != "gcj02" or frame is None or len(frame) == 0:
        return frame
    out = frame.copy()
    out["geometry"] = shapely.transform(
        frame.geometry.to_numpy(), lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1]))
    )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """GeoJSON of some columns, floats rounded to 2 decimals, coordinates to 6 (about 0.1 m)."""
    keep = [c for c in columns if c in frame.columns]
    props = pd.DataFrame(frame[keep]).copy()
    for col in keep:
        if pd.api.types.is_float_dtype(props[col]):
            props[col] = props[col].replace([np.inf, -np.inf], np.nan).round(2)
    props = props.astype(object).where(props.notna(), None)
    records = props.to_dict("records") if keep else [{} for _ in range(len(frame))]
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda c: np.round(c, 6))
    # GEOS writes GeoJSON far faster than shapely's Python mapping of big polygons
    texts = shapely.to_geojson(geoms)
    # the text goes into the page as it is (fl.GeoJson): parsing and dumping it again cost seconds
    features = [
        {"type": "Feature", "properties": rec, "geometry": fl.RawGeometry(text) if text else None}
        for rec, text in zip(records, texts, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def score_colour(score: float | None) -> str:
    """Return the colour of a score on the sequential score scale.

    Parameters
    ----------
    score
        0-100, or None/NaN for no data.

    Returns
    -------
    str
        Hex colour (grey for no data).
    """
    if score is None or not np.isfinite(score):
        return NO_DATA_COLOUR
    k = int(np.clip(score, 0, 100) / 100 * (len(SCORE_COLOURS) - 1) + 0.5)
    return SCORE_COLOURS[k]


def score_colormap(lang: str) -> branca.colormap.LinearColormap:
    """Return the score colour scale (dark red 0 -> pale 100).

    Parameters
    ----------
    lang
        Caption language.

    Returns
    -------
    branca.colormap.LinearColormap
        The scale.
    """
    return branca.colormap.LinearColormap(SCORE_COLOURS, vmin=0, vmax=100, caption=label("score", lang))


def category_colours(category_ids: Sequence[str]) -> dict[str, str]:
    """Give each category its colour from the qualitative palette (profile order).

    Parameters
    ----------
    category_ids
        Category ids in profile order.

    Returns
    -------
    dict
        Id -> hex colour.
    """
    return {cid: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, cid in enumerate(category_ids)}


def _minutes_text(value: float, lang: str) -> str:
    return f"{value:.1f}" if np.isfinite(value) else label("unreachable", lang)  # inf and NaN


# ---------------------------------------------------------------------------- homes at scale


def hex_index(
    homes: gpd.GeoDataFrame, max_cells: int = DEFAULT_MAP_MAX_CELLS, finest: int = 12
) -> tuple[np.ndarray, np.ndarray, int]:
    """Put every home in an H3 cell: the finest resolution with at most `max_cells` cells.

    Parameters
    ----------
    homes
        Homes (points, or polygons: their point on surface), WGS-84.
    max_cells
        Most cells wanted.
    finest
        Finest H3 resolution tried.

    Returns
    -------
    tuple
        Cell codes (sorted, unique), each home's position in them, and the resolution.
    """
    import h3

    geoms = homes.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    points = np.where(is_point, geoms, shapely.point_on_surface(geoms) if not is_point.all() else geoms)
    lon = shapely.get_x(points)
    lat = shapely.get_y(points)

    def cells_at(res: int) -> np.ndarray:
        return np.array([h3.latlng_to_cell(y, x, res) for x, y in zip(lon, lat, strict=True)], dtype=object)

    # first guess from the extent: the finest resolution whose hexagons tile the bounding box
    # in at most max_cells; one finer is tried too, since homes rarely fill their box
    if len(homes):
        lat0 = np.radians(np.nanmean(lat))
        box_m2 = np.ptp(lon) * 111_320.0 * np.cos(lat0) * np.ptp(lat) * 110_950.0
        fits = [r for r in range(finest + 1) if box_m2 / h3.average_hexagon_area(r, "m^2") <= max_cells]
        guess = max(fits) if fits else 0
        resolution = min(guess + 1, finest)
    else:
        resolution = finest
    cells = cells_at(resolution)
    while resolution > 0 and len(set(cells)) > max_cells:
        resolution -= 1
        cells = cells_at(resolution)
    codes, inverse = np.unique(cells.astype(str), return_inverse=True)
    return codes, inverse, resolution


def hex_polygons(codes: np.ndarray) -> list[shapely.Polygon]:
    """Return the hexagon of each H3 cell code (lon, lat).

    Parameters
    ----------
    codes
        H3 cell codes.

    Returns
    -------
    list of shapely.Polygon
        One hexagon per code.
    """
    import h3

    return [shapely.Polygon([(x, y) for y, x in h3.cell_to_boundary(c)]) for c in codes]


def aggregate_homes_h3(
    homes: gpd.GeoDataFrame, max_cells: int = DEFAULT_MAP_MAX_CELLS, finest: int = 12
) -> tuple[gpd.GeoDataFrame, int]:
    """Aggregate homes into H3 hexagons: the finest resolution with at most `max_cells` cells.

    Parameters
    ----------
    homes
        Homes (points, WGS-84) with ``score`` and optionally ``population``.
    max_cells
        Most hexagons wanted.
    finest
        Finest H3 resolution tried.

    Returns
    -------
    tuple
        GeoDataFrame of hexagons (``h3_cell``, ``n_homes``, ``population``, ``score``: the
        population-weighted mean, plain mean where a cell has no residents) and the resolution.
        ``n_homes`` sums to ``len(homes)``: every home is in exactly one hexagon.
    """
    codes, inverse, resolution = hex_index(homes, max_cells, finest)
    population = (
        homes["population"].to_numpy(np.float64) if "population" in homes.columns else np.ones(len(homes))
    )
    score = homes["score"].to_numpy(np.float64) if "score" in homes.columns else np.full(len(homes), np.nan)
    n_homes = np.bincount(inverse, minlength=codes.size)
    pop = np.bincount(inverse, weights=population, minlength=codes.size)
    finite = np.isfinite(score)
    weighted = np.bincount(inverse[finite], weights=(score * population)[finite], minlength=codes.size)
    weights = np.bincount(inverse[finite], weights=population[finite], minlength=codes.size)
    plain = np.bincount(inverse[finite], weights=score[finite], minlength=codes.size)
    counted = np.bincount(inverse[finite], minlength=codes.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weights > 0, weighted / weights, plain / counted)
    polygons = hex_polygons(codes)
    frame = pd.DataFrame({"h3_cell": codes, "n_homes": n_homes, "population": pop, "score": mean})
    return gpd.GeoDataFrame(frame, geometry=polygons, crs="EPSG:4326"), resolution


def _homes_layer(
    fmap: folium.Map, homes: gpd.GeoDataFrame, crs: str, lang: str, max_homes: int, max_cells: int
) -> str:
    """Add the homes (points, grid cells or hexagons) and return a note for the legend."""
    cells = "h3_cell" in homes.columns and len(homes) <= max_homes
    note = ""
    if len(homes) > max_homes:
        geo, _ = aggregate_homes_h3(homes, max_cells)
        name = label("hexagons", lang)
        fields = ["n_homes", "population", "score"]
        aliases = [label("n_homes", lang), label("population", lang), label("score_mean", lang)]
        note = label("hex_note", lang, homes=len(homes), cells=len(geo))
        marker = None
        geo["population"] = geo["population"].round()
    elif cells:
        import h3

        polygons = [
            shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in homes["h3_cell"]
        ]
        geo = gpd.GeoDataFrame(homes.drop(columns="geometry"), geometry=polygons, crs="EPSG:4326")
        name, marker = label("cells", lang), None
        fields = ["score", "community", "population"]
        aliases = [label("score", lang), label("community", lang), label("population", lang)]
    else:
        geo = homes
        name, marker = label("homes", lang), folium.CircleMarker(radius=4)
        fields = ["score", "community", "population"]
        aliases = [label("score", lang), label("community", lang), label("population", lang)]
    geo = _shift(geo, crs)
    keep = [(f, a) for f, a in zip(fields, aliases, strict=True) if f in geo.columns]
    data = _geojson(geo, [f for f, _ in keep])
    for feature in data["features"]:
        colour = score_colour(feature["properties"].get("score"))
        feature["properties"]["style"] = {
            "color": "#555555" if marker else colour,
            "fillColor": colour,
            "fill": True,
            "weight": 0.5 if marker is None else 1,
            "fillOpacity": 0.75,
            "radius": 4,
        }
    fl.GeoJson(
        data,
        name=name,
        marker=marker,
        tooltip=fl.GeoJsonTooltip(fields=[f for f, _ in keep], aliases=[a for _, a in keep]),
    ).add_to(fmap)
    return note


# ---------------------------------------------------------------------------- communities


def community_minutes(homes: pd.DataFrame, categories: Sequence[str]) -> pd.DataFrame:
    """Population-weighted median walking minutes per community and category.

    Parameters
    ----------
    homes
        Homes with ``community``, ``minutes_<cat>`` and optionally ``population``.
    categories
        Category ids (those without a ``minutes_<cat>`` column are skipped).

    Returns
    -------
    pandas.DataFrame
        Indexed by community, one column per category (``inf`` where the median resident
        cannot reach the category; NaN minutes in `homes` count as unreachable).
    """
    has = homes["community"].astype(str).str.len() > 0 if "community" in homes.columns else None
    if has is None or not has.any():
        return pd.DataFrame()
    sub = homes[has.to_numpy()]
    key, codes = pd.factorize(sub["community"].astype(str))
    weight = sub["population"].to_numpy(np.float64) if "population" in sub.columns else np.ones(len(sub))
    weight = np.where(weight > 0, weight, 1e-9)  # homes without residents still count, barely
    out = {}
    for cid in categories:
        col = f"minutes_{cid}"
        if col not in sub.columns:
            continue
        minutes = sub[col].to_numpy(np.float64)
        minutes = np.where(np.isnan(minutes), np.inf, minutes)  # tables write unreachable as NaN
        order = np.lexsort((minutes, key))
        k, m, w = key[order], minutes[order], weight[order]
        cum = np.cumsum(w)
        start = np.searchsorted(k, np.arange(codes.size))
        before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
        total = np.bincount(k, weights=w, minlength=codes.size)
        half = before + total / 2.0
        pick = np.searchsorted(cum, half, side="left")
        out[cid] = m[np.minimum(pick, m.size - 1)]
    return pd.DataFrame(out, index=pd.Index(codes, name="community"))


def _communities_layer(
    fmap: folium.Map,
    communities: gpd.GeoDataFrame,
    homes: pd.DataFrame,
    profile: Profile,
    crs: str,
    lang: str,
) -> None:
    comm = _shift(gpd.GeoDataFrame(communities, geometry="geometry", crs="EPSG:4326"), crs).copy()
    cats = profile.category_ids
    names = {c.id: c.name(lang) for c in profile.categories}
    if "failing" in comm.columns:
        sep = "、" if lang == "zh" else ", "
        comm["failing"] = [
            sep.join(names.get(x, x) for x in str(f).split(";") if x) or label("none", lang)
            for f in comm["failing"].fillna("")
        ]
    for col in ("residents_affected", "population"):
        if col in comm.columns:
            comm[col] = comm[col].round()
    fields = [
        f for f in ("community", "score_mean", "failing", "residents_affected", "population") if f in comm
    ]
    aliases = {
        "community": label("community", lang), "score_mean": label("score_mean", lang),
        "failing": label("failing", lang), "residents_affected": label("affected", lang),
        "population": label("population", lang),
    }  # fmt: skip
    alias_list = [aliases[f] for f in fields]
    minutes = community_minutes(homes, cats)
    if len(minutes) and "community" in comm.columns:
        for cid in minutes.columns:
            known = comm["community"].astype(str).isin(minutes.index)
            values = comm["community"].astype(str).map(minutes[cid])
            comm[f"min_{cid}"] = [
                _minutes_text(v, lang) if k else "" for v, k in zip(values, known, strict=True)
            ]
            fields.append(f"min_{cid}")
            alias_list.append(label("min_walk", lang, name=names[cid]))
    is_polygon = comm.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    data = _geojson(comm, fields)
    for feature in data["features"]:
        colour = score_colour(feature["properties"].get("score_mean"))
        feature["properties"]["style"] = {
            "color": "#252525", "weight": 1.5, "fill": True, "fillColor": colour,
            "fillOpacity": 0.55, "radius": 8,
        }  # fmt: skip
    fl.GeoJson(
        data,
        name=label("communities", lang),
        marker=None if is_polygon else folium.CircleMarker(radius=8),
        popup=fl.GeoJsonPopup(fields=fields, aliases=alias_list),
    ).add_to(fmap)


# ---------------------------------------------------------------------------- facilities, service areas


def _facility_layers(
    fmap: folium.Map,
    facilities: gpd.GeoDataFrame,
    profile: Profile,
    colours: dict[str, str],
    crs: str,
    lang: str,
) -> None:
    fac = _shift(facilities, crs)
    for category in profile.categories:
        rows = fac[fac["category"] == category.id] if len(fac) else fac
        if len(rows) == 0:
            continue
        rows = rows.assign(category=category.name(lang))
        if "name" not in rows.columns:
            rows = rows.assign(name="")
        colour = colours[category.id]
        fl.GeoJson(
            _geojson(rows, ["name", "category"]),
            name=f"{label('facilities', lang)}{label('colon', lang)}{category.name(lang)} ({len(rows)})",
            style_function=lambda f, colour=colour: {
                "color": "#222222",
                "fillColor": colour,
                "fill": True,
                "weight": 1,
                "fillOpacity": 0.95,
                "radius": 5,
            },
            marker=folium.CircleMarker(radius=5),
            tooltip=fl.GeoJsonTooltip(
                fields=["name", "category"], aliases=[label("name", lang), label("category", lang)]
            ),
        ).add_to(fmap)


def generalise_area(
    geometry: shapely.Geometry,
    simplify_m: float = DEFAULT_MAP_SIMPLIFY_M,
    min_hole_m2: float = DEFAULT_MAP_MIN_HOLE_M2,
) -> shapely.Geometry:
    """Lighten a WGS-84 area for drawing: simplify it and fill holes smaller than a street block.

    A service area is buffered streets, so every street block inside it is a hole and a city's
    areas hold millions of vertices; the map draws them generalised (the files keep them exact).

    Parameters
    ----------
    geometry
        (Multi)Polygon in WGS-84 degrees.
    simplify_m
        Douglas-Peucker tolerance, metres.
    min_hole_m2
        Holes smaller than this are filled, square metres.

    Returns
    -------
    shapely.Geometry
        The generalised (Multi)Polygon (empty stays empty).
    """
    if geometry is None or geometry.is_empty:
        return shapely.Polygon()
    lat = shapely.get_y(geometry.centroid)
    m_per_deg = 111_320.0 * np.sqrt(max(np.cos(np.radians(lat)), 1e-6))  # geometric mean of lon/lat scales
    parts = shapely.get_parts(geometry)
    parts = parts[shapely.get_type_id(parts) == 3]  # polygons
    rings, owner = shapely.get_rings(parts, return_index=True)
    is_shell = np.r_[True, owner[1:] != owner[:-1]]
    keep = is_shell | (shapely.area(shapely.polygons(rings)) >= min_hole_m2 / m_per_deg**2)
    rings, is_shell = rings[keep], is_shell[keep]
    if rings.size == 0:
        return shapely.Polygon()
    polygons = shapely.polygons(rings, indices=np.cumsum(is_shell) - 1)  # each shell, then its holes
    merged = polygons[0] if len(polygons) == 1 else shapely.multipolygons(polygons)
    return shapely.simplify(merged, simplify_m / m_per_deg, preserve_topology=False)


def _uncovered_points(
    homes: gpd.GeoDataFrame, access: AccessResult | None, category: str, threshold_m: float
) -> np.ndarray | None:
    """Mask of homes outside the service area, from the access results or the homes' columns."""
    if access is not None and category in access.categories:
        return ~(access.nearest_m[:, access.column(category)] <= threshold_m)
    if f"reached_{category}" in homes.columns:
        return ~homes[f"reached_{category}"].to_numpy(bool)
    return None


_BLIND_STYLE = {"color": "#000000", "weight": 1, "fillColor": "#ffffff", "fill": True, "fillOpacity": 0.9}


def _blind_spots(
    group: folium.FeatureGroup,
    homes: gpd.GeoDataFrame,
    mask: np.ndarray,
    hexes: tuple[np.ndarray, np.ndarray] | None,
    crs: str,
    lang: str,
) -> None:
    """Draw the homes outside a service area: points, or hexagons counting them (large maps)."""
    population = (
        homes["population"].to_numpy(np.float64) if "population" in homes.columns else np.ones(len(homes))
    )
    if hexes is None:
        spots = homes[mask].assign(population=population[mask])
        marker = folium.CircleMarker(radius=3)
    else:
        inverse, polygons = hexes
        n = np.bincount(inverse[mask], minlength=polygons.size)
        pop = np.bincount(inverse[mask], weights=population[mask], minlength=polygons.size)
        spots = gpd.GeoDataFrame({"population": pop[n > 0]}, geometry=polygons[n > 0], crs="EPSG:4326")
        marker = None
    fl.GeoJson(
        _geojson(_shift(spots, crs), ["population"]),
        marker=marker,
        style_function=lambda f: {**_BLIND_STYLE, "radius": 3},
        tooltip=fl.GeoJsonTooltip(fields=["population"], aliases=[label("blind", lang)]),
    ).add_to(group)


def _service_area_layers(
    fmap: folium.Map,
    service_areas: gpd.GeoDataFrame,
    homes: gpd.GeoDataFrame,
    access: AccessResult | None,
    profile: Profile,
    colours: dict[str, str],
    crs: str,
    lang: str,
    draw_points: bool,
) -> tuple[list[str], list[dict[str, Any]]]:
    """One layer per category (area + the homes outside it); returns JS names and legend rows."""
    by_cat = service_areas.set_index("category")
    names, legend = [], []
    hexes = None  # blind spots of large maps: one hexagon grid shared by every category
    for category in profile.categories:
        if category.id not in by_cat.index:
            continue
        row = by_cat.loc[category.id]
        colour = colours[category.id]
        not_covered = row.get("residents_not_covered")
        total = (row.get("residents_covered") or 0) + (not_covered or 0) if pd.notna(not_covered) else None
        title = f"{label('service', lang)}{label('colon', lang)}{category.name(lang)} ≤ {row['threshold_m']:,.0f} {label('metres', lang)}"
        group = fl.FeatureGroup(name=title, show=False)
        area = gpd.GeoDataFrame(
            {"category": [category.name(lang)]},
            geometry=[generalise_area(row.geometry)],
            crs="EPSG:4326",
        )
        area = area[~area.geometry.is_empty]
        if len(area):
            fl.GeoJson(
                _geojson(_shift(area, crs), ["category"]),
                style_function=lambda f, colour=colour: {
                    "color": colour,
                    "weight": 1.5,
                    "fillColor": colour,
                    "fillOpacity": 0.35,
                },
                tooltip=fl.GeoJsonTooltip(fields=["category"], aliases=[label("service", lang)]),
            ).add_to(group)
        mask = _uncovered_points(homes, access, category.id, float(row["threshold_m"]))
        if mask is not None and mask.any():
            if not draw_points and hexes is None:
                codes, inverse, _ = hex_index(homes, DEFAULT_MAP_MAX_BLIND_CELLS)
                hexes = (inverse, np.array(hex_polygons(codes), dtype=object))
            _blind_spots(group, homes, mask, None if draw_points else hexes, crs, lang)
        group.add_to(fmap)
        names.append(group.get_name())
        legend.append(
            {
                "name": category.name(lang),
                "colour": colour,
                "threshold_m": float(row["threshold_m"]),
                "facilities": int(row["facilities"]),
                "not_covered": None if pd.isna(not_covered) else float(not_covered),
                "total": total,
            }
        )
    return names, legend


# ---------------------------------------------------------------------------- isochrones, sites


def _origin_of(origin_id: str) -> tuple[float, float] | None:
    parts = str(origin_id).split(",")
    if len(parts) != 2:
        return None
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        return None


def _isochrone_layer(
    fmap: folium.Map,
    isochrones: gpd.GeoDataFrame,
    origins: Sequence[tuple[float, float]] | None,
    crs: str,
    lang: str,
) -> dict[float, str]:
    """Graded isochrones (largest budget drawn first) and origin markers; returns minutes -> colour."""
    iso = isochrones[~isochrones.geometry.is_empty].copy()
    budgets = sorted(set(float(m) for m in isochrones["minutes"]))
    colours = {m: ISOCHRONE_COLOURS[min(i, len(ISOCHRONE_COLOURS) - 1)] for i, m in enumerate(budgets)}
    iso = iso.sort_values("minutes", ascending=False)
    iso["colour"] = iso["minutes"].astype(float).map(colours)
    group = fl.FeatureGroup(name=label("isochrones", lang))
    data = _geojson(_shift(iso, crs), ["origin_id", "minutes", "colour"])
    for feature in data["features"]:
        colour = feature["properties"].pop("colour")
        feature["properties"]["style"] = {
            "color": colour,
            "weight": 1.5,
            "fillColor": colour,
            "fillOpacity": 0.3,
        }
    fl.GeoJson(
        data,
        tooltip=fl.GeoJsonTooltip(fields=["minutes"], aliases=[label("minutes", lang)]),
    ).add_to(group)
    points = (
        list(origins) if origins is not None else [p for p in map(_origin_of, iso["origin_id"].unique()) if p]
    )
    for lon, lat in points:
        if crs == "gcj02":
            glon, glat = wgs84_to_gcj02(lon, lat)
            lon, lat = float(glon), float(glat)
        fl.Marker(
            [lat, lon],
            icon=folium.DivIcon(
                html='<div class="walkcircle-origin" style="width:14px;height:14px;margin:-7px 0 0 -7px;'
                'background:#ffffff;border:4px solid #3f007d;border-radius:9px;box-sizing:border-box"></div>',
                icon_size=(14, 14),
            ),
            tooltip=fl.Tooltip(f"{label('origin', lang)} {lon:.6f}, {lat:.6f}"),
        ).add_to(group)
    group.add_to(fmap)
    return colours


def name_sites(
    sites: pd.DataFrame,
    lang: str,
    network: WalkNetwork | None = None,
    facilities: pd.DataFrame | None = None,
    max_distance_m: float = SITE_NAME_MAX_M,
) -> list[str]:
    """Name suggested sites by the nearest named street, else the nearest named facility.

    Parameters
    ----------
    sites
        Suggested sites with ``lon``, ``lat`` and ``candidate`` (the siting's own name).
    lang
        ``zh`` or ``en`` (only the "near"/"site at" words change; proper names stay as they are).
    network
        The walking network (its OSM ``name`` tags per edge).
    facilities
        Named facilities (``name``, ``lon``, ``lat``) as a fallback.
    max_distance_m
        Farthest a street or facility may be to name a site.

    Returns
    -------
    list of str
        A name per site: the street name, "<facility> 附近" / "near <facility>", a
        candidate's own name from a candidates file, or the coordinates.
    """
    lon = sites["lon"].to_numpy(np.float64)
    lat = sites["lat"].to_numpy(np.float64)
    names: list[str | None] = [None] * len(sites)
    if network is not None and len(sites):
        named = np.flatnonzero(np.char.str_len(network.edge_name.astype(str)) > 0)
        if named.size:
            tree = shapely.STRtree(network.edge_lines[named])
            x, y = network.project(lon, lat)
            (pi, ei), dist = tree.query_nearest(shapely.points(x, y), all_matches=False, return_distance=True)
            for p, e, d in zip(pi, ei, dist, strict=True):
                if d <= max_distance_m:
                    names[p] = str(network.edge_name[named[e]])
    if facilities is not None and "name" in facilities.columns and len(facilities) and network is not None:
        fac = facilities[facilities["name"].fillna("").astype(str).str.len() > 0]
        if len(fac):
            fx, fy = network.project(fac["lon"].to_numpy(), fac["lat"].to_numpy())
            x, y = network.project(lon, lat)
            for i in range(len(sites)):
                if names[i] is None:
                    d = np.hypot(fx - x[i], fy - y[i])
                    j = int(np.argmin(d))
                    if d[j] <= max_distance_m:
                        names[i] = label("near", lang, name=str(fac["name"].iloc[j]))
    out = []
    for i in range(len(sites)):
        candidate = str(sites["candidate"].iloc[i]) if "candidate" in sites.columns else ""
        own = candidate if candidate and not re.fullmatch(r"(node|candidate) -?\d+", candidate) else None
        out.append(names[i] or own or label("site_at", lang, lon=lon[i], lat=lat[i]))
    return out


def _sites_layer(
    fmap: folium.Map,
    suggestions: list[Suggestion],
    profile: Profile,
    network: WalkNetwork | None,
    facilities: gpd.GeoDataFrame,
    crs: str,
    lang: str,
) -> None:
    frames = [sg.sites for sg in suggestions if len(sg.sites)]
    if not frames:
        return
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    sites["site"] = name_sites(sites, lang, network, facilities)
    sites["category"] = [
        profile.category(c).name(lang) if c in profile.category_ids else c for c in sites["category"]
    ]
    sites["gain"] = [f"{round(float(g)):,}" for g in sites["gain_population"]]
    sites["coords"] = [f"{x:.6f}, {y:.6f}" for x, y in zip(sites["lon"], sites["lat"], strict=True)]
    fields = ["rank", "category", "site", "gain", "coords"]
    fl.GeoJson(
        _geojson(_shift(sites, crs), fields),
        name=label("sites", lang),
        style_function=lambda f: {
            "color": "#000000",
            "fillColor": "#ffffff",
            "fill": True,
            "weight": 3,
            "fillOpacity": 1,
            "radius": 9,
        },
        marker=folium.CircleMarker(radius=9),
        popup=fl.GeoJsonPopup(
            fields=fields,
            aliases=[label(k, lang) for k in ("rank", "category", "name", "gain", "coords")],
        ),
    ).add_to(fmap)


# ---------------------------------------------------------------------------- the map


class _MapScript(fl.VerbatimMacro):
    """The metric scale bar and the rule "at most one service area on at a time"."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, position: 'bottomleft'})
            .addTo({{ this._parent.get_name() }});
        (function () {
            var map = {{ this._parent.get_name() }};
            var exclusive = [{{ this.exclusive | join(', ') }}];
            map.on('overlayadd', function (e) {
                if (exclusive.indexOf(e.layer) < 0) { return; }
                // after the layer control has handled the click, so that it redraws its boxes
                setTimeout(function () {
                    exclusive.forEach(function (layer) {
                        if (layer !== e.layer && map.hasLayer(layer)) { map.removeLayer(layer); }
                    });
                }, 0);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, exclusive: list[str]) -> None:
        super().__init__()
        self._name = "WalkcircleMapScript"
        self.exclusive = exclusive


def _basemap(fmap: folium.Map, basemap: str, lang: str) -> None:
    spec = BASEMAPS[basemap]
    if not spec["tiles"]:
        return
    tiles = spec["tiles"]
    layers = [tiles]
    if spec.get("needs_key"):
        key = os.environ.get(spec["needs_key"], "").strip()
        if not key:
            msg = (
                f"basemap {basemap}: no key; set the {spec['needs_key']} environment variable to your "
                "Tianditu browser key (https://console.tianditu.gov.cn), or use --basemap osm or none"
            )
            raise InputError(msg)
        annotation = "cva" if lang == "zh" else "eva"
        layers = [tiles.replace("{layer}", "vec").replace("{key}", key)]
        layers.append(tiles.replace("{layer}", annotation).replace("{key}", key))
    title = f"{label('basemap', lang)}{label('colon', lang)}{spec['title'][lang]}"
    for i, url in enumerate(layers):
        folium.TileLayer(
            tiles=url,
            attr=spec["attr"][lang],
            name=title,
            subdomains=spec.get("subdomains", "abc"),
            overlay=i > 0,
            control=i == 0,
        ).add_to(fmap)


def study_map(
    homes: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    profile: Profile,
    communities: gpd.GeoDataFrame | None = None,
    isochrones: gpd.GeoDataFrame | None = None,
    suggestions: list[Suggestion] | None = None,
    lang: str = "en",
    basemap: str = "osm",
    title: str = "",
    demo: bool = False,
    max_homes: int = DEFAULT_MAP_MAX_POINTS,
    *,
    service_areas: gpd.GeoDataFrame | None = None,
    access: AccessResult | None = None,
    network: WalkNetwork | None = None,
    isochrone_origins: Sequence[tuple[float, float]] | None = None,
    max_cells: int = DEFAULT_MAP_MAX_CELLS,
    scenario_changes: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Build the study map.

    Parameters
    ----------
    homes
        Homes with a ``score`` column (``h3_cell`` when they are grid cells; ``community``,
        ``population``, ``minutes_<cat>``, ``reached_<cat>`` when known).
    facilities
        Facilities with ``category`` and ``name``.
    profile
        Category names, order and colours.
    communities
        Community polygons or points with ``community``, ``score_mean``, ``failing``,
        ``residents_affected``.
    isochrones
        From `walkcircle.isochrones.isochrones` (``origin_id``, ``minutes``).
    suggestions
        From `Study.suggest`.
    lang
        ``zh`` or ``en``: every label of the map in that language.
    basemap
        ``osm``, ``amap`` (GCJ-02: overlays are shifted), ``tianditu`` (key from the
        ``TIANDITU_KEY`` environment variable) or ``none``.
    title
        Shown at the top of the legend.
    demo
        Label the map as a demo.
    max_homes
        Above this many homes, homes are drawn as H3 hexagons (every home counted in one).
    service_areas
        From `walkcircle.service_areas.service_areas`: one layer per category.
    scenario_changes
        Homes whose coverage a plan changes (`walkcircle.scenario.ChangeTables.changes`).
    access
        The homes' access results (blind spots of each service area); without it the
        homes' ``reached_<cat>`` columns are used.
    network
        The walking network, to name suggested sites by their street.
    isochrone_origins
        (lon, lat) of the isochrone origins (default: parsed from ``origin_id`` "lon,lat").
    max_cells
        Most hexagons when homes are aggregated.

    Returns
    -------
    folium.Map
        The map (save it with `save_map`).
    """
    if basemap not in BASEMAPS:
        msg = f"unknown basemap {basemap!r}; use one of {', '.join(BASEMAPS)}"
        raise InputError(msg)
    if lang not in ("zh", "en"):
        msg = f"unknown language {lang!r}; use zh or en"
        raise InputError(msg)
    crs = BASEMAPS[basemap]["crs"]
    large = len(homes) > max_homes
    bounds_source = homes if len(homes) else facilities
    w, s, e, n = _shift(bounds_source, crs).total_bounds if len(bounds_source) else (-1, -1, 1, 1)
    fmap = OfflineMap(location=[(s + n) / 2, (w + e) / 2], zoom_start=14, tiles=None, prefer_canvas=large)
    _basemap(fmap, basemap, lang)
    colours = category_colours(profile.category_ids)

    note = _homes_layer(fmap, homes, crs, lang, max_homes, max_cells)
    if communities is not None and len(communities) and "geometry" in communities:
        _communities_layer(fmap, communities, homes, profile, crs, lang)
    _facility_layers(fmap, facilities, profile, colours, crs, lang)
    exclusive: list[str] = []
    service_legend: list[dict[str, Any]] = []
    if service_areas is not None and len(service_areas):
        exclusive, service_legend = _service_area_layers(
            fmap, service_areas, homes, access, profile, colours, crs, lang, draw_points=not large
        )
    iso_colours: dict[float, str] = {}
    if isochrones is not None and len(isochrones):
        iso_colours = _isochrone_layer(fmap, isochrones, isochrone_origins, crs, lang)
    _sites_layer(fmap, suggestions or [], profile, network, facilities, crs, lang)
    if scenario_changes is not None and len(scenario_changes):
        _scenario_layer(fmap, scenario_changes, profile, crs, lang)

    counts = facilities["category"].value_counts().to_dict() if len(facilities) else {}
    legend = _legend_html(profile, colours, counts, service_legend, iso_colours, lang, title, demo, note)
    fmap.get_root().html.add_child(fl.VerbatimElement(legend))
    fl.LayerControl(collapsed=False).add_to(fmap)
    _MapScript(exclusive).add_to(fmap)
    if len(bounds_source):
        fmap.fit_bounds([[s, w], [n, e]])
    return fmap


SCENARIO_COLOURS = {"newly_covered": "#1b7837", "newly_uncovered": "#e7298a"}
"""Green for homes a plan newly covers, magenta for those it leaves uncovered (red means a low score)."""


def _scenario_layer(
    fmap: folium.Map, changes: gpd.GeoDataFrame, profile: Profile, crs: str, lang: str
) -> None:
    """Homes whose coverage a plan changes, one point per (home, category), coloured by the change."""
    group = fl.FeatureGroup(name=label("scenario", lang), show=True)
    shifted = _shift(changes, crs)
    for row in shifted.itertuples():
        change = str(row.change)
        name = (
            profile.category(row.category).name(lang)
            if row.category in profile.category_ids
            else str(row.category)
        )
        fl.CircleMarker(
            [row.geometry.y, row.geometry.x], radius=4, color=SCENARIO_COLOURS.get(change, "#000000"), weight=1,
            fill=True, fill_opacity=0.9, tooltip=fl.Tooltip(f"{name}: {label(change, lang)}"),
        ).add_to(group)  # fmt: skip
    group.add_to(fmap)


def _swatch(colour: str, round_: bool = True, hollow: bool = False) -> str:
    radius = "5px" if round_ else "2px"
    fill = "transparent" if hollow else colour
    return (
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:{radius};'
        f'background:{fill};border:1px solid {colour if hollow else "#333"};margin-right:4px"></span>'
    )


def _legend_html(
    profile: Profile,
    colours: dict[str, str],
    counts: dict[str, int],
    service_legend: list[dict[str, Any]],
    iso_colours: dict[float, str],
    lang: str,
    title: str,
    demo: bool,
    note: str,
) -> str:
    """Build the legend box: score scale, every category, service areas, isochrone budgets."""
    esc = html.escape
    parts = []
    if demo:
        parts.append(f'<div style="color:#99000d;font-weight:bold">{esc(label("demo", lang))}</div>')
    if title:
        parts.append(f"<b>{esc(title)}</b>")
    gradient = ",".join(SCORE_COLOURS)
    parts.append(
        f"<div><b>{esc(label('score', lang))}</b></div>"
        f'<div style="width:160px;height:10px;background:linear-gradient(to right,{gradient})"></div>'
        '<div style="width:160px;display:flex;justify-content:space-between"><span>0</span><span>50</span>'
        "<span>100</span></div>"
    )
    if note:
        parts.append(f'<div class="walkcircle-homes-note">{esc(note)}</div>')
    rows = []
    for c in profile.categories:
        n = int(counts.get(c.id, 0))
        text = (
            f"{esc(c.name(lang))} ({n:,})"
            if n
            else f"{esc(c.name(lang))} ({esc(label('no_facility', lang))})"
        )
        rows.append(
            f'<div class="walkcircle-category" data-category="{esc(c.id)}" data-count="{n}">'
            f"{_swatch(colours[c.id], hollow=n == 0)}{text}</div>"
        )
    parts.append(f"<b>{esc(label('facilities', lang))}</b>{''.join(rows)}")
    if service_legend:
        items = []
        for row in service_legend:
            if row["not_covered"] is None:
                extra = ""
            else:
                share = f" ({row['not_covered'] / row['total']:.0%})" if row["total"] else ""
                extra = f" — {label('not_covered', lang)} {row['not_covered']:,.0f}{share}"
            items.append(
                f'<div class="walkcircle-service">{_swatch(row["colour"], round_=False)}'
                f"{esc(row['name'])} ≤ {row['threshold_m']:,.0f} {label('metres', lang)}{esc(extra)}</div>"
            )
        note = label("generalised", lang, ha=DEFAULT_MAP_MIN_HOLE_M2 / 10_000)
        parts.append(
            f"<b>{esc(label('service_title', lang))}</b>{''.join(items)}"
            f'<div style="color:#555">{esc(note)}</div>'
        )
    if iso_colours:
        items = "".join(
            f'<div class="walkcircle-isochrone" data-minutes="{m:g}">{_swatch(c, round_=False)}'
            f"{m:g} {esc(label('minutes', lang))}</div>"
            for m, c in iso_colours.items()
        )
        parts.append(f"<b>{esc(label('isochrones', lang))}</b>{items}")
    return (
        '<div class="walkcircle-legend" style="position:fixed;bottom:48px;left:10px;z-index:9999;background:white;'
        "padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;max-height:55%;"
        f'max-width:38%;overflow:auto">{"".join(parts)}</div>'
    )


def save_map(fmap: folium.Map, path: str | os.PathLike[str], offline: bool = True) -> Path:
    """Write the map as one HTML file (atomically).

    Parameters
    ----------
    fmap
        The map.
    path
        Target ``.html``.
    offline
        Inline every script and stylesheet (no CDN needed when opened).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    page = fmap.get_root().render()
    if offline:
        page = inline_assets(page)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
