"""Synthetic cities for bench_city.py: streets, residential compounds, POIs and communities.

Not used by walkcircle itself or in any demo; benchmarks only.

At scale 1 (the "1x city" of issue 16) a city has about 150,000 walk nodes, 30,000 residential
buildings (closed ways ``building=residential|apartments`` inside ``landuse=residential``
compounds), 3,000 POIs covering every hebi-2021 category, and 250 community polygons
(a GeoPackage with ``name``, ``population`` and ``district``). Scale s multiplies every count
by s (the city's side by sqrt(s)).

Streets are an irregular grid: uneven row/column spacing, jittered nodes, ~9% of links missing,
diagonal footways and dead-end spurs; ways are cut into pieces of 2-12 links. Node and way ids
are a random permutation (real OSM ids are not row-major); the file lists them sorted by id as
real extracts do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LON0, LAT0 = 114.25, 35.70  # around Hebi, so that UTM zone and latitude are realistic
M_PER_DEG_LAT = 110_950.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(LAT0))

WALK_NODES = 150_000
BUILDINGS = 30_000
POIS = 3_000
COMMUNITIES = 250
BUILDINGS_PER_COMPOUND = 30
EMPTY_COMPOUND_SHARE = 0.08  # residential landuse without mapped buildings (sampled on a grid)

# (tags, drawn as a closed way?) covering every OSM rule of hebi-2021
POI_TAGS: list[tuple[dict[str, str], bool]] = [
    ({"shop": "convenience"}, False),
    ({"shop": "supermarket"}, False),
    ({"shop": "kiosk"}, False),
    ({"amenity": "marketplace"}, True),
    ({"shop": "greengrocer"}, False),
    ({"shop": "butcher"}, False),
    ({"shop": "seafood"}, False),
    ({"amenity": "post_office"}, False),
    ({"amenity": "parcel_locker"}, False),
    ({"amenity": "social_facility", "social_facility": "day_care"}, False),
    ({"amenity": "social_facility", "social_facility": "nursing_home"}, True),
    ({"amenity": "social_facility", "social_facility:for": "senior"}, False),
    ({"amenity": "nursing_home"}, False),
    ({"leisure": "fitness_station"}, False),
    ({"leisure": "fitness_centre"}, False),
    ({"leisure": "pitch"}, True),
    ({"leisure": "sports_centre"}, True),
    ({"amenity": "clinic"}, False),
    ({"amenity": "doctors"}, False),
    ({"amenity": "hospital"}, True),
    ({"healthcare": "centre"}, False),
    ({"amenity": "library"}, False),
    ({"amenity": "arts_centre"}, False),
    ({"amenity": "community_centre", "name": "社区服务中心"}, False),
    ({"office": "government", "name": "幸福社区居委会"}, False),
    ({"amenity": "kindergarten"}, True),
    ({"amenity": "childcare"}, False),
    ({"amenity": "school"}, True),
    ({"highway": "bus_stop"}, False),
    ({"highway": "bus_stop"}, False),
    ({"public_transport": "platform", "bus": "yes"}, False),
    ({"leisure": "park"}, True),
    ({"leisure": "garden"}, True),
    ({"amenity": "recycling"}, False),
    ({"amenity": "waste_disposal"}, False),
]


@dataclass
class CityFiles:
    """The files of one synthetic city."""

    osm: Path
    communities: Path
    walk_nodes: int
    buildings: int
    pois: int
    n_communities: int


def _ids(rng: np.random.Generator, n: int, start: int) -> np.ndarray:
    """`n` distinct ids in random order (not row-major), from `start` upward with gaps."""
    return start + rng.permutation(int(n * 1.3))[:n].astype(np.int64)


def _lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


class _Streets:
    """Street nodes (metres) and ways (lists of node indices) of an irregular grid."""

    def __init__(self, rng: np.random.Generator, n_nodes: int) -> None:
        side = int(np.ceil(np.sqrt(n_nodes * 0.965)))
        self.side = side
        self.col_x = np.concatenate([[0.0], np.cumsum(rng.uniform(55, 125, side - 1))])
        self.row_y = np.concatenate([[0.0], np.cumsum(rng.uniform(55, 125, side - 1))])
        xx, yy = np.meshgrid(self.col_x, self.row_y)  # [row, col]
        self.x = list((xx + rng.normal(0, 7, xx.shape)).ravel())
        self.y = list((yy + rng.normal(0, 7, yy.shape)).ravel())
        self.ways: list[list[int]] = []
        self.highway: list[str] = []
        grid = np.arange(side * side).reshape(side, side)
        for lines, big_every in ((grid, 9), (grid.T, 11)):
            for k, line in enumerate(lines):
                kind = "primary" if k % big_every == 0 else "secondary" if k % 5 == 0 else "residential"
                keep = rng.random(side - 1) >= 0.09  # links present
                start = 0
                while start < side - 1:
                    length = int(rng.integers(2, 13))
                    stop = min(start + length, side - 1)
                    piece = [int(line[start])]
                    for i in range(start, stop):
                        if not keep[i]:
                            self._add(piece, kind)
                            piece = [int(line[i + 1])]
                        else:
                            piece.append(int(line[i + 1]))
                    self._add(piece, kind)
                    start = stop
        n_diag = int(0.04 * side * side)
        for s in rng.choice(grid[:-1, :-1].ravel(), n_diag, replace=False):
            self._add([int(s), int(s + side + 1)], "footway")
        n_spur = int(0.035 * side * side)
        for s in rng.choice(side * side, n_spur, replace=False):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(25, 60)
            self.x.append(self.x[s] + length * np.cos(angle))
            self.y.append(self.y[s] + length * np.sin(angle))
            self._add([int(s), len(self.x) - 1], "service" if rng.random() < 0.5 else "footway")

    def _add(self, piece: list[int], kind: str) -> None:
        if len(piece) >= 2:
            self.ways.append(piece)
            self.highway.append(kind)


def _rect(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array(
        [
            [cx - w / 2, cy - h / 2],
            [cx + w / 2, cy - h / 2],
            [cx + w / 2, cy + h / 2],
            [cx - w / 2, cy + h / 2],
        ]
    )


def _compounds(rng: np.random.Generator, streets: _Streets, n: int) -> list[np.ndarray]:
    """`n` residential compounds: rectangles over 1-3 x 1-3 blocks, inset from the streets."""
    side = streets.side
    out = []
    for _ in range(n):
        c0 = int(rng.integers(0, side - 3))
        r0 = int(rng.integers(0, side - 3))
        c1 = c0 + int(rng.integers(1, 4))
        r1 = r0 + int(rng.integers(1, 4))
        x0, x1 = streets.col_x[c0] + 15, streets.col_x[c1] - 15
        y0, y1 = streets.row_y[r0] + 15, streets.row_y[r1] - 15
        out.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return out


def build_city(scale: float, folder: Path, seed: int = 16) -> CityFiles:
    """Write a synthetic city (``city.osm.pbf``, ``communities.gpkg``) under `folder`, once.

    Parameters
    ----------
    scale
        1 for the issue's 1x city; counts scale linearly.
    folder
        Cache folder; files that exist are reused.
    seed
        Random seed.

    Returns
    -------
    CityFiles
        Paths and sizes.
    """
    folder = Path(folder) / f"scale{scale:g}-seed{seed}"
    osm = folder / "city.osm.pbf"
    comm = folder / "communities.gpkg"
    sizes = {
        "walk_nodes": int(WALK_NODES * scale),
        "buildings": int(BUILDINGS * scale),
        "pois": max(len(POI_TAGS), int(POIS * scale)),
        "n_communities": max(3, int(COMMUNITIES * scale)),
    }
    if osm.exists() and comm.exists():
        return CityFiles(osm, comm, **sizes)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    streets = _Streets(rng, sizes["walk_nodes"])
    sizes["walk_nodes"] = len(streets.x)
    _write_osm(rng, streets, sizes["buildings"], sizes["pois"], osm)
    _write_communities(rng, streets, sizes["n_communities"], comm)
    return CityFiles(osm, comm, **sizes)


def _write_osm(
    rng: np.random.Generator, streets: _Streets, n_buildings: int, n_pois: int, path: Path
) -> None:
    import osmium

    node_x = list(streets.x)
    node_y = list(streets.y)
    node_tags: dict[int, dict[str, str]] = {}
    ways: list[tuple[list[int], dict[str, str]]] = [
        (refs, {"highway": kind}) for refs, kind in zip(streets.ways, streets.highway, strict=True)
    ]

    def closed(ring: np.ndarray, tags: dict[str, str]) -> None:
        first = len(node_x)
        node_x.extend(ring[:, 0].tolist())
        node_y.extend(ring[:, 1].tolist())
        refs = list(range(first, first + len(ring)))
        ways.append(([*refs, first], tags))

    n_compounds = int(np.ceil(n_buildings / BUILDINGS_PER_COMPOUND / (1 - EMPTY_COMPOUND_SHARE)))
    compounds = _compounds(rng, streets, n_compounds)
    n_full = round(n_compounds * (1 - EMPTY_COMPOUND_SHARE))
    per = np.full(n_full, n_buildings // n_full)
    per[: n_buildings - per.sum()] += 1
    for i, ring in enumerate(compounds):
        closed(ring, {"landuse": "residential", "name": f"小区{i}"})
        if i >= n_full:
            continue
        (x0, y0), (x1, y1) = ring[0], ring[2]
        for _ in range(per[i]):
            w, h = rng.uniform(12, 40), rng.uniform(10, 16)
            cx = rng.uniform(x0 + w / 2 + 1, max(x0 + w / 2 + 1.5, x1 - w / 2 - 1))
            cy = rng.uniform(y0 + h / 2 + 1, max(y0 + h / 2 + 1.5, y1 - h / 2 - 1))
            kind = "apartments" if rng.random() < 0.7 else "residential"
            closed(_rect(cx, cy, w, h), {"building": kind, "building:levels": str(int(rng.integers(3, 19)))})

    n_street = len(streets.x)
    anchors = rng.integers(0, n_street, n_pois)
    for i in range(n_pois):
        tags, as_way = POI_TAGS[i % len(POI_TAGS)]
        ax, ay = streets.x[anchors[i]] + rng.uniform(-35, 35), streets.y[anchors[i]] + rng.uniform(-35, 35)
        tags = {**tags, "name": tags.get("name", f"poi {i}")}
        if as_way:
            closed(_rect(ax, ay, rng.uniform(20, 60), rng.uniform(20, 60)), tags)
        else:
            node_tags[len(node_x)] = tags
            node_x.append(ax)
            node_y.append(ay)

    lon, lat = _lonlat(np.asarray(node_x), np.asarray(node_y))
    node_id = _ids(rng, lon.size, 1_000_000)
    way_id = _ids(rng, len(ways), 50_000_000)
    tmp = path.with_name(path.name + ".tmp.osm.pbf")
    tmp.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(tmp))
    try:
        for i in np.argsort(node_id):
            writer.add_node(
                osmium.osm.mutable.Node(
                    id=int(node_id[i]),
                    location=(float(lon[i]), float(lat[i])),
                    tags=node_tags.get(int(i), {}),
                )
            )
        for w in np.argsort(way_id):
            refs, tags = ways[w]
            writer.add_way(osmium.osm.mutable.Way(id=int(way_id[w]), nodes=node_id[refs].tolist(), tags=tags))
    finally:
        writer.close()
    tmp.replace(path)


def _write_communities(rng: np.random.Generator, streets: _Streets, n: int, path: Path) -> None:
    import geopandas as gpd
    import shapely

    x_max, y_max = streets.col_x[-1], streets.row_y[-1]
    seeds = shapely.points(rng.uniform(0, x_max, n), rng.uniform(0, y_max, n))
    box = shapely.box(0, 0, x_max, y_max)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box))
    cells = shapely.intersection(cells, box)
    cells = shapely.transform(cells, lambda c: np.column_stack(_lonlat(c[:, 0], c[:, 1])))
    cx = shapely.get_x(shapely.centroid(cells))
    edges = np.quantile(cx, [1 / 3, 2 / 3])
    district = np.array(["淇滨区", "山城区", "鹤山区"])[np.searchsorted(edges, cx)]
    frame = gpd.GeoDataFrame(
        {
            "name": [f"第{i + 1}社区" for i in range(len(cells))],
            "population": rng.integers(2_000, 15_000, len(cells)),
            "district": district,
        },
        geometry=cells,
        crs="EPSG:4326",
    )
    tmp = path.with_name(path.name + ".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    frame.to_file(tmp, driver="GPKG", engine="pyogrio")
    tmp.replace(path)
