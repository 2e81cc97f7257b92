"""Quality metrics (information loss; lower is better).

Notation: ``N`` input rows, ``d`` quasi-identifiers, ``E`` an equivalence class, ``s`` the
suppressed rows (those in classes failing the criteria), ``l_a`` the level of attribute ``a`` and
``D_a`` its number of levels.

A metric is *monotonic* when a generalization never scores better than a specialization. All
metrics are monotonic without suppression. With suppression, the metrics that charge a suppressed
row by its generalization only (``height``, ``dm``, ``entropy``, ``precision-monotonic``) stay
monotonic; the others charge suppression separately, and generalizing can release suppressed rows.
The search reads the class attributes ``monotonic`` (no suppression) and
``monotonic_with_suppression``; for non-monotonic settings it evaluates every anonymous node
whose :meth:`Metric.lower_bounds` does not exceed the best value found.

Options (as ARX 3.9), for the metrics whose ``options`` name them:

* ``gs_factor`` in [0, 1] (default 0.5) balances generalization against suppression: the
  generalization part is multiplied by ``g = 1`` if ``gs <= 0.5`` else ``1 - 2 (gs - 0.5)``, the
  suppression part by ``f = 2 gs`` if ``gs < 0.5`` else ``1``.
* ``weights``: column -> weight >= 0 (a column not named weighs 0.5); divided by the largest
  (all ones when every weight is 0).
* ``aggregate`` of the per-attribute values ``v_a`` with normalized weights ``w_a``: ``sum``
  ``sum_a w_a v_a``; ``max`` ``max_a w_a v_a``; ``arithmetic-mean`` ``sum_a w_a v_a / d``;
  ``geometric-mean`` ``prod_a ((1 + v_a) w_a)^(1/d) - 1``; ``rank``: the vector ``w_a v_a`` sorted
  in descending order, compared lexicographically (reported: its first, largest, entry).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .lattice import Lattice
    from .space import ClassView, Space

__all__ = ["Metric", "METRICS", "AGGREGATES", "create_metric", "register"]

METRICS: dict[str, type[Metric]] = {}
AGGREGATES = ("sum", "max", "arithmetic-mean", "geometric-mean", "rank")
#: Weight of a quasi-identifier the caller did not weigh (ARX's default attribute weight).
DEFAULT_WEIGHT = 0.5


def register(cls: type[Metric]) -> type[Metric]:
    """Class decorator adding a metric to :data:`METRICS` under its ``name``."""
    METRICS[cls.name] = cls
    return cls


def create_metric(name: str, **options: object) -> Metric:
    """Instantiate a registered metric with its options; ``ValueError`` lists the known names."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of: {', '.join(sorted(METRICS))}")
    return METRICS[name](**options)  # type: ignore[arg-type]


def truncate(values: np.ndarray | float) -> np.ndarray:
    """Cut to 10 decimals, as ARX 3.9 rounds each attribute's value."""
    return np.floor(np.asarray(values, dtype=np.float64) * 1e10) / 1e10


class Metric:
    """Strategy interface. Subclasses implement :meth:`_evaluate` (and optionally
    :meth:`_prepare` and :meth:`lower_bounds`), or, for per-attribute metrics,
    :meth:`_components` and :meth:`_component_bounds` aggregated by the ``aggregate`` option."""

    name: ClassVar[str]
    #: No generalization scores better than its specializations (without suppression).
    monotonic: ClassVar[bool] = True
    #: The same, when classes failing the criteria are suppressed.
    monotonic_with_suppression: ClassVar[bool] = False
    #: Options accepted: a subset of {"gs_factor", "weights", "aggregate"}.
    options: ClassVar[frozenset[str]] = frozenset()
    #: Aggregate function of per-attribute metrics (ARX's default for the metric).
    default_aggregate: ClassVar[str] = "sum"

    def __init__(self, *, gs_factor: float | None = None, weights: Mapping[str, float] | None = None,
                 aggregate: str | None = None) -> None:
        given = {"gs_factor": gs_factor, "weights": weights, "aggregate": aggregate}
        if unsupported := sorted(k for k, v in given.items() if v is not None and k not in self.options):
            raise ValueError(f"metric {self.name!r} has no option {', '.join(unsupported)}")
        self.gs_factor = _gs_factor(gs_factor)
        self.weights = _weights(weights)
        self.aggregate = _aggregate(aggregate, self.default_aggregate)
        self.g_factor = 1.0 if self.gs_factor <= 0.5 else 1.0 - 2.0 * (self.gs_factor - 0.5)
        self.s_factor = 2.0 * self.gs_factor if self.gs_factor < 0.5 else 1.0

    def is_monotonic(self, suppression: bool) -> bool:
        return self.monotonic_with_suppression if suppression else self.monotonic

    def prepare(self, space: Space) -> None:
        """Bind to an encoded input (called once per search, before any evaluation)."""
        self.space = space
        self.n_rows = space.n_rows
        self.d = space.d
        self._weight_vector = self._normalized_weights([h.name or "" for h in space.hierarchies])
        self._bound_terms: list[np.ndarray] | None = None
        self._prepare(space)

    def _normalized_weights(self, columns: list[str]) -> np.ndarray:
        if unknown := sorted(set(self.weights) - set(columns)):
            raise ValueError(f"weight given for column(s) that are not quasi-identifiers: {', '.join(unknown)}")
        raw = np.array([self.weights.get(c, DEFAULT_WEIGHT) for c in columns], dtype=np.float64)
        top = raw.max() if len(raw) else 0.0
        return np.ones(len(raw)) if top == 0 else raw / top

    def _prepare(self, space: Space) -> None:
        """Precompute per-level tables."""

    def evaluate(self, view: ClassView) -> float:
        """Information loss of one node given its classes and which of them are kept."""
        return self.score(view)[0]

    def score(self, view: ClassView) -> tuple[float, tuple[float, ...] | None]:
        """(information loss, rank vector): the vector orders nodes when ``aggregate="rank"``."""
        if "aggregate" not in self.options:
            return float(self._evaluate(view)), None
        components = np.asarray(self._components(view), dtype=np.float64)
        if self.aggregate == "rank":
            ranked = tuple(float(v) for v in np.sort(components * self._weight_vector)[::-1])
            return ranked[0], ranked
        return float(self._combine(components)), None

    def _evaluate(self, view: ClassView) -> float:
        raise NotImplementedError("subclasses of Metric must provide _evaluate()")

    def _components(self, view: ClassView) -> np.ndarray:
        raise NotImplementedError("per-attribute metrics must provide _components()")

    def _component_bounds(self, levels: np.ndarray) -> np.ndarray:
        """Per node (row) and attribute, a lower bound of the component (default 0). The bound of
        attribute ``a`` must depend on ``l_a`` alone (:meth:`lower_bounds` tabulates it per level)."""
        return np.zeros(levels.shape, dtype=np.float64)

    def _terms(self, values: np.ndarray, weights: np.ndarray | float) -> np.ndarray:
        """The aggregate's per-attribute terms (elementwise), before :meth:`_reduce`."""
        if self.aggregate in ("sum", "max", "rank"):
            return values * weights
        if self.aggregate == "arithmetic-mean":
            return values / self.d * weights
        return ((values + 1.0) * weights) ** (1.0 / self.d)

    def _reduce(self, terms: np.ndarray) -> np.ndarray:
        """Combine the terms of :meth:`_terms` over the last axis."""
        if self.aggregate in ("sum", "arithmetic-mean"):
            return terms.sum(axis=-1)
        if self.aggregate in ("max", "rank"):
            return terms.max(axis=-1)
        return np.prod(terms, axis=-1) - 1.0

    def _combine(self, values: np.ndarray) -> np.ndarray:
        """Aggregate per-attribute values (last axis) with the normalized weights."""
        return self._reduce(self._terms(values, self._weight_vector))

    def _bound_term_tables(self) -> list[np.ndarray]:
        """Per attribute, the aggregate's term of the component bound at each level (computed once)."""
        if self._bound_terms is None:
            depths = np.asarray(self.space.depths, dtype=np.int64)
            grid = np.minimum(np.arange(int(depths.max()))[:, None], depths - 1)
            bounds = np.asarray(self._component_bounds(grid), dtype=np.float64)
            self._bound_terms = [self._terms(bounds[:depth, a], self._weight_vector[a])
                                 for a, depth in enumerate(depths.tolist())]
        return self._bound_terms

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        """For each level vector (rows of ``levels``), a value no larger than the metric of that
        node under any suppression, and no larger than the bound of any generalization (the
        search prunes a node together with its generalizations on it). Default: ``-inf``.
        Per-attribute metrics aggregate their component bounds (every aggregate is
        non-decreasing in each component; for ``rank`` the bound is on the first entry)."""
        if "aggregate" in self.options:
            terms = np.empty(levels.shape, dtype=np.float64)
            for a, table in enumerate(self._bound_term_tables()):
                terms[:, a] = table[levels[:, a]]
            return np.asarray(self._reduce(terms), dtype=np.float64)
        return np.full(len(levels), -np.inf)

    def lattice_bounds(self, lattice: Lattice) -> np.ndarray:
        """:meth:`lower_bounds` of every node of the lattice, in flat (C) order.
        A product or maximum of per-attribute terms is built as an outer product over the grid
        (the same operations in the same order as :meth:`lower_bounds`, hence the same values);
        otherwise it is :meth:`lower_bounds` of every level vector."""
        if "aggregate" in self.options and self.aggregate in ("geometric-mean", "max", "rank"):
            combine = np.multiply if self.aggregate == "geometric-mean" else np.maximum
            grid = np.asarray(self._bound_term_tables()[0], dtype=np.float64)
            for table in self._bound_term_tables()[1:]:
                grid = combine.outer(grid, table)
            flat = grid.ravel()
            return flat - 1.0 if self.aggregate == "geometric-mean" else flat
        return np.asarray(self.lower_bounds(lattice.levels.astype(np.int64)), dtype=np.float64)

    def _distinct_bound(self, levels: np.ndarray) -> np.ndarray:
        """``min(N, prod_a distinct_a(l_a))``: an upper bound on the number of classes."""
        distinct = self.space.distinct_per_level()
        product = np.ones(len(levels), dtype=np.float64)
        for a in range(self.d):
            product *= distinct[a][levels[:, a]]
        return np.minimum(product, self.n_rows)

    def describe(self) -> dict[str, object]:
        """The metric's name and options (for reports)."""
        out: dict[str, object] = {"name": self.name}
        if "gs_factor" in self.options:
            out["gs_factor"] = self.gs_factor
        if "aggregate" in self.options:
            out["aggregate"] = self.aggregate
            if self.weights:
                out["weights"] = dict(self.weights)
        return out


def _gs_factor(value: object) -> float:
    if value is None:
        return 0.5
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
        raise ValueError(f"gs_factor must be a number between 0 and 1, got {value!r}")
    return float(value)


def _weights(value: Mapping[str, float] | None) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"weights must map column names to numbers, got {value!r}")
    out = {}
    for column, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) \
                or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {column!r} must be a number >= 0, got {weight!r}")
        out[str(column)] = float(weight)
    return out


def _aggregate(value: str | None, default: str) -> str:
    if value is None:
        return default
    if value not in AGGREGATES:
        raise ValueError(f"unknown aggregate {value!r}; choose one of: {', '.join(AGGREGATES)}")
    return value


@register
class Height(Metric):
    """``sum_a l_a``: the height of the node in the lattice. Monotonic, also with suppression."""

    name = "height"
    monotonic_with_suppression = True

    def _evaluate(self, view: ClassView) -> float:
        return sum(view.levels)

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        return levels.sum(axis=1).astype(np.float64)


@register
class Discernibility(Metric):
    """DM*: ``sum_E |E|^2`` over all classes, suppressed classes counted with their own ``|E|^2``
    (as ARX 3.9; no ``N * |E|`` penalty). Merging classes raises it, so it is monotonic, also
    with suppression. Bound: ``N^2 / min(N, prod_a distinct_a)`` (Cauchy-Schwarz)."""

    name = "dm"
    monotonic_with_suppression = True

    def _evaluate(self, view: ClassView) -> float:
        return float(int(view.sizes @ view.sizes))

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        return np.floor(float(self.n_rows) ** 2 / self._distinct_bound(levels) * (1 - 1e-12))


@register
class AverageClassSize(Metric):
    """AECS: ``N / (kept classes + 1 if s > 0)``: the suppressed rows count as one class.
    Monotonic without suppression only. Bound: ``N / min(N, prod_a distinct_a)``."""

    name = "aecs"

    def _evaluate(self, view: ClassView) -> float:
        classes = int(view.kept.sum()) + (1 if view.suppressed else 0)
        return self.n_rows / classes

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        return self.n_rows / self._distinct_bound(levels) * (1 - 1e-12)


@register
class NonMonotonicDiscernibility(Discernibility):
    """DM: ``sum_kept |E|^2 + s N``: a suppressed row is charged the whole table (ARX 3.9's
    non-monotonic discernibility). Monotonic without suppression only (it equals DM* then).
    Bound: DM*'s bound (``|E|^2 <= |E| N``)."""

    name = "dm-nonmonotonic"
    monotonic_with_suppression = False

    def _evaluate(self, view: ClassView) -> float:
        kept = view.sizes[view.kept]
        return float(int(kept @ kept) + view.suppressed * self.n_rows)


@register
class Precision(Metric):
    """Sweeney's precision as a loss, per attribute ``v_a = 1/N sum_rows h(row, a)`` with
    ``h = l_a / (D_a - 1)`` for a kept row (0 for a single-level attribute) and ``h = 1`` for a
    suppressed row; aggregated by the arithmetic mean (default). Monotonic without suppression
    only. Bound: the value with ``s = 0``."""

    name = "precision"
    options = frozenset({"weights", "aggregate"})
    default_aggregate = "arithmetic-mean"

    def _prepare(self, space: Space) -> None:
        self._tops = np.maximum(np.asarray(space.depths) - 1, 1).astype(np.float64)

    def _components(self, view: ClassView) -> np.ndarray:
        suppressed = view.suppressed / self.n_rows
        return (1 - suppressed) * (np.asarray(view.levels) / self._tops) + suppressed

    def _component_bounds(self, levels: np.ndarray) -> np.ndarray:
        return levels / self._tops


@register
class MonotonicPrecision(Precision):
    """Precision with a suppressed row charged by its generalization only (ARX 3.9's monotonic
    precision): ``v_a = l_a / (D_a - 1)``. Depends on the levels only, so it is monotonic, also
    with suppression; the bound is the value."""

    name = "precision-monotonic"
    monotonic_with_suppression = True

    def _components(self, view: ClassView) -> np.ndarray:
        return np.asarray(view.levels) / self._tops


@register
class Loss(Metric):
    """ARX 3.9's "Loss" (domain share), number for number.

    For attribute ``a`` with ``n_a`` hierarchy rows, a value generalized to ``g`` has share
    ``leaves(g) / n_a``. ``S_a`` sums ``g_f * share`` over kept rows and ``share + f (1 - share)``
    over suppressed rows (``g_f``, ``f``: the gs-factor's generalization and suppression factors;
    1 and 1 by default, so a suppressed row counts 1); ``m_a = g_f N / n_a``;
    ``v_a = max(0, (S_a - m_a) / (N - m_a))`` truncated to 10 decimals (0 when ``n_a = 1``).
    Aggregated by the geometric mean (default): ``prod_a (1 + v_a)^(1/d) - 1``. Monotonic without
    suppression only. Bound: ``S_a`` with ``g_f * share`` for every row (a suppressed row's charge
    is at least that).
    """

    name = "loss"
    options = frozenset({"gs_factor", "weights", "aggregate"})
    default_aggregate = "geometric-mean"

    def _prepare(self, space: Space) -> None:
        self._leaves = space.flat_values([h.leaf_counts for h in space.hierarchies]).astype(np.int64)
        self._domain = np.array([len(h) for h in space.hierarchies], dtype=np.int64)
        # Per attribute and level, the leaves summed over every row (whole numbers, exact in
        # float64): the kept rows' sum is this minus the suppressed rows' (usually few classes).
        self._all_rows = space.level_sums(self._leaves)
        self._level_loss = [self._normalize(self.g_factor * sums / self._domain[a], a)
                            for a, sums in enumerate(self._all_rows)]
        # For the per-node values: each attribute's lowest charge and its span (0 when n_a = 1).
        self._low = self.g_factor * self.n_rows / self._domain
        self._single = self._domain == 1
        # Without suppression a node's values depend on its levels alone: tabulated per level with
        # the very operations of _values (so the same numbers).
        self._unsuppressed = [self._values(self.g_factor * (sums / self._domain[a]), a)
                              for a, sums in enumerate(self._all_rows)]

    def _values(self, charged: np.ndarray, a: int | slice) -> np.ndarray:
        """``v_a`` from the charged sum ``S_a`` (of attribute ``a``, or of all with a slice)."""
        with np.errstate(divide="ignore", invalid="ignore"):  # n_a = 1 spans nothing; set to 0 below
            values = truncate(np.maximum(0.0, (charged - self._low[a]) / (self.n_rows - self._low[a])))
        return np.where(self._single[a], 0.0, values)

    def _normalize(self, charged: np.ndarray, a: int) -> np.ndarray:
        n, rows = int(self._domain[a]), self.n_rows
        if n == 1:
            return np.zeros(np.shape(charged))
        low = self.g_factor * rows / n
        return truncate(np.maximum(0.0, (np.asarray(charged) - low) / (rows - low)))

    def _components(self, view: ClassView) -> np.ndarray:
        suppressed = view.suppressed
        if not suppressed:
            return np.array([self._unsuppressed[a][level] for a, level in enumerate(view.levels)])
        all_rows = np.array([self._all_rows[a][level] for a, level in enumerate(view.levels)])
        suppressed_sums = view.suppressed_weighted_sums(self._leaves)
        charged = self.g_factor * ((all_rows - suppressed_sums) / self._domain)
        if self.s_factor == 1.0:
            charged = charged + suppressed
        else:
            suppressed_shares = suppressed_sums / self._domain
            charged = charged + suppressed_shares + self.s_factor * (suppressed - suppressed_shares)
        return self._values(charged, slice(None))

    def _component_bounds(self, levels: np.ndarray) -> np.ndarray:
        return np.stack([self._level_loss[a][levels[:, a]] for a in range(self.d)], axis=1)


@register
class NonUniformEntropy(Metric):
    """Non-uniform entropy, ARX 3.9's monotonic variant (MetricMDNUEntropyPrecomputed).

    Per attribute ``v_a = g_f sum_rows log2(count_a(generalized) / count_a(original))`` over *all*
    rows: a suppressed row is charged by its generalization only, so the value depends on the
    levels alone. Truncated to 10 decimals per attribute, aggregated by the sum (default).
    Monotonic, also with suppression; the bound is the value."""

    name = "entropy"
    monotonic_with_suppression = True
    options = frozenset({"gs_factor", "weights", "aggregate"})

    def _prepare(self, space: Space) -> None:
        sums = space.level_sums(np.log2(space.code_counts))
        self._level_cost = [truncate(self.g_factor * (s - s[0])) for s in sums]

    def _components(self, view: ClassView) -> np.ndarray:
        return np.array([self._level_cost[a][level] for a, level in enumerate(view.levels)])

    def _component_bounds(self, levels: np.ndarray) -> np.ndarray:
        return np.stack([self._level_cost[a][levels[:, a]] for a in range(self.d)], axis=1)


@register
class NonMonotonicEntropy(NonUniformEntropy):
    """Non-uniform entropy, ARX 3.9's non-monotonic variant (MetricMDNUNMEntropyPrecomputed):
    the monotonic value plus, for the suppressed rows as one group,
    ``f sum_g c_g log2(s / c_g)`` where ``c_g`` counts the suppressed rows whose attribute ``a``
    is generalized to ``g`` at the node and ``f`` is the gs-factor's suppression factor.
    Monotonic without suppression only. Bound: the monotonic value."""

    name = "entropy-nonmonotonic"
    monotonic_with_suppression = False

    def _prepare(self, space: Space) -> None:
        sums = space.level_sums(np.log2(space.code_counts))
        self._level_raw = [self.g_factor * (s - s[0]) for s in sums]
        self._level_cost = [truncate(raw) for raw in self._level_raw]

    def _components(self, view: ClassView) -> np.ndarray:
        raw = np.array([self._level_raw[a][level] for a, level in enumerate(view.levels)])
        suppressed = view.suppressed
        if suppressed:
            for a, counts in enumerate(view.suppressed_code_counts()):
                raw[a] += self.s_factor * float(counts @ np.log2(suppressed / counts))
        return truncate(raw)
