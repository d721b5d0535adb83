"""Compiled kernels are cached by source: a second install of the same code compiles nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from walkcircle import _numba_cache

SRC = Path(__file__).resolve().parents[1] / "src" / "walkcircle"

PROBE = """
import json
import numpy as np
from scipy import sparse
from walkcircle import paths
g = sparse.csr_matrix(np.array([[0, 2.0], [2.0, 0]]))
dist, _ = paths.nearest(g, [np.array([0])])
stats = paths._nearest_into.stats
print(json.dumps({"dist": dist.tolist(), "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()), "file": paths.__file__}))
"""


def _run(src_root: Path, cache_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(src_root), XDG_CACHE_HOME=str(cache_home))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_second_install_of_the_same_source_loads_the_compiled_kernels(tmp_path):
    installs = []
    for name in ("install_a", "install_b"):
        root = tmp_path / name
        shutil.copytree(SRC, root / "walkcircle", ignore=shutil.ignore_patterns("__pycache__"))
        installs.append(root)
    cache_home = tmp_path / "cache"
    first = _run(installs[0], cache_home)
    second = _run(installs[1], cache_home)
    assert first["file"].startswith(str(installs[0])) and second["file"].startswith(str(installs[1]))
    assert first["dist"] == second["dist"] == [[0.0, 2.0]]
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled in the first install
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded in the second, at another path
    assert any((cache_home / "walkcircle" / "numba").glob("paths-*/*.nbi"))


def test_changed_source_gets_its_own_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert _numba_cache.kernel_cache_dir() == tmp_path / "walkcircle" / "numba"
    paths_file = SRC / "paths.py"

    def kernel():  # stands in for a kernel defined in paths.py
        return None

    here = _numba_cache.ContentCacheLocator.from_function(kernel, str(paths_file))
    assert here is not None
    assert Path(here.get_cache_path()).parent == tmp_path / "walkcircle" / "numba"
    other = _numba_cache.ContentCacheLocator.from_function(kernel, str(SRC / "isochrones.py"))
    assert other is not None and other.get_cache_path() != here.get_cache_path()
    # files outside walkcircle keep numba's own cache, and NUMBA_CACHE_DIR wins
    assert _numba_cache.ContentCacheLocator.from_function(kernel, __file__) is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert _numba_cache.ContentCacheLocator.from_function(kernel, str(paths_file)) is None
