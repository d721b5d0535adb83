"""Synthetic street-like networks for benchmarks: perturbed grids with gaps and diagonals.

Not used by walkcircle itself or in any demo; benchmarks only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LON0, LAT0 = 114.25, 35.70  # around Hebi, so that UTM zone and latitude are realistic
STEP_M = 80.0


@dataclass
class SyntheticStreets:
    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    way_id: np.ndarray
    way_highway: np.ndarray
    way_refs: list[np.ndarray]  # node indices

    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seg_u, seg_v, seg_way = [], [], []
        for w, refs in enumerate(self.way_refs):
            seg_u.append(refs[:-1])
            seg_v.append(refs[1:])
            seg_way.append(np.full(refs.size - 1, w))
        return np.concatenate(seg_u), np.concatenate(seg_v), np.concatenate(seg_way)

    def network(self):
        from walkcircle.network import build_network

        seg_u, seg_v, seg_way = self.segments()
        return build_network(
            self.node_id,
            self.lon,
            self.lat,
            seg_u,
            seg_v,
            seg_way,
            way_id=self.way_id,
            way_highway=self.way_highway,
            way_name=np.full(self.way_id.size, ""),
            source="synthetic grid",
        )


def street_grid(
    n_nodes: int, seed: int = 0, gap_share: float = 0.08, diagonal_share: float = 0.05
) -> SyntheticStreets:
    """About `n_nodes` nodes on a jittered grid; rows and columns are ways cut at random gaps."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_nodes)))
    m_per_deg_lat = 110_950.0
    m_per_deg_lon = 111_320.0 * np.cos(np.radians(LAT0))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side))
    x = ii.ravel() * STEP_M + rng.normal(0, 12, side * side)
    y = jj.ravel() * STEP_M + rng.normal(0, 12, side * side)
    lon = LON0 + x / m_per_deg_lon
    lat = LAT0 + y / m_per_deg_lat
    node_id = np.arange(1, side * side + 1, dtype=np.int64)
    grid = np.arange(side * side).reshape(side, side)

    way_refs: list[np.ndarray] = []
    highways: list[str] = []
    for lines, kind in ((grid, "row"), (grid.T, "col")):
        for k, line in enumerate(lines):
            cut = np.flatnonzero(rng.random(side - 1) < gap_share) + 1
            for piece in np.split(line, cut):
                if piece.size >= 2:
                    way_refs.append(piece)
                    highways.append(
                        "primary" if k % 12 == 0 else "residential" if kind == "row" else "service"
                    )
    n_diag = int(diagonal_share * side * side)
    starts = rng.choice(grid[:-1, :-1].ravel(), n_diag, replace=False)
    for s in starts:
        way_refs.append(np.array([s, s + side + 1]))
        highways.append("footway")
    way_id = np.arange(1, len(way_refs) + 1, dtype=np.int64)
    return SyntheticStreets(node_id, lon, lat, way_id, np.array(highways), way_refs)


def write_osm(streets: SyntheticStreets, path: Path) -> Path:
    """Write the grid as an OSM file (format from the suffix) with pyosmium."""
    import osmium

    path = Path(path)
    path.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(path))
    try:
        for i in range(streets.node_id.size):
            writer.add_node(
                osmium.osm.mutable.Node(
                    id=int(streets.node_id[i]), location=(float(streets.lon[i]), float(streets.lat[i]))
                )
            )
        for w, refs in enumerate(streets.way_refs):
            writer.add_way(
                osmium.osm.mutable.Way(
                    id=int(streets.way_id[w]),
                    nodes=[int(r) for r in streets.node_id[refs]],
                    tags={"highway": str(streets.way_highway[w])},
                )
            )
    finally:
        writer.close()
    return path


def renumbered(streets: SyntheticStreets, seed: int = 0) -> SyntheticStreets:
    """The same streets with nodes listed in a random order (as real OSM ids are not row-major)."""
    rng = np.random.default_rng(seed)
    n = streets.node_id.size
    order = rng.permutation(n)  # new position i holds old node order[i]
    new_of_old = np.empty(n, np.int64)
    new_of_old[order] = np.arange(n)
    return SyntheticStreets(
        node_id=streets.node_id[order],
        lon=streets.lon[order],
        lat=streets.lat[order],
        way_id=streets.way_id,
        way_highway=streets.way_highway,
        way_refs=[new_of_old[r] for r in streets.way_refs],
    )
