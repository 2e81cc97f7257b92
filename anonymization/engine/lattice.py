"""The generalization lattice.

A node is a level vector ``(l_1, ..., l_d)`` with ``0 <= l_a < depth_a``; node ``m`` generalizes
node ``n`` iff ``m_a >= n_a`` for every attribute. Nodes are identified by their flat (C-order)
index in an array of shape ``depths``, so "all generalizations of ``n``" is the box
``[n_1:, ..., n_d:]`` and "all specializations" is ``[:n_1+1, ..., :n_d+1]``: predictive tagging
is one numpy slice assignment.

Stable node order (used by Flash for the level sweep, paths and its heap): by height (sum of
levels), then by the average relative generalization ``sum(l_a / (depth_a - 1))``, then
lexicographically by level vector. ``rank[i]`` is node ``i``'s position in that order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = ["Lattice", "UNTAGGED", "ANONYMOUS", "NOT_ANONYMOUS", "PRUNED", "MAX_LATTICE_SIZE"]

#: Node states during the search. PRUNED: the node and its generalizations cannot be optimal.
UNTAGGED, ANONYMOUS, NOT_ANONYMOUS, PRUNED = 0, 1, 2, 3

#: Lattices above this many nodes are refused (the search keeps a few bytes per node).
MAX_LATTICE_SIZE = 20_000_000
#: Lattices up to this many nodes share their structure between searches (kept in memory, a few
#: dozen bytes per node); larger ones are built for each search and freed with it.
SHARED_LATTICE_SIZE = 1_000_000


class Lattice:
    """All level vectors for the given per-attribute depths (number of levels)."""

    def __init__(self, depths: Sequence[int]) -> None:
        self.depths = tuple(int(d) for d in depths)
        if not self.depths or min(self.depths) < 1:
            raise ValueError(f"every attribute needs at least one level, got depths {self.depths}")
        self.size = math.prod(self.depths)
        if self.size > MAX_LATTICE_SIZE:
            raise ValueError(f"lattice of {self.size} nodes exceeds the limit of {MAX_LATTICE_SIZE}")
        self.strides = tuple(int(s) for s in np.cumprod((self.depths[1:] + (1,))[::-1])[::-1])
        self.max_height = int(sum(self.depths) - len(self.depths))
        self._tops = tuple(depth - 1 for depth in self.depths)
        build = _structure if self.size <= SHARED_LATTICE_SIZE else _structure.__wrapped__
        self.levels, self.heights, self.rank, self._by_height, self._rank_list = build(self.depths)

    @property
    def bottom(self) -> int:
        return 0

    @property
    def top(self) -> int:
        return self.size - 1

    def index(self, levels: Sequence[int]) -> int:
        """Flat index of a level vector."""
        return int(sum(int(level) * s for level, s in zip(levels, self.strides, strict=True)))

    def node(self, index: int) -> tuple[int, ...]:
        """Level vector of a flat index."""
        return tuple(self.levels[index].tolist())

    def successors(self, index: int) -> list[int]:
        """Direct generalizations (one attribute one level up), in stable order."""
        found = [index + s for level, s, top in zip(self.levels[index].tolist(), self.strides, self._tops,
                                                    strict=True) if level < top]
        if len(found) > 1:
            found.sort(key=self._rank_list.__getitem__)
        return found

    def predecessors(self, index: int) -> list[int]:
        """Direct specializations (one attribute one level down), in stable order."""
        levels = self.levels[index].tolist()
        found = [index - s for level, s in zip(levels, self.strides, strict=True) if level > 0]
        return sorted(found, key=self._rank_list.__getitem__)

    def generalizations(self, index: int) -> tuple[slice, ...]:
        """Slices selecting, in an array of shape ``depths``, the node and all its generalizations."""
        return tuple(slice(level, None) for level in self.levels[index].tolist())

    def specializations(self, index: int) -> tuple[slice, ...]:
        """Slices selecting the node and all its specializations."""
        return tuple(slice(0, level + 1) for level in self.levels[index].tolist())

    def by_height(self) -> list[np.ndarray]:
        """Node indices of each height, each in stable order."""
        return list(self._by_height)


@lru_cache(maxsize=8)
def _structure(depths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...], list[int]]:
    """Level vectors, heights, stable rank, nodes per height and the rank as a list: they depend
    on the depths alone, so searches over the same hierarchies share them (never modified)."""
    levels = np.indices(depths, dtype=np.int16).reshape(len(depths), -1).T
    heights = levels.sum(axis=1, dtype=np.int64)
    tops = np.maximum(np.array(depths) - 1, 1)
    relative = (levels / tops).sum(axis=1)
    order = np.lexsort([levels[:, a] for a in reversed(range(len(depths)))] + [relative, heights])
    rank = np.empty(len(levels), dtype=np.int64)
    rank[order] = np.arange(len(levels))
    bounds = np.searchsorted(heights[order], np.arange(sum(depths) - len(depths) + 2))
    for array in (levels, heights, rank, order):
        array.flags.writeable = False
    per_height = tuple(order[bounds[h]:bounds[h + 1]] for h in range(len(bounds) - 1))
    return levels, heights, rank, per_height, rank.tolist()
