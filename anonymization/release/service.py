"""Write operations on release policies and releases: scheduling, queueing and running.

Claims are in claim.py, the stages of a run in run.py. Queueing sends the run task by its name,
so this module never imports the task module (tasks.py imports this one).
"""

from __future__ import annotations

import datetime
import json
import logging

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from kombu.exceptions import OperationalError as BrokerOperationalError

from ..exceptions import BrokerUnavailable, ReleaseError
from ..models import Release, ReleasePolicy
from .claim import ACTIVE, release_claim, release_fail, release_requeue
from .increments import check_as_of
from .run import Progress, run_stages

logger = logging.getLogger(__name__)

# Task names are stored in django-celery-beat rows (migration 0002) and routed by name: keep them.
RUN_TASK = "anonymization.tasks.run_release"
NIGHTLY_TASK = "anonymization.tasks.run_nightly_release"
NIGHTLY_HOUR, NIGHTLY_MINUTE = "2", "30"
BROKER_TIMEOUT_SECONDS = 3


# --- schedules ------------------------------------------------------------------------------------

def _nightly_crontab() -> CrontabSchedule:
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=NIGHTLY_MINUTE, hour=NIGHTLY_HOUR, day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.TIME_ZONE)
    return crontab


def policy_schedule_sync(*, policy: ReleasePolicy) -> PeriodicTask:
    """Give the policy its nightly periodic task (02:30 local time), enabled exactly when the policy is."""
    with transaction.atomic():
        task = policy.periodic_task
        if task is None:
            task = PeriodicTask(crontab=_nightly_crontab(), task=NIGHTLY_TASK)
        task.name = f"Nightly release: {policy.name}"
        task.kwargs = json.dumps({"policy_id": policy.pk})
        task.enabled = policy.enabled
        task.description = "Runs the policy's release for yesterday's date. Edit the schedule here."
        task.save()
        if policy.periodic_task_id != task.pk:
            ReleasePolicy.objects.filter(pk=policy.pk).update(periodic_task=task)
            policy.periodic_task = task
    return task


def policy_set_enabled(*, policy_id: int, enabled: bool) -> ReleasePolicy:
    """Enable or disable a policy and its nightly schedule together."""
    with transaction.atomic():
        policy = ReleasePolicy.objects.select_for_update().get(pk=policy_id)
        policy.enabled = enabled
        policy.save(update_fields=["enabled", "updated_at"])
        policy_schedule_sync(policy=policy)
    return policy


# --- requesting and queueing ------------------------------------------------------------------------

def default_as_of() -> datetime.date:
    """Return the date a nightly run covers: yesterday, the last complete local day."""
    return timezone.localdate() - datetime.timedelta(days=1)


def release_request(*, policy_id: int, as_of: datetime.date) -> tuple[Release, bool]:
    """Return the release of this policy and date, creating it queued; the second value says if it is new.

    A published release is returned as it is; otherwise an as-of date on or before the policy's
    last published release (or today or later) raises ReleaseOutOfOrder and nothing is created.
    """
    policy = ReleasePolicy.objects.get(pk=policy_id)
    existing = Release.objects.filter(policy=policy, as_of=as_of, status=Release.Status.PUBLISHED).first()
    if existing is not None:
        return existing, False
    check_as_of(policy=policy, as_of=as_of)
    with transaction.atomic():
        release, created = Release.objects.get_or_create(policy=policy, as_of=as_of)
    return release, created


def _send_to_broker(release_id: int) -> None:
    """Queue the run task by name; raise BrokerUnavailable quickly when the broker cannot be reached."""
    run = current_app.signature(RUN_TASK, args=[release_id])
    if current_app.conf.task_always_eager:
        run.apply_async()
        return
    options = {"socket_connect_timeout": BROKER_TIMEOUT_SECONDS, "socket_timeout": BROKER_TIMEOUT_SECONDS}
    try:
        with current_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS,
                                              transport_options=options) as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            run.apply_async(connection=connection, retry=False)
    except (BrokerOperationalError, OSError, TimeoutError) as exc:
        raise BrokerUnavailable(
            f"The task queue is unreachable ({type(exc).__name__}); the release was not queued. "
            "Check that the Celery broker is running, then try again.") from exc


def release_enqueue(*, policy_id: int, as_of: datetime.date) -> Release:
    """Queue a run of the policy for the date; fail the release with the reason if the broker is down.

    A published release is returned as it is (a second run never produces a second release).
    """
    release, _created = release_request(policy_id=policy_id, as_of=as_of)
    if release.status == Release.Status.PUBLISHED:
        return release
    if release.status == Release.Status.FAILED:
        Release.objects.filter(pk=release.pk, status=Release.Status.FAILED).update(
            status=Release.Status.QUEUED, error="", progress=0, progress_step="")
    # Sent at once, not on commit: the caller (the admin action) reports whether the broker took it.
    _send_or_fail(release.pk)
    release.refresh_from_db()
    return release


def _send_or_fail(release_id: int) -> None:
    """Queue the run; when the broker is down, fail the release with the reason and raise BrokerUnavailable."""
    try:
        _send_to_broker(release_id)
    except BrokerUnavailable as exc:
        Release.objects.filter(pk=release_id, status=Release.Status.QUEUED).update(
            status=Release.Status.FAILED, error=str(exc), finished_at=timezone.now())
        raise


# --- running ----------------------------------------------------------------------------------------

def release_run(*, release_id: int, progress: Progress | None = None) -> Release:
    """Claim the release, then extract, anonymize, write, verify and publish it; return it.

    Privacy, policy and verification failures end as status failed with the reason and no
    artifact. Transient database errors hand the release back to the queue and propagate (the
    task retries them). A worker that dies mid-run leaves it running; it is reclaimed once stale.
    """
    token = release_claim(release_id=release_id)
    try:
        run_stages(release_id=release_id, token=token, progress=progress)
    except (OperationalError, InterfaceError):
        release_requeue(release_id=release_id, token=token)
        raise
    except ReleaseError as exc:
        release_fail(release_id=release_id, token=token, message=str(exc))
    except Exception as exc:  # an unexpected bug must still end the release, with a trace in the log
        logger.exception("release %s failed unexpectedly", release_id)
        release_fail(release_id=release_id, token=token,
                     message=f"Unexpected error ({type(exc).__name__}); see the worker log.")
    return Release.objects.get(pk=release_id)


def release_run_for_policy(*, policy_id: int, as_of: datetime.date | None = None,
                           progress: Progress | None = None) -> Release:
    """Run the policy's release for the date (default: yesterday); a published one is returned unchanged."""
    release, _created = release_request(policy_id=policy_id, as_of=as_of or default_as_of())
    if release.status == Release.Status.PUBLISHED:
        return release
    return release_run(release_id=release.pk, progress=progress)


def release_abandon(*, release_id: int, reason: str) -> None:
    """Fail a running release whose runner was interrupted on purpose (e.g. Ctrl-C in the command)."""
    release = Release.objects.filter(pk=release_id, status__in=ACTIVE).first()
    if release is not None:
        release_fail(release_id=release_id, token=release.claim_token, message=reason)
