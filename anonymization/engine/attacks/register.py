"""Candidate sets of customers: what the files let an attacker link, and what only pseudonyms would.

Published rows carry no pseudonym and no column that chains a customer's rows, so an attacker
holding only the files cannot tell which customer wrote which row, nor that two rows of two files
belong to the same person. What the attacker *can* link is the labels: a row of file ``f`` whose
demographic labels cover a customer's demographics could be that customer's. The attacker is given
the whole **population register** (worst case: every customer's demographics, including customers
who appear in no file) as a DataFrame with a ``customer`` column and one column per demographic;
a customer may have several register rows (one per card, or per age over the nights) and is
covered when any of them is.

Two candidate sets per query, both as boolean masks over the register's customers:

* *observable* (what counts toward the guarantee), for compatible rows ``R`` and files ``F``:
  ``C(R, F) = ⋂_{f ∈ F} {c ∈ population : ∃ r ∈ R ∩ f, labels(r) cover demographics(c)}``;
* *linked* (an upper bound on the attacker, reported for information), with the bank's ground
  truth: ``L(R, F) = ⋂_{f ∈ F} {owner(r) : r ∈ R ∩ f}``, what an attacker would get if the files
  carried pseudonyms that link a customer's rows across files.

``L ⊆ C`` whenever the register holds every owner's demographics as their rows carry them.
Without ``F`` (the *union* variants) the sets are taken over all of ``R`` at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .matching import Matcher
from .published import Stack

__all__ = ["Register"]


class Register:
    """The population register read against a :class:`Matcher`'s demographic label combinations."""

    def __init__(self, stack: Stack, matcher: Matcher, population: pd.DataFrame) -> None:
        self.stack, self.matcher = stack, matcher
        _check_population(stack, matcher, population)
        codes, self.customer_ids = pd.factorize(population["customer"], sort=True)
        self.n_customers = len(self.customer_ids)
        self.of_stack = pd.Index(self.customer_ids).get_indexer(stack.customer_ids).astype(np.int64)
        by_customer = np.argsort(codes, kind="stable")
        self._row_order = by_customer
        self._starts = np.flatnonzero(np.r_[True, np.diff(codes[by_customer]) != 0])
        self._value_codes: dict[str, np.ndarray] = {}
        self._tables: dict[str, np.ndarray] = {}
        for column in matcher.demographics:
            values = population[column].to_numpy()[by_customer]
            value_codes, _ = pd.factorize(pd.Series(values, dtype=object).astype(str))
            _, first = np.unique(value_codes, return_index=True)  # one raw value per distinct text
            labels = stack.labels[column]
            self._value_codes[column] = value_codes.astype(np.int64)
            self._tables[column] = (np.stack([labels.covers(values[i]) for i in first], axis=1) if len(first)
                                    else np.zeros((len(labels.labels), 0), dtype=bool))
        self._covered: dict[int, np.ndarray] = {}

    def empty(self) -> np.ndarray:
        """Return the empty candidate set."""
        return np.zeros(self.n_customers, dtype=bool)

    def member(self, stack_customer: int) -> int:
        """Return the register code of a stack customer code."""
        return int(self.of_stack[stack_customer])

    def covered(self, combos: np.ndarray) -> np.ndarray:
        """Return the customers covered by at least one demographic label combination in ``combos``.

        ``covered(S) = {c : ∃ s ∈ S, ∃ register row of c, ∀ column: label_s(column) covers value(column)}``;
        each combination's set is computed once and kept.
        """
        wanted = np.unique(combos)
        if len(wanted) == 0:
            return self.empty()
        self._compute([int(c) for c in wanted if int(c) not in self._covered])
        return np.logical_or.reduce(np.stack([self._covered[int(c)] for c in wanted]), axis=0)

    def _compute(self, combos: list[int]) -> None:
        if not combos:
            return
        chosen = np.asarray(combos, dtype=np.int64)
        ok = np.ones((len(chosen), len(self._row_order)), dtype=bool)
        for column in self.matcher.demographics:
            label_codes = self.matcher.combo_codes[column][chosen]
            ok &= self._tables[column][label_codes][:, self._value_codes[column]]
        per_customer = np.logical_or.reduceat(ok, self._starts, axis=1) if ok.shape[1] else \
            np.zeros((len(chosen), 0), dtype=bool)
        for combo, row in zip(combos, per_customer, strict=True):
            self._covered[combo] = row

    def observable(self, rows: np.ndarray, files: np.ndarray | None = None) -> np.ndarray:
        """Return ``C(rows, files)`` of the module docstring (``files=None``: over all rows at once)."""
        combo = self.matcher.combo[rows]
        if files is None:
            return self.covered(combo)
        found = ~self.empty()
        for index in np.unique(files):
            found &= self.covered(combo[self.stack.file[rows] == index])
        return found

    def linked(self, rows: np.ndarray, files: np.ndarray | None = None) -> np.ndarray:
        """Return ``L(rows, files)`` of the module docstring: the ground-truth owners of ``rows``."""
        owners = self.of_stack[self.stack.customer[rows]]
        if files is None:
            found = self.empty()
            found[owners] = True
            return found
        wanted = np.unique(files)
        count = np.zeros(self.n_customers, dtype=np.int64)
        pairs = np.unique(self.stack.file[rows] * self.n_customers + owners)
        in_wanted = np.isin(pairs // self.n_customers, wanted)
        np.add.at(count, pairs[in_wanted] % self.n_customers, 1)
        return count == len(wanted)


def _check_population(stack: Stack, matcher: Matcher, population: pd.DataFrame) -> None:
    """Raise ValueError unless the register has the demographics and every customer of the files."""
    if not isinstance(population, pd.DataFrame):
        raise TypeError(f"population must be a DataFrame, got {type(population).__name__}")
    if missing := [c for c in ("customer", *matcher.demographics) if c not in population.columns]:
        raise ValueError(f"population lacks column(s): {', '.join(repr(c) for c in missing)}")
    absent = stack.customer_ids[~pd.Index(stack.customer_ids).isin(population["customer"])].tolist()
    if absent:
        shown = ", ".join(repr(c) for c in absent[:5])
        raise ValueError(f"population lacks {len(absent)} customer(s) of the files: {shown}")
