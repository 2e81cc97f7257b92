"""The encoded input of a search and the equivalence classes of one node.

* :class:`Space` encodes the input once. Its *base cells* are the distinct combinations of the
  quasi-identifiers' original values (plus the sensitive value and/or individual, when a criterion
  needs them), each with a row count, numbered in order of first appearance. ``codes[offsets[a] + l][cell]`` is the dense code of
  attribute ``a`` generalized to level ``l``, for every attribute and level (levels x values).
* A :class:`Table` is a list of cells ``(rep, count)``: ``rep`` indexes a base cell standing for all
  base cells merged into it.
* A :class:`ClassView` is the grouping of one node: its classes, their sizes and the per-class
  statistics that criteria and metrics read.

Grouping forms a mixed-radix int64 key from the codes (:func:`node_keys`) and counts it with
``np.bincount`` when the key space is small, ``np.unique`` otherwise (:func:`reduce_groups`).
This module reads data only; checking a node against criteria lives in :mod:`.check`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

from .encoding import KEY_LIMIT, EncodedColumn, combine_codes
from .hierarchy import Hierarchy


class InputCounts(Protocol):
    """The whole input behind a research subset (:class:`~.subset.InputTable`)."""

    def class_sizes(self, view: ClassView) -> tuple[np.ndarray, int]:
        """Input rows per class of ``view`` and the input's classes without subset rows."""
        ...

__all__ = ["Space", "Table", "ClassView", "node_keys", "reduce_groups"]


@dataclass(frozen=True)
class Table:
    """Cells of a checked node: base-cell representative and row count per cell."""

    rep: np.ndarray
    count: np.ndarray

    def __len__(self) -> int:
        return len(self.rep)


class Space:
    """The encoded input: base cells, per-level codes and the columns the criteria read."""

    def __init__(
        self,
        qi_leaves: Sequence[np.ndarray],
        hierarchies: Sequence[Hierarchy],
        sensitive: EncodedColumn | None = None,
        individuals: EncodedColumn | None = None,
    ) -> None:
        self.hierarchies = list(hierarchies)
        self.depths = tuple(h.depth for h in self.hierarchies)
        self.d = len(self.depths)
        self.offsets = np.concatenate([[0], np.cumsum(self.depths)[:-1]]).astype(np.int64)
        self.n_rows = int(len(qi_leaves[0]))
        self.sensitive_labels = sensitive.labels if sensitive is not None else []
        self.individual_labels = individuals.labels if individuals is not None else []
        self._build_cells(qi_leaves, sensitive, individuals)
        self._build_level_codes()
        #: With a research subset, this space holds the subset's rows and ``input`` the whole
        #: input (for the input rows per class); ``input_rows`` is the input's row count.
        self.input: InputCounts | None = None
        self.input_rows = self.n_rows

    def _build_cells(
        self, qi_leaves: Sequence[np.ndarray], sensitive: EncodedColumn | None, individuals: EncodedColumn | None
    ) -> None:
        columns = list(qi_leaves)
        cards = [len(h) for h in self.hierarchies]
        for extra in (sensitive, individuals):
            if extra is not None:
                columns.append(extra.codes)
                cards.append(extra.cardinality)
        key, _ = combine_codes(columns, cards)
        self.row_cell, first = first_seen_groups(key)
        self.counts = np.bincount(self.row_cell).astype(np.int64)
        #: Per attribute, the leaf (hierarchy row) of every base cell.
        self.leaf_columns = [c.take(first) for c in qi_leaves]
        self.cell_sensitive = sensitive.codes[first] if sensitive is not None else None
        self.cell_individual = individuals.codes[first] if individuals is not None else None
        self._build_extra()

    def sensitive_cells(self) -> np.ndarray:
        """Sensitive code of every cell; only for criteria over a sensitive column."""
        if self.cell_sensitive is None:
            raise ValueError("this criterion needs a sensitive column, and none was given")
        return self.cell_sensitive

    def individual_cells(self) -> np.ndarray:
        """Individual code of every cell; only when k counts distinct individuals."""
        if self.cell_individual is None:
            raise ValueError("no individual_id column was given")
        return self.cell_individual

    def _build_extra(self) -> None:
        """Cells of a node stay distinct per (class, extra); extra = sensitive and/or individual."""
        parts = [(c, len(labels)) for c, labels in ((self.cell_sensitive, self.sensitive_labels),
                                            (self.cell_individual, self.individual_labels)) if c is not None]
        if not parts:
            self.cell_extra, self.n_extra = None, 1
            return
        key, space = combine_codes([p[0] for p in parts], [p[1] for p in parts])
        self.cell_extra, self.n_extra = key, space

    def _build_level_codes(self) -> None:
        """codes[offsets[a] + l]: dense code (0..cards-1) of each cell's attribute a at level l;
        label_index[offsets[a] + l][code] is the hierarchy's label index for that code."""
        total = int(sum(self.depths))
        self.codes: list[np.ndarray] = []
        self.cards = np.empty(total, dtype=np.int64)
        self.label_index: list[np.ndarray] = []
        # Per attribute: the leaves present and, per level, each leaf's dense code (tables over the
        # hierarchy's leaves, small); a cell's code is then one lookup by its leaf.
        self._leaf_codes: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]] = []
        for a, hierarchy in enumerate(self.hierarchies):
            leaves = self.leaf_columns[a]
            present = np.zeros(len(hierarchy), dtype=bool)
            present[leaves] = True
            used_leaves = np.flatnonzero(present)
            tables = []
            for level in range(hierarchy.depth):
                per_leaf = hierarchy.codes[:, level]
                used = np.zeros(len(hierarchy.labels[level]), dtype=bool)
                used[per_leaf[used_leaves]] = True
                table = (np.cumsum(used) - 1)[per_leaf].astype(np.int32)
                column = self.offsets[a] + level
                self.codes.append(table[leaves])
                self.cards[column] = int(used.sum())
                self.label_index.append(np.flatnonzero(used))
                tables.append(table)
            self._leaf_codes.append((leaves, used_leaves, tables))
        self.bases = np.concatenate([[0], np.cumsum(self.cards)[:-1]]).astype(np.int64)

    @cached_property
    def cell_leaves(self) -> np.ndarray:
        """``(cells, attributes)`` matrix of :attr:`leaf_columns`."""
        return np.stack(self.leaf_columns, axis=1)

    @property
    def n_cells(self) -> int:
        return len(self.counts)

    def base_table(self) -> Table:
        """The base cells as a table (one object per space: grouping it skips the gathers)."""
        return self._base

    @cached_property
    def _base(self) -> Table:
        return Table(np.arange(self.n_cells, dtype=np.int64), self.counts)

    def columns(self, levels: Sequence[int]) -> np.ndarray:
        """Column indices into ``codes`` for a level vector."""
        return self.offsets + np.asarray(levels, dtype=np.int64)

    def flat_values(self, per_label: list[list[np.ndarray]]) -> np.ndarray:
        """Flatten ``per_label[a][l][hierarchy label index]`` into a table over (attribute, level, code)."""
        parts = [np.asarray(per_label[a][level])[self.label_index[self.offsets[a] + level]]
                 for a in range(self.d) for level in range(self.depths[a])]
        return np.concatenate(parts)

    @cached_property
    def code_counts(self) -> np.ndarray:
        """Rows per (attribute, level, code), flat like :meth:`flat_values` (rows per leaf, then
        summed per level through the leaf tables)."""
        parts = []
        for a, (leaves, used_leaves, tables) in enumerate(self._leaf_codes):
            per_leaf = np.bincount(leaves, weights=self.counts, minlength=len(self.hierarchies[a]))[used_leaves]
            for level, table in enumerate(tables):
                parts.append(np.bincount(table[used_leaves], weights=per_leaf,
                                         minlength=int(self.cards[self.offsets[a] + level])))
        return np.concatenate(parts)

    def level_sums(self, values: np.ndarray) -> list[np.ndarray]:
        """Per attribute and level: sum over all rows of ``values`` at the row's generalized code."""
        totals = np.add.reduceat(self.code_counts * values, self.bases)
        return [totals[self.offsets[a]: self.offsets[a] + depth] for a, depth in enumerate(self.depths)]

    def distinct_per_level(self) -> list[np.ndarray]:
        """Number of distinct generalized values in the data, per attribute and level."""
        return [self.cards[self.offsets[a]: self.offsets[a] + depth] for a, depth in enumerate(self.depths)]


def reduce_groups(key: np.ndarray, key_space: int, rep: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, ...]:
    """Group cells by key. Returns (group of each cell, key, rep and summed count of each group);
    groups are numbered in increasing key order."""
    if key_space <= 4 * len(key) + 65536:
        sums = np.bincount(key, weights=count, minlength=key_space)
        present = np.flatnonzero(sums > 0)  # on a bool array: numpy's nonzero is ~10x slower on floats
        dense = np.zeros(key_space, dtype=np.int64)
        dense[present] = np.arange(len(present))
        group = dense[key]
        group_rep = np.empty(len(present), dtype=rep.dtype)
        group_rep[group] = rep
        return group, present, group_rep, sums[present].astype(np.int64)
    group, keys, first = sorted_groups(key)
    return group, keys, rep[first], np.bincount(group, weights=count).astype(np.int64)


def sorted_groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``np.unique(key, return_inverse=True, return_index=True)`` returns (group of each
    entry, sorted distinct keys, first position of each), through one unstable argsort: the
    first position of a group is the smallest position among its entries."""
    order = np.argsort(key)
    ordered = key[order]
    starts_here = np.ones(len(key), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts_here[1:])
    starts = np.flatnonzero(starts_here)
    group = np.empty(len(key), dtype=np.int64)
    group[order] = np.cumsum(starts_here) - 1
    first = np.minimum.reduceat(order, starts) if len(key) else starts
    return group, ordered[starts], first


def first_seen_groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct keys in order of first appearance (a hash pass, no sort): returns the
    group of each entry and the first position of each group."""
    group, uniques = pd.factorize(key)
    first = np.empty(len(uniques), dtype=np.int64)
    first[group[::-1]] = np.arange(len(key) - 1, -1, -1, dtype=np.int64)  # the last write is the first position
    return group.astype(np.int64, copy=False), first


def node_keys(space: Space, rep: np.ndarray, levels: Sequence[int]) -> tuple[np.ndarray, int]:
    """Mixed-radix key of each cell's generalized quasi-identifier codes at ``levels``."""
    columns = space.columns(levels)
    cards = [int(c) for c in space.cards[columns]]
    if math.prod(cards) > KEY_LIMIT:
        return combine_codes([space.codes[c].take(rep).astype(np.int64) for c in columns], cards)
    key = np.zeros(len(rep), dtype=np.int64)
    radix = 1
    whole = rep is space.base_table().rep  # the base cells in order: no gather needed
    for column, card in zip(columns[::-1], cards[::-1], strict=True):
        if card > 1:
            key += (space.codes[column] if whole else space.codes[column].take(rep)) * np.int64(radix)
        radix *= card
    return key, radix


#: The ``kept`` mask of a view not judged yet.
_NO_CLASSES = np.zeros(0, dtype=bool)
_NO_CLASSES.flags.writeable = False


@dataclass
class ClassView:
    """Equivalence classes of one node, with lazily derived per-class statistics.

    ``table`` holds the node's cells (for roll-up), ``cell_class`` the class of each of them and
    ``source_class`` the class of each cell of the table the node was grouped from."""

    space: Space
    levels: tuple[int, ...]
    sizes: np.ndarray
    class_rep: np.ndarray
    cell_class: np.ndarray
    table: Table
    source_class: np.ndarray
    kept: np.ndarray = field(default_factory=lambda: _NO_CLASSES)  # set by the checker, never modified in place

    @property
    def n_classes(self) -> int:
        return len(self.sizes)

    @property
    def population(self) -> np.ndarray:
        """Rows per class, or distinct individuals per class when the space has individuals."""
        if self.space.cell_individual is None:
            return self.sizes
        return self._individuals

    @cached_property
    def _individuals(self) -> np.ndarray:
        if self.space.cell_sensitive is None:
            return np.bincount(self.cell_class, minlength=self.n_classes)
        n_ind = len(self.space.individual_labels)
        pairs = np.unique(self.cell_class * n_ind + self.space.individual_cells()[self.table.rep])
        return np.bincount(pairs // n_ind, minlength=self.n_classes)

    @cached_property
    def _input_counts(self) -> tuple[np.ndarray, int]:
        if self.space.input is None:
            return self.sizes, 0
        return self.space.input.class_sizes(self)

    @property
    def input_sizes(self) -> np.ndarray:
        """Rows of the whole input per class (ARX's ``pcount``); the class sizes without a subset."""
        return self._input_counts[0]

    @property
    def input_only_classes(self) -> int:
        """Classes of the input at this node that hold no row of the research subset."""
        return self._input_counts[1]

    @cached_property
    def sensitive_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(class, sensitive code, rows) for every sensitive value present in a class."""
        n_sens = len(self.space.sensitive_labels)
        sens = self.space.sensitive_cells()[self.table.rep]
        if self.space.cell_individual is None:
            return self.cell_class, sens, self.table.count
        key = self.cell_class * n_sens + sens
        _, keys, _, counts = reduce_groups(key, self.n_classes * n_sens, self.table.rep, self.table.count)
        return keys // n_sens, keys % n_sens, counts

    def sensitive_distribution(self) -> np.ndarray:
        """Dense ``(classes, sensitive values)`` matrix of within-class frequencies."""
        pair_class, sens, count = self.sensitive_pairs
        n_sens = len(self.space.sensitive_labels)
        flat = np.bincount(pair_class * n_sens + sens, weights=count, minlength=self.n_classes * n_sens)
        return flat.reshape(self.n_classes, n_sens) / self.sizes[:, None]

    @property
    def suppressed(self) -> int:
        return 0 if self.kept.all() else int(self.sizes[~self.kept].sum())

    def suppressed_weighted_sums(self, values: np.ndarray) -> np.ndarray:
        """Per attribute ``a``: sum over suppressed classes of ``|E| * values[bases[col] + code_a(E)]``,
        where ``values`` is a flat table over (attribute, level, code), see :meth:`Space.flat_values`."""
        columns = self.space.columns(self.levels)
        reps = self.class_rep[~self.kept]
        sizes = self.sizes[~self.kept]
        return np.array([sizes @ values[self.space.codes[c].take(reps) + self.space.bases[c]] for c in columns])

    def suppressed_code_counts(self) -> list[np.ndarray]:
        """Per attribute: the positive row counts of the suppressed rows per generalized value."""
        columns = self.space.columns(self.levels)
        reps = self.class_rep[~self.kept]
        sizes = self.sizes[~self.kept]
        out = []
        for c in columns:
            counts = np.bincount(self.space.codes[c].take(reps), weights=sizes, minlength=int(self.space.cards[c]))
            out.append(counts[counts > 0])
        return out
