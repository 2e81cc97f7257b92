"""Checking one transformation: generalize, group into equivalence classes, suppress.

Everything works on a frequency table, never row by row (see :mod:`.space`). Invariant of a
table: all base cells merged into one table cell agree on the generalized codes of the node the
table was built for, hence of every generalization of it. So a node can be grouped from the table
of any checked specialization (roll-up) instead of the base table, which shrinks quickly as
levels rise; :class:`RollupCache` keeps the tables of recent nodes for that.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .space import ClassView, Space, Table, node_keys, reduce_groups

if TYPE_CHECKING:
    from .criteria import Criterion
    from .metrics import Metric

# Space, ClassView and Table live in .space; they stay importable from here for existing callers.
__all__ = ["Space", "ClassView", "NodeChecker", "NodeRecord", "Table", "allowed_suppression", "groupify"]


def allowed_suppression(limit: float, n_rows: int) -> int:
    """Largest number of suppressed rows with ``suppressed <= limit * n_rows``."""
    return int(math.floor(limit * n_rows + 1e-9))


def groupify(space: Space, source: Table, levels: Sequence[int]) -> ClassView:
    """Group a specialization's table into the equivalence classes of ``levels``."""
    key, key_space = node_keys(space, source.rep, levels)
    cls, _, class_rep, sizes = reduce_groups(key, key_space, source.rep, source.count)
    if space.cell_extra is None:
        table = Table(class_rep, sizes)
        cell_class = np.arange(len(sizes), dtype=np.int64)
    else:
        cell_key = cls * space.n_extra + space.cell_extra[source.rep]
        _, keys, rep, count = reduce_groups(cell_key, len(sizes) * space.n_extra, source.rep, source.count)
        table = Table(rep, count)
        cell_class = keys // space.n_extra
    levels = levels if type(levels) is tuple else tuple(int(level) for level in levels)
    return ClassView(space, levels, sizes, class_rep, cell_class, table, cls)


@dataclass(frozen=True)
class NodeRecord:
    """Outcome of checking one node.

    ``predictable`` is the result for the monotonic part of the criteria (what Flash tags by),
    ``anonymous`` for all criteria; ``metric`` is set for anonymous nodes.
    """

    predictable: bool
    anonymous: bool
    suppressed: int
    classes: int
    metric: float | None
    #: With ``aggregate="rank"``: the weighted per-attribute values in descending order.
    rank: tuple[float, ...] | None = None


class NodeChecker:
    """Checks nodes, caching records and the tables of recent nodes for roll-up."""

    def __init__(
        self, space: Space, criteria: Sequence[Criterion], suppression_limit: float, metric: Metric,
        cache_cells: int = 4_000_000, cache_slots: int = 128,
    ) -> None:
        self.space = space
        self.criteria = list(criteria)
        self.metric = metric
        self.allowed = allowed_suppression(suppression_limit, space.n_rows)
        suppression = self.allowed > 0
        self.predictable_criteria = [c for c in self.criteria if c.is_monotonic(suppression)]
        self.other_criteria = [c for c in self.criteria if not c.is_monotonic(suppression)]
        self.minimal_size = any(c.implies_minimal_size for c in self.criteria)
        self.records: dict[tuple[int, ...], NodeRecord] = {}
        self.cache = RollupCache(space, cache_cells, cache_slots)

    @property
    def fully_predictable(self) -> bool:
        return not self.other_criteria

    def check(self, levels: Sequence[int]) -> NodeRecord:
        """Check a node (once; later calls return the stored record)."""
        key = levels if type(levels) is tuple else tuple(int(level) for level in levels)
        record = self.records.get(key)
        if record is None:
            view = groupify(self.space, self.cache.source(key), key)
            self.cache.store(key, view.table)
            record = self._judge(view)
            self.records[key] = record
        return record

    def classes(self, levels: Sequence[int]) -> ClassView:
        """Classes of a node grouped from the base table, with ``kept`` set (for the output)."""
        view = groupify(self.space, self.space.base_table(), levels)
        self._judge(view)
        return view

    def _judge(self, view: ClassView) -> NodeRecord:
        predictable_ok = _all_ok(self.predictable_criteria, view)
        if self.other_criteria:
            predictable = bool(predictable_ok.all()) or int(view.sizes[~predictable_ok].sum()) <= self.allowed
            view.kept = predictable_ok & _all_ok(self.other_criteria, view)
            suppressed = view.suppressed
        else:
            view.kept = predictable_ok
            suppressed = view.suppressed
            predictable = suppressed <= self.allowed
        anonymous = predictable and suppressed <= self.allowed \
            and all(c.node_ok(view, self.minimal_size) for c in self.criteria)
        metric, rank = self.metric.score(view) if anonymous else (None, None)
        return NodeRecord(predictable, anonymous, suppressed, int(view.kept.sum()), metric, rank)


def _all_ok(criteria: Sequence[Criterion], view: ClassView) -> np.ndarray:
    if len(criteria) == 1:
        return criteria[0].evaluate(view)
    ok = np.ones(view.n_classes, dtype=bool)
    for criterion in criteria:
        ok &= criterion.evaluate(view)
    return ok


#: Size recorded for an empty cache slot.
_NO_TABLE = np.iinfo(np.int64).max


class RollupCache:
    """Tables of recently checked nodes; ``source(levels)`` returns the smallest cached table of a
    specialization of ``levels`` (the base table when none is cached)."""

    def __init__(self, space: Space, max_cells: int, slots: int) -> None:
        self.space = space
        self.base = space.base_table()
        self.base_cells = len(self.base)
        self.max_cells = max_cells
        self.levels = np.zeros((slots, space.d), dtype=np.int64)
        self.sizes = np.full(slots, _NO_TABLE, dtype=np.int64)
        self.tables: list[Table | None] = [None] * slots
        self.lru: OrderedDict[int, None] = OrderedDict((slot, None) for slot in range(slots))
        self.total = 0

    def source(self, levels: tuple[int, ...]) -> Table:
        usable = (self.levels <= levels).all(axis=1)
        sizes = np.where(usable, self.sizes, _NO_TABLE)
        slot = int(sizes.argmin())
        if sizes[slot] >= self.base_cells:
            return self.base
        table = self.tables[slot]
        if table is None:
            return self.base
        self.lru.move_to_end(slot)
        return table

    def store(self, levels: tuple[int, ...], table: Table) -> None:
        """Keep ``table``, evicting least recently used tables to stay within the cell budget."""
        cells = len(table)
        if cells >= self.base_cells or cells > self.max_cells:
            return
        slot = next(iter(self.lru))
        self._evict(slot)
        if self.total + cells > self.max_cells:
            for other in list(self.lru):
                if self.total + cells <= self.max_cells:
                    break
                self._evict(other)
        self.levels[slot] = levels
        self.sizes[slot] = cells
        self.tables[slot] = table
        self.total += cells
        self.lru.move_to_end(slot)

    def _evict(self, slot: int) -> None:
        table = self.tables[slot]
        if table is not None:
            self.total -= len(table)
            self.tables[slot] = None
            self.sizes[slot] = _NO_TABLE
