"""Nightly releases as increments, checked against the ledger: each entry is released at most once per policy.

A spy on the run's hold-back step records, per release, which entry ids went in, which were
released, held back or suppressed for good; the tests compare these with the ledger itself.
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.files.storage import default_storage

from anonymization.exceptions import ReleaseOutOfOrder, VerificationFailed
from anonymization.models import HeldEntry, Release, ReleasePolicy
from anonymization.release import anonymize, run, service, write
from anonymization.release.extract import cutoff_for
from tests.anonymization.e2e.conftest import NIGHT_1, NIGHT_2, NIGHT_3
from transactions.models import LedgerEntry


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    """The default policy with full-domain recoding (Flash), whose search and hold-back these tests follow."""
    ReleasePolicy.objects.filter(name="Nightly transactions").update(recoding="full_domain")
    return ReleasePolicy.objects.get(name="Nightly transactions")


@pytest.fixture
def seen(monkeypatch) -> dict[datetime.date, dict[str, set[int]]]:
    """Record, per as-of date (last attempt wins), the entry ids taken in, released, held and suppressed."""
    found: dict[datetime.date, dict[str, set[int]]] = {}
    original = run._hold_back

    def spy(claimed, extraction, outcome, held):
        holdback = original(claimed, extraction, outcome, held)
        entries = set(extraction.entries.tolist())
        released = set(extraction.entries[outcome.kept].tolist())
        found[claimed.release.as_of] = {"in": entries, "released": released, "held": set(holdback.held),
                                        "carried": set(held), "suppressed": entries - released - set(holdback.held)}
        return holdback

    monkeypatch.setattr(run, "_hold_back", spy)
    return found


def _run(policy: ReleasePolicy, as_of: datetime.date) -> Release:
    release = service.release_run_for_policy(policy_id=policy.pk, as_of=as_of)
    assert release.status == Release.Status.PUBLISHED, release.error
    return release


def _ledger_until(as_of: datetime.date) -> set[int]:
    return set(LedgerEntry.objects.filter(created_at__lt=cutoff_for(as_of)).values_list("pk", flat=True))


def _csv_rows(release: Release) -> int:
    return len(write.read_csv(release.artifacts.get(kind="csv").name))


def _metadata(release: Release) -> dict:
    with default_storage.open(release.artifacts.get(kind="metadata").name) as handle:
        return json.load(handle)


def test_it_covers_the_history_in_the_first_release(population, nightly, seen):
    first = _run(nightly, NIGHT_1)
    assert first.window_start is None
    assert seen[NIGHT_1]["in"] == _ledger_until(NIGHT_1)
    assert first.rows_in == len(_ledger_until(NIGHT_1))
    assert _csv_rows(first) == first.rows_out == len(seen[NIGHT_1]["released"])
    assert first.rows_out + first.held_rows + first.suppressed_rows == first.rows_in


def test_it_releases_only_new_entries_on_the_second_night(population, nightly, seen):
    first, second = _run(nightly, NIGHT_1), _run(nightly, NIGHT_2)
    one, two = seen[NIGHT_1], seen[NIGHT_2]
    assert second.window_start == NIGHT_2
    assert one["released"].isdisjoint(two["released"])
    assert one["released"] | two["released"] == (
        _ledger_until(NIGHT_2) - one["suppressed"] - two["suppressed"] - two["held"])
    assert two["in"] == (_ledger_until(NIGHT_2) - _ledger_until(NIGHT_1)) | one["held"]
    assert _csv_rows(second) == len(two["released"]) < _csv_rows(first)
    assert _metadata(second)["release"]["window"] == {"from": "2025-03-31", "to": "2025-03-31"}


def test_it_publishes_held_entries_on_a_later_night_and_counts_them(population, nightly, seen):
    first, second = _run(nightly, NIGHT_1), _run(nightly, NIGHT_2)
    one, two = seen[NIGHT_1], seen[NIGHT_2]
    assert first.held_rows == len(one["held"]) > 0
    assert two["carried"] == one["held"] and second.carried_rows == len(one["held"])
    # Each entry held on night 1 is released on night 2, held again or suppressed: never lost, never twice.
    assert one["held"] <= two["released"] | two["held"] | two["suppressed"]
    assert one["held"] & two["released"]
    rows = _metadata(second)["rows"]
    assert rows == {"in": second.rows_in, "out": second.rows_out, "suppressed": second.suppressed_rows,
                    "held_back": second.held_rows, "taken_in_from_earlier_nights": len(one["held"])}
    assert set(HeldEntry.objects.filter(policy=nightly).values_list("entry_id", flat=True)) == two["held"]


def test_it_suppresses_held_entries_for_good_after_the_delay(population, nightly, seen, settings):
    settings.ANONYMIZATION_MAX_HOLD_DAYS = 1
    _run(nightly, NIGHT_1)
    _run(nightly, NIGHT_2)
    one, two = seen[NIGHT_1], seen[NIGHT_2]
    night_1_days = _ledger_until(NIGHT_1) - _ledger_until(NIGHT_1 - datetime.timedelta(days=1))
    assert one["held"] and one["held"] <= night_1_days  # only the youngest day is held back
    assert two["held"].isdisjoint(one["held"])  # a day later they are released or suppressed for good
    assert one["held"] - two["released"] <= two["suppressed"]


def test_it_never_holds_back_with_a_zero_delay(population, nightly, seen, settings):
    settings.ANONYMIZATION_MAX_HOLD_DAYS = 0
    release = _run(nightly, NIGHT_1)
    assert release.held_rows == 0 and not seen[NIGHT_1]["held"]
    assert release.rows_out + release.suppressed_rows == release.rows_in


def test_it_never_republishes_entries_after_a_policy_change(population, nightly, seen):
    first = _run(nightly, NIGHT_1)
    ReleasePolicy.objects.filter(pk=nightly.pk).update(k=6)
    second = _run(nightly, NIGHT_2)
    assert first.policy_version != second.policy_version
    assert second.policy_snapshot["k"] == 6 and second.window_start == NIGHT_2
    assert seen[NIGHT_1]["released"].isdisjoint(seen[NIGHT_2]["released"])
    assert seen[NIGHT_2]["in"] <= (_ledger_until(NIGHT_2) - _ledger_until(NIGHT_1)) | seen[NIGHT_1]["held"]


def test_it_keeps_the_version_when_only_the_name_changes(population, nightly):
    first = _run(nightly, NIGHT_1)
    ReleasePolicy.objects.filter(pk=nightly.pk).update(name="Nightly ledger")
    assert _run(nightly, NIGHT_2).policy_version == first.policy_version


def test_it_refuses_an_as_of_on_or_before_the_last_published_one(population, nightly):
    _run(nightly, NIGHT_2)
    before = Release.objects.count()
    with pytest.raises(ReleaseOutOfOrder) as refused:
        service.release_run_for_policy(policy_id=nightly.pk, as_of=NIGHT_1)
    assert str(refused.value) == (
        "Policy 'Nightly transactions' was last published as of 2025-03-31; a release as of 2025-03-30 would "
        "overlap it. Releases of a policy go forward in time: choose a date after 2025-03-31.")
    assert Release.objects.count() == before
    assert service.release_run_for_policy(policy_id=nightly.pk, as_of=NIGHT_2).attempts == 1  # same one, as it was


def test_it_refuses_a_queued_release_that_a_later_one_overtook(population, nightly):
    stale = Release.objects.create(policy=nightly, as_of=NIGHT_1)
    _run(nightly, NIGHT_2)
    with pytest.raises(ReleaseOutOfOrder, match="was last published as of 2025-03-31"):
        service.release_run(release_id=stale.pk)
    stale.refresh_from_db()
    assert (stale.status, stale.attempts) == (Release.Status.QUEUED, 0)


def test_it_refuses_a_day_that_is_not_over(db, nightly):
    from django.utils import timezone

    today = timezone.localdate()
    with pytest.raises(ReleaseOutOfOrder, match=f"A release as of {today:%Y-%m-%d} cannot run yet: its day is not"):
        service.release_request(policy_id=nightly.pk, as_of=today)
    assert not Release.objects.exists()


def test_it_neither_loses_nor_duplicates_entries_when_a_release_fails_then_retries(population, nightly, seen,
                                                                                     monkeypatch):
    _run(nightly, NIGHT_1)
    held_before = set(HeldEntry.objects.values_list("entry_id", "first_held_on"))
    original = run.verify_written

    def fails(**kwargs):
        raise VerificationFailed("Verification failed: simulated.")

    monkeypatch.setattr(run, "verify_written", fails)
    failed = service.release_run_for_policy(policy_id=nightly.pk, as_of=NIGHT_2)
    assert failed.status == Release.Status.FAILED
    assert set(HeldEntry.objects.values_list("entry_id", "first_held_on")) == held_before

    monkeypatch.setattr(run, "verify_written", original)
    retried = _run(nightly, NIGHT_2)
    assert retried.pk == failed.pk and retried.attempts == 2
    one, two = seen[NIGHT_1], seen[NIGHT_2]
    assert two["carried"] == one["held"]
    assert one["released"].isdisjoint(two["released"])
    assert one["released"] | two["released"] == (
        _ledger_until(NIGHT_2) - one["suppressed"] - two["suppressed"] - two["held"])


def test_it_takes_a_failed_night_into_the_next_window(population, nightly, seen):
    _run(nightly, NIGHT_1)
    ReleasePolicy.objects.filter(pk=nightly.pk).update(k=10_000)
    assert service.release_run_for_policy(policy_id=nightly.pk, as_of=NIGHT_2).status == Release.Status.FAILED
    ReleasePolicy.objects.filter(pk=nightly.pk).update(k=5)
    third = _run(nightly, NIGHT_3)
    assert third.window_start == NIGHT_2  # the failed night's entries are in this increment
    assert seen[NIGHT_3]["in"] == (_ledger_until(NIGHT_3) - _ledger_until(NIGHT_1)) | seen[NIGHT_1]["held"]


def test_it_refuses_an_earlier_date_from_the_command_line(population, nightly):
    from django.core.management import CommandError, call_command

    _run(nightly, NIGHT_2)
    with pytest.raises(CommandError, match="was last published as of 2025-03-31; a release as of 2025-03-30"):
        call_command("run_release", "Nightly transactions", "--as-of", "2025-03-30", "--no-progress")
    assert not Release.objects.filter(as_of=NIGHT_1).exists()


def test_a_night_whose_new_entries_all_wait_publishes_nothing_says_why_and_the_next_night_takes_them(
        population, seen, settings, monkeypatch):
    local = ReleasePolicy.objects.get(name="Nightly transactions")
    assert local.recoding == "local"
    _run(local, NIGHT_1)
    settings.ANONYMIZATION_MAX_HOLD_DAYS = 30  # every entry of night 2 may wait...
    monkeypatch.setattr(anonymize, "CELL_BATCH", 10_000)  # ...and no cell is ready
    waiting = service.release_run_for_policy(policy_id=local.pk, as_of=NIGHT_2)
    assert waiting.status == Release.Status.FAILED and not waiting.artifacts.exists()
    assert waiting.error.startswith(f"Nothing to publish as of {NIGHT_2:%Y-%m-%d}: all ")
    assert waiting.error.endswith("new entries wait until their cells hold enough customers (at most 30 days); "
                                  "the next release takes them in.")
    monkeypatch.setattr(anonymize, "CELL_BATCH", 1)
    third = _run(local, NIGHT_3)
    assert third.window_start == NIGHT_2
    assert seen[NIGHT_3]["in"] >= seen[NIGHT_2]["in"]  # nothing of the waiting night is lost
