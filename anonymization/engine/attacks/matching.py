"""Play one attacker query: which published rows are compatible with what the attacker knows.

A row is compatible with the target's demographics when, in every demographic column, its label
covers the target's raw value; it is compatible with a known transaction when, in addition, its
date label covers the known day, its kind label covers the known kind and its amount label meets
``[amount - slack, amount + slack]``. Columns the attacker does not know (balance, channel) never
exclude a row, and a column missing from the files is skipped.

Rows are sorted once by their demographic labels, so a query parses nothing and tests each distinct
combination of demographic labels once, then reads the matching rows as contiguous ranges;
``Matcher.combo[row]`` is the row's combination, which :mod:`.register` reads against the
population register.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .published import DEMOGRAPHICS, Stack, row_keys

__all__ = ["Known", "Matcher", "choose_known"]

AMOUNT_SLACK = 10.0


@dataclass(frozen=True)
class Known:
    """What the attacker knows: per target, demographics and two transactions (with ground truth)."""

    targets: np.ndarray  # dense customer codes
    entries: np.ndarray  # (targets, 2) dense entry codes of the known transactions
    demographics: list[dict[str, object]]
    transactions: list[tuple[dict[str, object], dict[str, object]]]
    rows_of_entry: dict[int, np.ndarray]  # stack rows holding each known entry


class Matcher:
    """Compatible-row queries over a :class:`Stack` (see the module docstring)."""

    def __init__(self, stack: Stack, demographics: Sequence[str] = DEMOGRAPHICS,
                 slack: float = AMOUNT_SLACK) -> None:
        self.stack, self.slack = stack, slack
        self.demographics = [c for c in demographics if c in stack.columns]
        key = row_keys(stack, self.demographics, slice(None))
        self.order = np.argsort(key, kind="stable")
        ordered = key[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(key) else np.zeros(0, int)
        self.ends = np.r_[self.starts[1:], len(key)].astype(np.int64)
        first = self.order[self.starts]
        self.combo = np.zeros(len(key), dtype=np.int64)  # per stack row, its combination of demographic labels
        self.combo[self.order] = np.repeat(np.arange(len(self.starts)), self.ends - self.starts)
        self.combo_codes = {c: stack.codes[c][first] for c in self.demographics}
        self._seen: dict[tuple[str, ...], np.ndarray] = {}  # the same targets are attacked several times

    def demographic_rows(self, values: Mapping[str, object]) -> np.ndarray:
        """Return the stack rows whose demographic labels all cover ``values``."""
        key = tuple(str(values[c]) for c in self.demographics)
        if key not in self._seen:
            self._seen[key] = self._demographic_rows(values)
        return self._seen[key]

    def _demographic_rows(self, values: Mapping[str, object]) -> np.ndarray:
        ok = np.ones(len(self.starts), dtype=bool)
        for column in self.demographics:
            ok &= self.stack.labels[column].covers(values[column])[self.combo_codes[column]]
        chosen = np.flatnonzero(ok)
        lengths = self.ends[chosen] - self.starts[chosen]
        offsets = np.repeat(self.starts[chosen] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        return self.order[offsets + np.arange(lengths.sum())]

    def transaction_rows(self, rows: np.ndarray, known: Mapping[str, object]) -> np.ndarray:
        """Return the subset of ``rows`` compatible with one known transaction (day, amount, kind)."""
        stack, ok = self.stack, np.ones(len(rows), dtype=bool)
        for column in ("transaction_date", "kind"):
            if column in stack.columns:
                ok &= stack.labels[column].covers(known[column])[stack.codes[column][rows]]
        if "amount" in stack.columns:
            amount = float(known["amount"])  # type: ignore[arg-type]
            near = stack.labels["amount"].overlaps(amount - self.slack, amount + self.slack)
            ok &= near[stack.codes["amount"][rows]]
        return rows[ok]


def _entry_rows(stack: Stack) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return rows sorted by (entry, file) and, per entry code, the start and end in that order."""
    order = np.lexsort((stack.file, stack.entry))
    n_entries = int(stack.entry.max()) + 1 if stack.n_rows else 0
    bounds = np.searchsorted(stack.entry[order], np.arange(n_entries + 1))
    return order, bounds[:-1], bounds[1:]


def _target_codes(stack: Stack, targets: int | Sequence[object], eligible: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    if isinstance(targets, int | np.integer):
        return np.sort(rng.choice(eligible, size=min(int(targets), len(eligible)), replace=False))
    index = pd.Index(stack.customer_ids)
    codes = index.get_indexer(list(targets))
    bad = [t for t, c in zip(targets, codes, strict=True) if c < 0 or c not in set(eligible.tolist())]
    if bad:
        raise ValueError(f"targets without two published transactions: {', '.join(repr(t) for t in bad[:5])}")
    return np.asarray(codes, dtype=np.int64)


def _values(raw: pd.DataFrame, row: int, columns: Sequence[str]) -> dict[str, object]:
    return {c: raw[c].iat[row] for c in columns if c in raw.columns}


def choose_known(stack: Stack, raw: pd.DataFrame, targets: int | Sequence[object], rng: np.random.Generator,
                 matcher: Matcher) -> Known:
    """Sample targets (customers with two or more published entries) and two of their entries each.

    ``raw`` is the stacked raw values, row-aligned with the stack. The known values of an entry are
    the raw values of its row in the last file that holds it; the demographics those of the first
    known entry's row.
    """
    order, first, last = _entry_rows(stack)
    entry_customer = stack.customer[order[first]]
    by_customer = np.argsort(entry_customer, kind="stable")
    counts = np.bincount(entry_customer, minlength=stack.n_customers)
    codes = _target_codes(stack, targets, np.flatnonzero(counts >= 2), rng)
    starts = np.r_[0, np.cumsum(counts)[:-1]][codes]
    i = rng.integers(0, counts[codes])
    j = rng.integers(0, counts[codes] - 1)
    j = j + (j >= i)
    entries = np.stack([by_customer[starts + i], by_customer[starts + j]], axis=1)
    rows_of_entry = {int(e): order[first[e]:last[e]] for e in entries.ravel()}
    columns = ("transaction_date", "amount", "kind")
    transactions = [(_values(raw, int(rows_of_entry[int(a)][-1]), columns),
                     _values(raw, int(rows_of_entry[int(b)][-1]), columns)) for a, b in entries]
    demographics = [_values(raw, int(rows_of_entry[int(a)][-1]), matcher.demographics) for a, _ in entries]
    return Known(codes, entries, demographics, transactions, rows_of_entry)

