"""Array helpers against the numpy functions they stand in for."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from walkcircle._arrays import unique_values


@given(hnp.arrays(st.sampled_from([np.int64, np.int32, np.uint8]), st.integers(0, 300)))
def test_unique_values_of_integers(values):
    expected = np.unique(values)
    got = unique_values(values)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


@given(
    hnp.arrays(
        np.float64,
        st.integers(0, 200),
        elements=st.floats(allow_infinity=True) | st.sampled_from([0.0, -0.0, 1.5]),
    )
)
def test_unique_values_of_floats_with_nans(values):
    np.testing.assert_array_equal(unique_values(values), np.unique(values))  # NaN once, last


def test_unique_values_of_a_city_scale_array():
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 2**40, 50_000)[rng.integers(0, 50_000, 300_000)]
    np.testing.assert_array_equal(unique_values(ids), np.unique(ids))
