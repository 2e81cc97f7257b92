"""Property-based: Flash equals exhaustive search, tags truthfully, and releases safe tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from pycanon import anonymity

from anonymization.engine import DPresence, Hierarchy, KMap, NoSolutionError, anonymize
from anonymization.engine.api import _Problem
from anonymization.engine.check import NodeChecker
from anonymization.engine.flash import FlashSearch
from anonymization.engine.lattice import ANONYMOUS, NOT_ANONYMOUS, PRUNED, UNTAGGED

from .strategies import Problem, problems, subset_problems

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _solve(problem: Problem, algorithm: str):
    try:
        return anonymize(problem.table, problem.hierarchies, problem.criteria, problem.suppression_limit,
                         problem.metric, problem.individual_id, algorithm=algorithm, subset=problem.subset)
    except NoSolutionError:
        return None


@SETTINGS
@given(problems())
def test_it_finds_the_same_optimum_as_exhaustive_search(problem: Problem) -> None:
    flash, exhaustive = _solve(problem, "flash"), _solve(problem, "exhaustive")
    assert (flash is None) == (exhaustive is None)
    if flash is not None:
        assert math.isclose(flash.info_loss, exhaustive.info_loss, rel_tol=1e-9, abs_tol=1e-12)
        assert flash.levels == exhaustive.levels
        assert flash.suppressed_rows == exhaustive.suppressed_rows


@SETTINGS
@given(problems())
def test_it_never_mislabels_a_node_by_prediction(problem: Problem) -> None:
    built = _Problem(problem.table, problem.hierarchies, problem.criteria, problem.suppression_limit,
                     problem.metric, problem.individual_id, problem.subset)
    search = FlashSearch(built.lattice, built.checker)
    search.run()
    truth = NodeChecker(built.space, problem.criteria, problem.suppression_limit, built.metric)
    assert not (search.state == UNTAGGED).any()
    for node in range(built.lattice.size):
        record = truth.check(built.lattice.node(node))
        if search.state[node] == ANONYMOUS:
            assert record.predictable
        elif search.state[node] == NOT_ANONYMOUS:
            assert not record.predictable
        else:
            assert search.state[node] == PRUNED
            assert built.metric.lower_bounds(built.lattice.levels[[node]].astype(np.int64))[0] > search.best[0]


def _own_check(problem: Problem, released: pd.DataFrame) -> bool:
    """Our checker on the release: with every value kept (level 0) and no suppression allowed."""
    identity = {c: Hierarchy.from_mapping({v: ["*"] for v in released[c].unique()}) for c in problem.hierarchies}
    result = anonymize(released, identity, problem.criteria, 0.0, "height", problem.individual_id)
    return sum(result.levels.values()) == 0


def _pycanon_check(problem: Problem, released: pd.DataFrame, suppressed: int) -> None:
    released = released.reset_index(drop=True)
    qis = list(problem.hierarchies)
    criteria = {type(c).__name__: c for c in problem.criteria}
    if problem.individual_id is None:
        assert anonymity.k_anonymity(released, qis) >= criteria["KAnonymity"].k
    else:
        people = released.groupby(qis)[problem.individual_id].nunique()
        assert people.min() >= criteria["KAnonymity"].k
    if "DistinctLDiversity" in criteria:
        assert anonymity.l_diversity(released, qis, ["sensitive"]) >= criteria["DistinctLDiversity"].l
    t = criteria.get("TCloseness")
    if t is not None and t.distance != "hierarchical" and suppressed == 0 and released["sensitive"].nunique() > 1:
        column = released["sensitive"] if t.distance == "ordered" else released["sensitive"].astype(str)
        measured = anonymity.t_closeness(released.assign(sensitive=column), qis, ["sensitive"])
        assert measured <= t.t + 1e-9


@SETTINGS
@given(problems())
def test_it_releases_tables_that_satisfy_the_criteria(problem: Problem) -> None:
    result = _solve(problem, "flash")
    if result is None or result.rows_out == 0:
        return
    released = result.data
    assert list(released.columns) == list(problem.table.columns)
    assert result.suppressed_rows <= problem.suppression_limit * len(problem.table) + 1e-9
    assert len(released) == len(problem.table) - result.suppressed_rows
    _pycanon_check(problem, released, result.suppressed_rows)
    if result.suppressed_rows == 0 or "t-" not in problem.kind:
        assert _own_check(problem, released)


@pytest.mark.parametrize("kind", ["entropy-l", "t-equal"])
def test_it_does_not_tag_by_prediction_for_merge_closed_criteria_under_suppression(kind: str) -> None:
    from .strategies import criteria_for

    criteria = criteria_for(kind, 1, 2, 0.3)
    assert all(c.predictable(False) for c in criteria)
    assert [c.predictable(True) for c in criteria] == [True, False]


@SETTINGS
@given(problems(kinds=["recursive-cl", "entropy-l-grassberger", "t-hierarchical"],
                metrics=["loss", "entropy", "entropy-nonmonotonic", "dm-nonmonotonic", "precision-monotonic"]))
def test_it_finds_the_same_optimum_for_the_arx_models_and_metric_variants(problem: Problem) -> None:
    test_it_finds_the_same_optimum_as_exhaustive_search.hypothesis.inner_test(problem)  # type: ignore[attr-defined]


@SETTINGS
@given(subset_problems())
def test_it_finds_the_same_optimum_for_the_research_subset_models(problem: Problem) -> None:
    test_it_finds_the_same_optimum_as_exhaustive_search.hypothesis.inner_test(problem)  # type: ignore[attr-defined]


@SETTINGS
@given(subset_problems())
def test_it_never_mislabels_a_node_for_the_research_subset_models(problem: Problem) -> None:
    test_it_never_mislabels_a_node_by_prediction.hypothesis.inner_test(problem)  # type: ignore[attr-defined]


@SETTINGS
@given(subset_problems(kinds=["inclusion", "d-presence", "d-presence-k", "k-map"]))
def test_it_releases_only_subset_rows_in_classes_that_satisfy_the_subset_models(problem: Problem) -> None:
    result = _solve(problem, "flash")
    if result is None:
        return
    assert problem.subset is not None
    assert set(result.data.index) <= set(problem.subset)
    assert result.rows_out == len(problem.subset) - result.suppressed_rows == len(result.data)
    assert result.suppressed_rows <= problem.suppression_limit * len(problem.subset) + 1e-9
    # Generalize the whole input at the chosen levels and count, per released class, its input rows.
    qis = list(problem.hierarchies)
    labels = [problem.hierarchies[c].generalize(problem.table[c].tolist(), result.levels[c]) for c in qis]
    key = pd.Series(["|".join(values) for values in zip(*labels, strict=True)], index=problem.table.index)
    input_sizes = key.value_counts()
    in_subset = key.loc[problem.subset].value_counts()
    for released in key.loc[result.data.index].unique():
        pcount, count = input_sizes[released], in_subset[released]
        for criterion in problem.criteria:
            if isinstance(criterion, KMap):
                assert pcount >= criterion.k
            if isinstance(criterion, DPresence):
                assert criterion.d_min <= count / pcount <= criterion.d_max
