"""Walking networks from OpenStreetMap: Overpass (via osmnx), OSM XML/PBF files, GraphML.

All routes end in the same builder (`walkcircle.network.build_network`) and apply the same
walk rules (`WalkRules`), so one area gives the same network whichever way it was read.

Files (``.osm``, ``.osm.xml``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) are read by
pyosmium (libosmium) straight into arrays; PBF never goes through XML. Overpass downloads go
through osmnx, whose HTTP cache lives under ``data/raw/overpass`` so that a second run makes
no request; the built network is cached there too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from walkcircle._arrays import unique_values
from walkcircle.defaults import DEFAULT_CACHE_DIR, DEFAULT_NOMINATIM_URL, DEFAULT_OVERPASS_URL
from walkcircle.errors import OFFLINE_HINT, DownloadError, EmptyNetworkError, InputError, WalkcircleWarning
from walkcircle.geodesy import geodesic_lengths
from walkcircle.network import WalkNetwork, assemble_network, build_network
from walkcircle.sources.pbf import UNDEFINED_COORDINATE, TaggedWays, read_tagged_ways

if TYPE_CHECKING:
    import networkx as nx
    from shapely.geometry.base import BaseGeometry

OSM_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")
GRAPHML_SUFFIXES = (".graphml",)

# Tags a walk rule looks at; anything else on a way is ignored.
WALK_TAG_KEYS = (
    "highway",
    "area",
    "access",
    "foot",
    "service",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "name",
)


# ---------------------------------------------------------------------------- walk rules


@dataclass(frozen=True)
class WalkRules:
    """Which OSM ways pedestrians may use, following osmnx's ``walk`` network type.

    A way is walkable when it has a ``highway`` tag not in `excluded_highways`, is not an
    area (``area=yes``), is not ``foot=no``, is not private (``access=private|no`` or
    ``service=private``) unless `include_private` is set or ``foot`` explicitly allows it,
    and is not a road whose sidewalks are mapped as separate ways (``sidewalk=separate``:
    those sidewalks are walkable ways of their own). Cycleways are walkable only with
    ``foot=yes|designated|permissive``. Every walkable way is walkable in both directions.

    Attributes
    ----------
    include_private
        Keep ``access=private`` ways (gated compounds); off by default.
    excluded_highways
        ``highway`` values never walkable.
    """

    include_private: bool = False
    excluded_highways: frozenset[str] = field(
        default_factory=lambda: frozenset(
            {
                "abandoned",
                "bus_guideway",
                "construction",
                "disused",
                "motorway",
                "motorway_link",
                "no",
                "planned",
                "platform",
                "proposed",
                "raceway",
                "razed",
                "rest_area",
                "services",
            }
        )
    )

    def is_walkable(self, tags: Mapping[str, str], foot_known: bool = True) -> bool:
        """Return True if a way with these tags can be walked.

        Parameters
        ----------
        tags
            The way's OSM tags.
        foot_known
            False when the source dropped the ``foot`` tag (osmnx graphs keep only some
            tags): cycleways are then given the benefit of the doubt, since whoever built
            the graph kept them.

        Returns
        -------
        bool
            Whether the way belongs to the walking network.
        """
        highway = tags.get("highway")
        if not highway or highway in self.excluded_highways:
            return False
        if tags.get("area") == "yes":
            return False
        foot = tags.get("foot", "")
        if foot == "no":
            return False
        foot_allowed = foot in {"yes", "designated", "permissive"}
        if highway == "cycleway" and not foot_allowed and foot_known:
            return False
        private = tags.get("access") in {"private", "no"} or tags.get("service") == "private"
        if private and not (self.include_private or foot_allowed):
            return False
        sidewalk_keys = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
        return not any(tags.get(k) == "separate" for k in sidewalk_keys)

    def key(self) -> str:
        """Return a short stable hash of the rules (for cache names).

        Returns
        -------
        str
            Eight hex digits.
        """
        payload = json.dumps(
            {"include_private": self.include_private, "excluded": sorted(self.excluded_highways)}
        )
        return hashlib.sha1(payload.encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------- way arrays


_UNDEFINED_COORDINATE = UNDEFINED_COORDINATE  # libosmium's fixed-point value for "no location"


def _walkable_network(ways: TaggedWays, rules: WalkRules, source: str) -> WalkNetwork:
    """Build the network of the walkable ones among a file's ``highway=*`` ways.

    Node positions are libosmium fixed-point integers (1e-7 degrees); missing nodes carry
    `_UNDEFINED_COORDINATE`.
    """
    walkable = np.fromiter((rules.is_walkable(tags) for tags in ways.tags), bool, len(ways.tags))
    if not walkable.any():
        msg = (
            f"{source}: no walkable ways ({len(ways.tags)} highway=* ways, none walkable); "
            "is the extract over the study area?"
        )
        raise EmptyNetworkError(msg)
    kept_ref = walkable[ways.ref_way]
    ref_way = (np.cumsum(walkable) - 1)[ways.ref_way[kept_ref]]
    ref_ids, ref_x, ref_y = ways.ref_id[kept_ref], ways.ref_x[kept_ref], ways.ref_y[kept_ref]
    tags = [t for t, w in zip(ways.tags, walkable.tolist(), strict=True) if w]
    valid = (ref_x != _UNDEFINED_COORDINATE) & (ref_y != _UNDEFINED_COORDINATE)
    check_coordinates(ref_ids[valid], ref_x[valid] * 1e-7, ref_y[valid] * 1e-7, source)
    ref_lon = np.where(valid, ref_x * 1e-7, np.nan)
    ref_lat = np.where(valid, ref_y * 1e-7, np.nan)
    node_id, first, inverse = np.unique(ref_ids, return_index=True, return_inverse=True)
    # a segment joins consecutive refs of one way whose nodes both have a location;
    # a node missing from an extract splits its way rather than being bridged
    same_way = ref_way[1:] == ref_way[:-1]
    both_valid = valid[1:] & valid[:-1]
    seg = np.flatnonzero(same_way & both_valid)
    _report_missing_nodes(ref_ids, ref_way, valid, seg.size, len(tags), source)
    return build_network(
        node_id=node_id,
        node_lon=ref_lon[first],
        node_lat=ref_lat[first],
        seg_u=inverse[seg],
        seg_v=inverse[seg + 1],
        seg_way=ref_way[seg],
        way_id=ways.way_id[walkable],
        way_highway=np.asarray([t.get("highway", "") for t in tags], dtype=str),
        way_name=np.asarray([t.get("name", "") for t in tags], dtype=str),
        source=source,
    )


def _highway_ways_osmium(path: Path) -> TaggedWays:
    """Read the file's ``highway=*`` ways with their node locations by pyosmium (any OSM format)."""
    import osmium

    way_ids: list[int] = []
    tags: list[dict[str, str]] = []
    ref_way: list[int] = []
    refs: list[tuple[int, int, int]] = []
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    for way in processor:
        get = way.tags.get
        nodes = [(n.ref, n.x, n.y) for n in way.nodes]
        ref_way.extend([len(way_ids)] * len(nodes))
        refs.extend(nodes)
        way_ids.append(way.id)
        tags.append({k: v for k in WALK_TAG_KEYS if (v := get(k)) is not None})
    ref = np.asarray(refs, np.int64).reshape(-1, 3)
    return TaggedWays(
        np.asarray(way_ids, np.int64), tags, np.asarray(ref_way, np.int64), ref[:, 0], ref[:, 1], ref[:, 2]
    )


def check_coordinates(
    element_id: np.ndarray, lon: np.ndarray, lat: np.ndarray, source: str, element: str = "node"
) -> None:
    """Refuse coordinates outside WGS-84's range, naming the first bad element.

    Parameters
    ----------
    element_id
        OSM ids (or graph node ids) of the points.
    lon, lat
        Their coordinates, degrees.
    source
        The file, for the message.
    element
        What the ids are (``node``).

    Raises
    ------
    InputError
        On the first point with latitude outside -90..90 or longitude outside -180..180
        (or not a number): the file is damaged or not in WGS-84.
    """
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    bad_lat = ~(np.abs(lat) <= 90.0)
    bad_lon = ~(np.abs(lon) <= 180.0)
    bad = np.flatnonzero(bad_lat | bad_lon)
    if bad.size == 0:
        return
    i = int(bad[0])
    what, value, limit = ("latitude", lat[i], 90) if bad_lat[i] else ("longitude", lon[i], 180)
    more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
    msg = (
        f"{source}: {element} {element_id[i]} has {what} {value:g} outside -{limit}..{limit}{more}; "
        "the file is damaged or not WGS-84"
    )
    raise InputError(msg)


def _report_missing_nodes(
    ref_ids: np.ndarray, ref_way: np.ndarray, valid: np.ndarray, n_segments: int, n_ways: int, source: str
) -> None:
    """Warn when walkable ways lose nodes missing from the extract; fail when nothing is left."""
    if valid.all():
        return
    ways_hit = int(unique_values(ref_way[~valid]).size)
    nodes_missing = int(unique_values(ref_ids[~valid]).size)
    if n_segments == 0:
        msg = (
            f"{source}: the nodes of all {n_ways} walkable ways are missing from the extract "
            f"({nodes_missing} node ids referenced but not in the file); cut the extract again with complete "
            "ways (e.g. osmium extract --strategy complete_ways) or download it from Geofabrik"
        )
        raise EmptyNetworkError(msg)
    warnings.warn(
        f"{source}: {ways_hit} of {n_ways} walkable ways miss nodes that are not in the extract "
        f"({nodes_missing} nodes missing); those ways are cut where nodes are missing, so the network "
        "may be smaller than the area: cut the extract with complete ways",
        WalkcircleWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------------- files


def osm_file_kind(path: str | Path) -> str:
    """Return ``"osm"`` for OSM XML/PBF files and ``"graphml"`` for GraphML, by suffix.

    Parameters
    ----------
    path
        File name.

    Returns
    -------
    str
        The kind of file.

    Raises
    ------
    InputError
        For any other suffix.
    """
    name = Path(path).name.lower()
    if name.endswith(GRAPHML_SUFFIXES):
        return "graphml"
    if name.endswith(OSM_SUFFIXES):
        return "osm"
    msg = (
        f"{path}: unknown network file type; use an OpenStreetMap file "
        f"({', '.join(OSM_SUFFIXES)}) or an osmnx .graphml"
    )
    raise InputError(msg)


def check_readable(path: str | Path) -> Path:
    """Fail with one clear line if a file is missing, a folder or empty.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    pathlib.Path
        The path, as a Path.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: file not found"
        raise InputError(msg)
    if path.is_dir():
        msg = f"{path}: is a folder, expected a file"
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"{path}: file is empty"
        raise InputError(msg)
    return path


def read_network(path: str | Path, rules: WalkRules | None = None) -> WalkNetwork:
    """Read a walking network from an OSM file or an osmnx GraphML file.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.xml``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf`` or ``.graphml``.
    rules
        Walk rules; `WalkRules()` by default.

    Returns
    -------
    WalkNetwork
        The network.
    """
    if osm_file_kind(path) == "graphml":
        return read_graphml(path, rules)
    return read_osm(path, rules)


def read_osm(path: str | Path, rules: WalkRules | None = None) -> WalkNetwork:
    """Read the walking network from an OSM XML or PBF file with pyosmium.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.xml``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``.
    rules
        Walk rules; `WalkRules()` by default.

    Returns
    -------
    WalkNetwork
        The network. Ways that run past the extract are cut where their nodes are missing.

    Raises
    ------
    InputError
        If the file is missing, empty, truncated or not OSM data.
    EmptyNetworkError
        If it holds no walkable way.
    """
    path = check_readable(path)
    try:
        ways = read_tagged_ways(path, "highway", WALK_TAG_KEYS)  # PBF: whole arrays, no per-node objects
        if ways is None:  # XML, or a PBF using what only pyosmium reads
            ways = _highway_ways_osmium(path)
    except RuntimeError as exc:
        raise InputError(f"{path}: {_describe_osmium_error(exc)}") from exc
    return _walkable_network(ways, rules or WalkRules(), str(path))


def _describe_osmium_error(exc: RuntimeError) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    lowered = text.lower()
    if "unknown top-level element" in lowered or "syntax error" in lowered or "invalid token" in lowered:
        return f"not an OpenStreetMap file ({text})"
    if "unclosed token" in lowered or "no element found" in lowered or "eof" in lowered:
        return f"file is truncated or corrupt ({text}); download it again"
    if "bzip2" in lowered or "gzip" in lowered:
        return f"compressed file is truncated or corrupt ({text}); download it again"
    return f"cannot read OSM data ({text})"


# ---------------------------------------------------------------------------- osmnx graphs


def _walkable_edges(graph: nx.MultiDiGraph, rules: WalkRules) -> list[tuple[int, int, Any, dict[str, Any]]]:
    """Return the graph's walkable edges, each two-way edge once (its reverse twin dropped)."""
    seen: set[tuple[Any, Any, tuple[Any, ...]]] = set()
    rows: list[tuple[int, int, Any, dict[str, Any]]] = []
    foot_known = any("foot" in data for _, _, data in graph.edges(data=True))
    for u, v, data in graph.edges(data=True):
        if "highway" in data and not _walkable_any(rules, data, foot_known):
            continue
        geometry = data.get("geometry")
        if geometry is None:
            shape: tuple[Any, ...] = (str(_first(data.get("osmid"))),)
        else:
            coords = [(round(x, 7), round(y, 7)) for x, y in geometry.coords]
            shape = tuple(min(coords, coords[::-1]))
        key = (min(u, v), max(u, v), shape)
        if key not in seen:
            seen.add(key)
            rows.append((u, v, geometry, data))
    return rows


def _network_from_segments(
    rows: list[tuple[int, int, Any, dict[str, Any]]],
    node_id: np.ndarray,
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    position: dict[Any, int],
    source: str,
) -> WalkNetwork:
    """Rebuild an unsimplified graph (one edge per way segment) through the chain builder."""
    way_ids: dict[int, int] = {}
    highways: list[str] = []
    names: list[str] = []
    seg_u, seg_v, seg_way = [], [], []
    for u, v, _, data in rows:
        osmid = int(_first(data.get("osmid", -1)))
        if osmid not in way_ids:
            way_ids[osmid] = len(way_ids)
            highways.append(str(_first(data.get("highway", ""))))
            names.append(str(_first(data.get("name", "")) or ""))
        seg_u.append(position[u])
        seg_v.append(position[v])
        seg_way.append(way_ids[osmid])
    return build_network(
        node_id=node_id, node_lon=node_lon, node_lat=node_lat, seg_u=np.asarray(seg_u, np.int64),
        seg_v=np.asarray(seg_v, np.int64), seg_way=np.asarray(seg_way, np.int64),
        way_id=np.asarray(list(way_ids), np.int64), way_highway=np.asarray(highways, dtype=str),
        way_name=np.asarray(names, dtype=str), source=source,
    )  # fmt: skip


def network_from_osmnx(
    graph: nx.MultiDiGraph, rules: WalkRules | None = None, source: str = "osmnx graph"
) -> WalkNetwork:
    """Convert an osmnx graph into a `WalkNetwork`.

    An unsimplified graph (one edge per OSM way segment, as osmnx returns with
    ``simplify=False``) is rebuilt through the same chain builder as files are, so a
    download and an extract of one area give the same network. A simplified graph keeps
    osmnx's edges as they are, with geodesic lengths recomputed along their geometry.

    Parameters
    ----------
    graph
        An osmnx MultiDiGraph in WGS-84 (node attributes ``x``, ``y``).
    rules
        Walk rules applied to edges that carry a ``highway`` tag.
    source
        Description of the input.

    Returns
    -------
    WalkNetwork
        The network.
    """
    rules = rules or WalkRules()
    crs = str(graph.graph.get("crs", "epsg:4326")).lower()
    if crs not in {"epsg:4326", "wgs84", "+proj=longlat +datum=wgs84 +no_defs"}:
        msg = f"{source}: graph is projected ({crs}); pass an unprojected osmnx graph (EPSG:4326)"
        raise InputError(msg)
    nodes = list(graph.nodes)
    if not nodes:
        msg = f"{source}: graph has no nodes"
        raise EmptyNetworkError(msg)
    node_id = np.asarray(nodes, dtype=np.int64)
    position = {n: i for i, n in enumerate(nodes)}
    node_lon = np.asarray([graph.nodes[n]["x"] for n in nodes], np.float64)
    node_lat = np.asarray([graph.nodes[n]["y"] for n in nodes], np.float64)
    check_coordinates(node_id, node_lon, node_lat, source)

    rows = _walkable_edges(graph, rules)
    if not rows:
        msg = f"{source}: no walkable edges"
        raise EmptyNetworkError(msg)

    if not any(geometry is not None for _, _, geometry, _ in rows):  # unsimplified: rebuild the chains
        return _network_from_segments(rows, node_id, node_lon, node_lat, position, source)

    edge_u, edge_v, lengths, offsets = [], [], [], [0]
    geom_lon: list[float] = []
    geom_lat: list[float] = []
    way_id, highway, name = [], [], []
    for u, v, geometry, data in rows:
        if geometry is None:
            xs = [node_lon[position[u]], node_lon[position[v]]]
            ys = [node_lat[position[u]], node_lat[position[v]]]
        else:
            xs, ys = (list(c) for c in geometry.xy)
            # osmnx stores geometry from u to v; make sure of it
            if (xs[0] - node_lon[position[u]]) ** 2 + (ys[0] - node_lat[position[u]]) ** 2 > (
                xs[-1] - node_lon[position[u]]
            ) ** 2 + (ys[-1] - node_lat[position[u]]) ** 2:
                xs, ys = xs[::-1], ys[::-1]
        edge_u.append(position[u])
        edge_v.append(position[v])
        lengths.append(float(geodesic_lengths(xs[:-1], ys[:-1], xs[1:], ys[1:]).sum()))
        geom_lon.extend(xs)
        geom_lat.extend(ys)
        offsets.append(len(geom_lon))
        way_id.append(int(_first(data.get("osmid", -1))))
        highway.append(str(_first(data.get("highway", ""))))
        name.append(str(_first(data.get("name", "")) or ""))
    vertex_way = np.repeat(np.asarray(way_id, np.int64), np.diff(np.asarray(offsets, np.int64)))
    check_coordinates(
        vertex_way, np.asarray(geom_lon), np.asarray(geom_lat), source, element="a vertex of way"
    )
    return assemble_network(
        node_id=node_id,
        node_lon=node_lon,
        node_lat=node_lat,
        edge_u=np.asarray(edge_u, np.int64),
        edge_v=np.asarray(edge_v, np.int64),
        edge_length_m=np.asarray(lengths),
        vertex_nodes=None,
        geom_offsets=np.asarray(offsets, np.int64),
        edge_way_id=np.asarray(way_id, np.int64),
        edge_highway=np.asarray(highway, dtype=str),
        edge_name=np.asarray(name, dtype=str),
        source=source,
        geom_lon=np.asarray(geom_lon),
        geom_lat=np.asarray(geom_lat),
    )


def _first(value: Any) -> Any:
    """Osmnx merges tags of simplified edges into lists; take the first."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _walkable_any(rules: WalkRules, data: Mapping[str, Any], foot_known: bool) -> bool:
    """Tell whether a merged osmnx edge is walkable: any of its highway values is."""
    highways = data.get("highway")
    values = highways if isinstance(highways, list) else [highways]
    tags = {k: _first(data.get(k)) for k in WALK_TAG_KEYS if data.get(k) is not None}
    return any(rules.is_walkable({**tags, "highway": str(h)}, foot_known) for h in values)


def read_graphml(path: str | Path, rules: WalkRules | None = None) -> WalkNetwork:
    """Read an osmnx GraphML file.

    Parameters
    ----------
    path
        A file written by ``osmnx.save_graphml``.
    rules
        Walk rules applied to the edges' ``highway`` tags.

    Returns
    -------
    WalkNetwork
        The network.
    """
    import osmnx as ox

    path = check_readable(path)
    try:
        graph = ox.load_graphml(path)
    except Exception as exc:  # osmnx/networkx raise many types for a bad file
        msg = f"{path}: not an osmnx GraphML file ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        raise InputError(msg) from exc
    return network_from_osmnx(graph, rules, source=str(path))


# ---------------------------------------------------------------------------- Overpass


@dataclass(frozen=True)
class OverpassConfig:
    """Where and how to download from Overpass and Nominatim.

    Attributes
    ----------
    overpass_url
        Overpass API base URL (``.../api``); mirrors such as
        ``https://overpass.kumi.systems/api`` work too.
    nominatim_url
        Nominatim base URL, for place names.
    timeout_s
        Per-request timeout, seconds (also sent to Overpass as the query timeout).
    cache_dir
        Folder for the HTTP cache and built networks (``data/raw`` by default).
    rate_limit
        Ask Overpass's ``/status`` for a free slot before querying (polite on public servers).
    """

    overpass_url: str = DEFAULT_OVERPASS_URL
    nominatim_url: str = DEFAULT_NOMINATIM_URL
    timeout_s: float = 180.0
    cache_dir: Path = DEFAULT_CACHE_DIR
    rate_limit: bool = True


class _HttpStatusError(DownloadError):
    pass


def _raise_for_status(response: Any, *args: Any, **kwargs: Any) -> Any:
    """Fail at once on 429 and 5xx (a requests hook) instead of osmnx's retry loop."""
    status = int(response.status_code)
    if status == 429 or status >= 500:
        host = urlparse(response.url).netloc
        reason = "too many requests (rate limited)" if status == 429 else "server error"
        msg = f"{host} answered HTTP {status} {reason}; try again later, use another endpoint (--overpass-url), or {OFFLINE_HINT}"
        raise _HttpStatusError(msg)
    return response


@contextlib.contextmanager
def osmnx_settings(config: OverpassConfig) -> Iterator[None]:
    """Apply `config` to osmnx's global settings for the duration of a block.

    Parameters
    ----------
    config
        Endpoints, timeout and cache folder.

    Yields
    ------
    None
        Settings are restored on exit.
    """
    import osmnx as ox

    wanted: dict[str, Any] = {
        "overpass_url": config.overpass_url.rstrip("/"),
        "nominatim_url": config.nominatim_url,
        "requests_timeout": config.timeout_s,
        "cache_folder": str(Path(config.cache_dir) / "overpass"),
        "use_cache": True,
        "overpass_rate_limit": config.rate_limit,
        "requests_kwargs": {"hooks": {"response": [_raise_for_status]}},
        "useful_tags_way": sorted(set(ox.settings.useful_tags_way) | set(WALK_TAG_KEYS)),
        "log_console": False,
    }
    saved = {k: getattr(ox.settings, k) for k in wanted}
    for k, v in wanted.items():
        setattr(ox.settings, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)


def check_reachable(url: str, timeout_s: float = 10.0) -> None:
    """Fail fast with a clear line when a host cannot be reached (DNS or TCP).

    Parameters
    ----------
    url
        Any URL on the host.
    timeout_s
        Connect timeout.

    Raises
    ------
    DownloadError
        If the name does not resolve or the port does not accept a connection.
    """
    import requests

    if requests.utils.get_environ_proxies(url):
        return  # behind a proxy only requests knows the way; let it report failures
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "name does not resolve" if isinstance(exc, socket.gaierror) else exc.__class__.__name__
        msg = f"cannot reach {parsed.scheme}://{host}:{port} ({reason}); check the connection, or {OFFLINE_HINT}"
        raise DownloadError(msg) from exc


def _check_query(place: Any, bbox: Any, polygon: Any) -> None:
    """Refuse anything but exactly one of a place, a valid bbox or a polygon."""
    if sum(q is not None for q in (place, bbox, polygon)) != 1:
        msg = "give exactly one of place, bbox or polygon"
        raise InputError(msg)
    if bbox is not None:
        west, south, east, north = (float(c) for c in bbox)
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            msg = f"bbox {bbox}: expected west,south,east,north in degrees with west<east and south<north"
            raise InputError(msg)


def download_network(
    place: str | list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: BaseGeometry | None = None,
    *,
    config: OverpassConfig | None = None,
    rules: WalkRules | None = None,
) -> WalkNetwork:
    """Download the walking network of a place, a bounding box or a polygon from Overpass.

    Exactly one of `place`, `bbox`, `polygon` is given. The result is cached under
    ``config.cache_dir``: the same query a second time makes no request.

    Parameters
    ----------
    place
        A place name Nominatim resolves to a boundary, e.g. ``"淇滨区, 鹤壁市, 河南省, 中国"``,
        or a list of them (their union).
    bbox
        (west, south, east, north) in degrees.
    polygon
        A shapely (Multi)Polygon in WGS-84.
    config
        Endpoints, timeout, cache.
    rules
        Walk rules.

    Returns
    -------
    WalkNetwork
        The network.

    Raises
    ------
    DownloadError
        On timeouts, HTTP 429/5xx, unreachable hosts, or a place Nominatim cannot resolve.
    """
    import osmnx as ox
    import osmnx._errors as _osmnx_errors
    import requests

    config = config or OverpassConfig()
    rules = rules or WalkRules()
    _check_query(place, bbox, polygon)
    query = {"place": place, "bbox": bbox, "polygon": polygon.wkt if polygon is not None else None}
    cache_key = hashlib.sha1(
        json.dumps({**query, "rules": rules.key(), "overpass": config.overpass_url}, default=str).encode()
    ).hexdigest()[:16]
    cache_file = Path(config.cache_dir) / "networks" / f"{cache_key}.npz"
    if cache_file.exists():
        with contextlib.suppress(InputError):  # an old-format or damaged cache is downloaded again
            return WalkNetwork.load(cache_file)

    description = (
        f"place {place!r}" if place is not None else f"bbox {bbox}" if bbox is not None else "polygon"
    )
    with osmnx_settings(config):
        try:
            if place is not None:
                check_reachable(config.nominatim_url, min(config.timeout_s, 10.0))
                polygon = _geocode_place(place, config)
            check_reachable(config.overpass_url, min(config.timeout_s, 10.0))
            if bbox is not None:
                graph = ox.graph_from_bbox(
                    bbox,
                    custom_filter='["highway"]',
                    network_type="walk",
                    simplify=False,
                    retain_all=True,
                    truncate_by_edge=True,
                )
            else:
                graph = ox.graph_from_polygon(
                    polygon,
                    custom_filter='["highway"]',
                    network_type="walk",
                    simplify=False,
                    retain_all=True,
                    truncate_by_edge=True,
                )
        except DownloadError:
            raise
        except requests.exceptions.Timeout as exc:
            msg = f"Overpass timed out after {config.timeout_s:g} s for {description}; raise --timeout, try a smaller area or another endpoint, or {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
        except requests.exceptions.ConnectionError as exc:
            msg = f"cannot connect to {config.overpass_url} for {description}; {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
        except _osmnx_errors.InsufficientResponseError as exc:
            msg = f"Overpass returned no streets for {description}; check the area, or {OFFLINE_HINT}"
            raise EmptyNetworkError(msg) from exc
        except _osmnx_errors.ResponseStatusCodeError as exc:
            msg = f"Overpass refused the query for {description} ({str(exc).splitlines()[0][:160]}); {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
        except ValueError as exc:
            # osmnx raises a bare ValueError when no graph nodes fall inside the polygon
            msg = f"no walkable streets found for {description} ({str(exc).splitlines()[0][:160]})"
            raise EmptyNetworkError(msg) from exc
    network = network_from_osmnx(graph, rules, source=f"Overpass {config.overpass_url}: {description}")
    network.save(cache_file)
    return network


def _geocode_place(place: str | list[str], config: OverpassConfig) -> BaseGeometry:
    import osmnx as ox
    import osmnx._errors as _osmnx_errors

    try:
        gdf = ox.geocode_to_gdf(place)
    except _osmnx_errors.InsufficientResponseError as exc:
        msg = f"place {place!r} not found by Nominatim ({config.nominatim_url}); check the spelling, add the city and country, or pass --bbox"
        raise DownloadError(msg) from exc
    except TypeError as exc:
        msg = f"place {place!r} has no boundary polygon in OSM; pass --bbox instead"
        raise DownloadError(msg) from exc
    return gdf.union_all()
