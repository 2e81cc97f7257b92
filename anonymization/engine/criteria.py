"""Privacy criteria.

Each criterion is a predicate on one equivalence class (the rows sharing all generalized
quasi-identifier values). A class failing any criterion is suppressed (removed from the output);
a transformation is acceptable iff the suppressed rows are at most ``suppression_limit * N``.

Monotonicity (what predictive tagging may rely on). Generalizing merges classes, so:

* a criterion that is *union-closed* (``P(A)`` implies ``P(A u B)`` for any class ``B``) keeps
  every row it accepted, hence the suppressed rows can only shrink: it is monotonic with and
  without suppression. True for k-anonymity (rows or distinct individuals) and distinct-l-diversity.
* entropy-l-diversity (Shannon), recursive-(c,l)-diversity and t-closeness (equal, ordered and
  hierarchical distance) are only *merge-closed* (``P(A)`` and ``P(B)`` imply ``P(A u B)``: by
  concavity of entropy, by Machanavajjhala et al.'s argument for recursive diversity, by convexity
  of the earth mover's distance). Without suppression every class passes, so they are monotonic;
  with suppression a passing class merged with a failing one may fail, so they are not, and the
  search does not tag by prediction for them.
* entropy-l-diversity with the Grassberger estimator is not even merge-closed (the bias
  correction depends on the counts, not only on the shares), so it is never predictable.

Research-subset models (the search then runs on the subset's rows, see :mod:`.subset`):

* plain inclusion (:class:`Inclusion`) and k-map over the subset (:class:`KMap`: the class's
  rows *in the whole input* reach ``k``) are union-closed: input rows only accumulate when
  classes merge. k-map estimated from a population size is k-anonymity with a derived ``k``.
* d-presence (:class:`DPresence`: the subset's share of the class's input rows lies in
  ``[d_min, d_max]``) is not monotonic: merging classes moves the share between theirs (the
  mediant), but a merged-in class without subset rows (which ARX does not check when k-anonymity
  or l-diversity is present) can pull it below ``d_min``. It is never used for tagging.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .hierarchy import Hierarchy
    from .space import ClassView, Space

__all__ = ["Criterion", "KAnonymity", "DistinctLDiversity", "EntropyLDiversity", "RecursiveCLDiversity",
           "TCloseness", "Inclusion", "DPresence", "KMap", "grassberger_entropy"]

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
    #: Whether the criterion reads the research subset (``anonymize(..., subset=...)``).
    needs_subset: bool = False
    #: Whether the criterion implies a minimal class size (ARX: k-anonymity, l-diversity and
    #: estimated k-map), which exempts input classes without subset rows from d-presence.
    implies_minimal_size: bool = False

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

    def node_ok(self, view: ClassView, minimal_size: bool) -> bool:
        """A condition on the whole node that suppression cannot repair (default: none).
        ``minimal_size`` tells whether some criterion of the search implies a minimal class size."""
        return True

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
    implies_minimal_size = True

    def __init__(self, k: int) -> None:
        self.k = _positive_int("k", k)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        return view.population >= self.k


class DistinctLDiversity(Criterion):
    """Every released class holds at least ``l`` distinct values of the sensitive column."""

    monotonic_with_suppression = True
    implies_minimal_size = True

    def __init__(self, column: str, l: int) -> None:  # noqa: E741 - the criterion's name
        self.sensitive = column
        self.l = _positive_int("l", l)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        pair_class, _, _ = view.sensitive_pairs
        return np.bincount(pair_class, minlength=view.n_classes) >= self.l


class EntropyLDiversity(Criterion):
    """Every released class has sensitive-value entropy ``H >= log l``.

    ``estimator="shannon"``: ``H = -sum_i p_i log p_i`` over the class's value shares.
    ``estimator="grassberger"``: Grassberger's (2003) bias-corrected estimate from the counts
    ``n_i`` (``n = sum n_i``), with ``G`` in place of the logarithm for the class size too, as ARX
    computes it: ``H = G(n) - 1/n sum_i n_i G(n_i)`` with
    ``G(m) = psi(m) + 1/2 (-1)^m (psi((m+1)/2) - psi(m/2))`` (``psi``: digamma), and the class
    must hold at least ``ceil(l)`` distinct values (the correction can lift fewer above ``log l``).
    """

    implies_minimal_size = True

    def __init__(self, column: str, l: float, estimator: str = "shannon") -> None:  # noqa: E741
        if isinstance(l, bool) or not isinstance(l, (int, float, np.number)) or not l >= 1:
            raise ValueError(f"l must be a number >= 1, got {l!r}")
        if estimator not in ("shannon", "grassberger"):
            raise ValueError(f"estimator must be 'shannon' or 'grassberger', got {estimator!r}")
        self.sensitive = column
        self.l = l
        self.estimator = estimator

    def is_monotonic(self, suppression: bool) -> bool:
        return self.estimator == "shannon" and super().is_monotonic(suppression)

    def prepare(self, space: Space) -> None:
        if self.estimator == "grassberger":
            self._g = grassberger_terms(space.n_rows)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        pair_class, _, pair_count = view.sensitive_pairs
        if self.estimator == "grassberger":
            counts = np.asarray(pair_count, dtype=np.int64)
            corrected = np.bincount(pair_class, weights=counts * self._g[counts], minlength=view.n_classes)
            class_size = np.asarray(view.sizes, dtype=np.int64)
            estimate = self._g[class_size] - corrected / class_size
            distinct = np.bincount(pair_class, minlength=view.n_classes)
            return (distinct >= math.ceil(self.l)) & (estimate >= math.log(self.l) - TOLERANCE)
        share = pair_count / view.sizes[pair_class]
        entropy = -np.bincount(pair_class, weights=share * np.log(share), minlength=view.n_classes)
        return entropy >= math.log(self.l) - TOLERANCE


def grassberger_terms(n: int) -> np.ndarray:
    """``G(m)`` for ``m = 0..n`` (``G(0)`` unused): digamma at integers and half-integers from
    ``psi(1) = -gamma``, ``psi(1/2) = -gamma - 2 log 2`` and ``psi(x + 1) = psi(x) + 1/x``."""
    euler = 0.57721566490153286060
    steps = np.arange(1, n + 2, dtype=np.float64)
    at_int = np.concatenate([[np.nan], -euler + np.concatenate([[0.0], np.cumsum(1.0 / steps[:-1])])])
    at_half = -euler - 2 * math.log(2) + np.concatenate([[0.0], np.cumsum(1.0 / (steps - 0.5))])

    def psi_half(twice: np.ndarray) -> np.ndarray:
        """psi(twice / 2) for positive integers ``twice``."""
        return np.where(twice % 2 == 0, at_int[np.minimum(twice // 2, n + 1)], at_half[np.maximum(twice - 1, 0) // 2])

    m = np.arange(n + 1, dtype=np.int64)
    safe = np.maximum(m, 1)
    sign = np.where(m % 2 == 0, 1.0, -1.0)
    g = at_int[np.minimum(safe, n + 1)] + 0.5 * sign * (psi_half(safe + 1) - psi_half(safe))
    g[0] = 0.0
    return g


def grassberger_entropy(counts: np.ndarray) -> float:
    """Grassberger's entropy estimate (nats) of one distribution given by its counts:
    ``G(n) - 1/n sum_i n_i G(n_i)``, what :class:`EntropyLDiversity` compares with ``log l``."""
    counts = np.asarray(counts, dtype=np.int64)
    counts = counts[counts > 0]
    total = int(counts.sum())
    g = grassberger_terms(total)
    return float(g[total] - (counts * g[counts]).sum() / total)


class RecursiveCLDiversity(Criterion):
    """Recursive-(c,l)-diversity: with the class's sensitive-value counts sorted in descending
    order ``r_1 >= r_2 >= ... >= r_m``, the class holds at least ``l`` distinct values and
    ``r_1 < c (r_l + r_(l+1) + ... + r_m)``."""

    implies_minimal_size = True

    def __init__(self, column: str, c: float, l: int) -> None:  # noqa: E741
        if isinstance(c, bool) or not isinstance(c, (int, float, np.number)) or not c > 0:
            raise ValueError(f"c must be a positive number, got {c!r}")
        self.sensitive = column
        self.c = float(c)
        self.l = _positive_int("l", l)

    def _evaluate(self, view: ClassView) -> np.ndarray:
        pair_class, _, pair_count = view.sensitive_pairs
        # Sort each class's counts in descending order, then rank them within the class.
        order = np.lexsort((-np.asarray(pair_count), pair_class))
        cls, count = pair_class[order], np.asarray(pair_count)[order]
        distinct = np.bincount(cls, minlength=view.n_classes)
        starts = np.concatenate([[0], np.cumsum(distinct)[:-1]])
        rank = np.arange(len(cls)) - starts[cls]
        tail = np.bincount(cls, weights=np.where(rank >= self.l - 1, count, 0), minlength=view.n_classes)
        top = np.zeros(view.n_classes)
        top[cls[rank == 0]] = count[rank == 0]
        return (distinct >= self.l) & (top < self.c * tail)


class TCloseness(Criterion):
    """The earth mover's distance between a class's sensitive-value distribution ``p`` and the
    distribution ``q`` over the whole input is at most ``t``.

    ``distance="equal"``: all values are at distance 1, ``EMD = 1/2 sum |p_i - q_i|``.
    ``distance="ordered"``: values sorted (numerically when they all parse as numbers),
    ``EMD = 1/(m-1) sum_i |sum_{j<=i} (p_j - q_j)|`` over the ``m`` distinct values.
    ``distance="hierarchical"`` (needs ``hierarchy``, one over the sensitive values, of height
    ``H`` = levels - 1): for every node ``N`` at level ``h >= 1`` with children ``c`` (nodes at
    level ``h - 1``, leaves at level 0), the children's net excess ``e_c = sum_{i under c}
    (p_i - q_i)``; ``EMD = sum_N h/H min(sum_{e_c > 0} e_c, sum_{e_c < 0} -e_c)`` (Li et al.
    2007, as ARX computes it).
    """

    def __init__(self, column: str, t: float, distance: str = "equal", hierarchy: Hierarchy | None = None) -> None:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not 0 <= t <= 1:
            raise ValueError(f"t must be a number between 0 and 1, got {t!r}")
        if distance not in ("equal", "ordered", "hierarchical"):
            raise ValueError(f"distance must be 'equal', 'ordered' or 'hierarchical', got {distance!r}")
        if (distance == "hierarchical") != (hierarchy is not None):
            raise ValueError("a hierarchy is needed for, and only for, distance='hierarchical'")
        self.sensitive = column
        self.t = float(t)
        self.distance = distance
        self.hierarchy = hierarchy

    def prepare(self, space: Space) -> None:
        counts = np.bincount(space.sensitive_cells(), weights=space.counts, minlength=len(space.sensitive_labels))
        self._order = sensitive_order(space.sensitive_labels)
        self._global = (counts / counts.sum())[self._order]
        if self.hierarchy is not None:
            named = self.hierarchy.named(self.sensitive or "sensitive")
            leaves = named.leaf_codes([str(v) for v in space.sensitive_labels])[self._order]
            self._levels = [np.unique(named.codes[leaves, level], return_inverse=True)[1].ravel()
                            for level in range(named.depth)]

    def _evaluate(self, view: ClassView) -> np.ndarray:
        diff = view.sensitive_distribution()[:, self._order] - self._global
        if self.distance == "equal":
            emd = 0.5 * np.abs(diff).sum(axis=1)
        elif self.distance == "hierarchical":
            emd = self._hierarchical(diff)
        elif diff.shape[1] > 1:
            emd = np.abs(np.cumsum(diff, axis=1)).sum(axis=1) / (diff.shape[1] - 1)
        else:
            emd = np.zeros(len(diff))
        return emd <= self.t + TOLERANCE

    def _hierarchical(self, diff: np.ndarray) -> np.ndarray:
        height = len(self._levels) - 1
        emd = np.zeros(len(diff))
        if height == 0:
            return emd
        excess = diff  # net excess of each child node: the leaves (columns) first
        for level in range(1, height + 1):
            groups = self._levels[level]
            n_parents = int(groups.max()) + 1
            if level == 1:
                parent = groups
            else:
                parent = np.zeros(excess.shape[1], dtype=np.int64)
                parent[self._levels[level - 1]] = groups
            pos = np.zeros((n_parents, len(diff)))
            neg = np.zeros((n_parents, len(diff)))
            np.add.at(pos, parent, np.maximum(excess, 0).T)
            np.add.at(neg, parent, np.maximum(-excess, 0).T)
            emd += level / height * np.minimum(pos, neg).sum(axis=0)
            excess = (pos - neg).T
        return emd


class Inclusion(Criterion):
    """Plain research-subset inclusion: only the subset's rows are released, every class passes
    (ARX's ``Inclusion``). Needs ``anonymize(..., subset=...)``."""

    monotonic_with_suppression = True
    needs_subset = True

    def _evaluate(self, view: ClassView) -> np.ndarray:
        return np.ones(view.n_classes, dtype=bool)


def _fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


class DPresence(Criterion):
    """delta-presence (Nergiz, Atzori and Clifton 2007) of the research subset: in every class,
    ``delta = (subset rows) / (input rows)`` lies in ``[d_min, d_max]``, so an attacker who
    knows someone is in the input learns their presence in the release with a probability in
    that range.

    As ARX does, an input class holding no subset row has ``delta = 0``; it cannot be
    suppressed (it releases nothing), so with ``d_min > 0`` it fails the whole node, unless some
    criterion implies a minimal class size (k-anonymity, l-diversity, estimated k-map), in which
    case ARX does not check it. Needs ``anonymize(..., subset=...)``; not monotonic.
    """

    monotonic = False
    needs_subset = True

    def __init__(self, d_min: float, d_max: float) -> None:
        self.d_min = _fraction("d_min", d_min)
        self.d_max = _fraction("d_max", d_max)
        if self.d_min > self.d_max:
            raise ValueError(f"d_min must not exceed d_max, got {self.d_min:g} > {self.d_max:g}")

    def _evaluate(self, view: ClassView) -> np.ndarray:
        delta = view.sizes / view.input_sizes
        return (delta >= self.d_min) & (delta <= self.d_max)

    def node_ok(self, view: ClassView, minimal_size: bool) -> bool:
        return self.d_min == 0 or minimal_size or view.input_only_classes == 0


KMAP_ESTIMATORS = ("poisson", "zero-truncated-poisson")


class KMap(Criterion):
    """k-map (Sweeney): every released class matches at least ``k`` people of the population.

    Without ``estimator`` the population is the whole input and the released rows are the
    research subset (``anonymize(..., subset=...)``): a class passes when it holds at least
    ``k`` input rows (ARX's ``pcount``). Union-closed, so monotonic also with suppression.

    With ``estimator`` (``"poisson"`` or ``"zero-truncated-poisson"``, El Emam and Dankar 2008)
    and ``population_size``, the table is a sample of that population and k-map becomes
    k'-anonymity: with ``lambda = k * N / population_size`` (``N`` input rows), ``k'`` is the
    smallest count whose (zero-truncated) Poisson cumulative probability reaches
    ``1 - significance``, computed as ARX 3.9 does (``k' = c + 2`` for the first such ``c`` with
    the Poisson distribution, ``c + 1`` with the zero-truncated one, stopping when the count
    reaches ``k``), then ``k' = min(k, N, k')``.
    """

    monotonic_with_suppression = True

    def __init__(self, k: int, estimator: str | None = None, population_size: int | None = None,
                 significance: float = 0.01) -> None:
        self.k = _positive_int("k", k)
        if estimator is not None and estimator not in KMAP_ESTIMATORS:
            raise ValueError(f"estimator must be one of {', '.join(KMAP_ESTIMATORS)}, got {estimator!r}")
        if (estimator is None) != (population_size is None):
            raise ValueError("an estimator needs a population_size, and a population_size an estimator")
        self.estimator = estimator
        self.population_size = None if population_size is None else _positive_int("population_size", population_size)
        self.significance = _fraction("significance", significance)
        self.needs_subset = estimator is None
        self.implies_minimal_size = estimator is not None
        self.derived_k: int | None = None

    def prepare(self, space: Space) -> None:
        if self.population_size is None:
            return
        rows = space.input_rows
        if self.population_size < rows:
            raise ValueError(f"population_size ({self.population_size}) is smaller than the table ({rows} rows)")
        self.derived_k = min(self.k, rows, derived_k(self.k, rows / self.population_size * self.k,
                                                     self.significance, self.estimator or ""))

    def _evaluate(self, view: ClassView) -> np.ndarray:
        if self.derived_k is not None:
            return view.population >= self.derived_k
        return view.input_sizes >= self.k

    def __repr__(self) -> str:
        return (f"KMap(k={self.k}, estimator={self.estimator!r}, population_size={self.population_size!r}, "
                f"significance={self.significance!r})")


def _poisson_pmf(count: int, lam: float) -> float:
    return math.exp(-lam + count * math.log(lam) - math.lgamma(count + 1)) if lam > 0 else float(count == 0)


def derived_k(k: int, lam: float, significance: float, estimator: str) -> int:
    """ARX 3.9's k' for k-map estimated with a Poisson (``"poisson"``) or zero-truncated Poisson
    distribution of mean ``lam``: count up until the cumulative probability reaches
    ``1 - significance`` or the count reaches ``k``."""
    threshold = 1.0 - significance
    if estimator == "poisson":
        count, cumulative = 0, 0.0
        while cumulative < threshold:
            cumulative += _poisson_pmf(count, lam)
            count += 1
            if count >= k:
                break
        return count + 1
    truncation = -math.expm1(-lam)
    count, cumulative = 1, 0.0
    while cumulative < threshold:
        cumulative += _poisson_pmf(count, lam) / truncation
        count += 1
        if count >= k:
            break
    return count


def sensitive_order(labels: list[str]) -> np.ndarray:
    """Indices sorting the labels: numerically if every label is a number, else as strings."""
    try:
        keys: list[float] | list[str] = [float(v) for v in labels]
    except ValueError:
        keys = list(labels)
    return np.array(sorted(range(len(labels)), key=keys.__getitem__), dtype=np.int64)
