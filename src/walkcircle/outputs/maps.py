"""Folium maps planners can share: offline by default, in Chinese or English.

A study map has homes (or H3 cells) coloured by score, facilities per category in toggleable
layers, communities with popups (score, failing categories, residents affected), isochrones,
suggested sites, a legend and a layer control.

Offline (the default): every script and stylesheet the map needs (Leaflet, jQuery for folium's
popups) is inlined from installed packages (XStatic), images as data URIs; nothing is fetched
when the file is opened, so it works on networks that block CDNs. Without a reachable basemap
the data layers still draw. Basemaps: OpenStreetMap tiles, none, or AMap (高德), whose tiles
are in GCJ-02 — every overlay is then shifted to GCJ-02 so that it lines up.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle.coords import wgs84_to_gcj02
from walkcircle.errors import InputError
from walkcircle.outputs.export import atomic_path

if TYPE_CHECKING:
    from walkcircle.profile import Profile
    from walkcircle.siting import Suggestion

BASEMAPS: dict[str, dict[str, Any]] = {
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        "crs": "wgs84",
    },
    "amap": {
        "tiles": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; 高德地图 AutoNavi (GCJ-02)",
        "subdomains": "1234",
        "crs": "gcj02",
    },
    "none": {"tiles": None, "attr": "", "crs": "wgs84"},
}

# Categorical colours that stay apart on a light map (ColorBrewer Set1/Dark2 mix).
CATEGORY_COLOURS = [
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#1b9e77",
    "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#666666", "#17becf", "#bcbd22",
    "#8c564b", "#9467bd", "#2ca02c", "#d62728",
]  # fmt: skip

LABELS = {
    "homes": {"en": "Homes by score", "zh": "住所（按得分）"},
    "cells": {"en": "Grid cells by score", "zh": "网格（按得分）"},
    "communities": {"en": "Communities", "zh": "社区"},
    "isochrones": {"en": "Walking isochrones", "zh": "步行等时圈"},
    "sites": {"en": "Suggested sites", "zh": "建议新增设施"},
    "facilities": {"en": "Facilities", "zh": "设施"},
    "score": {"en": "Score (0-100)", "zh": "得分（0-100）"},
    "failing": {"en": "Failing categories", "zh": "未达标类别"},
    "affected": {"en": "Residents affected", "zh": "受影响居民"},
    "population": {"en": "Residents", "zh": "居民"},
    "name": {"en": "Name", "zh": "名称"},
    "category": {"en": "Category", "zh": "类别"},
    "minutes": {"en": "minutes", "zh": "分钟"},
    "rank": {"en": "Rank", "zh": "排序"},
    "gain": {"en": "Residents added", "zh": "新增覆盖居民"},
    "demo": {"en": "DEMO on a sample extract — not a real study", "zh": "演示（样例数据，非正式研究）"},
    "none": {"en": "none", "zh": "无"},
}

_XSTATIC = {
    "leaflet": ("xstatic.pkg.leaflet", "leaflet.js"),
    "jquery": ("xstatic.pkg.jquery", "jquery.min.js"),
    "leaflet_css": ("xstatic.pkg.leaflet", "leaflet.css"),
}


def label(key: str, lang: str) -> str:
    """Return a UI label in ``zh`` or ``en``.

    Parameters
    ----------
    key
        Label key.
    lang
        Language.

    Returns
    -------
    str
        The label.
    """
    return LABELS[key]["zh" if lang == "zh" else "en"]


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


def _shift(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    if crs != "gcj02" or frame is None or len(frame) == 0:
        return frame
    out = frame.copy()
    out["geometry"] = shapely.transform(
        frame.geometry.to_numpy(), lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1]))
    )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    keep = [c for c in columns if c in frame.columns]
    clean = frame[[*keep, "geometry"]].copy()
    for col in keep:
        if pd.api.types.is_float_dtype(clean[col]):
            clean[col] = clean[col].replace([np.inf, -np.inf], np.nan).round(2)
    return json.loads(clean.to_json(na="null", drop_id=True))


def score_colormap(lang: str) -> branca.colormap.LinearColormap:
    """Return the score colour scale (red 0 -> yellow 50 -> green 100).

    Parameters
    ----------
    lang
        Caption language.

    Returns
    -------
    branca.colormap.LinearColormap
        The scale.
    """
    return branca.colormap.LinearColormap(
        ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"],
        vmin=0,
        vmax=100,
        caption=label("score", lang),
    )


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
    max_homes: int = 30_000,
) -> folium.Map:
    """Build the study map.

    Parameters
    ----------
    homes
        Homes with a ``score`` column (and ``h3_cell`` when they are grid cells).
    facilities
        Facilities with ``category`` and ``name``.
    profile
        Category names and order.
    communities
        Community polygons or points with ``score_mean``, ``failing``, ``residents_affected``.
    isochrones
        From `walkcircle.isochrones.isochrones`.
    suggestions
        From `Study.suggest`.
    lang
        ``zh`` or ``en``.
    basemap
        ``osm``, ``amap`` (GCJ-02: overlays are shifted) or ``none``.
    title
        Shown at the top.
    demo
        Label the map as a demo.
    max_homes
        Homes drawn at most (an even sample beyond; the legend says so).

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
    spec = BASEMAPS[basemap]
    crs = spec["crs"]
    homes_draw = homes
    sampled = False
    if len(homes) > max_homes:
        homes_draw = homes.iloc[np.linspace(0, len(homes) - 1, max_homes).astype(int)]
        sampled = True
    bounds_source = homes if len(homes) else facilities
    w, s, e, n = _shift(bounds_source, crs).total_bounds if len(bounds_source) else (-1, -1, 1, 1)
    fmap = OfflineMap(location=[(s + n) / 2, (w + e) / 2], zoom_start=14, tiles=None, control_scale=True)
    if spec["tiles"]:
        folium.TileLayer(
            tiles=spec["tiles"],
            attr=spec["attr"],
            name=f"basemap: {basemap}",
            subdomains=spec.get("subdomains", "abc"),
        ).add_to(fmap)
    colormap = score_colormap(lang)

    # homes or grid cells, coloured by score
    cells = "h3_cell" in homes_draw.columns
    homes_geo = homes_draw
    if cells:
        import h3

        polygons = [
            shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
            for c in homes_draw["h3_cell"]
        ]
        homes_geo = gpd.GeoDataFrame(homes_draw.drop(columns="geometry"), geometry=polygons, crs="EPSG:4326")
    homes_geo = _shift(homes_geo, crs)
    home_fields = ["score", "community", "population"]

    def home_style(feature: dict[str, Any]) -> dict[str, Any]:
        score = feature["properties"].get("score")
        colour = "#999999" if score is None else colormap(score)
        return {
            "color": colour,
            "fillColor": colour,
            "fill": True,
            "weight": 0.5 if cells else 1,
            "fillOpacity": 0.6,
            "radius": 4,
        }

    homes_layer = folium.GeoJson(
        _geojson(homes_geo, home_fields),
        name=label("cells" if cells else "homes", lang),
        style_function=home_style,
        marker=None if cells else folium.CircleMarker(radius=4),
        tooltip=folium.GeoJsonTooltip(
            fields=[f for f in home_fields if f in homes_geo.columns],
            aliases=[
                label(k if k != "community" else "communities", lang)
                for k in home_fields
                if k in homes_geo.columns
            ],
        ),
    )
    homes_layer.add_to(fmap)

    # communities
    if communities is not None and len(communities) and "geometry" in communities:
        comm = _shift(gpd.GeoDataFrame(communities, geometry="geometry", crs="EPSG:4326"), crs)
        comm_fields = [
            f for f in ("community", "score_mean", "failing", "residents_affected", "population") if f in comm
        ]
        comm_aliases = {
            "community": label("communities", lang), "score_mean": label("score", lang), "failing": label("failing", lang),
            "residents_affected": label("affected", lang), "population": label("population", lang),
        }  # fmt: skip
        is_polygon = comm.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        folium.GeoJson(
            _geojson(comm, comm_fields),
            name=label("communities", lang),
            style_function=lambda f: {
                "color": "#225ea8",
                "weight": 2,
                "fill": True,
                "fillOpacity": 0.05,
                "radius": 7,
            },
            marker=None if is_polygon else folium.CircleMarker(radius=7),
            popup=folium.GeoJsonPopup(fields=comm_fields, aliases=[comm_aliases[f] for f in comm_fields]),
        ).add_to(fmap)

    # facilities, one toggleable layer per category
    colours = {cid: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, cid in enumerate(profile.category_ids)}
    fac = _shift(facilities, crs)
    for cid in profile.category_ids:
        rows = fac[fac["category"] == cid] if len(fac) else fac
        if len(rows) == 0:
            continue
        colour = colours[cid]
        folium.GeoJson(
            _geojson(rows, ["name", "category", "source"]),
            name=f"{label('facilities', lang)}: {profile.category(cid).name(lang)} ({len(rows)})",
            style_function=lambda f, colour=colour: {
                "color": "#222222",
                "fillColor": colour,
                "fill": True,
                "weight": 1,
                "fillOpacity": 0.9,
                "radius": 5,
            },
            marker=folium.CircleMarker(radius=5),
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "category"], aliases=[label("name", lang), label("category", lang)]
            ),
        ).add_to(fmap)

    # isochrones
    if isochrones is not None and len(isochrones):
        iso = _shift(isochrones[~isochrones.geometry.is_empty], crs)
        folium.GeoJson(
            _geojson(iso, ["origin_id", "minutes", "area_m2"]),
            name=label("isochrones", lang),
            style_function=lambda f: {
                "color": "#54278f", "weight": 1, "fillColor": "#807dba",
                "fillOpacity": 0.12 if (f["properties"].get("minutes") or 0) > 10 else 0.2,
            },
            tooltip=folium.GeoJsonTooltip(fields=["origin_id", "minutes"], aliases=["", label("minutes", lang)]),
        ).add_to(fmap)  # fmt: skip

    # suggested sites
    frames = [sg.sites for sg in suggestions or [] if len(sg.sites)]
    if frames:
        sites = _shift(
            gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326"), crs
        )
        folium.GeoJson(
            _geojson(sites, ["rank", "category", "candidate", "gain_population"]),
            name=label("sites", lang),
            style_function=lambda f: {
                "color": "#000000",
                "fillColor": "#ffff33",
                "fill": True,
                "weight": 3,
                "fillOpacity": 1,
                "radius": 9,
            },
            marker=folium.CircleMarker(radius=9),
            popup=folium.GeoJsonPopup(
                fields=["rank", "category", "candidate", "gain_population"],
                aliases=[
                    label("rank", lang),
                    label("category", lang),
                    label("name", lang),
                    label("gain", lang),
                ],
            ),
        ).add_to(fmap)

    _legend(fmap, profile, colours, facilities, lang, title, demo, sampled, len(homes), max_homes)
    folium.LayerControl(collapsed=False).add_to(fmap)
    if len(bounds_source):
        fmap.fit_bounds([[s, w], [n, e]])
    return fmap


def _legend(
    fmap: folium.Map,
    profile: Profile,
    colours: dict[str, str],
    facilities: gpd.GeoDataFrame,
    lang: str,
    title: str,
    demo: bool,
    sampled: bool,
    n_homes: int,
    max_homes: int,
) -> None:
    present = set(facilities["category"]) if len(facilities) else set()
    items = "".join(
        f'<div><span style="display:inline-block;width:10px;height:10px;border-radius:5px;'
        f'background:{colours[c.id]};margin-right:4px"></span>{html.escape(c.name(lang))}</div>'
        for c in profile.categories
        if c.id in present
    )
    note = ""
    if sampled:
        note = (
            f"<div>显示 {max_homes:,} / {n_homes:,} 个住所</div>"
            if lang == "zh"
            else f"<div>showing {max_homes:,} of {n_homes:,} homes</div>"
        )
    banner = (
        f'<div style="color:#b30000;font-weight:bold">{html.escape(label("demo", lang))}</div>'
        if demo
        else ""
    )
    heading = f"<b>{html.escape(title)}</b><br>" if title else ""
    # a CSS gradient instead of branca's colormap legend, which needs d3 from a CDN
    scale = (
        f"<div><b>{html.escape(label('score', lang))}</b></div>"
        '<div style="width:160px;height:10px;background:linear-gradient(to right,#d7191c,#fdae61,#ffffbf,#a6d96a,#1a9641)">'
        '</div><div style="width:160px;display:flex;justify-content:space-between"><span>0</span><span>50</span>'
        "<span>100</span></div>"
    )
    box = (
        '<div class="walkcircle-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;'
        'padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;max-height:45%;overflow:auto">'
        f"{banner}{heading}{scale}<b>{html.escape(label('facilities', lang))}</b>{items}{note}</div>"
    )
    fmap.get_root().html.add_child(folium.Element(box))


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
