"""Per-column dictionaries (engine/encoding.py): values compared as strings, dense codes, mixed-radix keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.engine import encoding
from anonymization.engine.encoding import MISSING, combine_codes, encode_column, value_to_str


@pytest.mark.parametrize(
    ("value", "text"),
    [("39", "39"), (39, "39"), (39.0, "39"), (np.float64(39.0), "39"), (39.5, "39.5"),
     (None, MISSING), (float("nan"), MISSING), (pd.NA, MISSING), (pd.NaT, MISSING), ("", "")],
)
def test_it_compares_values_by_their_string_form(value: object, text: str) -> None:
    assert value_to_str(value) == text


def test_it_gives_equal_strings_one_dense_code_in_order_of_appearance() -> None:
    column = encode_column(pd.Series([1, 1.0, "1", 2, None, 2], dtype=object, name="age"))
    assert column.name == "age"
    assert column.labels == ["1", "2", MISSING]
    assert column.codes.tolist() == [0, 0, 0, 1, 2, 1]
    assert column.codes.dtype == np.int64 and column.cardinality == 3


def test_it_names_the_column_by_the_argument_over_the_series_name() -> None:
    assert encode_column(pd.Series(["a"], name="old"), name="new").name == "new"


def test_it_combines_codes_into_keys_equal_only_for_equal_rows() -> None:
    keys, space = combine_codes([np.array([0, 0, 1, 1]), np.array([0, 2, 0, 2])], [2, 3])
    assert keys.tolist() == [0, 2, 3, 5]
    assert space == 6


def test_it_compresses_the_key_before_it_would_pass_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoding, "KEY_LIMIT", 10)
    columns = [np.array([0, 4, 4, 0]), np.array([0, 0, 4, 0]), np.array([1, 1, 1, 1])]
    keys, space = combine_codes(columns, [5, 5, 5])
    assert space <= 10 * 5
    assert keys[0] == keys[3] and len(set(keys[:3].tolist())) == 3
