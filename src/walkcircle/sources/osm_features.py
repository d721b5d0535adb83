"""Facilities mapped in OpenStreetMap: features from a file or Overpass, classified by a profile."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from walkcircle.errors import InputError
from walkcircle.profile import Profile
from walkcircle.sources.loads import FacilityLoad, LoadReport, _facility_frame
from walkcircle.sources.pbf import ways_with_tags

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from walkcircle.sources.osm import OverpassConfig


def representative_point(geometry: BaseGeometry) -> shapely.Point:
    """Return one point that stands for a feature: inside a polygon, halfway along a line.

    Parameters
    ----------
    geometry
        A shapely geometry in lon/lat.

    Returns
    -------
    shapely.Point
        The point.
    """
    if isinstance(geometry, shapely.Point):
        return geometry
    if geometry.geom_type in ("LineString", "MultiLineString", "LinearRing"):
        merged = shapely.line_merge(geometry) if geometry.geom_type == "MultiLineString" else geometry
        if merged.geom_type == "LineString":
            return merged.interpolate(0.5, normalized=True)
    return geometry.representative_point()


def representative_points(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return `representative_point` of many geometries at once, as lon and lat arrays.

    Points, lines and polygons are handled in one call per kind; anything else (a
    multi-line, a ring, a collection) goes through `representative_point` one by one.

    Parameters
    ----------
    geometries
        Shapely geometries in lon/lat.

    Returns
    -------
    lon, lat : numpy.ndarray
        The points' coordinates.
    """
    geoms = np.asarray(geometries, dtype=object)
    kind = shapely.get_type_id(geoms)
    points = geoms.copy()  # a point stands for itself
    lines = kind == shapely.GeometryType.LINESTRING
    points[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    areas = np.isin(kind, (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
    points[areas] = shapely.point_on_surface(geoms[areas])
    for i in np.flatnonzero(~(lines | areas | (kind == shapely.GeometryType.POINT))):
        points[i] = representative_point(geoms[i])
    return shapely.get_x(points), shapely.get_y(points)


@dataclass
class OsmFeatures:
    """Tagged OSM features read once from a file: ids, tags and representative points.

    Attributes
    ----------
    feature_id, tags, lon, lat, geometry
        One entry per feature with a geometry.
    incomplete
        Features with no geometry at all (every member or node missing from the extract).
    incomplete_tags
        Their tags, so that the loss is counted against the categories they would serve.
    recovered
        Ways and multipolygons cut by the extract's edge, placed at a point of the nodes or
        members present.
    stop_area
        Feature id -> id of the ``public_transport=stop_area`` relation it belongs to.
    """

    feature_id: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    geometry: list[BaseGeometry] = field(default_factory=list)
    incomplete: int = 0
    incomplete_tags: list[dict[str, str]] = field(default_factory=list)
    recovered: int = 0
    stop_area: dict[str, str] = field(default_factory=dict)

    def add(self, feature_id: str, tags: dict[str, str], geometry: BaseGeometry) -> None:
        """Append one feature (its representative point is computed here).

        Parameters
        ----------
        feature_id
            ``n123``, ``w456`` or ``r789``.
        tags
            Its OSM tags.
        geometry
            Its geometry in lon/lat.
        """
        point = representative_point(geometry)
        self.feature_id.append(feature_id)
        self.tags.append(tags)
        self.lon.append(point.x)
        self.lat.append(point.y)
        self.geometry.append(geometry)

    def extend(
        self, feature_ids: Sequence[str], tags: Sequence[dict[str, str]], geometries: np.ndarray
    ) -> None:
        """Append many features, as `add` does one (representative points computed at once).

        Parameters
        ----------
        feature_ids
            ``n123``, ``w456`` or ``r789`` each.
        tags
            Their OSM tags.
        geometries
            Their geometries in lon/lat.
        """
        lon, lat = representative_points(geometries)
        self.feature_id.extend(feature_ids)
        self.tags.extend(tags)
        self.lon.extend(lon.tolist())
        self.lat.extend(lat.tolist())
        self.geometry.extend(np.asarray(geometries, dtype=object).tolist())

    def add_incomplete(self, tags: dict[str, str]) -> None:
        """Count a feature whose geometry is wholly missing from the extract.

        Parameters
        ----------
        tags
            Its OSM tags.
        """
        self.incomplete += 1
        self.incomplete_tags.append(tags)


def tag_matcher(tags: Mapping[str, bool | Sequence[str]]) -> Callable[[Mapping[str, str]], bool]:
    """Return a test for "a feature carries one of `tags`", reading ``;``-lists as lists.

    ``shop=convenience;bakery`` carries ``shop=convenience``. libosmium's exact tag filter
    would miss it, so files are pre-filtered by key and this test decides.

    Parameters
    ----------
    tags
        Key -> True (any value but ``no``) or a list of values.

    Returns
    -------
    callable
        ``matches(feature_tags) -> bool``.
    """
    wanted = _wanted_values(tags)

    def matches(feature_tags: Mapping[str, str]) -> bool:
        return any(_carries(values, feature_tags.get(key)) for key, values in wanted.items())

    return matches


def _tag_test(tags: Mapping[str, bool | Sequence[str]]) -> Callable[[str, str], bool]:
    """Return ``carries(key, value)``: whether one tag is among `tags`, as `tag_matcher` reads it."""
    wanted = _wanted_values(tags)

    def carries(key: str, value: str) -> bool:
        return key in wanted and _carries(wanted[key], value)

    return carries


def _wanted_values(tags: Mapping[str, bool | Sequence[str]]) -> dict[str, frozenset[str] | None]:
    """Return key -> the values wanted (None: any value)."""
    return {k: None if v is True else frozenset(v) for k, v in tags.items()}  # type: ignore[arg-type]


def _carries(values: frozenset[str] | None, value: str | None) -> bool:
    """Return whether a tag's value is among `values` (None: any but ``no``), a ``;``-list read as a list."""
    if not value or value == "no":
        return False
    return values is None or not values.isdisjoint(v.strip() for v in value.split(";"))


def _way_filter(path: Path, tags: Mapping[str, bool | Sequence[str]]) -> Any:
    """Return an osmium filter passing only the ways that may carry one of `tags`, or None.

    Where the file's streets were just read from PBF (`read_tagged_ways`, as a study reads
    them first), the tags of its ways are known (`ways_with_tags`): a city's ways are mostly
    streets, which carry ``highway`` but seldom a wanted value of it, and each way libosmium
    hands to Python costs about as much as reading it. None otherwise: every way is looked at.
    """
    import osmium

    way_ids = ways_with_tags(path, tags, _tag_test(tags))
    if way_ids is None:
        return None
    only = osmium.filter.IdFilter(way_ids.tolist())
    only.enable_for(osmium.osm.WAY)  # nodes, relations and areas (closed ways too) as before
    return only


_MULTIPOLYGON_TYPES = frozenset({"multipolygon", "boundary"})


def _tag_dict(tags: Any) -> dict[str, str]:
    """Copy an osmium tag list into a dict.

    Reads exactly ``len(tags)`` tags: running osmium's tag iterator to its end costs more
    than reading a building's few tags (``dict(tags)`` takes about four times as long).
    """
    return dict(islice(tags, len(tags)))


@dataclass
class _Reader:
    """State of one pass over an OSM file (see `read_osm_features`).

    Geometries are kept as osmium's hex WKB and parsed all at once in `finish`.
    """

    path: Path
    wanted: Callable[[Mapping[str, str]], bool]
    out: OsmFeatures = field(default_factory=OsmFeatures)
    found_ids: list[str] = field(default_factory=list)
    found_tags: list[dict[str, str]] = field(default_factory=list)
    found_wkb: list[str] = field(default_factory=list)
    closed_ways: dict[int, tuple[dict[str, str], str]] = field(default_factory=dict)
    ways_as_areas: set[int] = field(default_factory=set)
    relations: dict[int, tuple[dict[str, str], list[int]]] = field(default_factory=dict)
    relations_built: set[int] = field(default_factory=set)
    factory: Any = field(init=False)
    all_nodes: Any = field(init=False)
    no_line: tuple[type[Exception], ...] = field(init=False)

    def __post_init__(self) -> None:
        import osmium

        self.factory = osmium.geom.WKBFactory()
        self.all_nodes = osmium.geom.use_nodes.ALL  # repeated nodes kept, as in `way_with_gaps`
        # a node without a location (or out of range), or fewer than two nodes
        self.no_line = (osmium.InvalidLocationError, RuntimeError)

    def keep(self, feature_id: str, tags: dict[str, str], wkb: str) -> None:
        self.found_ids.append(feature_id)
        self.found_tags.append(tags)
        self.found_wkb.append(wkb)

    def relation(self, obj: Any) -> None:
        tags = _tag_dict(obj.tags)
        if tags.get("public_transport") == "stop_area":
            for m in obj.members:
                self.out.stop_area.setdefault(f"{m.type}{m.ref}", f"r{obj.id}")
        if tags.get("type") in _MULTIPOLYGON_TYPES and self.wanted(tags):
            self.relations[obj.id] = (tags, [m.ref for m in obj.members if m.type == "w"])

    def node(self, obj: Any) -> None:
        if not self.wanted(obj.tags):  # libosmium's tag list: no dict for objects left out
            return
        tags = _tag_dict(obj.tags)
        if obj.location.valid():
            self.keep(f"n{obj.id}", tags, self.factory.create_point(obj))
        else:
            _refuse_bad_location(self.path, obj.id, obj.location)
            self.out.add_incomplete(tags)

    def area(self, obj: Any) -> None:
        from_way, orig_id = obj.from_way(), obj.orig_id()
        # the way came first (areas follow in batches): libosmium gives its area the way's tags
        outline = self.closed_ways.get(orig_id) if from_way else None
        if outline is not None:
            tags = outline[0]
        elif self.wanted(obj.tags):  # libosmium's tag list: no dict for objects left out
            tags = _tag_dict(obj.tags)
        else:
            return
        try:
            wkb = self.factory.create_multipolygon(obj)
        except RuntimeError:
            return  # a way falls back on its outline, a relation on its members present
        if from_way:
            self.ways_as_areas.add(orig_id)
            self.keep(f"w{orig_id}", tags, wkb)
        else:
            self.relations_built.add(orig_id)
            self.keep(f"r{orig_id}", tags, wkb)

    def way(self, obj: Any) -> None:
        if not self.wanted(obj.tags):  # libosmium's tag list: no dict for objects left out
            return
        tags = _tag_dict(obj.tags)
        try:
            line = self.factory.create_linestring(obj, self.all_nodes)
        except self.no_line:
            self.way_with_gaps(obj, tags)
            return
        if obj.is_closed():
            # an area may follow for it; use the outline only if none does
            self.closed_ways[obj.id] = (tags, line)
        else:
            self.keep(f"w{obj.id}", tags, line)

    def way_with_gaps(self, obj: Any, tags: dict[str, str]) -> None:
        """Place a way osmium cannot draw on the nodes present, refusing out-of-range ones."""
        coords = []
        for n in obj.nodes:
            if n.location.valid():
                coords.append((n.lon, n.lat))
            else:
                _refuse_bad_location(self.path, n.ref, n.location)
        if not coords:
            self.out.add_incomplete(tags)
            return
        if len(coords) < len(obj.nodes):
            self.out.recovered += 1
        if len(coords) == 1:
            self.keep(f"w{obj.id}", tags, shapely.to_wkb(shapely.Point(coords[0]), hex=True))
        elif obj.is_closed():
            self.closed_ways[obj.id] = (tags, shapely.to_wkb(shapely.LineString(coords), hex=True))
        else:
            self.keep(f"w{obj.id}", tags, shapely.to_wkb(shapely.LineString(coords), hex=True))

    def finish(self) -> OsmFeatures:
        for way_id, (tags, line) in self.closed_ways.items():
            if way_id not in self.ways_as_areas:
                self.keep(f"w{way_id}", tags, line)
        # GEOS reads binary WKB several times faster than osmium's hex
        wkb = np.array([bytes.fromhex(h) for h in self.found_wkb], dtype=object)
        geometries = shapely.from_wkb(wkb)
        self.out.extend(self.found_ids, self.found_tags, geometries)
        cut = {rid: v for rid, v in self.relations.items() if rid not in self.relations_built}
        if cut:
            lines = _member_lines(self.path, {w for _, members in cut.values() for w in members})
            for rid, (tags, members) in cut.items():
                present = [lines[w] for w in members if w in lines]
                if present:
                    self.out.add(f"r{rid}", tags, _partial_geometry(present))
                    self.out.recovered += 1
                else:
                    self.out.add_incomplete(tags)
        return self.out


def _refuse_bad_location(path: Path, node_id: int, location: Any) -> None:
    """Raise on a node whose coordinates are given but outside WGS-84's range."""
    from walkcircle.sources.osm import _UNDEFINED_COORDINATE, check_coordinates

    if location.x == _UNDEFINED_COORDINATE or location.y == _UNDEFINED_COORDINATE:
        return  # missing from the extract, not damaged
    check_coordinates(
        np.array([node_id]), np.array([location.x * 1e-7]), np.array([location.y * 1e-7]), str(path)
    )


def _member_lines(path: Path, way_ids: set[int]) -> dict[int, shapely.LineString]:
    """Read the ways `way_ids` (any tags) as lines, skipping nodes missing from the file."""
    import osmium

    out: dict[int, shapely.LineString] = {}
    if not way_ids:
        return out
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.IdFilter(way_ids))
    )
    for way in processor:
        coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
        if len(coords) >= 2:
            out[way.id] = shapely.LineString(coords)
    return out


def _partial_geometry(lines: list[shapely.LineString]) -> BaseGeometry:
    """Polygons closed by the members present, else the members' lines."""
    merged = shapely.line_merge(shapely.MultiLineString(lines))
    polygons = shapely.get_parts(shapely.polygonize(shapely.get_parts(merged)))
    if len(polygons):
        return max(polygons, key=lambda p: p.area)
    return merged


def read_osm_features(path: str | Path, tags: Mapping[str, bool | Sequence[str]]) -> OsmFeatures:
    """Read every node, way and multipolygon carrying one of `tags` from an OSM file.

    Buildings and sites (closed ways, multipolygons) become polygons; open ways lines. A
    value list such as ``shop=convenience;bakery`` carries each of its values. A
    multipolygon cut by the extract's edge is placed at a point of the members present
    (counted in `recovered`); a feature with nothing present is counted in `incomplete`.
    Memberships of ``public_transport=stop_area`` relations are recorded.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``...
    tags
        Key -> True (any value) or a list of values, as `Profile.overpass_tags` gives.

    Returns
    -------
    OsmFeatures
        The features.

    Raises
    ------
    InputError
        If the file cannot be read, or a node lies outside WGS-84's range.
    """
    import osmium

    from walkcircle.sources.osm import _describe_osmium_error, check_readable

    path = check_readable(path)
    if not tags:
        return OsmFeatures()
    reader = _Reader(path, tag_matcher(tags))
    keys = sorted({*tags, "public_transport"})  # stop_area relations link a stop's mappings
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_areas()
            .with_filter(osmium.filter.KeyFilter(*keys))
        )
        only = _way_filter(path, tags)
        if only is not None:
            processor = processor.with_filter(only)
        for obj in processor:
            if obj.is_node():
                reader.node(obj)
            elif obj.is_area():
                reader.area(obj)
            elif obj.is_way():
                reader.way(obj)
            elif obj.is_relation():
                reader.relation(obj)
        return reader.finish()
    except RuntimeError as exc:
        msg = f"{path}: {_describe_osmium_error(exc)}"
        raise InputError(msg) from exc


def osm_kind(feature_id: str, tags: Mapping[str, str]) -> str:
    """Return a feature's element type and transport role, e.g. ``n:pole``, ``w:platform``.

    Two mappings of one place (a stop's pole and its platform, a shop's node and its
    building) differ in kind; two poles of one stop on both sides of a street do not.

    Parameters
    ----------
    feature_id
        ``n123``, ``w456`` or ``r789``.
    tags
        Its OSM tags.

    Returns
    -------
    str
        ``<n|w|r>:<role>``; role is the ``public_transport`` value, ``pole`` for a bare
        ``highway=bus_stop``, else empty.
    """
    role = tags.get("public_transport", "").split(";")[0].strip()
    if not role and "bus_stop" in tags.get("highway", "").split(";"):
        role = "pole"
    return f"{feature_id[:1]}:{role}"


def classify_osm_features(features: OsmFeatures, profile: Profile, source: str) -> FacilityLoad:
    """Turn tagged OSM features into facilities of the profile's categories.

    Parameters
    ----------
    features
        Features read from a file or a download.
    profile
        The profile whose tag rules classify them.
    source
        Label for the ``source`` column and the report.

    Returns
    -------
    FacilityLoad
        One row per (feature, category), with the merge's helper columns ``osm_kind`` and
        ``stop_area``; unclassified and incomplete features counted in the report.
    """
    from walkcircle.sources.merge import OSM_KIND_COLUMN, STOP_AREA_COLUMN

    report = LoadReport(source=source, rows_read=len(features.feature_id) + features.incomplete)
    ids, cats, names, lons, lats, kinds, areas = [], [], [], [], [], [], []
    for fid, tags, lon, lat in zip(
        features.feature_id, features.tags, features.lon, features.lat, strict=True
    ):
        matched = profile.classify_tags(tags)
        if not matched:
            report.unclassified += 1
            continue
        for cid in matched:
            ids.append(f"osm:{fid}")
            cats.append(cid)
            names.append(tags.get("name:zh") or tags.get("name") or tags.get("name:en") or "")
            lons.append(lon)
            lats.append(lat)
            kinds.append(osm_kind(fid, tags))
            areas.append(features.stop_area.get(fid, ""))
    lost = [profile.classify_tags(tags) for tags in features.incomplete_tags]
    report.unclassified += sum(1 for m in lost if not m)
    lost_rows = sum(1 for m in lost if m)
    report.dropped = {"unclassified": report.unclassified, "incomplete_geometry": lost_rows}
    report.recovered = features.recovered
    if features.recovered:
        report.warn(
            f"{source}: {features.recovered} OSM ways/multipolygons had incomplete geometry (nodes or members outside "
            "the extract); each was placed at a point of what is present"
        )
    if lost_rows:
        by_cat = Counter(c for m in lost for c in m)
        report.warn(
            f"{source}: {lost_rows} OSM features had incomplete geometry (all members or nodes outside the extract) "
            f"and were left out ({', '.join(f'{k} {v}' for k, v in sorted(by_cat.items()))})"
        )
    frame = _facility_frame(ids, cats, names, lons, lats, source)
    if len(frame):
        frame[OSM_KIND_COLUMN] = kinds
        frame[STOP_AREA_COLUMN] = areas
    report.kept = len(frame)
    report.by_category = (
        {str(k): int(v) for k, v in frame["category"].value_counts().items()} if len(frame) else {}
    )
    return FacilityLoad(frame, [report])


def facilities_from_osm_file(path: str | Path, profile: Profile) -> FacilityLoad:
    """Read and classify the facilities of an OSM file.

    Parameters
    ----------
    path
        An OSM XML or PBF file (the same file as the network, usually).
    profile
        The profile.

    Returns
    -------
    FacilityLoad
        The facilities and report.
    """
    features = read_osm_features(path, profile.overpass_tags())
    return classify_osm_features(features, profile, source=f"osm:{Path(path).name}")


def facilities_from_overpass(
    profile: Profile,
    polygon: BaseGeometry | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    *,
    config: OverpassConfig | None = None,
) -> FacilityLoad:
    """Download and classify facilities inside a polygon or bbox from Overpass (via osmnx).

    Parameters
    ----------
    profile
        The profile (its rules decide what is asked for).
    polygon
        Study area in WGS-84.
    bbox
        (west, south, east, north), if no polygon.
    config
        Endpoints, timeout, cache (shared with the network download).

    Returns
    -------
    FacilityLoad
        The facilities and report.
    """
    import osmnx as ox
    import osmnx._errors as osmnx_errors
    import requests

    from walkcircle.errors import OFFLINE_HINT, DownloadError
    from walkcircle.sources.osm import OverpassConfig, check_reachable, osmnx_settings

    config = config or OverpassConfig()
    if polygon is None:
        if bbox is None:
            msg = "give a polygon or a bbox for the facilities download"
            raise InputError(msg)
        polygon = shapely.box(*bbox)
    out = OsmFeatures()
    with osmnx_settings(config):
        check_reachable(config.overpass_url, min(config.timeout_s, 10.0))
        try:
            gdf = ox.features_from_polygon(polygon, tags=profile.overpass_tags())
        except osmnx_errors.InsufficientResponseError:
            gdf = gpd.GeoDataFrame()
        except requests.exceptions.Timeout as exc:
            msg = f"Overpass timed out after {config.timeout_s:g} s fetching facilities; raise --timeout, or {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
        except requests.exceptions.ConnectionError as exc:
            msg = f"cannot connect to {config.overpass_url} for facilities; {OFFLINE_HINT}"
            raise DownloadError(msg) from exc
    if len(gdf):
        tag_columns = [c for c in gdf.columns if c != "geometry"]
        for (element, osm_id), row in gdf.iterrows():
            tags = {c: str(row[c]) for c in tag_columns if isinstance(row[c], str)}
            out.add(f"{str(element)[0]}{osm_id}", tags, row.geometry)
    return classify_osm_features(out, profile, source="osm:overpass")
