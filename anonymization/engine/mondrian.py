"""Mondrian multidimensional local recoding with k counted over distinct individuals.

After LeFevre, DeWitt and Ramakrishnan, *Mondrian Multidimensional K-Anonymity* (ICDE 2006);
our own implementation.

Rule. Start with one partition holding every row, each quasi-identifier at its whole public
domain (ordered) or at its hierarchy's top node (categorical). Repeatedly, for every partition:

* rank the quasi-identifiers by normalized span times their ``weight`` (default 1), widest
  first (ties: the order given):
  ordered ``(label high - label low) / (domain high - domain low)`` (the width the partition's
  label would publish; on the ledger this beats the observed ``max - min``, which leaves skewed
  amounts at the whole domain: workload error 0.21 vs 4.7 at 200 customers), categorical
  ``leaves under the partition's node / all leaves``; an attribute whose values in the partition
  are all equal (or a categorical leaf) has no cut; the label's width is the one it would
  publish, after pulling in to round bounds (see "Labels"), over the width of the label a class
  holding every row would publish;
* split on the first one that has an *allowed cut*:

  - ordered: a cut ``c`` between two neighbouring distinct values ``v0 < v1`` of the partition
    (``v0 < c <= v1``; the midpoint, or a point of the ``grain``'s grid near it: its multiples, or the
    odd multiples of half of it with ``between_grains``) such that the rows
    ``< c`` and the rows ``>= c`` each hold at least ``k`` distinct individuals; among allowed
    cuts the one nearest the partition's row median;
  - categorical: replace the node by its children; allowed when every child that holds rows
    holds at least ``k`` distinct individuals (strict rule: no merging of small children). A
    node whose rows all fall under one child is refined to that child (same rows, finer label).

* a partition with no allowed cut becomes an equivalence class.

Invariants: every class holds at least ``k`` distinct individuals (an individual's rows may lie in
several classes); each label covers every raw value of its rows; ordered label bounds are cut
points, domain bounds or public round bounds, never a partition's observed minimum or maximum; the same input gives
the same output (no randomness).

Labels: numbers ``[a, b)`` (``[a, b]`` when the domain is closed and ``b`` is its top); a number
with ``round_bounds`` has each class's bounds pulled in to the round numbers nearest its rows
when one lies inside the label: ``a`` = the largest round bound <= the class's lowest value
(kept when that is below ``a``), ``b`` = the smallest round bound > its highest value (kept when
that is above ``b``). An outer class then reads ``[-500, -100)``, not ``[-5000, -90)``; a label
still covers every value of its rows and is made of cut points, domain bounds or public round
numbers, so it tells the order of magnitude of a class's extreme values, never a value itself or
who holds it (labels of neighbouring classes may leave a gap). Dates get the
day range ``2026-03-01..2026-03-14`` or its calendar name (``2026-03-15``, ``2026-03``,
``2026-Q1``, ``2026``), categories the hierarchy node's value. See :mod:`.coverage`.

All partitions of one round are processed together on numpy code arrays (one sort per
attribute tried), so the cost is about ``rounds x n log n``. With ``groups``, whole groups are
partitioned in batches of about BATCH_ROWS rows, one batch after the other: a group never shares
a class with another and the spans are normalized by the whole table's widths, so batching changes
nothing but the numbering of the classes, and a round's working memory stays proportional to a
batch rather than to the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .coverage import (
    Coverage,
    DateDomain,
    DayRange,
    Interval,
    NumericDomain,
    ValueSet,
    day_number,
    format_day_range,
    format_number,
    hierarchy_leaves,
)
from .hierarchy import Hierarchy

__all__ = ["NumericQI", "DateQI", "HierarchyQI", "MondrianResult", "MondrianClassStatistics", "mondrian",
           "round_ladder"]

DATE_GRAINS = ("day", "month", "quarter", "year")
# Groups are partitioned in batches of about this many rows (whole groups; see the module docstring).
BATCH_ROWS = 250_000


@dataclass(frozen=True)
class NumericQI:
    """An ordered number with public domain ``[low, high)`` (``[low, high]`` when ``closed``).

    ``grain``: cut points are multiples of it (``1`` whole euros, ``5`` years); ``None`` cuts at
    the midpoint between neighbouring values. ``between_grains``: cut points are the odd multiples
    of half the grain instead (``grain x (n + 1/2)``: 95, 105, 115 for a grain of 10), so a value on
    a multiple of the grain (a round amount) sits in the middle of its band, not on its lower
    bound: a band of 50-EUR withdrawals reads ``[-55, -45)``, whose midpoint is their value, where
    ``[-50, -40)`` would shift every uniform estimate of it by 5 EUR towards zero. ``round_bounds``:
    public round numbers (see :func:`round_ladder`) a class's outer label bound is pulled in to
    (module rule "Labels").
    """

    low: float
    high: float
    closed: bool = False
    grain: float | None = None
    round_bounds: tuple[float, ...] = ()
    between_grains: bool = False

    def __post_init__(self) -> None:
        NumericDomain(self.low, self.high, self.closed)
        if self.grain is not None and not (math.isfinite(self.grain) and self.grain > 0):
            raise ValueError(f"grain must be a positive number, got {self.grain}")
        if self.between_grains and self.grain is None:
            raise ValueError("between_grains needs a grain")
        if any(not (math.isfinite(b) and self.low <= b <= self.high) for b in self.round_bounds):
            raise ValueError(f"round bounds must lie in the domain [{self.low}, {self.high}], "
                             f"got {list(self.round_bounds)}")

    @property
    def domain(self) -> NumericDomain:
        return NumericDomain(self.low, self.high, self.closed)


def round_ladder(low: float, high: float, grain: float) -> tuple[float, ...]:
    """Return the public round bounds of a domain: ``0`` and ``±grain x {1, 2, 5} x 10^n`` inside
    ``[low, high]``, plus ``low`` and ``high`` (amounts, grain 10: ... -100, -50, -20, -10, 0,
    10, 20, 50, 100 ...)."""
    if not (math.isfinite(grain) and grain > 0 and low < high):
        raise ValueError(f"a ladder needs grain > 0 and low < high, got grain {grain}, [{low}, {high}]")
    steps: list[float] = []
    scale = grain
    while scale <= max(abs(low), abs(high)):
        steps += [scale, 2 * scale, 5 * scale]
        scale *= 10
    values = {low, high, 0.0, *(v for step in steps for v in (step, -step))}
    return tuple(sorted(float(v) for v in values if low <= v <= high))


@dataclass(frozen=True)
class DateQI:
    """A date with public domain ``first..last`` (inclusive); cuts fall on ``grain`` starts.

    ``round_to`` (month, quarter or year): a class's outer label bounds are pulled in to the
    starts of these calendar periods nearest its rows (module rule "Labels").
    """

    first: str
    last: str
    grain: str = "day"
    round_to: str | None = None

    def __post_init__(self) -> None:
        DateDomain(self.first, self.last)
        if self.grain not in DATE_GRAINS:
            raise ValueError(f"grain must be one of {', '.join(DATE_GRAINS)}, got {self.grain!r}")
        if self.round_to is not None and self.round_to not in DATE_GRAINS[1:]:
            raise ValueError(f"round_to must be one of {', '.join(DATE_GRAINS[1:])}, got {self.round_to!r}")

    @property
    def domain(self) -> DateDomain:
        return DateDomain(self.first, self.last)


@dataclass(frozen=True)
class HierarchyQI:
    """A category generalized along ``hierarchy`` (which must have a single top value)."""

    hierarchy: Hierarchy


QuasiIdentifier = NumericQI | DateQI | HierarchyQI


@dataclass(frozen=True)
class MondrianClassStatistics:
    """Equivalence classes of the release, sized in distinct individuals."""

    count: int
    min_individuals: int
    mean_individuals: float
    max_individuals: int


@dataclass(frozen=True)
class MondrianResult:
    """A Mondrian release.

    ``data``: input columns in input order and the input index, suppressed rows removed,
    quasi-identifiers replaced by their labels (categoricals of strings). ``class_ids[i]`` is the class of
    ``data``'s row ``i``. ``coverage[column][label]`` is what a released label covers.
    """

    data: pd.DataFrame
    class_ids: np.ndarray
    classes: MondrianClassStatistics
    rows_in: int
    suppressed_rows: int
    coverage: dict[str, dict[str, Coverage]] = field(repr=False)

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.suppressed_rows


# -- encoded attributes ---------------------------------------------------------------------------


class _Ordered:
    """An ordered attribute as rank codes into its sorted distinct values (numbers or day numbers)."""

    kind = "ordered"

    def __init__(self, column: str, qi: NumericQI | DateQI, uniques: np.ndarray, codes: np.ndarray) -> None:
        """`uniques`: the sorted distinct values; `codes`: each row's rank in them (see `_ordered_codes`)."""
        self.column, self.qi = column, qi
        self.uniques = uniques
        self.codes = codes.astype(_code_type(len(uniques)), copy=False)
        if isinstance(qi, DateQI):
            self.low, self.high, self.closed = float(day_number(qi.first)), float(day_number(qi.last) + 1), False
            self.ladder = _calendar_ladder(self.low, self.high, qi.round_to) if qi.round_to else None
        else:
            self.low, self.high, self.closed = float(qi.low), float(qi.high), qi.closed
            self.ladder = np.asarray(qi.round_bounds, dtype=np.float64) if qi.round_bounds else None
        self._check_domain()
        self.span = self._root_width()

    def _root_width(self) -> float:
        """Return the width of the label a class holding every row would publish (the span spans are
        normalized by); the domain's width when nothing is pulled in."""
        if self.ladder is None or not len(self.uniques):
            return self.high - self.low
        low, high, _ = self.pulled_in(np.array([0]), np.array([len(self.uniques) - 1]), np.array([self.low]),
                                      np.array([self.high]), np.array([self.closed]))
        return max(float(high[0] - low[0]), 1e-9)

    def pulled_in(self, lowest: np.ndarray, highest: np.ndarray, low: np.ndarray, high: np.ndarray,
                  closed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return labels ``[low, high)`` pulled in to the ladder around the classes' lowest and highest
        value codes (module rule "Labels"); unchanged without a ladder."""
        if self.ladder is None:
            return low, high, closed
        ladder = self.ladder
        low_values, high_values = self.uniques[lowest], self.uniques[highest]
        below = ladder[np.maximum(np.searchsorted(ladder, low_values, side="right") - 1, 0)]
        new_low = np.maximum(low, np.where(below <= low_values, below, low))
        above_index = np.searchsorted(ladder, high_values, side="right")
        above = ladder[np.minimum(above_index, len(ladder) - 1)]
        pulled = (above_index < len(ladder)) & (above < high)
        return new_low, np.where(pulled, above, high), closed & ~pulled

    def _check_domain(self) -> None:
        if not len(self.uniques):
            return
        lowest, highest = self.uniques[0], self.uniques[-1]
        above = highest > self.high or (highest == self.high and not self.closed)
        for bad in ([lowest] if lowest < self.low else []) + ([highest] if above else []):
            raise ValueError(f"column {self.column!r}: value {self._show(bad)} is outside the domain "
                             f"{self._show_domain()}")

    def _show(self, value: float) -> str:
        return format_day_range(int(value), int(value)) if isinstance(self.qi, DateQI) else format_number(value)

    def _show_domain(self) -> str:
        if isinstance(self.qi, DateQI):
            return f"{self.qi.first}..{self.qi.last}"
        return f"[{format_number(self.low)}, {format_number(self.high)}{']' if self.closed else ')'}"

    def cuts(self, v0: np.ndarray, v1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the cut between neighbours ``v0 < v1`` and whether it is valid (``v0 < c <= v1``)."""
        if isinstance(self.qi, DateQI):
            cut = _date_cuts(v0, v1, self.qi.grain)
        else:
            cut = _number_cuts(v0, v1, self.qi.grain, self.qi.between_grains)
        return cut, (cut > v0) & (cut <= v1)

    def label(self, low: float, high: float, closed: bool) -> tuple[str, Coverage]:
        if isinstance(self.qi, DateQI):
            first, last = int(low), int(high) - 1
            return format_day_range(first, last), DayRange(first, last)
        text = f"[{format_number(low)}, {format_number(high)}{']' if closed else ')'}"
        return text, Interval(low, high, closed)


class _Categorical:
    """A categorical attribute as leaf codes of its hierarchy."""

    kind = "categorical"

    def __init__(self, column: str, hierarchy: Hierarchy, values: pd.Series) -> None:
        self.column, self.hierarchy = column, hierarchy
        raw_codes, uniques = pd.factorize(values, use_na_sentinel=False)
        texts = [_text(u) for u in uniques]
        missing = [t for t in texts if t not in hierarchy.leaf_index]
        if missing:
            raise ValueError(f"column {column!r}: value {missing[0]!r} is not in the hierarchy")
        leaf_of_unique = np.fromiter((hierarchy.leaf_index[t] for t in texts), dtype=_code_type(len(hierarchy)),
                                     count=len(texts))
        self.codes = leaf_of_unique[raw_codes]
        self.matrix = hierarchy.codes
        self.top = hierarchy.depth - 1
        self.n_leaves = float(len(hierarchy))
        self.width = max(len(labels) for labels in hierarchy.labels)
        self.under = np.zeros((hierarchy.depth, self.width))
        for level, counts in enumerate(hierarchy.leaf_counts):
            self.under[level, :len(counts)] = counts

        self.leaves = hierarchy_leaves(hierarchy)

    def label(self, level: int, node: int) -> tuple[str, Coverage]:
        text = self.hierarchy.labels[level][node]
        return text, ValueSet(self.leaves[text])


def _code_type(distinct: int) -> type[np.signedinteger]:
    """Return the smallest integer type holding codes into `distinct` values (ten million codes of a few
    hundred days take 20 MB as int16, 80 MB as int64); arithmetic on codes always widens to int64."""
    for kind in (np.int8, np.int16, np.int32):
        if distinct < np.iinfo(kind).max:
            return kind
    return np.int64


def _text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _nice(values: np.ndarray) -> np.ndarray:
    """Round to 12 significant digits so that labels read ``12.34``, not ``12.340000000000002``.

    Dividing two exactly representable integers rounds correctly, so ``1234 / 100`` is the float
    nearest 12.34, whose shortest form is ``12.34``.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    shown = np.isfinite(out) & (out != 0)
    digits = 11 - np.floor(np.log10(np.abs(out[shown]))).astype(np.int64)
    x = out[shown]
    up = digits >= 0
    scale = 10.0 ** np.abs(digits)
    out[shown] = np.where(up, np.round(x * scale) / scale, np.round(x / scale) * scale)
    return out


def _calendar_ladder(low: float, high: float, period: str) -> np.ndarray:
    """Return the day numbers of every month / quarter / year start in ``[low, high]`` and both bounds."""
    months = np.arange(np.datetime64(int(low), "D").astype("datetime64[M]"),
                       np.datetime64(int(high), "D").astype("datetime64[M]") + 1)
    step = {"month": 1, "quarter": 3, "year": 12}[period]
    starts = months[months.astype(np.int64) % step == 0].astype("datetime64[D]").astype(np.int64).astype(np.float64)
    return np.unique(np.concatenate([[low, high], starts[(starts >= low) & (starts <= high)]]))


def _number_cuts(v0: np.ndarray, v1: np.ndarray, grain: float | None, between_grains: bool = False) -> np.ndarray:
    """Return the cut nearest below the midpoint of ``v0 < v1`` on the grid (``k x grain``, or
    ``(k + 1/2) x grain`` between grains), or the next grid point when that one is not above ``v0``."""
    middle = (v0 + v1) / 2
    if grain is None:
        return _nice(middle)
    offset = grain / 2 if between_grains else 0.0
    below = _nice(np.floor((middle - offset) / grain) * grain + offset)
    above = _nice(below + grain)
    return np.where(below > v0, below, above)


def _date_cuts(v0: np.ndarray, v1: np.ndarray, grain: str) -> np.ndarray:
    middle = np.floor((v0 + v1 + 1) / 2)
    if grain == "day":
        return middle
    days = middle.astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64)
    step = {"month": 1, "quarter": 3, "year": 12}[grain]
    start = months - months % step
    below = start.astype("datetime64[M]").astype("datetime64[D]").astype(np.float64)
    above = (start + step).astype("datetime64[M]").astype("datetime64[D]").astype(np.float64)
    return np.where(below > v0, below, above)


# -- validation and encoding ----------------------------------------------------------------------


def _validate(df: pd.DataFrame, quasi_identifiers: Mapping[str, object], k: int,
              individual_id: str | None, suppression_limit: float) -> dict[str, QuasiIdentifier]:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not (isinstance(suppression_limit, (int, float)) and 0 <= suppression_limit <= 1):
        raise ValueError(f"suppression_limit must be a fraction between 0 and 1, got {suppression_limit!r}")
    if not quasi_identifiers:
        raise ValueError("at least one quasi-identifier is needed")
    unknown = [c for c in quasi_identifiers if c not in df.columns]
    if unknown:
        raise ValueError(f"unknown quasi-identifier column(s): {', '.join(repr(c) for c in unknown)}")
    if individual_id is not None and individual_id not in df.columns:
        raise ValueError(f"unknown individual id column: {individual_id!r}")
    return {column: _as_qi(column, qi) for column, qi in quasi_identifiers.items()}


def _as_qi(column: str, qi: object) -> QuasiIdentifier:
    if isinstance(qi, Hierarchy):
        qi = HierarchyQI(qi)
    if isinstance(qi, HierarchyQI):
        if not isinstance(qi.hierarchy, Hierarchy):
            raise ValueError(f"quasi-identifier {column!r}: hierarchy must be a Hierarchy, "
                             f"got {type(qi.hierarchy).__name__}")
        _check_hierarchy(column, qi.hierarchy)
        return qi
    if isinstance(qi, (NumericQI, DateQI)):
        return qi
    raise ValueError(f"quasi-identifier {column!r}: expected NumericQI, DateQI, HierarchyQI or Hierarchy, "
                     f"got {type(qi).__name__}")


def _check_hierarchy(column: str, hierarchy: Hierarchy) -> None:
    """A label must name one set of leaves, whatever its level, so that it says what it covers."""
    tops = hierarchy.labels[-1]
    if len(tops) != 1:
        raise ValueError(f"quasi-identifier {column!r}: hierarchy must have a single top value, "
                         f"got {len(tops)} ({', '.join(repr(t) for t in tops[:3])}...)")
    per_level: dict[tuple[str, int], int] = {}
    leaves: dict[str, set[str]] = {}
    for row in hierarchy.rows:
        for level, label in enumerate(row):
            per_level[label, level] = per_level.get((label, level), 0) + 1
            leaves.setdefault(label, set()).add(row[0])
    conflicts = sorted({label for (label, _), count in per_level.items() if count != len(leaves[label])})
    if conflicts:
        label = conflicts[0]
        found = sorted(level for (name, level) in per_level if name == label)
        raise ValueError(f"quasi-identifier {column!r}: hierarchy label {label!r} covers different "
                         f"values at levels {', '.join(str(level) for level in found)}")


def _missing_mask(df: pd.DataFrame, qis: Mapping[str, QuasiIdentifier], individual_id: str | None) -> np.ndarray:
    missing = np.zeros(len(df), dtype=bool)
    for column in list(qis) + ([individual_id] if individual_id else []):  # column by column: no copy of the table
        missing |= df[column].isna().to_numpy()
    return missing


def _ordered_values(df: pd.DataFrame, column: str, qi: NumericQI | DateQI) -> np.ndarray:
    series = df[column]
    if isinstance(qi, NumericQI):
        try:
            return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError):
            bad = next(v for v in series if not _is_number(v))
            raise ValueError(f"column {column!r}: value {bad!r} is not a number") from None
    return _day_numbers(column, series)


def _ordered_codes(df: pd.DataFrame, column: str, qi: NumericQI | DateQI) -> tuple[np.ndarray, np.ndarray]:
    """Return an ordered column's sorted distinct values and each row's rank in them. A categorical column
    is converted category by category (only the categories its rows hold), never row by row."""
    series = df[column]
    if not isinstance(series.dtype, pd.CategoricalDtype):
        uniques, codes = np.unique(_ordered_values(df, column, qi), return_inverse=True)
        return uniques, codes.reshape(-1)
    rows = series.cat.codes.to_numpy()
    held = np.bincount(rows[rows >= 0], minlength=len(series.cat.categories)) > 0
    values = _ordered_values(pd.DataFrame({column: series.cat.categories[held]}), column, qi)
    uniques, ranks = np.unique(values, return_inverse=True)
    rank_of_category = np.full(len(held), -1, dtype=np.int64)
    rank_of_category[held] = ranks.reshape(-1)
    return uniques, rank_of_category[rows]


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _day_numbers(column: str, series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series.to_numpy().astype("datetime64[D]")
        return stamps.astype(np.int64).astype(np.float64)
    codes, uniques = pd.factorize(series)
    parsed = pd.to_datetime(pd.Series(uniques.astype(str)), format="%Y-%m-%d", errors="coerce")
    if parsed.isna().any():
        bad = uniques[int(np.flatnonzero(parsed.isna().to_numpy())[0])]
        raise ValueError(f"column {column!r}: value {bad!r} is not an ISO date (YYYY-MM-DD)")
    days = parsed.to_numpy().astype("datetime64[D]").astype(np.int64).astype(np.float64)
    return days[codes]


def _encode(df: pd.DataFrame, qis: Mapping[str, QuasiIdentifier]) -> list[_Ordered | _Categorical]:
    attributes: list[_Ordered | _Categorical] = []
    for column, qi in qis.items():
        if isinstance(qi, HierarchyQI):
            attributes.append(_Categorical(column, qi.hierarchy, df[column]))
        else:
            attributes.append(_Ordered(column, qi, *_ordered_codes(df, column, qi)))
    return attributes


# -- partitioning ---------------------------------------------------------------------------------


@dataclass
class _State:
    """Label state of ``m`` partitions: ``(m, d)`` arrays, one column per quasi-identifier.

    Ordered attributes use ``low``/``high``/``closed`` (the label's bounds), categorical ones
    ``level``/``node`` (the hierarchy node).
    """

    low: np.ndarray
    high: np.ndarray
    closed: np.ndarray
    level: np.ndarray
    node: np.ndarray

    @classmethod
    def root(cls, attributes: list[_Ordered | _Categorical]) -> _State:
        d = len(attributes)
        state = cls(np.zeros((1, d)), np.zeros((1, d)), np.zeros((1, d), dtype=bool),
                    np.zeros((1, d), dtype=np.int64), np.zeros((1, d), dtype=np.int64))
        for a, attribute in enumerate(attributes):
            if isinstance(attribute, _Ordered):
                state.low[0, a], state.high[0, a], state.closed[0, a] = attribute.low, attribute.high, attribute.closed
            else:
                state.level[0, a] = attribute.top
        return state

    def take(self, index: np.ndarray) -> _State:
        return _State(self.low[index], self.high[index], self.closed[index], self.level[index], self.node[index])

    @classmethod
    def concat(cls, states: list[_State], d: int) -> _State:
        if not states:
            return _State(np.zeros((0, d)), np.zeros((0, d)), np.zeros((0, d), dtype=bool),
                          np.zeros((0, d), dtype=np.int64), np.zeros((0, d), dtype=np.int64))
        return cls(*(np.concatenate([getattr(s, name) for s in states]) for name in
                     ("low", "high", "closed", "level", "node")))


@dataclass
class _Round:
    """The active rows of one round: ``rows`` (encoded row numbers), their partition ``part`` and
    their ``pair``, a dense id of (partition, individual)."""

    rows: np.ndarray
    part: np.ndarray
    pair: np.ndarray
    pair_part: np.ndarray
    m: int
    k: int


@dataclass
class _Plan:
    """Per partition: the attribute to split on (-1: final), the ordered cut (value and first
    code on the right side)."""

    choice: np.ndarray
    cut: np.ndarray
    cut_code: np.ndarray


def _dense(keys: np.ndarray, space: int) -> np.ndarray:
    """Return dense ids ``0..`` of ``keys`` preserving their order (bincount when the space is small)."""
    if space <= 4 * len(keys) + 1024:
        present = np.bincount(keys, minlength=space) > 0
        return (np.cumsum(present) - 1)[keys]
    return np.unique(keys, return_inverse=True)[1].reshape(-1)


def _pair_parts(pair: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Return the partition of every pair id (all rows of a pair share one partition)."""
    owner = np.zeros(int(pair.max()) + 1 if len(pair) else 0, dtype=np.int64)
    owner[pair] = part
    return owner


def _spans(attributes: list[_Ordered | _Categorical], state: _State, rnd: _Round) -> np.ndarray:
    """Return the ``(m, d)`` normalized spans; -1 where the attribute cannot be split at all."""
    spans = np.full((rnd.m, len(attributes)), -1.0)
    for a, attribute in enumerate(attributes):
        if isinstance(attribute, _Ordered):
            codes = attribute.codes[rnd.rows]
            low = np.full(rnd.m, np.iinfo(np.int64).max)
            high = np.full(rnd.m, -1)
            np.minimum.at(low, rnd.part, codes)
            np.maximum.at(high, rnd.part, codes)
            present = high >= 0
            lowest, highest = np.where(present, low, 0), np.where(present, high, 0)
            shown_low, shown_high, _ = attribute.pulled_in(lowest, highest, state.low[:, a], state.high[:, a],
                                                           state.closed[:, a])
            spans[:, a] = np.where(high > low, (shown_high - shown_low) / attribute.span, -1.0)
        else:
            level, node = state.level[:, a], state.node[:, a]
            spans[:, a] = np.where(level > 0, attribute.under[level, node] / attribute.n_leaves, -1.0)
    return spans


def _plan(attributes: list[_Ordered | _Categorical], state: _State, rnd: _Round, weight: np.ndarray) -> _Plan:
    """Choose for every partition the widest attribute (weighted span) with an allowed cut (module rule)."""
    spans = _spans(attributes, state, rnd)
    # each side of a cut needs k distinct individuals, so at least k rows; a categorical node may
    # still be refined to its only child (same rows)
    small = np.bincount(rnd.part, minlength=rnd.m) < 2 * rnd.k
    for a, attribute in enumerate(attributes):
        if isinstance(attribute, _Ordered):
            spans[small, a] = -1.0
    spans = np.where(spans >= 0, spans * weight, spans)
    preference = np.argsort(-spans, axis=1, kind="stable")
    plan = _Plan(np.full(rnd.m, -1), np.zeros(rnd.m), np.zeros(rnd.m, dtype=np.int64))
    for rank in range(len(attributes)):
        for a, attribute in enumerate(attributes):
            want = (plan.choice < 0) & (preference[:, rank] == a) & (spans[:, a] >= 0)
            if not want.any():
                continue
            if isinstance(attribute, _Ordered):
                _try_ordered(attribute, a, _could_cut(attribute, want, rnd), rnd, plan)
            else:
                _try_categorical(attribute, a, want, state, rnd, plan)
    return plan


def _could_cut(attribute: _Ordered, want: np.ndarray, rnd: _Round) -> np.ndarray:
    """Drop partitions where no cut can leave k individuals on both sides, without sorting rows.

    Both sides count every individual of the partition at most once, plus once more for those
    whose values differ (only they can sit on both sides): a cut needs
    ``individuals + individuals with differing values >= 2k``.
    """
    chosen = np.flatnonzero(want[rnd.part])
    pair, codes = rnd.pair[chosen], attribute.codes[rnd.rows[chosen]]
    low = np.full(len(rnd.pair_part), np.iinfo(np.int64).max)
    high = np.full(len(rnd.pair_part), -1)
    np.minimum.at(low, pair, codes)
    np.maximum.at(high, pair, codes)
    present = high >= 0
    spread = present & (high > low)
    room = np.bincount(rnd.pair_part[present], minlength=rnd.m) + np.bincount(rnd.pair_part[spread], minlength=rnd.m)
    return want & (room >= 2 * rnd.k)


def _try_ordered(attribute: _Ordered, a: int, want: np.ndarray, rnd: _Round, plan: _Plan) -> None:
    """Cut the wanted partitions at the allowed boundary nearest their row median, if any.

    Rows are sorted by (partition, value). A boundary ``j`` lies between positions ``j - 1`` and
    ``j`` of one partition's segment ``[s, e)`` where the value changes. Distinct individuals
    left of it = individuals whose first position is in ``[s, j)``; right of it = individuals
    whose last position is in ``[j, e)``.
    """
    if not want.any():
        return
    chosen = np.flatnonzero(want[rnd.part])
    part, pair = rnd.part[chosen], rnd.pair[chosen]
    codes = attribute.codes[rnd.rows[chosen]]
    order = np.argsort(part * len(attribute.uniques) + codes)
    part, pair, codes = part[order], pair[order], codes[order]
    size = len(part)
    firsts, lasts = _occurrence_counts(pair, size, len(rnd.pair_part))
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    segment = np.cumsum(np.r_[True, part[1:] != part[:-1]]) - 1
    ends = np.r_[starts[1:], size]
    j = np.flatnonzero((part[1:] == part[:-1]) & (codes[1:] != codes[:-1])) + 1
    s, e = starts[segment[j]], ends[segment[j]]
    enough = (firsts[j] - firsts[s] >= rnd.k) & (lasts[e] - lasts[j] >= rnd.k)
    j, s, e = j[enough], s[enough], e[enough]
    cut, valid = attribute.cuts(attribute.uniques[codes[j - 1]], attribute.uniques[codes[j]])
    j, s, e, cut = j[valid], s[valid], e[valid], cut[valid]
    if not len(j):
        return
    best = _nearest_to_middle(j, s, e, size)
    winners = part[s[best]]
    plan.choice[winners] = a
    plan.cut[winners] = cut[best]
    plan.cut_code[winners] = codes[j[best]]


def _occurrence_counts(pair: np.ndarray, size: int, pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Return exclusive prefix counts of first and of last occurrences of each pair id."""
    position = np.arange(size)
    first = np.full(pairs, size)
    last = np.full(pairs, -1)
    np.minimum.at(first, pair, position)
    np.maximum.at(last, pair, position)
    counts = []
    for marks in (first[first < size], last[last >= 0]):
        flags = np.zeros(size + 1, dtype=np.int64)
        flags[marks + 1] = 1
        counts.append(np.cumsum(flags))
    return counts[0], counts[1]


def _nearest_to_middle(j: np.ndarray, s: np.ndarray, e: np.ndarray, size: int) -> np.ndarray:
    """Return the index (into ``j``) of each segment's boundary nearest its middle (ties: lower)."""
    score = np.abs(2 * j - s - e) * (size + 1) + j
    group_starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    best = np.minimum.reduceat(score, group_starts)
    group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    return np.flatnonzero(score == best[group])


def _try_categorical(attribute: _Categorical, a: int, want: np.ndarray, state: _State, rnd: _Round,
                     plan: _Plan) -> None:
    """Split the wanted partitions into children when every non-empty child keeps >= k individuals."""
    chosen = want[rnd.part]
    part, pair = rnd.part[chosen], rnd.pair[chosen]
    child = attribute.matrix[attribute.codes[rnd.rows[chosen]], state.level[part, a] - 1]
    width = attribute.width
    distinct = np.unique(pair * width + child)
    groups, counts = np.unique(rnd.pair_part[distinct // width] * width + distinct % width, return_counts=True)
    owner = groups // width
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    smallest = np.minimum.reduceat(counts, starts)
    winners = owner[starts][smallest >= rnd.k]
    plan.choice[winners] = a


def _child_keys(attributes: list[_Ordered | _Categorical], state: _State, rnd: _Round, plan: _Plan) -> np.ndarray:
    """Return each split row's child within its partition: 0/1 for a cut, the child node otherwise."""
    choice = plan.choice[rnd.part]
    child = np.zeros(len(rnd.rows), dtype=np.int64)
    for a in np.unique(plan.choice[plan.choice >= 0]):
        attribute = attributes[a]
        mine = np.flatnonzero(choice == a)
        rows, part = rnd.rows[mine], rnd.part[mine]
        if isinstance(attribute, _Ordered):
            child[mine] = attribute.codes[rows] >= plan.cut_code[part]
        else:
            child[mine] = attribute.matrix[attribute.codes[rows], state.level[part, a] - 1]
    return child


def _children(attributes: list[_Ordered | _Categorical], state: _State, plan: _Plan, parent: np.ndarray,
              child: np.ndarray) -> _State:
    """Return the label state of new partitions (``parent`` partition, ``child`` key each)."""
    new = state.take(parent)
    index = np.arange(len(parent))
    attribute_of = plan.choice[parent]
    for a, attribute in enumerate(attributes):
        mine = attribute_of == a
        if isinstance(attribute, _Ordered):
            left, right = mine & (child == 0), mine & (child == 1)
            new.high[index[left], a] = plan.cut[parent[left]]
            new.closed[index[left], a] = False
            new.low[index[right], a] = plan.cut[parent[right]]
        else:
            new.level[index[mine], a] -= 1
            new.node[index[mine], a] = child[mine]
    return new


def _batches(group: np.ndarray) -> list[np.ndarray]:
    """Return the rows of each batch (ascending): whole groups in group order, a new batch starting
    at the first group that begins past a multiple of BATCH_ROWS rows."""
    if not len(group):
        return []
    sizes = np.bincount(group)
    batch_of_group = (np.cumsum(sizes) - sizes) // BATCH_ROWS
    batch_of_row = batch_of_group[group]
    rows = np.argsort(batch_of_row, kind="stable")
    return np.split(rows, np.cumsum(np.bincount(batch_of_row))[:-1])


def _partition(attributes: list[_Ordered | _Categorical], person: np.ndarray, k: int,
               weight: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, _State, np.ndarray]:
    """Run the rounds from one root partition per group, batch after batch (`_batches`); return each
    encoded row's class, the label state of every class and its number of distinct individuals."""
    class_of = np.empty(len(person), dtype=_code_type(len(person)))  # at most one class a row
    finals: list[_State] = []
    sizes: list[np.ndarray] = []
    people = int(person.max()) + 1 if len(person) else 0
    for rows in _batches(group):
        _partition_rows(attributes, person, k, weight, group, rows, people, class_of, finals, sizes)
    return class_of, _State.concat(finals, len(attributes)), np.concatenate(sizes or [np.zeros(0, dtype=np.int64)])


def _partition_rows(attributes: list[_Ordered | _Categorical], person: np.ndarray, k: int, weight: np.ndarray,
                    group: np.ndarray, rows: np.ndarray, people: int, class_of: np.ndarray,
                    finals: list[_State], sizes: list[np.ndarray]) -> None:
    """Run the rounds on `rows` (whole groups): set their `class_of`, numbered after the classes of
    `finals`, and append their classes' label states to `finals` and their distinct individuals to
    `sizes` (a partition's pair ids are its distinct individuals)."""
    classes = sum(len(final.low) for final in finals)
    keys = group[rows]
    part = _dense(keys, int(keys.max()) + 1)
    groups = int(part.max()) + 1
    state = _State.root(attributes).take(np.zeros(groups, dtype=np.int64))
    pair = _dense(part * people + person[rows], groups * people)
    while len(rows):
        rnd = _Round(rows, part, pair, _pair_parts(pair, part), len(state.low), k)
        plan = _plan(attributes, state, rnd, weight)
        final = plan.choice < 0
        rank = np.cumsum(final) - 1
        done = final[part]
        class_of[rows[done]] = classes + rank[part[done]]
        finals.append(state.take(np.flatnonzero(final)))
        sizes.append(np.bincount(rnd.pair_part, minlength=rnd.m)[final])
        classes += int(final.sum())
        rnd = _Round(rows[~done], part[~done], pair[~done], rnd.pair_part, rnd.m, k)
        child = _child_keys(attributes, state, rnd, plan)
        width = int(child.max()) + 1 if len(child) else 1
        part = _dense(rnd.part * width + child, rnd.m * width)
        pair = _dense(rnd.pair * width + child, len(rnd.pair_part) * width)
        parents = np.zeros(int(part.max()) + 1 if len(part) else 0, dtype=np.int64)
        children = np.zeros_like(parents)
        parents[part], children[part] = rnd.part, child
        state = _children(attributes, state, plan, parents, children)
        rows = rnd.rows


# -- entry point ----------------------------------------------------------------------------------


def mondrian(
    df: pd.DataFrame,
    quasi_identifiers: Mapping[str, QuasiIdentifier | Hierarchy],
    k: int,
    individual_id: str | None = None,
    *,
    suppression_limit: float = 0.0,
    weights: Mapping[str, float] | None = None,
    groups: np.ndarray | None = None,
) -> MondrianResult:
    """Release ``df`` by Mondrian local recoding with at least ``k`` distinct individuals per class.

    Args:
        df: the table; quasi-identifier values must lie in their declared domains.
        quasi_identifiers: column -> :class:`NumericQI`, :class:`DateQI`, :class:`HierarchyQI` (or
            a bare :class:`Hierarchy`); the order breaks span ties.
        k: minimum distinct individuals per class.
        individual_id: column identifying people; ``None``: each row is its own individual.
        suppression_limit: fraction of rows that may be removed: rows with a missing
            quasi-identifier or individual id, and every row when fewer than ``k`` individuals
            remain. ``ValueError`` when more would be needed.
        weights: column -> factor its normalized span is multiplied by when ranking (default 1).
        groups: one code per row; rows of different groups never share a class (the partitioning
            starts from one partition per group, each at the whole domains). Every group must
            hold at least ``k`` individuals. Many small groups cost one run, not one run each.

    Raises:
        ValueError: naming the column and value (unknown column, value outside the domain or not
            in the hierarchy, bad ``k``, bad description), or when suppression exceeds the limit.
    """
    qis = _validate(df, quasi_identifiers, k, individual_id, suppression_limit)
    allowed = math.floor(suppression_limit * len(df) + 1e-9)
    missing = _missing_mask(df, qis, individual_id)
    if missing.sum() > allowed:
        raise ValueError(_missing_message(df, qis, individual_id, int(missing.sum()), allowed, suppression_limit))
    kept = np.flatnonzero(~missing).astype(_code_type(len(df)))
    table = df if len(kept) == len(df) else df.iloc[kept]
    attributes = _encode(table, qis)
    person = _people(table, individual_id)
    people = len(np.unique(person))
    if people < k:
        if len(df) > allowed:
            raise ValueError(f"{people} distinct individual(s), fewer than k={k}: all {len(df)} rows would be "
                             f"suppressed, suppression_limit {suppression_limit} allows {allowed}")
        kept, table, person = kept[:0], table.iloc[:0], person[:0]
        attributes = _encode(table, qis)
    group = _group_codes(groups, len(df), kept, person, int(k))
    class_of, finals, sizes = _partition(attributes, person, int(k), _weights(qis, weights or {}), group)
    _pull_in_to_round_bounds(attributes, class_of, finals)
    return _result(df, kept, attributes, class_of, finals, sizes)


def _group_codes(groups: np.ndarray | None, rows: int, kept: np.ndarray, person: np.ndarray, k: int) -> np.ndarray:
    """Return the kept rows' group codes (all 0 without groups); refuse a group below k individuals."""
    if groups is None:
        return np.zeros(len(kept), dtype=np.int64)
    codes = pd.factorize(np.asarray(groups))[0]
    if len(codes) != rows:
        raise ValueError(f"groups must give one code per row: {len(codes)} codes for {rows} rows")
    codes = codes[kept].astype(_code_type(len(codes)))
    if len(codes):
        people = int(person.max()) + 1
        sizes = np.bincount(_distinct_pairs(codes, person, people) // people)
        present = np.flatnonzero(np.bincount(codes) > 0)
        smallest = present[np.argmin(sizes[present])]
        if sizes[smallest] < k:
            raise ValueError(f"group {int(smallest)} holds {int(sizes[smallest])} individual(s), fewer than k={k}")
    return codes


def _weights(qis: Mapping[str, QuasiIdentifier], weights: Mapping[str, float]) -> np.ndarray:
    """Return each attribute's span weight (1 unless given); refuse unknown columns and non-positive weights."""
    unknown = [column for column in weights if column not in qis]
    if unknown:
        raise ValueError(f"weight given for {', '.join(repr(c) for c in unknown)}, not a quasi-identifier")
    bad = {column: w for column, w in weights.items() if not (math.isfinite(w) and w > 0)}
    if bad:
        raise ValueError(f"weights must be positive numbers, got {bad}")
    return np.array([float(weights.get(column, 1.0)) for column in qis])


def _pull_in_to_round_bounds(attributes: list[_Ordered | _Categorical], class_of: np.ndarray, finals: _State) -> None:
    """Pull every class's outer bounds in to the round bounds nearest its rows (module rule "Labels")."""
    for a, attribute in enumerate(attributes):
        if not (isinstance(attribute, _Ordered) and attribute.ladder is not None and len(class_of)):
            continue
        lowest = np.full(len(finals.low), np.iinfo(np.int64).max)
        highest = np.full(len(finals.low), -1)
        np.minimum.at(lowest, class_of, attribute.codes)
        np.maximum.at(highest, class_of, attribute.codes)
        finals.low[:, a], finals.high[:, a], finals.closed[:, a] = attribute.pulled_in(
            lowest, highest, finals.low[:, a], finals.high[:, a], finals.closed[:, a])


def _missing_message(df: pd.DataFrame, qis: Mapping[str, QuasiIdentifier], individual_id: str | None,
                     count: int, allowed: int, limit: float) -> str:
    columns = list(qis) + ([individual_id] if individual_id else [])
    column = next(c for c in columns if df[c].isna().any())
    return (f"column {column!r} has missing values: {count} row(s) would be suppressed, "
            f"suppression_limit {limit} allows {allowed}")


def _people(table: pd.DataFrame, individual_id: str | None) -> np.ndarray:
    if individual_id is None:
        return np.arange(len(table), dtype=np.int64)
    codes, uniques = pd.factorize(table[individual_id])
    return codes.astype(_code_type(len(uniques)))


def _result(df: pd.DataFrame, kept: np.ndarray, attributes: list[_Ordered | _Categorical], class_of: np.ndarray,
            finals: _State, sizes: np.ndarray) -> MondrianResult:
    labelled = {attribute.column for attribute in attributes}
    everything = len(kept) == len(df)  # nothing suppressed: the other columns and the index are the input's
    columns: dict[object, object] = {
        column: None if column in labelled else df[column].array if everything else df[column].take(kept).array
        for column in df.columns}
    coverage: dict[str, dict[str, Coverage]] = {}
    for a, attribute in enumerate(attributes):
        labels, covered = _class_labels(attribute, a, finals)
        codes, texts = pd.factorize(labels)
        small = codes.astype(_code_type(len(texts)))  # indexed by every row: not int64
        columns[attribute.column] = pd.Categorical.from_codes(small[class_of], categories=texts)
        coverage[attribute.column] = covered
    data = pd.DataFrame(columns, index=df.index if everything else df.index.take(kept))
    return MondrianResult(data, class_of, _statistics(sizes), len(df), len(df) - len(kept), coverage)


def _class_labels(attribute: _Ordered | _Categorical, a: int, finals: _State) -> tuple[np.ndarray, dict[str, Coverage]]:
    """Return the label of every class (object array) and label -> coverage."""
    if isinstance(attribute, _Ordered):
        columns = [finals.low[:, a], finals.high[:, a], finals.closed[:, a]]
    else:
        columns = [finals.level[:, a], finals.node[:, a]]
    key = np.zeros(len(finals.low), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column)
        key = key * len(uniques) + codes
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    made = [_label_of(attribute, [column[i] for column in columns]) for i in first]
    labels = np.empty(len(made), dtype=object)
    labels[:] = [text for text, _ in made]
    return labels[inverse.reshape(-1)], dict(made)


def _label_of(attribute: _Ordered | _Categorical, key: list) -> tuple[str, Coverage]:
    if isinstance(attribute, _Ordered):
        return attribute.label(float(key[0]), float(key[1]), bool(key[2]))
    return attribute.label(int(key[0]), int(key[1]))


def _distinct_pairs(first: np.ndarray, second: np.ndarray, width: int) -> np.ndarray:
    """Return the distinct values of ``first * width + second`` (int64), built and sorted in place: one
    array of the rows' length, where np.unique of the expression would hold three or four."""
    keys = first.astype(np.int64)
    keys *= width
    keys += second
    keys.sort()
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def _statistics(sizes: np.ndarray) -> MondrianClassStatistics:
    """Summarize the distinct individuals of every class (counted by the partitioning)."""
    if not len(sizes):
        return MondrianClassStatistics(0, 0, 0.0, 0)
    return MondrianClassStatistics(len(sizes), int(sizes.min()), float(sizes.mean()), int(sizes.max()))
