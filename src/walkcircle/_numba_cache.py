"""Keep compiled kernels in a cache keyed by their source, not by where walkcircle is installed.

numba's own cache sits next to the source file (or in a folder named after its path) and is
stamped with the file's modification time, so every new install, upgrade, virtualenv or fresh
Dask worker compiles every kernel again (tens of seconds). `install` adds a cache locator for
walkcircle's own modules that puts the cache under the user's cache folder
(``$XDG_CACHE_HOME/walkcircle/numba``, default ``~/.cache/walkcircle/numba``) in a folder named
after a hash of the module's source: any copy of the same source, wherever it is installed,
finds the kernels already compiled. numba's key inside that folder still includes the numba
version, the signature and the CPU, so machines and versions never share a wrong entry.

Building walkcircle (``pip install``, editable or not; see ``setup.py``) runs `build_kernels`,
which compiles the kernels into the package's ``_compiled`` folder with the same layout. The
first time a kernel's module is imported, the locator copies that module's kernels from there
into the user's cache folder (only those the user's cache lacks), so the first run after an
install loads compiled kernels instead of compiling them. Kernels built under another numba,
numpy, Python or CPU (`build_key`, kept beside them) are not copied; they compile on first use
as before. ``WALKCIRCLE_BUILD_KERNELS=0`` when building skips the step (for a wheel meant for
other machines).

``NUMBA_CACHE_DIR``, when set, wins (numba's own locator then applies), as does numba's default
cache when the user's cache folder cannot be written (e.g. a read-only home in a container); the
built kernels are then not used. If numba's cache internals change, `install` does nothing and
numba's default cache is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from walkcircle.defaults import KERNEL_CACHE_SUBDIR, KERNELS_BUILT_SUBDIR

_PACKAGE_DIR = Path(__file__).resolve().parent

try:  # numba's cache internals (numba >= 0.57)
    from numba.core.caching import CacheImpl, _CacheLocator
except ImportError:  # pragma: no cover - older or newer numba: keep numba's default cache
    CacheImpl = None
    _CacheLocator = object

__all__ = ["ContentCacheLocator", "build_kernels", "build_key", "install", "kernel_cache_dir"]
_SEEDED: set[Path] = set()  # cache folders already filled from the build's kernels in this process


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
        _copy_built_kernels(Path(locator.get_cache_path()))
        return locator


def build_key() -> dict[str, str]:
    """Say what compiled kernels depend on besides their source.

    numba keys its cache entries by its version and the CPU but not by numpy's version, which
    its generated code also depends on; kernels compiled at build time are used only where all
    of these match.

    Returns
    -------
    dict of str to str
        numba's and numpy's versions, Python's cache tag and numba's target (triple, CPU name
        and features).
    """
    import numba
    import numpy
    from numba.core.registry import cpu_target

    triple, cpu, features = cpu_target.target_context.codegen().magic_tuple()
    return {
        "numba": numba.__version__, "numpy": numpy.__version__, "python": sys.implementation.cache_tag,
        "triple": triple, "cpu": cpu, "features": features,
    }  # fmt: skip


_BUILD_KEY_FILE = "build_key.json"
_BUILT_USABLE: list[bool] = []  # whether the build's kernels suit this process (checked once)


def _built_kernels_usable() -> bool:
    if not _BUILT_USABLE:
        try:
            built = json.loads((_PACKAGE_DIR / KERNELS_BUILT_SUBDIR / _BUILD_KEY_FILE).read_text())
            _BUILT_USABLE.append(built == build_key())
        except (OSError, ValueError):
            _BUILT_USABLE.append(False)
    return _BUILT_USABLE[0]


def _copy_built_kernels(cache_path: Path) -> None:
    """Copy the kernels compiled when walkcircle was built into this source's cache folder.

    Only kernels whose index the folder lacks are copied, and only if they were built with this
    process's numba, numpy, Python and CPU (`build_key`). Data files go first and the index
    last, each written aside and linked into place without replacing a file another process
    put there meanwhile (numba then keeps that process's entry). A copy that fails leaves the
    kernel to be compiled on first use.
    """
    built = _PACKAGE_DIR / KERNELS_BUILT_SUBDIR / cache_path.name
    if cache_path in _SEEDED or not built.is_dir():
        return
    _SEEDED.add(cache_path)
    names = sorted(p.name for p in built.iterdir())
    indexes = [n for n in names if n.endswith(".nbi") and not (cache_path / n).exists()]
    if not indexes or not _built_kernels_usable():
        return
    for index in indexes:
        base = index.removesuffix(".nbi")
        data = [n for n in names if n.startswith(base + ".") and n.endswith(".nbc")]
        for name in [*data, index]:
            if not _link_copy(built / name, cache_path / name):
                break  # someone else's file is there: leave this kernel to numba


def _link_copy(source: Path, target: Path) -> bool:
    """Copy `source` to `target` unless `target` exists (atomically); True if copied."""
    aside = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(source, aside)
        os.link(aside, target)  # fails if target exists: never replaces another process's file
    except OSError:
        return False
    finally:
        aside.unlink(missing_ok=True)
    return True


# the build's compiling process: walkcircle from the package being built, whatever else is on the path
_COMPILE_FROM = (
    "import json, sys; sys.path.insert(0, {root!r}); from walkcircle import _kernels, _numba_cache;"
    " _kernels.compile_kernels(); print(json.dumps(_numba_cache.build_key()))"
)


def build_kernels(package_dir: str | os.PathLike[str], timeout_s: float = 900.0) -> Path:
    """Compile the kernels of the walkcircle package at `package_dir` into its ``_compiled`` folder.

    ``setup.py`` runs this when walkcircle is built. The kernels are compiled in a fresh process
    that imports the package from `package_dir` (put first on its path after site setup, so
    neither an installed walkcircle nor pip's isolated build environment, which rebuilds the
    path, hides it) and has an empty cache folder of its own. Its folders and the `build_key`
    they were compiled under are then moved into place (a previous build's are replaced).

    Parameters
    ----------
    package_dir
        The ``walkcircle`` package folder being built or installed.
    timeout_s
        Longest time to wait for the compiling process, seconds.

    Returns
    -------
    pathlib.Path
        The ``_compiled`` folder.

    Raises
    ------
    RuntimeError
        If compiling failed (the last line of its error) or timed out.
    """
    package_dir = Path(package_dir).resolve()
    target = package_dir / KERNELS_BUILT_SUBDIR
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env["XDG_CACHE_HOME"] = tmp
        try:
            done = subprocess.run(
                [sys.executable, "-c", _COMPILE_FROM.format(root=str(package_dir.parent))],
                env=env, capture_output=True, text=True, check=False, timeout=timeout_s,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            msg = f"compiling the kernels took more than {timeout_s:g} s"
            raise RuntimeError(msg) from exc
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            msg = f"compiling the kernels failed: {last}"
            raise RuntimeError(msg)
        aside = package_dir / f".{KERNELS_BUILT_SUBDIR}.new"
        shutil.rmtree(aside, ignore_errors=True)
        shutil.copytree(Path(tmp) / KERNEL_CACHE_SUBDIR, aside)
        (aside / _BUILD_KEY_FILE).write_text(done.stdout.strip().splitlines()[-1] + "\n")
    old = package_dir / f".{KERNELS_BUILT_SUBDIR}.old"
    shutil.rmtree(old, ignore_errors=True)  # left by an interrupted build
    if target.exists():
        target.replace(old)
    aside.replace(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


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


if __name__ == "__main__":  # python -m walkcircle._numba_cache PACKAGE_DIR: what setup.py does
    print(build_kernels(sys.argv[1]))
