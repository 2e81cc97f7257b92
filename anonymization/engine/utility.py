"""Utility of a release: the error of a fixed query workload, and which columns survive.

Workload (a published definition; :func:`workload_generate`)
-------------------------------------------------------------

Columns are declared by role, each with its public domain:

* :class:`RangeColumn` (age, amount): predicate ``low <= x < high`` with ``high - low`` drawn
  uniformly from ``widths`` and ``low = domain.low + step * i``, ``i`` uniform in
  ``0 .. floor((domain.high - domain.low - width) / step)``;
* :class:`MonthColumn` (transaction date): predicate "the date lies in month M", M uniform among
  the calendar months meeting the domain (days clipped to the domain);
* :class:`ValueColumn` (gender, kind): predicate ``x == v``, v uniform among the domain values;
* :class:`PrefixColumn` (postal region): predicate "x starts with P", P uniform among the distinct
  ``digits``-character prefixes of the domain values.

A query is ``COUNT(*)``, or with ``measure`` given ``SUM(measure)`` with probability 1/2, over
the rows satisfying all of its 2-4 predicates (number uniform in ``2 .. min(4, columns)``), on
distinct columns drawn uniformly without replacement (listed in declaration order). A drawn query
is kept only if at least ``min_rows`` raw rows satisfy it, else it is drawn again (at most
``max_attempts`` times per query). Draws use ``numpy.random.default_rng(seed)`` in this order:
aggregate (only when ``measure`` is set), number of predicates, columns, then each predicate's
parameters; the same seed, table and columns give the same workload.

Answering (:func:`workload_answer`)
-----------------------------------

Each released row spreads uniformly over its labels' coverages (see :mod:`.coverage`):
a predicate holds for the fraction ``|coverage ∩ predicate| / |coverage|`` of the row (interval
overlap length / interval length; days overlapping / days; covered values satisfying it / covered
values; a point counts 1 or 0), and the row's weight is the product over predicates.
``COUNT = sum of weights``. ``SUM(measure)`` replaces the measure predicate's fraction ``f`` by
``f * midpoint(coverage ∩ predicate)`` (the whole coverage without a measure predicate), the mean
of a uniform spread. Suppressed rows are absent. On the raw table the answer is exact.

Error (:func:`workload_error`): ``|estimate - true| / max(|true|, 0.001 * total)`` with ``total``
the raw row count (COUNT) or the raw ``sum |measure|`` (SUM); mean and median over queries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .coverage import (
    CategoricalDomain,
    CoverageResolver,
    DateDomain,
    DayRange,
    Domain,
    Interval,
    NumericDomain,
    ValueSet,
    day_date,
)

__all__ = [
    "RangeColumn", "MonthColumn", "ValueColumn", "PrefixColumn", "WorkloadColumn",
    "RangePredicate", "DayPredicate", "ValuesPredicate", "Predicate", "Query",
    "QueryError", "WorkloadError", "ColumnSurvival",
    "workload_generate", "workload_answer", "workload_error", "column_survival", "domains_of",
]


# -- column roles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeColumn:
    """An ordered number queried by ranges ``[low, low + width)`` on a ``step`` grid."""

    domain: NumericDomain
    step: float
    widths: tuple[float, ...]

    def __post_init__(self) -> None:
        span = self.domain.high - self.domain.low
        if not (self.step > 0 and self.widths and all(0 < w <= span for w in self.widths)):
            raise ValueError(f"range column needs step > 0 and widths in (0, {span}], got step {self.step}, "
                             f"widths {list(self.widths)}")


@dataclass(frozen=True)
class MonthColumn:
    """A date queried by calendar month."""

    domain: DateDomain


@dataclass(frozen=True)
class ValueColumn:
    """A category queried by equality with one domain value."""

    domain: CategoricalDomain


@dataclass(frozen=True)
class PrefixColumn:
    """A code (postal code) queried by its first ``digits`` characters."""

    domain: CategoricalDomain
    digits: int = 1

    def __post_init__(self) -> None:
        if self.digits < 1:
            raise ValueError(f"digits must be at least 1, got {self.digits}")


WorkloadColumn = RangeColumn | MonthColumn | ValueColumn | PrefixColumn


# -- predicates and queries -----------------------------------------------------------------------


@dataclass(frozen=True)
class RangePredicate:
    """``low <= column < high``."""

    column: str
    low: float
    high: float

    def describe(self) -> str:
        return f"{self.low:g} <= {self.column} < {self.high:g}"


@dataclass(frozen=True)
class DayPredicate:
    """``column`` between day numbers ``first`` and ``last`` inclusive."""

    column: str
    first: int
    last: int

    def describe(self) -> str:
        return f"{self.column} in {day_date(self.first)}..{day_date(self.last)}"


@dataclass(frozen=True)
class ValuesPredicate:
    """``column`` is one of ``values`` (``text`` says how they were chosen)."""

    column: str
    values: frozenset[str]
    text: str

    def describe(self) -> str:
        return f"{self.column} {self.text}"


Predicate = RangePredicate | DayPredicate | ValuesPredicate


@dataclass(frozen=True)
class Query:
    """``COUNT(*)`` (``measure`` None) or ``SUM(measure)`` over rows satisfying every predicate."""

    predicates: tuple[Predicate, ...]
    measure: str | None = None

    @property
    def aggregate(self) -> str:
        return "count" if self.measure is None else "sum"

    def describe(self) -> str:
        head = "COUNT(*)" if self.measure is None else f"SUM({self.measure})"
        return f"{head} WHERE " + " AND ".join(p.describe() for p in self.predicates)


@dataclass(frozen=True)
class QueryError:
    """One query's true answer, estimate and relative error."""

    query: Query
    true: float
    estimate: float
    error: float


@dataclass(frozen=True)
class WorkloadError:
    """Mean and median relative error over the workload, and every query's figures."""

    mean: float
    median: float
    queries: tuple[QueryError, ...]


@dataclass(frozen=True)
class ColumnSurvival:
    """How much of a released column still says something.

    ``specific_share``: share of rows whose label is not ``*`` and covers less than the domain;
    ``distinct_values``: distinct released labels; ``generalized_everywhere``: every label is
    ``*``; ``constant``: a single distinct label.
    """

    specific_share: float
    distinct_values: int
    generalized_everywhere: bool
    constant: bool


# -- generation -----------------------------------------------------------------------------------


def workload_generate(
    raw_df: pd.DataFrame,
    columns: Mapping[str, WorkloadColumn],
    n_queries: int = 200,
    seed: int = 0,
    min_rows: int = 20,
    *,
    measure: str | None = None,
    measure_domain: NumericDomain | None = None,
    max_attempts: int = 1000,
) -> list[Query]:
    """Draw ``n_queries`` queries as defined in the module docstring.

    ``measure`` (with its ``measure_domain``, needed to read raw values) enables SUM queries.
    Raises ``ValueError`` for unknown columns, fewer than 2 columns, or a query that cannot be
    drawn matching ``min_rows`` rows within ``max_attempts``.
    """
    _check_columns(raw_df, columns, measure)
    if measure is not None and measure_domain is None:
        raise ValueError(f"measure {measure!r} needs measure_domain")
    domains = {name: spec.domain for name, spec in columns.items()}
    resolved = _Resolved(raw_df, domains)
    rng = np.random.default_rng(seed)
    names = list(columns)
    return [_draw_query(rng, names, columns, resolved, measure, min_rows, max_attempts, number)
            for number in range(1, n_queries + 1)]


def _check_columns(raw_df: pd.DataFrame, columns: Mapping[str, WorkloadColumn], measure: str | None) -> None:
    unknown = [c for c in [*columns, *([measure] if measure else [])] if c not in raw_df.columns]
    if unknown:
        raise ValueError(f"unknown workload column(s): {', '.join(repr(c) for c in unknown)}")
    if len(columns) < 2:
        raise ValueError(f"a workload needs at least 2 columns, got {len(columns)}")
    for name, spec in columns.items():
        if not isinstance(spec, (RangeColumn, MonthColumn, ValueColumn, PrefixColumn)):
            raise ValueError(f"workload column {name!r}: expected RangeColumn, MonthColumn, ValueColumn or "
                             f"PrefixColumn, got {type(spec).__name__}")


def _draw_query(rng: np.random.Generator, names: list[str], columns: Mapping[str, WorkloadColumn],
                resolved: _Resolved, measure: str | None, min_rows: int, max_attempts: int, number: int) -> Query:
    for _ in range(max_attempts):
        summed = measure is not None and bool(rng.integers(2))
        count = int(rng.integers(2, min(4, len(names)) + 1))
        picked = sorted(rng.choice(len(names), size=count, replace=False))
        predicates = tuple(_draw_predicate(rng, names[i], columns[names[i]]) for i in picked)
        if resolved.weights(predicates).sum() >= min_rows:
            return Query(predicates, measure if summed else None)
    raise ValueError(f"query {number}: no draw matched at least {min_rows} rows in {max_attempts} attempts")


def _draw_predicate(rng: np.random.Generator, column: str, spec: WorkloadColumn) -> Predicate:
    if isinstance(spec, RangeColumn):
        width = float(spec.widths[int(rng.integers(len(spec.widths)))])
        slots = math.floor((spec.domain.high - spec.domain.low - width) / spec.step + 1e-9)
        low = spec.domain.low + spec.step * int(rng.integers(slots + 1))
        return RangePredicate(column, float(low), float(low + width))
    if isinstance(spec, MonthColumn):
        months = _months_of(spec.domain)
        first, last = months[int(rng.integers(len(months)))]
        return DayPredicate(column, first, last)
    if isinstance(spec, ValueColumn):
        value = spec.domain.values[int(rng.integers(len(spec.domain.values)))]
        return ValuesPredicate(column, frozenset([value]), f"= {value!r}")
    prefixes = sorted({v[:spec.digits] for v in spec.domain.values})
    prefix = prefixes[int(rng.integers(len(prefixes)))]
    matched = frozenset(v for v in spec.domain.values if v.startswith(prefix))
    return ValuesPredicate(column, matched, f"starts with {prefix!r}")


def _months_of(domain: DateDomain) -> list[tuple[int, int]]:
    """Return the (first, last) day numbers of every calendar month meeting ``domain``, clipped to it."""
    whole = domain.coverage
    start = np.datetime64(day_date(whole.first), "M")
    end = np.datetime64(day_date(whole.last), "M")
    months = np.arange(start, end + 1)
    firsts = months.astype("datetime64[D]").astype(np.int64)
    lasts = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
    return [(max(int(f), whole.first), min(int(la), whole.last)) for f, la in zip(firsts, lasts, strict=True)]


# -- answering ------------------------------------------------------------------------------------


class _Resolved:
    """A table's columns resolved once into per-label coverage arrays (for vectorized answers)."""

    def __init__(self, df: pd.DataFrame, domains: Mapping[str, Domain]) -> None:
        self.rows = len(df)
        self.columns = {name: _ResolvedColumn(name, df[name], domain) for name, domain in domains.items()}

    def weights(self, predicates: Sequence[Predicate]) -> np.ndarray:
        """Return each row's share satisfying every predicate (product of per-predicate shares)."""
        weight = np.ones(self.rows)
        for predicate in predicates:
            weight *= self.columns[predicate.column].share(predicate)
        return weight

    def answer(self, query: Query) -> float:
        if query.measure is None:
            return float(self.weights(query.predicates).sum())
        own = [p for p in query.predicates if p.column == query.measure]
        others = [p for p in query.predicates if p.column != query.measure]
        mass = self.columns[query.measure].mass(own[0] if own else None)
        return float((self.weights(others) * mass).sum())


class _ResolvedColumn:
    """One column: row codes into distinct labels, and their coverages as arrays."""

    def __init__(self, name: str, series: pd.Series, domain: Domain) -> None:
        self.name, self.domain = name, domain
        if isinstance(domain, NumericDomain) and pd.api.types.is_numeric_dtype(series):
            # raw numbers: each value is its own point coverage (no label parsing)
            codes, uniques = pd.factorize(series, use_na_sentinel=False)
            values = np.asarray(uniques, dtype=np.float64)
            self.coverages: list = [None] * len(values)
            self.low, self.high, self.point = values, values, np.ones(len(values), dtype=bool)
        else:
            resolved = CoverageResolver(name, domain).resolve_column(series)
            codes, self.coverages = resolved.codes, resolved.coverages
            self._arrays()
        self.codes = np.asarray(codes, dtype=np.int64)

    def _arrays(self) -> None:
        if isinstance(self.domain, NumericDomain):
            self.low = np.array([c.low for c in self.coverages], dtype=np.float64)
            self.high = np.array([c.high for c in self.coverages], dtype=np.float64)
            self.point = self.low == self.high
        elif isinstance(self.domain, DateDomain):
            self.low = np.array([c.first for c in self.coverages], dtype=np.float64)
            self.high = np.array([c.last + 1 for c in self.coverages], dtype=np.float64)
            self.point = np.zeros(len(self.low), dtype=bool)

    def share(self, predicate: Predicate) -> np.ndarray:
        """Return per row the share of its coverage satisfying ``predicate``."""
        return self._label_shares(predicate)[self.codes]

    def _label_shares(self, predicate: Predicate) -> np.ndarray:
        if isinstance(predicate, ValuesPredicate):
            if isinstance(self.domain, (NumericDomain, DateDomain)):
                raise ValueError(f"column {self.name!r}: a value predicate needs a categorical domain")
            return np.array([len(c.values & predicate.values) / len(c.values) for c in self.coverages])
        low, high = _predicate_bounds(self.name, predicate, self.domain)
        overlap = np.clip(np.minimum(self.high, high) - np.maximum(self.low, low), 0, None)
        length = np.where(self.point, 1.0, self.high - self.low)
        inside = (self.low >= low) & (self.low < high)
        return np.where(self.point, inside.astype(np.float64), overlap / length)

    def mass(self, predicate: Predicate | None) -> np.ndarray:
        """Return per row ``share * midpoint(coverage ∩ predicate)`` (whole coverage when None)."""
        if not isinstance(self.domain, NumericDomain):
            raise ValueError(f"column {self.name!r}: SUM needs a numeric domain")
        low, high = (-np.inf, np.inf) if predicate is None else _predicate_bounds(self.name, predicate, self.domain)
        a, b = np.maximum(self.low, low), np.minimum(self.high, high)
        share = np.ones(len(self.low)) if predicate is None else self._label_shares(predicate)
        middle = np.where(self.point, self.low, (a + b) / 2)
        return (share * np.where(share > 0, middle, 0.0))[self.codes]


def _predicate_bounds(column: str, predicate: Predicate, domain: Domain) -> tuple[float, float]:
    if isinstance(predicate, RangePredicate) and isinstance(domain, NumericDomain):
        return predicate.low, predicate.high
    if isinstance(predicate, DayPredicate) and isinstance(domain, DateDomain):
        return float(predicate.first), float(predicate.last + 1)
    raise ValueError(f"column {column!r}: {type(predicate).__name__} does not fit a {type(domain).__name__}")


def workload_answer(df: pd.DataFrame, queries: Sequence[Query], domains: Mapping[str, Domain]) -> np.ndarray:
    """Return the estimate of every query on ``df`` (a release or the raw table) under uniform spread."""
    used = sorted({p.column for q in queries for p in q.predicates} | {q.measure for q in queries if q.measure})
    unknown = [c for c in used if c not in domains]
    if unknown:
        raise ValueError(f"no domain for column(s): {', '.join(repr(c) for c in unknown)}")
    missing = [c for c in used if c not in df.columns]
    if missing:
        raise ValueError(f"released table has no column(s): {', '.join(repr(c) for c in missing)}")
    resolved = _Resolved(df, {c: domains[c] for c in used})
    return np.array([resolved.answer(q) for q in queries], dtype=np.float64)


def workload_error(raw_df: pd.DataFrame, released_df: pd.DataFrame, queries: Sequence[Query],
                   domains: Mapping[str, Domain]) -> WorkloadError:
    """Return the relative errors of the release's estimates against the raw table's answers.

    ``error = |estimate - true| / max(|true|, 0.001 * total)``; ``total`` is the raw row count for
    COUNT and the raw ``sum |measure|`` for SUM.
    """
    if not queries:
        raise ValueError("the workload is empty")
    truths = workload_answer(raw_df, queries, domains)
    estimates = workload_answer(released_df, queries, domains)
    errors = [QueryError(q, float(t), float(e), _relative_error(raw_df, q, float(t), float(e)))
              for q, t, e in zip(queries, truths, estimates, strict=True)]
    values = np.array([e.error for e in errors])
    return WorkloadError(float(values.mean()), float(np.median(values)), tuple(errors))


def _relative_error(raw_df: pd.DataFrame, query: Query, true: float, estimate: float) -> float:
    total = float(len(raw_df)) if query.measure is None else float(np.abs(raw_df[query.measure].astype(float)).sum())
    return abs(estimate - true) / max(abs(true), 0.001 * total)


# -- column survival ------------------------------------------------------------------------------


def column_survival(released_df: pd.DataFrame, domains: Mapping[str, Domain]) -> dict[str, ColumnSurvival]:
    """Return per column (of ``domains``) how many rows keep a label narrower than the domain."""
    return {name: _survival(released_df, name, domain) for name, domain in domains.items()}


def _survival(df: pd.DataFrame, name: str, domain: Domain) -> ColumnSurvival:
    if name not in df.columns:
        raise ValueError(f"released table has no column {name!r}")
    resolved = CoverageResolver(name, domain).resolve_column(df[name])
    whole = _size(domain.coverage)
    specific = np.array([label != "*" and _size(c) < whole for label, c in
                         zip(resolved.labels, resolved.coverages, strict=True)], dtype=bool)
    share = float(specific[resolved.codes].mean()) if len(df) else 0.0
    labels = resolved.labels
    return ColumnSurvival(share, len(labels), bool(labels) and all(t == "*" for t in labels), len(labels) == 1)


def _size(coverage: Interval | DayRange | ValueSet) -> float:
    if isinstance(coverage, Interval):
        return coverage.length
    if isinstance(coverage, DayRange):
        return float(coverage.days)
    return float(len(coverage.values))


def domains_of(columns: Mapping[str, WorkloadColumn]) -> dict[str, Domain]:
    """Return the public domain of every workload column."""
    return {name: spec.domain for name, spec in columns.items()}
