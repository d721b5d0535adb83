"""Compile a study's kernels in a helper process while the study reads its inputs.

An install normally compiles the kernels (``setup.py``, `walkcircle._numba_cache`). Where it
could not, the first study compiles them (about 5 s on 2 cores), and compiling holds the GIL, so
a thread cannot hide it. A study first spends seconds reading its network, facilities and
homes, which needs no kernel. `start` (called when a study begins) launches
``python -m walkcircle._kernels`` when a kernel is missing from the numba cache (no index, or
one written by another numba version): that process compiles every kernel a study runs
(`walkcircle._kernels.STUDY_KERNELS`), with the signatures a study uses, into the same cache. `wait` is called before a kernel first runs: it waits for the helper, so the study loads
the compiled kernels from the cache instead of compiling them a second time. When the kernels
are already cached, nothing is started and `wait` returns at once; if the helper fails, the
study compiles what it needs itself.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
from pathlib import Path

from walkcircle.defaults import PRECOMPILE_WAIT_S

__all__ = ["missing_kernels", "start", "wait"]

_HELPER: list[subprocess.Popen[bytes]] = []
_STARTED: list[bool] = []  # a helper is started at most once per process


def _index_path(name: str) -> Path | None:
    from walkcircle import _kernels

    kernel = getattr(_kernels, name)
    try:
        return Path(kernel._cache._cache_file._index_path)  # numba's cache index of this kernel
    except AttributeError:  # pragma: no cover - numba's cache internals changed
        return None


def missing_kernels() -> list[str]:
    """Name the kernels whose numba cache has no entry yet.

    Returns
    -------
    list of str
        ``module.kernel`` names of the kernels with no index or one another numba version wrote;
        empty when every kernel is cached (or numba's cache internals changed, in which case
        nothing is gained by a helper either).
    """
    from walkcircle._kernels import STUDY_KERNELS

    missing = []
    for name in STUDY_KERNELS:
        index = _index_path(name)
        if index is None:  # pragma: no cover
            return []
        if not _index_usable(index):
            missing.append(f"walkcircle._kernels.{name}")
    return missing


def _index_usable(index: Path) -> bool:
    """Whether a numba cache index exists and was written by this numba (else numba ignores it)."""
    import pickle

    import numba

    try:
        with index.open("rb") as file:
            return pickle.load(file) == numba.__version__  # numba writes its version first
    except (OSError, pickle.UnpicklingError, EOFError):
        return False


def start() -> bool:
    """Start compiling the kernels in a helper process if any is missing from the cache.

    Returns
    -------
    bool
        True if a helper was started.
    """
    if _STARTED or not missing_kernels():
        return False
    _STARTED.append(True)
    from walkcircle import paths

    paths._BEFORE_KERNELS.append(wait)
    cmd = [sys.executable, "-m", "walkcircle._kernels"]
    try:
        helper = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError:  # no process can be started: the study compiles what it needs itself
        return False
    _HELPER.append(helper)
    return True


def wait(timeout_s: float = PRECOMPILE_WAIT_S) -> None:
    """Share the rest of the compiling with the helper `start` launched, before a kernel runs.

    `start` makes this run before the first kernel (`walkcircle.paths._BEFORE_KERNELS`). The
    helper compiles `STUDY_KERNELS` in order while this process compiles them from the end until it
    meets one that is cached, so two cores compile. If every kernel is then cached the helper is
    stopped, else this process waits for it; either way the kernels load from the cache.

    Parameters
    ----------
    timeout_s
        Longest wait for the helper, seconds; a helper still running then is stopped and the
        study compiles what it still needs itself.
    """
    if not _HELPER:
        return
    from walkcircle._kernels import STUDY_KERNELS, compile_kernel

    helper = _HELPER.pop()
    try:
        for name in reversed(STUDY_KERNELS):
            index = _index_path(name)
            if helper.poll() is not None or index is None or _index_usable(index):
                break
            compile_kernel(name)
        if missing_kernels():
            helper.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if helper.poll() is None:  # done without it, timed out or interrupted: stop the helper
            helper.kill()
            helper.wait()


@atexit.register
def _stop() -> None:
    """Stop a helper that is still running when the study's process ends (e.g. interrupted)."""
    while _HELPER:
        helper = _HELPER.pop()
        if helper.poll() is None:
            helper.kill()
            helper.wait()
