"""Metric options (gs-factor, weights, aggregate functions) and the metric variants, with values
checked by hand on a four-row table, and ARX 3.9's published entropy optima on Adult."""

from __future__ import annotations

import pandas as pd
import pytest

from anonymization.engine import EntropyLDiversity, Hierarchy, KAnonymity, anonymize
from anonymization.engine.api import _Problem
from anonymization.engine.metrics import create_metric

from .conftest import ADULT_COLUMNS

Q = Hierarchy([["a", "ab", "*"], ["b", "ab", "*"], ["c", "cd", "*"], ["d", "cd", "*"]], name="q")
R = Hierarchy([["x", "*"], ["y", "*"]], name="r")
#: At the bottom node with k=2, (a, x) x2 is kept and (b, y), (c, y) are suppressed.
TABLE = pd.DataFrame({"q": ["a", "a", "b", "c"], "r": ["x", "x", "y", "y"]})


def _value(metric, levels: tuple[int, int], limit: float = 0.5, k: int = 2) -> float:
    problem = _Problem(TABLE, {"q": Q, "r": R}, [KAnonymity(k)], limit, metric, None)
    record = problem.checker.check(levels)
    assert record.anonymous
    return record.metric


@pytest.mark.parametrize(("gs", "expected"), [(0.5, 1.0), (0.25, 0.5), (0.75, 1.0), (0.0, 0.0)])
def test_the_gs_factor_weighs_suppression_against_generalization(gs: float, expected: float) -> None:
    # Node (0, 0), 2 of 4 rows suppressed. q: kept a, a have share 1/4; b, c are charged
    # share + f (1 - share) with f = 2 gs below 0.5, else 1; generalization is scaled by
    # g = 1 - 2 (gs - 0.5) above 0.5. E.g. gs = 0.25: q S = 0.5 + 2 * 0.625 = 1.75,
    # (1.75 - 1) / 3 = 0.25; r S = 1 + 2 * 0.75 = 2.5, (2.5 - 2) / 2 = 0.25; sum 0.5.
    metric = create_metric("loss", gs_factor=gs, aggregate="sum")
    assert _value(metric, (0, 0)) == pytest.approx(expected, abs=1e-12)


def test_the_gs_factor_moves_the_optimum() -> None:
    favour_suppression = anonymize(TABLE, {"q": Q, "r": R}, [KAnonymity(2)], 0.5,
                                   create_metric("loss", gs_factor=0.25, aggregate="sum"))
    free_generalization = anonymize(TABLE, {"q": Q, "r": R}, [KAnonymity(2)], 0.5,
                                    create_metric("loss", gs_factor=1.0, aggregate="sum"))
    assert favour_suppression.levels == {"q": 0, "r": 0} and favour_suppression.suppressed_rows == 2
    assert free_generalization.levels == {"q": 2, "r": 0} and free_generalization.suppressed_rows == 0
    assert free_generalization.info_loss == 0.0


@pytest.mark.parametrize(("aggregate", "expected"), [
    ("sum", 1 / 3), ("max", 1 / 3), ("arithmetic-mean", 1 / 6),
    # ((1 + 1/3) * 1)^(1/2) * ((1 + 0) * 0.5)^(1/2) - 1
    ("geometric-mean", (2 / 3) ** 0.5 - 1), ("rank", 1 / 3),
])
def test_weights_and_aggregate_functions_combine_the_attribute_values(aggregate: str, expected: float) -> None:
    # Node (1, 0), k = 1, nothing suppressed: q's S = 4 * 1/2 = 2, (2 - 1) / 3 = 1/3; r's value is 0.
    # Weights q=4, r=2 are divided by the largest: 1 and 0.5.
    metric = create_metric("loss", weights={"q": 4, "r": 2}, aggregate=aggregate)
    # (each attribute's value is cut to 10 decimals, as ARX does)
    assert _value(metric, (1, 0), limit=0.0, k=1) == pytest.approx(expected, abs=1e-9)


def test_rank_orders_nodes_by_their_sorted_weighted_values() -> None:
    metric = create_metric("loss", aggregate="rank")
    problem = _Problem(TABLE, {"q": Q, "r": R}, [KAnonymity(1)], 0.0, metric, None)
    # (1, 0): q 1/3, r 0; (0, 1): q 0, r (4 - 2) / 2 = 1.
    assert problem.checker.check((1, 0)).rank == pytest.approx((1 / 3, 0.0))
    assert problem.checker.check((0, 1)).rank == pytest.approx((1.0, 0.0))
    result = anonymize(TABLE, {"q": Q, "r": R}, [KAnonymity(2)], 0.0, create_metric("loss", aggregate="rank"))
    exhaustive = anonymize(TABLE, {"q": Q, "r": R}, [KAnonymity(2)], 0.0, create_metric("loss", aggregate="rank"),
                           algorithm="exhaustive")
    assert result.levels == exhaustive.levels == {"q": 2, "r": 0}


@pytest.mark.parametrize(("name", "expected"), [
    # DM charges each suppressed row N: 2^2 + 2 * 4; DM* their own class sizes: 4 + 1 + 1.
    ("dm-nonmonotonic", 12.0), ("dm", 6.0),
    # precision per attribute: kept rows at level 0 cost 0, suppressed 1: (2/4 + 2/4) / 2.
    ("precision", 0.5), ("precision-monotonic", 0.0),
    # entropy: nothing generalized; the non-monotonic variant adds, per attribute, the entropy of
    # the suppressed rows' values: q {b, c}: 2 * 1 bit; r {y, y}: 0 bits.
    ("entropy", 0.0), ("entropy-nonmonotonic", 2.0),
])
def test_the_metric_variants_charge_suppressed_rows_as_documented(name: str, expected: float) -> None:
    assert _value(name, (0, 0)) == pytest.approx(expected, abs=1e-12)


def test_monotonic_entropy_charges_every_row_by_its_generalization() -> None:
    # Node (1, 0): q's rows a, a, b become ab (3 rows): 2 log2(3/2) + log2(3/1); c becomes cd
    # (1 row): 0. The suppressed rows b and c count like the kept ones.
    expected = 2 * 0.5849625007211562 + 1.584962500721156
    assert _value("entropy", (1, 0)) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("options", "message"), [
    ({"gs_factor": 1.5}, "gs_factor must be a number between 0 and 1, got 1.5"),
    ({"aggregate": "median"}, "unknown aggregate 'median'; choose one of: sum, max, arithmetic-mean, "
                              "geometric-mean, rank"),
    ({"weights": {"q": -1}}, "weight of 'q' must be a number >= 0, got -1"),
])
def test_it_rejects_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        create_metric("loss", **options)
    assert str(error.value) == message


def test_it_rejects_options_a_metric_does_not_have_and_weights_of_unknown_columns() -> None:
    with pytest.raises(ValueError, match="metric 'dm' has no option gs_factor"):
        create_metric("dm", gs_factor=0.3)
    with pytest.raises(ValueError, match="weight given for column.s. that are not quasi-identifiers: zip"):
        anonymize(TABLE, {"q": Q, "r": R}, [KAnonymity(2)], 0.5, create_metric("loss", weights={"zip": 1}))


#: ARX 3.9 (TestAnonymizationKAnonymity): monotonic entropy, all nine Adult columns.
ENTROPY_K = [
    (5, 0.04, 255559.85455731067, (1, 0, 1, 1, 3, 2, 2, 0, 1)),
    (100, 0.04, 379417.3460570988, (1, 1, 1, 1, 3, 2, 2, 1, 1)),
    (5, 0.0, 407289.5388925293, (1, 2, 1, 1, 3, 2, 2, 1, 1)),
    (100, 0.0, 453196.8932458743, (0, 4, 1, 1, 3, 2, 2, 1, 1)),
]


@pytest.mark.parametrize(("k", "limit", "value", "levels"), ENTROPY_K)
def test_it_reproduces_arx_monotonic_entropy_on_adult(adult, k, limit, value, levels) -> None:
    table, hierarchies, _ = adult
    result = anonymize(table, hierarchies, [KAnonymity(k)], limit, "entropy")
    assert result.info_loss == pytest.approx(value, rel=1e-14)
    assert tuple(result.levels[c] for c in ADULT_COLUMNS) == levels


@pytest.mark.parametrize(("limit", "value", "levels"), [
    (0.04, 228878.2039109519, (1, 0, 1, 1, 2, 2, 2, 1)),
    (0.0, 324620.5269918695, (1, 1, 1, 1, 3, 2, 2, 1)),
])
def test_it_reproduces_arx_non_monotonic_entropy_with_entropy_l_diversity(adult, limit, value, levels) -> None:
    # ARX 3.9 (TestAnonymizationLDiversity): entropy-5-diversity on occupation, the other eight
    # columns as quasi-identifiers.
    table, hierarchies, _ = adult
    columns = [c for c in ADULT_COLUMNS if c != "occupation"]
    result = anonymize(table, {c: hierarchies[c] for c in columns}, [EntropyLDiversity("occupation", 5)], limit,
                       "entropy-nonmonotonic")
    assert result.info_loss == pytest.approx(value, rel=1e-14)
    assert tuple(result.levels[c] for c in columns) == levels
