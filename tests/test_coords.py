"""GCJ-02 / BD-09 <-> WGS-84: published pairs, two independent packages, round trips."""

from __future__ import annotations

import eviltransform
import numpy as np
import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from walkcircle.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    normalise_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2):
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# The pairs printed in the README of wandergis/coordtransform, the most copied implementation.
def test_published_reference_pairs():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-9)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-9)
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-9)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-9)
    # the README's inverses are one-step approximations; ours are exact, within 0.1 m of them
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert metres(lon, lat, 116.39762729119315, 39.90865673957631) < 0.1
    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    assert metres(lon, lat, 116.39775550083061, 39.91359571849836) < 2.0  # one-step inverse errs by ~1 m


@pytest.fixture(scope="module")
def china_points():
    rng = np.random.default_rng(0)
    lon = rng.uniform(75, 134, 500)
    lat = rng.uniform(19, 53, 500)
    return lon, lat


def test_forward_agrees_with_prcoords_and_eviltransform(china_points):
    lon, lat = china_points
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    for i in range(lon.size):
        p = prcoords.wgs_gcj(prcoords.Coords(lat[i], lon[i]), check_china=False)
        e_lat, e_lon = eviltransform.wgs2gcj(lat[i], lon[i])
        assert metres(g_lon[i], g_lat[i], p.lon, p.lat) < 0.01
        # eviltransform rounds its constants differently: a centimetre apart at most
        assert metres(g_lon[i], g_lat[i], e_lon, e_lat) < 0.05
        pb = prcoords.wgs_bd(prcoords.Coords(lat[i], lon[i]), check_china=False)
        assert metres(b_lon[i], b_lat[i], pb.lon, pb.lat) < 0.01


def test_inverse_agrees_with_independent_exact_inverses(china_points):
    lon, lat = china_points
    w_lon, w_lat = gcj02_to_wgs84(lon, lat)
    wb_lon, wb_lat = bd09_to_wgs84(lon, lat)
    for i in range(0, lon.size, 5):
        p = prcoords.gcj_wgs_bored(prcoords.Coords(lat[i], lon[i]), check_china=False)
        e_lat, e_lon = eviltransform.gcj2wgs_exact(lat[i], lon[i])
        assert metres(w_lon[i], w_lat[i], p.lon, p.lat) < 0.1
        # eviltransform's bisection stops at 1e-6 degrees (about 0.1 m)
        assert metres(w_lon[i], w_lat[i], e_lon, e_lat) < 0.25
        pb = prcoords.bd_wgs_bored(prcoords.Coords(lat[i], lon[i]), check_china=False)
        assert metres(wb_lon[i], wb_lat[i], pb.lon, pb.lat) < 0.1


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(73.5, 134.5), lat=st.floats(18.5, 53.5))
def test_round_trips_are_well_under_half_a_metre(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(back[0], back[1], lon, lat) < 0.5
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(back[0], back[1], lon, lat) < 0.5
    forward = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert metres(forward[0], forward[1], lon, lat) < 0.01


def test_offset_in_hebi_is_hundreds_of_metres():
    lon, lat = 114.297, 35.748  # Qibin district
    g = wgs84_to_gcj02(lon, lat)
    b = wgs84_to_bd09(lon, lat)
    assert 300 < metres(g[0], g[1], lon, lat) < 800
    assert 800 < metres(b[0], b[1], lon, lat) < 2000


def test_outside_china_is_unchanged():
    lon, lat = np.array([24.94, -0.12, 139.7]), np.array([60.17, 51.5, 35.7])
    assert not in_china(lon[:2], lat[:2]).any()
    g_lon, g_lat = wgs84_to_gcj02(lon[:2], lat[:2])
    np.testing.assert_array_equal(g_lon, lon[:2])
    np.testing.assert_array_equal(g_lat, lat[:2])
    back = gcj02_to_wgs84(lon[:2], lat[:2])
    np.testing.assert_allclose(back[0], lon[:2], atol=1e-12)


def test_names_and_dispatch():
    assert normalise_crs("WGS-84") == "wgs84"
    assert normalise_crs("GCJ_02") == "gcj02"
    assert normalise_crs("bd09ll") == "bd09"
    assert normalise_crs("gaode") == "gcj02"
    with pytest.raises(ValueError, match="unknown coordinate system 'utm'"):
        normalise_crs("utm")
    lon, lat = 114.3, 35.75
    for crs in ("wgs84", "gcj02", "bd09"):
        back = to_wgs84(*from_wgs84(lon, lat, crs), crs)
        assert metres(back[0], back[1], lon, lat) < 1e-3


def test_nan_passes_through():
    lon, _ = gcj02_to_wgs84(np.array([np.nan, 114.3]), np.array([35.0, 35.75]))
    assert np.isnan(lon[0]) and np.isfinite(lon[1])
