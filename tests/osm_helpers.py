"""Helpers the tests use to make OSM files and Overpass answers independently of walkcircle."""

from __future__ import annotations

import bz2
import gzip
import xml.etree.ElementTree as ET
from pathlib import Path


def open_xml(path: Path):
    name = str(path)
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return Path(path).open("rb")


def parse_osm_xml(
    path: Path,
) -> tuple[dict[int, tuple[float, float, dict]], list[tuple[int, list[int], dict]]]:
    """Nodes {id: (lon, lat, tags)} and ways [(id, refs, tags)] with the standard library."""
    with open_xml(path) as fh:
        root = ET.parse(fh).getroot()
    nodes = {}
    ways = []
    for el in root:
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        if el.tag == "node":
            nodes[int(el.get("id"))] = (float(el.get("lon")), float(el.get("lat")), tags)
        elif el.tag == "way":
            ways.append((int(el.get("id")), [int(nd.get("ref")) for nd in el.findall("nd")], tags))
    return nodes, ways


def write_osm_xml(
    path: Path, nodes: dict[int, tuple[float, float, dict]], ways: list[tuple[int, list[int], dict]]
) -> Path:
    root = ET.Element("osm", version="0.6", generator="walkcircle-tests")
    for nid, (lon, lat, tags) in nodes.items():
        el = ET.SubElement(root, "node", id=str(nid), lat=f"{lat:.7f}", lon=f"{lon:.7f}", version="1")
        for k, v in tags.items():
            ET.SubElement(el, "tag", k=k, v=v)
    for wid, refs, tags in ways:
        el = ET.SubElement(root, "way", id=str(wid), version="1")
        for r in refs:
            ET.SubElement(el, "nd", ref=str(r))
        for k, v in tags.items():
            ET.SubElement(el, "tag", k=k, v=v)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def convert_with_osmium(src: Path, dst: Path) -> Path:
    """Copy an OSM file into another format (by suffix) with pyosmium's writer."""
    import osmium

    writer = osmium.SimpleWriter(str(dst))
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()
    return dst


def overpass_json(nodes, ways, tagged_nodes: bool = False) -> dict:
    """The JSON Overpass returns for `(way[...];>;);out;` over these elements.

    With `tagged_nodes`, every tagged node is included too (as a features query returns).
    """
    elements = []
    for wid, refs, tags in ways:
        elements.append({"type": "way", "id": wid, "nodes": refs, "tags": tags})
    used = {r for _, refs, _ in ways for r in refs}
    if tagged_nodes:
        used |= {nid for nid, (_, _, tags) in nodes.items() if tags}
    for nid in used:
        if nid in nodes:
            lon, lat, tags = nodes[nid]
            el = {"type": "node", "id": nid, "lat": lat, "lon": lon}
            if tags:
                el["tags"] = tags
            elements.append(el)
    return {"version": 0.6, "generator": "Overpass API (recorded for tests)", "elements": elements}
