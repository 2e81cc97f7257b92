"""Attacks that combine published files with each other: differencing and intersection.

Across files, the published rows carry no pseudonym: the attacker links a target's rows of two
files only through their labels. The demographic intersection therefore counts, toward the
promise, the population customers covered by the labels of both files (:mod:`.register`), and
reports the intersection of the ground-truth owners (``linked_*``: what pseudonyms would give) as
an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .figures import Figures
from .matching import Matcher
from .published import DEMOGRAPHICS, Mappings, Stack, check_inputs, group_customers, row_keys, stack_files
from .register import Register

__all__ = ["DifferencingFigures", "IntersectionFigures", "PairFigures", "differencing", "intersection"]


@dataclass(frozen=True)
class PairFigures(Figures):
    """Differencing of files ``older`` and ``newer`` (indices in publication order)."""

    older: int
    newer: int
    new_rows: int
    relabeled_rows: int
    rows_below_k: int
    rows_pinned: int
    customers_below_k: int


@dataclass(frozen=True)
class DifferencingFigures(Figures):
    """Totals over consecutive pairs, and the worst pair (most new rows below k)."""

    k: int
    pairs: tuple[PairFigures, ...]
    new_rows: int
    relabeled_rows: int
    rows_below_k: int
    rows_pinned: int
    customers_below_k: int
    worst_pair_rows_below_k: int


def _within_key_rank(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Return, in ``order``, each row's rank among the rows of its key (keys sorted by ``order``)."""
    ordered = keys[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, dtype=bool)
    index = np.arange(len(ordered))
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def _new_rows(stack: Stack, older: slice, newer: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the newer file's rows the attacker sees as new, their full-row keys, and their entries' sharing."""
    rows = np.r_[np.arange(older.start, older.stop), np.arange(newer.start, newer.stop)]
    keys = row_keys(stack, stack.columns, rows)
    n_old = older.stop - older.start
    old_keys, new_keys = keys[:n_old], keys[n_old:]
    old_entries, new_entries = stack.entry[older], stack.entry[newer]
    shared = np.isin(new_entries, old_entries)
    if not shared.any():  # disjoint increments: the whole newer file is new
        return np.ones(len(new_keys), dtype=bool), new_keys, shared
    old_count = np.bincount(old_keys, minlength=int(keys.max()) + 1)[new_keys]
    carried = pd.MultiIndex.from_arrays([new_entries, new_keys]).isin(
        pd.MultiIndex.from_arrays([old_entries, old_keys]))
    order = np.lexsort((carried, new_keys))  # per key, rows that are not carried over come first
    new = np.zeros(len(new_keys), dtype=bool)
    # a key with n copies now and m before has max(n - m, 0) new copies: the first ranks in order
    new[order] = _within_key_rank(new_keys, order) < _count_in_key(new_keys, order) - old_count[order]
    return new, new_keys, shared


def _count_in_key(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(keys[order], return_inverse=True, return_counts=True)
    return counts[inverse]


def _pair(stack: Stack, index: int, k: int) -> tuple[PairFigures, np.ndarray]:
    newer = stack.rows_of(index)
    new, keys, shared = _new_rows(stack, stack.rows_of(index - 1), newer)
    customer = stack.customer[newer][new]
    group = group_customers(keys[new], customer)
    below = group < k
    figures = PairFigures(index - 1, index, int(new.sum()), int((new & shared).sum()), int(below.sum()),
                          int((group == 1).sum()), len(np.unique(customer[below])))
    return figures, customer[below]


def differencing(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], *, k: int,
                 kinds: Mapping[str, str] | None = None, stack: Stack | None = None) -> DifferencingFigures:
    """Subtract each published file from the next one and look at what is left.

    Rule, per consecutive pair (older, newer): the rows the attacker learns are new are the
    multiset difference of the full rows (all released columns), newer minus older; when the two
    files share no ledger entry (disjoint increments) the whole newer file is new. Cumulative files
    re-generalized between nights also leave old entries whose labels changed: they count as new
    (the attacker cannot tell) and are reported as ``relabeled_rows``. Among identical rows the
    ones taken as new are preferably those whose entry was not in the older file with that row.
    The new rows are grouped by all released columns; a new row is *below k* when its group holds
    fewer than ``k`` distinct customers, *pinned* when one. ``customers_below_k`` counts the
    distinct customers owning a below-k new row, over all pairs.
    """
    stack = stack or stack_files(files, ids, kinds=kinds)
    pairs, exposed = [], [np.zeros(0, dtype=np.int64)]
    for index in range(1, stack.n_files):
        figures, customers = _pair(stack, index, k)
        pairs.append(figures)
        exposed.append(customers)
    return DifferencingFigures(
        k=k, pairs=tuple(pairs), new_rows=sum(p.new_rows for p in pairs),
        relabeled_rows=sum(p.relabeled_rows for p in pairs), rows_below_k=sum(p.rows_below_k for p in pairs),
        rows_pinned=sum(p.rows_pinned for p in pairs), customers_below_k=len(np.unique(np.concatenate(exposed))),
        worst_pair_rows_below_k=max((p.rows_below_k for p in pairs), default=0),
    )


@dataclass(frozen=True)
class IntersectionFigures(Figures):
    """Figures of :func:`intersection` (see its docstring for each rule)."""

    k: int
    aligned_entries: int
    aligned_rows: int
    entries: int
    classes: int
    classes_below_k: int
    entries_below_k: int
    entries_pinned: int
    customers_below_k: int
    targets: int
    targets_below_k_one_file: int
    targets_below_k_two_files: int
    linked_targets_below_k_two_files: int


def _first_per_entry(stack: Stack, score: np.ndarray) -> np.ndarray:
    """Return, per entry code, the stack row with the highest ``score`` (ties: earliest file)."""
    order = np.lexsort((stack.file, -score, stack.entry))
    firsts = np.searchsorted(stack.entry[order], np.arange(int(stack.entry.max()) + 1))
    return order[firsts]


def _intersected(stack: Stack, columns: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Return per entry its intersected labels (bounds or the finest label code), and its customer."""
    order = np.argsort(stack.entry, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(stack.entry[order]) != 0])
    parts: dict[str, np.ndarray] = {}
    for column in columns:
        labels, codes = stack.labels[column], stack.codes[column]
        if labels.kind in ("numeric", "date"):
            parts[f"{column}.low"] = np.maximum.reduceat(labels.low[codes][order], starts)
            parts[f"{column}.high"] = np.minimum.reduceat(labels.high[codes][order], starts)
        else:
            parts[column] = codes[_first_per_entry(stack, labels.specificity[codes])]
    return pd.DataFrame(parts), stack.customer[order[starts]]


def _customer_files(stack: Stack) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted distinct (customer, file) pairs as two arrays."""
    pairs = np.unique(stack.customer * stack.n_files + stack.file)
    return pairs // stack.n_files, pairs % stack.n_files


def _smallest(sets: list[np.ndarray], me: int, n_customers: int) -> tuple[int, int]:
    """Return the smallest ``|S_f|`` and ``|S_f ∩ S_g|`` (``f != g``) over the sets holding ``me`` (0: none)."""
    mine = [found for found in sets if found[me]]
    if not mine:
        return 0, 0
    member = np.stack(mine).astype(np.float64)  # a BLAS product; counts stay exact far beyond any bank
    shared = np.rint(member @ member.T).astype(np.int64)
    one = int(np.diag(shared).min())
    two = int((shared + np.eye(len(mine), dtype=np.int64) * n_customers).min()) if len(mine) > 1 else 0
    return one, two


def _demographic_class_sizes(stack: Stack, matcher: Matcher, register: Register, values: dict[str, object],
                             customer: int, files: np.ndarray) -> tuple[int, int, int]:
    """Return the target's smallest linked ``|S_f|``, linked ``|S_f ∩ S_g|`` and observable ``|C_f ∩ C_g|``.

    Over the files ``f`` holding the target's rows whose set still holds the target (otherwise the
    attacker would be misled); 0 when not defined (no such file, or one only for the pairs).
    """
    rows = matcher.demographic_rows(values)
    rows = rows[np.isin(stack.file[rows], files)]
    per_file = [rows[stack.file[rows] == index] for index in files]
    me = register.member(customer)
    one, two = _smallest([register.linked(part) for part in per_file], me, register.n_customers)
    _, observable_two = _smallest([register.observable(part) for part in per_file], me, register.n_customers)
    return one, two, observable_two


def _demographic_targets(stack: Stack, raw: Sequence[pd.DataFrame], matcher: Matcher, register: Register, k: int,
                         targets: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    raw_stack = pd.concat([frame.reset_index(drop=True) for frame in raw], ignore_index=True)
    chosen = np.sort(rng.choice(stack.n_customers, size=min(targets, stack.n_customers), replace=False))
    pair_customer, pair_file = _customer_files(stack)
    last_row = pd.Series(np.arange(stack.n_rows)).groupby(stack.customer).max().to_numpy()
    below = np.zeros(3, dtype=np.int64)
    for customer in chosen:
        values = {c: raw_stack[c].iat[last_row[customer]] for c in matcher.demographics}
        files = pair_file[pair_customer == customer]
        sizes = np.array(_demographic_class_sizes(stack, matcher, register, values, int(customer), files))
        below += (0 < sizes) & (sizes < k)
    return len(chosen), int(below[0]), int(below[2]), int(below[1])


def intersection(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], *, k: int,
                 raw: Sequence[pd.DataFrame] | None = None, population: pd.DataFrame | None = None,
                 targets: int = 1000,
                 rng: np.random.Generator | None = None, demographics: Sequence[str] = DEMOGRAPHICS,
                 kinds: Mapping[str, str] | None = None, mappings: Mappings | None = None,
                 stack: Stack | None = None) -> IntersectionFigures:
    """Intersect what several files say about the same entry, then about the same person.

    Entry alignment (cumulative files): every ledger entry published in two or more files is
    aligned by its ground-truth entry id (the attacker's best case; in practice amounts, balances
    and order do it). Per column the entry's labels are intersected: numeric and date bounds give
    ``[max low, min high)``, code/card/category labels give the finest one (exact value, then the
    longest prefix, then the smallest member set, then ``*``). Every distinct entry (each once,
    singly published ones with their own labels) is grouped by its intersected labels in all
    released columns; a class is *below k* with fewer than ``k`` distinct customers. Disjoint
    increments align nothing (``aligned_rows == 0``) and leave every entry with its own labels.

    Demographic intersection (needs ``raw`` and ``population``; any design): for ``targets``
    customers drawn by ``rng``, let ``R_f`` be the rows of file ``f`` whose demographic labels cover
    the target's raw demographics (those of the target's last published row), over the files
    holding the target's rows (an attacker who knows the nights on which the target was active):

    * ``targets_below_k_one_file``: targets with some ``|S_f| < k``, ``S_f`` the ground-truth owners
      of ``R_f``; within one file this is the file's own k over distinct customers (no linking
      across files is involved), which every increment promises, so it counts;
    * ``targets_below_k_two_files``: targets with some ``|C_f ∩ C_g| < k``, ``C_f`` the population
      customers whose demographics the labels of a row of ``R_f`` cover (:mod:`.register`): what
      an attacker can link through labels alone;
    * ``linked_targets_below_k_two_files``: the same with ``|S_f ∩ S_g| < k``, what an attacker who
      could link a customer's rows across files (pseudonyms, which the files do not carry) would
      get; an upper bound, reported and not part of the promise.

    Files whose set does not hold the target are skipped (the attacker would be misled).
    """
    stack = stack or stack_files(files, ids, kinds=kinds, mappings=mappings)
    per_entry = np.bincount(stack.entry)
    table, customer = _intersected(stack, stack.columns)
    classes = table.groupby(list(table.columns), sort=False).ngroup().to_numpy() if len(table.columns) else \
        np.zeros(len(customer), dtype=np.int64)
    sizes = group_customers(classes, customer)
    below = sizes < k
    figures = dict(aligned_entries=int((per_entry >= 2).sum()), aligned_rows=int(per_entry[per_entry >= 2].sum()),
                   entries=len(per_entry), classes=len(np.unique(classes)),
                   classes_below_k=len(np.unique(classes[below])), entries_below_k=int(below.sum()),
                   entries_pinned=int((sizes == 1).sum()), customers_below_k=len(np.unique(customer[below])))
    demo = (0, 0, 0, 0)
    if raw is not None:
        if population is None:
            raise ValueError("the demographic intersection needs the population register: pass population=")
        check_inputs(files, ids, raw, demographics)
        matcher = Matcher(stack, demographics)
        demo = _demographic_targets(stack, raw, matcher, Register(stack, matcher, population), k, targets,
                                    rng if rng is not None else np.random.default_rng(0))
    return IntersectionFigures(k=k, **figures, targets=demo[0], targets_below_k_one_file=demo[1],
                               targets_below_k_two_files=demo[2], linked_targets_below_k_two_files=demo[3])
