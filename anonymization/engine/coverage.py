"""What a released label covers: public domains, coverage types and the label resolver.

A released value (label) stands for a set of raw values, its *coverage*:

* ordered numbers: an :class:`Interval` ``[low, high)`` or ``[low, high]``; a raw number ``37`` is
  the point ``[37, 37]``;
* dates: a :class:`DayRange` of whole days ``first..last`` (inclusive, as day numbers since
  1970-01-01);
* categories: a :class:`ValueSet` of raw (leaf) values.

A :class:`CoverageResolver` turns every label the engine produces into its coverage, given the
column's public domain (needed for ``*`` and masks):

=================  ====================================================  ============================
domain             labels understood                                     coverage
=================  ====================================================  ============================
NumericDomain      ``*``                                                 the domain
                   ``[a, b)`` / ``[a, b]`` (Mondrian, interval builder)  that interval
                   ``20-24`` (interval builder on integers)              ``[20, 25)``
                   ``37``, ``12.5`` (raw values)                         the point
DateDomain         ``*``                                                 the domain
                   ``2026-03-01..2026-03-14`` (Mondrian)                 those days, inclusive
                   ``2026-03-15``, ``2026-03``, ``2026-Q1``, ``2026``    that day, month, quarter, year
                   ``2020-2029`` (decade)                                Jan 1 2020..Dec 31 2029
CategoricalDomain  ``*``                                                 every domain value
                   a hierarchy node (when the domain has a hierarchy)    the leaves under it
                   a raw domain value                                    that value
                   ``12**`` (masking builder)                            domain values of length 4
                                                                         starting with ``12``
=================  ====================================================  ============================

Anything else raises ``ValueError`` naming the column and the label.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .hierarchy import Hierarchy

__all__ = [
    "Interval", "DayRange", "ValueSet", "Coverage",
    "NumericDomain", "DateDomain", "CategoricalDomain", "Domain",
    "CoverageResolver", "ResolvedColumn", "day_number", "day_date", "format_number", "format_day_range",
]

EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date | str) -> int:
    """Return the number of days from 1970-01-01 to ``day`` (an ISO ``YYYY-MM-DD`` string or a date)."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return (day - EPOCH).days


def day_date(number: int) -> dt.date:
    """Return the date of day number ``number`` (inverse of :func:`day_number`)."""
    return EPOCH + dt.timedelta(days=int(number))


def format_number(value: float) -> str:
    """Return ``20`` for integral values, else the shortest round-trip form (``37.5``)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def format_day_range(first: int, last: int) -> str:
    """Name the inclusive day range: a day, a calendar month, quarter or year, else ``a..b``."""
    start, end = day_date(first), day_date(last)
    if first == last:
        return start.isoformat()
    after = end + dt.timedelta(days=1)
    if start.day == 1 and after.day == 1:
        months = (after.year - start.year) * 12 + after.month - start.month
        if months == 1:
            return f"{start.year}-{start.month:02d}"
        if months == 3 and start.month % 3 == 1:
            return f"{start.year}-Q{start.month // 3 + 1}"
        if months == 12 and start.month == 1:
            return str(start.year)
    return f"{start.isoformat()}..{end.isoformat()}"


# -- coverage types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Raw numbers ``low <= x < high`` (``x <= high`` when ``closed``); a point when ``low == high``."""

    low: float
    high: float
    closed: bool = False

    def __post_init__(self) -> None:
        if not (self.low < self.high or (self.low == self.high and self.closed)):
            raise ValueError(f"empty interval [{self.low}, {self.high}{']' if self.closed else ')'}")

    @property
    def length(self) -> float:
        return self.high - self.low

    def contains(self, value: float) -> bool:
        return self.low <= value < self.high or (self.closed and value == self.high)


@dataclass(frozen=True)
class DayRange:
    """Whole days ``first..last`` (day numbers, both inclusive)."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"empty day range {self.first}..{self.last}")

    @property
    def days(self) -> int:
        return self.last - self.first + 1

    def contains(self, day: int) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class ValueSet:
    """A set of raw (leaf) values, compared as strings."""

    values: frozenset[str]

    def contains(self, value: str) -> bool:
        return value in self.values


Coverage = Interval | DayRange | ValueSet


# -- public domains -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericDomain:
    """Public range of an ordered number: ``[low, high)``, or ``[low, high]`` when ``closed``."""

    low: float
    high: float
    closed: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"numeric domain needs finite low < high, got [{self.low}, {self.high}]")

    @property
    def coverage(self) -> Interval:
        return Interval(float(self.low), float(self.high), self.closed)


@dataclass(frozen=True)
class DateDomain:
    """Public range of a date: ``first..last`` inclusive (ISO strings or dates)."""

    first: str | dt.date
    last: str | dt.date

    def __post_init__(self) -> None:
        if day_number(self.first) > day_number(self.last):
            raise ValueError(f"date domain needs first <= last, got {self.first}..{self.last}")

    @property
    def coverage(self) -> DayRange:
        return DayRange(day_number(self.first), day_number(self.last))


@dataclass(frozen=True)
class CategoricalDomain:
    """Public values of a category; ``hierarchy`` (optional) names groups of them."""

    values: tuple[str, ...]
    hierarchy: Hierarchy | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(dict.fromkeys(str(v) for v in self.values)))
        if not self.values:
            raise ValueError("categorical domain needs at least one value")
        if self.hierarchy is not None and not isinstance(self.hierarchy, Hierarchy):
            raise ValueError(f"hierarchy must be a Hierarchy, got {type(self.hierarchy).__name__}")

    @classmethod
    def from_hierarchy(cls, hierarchy: Hierarchy) -> CategoricalDomain:
        """Return the domain of a hierarchy's leaves, its nodes resolvable as labels."""
        return cls(tuple(row[0] for row in hierarchy.rows), hierarchy)

    @property
    def coverage(self) -> ValueSet:
        return ValueSet(frozenset(self.values))


Domain = NumericDomain | DateDomain | CategoricalDomain


# -- resolving labels -----------------------------------------------------------------------------

_BRACKET = re.compile(r"^\[\s*(-?[0-9.eE+\-]+)\s*,\s*(-?[0-9.eE+\-]+)\s*([)\]])$")
_INT_RANGE = re.compile(r"^(-?\d+)-(-?\d+)$")
_DAY_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_YEARS = re.compile(r"^(\d{4})-(\d{4})$")


@dataclass(frozen=True)
class ResolvedColumn:
    """A released column as codes into its distinct labels and their coverages.

    ``labels[codes[i]]`` is row ``i``'s label and ``coverages[codes[i]]`` what it covers.
    """

    codes: np.ndarray
    labels: list[str]
    coverages: list[Coverage]


class CoverageResolver:
    """Resolve the labels of one column into coverages (see the module docstring)."""

    def __init__(self, column: str, domain: Domain) -> None:
        if not isinstance(domain, (NumericDomain, DateDomain, CategoricalDomain)):
            raise ValueError(f"column {column!r}: domain must be a NumericDomain, DateDomain or "
                             f"CategoricalDomain, got {type(domain).__name__}")
        self.column = column
        self.domain = domain
        self._cache: dict[str, Coverage] = {}
        self._nodes = _hierarchy_nodes(domain.hierarchy) if isinstance(domain, CategoricalDomain) else {}

    def resolve(self, label: object) -> Coverage:
        """Return the coverage of one label; raise ``ValueError`` for labels it cannot read."""
        text = _label_text(label)
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._parse(text)
        return found

    def resolve_column(self, values: pd.Series | Iterable[object]) -> ResolvedColumn:
        """Resolve every distinct value of a released column once."""
        codes, uniques = pd.factorize(pd.Series(values) if not isinstance(values, pd.Series) else values,
                                      use_na_sentinel=False)
        labels = [_label_text(u) for u in uniques]
        return ResolvedColumn(codes.astype(np.int64), labels, [self.resolve(text) for text in labels])

    def _unknown(self, label: str) -> ValueError:
        return ValueError(f"column {self.column!r}: unknown label {label!r}")

    def _parse(self, label: str) -> Coverage:
        if label == "*":
            return self.domain.coverage
        if isinstance(self.domain, NumericDomain):
            found = _parse_number(label)
        elif isinstance(self.domain, DateDomain):
            found = _parse_date(label)
        else:
            found = self._parse_category(label)
        if found is None:
            raise self._unknown(label)
        return found

    def _parse_category(self, label: str) -> ValueSet | None:
        if label in self._nodes:
            return self._nodes[label]
        assert isinstance(self.domain, CategoricalDomain)
        if label in self.domain.values:
            return ValueSet(frozenset([label]))
        prefix = label.rstrip("*")
        if prefix != label:
            matched = frozenset(v for v in self.domain.values if len(v) == len(label) and v.startswith(prefix))
            return ValueSet(matched) if matched else None
        return None


def _label_text(label: object) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, (pd.Timestamp, dt.datetime, np.datetime64)):
        return pd.Timestamp(label).strftime("%Y-%m-%d")
    if isinstance(label, dt.date):
        return label.isoformat()
    if isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool):
        return format_number(float(label)) if math.isfinite(float(label)) else str(label)
    return str(label)


def _hierarchy_nodes(hierarchy: Hierarchy | None) -> dict[str, ValueSet]:
    """Return label -> the leaves under it, over every level of ``hierarchy``."""
    if hierarchy is None:
        return {}
    leaves: dict[str, set[str]] = {}
    for row in hierarchy.rows:
        for label in row:
            leaves.setdefault(label, set()).add(row[0])
    return {label: ValueSet(frozenset(values)) for label, values in leaves.items()}


def _parse_number(label: str) -> Interval | None:
    found = _BRACKET.match(label)
    try:
        if found:
            return Interval(float(found[1]), float(found[2]), found[3] == "]")
        found = _INT_RANGE.match(label)
        if found:
            return Interval(float(found[1]), float(found[2]) + 1)
        value = float(label)
    except ValueError:
        return None
    return Interval(value, value, True) if math.isfinite(value) else None


def _parse_date(label: str) -> DayRange | None:
    try:
        return _parse_date_forms(label)
    except ValueError:
        return None


def _parse_date_forms(label: str) -> DayRange | None:
    if found := _DAY_RANGE.match(label):
        return DayRange(day_number(found[1]), day_number(found[2]))
    if _DAY.match(label):
        return DayRange(day_number(label), day_number(label))
    if found := _MONTH.match(label):
        return _months(int(found[1]), int(found[2]), 1)
    if found := _QUARTER.match(label):
        return _months(int(found[1]), 3 * int(found[2]) - 2, 3)
    if found := _YEAR.match(label):
        return _months(int(found[1]), 1, 12)
    if found := _YEARS.match(label):
        first, last = int(found[1]), int(found[2])
        return DayRange(day_number(dt.date(first, 1, 1)), day_number(dt.date(last, 12, 31))) if first <= last else None
    return None


def _months(year: int, month: int, count: int) -> DayRange:
    start = dt.date(year, month, 1)
    end_month = month - 1 + count
    after = dt.date(year + end_month // 12, end_month % 12 + 1, 1)
    return DayRange(day_number(start), day_number(after) - 1)
