"""AMap (高德, Gaode) Web Service client: POIs of a profile's type codes, geocoding, district outlines.

Three services are used, all answering JSON with ``status`` (``"1"`` ok), ``info`` and
``infocode`` (``"10000"`` ok):

- ``/v5/place/polygon`` (搜索POI 2.0, 多边形区域搜索): parameters ``key``, ``polygon``
  (``"lon,lat|lon,lat"`` for a rectangle given by its upper-left and lower-right corners,
  else a closed ring), ``types`` (``"code|code"``), ``page_size`` (at most 25) and
  ``page_num`` (1-100); the answer's ``pois`` carry ``id``, ``name``, ``location``
  (``"lon,lat"``), ``type``, ``typecode``, ``address``, ``pname``, ``cityname``, ``adname``.
- ``/v3/geocode/geo``: ``address`` and ``city``; ``geocodes`` carry ``location``,
  ``level`` (how precisely the address matched: 门牌号, 兴趣点, 道路, 区县...) and
  ``formatted_address``.
- ``/v3/config/district`` with ``extensions=all``: ``districts[0].polyline`` is the outline
  of a named district, parts separated by ``|`` and points by ``;``.

Every coordinate AMap takes or gives is GCJ-02: study areas are converted to GCJ-02 for the
query (`walkcircle.coords`), the POI table keeps AMap's GCJ-02 ``location`` (read it with
``crs="gcj02"``), and geocoded points are written in WGS-84.

A polygon query cannot be paged past a result cap. The v5 documentation bounds ``page_num``
to 100 pages of 25, but in practice the search stops well before that; the cap is a setting
(default `DEFAULT_AMAP_RESULT_CAP`): when pages × page_size reach it, the cell is split
into four and each quarter is queried again, so a dense city comes complete. POIs are
de-duplicated by AMap id across cells. Answers are cached on disk under a hash of the
request without the key, so a second run makes no request. The key never appears in the
cache, the outputs, the log or an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from walkcircle.coords import from_wgs84, to_wgs84
from walkcircle.defaults import (
    AMAP_KEY_ENV,
    AMAP_MAX_PAGES,
    AMAP_PAGE_SIZE,
    DEFAULT_AMAP_BACKOFF_S,
    DEFAULT_AMAP_MIN_CELL_M,
    DEFAULT_AMAP_QPS,
    DEFAULT_AMAP_RESULT_CAP,
    DEFAULT_AMAP_RETRIES,
    DEFAULT_AMAP_TIMEOUT_S,
    DEFAULT_AMAP_URL,
    DEFAULT_CACHE_DIR,
)
from walkcircle.errors import DownloadError, InputError
from walkcircle.profile import Profile

log = logging.getLogger(__name__)


class _MaskKeyFilter(logging.Filter):
    """Mask the key in log records of libraries that log request URLs (urllib3 at DEBUG)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.key in message:
            record.msg, record.args = message.replace(self.key, "***"), ()
        return True


_URL_LOGGERS = ("urllib3.connectionpool", "requests")


def _mask_library_logs(key: str) -> None:
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _MaskKeyFilter) and f.key == key for f in logger.filters):
            logger.addFilter(_MaskKeyFilter(key))


POI_COLUMNS = ("id", "name", "location", "typecode", "type", "address", "pname", "cityname", "adname")
"""Columns of the POI table; `walkcircle.sources.tables.read_facility_table` reads it with crs="gcj02"."""

QPS_INFOCODES = frozenset({"10004", "10014", "10019", "10020", "10021"})
"""ACCESS_TOO_FREQUENT, QPS_HAS_EXCEEDED_THE_LIMIT, CUQPS_/CKQPS_/CUQPS_HAS_EXCEEDED_THE_LIMIT: wait and retry."""

INFOCODE_FIXES: dict[str, str] = {
    "10001": "the key is wrong or expired; check AMAP_KEY or --key (a 'Web服务' key from console.amap.com)",
    "10002": "the key may not use this service, or --amap-url is wrong; enable the Web Service for the key",
    "10003": "the key's daily quota is used up; it resets at midnight Beijing time, run again then (pages fetched so far are cached)",
    "10005": "this machine's IP is not on the key's whitelist; add it in the AMap console",
    "10009": "the key belongs to another platform (JS API, Android, iOS); create a key of type 'Web服务'",
    "10010": "this IP sent too many requests today; try again tomorrow or from another network",
    "10012": "the key lacks the privilege for this service; apply for it in the AMap console",
    "10013": "the key was deleted; create a new 'Web服务' key",
    "10044": "the account's daily quota is used up; it resets at midnight Beijing time, run again then (pages fetched so far are cached)",
    "20000": "AMap refused a parameter; check the area and the profile's type codes",
    "20001": "a required parameter is missing; this is a walkcircle bug, please report it",
    "20003": "AMap reported an unknown error; try again later",
}
"""What to do about each infocode that ends a download (one line each)."""


def mask_key(text: str, key: str | None) -> str:
    """Replace the key wherever it appears in `text` (URLs, exception messages).

    Parameters
    ----------
    text
        Any text that may hold the key.
    key
        The key (None: nothing to mask).

    Returns
    -------
    str
        The text with the key replaced by ``***``.
    """
    return text.replace(key, "***") if key else text


def resolve_key(key: str | None) -> str:
    """Return the AMap key given, else the one in the ``AMAP_KEY`` environment variable.

    Parameters
    ----------
    key
        A key passed explicitly, or None.

    Returns
    -------
    str
        The key.

    Raises
    ------
    InputError
        When neither is set.
    """
    key = key or os.environ.get(AMAP_KEY_ENV, "")
    if not key.strip():
        msg = f"no AMap key: set the {AMAP_KEY_ENV} environment variable or pass --key (a 'Web服务' key from console.amap.com)"
        raise InputError(msg)
    return key.strip()


# ---------------------------------------------------------------------------- the client


@dataclass
class AmapClient:
    """A polite, cached AMap Web Service client.

    Parameters
    ----------
    key
        The key; None reads ``AMAP_KEY``.
    base_url
        Service root, ``https://restapi.amap.com`` by default (a test server works too).
    cache_dir
        Answers are cached under ``cache_dir/amap`` (None: no cache).
    qps
        Requests per second at most.
    timeout_s
        Per-request timeout, seconds.
    retries
        Retries after a QPS-exceeded answer or HTTP 429/5xx.
    backoff_s
        First wait before a retry, doubling each time.

    Attributes
    ----------
    requests_sent
        HTTP requests made (cache hits excluded).
    cache_hits
        Answers served from the cache.
    retried
        Retries after QPS-exceeded answers or HTTP 429/5xx.
    """

    key: str | None = None
    base_url: str = DEFAULT_AMAP_URL
    cache_dir: Path | None = DEFAULT_CACHE_DIR
    qps: float = DEFAULT_AMAP_QPS
    timeout_s: float = DEFAULT_AMAP_TIMEOUT_S
    retries: int = DEFAULT_AMAP_RETRIES
    backoff_s: float = DEFAULT_AMAP_BACKOFF_S
    requests_sent: int = 0
    cache_hits: int = 0
    retried: int = 0
    _last_request: float = field(default=0.0, repr=False)
    _session: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.key = resolve_key(self.key)
        _mask_library_logs(self.key)
        if self.qps <= 0:
            msg = f"--qps {self.qps}: must be positive"
            raise InputError(msg)
        self.base_url = self.base_url.rstrip("/")

    def __repr__(self) -> str:  # never show the key
        return f"AmapClient(base_url={self.base_url!r}, qps={self.qps}, cache_dir={self.cache_dir!s})"

    def _cache_file(self, path: str, params: Mapping[str, Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        host = urlparse(self.base_url).netloc or self.base_url  # a test server never answers for AMap
        payload = json.dumps(
            {"host": host, "path": path, "params": dict(sorted(params.items()))}, ensure_ascii=False
        )
        digest = hashlib.sha1(payload.encode()).hexdigest()[:20]
        return Path(self.cache_dir) / "amap" / f"{digest}.json"

    def get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """GET one service answer (from the cache when there), retrying on QPS limits.

        Parameters
        ----------
        path
            Service path, e.g. ``/v5/place/polygon``.
        params
            Query parameters without the key.

        Returns
        -------
        dict
            The JSON answer, ``status == "1"``.

        Raises
        ------
        DownloadError
            One line naming the infocode (or the network failure) and the fix.
        """
        cache_file = self._cache_file(path, params)
        if cache_file is not None and cache_file.exists():
            self.cache_hits += 1
            return json.loads(cache_file.read_text(encoding="utf-8"))
        for attempt in range(self.retries + 1):
            answer, retry_reason = self._request(path, params)
            if retry_reason is None:
                break
            if attempt == self.retries:
                msg = f"AMap {path}: {retry_reason} after {self.retries} retries; lower --qps or try again later"
                raise DownloadError(msg)
            self.retried += 1
            wait_s = self.backoff_s * 2**attempt
            log.info("AMap %s: %s; retrying in %.1f s", path, retry_reason, wait_s)
            time.sleep(wait_s)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".part")
            tmp.write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
            tmp.replace(cache_file)
        return answer

    def _wait_turn(self) -> None:
        gap_s = 1.0 / self.qps - (time.monotonic() - self._last_request)
        if gap_s > 0:
            time.sleep(gap_s)
        self._last_request = time.monotonic()

    def _request(self, path: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Send one request; return the answer, or a reason to retry."""
        import requests

        self._wait_turn()
        host = urlparse(self.base_url).netloc or self.base_url
        self.requests_sent += 1
        log.debug("AMap GET %s%s %s", self.base_url, path, params)
        try:
            if self._session is None:
                self._session = requests.Session()  # keep-alive: one TLS handshake, not one per page
            response = self._session.get(
                self.base_url + path, params={**params, "key": self.key}, timeout=self.timeout_s
            )
        except requests.exceptions.Timeout:
            msg = f"AMap {host} did not answer {path} within {self.timeout_s:g} s (timeout); try again later or raise the timeout"
            raise DownloadError(msg) from None  # the exception's text holds the URL, key included
        except requests.exceptions.RequestException as exc:
            msg = (
                f"cannot reach AMap at {host} ({exc.__class__.__name__}); check the connection or --amap-url"
            )
            raise DownloadError(msg) from None  # the exception's text holds the URL, key included
        if response.status_code == 429 or response.status_code >= 500:
            return {}, f"HTTP {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            msg = f"AMap {host}{path} answered HTTP {response.status_code} with something that is not JSON; check --amap-url"
            raise DownloadError(msg) from None
        if str(answer.get("status")) == "1":
            return answer, None
        return self._failure(path, answer)

    def _failure(self, path: str, answer: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        infocode = str(answer.get("infocode", ""))
        info = mask_key(str(answer.get("info", "")), self.key)
        if infocode in QPS_INFOCODES or "QPS" in info or info == "ACCESS_TOO_FREQUENT":
            return {}, f"{info} (infocode {infocode})"
        fix = INFOCODE_FIXES.get(infocode, "see AMap's infocode table (lbs.amap.com, 错误码说明)")
        msg = f"AMap {path} refused the request: {info} (infocode {infocode}); {fix}"
        raise DownloadError(msg)


# ---------------------------------------------------------------------------- study areas in GCJ-02


def _to_gcj02(geometry: BaseGeometry) -> BaseGeometry:
    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = from_wgs84(coords[:, 0], coords[:, 1], "gcj02")
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, convert)


def gcj02_to_wgs84(geometry: BaseGeometry) -> BaseGeometry:
    """Convert a GCJ-02 geometry (e.g. an AMap district outline) to WGS-84.

    Parameters
    ----------
    geometry
        Any shapely geometry in GCJ-02 degrees.

    Returns
    -------
    shapely geometry
        The same geometry in WGS-84 (for cutting an OSM extract or scoring).
    """

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], "gcj02")
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, convert)


def area_from_bbox(bbox: Sequence[float]) -> BaseGeometry:
    """Turn a WGS-84 bbox (west, south, east, north) into the GCJ-02 polygon AMap is queried with.

    Parameters
    ----------
    bbox
        (west, south, east, north), degrees, WGS-84.

    Returns
    -------
    shapely.Polygon
        The box in GCJ-02 (its edges densified so the shifted outline stays exact).
    """
    west, south, east, north = (float(c) for c in bbox)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        msg = f"bbox {tuple(bbox)}: expected west,south,east,north in degrees with west<east and south<north"
        raise InputError(msg)
    outline = shapely.segmentize(box(west, south, east, north), max_segment_length=0.01)
    return _to_gcj02(outline)


def boundary_wgs84(path: str | Path, layer: str | None = None) -> BaseGeometry:
    """Read a boundary file (GeoJSON, GeoPackage, Shapefile) as one WGS-84 (multi)polygon.

    Parameters
    ----------
    path
        The file; its CRS is read from the file (a file without one is refused).
    layer
        GeoPackage layer.

    Returns
    -------
    shapely geometry
        The union of its polygons in WGS-84 (e.g. for `walkcircle.sources.extract.cut_extract`).
    """
    import geopandas as gpd

    from walkcircle.sources.osm import check_readable

    path = check_readable(path)
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        msg = f"{path}: cannot read the boundary ({first}); use GeoJSON, GeoPackage or a Shapefile with its .prj"
        raise InputError(msg) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        msg = f"{path}: the boundary file has no coordinate system (.prj missing?); save it with one (e.g. EPSG:4326)"
        raise InputError(msg)
    polygons = frame.to_crs("EPSG:4326").geometry
    polygons = polygons[polygons.notna() & polygons.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        msg = f"{path}: no polygon in the boundary file; it must hold the study area's outline"
        raise InputError(msg)
    return shapely.union_all(polygons.to_numpy())


def area_from_boundary(path: str | Path, layer: str | None = None) -> BaseGeometry:
    """Read a boundary file as the GCJ-02 (multi)polygon AMap is queried with.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or Shapefile with a CRS.
    layer
        GeoPackage layer.

    Returns
    -------
    shapely geometry
        `boundary_wgs84` converted to GCJ-02.
    """
    return _to_gcj02(boundary_wgs84(path, layer))


def parse_polyline(polyline: str) -> BaseGeometry:
    """Turn AMap's district ``polyline`` (``"lon,lat;lon,lat|lon,lat;..."``) into a (multi)polygon.

    Parameters
    ----------
    polyline
        Parts separated by ``|``, points by ``;``.

    Returns
    -------
    shapely geometry
        The outline (GCJ-02, as AMap gives it).
    """
    parts = []
    for part in polyline.split("|"):
        points = [tuple(float(v) for v in p.split(",")) for p in part.split(";") if p.strip()]
        if len(points) >= 3:
            parts.append(shapely.make_valid(Polygon(points)))
    if not parts:
        msg = "AMap district outline is empty"
        raise DownloadError(msg)
    return shapely.union_all(parts)


def area_from_place(place: str, client: AmapClient) -> BaseGeometry:
    """Look up a district by name or adcode with AMap's district service (``extensions=all``).

    Parameters
    ----------
    place
        E.g. ``淇滨区`` or its adcode ``410611``.
    client
        The AMap client.

    Returns
    -------
    shapely geometry
        The district outline in GCJ-02.
    """
    answer = client.get(
        "/v3/config/district", {"keywords": place, "subdistrict": 0, "extensions": "all", "output": "JSON"}
    )
    districts = answer.get("districts") or []
    if not districts:
        msg = f"place {place!r}: AMap's district search knows no such district; check the name (e.g. 淇滨区) or pass --bbox/--boundary"
        raise InputError(msg)
    if len(districts) > 1:
        found = ", ".join(f"{d.get('name')} {d.get('adcode')}" for d in districts[:6])
        msg = f"place {place!r} matches {len(districts)} districts ({found}); pass the adcode as --place"
        raise InputError(msg)
    polyline = districts[0].get("polyline") or ""
    if not polyline:
        msg = (
            f"place {place!r}: AMap gave no outline for {districts[0].get('name')}; pass --bbox or --boundary"
        )
        raise InputError(msg)
    return parse_polyline(polyline)


# ---------------------------------------------------------------------------- POIs


def amap_types(profile: Profile, categories: Iterable[str] | None = None) -> list[str]:
    """List the six-digit AMap type codes a profile's categories name (prefixes padded with zeros).

    Parameters
    ----------
    profile
        The profile; each category's ``amap`` prefixes (``"0602"``) are used.
    categories
        Only these category ids (default: all).

    Returns
    -------
    list of str
        Sorted, unique codes such as ``"060200"``; a prefix covered by a shorter one is left out.
    """
    wanted = set(categories) if categories is not None else None
    prefixes = {
        p for c in profile.categories if wanted is None or c.id in wanted for p in c.amap
    }  # fmt: skip
    kept = sorted(p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes))
    return [p.ljust(6, "0")[:6] if len(p) < 6 else p for p in kept]


def _cell_polygon_param(cell: BaseGeometry) -> str:
    west, south, east, north = cell.bounds
    return f"{west:.6f},{north:.6f}|{east:.6f},{south:.6f}"  # upper-left, lower-right


def _cell_size_m(cell: BaseGeometry) -> float:
    west, south, east, north = cell.bounds
    lat = (south + north) / 2
    return min((east - west) * 111_320.0 * np.cos(np.radians(lat)), (north - south) * 110_950.0)


def _quarters(cell: BaseGeometry) -> list[BaseGeometry]:
    west, south, east, north = cell.bounds
    mx, my = (west + east) / 2, (south + north) / 2
    return [
        box(west, south, mx, my),
        box(mx, south, east, my),
        box(west, my, mx, north),
        box(mx, my, east, north),
    ]


@dataclass
class PoiFetch:
    """POIs fetched for an area, with what happened on the way.

    Attributes
    ----------
    table
        One row per POI (columns `POI_COLUMNS`, ``location`` in GCJ-02), inside the area.
    queries
        Polygon queries (cells) run.
    pages
        Pages read (from AMap or the cache).
    splits
        Cells split into four because they reached the result cap.
    duplicates
        POIs seen again in another cell or page (kept once).
    outside_area
        POIs inside a query rectangle but outside the area polygon (left out).
    incomplete_cells
        Cells still at the cap at the smallest cell size (may miss POIs).
    """

    table: pd.DataFrame
    queries: int = 0
    pages: int = 0
    splits: int = 0
    duplicates: int = 0
    outside_area: int = 0
    incomplete_cells: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """Return the counts as a dict (for summary.json and the CLI).

        Returns
        -------
        dict
            Counts by name.
        """
        return {
            "pois": len(self.table),
            "queries": self.queries,
            "pages": self.pages,
            "splits": self.splits,
            "duplicates": self.duplicates,
            "outside_area": self.outside_area,
            "incomplete_cells": self.incomplete_cells,
        }


def _query_cell(
    client: AmapClient,
    cell: BaseGeometry,
    types: str,
    cap: int,
    found: dict[str, dict[str, str]],
    fetch: PoiFetch,
) -> bool:
    """Page through one cell's POIs into `found`; return True if the cap was reached."""
    fetch.queries += 1
    params = {"polygon": _cell_polygon_param(cell), "types": types, "page_size": AMAP_PAGE_SIZE}
    max_pages = min(AMAP_MAX_PAGES, max(1, -(-cap // AMAP_PAGE_SIZE)))
    for page in range(1, max_pages + 1):
        answer = client.get("/v5/place/polygon", {**params, "page_num": page})
        fetch.pages += 1
        pois = answer.get("pois") or []
        for poi in pois:
            poi_id = str(poi.get("id", ""))
            if poi_id in found:
                fetch.duplicates += 1
            else:
                found[poi_id] = {c: _text(poi.get(c)) for c in POI_COLUMNS}
        if len(pois) < AMAP_PAGE_SIZE:
            return False
        if page * AMAP_PAGE_SIZE >= cap:
            return True
    return True


def _text(value: Any) -> str:
    # AMap writes an empty list for a missing text field
    if value is None or isinstance(value, list | dict):
        return ""
    return str(value)


def fetch_pois(
    area: BaseGeometry,
    types: Sequence[str],
    client: AmapClient,
    *,
    cap: int = DEFAULT_AMAP_RESULT_CAP,
    min_cell_m: float = DEFAULT_AMAP_MIN_CELL_M,
) -> PoiFetch:
    """Fetch every POI of `types` inside a GCJ-02 area, splitting cells that reach the cap.

    Parameters
    ----------
    area
        The study area in GCJ-02 (`area_from_bbox`, `area_from_boundary`, `area_from_place`).
    types
        AMap type codes (`amap_types`).
    client
        The AMap client.
    cap
        Results one query is trusted to return; a cell whose pages reach it is split in four.
    min_cell_m
        Smallest cell side; a cell that small still at the cap is counted as incomplete.

    Returns
    -------
    PoiFetch
        The POI table (inside the area, unique ids) and the counts.
    """
    if not types:
        msg = "the profile names no AMap type codes (categories' 'amap' prefixes); nothing to fetch"
        raise InputError(msg)
    if cap < AMAP_PAGE_SIZE:
        msg = f"result cap {cap}: must be at least one page ({AMAP_PAGE_SIZE})"
        raise InputError(msg)
    types_param = "|".join(types)
    found: dict[str, dict[str, str]] = {}
    fetch = PoiFetch(table=pd.DataFrame(columns=list(POI_COLUMNS)))
    shapely.prepare(area)
    queue = [box(*area.bounds)]
    while queue:
        cell = queue.pop()
        if not area.intersects(cell):
            continue
        if not _query_cell(client, cell, types_param, cap, found, fetch):
            continue
        if _cell_size_m(cell) / 2 < min_cell_m:
            fetch.incomplete_cells += 1
            continue
        fetch.splits += 1
        queue.extend(_quarters(cell))
    if fetch.incomplete_cells:
        fetch.warnings.append(
            f"{fetch.incomplete_cells} cells of about {min_cell_m:g} m still reached AMap's cap of {cap}: they may miss POIs"
        )
    table = pd.DataFrame(list(found.values()), columns=list(POI_COLUMNS))
    fetch.table, fetch.outside_area = _inside(table, area)
    if fetch.outside_area:
        fetch.warnings.append(
            f"{fetch.outside_area} POIs in the query rectangles lie outside the area and were left out"
        )
    return fetch


def _inside(table: pd.DataFrame, area: BaseGeometry) -> tuple[pd.DataFrame, int]:
    if table.empty:
        return table, 0
    parts = table["location"].str.split(",", n=1, expand=True).reindex(columns=[0, 1])
    lon = pd.to_numeric(parts[0], errors="coerce").to_numpy(np.float64)
    lat = pd.to_numeric(parts[1], errors="coerce").to_numpy(np.float64)
    keep = np.isfinite(lon) & np.isfinite(lat)
    keep[keep] = shapely.contains_xy(area, lon[keep], lat[keep]) | shapely.intersects_xy(
        area.boundary, lon[keep], lat[keep]
    )
    kept = table.loc[keep].sort_values("id", kind="stable").reset_index(drop=True)
    return kept, int((~keep).sum())


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV (with BOM, so Excel shows the Chinese text), atomically.

    Parameters
    ----------
    table
        The table.
    path
        Output CSV.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    table.to_csv(tmp, index=False, encoding="utf-8-sig")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------- geocoding


GEOCODE_COLUMNS = ("lon", "lat", "level", "formatted_address", "adcode", "geocode_status")
"""Columns geocoding adds: lon/lat in WGS-84, AMap's match level, and ``ok`` or ``not_found``."""


def geocode_names(names: Sequence[str], city: str | None, client: AmapClient) -> pd.DataFrame:
    """Geocode community names (or addresses) with AMap's v3 geocoder.

    Parameters
    ----------
    names
        One name or address per row; empty names are not sent (status ``empty``).
    city
        City to search in (name, citycode or adcode), e.g. ``鹤壁``.
    client
        The AMap client.

    Returns
    -------
    pandas.DataFrame
        One row per input row, in order, with `GEOCODE_COLUMNS`: ``lon``/``lat`` in WGS-84
        (converted from AMap's GCJ-02), ``level``, ``formatted_address``, ``adcode`` and
        ``geocode_status`` (``ok``, ``not_found`` or ``empty``). Unmatched rows keep empty
        coordinates; none is dropped.
    """
    rows = []
    for name in names:
        text = str(name).strip()
        if not text:
            rows.append({"geocode_status": "empty"})
            continue
        params = {"address": text, **({"city": city} if city else {})}
        answer = client.get("/v3/geocode/geo", params)
        geocodes = answer.get("geocodes") or []
        if not geocodes or not _text(geocodes[0].get("location")):
            rows.append({"geocode_status": "not_found"})
            continue
        first = geocodes[0]
        gcj_lon, gcj_lat = (float(v) for v in str(first["location"]).split(","))
        lon, lat = to_wgs84(np.array([gcj_lon]), np.array([gcj_lat]), "gcj02")
        rows.append(
            {
                "lon": round(float(lon[0]), 7),
                "lat": round(float(lat[0]), 7),
                "level": _text(first.get("level")),
                "formatted_address": _text(first.get("formatted_address")),
                "adcode": _text(first.get("adcode")),
                "geocode_status": "ok",
            }
        )
    return pd.DataFrame(rows, columns=list(GEOCODE_COLUMNS))


def geocode_table(
    path: str | Path, city: str | None, client: AmapClient, name_col: str | None = None
) -> pd.DataFrame:
    """Geocode a table of community names; the input columns are kept and `GEOCODE_COLUMNS` added.

    Parameters
    ----------
    path
        CSV (UTF-8 or GBK) or any table `walkcircle.sources.tables` reads.
    city
        City to search in.
    client
        The AMap client.
    name_col
        Column with the names (default: ``name``, ``名称``...).

    Returns
    -------
    pandas.DataFrame
        Every input row, matched or not.
    """
    from walkcircle.sources.tables import NAME_NAMES, _find_column, _read_table

    path = Path(path)
    table = pd.DataFrame(_read_table(path, None)).drop(columns=["geometry"], errors="ignore")
    column = _find_column(
        table.columns, name_col, (*NAME_NAMES, "community", "社区", "社区名称"), path, "names"
    )
    if column is None:
        msg = f"{path}: no name column (looked for name, 名称, community, 社区); name it with --name-col"
        raise InputError(msg)
    clash = [c for c in GEOCODE_COLUMNS if c in table.columns]
    if clash:
        table = table.drop(columns=clash)
    coded = geocode_names(table[column].astype(str).tolist(), city, client)
    return pd.concat([table.reset_index(drop=True), coded], axis=1)


__all__ = [
    "GEOCODE_COLUMNS",
    "POI_COLUMNS",
    "AmapClient",
    "PoiFetch",
    "amap_types",
    "area_from_bbox",
    "area_from_boundary",
    "area_from_place",
    "boundary_wgs84",
    "fetch_pois",
    "gcj02_to_wgs84",
    "geocode_names",
    "geocode_table",
    "mask_key",
    "parse_polyline",
    "resolve_key",
    "write_table",
]


def area_for(
    client: AmapClient,
    bbox: Sequence[float] | None = None,
    boundary: str | Path | None = None,
    place: str | None = None,
) -> BaseGeometry:
    """Return the GCJ-02 query area from exactly one of a WGS-84 bbox, a boundary file or a place name.

    Parameters
    ----------
    client
        The client (a place is looked up with AMap's district service).
    bbox
        West, south, east, north in WGS-84 degrees.
    boundary
        A polygon file (GeoJSON, GeoPackage, Shapefile).
    place
        A district name or adcode.

    Returns
    -------
    shapely geometry
        The area in GCJ-02, as AMap queries take it.

    Raises
    ------
    UsageError
        Unless exactly one area is given.
    """
    from walkcircle.errors import UsageError

    if sum(v is not None for v in (bbox, boundary, place)) != 1:
        msg = "give exactly one of --bbox, --boundary or --place"
        raise UsageError(msg)
    if bbox is not None:
        return area_from_bbox(bbox)
    return area_from_boundary(boundary) if boundary is not None else area_from_place(str(place), client)
