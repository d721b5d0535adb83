"""``walkcircle amap ...``: AMap (高德) POIs for a profile and geocoding, over `walkcircle.sources.amap`."""

from pathlib import Path
from typing import Annotated, Any

import typer

from walkcircle import defaults as d
from walkcircle.cli._common import COMMON, options, require
from walkcircle.outputs.console import say

app = typer.Typer(
    help="AMap (高德) Web Service: POIs for a profile, geocoding of community names.", no_args_is_help=True
)
CLIENT = ("key", "amap_url", "cache_dir", "qps", "timeout")


def _client(flags: dict[str, Any]) -> Any:
    from walkcircle.sources.amap import AmapClient

    return AmapClient(
        key=flags["key"], base_url=flags["amap_url"] or d.DEFAULT_AMAP_URL, cache_dir=flags["cache_dir"] or d.DEFAULT_CACHE_DIR,
        qps=flags["qps"] or d.DEFAULT_AMAP_QPS, timeout_s=flags["timeout"] or d.DEFAULT_AMAP_TIMEOUT_S,
    )  # fmt: skip


@app.command()
@options("bbox", "boundary", "place", "profile", "out_csv", "cap", *CLIENT, *COMMON)
def pois(*, flags: dict[str, Any]) -> None:
    """Fetch the POIs of a profile's AMap type codes inside an area into a CSV (GCJ-02: read it with --crs gcj02)."""
    from walkcircle.profile import load_profile
    from walkcircle.settings import build_settings
    from walkcircle.sources import amap

    bbox = (
        build_settings({"bbox": flags["bbox"]}, check_profile=False).sources.bbox if flags["bbox"] else None
    )
    client, out = _client(flags), flags["out_csv"] or Path("pois.csv")
    area = amap.area_for(client, bbox, flags["boundary"], flags["place"])
    types = amap.amap_types(load_profile(flags["profile"] or d.DEFAULT_PROFILE))
    fetch = amap.fetch_pois(area, types, client, cap=flags["cap"] or d.DEFAULT_AMAP_RESULT_CAP)
    amap.write_table(fetch.table, out)
    counts = ", ".join(f"{k} {v}" for k, v in fetch.summary().items())
    line = f"{out}: {counts}; requests {client.requests_sent}, cached {client.cache_hits} (GCJ-02, read with --crs gcj02)"
    payload = {"out": str(out), **fetch.summary(), "requests": client.requests_sent}
    say(flags, payload, [], list(fetch.warnings), line)


@app.command()
@options("city", "name_col", "out_csv", *CLIENT, *COMMON)
def geocode(
    names: Annotated[Path, typer.Argument(help="Table of community names (CSV, UTF-8 or GBK)")],
    *,
    flags: dict[str, Any],
) -> None:
    """Geocode community names to points (WGS-84); unmatched names stay, with empty coordinates."""
    from walkcircle.sources import amap

    require(flags, "city")
    out = flags["out_csv"] or Path("points.csv")
    table = amap.geocode_table(names, flags["city"], _client(flags), name_col=flags["name_col"])
    amap.write_table(table, out)
    status = table["geocode_status"].value_counts().to_dict()
    missing = int((table["geocode_status"] != "ok").sum())
    line = f"{out}: {len(table)} rows ({', '.join(f'{k} {v}' for k, v in status.items())}); lon/lat in WGS-84"
    warnings = [f"{missing} names not matched (listed in {out} with empty coordinates)"] if missing else []
    say(flags, {"out": str(out), "rows": len(table), "status": status}, [], warnings, line)
