"""Play the attacker against every file published for a policy, with the bank's ground truth.

The promise to every customer in a release: an attacker who knows the customer's demographics
(age, gender, postal code, card network and BIN) and up to two of their transactions (day, amount
within 10 EUR, kind), who holds every published file and sees their row order, cannot narrow the
customer, or any of their transactions, to fewer than ``k`` customers.

Each attack takes the published files, the row-aligned ground truth only the bank has (the
``customer`` and ``entry`` behind every row, and the raw values) and, for the attacks that combine
files, the population register (every customer's demographics, :mod:`.register`); it returns
frozen figures:

* :func:`differencing`: subtract consecutive files (:mod:`.linkage`);
* :func:`intersection`: intersect an entry's labels across files, and a person's rows (:mod:`.linkage`);
* :func:`known_transactions` and :func:`balance_chaining` (:mod:`.knowledge`);
* :func:`row_order` (:mod:`.order`);
* :func:`attack_report` runs them all; ``report.rows()`` gives ``(attack, metric, value)`` rows.

Published labels are read with the engine's one label grammar (:mod:`anonymization.engine.coverage`).

What the attacker can link. The files carry no pseudonym and no column that chains a customer's
rows, so the attacker cannot tell which customer wrote a row, nor that rows of two files are the
same person's: the only link is the labels. The figures that count toward the promise
(:attr:`AttackReport.below_k`) are therefore *observable*: a customer stays a candidate when the
demographic labels of a compatible row cover their demographics in the register. The figures
computed from the ground-truth owners of rows across files are prefixed ``linked_``: they are what
an attacker would get if the files carried pseudonyms (an upper bound), reported in ``rows()`` and
never counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .knowledge import ChainingFigures, KnownTransactionFigures, balance_chaining, known_transactions
from .linkage import DifferencingFigures, IntersectionFigures, PairFigures, differencing, intersection
from .order import RowOrderFigures, row_order
from .published import COLUMN_KINDS, DEMOGRAPHICS, Mappings, stack_files
from .register import Register

__all__ = [
    "AttackReport", "attack_report", "differencing", "intersection", "known_transactions", "balance_chaining",
    "row_order", "COLUMN_KINDS", "DEMOGRAPHICS",
    "DifferencingFigures", "PairFigures", "IntersectionFigures", "KnownTransactionFigures", "ChainingFigures",
    "RowOrderFigures", "Register", "counts_toward_promise",
]


def counts_toward_promise(metric: str) -> bool:
    """Return whether a ``rows()`` metric breaks the promise when non-zero.

    Rule: its last dotted part names a *below k* or *pinned* count, is not a ``linked_`` figure (an
    upper bound that needs pseudonyms) and is not the ``without_order`` control of the row-order attack.
    """
    name = metric.rsplit(".", 1)[-1]
    return ("below_k" in name or "pinned" in name) and not name.startswith("linked_") \
        and "without_order" not in name


@dataclass(frozen=True)
class AttackReport:
    """The figures of every attack for one policy's published files."""

    k: int
    differencing: DifferencingFigures
    intersection: IntersectionFigures
    known_transactions: KnownTransactionFigures
    row_order: RowOrderFigures

    def rows(self) -> list[tuple[str, str, float]]:
        """Return ``(attack, metric, value)`` rows for a printed table."""
        return [*self.differencing.rows("differencing"), *self.intersection.rows("intersection"),
                *self.known_transactions.rows("known_transactions"), *self.row_order.rows("row_order")]

    @property
    def below_k(self) -> int:
        """Return the sum of the figures that break the promise (see :func:`counts_toward_promise`)."""
        return sum(int(value) for _, metric, value in self.rows() if counts_toward_promise(metric))

    @property
    def linked_below_k(self) -> int:
        """Return the sum of the ``linked_`` below-k and pinned figures (the pseudonym upper bound)."""
        return sum(int(value) for _, metric, value in self.rows()
                   if metric.rsplit(".", 1)[-1].startswith("linked_") and ("below_k" in metric or "pinned" in metric))


def attack_report(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], raw: Sequence[pd.DataFrame],
                  k: int, seed: int, n_targets: int = 1000, *, population: pd.DataFrame,
                  ledger_position: Sequence[np.ndarray] | None = None, kinds: Mapping[str, str] | None = None,
                  mappings: Mappings | None = None) -> AttackReport:
    """Run every attack on the files; targets are drawn from ``seed`` (same targets for 4 and 5).

    ``population`` is the register the attacker holds: a ``customer`` column (the ids of ``ids``)
    and the raw demographic columns, one or more rows per customer, every customer of the bank
    included, even those with no published row. ``ledger_position`` defaults to each row's
    ``entry`` id: the ledger is append-only, so entry ids increase with time.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    stack = stack_files(files, ids, kinds=kinds, mappings=mappings)
    positions = ledger_position if ledger_position is not None else [frame["entry"].to_numpy() for frame in ids]
    return AttackReport(
        k=k,
        differencing=differencing(files, ids, k=k, stack=stack),
        intersection=intersection(files, ids, k=k, raw=raw, population=population, targets=n_targets,
                                  rng=np.random.default_rng(seed), kinds=kinds, mappings=mappings, stack=stack),
        known_transactions=known_transactions(files, ids, raw, n_targets, np.random.default_rng(seed), k=k,
                                              population=population, kinds=kinds, mappings=mappings),
        row_order=row_order(files, ids, positions, raw=raw, k=k, population=population, targets=n_targets,
                            rng=np.random.default_rng(seed), kinds=kinds, mappings=mappings),
    )
