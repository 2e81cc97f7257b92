"""Research subsets: which rows of the input are released, and the input's class sizes.

A *research subset* is a set of rows of the input table (ARX's convention). The input stands for
the population an attacker may know; only the subset's rows are released. The search then works
on the subset's rows (classes, suppression, criteria and metrics count subset rows, the
suppression limit is a fraction of the subset), and the subset-based criteria (d-presence,
k-map, see :mod:`.criteria`) also read, for every class, the number of input rows generalized to
the same values (:meth:`InputTable.class_sizes`).

:func:`match_subset` turns a subset given as rows (a DataFrame with the input's columns, as ARX
reads a subset file), a boolean mask or row positions into sorted row positions of the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd

from .check import RollupCache
from .encoding import value_to_str
from .space import Space, Table, node_keys, reduce_groups

if TYPE_CHECKING:
    from .hierarchy import Hierarchy
    from .space import ClassView

__all__ = ["match_subset", "InputTable"]

SubsetLike: TypeAlias = pd.DataFrame | np.ndarray | Sequence[int] | Sequence[bool]


def match_subset(df: pd.DataFrame, subset: SubsetLike) -> np.ndarray:
    """Sorted positions (``0..len(df)-1``) of the subset's rows in ``df``.

    * a DataFrame: each of its rows is matched, in order, to the first not yet matched row of
      ``df`` holding the same value in every column (values compared as strings, columns by
      name); a row with no match is an error, as is a row repeated more often than in ``df``;
    * a boolean mask of ``len(df)`` values, or integer positions (each at most once).

    Raises ``ValueError`` with a message naming the problem; an empty subset is refused.
    """
    if isinstance(subset, pd.DataFrame):
        positions = _match_rows(df, subset)
    else:
        positions = _positions(np.asarray(subset), len(df))
    if len(positions) == 0:
        raise ValueError("the research subset is empty")
    return np.sort(positions)


def _positions(values: np.ndarray, n_rows: int) -> np.ndarray:
    if values.dtype == bool:
        if values.ndim != 1 or len(values) != n_rows:
            raise ValueError(f"a boolean research subset needs one value per input row ({n_rows}), got {values.size}")
        return np.flatnonzero(values)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ValueError("a research subset is a table of rows, a boolean mask or integer row positions")
    positions = values.astype(np.int64)
    if ((positions < 0) | (positions >= n_rows)).any():
        raise ValueError(f"research subset row positions must lie in 0..{n_rows - 1}")
    if len(np.unique(positions)) != len(positions):
        raise ValueError("research subset row positions must not repeat")
    return positions


def _row_strings(df: pd.DataFrame, columns: list[str]) -> list[tuple[str, ...]]:
    as_text = [[value_to_str(v) for v in df[c].tolist()] for c in columns]
    return list(zip(*as_text, strict=True)) if columns else [()] * len(df)


def _match_rows(df: pd.DataFrame, subset: pd.DataFrame) -> np.ndarray:
    columns = [str(c) for c in df.columns]
    given = [str(c) for c in subset.columns]
    if sorted(given) != sorted(columns):
        missing = [c for c in columns if c not in given]
        extra = [c for c in given if c not in columns]
        raise ValueError(f"the research subset must have the input's columns; missing {missing}, unknown {extra}")
    free: dict[tuple[str, ...], list[int]] = {}
    for position, row in enumerate(_row_strings(df, columns)):
        free.setdefault(row, []).append(position)
    for rows in free.values():
        rows.reverse()  # pop() then yields the first free position
    matched = np.empty(len(subset), dtype=np.int64)
    renamed = subset.set_axis(given, axis=1)
    for i, row in enumerate(_row_strings(renamed, columns)):
        if row not in free:
            raise ValueError(f"research subset row {i + 1} matches no input row: {list(row)}")
        if not free[row]:
            raise ValueError(f"research subset row {i + 1} occurs more often than in the input: {list(row)}")
        matched[i] = free[row].pop()
    return matched


class InputTable:
    """The whole input's quasi-identifiers, to count input rows per class of a subset's node.

    ``qi_leaves`` are the leaf codes of every input row; ``subset_rows`` the positions of the
    subset's rows, ``subset_row_cell`` the subset space's base cell of each of them.
    """

    def __init__(self, qi_leaves: Sequence[np.ndarray], hierarchies: Sequence[Hierarchy],
                 subset_rows: np.ndarray, subset_row_cell: np.ndarray, n_subset_cells: int) -> None:
        self.space = Space(qi_leaves, hierarchies)
        self.n_rows = self.space.n_rows
        # For every base cell of the subset space, the input base cell holding its rows.
        self.cell_of_subset_cell = np.zeros(n_subset_cells, dtype=np.int64)
        self.cell_of_subset_cell[subset_row_cell] = self.space.row_cell[subset_rows]
        self.cache = RollupCache(self.space, max_cells=2_000_000, slots=64)

    def class_sizes(self, view: ClassView) -> tuple[np.ndarray, int]:
        """Input rows in each class of ``view`` (a node of the subset space) and the number of
        classes of the input at that node holding no subset row."""
        source = self.cache.source(view.levels)
        mapped = self.cell_of_subset_cell[view.class_rep]
        # One key computation for both, so that keys compare even when they are re-compressed.
        key, key_space = node_keys(self.space, np.concatenate([source.rep, mapped]), view.levels)
        _, keys, rep, sizes = reduce_groups(key[: len(source.rep)], key_space, source.rep, source.count)
        self.cache.store(view.levels, Table(rep, sizes))
        index = np.searchsorted(keys, key[len(source.rep):])
        hit = np.zeros(len(keys), dtype=bool)
        hit[index] = True
        return sizes[index], int(len(keys) - hit.sum())
