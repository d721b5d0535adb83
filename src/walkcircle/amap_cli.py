"""``walkcircle amap ...``: AMap (高德) POIs and geocoding from the command line.

A thin Typer sub-app over `walkcircle.sources.amap`; the main CLI mounts it with
``app.add_typer(amap_cli.app, name="amap")``. The key comes from ``--key`` or the
``AMAP_KEY`` environment variable and is never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from walkcircle.defaults import (
    DEFAULT_AMAP_QPS,
    DEFAULT_AMAP_RESULT_CAP,
    DEFAULT_AMAP_TIMEOUT_S,
    DEFAULT_AMAP_URL,
    DEFAULT_CACHE_DIR,
    DEFAULT_PROFILE,
)
from walkcircle.errors import WalkcircleError

app = typer.Typer(
    help="AMap (高德) Web Service: POIs for a profile, geocoding of community names.", no_args_is_help=True
)

KeyOption = Annotated[
    str | None, typer.Option("--key", help="AMap Web Service key (default: $AMAP_KEY).", show_default=False)
]
UrlOption = Annotated[str, typer.Option("--amap-url", help="AMap Web Service base URL.")]
CacheOption = Annotated[Path, typer.Option("--cache-dir", help="Cache folder (answers go to <dir>/amap).")]
QpsOption = Annotated[float, typer.Option("--qps", help="Requests per second at most.")]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Per-request timeout, seconds.")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        _fail(f"--bbox {text!r}: expected W,S,E,N in degrees (WGS-84), e.g. 114.25,35.70,114.35,35.78")
        raise  # unreachable: _fail exits
    return west, south, east, north


@app.command()
def pois(
    out: Annotated[
        Path, typer.Option("--out", help="Output CSV (GCJ-02 'location'; read it with --crs gcj02).")
    ] = Path("pois.csv"),
    bbox: Annotated[str | None, typer.Option("--bbox", help="W,S,E,N in WGS-84 degrees.")] = None,
    boundary: Annotated[
        Path | None, typer.Option("--boundary", help="Boundary polygon file (GeoJSON, GPKG, Shapefile).")
    ] = None,
    place: Annotated[
        str | None, typer.Option("--place", help="District name or adcode (AMap district outline).")
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="Profile whose AMap type codes are fetched.")
    ] = DEFAULT_PROFILE,
    key: KeyOption = None,
    amap_url: UrlOption = DEFAULT_AMAP_URL,
    cache_dir: CacheOption = DEFAULT_CACHE_DIR,
    qps: QpsOption = DEFAULT_AMAP_QPS,
    timeout: TimeoutOption = DEFAULT_AMAP_TIMEOUT_S,
    cap: Annotated[
        int, typer.Option("--cap", help="Results one query may reach before its cell is split in four.")
    ] = DEFAULT_AMAP_RESULT_CAP,
) -> None:
    """Fetch the POIs of a profile's AMap type codes inside an area into a CSV."""
    from walkcircle.profile import load_profile
    from walkcircle.sources import amap

    if sum(v is not None for v in (bbox, boundary, place)) != 1:
        _fail("give exactly one of --bbox, --boundary or --place")
    try:
        client = amap.AmapClient(key=key, base_url=amap_url, cache_dir=cache_dir, qps=qps, timeout_s=timeout)
        prof = load_profile(profile)
        if bbox is not None:
            area = amap.area_from_bbox(_parse_bbox(bbox))
        elif boundary is not None:
            area = amap.area_from_boundary(boundary)
        else:
            area = amap.area_from_place(str(place), client)
        fetch = amap.fetch_pois(area, amap.amap_types(prof), client, cap=cap)
        amap.write_table(fetch.table, out)
    except WalkcircleError as exc:
        _fail(str(exc))
        return
    for warning in fetch.warnings:
        typer.echo(f"warning: {warning}", err=True)
    counts = ", ".join(f"{k} {v}" for k, v in fetch.summary().items())
    typer.echo(
        f"{out}: {counts}; requests {client.requests_sent}, cached {client.cache_hits} (GCJ-02, read with --crs gcj02)"
    )


@app.command()
def geocode(
    names: Annotated[Path, typer.Argument(help="Table of community names (CSV, UTF-8 or GBK).")],
    out: Annotated[
        Path, typer.Option("--out", help="Output CSV: input columns + lon/lat (WGS-84), level, status.")
    ] = Path("points.csv"),
    city: Annotated[str | None, typer.Option("--city", help="City to search in, e.g. 鹤壁.")] = None,
    name_col: Annotated[str | None, typer.Option("--name-col", help="Column holding the names.")] = None,
    key: KeyOption = None,
    amap_url: UrlOption = DEFAULT_AMAP_URL,
    cache_dir: CacheOption = DEFAULT_CACHE_DIR,
    qps: QpsOption = DEFAULT_AMAP_QPS,
    timeout: TimeoutOption = DEFAULT_AMAP_TIMEOUT_S,
) -> None:
    """Geocode community names to points (WGS-84); unmatched names stay, with empty coordinates."""
    from walkcircle.sources import amap

    try:
        client = amap.AmapClient(key=key, base_url=amap_url, cache_dir=cache_dir, qps=qps, timeout_s=timeout)
        table = amap.geocode_table(names, city, client, name_col=name_col)
        amap.write_table(table, out)
    except WalkcircleError as exc:
        _fail(str(exc))
        return
    status = table["geocode_status"].value_counts().to_dict()
    missing = table.loc[table["geocode_status"] != "ok"]
    typer.echo(
        f"{out}: {len(table)} rows ({', '.join(f'{k} {v}' for k, v in status.items())}); lon/lat in WGS-84"
    )
    if len(missing):
        typer.echo(
            f"warning: {len(missing)} names not matched (listed in {out} with empty coordinates)", err=True
        )
