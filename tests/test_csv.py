"""CSV files: written through Arrow, byte for byte what pandas' ``to_csv`` writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walkcircle.outputs.export import _arrow_csv_columns, write_csv


def _pandas_bytes(frame: pd.DataFrame, path) -> bytes:
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path.read_bytes()


def _written(frame: pd.DataFrame, tmp_path) -> tuple[bytes, bytes]:
    ours = write_csv(frame, tmp_path / "ours.csv").read_bytes()
    return ours, _pandas_bytes(frame, tmp_path / "pandas.csv")


floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: round(x, 2)),  # as `tidy_table` rounds
    st.integers(-(10**17), 10**17).map(float),  # whole numbers, on both sides of 1e15 and 1e16
    st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, 1e15, 1e16, 5e-324, 114.260085]),
)
plain_text = st.text(st.characters(blacklist_characters=',"\r\n', blacklist_categories=["Cs"]), max_size=6)


@st.composite
def tables(draw: st.DrawFn, text: st.SearchStrategy[str] = plain_text) -> pd.DataFrame:
    rows = draw(st.integers(0, 12))
    columns = {
        "f": pd.Series(draw(st.lists(floats, min_size=rows, max_size=rows)), dtype=np.float64),
        "b": pd.Series(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool),
        "i": pd.Series(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=rows, max_size=rows)), dtype=np.int64
        ),
        "s": pd.Series(draw(st.lists(st.none() | text, min_size=rows, max_size=rows)), dtype="string"),
        "o": pd.Series(draw(st.lists(st.none() | text, min_size=rows, max_size=rows)), dtype=object),
        "n": pd.array(
            draw(st.lists(st.none() | st.integers(-1000, 1000), min_size=rows, max_size=rows)), "Int64"
        ),
        "g": pd.array(
            draw(st.lists(st.none() | st.floats(allow_nan=False), min_size=rows, max_size=rows)), "Float64"
        ),
        "社区": pd.Series(draw(st.lists(floats, min_size=rows, max_size=rows)), dtype=np.float64),
    }
    return pd.DataFrame(columns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=tables())
def test_csv_is_what_pandas_writes_byte_for_byte(tmp_path, frame):
    assert _arrow_csv_columns(frame) is not None  # through Arrow, not pandas' fallback
    ours, theirs = _written(frame, tmp_path)
    assert ours == theirs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=tables(text=st.text(st.sampled_from('ab,"\r\n 中'), max_size=5)))
def test_values_that_need_quoting_are_quoted_as_pandas_does(tmp_path, frame):
    ours, theirs = _written(frame, tmp_path)
    assert ours == theirs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=False), min_size=1, max_size=20))
def test_floats_read_back_bit_for_bit(tmp_path, values):
    frame = pd.DataFrame({"x": values, "y": np.arange(len(values))})
    read = pd.read_csv(write_csv(frame, tmp_path / "t.csv"), encoding="utf-8-sig")
    assert read["x"].dtype == np.float64  # whole numbers keep their ".0"
    np.testing.assert_array_equal(read["x"].to_numpy().view(np.int64), np.asarray(values).view(np.int64))


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": ["", "a"]}),  # a lone empty field is written quoted
        pd.DataFrame({"a,b": [1.5], "c": [2.0]}),  # a name that needs quoting
        pd.DataFrame({"x": [1.0], "t": pd.to_datetime(["2026-12-07"])}),  # a kind not handled
        pd.DataFrame({"x": np.array([0.1], np.float32), "y": [1]}),  # float32 has its own repr
        pd.DataFrame({"x": [1, "a"], "y": [1, 2]}, dtype=object),  # an object column of mixed values
        pd.DataFrame({"x": [True, None], "y": [1, 2]}, dtype=object),
        pd.DataFrame({"c": pd.Categorical(["a", "b"]), "y": [1, 2]}),
    ],
)
def test_tables_arrow_does_not_handle_go_through_pandas(tmp_path, frame):
    assert _arrow_csv_columns(frame) is None
    ours, theirs = _written(frame, tmp_path)
    assert ours == theirs
