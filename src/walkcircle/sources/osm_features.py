"""Facilities mapped in OpenStreetMap: features from a file or Overpass, classified by a profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely

from walkcircle.errors import InputError
from walkcircle.profile import Profile
from walkcircle.sources.loads import FacilityLoad, LoadReport, _facility_frame

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


@dataclass
class OsmFeatures:
    """Tagged OSM features read once from a file: ids, tags and representative points."""

    feature_id: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    geometry: list[BaseGeometry] = field(default_factory=list)
    incomplete: int = 0

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


def read_osm_features(path: str | Path, tags: Mapping[str, bool | Sequence[str]]) -> OsmFeatures:
    """Read every node, way and multipolygon carrying one of `tags` from an OSM file.

    Buildings and sites (closed ways, multipolygons) become polygons; open ways lines.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``...
    tags
        Key -> True (any value) or a list of values, as `Profile.overpass_tags` gives.

    Returns
    -------
    OsmFeatures
        The features; `incomplete` counts ways/relations whose geometry could not be built
        (members missing from the extract).
    """
    import osmium

    from walkcircle.sources.osm import _describe_osmium_error, check_readable

    path = check_readable(path)
    out = OsmFeatures()
    if not tags:
        return out
    if all(v is not True for v in tags.values()):
        # exact pairs let libosmium skip every other object before Python sees it
        wanted = osmium.filter.TagFilter(*[(k, v) for k, values in tags.items() for v in values])  # type: ignore[union-attr]
    else:
        wanted = osmium.filter.KeyFilter(*tags)
    factory = osmium.geom.WKBFactory()
    closed_ways: dict[int, tuple[dict[str, str], Any]] = {}
    ways_as_areas: set[int] = set()
    try:
        processor = osmium.FileProcessor(str(path)).with_locations().with_areas().with_filter(wanted)
        for obj in processor:
            if obj.is_node():
                if obj.location.valid():
                    out.add(f"n{obj.id}", dict(obj.tags), shapely.Point(obj.location.lon, obj.location.lat))
            elif obj.is_area():
                try:
                    geometry = shapely.from_wkb(factory.create_multipolygon(obj))
                except RuntimeError:
                    out.incomplete += 1
                    continue
                if obj.from_way():
                    ways_as_areas.add(obj.orig_id())
                    out.add(f"w{obj.orig_id()}", dict(obj.tags), geometry)
                else:
                    out.add(f"r{obj.orig_id()}", dict(obj.tags), geometry)
            elif obj.is_way():
                coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                if len(coords) < 2:
                    out.incomplete += 1
                    continue
                if obj.is_closed():
                    # an area may follow for it; use the outline only if none does
                    closed_ways[obj.id] = (dict(obj.tags), coords)
                else:
                    out.add(f"w{obj.id}", dict(obj.tags), shapely.LineString(coords))
    except RuntimeError as exc:
        msg = f"{path}: {_describe_osmium_error(exc)}"
        raise InputError(msg) from exc
    for way_id, (tags, coords) in closed_ways.items():
        if way_id not in ways_as_areas:
            out.add(f"w{way_id}", tags, shapely.LineString(coords))
    return out


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
        One row per (feature, category); unclassified features counted.
    """
    report = LoadReport(source=source, rows_read=len(features.feature_id))
    ids, cats, names, lons, lats = [], [], [], [], []
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
    if features.incomplete:
        report.warn(
            f"{source}: {features.incomplete} OSM ways/relations had incomplete geometry (members outside the extract) and were skipped"
        )
    frame = _facility_frame(ids, cats, names, lons, lats, source)
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
