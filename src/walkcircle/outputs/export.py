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

    Layers go to GDAL as Arrow tables (one columnar transfer instead of one OGR feature per
    row) and SQLite does not wait for the disk after each layer: the file is a temporary one
    that is renamed into place only when complete, so an interrupted write never survives
    under the final name either way.

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
    with atomic_path(path) as tmp, _gdal_config(GPKG_WRITE_CONFIG):
        for name, frame in layers.items():
            _write_layer(frame, tmp, name)
    return path


GPKG_WRITE_CONFIG = {"OGR_SQLITE_SYNCHRONOUS": "OFF"}
"""GDAL settings while a GeoPackage is written (its temporary file needs no fsync)."""


def _write_layer(frame: pd.DataFrame, path: Path, layer: str) -> None:
    """Write one table as a layer, the way ``GeoDataFrame.to_file`` would, through Arrow.

    As ``to_file`` does, the index of a GeoDataFrame is written as columns only when it is
    named or not integer; the index of a plain DataFrame is not written.
    """
    import pyogrio
    from pandas.api.types import is_integer_dtype

    table = frame if isinstance(frame, gpd.GeoDataFrame) else pd.DataFrame(frame)
    if isinstance(table, gpd.GeoDataFrame):
        if list(table.index.names) != [None] or not is_integer_dtype(table.index.dtype):
            table = table.reset_index(drop=False)
        if not table.columns.is_unique:
            msg = f"layer {layer!r} has duplicated column names"
            raise ValueError(msg)
    pyogrio.write_dataframe(table, path, layer=layer, driver="GPKG", use_arrow=_arrow_writes())


def _arrow_writes() -> bool:
    """Tell whether pyogrio can hand tables to GDAL as Arrow (pyarrow and GDAL >= 3.8)."""
    import importlib.util

    import pyogrio

    return importlib.util.find_spec("pyarrow") is not None and pyogrio.__gdal_version__ >= (3, 8, 0)


@contextlib.contextmanager
def _gdal_config(options: Mapping[str, str]) -> Iterator[None]:
    """Set GDAL configuration options for the block, then restore the previous values."""
    import pyogrio

    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


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


def write_json(payload: object, path: str | os.PathLike[str]) -> Path:
    """Write JSON (UTF-8, Chinese kept readable) atomically.

    Parameters
    ----------
    payload
        JSON-ready data (numpy scalars and paths are converted).
    path
        Target file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import json

    import numpy as np

    def convert(value: object) -> object:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, float) and value != value:  # NaN is not JSON
            return None
        return str(value)

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=convert), encoding="utf-8")
    return path


def export_results(results: object, folder: str | os.PathLike[str]) -> list[Path]:
    """Write a study's tables: CSV files, one GeoPackage, homes as GeoParquet, summary.json.

    Parameters
    ----------
    results
        `walkcircle.study.StudyResults`.
    folder
        Output folder (created).

    Returns
    -------
    list of pathlib.Path
        Files written: ``homes.csv``, ``homes.parquet``, ``communities.csv``,
        ``districts.csv``, ``ledger.csv``, ``community_by_category.csv``, ``facilities.csv``,
        ``suggestions.csv`` (if any), ``study.gpkg`` and ``summary.json``.
    """
    folder = Path(folder)
    r = results
    written = [
        write_csv(r.homes, folder / "homes.csv"),  # type: ignore[attr-defined]
        write_geoparquet(r.homes, folder / "homes.parquet"),  # type: ignore[attr-defined]
        write_csv(r.communities, folder / "communities.csv"),  # type: ignore[attr-defined]
        write_csv(r.districts, folder / "districts.csv"),  # type: ignore[attr-defined]
        write_csv(r.ledger, folder / "ledger.csv"),  # type: ignore[attr-defined]
        write_csv(r.community_by_category.reset_index(), folder / "community_by_category.csv"),  # type: ignore[attr-defined]
        write_csv(r.facilities, folder / "facilities.csv"),  # type: ignore[attr-defined]
    ]
    layers: dict[str, pd.DataFrame] = {
        "homes": r.homes,  # type: ignore[attr-defined]
        "facilities": r.facilities,  # type: ignore[attr-defined]
        "edges": r.network.edges_geodataframe(),  # type: ignore[attr-defined]
    }
    communities = r.communities  # type: ignore[attr-defined]
    if isinstance(communities, gpd.GeoDataFrame) and len(communities):
        layers["communities"] = communities
    elif len(communities):
        layers["communities"] = pd.DataFrame(communities)
    layers["districts"] = r.districts  # type: ignore[attr-defined]
    layers["ledger"] = r.ledger  # type: ignore[attr-defined]
    suggestions = [s.sites for s in r.suggestions if len(s.sites)]  # type: ignore[attr-defined]
    if suggestions:
        sites = gpd.GeoDataFrame(
            pd.concat(suggestions, ignore_index=True), geometry="geometry", crs="EPSG:4326"
        )
        layers["suggestions"] = sites
        written.append(write_csv(sites, folder / "suggestions.csv"))
    written.append(write_geopackage(layers, folder / "study.gpkg"))
    written.append(write_json(r.summary, folder / "summary.json"))  # type: ignore[attr-defined]
    return written
