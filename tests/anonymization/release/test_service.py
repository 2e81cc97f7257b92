"""The release service: schedules, queueing and abandoning runs."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from anonymization.models import Release, ReleasePolicy
from anonymization.release import service


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    return ReleasePolicy.objects.get(name="Nightly transactions")


def test_it_schedules_a_new_policy_and_follows_renames_and_disabling(db):
    policy = ReleasePolicy.objects.create(name="Weekly customers", source="customers", columns=["age"])
    task = service.policy_schedule_sync(policy=policy)
    assert (task.name, task.enabled, task.task) == ("Nightly release: Weekly customers", True,
                                                    "anonymization.tasks.run_nightly_release")
    policy.name = "Customers"
    policy.save()
    service.policy_schedule_sync(policy=policy)
    service.policy_set_enabled(policy_id=policy.pk, enabled=False)
    task.refresh_from_db()
    assert (task.name, task.enabled) == ("Nightly release: Customers", False)
    assert PeriodicTask.objects.filter(task="anonymization.tasks.run_nightly_release").count() == 2


def test_it_requeues_a_failed_release_when_run_again(nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1), status=Release.Status.FAILED,
                                     error="The task queue is unreachable")
    rerun = service.release_enqueue(policy_id=nightly.pk, as_of=release.as_of)
    assert rerun.pk == release.pk
    # No data at all: the eager run fails again, with the new reason.
    assert rerun.status == Release.Status.FAILED
    assert rerun.error == "There is no data to release as of 2025-01-01."
    assert rerun.attempts == 1


def test_it_fails_an_abandoned_run(nightly):
    release = Release.objects.create(policy=nightly, as_of=datetime.date(2025, 1, 1),
                                     status=Release.Status.RUNNING, claim_token="t", heartbeat_at=timezone.now())
    service.release_abandon(release_id=release.pk, reason="Interrupted from the command line.")
    release.refresh_from_db()
    assert (release.status, release.error) == (Release.Status.FAILED, "Interrupted from the command line.")
