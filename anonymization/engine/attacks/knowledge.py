"""Attacks with background knowledge: two known transactions, and chaining rows by balance.

The known-transactions attack counts, per query, the customers the attacker is left with in two
ways (:mod:`.register`): the *observable* set, population customers whose demographics the labels
of compatible rows cover (the only link published files offer: they carry no pseudonym), which
counts toward the promise; and the *linked* set, the ground-truth owners of those rows, what
publishing pseudonyms would give, reported as ``linked_*`` for information.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..coverage import day_number
from .figures import Figures
from .matching import Known, Matcher, choose_known
from .published import DEMOGRAPHICS, Mappings, Stack, check_inputs, stack_files
from .register import Register

__all__ = ["ChainingFigures", "KnownTransactionFigures", "Narrowing", "Outcome", "balance_chaining",
           "known_transactions", "play"]


#: The candidate sets of a query: observable (labels against the population register; counted) and
#: linked (ground-truth owners; what pseudonyms would give), each over the files holding the known
#: entry (``held``) or over every file (``union``). See :mod:`.register`.
VIEWS = ("observable", "linked")
SCOPES = ("held", "union")


@dataclass(frozen=True)
class Narrowing:
    """One view and scope: per known transaction (``targets x 2``) and per target, candidates left, truth kept."""

    size: np.ndarray
    truth: np.ndarray
    target_size: np.ndarray
    target_truth: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """Every :class:`Narrowing`, keyed by ``(view, scope)``, and the target's own rows found incompatible."""

    sets: dict[tuple[str, str], Narrowing]
    own_rows_missed: int


def _one_transaction(stack: Stack, matcher: Matcher, register: Register, demo_rows: np.ndarray,
                     known: Mapping[str, object], true_rows: np.ndarray, window_day: np.ndarray | None
                     ) -> tuple[dict[tuple[str, str], np.ndarray], int]:
    """Return the candidate set of every (view, scope) for one known transaction, and own rows missed."""
    rows = matcher.transaction_rows(demo_rows, known)
    if window_day is not None:
        rows = rows[window_day[rows] == day_number(known["transaction_date"])]
    compatible = np.zeros(stack.n_rows, dtype=bool)
    compatible[rows] = True
    missed = int((~compatible[true_rows]).sum())
    held = np.unique(stack.file[true_rows])  # the attacker knows which files hold an entry of that day
    sets = {("observable", "held"): register.observable(rows, held), ("observable", "union"): register.observable(rows),
            ("linked", "held"): register.linked(rows, held), ("linked", "union"): register.linked(rows)}
    return sets, missed


def play(stack: Stack, matcher: Matcher, register: Register, known: Known,
         window_day: np.ndarray | None = None) -> Outcome:
    """Run the known-transactions attack for every target; ``window_day`` adds the row-order filter.

    ``window_day[row]`` is the day that the row's position would hold if its file were in ledger
    order; with it, a row stays compatible only if that day is the known day. A target's two sets
    are intersected: ``C(t1) ∩ C(t2)`` (observable) and ``L(t1) ∩ L(t2)`` (linked).
    """
    n, keys = len(known.targets), [(view, scope) for view in VIEWS for scope in SCOPES]
    size = {key: np.zeros((n, 2), dtype=np.int64) for key in keys}
    truth = {key: np.zeros((n, 2), dtype=bool) for key in keys}
    target_size = {key: np.zeros(n, dtype=np.int64) for key in keys}
    target_truth = {key: np.zeros(n, dtype=bool) for key in keys}
    missed = 0
    for t, customer in enumerate(known.targets):
        me = register.member(int(customer))
        demo_rows = matcher.demographic_rows(known.demographics[t])
        both = {key: ~register.empty() for key in keys}
        for side in (0, 1):
            true_rows = known.rows_of_entry[int(known.entries[t, side])]
            sets, lost = _one_transaction(stack, matcher, register, demo_rows, known.transactions[t][side],
                                          true_rows, window_day)
            missed += lost
            for key, found in sets.items():
                size[key][t, side], truth[key][t, side] = int(found.sum()), bool(found[me])
                both[key] &= found
        for key in keys:
            target_size[key][t], target_truth[key][t] = int(both[key].sum()), bool(both[key][me])
    return Outcome({key: Narrowing(size[key], truth[key], target_size[key], target_truth[key]) for key in keys},
                   missed)


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
    linked_transactions_below_k: int
    linked_transactions_below_k_union: int
    linked_targets_below_k: int
    linked_targets_below_k_union: int
    linked_targets_pinned: int
    linked_median_target_candidates: float
    own_rows_missed: int
    chaining: ChainingFigures


def summarize(outcome: Outcome, k: int) -> dict[str, int | float]:
    """Return the counts shared by the known-transaction and row-order attacks (linked ones prefixed)."""
    def below(size: np.ndarray, kept: np.ndarray) -> int:
        return int(((size < k) & kept).sum())
    out: dict[str, int | float] = {"transactions": int(outcome.sets["observable", "held"].size.size)}
    for view, prefix in (("observable", ""), ("linked", "linked_")):
        held, union = outcome.sets[view, "held"], outcome.sets[view, "union"]
        out |= {
            f"{prefix}transactions_below_k": below(held.size, held.truth),
            f"{prefix}transactions_below_k_union": below(union.size, union.truth),
            f"{prefix}targets_below_k": below(held.target_size, held.target_truth),
            f"{prefix}targets_below_k_union": below(union.target_size, union.target_truth),
            f"{prefix}targets_pinned": int(((held.target_size == 1) & held.target_truth).sum()),
            f"{prefix}median_target_candidates": float(np.median(held.target_size)) if held.target_size.size else 0.0,
        }
    out["own_rows_missed"] = outcome.own_rows_missed
    return out


def known_transactions(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], raw: Sequence[pd.DataFrame],
                       targets: int | Sequence[object], rng: np.random.Generator, *, k: int,
                       population: pd.DataFrame, demographics: Sequence[str] = DEMOGRAPHICS,
                       kinds: Mapping[str, str] | None = None,
                       mappings: Mappings | None = None) -> KnownTransactionFigures:
    """Attack sampled targets with their demographics and two of their transactions.

    Targets: ``targets`` customers drawn by ``rng`` among those with two or more published entries
    (or the given customer ids); for each, two distinct entries drawn at random. The attacker knows
    the target's raw demographics and, per transaction, the day, the kind and the amount within
    ``± 10`` (see :mod:`.matching` for the compatibility rule), and the ``population`` register
    (see :mod:`.register`). For a known transaction ``t`` with compatible rows ``R(t)`` and ``F(t)``
    the files that hold its entry (the attacker knows the release design: cumulative files hold it
    from its day on, an increment holds it once):

    * ``C(t) = ⋂_{f ∈ F(t)} {c ∈ population : demographics(c) covered by the labels of a row of R(t) ∩ f}``;
      the transaction is *narrowed below k* when ``|C(t)| < k``; the ``_union`` variant takes the
      rows of every file at once (a weaker attacker);
    * a target is *narrowed below k* when ``|C(t1) ∩ C(t2)| < k``, and *pinned* when
      ``C(t1) ∩ C(t2) = {target}``; ``median_target_candidates`` is the median ``|C(t1) ∩ C(t2)|``;
    * ``linked_*``: the same with ``L(t)``, the ground-truth owners of the rows instead of ``C(t)``:
      what an attacker would get if the files carried pseudonyms linking a customer's rows across
      files. They do not, so these figures are an upper bound, reported and not part of the promise.
    * Only narrowings that keep the true customer count; ``own_rows_missed`` counts true rows that
      the attacker found incompatible (a label gap, such as a card network without a mapping).
    * ``chaining``: see :func:`balance_chaining`.
    """
    check_inputs(files, ids, raw, (*demographics, "transaction_date", "amount", "kind"))
    stack = stack_files(files, ids, kinds=kinds, mappings=mappings)
    matcher = Matcher(stack, demographics)
    register = Register(stack, matcher, population)
    raw_stack = pd.concat([frame.reset_index(drop=True) for frame in raw], ignore_index=True)
    known = choose_known(stack, raw_stack, targets, rng, matcher)
    figures = summarize(play(stack, matcher, register, known), k)
    return KnownTransactionFigures(k=k, targets=len(known.targets), **figures,  # type: ignore[arg-type]
                                   chaining=balance_chaining(files, ids, stack=stack))
