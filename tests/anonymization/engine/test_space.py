"""The encoded input of a search (engine/space.py): base cells, per-level codes and node grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.engine import Hierarchy
from anonymization.engine.encoding import encode_column
from anonymization.engine.space import Space, node_keys, reduce_groups, sorted_groups

LETTERS = Hierarchy([["a", "ab", "*"], ["b", "ab", "*"], ["c", "cd", "*"], ["d", "cd", "*"]], name="q")


def _space(values: list[str], sensitive: list[str] | None = None) -> Space:
    encoded = encode_column(pd.Series(sensitive, name="s")) if sensitive is not None else None
    return Space([LETTERS.leaf_codes(values)], [LETTERS], sensitive=encoded)


def test_it_counts_the_rows_of_each_distinct_combination_once() -> None:
    space = _space(["a", "b", "a", "c", "a"])
    assert space.n_rows == 5 and space.n_cells == 3
    assert sorted(space.counts.tolist()) == [1, 1, 3]
    assert space.counts[space.row_cell].tolist() == [3, 1, 3, 1, 3]


def test_it_keeps_cells_apart_by_their_sensitive_value() -> None:
    space = _space(["a", "a", "a"], sensitive=["x", "y", "x"])
    assert space.n_cells == 2
    assert space.sensitive_cells().tolist() == [0, 1]


def test_it_counts_the_distinct_generalized_values_per_level() -> None:
    space = _space(["a", "b", "a", "c"])
    assert [levels.tolist() for levels in space.distinct_per_level()] == [[3, 2, 1]]


@pytest.mark.parametrize(
    ("method", "message"),
    [("sensitive_cells", "this criterion needs a sensitive column, and none was given"),
     ("individual_cells", "no individual_id column was given")],
)
def test_it_refuses_columns_that_were_not_given(method: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        getattr(_space(["a"]), method)()
    assert str(error.value) == message


def test_it_groups_cells_by_their_generalized_codes_at_a_node() -> None:
    space = _space(["a", "b", "c", "d", "a"])
    table = space.base_table()
    key, key_space = node_keys(space, table.rep, (1,))
    group, _, _, sizes = reduce_groups(key, key_space, table.rep, table.count)
    assert key_space == 2 and sorted(sizes.tolist()) == [2, 3]
    leaves = space.cell_leaves[:, 0]
    assert len(set(group[np.isin(leaves, LETTERS.leaf_codes(["a", "b"]))].tolist())) == 1


def test_it_groups_the_same_way_with_a_small_or_a_huge_key_space() -> None:
    key = np.array([5, 1, 5, 9], dtype=np.int64)
    rep, count = np.arange(4), np.array([1, 2, 3, 4])
    small = reduce_groups(key, 10, rep, count)
    huge = reduce_groups(key, 1 << 40, rep, count)
    for position in (0, 1, 3):  # group of each cell, key and rows of each group
        assert small[position].tolist() == huge[position].tolist()
    assert small[1].tolist() == [1, 5, 9] and small[3].tolist() == [2, 4, 4]
    for group, rep_of_group in ((small[0], small[2]), (huge[0], huge[2])):  # any cell of the group stands for it
        assert (group[rep_of_group] == np.arange(3)).all()


@pytest.mark.parametrize(("rows", "high"), [(0, 3), (1, 3), (7, 2), (1_000, 5), (5_000, 10**12)])
def test_sorted_groups_answers_what_np_unique_does(rows, high) -> None:
    # Groups numbered in key order, and the first (smallest) position of each group: the rows a
    # class is represented by, whatever order the unstable sort leaves equal keys in.
    key = np.random.default_rng(rows).integers(0, high, rows)
    group, keys, first = sorted_groups(key)
    expected_keys, expected_first, expected_group = np.unique(key, return_index=True, return_inverse=True)
    assert group.tolist() == expected_group.ravel().tolist()
    assert keys.tolist() == expected_keys.tolist() and first.tolist() == expected_first.tolist()
