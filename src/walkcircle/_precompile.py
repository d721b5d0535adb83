"""Compile a study's kernels in a helper process while the study reads its inputs.

The first study after an install compiles the numba kernels (about 4-5 s on 2 cores) and
compiling holds the GIL, so a thread cannot hide it. A study first spends seconds reading its
network, facilities and homes, which needs no kernel. `start` (called when a study begins)
launches ``python -m walkcircle._precompile`` when a kernel is missing from the numba cache: that
process compiles every kernel a study runs, with the signatures a study uses, into the same
cache. `wait` is called before a kernel first runs: it waits for the helper, so the study loads
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

__all__ = ["compile_kernels", "missing_kernels", "start", "wait"]

# (module, kernel) pairs a study runs, the longest to compile first; `_compile` reaches each
# through the public function a study calls
KERNELS = (
    ("walkcircle.paths", "_counts_into"),
    ("walkcircle.paths", "_k_nearest_into"),
    ("walkcircle.paths", "_reach_lists"),
    ("walkcircle.isochrones", "_distance_field"),
    ("walkcircle.paths", "_nearest_into"),
)
_HELPER: list[subprocess.Popen[bytes]] = []
_STARTED: list[bool] = []  # a helper is started at most once per process


def _index_path(module: str, name: str) -> Path | None:
    import importlib

    kernel = getattr(importlib.import_module(module), name)
    try:
        return Path(kernel._cache._cache_file._index_path)  # numba's cache index of this kernel
    except AttributeError:  # pragma: no cover - numba's cache internals changed
        return None


def missing_kernels() -> list[str]:
    """Name the kernels whose numba cache has no entry yet.

    Returns
    -------
    list of str
        ``module.kernel`` names; empty when every kernel is cached (or the cache cannot be read,
        in which case nothing is gained by a helper either).
    """
    missing = []
    for module, name in KERNELS:
        index = _index_path(module, name)
        if index is None:  # pragma: no cover
            return []
        if not index.exists():
            missing.append(f"{module}.{name}")
    return missing


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
    cmd = [sys.executable, "-m", "walkcircle._precompile"]
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
    helper compiles `KERNELS` in order while this process compiles them from the end until it
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
    helper = _HELPER.pop()
    try:
        for module, name in reversed(KERNELS):
            index = _index_path(module, name)
            if helper.poll() is not None or index is None or index.exists():
                break
            _compile(name)
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


def _compile(name: str) -> None:
    """Run one kernel on a tiny input through the function a study calls.

    The inputs have the types a study's arrays have (int32 node ids below 2**31 nodes, float64
    metres, more than one segment per line), so the compiled signature is the one a study looks
    up in the cache.
    """
    import numpy as np
    import shapely
    from scipy import sparse

    from walkcircle import paths
    from walkcircle.isochrones import buffer_lines_raster

    graph = sparse.csr_matrix(([10.0, 10.0, 10.0, 10.0], ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    sources = [np.array([0]), np.array([2])]
    if name == "_nearest_into":
        paths.passes(graph, sources, nearest=True)
    elif name == "_counts_into":
        paths.passes(graph, sources, nearest=False, count_limits=[[10.0, 20.0]] * 2)
    elif name == "_k_nearest_into":
        paths.passes(graph, sources, nearest=False, k=2, k_limit=40.0)
    elif name == "_reach_lists":
        paths.reach_within(graph, np.array([0, 2]), 15.0)
    elif name == "_distance_field":
        buffer_lines_raster(np.array([shapely.LineString([(0, 0), (30, 0), (30, 20)])]), 5.0, 2.0)
    else:
        msg = f"no way to compile kernel {name!r}"
        raise ValueError(msg)


def compile_kernels() -> None:
    """Compile every kernel of `KERNELS`, in order, into the numba cache."""
    for _module, name in KERNELS:
        _compile(name)


if __name__ == "__main__":  # the helper: its kernels must not start helpers of their own
    from walkcircle import _precompile

    _precompile._STARTED.append(True)
    _precompile.compile_kernels()
