from __future__ import annotations

import numpy as np
import pytest

from anonymization.engine import Criterion, DistinctLDiversity, EntropyLDiversity, KAnonymity, TCloseness


def test_it_asks_subclasses_for_the_evaluate_hook() -> None:
    class Incomplete(Criterion):
        pass

    with pytest.raises(NotImplementedError) as error:
        Incomplete().evaluate(object())
    assert str(error.value) == "subclasses of Criterion must provide _evaluate()"


def test_it_returns_the_hook_result_as_booleans() -> None:
    class EveryOther(Criterion):
        def _evaluate(self, view: object) -> np.ndarray:
            return np.array([1, 0, 1])

    assert EveryOther().evaluate(object()).tolist() == [True, False, True]


def test_it_declares_monotonicity_as_class_attributes_read_by_the_search() -> None:
    union_closed = [KAnonymity(2), DistinctLDiversity("s", 2)]
    merge_closed = [EntropyLDiversity("s", 2), TCloseness("s", 0.5)]
    assert all(c.monotonic and c.monotonic_with_suppression for c in union_closed)
    assert all(c.monotonic and not c.monotonic_with_suppression for c in merge_closed)
    assert [c.is_monotonic(True) for c in [*union_closed, *merge_closed]] == [True, True, False, False]
