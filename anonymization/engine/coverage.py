"""The published-label grammar: which raw values a released label covers (its *coverage*).

One parser serves the whole engine: Mondrian and the utility workload resolve labels against a
column's public domain (:class:`CoverageResolver`), the attacks read them without one
(:func:`parse_label`, :func:`label_covers`, :func:`covers`, :class:`ColumnLabels`).

Grammar, by column kind (:data:`KINDS`; a domain's kind is ``numeric``, ``date`` or ``category``):

* every kind: ``*`` is :class:`Anything` (against a domain: the whole domain);
* ``numeric``: an :class:`Interval` ``[a, b)``, ``[a, b]``, ``(a, b]`` or ``(a, b)``; the legacy
  integer bin ``20-24`` is ``[20, 25)`` (the whole numbers 20..24); a number ``34`` or ``-12.5``
  (a raw value, or a width-1 whole-number band) is the point ``[34, 34]``;
* ``date``: a :class:`DayRange` (both ends included): the day ``2026-03-14``, the month
  ``2026-03``, quarter ``2026-Q1``, year ``2026``, years ``2020-2029`` (a decade) or the day range
  ``2026-03-01..2026-03-14``;
* ``code``, ``category``, ``card``: a key of ``mapping`` (hierarchy node, card network) is the
  :class:`ValueSet` of its members; a right mask ``12**`` is the :class:`Prefix` ``12`` (values
  starting with ``12``, whatever the number of stars, so ``Hierarchy.prefixes``' ``10*`` reads
  too); any other text without ``*`` is the :class:`ValueSet` of that value.

A ``card`` mask must keep digits (``4123**``); a ``*`` anywhere but at the right end is refused.
Against a :class:`CategoricalDomain`, a prefix or value set becomes the domain values it covers
(``column 'c': label '9***' covers no value of the domain`` when there are none). Anything else
raises ``ValueError``: ``column 'c': cannot read 'x' as a numeric label``.

Days are numbered from 1970-01-01 (:func:`day_number`), the numbering of ``datetime64[D]``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from .hierarchy import Hierarchy

__all__ = [
    "KINDS", "Anything", "Interval", "DayRange", "Prefix", "ValueSet", "Coverage",
    "NumericDomain", "DateDomain", "CategoricalDomain", "Domain",
    "check_kind", "parse_label", "label_covers", "covers", "ColumnLabels", "CoverageResolver", "ResolvedColumn",
    "LabelMapping", "hierarchy_leaves", "day_number", "day_numbers", "day_date", "format_number", "format_day_range",
]

KINDS = ("numeric", "date", "code", "card", "category")
ANY = "*"
EPOCH = dt.date(1970, 1, 1)

#: A generalized label -> the raw values it stands for (hierarchy nodes, card networks).
LabelMapping = Mapping[str, Collection[str]]


# -- days and numbers -----------------------------------------------------------------------------


def day_number(day: object) -> int:
    """Return the days from 1970-01-01 to ``day`` (a date, a timestamp, or text starting ``YYYY-MM-DD``)."""
    if isinstance(day, np.datetime64):
        day = pd.Timestamp(day)
    if isinstance(day, dt.datetime):
        day = day.date()
    if not isinstance(day, dt.date):
        day = dt.date.fromisoformat(str(day)[:10])
    return (day - EPOCH).days


def day_numbers(values: Sequence[object]) -> np.ndarray:
    """Return :func:`day_number` of many ``YYYY-MM-DD`` days at once."""
    days = pd.to_datetime(pd.Series(values).astype(str).str.slice(0, 10), format="%Y-%m-%d")
    return days.to_numpy().astype("datetime64[D]").astype(np.int64)


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
class Anything:
    """``*`` read without a domain: covers every value."""

    def contains(self, value: object) -> bool:
        return True


@dataclass(frozen=True)
class Interval:
    """Raw numbers ``low <= x < high``; ``x <= high`` when ``closed``, ``low < x`` when ``left_open``.

    A point is ``Interval(v, v, closed=True)``.
    """

    low: float
    high: float
    closed: bool = False
    left_open: bool = False

    def __post_init__(self) -> None:
        if not (self.low < self.high or (self.low == self.high and self.closed and not self.left_open)):
            raise ValueError(f"empty interval {'(' if self.left_open else '['}{self.low}, {self.high}"
                             f"{']' if self.closed else ')'}")

    @property
    def length(self) -> float:
        return self.high - self.low

    @property
    def is_point(self) -> bool:
        return self.low == self.high

    def contains(self, value: float) -> bool:
        above = self.low < value if self.left_open else self.low <= value
        return above and (value <= self.high if self.closed else value < self.high)


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
class Prefix:
    """A right mask read without a domain: the strings starting with ``prefix``."""

    prefix: str

    def contains(self, value: str) -> bool:
        return value.startswith(self.prefix)


@dataclass(frozen=True)
class ValueSet:
    """A set of raw (leaf) values, compared as strings."""

    values: frozenset[str]

    def contains(self, value: str) -> bool:
        return value in self.values


Coverage = Anything | Interval | DayRange | Prefix | ValueSet


# -- the parser -----------------------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BRACKETS = re.compile(rf"^([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])$")
_BIN = re.compile(r"^(-?\d+)-(-?\d+)$")
_PLAIN = re.compile(rf"^{_NUMBER}$")
_DAY_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_YEARS = re.compile(r"^(\d{4})-(\d{4})$")
_MASK = re.compile(r"^([^*]*)\*+$")


def _unreadable(column: str, kind: str, label: str) -> ValueError:
    return ValueError(f"column {column!r}: cannot read {label!r} as a {kind} label")


def check_kind(column: str, kind: str) -> None:
    """Raise ``ValueError`` naming the column unless ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"column {column!r}: unknown column kind {kind!r}; use {', '.join(KINDS)}")


def parse_label(kind: str, label: str, *, column: str = "", mapping: LabelMapping | None = None) -> Coverage:
    """Return the coverage of one published ``label`` of a ``kind`` column (grammar: module docstring).

    ``mapping`` maps a generalized label (hierarchy node, card network) to its raw members; it is
    read for the string kinds only. Raise ``ValueError`` naming the column for unreadable labels.
    """
    check_kind(column, kind)
    if not isinstance(label, str):
        raise ValueError(f"column {column!r}: label {label!r} is not text")
    if label == ANY:
        return Anything()
    try:
        found = _parse_known_kind(kind, label, mapping)
    except ValueError:  # an impossible date or an empty interval: the label says nothing readable
        found = None
    if found is None:
        raise _unreadable(column, kind, label)
    return found


def _parse_known_kind(kind: str, label: str, mapping: LabelMapping | None) -> Coverage | None:
    if kind == "numeric":
        return _parse_number(label.strip())
    if kind == "date":
        return _parse_date(label.strip())
    return _parse_string(kind, label, mapping)


def _parse_number(label: str) -> Interval | None:
    if found := _BRACKETS.match(label):
        opening, low, high, closing = found.groups()
        return Interval(float(low), float(high), closed=closing == "]", left_open=opening == "(")
    if found := _BIN.match(label):
        return Interval(float(found[1]), float(found[2]) + 1)
    if _PLAIN.match(label):
        return Interval(float(label), float(label), closed=True)
    return None


def _parse_date(label: str) -> DayRange | None:
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
        return DayRange(day_number(dt.date(int(found[1]), 1, 1)), day_number(dt.date(int(found[2]), 12, 31)))
    return None


def _months(year: int, month: int, count: int) -> DayRange:
    start = dt.date(year, month, 1)
    end_month = month - 1 + count
    after = dt.date(year + end_month // 12, end_month % 12 + 1, 1)
    return DayRange(day_number(start), day_number(after) - 1)


def _parse_string(kind: str, label: str, mapping: LabelMapping | None) -> Prefix | ValueSet | None:
    if mapping is not None and label in mapping:
        return ValueSet(frozenset(str(member) for member in mapping[label]))
    if found := _MASK.match(label):
        if kind == "card" and found[1] and not found[1].isdigit():
            return None
        return Prefix(found[1])
    if "*" in label:
        return None
    return ValueSet(frozenset([label]))


# -- does a label cover a raw value ---------------------------------------------------------------


def _raw(kind: str, value: object) -> float | int | str:
    """Return a raw value as its coverage compares it: a float, a day number or text."""
    if kind == "numeric":
        return float(value)  # type: ignore[arg-type]
    if kind == "date":
        return day_number(value)
    return str(value)


def label_covers(kind: str, label: str, value: object, *, column: str = "", mapping: LabelMapping | None = None
                 ) -> bool:
    """Return whether a published ``label`` of a ``kind`` column covers the raw ``value``."""
    coverage = parse_label(kind, label, column=column, mapping=mapping)
    return coverage.contains(_raw(kind, value))  # type: ignore[arg-type]


class ColumnLabels:
    """A column's distinct labels, parsed once into arrays for vectorized coverage and intersection.

    Numeric and date labels become half-open bounds ``low <= x < high`` (a closed end is stored as
    the next float, a day range as ``first, last + 1``; ``*`` as ``-inf, inf``). String labels
    become an exact value, a prefix or a member set; ``specificity`` orders nested string labels:
    single value > longer prefix > shorter prefix > fewer members > more members > ``*``.
    """

    def __init__(self, column: str, kind: str, labels: Sequence[str], mapping: LabelMapping | None = None) -> None:
        self.column, self.kind = column, kind
        self.labels = list(labels)
        self.coverages = [parse_label(kind, label, column=column, mapping=mapping) for label in self.labels]
        self.is_any = np.array([isinstance(c, Anything) for c in self.coverages], dtype=bool)
        if kind in ("numeric", "date"):
            self._bounds()
        else:
            self._strings()

    def _bounds(self) -> None:
        low, high = np.full(len(self.coverages), -np.inf), np.full(len(self.coverages), np.inf)
        for i, coverage in enumerate(self.coverages):
            if isinstance(coverage, Interval):
                low[i] = math.nextafter(coverage.low, math.inf) if coverage.left_open else coverage.low
                high[i] = math.nextafter(coverage.high, math.inf) if coverage.closed else coverage.high
            elif isinstance(coverage, DayRange):
                low[i], high[i] = coverage.first, coverage.last + 1
        self.low, self.high = low, high
        self.is_point = np.array([isinstance(c, Interval) and c.is_point for c in self.coverages], dtype=bool)

    def _strings(self) -> None:
        single = [isinstance(c, ValueSet) and len(c.values) == 1 for c in self.coverages]
        self.value = np.array([next(iter(c.values)) if one and isinstance(c, ValueSet) else ""
                               for c, one in zip(self.coverages, single, strict=True)], dtype=object)
        self.is_value = np.array(single, dtype=bool)
        self.prefix = np.array([c.prefix if isinstance(c, Prefix) else "" for c in self.coverages], dtype=object)
        self.is_prefix = np.array([isinstance(c, Prefix) for c in self.coverages], dtype=bool)
        self.members = {i: c.values for i, c in enumerate(self.coverages)
                        if isinstance(c, ValueSet) and not single[i]}
        score = np.zeros(len(self.coverages))
        for i, coverage in enumerate(self.coverages):
            if isinstance(coverage, Prefix):
                score[i] = 2 + len(coverage.prefix)
            elif isinstance(coverage, ValueSet):
                score[i] = 1e6 if single[i] else 1 + 1 / (1 + len(coverage.values))
        self.specificity = score

    def covers(self, value: object) -> np.ndarray:
        """Return, per distinct label, whether it covers the raw ``value``."""
        raw = _raw(self.kind, value)
        if not isinstance(raw, str):
            return (self.low <= raw) & (raw < self.high)
        out = self.is_any | (self.is_value & (self.value == raw))
        for length in {len(p) for p in self.prefix[self.is_prefix]}:
            out |= self.is_prefix & (self.prefix == raw[:length]) & (len(raw) >= length)
        for i, members in self.members.items():
            out[i] = raw in members
        return out

    def overlaps(self, low: float, high: float) -> np.ndarray:
        """Return, per distinct numeric label, whether it meets the closed range ``[low, high]``."""
        if self.kind != "numeric":
            raise ValueError(f"column {self.column!r}: overlap needs a numeric column, not {self.kind}")
        return (self.low <= high) & (low < self.high)


def covers(kind: str, labels: Sequence[str] | np.ndarray, values: Sequence[object] | np.ndarray, *,
           column: str = "", mapping: LabelMapping | None = None) -> np.ndarray:
    """Return :func:`label_covers` row by row for aligned ``labels`` and ``values`` (each label parsed once)."""
    labels_arr, values_arr = np.asarray(labels, dtype=object), np.asarray(values, dtype=object)
    if labels_arr.shape != values_arr.shape:
        raise ValueError(f"column {column!r}: {len(labels_arr)} labels but {len(values_arr)} values")
    distinct, codes = np.unique(labels_arr.astype(str), return_inverse=True)
    parsed = ColumnLabels(column, kind, list(distinct), mapping)
    out = np.zeros(len(labels_arr), dtype=bool)
    for value in dict.fromkeys(values_arr.tolist()):
        rows = values_arr == value
        out[rows] = parsed.covers(value)[codes[rows]]
    return out


# -- public domains -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericDomain:
    """Public range of an ordered number: ``[low, high)``, or ``[low, high]`` when ``closed``."""

    kind: ClassVar[str] = "numeric"
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

    kind: ClassVar[str] = "date"
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

    kind: ClassVar[str] = "category"
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


def hierarchy_leaves(hierarchy: Hierarchy) -> dict[str, frozenset[str]]:
    """Return every label of ``hierarchy`` (all levels) -> the leaves under it."""
    leaves: dict[str, set[str]] = {}
    for row in hierarchy.rows:
        for label in row:
            leaves.setdefault(label, set()).add(row[0])
    return {label: frozenset(values) for label, values in leaves.items()}


# -- resolving against a domain -------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedColumn:
    """A released column as codes into its distinct labels and their coverages.

    ``labels[codes[i]]`` is row ``i``'s label and ``coverages[codes[i]]`` what it covers.
    """

    codes: np.ndarray
    labels: list[str]
    coverages: list[Interval | DayRange | ValueSet]


class CoverageResolver:
    """Resolve the labels of one column against its public domain.

    :func:`parse_label` with the domain's kind (and its hierarchy's nodes as the mapping), then:
    ``*`` is the whole domain, and a categorical prefix or value set is the domain values it
    covers, at least one. Numbers and dates keep their parsed coverage.
    """

    def __init__(self, column: str, domain: Domain) -> None:
        if not isinstance(domain, (NumericDomain, DateDomain, CategoricalDomain)):
            raise ValueError(f"column {column!r}: domain must be a NumericDomain, DateDomain or "
                             f"CategoricalDomain, got {type(domain).__name__}")
        self.column = column
        self.domain = domain
        self._cache: dict[str, Interval | DayRange | ValueSet] = {}
        hierarchy = domain.hierarchy if isinstance(domain, CategoricalDomain) else None
        self._nodes = hierarchy_leaves(hierarchy) if hierarchy is not None else None
        self._values = frozenset(domain.values) if isinstance(domain, CategoricalDomain) else frozenset()

    def resolve(self, label: object) -> Interval | DayRange | ValueSet:
        """Return the coverage of one label; raise ``ValueError`` for labels it cannot read."""
        text = _label_text(label)
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._bind(text, parse_label(self.domain.kind, text, column=self.column,
                                                                     mapping=self._nodes))
        return found

    def resolve_column(self, values: pd.Series | Iterable[object]) -> ResolvedColumn:
        """Resolve every distinct value of a released column once."""
        codes, uniques = pd.factorize(values if isinstance(values, pd.Series) else pd.Series(values),
                                      use_na_sentinel=False)
        labels = [_label_text(u) for u in uniques]
        return ResolvedColumn(codes.astype(np.int64), labels, [self.resolve(text) for text in labels])

    def _bind(self, label: str, found: Coverage) -> Interval | DayRange | ValueSet:
        if isinstance(found, Anything):
            return self.domain.coverage
        if isinstance(found, (Interval, DayRange)):
            return found
        assert isinstance(self.domain, CategoricalDomain)  # string coverages come from the category kind
        if isinstance(found, ValueSet):
            matched = found.values & self._values
        else:
            matched = frozenset(v for v in self.domain.values if found.contains(v))
        if not matched:
            raise ValueError(f"column {self.column!r}: label {label!r} covers no value of the domain")
        return ValueSet(matched)


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
