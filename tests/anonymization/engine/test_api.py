from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymization.engine import (
    DistinctLDiversity,
    EntropyLDiversity,
    Hierarchy,
    HierarchyError,
    KAnonymity,
    NoSolutionError,
    TCloseness,
    anonymize,
)
from anonymization.engine.metrics import METRICS

AGE = Hierarchy.intervals(range(20, 40), widths=[5, 10, 20])
ZIP = Hierarchy.masking(["1234", "1235", "1299", "5555"])


def _people() -> pd.DataFrame:
    return pd.DataFrame({
        "name": [f"p{i}" for i in range(8)],
        "age": [21, 22, 23, 24, 31, 32, 33, 38],
        "zip": ["1234", "1235", "1234", "1299", "5555", "5555", "5555", "5555"],
        "disease": ["flu", "cold", "flu", "hiv", "flu", "cold", "cold", "flu"],
    })


def test_it_returns_the_generalized_table_and_statistics() -> None:
    result = anonymize(_people(), {"age": AGE, "zip": ZIP}, [KAnonymity(4)], suppression_limit=0.0)
    assert list(result.data.columns) == ["name", "age", "zip", "disease"]
    assert result.data["name"].tolist() == [f"p{i}" for i in range(8)]
    assert result.levels == {"age": 2, "zip": 2}
    assert result.data["age"].tolist() == ["[20, 30)"] * 4 + ["[30, 40)"] * 4
    assert result.data["zip"].tolist() == ["12**"] * 4 + ["55**"] * 4
    assert (result.rows_in, result.rows_out, result.suppressed_rows) == (8, 8, 0)
    assert (result.classes.count, result.classes.min_size, result.classes.max_size) == (2, 4, 4)
    assert result.classes.size_distribution == {4: 2}
    assert (result.risk.basis, result.risk.max, result.risk.average) == ("rows", 0.25, 0.25)
    assert result.search.lattice_size == 5 * 5
    assert result.search.nodes_checked + result.search.nodes_tagged == 25


def test_it_keeps_original_values_of_quasi_identifiers_left_at_level_zero() -> None:
    table = _people().assign(age=[30] * 8)
    result = anonymize(table, {"age": AGE, "zip": ZIP}, [KAnonymity(4)], suppression_limit=0.0)
    assert result.levels["age"] == 0
    assert result.data["age"].dtype == np.int64


def test_it_removes_suppressed_rows_and_keeps_the_index() -> None:
    table = _people()
    result = anonymize(table, {"zip": ZIP}, [KAnonymity(2)], suppression_limit=0.25, metric="loss")
    assert result.levels == {"zip": 0}
    assert result.suppressed_rows == 2
    assert result.data.index.tolist() == [0, 2, 4, 5, 6, 7]


def test_it_counts_distinct_individuals_when_given_an_individual_id() -> None:
    # One customer with four transactions is one person: k=2 over people forces generalization.
    table = pd.DataFrame({"customer_id": [1, 1, 1, 1, 2, 3], "zip": ["1234"] * 4 + ["1235", "1299"]})
    by_rows = anonymize(table, {"zip": ZIP}, [KAnonymity(2)], 0.0)
    by_people = anonymize(table, {"zip": ZIP}, [KAnonymity(2)], 0.0, individual_id="customer_id")
    assert by_rows.levels == {"zip": 2}
    assert by_people.levels == {"zip": 2}
    only_one = anonymize(table.iloc[:5], {"zip": ZIP}, [KAnonymity(2)], 0.0, individual_id="customer_id")
    assert only_one.levels == {"zip": 1}
    assert only_one.risk.basis == "individuals" and only_one.risk.max == 0.5


def test_it_combines_diversity_and_closeness_criteria() -> None:
    criteria = [KAnonymity(2), DistinctLDiversity("disease", 2), EntropyLDiversity("disease", 1.5),
                TCloseness("disease", 0.5)]
    result = anonymize(_people(), {"age": AGE, "zip": ZIP}, criteria, 0.0)
    groups = result.data.groupby(["age", "zip"])["disease"]
    assert groups.nunique().min() >= 2


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_it_accepts_every_registered_metric(metric: str) -> None:
    result = anonymize(_people(), {"age": AGE, "zip": ZIP}, [KAnonymity(2)], 0.0, metric)
    assert result.metric == metric and result.info_loss >= 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"quasi_identifiers": {"agee": AGE, "zipp": ZIP}}, "unknown quasi-identifier column(s): 'agee', 'zipp'"),
    ({"quasi_identifiers": {}}, "at least one quasi-identifier is required"),
    ({"criteria": []}, "at least one privacy criterion is required"),
    ({"criteria": [KAnonymity(2), DistinctLDiversity("illness", 2)]}, "unknown sensitive column(s): 'illness'"),
    ({"criteria": [DistinctLDiversity("zip", 2)]},
     "sensitive column(s) also used as quasi-identifier or individual id: 'zip'"),
    ({"criteria": [DistinctLDiversity("disease", 2), TCloseness("name", 0.2)]},
     "all criteria must use the same sensitive column, got 'disease', 'name'"),
    ({"suppression_limit": 1.5}, "suppression_limit must be a fraction between 0 and 1, got 1.5"),
    ({"individual_id": "customer"}, "unknown individual id column: 'customer'"),
    ({"individual_id": "zip"}, "individual id column 'zip' is also a quasi-identifier"),
    ({"metric": "speed"}, "unknown metric 'speed'; choose one of: aecs, dm, dm-nonmonotonic, entropy, entropy-nonmonotonic, height, loss, precision, precision-monotonic"),
    ({"algorithm": "greedy"}, "algorithm must be 'flash' or 'exhaustive', got 'greedy'"),
])
def test_it_rejects_bad_arguments_with_a_clear_message(kwargs: dict, message: str) -> None:
    arguments = {"quasi_identifiers": {"age": AGE, "zip": ZIP}, "criteria": [KAnonymity(2)], **kwargs}
    with pytest.raises(ValueError) as error:
        anonymize(_people(), **arguments)
    assert str(error.value) == message


@pytest.mark.parametrize(("make", "message"), [
    (lambda: KAnonymity(0), "k must be a positive integer, got 0"),
    (lambda: DistinctLDiversity("s", 1.5), "l must be a positive integer, got 1.5"),
    (lambda: EntropyLDiversity("s", 0.5), "l must be a number >= 1, got 0.5"),
    (lambda: TCloseness("s", 2), "t must be a number between 0 and 1, got 2"),
    (lambda: TCloseness("s", 0.2, "manhattan"), "distance must be 'equal', 'ordered' or 'hierarchical', got 'manhattan'"),
])
def test_it_rejects_bad_criterion_parameters(make, message: str) -> None:
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


def test_it_names_data_values_missing_from_a_hierarchy() -> None:
    with pytest.raises(HierarchyError) as error:
        anonymize(_people(), {"zip": Hierarchy.masking(["1234", "1235"])}, [KAnonymity(2)])
    assert str(error.value) == "hierarchy for 'zip' has no row for value(s): '1299', '5555'"


def test_it_raises_no_solution_when_nothing_satisfies_the_criteria() -> None:
    with pytest.raises(NoSolutionError) as error:
        anonymize(_people(), {"zip": ZIP}, [KAnonymity(9)], suppression_limit=0.25)
    assert str(error.value) == ("no transformation satisfies the criteria: even the most general one "
                                "suppresses 8 of 8 rows, at most 2 allowed")


def test_it_treats_missing_values_as_the_null_string() -> None:
    table = pd.DataFrame({"zip": ["1234", None, "1234", None]})
    hierarchy = Hierarchy([["1234", "*"], ["NULL", "*"]])
    result = anonymize(table, {"zip": hierarchy}, [KAnonymity(2)], 0.0)
    assert result.levels == {"zip": 0} and result.classes.count == 2


def test_it_reports_progress_after_every_check() -> None:
    calls: list[tuple[int, int]] = []
    result = anonymize(_people(), {"age": AGE, "zip": ZIP}, [KAnonymity(4)], 0.0, progress=lambda *a: calls.append(a))
    assert calls[-1] == (result.search.nodes_checked, 25)
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))


def test_it_exports_a_small_public_api_from_the_modules_that_define_it() -> None:
    import importlib

    import anonymization.engine as engine

    homes = {"anonymize": "api", "mondrian": "mondrian", "workload_error": "utility", "attack_report": "attacks",
             "parse_label": "coverage", "CoverageResolver": "coverage", "Interval": "coverage"}
    assert len(engine.__all__) == len(set(engine.__all__))
    assert all(hasattr(engine, name) for name in engine.__all__)
    for name, home in homes.items():
        assert getattr(engine, name) is getattr(importlib.import_module(f"anonymization.engine.{home}"), name)
