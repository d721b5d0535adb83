"""Errors a user can act on.

Every error walkcircle raises on purpose is a `WalkcircleError` whose message is one line
that names the input (file, field, place) and what to do about it. The CLI prints that
line and exits with status 2 for usage errors (`UsageError`, `SettingsError`: a bad flag,
config key or profile, an output that may not be replaced) and 1 for everything else (bad
data, a refused download); it never shows a traceback for these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class WalkcircleError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class InputError(WalkcircleError, ValueError):
    """An input file or value is missing, unreadable or not what it claims to be."""


class SettingsError(InputError):
    """A setting (config key, batch column, flag, keyword) is unknown or has a bad value."""


class UsageError(WalkcircleError):
    """The command was used in a way that cannot work: conflicting flags, an output that exists."""


class DownloadError(WalkcircleError):
    """An online source (Overpass, Nominatim) failed or could not be reached."""


class EmptyNetworkError(InputError):
    """The input holds no walkable street at all."""


class WalkcircleWarning(UserWarning):
    """Something in the input looks wrong but the run can go on (counts are reported)."""


OFFLINE_HINT = (
    "work offline instead: download an extract (e.g. Geofabrik .osm.pbf, or an openstreetmap.org "
    "export .osm) and pass it with --osm FILE, or try the offline demo with --demo"
)


def require_columns(frame: Any, columns: Sequence[str], what: str) -> None:
    """Raise `InputError` naming the columns of `columns` that `frame` lacks.

    Parameters
    ----------
    frame
        A DataFrame (anything with ``columns``).
    columns
        The columns it needs.
    what
        What the table is, for the message (``"facilities table"``).

    Raises
    ------
    InputError
        ``<what> lacks column(s) a, b``.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"lon": [1.0]}), ["category", "lon", "lat"], "facilities table")
    Traceback (most recent call last):
    ...
    walkcircle.errors.InputError: facilities table lacks column(s) category, lat
    """
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        msg = f"{what} lacks column(s) {', '.join(lacking)}"
        raise InputError(msg)
