"""Attacks with background knowledge: two known transactions, and chaining rows by balance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..coverage import day_number
from .figures import Figures
from .matching import Known, Matcher, candidates, choose_known
from .published import DEMOGRAPHICS, Mappings, Stack, check_inputs, stack_files

__all__ = ["ChainingFigures", "KnownTransactionFigures", "Outcome", "balance_chaining", "known_transactions",
           "play"]


@dataclass(frozen=True)
class Outcome:
    """Per known transaction (``targets x 2``) and per target: candidate customers left, truth kept."""

    union_size: np.ndarray
    union_truth: np.ndarray
    held_size: np.ndarray
    held_truth: np.ndarray
    own_rows_missed: int
    target_union_size: np.ndarray
    target_union_truth: np.ndarray
    target_size: np.ndarray
    target_truth: np.ndarray


def _one_transaction(stack: Stack, matcher: Matcher, demo_rows: np.ndarray, known: Mapping[str, object],
                     true_rows: np.ndarray, window_day: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    rows = matcher.transaction_rows(demo_rows, known)
    if window_day is not None:
        rows = rows[window_day[rows] == day_number(known["transaction_date"])]
    compatible = np.zeros(stack.n_rows, dtype=bool)
    compatible[rows] = True
    missed = int((~compatible[true_rows]).sum())
    return candidates(stack, rows), candidates(stack, rows, np.unique(stack.file[true_rows])), missed


def play(stack: Stack, matcher: Matcher, known: Known, window_day: np.ndarray | None = None) -> Outcome:
    """Run the known-transactions attack for every target; ``window_day`` adds the row-order filter.

    ``window_day[row]`` is the day that the row's position would hold if its file were in ledger
    order; with it, a row stays compatible only if that day is the known day.
    """
    n = len(known.targets)
    sizes = {name: np.zeros((n, 2), dtype=np.int64) for name in ("union", "held")}
    truth = {name: np.zeros((n, 2), dtype=bool) for name in ("union", "held")}
    target = {name: np.zeros(n, dtype=np.int64) for name in ("union", "held")}
    target_truth = {name: np.zeros(n, dtype=bool) for name in ("union", "held")}
    missed = 0
    for t, customer in enumerate(known.targets):
        demo_rows = matcher.demographic_rows(known.demographics[t])
        found: dict[str, list[np.ndarray]] = {"union": [], "held": []}
        for side in (0, 1):
            true_rows = known.rows_of_entry[int(known.entries[t, side])]
            union, held, lost = _one_transaction(stack, matcher, demo_rows, known.transactions[t][side],
                                                 true_rows, window_day)
            missed += lost
            for name, found_set in (("union", union), ("held", held)):
                sizes[name][t, side] = len(found_set)
                truth[name][t, side] = customer in found_set
                found[name].append(found_set)
        for name in ("union", "held"):
            both = np.intersect1d(found[name][0], found[name][1], assume_unique=True)
            target[name][t], target_truth[name][t] = len(both), customer in both
    return Outcome(sizes["union"], truth["union"], sizes["held"], truth["held"], missed,
                   target["union"], target_truth["union"], target["held"], target_truth["held"])


@dataclass(frozen=True)
class ChainingFigures(Figures):
    """Rows linked by ``balance_after(prev) + amount(next) == balance_after(next)`` (exact labels only)."""

    linkable_rows: int
    unique_links: int
    true_links: int
    customers_exposed: int
    share_customers_exposed: float


def _file_links(stack: Stack, rows: slice) -> tuple[int, int, int, np.ndarray]:
    """Return one file's precise rows, unique links, true unique links and exposed customers."""
    amount, balance = stack.labels["amount"], stack.labels["balance_after"]
    a_codes, b_codes = stack.codes["amount"][rows], stack.codes["balance_after"][rows]
    precise = amount.is_point[a_codes] & balance.is_point[b_codes]
    cents_a = np.round(amount.low[a_codes[precise]] * 100).astype(np.int64)
    cents_b = np.round(balance.low[b_codes[precise]] * 100).astype(np.int64)
    customer = stack.customer[rows][precise]
    values, first, count = np.unique(cents_b, return_index=True, return_counts=True)
    if len(values) == 0:
        return int(precise.sum()), 0, 0, np.zeros(0, dtype=np.int64)
    needed = cents_b - cents_a
    slot = np.clip(np.searchsorted(values, needed), 0, len(values) - 1)
    unique = (values[slot] == needed) & (count[slot] == 1) & (cents_a != 0)
    true = customer[first[slot[unique]]] == customer[unique]
    return int(precise.sum()), int(unique.sum()), int(true.sum()), np.unique(customer[unique][true])


def balance_chaining(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], *,
                     kinds: Mapping[str, str] | None = None, stack: Stack | None = None) -> ChainingFigures:
    """Link rows into account sequences by balance arithmetic, file by file.

    Rule: in each file, a row whose ``amount`` and ``balance_after`` labels are both single numbers
    (a point, not an interval) links to a predecessor when exactly one precise row of that file has
    ``balance_after == balance_after(row) - amount(row)`` (zero amounts never link). Such a link is
    *unique*; it is *true* when both rows belong to the same customer. A customer is *exposed* when
    at least one true unique link joins two of their rows in some file (the chain shows the
    attacker which rows belong together). Files without both columns link nothing.
    """
    stack = stack or stack_files(files, ids, kinds=kinds)
    if not {"amount", "balance_after"} <= set(stack.columns):
        return ChainingFigures(0, 0, 0, 0, 0.0)
    totals = np.zeros(3, dtype=np.int64)
    exposed = [np.zeros(0, dtype=np.int64)]
    for index in range(stack.n_files):
        *counts, customers = _file_links(stack, stack.rows_of(index))
        totals += counts
        exposed.append(customers)
    customers_exposed = len(np.unique(np.concatenate(exposed)))
    return ChainingFigures(int(totals[0]), int(totals[1]), int(totals[2]), customers_exposed,
                           customers_exposed / max(stack.n_customers, 1))


@dataclass(frozen=True)
class KnownTransactionFigures(Figures):
    """Figures of :func:`known_transactions` (see its docstring for each rule)."""

    k: int
    targets: int
    transactions: int
    transactions_below_k: int
    transactions_below_k_union: int
    targets_below_k: int
    targets_below_k_union: int
    targets_pinned: int
    median_target_candidates: float
    own_rows_missed: int
    chaining: ChainingFigures


def summarize(outcome: Outcome, k: int) -> dict[str, int | float]:
    """Return the counts shared by the known-transaction and row-order attacks."""
    def below(size: np.ndarray, kept: np.ndarray) -> int:
        return int(((size < k) & kept).sum())
    return {
        "transactions": int(outcome.held_size.size),
        "transactions_below_k": below(outcome.held_size, outcome.held_truth),
        "transactions_below_k_union": below(outcome.union_size, outcome.union_truth),
        "targets_below_k": below(outcome.target_size, outcome.target_truth),
        "targets_below_k_union": below(outcome.target_union_size, outcome.target_union_truth),
        "targets_pinned": int(((outcome.target_size == 1) & outcome.target_truth).sum()),
        "median_target_candidates": float(np.median(outcome.target_size)) if outcome.target_size.size else 0.0,
        "own_rows_missed": outcome.own_rows_missed,
    }


def known_transactions(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], raw: Sequence[pd.DataFrame],
                       targets: int | Sequence[object], rng: np.random.Generator, *, k: int,
                       demographics: Sequence[str] = DEMOGRAPHICS, kinds: Mapping[str, str] | None = None,
                       mappings: Mappings | None = None) -> KnownTransactionFigures:
    """Attack sampled targets with their demographics and two of their transactions.

    Targets: ``targets`` customers drawn by ``rng`` among those with two or more published entries
    (or the given customer ids); for each, two distinct entries drawn at random. The attacker knows
    the target's raw demographics and, per transaction, the day, the kind and the amount within
    ``± 10`` (see :mod:`.matching` for the compatibility rule).

    * A transaction is *narrowed below k* when the customers owning a compatible row in every file
      that holds the entry (the attacker knows the release design: cumulative files hold it from
      its day on, an increment holds it once) are fewer than ``k``; the ``_union`` variant takes the
      customers of compatible rows in any file instead (a weaker attacker).
    * A target is *narrowed below k* when the customers left for both transactions (intersection)
      are fewer than ``k``, and *pinned* when only the target is left.
    * Only narrowings that keep the true customer count; ``own_rows_missed`` counts true rows that
      the attacker found incompatible (a label gap, such as a card network without a mapping).
    * ``chaining``: see :func:`balance_chaining`.
    """
    check_inputs(files, ids, raw, (*demographics, "transaction_date", "amount", "kind"))
    stack = stack_files(files, ids, kinds=kinds, mappings=mappings)
    matcher = Matcher(stack, demographics)
    raw_stack = pd.concat([frame.reset_index(drop=True) for frame in raw], ignore_index=True)
    known = choose_known(stack, raw_stack, targets, rng, matcher)
    figures = summarize(play(stack, matcher, known), k)
    return KnownTransactionFigures(k=k, targets=len(known.targets), **figures,  # type: ignore[arg-type]
                                   chaining=balance_chaining(files, ids, stack=stack))
