"""Utility at release time: the fixed workload on the rows a release read (sampled when large), survival, warnings."""

from __future__ import annotations

from anonymization.release import utility
from anonymization.release.anonymize import anonymize
from tests.anonymization.release.test_anonymize import DATES, _ledger, _local_spec


def test_it_measures_the_fixed_workload_on_every_raw_row_of_a_small_release():
    frame = _ledger()
    outcome = anonymize(frame, _local_spec(), dates=DATES)
    figures = utility.release_utility(raw=frame, outcome=outcome, spec=_local_spec(), dates=DATES)
    workload = figures["workload"]
    assert {key: workload[key] for key in ("measured", "queries", "seed", "min_rows", "raw_rows", "sampled")} == {
        "measured": True, "queries": 200, "seed": 0, "min_rows": 20, "raw_rows": 2_000, "sampled": False}
    assert workload["aggregates"] == ["COUNT", "SUM(amount)"]
    assert figures == utility.release_utility(raw=frame, outcome=outcome, spec=_local_spec(), dates=DATES)
    assert set(figures["survival"]) == {"age", "gender", "transaction_date", "amount", "kind"}


def test_it_samples_the_raw_rows_of_a_large_release_with_a_fixed_seed(monkeypatch):
    monkeypatch.setattr(utility, "SAMPLE_ROWS", 1_000)
    frame = _ledger()
    outcome = anonymize(frame, _local_spec(), dates=DATES)
    workload = utility.release_utility(raw=frame, outcome=outcome, spec=_local_spec(), dates=DATES)["workload"]
    assert (workload["raw_rows"], workload["sampled"]) == (1_000, True)


def test_it_records_why_a_tiny_increment_has_no_workload_error():
    frame = _ledger(rows=40, customers=10)
    outcome = anonymize(frame, _local_spec(), dates=DATES)
    workload = utility.release_utility(raw=frame, outcome=outcome, spec=_local_spec(), dates=DATES)["workload"]
    assert workload["measured"] is False
    assert workload["reason"] == "query 1: no draw matched at least 20 rows in 1000 attempts"


def test_it_warns_once_per_column_that_says_nothing():
    survival = {
        "age": {"generalized_everywhere": True, "constant": True},
        "kind": {"generalized_everywhere": False, "constant": True},
        "amount": {"generalized_everywhere": False, "constant": False},
    }
    assert utility.warnings_for(survival) == ["age is * in every row: the release says nothing about it.",
                                              "kind has the same value in every row."]


def test_postal_regions_are_the_shortest_prefix_splitting_the_codes_into_five_groups():
    from anonymization.release.workload import region_digits

    one_city = tuple(f"10{d}{e} AB" for d in range(10) for e in range(3))
    assert region_digits(one_city) == 3  # "10" holds every code; "100".."109" are ten regions
    country = ("1011 AB", "2511 CD", "3011 EF", "5611 GH", "9711 IJ")
    assert region_digits(country) == 1
    assert region_digits(("A", "B")) == 1  # no prefix gives five groups: the whole code
