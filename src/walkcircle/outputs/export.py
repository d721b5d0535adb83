"""Tables out: GeoPackage (a layer per table), GeoParquet and CSV, written atomically.

Every writer writes to a temporary file in the target folder and renames it into place, so
a crash or Ctrl-C never leaves a half-written output under the final name.

CSV files are for reading and spreadsheets: `tidy_table` rounds numbers by kind of column
(coordinates 6 decimals, metres 1, minutes 2, shares 4; `walkcircle.defaults.CSV_DECIMALS`),
drops geometry (it lives in the GeoPackage and GeoParquet files; point tables keep ``lon``/``lat``)
and, given a language, writes headers in it. GIS files are written in WGS-84 (EPSG:4326) by
default, or in CGCS2000 (EPSG:4490) or one of its Gauss-Krueger zones (`output_crs`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError

from walkcircle.defaults import CGCS2000_GK_EPSG, CSV_DECIMALS, DEFAULT_OUTPUT_CRS, OUTPUT_CRS_EPSG
from walkcircle.errors import InputError

if TYPE_CHECKING:
    from walkcircle.network import WalkNetwork
    from walkcircle.profile import Profile
    from walkcircle.study import StudyResults


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


@dataclass(frozen=True)
class ArrowLayer:
    """A layer already in Arrow form: attributes and WKB geometry, for `write_geopackage`.

    Attributes
    ----------
    table
        Attribute columns and a ``geometry`` column of WKB (a ``pyarrow.Table``).
    geometry_type
        OGR geometry type of every row, e.g. ``"LineString"``.
    crs
        Coordinate system of the geometry.
    """

    table: Any
    geometry_type: str
    crs: CRS


def write_geopackage(layers: Mapping[str, pd.DataFrame | ArrowLayer], path: str | os.PathLike[str]) -> Path:
    """Write tables as layers of one GeoPackage.

    Layers go to GDAL as Arrow tables (one columnar transfer instead of one OGR feature per
    row) and SQLite does not wait for the disk after each layer: the file is a temporary one
    that is renamed into place only when complete, so an interrupted write never survives
    under the final name either way.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame (or plain DataFrame, written as an attribute table, or an
        `ArrowLayer` such as `edges_layer`).
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
            if isinstance(frame, ArrowLayer):
                _write_arrow_layer(frame, tmp, name)
            else:
                _write_layer(frame, tmp, name)
    return path


def _write_arrow_layer(layer: ArrowLayer, path: Path, name: str) -> None:
    import pyogrio

    pyogrio.write_arrow(
        layer.table, path, layer=name, driver="GPKG", geometry_name="geometry",
        geometry_type=layer.geometry_type, crs=layer.crs.to_wkt(),
    )  # fmt: skip


def edges_layer(network: WalkNetwork, crs: str | int | CRS = DEFAULT_OUTPUT_CRS) -> ArrowLayer:
    """Return the network's edges as a GeoPackage layer, WKB packed from the vertex arrays.

    The same columns and lines as ``network.edges_geodataframe().to_crs(crs)``, without making
    a shapely geometry per edge (at city size that and its WKB took longer than GDAL's write).

    Parameters
    ----------
    network
        The walking network.
    crs
        Coordinate system of the layer (`output_crs`).

    Returns
    -------
    ArrowLayer
        u, v (OSM node ids), way_id, highway, name, length_m, component and the lines.
    """
    import pyarrow as pa

    from walkcircle.geodesy import to_projected

    target = output_crs(crs)
    x, y = np.asarray(network.geom_lon, np.float64), np.asarray(network.geom_lat, np.float64)
    if target.to_epsg() != 4326:  # output_crs gives EPSG codes only
        x, y = to_projected(x, y, target.to_epsg())
    table = pa.table({k: pa.array(v) for k, v in network.edge_attributes().items()})
    table = table.append_column("geometry", linestrings_wkb(x, y, np.asarray(network.geom_offsets)))
    return ArrowLayer(table, "LineString", target)


def linestrings_wkb(x: np.ndarray, y: np.ndarray, offsets: np.ndarray) -> Any:
    """Pack flat vertex arrays as little-endian 2D WKB LineStrings in one Arrow binary array.

    Parameters
    ----------
    x, y
        Vertex coordinates, line after line.
    offsets
        Line ``i`` is vertices ``offsets[i]:offsets[i + 1]`` (length: lines + 1).

    Returns
    -------
    pyarrow.BinaryArray
        One WKB value per line, byte for byte what ``shapely.to_wkb`` writes for it.
    """
    import pyarrow as pa

    counts = np.diff(offsets).astype(np.int64)
    n = counts.size
    sizes = 9 + 16 * counts
    value_offsets = np.zeros(n + 1, np.int64)
    np.cumsum(sizes, out=value_offsets[1:])
    header = np.empty((n, 9), np.uint8)
    header[:, 0] = 1  # little endian
    header[:, 1:5] = np.frombuffer(np.uint32(2).astype("<u4").tobytes(), np.uint8)  # LineString
    header[:, 5:9] = counts.astype("<u4").view(np.uint8).reshape(n, 4)
    body = np.empty(int(value_offsets[-1]), np.uint8)
    is_header = np.zeros(body.size, bool)
    is_header[(value_offsets[:-1, None] + np.arange(9)).ravel()] = True
    body[is_header] = header.ravel()
    body[~is_header] = np.column_stack([x, y]).astype("<f8").view(np.uint8).ravel()
    kind, index = (
        (pa.large_binary(), value_offsets)
        if body.size >= 2**31
        else (pa.binary(), value_offsets.astype(np.int32))
    )
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(index), pa.py_buffer(body)])


def output_crs(crs: str | int | CRS = DEFAULT_OUTPUT_CRS) -> CRS:
    """Validate the coordinate system of the GIS outputs.

    Parameters
    ----------
    crs
        ``"EPSG:4326"`` (WGS-84, default), ``"EPSG:4490"`` (CGCS2000), a CGCS2000 Gauss-Krueger
        zone (``"EPSG:4491"`` to ``"EPSG:4554"``, e.g. ``"EPSG:4547"`` for the 3-degree zone on
        114°E around Hebi), or the bare number.

    Returns
    -------
    pyproj.CRS
        The coordinate system.

    Raises
    ------
    InputError
        Anything else, in one line naming the setting and the choices.
    """
    choices = "use EPSG:4326 (WGS-84), EPSG:4490 (CGCS2000) or a CGCS2000 Gauss-Krueger zone EPSG:4491-4554"
    try:
        parsed = CRS.from_user_input(f"EPSG:{crs}" if isinstance(crs, int) or str(crs).isdigit() else crs)
    except CRSError:
        msg = f"output_crs {crs!r} is not a coordinate system; {choices}"
        raise InputError(msg) from None
    epsg = parsed.to_epsg()
    low, high = CGCS2000_GK_EPSG
    if epsg is None or not (epsg in OUTPUT_CRS_EPSG or low <= epsg <= high):
        msg = f"output_crs {crs!r} is not supported for GIS outputs; {choices}"
        raise InputError(msg)
    return parsed


def column_kind(column: str) -> str:
    """Say what a result column holds, for rounding: a key of `walkcircle.defaults.CSV_DECIMALS`.

    Parameters
    ----------
    column
        Column id (``lon``, ``minutes_park``, ``coverage_park``, ``threshold_m`` ...).

    Returns
    -------
    str
        ``coordinate``, ``metres``, ``minutes``, ``share``, ``score``, ``residents`` or ``other``.
    """
    name = column.lower()
    if name in ("lon", "lat", "x", "y") or name.endswith(("_lon", "_lat")):
        return "coordinate"
    if name.startswith("minutes_") or name.endswith(("_min", "_minutes")):
        return "minutes"
    if name.endswith(("_m", "_km")):
        return "metres"
    if name.startswith(("coverage_", "share_")) or name.endswith(("_share", "_ratio")):
        return "share"
    if name == "score" or name.startswith("score_"):
        return "score"
    if name in ("population", "residents_affected", "gain_population", "covered_after") or name.startswith(
        ("affected_", "residents_")
    ):
        return "residents"
    return "other"


def tidy_table(
    frame: pd.DataFrame,
    lang: str | None = None,
    profile: Profile | None = None,
    decimals: Mapping[str, int] = CSV_DECIMALS,
) -> pd.DataFrame:
    """Make a result table readable: rounded numbers, no geometry, optional translated headers.

    Parameters
    ----------
    frame
        A result table (GeoDataFrame or DataFrame; not changed).
    lang
        ``"zh"`` or ``"en"`` for headers in that language; None keeps the column ids.
    profile
        Category names for the headers (and to know that category columns hold shares).
    decimals
        Decimals per kind of column (`column_kind`).

    Returns
    -------
    pandas.DataFrame
        A plain DataFrame. Point geometries become ``lon``/``lat`` when those are missing.
    """
    table = pd.DataFrame(frame).copy()
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in table:
        geometry = frame.geometry
        if "lon" not in table and len(frame) and (geometry.geom_type == "Point").all():
            table["lon"], table["lat"] = geometry.x.to_numpy(), geometry.y.to_numpy()
    table = table.drop(
        columns=[c for c in table.columns if isinstance(table[c].dtype, gpd.array.GeometryDtype)]
    )
    categories = {c.id for c in profile.categories} if profile is not None else set()
    for column in table.columns:
        if not pd.api.types.is_float_dtype(table[column].dtype):
            continue
        kind = "share" if column in categories else column_kind(str(column))
        table[column] = table[column].round(decimals[kind])
    if lang is not None:
        from walkcircle.i18n import localise_columns

        table = localise_columns(table, lang, profile)
    return table


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

    Geometry columns are written as WKT; `export_results` tidies its tables first
    (`tidy_table`), so its CSV files carry none. The text is what pandas' ``to_csv`` writes,
    byte for byte; Arrow writes it when every column is of a kind it handles
    (`_arrow_csv_columns`), pandas otherwise.

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
    text = _arrow_csv_columns(table)
    with atomic_path(path) as tmp:
        if text is None:
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            _write_arrow_csv(text, tmp)
    return path


_CSV_STRUCTURAL = r'[",\r\n]'
"""A value holding any of these needs quoting in a CSV file."""

_FLOAT_PLAIN_RANGE = (1e-4, 1e16)
"""Magnitudes numpy writes without an exponent (Arrow too, unless it finds one shorter)."""


def _arrow_csv_columns(frame: pd.DataFrame) -> Any:
    """Return `frame` as an Arrow table of the text pandas' ``to_csv`` would write, or None.

    Arrow writes the text in C++, about 8 times faster than ``to_csv`` at city size (which
    spends most of its time formatting floats through numpy). Each column is formatted as
    pandas formats it: floats as their shortest round-trip repr (Arrow's cast, with ".0" added
    to whole numbers; numpy's own text outside `_FLOAT_PLAIN_RANGE` and where Arrow chose an
    exponent), booleans as ``True``/``False``, missing values empty. None (so the caller uses
    pandas) when a column is of another kind, a name or value needs quoting, the names are not
    unique, there is only one column, or ``os.linesep`` is not a newline alone (Arrow ends
    lines with a newline, pandas with ``os.linesep``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [str(name) for name in frame.columns]
    if (
        os.linesep != "\n"
        or len(names) < 2
        or len(set(names)) != len(names)
        or any(_needs_quoting(name) for name in names)
    ):
        return None  # (a lone empty field is written quoted)
    columns = []
    for name in frame.columns:
        column = _arrow_text(frame[name], pa, pc)
        if column is None:
            return None
        columns.append(column)
    return pa.table(columns, names=names)


def _needs_quoting(text: str) -> bool:
    import re

    return re.search(_CSV_STRUCTURAL, text) is not None


def _arrow_text(series: pd.Series, pa: Any, pc: Any) -> Any:
    """One column as Arrow text (or integers), formatted as pandas writes it; None if not handled."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        values = pa.array(series, from_pandas=True)
        return pc.if_else(values, pa.scalar("True"), pa.scalar("False"))
    if pd.api.types.is_integer_dtype(dtype):
        return pa.array(series, from_pandas=True)
    if dtype == np.float64 or isinstance(dtype, pd.Float64Dtype):
        return _float_text(series.to_numpy(np.float64, na_value=np.nan), pa, pc)
    if pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        try:
            values = pa.array(series, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column holding more than text
            return None
        if pc.any(pc.match_substring_regex(values, _CSV_STRUCTURAL)).as_py():
            return None
        return values
    return None


def _float_text(values: np.ndarray, pa: Any, pc: Any) -> Any:
    """Floats as numpy's repr text (NaN as a missing value), through Arrow's cast."""
    magnitude = np.abs(values)
    low, high = _FLOAT_PLAIN_RANGE
    negative_zero = (values == 0) & np.signbit(values)
    with np.errstate(invalid="ignore"):
        whole = (magnitude < high) & (values == np.trunc(values)) & ~negative_zero
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    if whole.any():  # numpy writes 12.0 where Arrow writes 12 (and 1e+10 for 10000000000.0)
        digits = pc.binary_join_element_wise(
            pc.cast(pa.array(np.where(whole, values, 0).astype(np.int64)), pa.string()), pa.scalar(".0"), ""
        )
        text = pc.if_else(pa.array(whole), digits, text)
    other = ~whole & np.isfinite(values) & (magnitude > 0) & ((magnitude < low) | (magnitude >= high))
    other |= negative_zero
    other |= pc.fill_null(pc.match_substring(text, "e"), False).to_numpy(zero_copy_only=False)
    if other.any():
        replaced = np.array(text.to_pylist(), dtype=object)
        replaced[other] = values[other].astype(str)
        text = pa.array(replaced, type=pa.string())
    return text


def _write_arrow_csv(table: Any, path: Path) -> None:
    """Write an Arrow table of text as CSV: a UTF-8 byte-order mark, a header, no quoting."""
    import pyarrow.csv as pcsv

    with path.open("wb") as stream:
        stream.write(("\ufeff" + ",".join(table.column_names) + "\n").encode())  # Arrow would quote the names
        options = pcsv.WriteOptions(include_header=False, quoting_style="none")
        pcsv.write_csv(table, stream, write_options=options)


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


EXPORT_PARTS = ("tables", "geopackage")
"""What `export_results` writes: the tables (CSV, ``homes.parquet``, ``summary.json``) and ``study.gpkg``."""


def export_results(
    results: StudyResults,
    folder: str | os.PathLike[str],
    *,
    lang: str | None = None,
    profile: Profile | None = None,
    crs: str | int = DEFAULT_OUTPUT_CRS,
    parts: Collection[str] = EXPORT_PARTS,
) -> list[Path]:
    """Write a study's tables: CSV files, one GeoPackage, homes as GeoParquet, summary.json.

    Parameters
    ----------
    results
        `walkcircle.study.StudyResults`.
    folder
        Output folder (created).
    lang
        Headers of the CSV files in ``"zh"`` or ``"en"``; None keeps the column ids.
        ``summary.json`` keys and GIS field names always stay ids.
    profile
        Category names for the CSV headers.
    crs
        Coordinate system of ``study.gpkg`` and ``homes.parquet`` (`output_crs`).
    parts
        Which of `EXPORT_PARTS` to write (``write_study`` writes them as two jobs, each taken by
        whichever process is free).

    Returns
    -------
    list of pathlib.Path
        Files written: ``homes.csv``, ``homes.parquet``, ``communities.csv``,
        ``districts.csv``, ``ledger.csv``, ``community_by_category.csv``, ``facilities.csv``,
        ``suggestions.csv`` (if any) and ``summary.json`` (the tables), ``study.gpkg``.
    """
    unknown = set(parts) - set(EXPORT_PARTS)
    if unknown:
        msg = f"unknown export parts {sorted(unknown)}: choose from {list(EXPORT_PARTS)}"
        raise ValueError(msg)
    target_crs = output_crs(crs)
    folder = Path(folder)
    written = []
    if "tables" in parts:
        written += _export_tables(results, folder, lang, profile, target_crs)
    if "geopackage" in parts:
        written.append(_export_geopackage(results, folder, target_crs))
    return written


def _gis(frame: pd.DataFrame, crs: CRS) -> pd.DataFrame:
    """Return a GeoDataFrame in the output CRS (anything else as it is)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and len(frame):
        return frame.to_crs(crs)
    return frame


def _suggested_sites(results: StudyResults) -> gpd.GeoDataFrame | None:
    suggestions = [s.sites for s in results.suggestions if len(s.sites)]
    if not suggestions:
        return None
    return gpd.GeoDataFrame(pd.concat(suggestions, ignore_index=True), geometry="geometry", crs="EPSG:4326")


def _export_tables(
    results: StudyResults, folder: Path, lang: str | None, profile: Profile | None, crs: CRS
) -> list[Path]:
    """Write the CSV files, ``homes.parquet`` and ``summary.json`` of `export_results`."""
    r = results

    def csv(frame: pd.DataFrame, name: str) -> Path:
        return write_csv(tidy_table(frame, lang, profile), folder / name)

    written = [
        csv(r.homes, "homes.csv"),
        write_geoparquet(_gis(r.homes, crs), folder / "homes.parquet"),
        csv(r.communities, "communities.csv"),
        csv(r.districts, "districts.csv"),
        csv(r.ledger, "ledger.csv"),
        csv(r.community_by_category.reset_index(), "community_by_category.csv"),
        csv(r.facilities, "facilities.csv"),
    ]
    sites = _suggested_sites(r)
    if sites is not None:
        written.append(csv(sites, "suggestions.csv"))
    written.append(write_json(r.summary, folder / "summary.json"))
    return written


def _export_geopackage(results: StudyResults, folder: Path, crs: CRS) -> Path:
    """Write ``study.gpkg`` of `export_results`: a layer per table, the street edges, service areas."""
    r = results
    layers: dict[str, pd.DataFrame | ArrowLayer] = {
        "homes": _gis(r.homes, crs),
        "facilities": _gis(r.facilities, crs),
        "edges": edges_layer(r.network, crs),
    }
    communities = r.communities
    if isinstance(communities, gpd.GeoDataFrame) and len(communities):
        layers["communities"] = _gis(communities, crs)
    elif len(communities):
        layers["communities"] = pd.DataFrame(communities)
    if getattr(r, "service_areas", None) is not None and len(r.service_areas):
        layers["service_areas"] = _gis(r.service_areas, crs)
    layers["districts"] = r.districts
    layers["ledger"] = r.ledger
    sites = _suggested_sites(r)
    if sites is not None:
        layers["suggestions"] = _gis(sites, crs)
    return write_geopackage(layers, folder / "study.gpkg")
