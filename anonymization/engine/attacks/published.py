"""The attacker's material and the bank's ground truth, checked once and stacked into arrays.

Inputs, all lists with one item per published file, in publication order:

* ``files``: the published DataFrames of strings (every file has the same columns);
* ``ids``: row-aligned DataFrames with the hidden ``customer`` of each row and the ``entry`` (ledger
  entry id) it was generated from; the same entry in two files is the same underlying transaction;
* ``raw``: row-aligned DataFrames of the raw values (only the columns an attack needs).

:class:`Stack` concatenates the files: one row per published row with its file number, position in
its file, dense customer and entry codes, and per column the code of its label in a shared
:class:`~anonymization.engine.coverage.ColumnLabels` (each distinct label is parsed once for all files).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..coverage import ColumnLabels, check_kind

__all__ = ["COLUMN_KINDS", "DEMOGRAPHICS", "TRANSACTION", "Mappings", "Stack", "stack_files"]

#: Kinds of the transaction release's columns (see anonymization/columns.py); ``kinds=`` overrides.
COLUMN_KINDS: dict[str, str] = {
    "age": "numeric", "gender": "category", "postal_code": "code", "card_network": "category",
    "card_number": "card", "transaction_date": "date", "amount": "numeric", "balance_after": "numeric",
    "kind": "category", "channel": "category",
}
#: What the attacker knows about the target person, and about each known transaction.
DEMOGRAPHICS = ("age", "gender", "postal_code", "card_network", "card_number")
TRANSACTION = ("transaction_date", "amount", "kind")

Mappings = Mapping[str, Mapping[str, Collection[str]]]


@dataclass(frozen=True)
class Stack:
    """All published rows of all files, as aligned arrays (see the module docstring)."""

    columns: tuple[str, ...]
    kinds: dict[str, str]
    n_files: int
    file: np.ndarray
    position: np.ndarray
    customer: np.ndarray
    customer_ids: np.ndarray
    entry: np.ndarray
    codes: dict[str, np.ndarray]
    labels: dict[str, ColumnLabels]

    @property
    def n_rows(self) -> int:
        return len(self.file)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    def rows_of(self, index: int) -> slice:
        """Return the stack rows of file ``index`` (files are stacked in order)."""
        starts = np.searchsorted(self.file, [index, index + 1])
        return slice(int(starts[0]), int(starts[1]))


def _check_aligned(name: str, frames: Sequence[pd.DataFrame], files: Sequence[pd.DataFrame],
                   needed: Sequence[str]) -> None:
    if len(frames) != len(files):
        raise ValueError(f"{name} has {len(frames)} items but there are {len(files)} files")
    for i, (frame, published) in enumerate(zip(frames, files, strict=True)):
        if len(frame) != len(published):
            raise ValueError(f"{name}[{i}] has {len(frame)} rows but files[{i}] has {len(published)}")
        if missing := [c for c in needed if c not in frame.columns]:
            raise ValueError(f"{name}[{i}] lacks column(s): {', '.join(repr(c) for c in missing)}")


def check_inputs(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame],
                 raw: Sequence[pd.DataFrame] | None = None, raw_columns: Sequence[str] = ()) -> None:
    """Raise ValueError unless files share their columns and ids/raw are row-aligned with them."""
    if not files:
        raise ValueError("at least one published file is needed")
    columns = list(files[0].columns)
    for i, published in enumerate(files):
        if list(published.columns) != columns:
            raise ValueError(f"files[{i}] columns {list(published.columns)} differ from files[0] {columns}")
    _check_aligned("ids", ids, files, ("customer", "entry"))
    if raw is not None:
        _check_aligned("raw", raw, files, [c for c in raw_columns if c in columns])


def _kinds(columns: Sequence[str], kinds: Mapping[str, str] | None) -> dict[str, str]:
    merged = {**COLUMN_KINDS, **(kinds or {})}
    if missing := [c for c in columns if c not in merged]:
        raise ValueError(f"no column kind for {', '.join(repr(c) for c in missing)}; pass kinds={{column: kind}}")
    for column in columns:
        check_kind(column, merged[column])
    return {c: merged[c] for c in columns}


def stack_files(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], *,
                kinds: Mapping[str, str] | None = None, mappings: Mappings | None = None) -> Stack:
    """Check the inputs and return the stacked published rows with parsed labels."""
    check_inputs(files, ids)
    columns = tuple(str(c) for c in files[0].columns)
    column_kinds = _kinds(columns, kinds)
    lengths = [len(f) for f in files]
    file = np.repeat(np.arange(len(files)), lengths)
    position = np.concatenate([np.arange(n) for n in lengths]) if files else np.zeros(0, dtype=np.int64)
    truth = pd.concat([frame[["customer", "entry"]] for frame in ids], ignore_index=True)
    customer, customer_ids = pd.factorize(truth["customer"], sort=True)
    entry, _ = pd.factorize(truth["entry"], sort=True)
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, ColumnLabels] = {}
    for column in columns:
        values = pd.concat([f[column] for f in files], ignore_index=True).astype(str)
        column_codes, uniques = pd.factorize(values)
        codes[column] = column_codes.astype(np.int64)
        labels[column] = ColumnLabels(column, column_kinds[column], [str(u) for u in uniques],
                                      (mappings or {}).get(column))
    return Stack(columns, column_kinds, len(files), file, position, customer.astype(np.int64),
                 np.asarray(customer_ids), entry.astype(np.int64), codes, labels)


def group_customers(group: np.ndarray, customer: np.ndarray) -> np.ndarray:
    """Return, per row, the number of distinct customers among the rows of its group."""
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = pd.DataFrame({"g": group, "c": customer}).drop_duplicates()
    per_group = pairs.groupby("g").size()
    return per_group.reindex(group).to_numpy(dtype=np.int64)


def row_keys(stack: Stack, columns: Sequence[str], rows: np.ndarray | slice) -> np.ndarray:
    """Return one int key per selected row: equal keys iff equal labels in every column."""
    if not columns:
        return np.zeros(len(stack.file[rows]), dtype=np.int64)
    frame = pd.DataFrame({c: stack.codes[c][rows] for c in columns})
    return frame.groupby(list(columns), sort=False).ngroup().to_numpy(dtype=np.int64)
