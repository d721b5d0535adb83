"""Tables out: GeoPackage (a layer per table), GeoParquet and CSV, written atomically.

Every writer writes to a temporary file in the target folder and renames it into place, so
a crash or Ctrl-C never leaves a half-written output under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds.

    Parameters
    ----------
    path
        The final file name.

    Yields
    ------
    pathlib.Path
        Where to write. Removed if the block raises (or is interrupted).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        for sidecar in tmp.parent.glob(tmp.name + "-*"):  # SQLite journal files
            sidecar.unlink(missing_ok=True)


def write_geopackage(layers: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Write tables as layers of one GeoPackage.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame (or plain DataFrame, written as an attribute table).
    path
        The ``.gpkg`` file; replaced if it exists.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        for name, frame in layers.items():
            if isinstance(frame, gpd.GeoDataFrame):
                frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
            else:
                import pyogrio

                pyogrio.write_dataframe(pd.DataFrame(frame), tmp, layer=name, driver="GPKG")
    return path


def write_geoparquet(frame: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a GeoDataFrame as GeoParquet.

    Parameters
    ----------
    frame
        The table.
    path
        The ``.parquet`` file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as UTF-8 CSV with a byte-order mark (so Excel shows Chinese correctly).

    Geometry columns are written as WKT.

    Parameters
    ----------
    frame
        The table.
    path
        The ``.csv`` file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    table = pd.DataFrame(frame)
    if isinstance(frame, gpd.GeoDataFrame):
        geometry_name = frame.geometry.name
        table[geometry_name] = frame.geometry.to_wkt()
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8-sig")
    return path
