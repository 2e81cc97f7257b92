"""What the order of the rows in a published file tells the attacker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..coverage import ColumnLabels, day_numbers
from .figures import Figures
from .knowledge import play, summarize
from .matching import Matcher, choose_known
from .published import DEMOGRAPHICS, Mappings, Stack, check_inputs, stack_files
from .register import Register

__all__ = ["RowOrderFigures", "row_order", "spearman"]


@dataclass(frozen=True)
class RowOrderFigures(Figures):
    """Figures of :func:`row_order` (see its docstring for each rule)."""

    k: int
    spearman_per_file: tuple[float, ...]
    spearman_mean: float
    spearman_min: float
    targets: int
    transactions_below_k_window: int
    targets_below_k_window: int
    targets_pinned_window: int
    targets_below_k_without_order: int
    linked_transactions_below_k_window: int
    linked_targets_below_k_window: int
    linked_targets_pinned_window: int
    transfer_out_rows: int
    transfer_pairs_adjacent: int
    transfer_pair_share: float
    transfer_pair_share_by_chance: float


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Return Spearman's rank correlation (average ranks for ties; 0.0 when undefined)."""
    if len(first) < 2:
        return 0.0
    a = pd.Series(first).rank().to_numpy()
    b = pd.Series(second).rank().to_numpy()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _window_days(stack: Stack, raw: Sequence[pd.DataFrame], ledger_position: Sequence[np.ndarray]) -> np.ndarray:
    """Return per stack row the day its position would hold if its file were in ledger order."""
    out = np.zeros(stack.n_rows, dtype=np.int64)
    for index, (frame, position) in enumerate(zip(raw, ledger_position, strict=True)):
        days = day_numbers(frame["transaction_date"].tolist())
        out[stack.rows_of(index)] = days[np.argsort(np.asarray(position), kind="stable")]
    return out


def _magnitude_keys(labels: ColumnLabels) -> np.ndarray:
    """Return per distinct amount label a key equal for labels of the same size up to sign (-1: no key)."""
    keys: list[tuple[float, float] | None] = []
    for low, high, point, anything in zip(labels.low, labels.high, labels.is_point, labels.is_any, strict=True):
        if anything or not (np.isfinite(low) and np.isfinite(high)):
            keys.append(None)
        else:
            ends = sorted((round(abs(low), 6), round(abs(low if point else high), 6)))
            keys.append((ends[0], ends[1]))
    codes, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    return codes


def _transfer_pairs(stack: Stack) -> tuple[int, int, float]:
    """Return transfer_out rows, those followed by a transfer_in of the same amount, and the chance count."""
    if not {"kind", "amount"} <= set(stack.columns):
        return 0, 0, 0.0
    kinds = np.asarray(stack.labels["kind"].labels, dtype=object)
    magnitude = _magnitude_keys(stack.labels["amount"])
    outs = pairs = 0
    chance = 0.0
    for index in range(stack.n_files):
        rows = stack.rows_of(index)
        kind, size = kinds[stack.codes["kind"][rows]], magnitude[stack.codes["amount"][rows]]
        is_out, is_in = kind == "transfer_out", kind == "transfer_in"
        follows = is_out[:-1] & is_in[1:] & (size[:-1] == size[1:]) & (size[:-1] >= 0)
        outs, pairs = outs + int(is_out.sum()), pairs + int(follows.sum())
        in_sizes = np.bincount(size[is_in & (size >= 0)], minlength=max(len(magnitude), 1))
        out_sizes = size[is_out & (size >= 0)]
        chance += float(in_sizes[out_sizes].sum()) / max(len(size) - 1, 1)
    return outs, pairs, chance


def row_order(files: Sequence[pd.DataFrame], ids: Sequence[pd.DataFrame], ledger_position: Sequence[np.ndarray],
              *, raw: Sequence[pd.DataFrame], k: int, population: pd.DataFrame,
              targets: int | Sequence[object] = 1000,
              rng: np.random.Generator | None = None, demographics: Sequence[str] = DEMOGRAPHICS,
              kinds: Mapping[str, str] | None = None, mappings: Mappings | None = None) -> RowOrderFigures:
    """Measure how much the files' row order tells about time and about who did what.

    * ``spearman_per_file``: Spearman correlation between each row's position in its file and its
      ledger position (``ledger_position[i]``, row-aligned with ``files[i]``; higher is later).
    * Day window: if a file is in ledger order, the rows of day ``d`` sit at the positions that the
      file's day-``d`` rows would occupy once sorted by ledger position (an attacker learns how many
      entries each day holds from the differences of cumulative files). The known-transactions
      attack (same rules and the same sampled targets as :func:`known_transactions`) is rerun with
      the extra condition that a compatible row sits in its known day's window:
      ``targets_below_k_window`` counts targets with ``|C_w(t1) ∩ C_w(t2)| < k`` *including the
      true one* (``C_w``: the observable candidates of :mod:`.register` from the compatible rows in
      the window; when the order is not chronological the window misleads the attacker, and it
      does not count), ``targets_pinned_window`` those left with the target alone, next to
      ``targets_below_k_without_order`` for the same targets without the window. The
      ``linked_*_window`` figures use the ground-truth owners instead (what pseudonyms would give;
      reported, not part of the promise).
    * Transfers: the share of ``transfer_out`` rows (exact kind label) immediately followed in the
      same file by a ``transfer_in`` row whose amount label has the same size up to sign, and the
      share expected by chance (each ``transfer_out`` row's count of such ``transfer_in`` rows in
      its file divided by the file's rows minus one).
    """
    check_inputs(files, ids, raw, (*demographics, "transaction_date", "amount", "kind"))
    if len(ledger_position) != len(files) or any(len(p) != len(f) for p, f in zip(ledger_position, files,
                                                                                        strict=False)):
        raise ValueError("ledger_position must hold one row-aligned array per file")
    stack = stack_files(files, ids, kinds=kinds, mappings=mappings)
    rho = tuple(spearman(np.arange(len(p)), np.asarray(p)) for p in ledger_position)
    matcher = Matcher(stack, demographics)
    register = Register(stack, matcher, population)
    raw_stack = pd.concat([frame.reset_index(drop=True) for frame in raw], ignore_index=True)
    known = choose_known(stack, raw_stack, targets, rng if rng is not None else np.random.default_rng(0), matcher)
    with_window = summarize(play(stack, matcher, register, known, _window_days(stack, raw, ledger_position)), k)
    without = summarize(play(stack, matcher, register, known), k)
    outs, pairs, chance = _transfer_pairs(stack)
    return RowOrderFigures(
        k=k, spearman_per_file=rho, spearman_mean=float(np.mean(rho)), spearman_min=float(np.min(rho)),
        targets=len(known.targets), transactions_below_k_window=int(with_window["transactions_below_k"]),
        targets_below_k_window=int(with_window["targets_below_k"]),
        targets_pinned_window=int(with_window["targets_pinned"]),
        targets_below_k_without_order=int(without["targets_below_k"]),
        linked_transactions_below_k_window=int(with_window["linked_transactions_below_k"]),
        linked_targets_below_k_window=int(with_window["linked_targets_below_k"]),
        linked_targets_pinned_window=int(with_window["linked_targets_pinned"]), transfer_out_rows=outs,
        transfer_pairs_adjacent=pairs, transfer_pair_share=pairs / outs if outs else 0.0,
        transfer_pair_share_by_chance=chance / outs if outs else 0.0,
    )
