"""Writing a whole study into one folder, safely: shared by `walkcircle run`, the other commands and batches.

Outputs go into a hidden partial folder next to the target and are moved into place only
when everything is written. A run that fails or is interrupted removes its partial folder; a
process killed outright leaves one behind, which the next run removes.

What may be replaced: only a folder that walkcircle wrote (it holds the marker file
``.walkcircle-output``) or an empty one, and only with ``overwrite``. Never a regular file, a
folder that holds an input of the run, the working directory or one of its parents. One run
at a time writes into a folder: a second one is refused while the first is alive.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from walkcircle._background import Captured, Claims, background, captured
from walkcircle.errors import UsageError

if TYPE_CHECKING:
    from walkcircle.results import StudyResults
    from walkcircle.study import Study

MARKER = ".walkcircle-output"
"""The file that marks a folder as written by walkcircle (so that it may be replaced)."""


class OutputExistsError(UsageError):
    """The output folder exists and may not be replaced."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_partials(final: Path) -> None:
    """Remove partial folders of `final` left by processes that no longer exist.

    Parameters
    ----------
    final
        The output folder whose partial siblings are checked.
    """
    for stale in Path(final).parent.glob(f".{Path(final).name}.partial-*"):
        owner = stale.name.rsplit("-", 1)[-1]
        if not owner.isdigit() or not _alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(final: Path, overwrite: bool, inputs: Sequence[Path] = ()) -> None:
    """Refuse an output folder that may not be written or replaced.

    Parameters
    ----------
    final
        The output folder.
    overwrite
        Whether the user allowed replacing it.
    inputs
        Input files of the run (a folder holding one is never replaced).

    Raises
    ------
    UsageError
        With one line saying why and what to do.
    """
    where = final.resolve()
    cwd = Path.cwd().resolve()
    if final.exists() and not final.is_dir():
        msg = f"--out {final} is a file, not a folder; choose a folder name"
        raise UsageError(msg)
    if _within(cwd, where):
        msg = (
            f"--out {final} is the working folder or one of its parents; choose a new folder for the outputs"
        )
        raise UsageError(msg)
    for path in inputs:
        if _within(Path(path).resolve(), where):
            msg = f"--out {final} holds {path}, an input of this run; choose another folder for the outputs"
            raise UsageError(msg)
    if not final.exists():
        return
    if not overwrite:
        msg = f"output folder {final} exists; pass --overwrite to replace it, or choose another --out"
        raise OutputExistsError(msg)
    if not (final / MARKER).exists() and any(final.iterdir()):
        msg = f"--out {final} was not written by walkcircle (no {MARKER} in it); walkcircle replaces only its own output folders: choose another --out"
        raise UsageError(msg)


@contextmanager
def output_lock(final: Path) -> Iterator[None]:
    """Hold the lock of an output folder: a second writer is refused while this one lives.

    Parameters
    ----------
    final
        The output folder (the lock is a file next to it, removed at the end).

    Yields
    ------
    None
        While the lock is held.

    Raises
    ------
    UsageError
        If another live process holds it.
    """
    lock = final.parent / f".{final.name}.lock"
    final.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            text = lock.read_text(encoding="ascii", errors="replace").strip()
            if text.isdigit() and _alive(int(text)) and int(text) != os.getpid():
                msg = f"another walkcircle run (process {text}) is writing to {final}; wait for it to finish or choose another --out"
                raise UsageError(msg) from None
            lock.unlink(missing_ok=True)  # left by a process that no longer exists
            continue
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if lock.read_text(encoding="ascii").strip() == str(os.getpid()):
                lock.unlink()


@contextmanager
def output_folder(
    final: str | os.PathLike[str], overwrite: bool, inputs: Sequence[Path] = ()
) -> Iterator[Path]:
    """Yield a partial folder to write into; move it to `final` when the block succeeds.

    Parameters
    ----------
    final
        The output folder.
    overwrite
        Replace an existing folder that walkcircle wrote; without it an existing folder is an error.
    inputs
        Input files of the run (never inside the folder replaced).

    Yields
    ------
    pathlib.Path
        The partial folder.

    Raises
    ------
    UsageError
        If `final` may not be written (see `check_output_folder`) or another run holds it.
    """
    final = Path(final)
    check_output_folder(final, overwrite, inputs)
    with output_lock(final):
        check_output_folder(final, overwrite, inputs)  # the other writer may have finished meanwhile
        clear_stale_partials(final)
        partial = final.parent / f".{final.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            (partial / MARKER).write_text(
                "written by walkcircle; this folder may be replaced by a later run\n"
            )
            yield partial
            if final.exists():
                old = final.parent / f".{final.name}.old-{os.getpid()}"
                final.rename(old)
                partial.rename(final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                partial.rename(final)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def check_output_file(out: Path, suffix: str, what: str, overwrite: bool) -> Path:
    """Refuse an output file with the wrong suffix, a folder, or an existing file without `overwrite`.

    Parameters
    ----------
    out
        The file to write.
    suffix
        Its expected suffix (``.html`` also accepts ``.htm``).
    what
        What the file is, for the message.
    overwrite
        Whether an existing file may be replaced.

    Returns
    -------
    pathlib.Path
        `out`.
    """
    if out.suffix.lower() not in (suffix, ".htm" if suffix == ".html" else suffix):
        raise UsageError(f"--out {out}: {what}; use a {suffix} name")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name ending in {suffix}")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    return out


def write_folder(
    out: Path, overwrite: bool, inputs: Sequence[Path], files: dict[str, Callable[[Path], object]]
) -> list[Path]:
    """Write ``{name: writer(path)}`` (name ``""``: the writer gets the folder) into `out`, safely.

    Parameters
    ----------
    out
        The output folder (see `output_folder` for what may be replaced).
    overwrite
        Replace a folder that walkcircle wrote.
    inputs
        Input files of the run.
    files
        File name -> function that writes it.

    Returns
    -------
    list of pathlib.Path
        The files now in `out`.
    """
    with output_folder(out, overwrite, inputs) as folder:
        for name, write in files.items():
            write(folder / name if name else folder)
    return [out / name for name in listed_files(out)]


def listed_files(folder: Path) -> list[str]:
    """Return the names of the files a run wrote (not the hidden marker).

    Parameters
    ----------
    folder
        An output folder.

    Returns
    -------
    list of str
        Sorted file names.
    """
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def write_study(
    study: Study, folder: str | os.PathLike[str], progress: Callable[[str], None] | None = None
) -> StudyResults:
    """Run a study and write all its outputs into `folder` (as its settings' outputs say).

    Parameters
    ----------
    study
        The study.
    folder
        Where to write (normally the partial folder of `output_folder`).
    progress
        Step callback.

    Returns
    -------
    StudyResults
        The results.
    """
    progress = progress or (lambda _message: None)
    folder = Path(folder)
    settings = study.settings
    outputs = settings.outputs
    # the service areas are drawn by a forked child while the homes and the access are computed
    with study.early_service_areas() if outputs.service_areas else contextlib.nullcontext():
        results = study.results()
        if outputs.service_areas:
            study.service_areas()  # into results (GeoPackage layer, summary) before the tables are written
    iso = None
    points = list(outputs.isochrones_at)
    if settings.sources.demo and not points:
        centre = results.network.component == 0
        points = [
            (float(np.median(results.network.lon[centre])), float(np.median(results.network.lat[centre])))
        ]
    if points:
        from walkcircle.isochrones import isochrones_around

        progress("isochrones")
        with study.collecting("isochrones"):
            iso = isochrones_around(
                results.network, points, outputs.isochrone_minutes, settings.routing.speed_kmh,
                half_width_m=outputs.half_width_m,
            )  # fmt: skip
        results.summary["warnings"] = study.warnings
    if settings.scenario.active:
        _write_scenario(study, results, folder)
    _write_outputs(study, results, folder, iso, points, progress)
    return results


def _write_outputs(
    study: Study,
    results: StudyResults,
    folder: Path,
    iso: Any,
    points: list[tuple[float, float]],
    progress: Callable[[str], None],
) -> None:
    """Write the files, shared between this process and a forked helper that starts with the report.

    The helper writes the report (its longest job) while this process takes the other files
    one by one from a shared list (`Claims`), the longest first; a helper done early takes
    what is left, so the two processes finish close together whichever side is the longer.
    A job's warnings and failure surface here, as if this process had written the file.
    """
    outputs = study.settings.outputs
    jobs = _output_jobs(study, results, folder, iso, points)
    claims = Claims(len(jobs))
    order = range(len(jobs))
    report = _report_job(study, results, folder) if outputs.report else None

    def helper() -> list[Captured]:
        done = [captured(report)] if report is not None else []
        while (j := claims.take(order)) is not None:
            done.append(captured(jobs[j][1]))
        return done

    try:
        with background(helper, fork=report is not None or len(jobs) > 1) as task:
            while (j := claims.take(order)) is not None:
                message, job = jobs[j]
                progress(message)
                job()
            progress("writing the report" if report is not None else "finishing the outputs")
            done = task.join()
    finally:
        claims.close()
    for outcome in done:
        outcome.replay()


def _output_jobs(
    study: Study, results: StudyResults, folder: Path, iso: Any, points: list[tuple[float, float]]
) -> list[tuple[str, Callable[[], object]]]:
    """Return the files besides the report as (progress message, job), the longest first at city size."""
    from walkcircle.outputs.export import export_results, output_crs, write_geopackage

    settings, outputs = study.settings, study.settings.outputs

    def export(part: str) -> Callable[[], object]:
        lang = settings.lang if settings.lang == "zh" else None
        return lambda: export_results(
            results, folder, lang=lang, profile=study.profile, crs=outputs.crs, parts=(part,)
        )

    def tables() -> None:
        export("tables")()
        if iso is not None:
            write_geopackage({"isochrones": iso.to_crs(output_crs(outputs.crs))}, folder / "isochrones.gpkg")

    def workbook() -> None:
        from walkcircle.outputs.workbook import write_workbook

        write_workbook(results, study.profile, folder / "study.xlsx", lang=settings.lang)

    jobs: list[tuple[str, Callable[[], object]]] = []
    if outputs.map:
        jobs.append(("drawing the map", lambda: _write_map(study, results, folder, iso, points)))
    jobs += [("writing the GeoPackage", export("geopackage")), ("writing tables", tables)]
    if outputs.workbook:
        jobs.append(("writing the workbook", workbook))
    return jobs


def _report_job(study: Study, results: StudyResults, folder: Path) -> Callable[[], None]:
    """Return the report (HTML, and the PDF if asked) as a job that needs nothing else written first."""
    settings = study.settings

    def job() -> None:
        from walkcircle.outputs.report import write_report

        pdf = folder / "report.pdf" if settings.outputs.pdf else None
        write_report(
            results, study.profile, folder / "report.html", lang=settings.lang, pdf=pdf, rules=study.rules,
            snap_cap_m=settings.routing.snap_cap_m,
        )  # fmt: skip

    return job


def _write_map(
    study: Study,
    results: StudyResults,
    folder: Path,
    iso: Any,
    points: list[tuple[float, float]],
) -> None:
    """Draw the study's map into map.html."""
    from walkcircle.outputs.maps import save_map, study_map

    settings, outputs = study.settings, study.settings.outputs
    title = f"{settings.name} — {study.profile.name(settings.lang)}"
    fmap = study_map(
        results.homes, results.facilities, study.profile, results.communities, iso, results.suggestions,
        lang=settings.lang, basemap=outputs.basemap, title=title, demo=settings.sources.demo,
        service_areas=results.service_areas, access=results.access, network=results.network,
        isochrone_origins=points or None,
        scenario_changes=results.scenario.tables.changes if results.scenario is not None else None,
    )  # fmt: skip
    save_map(fmap, folder / "map.html", offline=outputs.offline)


def _write_scenario(study: Study, results: StudyResults, folder: Path) -> None:
    """Compute the settings' scenario and write scenario.csv, scenario_communities.csv, scenario_closed.csv."""
    from walkcircle.outputs.export import tidy_table, write_csv, write_geopackage

    outcome = study.scenario()
    results.scenario = outcome
    results.summary.update(outcome.summary())
    lang = study.settings.lang if study.settings.lang == "zh" else None
    write_csv(tidy_table(outcome.tables.categories, lang, study.profile), folder / "scenario.csv")
    write_csv(
        tidy_table(outcome.tables.communities, lang, study.profile), folder / "scenario_communities.csv"
    )
    if outcome.closed is not None:
        write_csv(outcome.closed.table, folder / "scenario_closed.csv")
    layers = {"scenario_facilities": outcome.result.facilities, "scenario_changes": outcome.tables.changes}
    if any(len(v) for v in layers.values()):
        write_geopackage({k: v for k, v in layers.items() if len(v)}, folder / "scenario.gpkg")


def study_inputs(study: Study) -> list[Path]:
    """Return the input files of a study (an output folder must never hold one).

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    list of pathlib.Path
        OSM file, facility tables, communities file.
    """
    s = study.settings
    files = [s.sources.osm, s.homes.communities, s.homes.population, s.sources.boundary, s.scenario.closed]
    files += [t.path for t in (*s.facilities.tables, *s.scenario.planned)]
    return [Path(f) for f in files if f is not None]
