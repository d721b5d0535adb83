"""Official boundary files: Shapefile attribute encodings and coordinate systems of Chinese data.

Land-and-resources bureaus hand out community boundaries as Shapefiles in CGCS2000 (EPSG:4490),
often projected to a Gauss-Krüger zone, with GBK attributes and no ``.cpg`` file. GDAL then reads
the names as Latin-1 mojibake without a word. This module

- finds the attribute encoding of a Shapefile (`shapefile_encoding`): the ``.cpg`` or the
  ``.dbf`` language driver when present, else UTF-8 when the text is valid UTF-8, else GB18030
  (a superset of GBK);
- resolves a declared coordinate system (`CoordinateSystem`): the Chinese web systems
  (``wgs84``, ``gcj02``, ``bd09``) or any CRS pyproj knows (``EPSG:4490``, the 3-degree
  Gauss-Krüger zones EPSG:4513–4554, the 6-degree ones EPSG:4491–4512, ``cgcs2000``);
- explains coordinates without a CRS (`coordinate_hint`): Gauss-Krüger metres with a zone
  prefix name their zone, metres without it and degrees get the codes to choose from.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj

from walkcircle.coords import normalise_crs
from walkcircle.errors import InputError, WalkcircleWarning

GBK_ENCODING = "GB18030"
"""Encoding used for Shapefile text that is not valid UTF-8 (GB18030 decodes all of GBK)."""
CRS_ALIASES = {"cgcs2000": "EPSG:4490", "cgcs 2000": "EPSG:4490", "china2000": "EPSG:4490"}
_DBF_SAMPLE_BYTES = 4_000_000  # enough text to tell UTF-8 from GBK, without reading huge files


def shapefile_encoding(path: str | Path) -> str | None:
    """Return the encoding to read a Shapefile's attributes with, or None to let GDAL decide.

    GDAL decides well when the Shapefile has a ``.cpg`` file or a language driver byte in its
    ``.dbf``; otherwise it assumes ISO-8859-1 and turns Chinese names into mojibake. Then the
    ``.dbf`` records are tested: valid UTF-8 (ASCII included) reads as UTF-8, anything else
    that decodes as GB18030 (GBK's superset) reads as GB18030.

    Parameters
    ----------
    path
        The ``.shp`` file.

    Returns
    -------
    str or None
        ``"UTF-8"``, ``"GB18030"``, or None when GDAL's own choice stands (a ``.cpg`` or a
        language driver is present, or the text is neither UTF-8 nor GB18030).
    """
    path = Path(path)
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    with dbf.open("rb") as handle:
        return dbf_encoding(handle.read(_DBF_SAMPLE_BYTES))


def dbf_encoding(data: bytes) -> str | None:
    """Return the encoding of a ``.dbf`` without language driver (see `shapefile_encoding`).

    Parameters
    ----------
    data
        The first bytes of the ``.dbf`` (header and records).

    Returns
    -------
    str or None
        ``"UTF-8"``, ``"GB18030"``, or None (a language driver is set, or the text is
        neither).
    """
    if len(data) < 32 or data[29] != 0:  # a language driver id: GDAL maps it to a code page itself
        return None
    header_bytes = int.from_bytes(data[8:10], "little")
    return _text_encoding(data[header_bytes:])


def read_shapefile(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a Shapefile, or a ``.zip`` holding one, with its attribute encoding detected.

    Parameters
    ----------
    path
        ``.shp`` or ``.zip``.
    layer
        In a ``.zip`` with several Shapefiles: the one to read (its name, with or without
        ``.shp``).

    Returns
    -------
    geopandas.GeoDataFrame
        The features. When the encoding named by a ``.cpg`` does not decode the text, it is
        read again as GB18030, with a `WalkcircleWarning`.
    """
    if path.suffix.lower() == ".zip":
        source, encoding = _zip_member(path, layer)
    else:
        source, encoding = str(path), shapefile_encoding(path)
    try:
        return gpd.read_file(source, engine="pyogrio", encoding=encoding)
    except UnicodeDecodeError:
        frame = gpd.read_file(source, engine="pyogrio", encoding=GBK_ENCODING)
        warnings.warn(
            f"{path}: the attributes are not in the encoding the .cpg names; read them as GB18030 (GBK)",
            WalkcircleWarning,
            stacklevel=2,
        )
        return frame


def _zip_member(path: Path, layer: str | None) -> tuple[str, str | None]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        shps = [n for n in names if n.lower().endswith(".shp")]
        if layer is not None:
            shps = [n for n in shps if Path(n).stem == Path(layer).stem]
        if len(shps) != 1:
            found = ", ".join(Path(n).name for n in names if n.lower().endswith(".shp")) or "none"
            msg = f"{path}: the zip must hold exactly one Shapefile (found: {found}); unzip it or name one as the layer"
            raise InputError(msg)
        member = shps[0]
        stem = member[: -len(".shp")]
        lowered = {n.lower(): n for n in names}
        encoding = None
        if f"{stem}.cpg".lower() not in lowered and f"{stem}.dbf".lower() in lowered:
            with archive.open(lowered[f"{stem}.dbf".lower()]) as handle:
                encoding = dbf_encoding(handle.read(_DBF_SAMPLE_BYTES))
    return f"/vsizip/{path.resolve()}/{member}", encoding


def _text_encoding(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        truncated = len(data) == _DBF_SAMPLE_BYTES and exc.start >= len(data) - 3
        if truncated:  # the sample ends in the middle of a UTF-8 character
            return "UTF-8"
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            return None
        return GBK_ENCODING
    return "UTF-8"


@dataclass(frozen=True)
class CoordinateSystem:
    """A declared coordinate system: a Chinese web system or a pyproj CRS.

    Attributes
    ----------
    web
        ``wgs84``, ``gcj02`` or ``bd09`` when declared as one of these (degrees), else None.
    crs
        The pyproj CRS when declared as one (EPSG code, WKT, ``cgcs2000``), else None.
    text
        As the user wrote it.
    """

    web: str | None
    crs: pyproj.CRS | None
    text: str

    @classmethod
    def parse(cls, text: str | None, source: object) -> CoordinateSystem | None:
        """Parse a declared coordinate system.

        Parameters
        ----------
        text
            ``wgs84``/``gcj02``/``bd09`` (and aliases), an EPSG code (``EPSG:4548`` or
            ``4548``), ``cgcs2000``, or anything `pyproj.CRS.from_user_input` reads; None
            for "not declared".
        source
            The file, for messages.

        Returns
        -------
        CoordinateSystem or None
            None when `text` is None.
        """
        if text is None:
            return None
        raw = str(text).strip()
        try:
            return cls(normalise_crs(raw), None, raw)
        except ValueError:
            pass
        spec = CRS_ALIASES.get(raw.lower(), raw)
        if spec.isdigit():
            spec = f"EPSG:{spec}"
        try:
            crs = pyproj.CRS.from_user_input(spec)
        except pyproj.exceptions.CRSError as exc:
            msg = (
                f"{source}: unknown coordinate system {raw!r}; use wgs84, gcj02 (AMap/Gaode, Tencent), "
                "bd09 (Baidu), or an EPSG code such as EPSG:4490 (CGCS2000) or EPSG:4547 (CGCS2000 3-degree GK CM 114E)"
            )
            raise InputError(msg) from exc
        return cls(None, crs, raw)


def looks_like_degrees(x: np.ndarray, y: np.ndarray) -> bool:
    """Tell whether coordinates are longitude/latitude degrees.

    Parameters
    ----------
    x, y
        Coordinates (NaN ignored).

    Returns
    -------
    bool
        True when every finite value fits |x| <= 180, |y| <= 90.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    return bool(ok.any() and (np.abs(x[ok]) <= 180).all() and (np.abs(y[ok]) <= 90).all())


def gk_zone_epsg(x: float) -> int | None:
    """Return the CGCS2000 Gauss-Krüger EPSG code that a zone-prefixed easting names.

    Eastings with a zone prefix carry the zone number in their millions: 38,500,000 is zone 38.
    3-degree zones are 25–45 (EPSG:4513–4533), 6-degree zones 13–23 (EPSG:4491–4501); the two
    ranges do not overlap, so the prefix alone names the CRS.

    Parameters
    ----------
    x
        Easting, metres.

    Returns
    -------
    int or None
        The EPSG code, or None when `x` holds no valid zone prefix.
    """
    zone = int(x // 1_000_000)
    if not 100_000 <= x - zone * 1_000_000 <= 900_000:
        return None
    if 25 <= zone <= 45:
        return 4513 + zone - 25
    if 13 <= zone <= 23:
        return 4491 + zone - 13
    return None


def coordinate_hint(x: np.ndarray, y: np.ndarray) -> str:
    """Say what coordinates without a CRS look like, and which setting to declare.

    Parameters
    ----------
    x, y
        Coordinates as written in the file.

    Returns
    -------
    str
        One sentence naming the likely coordinate system(s) and the EPSG codes.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return "the file has no coordinates"
    mx, my = float(np.median(x[ok])), float(np.median(y[ok]))
    if looks_like_degrees(x, y):
        return (
            "the numbers look like longitude/latitude degrees: wgs84 (GPS, OSM; CGCS2000 EPSG:4490 is the same "
            "to a few cm), gcj02 (AMap/Gaode, Tencent) or bd09 (Baidu)"
        )
    if 1_000_000 <= my <= 6_000_000:
        epsg = gk_zone_epsg(mx)
        if epsg is not None:
            name = pyproj.CRS.from_epsg(epsg).name
            return f"the numbers look like Gauss-Krüger metres with zone prefix {int(mx // 1_000_000)}: EPSG:{epsg} ({name})"
        if 100_000 <= mx <= 900_000:
            return (
                "the numbers look like Gauss-Krüger metres without a zone prefix: the EPSG code of the zone's "
                "central meridian, e.g. EPSG:4547 (CGCS2000 3-degree CM 114E, Hebi) or EPSG:4548 (CM 117E, Beijing); "
                "3-degree CM 75E-135E are EPSG:4534-4554, 6-degree EPSG:4502-4512 (UTM looks alike: EPSG:326xx)"
            )
    return "the numbers are neither degrees nor Gauss-Krüger metres; find the CRS in the data's metadata"
