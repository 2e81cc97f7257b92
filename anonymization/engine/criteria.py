"""Privacy criteria.

Each criterion is a predicate on one equivalence class (the rows sharing all generalized
quasi-identifier values). A class failing any criterion is suppressed (removed from the output);
a transformation is acceptable iff the suppressed rows are at most ``suppression_limit * N``.

Monotonicity (what predictive tagging may rely on). Generalizing merges classes, so:

* a criterion that is *union-closed* (``P(A)`` implies ``P(A u B)`` for any class ``B``) keeps
  every row it accepted, hence the suppressed rows can only shrink: it is monotonic with and
  without suppression. True for k-anonymity (rows or distinct individuals) and distinct-l-diversity.
* entropy-l-diversity and t-closeness are only *merge-closed* (``P(A)`` and ``P(B)`` imply
  ``P(A u B)``, by concavity of entropy and convexity of the earth mover's distance). Without
  suppression every class passes, so they are monotonic; with suppression a passing class merged
  with a failing one may fail, so they are not, and the search does not tag by prediction for them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .space import ClassView, Space

__all__ = ["Criterion", "KAnonymity", "DistinctLDiversity", "EntropyLDiversity", "TCloseness"]

#: Slack for floating-point comparisons of entropies and distances.
TOLERANCE = 1e-12


class Criterion:
    """Strategy interface: :meth:`evaluate` returns one bool per equivalence class.

    Subclasses implement :meth:`_evaluate` (and optionally :meth:`prepare`). The search reads the
    class attributes ``monotonic`` (without suppression) and ``monotonic_with_suppression``, as it
    does for :class:`~.metrics.Metric`, to decide which criteria it may tag by prediction.
    """

    #: "Node passes" implies "every generalization passes" when no row may be suppressed.
    monotonic: ClassVar[bool] = True
    #: The same when failing classes are suppressed: true for union-closed criteria.
    monotonic_with_suppression: ClassVar[bool] = False
    #: The sensitive column this criterion reads, if any.
    sensitive: str | None = None

    def is_monotonic(self, suppression: bool) -> bool:
        """Return whether "node passes" implies "every generalization passes" in this setting."""
        return self.monotonic_with_suppression if suppression else self.monotonic

    def predictable(self, suppression: bool) -> bool:
        """Return :meth:`is_monotonic` (the name the search used before criteria mirrored metrics)."""
        return self.is_monotonic(suppression)

    def prepare(self, space: Space) -> None:
        """Precompute whatever depends on the whole input table (called once per search)."""

    def evaluate(self, view: ClassView) -> np.ndarray:
        """Return a boolean array: which classes of the view satisfy this criterion."""
        return np.asarray(self._evaluate(view), dtype=bool)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        raise NotImplementedError("subclasses of Criterion must provide _evaluate()")

    def class_ok(self, view: ClassView) -> np.ndarray:
        """Return :meth:`evaluate` (the name callers used before criteria mirrored metrics)."""
        return self.evaluate(view)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class KAnonymity(Criterion):
    """Every released class holds at least ``k`` rows.

    When the search has an ``individual_id`` column, the class must hold at least ``k`` distinct
    individuals instead (for tables with many rows per person, such as transactions).
    """

    monotonic_with_suppression = True

    def __init__(self, k: int) -> None:
        self.k = _positive_int("k", k)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        return view.population >= self.k


class DistinctLDiversity(Criterion):
    """Every released class holds at least ``l`` distinct values of the sensitive column."""

    monotonic_with_suppression = True

    def __init__(self, column: str, l: int) -> None:  # noqa: E741 - the criterion's name
        self.sensitive = column
        self.l = _positive_int("l", l)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        pair_class, _, _ = view.sensitive_pairs
        return np.bincount(pair_class, minlength=view.n_classes) >= self.l


class EntropyLDiversity(Criterion):
    """Every released class has sensitive-value entropy ``-sum p log p >= log l``."""

    def __init__(self, column: str, l: float) -> None:  # noqa: E741
        if isinstance(l, bool) or not isinstance(l, (int, float, np.number)) or not l >= 1:
            raise ValueError(f"l must be a number >= 1, got {l!r}")
        self.sensitive = column
        self.l = l

    def _evaluate(self, view: ClassView) -> np.ndarray:
        pair_class, _, pair_count = view.sensitive_pairs
        share = pair_count / view.sizes[pair_class]
        entropy = -np.bincount(pair_class, weights=share * np.log(share), minlength=view.n_classes)
        return entropy >= math.log(self.l) - TOLERANCE


class TCloseness(Criterion):
    """The earth mover's distance between a class's sensitive-value distribution ``p`` and the
    distribution ``q`` over the whole input is at most ``t``.

    ``distance="equal"``: all values are at distance 1, ``EMD = 1/2 sum |p_i - q_i|``.
    ``distance="ordered"``: values sorted (numerically when they all parse as numbers),
    ``EMD = 1/(m-1) sum_i |sum_{j<=i} (p_j - q_j)|`` over the ``m`` distinct values.
    """

    def __init__(self, column: str, t: float, distance: str = "equal") -> None:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not 0 <= t <= 1:
            raise ValueError(f"t must be a number between 0 and 1, got {t!r}")
        if distance not in ("equal", "ordered"):
            raise ValueError(f"distance must be 'equal' or 'ordered', got {distance!r}")
        self.sensitive = column
        self.t = float(t)
        self.distance = distance

    def prepare(self, space: Space) -> None:
        counts = np.bincount(space.sensitive_cells(), weights=space.counts, minlength=len(space.sensitive_labels))
        self._order = sensitive_order(space.sensitive_labels)
        self._global = (counts / counts.sum())[self._order]

    def _evaluate(self, view: ClassView) -> np.ndarray:
        diff = view.sensitive_distribution()[:, self._order] - self._global
        if self.distance == "equal":
            emd = 0.5 * np.abs(diff).sum(axis=1)
        elif diff.shape[1] > 1:
            emd = np.abs(np.cumsum(diff, axis=1)).sum(axis=1) / (diff.shape[1] - 1)
        else:
            emd = np.zeros(len(diff))
        return emd <= self.t + TOLERANCE


def sensitive_order(labels: list[str]) -> np.ndarray:
    """Indices sorting the labels: numerically if every label is a number, else as strings."""
    try:
        keys: list[float] | list[str] = [float(v) for v in labels]
    except ValueError:
        keys = list(labels)
    return np.array(sorted(range(len(labels)), key=keys.__getitem__), dtype=np.int64)
