"""Writing a whole study into one folder, atomically: shared by `walkcircle run` and batches.

Outputs go into a hidden partial folder next to the target and are moved into place only
when everything is written. A run that fails or is interrupted removes its partial folder; a
process killed outright leaves one behind, which the next run removes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from walkcircle.errors import InputError

if TYPE_CHECKING:
    from walkcircle.config import OutputOptions
    from walkcircle.study import Study, StudyResults


class OutputExistsError(InputError):
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


@contextmanager
def output_folder(final: str | os.PathLike[str], overwrite: bool) -> Iterator[Path]:
    """Yield a partial folder to write into; move it to `final` when the block succeeds.

    Parameters
    ----------
    final
        The output folder.
    overwrite
        Replace an existing folder; without it an existing folder is an error.

    Yields
    ------
    pathlib.Path
        The partial folder.

    Raises
    ------
    OutputExistsError
        If `final` exists and `overwrite` is False.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        msg = f"output folder {final} exists; pass --overwrite to replace it, or choose another --out"
        raise OutputExistsError(msg)
    final.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_partials(final)
    partial = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
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


def write_study(
    study: Study,
    outputs: OutputOptions,
    folder: str | os.PathLike[str],
    progress: Callable[[str], None] | None = None,
) -> StudyResults:
    """Run a study and write all its outputs into `folder`.

    Parameters
    ----------
    study
        The study.
    outputs
        Map, report, basemap, isochrones.
    folder
        Where to write (normally the partial folder of `output_folder`).
    progress
        Step callback.

    Returns
    -------
    StudyResults
        The results.
    """
    from walkcircle.outputs.export import export_results, write_geopackage

    progress = progress or (lambda _message: None)
    folder = Path(folder)
    config = study.config
    results = study.run()
    iso = None
    points = list(outputs.isochrones_at)
    if config.demo and not points:
        centre = results.network.component == 0
        points = [
            (float(np.median(results.network.lon[centre])), float(np.median(results.network.lat[centre])))
        ]
    if points:
        from walkcircle.isochrones import isochrones_around

        progress("isochrones")
        iso = isochrones_around(results.network, points, outputs.isochrone_minutes, config.speed_kmh)
    progress("writing tables")
    export_results(results, folder)
    if iso is not None:
        write_geopackage({"isochrones": iso}, folder / "isochrones.gpkg")
    if outputs.map:
        from walkcircle.outputs.maps import save_map, study_map

        progress("drawing the map")
        title = f"{config.name} — {study.profile.name(config.lang)}"
        fmap = study_map(
            results.homes,
            results.facilities,
            study.profile,
            results.communities,
            iso,
            results.suggestions,
            lang=config.lang,
            basemap=outputs.basemap,
            title=title,
            demo=config.demo,
        )
        save_map(fmap, folder / "map.html", offline=outputs.offline)
    if outputs.report:
        from walkcircle.outputs.report import write_report

        progress("writing the report")
        write_report(results, study.profile, folder / "report.html", lang=config.lang)
    return results
