"""Write operations on release policies and releases: scheduling, queueing, claiming and running.

Claims: a worker moves a release to running with a conditional UPDATE (from queued or failed, or
from a running state whose heartbeat is older than ANONYMIZATION_STALE_SECONDS, i.e. its worker
died) and writes a fresh claim token; every later write is conditional on that token, so a
worker that lost its claim can never overwrite its successor. Claims of one policy are serialized
by locking the policy row, so at most one release of a policy runs at a time.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from kombu.exceptions import OperationalError as BrokerOperationalError

from . import pipeline
from .exceptions import BrokerUnavailable, ReleaseBusy, ReleaseError, ReleaseNotRunnable
from .models import Release, ReleasePolicy
from .policies import check_snapshot, policy_snapshot

logger = logging.getLogger(__name__)

NIGHTLY_TASK = "anonymization.tasks.run_nightly_release"
NIGHTLY_HOUR, NIGHTLY_MINUTE = "2", "30"
BROKER_TIMEOUT_SECONDS = 3
ACTIVE = (Release.Status.RUNNING, Release.Status.VERIFYING)
Progress = Callable[[int, str], None]


def stale_seconds() -> int:
    """Return how old a running release's heartbeat must be before another worker may take it over."""
    return int(settings.ANONYMIZATION_STALE_SECONDS)


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


def policy_check(*, policy: ReleasePolicy) -> None:
    """Raise PolicyInvalid with a clear message unless the saved policy can run."""
    check_snapshot(policy_snapshot(policy))


# --- requesting and queueing ------------------------------------------------------------------------

def default_as_of() -> datetime.date:
    """Return the date a nightly run covers: yesterday, the last complete local day."""
    return timezone.localdate() - datetime.timedelta(days=1)


def release_request(*, policy_id: int, as_of: datetime.date) -> tuple[Release, bool]:
    """Return the release of this policy and date, creating it queued; the second value says if it is new."""
    policy = ReleasePolicy.objects.get(pk=policy_id)
    with transaction.atomic():
        release, created = Release.objects.get_or_create(policy=policy, as_of=as_of)
    return release, created


def _send_to_broker(release_id: int) -> None:
    """Queue the run task; raise BrokerUnavailable quickly when the broker cannot be reached."""
    from celery import current_app

    from .tasks import run_release

    if current_app.conf.task_always_eager:
        run_release.apply_async(args=[release_id])
        return
    options = {"socket_connect_timeout": BROKER_TIMEOUT_SECONDS, "socket_timeout": BROKER_TIMEOUT_SECONDS}
    try:
        with current_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS,
                                              transport_options=options) as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            run_release.apply_async(args=[release_id], connection=connection, retry=False)
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
    try:
        _send_to_broker(release.pk)
    except BrokerUnavailable as exc:
        Release.objects.filter(pk=release.pk, status=Release.Status.QUEUED).update(
            status=Release.Status.FAILED, error=str(exc), finished_at=timezone.now())
        raise
    release.refresh_from_db()
    return release


# --- claiming and running ---------------------------------------------------------------------------

def _claimable(cutoff: datetime.datetime) -> Q:
    dead = Q(status__in=ACTIVE) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    return Q(status__in=[Release.Status.QUEUED, Release.Status.FAILED]) | dead


def release_claim(*, release_id: int) -> str:
    """Move the release to running for this worker and return the claim token.

    Raises ReleaseNotRunnable when it is published or missing, ReleaseBusy when a live worker runs
    it or another release of the same policy.
    """
    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=stale_seconds())
    with transaction.atomic():
        release = Release.objects.filter(pk=release_id).first()
        if release is None:
            raise ReleaseNotRunnable(f"Release #{release_id} does not exist.")
        policy = ReleasePolicy.objects.select_for_update().get(pk=release.policy_id)  # one claim per policy at a time
        if release.status == Release.Status.PUBLISHED:
            raise ReleaseNotRunnable(f"Release #{release_id} is already published.")
        other = (Release.objects.filter(policy=policy, status__in=ACTIVE, heartbeat_at__gte=cutoff)
                 .exclude(pk=release_id).first())
        if other is not None:
            raise ReleaseBusy(f"Release #{other.pk} of policy {policy.name!r} is running; try again later.")
        token = uuid.uuid4().hex
        claimed = Release.objects.filter(_claimable(cutoff), pk=release_id).update(
            status=Release.Status.RUNNING, claim_token=token, started_at=now, heartbeat_at=now, finished_at=None,
            attempts=F("attempts") + 1, progress=0, progress_step="claimed", error="",
            policy_snapshot=policy_snapshot(policy))
    if claimed != 1:
        raise ReleaseBusy(f"Release #{release_id} is being run by another worker; try again later.")
    return token


def _fail(release_id: int, token: str, message: str) -> None:
    """Record the failure under our claim and remove every file of the release."""
    updated = Release.objects.filter(pk=release_id, claim_token=token).update(
        status=Release.Status.FAILED, error=message[:4000], finished_at=timezone.now())
    if updated:
        pipeline.discard_files(release_id)


def _requeue(release_id: int, token: str) -> None:
    """Hand the release back to the queue after a transient database error, so a retry can claim it."""
    try:
        Release.objects.filter(pk=release_id, claim_token=token, status__in=ACTIVE).update(
            status=Release.Status.QUEUED, progress_step="waiting to retry")
    except (OperationalError, InterfaceError):
        logger.warning("release %s: could not requeue; it will be reclaimed when its heartbeat is stale", release_id)


def release_run(*, release_id: int, progress: Progress | None = None) -> Release:
    """Claim the release, then extract, anonymize, write, verify and publish it; return it.

    Privacy, policy and verification failures end as status failed with the reason and no
    artifact. Transient database errors hand the release back to the queue and propagate (the
    task retries them). A worker that dies mid-run leaves it running; it is reclaimed once stale.
    """
    token = release_claim(release_id=release_id)
    try:
        pipeline.execute(release_id=release_id, token=token, progress=progress)
    except (OperationalError, InterfaceError):
        _requeue(release_id, token)
        raise
    except ReleaseError as exc:
        _fail(release_id, token, str(exc))
    except Exception as exc:  # an unexpected bug must still end the release, with a trace in the log
        logger.exception("release %s failed unexpectedly", release_id)
        _fail(release_id, token, f"Unexpected error ({type(exc).__name__}); see the worker log.")
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
        _fail(release_id, release.claim_token, reason)
