"""Keep compiled kernels in a cache keyed by their source, not by where walkcircle is installed.

numba's own cache sits next to the source file (or in a folder named after its path) and is
stamped with the file's modification time, so every new install, upgrade, virtualenv or fresh
Dask worker compiles every kernel again (tens of seconds). `install` adds a cache locator for
walkcircle's own modules that puts the cache under the user's cache folder
(``$XDG_CACHE_HOME/walkcircle/numba``, default ``~/.cache/walkcircle/numba``) in a folder named
after a hash of the module's source: any copy of the same source, wherever it is installed,
finds the kernels already compiled. numba's key inside that folder still includes the numba
version, the signature and the CPU, so machines and versions never share a wrong entry.

``NUMBA_CACHE_DIR``, when set, wins (numba's own locator then applies). If numba's cache
internals change, `install` does nothing and numba's default cache is used.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from walkcircle.defaults import KERNEL_CACHE_SUBDIR

_PACKAGE_DIR = Path(__file__).resolve().parent

try:  # numba's cache internals (numba >= 0.57)
    from numba.core.caching import CacheImpl, _CacheLocator
except ImportError:  # pragma: no cover - older or newer numba: keep numba's default cache
    CacheImpl = None
    _CacheLocator = object


def kernel_cache_dir() -> Path:
    """Return the folder compiled kernels are kept in (unless ``NUMBA_CACHE_DIR`` is set).

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/walkcircle/numba`` or ``~/.cache/walkcircle/numba``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / KERNEL_CACHE_SUBDIR


class ContentCacheLocator(_CacheLocator):  # type: ignore[misc, valid-type]
    """numba cache locator for walkcircle's modules, keyed by a hash of the module's source."""

    def __init__(self, py_func: object, py_file: str) -> None:
        source = Path(py_file).read_bytes()
        self._digest = hashlib.sha256(source).hexdigest()[:24]
        self._lineno = py_func.__code__.co_firstlineno  # type: ignore[attr-defined]
        self._cache_path = str(kernel_cache_dir() / f"{Path(py_file).stem}-{self._digest}")

    def get_cache_path(self) -> str:
        """Return the cache folder of this module's source."""
        return self._cache_path

    def get_source_stamp(self) -> str:
        """Return the source hash (not the file's time: copies of one source share a cache)."""
        return self._digest

    def get_disambiguator(self) -> str:
        """Return the function's first line, as numba's own locators do."""
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: object, py_file: str) -> ContentCacheLocator | None:
        """Serve walkcircle's own modules only, and only when NUMBA_CACHE_DIR is not set."""
        if os.environ.get("NUMBA_CACHE_DIR"):
            return None
        path = Path(py_file)
        if not path.is_file() or path.resolve().parent != _PACKAGE_DIR:
            return None
        try:
            locator = cls(py_func, py_file)
            locator.ensure_cache_path()
        except OSError:
            return None  # read-only home: numba's default locators take over
        return locator


def install() -> bool:
    """Put the content-keyed locator first; call before the kernels are decorated.

    Returns
    -------
    bool
        True if the locator is in place.
    """
    if CacheImpl is None:  # pragma: no cover
        return False
    classes = CacheImpl._locator_classes
    if ContentCacheLocator not in classes:
        classes.insert(0, ContentCacheLocator)
    return True
