"""The public entry point: :func:`anonymize`.

``anonymize`` finds the transformation (one generalization level per quasi-identifier) that
satisfies every privacy criterion with at most ``suppression_limit * N`` suppressed rows and has
the lowest information loss under the chosen metric, then applies it. The API is stable: Django
code calls it for releases over transaction tables with ``individual_id="customer_id"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .check import ClassView, NodeChecker, Space
from .criteria import Criterion
from .encoding import encode_column, factorize_strings
from .flash import SearchOutcome, exhaustive_search, find_optimum
from .hierarchy import Hierarchy, quote_list
from .lattice import Lattice
from .metrics import Metric, create_metric
from .subset import InputTable, SubsetLike, match_subset

__all__ = ["anonymize", "Result", "ClassStatistics", "RiskStatistics", "SearchStatistics", "NoSolutionError"]


class NoSolutionError(ValueError):
    """No transformation satisfies the criteria within the suppression limit."""


@dataclass(frozen=True)
class ClassStatistics:
    """Equivalence classes of the released rows."""

    count: int
    min_size: int
    max_size: int
    mean_size: float
    size_distribution: dict[int, int]


@dataclass(frozen=True)
class RiskStatistics:
    """Prosecutor re-identification risk: ``1 / |class|`` per record (``basis="rows"``), or with
    ``individual_id`` ``1 / distinct individuals in the class``, an individual's risk being the
    highest over the classes holding their rows (``basis="individuals"``). ``max`` is the highest
    risk, ``average`` the mean over records or individuals."""

    basis: str
    max: float
    average: float


@dataclass(frozen=True)
class SearchStatistics:
    """How the optimum was found."""

    algorithm: str
    lattice_size: int
    nodes_checked: int
    nodes_tagged: int
    elapsed_s: float


@dataclass(frozen=True)
class Result:
    """An anonymized table and how it was obtained.

    ``data`` keeps every input column in input order and the input index, minus suppressed rows;
    quasi-identifiers above level 0 hold the generalized values as strings.
    """

    data: pd.DataFrame
    levels: dict[str, int]
    metric: str
    info_loss: float
    rows_in: int
    suppressed_rows: int
    classes: ClassStatistics
    risk: RiskStatistics
    search: SearchStatistics
    #: The metric's options (gs-factor, aggregate, weights) when it has any.
    metric_options: dict[str, object] = field(default_factory=dict)
    #: Rows of the research subset (``None`` without one): only they may be released.
    subset_rows: int | None = None

    @property
    def rows_out(self) -> int:
        return (self.rows_in if self.subset_rows is None else self.subset_rows) - self.suppressed_rows

    def report(self) -> dict[str, object]:
        """JSON-ready summary (the command line's report file)."""
        return {
            "levels": dict(self.levels), "metric": self.metric, "metric_options": dict(self.metric_options),
            "info_loss": self.info_loss,
            "rows_in": self.rows_in, **({} if self.subset_rows is None else {"subset_rows": self.subset_rows}),
            "rows_out": self.rows_out, "suppressed_rows": self.suppressed_rows,
            "classes": self.classes.count, "min_class_size": self.classes.min_size,
            "max_class_size": self.classes.max_size, "mean_class_size": self.classes.mean_size,
            "class_size_distribution": {str(k): v for k, v in self.classes.size_distribution.items()},
            "risk": asdict(self.risk), **asdict(self.search),
        }


Progress = Callable[[int, int], None]


def anonymize(
    df: pd.DataFrame,
    quasi_identifiers: Mapping[str, Hierarchy],
    criteria: Sequence[Criterion],
    suppression_limit: float = 0.02,
    metric: str | Metric = "loss",
    individual_id: str | None = None,
    *,
    algorithm: str = "flash",
    progress: Progress | None = None,
    subset: SubsetLike | None = None,
) -> Result:
    """Release ``df`` with the optimal generalization.

    Args:
        df: the table; values are compared with hierarchies as strings.
        quasi_identifiers: column -> :class:`Hierarchy`, in the order used for level vectors.
        criteria: privacy criteria, all of which every released class must satisfy.
        suppression_limit: fraction of rows that may be removed (rows of classes failing the
            criteria); a transformation is acceptable iff suppressed rows <= limit * N.
        metric: a name from :data:`~anonymization.engine.metrics.METRICS`, or a configured
            :class:`~anonymization.engine.metrics.Metric` (e.g. ``Loss(gs_factor=0.3,
            weights={"age": 2}, aggregate="sum")``).
        individual_id: column identifying people; k-anonymity then counts distinct people.
        algorithm: ``"flash"`` or ``"exhaustive"`` (checks every node; for verification).
        progress: called as ``progress(nodes_checked, lattice_size)`` after every check.
        subset: the research subset, the only rows released (a DataFrame of rows of ``df``, a
            boolean mask or row positions, see :func:`~.subset.match_subset`): classes,
            suppression (``suppression_limit`` of the subset's rows), criteria and metrics count
            its rows; :class:`~.criteria.DPresence` and :class:`~.criteria.KMap` also read the
            whole input's rows per class. Needed by ``Inclusion``, ``DPresence`` and ``KMap``
            without an estimator; not combined with ``individual_id``.

    Raises:
        ValueError: bad arguments (the message lists the bad column names);
            :class:`~anonymization.engine.hierarchy.HierarchyError` for hierarchies that are
            malformed or miss data values.
        NoSolutionError: no transformation satisfies the criteria.
    """
    problem = _Problem(df, quasi_identifiers, criteria, suppression_limit, metric, individual_id, subset)
    if algorithm not in ("flash", "exhaustive"):
        raise ValueError(f"algorithm must be 'flash' or 'exhaustive', got {algorithm!r}")
    if algorithm == "flash":
        outcome = find_optimum(problem.lattice, problem.checker, progress)
    else:
        outcome = exhaustive_search(problem.lattice, problem.checker)
    if outcome.levels is None:
        raise NoSolutionError(problem.no_solution_message())
    return problem.result(outcome, algorithm)


class _Problem:
    """Validated, encoded input plus the lattice and checker of one anonymization."""

    def __init__(self, df: pd.DataFrame, quasi_identifiers: Mapping[str, Hierarchy],
                 criteria: Sequence[Criterion], suppression_limit: float, metric: str | Metric,
                 individual_id: str | None, subset: SubsetLike | None = None) -> None:
        self.sensitive = _validate(df, quasi_identifiers, criteria, suppression_limit, individual_id)
        _validate_subset(criteria, subset, individual_id)
        self.metric = metric if isinstance(metric, Metric) else create_metric(metric)
        self.rows = None if subset is None else match_subset(df, subset)
        self.df = df if self.rows is None else df.iloc[self.rows]
        self.input_df = df
        self.qis = list(quasi_identifiers)
        self.hierarchies = [_as_hierarchy(quasi_identifiers[c], c) for c in self.qis]
        self.individual_id = individual_id
        self.space = self._encode()
        self.metric.prepare(self.space)
        for criterion in criteria:
            criterion.prepare(self.space)
        self.lattice = Lattice(self.space.depths)
        self.checker = NodeChecker(self.space, criteria, suppression_limit, self.metric)

    def _encode(self) -> Space:
        leaves = []
        for column, hierarchy in zip(self.qis, self.hierarchies, strict=True):
            raw, merged, labels = factorize_strings(self.input_df[column])
            leaves.append(hierarchy.leaf_codes(labels)[merged].take(raw))
        sensitive = encode_column(self.df[self.sensitive], self.sensitive) if self.sensitive else None
        people = encode_column(self.df[self.individual_id], self.individual_id) if self.individual_id else None
        if self.rows is None:
            return Space(leaves, self.hierarchies, sensitive, people)
        space = Space([codes[self.rows] for codes in leaves], self.hierarchies, sensitive, people)
        space.input = InputTable(leaves, self.hierarchies, self.rows, space.row_cell, space.n_cells)
        space.input_rows = len(self.input_df)
        return space

    def no_solution_message(self) -> str:
        top = self.checker.check(self.lattice.node(self.lattice.top))
        return (f"no transformation satisfies the criteria: even the most general one suppresses "
                f"{top.suppressed} of {self.space.n_rows} rows, at most {self.checker.allowed} allowed")

    def result(self, outcome: SearchOutcome, algorithm: str) -> Result:
        levels, record = outcome.levels, outcome.record
        if levels is None or record is None or record.metric is None:
            raise NoSolutionError(self.no_solution_message())
        view = self.checker.classes(levels)
        row_class = view.source_class[self.space.row_cell]
        kept_rows = np.flatnonzero(view.kept[row_class])
        search = SearchStatistics(algorithm, outcome.lattice_size, outcome.nodes_checked,
                                  outcome.nodes_tagged, outcome.elapsed_s)
        return Result(
            data=self._output(levels, kept_rows), levels=dict(zip(self.qis, levels, strict=True)),
            metric=self.metric.name, info_loss=float(record.metric), rows_in=self.space.input_rows,
            subset_rows=None if self.rows is None else self.space.n_rows,
            suppressed_rows=view.suppressed, classes=_class_statistics(view),
            risk=self._risk(view, row_class, kept_rows), search=search,
            metric_options={k: v for k, v in self.metric.describe().items() if k != "name"},
        )

    def _output(self, levels: tuple[int, ...], kept_rows: np.ndarray) -> pd.DataFrame:
        source = self.df if len(kept_rows) == len(self.df) else self.df.iloc[kept_rows]
        cells = self.space.row_cell[kept_rows]
        generalized = {}
        for a, (column, hierarchy, level) in enumerate(zip(self.qis, self.hierarchies, levels, strict=True)):
            if level > 0:
                labels = np.asarray(hierarchy.labels[level], dtype=object)
                # Label codes through the cells (integer gathers), then one object gather per row.
                per_cell = hierarchy.codes[:, level].take(self.space.leaf_columns[a])
                generalized[column] = labels.take(per_cell.take(cells))
        # One new frame: generalized columns as built, the others copied, so nothing is shared
        # with df (hence copy=False: the frame may take the arrays as they are).
        columns = {column: generalized[column] if column in generalized else source[column].copy()
                   for column in source.columns}
        return pd.DataFrame(columns, index=source.index.copy(), columns=source.columns, copy=False)

    def _risk(self, view: ClassView, row_class: np.ndarray, kept_rows: np.ndarray) -> RiskStatistics:
        if len(kept_rows) == 0:
            return RiskStatistics("individuals" if self.individual_id else "rows", 0.0, 0.0)
        if self.individual_id is None:
            sizes = view.sizes[view.kept]
            return RiskStatistics("rows", float(1 / sizes.min()), float(len(sizes) / sizes.sum()))
        row_risk = 1.0 / view.population[row_class[kept_rows]]
        people = self.space.individual_cells()[self.space.row_cell[kept_rows]]
        per_person = pd.Series(row_risk).groupby(people).max()
        return RiskStatistics("individuals", float(per_person.max()), float(per_person.mean()))


def _class_statistics(view: ClassView) -> ClassStatistics:
    sizes = view.sizes[view.kept]
    if len(sizes) == 0:
        return ClassStatistics(0, 0, 0, 0.0, {})
    values, counts = np.unique(sizes, return_counts=True)
    distribution = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    return ClassStatistics(len(sizes), int(sizes.min()), int(sizes.max()), float(sizes.mean()), distribution)


def _as_hierarchy(hierarchy: object, column: str) -> Hierarchy:
    if not isinstance(hierarchy, Hierarchy):
        raise TypeError(f"quasi-identifier {column!r} needs a Hierarchy, got {type(hierarchy).__name__}")
    return hierarchy.named(column)


def _missing(df: pd.DataFrame, names: Sequence[str]) -> list[str]:
    return [n for n in names if n not in df.columns]


def _validate(df: pd.DataFrame, quasi_identifiers: Mapping[str, Hierarchy], criteria: Sequence[Criterion],
              suppression_limit: float, individual_id: str | None) -> str | None:
    """Check the arguments; returns the sensitive column (or None)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if not quasi_identifiers:
        raise ValueError("at least one quasi-identifier is required")
    if missing := _missing(df, list(quasi_identifiers)):
        raise ValueError(f"unknown quasi-identifier column(s): {quote_list(missing)}")
    if not criteria:
        raise ValueError("at least one privacy criterion is required")
    if bad := [c for c in criteria if not isinstance(c, Criterion)]:
        raise TypeError(f"criteria must be Criterion instances, got {quote_list(bad)}")
    _validate_limit(suppression_limit)
    _validate_individual(df, quasi_identifiers, individual_id)
    sensitive = _validate_sensitive(df, quasi_identifiers, criteria, individual_id)
    if len(df) == 0:
        raise ValueError("the table has no rows")
    return sensitive


def _validate_subset(criteria: Sequence[Criterion], subset: SubsetLike | None, individual_id: str | None) -> None:
    if subset is None:
        if needing := [type(c).__name__ for c in criteria if c.needs_subset]:
            raise ValueError(f"{', '.join(needing)} need(s) a research subset: pass subset=...")
    elif individual_id is not None:
        raise ValueError("a research subset cannot be combined with individual_id")


def _validate_limit(limit: float) -> None:
    if isinstance(limit, bool) or not isinstance(limit, (int, float, np.number)) or not 0 <= limit <= 1:
        raise ValueError(f"suppression_limit must be a fraction between 0 and 1, got {limit!r}")


def _validate_individual(df: pd.DataFrame, quasi_identifiers: Mapping[str, Hierarchy], column: str | None) -> None:
    if column is None:
        return
    if column not in df.columns:
        raise ValueError(f"unknown individual id column: {column!r}")
    if column in quasi_identifiers:
        raise ValueError(f"individual id column {column!r} is also a quasi-identifier")


def _validate_sensitive(df: pd.DataFrame, quasi_identifiers: Mapping[str, Hierarchy],
                        criteria: Sequence[Criterion], individual_id: str | None) -> str | None:
    names = list(dict.fromkeys(c.sensitive for c in criteria if c.sensitive is not None))
    if missing := _missing(df, names):
        raise ValueError(f"unknown sensitive column(s): {quote_list(missing)}")
    if overlap := [n for n in names if n in quasi_identifiers or n == individual_id]:
        raise ValueError(f"sensitive column(s) also used as quasi-identifier or individual id: {quote_list(overlap)}")
    if len(names) > 1:
        raise ValueError(f"all criteria must use the same sensitive column, got {quote_list(names)}")
    return names[0] if names else None

