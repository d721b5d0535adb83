"""Small hand-made worlds for exact tests: networks laid out in UTM metres."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.geodesy import to_lonlat
from walkcircle.network import WalkNetwork

EPSG = 32650
X0, Y0 = 500_000.0, 3_960_000.0  # central meridian of UTM 50N, near Hebi's latitude


def line_network(n_nodes: int = 10, spacing_m: float = 100.0) -> WalkNetwork:
    """Nodes 0..n-1 on a straight street every `spacing_m` metres, edge lengths exact."""
    x = X0 + spacing_m * np.arange(n_nodes)
    y = np.full(n_nodes, Y0)
    lon, lat = to_lonlat(x, y, EPSG)
    u = np.arange(n_nodes - 1)
    v = u + 1
    gx = np.column_stack([x[u], x[v]]).ravel()
    gy = np.column_stack([y[u], y[v]]).ravel()
    glon, glat = to_lonlat(gx, gy, EPSG)
    return WalkNetwork(
        node_id=np.arange(n_nodes, dtype=np.int64) + 1,
        lon=lon,
        lat=lat,
        x=x,
        y=y,
        edge_u=u.astype(np.int64),
        edge_v=v.astype(np.int64),
        edge_length_m=np.full(n_nodes - 1, spacing_m),
        edge_way_id=np.ones(n_nodes - 1, np.int64),
        edge_highway=np.array(["residential"] * (n_nodes - 1)),
        edge_name=np.array([""] * (n_nodes - 1)),
        geom_offsets=np.arange(0, 2 * (n_nodes - 1) + 1, 2, dtype=np.int64),
        geom_lon=glon,
        geom_lat=glat,
        geom_x=gx,
        geom_y=gy,
        epsg=EPSG,
        source="hand-made line",
    )


def points_at(along_m, north_m, **columns) -> gpd.GeoDataFrame:
    """Points `along_m` metres along the line and `north_m` metres off it."""
    along = np.atleast_1d(np.asarray(along_m, float))
    north = np.broadcast_to(np.asarray(north_m, float), along.shape)
    lon, lat = to_lonlat(X0 + along, Y0 + north, EPSG)
    frame = pd.DataFrame({**columns, "lon": lon, "lat": lat})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
