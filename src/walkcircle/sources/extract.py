"""Cut a study area (plus a walking margin) out of a big OSM extract, in a streaming pass.

Country extracts are large (china-latest.osm.pbf is over 1 GB); reading all of it into Python
costs minutes and gigabytes. `cut_extract` streams the file with pyosmium and keeps only:

- every tagged way that touches the area grown by a walking margin (default 1.5 km, so homes at
  the edge keep their shortest walks): a node or a segment inside it, or a closed way around
  it; **whole**: all its nodes, also those beyond the margin;
- every tagged node inside the grown area (shops, bus stops and other facilities);
- every multipolygon relation (parks, sites, buildings) with such a way or node as a member,
  with all its member ways and nodes. Route and boundary relations are left out: they would
  pull far-away streets into the cut. A multipolygon whose outline lies wholly beyond the
  margin (a huge landuse around the whole area) is not kept.

It writes them to a small ``.osm.pbf`` (cached: the same cut a second time is not redone) that
`walkcircle.sources.osm.read_network`, the facility and the home readers read as any extract.

How memory stays with the area: untagged nodes never reach Python; libosmium keeps their
locations in its node-location index (about 8 bytes per node id of the file, the one cost
that follows the file) and hands each way to Python with its node locations. Ways are turned
into geometries in C++ (WKB) and tested against the grown area in vectorised batches; only
the ids of what is kept are tracked (libosmium's ``IdTracker``), and libosmium completes the
kept ways' and relations' members in further C++ passes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from walkcircle.defaults import DEFAULT_CACHE_DIR, DEFAULT_EXTRACT_LOCATION_STORE, DEFAULT_EXTRACT_MARGIN_M
from walkcircle.errors import InputError

AREA_RELATION_TYPES = frozenset({"multipolygon"})
"""Relations kept: areas (parks, sites, buildings). Routes and boundaries would pull in far-away ways."""

_BATCH = 20_000
"""Ways tested against the area at once."""


@dataclass(frozen=True)
class ExtractCut:
    """A study area cut from a big extract.

    Attributes
    ----------
    path
        The cut ``.osm.pbf``.
    area
        The study area (WGS-84), before the margin.
    grown
        The area grown by the margin: what decided which ways and nodes were kept.
    margin_m
        The margin, metres.
    ways, nodes, relations
        How many of each the cut file holds (nodes include every node of a kept way).
    ways_seen
        Ways in the source file (tagged ones; untagged ways are only kept as relation members).
    cached
        True when the cut was found in the cache and not redone.
    """

    path: Path
    area: BaseGeometry
    grown: BaseGeometry
    margin_m: float
    ways: int
    nodes: int
    relations: int
    ways_seen: int
    cached: bool = False

    def summary(self) -> dict[str, float | int | str | bool]:
        """Return the counts for summary.json.

        Returns
        -------
        dict
            ``file``, ``margin_m``, ``ways``, ``nodes``, ``relations``, ``ways_seen``, ``cached``.
        """
        return {
            "file": str(self.path),
            "margin_m": self.margin_m,
            "ways": self.ways,
            "nodes": self.nodes,
            "relations": self.relations,
            "ways_seen": self.ways_seen,
            "cached": self.cached,
        }


def grow_area(area: BaseGeometry, margin_m: float) -> BaseGeometry:
    """Grow a WGS-84 area by a margin in metres (buffered in its local UTM zone).

    Parameters
    ----------
    area
        Polygon or box, WGS-84 degrees.
    margin_m
        Metres; 0 keeps the area.

    Returns
    -------
    shapely geometry
        The grown area, WGS-84.
    """
    if margin_m < 0:
        msg = f"margin {margin_m} m: must be zero or positive"
        raise InputError(msg)
    if margin_m == 0:
        return area
    import geopandas as gpd

    series = gpd.GeoSeries([area], crs="EPSG:4326")
    utm = series.estimate_utm_crs()
    grown = series.to_crs(utm).buffer(margin_m, quad_segs=16).to_crs("EPSG:4326")
    return shapely.union_all([grown.iloc[0], area])


def study_area(bbox: Sequence[float] | None = None, polygon: BaseGeometry | None = None) -> BaseGeometry:
    """Turn a bbox (west, south, east, north) or a polygon into the area geometry (WGS-84).

    Parameters
    ----------
    bbox
        (west, south, east, north), degrees.
    polygon
        A shapely (Multi)Polygon in WGS-84 (from a boundary file or a place).

    Returns
    -------
    shapely geometry
        The area.
    """
    if (bbox is None) == (polygon is None):
        msg = "give exactly one of a bbox or a polygon for the study area"
        raise InputError(msg)
    if bbox is not None:
        west, south, east, north = (float(c) for c in bbox)
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            msg = f"bbox {tuple(bbox)}: expected west,south,east,north in degrees with west<east and south<north"
            raise InputError(msg)
        return box(west, south, east, north)
    if polygon is None or polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
        msg = "the study area must be a non-empty polygon in WGS-84"
        raise InputError(msg)
    return polygon


def _cache_name(path: Path, grown: BaseGeometry) -> str:
    stat = path.stat()
    payload = json.dumps(
        {"file": str(path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns, "area": grown.wkt}
    )
    return f"{path.name.split('.')[0]}-cut-{hashlib.sha1(payload.encode()).hexdigest()[:16]}.osm.pbf"


class _WayBatch:
    """Ways waiting to be tested against the grown area, as coordinates from libosmium's WKB."""

    def __init__(self, grown: BaseGeometry) -> None:
        import osmium

        self.grown = grown
        self.bounds = grown.bounds
        parts = getattr(grown, "geoms", [grown])
        self.inner_points = [part.representative_point() for part in parts]
        self.factory = osmium.geom.WKBFactory()
        self.ids: list[int] = []
        self.coords: list[bytes] = []
        self.sizes: list[int] = []
        self.kept: list[int] = []
        self.seen = 0

    def add(self, way: object) -> None:
        import osmium

        self.seen += 1
        try:
            wkb = self.factory.create_linestring(way)  # type: ignore[arg-type]
            raw = bytes.fromhex(wkb) if isinstance(wkb, str) else bytes(wkb)
            # little-endian WKB LineString: 1 byte order, 4 type, 4 point count, then x,y doubles
            coords, size = raw[9:], (len(raw) - 9) // 16
        except (RuntimeError, osmium.InvalidLocationError):
            # nodes missing from the file (a way leaving the extract): use the located ones
            located = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]  # type: ignore[attr-defined]
            if not located:
                return
            located = located * 2 if len(located) == 1 else located  # a point: a zero-length line
            coords, size = np.asarray(located, "<f8").tobytes(), len(located)
        self.ids.append(way.id)  # type: ignore[attr-defined]
        self.coords.append(coords)
        self.sizes.append(size)
        if len(self.ids) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        xy = np.frombuffer(b"".join(self.coords), dtype="<f8").reshape(-1, 2)
        sizes = np.asarray(self.sizes, np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        west, south, east, north = self.bounds
        near = (
            (np.minimum.reduceat(xy[:, 0], starts) <= east)
            & (np.maximum.reduceat(xy[:, 0], starts) >= west)
            & (np.minimum.reduceat(xy[:, 1], starts) <= north)
            & (np.maximum.reduceat(xy[:, 1], starts) >= south)
        )
        if near.any():
            way_of_point = np.repeat(np.arange(sizes.size), sizes)
            take = near[way_of_point]
            _, local = np.unique(way_of_point[take], return_inverse=True)
            lines = shapely.linestrings(xy[take], indices=local)
            hit = np.zeros(sizes.size, bool)
            hit[near] = shapely.intersects(self.grown, lines) | self._encloses(lines)
            self.kept.extend(np.asarray(self.ids, np.int64)[hit].tolist())
        self.ids, self.coords, self.sizes = [], [], []

    def _encloses(self, lines: np.ndarray) -> np.ndarray:
        """Tell which closed ways enclose the whole area (a landuse around it touches it with no node in it)."""
        closed = shapely.is_closed(lines) & (shapely.get_num_points(lines) >= 4)
        out = np.zeros(lines.size, bool)
        if closed.any():
            rings = shapely.polygons(
                shapely.linearrings(
                    shapely.get_coordinates(lines[closed]),
                    indices=np.repeat(np.arange(int(closed.sum())), shapely.get_num_points(lines[closed])),
                )
            )
            for point in self.inner_points:
                out[closed] |= shapely.contains_xy(rings, point.x, point.y)
        return out


def _select(path: Path, grown: BaseGeometry, tracker: object, location_store: str) -> int:
    """Stream the file once; track tagged nodes inside, ways touching, relations using them."""
    import osmium

    shapely.prepare(grown)
    west, south, east, north = grown.bounds
    ways = _WayBatch(grown)
    relations: list[int] = []
    ways_tracked = False

    def track_ways() -> None:
        ways.flush()
        for way_id in ways.kept:
            tracker.add_way(way_id)  # type: ignore[attr-defined]
        ways.kept.clear()

    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION)
        .with_locations(location_store)
        .with_filter(osmium.filter.EmptyTagFilter())  # untagged nodes stay in C++ (location index only)
    )
    for obj in processor:
        if obj.is_node():
            loc = obj.location
            inside = loc.valid() and west <= loc.lon <= east and south <= loc.lat <= north
            if inside and shapely.intersects_xy(grown, loc.lon, loc.lat):
                tracker.add_node(obj.id)  # type: ignore[attr-defined]
        elif obj.is_way():
            ways.add(obj)
        else:
            if not ways_tracked:  # files are sorted: every way has been seen
                track_ways()
                ways_tracked = True
            is_area = obj.tags.get("type") in AREA_RELATION_TYPES
            if is_area and tracker.contains_any_references(obj):  # type: ignore[attr-defined]
                relations.append(obj.id)
    track_ways()  # the last batch (and any way after a relation, in an unsorted file)
    for rel_id in relations:
        tracker.add_relation(rel_id)  # type: ignore[attr-defined]
    return ways.seen


def cut_extract(
    path: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    polygon: BaseGeometry | None = None,
    margin_m: float = DEFAULT_EXTRACT_MARGIN_M,
    out_dir: str | Path | None = None,
    location_store: str = DEFAULT_EXTRACT_LOCATION_STORE,
) -> ExtractCut:
    """Cut a study area plus a walking margin out of a big OSM file into a small PBF.

    Parameters
    ----------
    path
        The big extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.osm.gz``), sorted by type
        and id as Geofabrik and planet extracts are.
    bbox
        (west, south, east, north) of the study area, WGS-84 degrees; or
    polygon
        the study area as a WGS-84 (Multi)Polygon (a boundary file's or a place's outline).
    margin_m
        Walking margin around the area, metres (default 1.5 km).
    out_dir
        Where the cut is written (default ``data/raw/extracts``); a cut of the same file and
        area already there is reused.
    location_store
        libosmium's node-location index: ``"flex_mem"`` (in memory, about 8-16 bytes per node
        of the file) or, for a country extract on a machine with little memory,
        ``"sparse_file_array,/path/to/index"`` (on disk).

    Returns
    -------
    ExtractCut
        The cut file and what it holds. Read it with `walkcircle.sources.osm.read_network`.

    Raises
    ------
    InputError
        If the file is missing or unreadable, or no way touches the area.
    """
    import osmium

    from walkcircle.sources.osm import _describe_osmium_error, check_readable

    path = check_readable(path)
    area = study_area(bbox, polygon)
    grown = grow_area(area, margin_m)
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_CACHE_DIR / "extracts"
    out = out_dir / _cache_name(path, grown)
    if out.exists():
        return _counted(out, area, grown, margin_m, ways_seen=-1, cached=True)
    tracker = osmium.IdTracker()
    try:
        ways_seen = _select(path, grown, tracker, location_store)
        if tracker.way_ids().empty() and tracker.node_ids().empty():
            w, s, e, n = (round(v, 5) for v in area.bounds)
            msg = f"{path}: nothing of the file lies within {margin_m:g} m of the study area ({w},{s},{e},{n}); is it the right extract?"
            raise InputError(msg)
        tracker.complete_backward_references(str(path), relation_depth=0)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part.osm.pbf")
        tmp.unlink(missing_ok=True)
        with osmium.SimpleWriter(str(tmp)) as writer:
            for obj in osmium.FileProcessor(str(path)).with_filter(tracker.id_filter()):
                writer.add(obj)
        tmp.replace(out)
    except RuntimeError as exc:
        raise InputError(f"{path}: {_describe_osmium_error(exc)}") from exc
    return _counted(out, area, grown, margin_m, ways_seen=ways_seen, cached=False)


def _counted(
    out: Path, area: BaseGeometry, grown: BaseGeometry, margin_m: float, ways_seen: int, cached: bool
) -> ExtractCut:
    import osmium

    counts = {"n": 0, "w": 0, "r": 0}
    for obj in osmium.FileProcessor(str(out)):
        counts[obj.type_str()] += 1
    return ExtractCut(
        path=out,
        area=area,
        grown=grown,
        margin_m=margin_m,
        ways=counts["w"],
        nodes=counts["n"],
        relations=counts["r"],
        ways_seen=ways_seen,
        cached=cached,
    )
