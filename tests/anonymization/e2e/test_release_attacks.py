"""The attacker against real published increments of a small bank, and against the old cumulative design.

A bank of 120 customers (60 days of ledger) publishes its first release and three nightly
increments through the release service; the attacks of `anonymization.engine.attacks` then run over
every published file with the ground truth the run held in memory and the population register
(tests/support/privacy_designs.py). The promise: no attack narrows a row, an entry, a transaction or
a target below k customers, counting across files only what the labels let the attacker link (the
observable figures). The `linked_*` figures, what pseudonyms linking a customer's rows across files
would give, are reported as an upper bound and not asserted. As a control that the attacks bite,
the same nights published the old way (the whole history each night, Flash, rows in ledger order)
must show rows below k.

Everything is computed once per module inside a transaction that is rolled back, with the release
files removed; the tests read only the reports.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from anonymization.engine.attacks import AttackReport
from anonymization.release import write
from tests.support import privacy_designs as designs
from transactions.demo import population_generate as populate

# The database is set up only for modules that ask for it; the tests themselves read reports.
pytestmark = pytest.mark.django_db

LAST_NIGHT = datetime.date(2025, 3, 31)
NIGHTS = designs.nights_from(LAST_NIGHT, 3)
CUSTOMERS = 120

# Every figure of attack_report that counts rows, entries, transactions, targets or customers
# narrowed below k or pinned to one customer; across files, the observable ones (report.below_k
# sums them, with the chaining exposure asserted beside them).
BELOW_K = [
    ("differencing", "rows_below_k"), ("differencing", "rows_pinned"),
    ("intersection", "entries_below_k"), ("intersection", "entries_pinned"),
    ("intersection", "targets_below_k_one_file"), ("intersection", "targets_below_k_two_files"),
    ("known_transactions", "transactions_below_k"), ("known_transactions", "targets_below_k"),
    ("known_transactions", "targets_pinned"), ("known_transactions", "chaining.customers_exposed"),
    ("row_order", "targets_below_k_window"), ("row_order", "targets_pinned_window"),
]
# The ground-truth intersections across files, each beside its observable figure: an upper bound,
# reported (never below the observable figure), not part of the promise.
LINKED = [
    ("intersection", "linked_targets_below_k_two_files", "targets_below_k_two_files"),
    ("known_transactions", "linked_transactions_below_k", "transactions_below_k"),
    ("known_transactions", "linked_targets_below_k", "targets_below_k"),
    ("known_transactions", "linked_targets_pinned", "targets_pinned"),
    ("row_order", "linked_targets_below_k_window", "targets_below_k_window"),
    ("row_order", "linked_targets_pinned_window", "targets_pinned_window"),
]


@pytest.fixture(scope="module")
def reports(django_db_setup, django_db_blocker) -> dict[str, AttackReport]:
    """Publish the increments, simulate the cumulative files, attack both; leave nothing behind."""
    with django_db_blocker.unblock(), transaction.atomic():
        populate(customers=CUSTOMERS, entries=6_000, last_day=LAST_NIGHT, days=60, seed=5)
        policy, spec = designs.policy_spec()
        try:
            increments = designs.increments_publish(policy_id=policy.pk, nights=NIGHTS)
        finally:
            write.remove_folder(f"releases/{policy.pk}")
        cumulative = designs.cumulative_simulate(spec=spec, nights=NIGHTS)
        ledger = designs.ledger_read(spec, LAST_NIGHT)
        population = designs.population_read(NIGHTS)
        transaction.set_rollback(True)
    return {name: designs.attacks_play(files, ledger, population, k=spec.k, seed=3, n_targets=1000)
            for name, files in (("increments", increments), ("cumulative", cumulative))}


def _figures(report: AttackReport) -> dict[tuple[str, str], float]:
    return {(attack, metric): value for attack, metric, value in report.rows()}


def test_it_attacks_every_published_increment(reports):
    report = reports["increments"]
    assert len(report.differencing.pairs) == len(NIGHTS) - 1
    assert report.known_transactions.targets == CUSTOMERS  # every customer is a target
    assert report.intersection.aligned_rows == 0  # each entry is published once
    assert report.known_transactions.own_rows_missed == 0  # the attacker reads every label of the files


# Issue 9 was measured with the ground-truth intersections across nights, which need pseudonyms the
# files do not carry; they are now the linked_* figures below, and the observable figures count.
# Issue 9 itself (local recoding cut demographics afresh every night, so two nights' boxes could
# intersect below k) is closed: person columns carry the customer's cell at the policy version's
# fixed levels, or `*` (release/anonymize.py), so every figure below must be 0 on every run.
CASES = [pytest.param(attack, metric, id=f"{attack}.{metric}") for attack, metric in BELOW_K]


@pytest.mark.parametrize(("attack", "metric"), CASES)
def test_it_narrows_nothing_below_k_in_increments(reports, attack, metric):
    assert _figures(reports["increments"])[(attack, metric)] == 0


@pytest.mark.parametrize("design", ["increments", "cumulative"])
def test_it_reports_linked_figures_as_an_upper_bound_of_the_observable_ones(reports, design):
    # the register holds every owner's demographics as their rows show them, so the owners of
    # compatible rows are always among the observable candidates: L ⊆ C, hence more narrowed
    figures = _figures(reports[design])
    for attack, linked, observable in LINKED:
        assert figures[(attack, linked)] >= figures[(attack, observable)], (attack, linked)


def test_it_keeps_increments_in_an_order_unrelated_to_the_ledger(reports):
    assert abs(reports["increments"].row_order.spearman_mean) < 0.2


def test_it_narrows_rows_below_k_in_cumulative_files_in_ledger_order(reports):
    report = reports["cumulative"]
    assert report.row_order.spearman_min > 0.99
    assert report.differencing.rows_below_k > 0
    assert report.intersection.entries_below_k > 0  # the same entry's labels intersected across files
    # the window finds the target's rows; with one Flash level per file their labels are those of
    # many other rows, so it is the pseudonym bound that narrows with it
    assert report.row_order.linked_targets_below_k_window > 0
    assert report.below_k > 0
