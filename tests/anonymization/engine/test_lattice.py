from __future__ import annotations

import numpy as np
import pytest

from anonymization.engine.lattice import Lattice


def test_it_indexes_level_vectors_both_ways() -> None:
    lattice = Lattice([2, 3, 4])
    assert lattice.size == 24
    for index in range(lattice.size):
        assert lattice.index(lattice.node(index)) == index
    assert lattice.node(lattice.top) == (1, 2, 3)


def test_it_lists_direct_successors_and_predecessors() -> None:
    lattice = Lattice([2, 3, 4])
    node = lattice.index((0, 1, 3))
    assert sorted(lattice.node(s) for s in lattice.successors(node)) == [(0, 2, 3), (1, 1, 3)]
    assert sorted(lattice.node(p) for p in lattice.predecessors(node)) == [(0, 0, 3), (0, 1, 2)]


def test_it_selects_generalizations_and_specializations_as_boxes() -> None:
    lattice = Lattice([2, 3, 4])
    node = lattice.index((1, 1, 2))
    grid = np.zeros(lattice.depths, dtype=int)
    grid[lattice.generalizations(node)] = 1
    grid[lattice.specializations(node)] += 2
    for index in range(lattice.size):
        levels = np.array(lattice.node(index))
        up = (levels >= (1, 1, 2)).all()
        down = (levels <= (1, 1, 2)).all()
        assert grid.flat[index] == up + 2 * down


def test_it_orders_nodes_by_height_first() -> None:
    lattice = Lattice([3, 2, 5])
    order = np.argsort(lattice.rank)
    assert (np.diff(lattice.heights[order]) >= 0).all()
    expected = np.bincount([a + b + c for a in range(3) for b in range(2) for c in range(5)])
    assert [len(level) for level in lattice.by_height()] == expected.tolist()


def test_it_refuses_attributes_without_levels() -> None:
    with pytest.raises(ValueError, match="at least one level"):
        Lattice([2, 0])
