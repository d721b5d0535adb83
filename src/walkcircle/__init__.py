"""walkcircle: 15-minute life-circle accessibility on real walking networks.

The public API (loaded on first use, so that ``walkcircle`` on the command line starts fast):

>>> import walkcircle
>>> "Study" in walkcircle.__all__ and "Settings" in walkcircle.__all__
True
>>> walkcircle.build_settings({"profile": "gb50180-2018"}).scoring.profile
'gb50180-2018'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "AccessResult": "walkcircle.access",
    "compute_access": "walkcircle.access",
    "load_config": "walkcircle.config",
    "InputError": "walkcircle.errors",
    "SettingsError": "walkcircle.errors",
    "WalkcircleError": "walkcircle.errors",
    "WalkcircleWarning": "walkcircle.errors",
    "isochrones": "walkcircle.isochrones",
    "isochrones_around": "walkcircle.isochrones",
    "Snapped": "walkcircle.network",
    "WalkNetwork": "walkcircle.network",
    "Profile": "walkcircle.profile",
    "list_profiles": "walkcircle.profile",
    "load_profile": "walkcircle.profile",
    "StudyResults": "walkcircle.results",
    "Settings": "walkcircle.settings",
    "build_settings": "walkcircle.settings",
    "update_settings": "walkcircle.settings",
    "Suggestion": "walkcircle.siting",
    "suggest_sites": "walkcircle.siting",
    "FacilityLoad": "walkcircle.sources.loads",
    "download_network": "walkcircle.sources.osm",
    "read_network": "walkcircle.sources.osm",
    "Study": "walkcircle.study",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'walkcircle' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
