"""Known transactions and balance chaining (attacks/knowledge.py) on tiny ledgers whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anonymization.engine.attacks import balance_chaining, known_transactions

from .builders import card_release, frames


def test_it_pins_targets_whose_demographics_are_published_exactly() -> None:
    files, ids, raw = card_release("412345")
    figures = known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2)
    assert (figures.targets, figures.transactions, figures.transactions_below_k) == (3, 6, 6)
    assert (figures.targets_below_k, figures.targets_pinned, figures.own_rows_missed) == (3, 3, 0)


def test_it_reports_true_rows_missed_without_a_network_mapping() -> None:
    files, ids, raw = card_release("visa")
    missed = known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2)
    mapped = known_transactions(files, ids, raw, 3, np.random.default_rng(1), k=2,
                                mappings={"card_number": {"visa": ["412345"]}})
    assert (missed.own_rows_missed, missed.targets_below_k) == (6, 0)
    assert (mapped.own_rows_missed, mapped.targets_pinned) == (0, 3)


def ledger_with_balances(exact: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """A: 100 -> +50 -> 150 -> -30 -> 120; B: 1000 -> -200 -> 800."""
    entries = [("A", 100, 100), ("A", 50, 150), ("A", -30, 120), ("B", 1000, 1000), ("B", -200, 800)]
    def shown(value: int) -> str:
        return str(value) if exact else f"[{value // 500 * 500}, {value // 500 * 500 + 500})"
    rows = [{"amount": shown(a), "balance_after": shown(b)} for _, a, b in entries]
    published, ids = frames(rows, [c for c, _, _ in entries], list(range(5)))
    return [published], [ids]


def test_it_chains_rows_by_exact_balances() -> None:
    figures = balance_chaining(*ledger_with_balances(exact=True))
    assert (figures.linkable_rows, figures.unique_links, figures.true_links) == (5, 3, 3)
    assert (figures.customers_exposed, figures.share_customers_exposed) == (2, 1.0)


def test_it_cannot_chain_generalized_balances() -> None:
    figures = balance_chaining(*ledger_with_balances(exact=False))
    assert (figures.linkable_rows, figures.unique_links, figures.customers_exposed) == (0, 0, 0)

