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


def _run(src_root: Path, cache_home: Path, probe: str = PROBE) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(src_root), XDG_CACHE_HOME=str(cache_home))
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_second_install_of_the_same_source_loads_the_compiled_kernels(tmp_path):
    installs = []
    for name in ("install_a", "install_b"):
        root = tmp_path / name
        # without the kernels a build compiles (see the fresh-install test below)
        shutil.copytree(SRC, root / "walkcircle", ignore=shutil.ignore_patterns("__pycache__", "_compiled"))
        installs.append(root)
    cache_home = tmp_path / "cache"
    first = _run(installs[0], cache_home)
    second = _run(installs[1], cache_home)
    assert first["file"].startswith(str(installs[0])) and second["file"].startswith(str(installs[1]))
    assert first["dist"] == second["dist"] == [[0.0, 2.0]]
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled in the first install
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded in the second, at another path
    assert any((cache_home / "walkcircle" / "numba").glob("_kernels-*/*.nbi"))


def test_changed_source_gets_its_own_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert _numba_cache.kernel_cache_dir() == tmp_path / "walkcircle" / "numba"
    paths_file = SRC / "_kernels.py"

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


ALL_KERNELS = """
import json
from walkcircle import _kernels
_kernels.compile_kernels()  # runs each kernel once: loaded from the cache, or compiled
stats = {name: getattr(_kernels, name).stats for name in _kernels.KERNELS}
print(json.dumps({"hits": {n: sum(s.cache_hits.values()) for n, s in stats.items()},
                  "misses": {n: sum(s.cache_misses.values()) for n, s in stats.items()},
                  "file": _kernels.__file__}))
"""


@pytest.mark.slow
def test_a_fresh_install_loads_the_kernels_its_build_compiled(tmp_path):
    """What setup.py runs at install time: the first run after it compiles nothing."""
    built, plain = tmp_path / "built", tmp_path / "plain"
    for root in (built, plain):
        shutil.copytree(SRC, root / "walkcircle", ignore=shutil.ignore_patterns("__pycache__", "_compiled"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(built)
    done = subprocess.run(
        [sys.executable, "-m", "walkcircle._numba_cache", str(built / "walkcircle")],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    compiled = built / "walkcircle" / "_compiled"
    assert Path(done.stdout.strip()) == compiled.resolve()
    assert len(list(compiled.glob("_kernels-*/*.nbi"))) >= 5
    assert not list((built / "walkcircle").glob(".*"))  # nothing left aside

    first = _run(built, tmp_path / "home-a", ALL_KERNELS)  # an empty user cache, as on a fresh machine
    assert first["file"].startswith(str(built))
    assert all(n >= 1 for n in first["hits"].values()) and not any(first["misses"].values()), first
    user = tmp_path / "home-a" / "walkcircle" / "numba"
    assert {p.name for p in user.glob("_kernels-*/*.nb?")} >= {p.name for p in compiled.glob("*/*.nb?")}
    assert not list(user.glob("_kernels-*/.*"))  # no part-copied files left
    without = _run(plain, tmp_path / "home-b", ALL_KERNELS)  # the same source without the build step compiles
    assert all(n >= 1 for n in without["misses"].values()), without


def _built_folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "pkg" / "_compiled" / "_kernels-abc"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_built_kernels_fill_only_what_the_user_cache_lacks(tmp_path, monkeypatch):
    _built_folder(
        tmp_path,
        {"k.f-1.py311.nbi": b"index f", "k.f-1.py311.1.nbc": b"data f",
         "k.g-9.py311.nbi": b"index g", "k.g-9.py311.1.nbc": b"data g", "k.g-9.py311.2.nbc": b"data g2"},
    )  # fmt: skip
    monkeypatch.setattr(_numba_cache, "_PACKAGE_DIR", tmp_path / "pkg")
    monkeypatch.setattr(_numba_cache, "_SEEDED", set())
    cache = tmp_path / "home" / "_kernels-abc"
    cache.mkdir(parents=True)
    (cache / "k.f-1.py311.nbi").write_bytes(b"the user's own index")
    (cache / "k.f-1.py311.1.nbc").write_bytes(b"the user's own data")
    _numba_cache._copy_built_kernels(cache)
    assert (cache / "k.f-1.py311.nbi").read_bytes() == b"the user's own index"  # kept, not overwritten
    assert (cache / "k.f-1.py311.1.nbc").read_bytes() == b"the user's own data"
    assert (cache / "k.g-9.py311.nbi").read_bytes() == b"index g"
    assert (cache / "k.g-9.py311.2.nbc").read_bytes() == b"data g2"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["k.f-1.py311.nbi", "k.f-1.py311.1.nbc", "k.g-9.py311.nbi", "k.g-9.py311.1.nbc", "k.g-9.py311.2.nbc"]
    )
    (cache / "k.g-9.py311.nbi").unlink()
    _numba_cache._copy_built_kernels(cache)  # once per folder and process
    assert not (cache / "k.g-9.py311.nbi").exists()
    other = tmp_path / "home" / "_kernels-other"  # no build for this source: nothing to copy
    other.mkdir()
    _numba_cache._copy_built_kernels(other)
    assert list(other.iterdir()) == []


def test_a_failed_build_says_why_and_keeps_the_previous_kernels(tmp_path):
    package = tmp_path / "src" / "walkcircle"
    shutil.copytree(SRC, package, ignore=shutil.ignore_patterns("__pycache__", "_compiled"))
    (package / "_kernels.py").write_text("raise ImportError('numba is missing here')\n")
    previous = package / "_compiled" / "_kernels-old"
    previous.mkdir(parents=True)
    (previous / "k.nbi").write_bytes(b"kept")
    with pytest.raises(
        RuntimeError, match="compiling the kernels failed: ImportError: numba is missing here"
    ):
        _numba_cache.build_kernels(package)
    assert (previous / "k.nbi").read_bytes() == b"kept"
    assert sorted(p.name for p in package.glob(".*")) == []


def test_the_install_compiled_the_kernels_of_this_source():
    """`pip install` (setup.py) compiled the kernels into the installed package."""
    from walkcircle import _kernels

    installed = Path(_kernels.__file__).parent / "_compiled"
    assert installed.is_dir(), f"{installed} is missing: the install did not compile the kernels (setup.py)"
    locator = _numba_cache.ContentCacheLocator(_kernels._nearest_into.py_func, _kernels.__file__)
    folder = installed / Path(locator.get_cache_path()).name
    if not folder.is_dir():
        pytest.skip("walkcircle/_kernels.py changed since the install: `pip install -e .` compiles it again")
    names = {p.name.split("-")[0] for p in folder.glob("*.nbi")}
    assert {f"_kernels.{name}" for name in _kernels.KERNELS} <= names
