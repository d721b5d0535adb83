"""The ``walkcircle`` command (Typer + Rich).

Exit codes: 0 ok, 1 a failure walkcircle can explain (bad input, download refused...),
2 a usage error (unknown option, conflicting flags). Errors are one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from walkcircle.errors import WalkcircleError

app = typer.Typer(
    name="walkcircle",
    help=(
        "15-minute life circles on real walking networks: who can walk to which daily "
        "services in 5, 10 and 15 minutes, where the gaps are, where to build next."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

err_console = Console(stderr=True)
out_console = Console()


class UsageError(WalkcircleError):
    """Conflicting or missing command-line options (exit status 2)."""


def fail(message: str, code: int = 1) -> None:
    """Print one error line to stderr and exit.

    Parameters
    ----------
    message
        The message.
    code
        Exit status.
    """
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def handled_errors() -> Iterator[None]:
    """Turn walkcircle's own errors into one line and an exit status.

    Yields
    ------
    None
        Runs the block.
    """
    try:
        yield
    except UsageError as exc:
        fail(str(exc), code=2)
    except WalkcircleError as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: nothing half-written was left behind")
        raise typer.Exit(130) from None


def print_json(payload: Any) -> None:
    """Print JSON on stdout (plain, for machines).

    Parameters
    ----------
    payload
        JSON-ready data.
    """
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str, rows: list[tuple[str, Any]], caption: str | None = None) -> None:
    """Print a two-column table.

    Parameters
    ----------
    title
        Table title.
    rows
        (label, value) pairs.
    caption
        Small print under the table (e.g. the source).
    """
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    out_console.print(table)
    if caption:
        out_console.print(caption, style="dim", soft_wrap=True, highlight=False)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``west,south,east,north``.

    Parameters
    ----------
    text
        Comma-separated degrees, or None.

    Returns
    -------
    tuple or None
        The bounding box.
    """
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        msg = f"--bbox {text!r}: expected four numbers west,south,east,north (degrees)"
        raise UsageError(msg)
    return values  # type: ignore[return-value]


def network_options_to_network(
    osm: Path | None,
    place: str | None,
    bbox: str | None,
    overpass_url: str | None,
    timeout: float,
    cache_dir: Path,
    include_private: bool,
    status: Callable[[str], Any] | None = None,
    demo: bool = False,
) -> Any:
    """Load a WalkNetwork from the shared network options of several commands.

    Parameters
    ----------
    osm, place, bbox
        The source: a file, a place name, or a bbox (exactly one, or none with `demo`).
    overpass_url, timeout, cache_dir
        Download settings.
    include_private
        Walk rules option.
    status
        Called with a message before slow steps.
    demo
        Use the offline demo extract.

    Returns
    -------
    WalkNetwork
        The network.
    """
    from walkcircle.sources.osm import OverpassConfig, WalkRules, download_network, read_network

    given = [x is not None for x in (osm, place, bbox)]
    if demo:
        if any(given):
            msg = "--demo uses its own extract; drop --osm/--place/--bbox"
            raise UsageError(msg)
        from walkcircle.sources.demo import demo_osm_path

        osm = demo_osm_path()
    elif sum(given) == 0:
        msg = "give a network source: --osm FILE, --place TEXT or --bbox W,S,E,N"
        raise UsageError(msg)
    if sum(given) > 1:
        msg = "give only one of --osm, --place and --bbox"
        raise UsageError(msg)
    rules = WalkRules(include_private=include_private)
    if osm is not None:
        if status:
            status(f"reading {osm}")
        return read_network(osm, rules)
    config = OverpassConfig(
        overpass_url=overpass_url or OverpassConfig.overpass_url,
        timeout_s=timeout,
        cache_dir=cache_dir,
    )
    if status:
        status(f"downloading from {config.overpass_url}")
    return download_network(place=place, bbox=parse_bbox(bbox), config=config, rules=rules)


OsmOpt = Annotated[
    Path | None,
    typer.Option(
        "--osm", help="OpenStreetMap file: .osm, .osm.xml, .osm.bz2, .osm.gz, .osm.pbf, or osmnx .graphml"
    ),
]
PlaceOpt = Annotated[
    str | None,
    typer.Option("--place", help="Place name to download from Overpass, e.g. '淇滨区, 鹤壁市, 河南省'"),
]
BboxOpt = Annotated[
    str | None, typer.Option("--bbox", help="Area to download: west,south,east,north in degrees")
]
OverpassOpt = Annotated[
    str | None, typer.Option("--overpass-url", help="Overpass API base URL (default overpass-api.de)")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Download timeout, seconds", min=1)]
CacheOpt = Annotated[Path, typer.Option("--cache-dir", help="Download cache folder")]
PrivateOpt = Annotated[
    bool, typer.Option("--include-private", help="Also walk access=private ways (gated compounds)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]


def _version_callback(value: bool) -> None:
    if value:
        from walkcircle import __version__

        out_console.print(f"walkcircle {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit", callback=_version_callback, is_eager=True
        ),
    ] = False,
) -> None:
    """15-minute life circles on real walking networks."""


@app.command()
def network(
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write the edges to (network.gpkg)")
    ] = None,
    as_json: JsonOpt = False,
    overpass_url: OverpassOpt = None,
    timeout: TimeoutOpt = 180.0,
    cache_dir: CacheOpt = Path("data/raw"),
    include_private: PrivateOpt = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the offline demo extract (Helsinki centre)")
    ] = False,
) -> None:
    """Load a walking network and summarise it (nodes, edges, km, islands)."""
    with handled_errors():
        with err_console.status("loading network", spinner="dots") as spinner:
            net = network_options_to_network(
                osm,
                place,
                bbox,
                overpass_url,
                timeout,
                cache_dir,
                include_private,
                status=lambda m: spinner.update(m),
                demo=demo,
            )
        summary = net.summary()
        written = None
        if out is not None:
            from walkcircle.outputs.export import write_geopackage

            written = write_geopackage({"edges": net.edges_geodataframe()}, Path(out) / "network.gpkg")
        if as_json:
            print_json({**summary, **({"gpkg": str(written)} if written else {})})
            return
        print_table(
            "Walking network",
            [
                ("nodes", summary["nodes"]),
                ("edges", summary["edges"]),
                ("street length (km)", f"{summary['length_km']:,.1f}"),
                ("components (islands)", summary["components"]),
                ("share of length in the largest", f"{summary['largest_share']:.1%}"),
            ],
            caption=f"source: {net.source}",
        )
        if written:
            out_console.print(f"edges written to [bold]{written}[/]")


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
