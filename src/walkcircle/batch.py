"""Many study areas on Dask distributed: a province or a country of life circles.

Each area (a name and a network source — OSM file, place name or bbox — with optional facility
tables, communities and settings) runs the full study as one Dask task on a
``distributed.LocalCluster`` (default) or an existing scheduler (``tcp://host:8786``).

- Fault tolerant: an area that fails (bad file, no network) is recorded with its error and
  the others complete; a worker that dies mid-task has its task retried by Dask (``retries``),
  and every area writes through a partial folder, so no area's output is half-written.
- Resumable: areas whose folder already holds a ``summary.json`` are skipped (not even
  submitted) unless ``force``.
- Combined outputs: ``areas.csv`` and ``areas.parquet`` (one row per area: status, error,
  network size, homes, population, mean score, coverage per category) and a GeoParquet dataset
  of community results partitioned by area (``communities/area=<name>/part-0.parquet``).
"""

from __future__ import annotations

import csv
import json
import re
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from walkcircle.errors import InputError, WalkcircleError
from walkcircle.settings import build_settings, normalise, settings_fingerprint

RETRIES = 2
FINGERPRINT_FILE = ".walkcircle-settings"
"""Inside each area's folder: the fingerprint of the settings its outputs were computed with."""


@dataclass
class AreaSpec:
    """One study area of a batch.

    Attributes
    ----------
    name
        Unique name; also the area's output folder.
    settings
        Checked settings by alias (``osm``, ``place``, ``bbox``, ``profile``, ``facilities``,
        ``communities``...; see `walkcircle.settings`), as `walkcircle.Study` takes them.
    """

    name: str
    settings: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Return a short hash of every setting that changes the area's results (defaults included).

        Returns
        -------
        str
            Twelve hex digits; an area whose fingerprint changed is computed again.
        """
        return settings_fingerprint(
            build_settings(self.settings, origin=f"area {self.name}", check_profile=False)
        )


def safe_name(name: str) -> str:
    """Make an area name usable as a folder name (Chinese letters are kept).

    Parameters
    ----------
    name
        Area name.

    Returns
    -------
    str
        The name with path separators, spaces and control characters replaced by ``_``.
    """
    cleaned = re.sub(r"[\s/\\:*?\"<>|]+", "_", name.strip()).strip("._")
    if not cleaned:
        msg = f"area name {name!r} is empty once made file-safe"
        raise InputError(msg)
    return cleaned


def _area_from_mapping(
    raw: Mapping[str, Any], where: str, base: Path, defaults: Mapping[str, Any]
) -> AreaSpec:
    """Check one area (a ``[[area]]`` table or a CSV row) in the settings vocabulary."""
    merged = {**defaults, **{k: v for k, v in raw.items() if v not in (None, "")}}
    name = str(merged.get("name", "") or "").strip()
    if not name:
        msg = f"{where}: every area needs a name"
        raise InputError(msg)
    settings = normalise(merged, f"{where} ({name})", base)
    sources = [k for k in ("osm", "place", "bbox") if k in settings]
    if len(sources) != 1:
        msg = f"{where} ({name}): give exactly one of osm, place or bbox (got {', '.join(sources) or 'none'})"
        raise InputError(msg)
    build_settings(settings, f"{where} ({name})")  # the profile and suggested categories exist
    settings["name"] = safe_name(name)
    return AreaSpec(settings["name"], settings)


def read_areas(path: str | Path) -> list[AreaSpec]:
    """Read the areas of a batch from TOML (``[[area]]`` tables, optional ``[defaults]``) or CSV.

    Areas use the vocabulary of ``walkcircle.toml`` (`walkcircle.settings`): short aliases
    (``name`` and one of ``osm``/``place``/``bbox`` (``"w,s,e,n"``), ``profile``,
    ``communities``, ``facilities`` + ``facilities_crs``, ``homes``, ``speed_kmh``...), dotted
    file keys (``study.speed_kmh``, ``communities.crs``) or, in TOML, sections. CSV columns
    are the same keys. Relative paths are relative to the file.

    Parameters
    ----------
    path
        ``.toml`` or ``.csv``.

    Returns
    -------
    list of AreaSpec
        The areas (names unique).
    """
    path = Path(path)
    if not path.exists():
        msg = f"{path}: areas file not found"
        raise InputError(msg)
    base = path.parent
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            extra = set(data) - {"area", "defaults"}
            if extra:
                msg = f"{path}: unknown section(s) {', '.join(sorted(extra))}; use [defaults] and [[area]]"
                raise InputError(msg)
            defaults = data.get("defaults", {})
            rows = data.get("area", [])
            areas = [
                _area_from_mapping(r, f"{path} [[area]] #{i + 1}", base, defaults) for i, r in enumerate(rows)
            ]
        elif suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.DictReader(fh))
            areas = [_area_from_mapping(r, f"{path} row {i + 2}", base, {}) for i, r in enumerate(rows)]
        else:
            msg = f"{path}: areas must be a .toml or .csv file"
            raise InputError(msg)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc})"
        raise InputError(msg) from exc
    if not areas:
        msg = f"{path}: no areas"
        raise InputError(msg)
    names = [a.name for a in areas]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        msg = f"{path}: area names must be unique (repeated: {', '.join(duplicates)})"
        raise InputError(msg)
    return areas


def summary_row(
    name: str,
    summary: Mapping[str, Any] | None,
    status: str,
    error: str = "",
    seconds: float = 0.0,
    fingerprint: str = "",
) -> dict[str, Any]:
    """Flatten an area's summary into one row of ``areas.csv``.

    Parameters
    ----------
    name
        Area name.
    summary
        The area's summary.json content (None when it failed).
    status
        ``ok``, ``skipped`` or ``failed``.
    error
        The failure, one line.
    seconds
        Time the area took.
    fingerprint
        `AreaSpec.fingerprint` of the settings the row was computed with.

    Returns
    -------
    dict
        The row.
    """
    row: dict[str, Any] = {
        "area": name, "status": status, "error": error, "seconds": round(seconds, 2), "fingerprint": fingerprint,
    }  # fmt: skip
    if summary:
        row.update({f"network_{k}": v for k, v in summary.get("network", {}).items()})
        row.update(
            homes=summary.get("homes"),
            population=summary.get("population"),
            score_mean=summary.get("score_mean"),
            profile=summary.get("profile"),
            data_gaps=";".join(summary.get("data_gaps", [])),
        )
        row.update({f"coverage_{k}": v for k, v in summary.get("coverage", {}).items()})
    return row


def run_area(spec: AreaSpec, out_root: str, force: bool = False, numba_threads: int = 1) -> dict[str, Any]:
    """Run one area's full study into ``out_root/<name>`` (the task each Dask worker runs).

    Failures of the area's inputs are returned as a ``failed`` row rather than raised, so that
    one bad area does not stop the batch; a crash of the worker itself is left to Dask's
    retries.

    Parameters
    ----------
    spec
        The area.
    out_root
        The batch's output folder.
    force
        Recompute even if the area's outputs exist.
    numba_threads
        Threads for the routing kernels inside this task (1 when each worker has one core).

    Returns
    -------
    dict
        The area's row for ``areas.csv``.
    """
    from walkcircle import paths
    from walkcircle.pipeline import output_folder, write_study
    from walkcircle.study import Study

    final = Path(out_root) / spec.name
    summary_file = final / "summary.json"
    key = spec.fingerprint()
    if _done_with(final, key) and not force:
        return summary_row(
            spec.name, json.loads(summary_file.read_text(encoding="utf-8")), "skipped", fingerprint=key
        )
    paths.set_threads(numba_threads)
    started = time.perf_counter()
    try:
        with output_folder(final, overwrite=True) as folder:
            results = write_study(Study(**spec.settings), folder)
            (folder / FINGERPRINT_FILE).write_text(key, encoding="ascii")
        return summary_row(
            spec.name, results.summary, "ok", seconds=time.perf_counter() - started, fingerprint=key
        )
    except WalkcircleError as exc:
        return summary_row(spec.name, None, "failed", str(exc), time.perf_counter() - started, key)
    except Exception as exc:  # a bug in one area must not sink the others; the row says what it was
        text = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return summary_row(
            spec.name, None, "failed", f"internal error ({text})", time.perf_counter() - started, key
        )


def _done_with(folder: Path, fingerprint: str) -> bool:
    """Tell whether an area's folder holds finished outputs computed with these settings."""
    stamp = folder / FINGERPRINT_FILE
    if not (folder / "summary.json").exists() or not stamp.exists():
        return False
    return stamp.read_text(encoding="ascii", errors="replace").strip() == fingerprint


@dataclass
class BatchResult:
    """What a batch did: one row per area, and where the combined files are."""

    areas: pd.DataFrame
    files: list[Path]
    dashboard: str | None = None


def run_batch(
    areas: list[AreaSpec],
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    force: bool = False,
    retry_failed: bool = False,
    client: Any = None,
    progress: Callable[[int, int, str, str], None] | None = None,
    on_dashboard: Callable[[str | None], None] | None = None,
) -> BatchResult:
    """Run every area as a Dask task and write the combined tables.

    Parameters
    ----------
    areas
        The areas.
    out
        Output folder (one subfolder per area, plus the combined files).
    scheduler
        ``None`` or ``"local"`` for a new LocalCluster of `workers` processes, or the address
        of a running scheduler (``tcp://host:8786``).
    workers
        Worker processes of the LocalCluster (one thread each).
    force
        Recompute areas that are already done (and failed ones).
    retry_failed
        Try again areas that failed in an earlier run with the same settings (an area whose
        settings changed is always tried again).
    client
        An existing ``distributed.Client`` to use instead (its cluster is left running).
    progress
        Called as ``progress(done, total, area, status)`` after each area.
    on_dashboard
        Called with the dashboard address (None when there is none) once the client is up.

    Returns
    -------
    BatchResult
        The rows and the files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    known, todo = _plan(areas, out, force, retry_failed)
    rows: list[dict[str, Any]] = []

    def report(row: dict[str, Any]) -> None:
        rows.append(row)
        if progress:
            progress(len(rows), len(areas), row["area"], row["status"])

    for row in known:
        report(row)
    if todo:
        with _dask_client(client, scheduler, workers) as live:
            if on_dashboard:
                on_dashboard(getattr(live, "dashboard_link", None))
            _submit(live, todo, out, force, report)
    elif on_dashboard:
        on_dashboard(None)

    order = {spec.name: i for i, spec in enumerate(areas)}
    table = pd.DataFrame(rows).sort_values("area", key=lambda s: s.map(order)).reset_index(drop=True)
    files = write_combined(table, areas, out)
    return BatchResult(table, files)


def _previous_rows(out: Path) -> dict[str, dict[str, Any]]:
    if not (out / "areas.parquet").exists():
        return {}
    try:
        return {r["area"]: r for r in pd.read_parquet(out / "areas.parquet").to_dict(orient="records")}
    except (OSError, ValueError):  # an unreadable table from an old version: recompute
        return {}


def _plan(
    areas: list[AreaSpec], out: Path, force: bool, retry_failed: bool
) -> tuple[list[dict[str, Any]], list[AreaSpec]]:
    """Split the areas into rows known already (done, or failed with the same settings) and work to do."""
    previous = _previous_rows(out)
    rows: list[dict[str, Any]] = []
    todo = []
    for spec in areas:
        key = spec.fingerprint()
        before = previous.get(spec.name, {})
        failed_before = (
            before.get("status") in ("failed", "failed earlier") and before.get("fingerprint") == key
        )
        if _done_with(out / spec.name, key) and not force:
            summary = json.loads((out / spec.name / "summary.json").read_text(encoding="utf-8"))
            rows.append(summary_row(spec.name, summary, "skipped", fingerprint=key))
        elif failed_before and not (force or retry_failed):
            rows.append(
                summary_row(spec.name, None, "failed earlier", str(before.get("error", "")), 0.0, key)
            )
        else:
            todo.append(spec)
    return rows, todo


@contextmanager
def _dask_client(client: Any, scheduler: str | None, workers: int) -> Iterator[Any]:
    """Yield the given client, or one on a new LocalCluster or a running scheduler (closed afterwards)."""
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler not in (None, "local"):
        try:
            own = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            msg = f"cannot connect to the Dask scheduler at {scheduler} ({exc.__class__.__name__}); start it or use --scheduler local"
            raise InputError(msg) from exc
        with own:
            yield own
        return
    if workers < 1:
        msg = f"--workers must be >= 1 (got {workers})"
        raise InputError(msg)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, Client(cluster) as own:
        yield own


def _submit(
    client: Any, todo: list[AreaSpec], out: Path, force: bool, report: Callable[[dict[str, Any]], None]
) -> None:
    """Run the areas as Dask tasks (retried if a worker dies) and report each row as it completes."""
    from distributed import as_completed

    futures = {
        client.submit(
            run_area, spec, str(out), force, key=f"walkcircle-area-{spec.name}", retries=RETRIES, pure=False
        ): spec
        for spec in todo
    }
    for future in as_completed(futures):
        spec = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # retries exhausted (e.g. the worker kept dying)
            text = f"task failed after {RETRIES} retries: {exc.__class__.__name__}: {exc}"
            row = summary_row(spec.name, None, "failed", text, fingerprint=spec.fingerprint())
        report(row)


def write_combined(table: pd.DataFrame, areas: list[AreaSpec], out: Path) -> list[Path]:
    """Write ``areas.csv``, ``areas.parquet`` and the community GeoParquet partitioned by area.

    Parameters
    ----------
    table
        One row per area.
    areas
        The areas (for their folders).
    out
        Batch folder.

    Returns
    -------
    list of pathlib.Path
        Files and folders written.
    """
    import geopandas as gpd

    from walkcircle.outputs.export import atomic_path, write_csv, write_geoparquet

    files = [write_csv(table, out / "areas.csv")]
    with atomic_path(out / "areas.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    files.append(out / "areas.parquet")
    dataset = out / "communities"
    for spec in areas:
        gpkg = out / spec.name / "study.gpkg"
        part = dataset / f"area={spec.name}" / "part-0.parquet"
        if not gpkg.exists():
            continue
        import pyogrio

        layers = {name for name, _ in pyogrio.list_layers(gpkg)}
        if "communities" not in layers:
            continue
        frame = gpd.read_file(gpkg, layer="communities")
        if isinstance(frame, gpd.GeoDataFrame) and len(frame):
            write_geoparquet(frame, part)
    if dataset.exists():
        files.append(dataset)
    return files
