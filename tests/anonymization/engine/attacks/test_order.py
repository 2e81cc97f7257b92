"""The row-order attack (attacks/order.py): ledger order leaks, a shuffled file does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.engine.attacks import row_order

from .builders import frames, person


def transfers(pairs: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``pairs`` transfers, each a transfer_out then the matching transfer_in, in ledger order."""
    rows, raw_rows, customers = [], [], []
    for number in range(pairs):
        amount = 10 * (number % 40 + 1)
        for sign, kind in ((-1, "transfer_out"), (1, "transfer_in")):
            rows.append(person("*", "*", "2026-03", str(sign * amount), kind))
            raw_rows.append({"age": 30, "postal_code": "12345", "transaction_date": "2026-03-02",
                             "amount": float(sign * amount), "kind": kind})
            customers.append(f"c{number % 50}" if sign < 0 else f"c{(number + 1) % 50}")
    published, ids = frames(rows, customers, list(range(2 * pairs)))
    return published, ids, pd.DataFrame(raw_rows)


def test_it_finds_transfer_pairs_in_a_file_in_ledger_order() -> None:
    published, ids, raw = transfers(400)
    figures = row_order([published], [ids], [ids["entry"].to_numpy()], raw=[raw], k=2, targets=10)
    assert figures.spearman_mean == pytest.approx(1.0)
    assert (figures.transfer_out_rows, figures.transfer_pairs_adjacent, figures.transfer_pair_share) == (400, 400, 1.0)
    assert figures.transfer_pair_share_by_chance < 0.05


def test_it_finds_no_order_in_a_shuffled_file() -> None:
    published, ids, raw = transfers(400)
    shuffle = np.random.default_rng(7).permutation(len(published))
    files, truth, raws = ([frame.iloc[shuffle].reset_index(drop=True)] for frame in (published, ids, raw))
    figures = row_order(files, truth, [truth[0]["entry"].to_numpy()], raw=raws, k=2, targets=10)
    assert abs(figures.spearman_mean) < 0.1
    assert figures.transfer_pair_share < figures.transfer_pair_share_by_chance + 0.02


def daily_pairs(shuffled: bool) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Twenty days; on day d customers d and d+1 withdraw; every label is coarse except the order."""
    rows, raw_rows, customers = [], [], []
    for day in range(20):
        for customer in (day, (day + 1) % 20):
            rows.append(person("*", "*", "2026-03", "[-100, 0)"))
            raw_rows.append({"age": 30, "postal_code": "12345", "transaction_date": f"2026-03-{day + 1:02d}",
                             "amount": -50.0, "kind": "withdrawal"})
            customers.append(customer)
    published, ids = frames(rows, customers, list(range(len(rows))))
    raw = pd.DataFrame(raw_rows)
    if shuffled:
        order = np.random.default_rng(3).permutation(len(rows))
        published, ids, raw = (frame.iloc[order].reset_index(drop=True) for frame in (published, ids, raw))
    return [published], [ids], [raw]


def test_it_narrows_targets_with_day_windows_when_rows_are_in_ledger_order() -> None:
    files, ids, raw = daily_pairs(shuffled=False)
    figures = row_order(files, ids, [ids[0]["entry"].to_numpy()], raw=raw, k=5, targets=20,
                        rng=np.random.default_rng(0))
    assert (figures.targets, figures.targets_below_k_without_order) == (20, 0)
    assert (figures.targets_below_k_window, figures.targets_pinned_window) == (20, 20)


def test_it_gains_little_from_day_windows_when_rows_are_shuffled() -> None:
    files, ids, raw = daily_pairs(shuffled=True)
    figures = row_order(files, ids, [ids[0]["entry"].to_numpy()], raw=raw, k=5, targets=20,
                        rng=np.random.default_rng(0))
    assert figures.targets_below_k_window <= 2

