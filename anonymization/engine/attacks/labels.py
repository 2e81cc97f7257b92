"""The label grammar of published files: which raw values a published cell covers.

Self-contained on purpose (the utility estimates carry a similar parser; the two are to be merged).
A published cell is a raw value or a generalized label; what it means depends on the column kind:

* every kind: ``*`` covers everything;
* ``numeric``: a number ``-12.5`` (that value only), an interval ``[20, 25)``, ``[a, b]``, ``(a, b]``,
  ``(a, b)``, or the engine's integer bin ``20-24`` (both ends included; ``-50--41`` for negatives);
* ``date``: a day ``2026-03-14``, month ``2026-03``, quarter ``2026-Q1``, year ``2026``, a span of
  years ``2020-2029`` (the engine's decade) or a day range ``2026-03-01..2026-03-14`` (both ends in);
* ``code`` (postal codes): the code itself, or a right mask ``12**`` covering every value that
  starts with ``12`` (whatever the number of stars, so the app's ``81*`` prefix labels read too);
* ``card`` (BINs): as ``code``, and any other word (a card network, ``none``) is a category label;
* ``category``: the value itself, or, when a mapping ``{generalized label: members}`` is given, a
  generalized label covers exactly its members.

Anything else raises ``ValueError`` naming the column and the label. Internally each label becomes
one of five shapes (:class:`Anything`, :class:`Interval`, :class:`DayRange`, :class:`Prefix`,
:class:`Members`), and :class:`ColumnLabels` holds a column's distinct labels as numpy arrays so
that coverage is computed once per distinct label, never per row.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "KINDS", "Anything", "Interval", "DayRange", "Prefix", "Members", "Label", "ColumnLabels",
    "parse_label", "label_covers", "covers", "day_number", "day_numbers",
]

KINDS = ("numeric", "date", "code", "card", "category")
ANY = "*"
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_BRACKETS = re.compile(rf"^([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])$")
_BIN = re.compile(rf"^({_NUMBER})-({_NUMBER})$")
_PLAIN = re.compile(rf"^{_NUMBER}$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_YEARS = re.compile(r"^(\d{4})-(\d{4})$")
_MASK = re.compile(r"^([^*]*)(\*+)$")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Anything:
    """``*``: covers every value."""


@dataclass(frozen=True)
class Interval:
    """Numbers ``low <= x < high`` (closed ends are stored as the next float, so one rule fits all)."""

    low: float
    high: float

    @property
    def is_point(self) -> bool:
        return self.high == math.nextafter(self.low, math.inf)


@dataclass(frozen=True)
class DayRange:
    """Days ``first <= d <= last``, as proleptic Gregorian ordinals (``date.toordinal()``)."""

    first: int
    last: int


@dataclass(frozen=True)
class Prefix:
    """Strings starting with ``prefix``; ``exact`` means the string is ``prefix`` itself."""

    prefix: str
    exact: bool


@dataclass(frozen=True)
class Members:
    """A category label: covers exactly ``members`` (itself unless a mapping says otherwise)."""

    members: frozenset[str]


Label = Anything | Interval | DayRange | Prefix | Members


def _fail(column: str, kind: str, label: str) -> ValueError:
    return ValueError(f"column {column!r}: cannot read {label!r} as a {kind} label")


def _up(value: float) -> float:
    return math.nextafter(value, math.inf)


def _numeric(column: str, label: str) -> Interval:
    text = label.strip()
    if match := _BRACKETS.match(text):
        opening, low, high, closing = match.groups()
        low_f, high_f = float(low), float(high)
        interval = Interval(low_f if opening == "[" else _up(low_f), _up(high_f) if closing == "]" else high_f)
    elif match := _BIN.match(text):
        interval = Interval(float(match.group(1)), _up(float(match.group(2))))
    elif _PLAIN.match(text):
        interval = Interval(float(text), _up(float(text)))
    else:
        raise _fail(column, "numeric", label)
    if not interval.low < interval.high:
        raise _fail(column, "numeric", label)
    return interval


def _ordinal(column: str, label: str, year: int, month: int, day: int) -> int:
    try:
        return datetime.date(year, month, day).toordinal()
    except ValueError:
        raise _fail(column, "date", label) from None


def _month_end(year: int, month: int) -> tuple[int, int, int]:
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    last = following - datetime.timedelta(days=1)
    return last.year, last.month, last.day


def _day_range(column: str, label: str) -> DayRange:
    text = label.strip()
    if ".." in text:
        first, _, last = text.partition("..")
        start, end = _day_range(column, first), _day_range(column, last)
        if not (_DAY.match(first.strip()) and _DAY.match(last.strip())) or start.first > end.last:
            raise _fail(column, "date", label)
        return DayRange(start.first, end.last)
    if match := _DAY.match(text):
        y, m, d = (int(g) for g in match.groups())
        day = _ordinal(column, label, y, m, d)
        return DayRange(day, day)
    if match := _MONTH.match(text):
        y, m = int(match.group(1)), int(match.group(2))
        if not 1 <= m <= 12:
            raise _fail(column, "date", label)
        return DayRange(_ordinal(column, label, y, m, 1), _ordinal(column, label, *_month_end(y, m)))
    if match := _QUARTER.match(text):
        y, q = int(match.group(1)), int(match.group(2))
        return DayRange(_ordinal(column, label, y, 3 * q - 2, 1), _ordinal(column, label, *_month_end(y, 3 * q)))
    if match := _YEAR.match(text):
        y = int(match.group(1))
        return DayRange(_ordinal(column, label, y, 1, 1), _ordinal(column, label, y, 12, 31))
    if (match := _YEARS.match(text)) and int(match.group(1)) <= int(match.group(2)):
        return DayRange(_ordinal(column, label, int(match.group(1)), 1, 1),
                        _ordinal(column, label, int(match.group(2)), 12, 31))
    raise _fail(column, "date", label)


def _masked(column: str, kind: str, label: str, mapping: Mapping[str, Collection[str]] | None) -> Label:
    if match := _MASK.match(label):
        if "*" in match.group(1) or (kind == "card" and match.group(1) and not _DIGITS.match(match.group(1))):
            raise _fail(column, kind, label)
        return Prefix(match.group(1), exact=False)
    if "*" in label:
        raise _fail(column, kind, label)
    if kind == "card" and not _DIGITS.match(label):
        return _category(label, mapping)
    return Prefix(label, exact=True)


def _category(label: str, mapping: Mapping[str, Collection[str]] | None) -> Members:
    if mapping is not None and label in mapping:
        return Members(frozenset(str(m) for m in mapping[label]))
    return Members(frozenset({label}))


def parse_label(kind: str, label: str, *, column: str = "", mapping: Mapping[str, Collection[str]] | None = None
                ) -> Label:
    """Return the shape of one published label of a ``kind`` column; raise ValueError if unreadable."""
    if kind not in KINDS:
        raise ValueError(f"column {column!r}: unknown column kind {kind!r}; use {', '.join(KINDS)}")
    if not isinstance(label, str):
        raise ValueError(f"column {column!r}: label {label!r} is not text")
    if label == ANY:
        return Anything()
    if kind == "numeric":
        return _numeric(column, label)
    if kind == "date":
        return _day_range(column, label)
    if kind in ("code", "card"):
        return _masked(column, kind, label, mapping)
    return _category(label, mapping)


def day_number(value: object) -> int:
    """Return the ordinal of a day given as ``YYYY-MM-DD`` text, a date or a timestamp."""
    if isinstance(value, datetime.datetime):
        return value.date().toordinal()
    if isinstance(value, datetime.date):
        return value.toordinal()
    return datetime.date.fromisoformat(str(value)[:10]).toordinal()


def day_numbers(values: Sequence[object]) -> np.ndarray:
    """Return :func:`day_number` of many days at once."""
    days = pd.to_datetime(pd.Series(values).astype(str).str.slice(0, 10), format="%Y-%m-%d")
    return days.to_numpy().astype("datetime64[D]").astype(np.int64) + _EPOCH


_EPOCH = datetime.date(1970, 1, 1).toordinal()


def _covers_one(shape: Label, value: object) -> bool:
    if isinstance(shape, Anything):
        return True
    if isinstance(shape, Interval):
        return shape.low <= float(value) < shape.high  # type: ignore[arg-type]
    if isinstance(shape, DayRange):
        return shape.first <= day_number(value) <= shape.last
    text = str(value)
    if isinstance(shape, Prefix):
        return text == shape.prefix if shape.exact else text.startswith(shape.prefix)
    return text in shape.members


def label_covers(column_kind: str, label: str, value: object, *, column: str = "",
                 mapping: Mapping[str, Collection[str]] | None = None) -> bool:
    """Return whether a published ``label`` of a ``column_kind`` column covers the raw ``value``."""
    return _covers_one(parse_label(column_kind, label, column=column, mapping=mapping), value)


class ColumnLabels:
    """A column's distinct labels, parsed once into arrays for vectorized coverage and intersection.

    Numeric and date labels become ``low``/``high`` bounds (days: ``high`` is the last day plus one),
    the others a prefix, an exact flag and member sets. ``specificity`` orders nested string labels:
    exact value > longer prefix > shorter prefix > fewer members > more members > ``*``.
    """

    def __init__(self, column: str, kind: str, labels: Sequence[str],
                 mapping: Mapping[str, Collection[str]] | None = None) -> None:
        self.column, self.kind = column, kind
        self.labels = list(labels)
        self.shapes = [parse_label(kind, label, column=column, mapping=mapping) for label in self.labels]
        self.is_any = np.array([isinstance(s, Anything) for s in self.shapes], dtype=bool)
        if kind in ("numeric", "date"):
            self._bounds()
        else:
            self._strings()

    def _bounds(self) -> None:
        low, high = np.full(len(self.shapes), -np.inf), np.full(len(self.shapes), np.inf)
        for i, shape in enumerate(self.shapes):
            if isinstance(shape, Interval):
                low[i], high[i] = shape.low, shape.high
            elif isinstance(shape, DayRange):
                low[i], high[i] = shape.first, shape.last + 1
        self.low, self.high = low, high
        self.is_point = np.array([isinstance(s, Interval) and s.is_point for s in self.shapes], dtype=bool)

    def _strings(self) -> None:
        self.prefix = np.array([s.prefix if isinstance(s, Prefix) else "" for s in self.shapes], dtype=object)
        self.exact = np.array([isinstance(s, Prefix) and s.exact for s in self.shapes], dtype=bool)
        self.is_prefix = np.array([isinstance(s, Prefix) and not s.exact for s in self.shapes], dtype=bool)
        self.members = {i: s.members for i, s in enumerate(self.shapes) if isinstance(s, Members)}
        score = np.zeros(len(self.shapes))
        for i, shape in enumerate(self.shapes):
            if isinstance(shape, Prefix):
                score[i] = 1e6 if shape.exact else 2 + len(shape.prefix)
            elif isinstance(shape, Members):
                score[i] = 1 + 1 / (1 + len(shape.members))
        self.specificity = score

    def covers(self, value: object) -> np.ndarray:
        """Return, per distinct label, whether it covers the raw ``value``."""
        if self.kind == "numeric":
            x = float(value)  # type: ignore[arg-type]
            return (self.low <= x) & (x < self.high)
        if self.kind == "date":
            day = day_number(value)
            return (self.low <= day) & (day < self.high)
        text = str(value)
        out = self.is_any | (self.exact & (self.prefix == text))
        for length in {len(p) for p in self.prefix[self.is_prefix]}:
            out |= self.is_prefix & (self.prefix == text[:length]) & (len(text) >= length)
        for i, members in self.members.items():
            out[i] = text in members
        return out

    def overlaps(self, low: float, high: float) -> np.ndarray:
        """Return, per distinct numeric label, whether it meets the closed range ``[low, high]``."""
        if self.kind != "numeric":
            raise ValueError(f"column {self.column!r}: overlap needs a numeric column, not {self.kind}")
        return (self.low <= high) & (low < self.high)


def covers(column_kind: str, labels: Sequence[str] | np.ndarray, values: Sequence[object] | np.ndarray, *,
           column: str = "", mapping: Mapping[str, Collection[str]] | None = None) -> np.ndarray:
    """Return ``label_covers`` row by row for aligned ``labels`` and ``values`` (parsing each label once)."""
    labels_arr, values_arr = np.asarray(labels, dtype=object), np.asarray(values, dtype=object)
    if labels_arr.shape != values_arr.shape:
        raise ValueError(f"column {column!r}: {len(labels_arr)} labels but {len(values_arr)} values")
    distinct, codes = np.unique(labels_arr.astype(str), return_inverse=True)
    parsed = ColumnLabels(column, column_kind, list(distinct), mapping)
    out = np.zeros(len(labels_arr), dtype=bool)
    for value in dict.fromkeys(values_arr.tolist()):
        rows = values_arr == value
        out[rows] = parsed.covers(value)[codes[rows]]
    return out
