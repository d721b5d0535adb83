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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from walkcircle.errors import InputError, WalkcircleError

AREA_KEYS = {
    "name", "osm", "place", "bbox", "profile", "communities", "communities_crs", "facilities",
    "facilities_crs", "speed_kmh", "homes", "h3_resolution", "lang", "suggest", "osm_facilities",
}  # fmt: skip
RETRIES = 2


@dataclass
class AreaSpec:
    """One study area of a batch.

    Attributes
    ----------
    name
        Unique name; also the area's output folder.
    settings
        `walkcircle.study.StudyConfig` fields (``osm``, ``place``, ``bbox``, ``profile``,
        ``facilities``, ``communities``...).
    """

    name: str
    settings: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Return a short hash of the settings (an area whose definition changed is rerun).

        Returns
        -------
        str
            Twelve hex digits.
        """
        import hashlib

        return hashlib.sha1(json.dumps(self.settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


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
    from walkcircle.sources.tables import TableSpec

    unknown = set(raw) - AREA_KEYS
    if unknown:
        msg = f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(AREA_KEYS))}"
        raise InputError(msg)
    merged = {**defaults, **{k: v for k, v in raw.items() if v not in (None, "")}}
    name = str(merged.pop("name", "") or "").strip()
    if not name:
        msg = f"{where}: every area needs a name"
        raise InputError(msg)
    sources = [k for k in ("osm", "place", "bbox") if merged.get(k) not in (None, "")]
    if len(sources) != 1:
        msg = f"{where} ({name}): give exactly one of osm, place or bbox (got {', '.join(sources) or 'none'})"
        raise InputError(msg)

    def path(value: Any) -> Path:
        p = Path(str(value))
        return p if p.is_absolute() else base / p

    settings: dict[str, Any] = {"name": safe_name(name)}
    if "osm" in merged:
        settings["osm"] = path(merged.pop("osm"))
    if "place" in merged:
        settings["place"] = merged.pop("place")
    if "bbox" in merged:
        bbox = merged.pop("bbox")
        values = [float(v) for v in (bbox.split(",") if isinstance(bbox, str) else bbox)]
        if len(values) != 4:
            msg = f"{where} ({name}): bbox must be west,south,east,north"
            raise InputError(msg)
        settings["bbox"] = tuple(values)
    tables = merged.pop("facilities", None)
    table_crs = merged.pop("facilities_crs", None)
    specs = []
    if isinstance(tables, str):
        specs.append(TableSpec(path=path(tables), crs=table_crs))
    elif isinstance(tables, list):
        for t in tables:
            if isinstance(t, str):
                specs.append(TableSpec(path=path(t), crs=table_crs))
            else:
                specs.append(
                    TableSpec(path=path(t["path"]), **{k: str(v) for k, v in t.items() if k != "path"})
                )
    if specs and any(s.crs is None for s in specs):
        msg = f"{where} ({name}): declare the facility tables' coordinate system (facilities_crs = wgs84|gcj02|bd09)"
        raise InputError(msg)
    settings["facilities"] = specs
    if "communities" in merged:
        settings["communities"] = path(merged.pop("communities"))
    if "communities_crs" in merged:
        settings["communities_crs"] = str(merged.pop("communities_crs"))
    for key in ("profile", "homes", "lang"):
        if key in merged:
            settings[key] = str(merged.pop(key))
    if "speed_kmh" in merged:
        settings["speed_kmh"] = float(merged.pop("speed_kmh"))
    if "h3_resolution" in merged:
        settings["h3_resolution"] = int(merged.pop("h3_resolution"))
    if "osm_facilities" in merged:
        value = merged.pop("osm_facilities")
        settings["osm_facilities"] = (
            value if isinstance(value, bool) else str(value).lower() not in ("0", "false", "no")
        )
    if "suggest" in merged:
        suggest = merged.pop("suggest")
        settings["suggest"] = dict(suggest) if isinstance(suggest, Mapping) else {}
    return AreaSpec(settings["name"], settings)


def read_areas(path: str | Path) -> list[AreaSpec]:
    """Read the areas of a batch from TOML (``[[area]]`` tables, optional ``[defaults]``) or CSV.

    CSV columns: ``name`` and one of ``osm``/``place``/``bbox`` (``"w,s,e,n"``), optionally
    ``profile``, ``communities``, ``communities_crs``, ``facilities``, ``facilities_crs``,
    ``homes``, ``speed_kmh``. Relative paths are relative to the file.

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
    from walkcircle.config import OutputOptions
    from walkcircle.pipeline import output_folder, write_study
    from walkcircle.study import Study

    final = Path(out_root) / spec.name
    summary_file = final / "summary.json"
    key = spec.fingerprint()
    if summary_file.exists() and not force:
        return summary_row(
            spec.name, json.loads(summary_file.read_text(encoding="utf-8")), "skipped", fingerprint=key
        )
    paths.set_threads(numba_threads)
    started = time.perf_counter()
    try:
        with output_folder(final, overwrite=True) as folder:
            study = Study(**spec.settings)
            results = write_study(study, OutputOptions(), folder)
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
    from distributed import Client, LocalCluster, as_completed

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    previous: dict[str, dict[str, Any]] = {}
    if (out / "areas.parquet").exists():
        try:
            previous = {
                r["area"]: r for r in pd.read_parquet(out / "areas.parquet").to_dict(orient="records")
            }
        except (OSError, ValueError):  # an unreadable table from an old version: recompute
            previous = {}
    rows: list[dict[str, Any]] = []
    todo = []
    for spec in areas:
        done = (out / spec.name / "summary.json").exists()
        before = previous.get(spec.name, {})
        failed_before = (
            before.get("status") in ("failed", "failed earlier")
            and before.get("fingerprint") == spec.fingerprint()
        )
        if done and not force:
            summary = json.loads((out / spec.name / "summary.json").read_text(encoding="utf-8"))
            rows.append(summary_row(spec.name, summary, "skipped", fingerprint=spec.fingerprint()))
        elif failed_before and not (force or retry_failed):
            rows.append(
                summary_row(
                    spec.name, None, "failed earlier", str(before.get("error", "")), 0.0, spec.fingerprint()
                )
            )
        else:
            todo.append(spec)
            continue
        if progress:
            progress(len(rows), len(areas), spec.name, rows[-1]["status"])

    own_cluster = None
    own_client = None
    if todo:
        if client is None:
            if scheduler in (None, "local"):
                if workers < 1:
                    msg = f"--workers must be >= 1 (got {workers})"
                    raise InputError(msg)
                own_cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                own_client = Client(own_cluster)
            else:
                try:
                    own_client = Client(scheduler, timeout="20s")
                except (OSError, TimeoutError) as exc:
                    msg = f"cannot connect to the Dask scheduler at {scheduler} ({exc.__class__.__name__}); start it or use --scheduler local"
                    raise InputError(msg) from exc
            client = own_client
        if on_dashboard:
            on_dashboard(getattr(client, "dashboard_link", None))
        try:
            futures = {
                client.submit(
                    run_area,
                    spec,
                    str(out),
                    force,
                    key=f"walkcircle-area-{spec.name}",
                    retries=RETRIES,
                    pure=False,
                ): spec
                for spec in todo
            }
            for future in as_completed(futures):
                spec = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # retries exhausted (e.g. the worker kept dying)
                    row = summary_row(
                        spec.name,
                        None,
                        "failed",
                        f"task failed after {RETRIES} retries: {exc.__class__.__name__}: {exc}",
                    )
                rows.append(row)
                if progress:
                    progress(len(rows), len(areas), spec.name, row["status"])
        finally:
            if own_client is not None:
                own_client.close()
            if own_cluster is not None:
                own_cluster.close()
    elif on_dashboard:
        on_dashboard(None)

    order = {spec.name: i for i, spec in enumerate(areas)}
    table = pd.DataFrame(rows).sort_values("area", key=lambda s: s.map(order)).reset_index(drop=True)
    files = write_combined(table, areas, out)
    return BatchResult(table, files)


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
