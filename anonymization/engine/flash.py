"""The Flash search (Kohlmayer, Prasser et al., "Flash: Efficient, Stable and Optimal
K-Anonymity", 2012) and an exhaustive reference search.

Phase 1 (Flash) classifies every lattice node by the *predictable* property: the privacy
criteria that are monotonic in the current setting (see :mod:`.criteria`). It sweeps the lattice
bottom-up level by level in the stable node order; from each untagged node it builds a path
upwards (FINDPATH: always the first untagged successor) and binary-searches it (CHECKPATH).
A node with the property tags all its generalizations, one without it tags all its
specializations (predictive tagging). Successors of nodes without the property go to a min-heap
(by stable order) and are expanded the same way before the sweep moves on. Invariant: a tag
"has the property" is only ever set on a generalization of a checked node that has it, and
"lacks it" only on a specialization of a checked node that lacks it, so no node is mislabelled.

Phase 2 picks the optimum among nodes that may be anonymous:

* criteria all predictable and metric monotonic: every anonymous node generalizes a *checked*
  anonymous node that scores no worse and is lower, so the optimum is among the checked ones;
* otherwise every node tagged with the property is a candidate. Candidates are visited in order
  of the metric's lower bound; the visit stops once the bound exceeds the best value found. With a
  monotonic metric the generalizations of an anonymous node are skipped (they cannot score better).

Ties are broken by lowest metric, then lowest height, then smallest level vector.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .check import NodeChecker, NodeRecord
from .lattice import ANONYMOUS, NOT_ANONYMOUS, PRUNED, UNTAGGED, Lattice

__all__ = ["FlashSearch", "SearchOutcome", "find_optimum", "exhaustive_search"]

#: Relative slack when comparing a lower bound with the best metric value.
BOUND_SLACK = 1e-9


@dataclass(frozen=True)
class SearchOutcome:
    """The optimal node (``None`` when no node is anonymous) and search statistics."""

    levels: tuple[int, ...] | None
    record: NodeRecord | None
    lattice_size: int
    nodes_checked: int
    nodes_tagged: int
    elapsed_s: float


Progress = Callable[[int, int], None]
Key = tuple[float | tuple[float, ...], int, tuple[int, ...]]


def _beyond(bound: float, best: Key | None) -> bool:
    """Whether a lower bound rules a node out against the best (metric, height, levels) so far.
    A rank vector is ruled out by a bound on its first (largest) entry."""
    if best is None:
        return False
    head = best[0][0] if isinstance(best[0], tuple) else best[0]
    return bound > head + BOUND_SLACK * max(1.0, abs(head))


class FlashSearch:
    """Phase 1: tag every node with the predictable property (``state``).

    Nodes whose metric lower bound exceeds the best anonymous node checked so far are tagged
    PRUNED with all their generalizations (bounds are monotonic) and never checked: they cannot
    be optimal. Every other node ends ANONYMOUS or NOT_ANONYMOUS.
    """

    def __init__(self, lattice: Lattice, checker: NodeChecker, progress: Progress | None = None) -> None:
        self.lattice = lattice
        self.checker = checker
        self.state = np.zeros(lattice.size, dtype=np.int8)
        self.grid = self.state.reshape(lattice.depths)
        self.bounds = checker.metric.lattice_bounds(lattice).tolist()
        self.best: Key | None = None
        self.checked = 0
        self.progress = progress

    def run(self) -> None:
        """Sweep the lattice bottom-up; afterwards every node is tagged."""
        heap: list[tuple[int, int]] = []
        for nodes in self.lattice.by_height():
            for node in nodes[self.state[nodes] == UNTAGGED].tolist():
                if self._open(node):
                    heapq.heappush(heap, (int(self.lattice.rank[node]), node))
                    self._drain(heap)

    def _open(self, node: int) -> bool:
        """Whether ``node`` still needs a check; prunes it (and its generalizations) if it can't win."""
        if self.state[node] != UNTAGGED:
            return False
        if _beyond(self.bounds[node], self.best):
            box = self.grid[self.lattice.generalizations(node)]
            box[box == UNTAGGED] = PRUNED
            return False
        return True

    def _drain(self, heap: list[tuple[int, int]]) -> None:
        while heap:
            _, head = heapq.heappop(heap)
            if self._open(head):
                self._check_path(self._find_path(head), heap)

    def _find_path(self, node: int) -> list[int]:
        """FINDPATH: from ``node`` follow the first untagged successor until there is none.

        Pruning is only applied where paths start: a high node on a path is worth checking even
        if it cannot be optimal, because when it fails it tags a large box of specializations."""
        path = [node]
        while True:
            node = next((s for s in self.lattice.successors(node) if self.state[s] == UNTAGGED), -1)
            if node < 0:
                return path
            path.append(node)

    def _check_path(self, path: list[int], heap: list[tuple[int, int]]) -> None:
        """CHECKPATH: binary search for the lowest node of the path with the property."""
        low, high = 0, len(path) - 1
        while low <= high:
            mid = (low + high) // 2
            node = path[mid]
            if self.state[node] == UNTAGGED and not self._check(node):
                for successor in self.lattice.successors(node):
                    if self.state[successor] == UNTAGGED:
                        heapq.heappush(heap, (int(self.lattice.rank[successor]), successor))
            if self.state[node] == NOT_ANONYMOUS:
                low = mid + 1
            else:
                high = mid - 1

    def _check(self, node: int) -> bool:
        """Check one node and tag by prediction; returns whether it has the property."""
        levels = self.lattice.node(node)
        record = self.checker.check(levels)
        self.checked += 1
        if record.anonymous:
            key = _key(record, levels)
            self.best = key if _better(key, self.best) else self.best
        if record.predictable:
            self.grid[self.lattice.generalizations(node)] = ANONYMOUS
        else:
            self.grid[self.lattice.specializations(node)] = NOT_ANONYMOUS
        if self.progress is not None:
            self.progress(len(self.checker.records), self.lattice.size)
        return record.predictable


def _key(record: NodeRecord, levels: tuple[int, ...]) -> Key:
    """Order of anonymous nodes: lowest metric, then lowest height, then the level vector (stable ties)."""
    if record.metric is None:
        raise ValueError(f"node {levels} is anonymous but has no metric value")
    return (record.rank if record.rank is not None else record.metric, sum(levels), levels)


def _better(a: Key, b: Key | None) -> bool:
    return b is None or a < b


def _best_checked(checker: NodeChecker) -> Key | None:
    """Best (metric, height, levels) among the anonymous checked nodes."""
    keys = [_key(r, levels) for levels, r in checker.records.items() if r.anonymous]
    return min(keys) if keys else None


def _candidate_order(lattice: Lattice, checker: NodeChecker, candidates: np.ndarray) -> tuple[np.ndarray, ...]:
    """Candidates sorted by (lower bound, height, levels), with their bounds."""
    levels = lattice.levels[candidates].astype(np.int64)
    bounds = checker.metric.lower_bounds(levels)
    keys = [levels[:, a] for a in reversed(range(levels.shape[1]))] + [lattice.heights[candidates], bounds]
    order = np.lexsort(keys)
    return candidates[order], bounds[order]


def _scan_candidates(lattice: Lattice, checker: NodeChecker, candidates: np.ndarray, monotonic: bool,
                     best: Key | None, progress: Progress | None) -> Key | None:
    """Phase 2 for non-monotonic settings: evaluate every candidate that could beat ``best``."""
    ordered, bounds = _candidate_order(lattice, checker, candidates)
    dominated = np.zeros(lattice.depths, dtype=bool) if monotonic else None
    for node, bound in zip(ordered.tolist(), bounds.tolist(), strict=True):
        if _beyond(bound, best):
            break
        if dominated is not None and dominated.flat[node]:
            continue
        levels = lattice.node(node)
        record = checker.check(levels)
        if progress is not None:
            progress(len(checker.records), lattice.size)
        if not record.anonymous:
            continue
        key = _key(record, levels)
        best = key if _better(key, best) else best
        if dominated is not None:
            dominated[lattice.generalizations(node)] = True
    return best


def find_optimum(lattice: Lattice, checker: NodeChecker, progress: Progress | None = None) -> SearchOutcome:
    """Run Flash and return the optimal node for the checker's criteria and metric."""
    started = time.perf_counter()
    search = FlashSearch(lattice, checker, progress)
    search.run()
    suppression = checker.allowed > 0
    monotonic = checker.metric.is_monotonic(suppression)
    if checker.fully_predictable and monotonic:
        best = _best_checked(checker)
    else:
        candidates = np.flatnonzero(search.state == ANONYMOUS)
        best = _scan_candidates(lattice, checker, candidates, monotonic, search.best, progress)
    tagged = lattice.size - search.checked
    return _outcome(lattice, checker, best, tagged, time.perf_counter() - started)


def _outcome(lattice: Lattice, checker: NodeChecker, best: tuple | None, tagged: int, elapsed: float) -> SearchOutcome:
    levels = best[2] if best is not None else None
    record = checker.records[levels] if levels is not None else None
    return SearchOutcome(levels, record, lattice.size, len(checker.records), tagged, elapsed)


def exhaustive_search(lattice: Lattice, checker: NodeChecker) -> SearchOutcome:
    """Check every node (bottom-up, rolling up from cached specializations) and return the
    optimum under the same tie-break as :func:`find_optimum`. The reference for tests and
    benchmarks."""
    started = time.perf_counter()
    best = None
    for nodes in lattice.by_height():
        for node in nodes.tolist():
            levels = lattice.node(node)
            record = checker.check(levels)
            if record.anonymous:
                key = _key(record, levels)
                best = key if _better(key, best) else best
    return _outcome(lattice, checker, best, 0, time.perf_counter() - started)
