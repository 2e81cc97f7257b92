"""Generalization hierarchies.

A hierarchy is a matrix of strings with one row per original (leaf) value and one column per
generalization level: column 0 holds the original value, column ``i`` the value it is replaced by
at level ``i`` (usually ``*`` at the last level). This is exactly ARX's CSV hierarchy format
(``;``-separated, no header), so hierarchies built in ARX can be used unchanged.

Values are compared as strings: a data value ``39`` (int) matches the hierarchy row ``39``.

Invariants checked on construction (a :class:`HierarchyError` names the attribute and value):

* the hierarchy has at least one row;
* every row has the same number of levels;
* level-0 values are distinct;
* it is monotonic: a value at level ``l`` has exactly one parent at level ``l + 1``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .encoding import value_to_str

__all__ = ["Hierarchy", "HierarchyError", "interval_label", "interval_leaves"]


class HierarchyError(ValueError):
    """A hierarchy is malformed or does not cover the data."""


def quote_list(values: Sequence[object], limit: int = 5) -> str:
    """Return ``'a', 'b'`` (at most ``limit`` values, then ``and N more``)."""
    shown = ", ".join(repr(v) for v in values[:limit])
    more = len(values) - limit
    return shown + (f" and {more} more" if more > 0 else "")


class Hierarchy:
    """A validated generalization hierarchy for one attribute.

    Attributes:
        rows: the string matrix, one tuple per leaf value.
        depth: number of levels (level 0 = original values; the highest level is ``depth - 1``).
        codes: int matrix ``(len(rows), depth)``; ``codes[i, l]`` indexes ``labels[l]``.
        labels: per level, the distinct generalized values in order of first appearance.
        leaf_counts: per level, the number of leaves (rows) under each label.
    """

    def __init__(self, rows: Iterable[Sequence[object]], name: str | None = None) -> None:
        self.name = name
        self.rows: tuple[tuple[str, ...], ...] = tuple(tuple(value_to_str(v) for v in row) for row in rows)
        self._validate_shape()
        self._build_codes()
        self._validate_monotonic()

    # -- construction -------------------------------------------------------------------------

    def _where(self) -> str:
        return f"hierarchy for {self.name!r}" if self.name else "hierarchy"

    def _validate_shape(self) -> None:
        if not self.rows:
            raise HierarchyError(f"{self._where()} is empty")
        depth = len(self.rows[0])
        if depth == 0:
            raise HierarchyError(f"{self._where()}: row 1 has no values")
        for number, row in enumerate(self.rows, start=1):
            if len(row) != depth:
                raise HierarchyError(
                    f"{self._where()}: row {number} ({row[0] if row else ''!r}) has {len(row)} levels, "
                    f"expected {depth}"
                )
        seen: set[str] = set()
        for row in self.rows:
            if row[0] in seen:
                raise HierarchyError(f"{self._where()}: value {row[0]!r} appears in more than one row")
            seen.add(row[0])
        self.depth = depth

    def _build_codes(self) -> None:
        self.codes = np.empty((len(self.rows), self.depth), dtype=np.int64)
        self.labels: list[list[str]] = []
        for level in range(self.depth):
            index: dict[str, int] = {}
            for i, row in enumerate(self.rows):
                self.codes[i, level] = index.setdefault(row[level], len(index))
            self.labels.append(list(index))
        self.leaf_counts = [np.bincount(self.codes[:, level]) for level in range(self.depth)]
        self.leaf_index = {row[0]: i for i, row in enumerate(self.rows)}

    def _validate_monotonic(self) -> None:
        for level in range(self.depth - 1):
            parents: dict[str, str] = {}
            for row in self.rows:
                parent = parents.setdefault(row[level], row[level + 1])
                if parent != row[level + 1]:
                    raise HierarchyError(
                        f"{self._where()}: value {row[level]!r} at level {level} has two parents at level "
                        f"{level + 1}: {parent!r} and {row[level + 1]!r}"
                    )

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and self.rows == other.rows

    def __repr__(self) -> str:
        return f"Hierarchy(name={self.name!r}, values={len(self.rows)}, depth={self.depth})"

    def named(self, name: str) -> Hierarchy:
        """Return this hierarchy carrying ``name`` in its error messages."""
        if name == self.name:
            return self
        return Hierarchy(self.rows, name=name)

    def leaf_codes(self, values: Sequence[str]) -> np.ndarray:
        """Map string values to row indices; raise naming every value that has no row."""
        missing = [v for v in values if v not in self.leaf_index]
        if missing:
            raise HierarchyError(f"{self._where()} has no row for value(s): {quote_list(missing)}")
        return np.fromiter((self.leaf_index[v] for v in values), dtype=np.int64, count=len(values))

    def generalize(self, values: Sequence[object], level: int) -> list[str]:
        """Return the level-``level`` generalization of each value."""
        codes = self.leaf_codes([value_to_str(v) for v in values])
        labels = self.labels[level]
        return [labels[c] for c in self.codes[codes, level]]

    # -- ARX CSV format -----------------------------------------------------------------------

    @classmethod
    def from_csv(cls, path: str | Path, delimiter: str = ";", name: str | None = None) -> Hierarchy:
        """Read an ARX hierarchy CSV (no header, one row per value); blank lines are ignored."""
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
        return cls(rows, name=name)

    @classmethod
    def from_csv_text(cls, text: str, delimiter: str = ";", name: str | None = None) -> Hierarchy:
        """Parse ARX hierarchy CSV text: cells are stripped, blank lines ignored, empty cells refused."""
        rows = [tuple(cell.strip() for cell in row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)
                if any(cell.strip() for cell in row)]
        for number, row in enumerate(rows, start=1):
            if not all(row):
                where = f"hierarchy for {name!r}" if name else "hierarchy"
                raise HierarchyError(f"{where}: line {number} has an empty value")
        return cls(rows, name=name)

    def to_csv(self, path: str | Path, delimiter: str = ";") -> None:
        """Write the hierarchy in ARX's CSV format."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerows(self.rows)

    # -- builders -----------------------------------------------------------------------------

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[Any, Sequence[object]], top: str = "*", name: str | None = None
    ) -> Hierarchy:
        """Explicit categories: ``{value: [level1, level2, ...]}``.

        A top level ``top`` is appended unless the last given level already has a single value.
        """
        rows = [[value_to_str(value), *(value_to_str(g) for g in parents)] for value, parents in mapping.items()]
        if rows and len({row[-1] for row in rows}) > 1:
            rows = [row + [top] for row in rows]
        return cls(rows, name=name)

    @classmethod
    def intervals(
        cls, values: Iterable[float], widths: Sequence[float], top: str = "*", name: str | None = None,
        *, bin_width: float | None = None, origin: float = 0,
    ) -> Hierarchy:
        """Numeric intervals: level ``i`` maps ``v`` to the width-``widths[i-1]`` band holding it.

        Bands start at ``origin`` plus multiples of the width and are labelled half-open,
        ``[20, 25)``: exactly the values they cover (see :func:`interval_label`). With
        ``bin_width`` the leaves are the ``bin_width`` bands of the values (:func:`interval_leaves`)
        rather than the values themselves, so exact amounts never appear in a release. Each width
        must be a larger multiple of the one before (and of ``bin_width``) so that bands nest.
        A last level ``top`` is appended.
        """
        _check_widths([*([bin_width] if bin_width is not None else []), *widths])
        numbers = np.asarray(sorted(set(values)), dtype=float)
        whole = bool(np.all(np.mod(numbers, 1) == 0)) and float(origin).is_integer()
        if bin_width is None:
            leaves, lows = [value_to_str(v) for v in numbers], numbers
        else:
            lows = np.unique(_band_lows(numbers, bin_width, origin))
            leaves = [interval_label(low, bin_width, whole) for low in lows]
        rows = [[leaf, *(interval_label(float(_band_lows(low, w, origin)), w, whole) for w in widths), top]
                for leaf, low in zip(leaves, lows, strict=True)]
        return cls(rows, name=name)

    @classmethod
    def masking(
        cls, values: Iterable[object], steps: int | None = None, mask: str = "*", top: str = "*",
        name: str | None = None, *, levels: Sequence[int] | None = None,
    ) -> Hierarchy:
        """Right-to-left masking (postal codes, card-number prefixes): level ``i`` masks the last
        ``i`` characters (``81675`` -> ``8167*`` -> ``816**`` ...) for ``steps`` levels (default:
        the longest value's length), or the last ``levels[i-1]`` characters when ``levels`` (strictly
        increasing counts) is given; a last level ``top`` is appended unless already uniform."""
        distinct = sorted({value_to_str(v) for v in values})
        counts = _masked_counts(distinct, steps, levels)
        rows = [[v, *(_mask_right(v, count, mask) for count in counts)] for v in distinct]
        if len({row[-1] for row in rows}) > 1:
            rows = [row + [top] for row in rows]
        return cls(rows, name=name)

    @classmethod
    def prefixes(
        cls, values: Iterable[object], keep: Sequence[int], mask: str = "*", top: str = "*",
        name: str | None = None,
    ) -> Hierarchy:
        """Prefixes: level ``i`` keeps the first ``keep[i-1]`` characters and replaces the rest by one
        ``mask`` (``1012 AB`` -> ``1012*`` -> ``10*``), so the length of a value is not released
        either; a value no longer than the kept prefix stays whole. ``keep`` must be strictly
        decreasing. A last level ``top`` is appended."""
        if not keep or list(keep) != sorted(set(keep), reverse=True) or min(keep) < 1:
            raise HierarchyError(f"prefix lengths must be positive and strictly decreasing, got {list(keep)}")
        distinct = sorted({value_to_str(v) for v in values})
        rows = [[v, *(v[:n] + mask if len(v) > n else v for n in keep), top] for v in distinct]
        return cls(rows, name=name)

    @classmethod
    def card_numbers(
        cls, values: Iterable[object], network: Callable[[str], str] | Mapping[str, str],
        prefix_lengths: Sequence[int] = (4,), mask: str = "*", top: str = "*", name: str | None = None,
    ) -> Hierarchy:
        """Card numbers given as 6-digit BINs: BIN -> shorter prefixes (``4123**``, padded with
        ``mask``) -> card network -> ``top``. ``network`` maps a BIN to its network (a callable
        or a mapping: the caller owns the card ranges). A value that is not a BIN (such as
        ``none`` for an account without a card) keeps its value up to the top level."""
        lengths = list(prefix_lengths)
        if lengths != sorted(set(lengths), reverse=True) or not all(1 <= n <= BIN_DIGITS - 1 for n in lengths):
            raise HierarchyError(f"prefix lengths must be strictly decreasing, from 1 to {BIN_DIGITS - 1}, "
                                 f"got {lengths}")
        lookup = network if callable(network) else network.__getitem__
        rows = []
        for value in sorted({value_to_str(v) for v in values}):
            if len(value) == BIN_DIGITS and value.isdigit():
                prefixes = (value[:n] + mask * (BIN_DIGITS - n) for n in lengths)
                rows.append([value, *prefixes, lookup(value), top])
            else:
                rows.append([value, *(value for _ in lengths), value, top])
        return cls(rows, name=name)

    @classmethod
    def from_level_mappings(
        cls, values: Iterable[object], levels: Sequence[Mapping[str, str]], top: str = "*",
        name: str | None = None,
    ) -> Hierarchy:
        """Categories by level: level ``i`` maps each level ``i-1`` value through ``levels[i-1]``,
        whose ``top`` key (``"*"``) is the fallback for values it does not name. A top level
        ``top`` is appended as in :meth:`from_mapping`."""
        mapping: dict[str, list[str]] = {}
        for value in sorted({value_to_str(v) for v in values}):
            chain = [value]
            for number, level in enumerate(levels, start=1):
                parent = level.get(chain[-1], level.get(top))
                if parent is None:
                    raise HierarchyError(f"level {number} has no mapping for {chain[-1]!r}")
                chain.append(parent)
            mapping[value] = chain[1:]
        return cls.from_mapping(mapping, top=top, name=name)

    @classmethod
    def dates(
        cls, values: Iterable[object], levels: Sequence[str] = ("day", "month", "quarter", "year"),
        top: str = "*", name: str | None = None,
    ) -> Hierarchy:
        """Dates: each value (anything ``pandas.to_datetime`` parses) is generalized through
        ``levels`` (from ``day`` ``2024-03-15``, ``month`` ``2024-03``, ``quarter`` ``2024-Q1``,
        ``year`` ``2024``, ``decade`` ``2020-2029``), then ``top``."""
        unknown = [level for level in levels if level not in _DATE_FORMATS]
        if unknown:
            raise HierarchyError(f"unknown date level(s): {quote_list(unknown)}; use {', '.join(_DATE_FORMATS)}")
        distinct = sorted({value_to_str(v) for v in values})
        stamps = pd.to_datetime(pd.Series(distinct), errors="raise")
        rows = [[v, *(_DATE_FORMATS[level](s) for level in levels), top] for v, s in zip(distinct, stamps, strict=True)]
        return cls(rows, name=name)


BIN_DIGITS = 6


def _check_widths(widths: Sequence[float]) -> None:
    if not widths or any(w <= 0 for w in widths):
        raise HierarchyError(f"interval widths must be positive, got {list(widths)}")
    for smaller, larger in zip(widths, widths[1:], strict=False):
        ratio = larger / smaller
        if ratio <= 1 or not math.isclose(ratio, round(ratio)):
            raise HierarchyError(
                f"interval widths must increase, each a multiple of the one before, got {list(widths)}"
            )


def _band_lows(values: np.ndarray | float, width: float, origin: float) -> np.ndarray:
    """Return the low end of the width-``width`` band (starting at ``origin``) holding each value."""
    return origin + np.floor((np.asarray(values, dtype=float) - origin) / width + 1e-9) * width


def _number(value: float) -> str:
    """Return a band end as text: whole numbers without a decimal point, others without float noise."""
    return value_to_str(round(float(value), 9))


def interval_label(low: float, width: float, whole_numbers: bool = False) -> str:
    """Return the label of the band ``[low, low + width)``: half-open, so it says exactly what it covers.

    A band of width 1 over whole numbers holds a single value and is labelled by it (``34``).
    """
    if whole_numbers and width == 1:
        return _number(low)
    return f"[{_number(low)}, {_number(low + width)})"


def interval_leaves(values: Iterable[float], width: float, origin: float = 0) -> list[str]:
    """Return each value's band label of width ``width`` (the leaves of ``intervals(bin_width=width)``)."""
    numbers = np.asarray(list(values), dtype=float)
    whole = bool(np.all(np.mod(numbers, 1) == 0)) and float(origin).is_integer()
    lows, inverse = np.unique(_band_lows(numbers, width, origin), return_inverse=True)
    labels = [interval_label(low, width, whole) for low in lows]
    return [labels[i] for i in inverse.ravel()]


def _masked_counts(values: Sequence[str], steps: int | None, levels: Sequence[int] | None) -> list[int]:
    if levels is None:
        return list(range(1, (max((len(v) for v in values), default=0) if steps is None else steps) + 1))
    if not levels or list(levels) != sorted(set(levels)) or min(levels) < 1:
        raise HierarchyError(f"masked character counts must be positive and strictly increasing, got {list(levels)}")
    return list(levels)


def _mask_right(value: str, count: int, mask: str) -> str:
    keep = max(len(value) - count, 0)
    return value[:keep] + mask * (len(value) - keep)


_DATE_FORMATS = {
    "day": lambda s: s.strftime("%Y-%m-%d"),
    "month": lambda s: s.strftime("%Y-%m"),
    "quarter": lambda s: f"{s.year}-Q{s.quarter}",
    "year": lambda s: str(s.year),
    "decade": lambda s: f"{s.year // 10 * 10}-{s.year // 10 * 10 + 9}",
}
