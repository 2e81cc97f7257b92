"""Release services and extraction: schedules, claims, and what a transaction row holds."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Account, Customer
from accounts.services import account_open, card_issue
from anonymization import services
from anonymization.columns import INDIVIDUAL, TRANSACTION_COLUMNS
from anonymization.exceptions import ReleaseNotRunnable
from anonymization.extract import extract
from anonymization.models import Release, ReleasePolicy
from transactions.models import LedgerEntry

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


def _entry(account: Account, at: datetime.datetime, amount: int, balance: int, kind: str = "deposit") -> None:
    LedgerEntry.objects.create(account=account, kind=kind, amount_minor=amount, balance_after_minor=balance,
                               created_at=at, channel="branch", reference="R", idempotency_key=f"k-{at}-{amount}")


def test_it_schedules_a_new_policy_and_follows_renames_and_disabling(db):
    policy = ReleasePolicy.objects.create(name="Weekly customers", source="customers", columns=["age"])
    task = services.policy_schedule_sync(policy=policy)
    assert (task.name, task.enabled, task.task) == ("Nightly release: Weekly customers", True,
                                                    "anonymization.tasks.run_nightly_release")
    policy.name = "Customers"
    policy.save()
    services.policy_schedule_sync(policy=policy)
    services.policy_set_enabled(policy_id=policy.pk, enabled=False)
    task.refresh_from_db()
    assert (task.name, task.enabled) == ("Nightly release: Customers", False)
    assert PeriodicTask.objects.filter(task="anonymization.tasks.run_nightly_release").count() == 2


def test_it_requeues_a_failed_release_when_run_again(nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1), status=Release.Status.FAILED,
                                     error="The task queue is unreachable")
    rerun = services.release_enqueue(policy_id=nightly.pk, as_of=release.as_of)
    assert rerun.pk == release.pk
    # No data at all: the eager run fails again, with the new reason.
    assert rerun.status == Release.Status.FAILED
    assert rerun.error == "There is no data to release as of 2025-01-01."
    assert rerun.attempts == 1


def test_it_never_runs_a_published_release_again(nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1),
                                     status=Release.Status.PUBLISHED)
    with pytest.raises(ReleaseNotRunnable, match=rf"^Release #{release.pk} is already published\.$"):
        services.release_claim(release_id=release.pk)


def test_it_fails_an_abandoned_run(nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1),
                                     status=Release.Status.RUNNING, claim_token="t", heartbeat_at=timezone.now())
    services.release_abandon(release_id=release.pk, reason="Interrupted from the command line.")
    release.refresh_from_db()
    assert (release.status, release.error) == (Release.Status.FAILED, "Interrupted from the command line.")


def test_it_extracts_one_row_per_entry_joined_to_customer_and_first_card(db):
    person = Customer.objects.create(first_name="Ann", last_name="Lee", birth_date=datetime.date(1990, 4, 1),
                                     gender="F", postal_code="1012 AB", city="Amsterdam")
    account = account_open(customer=person, rng=random.Random(1))
    first = card_issue(account=account, network="mastercard", pin="2468").card
    card_issue(account=account, network="visa", pin="2468")
    late_evening = datetime.datetime(2025, 3, 31, 23, 30, tzinfo=AMSTERDAM)  # 21:30 UTC, still the 31st locally
    _entry(account, late_evening, 12_345, 12_345)
    _entry(account, datetime.datetime(2025, 4, 1, 0, 30, tzinfo=AMSTERDAM), 100, 12_445)  # after the as-of date
    frame = extract(source="transactions", as_of=datetime.date(2025, 3, 31), columns=list(TRANSACTION_COLUMNS)).frame
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["age"] == 34  # the birthday (1 April) is after the as-of date
    assert (row["gender"], row["postal_code"], row["card_network"]) == ("F", "1012 AB", "mastercard")
    assert row["card_number"] == first.bin
    assert row["transaction_date"] == datetime.datetime(2025, 3, 31)
    assert (row["amount"], row["balance_after"], row["kind"], row["channel"]) == (123.45, 123.45, "deposit", "branch")
    assert row[INDIVIDUAL] == 0
    assert not {"first_name", "last_name", "email", "phone", "number"} & set(frame.columns)


def test_it_extracts_customer_aggregates(db):
    person = Customer.objects.create(first_name="Bo", last_name="Ek", birth_date=datetime.date(1980, 1, 1),
                                     gender="M", postal_code="75001", city="Paris")
    account = account_open(customer=person, rng=random.Random(2))
    day = datetime.datetime(2025, 3, 1, 12, tzinfo=AMSTERDAM)
    _entry(account, day, 50_000, 50_000)
    _entry(account, day + datetime.timedelta(hours=1), -20_000, 30_000, kind="withdrawal")
    columns = ["age", "card_network", "transactions", "deposits_total", "withdrawals_total", "balance"]
    frame = extract(source="customers", as_of=datetime.date(2025, 3, 31), columns=columns).frame
    assert frame[columns].iloc[0].tolist() == [45, "none", 2, 500.0, 200.0, 300.0]


def test_it_keeps_the_heartbeat_fresh_during_the_search(nightly, monkeypatch):
    from anonymization import pipeline
    from transactions.demo import population_generate as populate

    as_of = datetime.date(2025, 3, 31)
    populate(customers=40, entries=300, last_day=as_of, days=10, seed=7)
    monkeypatch.setattr(pipeline, "HEARTBEAT_SECONDS", 0.0)
    beats: list[str] = []
    original = pipeline._Run.searching

    def spy(run, nodes_checked: int, lattice_size: int) -> None:
        original(run, nodes_checked, lattice_size)
        beats.append(Release.objects.get(pk=run.release.pk).progress_step)

    monkeypatch.setattr(pipeline._Run, "searching", spy)
    release = services.release_run_for_policy(policy_id=nightly.pk, as_of=as_of)
    assert release.status == Release.Status.PUBLISHED, release.error
    assert beats and beats[0].startswith("searching: 1/")
    assert all(beat.endswith(" checked") for beat in beats)


def test_it_stops_a_search_whose_release_was_taken_over(nightly, monkeypatch):
    from anonymization import pipeline
    from transactions.demo import population_generate as populate

    as_of = datetime.date(2025, 3, 31)
    populate(customers=40, entries=300, last_day=as_of, days=10, seed=8)
    monkeypatch.setattr(pipeline, "HEARTBEAT_SECONDS", 0.0)
    original = pipeline._Run.searching

    def taken_over(run, nodes_checked: int, lattice_size: int) -> None:
        Release.objects.filter(pk=run.release.pk).update(claim_token="another-worker")
        original(run, nodes_checked, lattice_size)

    monkeypatch.setattr(pipeline._Run, "searching", taken_over)
    release = services.release_run_for_policy(policy_id=nightly.pk, as_of=as_of)
    # This worker stopped at its first search heartbeat: nothing written, the release left to its new owner.
    assert (release.status, release.claim_token) == (Release.Status.RUNNING, "another-worker")
    assert not release.artifacts.exists()
    assert release.progress_step == "anonymizing"
