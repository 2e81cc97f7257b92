"""Quality metrics (information loss; lower is better).

Notation: ``N`` input rows, ``d`` quasi-identifiers, ``E`` an equivalence class, ``s`` the
suppressed rows (those in classes failing the criteria), ``l_a`` the level of attribute ``a`` and
``D_a`` its number of levels.

A metric is *monotonic* when a generalization never scores better than a specialization. All six
are monotonic without suppression. With suppression only ``height`` and ``dm`` stay monotonic: the
others charge a suppressed row as fully generalized, and generalizing can release suppressed rows.
The search reads the class attributes ``monotonic`` (no suppression) and
``monotonic_with_suppression``; for non-monotonic settings it evaluates every anonymous node
whose :meth:`Metric.lower_bounds` does not exceed the best value found.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .space import ClassView, Space

__all__ = ["Metric", "METRICS", "create_metric", "register"]

METRICS: dict[str, type[Metric]] = {}


def register(cls: type[Metric]) -> type[Metric]:
    """Class decorator adding a metric to :data:`METRICS` under its ``name``."""
    METRICS[cls.name] = cls
    return cls


def create_metric(name: str) -> Metric:
    """Instantiate a registered metric; ``ValueError`` lists the known names."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of: {', '.join(sorted(METRICS))}")
    return METRICS[name]()


class Metric:
    """Strategy interface. Subclasses implement :meth:`_evaluate` (and optionally
    :meth:`_prepare` and :meth:`lower_bounds`)."""

    name: ClassVar[str]
    #: No generalization scores better than its specializations (without suppression).
    monotonic: ClassVar[bool] = True
    #: The same, when classes failing the criteria are suppressed.
    monotonic_with_suppression: ClassVar[bool] = False

    def is_monotonic(self, suppression: bool) -> bool:
        return self.monotonic_with_suppression if suppression else self.monotonic

    def prepare(self, space: Space) -> None:
        """Bind to an encoded input (called once per search, before any evaluation)."""
        self.space = space
        self.n_rows = space.n_rows
        self.d = space.d
        self._prepare(space)

    def _prepare(self, space: Space) -> None:
        """Precompute per-level tables."""

    def evaluate(self, view: ClassView) -> float:
        """Information loss of one node given its classes and which of them are kept."""
        return float(self._evaluate(view))

    def _evaluate(self, view: ClassView) -> float:
        raise NotImplementedError("subclasses of Metric must provide _evaluate()")

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        """For each level vector (rows of ``levels``), a value no larger than the metric of that
        node under any suppression, and no larger than the bound of any generalization (the
        search prunes a node together with its generalizations on it). Default: ``-inf``."""
        return np.full(len(levels), -np.inf)

    def _distinct_bound(self, levels: np.ndarray) -> np.ndarray:
        """``min(N, prod_a distinct_a(l_a))``: an upper bound on the number of classes."""
        distinct = self.space.distinct_per_level()
        product = np.ones(len(levels), dtype=np.float64)
        for a in range(self.d):
            product *= distinct[a][levels[:, a]]
        return np.minimum(product, self.n_rows)


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
class Precision(Metric):
    """Sweeney's precision as a loss: ``1/(N d) sum_rows sum_a h(row, a)`` with
    ``h = l_a / (D_a - 1)`` for a kept row (0 for a single-level attribute) and ``h = 1`` for a
    suppressed row. Monotonic without suppression only. Bound: the value with ``s = 0``."""

    name = "precision"

    def _prepare(self, space: Space) -> None:
        self._tops = np.maximum(np.asarray(space.depths) - 1, 1).astype(np.float64)

    def _evaluate(self, view: ClassView) -> float:
        share = float((np.asarray(view.levels) / self._tops).sum()) / self.d
        suppressed = view.suppressed / self.n_rows
        return (1 - suppressed) * share + suppressed

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        return (levels / self._tops).sum(axis=1) / self.d


@register
class Loss(Metric):
    """ARX 3.9's "Loss" (domain share), number for number.

    For attribute ``a`` with ``n_a`` hierarchy rows, a value generalized to ``g`` has share
    ``leaves(g) / n_a``; ``S_a`` sums the shares over all rows, a suppressed row counting 1;
    ``L_a = max(0, (S_a - N/n_a) / (N - N/n_a))`` truncated to 10 decimals (0 when ``n_a = 1``).
    Reported: ``prod_a (1 + L_a)^(1/d) - 1``. Monotonic without suppression only.
    Bound: the value with ``s = 0`` (a suppressed row's share 1 is the largest share).
    """

    name = "loss"

    def _prepare(self, space: Space) -> None:
        self._leaves = space.flat_values([h.leaf_counts for h in space.hierarchies]).astype(np.int64)
        self._domain = np.array([len(h) for h in space.hierarchies], dtype=np.int64)
        no_suppression = space.level_sums(self._leaves)
        self._level_loss = [self._attribute_loss(sums, a, 0) for a, sums in enumerate(no_suppression)]

    def _attribute_loss(self, leaf_sums: np.ndarray, a: int, suppressed: int) -> np.ndarray:
        n, rows = int(self._domain[a]), self.n_rows
        if n == 1:
            return np.zeros(np.shape(leaf_sums))
        share = np.asarray(leaf_sums) / n + suppressed
        loss = np.maximum(0.0, (share - rows / n) / (rows - rows / n))
        return np.floor(loss * 1e10) / 1e10

    def _aggregate(self, losses: np.ndarray) -> np.ndarray:
        return np.prod(1.0 + losses, axis=-1) ** (1.0 / self.d) - 1.0

    def _evaluate(self, view: ClassView) -> float:
        sums = view.kept_weighted_sums(self._leaves)
        suppressed = view.suppressed
        losses = np.array([self._attribute_loss(sums[a], a, suppressed) for a in range(self.d)])
        return float(self._aggregate(losses))

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        losses = np.stack([self._level_loss[a][levels[:, a]] for a in range(self.d)], axis=1)
        return self._aggregate(losses)


@register
class NonUniformEntropy(Metric):
    """Non-uniform entropy: ``sum_a sum_rows -log2 P(original | generalized)``, where
    ``P = count_a(original) / count_a(generalized)`` over the input column. A suppressed row is
    charged as generalized to the whole domain (``P = count_a(original) / N``).
    Equivalently ``sum_a (sum_kept |E| log2 count_a(g_E) + s log2 N - C_a)`` with
    ``C_a = sum_rows log2 count_a(original)``. Monotonic without suppression only.
    Bound: the value with ``s = 0``."""

    name = "entropy"

    def _prepare(self, space: Space) -> None:
        self._log_counts = np.log2(space.code_counts)
        sums = space.level_sums(self._log_counts)
        self._originals = np.array([s[0] for s in sums])
        self._level_cost = [s - s[0] for s in sums]

    def _evaluate(self, view: ClassView) -> float:
        kept = view.kept_weighted_sums(self._log_counts)
        charged = view.suppressed * math.log2(self.n_rows)
        return float(np.sum(kept + charged - self._originals))

    def lower_bounds(self, levels: np.ndarray) -> np.ndarray:
        return sum(self._level_cost[a][levels[:, a]] for a in range(self.d)) * (1 - 1e-12) - 1e-9
