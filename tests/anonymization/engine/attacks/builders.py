"""Tiny published files whose attack answers are known by hand, shared by the attack tests."""

from __future__ import annotations

import pandas as pd


def frames(rows: list[dict[str, object]], customers: list[object], entries: list[int]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a published file of strings and its ground truth ids."""
    published = pd.DataFrame(rows).astype(str)
    return published, pd.DataFrame({"customer": customers, "entry": entries})


def person(age: object, postal: object, day: str = "2026-03", amount: str = "[0, 100)",
           kind: str = "withdrawal") -> dict[str, object]:
    return {"age": age, "postal_code": postal, "transaction_date": day, "amount": amount, "kind": kind}


def card_release(card_label: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Three customers with distinct exact ages, two withdrawals each, cards shown as ``card_label``."""
    rows, customers, raw_rows = [], [], []
    for number, (customer, age) in enumerate([("A", 30), ("B", 40), ("C", 50)] * 2):
        rows.append({**person(str(age), "12345", "2026-03-0" + str(1 + number % 2), "[-100, 0)"),
                     "card_number": card_label})
        customers.append(customer)
        raw_rows.append({"age": age, "postal_code": "12345", "card_number": "412345",
                         "transaction_date": "2026-03-0" + str(1 + number % 2), "amount": -50.0, "kind": "withdrawal"})
    published, ids = frames(rows, customers, list(range(6)))
    return [published], [ids], [pd.DataFrame(raw_rows)]

