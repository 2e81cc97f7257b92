"""Differencing and intersection (attacks/linkage.py) on tiny ledgers whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anonymization.engine.attacks import differencing, intersection

from .builders import frames, person


def test_it_pins_the_one_new_row_of_a_cumulative_file() -> None:
    same = person("[20, 30)", "1****")
    first = frames([same, same, same], ["A", "B", "C"], [1, 2, 3])
    second = frames([same, same, same, same], ["A", "B", "C", "A"], [1, 2, 3, 4])
    figures = differencing([first[0], second[0]], [first[1], second[1]], k=2)
    assert (figures.new_rows, figures.relabeled_rows) == (1, 0)
    assert (figures.rows_below_k, figures.rows_pinned, figures.customers_below_k) == (1, 1, 1)


def four_people_two_ways() -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.DataFrame]]:
    """Four customers; night 1 hides age, night 2 hides postal code: each file is 2-anonymous."""
    ages, postals = [22, 27, 22, 27], ["12345", "12345", "12399", "12399"]
    night1 = frames([person("[20, 30)", p) for p in postals], list("ABCD"), [1, 2, 3, 4])
    night2 = frames([person(str(a), "123**") for a in ages], list("ABCD"), [1, 2, 3, 4])
    raw = pd.DataFrame({"age": ages, "postal_code": postals, "transaction_date": "2026-03-02",
                        "amount": 50.0, "kind": "withdrawal"})
    return [night1[0], night2[0]], [night1[1], night2[1]], [raw, raw]


def test_it_isolates_customers_by_intersecting_two_generalizations() -> None:
    files, ids, raw = four_people_two_ways()
    figures = intersection(files, ids, k=2)
    assert (figures.aligned_entries, figures.aligned_rows, figures.entries) == (4, 8, 4)
    assert (figures.classes, figures.classes_below_k, figures.entries_pinned, figures.customers_below_k) == (4, 4, 4, 4)


def test_it_counts_relabeled_rows_as_new_but_not_below_k() -> None:
    files, ids, _ = four_people_two_ways()
    figures = differencing(files, ids, k=2)
    assert (figures.new_rows, figures.relabeled_rows, figures.rows_below_k) == (4, 4, 0)


def test_it_aligns_nothing_for_disjoint_increments() -> None:
    night1 = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [1, 2])
    night2 = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [3, 4])
    figures = intersection([night1[0], night2[0]], [night1[1], night2[1]], k=2)
    assert (figures.aligned_entries, figures.aligned_rows, figures.entries_below_k) == (0, 0, 0)


def test_it_narrows_a_target_by_intersecting_demographic_classes_across_increments() -> None:
    # every night is 2-anonymous, but A is the only customer active on both nights
    night1 = frames([person("[20, 30)", "1****")] * 2, ["A", "B"], [1, 2])
    night2 = frames([person("[20, 30)", "1****")] * 2, ["A", "C"], [3, 4])
    raw = pd.DataFrame({"age": [25, 25], "postal_code": ["12345", "12345"]})
    figures = intersection([night1[0], night2[0]], [night1[1], night2[1]], k=2, raw=[raw, raw], targets=3,
                           rng=np.random.default_rng(0))
    assert (figures.targets, figures.targets_below_k_one_file, figures.targets_below_k_two_files) == (3, 0, 1)

