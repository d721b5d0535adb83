"""The walking network as a networkx graph: run networkx/osmnx on exactly the network scored.

Back again: `walkcircle.sources.osm.network_from_osmnx` reads such a graph (or any osmnx graph).

>>> import numpy as np
>>> from walkcircle.network import build_network
>>> net = build_network(  # one way through three nodes, branching at node 2 into a second way
...     np.array([1, 2, 3, 4]), np.array([116.30, 116.31, 116.31, 116.32]), np.array([40.0, 40.0, 40.01, 40.0]),
...     seg_u=np.array([0, 1, 1]), seg_v=np.array([1, 2, 3]), seg_way=np.array([0, 0, 1]),
...     way_id=np.array([10, 11]), way_highway=np.array(["footway", "residential"]), way_name=np.array(["", "x"]))
>>> g = net.to_networkx()
>>> g.number_of_nodes(), g.number_of_edges(), g.graph["crs"]
(4, 6, 'epsg:4326')
>>> round(sum(d["length"] for _, _, d in g.edges(data=True)) / 2) == round(net.edge_length_m.sum())
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    import networkx as nx

    from walkcircle.network import WalkNetwork

__all__ = ["to_networkx"]


def to_networkx(network: WalkNetwork) -> nx.MultiDiGraph:
    """Return an osmnx-style MultiDiGraph of the network.

    Nodes are OSM node ids with ``x`` (longitude) and ``y`` (latitude); every edge appears in
    both directions with ``osmid`` (the way), ``highway``, ``name``, ``length`` (geodesic metres,
    as walkcircle routes on) and ``geometry`` (a WGS-84 LineString in the edge's direction); the
    graph's ``crs`` is ``epsg:4326``. osmnx functions (``ox.plot_graph``, ``ox.nearest_nodes``,
    ``ox.routing.shortest_path``) and networkx algorithms run on it as on a downloaded graph.

    Parameters
    ----------
    network
        The walking network.

    Returns
    -------
    networkx.MultiDiGraph
        The graph.
    """
    import networkx as nx

    graph = nx.MultiDiGraph(crs="epsg:4326", simplified=True, source=network.source)
    graph.add_nodes_from(
        (int(i), {"x": float(x), "y": float(y)})
        for i, x, y in zip(network.node_id, network.lon, network.lat, strict=True)
    )
    lines = shapely.linestrings(
        np.column_stack([network.geom_lon, network.geom_lat]),
        indices=np.repeat(np.arange(network.n_edges), np.diff(network.geom_offsets)),
    )
    for k in range(network.n_edges):
        u, v = int(network.node_id[network.edge_u[k]]), int(network.node_id[network.edge_v[k]])
        data = {
            "osmid": int(network.edge_way_id[k]),
            "highway": str(network.edge_highway[k]),
            "name": str(network.edge_name[k]),
            "length": float(network.edge_length_m[k]),
        }
        graph.add_edge(u, v, geometry=lines[k], **data)
        graph.add_edge(v, u, geometry=shapely.reverse(lines[k]), **data)
    return graph
