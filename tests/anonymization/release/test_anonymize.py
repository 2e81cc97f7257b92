"""The engine adapter: classes over every released column (kind included) and a secret row order (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.policy.catalog import INDIVIDUAL
from anonymization.policy.spec import PolicySpec, QuasiIdentifierSpec
from anonymization.release.anonymize import anonymize
from anonymization.release.verify import rank_correlation

AGE = QuasiIdentifierSpec(column="age", builder="intervals", params={"widths": [10]})


def _spec(suppression_limit: float) -> PolicySpec:
    return PolicySpec(name="Kinds", source="transactions", columns=("age", "kind"), quasi_identifiers=(AGE,), k=5,
                      suppression_limit=suppression_limit, metric="loss")


def _frame() -> pd.DataFrame:
    """Ten customers of one age: nine made deposits, one only a withdrawal (a class of 1 once kind counts)."""
    kinds = ["deposit"] * 9 + ["withdrawal"]
    return pd.DataFrame({"age": np.full(10, 30), "kind": pd.Categorical(kinds), INDIVIDUAL: np.arange(10)})


def test_it_generalizes_kind_when_it_splits_a_class_below_k():
    outcome = anonymize(_frame(), _spec(suppression_limit=0.0))
    assert outcome.levels["kind"] == 1
    assert set(outcome.released["kind"]) == {"*"}
    assert outcome.suppressed == 0


def test_it_suppresses_the_rare_kind_when_the_budget_allows():
    outcome = anonymize(_frame(), _spec(suppression_limit=0.1))
    assert (outcome.levels["kind"], outcome.suppressed) == (0, 1)
    assert set(outcome.released["kind"]) == {"deposit"}
    assert 9 not in outcome.individuals


@pytest.mark.parametrize("rows", [200, 1_000])
def test_it_hands_back_rows_in_a_secret_order_aligned_with_customers_and_ledger_positions(rows):
    frame = pd.DataFrame({"age": np.arange(rows) % 50 + 20, "kind": pd.Categorical(["deposit"] * rows),
                          INDIVIDUAL: np.arange(rows) % 40})
    outcome = anonymize(frame, _spec(suppression_limit=0.02))
    assert sorted(outcome.positions.tolist()) == list(range(rows))
    assert abs(rank_correlation(outcome.positions)) < 0.1
    assert (outcome.individuals == frame[INDIVIDUAL].to_numpy()[outcome.positions]).all()
