"""Compiled kernels are cached by source: a second install of the same code compiles nothing."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from walkcircle import _numba_cache
from walkcircle._kernels import KERNELS

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


def _built_folder(tmp_path: Path, monkeypatch, files: dict[str, bytes], key: dict | None = None) -> Path:
    folder = tmp_path / "pkg" / "_compiled" / "_kernels-abc"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    key = _numba_cache.build_key() if key is None else key
    (folder.parent / "build_key.json").write_text(json.dumps(key))
    monkeypatch.setattr(_numba_cache, "_PACKAGE_DIR", tmp_path / "pkg")
    monkeypatch.setattr(_numba_cache, "_SEEDED", set())
    monkeypatch.setattr(_numba_cache, "_BUILT_USABLE", [])
    cache = tmp_path / "home" / "_kernels-abc"
    cache.mkdir(parents=True)
    return cache


BUILT = {"k.f-1.py311.nbi": b"index f", "k.f-1.py311.1.nbc": b"data f",
         "k.g-9.py311.nbi": b"index g", "k.g-9.py311.1.nbc": b"data g", "k.g-9.py311.2.nbc": b"data g2"}  # fmt: skip


def test_built_kernels_fill_only_what_the_user_cache_lacks(tmp_path, monkeypatch):
    cache = _built_folder(tmp_path, monkeypatch, BUILT)
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


def test_built_kernels_never_replace_a_file_another_process_wrote(tmp_path, monkeypatch):
    cache = _built_folder(tmp_path, monkeypatch, BUILT)
    (cache / "k.g-9.py311.1.nbc").write_bytes(b"written by a numba compiling meanwhile")
    _numba_cache._copy_built_kernels(cache)
    assert (cache / "k.g-9.py311.1.nbc").read_bytes() == b"written by a numba compiling meanwhile"
    assert not (cache / "k.g-9.py311.nbi").exists()  # that kernel is left to numba
    assert (cache / "k.f-1.py311.nbi").read_bytes() == b"index f"  # the others are copied
    assert not [p.name for p in cache.iterdir() if p.name.startswith(".")]  # no part-copied files


@pytest.mark.parametrize("field", ["numba", "numpy", "cpu", "features"])
def test_kernels_built_for_another_numba_numpy_or_cpu_are_not_copied(tmp_path, monkeypatch, field):
    key = {**_numba_cache.build_key(), field: "something else"}
    cache = _built_folder(tmp_path, monkeypatch, BUILT, key)
    _numba_cache._copy_built_kernels(cache)
    assert list(cache.iterdir()) == []


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
    """`pip install` (setup.py) compiled the kernels into the installed package, for this machine."""
    from importlib.metadata import PackageNotFoundError, distribution

    from walkcircle import _kernels

    if os.environ.get("WALKCIRCLE_BUILD_KERNELS") == "0":
        pytest.skip("installed with WALKCIRCLE_BUILD_KERNELS=0")
    try:
        distribution("walkcircle")
    except PackageNotFoundError:
        pytest.skip("walkcircle is not installed (run from a checkout): no build step ran")
    installed = Path(_kernels.__file__).parent / "_compiled"
    assert installed.is_dir(), (
        f"{installed} is missing: the install did not compile the kernels (pip install -v says why)"
    )
    locator = _numba_cache.ContentCacheLocator(_kernels._nearest_into.py_func, _kernels.__file__)
    folder = installed / Path(locator.get_cache_path()).name
    if not folder.is_dir():
        pytest.skip("walkcircle/_kernels.py changed since the install: `pip install -e .` compiles it again")
    names = {p.name.split("-")[0] for p in folder.glob("*.nbi")}
    assert {f"_kernels.{name}" for name in _kernels.KERNELS} <= names
    assert json.loads((installed / "build_key.json").read_text()) == _numba_cache.build_key()


def _setup_module():
    spec = importlib.util.spec_from_file_location("walkcircle_setup", SRC.parents[1] / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not as __main__: defines the build step without running setup()
    return module


@pytest.mark.slow
def test_setup_compiles_the_kernels_and_says_why_when_it_cannot(tmp_path):
    pytest.importorskip("setuptools")
    setup = _setup_module()
    root = tmp_path / "build-lib"
    shutil.copytree(SRC, root / "walkcircle", ignore=shutil.ignore_patterns("__pycache__", "_compiled"))
    assert setup.compile_kernels_into(root) is None
    assert len(list((root / "walkcircle" / "_compiled").glob("_kernels-*/*.nbi"))) >= len(KERNELS)
    (root / "walkcircle" / "_kernels.py").write_text("raise ImportError('numba is missing here')\n")
    assert (
        setup.compile_kernels_into(root)
        == "RuntimeError: compiling the kernels failed: ImportError: numba is missing here"
    )
    assert setup.compile_kernels_into(root, timeout_s=0.001).startswith(
        ("RuntimeError: compiling", "TimeoutExpired")
    )
