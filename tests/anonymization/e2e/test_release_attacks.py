"""The attacker against real published increments of a small bank, and against the old cumulative design.

A bank of 120 customers (60 days of ledger) publishes its first release and three nightly
increments through the release service; the attacks of `anonymization.engine.attacks` then run over
every published file with the ground truth the run held in memory (tests/support/privacy_designs.py).
The promise: no attack narrows a row, an entry, a transaction or a target below k customers. As a
control that the attacks bite, the same nights published the old way (the whole history each night,
Flash, rows in ledger order) must show rows below k.

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
# narrowed below k or pinned to one customer (report.below_k sums them).
BELOW_K = [
    ("differencing", "rows_below_k"), ("differencing", "rows_pinned"),
    ("intersection", "entries_below_k"), ("intersection", "entries_pinned"),
    ("intersection", "targets_below_k_one_file"), ("intersection", "targets_below_k_two_files"),
    ("known_transactions", "transactions_below_k"), ("known_transactions", "targets_below_k"),
    ("known_transactions", "targets_pinned"), ("known_transactions", "chaining.customers_exposed"),
    ("row_order", "targets_below_k_window"), ("row_order", "targets_pinned_window"),
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
        transaction.set_rollback(True)
    return {name: designs.attacks_play(files, ledger, k=spec.k, seed=3, n_targets=1000)
            for name, files in (("increments", increments), ("cumulative", cumulative))}


def _figures(report: AttackReport) -> dict[tuple[str, str], float]:
    return {(attack, metric): value for attack, metric, value in report.rows()}


def test_it_attacks_every_published_increment(reports):
    report = reports["increments"]
    assert len(report.differencing.pairs) == len(NIGHTS) - 1
    assert report.known_transactions.targets == CUSTOMERS  # every customer is a target
    assert report.intersection.aligned_rows == 0  # each entry is published once
    assert report.known_transactions.own_rows_missed == 0  # the attacker reads every label of the files


# Known leak, issue 9: these figures intersect the ground-truth customers behind rows of several
# nights (an attacker who could link a customer's rows across files); increments drawn with
# different cuts each night still let two known transactions narrow a target. Strict: the test
# fails as soon as the leak is closed, so the marker must then go.
CROSS_NIGHT_LEAKS = {
    ("intersection", "targets_below_k_two_files"), ("known_transactions", "targets_below_k"),
    ("known_transactions", "targets_pinned"), ("row_order", "targets_below_k_window"),
    ("row_order", "targets_pinned_window"),
}
LEAK = pytest.mark.xfail(strict=True, reason="issue 9: two nights' files still narrow some targets below k")
CASES = [pytest.param(attack, metric, id=f"{attack}.{metric}", marks=[LEAK] if (attack, metric) in CROSS_NIGHT_LEAKS else [])
         for attack, metric in BELOW_K]


@pytest.mark.parametrize(("attack", "metric"), CASES)
def test_it_narrows_nothing_below_k_in_increments(reports, attack, metric):
    assert _figures(reports["increments"])[(attack, metric)] == 0


def test_it_keeps_increments_in_an_order_unrelated_to_the_ledger(reports):
    assert abs(reports["increments"].row_order.spearman_mean) < 0.2


def test_it_narrows_rows_below_k_in_cumulative_files_in_ledger_order(reports):
    report = reports["cumulative"]
    assert report.row_order.spearman_min > 0.99
    assert report.differencing.rows_below_k > 0
    assert report.row_order.targets_below_k_window > 0
    assert report.below_k > 0
